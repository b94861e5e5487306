//! UDP datagrams (RFC 768; over IPv6, RFC 8200 §8.1).
//!
//! The checksum covers a pseudo-header built from the IP addresses, so verifying and filling
//! it takes the source and destination as [`IpAddr`]s; both must be of one family. Over IPv4
//! a zero checksum means the sender computed none and is accepted; over IPv6 it is invalid.
//! A computed checksum of zero is sent as `0xffff`, which is the same number in one's
//! complement.

use super::checksum;
use super::ip::Protocol;
use super::{Checksums, Error, Fields as _, FieldsMut as _, Result};
use core::fmt;
use core::net::IpAddr;

/// The length of the UDP header.
pub const HEADER_LEN: usize = 8;

mod field {
    use core::ops::Range;

    pub(super) const SRC_PORT: Range<usize> = 0..2;
    pub(super) const DST_PORT: Range<usize> = 2..4;
    pub(super) const LENGTH: Range<usize> = 4..6;
    pub(super) const CHECKSUM: Range<usize> = 6..8;
}

/// A zero-copy view of a UDP datagram.
///
/// The datagram ends where its length field says; bytes after it in the buffer (link-layer
/// padding, say) are not part of it.
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

    /// Checks that no getter can panic: the buffer holds the header and the length field
    /// covers the header and fits in the buffer.
    ///
    /// [`Error::Truncated`] if the buffer is shorter than the header or than the length
    /// field; [`Error::BadLength`] if the length field is smaller than the header.
    pub fn check_len(&self) -> Result<()> {
        let buffer_len = self.buffer.as_ref().len();
        if buffer_len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            Err(Error::BadLength)
        } else if len > buffer_len {
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

    /// The length field: header plus payload, in bytes.
    #[allow(
        clippy::len_without_is_empty,
        reason = "a header field, never zero in a valid datagram"
    )]
    pub fn len(&self) -> u16 {
        self.buffer.read_u16(field::LENGTH)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.buffer.read_u16(field::CHECKSUM)
    }

    /// The payload: the bytes after the header, up to the length field (and never past the
    /// buffer).
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let end = usize::from(self.len()).min(data.len());
        data.get(HEADER_LEN..end).unwrap_or(&[])
    }

    /// Whether the checksum is right for a datagram from `src` to `dst`.
    ///
    /// A zero checksum over IPv4 ("none computed") counts as right; over IPv6 it is wrong
    /// (RFC 8200 §8.1). Addresses of different families, or a length field running past the
    /// buffer, make it wrong.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4() && dst.is_ipv4();
        }
        let len = usize::from(self.len());
        let Some(datagram) = self.buffer.as_ref().get(..len) else {
            return false;
        };
        match checksum::pseudo_header(src, dst, u8::from(Protocol::Udp), len) {
            Ok(pseudo) => checksum::combine(&[pseudo, checksum::sum(datagram)]) == 0xffff,
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

    /// Sets the length field.
    pub fn set_len(&mut self, len: u16) {
        self.buffer.write_u16(field::LENGTH, len);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.write_u16(field::CHECKSUM, checksum);
    }

    /// The payload, mutably: the bytes after the header, up to the length field.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        let data = self.buffer.as_mut();
        let end = end.min(data.len());
        data.get_mut(HEADER_LEN..end).unwrap_or(&mut [])
    }

    /// Computes the checksum for a datagram from `src` to `dst` over the bytes the length
    /// field covers, and writes it (a zero result is written as `0xffff`).
    ///
    /// [`Error::Malformed`] if the addresses are of different families, [`Error::Truncated`]
    /// if the length field runs past the buffer; the checksum field is left as it was.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<()> {
        let len = usize::from(self.len());
        let pseudo = checksum::pseudo_header(src, dst, u8::from(Protocol::Udp), len)?;
        self.set_checksum(0);
        let Some(datagram) = self.buffer.as_ref().get(..len) else {
            return Err(Error::Truncated);
        };
        let sum = checksum::finish(&[pseudo, checksum::sum(datagram)]);
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
        Ok(())
    }
}

/// A UDP header, parsed. The payload stays in the packet: see [`Packet::payload`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// The source port.
    pub src_port: u16,
    /// The destination port.
    pub dst_port: u16,
}

impl Repr {
    /// Parses a datagram from `src` to `dst`, verifying its checksum if `checksums.udp` says
    /// software must.
    ///
    /// Errors: those of [`Packet::check_len`]; [`Error::Malformed`] if `src` and `dst` are
    /// of different families; [`Error::BadChecksum`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
        src: IpAddr,
        dst: IpAddr,
        checksums: &Checksums,
    ) -> Result<Self> {
        packet.check_len()?;
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::Malformed);
        }
        if checksums.udp.verify() && !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        Ok(Self { src_port: packet.src_port(), dst_port: packet.dst_port() })
    }

    /// The number of bytes [`emit`](Self::emit) writes for a payload of `payload_len` bytes.
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// Writes the header, lets `emit_payload` fill the `payload_len` payload bytes, then
    /// computes the checksum if `checksums.udp` says software must (otherwise it is left 0
    /// for the device to fill).
    ///
    /// The datagram takes the first [`buffer_len`](Self::buffer_len) bytes of the buffer.
    /// Errors, all reported before anything is written: [`Error::Malformed`] if `src` and
    /// `dst` are of different families, [`Error::BadLength`] if the datagram is too long for
    /// the 16-bit length field, [`Error::Truncated`] if the buffer is too short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        src: IpAddr,
        dst: IpAddr,
        payload_len: usize,
        emit_payload: impl FnOnce(&mut [u8]),
        checksums: &Checksums,
    ) -> Result<()> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::Malformed);
        }
        let len = self.buffer_len(payload_len);
        let len_field = u16::try_from(len).map_err(|_| Error::BadLength)?;
        let Some(datagram) = packet.buffer.as_mut().get_mut(..len) else {
            return Err(Error::Truncated);
        };
        let mut datagram = Packet::new_unchecked(datagram);
        datagram.set_src_port(self.src_port);
        datagram.set_dst_port(self.dst_port);
        datagram.set_len(len_field);
        datagram.set_checksum(0);
        emit_payload(datagram.payload_mut());
        if checksums.udp.compute() {
            datagram.fill_checksum(src, dst)?;
        }
        Ok(())
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UDP {} > {}", self.src_port, self.dst_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 53));
    const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    const DST6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53));

    /// A DNS query for `example.com A` from 192.0.2.1:41234 to 198.51.100.53:53, as a
    /// resolver sends it. Composed by hand; the checksum (0x8859) was computed independently
    /// with a plain RFC 1071 loop in Python over the pseudo-header and datagram.
    const DNS_QUERY: [u8; 37] = [
        0xa1, 0x12, 0x00, 0x35, 0x00, 0x25, 0x88, 0x59, 0x1a, 0x2b, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63,
        0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    /// The same query between 2001:db8::1 and 2001:db8::53; checksum 0x18fe, computed the
    /// same way with the IPv6 pseudo-header.
    const DNS_QUERY_V6_CHECKSUM: u16 = 0x18fe;

    fn dns_payload() -> &'static [u8] {
        &DNS_QUERY[8..]
    }

    #[test]
    fn deconstruct_dns_query() {
        let packet = Packet::new_checked(&DNS_QUERY[..]).unwrap();
        assert_eq!(packet.src_port(), 41234);
        assert_eq!(packet.dst_port(), 53);
        assert_eq!(packet.len(), 37);
        assert_eq!(packet.checksum(), 0x8859);
        assert_eq!(packet.payload(), dns_payload());
        assert_eq!(&packet.payload()[12..25], b"\x07example\x03com\x00");
        assert!(packet.verify_checksum(SRC, DST));
        assert!(!packet.verify_checksum(DST, SRC6));
        let repr = Repr::parse(&packet, SRC, DST, &Checksums::SOFTWARE).unwrap();
        assert_eq!(repr, Repr { src_port: 41234, dst_port: 53 });
    }

    #[test]
    fn construct_dns_query() {
        let repr = Repr { src_port: 41234, dst_port: 53 };
        let mut bytes = vec![0xa5; repr.buffer_len(dns_payload().len())];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        repr.emit(
            &mut packet,
            SRC,
            DST,
            dns_payload().len(),
            |p| p.copy_from_slice(dns_payload()),
            &Checksums::SOFTWARE,
        )
        .unwrap();
        assert_eq!(bytes, DNS_QUERY);
    }

    #[test]
    fn ipv6_checksum() {
        let repr = Repr { src_port: 41234, dst_port: 53 };
        let mut bytes = [0; 37];
        repr.emit(
            &mut Packet::new_unchecked(&mut bytes[..]),
            SRC6,
            DST6,
            29,
            |p| p.copy_from_slice(dns_payload()),
            &Checksums::SOFTWARE,
        )
        .unwrap();
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.checksum(), DNS_QUERY_V6_CHECKSUM);
        assert_eq!(Repr::parse(&packet, SRC6, DST6, &Checksums::SOFTWARE), Ok(repr));
        // The IPv4 pseudo-header gives a different sum.
        assert_eq!(Repr::parse(&packet, SRC, DST, &Checksums::SOFTWARE), Err(Error::BadChecksum));
    }

    #[test]
    fn zero_checksum_means_none_over_ipv4_only() {
        let mut bytes = DNS_QUERY;
        bytes[6] = 0;
        bytes[7] = 0;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(packet.verify_checksum(SRC, DST));
        assert!(Repr::parse(&packet, SRC, DST, &Checksums::SOFTWARE).is_ok());
        assert!(!packet.verify_checksum(SRC6, DST6));
        assert_eq!(Repr::parse(&packet, SRC6, DST6, &Checksums::SOFTWARE), Err(Error::BadChecksum));
    }

    #[test]
    fn corrupted_datagram_is_rejected_unless_offloaded() {
        let mut bytes = DNS_QUERY;
        bytes[20] ^= 0x40;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet, SRC, DST, &Checksums::SOFTWARE), Err(Error::BadChecksum));
        let offloaded = Checksums { udp: crate::wire::Checksum::Tx, ..Checksums::SOFTWARE };
        assert!(Repr::parse(&packet, SRC, DST, &offloaded).is_ok());
    }

    #[test]
    fn mixed_families_are_malformed() {
        let packet = Packet::new_checked(&DNS_QUERY[..]).unwrap();
        assert_eq!(Repr::parse(&packet, SRC, DST6, &Checksums::SOFTWARE), Err(Error::Malformed));
        let mut bytes = [0u8; 8];
        let repr = Repr { src_port: 1, dst_port: 2 };
        let result = repr.emit(
            &mut Packet::new_unchecked(&mut bytes[..]),
            SRC6,
            DST,
            0,
            |_| {},
            &Checksums::SOFTWARE,
        );
        assert_eq!(result, Err(Error::Malformed));
        assert_eq!(bytes, [0; 8], "nothing written");
    }

    #[test]
    fn computed_zero_is_sent_as_ffff() {
        // Choose the last payload word so that the datagram sums to 0xffff: then the
        // computed checksum is 0 and must go out as 0xffff.
        let repr = Repr { src_port: 1000, dst_port: 2000 };
        let mut bytes = [0u8; 10];
        repr.emit(
            &mut Packet::new_unchecked(&mut bytes[..]),
            SRC,
            DST,
            2,
            |_| {},
            &Checksums::SOFTWARE,
        )
        .unwrap();
        let checksum = u16::from_be_bytes([bytes[6], bytes[7]]);
        // With the word `checksum` as payload the sum becomes 0xffff.
        repr.emit(
            &mut Packet::new_unchecked(&mut bytes[..]),
            SRC,
            DST,
            2,
            |p| p.copy_from_slice(&checksum.to_be_bytes()),
            &Checksums::SOFTWARE,
        )
        .unwrap();
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.checksum(), 0xffff);
        assert!(packet.verify_checksum(SRC, DST));
    }

    #[test]
    fn offloaded_checksum_is_left_zero() {
        let repr = Repr { src_port: 41234, dst_port: 53 };
        let mut bytes = [0xffu8; 37];
        let offloaded = Checksums { udp: crate::wire::Checksum::Rx, ..Checksums::SOFTWARE };
        repr.emit(
            &mut Packet::new_unchecked(&mut bytes[..]),
            SRC,
            DST,
            29,
            |p| p.copy_from_slice(dns_payload()),
            &offloaded,
        )
        .unwrap();
        assert_eq!(&bytes[6..8], [0, 0]);
        assert_eq!(&bytes[8..], dns_payload());
    }

    #[test]
    fn emit_errors() {
        let repr = Repr { src_port: 1, dst_port: 2 };
        let mut short = [0u8; 9];
        let mut packet = Packet::new_unchecked(&mut short[..]);
        let sw = Checksums::SOFTWARE;
        assert_eq!(repr.emit(&mut packet, SRC, DST, 2, |_| {}, &sw), Err(Error::Truncated));
        let mut big = vec![0u8; 70_000];
        let mut packet = Packet::new_unchecked(&mut big[..]);
        assert_eq!(repr.emit(&mut packet, SRC, DST, 65_528, |_| {}, &sw), Err(Error::BadLength));
        assert_eq!(repr.emit(&mut packet, SRC, DST, 65_527, |_| {}, &sw), Ok(()));
        let packet = Packet::new_checked(&big[..]).unwrap();
        assert_eq!(packet.len(), 0xffff);
        assert!(packet.verify_checksum(SRC, DST));
    }

    #[test]
    fn trailing_padding_is_not_payload() {
        let mut bytes = DNS_QUERY.to_vec();
        bytes.extend_from_slice(&[0; 9]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload(), dns_payload());
        assert!(Repr::parse(&packet, SRC, DST, &Checksums::SOFTWARE).is_ok());
    }

    #[test]
    fn lying_lengths() {
        let mut bytes = DNS_QUERY;
        bytes[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::BadLength));
        bytes[4..6].copy_from_slice(&38u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Truncated));
        // Through new_unchecked, parse checks too, and the getters still do not panic.
        let packet = Packet::new_unchecked(&bytes[..]);
        assert_eq!(Repr::parse(&packet, SRC, DST, &Checksums::SOFTWARE), Err(Error::Truncated));
        assert_eq!(packet.payload(), &bytes[8..]);
        assert!(!packet.verify_checksum(SRC, DST));
    }

    #[test]
    fn truncated_prefixes() {
        for len in 0..DNS_QUERY.len() {
            let prefix = &DNS_QUERY[..len];
            assert_eq!(Packet::new_checked(prefix), Err(Error::Truncated), "prefix of {len}");
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(prefix), SRC, DST, &Checksums::SOFTWARE),
                Err(Error::Truncated)
            );
        }
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(
            src_port in any::<u16>(),
            dst_port in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..600),
            v6 in any::<bool>(),
        ) {
            let (src, dst) = if v6 { (SRC6, DST6) } else { (SRC, DST) };
            let repr = Repr { src_port, dst_port };
            let mut bytes = vec![0; repr.buffer_len(payload.len())];
            repr.emit(
                &mut Packet::new_unchecked(&mut bytes[..]),
                src,
                dst,
                payload.len(),
                |p| p.copy_from_slice(&payload),
                &Checksums::SOFTWARE,
            ).unwrap();
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_ne!(packet.checksum(), 0);
            prop_assert_eq!(Repr::parse(&packet, src, dst, &Checksums::SOFTWARE), Ok(repr));
            prop_assert_eq!(packet.payload(), &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let unchecked = Packet::new_unchecked(&bytes[..]);
            let _ = Repr::parse(&unchecked, SRC, DST, &Checksums::SOFTWARE);
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (packet.src_port(), packet.dst_port(), packet.len(), packet.checksum());
                prop_assert!(packet.payload().len() + HEADER_LEN <= bytes.len());
                let _ = packet.verify_checksum(SRC6, DST6);
                let _ = Repr::parse(&packet, SRC6, DST6, &Checksums::SOFTWARE);
            }
        }
    }
}
