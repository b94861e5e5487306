//! IPv6 headers (RFC 8200 §3) and the addresses the host layer derives from others.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                     Source Address (128 bits)                 +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                  Destination Address (128 bits)               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The header has no checksum and a fixed length; what follows it, up to the payload
//! length, is a chain of extension headers ([`ext`]) and then the upper-layer message,
//! whose checksum covers a pseudo-header of the addresses
//! ([`checksum::pseudo_header_v6`](super::checksum::pseudo_header_v6)). The payload length
//! counts the extension headers; jumbograms (RFC 2675, a zero length with a hop-by-hop
//! option) are not supported.

pub mod ext;

use super::ip::Protocol;
use super::{Error, Fields as _, FieldsMut as _, Result};
use core::fmt;
use core::net::Ipv6Addr;

/// The length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// The smallest MTU every IPv6 link carries (RFC 8200 §5): no path MTU goes below it, and
/// an ICMPv6 error is cut to fit it (RFC 4443 §2.4 (c)).
pub const MIN_MTU: usize = 1280;

mod field {
    use core::ops::Range;

    pub(super) const VER_TC_FLOW: Range<usize> = 0..4;
    pub(super) const LENGTH: Range<usize> = 4..6;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC_ADDR: Range<usize> = 8..24;
    pub(super) const DST_ADDR: Range<usize> = 24..40;
}

const FLOW_MASK: u32 = 0x000f_ffff;

/// A zero-copy view of an IPv6 packet.
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

    /// Checks the lengths: the buffer holds the 40-byte header and the payload length's
    /// worth after it. Bytes past the payload (Ethernet padding) are allowed. The version
    /// is not checked.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_addr(&self, range: core::ops::Range<usize>) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.buffer.as_ref()[range]);
        Ipv6Addr::from(octets)
    }

    /// The version field (6 for IPv6).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class: DSCP in its high 6 bits, ECN in its low 2 (RFC 2474, RFC 3168).
    pub fn traffic_class(&self) -> u8 {
        (self.buffer.read_u32(field::VER_TC_FLOW) >> 20) as u8
    }

    /// The flow label (RFC 6437), 20 bits.
    pub fn flow_label(&self) -> u32 {
        self.buffer.read_u32(field::VER_TC_FLOW) & FLOW_MASK
    }

    /// The payload length: the bytes after the fixed header, extension headers included.
    pub fn payload_len(&self) -> u16 {
        self.buffer.read_u16(field::LENGTH)
    }

    /// The type of the header after the fixed one: an extension header or the upper layer.
    pub fn next_header(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// The hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.read_addr(field::SRC_ADDR)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.read_addr(field::DST_ADDR)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload: the bytes after the fixed header up to the payload length, so padding a
    /// link layer added is not part of it. Extension headers, if any, come first in it.
    pub fn payload(&self) -> &'a [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn update_first_word(&mut self, mask: u32, value: u32) {
        let old = self.buffer.read_u32(field::VER_TC_FLOW);
        self.buffer.write_u32(field::VER_TC_FLOW, (old & !mask) | (value & mask));
    }

    /// Sets the version field (low 4 bits of `value`).
    pub fn set_version(&mut self, value: u8) {
        self.update_first_word(0xf000_0000, u32::from(value) << 28);
    }

    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, value: u8) {
        self.update_first_word(0x0ff0_0000, u32::from(value) << 20);
    }

    /// Sets the flow label (low 20 bits of `value`).
    pub fn set_flow_label(&mut self, value: u32) {
        self.update_first_word(FLOW_MASK, value);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        self.buffer.write_u16(field::LENGTH, value);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, value: Protocol) {
        self.buffer.as_mut()[field::NEXT_HEADER] = value.into();
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// The payload, mutably: after the fixed header, up to the payload length.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An IPv6 fixed header as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// The source address.
    pub src_addr: Ipv6Addr,
    /// The destination address.
    pub dst_addr: Ipv6Addr,
    /// The header after this one: an extension header or the upper-layer protocol.
    pub next_header: Protocol,
    /// The payload length in bytes, extension headers included.
    pub payload_len: usize,
    /// The hop limit.
    pub hop_limit: u8,
    /// The traffic class: `dscp << 2 | ecn`.
    pub traffic_class: u8,
    /// The flow label (RFC 6437), 20 bits; 0 when the packet belongs to no flow.
    pub flow_label: u32,
}

impl Repr {
    /// Reads a header: version 6 ([`Error::Malformed`] otherwise) and the lengths as
    /// [`Packet::check_len`] does.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Self> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        packet.check_len()?;
        Ok(Self::read(packet))
    }

    /// Reads the IPv6 header quoted in an ICMPv6 error, where the original packet is cut
    /// short: the fixed header must be whole, but the payload length may run past `data`.
    /// Returns the header (its `payload_len` is the original packet's) and the payload bytes
    /// that were quoted, at most the payload length's worth.
    pub fn parse_quoted(data: &[u8]) -> Result<(Self, &[u8])> {
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let packet = Packet::new_unchecked(data);
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        let end = (HEADER_LEN + usize::from(packet.payload_len())).min(data.len());
        Ok((Self::read(&packet), &data[HEADER_LEN..end]))
    }

    /// Turns a header whose length has been checked into values.
    fn read<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Self {
        Self {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        }
    }

    /// The length of the header `emit` writes: 40 bytes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The length of the whole packet: header and payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the 40-byte header; the payload is left alone. A `payload_len` above 65535
    /// does not fit the length field, which is then clamped to 65535; a flow label is cut
    /// to its 20 bits.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        let first = 6 << 28 | u32::from(self.traffic_class) << 20 | (self.flow_label & FLOW_MASK);
        packet.buffer.write_u32(field::VER_TC_FLOW, first);
        packet.set_payload_len(u16::try_from(self.payload_len).unwrap_or(u16::MAX));
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv6 {} > {} {} hlim {} len {}",
            self.src_addr, self.dst_addr, self.next_header, self.hop_limit, self.payload_len
        )?;
        if self.flow_label != 0 {
            write!(f, " flow {:#07x}", self.flow_label)?;
        }
        Ok(())
    }
}

/// The solicited-node multicast address of `addr` (RFC 4291 §2.7.1): `ff02::1:ff00:0/104`
/// with the address's low 24 bits. Neighbour solicitations for `addr` go there, so a host
/// joins it for each of its unicast addresses.
pub const fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | o[13] as u16, (o[14] as u16) << 8 | o[15] as u16)
}

/// Whether `addr` is a unicast address in `fe80::/10`, the link-local scope (RFC 4291
/// §2.5.6): valid only on the link it was received on.
pub const fn is_link_local(addr: Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

/// The all-nodes multicast address on the link, `ff02::1`.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The all-routers multicast address on the link, `ff02::2`.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// The address MLDv2 reports go to, `ff02::16` (RFC 3810 §5.2.14).
pub const ALL_MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An ICMPv6 echo request header as Linux `ping -6` sends it: traffic class 0, flow
    /// label 0x3ad4b (Linux sets one per socket), 64 payload bytes of ICMPv6, hop limit 64,
    /// from 2001:db8::2 to 2001:db8::1. Composed by hand from RFC 8200 §3.
    const ECHO_HEADER: [u8; 40] = [
        0x60, 0x03, 0xad, 0x4b, 0x00, 0x40, 0x3a, 0x40, // version .. hop limit
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // source
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // destination
    ];

    fn echo_repr() -> Repr {
        Repr {
            src_addr: "2001:db8::2".parse().unwrap(),
            dst_addr: "2001:db8::1".parse().unwrap(),
            next_header: Protocol::Icmpv6,
            payload_len: 64,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0x3ad4b,
        }
    }

    fn echo_packet() -> Vec<u8> {
        let mut bytes = ECHO_HEADER.to_vec();
        bytes.extend((0..64).map(|i| i as u8));
        bytes
    }

    #[test]
    fn deconstruct() {
        let bytes = echo_packet();
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0);
        assert_eq!(packet.flow_label(), 0x3ad4b);
        assert_eq!(packet.payload_len(), 64);
        assert_eq!(packet.next_header(), Protocol::Icmpv6);
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.payload(), &bytes[40..]);
        assert_eq!(Repr::parse(&packet), Ok(echo_repr()));
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5; 104];
        echo_repr().emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes[..40], ECHO_HEADER);
        assert!(bytes[40..].iter().all(|&b| b == 0xa5), "the payload was touched");
    }

    #[test]
    fn setters_touch_only_their_bits() {
        let mut bytes = ECHO_HEADER;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_traffic_class(0xb8);
        packet.set_flow_label(0xfffff);
        packet.set_version(6);
        assert_eq!(packet.traffic_class(), 0xb8);
        assert_eq!(packet.flow_label(), 0xfffff);
        assert_eq!(packet.version(), 6);
        packet.set_flow_label(0x1234_5678);
        assert_eq!(packet.flow_label(), 0x45678, "a label is 20 bits");
        assert_eq!(packet.traffic_class(), 0xb8);
    }

    #[test]
    fn short_buffers_and_lengths_are_refused() {
        let bytes = echo_packet();
        assert_eq!(Packet::new_checked(&bytes[..39]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&bytes[..103]).unwrap_err(), Error::Truncated);
        // Padding after the payload is the link layer's, not the packet's.
        let mut padded = bytes.clone();
        padded.extend([0; 6]);
        assert_eq!(Packet::new_checked(&padded[..]).unwrap().payload(), &bytes[40..]);
        let mut v4 = bytes;
        v4[0] = 0x45;
        assert_eq!(Repr::parse(&Packet::new_unchecked(&v4[..])), Err(Error::Malformed));
    }

    #[test]
    fn a_quoted_header_may_be_cut_short() {
        let bytes = echo_packet();
        let (header, payload) = Repr::parse_quoted(&bytes[..48]).unwrap();
        assert_eq!(header, echo_repr());
        assert_eq!(payload, &bytes[40..48]);
        assert_eq!(Repr::parse_quoted(&bytes[..39]), Err(Error::Truncated));
    }

    #[test]
    fn derived_addresses() {
        let addr: Ipv6Addr = "2001:db8::2aa:ff:fe28:9c5a".parse().unwrap();
        assert_eq!(solicited_node(addr), "ff02::1:ff28:9c5a".parse::<Ipv6Addr>().unwrap());
        assert!(is_link_local("fe80::1".parse().unwrap()));
        assert!(is_link_local("febf::1".parse().unwrap()));
        assert!(!is_link_local("fec0::1".parse().unwrap()));
        assert!(!is_link_local("ff02::1".parse().unwrap()));
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips(
            src in any::<[u8; 16]>(),
            dst in any::<[u8; 16]>(),
            next in any::<u8>(),
            len in 0usize..2048,
            hop_limit in any::<u8>(),
            traffic_class in any::<u8>(),
            flow_label in 0u32..(1 << 20),
        ) {
            let repr = Repr {
                src_addr: src.into(),
                dst_addr: dst.into(),
                next_header: Protocol::from(next),
                payload_len: len,
                hop_limit,
                traffic_class,
                flow_label,
            };
            let mut bytes = vec![0; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(Repr::parse(&packet), Ok(repr));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Packet::new_checked(&bytes[..]).and_then(|p| Repr::parse(&p));
            let _ = Repr::parse_quoted(&bytes);
        }
    }
}
