//! TCP segments (RFC 9293 §3.1) with their options (RFC 7323, RFC 2018).
//!
//! * [`SeqNumber`]: wrapping sequence numbers with wrap-aware comparison.
//! * [`Flags`]: the control bits, printed as tcpdump does.
//! * [`Packet`]: a zero-copy view; [`Packet::options_iter`] walks the raw options as
//!   [`TcpOption`]s.
//! * [`Repr`]: one segment as plain values, its options as [`Options`]; `emit` writes the
//!   options in Linux's layout so that captures look familiar.
//!
//! TCP has no length field: a segment is the whole buffer, so hand the view exactly the IP
//! payload. The checksum covers a pseudo-header built from the IP addresses, given as
//! [`IpAddr`]s of one family.

mod flags;
mod options;
mod seq;

pub use flags::Flags;
pub use options::{
    MAX_OPTIONS_LEN, MAX_WINDOW_SCALE, Options, OptionsIter, SackBlock, SackBlocks, TcpOption,
    Timestamp,
};
pub use seq::{SeqNumber, TsVal};

use super::checksum;
use super::ip::Protocol;
use super::{Checksums, Error, Fields as _, FieldsMut as _, Result};
use core::fmt;
use core::net::IpAddr;

/// The length of the TCP header without options.
pub const HEADER_LEN: usize = 20;

/// The longest TCP header: a data offset of 15 words.
pub const MAX_HEADER_LEN: usize = 60;

mod field {
    use core::ops::Range;

    pub(super) const SRC_PORT: Range<usize> = 0..2;
    pub(super) const DST_PORT: Range<usize> = 2..4;
    pub(super) const SEQ_NUMBER: Range<usize> = 4..8;
    pub(super) const ACK_NUMBER: Range<usize> = 8..12;
    /// Data offset (high 4 bits), 3 reserved bits, then the 9 flag bits.
    pub(super) const OFFSET_FLAGS: Range<usize> = 12..14;
    pub(super) const WINDOW: Range<usize> = 14..16;
    pub(super) const CHECKSUM: Range<usize> = 16..18;
    pub(super) const URGENT: Range<usize> = 18..20;
    pub(super) const OPTIONS_START: usize = 20;
}

/// A zero-copy view of a TCP segment: the header, its options, then the payload up to the
/// end of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; getters may panic if it is too short.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len) has accepted it.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that no getter can panic: the buffer holds the fixed header and the header
    /// length the data offset gives.
    ///
    /// [`Error::Truncated`] if the buffer is shorter than either; [`Error::BadLength`] if
    /// the data offset is below 5 words.
    pub fn check_len(&self) -> Result<()> {
        let buffer_len = self.buffer.as_ref().len();
        if buffer_len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            Err(Error::BadLength)
        } else if header_len > buffer_len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source port.
    pub fn src_port(&self) -> u16 {
        self.buffer.read_u16(field::SRC_PORT)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        self.buffer.read_u16(field::DST_PORT)
    }

    /// The sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.buffer.read_u32(field::SEQ_NUMBER))
    }

    /// The acknowledgment number field, meaningful only with [`Flags::ACK`].
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.buffer.read_u32(field::ACK_NUMBER))
    }

    /// The header length in bytes, options included: the data offset times 4 (0 to 60).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.read_u16(field::OFFSET_FLAGS) >> 12) * 4
    }

    /// The control bits (the reserved bits are not included).
    pub fn flags(&self) -> Flags {
        Flags::from_bits_truncate(self.buffer.read_u16(field::OFFSET_FLAGS))
    }

    /// The window field, as sent (not scaled).
    pub fn window_len(&self) -> u16 {
        self.buffer.read_u16(field::WINDOW)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.buffer.read_u16(field::CHECKSUM)
    }

    /// The urgent pointer field, meaningful only with [`Flags::URG`].
    pub fn urgent_at(&self) -> u16 {
        self.buffer.read_u16(field::URGENT)
    }

    /// The raw options area: the bytes between the fixed header and the payload (empty if
    /// the data offset is out of range).
    pub fn options(&self) -> &[u8] {
        let header_len = self.header_len();
        self.buffer.as_ref().get(field::OPTIONS_START..header_len).unwrap_or(&[])
    }

    /// Walks the options area option by option.
    pub fn options_iter(&self) -> OptionsIter<'_> {
        OptionsIter::new(self.options())
    }

    /// The payload: everything after the header (empty if the data offset runs past the
    /// buffer).
    pub fn payload(&self) -> &[u8] {
        let header_len = self.header_len();
        self.buffer.as_ref().get(header_len..).unwrap_or(&[])
    }

    /// The number of sequence numbers the segment takes: payload bytes, plus one each for
    /// SYN and FIN.
    pub fn segment_len(&self) -> usize {
        let flags = self.flags();
        self.payload().len()
            + usize::from(flags.contains(Flags::SYN))
            + usize::from(flags.contains(Flags::FIN))
    }

    /// Whether the checksum is right for a segment from `src` to `dst`, taking the whole
    /// buffer as the segment. Addresses of different families, or a segment too long for
    /// the IPv4 pseudo-header, make it wrong.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let data = self.buffer.as_ref();
        match checksum::pseudo_header(src, dst, u8::from(Protocol::Tcp), data.len()) {
            Ok(pseudo) => checksum::combine(&[pseudo, checksum::sum(data)]) == 0xffff,
            Err(_) => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        self.buffer.write_u16(field::SRC_PORT, port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        self.buffer.write_u16(field::DST_PORT, port);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: SeqNumber) {
        self.buffer.write_u32(field::SEQ_NUMBER, seq.0);
    }

    /// Sets the acknowledgment number field.
    pub fn set_ack_number(&mut self, ack: SeqNumber) {
        self.buffer.write_u32(field::ACK_NUMBER, ack.0);
    }

    /// Sets the data offset from a header length in bytes, a multiple of 4 from 20 to 60
    /// (other values are rounded down to a multiple of 4 and taken modulo 64). The flags are
    /// kept.
    pub fn set_header_len(&mut self, header_len: usize) {
        let raw = self.buffer.read_u16(field::OFFSET_FLAGS);
        let offset = ((header_len / 4) & 0xf) as u16;
        self.buffer.write_u16(field::OFFSET_FLAGS, (raw & 0x0fff) | (offset << 12));
    }

    /// Sets the control bits and clears the reserved bits; the data offset is kept.
    pub fn set_flags(&mut self, flags: Flags) {
        let raw = self.buffer.read_u16(field::OFFSET_FLAGS);
        self.buffer.write_u16(field::OFFSET_FLAGS, (raw & 0xf000) | flags.bits());
    }

    /// Sets the window field.
    pub fn set_window_len(&mut self, window: u16) {
        self.buffer.write_u16(field::WINDOW, window);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.write_u16(field::CHECKSUM, checksum);
    }

    /// Sets the urgent pointer field.
    pub fn set_urgent_at(&mut self, urgent: u16) {
        self.buffer.write_u16(field::URGENT, urgent);
    }

    /// The raw options area, mutably.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        self.buffer.as_mut().get_mut(field::OPTIONS_START..header_len).unwrap_or(&mut [])
    }

    /// The payload, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        self.buffer.as_mut().get_mut(header_len..).unwrap_or(&mut [])
    }

    /// Computes the checksum for a segment from `src` to `dst` over the whole buffer and
    /// writes it.
    ///
    /// [`Error::Malformed`] if the addresses are of different families, [`Error::BadLength`]
    /// if the segment is too long for the pseudo-header's length field; the checksum field
    /// is left as it was.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<()> {
        let len = self.buffer.as_ref().len();
        let pseudo = checksum::pseudo_header(src, dst, u8::from(Protocol::Tcp), len)?;
        self.set_checksum(0);
        let sum = checksum::finish(&[pseudo, checksum::sum(self.buffer.as_ref())]);
        self.set_checksum(sum);
        Ok(())
    }
}

/// One TCP segment as plain values.
///
/// The ACK flag is not in `flags`: it is `ack_number.is_some()`. Build one from
/// [`Repr::TEMPLATE`] with struct update syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// The source port.
    pub src_port: u16,
    /// The destination port.
    pub dst_port: u16,
    /// The sequence number.
    pub seq_number: SeqNumber,
    /// The acknowledgment number: `Some` exactly when the ACK flag is set.
    pub ack_number: Option<SeqNumber>,
    /// The control bits other than ACK.
    pub flags: Flags,
    /// The window field, raw: not scaled.
    pub window_len: u16,
    /// The urgent pointer field, as sent whether or not URG is set.
    pub urgent_pointer: u16,
    /// The options.
    pub options: Options,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// A segment with every field zero or empty, to fill in with struct update syntax:
    /// `Repr { flags: Flags::SYN, ..Repr::TEMPLATE }`.
    pub const TEMPLATE: Self = Self {
        src_port: 0,
        dst_port: 0,
        seq_number: SeqNumber(0),
        ack_number: None,
        flags: Flags::EMPTY,
        window_len: 0,
        urgent_pointer: 0,
        options: Options::NONE,
        payload: &[],
    };

    /// Parses a segment from `src` to `dst`, verifying its checksum if `checksums.tcp` says
    /// software must. The payload borrows from the packet's buffer.
    ///
    /// Errors: those of [`Packet::check_len`]; [`Error::Malformed`] if `src` and `dst` are
    /// of different families; [`Error::BadChecksum`]; and those of [`Options::parse`]
    /// ([`Error::BadLength`] for an option length below 2 or past the options area,
    /// [`Error::Malformed`] for a known option with the wrong length).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: IpAddr,
        dst: IpAddr,
        checksums: &Checksums,
    ) -> Result<Self> {
        packet.check_len()?;
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::Malformed);
        }
        if checksums.tcp.verify() && !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        let buffer: &'a T = packet.buffer;
        let data: &'a [u8] = buffer.as_ref();
        let header_len = packet.header_len();
        let options = Options::parse(data.get(field::OPTIONS_START..header_len).unwrap_or(&[]))?;
        let payload = data.get(header_len..).unwrap_or(&[]);
        let flags = packet.flags();
        Ok(Self {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: flags.contains(Flags::ACK).then(|| packet.ack_number()),
            flags: flags.difference(Flags::ACK),
            window_len: packet.window_len(),
            urgent_pointer: packet.urgent_at(),
            options,
            payload,
        })
    }

    /// The header length [`emit`](Self::emit) writes: 20 plus the options in Linux's layout,
    /// a multiple of 4 and at most 60. SACK blocks that do not fit are not counted (see
    /// [`Options::buffer_len`]).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.buffer_len()
    }

    /// The number of bytes [`emit`](Self::emit) writes: header and payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// The number of sequence numbers the segment takes: payload bytes, plus one each for
    /// SYN and FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(Flags::SYN))
            + usize::from(self.flags.contains(Flags::FIN))
    }

    /// Writes the segment into the first [`buffer_len`](Self::buffer_len) bytes of the
    /// buffer and computes the checksum over them if `checksums.tcp` says software must
    /// (otherwise it is left 0 for the device to fill).
    ///
    /// ACK is set exactly when `ack_number` is `Some` (an ACK in `flags` is ignored);
    /// reserved bits are zero. Options are written in Linux's layout; SACK blocks beyond
    /// [`Options::sack_capacity`] are dropped, which [`header_len`](Self::header_len)
    /// already reflects. A window scale above 14 is written as given.
    ///
    /// Errors, all reported before anything is written: [`Error::Malformed`] if `src` and
    /// `dst` are of different families, [`Error::BadLength`] if the segment is too long for
    /// the pseudo-header's length field, [`Error::Truncated`] if the buffer is too short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        src: IpAddr,
        dst: IpAddr,
        checksums: &Checksums,
    ) -> Result<()> {
        let len = self.buffer_len();
        // Check the addresses and the length before touching the buffer.
        checksum::pseudo_header(src, dst, u8::from(Protocol::Tcp), len)?;
        let Some(segment) = packet.buffer.as_mut().get_mut(..len) else {
            return Err(Error::Truncated);
        };
        let mut segment = Packet::new_unchecked(segment);
        segment.set_src_port(self.src_port);
        segment.set_dst_port(self.dst_port);
        segment.set_seq_number(self.seq_number);
        segment.set_ack_number(self.ack_number.unwrap_or_default());
        segment.set_header_len(self.header_len());
        let mut flags = self.flags.difference(Flags::ACK);
        flags.set(Flags::ACK, self.ack_number.is_some());
        segment.set_flags(flags);
        segment.set_window_len(self.window_len);
        segment.set_checksum(0);
        segment.set_urgent_at(self.urgent_pointer);
        self.options.emit(segment.options_mut());
        segment.payload_mut().copy_from_slice(self.payload);
        if checksums.tcp.compute() {
            segment.fill_checksum(src, dst)?;
        }
        Ok(())
    }

    /// All the control bits, ACK included.
    pub fn all_flags(&self) -> Flags {
        let mut flags = self.flags;
        flags.set(Flags::ACK, self.ack_number.is_some());
        flags
    }
}

/// Like a tcpdump line: `46052 > 80: Flags [S.], seq 1, ack 2, win 64240, options [mss
/// 1460], length 0`.
impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {}: Flags {}, seq {}",
            self.src_port,
            self.dst_port,
            self.all_flags(),
            self.seq_number
        )?;
        if let Some(ack) = self.ack_number {
            write!(f, ", ack {ack}")?;
        }
        write!(f, ", win {}", self.window_len)?;
        if self.flags.contains(Flags::URG) {
            write!(f, ", urg {}", self.urgent_pointer)?;
        }
        if self.options != Options::NONE {
            write!(f, ", options [{}]", self.options)?;
        }
        write!(f, ", length {}", self.payload.len())
    }
}

#[cfg(test)]
mod tests;
