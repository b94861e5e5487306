//! IPv4 headers (RFC 791).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |0|D|M|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options (IHL > 5)                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The DSCP and ECN fields are RFC 2474 and RFC 3168's split of the old type-of-service byte.

use super::checksum;
use super::ip::Protocol;
use super::{Checksums, Error, Fields as _, FieldsMut as _, Ipv4Addr, Result};
use core::fmt;

/// The length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// The longest IPv4 header: IHL 15, 60 bytes.
pub const MAX_HEADER_LEN: usize = 60;

mod field {
    use core::ops::Range;

    pub(super) const VER_IHL: usize = 0;
    pub(super) const DSCP_ECN: usize = 1;
    pub(super) const LENGTH: Range<usize> = 2..4;
    pub(super) const IDENT: Range<usize> = 4..6;
    pub(super) const FLG_OFF: Range<usize> = 6..8;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: Range<usize> = 10..12;
    pub(super) const SRC_ADDR: Range<usize> = 12..16;
    pub(super) const DST_ADDR: Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A zero-copy view of an IPv4 packet.
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

    /// Checks the lengths: the buffer holds 20 bytes, the header length is at least 20 and
    /// fits the buffer, and the total length covers the header and fits the buffer. Bytes
    /// past the total length (Ethernet padding) are allowed. The version is not checked.
    pub fn check_len(&self) -> Result<()> {
        check_header_len(self.buffer.as_ref())?;
        if usize::from(self.total_len()) > self.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_addr(&self, range: core::ops::Range<usize>) -> Ipv4Addr {
        let mut octets = [0u8; 4];
        octets.copy_from_slice(&self.buffer.as_ref()[range]);
        Ipv4Addr::from(octets)
    }

    /// The version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes, options included (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The differentiated services code point (RFC 2474), 6 bits.
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// The explicit congestion notification codepoint (RFC 3168), 2 bits.
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// The total length of the datagram in bytes, header included.
    pub fn total_len(&self) -> u16 {
        self.buffer.read_u16(field::LENGTH)
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        self.buffer.read_u16(field::IDENT)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.buffer.read_u16(field::FLG_OFF) & FLAG_DF != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.buffer.read_u16(field::FLG_OFF) & FLAG_MF != 0
    }

    /// The fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.buffer.read_u16(field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// The time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        self.buffer.read_u16(field::CHECKSUM)
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        self.read_addr(field::SRC_ADDR)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.read_addr(field::DST_ADDR)
    }

    /// The raw option bytes, between the fixed header and the payload (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Whether the header checksum is right: the one's complement sum of the whole header,
    /// options included, is all ones.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload: the bytes after the header up to the total length, so padding a link
    /// layer added is not part of it.
    pub fn payload(&self) -> &'a [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &self.buffer.as_ref()[range]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn update_flg_off(&mut self, mask: u16, value: u16) {
        let old = self.buffer.read_u16(field::FLG_OFF);
        self.buffer.write_u16(field::FLG_OFF, (old & !mask) | (value & mask));
    }

    /// Sets the version field (low 4 bits of `value`).
    pub fn set_version(&mut self, value: u8) {
        let byte = &mut self.buffer.as_mut()[field::VER_IHL];
        *byte = (*byte & 0x0f) | (value << 4);
    }

    /// Sets the header length in bytes; it is stored in 4-byte units, rounded down.
    pub fn set_header_len(&mut self, len: usize) {
        let ihl = u8::try_from(len / 4).unwrap_or(0x0f).min(0x0f);
        let byte = &mut self.buffer.as_mut()[field::VER_IHL];
        *byte = (*byte & 0xf0) | ihl;
    }

    /// Sets the differentiated services code point (low 6 bits of `value`).
    pub fn set_dscp(&mut self, value: u8) {
        let byte = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *byte = (*byte & 0x03) | (value << 2);
    }

    /// Sets the ECN codepoint (low 2 bits of `value`).
    pub fn set_ecn(&mut self, value: u8) {
        let byte = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *byte = (*byte & 0xfc) | (value & 0x03);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, value: u16) {
        self.buffer.write_u16(field::LENGTH, value);
    }

    /// Sets the identification field.
    pub fn set_ident(&mut self, value: u16) {
        self.buffer.write_u16(field::IDENT, value);
    }

    /// Sets the don't-fragment flag.
    pub fn set_dont_frag(&mut self, value: bool) {
        self.update_flg_off(FLAG_DF, if value { FLAG_DF } else { 0 });
    }

    /// Sets the more-fragments flag.
    pub fn set_more_frags(&mut self, value: bool) {
        self.update_flg_off(FLAG_MF, if value { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset in bytes; it is stored in 8-byte units, rounded down.
    pub fn set_frag_offset(&mut self, value: u16) {
        self.update_flg_off(OFFSET_MASK, value >> 3);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, value: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = value.into();
    }

    /// Sets the header checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.write_u16(field::CHECKSUM, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Computes the header checksum over the header (options included) and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let sum = checksum::sum(&self.buffer.as_ref()[..header_len]);
        self.set_checksum(!sum);
    }

    /// The raw option bytes, mutably.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..header_len]
    }

    /// The payload, mutably: after the header, up to the total length.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The checks every IPv4 header gets, whole or quoted: 20 bytes present, version 4 is not
/// checked here, IHL at least 5 and within `data`.
fn check_header_len(data: &[u8]) -> Result<()> {
    let Some(&ver_ihl) = data.first() else { return Err(Error::Truncated) };
    if data.len() < HEADER_LEN {
        return Err(Error::Truncated);
    }
    let header_len = usize::from(ver_ihl & 0x0f) * 4;
    if header_len < HEADER_LEN {
        return Err(Error::BadLength);
    }
    if header_len > data.len() {
        return Err(Error::Truncated);
    }
    let total_len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    if total_len < header_len {
        return Err(Error::BadLength);
    }
    Ok(())
}

/// An IPv4 header as plain values. Options are not represented: `parse` skips them and
/// `emit` writes none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// The source address.
    pub src_addr: Ipv4Addr,
    /// The destination address.
    pub dst_addr: Ipv4Addr,
    /// The protocol of the payload.
    pub protocol: Protocol,
    /// The payload length in bytes: total length minus header length.
    pub payload_len: usize,
    /// The time to live.
    pub ttl: u8,
    /// The old type-of-service byte: `dscp << 2 | ecn`.
    pub tos: u8,
    /// The identification field.
    pub ident: u16,
    /// The don't-fragment flag.
    pub dont_frag: bool,
    /// The more-fragments flag.
    pub more_frags: bool,
    /// The fragment offset in bytes, a multiple of 8.
    pub frag_offset: u16,
}

impl Repr {
    /// Reads a header: version 4 ([`Error::Malformed`] otherwise), the lengths as
    /// [`Packet::check_len`] does, and the checksum when `checksums.ipv4` says software
    /// verifies it ([`Error::BadChecksum`]). Options are skipped.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
        checksums: &Checksums,
    ) -> Result<Self> {
        let data = packet.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if packet.version() != 4 {
            return Err(Error::Malformed);
        }
        packet.check_len()?;
        if checksums.ipv4.verify() && !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        Ok(Self::read(packet))
    }

    /// Reads the IPv4 header quoted in an ICMP error, where the original datagram is cut
    /// short: the header must be whole, but the total length may run past `data`. Returns
    /// the header (its `payload_len` is the original datagram's) and the payload bytes that
    /// were quoted, at most the total length's worth.
    ///
    /// The quoted header's checksum is not verified: the ICMP checksum covers the quote, and
    /// Linux and the BSDs do not check it either.
    pub fn parse_quoted(data: &[u8]) -> Result<(Self, &[u8])> {
        check_header_len(data)?;
        let packet = Packet::new_unchecked(data);
        if packet.version() != 4 {
            return Err(Error::Malformed);
        }
        let end = usize::from(packet.total_len()).min(data.len());
        let payload = data.get(packet.header_len()..end).unwrap_or_default();
        Ok((Self::read(&packet), payload))
    }

    /// Turns a header whose lengths have been checked into values.
    fn read<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Self {
        Self {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()).saturating_sub(packet.header_len()),
            ttl: packet.ttl(),
            tos: packet.dscp() << 2 | packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        }
    }

    /// The length of the header `emit` writes: 20 bytes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The length of the whole datagram: header and payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes a 20-byte header (no options) with the checksum when `checksums.ipv4` says
    /// software computes it, and zero otherwise. The payload is left alone. A `payload_len`
    /// above 65515 does not fit the total length field, which is then clamped to 65535; a
    /// `frag_offset` that is not a multiple of 8 is rounded down.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        checksums: &Checksums,
    ) {
        let total_len = u16::try_from(self.buffer_len()).unwrap_or(u16::MAX);
        let mut flg_off = (self.frag_offset >> 3) & OFFSET_MASK;
        if self.dont_frag {
            flg_off |= FLAG_DF;
        }
        if self.more_frags {
            flg_off |= FLAG_MF;
        }
        let data = packet.buffer.as_mut();
        data[field::VER_IHL] = 0x45;
        data[field::DSCP_ECN] = self.tos;
        packet.set_total_len(total_len);
        packet.set_ident(self.ident);
        packet.buffer.write_u16(field::FLG_OFF, flg_off);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        if checksums.ipv4.compute() {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 {} > {} {} ttl {} len {}",
            self.src_addr, self.dst_addr, self.protocol, self.ttl, self.payload_len
        )?;
        if self.more_frags || self.frag_offset != 0 {
            write!(f, " frag {}{}", self.frag_offset, if self.more_frags { "+" } else { "" })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Checksum;
    use proptest::prelude::*;

    /// An ICMP echo request as Linux `ping` sends it (DF set, TTL 64, ident 0x1c46): the
    /// IPv4 header of an 84-byte datagram from 192.0.2.2 to 192.0.2.1 (the tests follow it
    /// with 64 filler bytes). Composed by hand; the checksum 0x9a5f was computed with an
    /// independent Python RFC 1071 sum.
    const ECHO_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x9a, 0x5f, 0xc0, 0x00, 0x02,
        0x02, 0xc0, 0x00, 0x02, 0x01,
    ];

    /// An IGMPv3 membership report header as Linux sends it: IHL 6 with a Router Alert
    /// option (RFC 2113: 94 04 00 00), DSCP CS6 (0xc0), TTL 1, to 224.0.0.22, followed by an
    /// 8-byte IGMPv3 report with no group records. Composed by hand; the checksums (0x41ff,
    /// and 0xddff for IGMP) were computed with an independent Python RFC 1071 sum.
    const WITH_OPTIONS: [u8; 32] = [
        0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x41, 0xff, 0xc0, 0x00, 0x02,
        0x02, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00, //
        0x22, 0x00, 0xdd, 0xff, 0x00, 0x00, 0x00, 0x00,
    ];

    fn echo_repr() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(192, 0, 2, 2),
            dst_addr: Ipv4Addr::new(192, 0, 2, 1),
            protocol: Protocol::Icmp,
            payload_len: 64,
            ttl: 64,
            tos: 0,
            ident: 0x1c46,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    fn echo_datagram() -> Vec<u8> {
        let mut bytes = ECHO_HEADER.to_vec();
        bytes.extend((0..64).map(|i| i as u8));
        bytes
    }

    #[test]
    fn deconstruct() {
        let bytes = echo_datagram();
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.dscp(), 0);
        assert_eq!(packet.ecn(), 0);
        assert_eq!(packet.total_len(), 84);
        assert_eq!(packet.ident(), 0x1c46);
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert_eq!(packet.frag_offset(), 0);
        assert_eq!(packet.ttl(), 64);
        assert_eq!(packet.protocol(), Protocol::Icmp);
        assert_eq!(packet.checksum(), 0x9a5f);
        assert_eq!(packet.src_addr(), Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(packet.dst_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(packet.options(), &[] as &[u8]);
        assert!(packet.verify_checksum());
        assert_eq!(packet.payload(), &bytes[20..]);
        assert_eq!(Repr::parse(&packet, &Checksums::SOFTWARE), Ok(echo_repr()));
    }

    #[test]
    fn deconstruct_with_options() {
        let packet = Packet::new_checked(&WITH_OPTIONS[..]).unwrap();
        assert_eq!(packet.header_len(), 24);
        assert_eq!(packet.dscp(), 48);
        assert_eq!(packet.ecn(), 0);
        assert_eq!(packet.ttl(), 1);
        assert_eq!(packet.protocol(), Protocol::Unknown(2));
        assert_eq!(packet.dst_addr(), Ipv4Addr::new(224, 0, 0, 22));
        assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert!(packet.verify_checksum());
        assert_eq!(packet.payload(), &WITH_OPTIONS[24..]);
        let repr = Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
        assert_eq!(repr.payload_len, 8);
        assert_eq!(repr.tos, 0xc0);
        // The option bytes are covered by the checksum.
        let mut bytes = WITH_OPTIONS;
        bytes[21] = 0x05;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(!packet.verify_checksum());
    }

    #[test]
    fn construct() {
        let mut bytes = vec![0xa5u8; 84];
        let repr = echo_repr();
        assert_eq!(repr.buffer_len(), 84);
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        repr.emit(&mut packet, &Checksums::SOFTWARE);
        for (i, byte) in packet.payload_mut().iter_mut().enumerate() {
            *byte = i as u8;
        }
        assert_eq!(bytes, echo_datagram());
    }

    #[test]
    fn construct_without_checksum() {
        let mut bytes = [0xa5u8; 20];
        let offload = Checksums { ipv4: Checksum::Rx, ..Checksums::SOFTWARE };
        Repr { payload_len: 0, ..echo_repr() }
            .emit(&mut Packet::new_unchecked(&mut bytes[..]), &offload);
        assert_eq!(&bytes[10..12], &[0, 0]);
    }

    #[test]
    fn padding_is_not_payload() {
        // A 46-byte Ethernet minimum payload around a 28-byte datagram.
        let mut bytes = [0u8; 46];
        let repr = Repr { payload_len: 8, ..echo_repr() };
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload().len(), 8);
        assert_eq!(Repr::parse(&packet, &Checksums::SOFTWARE), Ok(repr));
    }

    #[test]
    fn setters() {
        let mut bytes = [0u8; 24];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(4);
        packet.set_header_len(24);
        packet.set_dscp(46);
        packet.set_ecn(2);
        packet.set_total_len(24);
        packet.set_frag_offset(8 * 8191);
        packet.set_more_frags(true);
        packet.set_dont_frag(true);
        packet.set_dont_frag(false);
        packet.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        packet.fill_checksum();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 24);
        assert_eq!((packet.dscp(), packet.ecn()), (46, 2));
        assert_eq!(packet.frag_offset(), 65528);
        assert!(packet.more_frags() && !packet.dont_frag());
        assert!(packet.verify_checksum());
        assert_eq!(&bytes[..8], &[0x46, 0xba, 0x00, 0x18, 0x00, 0x00, 0x3f, 0xff]);
    }

    #[test]
    fn truncated() {
        let bytes = echo_datagram();
        for len in 0..bytes.len() {
            let err = Packet::new_checked(&bytes[..len]).unwrap_err();
            assert_eq!(err, Error::Truncated, "{len}");
            let err = Repr::parse(&Packet::new_unchecked(&bytes[..len]), &Checksums::SOFTWARE);
            assert_eq!(err, Err(Error::Truncated), "{len}");
        }
        for len in 0..WITH_OPTIONS.len() {
            assert_eq!(Packet::new_checked(&WITH_OPTIONS[..len]), Err(Error::Truncated));
        }
    }

    /// The echo datagram with one header byte replaced and the checksum of the fixed header
    /// fixed up, whatever the IHL now says.
    fn lying(at: usize, value: u8) -> Vec<u8> {
        let mut bytes = echo_datagram();
        bytes[at] = value;
        bytes[10..12].fill(0);
        let sum = !checksum::sum(&bytes[..20]);
        bytes[10..12].copy_from_slice(&sum.to_be_bytes());
        bytes
    }

    #[test]
    fn lying_lengths() {
        let parse = |bytes: &[u8]| Repr::parse(&Packet::new_unchecked(bytes), &Checksums::SOFTWARE);
        // IHL 4: a header shorter than the fixed part.
        let bytes = lying(0, 0x44);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::BadLength));
        assert_eq!(parse(&bytes), Err(Error::BadLength));
        // IHL 15 on a 40-byte buffer: the header runs past the buffer.
        let bytes = lying(0, 0x4f);
        assert_eq!(Packet::new_checked(&bytes[..40]), Err(Error::Truncated));
        assert_eq!(parse(&bytes[..40]), Err(Error::Truncated));
        // Total length 19, below the header length.
        let bytes = lying(3, 19);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::BadLength));
        assert_eq!(parse(&bytes), Err(Error::BadLength));
        // Total length 85 in an 84-byte buffer.
        let bytes = lying(3, 85);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Truncated));
        assert_eq!(parse(&bytes), Err(Error::Truncated));
    }

    #[test]
    fn bad_version() {
        for version in [0x05u8, 0x06, 0x00, 0x0f] {
            let bytes = lying(0, version << 4 | 5);
            assert!(Packet::new_checked(&bytes[..]).is_ok());
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE),
                Err(Error::Malformed)
            );
        }
    }

    #[test]
    fn bad_checksum() {
        let mut bytes = echo_datagram();
        bytes[8] = 63; // TTL decremented without fixing the checksum
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(!packet.verify_checksum());
        assert_eq!(Repr::parse(&packet, &Checksums::SOFTWARE), Err(Error::BadChecksum));
        // A device that verified it in hardware: software does not look.
        let offload = Checksums { ipv4: Checksum::Tx, ..Checksums::SOFTWARE };
        assert_eq!(Repr::parse(&packet, &offload).map(|r| r.ttl), Ok(63));
    }

    #[test]
    fn quoted() {
        let bytes = echo_datagram();
        // The header and 8 bytes of the 64-byte payload, as RFC 792 quotes it.
        let (repr, payload) = Repr::parse_quoted(&bytes[..28]).unwrap();
        assert_eq!(repr, echo_repr());
        assert_eq!(payload, &bytes[20..28]);
        // Everything quoted, plus trailing bytes past the total length: cut at total length.
        let mut long = bytes.clone();
        long.extend_from_slice(&[0; 12]);
        assert_eq!(Repr::parse_quoted(&long).unwrap().1, &bytes[20..]);
        // With options: skipped by the header length.
        let (repr, payload) = Repr::parse_quoted(&WITH_OPTIONS[..26]).unwrap();
        assert_eq!((repr.payload_len, payload), (8, &WITH_OPTIONS[24..26]));
        // The header itself must be whole and sane.
        assert_eq!(Repr::parse_quoted(&bytes[..19]), Err(Error::Truncated));
        assert_eq!(Repr::parse_quoted(&WITH_OPTIONS[..23]), Err(Error::Truncated));
        assert_eq!(Repr::parse_quoted(&lying(0, 0x44)), Err(Error::BadLength));
        assert_eq!(Repr::parse_quoted(&lying(3, 19)), Err(Error::BadLength));
        assert_eq!(Repr::parse_quoted(&lying(0, 0x65)), Err(Error::Malformed));
    }

    fn repr() -> impl Strategy<Value = Repr> {
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            0usize..=(0xffff - HEADER_LEN),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<(bool, bool)>(),
            0u16..=OFFSET_MASK,
        )
            .prop_map(
                |(src, dst, protocol, payload_len, ttl, tos, ident, (df, mf), offset)| Repr {
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

    proptest! {
        #[test]
        fn parse_emit_round_trip(repr in repr()) {
            let mut bytes = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert!(packet.verify_checksum());
            prop_assert_eq!(Repr::parse(&packet, &Checksums::SOFTWARE), Ok(repr));
            let quote = &bytes[..HEADER_LEN + repr.payload_len.min(8)];
            prop_assert_eq!(Repr::parse_quoted(quote).map(|q| q.0), Ok(repr));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..96),
            plausible in any::<bool>(),
            ihl in 0u8..16,
            total in any::<prop::sample::Index>(),
        ) {
            // Random lengths almost never fit the buffer; half the cases get lengths that may.
            if plausible && bytes.len() >= HEADER_LEN {
                bytes[0] = 0x40 | ihl;
                let total = total.index(bytes.len() + 1) as u16;
                bytes[2..4].copy_from_slice(&total.to_be_bytes());
            }
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (packet.version(), packet.dscp(), packet.ecn(), packet.ident());
                let _ = (packet.dont_frag(), packet.more_frags(), packet.frag_offset());
                let _ = (packet.ttl(), packet.protocol(), packet.checksum());
                let _ = (packet.src_addr(), packet.dst_addr());
                let _ = (packet.verify_checksum(), packet.options());
                let total_len = usize::from(packet.total_len());
                prop_assert_eq!(packet.header_len() + packet.payload().len(), total_len);
                let _ = Repr::parse(&packet, &Checksums::SOFTWARE);
                let unverified = Checksums { ipv4: Checksum::None, ..Checksums::SOFTWARE };
                prop_assert_eq!(Repr::parse(&packet, &unverified).is_ok(), packet.version() == 4);
            }
            let _ = Repr::parse(&Packet::new_unchecked(&bytes[..]), &Checksums::SOFTWARE);
            if let Ok((repr, payload)) = Repr::parse_quoted(&bytes) {
                prop_assert!(payload.len() <= repr.payload_len);
            }
        }
    }
}
