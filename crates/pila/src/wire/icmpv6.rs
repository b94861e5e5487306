//! ICMP for IPv6 (RFC 4443), neighbour discovery (RFC 4861) and MLDv2 (RFC 3810).
//!
//! ```text
//!  0               1               2               3
//! +---------------+---------------+-------------------------------+
//! |     Type      |     Code      |           Checksum            |
//! +---------------+---------------+-------------------------------+
//! |  echo: Identifier, Sequence Number; errors: unused, MTU or    |
//! |  pointer; NS/NA/Redirect: flags and reserved; RA: hop limit,  |
//! |  flags, router lifetime; MLDv2 report: reserved, record count |
//! +---------------------------------------------------------------+
//! |  echo: data; errors: the invoking packet, as much as fits     |
//! |  1280 bytes; ND: target (and destination), then options; RA:  |
//! |  reachable time, retrans timer, options; MLD: records         |
//! +----------------------------------------------------------------
//! ```
//!
//! Unlike ICMPv4's, the checksum covers a pseudo-header of the IPv6 addresses (RFC 4443
//! §2.3), so parsing and emitting take the packet's source and destination.

use super::checksum;
use super::ethernet;
use super::ipv6::{self, ext::ProblemCode};
use super::{Checksums, Error, Fields as _, FieldsMut as _, Result};
use core::fmt;
use core::net::Ipv6Addr;

/// The length of the part every message has: type, code, checksum and four more bytes.
pub const HEADER_LEN: usize = 8;

/// The ICMPv6 next-header value (58).
const NEXT_HEADER: u8 = 58;

mod field {
    use core::ops::Range;

    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: Range<usize> = 2..4;
    pub(super) const ECHO_IDENT: Range<usize> = 4..6;
    pub(super) const ECHO_SEQNO: Range<usize> = 6..8;
    /// Packet Too Big's MTU, Parameter Problem's pointer.
    pub(super) const WORD: Range<usize> = 4..8;
    pub(super) const RA_HOP_LIMIT: usize = 4;
    pub(super) const RA_FLAGS: usize = 5;
    pub(super) const RA_LIFETIME: Range<usize> = 6..8;
    pub(super) const RA_REACHABLE: Range<usize> = 8..12;
    pub(super) const RA_RETRANS: Range<usize> = 12..16;
    pub(super) const NA_FLAGS: usize = 4;
    pub(super) const TARGET: Range<usize> = 8..24;
    pub(super) const REDIRECT_DST: Range<usize> = 24..40;
    pub(super) const MLD_RECORDS: Range<usize> = 6..8;
    pub(super) const MLD_MAX_RESPONSE: Range<usize> = 4..6;
}

/// The type of an ICMPv6 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// Destination unreachable (1).
    DstUnreachable,
    /// Packet too big (2).
    PacketTooBig,
    /// Time exceeded (3).
    TimeExceeded,
    /// Parameter problem (4).
    ParamProblem,
    /// Echo request (128).
    EchoRequest,
    /// Echo reply (129).
    EchoReply,
    /// Multicast listener query (130).
    MldQuery,
    /// MLDv1 report (131).
    MldReport,
    /// MLDv1 done (132).
    MldDone,
    /// Router solicitation (133).
    RouterSolicit,
    /// Router advertisement (134).
    RouterAdvert,
    /// Neighbour solicitation (135).
    NeighborSolicit,
    /// Neighbour advertisement (136).
    NeighborAdvert,
    /// Redirect (137).
    Redirect,
    /// MLDv2 report (143).
    Mldv2Report,
    /// Any other type.
    Unknown(u8),
}

impl Message {
    /// Whether this is an error message (types below 128, RFC 4443 §2.1).
    pub fn is_error(self) -> bool {
        u8::from(self) < 128
    }
}

impl From<u8> for Message {
    fn from(value: u8) -> Self {
        match value {
            1 => Self::DstUnreachable,
            2 => Self::PacketTooBig,
            3 => Self::TimeExceeded,
            4 => Self::ParamProblem,
            128 => Self::EchoRequest,
            129 => Self::EchoReply,
            130 => Self::MldQuery,
            131 => Self::MldReport,
            132 => Self::MldDone,
            133 => Self::RouterSolicit,
            134 => Self::RouterAdvert,
            135 => Self::NeighborSolicit,
            136 => Self::NeighborAdvert,
            137 => Self::Redirect,
            143 => Self::Mldv2Report,
            other => Self::Unknown(other),
        }
    }
}

impl From<Message> for u8 {
    fn from(value: Message) -> Self {
        match value {
            Message::DstUnreachable => 1,
            Message::PacketTooBig => 2,
            Message::TimeExceeded => 3,
            Message::ParamProblem => 4,
            Message::EchoRequest => 128,
            Message::EchoReply => 129,
            Message::MldQuery => 130,
            Message::MldReport => 131,
            Message::MldDone => 132,
            Message::RouterSolicit => 133,
            Message::RouterAdvert => 134,
            Message::NeighborSolicit => 135,
            Message::NeighborAdvert => 136,
            Message::Redirect => 137,
            Message::Mldv2Report => 143,
            Message::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DstUnreachable => "destination unreachable",
            Self::PacketTooBig => "packet too big",
            Self::TimeExceeded => "time exceeded",
            Self::ParamProblem => "parameter problem",
            Self::EchoRequest => "echo request",
            Self::EchoReply => "echo reply",
            Self::MldQuery => "multicast listener query",
            Self::MldReport => "multicast listener report",
            Self::MldDone => "multicast listener done",
            Self::RouterSolicit => "router solicitation",
            Self::RouterAdvert => "router advertisement",
            Self::NeighborSolicit => "neighbor solicitation",
            Self::NeighborAdvert => "neighbor advertisement",
            Self::Redirect => "redirect",
            Self::Mldv2Report => "MLDv2 report",
            Self::Unknown(n) => return write!(f, "type {n}"),
        })
    }
}

/// Why a destination is unreachable: the code of a type 1 message (RFC 4443 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DstUnreachable {
    /// No route to destination (0).
    NoRoute,
    /// Communication administratively prohibited (1).
    Prohibited,
    /// Beyond the scope of the source address (2).
    BeyondScope,
    /// Address unreachable (3).
    AddrUnreachable,
    /// Port unreachable (4).
    PortUnreachable,
    /// Source address failed ingress/egress policy (5).
    FailedPolicy,
    /// Reject route to destination (6).
    RejectRoute,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for DstUnreachable {
    fn from(value: u8) -> Self {
        match value {
            0 => Self::NoRoute,
            1 => Self::Prohibited,
            2 => Self::BeyondScope,
            3 => Self::AddrUnreachable,
            4 => Self::PortUnreachable,
            5 => Self::FailedPolicy,
            6 => Self::RejectRoute,
            other => Self::Unknown(other),
        }
    }
}

impl From<DstUnreachable> for u8 {
    fn from(value: DstUnreachable) -> Self {
        match value {
            DstUnreachable::NoRoute => 0,
            DstUnreachable::Prohibited => 1,
            DstUnreachable::BeyondScope => 2,
            DstUnreachable::AddrUnreachable => 3,
            DstUnreachable::PortUnreachable => 4,
            DstUnreachable::FailedPolicy => 5,
            DstUnreachable::RejectRoute => 6,
            DstUnreachable::Unknown(other) => other,
        }
    }
}

/// The code of a time exceeded message (RFC 4443 §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeExceeded {
    /// Hop limit exceeded in transit (0).
    HopLimit,
    /// Fragment reassembly time exceeded (1).
    Reassembly,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for TimeExceeded {
    fn from(value: u8) -> Self {
        match value {
            0 => Self::HopLimit,
            1 => Self::Reassembly,
            other => Self::Unknown(other),
        }
    }
}

impl From<TimeExceeded> for u8 {
    fn from(value: TimeExceeded) -> Self {
        match value {
            TimeExceeded::HopLimit => 0,
            TimeExceeded::Reassembly => 1,
            TimeExceeded::Unknown(other) => other,
        }
    }
}

/// A zero-copy view of an ICMPv6 message.
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

    /// Checks that the buffer holds the 8-byte header every message has.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN { Err(Error::Truncated) } else { Ok(()) }
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The message type.
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.buffer.read_u16(field::CHECKSUM)
    }

    /// Whether the checksum is right for a message from `src` to `dst`: the sum of the
    /// pseudo-header and the whole message is all ones.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else { return false };
        let pseudo = checksum::pseudo_header_v6(src, dst, NEXT_HEADER, len);
        checksum::combine(&[pseudo, checksum::sum(data)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Computes the checksum for a message from `src` to `dst` and stores it.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.buffer.write_u16(field::CHECKSUM, 0);
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let pseudo = checksum::pseudo_header_v6(src, dst, NEXT_HEADER, len);
        let sum = checksum::finish(&[pseudo, checksum::sum(data)]);
        self.buffer.write_u16(field::CHECKSUM, sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The prefix information of a router advertisement (RFC 4861 §4.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrefixInfo {
    /// The prefix length.
    pub prefix_len: u8,
    /// The L flag: the prefix is on-link.
    pub on_link: bool,
    /// The A flag: hosts may make addresses on it (SLAAC, RFC 4862).
    pub autonomous: bool,
    /// How long the prefix stays valid, in seconds (`u32::MAX`: for ever).
    pub valid_lifetime: u32,
    /// How long addresses on it stay preferred, in seconds.
    pub preferred_lifetime: u32,
    /// The prefix (bits past its length are zero).
    pub prefix: Ipv6Addr,
}

/// One neighbour discovery option (RFC 4861 §4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NdpOption<'a> {
    /// Source link-layer address (1), an Ethernet MAC.
    SourceLinkAddr(ethernet::Address),
    /// Target link-layer address (2), an Ethernet MAC.
    TargetLinkAddr(ethernet::Address),
    /// Prefix information (3).
    PrefixInfo(PrefixInfo),
    /// Redirected header (4): the start of the packet that caused a redirect.
    RedirectedHeader(&'a [u8]),
    /// MTU (5): the link's MTU.
    Mtu(u32),
    /// Any other option, or a link-layer address that is not 6 bytes long: its type and the
    /// bytes after its type and length.
    Unknown {
        /// The option type.
        kind: u8,
        /// The bytes after the type and length, padding included.
        data: &'a [u8],
    },
}

impl<'a> NdpOption<'a> {
    /// The length this option takes on the wire: a multiple of 8.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::SourceLinkAddr(_) | Self::TargetLinkAddr(_) | Self::Mtu(_) => 8,
            Self::PrefixInfo(_) => 32,
            // The redirected header's option has 6 reserved bytes before the packet.
            Self::RedirectedHeader(data) => (8 + data.len()).div_ceil(8) * 8,
            Self::Unknown { data, .. } => (2 + data.len()).div_ceil(8) * 8,
        }
    }

    /// Writes the option at the start of `buf` (at least [`buffer_len`](Self::buffer_len)
    /// bytes), padded with zeros. An option longer than 2040 bytes does not fit its length
    /// field and is cut there.
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len().min(255 * 8);
        let out = &mut buf[..len];
        out.fill(0);
        out[1] = (len / 8) as u8;
        match *self {
            Self::SourceLinkAddr(mac) | Self::TargetLinkAddr(mac) => {
                out[0] = if matches!(self, Self::SourceLinkAddr(_)) { 1 } else { 2 };
                out[2..8].copy_from_slice(mac.as_bytes());
            }
            Self::PrefixInfo(p) => {
                out[0] = 3;
                out[2] = p.prefix_len;
                out[3] = u8::from(p.on_link) << 7 | u8::from(p.autonomous) << 6;
                out[4..8].copy_from_slice(&p.valid_lifetime.to_be_bytes());
                out[8..12].copy_from_slice(&p.preferred_lifetime.to_be_bytes());
                out[16..32].copy_from_slice(&p.prefix.octets());
            }
            Self::RedirectedHeader(data) => {
                out[0] = 4;
                let n = data.len().min(len - 8);
                out[8..8 + n].copy_from_slice(&data[..n]);
            }
            Self::Mtu(mtu) => {
                out[0] = 5;
                out[4..8].copy_from_slice(&mtu.to_be_bytes());
            }
            Self::Unknown { kind, data } => {
                out[0] = kind;
                let n = data.len().min(len - 2);
                out[2..2 + n].copy_from_slice(&data[..n]);
            }
        }
    }

    /// Reads the option at the start of `data`, whose length has been checked: at least 8
    /// bytes, the length field non-zero and within `data`.
    fn read(data: &'a [u8]) -> Result<Self> {
        let (kind, len) = (data[0], usize::from(data[1]) * 8);
        let body = &data[2..len];
        let mac = |b: &[u8]| ethernet::Address([b[0], b[1], b[2], b[3], b[4], b[5]]);
        Ok(match (kind, len) {
            (1, 8) => Self::SourceLinkAddr(mac(body)),
            (2, 8) => Self::TargetLinkAddr(mac(body)),
            (3, 32) => {
                let mut prefix = [0; 16];
                prefix.copy_from_slice(&data[16..32]);
                Self::PrefixInfo(PrefixInfo {
                    prefix_len: data[2],
                    on_link: data[3] & 0x80 != 0,
                    autonomous: data[3] & 0x40 != 0,
                    valid_lifetime: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                    preferred_lifetime: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
                    prefix: Ipv6Addr::from(prefix),
                })
            }
            (3, _) | (5, 16..) => return Err(Error::BadLength),
            (4, _) => Self::RedirectedHeader(&data[8..len]),
            (5, 8) => Self::Mtu(u32::from_be_bytes([data[4], data[5], data[6], data[7]])),
            _ => Self::Unknown { kind, data: body },
        })
    }
}

/// The options of a neighbour discovery message: the bytes of a parsed one, or a list to
/// write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NdpOptions<'a> {
    /// Options as received, checked when the message was parsed.
    Bytes(&'a [u8]),
    /// Options to write.
    List(&'a [NdpOption<'a>]),
}

impl<'a> NdpOptions<'a> {
    /// No options.
    pub const NONE: Self = Self::List(&[]);

    /// Checks that `data` is a sequence of whole options, each of non-zero length (RFC
    /// 4861 §4.6: a zero length makes the message invalid), and that the options whose
    /// length RFC 4861 fixes have it.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let mut rest = data;
        while !rest.is_empty() {
            let Some(&units) = rest.get(1) else { return Err(Error::Truncated) };
            let len = usize::from(units) * 8;
            if len == 0 {
                return Err(Error::BadLength);
            }
            let Some(option) = rest.get(..len) else { return Err(Error::Truncated) };
            NdpOption::read(option)?;
            rest = &rest[len..];
        }
        Ok(Self::Bytes(data))
    }

    /// The options, in order.
    pub fn iter(&self) -> impl Iterator<Item = NdpOption<'a>> + 'a {
        let (mut bytes, list) = match *self {
            Self::Bytes(bytes) => (bytes, &[][..]),
            Self::List(list) => (&[][..], list),
        };
        let from_bytes = core::iter::from_fn(move || {
            let len = usize::from(*bytes.get(1)?) * 8;
            let option = NdpOption::read(bytes.get(..len.max(8))?).ok()?;
            bytes = bytes.get(len..)?;
            Some(option)
        });
        from_bytes.chain(list.iter().copied())
    }

    /// The source link-layer address, if an option gives one.
    pub fn source_link_addr(&self) -> Option<ethernet::Address> {
        self.iter().find_map(|o| match o {
            NdpOption::SourceLinkAddr(mac) => Some(mac),
            _ => None,
        })
    }

    /// The target link-layer address, if an option gives one.
    pub fn target_link_addr(&self) -> Option<ethernet::Address> {
        self.iter().find_map(|o| match o {
            NdpOption::TargetLinkAddr(mac) => Some(mac),
            _ => None,
        })
    }

    /// The bytes the options take on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Bytes(bytes) => bytes.len(),
            Self::List(list) => list.iter().map(NdpOption::buffer_len).sum(),
        }
    }

    /// Writes the options at the start of `buf`.
    fn emit(&self, buf: &mut [u8]) {
        match self {
            Self::Bytes(bytes) => buf[..bytes.len()].copy_from_slice(bytes),
            Self::List(list) => {
                let mut at = 0;
                for option in *list {
                    option.emit(&mut buf[at..]);
                    at += option.buffer_len();
                }
            }
        }
    }
}

/// The type of an MLDv2 multicast address record (RFC 3810 §5.2.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// MODE_IS_INCLUDE (1).
    IsInclude,
    /// MODE_IS_EXCLUDE (2).
    IsExclude,
    /// CHANGE_TO_INCLUDE_MODE (3): with no sources, leaving the group.
    ChangeToInclude,
    /// CHANGE_TO_EXCLUDE_MODE (4): with no sources, joining the group for all its traffic.
    ChangeToExclude,
    /// ALLOW_NEW_SOURCES (5).
    AllowNew,
    /// BLOCK_OLD_SOURCES (6).
    BlockOld,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for RecordType {
    fn from(value: u8) -> Self {
        match value {
            1 => Self::IsInclude,
            2 => Self::IsExclude,
            3 => Self::ChangeToInclude,
            4 => Self::ChangeToExclude,
            5 => Self::AllowNew,
            6 => Self::BlockOld,
            other => Self::Unknown(other),
        }
    }
}

impl From<RecordType> for u8 {
    fn from(value: RecordType) -> Self {
        match value {
            RecordType::IsInclude => 1,
            RecordType::IsExclude => 2,
            RecordType::ChangeToInclude => 3,
            RecordType::ChangeToExclude => 4,
            RecordType::AllowNew => 5,
            RecordType::BlockOld => 6,
            RecordType::Unknown(other) => other,
        }
    }
}

/// One multicast address record of an MLDv2 report, without auxiliary data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MldRecord<'a> {
    /// The record type.
    pub kind: RecordType,
    /// The multicast group.
    pub address: Ipv6Addr,
    /// The sources, as 16-byte addresses back to back (read) or addresses (to write).
    pub sources: &'a [Ipv6Addr],
}

/// The records of an MLDv2 report: the bytes of a parsed one, or a list to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MldRecords<'a> {
    /// Records as received, checked when the report was parsed: their count and bytes.
    Bytes(u16, &'a [u8]),
    /// Records to write.
    List(&'a [MldRecord<'a>]),
}

impl<'a> MldRecords<'a> {
    /// Checks that `data` holds `count` whole records (RFC 3810 §5.2.4).
    fn parse(count: u16, data: &'a [u8]) -> Result<Self> {
        let mut at = 0;
        for _ in 0..count {
            let len = record_len(data.get(at..).unwrap_or_default())?;
            at += len;
        }
        Ok(Self::Bytes(count, &data[..at]))
    }

    /// The records' groups and types, in order (sources are not kept: a host that reports
    /// reads none).
    pub fn groups(&self) -> impl Iterator<Item = (RecordType, Ipv6Addr)> + 'a {
        let (count, mut bytes, list) = match *self {
            Self::Bytes(count, bytes) => (count, bytes, &[][..]),
            Self::List(list) => (0, &[][..], list),
        };
        let from_bytes = (0..count).map_while(move |_| {
            let len = record_len(bytes).ok()?;
            let mut group = [0; 16];
            group.copy_from_slice(&bytes[4..20]);
            let kind = RecordType::from(bytes[0]);
            bytes = &bytes[len..];
            Some((kind, Ipv6Addr::from(group)))
        });
        from_bytes.chain(list.iter().map(|r| (r.kind, r.address)))
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        match self {
            Self::Bytes(count, _) => usize::from(*count),
            Self::List(list) => list.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the records take on the wire.
    fn buffer_len(&self) -> usize {
        match self {
            Self::Bytes(_, bytes) => bytes.len(),
            Self::List(list) => list.iter().map(|r| 20 + 16 * r.sources.len()).sum(),
        }
    }

    /// Writes the records at the start of `buf`.
    fn emit(&self, buf: &mut [u8]) {
        match self {
            Self::Bytes(_, bytes) => buf[..bytes.len()].copy_from_slice(bytes),
            Self::List(list) => {
                let mut at = 0;
                for r in *list {
                    let sources = u16::try_from(r.sources.len()).unwrap_or(u16::MAX);
                    buf[at] = r.kind.into();
                    buf[at + 1] = 0;
                    buf[at + 2..at + 4].copy_from_slice(&sources.to_be_bytes());
                    buf[at + 4..at + 20].copy_from_slice(&r.address.octets());
                    at += 20;
                    for s in r.sources.iter().take(usize::from(sources)) {
                        buf[at..at + 16].copy_from_slice(&s.octets());
                        at += 16;
                    }
                }
            }
        }
    }
}

/// The length of the record at the start of `data`, checked to fit.
fn record_len(data: &[u8]) -> Result<usize> {
    let head = data.get(..20).ok_or(Error::Truncated)?;
    let aux = usize::from(head[1]) * 4;
    let sources = usize::from(u16::from_be_bytes([head[2], head[3]])) * 16;
    let len = 20 + sources + aux;
    if len > data.len() {
        return Err(Error::Truncated);
    }
    Ok(len)
}

/// An ICMPv6 message pila handles, as plain values.
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
        /// The IPv6 header of the packet that could not be delivered.
        header: ipv6::Repr,
        /// The bytes after that header, as many as were quoted.
        data: &'a [u8],
    },
    /// A packet too big error (RFC 8201's signal).
    PacketTooBig {
        /// The MTU of the next hop.
        mtu: u32,
        /// The IPv6 header of the packet that was too big.
        header: ipv6::Repr,
        /// The bytes after that header, as many as were quoted.
        data: &'a [u8],
    },
    /// A time exceeded error.
    TimeExceeded {
        /// The code.
        reason: TimeExceeded,
        /// The IPv6 header of the packet that was dropped.
        header: ipv6::Repr,
        /// The bytes after that header, as many as were quoted.
        data: &'a [u8],
    },
    /// A parameter problem error.
    ParamProblem {
        /// The code.
        code: ProblemCode,
        /// The offset in the invoking packet of the byte at fault.
        pointer: u32,
        /// The IPv6 header of the invoking packet.
        header: ipv6::Repr,
        /// The bytes after that header, as many as were quoted.
        data: &'a [u8],
    },
    /// A router solicitation (RFC 4861 §4.1).
    RouterSolicit {
        /// The options (a source link-layer address, unless sent from `::`).
        options: NdpOptions<'a>,
    },
    /// A router advertisement (RFC 4861 §4.2).
    RouterAdvert {
        /// The hop limit hosts should use (0: unspecified).
        hop_limit: u8,
        /// The M flag: addresses come from DHCPv6.
        managed: bool,
        /// The O flag: other configuration comes from DHCPv6.
        other: bool,
        /// How long the router is a default router, in seconds (0: not one).
        router_lifetime: u16,
        /// ReachableTime in milliseconds (0: unspecified).
        reachable_time: u32,
        /// RetransTimer in milliseconds (0: unspecified).
        retrans_timer: u32,
        /// The options: source link-layer address, MTU, prefix information.
        options: NdpOptions<'a>,
    },
    /// A neighbour solicitation (RFC 4861 §4.3).
    NeighborSolicit {
        /// The address whose link-layer address is asked for.
        target: Ipv6Addr,
        /// The options (a source link-layer address, unless sent from `::`).
        options: NdpOptions<'a>,
    },
    /// A neighbour advertisement (RFC 4861 §4.4).
    NeighborAdvert {
        /// The R flag: the sender is a router.
        router: bool,
        /// The S flag: an answer to a solicitation.
        solicited: bool,
        /// The O flag: the advertisement should replace a cached link-layer address.
        override_entry: bool,
        /// The address advertised.
        target: Ipv6Addr,
        /// The options (a target link-layer address).
        options: NdpOptions<'a>,
    },
    /// A redirect (RFC 4861 §4.5).
    Redirect {
        /// The better first hop.
        target: Ipv6Addr,
        /// The destination redirected.
        destination: Ipv6Addr,
        /// The options.
        options: NdpOptions<'a>,
    },
    /// A multicast listener query, MLDv1 or MLDv2 (RFC 3810 §5.1): what a host needs to
    /// answer it.
    MldQuery {
        /// The maximum response code (RFC 3810 §5.1.3).
        max_response_code: u16,
        /// The group asked about; unspecified for a general query.
        group: Ipv6Addr,
    },
    /// An MLDv2 report (RFC 3810 §5.2).
    Mldv2Report {
        /// The multicast address records.
        records: MldRecords<'a>,
    },
}

impl<'a> Repr<'a> {
    /// Reads a message from `src` to `dst`: verifies the checksum when `checksums.icmpv6`
    /// says software does ([`Error::BadChecksum`]); a code that must be zero and is not, or
    /// a message shorter than its type's fixed part, is [`Error::Malformed`] or
    /// [`Error::Truncated`]; neighbour discovery options must be well formed; other types
    /// are [`Error::Unsupported`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        checksums: &Checksums,
    ) -> Result<Self> {
        packet.check_len()?;
        if checksums.icmpv6.verify() && !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        let data: &'a [u8] = packet.buffer.as_ref();
        let code = packet.msg_code();
        let msg = packet.msg_type();
        let fixed = match msg {
            Message::RouterAdvert => 16,
            Message::NeighborSolicit | Message::NeighborAdvert | Message::MldQuery => 24,
            Message::Redirect => 40,
            _ => HEADER_LEN,
        };
        if data.len() < fixed {
            return Err(Error::Truncated);
        }
        if !msg.is_error() && !matches!(msg, Message::Unknown(_)) && code != 0 {
            return Err(Error::Malformed);
        }
        let word = packet.buffer.read_u32(field::WORD);
        let target = || read_addr(data, field::TARGET);
        let options = || NdpOptions::parse(&data[fixed..]);
        Ok(match msg {
            Message::EchoRequest => Self::EchoRequest {
                ident: packet.buffer.read_u16(field::ECHO_IDENT),
                seq_no: packet.buffer.read_u16(field::ECHO_SEQNO),
                data: &data[HEADER_LEN..],
            },
            Message::EchoReply => Self::EchoReply {
                ident: packet.buffer.read_u16(field::ECHO_IDENT),
                seq_no: packet.buffer.read_u16(field::ECHO_SEQNO),
                data: &data[HEADER_LEN..],
            },
            Message::DstUnreachable => {
                let (header, data) = ipv6::Repr::parse_quoted(&data[HEADER_LEN..])?;
                Self::DstUnreachable { reason: DstUnreachable::from(code), header, data }
            }
            Message::PacketTooBig => {
                let (header, data) = ipv6::Repr::parse_quoted(&data[HEADER_LEN..])?;
                Self::PacketTooBig { mtu: word, header, data }
            }
            Message::TimeExceeded => {
                let (header, data) = ipv6::Repr::parse_quoted(&data[HEADER_LEN..])?;
                Self::TimeExceeded { reason: TimeExceeded::from(code), header, data }
            }
            Message::ParamProblem => {
                let (header, data) = ipv6::Repr::parse_quoted(&data[HEADER_LEN..])?;
                Self::ParamProblem { code: ProblemCode::from(code), pointer: word, header, data }
            }
            Message::RouterSolicit => Self::RouterSolicit { options: options()? },
            Message::RouterAdvert => {
                let flags = data[field::RA_FLAGS];
                Self::RouterAdvert {
                    hop_limit: data[field::RA_HOP_LIMIT],
                    managed: flags & 0x80 != 0,
                    other: flags & 0x40 != 0,
                    router_lifetime: packet.buffer.read_u16(field::RA_LIFETIME),
                    reachable_time: packet.buffer.read_u32(field::RA_REACHABLE),
                    retrans_timer: packet.buffer.read_u32(field::RA_RETRANS),
                    options: options()?,
                }
            }
            Message::NeighborSolicit => {
                let target = target();
                if target.is_multicast() {
                    return Err(Error::Malformed);
                }
                Self::NeighborSolicit { target, options: options()? }
            }
            Message::NeighborAdvert => {
                let flags = data[field::NA_FLAGS];
                let target = target();
                if target.is_multicast() {
                    return Err(Error::Malformed);
                }
                Self::NeighborAdvert {
                    router: flags & 0x80 != 0,
                    solicited: flags & 0x40 != 0,
                    override_entry: flags & 0x20 != 0,
                    target,
                    options: options()?,
                }
            }
            Message::Redirect => Self::Redirect {
                target: target(),
                destination: read_addr(data, field::REDIRECT_DST),
                options: options()?,
            },
            Message::MldQuery => Self::MldQuery {
                max_response_code: packet.buffer.read_u16(field::MLD_MAX_RESPONSE),
                group: target(),
            },
            Message::Mldv2Report => {
                let count = packet.buffer.read_u16(field::MLD_RECORDS);
                Self::Mldv2Report { records: MldRecords::parse(count, &data[HEADER_LEN..])? }
            }
            _ => return Err(Error::Unsupported),
        })
    }

    /// A neighbour solicitation for `target` with `options`.
    pub const fn neighbor_solicit(target: Ipv6Addr, options: &'a [NdpOption<'a>]) -> Self {
        Self::NeighborSolicit { target, options: NdpOptions::List(options) }
    }

    /// A neighbour advertisement of `target` with `options` and the R, S and O flags.
    pub const fn neighbor_advert(
        router: bool,
        solicited: bool,
        override_entry: bool,
        target: Ipv6Addr,
        options: &'a [NdpOption<'a>],
    ) -> Self {
        Self::NeighborAdvert {
            router,
            solicited,
            override_entry,
            target,
            options: NdpOptions::List(options),
        }
    }

    /// An MLDv2 report of `records`.
    pub const fn mldv2_report(records: &'a [MldRecord<'a>]) -> Self {
        Self::Mldv2Report { records: MldRecords::List(records) }
    }

    /// A destination unreachable error about `original`, a whole IPv6 packet as received,
    /// quoted as much as keeps the error within the minimum MTU (RFC 4443 §2.4 (c)).
    ///
    /// Whether an error may be sent at all (never about an error, nor, but for the
    /// exceptions of RFC 4443 §2.4 (e), to a multicast destination) is the caller's call.
    pub fn dst_unreachable(reason: DstUnreachable, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Self::DstUnreachable { reason, header, data })
    }

    /// A packet too big error about `original`, announcing `mtu`.
    pub fn packet_too_big(mtu: u32, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Self::PacketTooBig { mtu, header, data })
    }

    /// A time exceeded error about `original`.
    pub fn time_exceeded(reason: TimeExceeded, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Self::TimeExceeded { reason, header, data })
    }

    /// A parameter problem error about `original`, pointing at its byte `pointer`.
    pub fn param_problem(code: ProblemCode, pointer: u32, original: &'a [u8]) -> Result<Self> {
        let (header, data) = quote(original)?;
        Ok(Self::ParamProblem { code, pointer, header, data })
    }

    /// The length of the message `emit` writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::EchoRequest { data, .. } | Self::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Self::DstUnreachable { data, .. }
            | Self::PacketTooBig { data, .. }
            | Self::TimeExceeded { data, .. }
            | Self::ParamProblem { data, .. } => HEADER_LEN + ipv6::HEADER_LEN + data.len(),
            Self::RouterSolicit { options } => HEADER_LEN + options.buffer_len(),
            Self::RouterAdvert { options, .. } => 16 + options.buffer_len(),
            Self::NeighborSolicit { options, .. } | Self::NeighborAdvert { options, .. } => {
                24 + options.buffer_len()
            }
            Self::Redirect { options, .. } => 40 + options.buffer_len(),
            Self::MldQuery { .. } => 24,
            Self::Mldv2Report { records } => HEADER_LEN + records.buffer_len(),
        }
    }

    /// The message type.
    pub const fn msg_type(&self) -> Message {
        match self {
            Self::EchoRequest { .. } => Message::EchoRequest,
            Self::EchoReply { .. } => Message::EchoReply,
            Self::DstUnreachable { .. } => Message::DstUnreachable,
            Self::PacketTooBig { .. } => Message::PacketTooBig,
            Self::TimeExceeded { .. } => Message::TimeExceeded,
            Self::ParamProblem { .. } => Message::ParamProblem,
            Self::RouterSolicit { .. } => Message::RouterSolicit,
            Self::RouterAdvert { .. } => Message::RouterAdvert,
            Self::NeighborSolicit { .. } => Message::NeighborSolicit,
            Self::NeighborAdvert { .. } => Message::NeighborAdvert,
            Self::Redirect { .. } => Message::Redirect,
            Self::MldQuery { .. } => Message::MldQuery,
            Self::Mldv2Report { .. } => Message::Mldv2Report,
        }
    }

    /// Writes the message from `src` to `dst` into a buffer of exactly `buffer_len()`
    /// bytes, with the checksum when `checksums.icmpv6` says software computes it and zero
    /// otherwise. A quoted header is written as [`ipv6::Repr::emit`] writes it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        checksums: &Checksums,
    ) {
        let buf = packet.buffer.as_mut();
        buf[..HEADER_LEN].fill(0);
        buf[field::TYPE] = self.msg_type().into();
        match *self {
            Self::EchoRequest { ident, seq_no, data } | Self::EchoReply { ident, seq_no, data } => {
                buf.write_u16(field::ECHO_IDENT, ident);
                buf.write_u16(field::ECHO_SEQNO, seq_no);
                buf[HEADER_LEN..HEADER_LEN + data.len()].copy_from_slice(data);
            }
            Self::DstUnreachable { reason, ref header, data } => {
                buf[field::CODE] = reason.into();
                emit_quote(buf, header, data);
            }
            Self::PacketTooBig { mtu, ref header, data } => {
                buf.write_u32(field::WORD, mtu);
                emit_quote(buf, header, data);
            }
            Self::TimeExceeded { reason, ref header, data } => {
                buf[field::CODE] = reason.into();
                emit_quote(buf, header, data);
            }
            Self::ParamProblem { code, pointer, ref header, data } => {
                buf[field::CODE] = code.into();
                buf.write_u32(field::WORD, pointer);
                emit_quote(buf, header, data);
            }
            Self::RouterSolicit { options } => options.emit(&mut buf[HEADER_LEN..]),
            Self::RouterAdvert {
                hop_limit,
                managed,
                other,
                router_lifetime,
                reachable_time,
                retrans_timer,
                options,
            } => {
                buf[field::RA_HOP_LIMIT] = hop_limit;
                buf[field::RA_FLAGS] = u8::from(managed) << 7 | u8::from(other) << 6;
                buf.write_u16(field::RA_LIFETIME, router_lifetime);
                buf.write_u32(field::RA_REACHABLE, reachable_time);
                buf.write_u32(field::RA_RETRANS, retrans_timer);
                options.emit(&mut buf[16..]);
            }
            Self::NeighborSolicit { target, options } => {
                buf[field::TARGET].copy_from_slice(&target.octets());
                options.emit(&mut buf[24..]);
            }
            Self::NeighborAdvert { router, solicited, override_entry, target, options } => {
                buf[field::NA_FLAGS] = u8::from(router) << 7
                    | u8::from(solicited) << 6
                    | u8::from(override_entry) << 5;
                buf[field::TARGET].copy_from_slice(&target.octets());
                options.emit(&mut buf[24..]);
            }
            Self::Redirect { target, destination, options } => {
                buf[field::TARGET].copy_from_slice(&target.octets());
                buf[field::REDIRECT_DST].copy_from_slice(&destination.octets());
                options.emit(&mut buf[40..]);
            }
            Self::MldQuery { max_response_code, group } => {
                buf.write_u16(field::MLD_MAX_RESPONSE, max_response_code);
                buf[field::TARGET].copy_from_slice(&group.octets());
            }
            Self::Mldv2Report { records } => {
                let count = u16::try_from(records.len()).unwrap_or(u16::MAX);
                buf.write_u16(field::MLD_RECORDS, count);
                records.emit(&mut buf[HEADER_LEN..]);
            }
        }
        if checksums.icmpv6.compute() {
            packet.fill_checksum(src, dst);
        } else {
            packet.buffer.as_mut().write_u16(field::CHECKSUM, 0);
        }
    }
}

/// The address in `range` of `data`, whose length has been checked.
fn read_addr(data: &[u8], range: core::ops::Range<usize>) -> Ipv6Addr {
    let mut octets = [0; 16];
    octets.copy_from_slice(&data[range]);
    Ipv6Addr::from(octets)
}

/// Quotes an invoking packet: its header and as much of the rest as keeps the error
/// within the minimum MTU.
fn quote(original: &[u8]) -> Result<(ipv6::Repr, &[u8])> {
    const ROOM: usize = ipv6::MIN_MTU - 2 * ipv6::HEADER_LEN - HEADER_LEN;
    let (header, payload) = ipv6::Repr::parse_quoted(original)?;
    Ok((header, payload.get(..ROOM).unwrap_or(payload)))
}

/// Writes a quoted header and the bytes after it behind an error's 8-byte header.
fn emit_quote(buf: &mut [u8], header: &ipv6::Repr, data: &[u8]) {
    let quoted = &mut buf[HEADER_LEN..];
    let (ip_header, rest) = quoted.split_at_mut(ipv6::HEADER_LEN);
    header.emit(&mut ipv6::Packet::new_unchecked(ip_header));
    rest[..data.len()].copy_from_slice(data);
}

/// The checks of a neighbour discovery message that need its IPv6 header (RFC 4861
/// §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1): the hop limit is 255, so it did not cross a
/// router; a router advertisement or redirect comes from a link-local address; a message
/// from the unspecified address (duplicate address detection) carries no source
/// link-layer address, and a solicitation from it goes to a solicited-node group; a
/// solicited advertisement does not go to a multicast group. Other messages pass.
pub fn validate_nd(repr: &Repr<'_>, ip: &ipv6::Repr) -> Result<()> {
    let nd = matches!(
        repr,
        Repr::RouterSolicit { .. }
            | Repr::RouterAdvert { .. }
            | Repr::NeighborSolicit { .. }
            | Repr::NeighborAdvert { .. }
            | Repr::Redirect { .. }
    );
    if !nd {
        return Ok(());
    }
    let unspecified = ip.src_addr.is_unspecified();
    let ok = ip.hop_limit == 255
        && match repr {
            Repr::RouterSolicit { options } => !unspecified || options.source_link_addr().is_none(),
            Repr::RouterAdvert { .. } | Repr::Redirect { .. } => ipv6::is_link_local(ip.src_addr),
            Repr::NeighborSolicit { target, options } => {
                !unspecified
                    || (ip.dst_addr == ipv6::solicited_node(*target)
                        && options.source_link_addr().is_none())
            }
            Repr::NeighborAdvert { solicited, .. } => !(*solicited && ip.dst_addr.is_multicast()),
            _ => true,
        };
    if ok { Ok(()) } else { Err(Error::Malformed) }
}

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ICMPv6 {}", self.msg_type())?;
        match self {
            Self::EchoRequest { ident, seq_no, data } | Self::EchoReply { ident, seq_no, data } => {
                write!(f, " id {ident} seq {seq_no} len {}", data.len())
            }
            Self::DstUnreachable { reason, header, .. } => {
                write!(f, " ({reason:?}) for {} > {}", header.src_addr, header.dst_addr)
            }
            Self::PacketTooBig { mtu, header, .. } => {
                write!(f, " mtu {mtu} for {} > {}", header.src_addr, header.dst_addr)
            }
            Self::TimeExceeded { reason, .. } => write!(f, " ({reason:?})"),
            Self::ParamProblem { code, pointer, .. } => write!(f, " {code} at {pointer}"),
            Self::NeighborSolicit { target, .. } => write!(f, " who-has {target}"),
            Self::NeighborAdvert { target, options, .. } => match options.target_link_addr() {
                Some(mac) => write!(f, " {target} is-at {mac}"),
                None => write!(f, " {target}"),
            },
            Self::RouterAdvert { router_lifetime, .. } => write!(f, " lifetime {router_lifetime}s"),
            Self::Redirect { target, destination, .. } => write!(f, " {destination} via {target}"),
            Self::MldQuery { group, .. } => write!(f, " for {group}"),
            Self::Mldv2Report { records } => write!(f, " {} records", records.len()),
            Self::RouterSolicit { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Checksum;
    use proptest::prelude::*;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    const SW: Checksums = Checksums::SOFTWARE;
    const MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x0a]);

    /// An echo request from 2001:db8::2 to 2001:db8::1, ident 0x1234, seq 1, data "ping".
    /// Composed by hand from RFC 4443 §4.1; the checksum 0x333e was computed with an
    /// independent Python RFC 1071 sum over the pseudo-header and the message.
    const ECHO: [u8; 12] = [0x80, 0, 0x33, 0x3e, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g'];

    /// A neighbour solicitation from fe80::a to the solicited-node group of fe80::b, for
    /// fe80::b, with the source link-layer address 02:00:00:00:00:0a (RFC 4861 §4.3).
    /// Composed by hand; the checksum 0x7a73 was computed like `ECHO`'s.
    const NS: [u8; 32] = [
        0x87, 0, 0x7a, 0x73, 0, 0, 0, 0, // type, code, checksum, reserved
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, // target
        1, 1, 0x02, 0, 0, 0, 0, 0x0a, // source link-layer address
    ];

    #[test]
    fn deconstruct_an_echo_request() {
        let (src, dst) = (addr("2001:db8::2"), addr("2001:db8::1"));
        let packet = Packet::new_checked(&ECHO[..]).unwrap();
        assert!(packet.verify_checksum(src, dst));
        let repr = Repr::parse(&packet, src, dst, &SW).unwrap();
        assert_eq!(repr, Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"ping" });
        // The pseudo-header counts: the same bytes between other hosts fail.
        assert_eq!(
            Repr::parse(&packet, dst, src, &SW).unwrap(),
            repr,
            "addresses swapped sum alike"
        );
        let elsewhere = addr("2001:db8::9");
        assert_eq!(Repr::parse(&packet, elsewhere, dst, &SW), Err(Error::BadChecksum));
        let mut out = [0; 12];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]), src, dst, &SW);
        assert_eq!(out, ECHO);
    }

    #[test]
    fn deconstruct_a_neighbor_solicitation() {
        let (src, dst) = (addr("fe80::a"), ipv6::solicited_node(addr("fe80::b")));
        let packet = Packet::new_checked(&NS[..]).unwrap();
        let repr = Repr::parse(&packet, src, dst, &SW).unwrap();
        let Repr::NeighborSolicit { target, options } = repr else { panic!("{repr:?}") };
        assert_eq!(target, addr("fe80::b"));
        assert_eq!(options.source_link_addr(), Some(MAC));
        assert_eq!(options.iter().count(), 1);
        let list = [NdpOption::SourceLinkAddr(MAC)];
        let built = Repr::neighbor_solicit(target, &list);
        let mut out = [0; 32];
        built.emit(&mut Packet::new_unchecked(&mut out[..]), src, dst, &SW);
        assert_eq!(out, NS);
        let ip = ipv6::Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: crate::wire::ip::Protocol::Icmpv6,
            payload_len: 32,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        };
        assert_eq!(validate_nd(&repr, &ip), Ok(()));
        assert_eq!(validate_nd(&repr, &ipv6::Repr { hop_limit: 254, ..ip }), Err(Error::Malformed));
        // From `::` (duplicate address detection) it may not carry a link-layer address.
        let dad = ipv6::Repr { src_addr: Ipv6Addr::UNSPECIFIED, ..ip };
        assert_eq!(validate_nd(&repr, &dad), Err(Error::Malformed));
        let bare = Repr::neighbor_solicit(target, &[]);
        assert_eq!(validate_nd(&bare, &dad), Ok(()));
        assert_eq!(
            validate_nd(&bare, &ipv6::Repr { dst_addr: target, ..dad }),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn bad_options_are_refused() {
        let (src, dst) = (addr("fe80::a"), addr("ff02::1:ff00:b"));
        let mut zero = NS;
        zero[25] = 0;
        let mut out = zero;
        Packet::new_unchecked(&mut out[..]).fill_checksum(src, dst);
        let packet = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(Repr::parse(&packet, src, dst, &SW), Err(Error::BadLength), "zero length");
        let mut long = NS;
        long[25] = 2;
        Packet::new_unchecked(&mut long[..]).fill_checksum(src, dst);
        let packet = Packet::new_checked(&long[..]).unwrap();
        assert_eq!(Repr::parse(&packet, src, dst, &SW), Err(Error::Truncated), "past the end");
        let mut multicast = NS;
        multicast[8] = 0xff;
        Packet::new_unchecked(&mut multicast[..]).fill_checksum(src, dst);
        let packet = Packet::new_checked(&multicast[..]).unwrap();
        assert_eq!(Repr::parse(&packet, src, dst, &SW), Err(Error::Malformed), "multicast target");
    }

    #[test]
    fn errors_quote_what_fits_the_minimum_mtu() {
        let header = ipv6::Repr {
            src_addr: addr("2001:db8::1"),
            dst_addr: addr("2001:db8::2"),
            next_header: crate::wire::ip::Protocol::Udp,
            payload_len: 1452,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut original = vec![0x5a; header.buffer_len()];
        header.emit(&mut ipv6::Packet::new_unchecked(&mut original[..]));
        let repr = Repr::param_problem(ProblemCode::UnrecognizedNextHeader, 6, &original).unwrap();
        assert_eq!(repr.buffer_len() + ipv6::HEADER_LEN, ipv6::MIN_MTU);
        let (src, dst) = (header.dst_addr, header.src_addr);
        let mut out = vec![0; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]), src, dst, &SW);
        let back = Repr::parse(&Packet::new_checked(&out[..]).unwrap(), src, dst, &SW).unwrap();
        assert_eq!(back, repr);
        assert!(Repr::param_problem(ProblemCode::ErroneousField, 0, &original[..39]).is_err());
    }

    #[test]
    fn checksum_offload_is_honoured() {
        let (src, dst) = (addr("2001:db8::2"), addr("2001:db8::1"));
        let repr = Repr::EchoReply { ident: 1, seq_no: 2, data: b"x" };
        let mut out = [0; 9];
        let tx = Checksums { icmpv6: Checksum::Rx, ..SW };
        repr.emit(&mut Packet::new_unchecked(&mut out[..]), src, dst, &tx);
        assert_eq!(&out[2..4], &[0, 0], "the device fills it in");
        let rx = Checksums { icmpv6: Checksum::Tx, ..SW };
        assert_eq!(Repr::parse(&Packet::new_checked(&out[..]).unwrap(), src, dst, &rx), Ok(repr));
        assert_eq!(
            Repr::parse(&Packet::new_checked(&out[..]).unwrap(), src, dst, &SW),
            Err(Error::BadChecksum)
        );
    }

    #[test]
    fn types_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(Message::from(n)), n);
            assert_eq!(u8::from(DstUnreachable::from(n)), n);
            assert_eq!(u8::from(TimeExceeded::from(n)), n);
            assert_eq!(u8::from(RecordType::from(n)), n);
        }
        assert!(Message::PacketTooBig.is_error() && !Message::EchoRequest.is_error());
    }

    fn any_addr() -> impl Strategy<Value = Ipv6Addr> {
        any::<[u8; 16]>().prop_map(Ipv6Addr::from)
    }

    fn unicast() -> impl Strategy<Value = Ipv6Addr> {
        any_addr().prop_map(|a| if a.is_multicast() { Ipv6Addr::from(a.to_bits() >> 8) } else { a })
    }

    fn mac() -> impl Strategy<Value = ethernet::Address> {
        any::<[u8; 6]>().prop_map(ethernet::Address)
    }

    fn option() -> impl Strategy<Value = NdpOption<'static>> {
        prop_oneof![
            mac().prop_map(NdpOption::SourceLinkAddr),
            mac().prop_map(NdpOption::TargetLinkAddr),
            any::<u32>().prop_map(NdpOption::Mtu),
            (any::<u8>(), any::<bool>(), any::<bool>(), any::<u32>(), any::<u32>(), any_addr())
                .prop_map(|(prefix_len, on_link, autonomous, valid, preferred, prefix)| {
                    NdpOption::PrefixInfo(PrefixInfo {
                        prefix_len,
                        on_link,
                        autonomous,
                        valid_lifetime: valid,
                        preferred_lifetime: preferred,
                        prefix,
                    })
                }),
        ]
    }

    fn round_trip(
        repr: &Repr<'_>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> std::result::Result<(), TestCaseError> {
        let mut out = vec![0; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]), src, dst, &SW);
        let back = Repr::parse(&Packet::new_checked(&out[..]).unwrap(), src, dst, &SW);
        let back = back.map_err(|e| TestCaseError::fail(format!("{e:?} for {repr:?}")))?;
        // Parsed options and records are bytes; compare what they say.
        match (repr, &back) {
            (
                Repr::NeighborSolicit { options: a, .. },
                Repr::NeighborSolicit { options: b, .. },
            )
            | (Repr::NeighborAdvert { options: a, .. }, Repr::NeighborAdvert { options: b, .. })
            | (Repr::RouterAdvert { options: a, .. }, Repr::RouterAdvert { options: b, .. }) => {
                prop_assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
            }
            (Repr::Mldv2Report { records: a }, Repr::Mldv2Report { records: b }) => {
                prop_assert_eq!(a.groups().collect::<Vec<_>>(), b.groups().collect::<Vec<_>>());
            }
            _ => prop_assert_eq!(&back, repr),
        }
        let mut again = vec![0; back.buffer_len()];
        back.emit(&mut Packet::new_unchecked(&mut again[..]), src, dst, &SW);
        prop_assert_eq!(again, out);
        Ok(())
    }

    proptest! {
        #[test]
        fn echo_round_trips(src in any_addr(), dst in any_addr(), ident in any::<u16>(), seq in any::<u16>(),
                            data in proptest::collection::vec(any::<u8>(), 0..64), reply in any::<bool>()) {
            let repr = if reply {
                Repr::EchoReply { ident, seq_no: seq, data: &data }
            } else {
                Repr::EchoRequest { ident, seq_no: seq, data: &data }
            };
            round_trip(&repr, src, dst)?;
        }

        #[test]
        fn neighbour_discovery_round_trips(src in any_addr(), dst in any_addr(), target in unicast(),
                                           flags in any::<[bool; 3]>(), options in proptest::collection::vec(option(), 0..4),
                                           ra in (any::<u8>(), any::<u16>(), any::<u32>(), any::<u32>())) {
            round_trip(&Repr::neighbor_solicit(target, &options), src, dst)?;
            round_trip(&Repr::neighbor_advert(flags[0], flags[1], flags[2], target, &options), src, dst)?;
            let advert = Repr::RouterAdvert {
                hop_limit: ra.0,
                managed: flags[0],
                other: flags[1],
                router_lifetime: ra.1,
                reachable_time: ra.2,
                retrans_timer: ra.3,
                options: NdpOptions::List(&options),
            };
            round_trip(&advert, src, dst)?;
        }

        #[test]
        fn mldv2_reports_round_trip(src in any_addr(), groups in proptest::collection::vec((1u8..7, any_addr()), 0..5)) {
            let records: Vec<MldRecord<'_>> = groups
                .iter()
                .map(|&(kind, address)| MldRecord { kind: RecordType::from(kind), address, sources: &[] })
                .collect();
            round_trip(&Repr::mldv2_report(&records), src, ipv6::ALL_MLDV2_ROUTERS)?;
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160), src in any_addr(), dst in any_addr()) {
            let unverified = Checksums { icmpv6: Checksum::None, ..SW };
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                if let Ok(repr) = Repr::parse(&packet, src, dst, &unverified) {
                    if let Repr::NeighborSolicit { options, .. } | Repr::NeighborAdvert { options, .. }
                        | Repr::RouterSolicit { options } | Repr::RouterAdvert { options, .. }
                        | Repr::Redirect { options, .. } = repr
                    {
                        let _ = options.iter().count();
                    }
                    if let Repr::Mldv2Report { records } = repr {
                        prop_assert_eq!(records.groups().count(), records.len());
                    }
                    let _ = repr.to_string();
                    let mut out = vec![0; repr.buffer_len()];
                    repr.emit(&mut Packet::new_unchecked(&mut out[..]), src, dst, &SW);
                }
            }
        }
    }
}
