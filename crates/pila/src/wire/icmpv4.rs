//! ICMP for IPv4 (RFC 792): echo, destination unreachable and time exceeded.
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |     Type      |     Code      |           Checksum            |
//! +---------------+---------------+-------------------------------+
//! |  echo: Identifier             |  echo: Sequence Number        |
//! |  unreachable: unused          |  FragRequired: Next-Hop MTU   |
//! +---------------+---------------+-------------------------------+
//! |  echo: data; errors: the original IPv4 header + its first bytes
//! +----------------------------------------------------------------
//! ```

use super::ipv4;
use super::{Checksums, Error, Fields as _, FieldsMut as _, Result, checksum};
use core::fmt;

/// The length of the ICMP header before the data.
pub const HEADER_LEN: usize = 8;

/// The longest IP datagram an ICMP error should make: RFC 1812 §4.3.2.3 (and RFC 1122
/// §3.2.2) let an error quote as much of the offending datagram as keeps it within 576 bytes.
pub const MAX_ERROR_DATAGRAM_LEN: usize = 576;

/// The least payload an error must quote after the original header (RFC 792: 64 bits).
pub const MIN_QUOTED_PAYLOAD: usize = 8;

mod field {
    use core::ops::Range;

    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: Range<usize> = 2..4;
    pub(super) const UNUSED: Range<usize> = 4..8;
    pub(super) const ECHO_IDENT: Range<usize> = 4..6;
    pub(super) const ECHO_SEQNO: Range<usize> = 6..8;
    /// RFC 1191: the next-hop MTU in a "fragmentation needed" message.
    pub(super) const NEXT_HOP_MTU: Range<usize> = 6..8;
}

/// The type of an ICMP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// Echo reply (0).
    EchoReply,
    /// Destination unreachable (3).
    DstUnreachable,
    /// Redirect (5).
    Redirect,
    /// Echo request (8).
    EchoRequest,
    /// Time exceeded (11).
    TimeExceeded,
    /// Parameter problem (12).
    ParamProblem,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(value: u8) -> Self {
        match value {
            0 => Self::EchoReply,
            3 => Self::DstUnreachable,
            5 => Self::Redirect,
            8 => Self::EchoRequest,
            11 => Self::TimeExceeded,
            12 => Self::ParamProblem,
            other => Self::Unknown(other),
        }
    }
}

impl From<Message> for u8 {
    fn from(value: Message) -> Self {
        match value {
            Message::EchoReply => 0,
            Message::DstUnreachable => 3,
            Message::Redirect => 5,
            Message::EchoRequest => 8,
            Message::TimeExceeded => 11,
            Message::ParamProblem => 12,
            Message::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EchoReply => f.write_str("echo reply"),
            Self::DstUnreachable => f.write_str("destination unreachable"),
            Self::Redirect => f.write_str("redirect"),
            Self::EchoRequest => f.write_str("echo request"),
            Self::TimeExceeded => f.write_str("time exceeded"),
            Self::ParamProblem => f.write_str("parameter problem"),
            Self::Unknown(n) => write!(f, "type {n}"),
        }
    }
}

/// Why a destination is unreachable: the code of a type 3 message (RFC 792, RFC 1122
/// §3.2.2.1, RFC 1812 §5.2.7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DstUnreachable {
    /// Net unreachable (0).
    NetUnreachable,
    /// Host unreachable (1).
    HostUnreachable,
    /// Protocol unreachable (2).
    ProtoUnreachable,
    /// Port unreachable (3).
    PortUnreachable,
    /// Fragmentation needed and DF set (4); carries the next-hop MTU (RFC 1191).
    FragRequired,
    /// Source route failed (5).
    SrcRouteFailed,
    /// Destination network unknown (6).
    DstNetUnknown,
    /// Destination host unknown (7).
    DstHostUnknown,
    /// Source host isolated (8).
    SrcHostIsolated,
    /// Communication with the destination network administratively prohibited (9).
    NetProhibited,
    /// Communication with the destination host administratively prohibited (10).
    HostProhibited,
    /// Network unreachable for the type of service (11).
    NetUnreachToS,
    /// Host unreachable for the type of service (12).
    HostUnreachToS,
    /// Communication administratively prohibited by filtering (13).
    CommProhibited,
    /// Host precedence violation (14).
    HostPrecedenceViolation,
    /// Precedence cutoff in effect (15).
    PrecedenceCutoff,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for DstUnreachable {
    fn from(value: u8) -> Self {
        match value {
            0 => Self::NetUnreachable,
            1 => Self::HostUnreachable,
            2 => Self::ProtoUnreachable,
            3 => Self::PortUnreachable,
            4 => Self::FragRequired,
            5 => Self::SrcRouteFailed,
            6 => Self::DstNetUnknown,
            7 => Self::DstHostUnknown,
            8 => Self::SrcHostIsolated,
            9 => Self::NetProhibited,
            10 => Self::HostProhibited,
            11 => Self::NetUnreachToS,
            12 => Self::HostUnreachToS,
            13 => Self::CommProhibited,
            14 => Self::HostPrecedenceViolation,
            15 => Self::PrecedenceCutoff,
            other => Self::Unknown(other),
        }
    }
}

impl From<DstUnreachable> for u8 {
    fn from(value: DstUnreachable) -> Self {
        match value {
            DstUnreachable::NetUnreachable => 0,
            DstUnreachable::HostUnreachable => 1,
            DstUnreachable::ProtoUnreachable => 2,
            DstUnreachable::PortUnreachable => 3,
            DstUnreachable::FragRequired => 4,
            DstUnreachable::SrcRouteFailed => 5,
            DstUnreachable::DstNetUnknown => 6,
            DstUnreachable::DstHostUnknown => 7,
            DstUnreachable::SrcHostIsolated => 8,
            DstUnreachable::NetProhibited => 9,
            DstUnreachable::HostProhibited => 10,
            DstUnreachable::NetUnreachToS => 11,
            DstUnreachable::HostUnreachToS => 12,
            DstUnreachable::CommProhibited => 13,
            DstUnreachable::HostPrecedenceViolation => 14,
            DstUnreachable::PrecedenceCutoff => 15,
            DstUnreachable::Unknown(other) => other,
        }
    }
}

impl fmt::Display for DstUnreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NetUnreachable => "net unreachable",
            Self::HostUnreachable => "host unreachable",
            Self::ProtoUnreachable => "protocol unreachable",
            Self::PortUnreachable => "port unreachable",
            Self::FragRequired => "fragmentation needed",
            Self::SrcRouteFailed => "source route failed",
            Self::DstNetUnknown => "destination network unknown",
            Self::DstHostUnknown => "destination host unknown",
            Self::SrcHostIsolated => "source host isolated",
            Self::NetProhibited => "network administratively prohibited",
            Self::HostProhibited => "host administratively prohibited",
            Self::NetUnreachToS => "network unreachable for type of service",
            Self::HostUnreachToS => "host unreachable for type of service",
            Self::CommProhibited => "communication administratively prohibited",
            Self::HostPrecedenceViolation => "host precedence violation",
            Self::PrecedenceCutoff => "precedence cutoff in effect",
            Self::Unknown(n) => return write!(f, "unreachable code {n}"),
        })
    }
}

/// What ran out: the code of a type 11 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeExceeded {
    /// Time to live exceeded in transit (0).
    TtlExpired,
    /// Fragment reassembly time exceeded (1).
    FragReassemblyExpired,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for TimeExceeded {
    fn from(value: u8) -> Self {
        match value {
            0 => Self::TtlExpired,
            1 => Self::FragReassemblyExpired,
            other => Self::Unknown(other),
        }
    }
}

impl From<TimeExceeded> for u8 {
    fn from(value: TimeExceeded) -> Self {
        match value {
            TimeExceeded::TtlExpired => 0,
            TimeExceeded::FragReassemblyExpired => 1,
            TimeExceeded::Unknown(other) => other,
        }
    }
}

impl fmt::Display for TimeExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TtlExpired => f.write_str("time to live exceeded"),
            Self::FragReassemblyExpired => f.write_str("fragment reassembly time exceeded"),
            Self::Unknown(n) => write!(f, "time exceeded code {n}"),
        }
    }
}

/// A zero-copy view of an ICMPv4 message. The buffer is the whole message: the checksum
/// covers all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; getters may panic if it is too short.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len) accepts it.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the 8-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The message type.
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The message code, whose meaning depends on the type.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.buffer.read_u16(field::CHECKSUM)
    }

    /// The identifier of an echo request or reply.
    pub fn echo_ident(&self) -> u16 {
        self.buffer.read_u16(field::ECHO_IDENT)
    }

    /// The sequence number of an echo request or reply.
    pub fn echo_seq_no(&self) -> u16 {
        self.buffer.read_u16(field::ECHO_SEQNO)
    }

    /// The next-hop MTU of a "fragmentation needed" message (RFC 1191); zero from routers
    /// that predate it.
    pub fn next_hop_mtu(&self) -> u16 {
        self.buffer.read_u16(field::NEXT_HOP_MTU)
    }

    /// Whether the checksum is right: the one's complement sum of the whole message is all
    /// ones.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.buffer.as_ref()) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The data after the 8-byte header: an echo's payload, or an error's quoted datagram.
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: Message) {
        self.buffer.as_mut()[field::TYPE] = value.into();
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.write_u16(field::CHECKSUM, value);
    }

    /// Sets the identifier of an echo request or reply.
    pub fn set_echo_ident(&mut self, value: u16) {
        self.buffer.write_u16(field::ECHO_IDENT, value);
    }

    /// Sets the sequence number of an echo request or reply.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        self.buffer.write_u16(field::ECHO_SEQNO, value);
    }

    /// Sets the next-hop MTU of a "fragmentation needed" message.
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        self.buffer.write_u16(field::NEXT_HOP_MTU, value);
    }

    /// Zeroes bytes 4..8, which error messages leave unused.
    pub fn clear_unused(&mut self) {
        self.buffer.as_mut()[field::UNUSED].fill(0);
    }

    /// The data after the header, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes the checksum over the whole message and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::sum(self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An ICMPv4 message pila handles, as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Repr<'a> {
    /// An echo request ("ping").
    EchoRequest {
        /// The identifier.
        ident: u16,
        /// The sequence number.
        seq_no: u16,
        /// The payload, echoed back verbatim.
        data: &'a [u8],
    },
    /// An echo reply.
    EchoReply {
        /// The identifier, copied from the request.
        ident: u16,
        /// The sequence number, copied from the request.
        seq_no: u16,
        /// The payload, copied from the request.
        data: &'a [u8],
    },
    /// A destination unreachable error.
    DstUnreachable {
        /// The code.
        reason: DstUnreachable,
        /// The next-hop MTU for [`DstUnreachable::FragRequired`]; zero for other reasons.
        next_hop_mtu: u16,
        /// The IPv4 header of the datagram that could not be delivered.
        header: ipv4::Repr,
        /// The first bytes of that datagram's payload (at least 8), at most `header.payload_len`.
        data: &'a [u8],
    },
    /// A time exceeded error.
    TimeExceeded {
        /// The code.
        reason: TimeExceeded,
        /// The IPv4 header of the datagram that was dropped.
        header: ipv4::Repr,
        /// The first bytes of that datagram's payload (at least 8), at most `header.payload_len`.
        data: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Reads a message: verifies the checksum when `checksums.icmpv4` says software does
    /// ([`Error::BadChecksum`]); an echo with a non-zero code is [`Error::Malformed`]; an
    /// error must quote a whole IPv4 header and at least 8 bytes after it
    /// ([`Error::Truncated`]); other types are [`Error::Unsupported`].
    ///
    /// The quoted header's options are skipped and its checksum is not verified (see
    /// [`ipv4::Repr::parse_quoted`]); the quoted payload stops at its total length, so
    /// RFC 4884 padding and extensions are not part of `data`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        checksums: &Checksums,
    ) -> Result<Self> {
        packet.check_len()?;
        if checksums.icmpv4.verify() && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let code = packet.msg_code();
        match packet.msg_type() {
            Message::EchoRequest | Message::EchoReply if code != 0 => Err(Error::Malformed),
            Message::EchoRequest => Ok(Self::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            Message::EchoReply => Ok(Self::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            Message::DstUnreachable => {
                let reason = DstUnreachable::from(code);
                let next_hop_mtu =
                    if reason == DstUnreachable::FragRequired { packet.next_hop_mtu() } else { 0 };
                let (header, data) = parse_quote(packet.data())?;
                Ok(Self::DstUnreachable { reason, next_hop_mtu, header, data })
            }
            Message::TimeExceeded => {
                let (header, data) = parse_quote(packet.data())?;
                Ok(Self::TimeExceeded { reason: TimeExceeded::from(code), header, data })
            }
            _ => Err(Error::Unsupported),
        }
    }

    /// A destination unreachable error about `original`, a whole IPv4 datagram as received:
    /// its header and as much of its payload as keeps the error within
    /// [`MAX_ERROR_DATAGRAM_LEN`]. For [`DstUnreachable::FragRequired`] use
    /// [`frag_required`](Self::frag_required), which carries the MTU.
    ///
    /// Whether an error may be sent at all (never about an ICMP error, a broadcast, or a
    /// non-first fragment: RFC 1122 §3.2.2) is the caller's decision.
    pub fn dst_unreachable(reason: DstUnreachable, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Self::DstUnreachable { reason, next_hop_mtu: 0, header, data })
    }

    /// A "fragmentation needed and DF set" error about `original`, announcing the MTU of
    /// the next hop (RFC 1191).
    pub fn frag_required(next_hop_mtu: u16, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Self::DstUnreachable {
            reason: DstUnreachable::FragRequired,
            next_hop_mtu,
            header,
            data,
        })
    }

    /// A time exceeded error about `original`, quoted as in
    /// [`dst_unreachable`](Self::dst_unreachable).
    pub fn time_exceeded(reason: TimeExceeded, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Self::TimeExceeded { reason, header, data })
    }

    /// The length of the message `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        match self {
            Self::EchoRequest { data, .. } | Self::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Self::DstUnreachable { data, .. } | Self::TimeExceeded { data, .. } => {
                HEADER_LEN + ipv4::HEADER_LEN + data.len()
            }
        }
    }

    /// Writes the message, with the checksum when `checksums.icmpv4` says software computes
    /// it and zero otherwise. The checksum covers the whole buffer, so give it exactly
    /// `buffer_len()` bytes. A quoted header is written without options and with its own
    /// checksum computed.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        checksums: &Checksums,
    ) {
        match *self {
            Self::EchoRequest { ident, seq_no, data } | Self::EchoReply { ident, seq_no, data } => {
                let msg_type = match self {
                    Self::EchoRequest { .. } => Message::EchoRequest,
                    _ => Message::EchoReply,
                };
                packet.set_msg_type(msg_type);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                packet.data_mut()[..data.len()].copy_from_slice(data);
            }
            Self::DstUnreachable { reason, next_hop_mtu, ref header, data } => {
                packet.set_msg_type(Message::DstUnreachable);
                packet.set_msg_code(reason.into());
                packet.clear_unused();
                if reason == DstUnreachable::FragRequired {
                    packet.set_next_hop_mtu(next_hop_mtu);
                }
                emit_quote(packet, header, data);
            }
            Self::TimeExceeded { reason, ref header, data } => {
                packet.set_msg_type(Message::TimeExceeded);
                packet.set_msg_code(reason.into());
                packet.clear_unused();
                emit_quote(packet, header, data);
            }
        }
        if checksums.icmpv4.compute() {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
    }
}

/// Reads the quoted datagram of an error message.
fn parse_quote(data: &[u8]) -> Result<(ipv4::Repr, &[u8])> {
    let (header, payload) = ipv4::Repr::parse_quoted(data)?;
    if payload.len() < MIN_QUOTED_PAYLOAD {
        return Err(Error::Truncated);
    }
    Ok((header, payload))
}

/// Quotes an offending datagram: its header and the payload that fits a 576-byte error.
fn quote(original: &[u8]) -> Result<(ipv4::Repr, &[u8])> {
    const ROOM: usize = MAX_ERROR_DATAGRAM_LEN - 2 * ipv4::HEADER_LEN - HEADER_LEN;
    let (header, payload) = parse_quote(original)?;
    Ok((header, payload.get(..ROOM).unwrap_or(payload)))
}

/// Writes the quoted header and payload after an error's 8-byte header.
fn emit_quote<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
    packet: &mut Packet<&mut T>,
    header: &ipv4::Repr,
    data: &[u8],
) {
    let quoted = packet.data_mut();
    let (ip_header, payload) = quoted.split_at_mut(ipv4::HEADER_LEN);
    // The device's checksum offload covers the outer header only; the quote needs its own.
    header.emit(&mut ipv4::Packet::new_unchecked(ip_header), &Checksums::SOFTWARE);
    payload[..data.len()].copy_from_slice(data);
}

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EchoRequest { ident, seq_no, data } => {
                write!(f, "ICMP echo request id {ident} seq {seq_no} len {}", data.len())
            }
            Self::EchoReply { ident, seq_no, data } => {
                write!(f, "ICMP echo reply id {ident} seq {seq_no} len {}", data.len())
            }
            Self::DstUnreachable { reason, next_hop_mtu, header, .. } => {
                write!(f, "ICMP {reason}")?;
                if *reason == DstUnreachable::FragRequired {
                    write!(f, " mtu {next_hop_mtu}")?;
                }
                write!(f, " for {} > {} {}", header.src_addr, header.dst_addr, header.protocol)
            }
            Self::TimeExceeded { reason, header, .. } => write!(
                f,
                "ICMP {reason} for {} > {} {}",
                header.src_addr, header.dst_addr, header.protocol
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ip::Protocol;
    use crate::wire::{Checksum, Ipv4Addr};
    use proptest::prelude::*;

    /// An echo request as Linux iputils `ping` sends it: ident 0x1c46, sequence 1, 56 data
    /// bytes (a 16-byte `struct timeval`, then the bytes 0x10..=0x37). Composed by hand;
    /// checksum 0xb20a computed with an independent Python RFC 1071 sum.
    const ECHO_REQUEST: [u8; 64] = [
        0x08, 0x00, 0xb2, 0x0a, 0x1c, 0x46, 0x00, 0x01, 0xb3, 0xa2, 0xf1, 0x65, 0x00, 0x00, 0x00,
        0x00, 0xc1, 0xd2, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24,
        0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
        0x34, 0x35, 0x36, 0x37,
    ];

    /// The matching echo reply: type 0, checksum 0xba0a (Python, as above).
    fn echo_reply() -> [u8; 64] {
        let mut bytes = ECHO_REQUEST;
        bytes[0] = 0x00;
        bytes[2] = 0xba;
        bytes
    }

    /// A port unreachable as Linux sends it (TOS 0xc0, TTL 64, no DF) from 192.0.2.1 to
    /// 192.0.2.2 about a UDP datagram 192.0.2.2:54321 > 192.0.2.1:33434 carrying "hello\n",
    /// quoted whole. Composed by hand; the outer IPv4 (0x96bd), quoted IPv4 (0x0afa), UDP
    /// (0xe125) and ICMP (0x8120) checksums were computed with an independent Python sum.
    const PORT_UNREACHABLE: [u8; 62] = [
        // outer IPv4 header
        0x45, 0xc0, 0x00, 0x3e, 0x5f, 0x3e, 0x00, 0x00, 0x40, 0x01, 0x96, 0xbd, 0xc0, 0x00, 0x02,
        0x01, 0xc0, 0x00, 0x02, 0x02, //
        // ICMP header: type 3 code 3
        0x03, 0x03, 0x81, 0x20, 0x00, 0x00, 0x00, 0x00, //
        // quoted IPv4 header
        0x45, 0x00, 0x00, 0x22, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x11, 0x0a, 0xfa, 0xc0, 0x00, 0x02,
        0x02, 0xc0, 0x00, 0x02, 0x01, //
        // quoted UDP header and payload
        0xd4, 0x31, 0x82, 0x9a, 0x00, 0x0e, 0xe1, 0x25, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a,
    ];

    fn quoted_udp_header() -> ipv4::Repr {
        ipv4::Repr {
            src_addr: Ipv4Addr::new(192, 0, 2, 2),
            dst_addr: Ipv4Addr::new(192, 0, 2, 1),
            protocol: Protocol::Udp,
            payload_len: 14,
            ttl: 64,
            tos: 0,
            ident: 0xabcd,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    #[test]
    fn deconstruct_echo() {
        let packet = Packet::new_checked(&ECHO_REQUEST[..]).unwrap();
        assert_eq!(packet.msg_type(), Message::EchoRequest);
        assert_eq!(packet.msg_code(), 0);
        assert_eq!(packet.checksum(), 0xb20a);
        assert_eq!(packet.echo_ident(), 0x1c46);
        assert_eq!(packet.echo_seq_no(), 1);
        assert_eq!(packet.data(), &ECHO_REQUEST[8..]);
        assert!(packet.verify_checksum());
        let repr = Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
        assert_eq!(repr, Repr::EchoRequest { ident: 0x1c46, seq_no: 1, data: &ECHO_REQUEST[8..] });

        let reply = echo_reply();
        let packet = Packet::new_checked(&reply[..]).unwrap();
        assert_eq!(packet.msg_type(), Message::EchoReply);
        assert!(packet.verify_checksum());
        let repr = Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
        assert_eq!(repr, Repr::EchoReply { ident: 0x1c46, seq_no: 1, data: &ECHO_REQUEST[8..] });
    }

    #[test]
    fn construct_echo() {
        let data = &ECHO_REQUEST[8..];
        let request = Repr::EchoRequest { ident: 0x1c46, seq_no: 1, data };
        assert_eq!(request.buffer_len(), 64);
        let mut bytes = [0xa5u8; 64];
        request.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        assert_eq!(bytes, ECHO_REQUEST);
        let reply = Repr::EchoReply { ident: 0x1c46, seq_no: 1, data };
        reply.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        assert_eq!(bytes, echo_reply());
        let offload = Checksums { icmpv4: Checksum::Rx, ..Checksums::SOFTWARE };
        reply.emit(&mut Packet::new_unchecked(&mut bytes[..]), &offload);
        assert_eq!(&bytes[2..4], &[0, 0]);
    }

    #[test]
    fn deconstruct_port_unreachable() {
        let ip = ipv4::Packet::new_checked(&PORT_UNREACHABLE[..]).unwrap();
        let outer = ipv4::Repr::parse(&ip, &Checksums::SOFTWARE).unwrap();
        assert_eq!((outer.protocol, outer.tos, outer.payload_len), (Protocol::Icmp, 0xc0, 42));
        let packet = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(packet.msg_type(), Message::DstUnreachable);
        assert_eq!(DstUnreachable::from(packet.msg_code()), DstUnreachable::PortUnreachable);
        assert_eq!(packet.checksum(), 0x8120);
        assert!(packet.verify_checksum());
        assert_eq!(packet.data(), &PORT_UNREACHABLE[28..]);
        let repr = Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
        assert_eq!(
            repr,
            Repr::DstUnreachable {
                reason: DstUnreachable::PortUnreachable,
                next_hop_mtu: 0,
                header: quoted_udp_header(),
                data: &PORT_UNREACHABLE[48..],
            }
        );
        assert_eq!(repr.to_string(), "ICMP port unreachable for 192.0.2.2 > 192.0.2.1 UDP");
    }

    #[test]
    fn construct_port_unreachable() {
        // Build it the way the stack will: from the offending datagram.
        let original = &PORT_UNREACHABLE[28..];
        let repr = Repr::dst_unreachable(DstUnreachable::PortUnreachable, original).unwrap();
        assert_eq!(repr.buffer_len(), 42);
        let mut bytes = [0xa5u8; 42];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        assert_eq!(&bytes[..], &PORT_UNREACHABLE[20..]);
        // Offloading the outer checksums does not zero the quoted header's.
        let offload =
            Checksums { ipv4: Checksum::None, icmpv4: Checksum::None, ..Checksums::SOFTWARE };
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), &offload);
        assert_eq!(&bytes[2..4], &[0, 0]);
        assert_eq!(&bytes[8..], &PORT_UNREACHABLE[28..]);
    }

    #[test]
    fn frag_required_carries_the_mtu() {
        let original = &PORT_UNREACHABLE[28..];
        let repr = Repr::frag_required(1400, original).unwrap();
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        assert_eq!(&bytes[..2], &[3, 4]);
        assert_eq!(&bytes[4..8], &[0x00, 0x00, 0x05, 0x78]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.next_hop_mtu(), 1400);
        assert_eq!(Repr::parse(&packet, &Checksums::SOFTWARE), Ok(repr));
        // Other codes ignore whatever the unused field holds.
        bytes[1] = 1;
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        let parsed = Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE);
        assert!(matches!(parsed, Ok(Repr::DstUnreachable { next_hop_mtu: 0, .. })));
    }

    #[test]
    fn time_exceeded_quoting_eight_bytes() {
        // A router quoting only what RFC 792 requires: the header and 8 bytes of a
        // 1000-byte datagram.
        let mut original = vec![0u8; 1000];
        let header = ipv4::Repr { payload_len: 980, ttl: 1, ..quoted_udp_header() };
        header.emit(&mut ipv4::Packet::new_unchecked(&mut original[..]), &Checksums::SOFTWARE);
        original[20..28].copy_from_slice(&[0xd4, 0x31, 0x82, 0x9a, 0x03, 0xd4, 0x00, 0x00]);
        let repr = Repr::TimeExceeded {
            reason: TimeExceeded::TtlExpired,
            header,
            data: &original[20..28],
        };
        let mut bytes = vec![0u8; repr.buffer_len()];
        assert_eq!(bytes.len(), 36);
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        assert_eq!(&bytes[..2], &[11, 0]);
        assert_eq!(&bytes[8..36], &original[..28]);
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bytes[..]).unwrap(), &Checksums::SOFTWARE),
            Ok(repr)
        );
        // Seven bytes are too few.
        let short = &mut bytes[..35];
        Packet::new_unchecked(&mut *short).fill_checksum();
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&*short), &Checksums::SOFTWARE),
            Err(Error::Truncated)
        );
        // The helper quotes as much as fits in 576 bytes: 576 - 20 - 8 - 20 = 528.
        let repr = Repr::time_exceeded(TimeExceeded::TtlExpired, &original).unwrap();
        assert_eq!(repr.buffer_len(), 556);
        assert!(matches!(repr, Repr::TimeExceeded { data, .. } if data == &original[20..548]));
    }

    #[test]
    fn truncated() {
        for len in 0..ECHO_REQUEST.len() {
            let bytes = &ECHO_REQUEST[..len];
            match Packet::new_checked(bytes) {
                Err(err) => assert_eq!((len, err), (len, Error::Truncated)),
                // A cut echo is a valid header whose checksum no longer matches.
                Ok(packet) => {
                    assert!(len >= 8);
                    assert_eq!(Repr::parse(&packet, &Checksums::SOFTWARE), Err(Error::BadChecksum));
                    let unverified = Checksums { icmpv4: Checksum::None, ..Checksums::SOFTWARE };
                    let repr = Repr::parse(&packet, &unverified).unwrap();
                    assert_eq!(repr.buffer_len(), len);
                }
            }
        }
        let error = &PORT_UNREACHABLE[20..];
        let unverified = Checksums { icmpv4: Checksum::None, ..Checksums::SOFTWARE };
        for len in 0..error.len() {
            let parsed = Repr::parse(&Packet::new_unchecked(&error[..len]), &unverified);
            match len {
                0..36 => assert_eq!(parsed, Err(Error::Truncated), "{len}"),
                _ => {
                    let Ok(Repr::DstUnreachable { data, .. }) = parsed else { panic!("{len}") };
                    assert_eq!(data, &error[28..len]);
                }
            }
        }
    }

    #[test]
    fn rejects() {
        // Bad checksum.
        let mut bytes = ECHO_REQUEST;
        bytes[63] ^= 0x01;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE),
            Err(Error::BadChecksum)
        );
        // An echo with a non-zero code.
        let mut bytes = ECHO_REQUEST;
        bytes[1] = 1;
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE),
            Err(Error::Malformed)
        );
        // Types Repr does not hold: redirect, parameter problem, timestamp.
        for msg_type in [5u8, 12, 13, 255] {
            let mut bytes = PORT_UNREACHABLE[20..].to_vec();
            bytes[0] = msg_type;
            Packet::new_unchecked(&mut bytes[..]).fill_checksum();
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE),
                Err(Error::Unsupported)
            );
        }
        // A quoted header that lies: IHL 4, or not IPv4.
        for (at, value, err) in [(8, 0x44, Error::BadLength), (8, 0x65, Error::Malformed)] {
            let mut bytes = PORT_UNREACHABLE[20..].to_vec();
            bytes[at] = value;
            Packet::new_unchecked(&mut bytes[..]).fill_checksum();
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE),
                Err(err)
            );
        }
        // The helper needs a datagram with at least 8 payload bytes.
        assert_eq!(
            Repr::dst_unreachable(DstUnreachable::HostUnreachable, &PORT_UNREACHABLE[28..55]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn codes_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(Message::from(n)), n);
            assert_eq!(u8::from(DstUnreachable::from(n)), n);
            assert_eq!(u8::from(TimeExceeded::from(n)), n);
        }
        assert_eq!(DstUnreachable::from(15), DstUnreachable::PrecedenceCutoff);
        assert_eq!(DstUnreachable::from(16), DstUnreachable::Unknown(16));
        assert_eq!(Message::from(11), Message::TimeExceeded);
    }

    fn quoted_header(min_payload: usize) -> impl Strategy<Value = ipv4::Repr> {
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            min_payload..=65515,
            any::<(u8, u8, u16, bool, bool)>(),
            0u16..8192,
        )
            .prop_map(
                |(src, dst, protocol, payload_len, (ttl, tos, ident, df, mf), offset)| ipv4::Repr {
                    src_addr: Ipv4Addr::from(src),
                    dst_addr: Ipv4Addr::from(dst),
                    protocol: Protocol::from(protocol),
                    payload_len,
                    ttl,
                    tos,
                    ident,
                    dont_frag: df,
                    more_frags: mf,
                    frag_offset: offset << 3,
                },
            )
    }

    /// Arbitrary reprs with their data held in `data`, which the strategy owns.
    fn repr_and_data() -> impl Strategy<Value = (u8, u8, u16, u16, ipv4::Repr, Vec<u8>)> {
        prop_oneof![
            // Echo request / reply: any data.
            (
                prop_oneof![Just(8u8), Just(0u8)],
                any::<u16>(),
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..64)
            )
                .prop_map(|(t, ident, seq, data)| (
                    t,
                    0,
                    ident,
                    seq,
                    quoted_udp_header(),
                    data
                )),
            // Errors: 8 or more quoted bytes, never more than the header's payload length.
            (
                prop_oneof![Just(3u8), Just(11u8)],
                any::<u8>(),
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 8..64)
            )
                .prop_flat_map(|(t, code, mtu, data)| {
                    let len = data.len();
                    (Just(t), Just(code), Just(mtu), quoted_header(len), Just(data))
                })
                .prop_map(|(t, code, mtu, header, data)| (t, code, mtu, 0, header, data)),
        ]
    }

    fn build(t: u8, code: u8, a: u16, b: u16, header: ipv4::Repr, data: &[u8]) -> Repr<'_> {
        match t {
            8 => Repr::EchoRequest { ident: a, seq_no: b, data },
            0 => Repr::EchoReply { ident: a, seq_no: b, data },
            3 => {
                let reason = DstUnreachable::from(code);
                let next_hop_mtu = if reason == DstUnreachable::FragRequired { a } else { 0 };
                Repr::DstUnreachable { reason, next_hop_mtu, header, data }
            }
            _ => Repr::TimeExceeded { reason: TimeExceeded::from(code), header, data },
        }
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip((t, code, a, b, header, data) in repr_and_data()) {
            let repr = build(t, code, a, b, header, &data);
            let mut bytes = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert!(packet.verify_checksum());
            prop_assert_eq!(Repr::parse(&packet, &Checksums::SOFTWARE), Ok(repr));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
            verify in any::<bool>(),
        ) {
            let icmpv4 = if verify { Checksum::Both } else { Checksum::None };
            let checksums = Checksums { icmpv4, ..Checksums::SOFTWARE };
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (packet.msg_type(), packet.msg_code(), packet.checksum());
                let _ = (packet.echo_ident(), packet.echo_seq_no(), packet.next_hop_mtu());
                let _ = (packet.data(), packet.verify_checksum());
                if let Ok(repr) = Repr::parse(&packet, &checksums) {
                    prop_assert!(repr.buffer_len() <= bytes.len());
                }
            }
            let _ = Repr::parse(&Packet::new_unchecked(&bytes[..]), &checksums);
            let _ = Repr::dst_unreachable(DstUnreachable::PortUnreachable, &bytes);
        }

        #[test]
        fn structured_errors_never_panic(
            header in quoted_header(0),
            cut in 0usize..40,
            noise in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            // Valid-looking quoted headers over arbitrary payloads and cuts.
            let mut bytes = vec![3u8, 3, 0, 0, 0, 0, 0, 0];
            let mut ip = [0u8; 20];
            header.emit(&mut ipv4::Packet::new_unchecked(&mut ip[..]), &Checksums::SOFTWARE);
            bytes.extend_from_slice(&ip);
            bytes.extend_from_slice(&noise);
            bytes.truncate(bytes.len().saturating_sub(cut).max(8));
            Packet::new_unchecked(&mut bytes[..]).fill_checksum();
            let parsed = Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE);
            let quoted = bytes.len().saturating_sub(28).min(header.payload_len);
            if bytes.len() >= 28 && quoted >= 8 {
                let is_ok =
                    matches!(parsed, Ok(Repr::DstUnreachable { data, .. }) if data.len() == quoted);
                prop_assert!(is_ok);
            } else {
                prop_assert_eq!(parsed, Err(Error::Truncated));
            }
        }
    }
}
