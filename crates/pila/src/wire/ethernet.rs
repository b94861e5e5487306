//! Ethernet II frames (IEEE 802.3 with an EtherType), optionally carrying one IEEE 802.1Q
//! VLAN tag.
//!
//! ```text
//!  0                   6                  12      14      16      18
//! +-------------------+-------------------+-------+-------+-------+---------
//! | destination       | source            | type  | payload ...
//! +-------------------+-------------------+-------+-------+-------+---------
//! | destination       | source            | 8100  | TCI   | type  | payload ...
//! +-------------------+-------------------+-------+-------+-------+---------
//! ```
//!
//! The frame check sequence is not part of a [`Frame`]: devices strip it on receive and add
//! it on transmit.

use super::{Error, Fields as _, FieldsMut as _, Result};
use core::fmt;
use core::str::FromStr;

/// The length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// The length of an Ethernet II header carrying one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;

mod field {
    use core::ops::Range;

    pub(super) const DST: Range<usize> = 0..6;
    pub(super) const SRC: Range<usize> = 6..12;
    pub(super) const ETHERTYPE: Range<usize> = 12..14;
    /// 802.1Q tag control information, present when `ETHERTYPE` holds 0x8100.
    pub(super) const TCI: Range<usize> = 14..16;
    pub(super) const INNER_ETHERTYPE: Range<usize> = 16..18;
}

/// A 48-bit Ethernet (IEEE 802) MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// The broadcast address, `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: Self = Self([0xff; 6]);

    /// The address as bytes, in transmission order.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is the broadcast address.
    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    /// Whether the group bit (the least significant bit of the first octet) is set. The
    /// broadcast address is a multicast address too.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is an individual (unicast) address: the group bit is clear.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether the locally administered bit (the second least significant bit of the first
    /// octet) is set, as it is for addresses made up by software.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
    /// The MAC address an IPv6 multicast group maps to (RFC 2464 §7): `33:33` followed by
    /// the group's low 32 bits.
    pub const fn from_ipv6_multicast(group: core::net::Ipv6Addr) -> Self {
        let o = group.octets();
        Self([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl From<[u8; 6]> for Address {
    fn from(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }
}

impl From<Address> for [u8; 6] {
    fn from(addr: Address) -> Self {
        addr.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// Why a string is not a MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseAddressError(());

impl fmt::Display for ParseAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid MAC address syntax: expected six hex octets separated by ':' or '-'")
    }
}

impl std::error::Error for ParseAddressError {}

impl FromStr for Address {
    type Err = ParseAddressError;

    /// Parses six octets of one or two hex digits each, separated all by `:` or all by `-`
    /// (`02:00:5e:00:00:01`, `02-00-5E-00-00-01`).
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let separator = if s.contains(':') { ':' } else { '-' };
        let mut bytes = [0u8; 6];
        let mut parts = s.split(separator);
        for byte in &mut bytes {
            let part = parts.next().ok_or(ParseAddressError(()))?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseAddressError(()));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| ParseAddressError(()))?;
        }
        match parts.next() {
            None => Ok(Self(bytes)),
            Some(_) => Err(ParseAddressError(())),
        }
    }
}

/// The type of an Ethernet frame's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EtherType {
    /// IPv4 (0x0800).
    Ipv4,
    /// ARP (0x0806).
    Arp,
    /// IPv6 (0x86dd).
    Ipv6,
    /// An IEEE 802.1Q VLAN tag follows (0x8100).
    Vlan,
    /// Any other value (including IEEE 802.3 length fields, below 0x0600).
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(value: u16) -> Self {
        match value {
            0x0800 => Self::Ipv4,
            0x0806 => Self::Arp,
            0x86dd => Self::Ipv6,
            0x8100 => Self::Vlan,
            other => Self::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> Self {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Vlan => 0x8100,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4 => f.write_str("IPv4"),
            Self::Arp => f.write_str("ARP"),
            Self::Ipv6 => f.write_str("IPv6"),
            Self::Vlan => f.write_str("802.1Q"),
            Self::Unknown(n) => write!(f, "0x{n:04x}"),
        }
    }
}

/// An IEEE 802.1Q tag: the tag control information that follows the 0x8100 TPID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VlanTag {
    /// Priority code point (IEEE 802.1p), 3 bits: 0–7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier, 12 bits: 0–4095 (0: priority tag only; 4095 reserved).
    pub vid: u16,
}

impl VlanTag {
    /// Reads a tag from its 16-bit tag control information.
    pub const fn from_tci(tci: u16) -> Self {
        Self { pcp: (tci >> 13) as u8, dei: tci & 0x1000 != 0, vid: tci & 0x0fff }
    }

    /// The 16-bit tag control information. Bits beyond a field's width are dropped.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

/// A zero-copy view of an Ethernet II frame, tagged or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it; getters may panic if it is too short.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len) accepts it.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that the buffer holds the whole header: 14 bytes, or 18 when the EtherType
    /// field announces an 802.1Q tag.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if len < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_addr(&self, range: core::ops::Range<usize>) -> Address {
        let mut bytes = [0u8; 6];
        bytes.copy_from_slice(&self.buffer.as_ref()[range]);
        Address(bytes)
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Address {
        self.read_addr(field::DST)
    }

    /// The source address.
    pub fn src_addr(&self) -> Address {
        self.read_addr(field::SRC)
    }

    /// The EtherType field at bytes 12..14: [`EtherType::Vlan`] on a tagged frame.
    pub fn outer_ethertype(&self) -> EtherType {
        EtherType::from(self.buffer.read_u16(field::ETHERTYPE))
    }

    /// Whether the frame carries an 802.1Q tag.
    pub fn is_tagged(&self) -> bool {
        self.outer_ethertype() == EtherType::Vlan
    }

    /// The type of the payload: the EtherType after the 802.1Q tag when there is one.
    pub fn ethertype(&self) -> EtherType {
        if self.is_tagged() {
            EtherType::from(self.buffer.read_u16(field::INNER_ETHERTYPE))
        } else {
            self.outer_ethertype()
        }
    }

    /// The 802.1Q tag, if the frame carries one.
    pub fn vlan_tag(&self) -> Option<VlanTag> {
        self.is_tagged().then(|| VlanTag::from_tci(self.buffer.read_u16(field::TCI)))
    }

    /// The header length: [`HEADER_LEN`], or [`VLAN_HEADER_LEN`] for a tagged frame.
    pub fn header_len(&self) -> usize {
        if self.is_tagged() { VLAN_HEADER_LEN } else { HEADER_LEN }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The payload: everything after the header (including any padding up to the 60-byte
    /// minimum frame; the inner protocol's length field bounds its own data).
    pub fn payload(&self) -> &'a [u8] {
        let header_len = self.header_len();
        &self.buffer.as_ref()[header_len..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Address) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Address) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    /// Writes the EtherType field at bytes 12..14. Writing [`EtherType::Vlan`] makes the
    /// frame tagged; anything else makes it untagged.
    pub fn set_outer_ethertype(&mut self, ethertype: EtherType) {
        self.buffer.write_u16(field::ETHERTYPE, ethertype.into());
    }

    /// Tags the frame: writes the 0x8100 TPID and the tag's control information at bytes
    /// 12..16. The payload type then lives at bytes 16..18 and the payload starts at 18.
    pub fn set_vlan_tag(&mut self, tag: VlanTag) {
        self.set_outer_ethertype(EtherType::Vlan);
        self.buffer.write_u16(field::TCI, tag.tci());
    }

    /// Sets the payload type where [`ethertype`](Self::ethertype) reads it: after the tag on
    /// a tagged frame, at bytes 12..14 otherwise. Decide tagging first (with
    /// [`set_vlan_tag`](Self::set_vlan_tag) or [`set_outer_ethertype`](Self::set_outer_ethertype)).
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        if self.is_tagged() {
            self.buffer.write_u16(field::INNER_ETHERTYPE, ethertype.into());
        } else {
            self.set_outer_ethertype(ethertype);
        }
    }

    /// The payload, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[header_len..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Frame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An Ethernet II header as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// The source address.
    pub src_addr: Address,
    /// The destination address.
    pub dst_addr: Address,
    /// The payload's type (after the tag, when there is one).
    pub ethertype: EtherType,
    /// The 802.1Q tag, if any.
    pub vlan: Option<VlanTag>,
}

impl Repr {
    /// Reads the header of a frame.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&T>) -> Result<Self> {
        frame.check_len()?;
        Ok(Self {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
            vlan: frame.vlan_tag(),
        })
    }

    /// The length of the header `emit` writes: 14, or 18 with a tag.
    pub const fn header_len(&self) -> usize {
        if self.vlan.is_some() { VLAN_HEADER_LEN } else { HEADER_LEN }
    }

    /// The length of a frame carrying `payload_len` bytes of payload.
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len
    }

    /// Writes the header into a frame; the payload is left alone. Tag fields wider than
    /// 802.1Q allows are truncated to their width.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, frame: &mut Frame<&mut T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        match self.vlan {
            Some(tag) => {
                frame.set_vlan_tag(tag);
                frame.buffer.write_u16(field::INNER_ETHERTYPE, self.ethertype.into());
            }
            None => frame.set_outer_ethertype(self.ethertype),
        }
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ethernet {} > {}", self.src_addr, self.dst_addr)?;
        if let Some(tag) = self.vlan {
            write!(f, " vlan {} pcp {}", tag.vid, tag.pcp)?;
        }
        write!(f, " type {}", self.ethertype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_multicast_groups_map_to_33_33() {
        let group: core::net::Ipv6Addr = "ff02::1:ff28:9c5a".parse().unwrap();
        let mac = Address::from_ipv6_multicast(group);
        assert_eq!(mac, Address([0x33, 0x33, 0xff, 0x28, 0x9c, 0x5a]));
        assert!(mac.is_multicast() && !mac.is_broadcast());
    }
    use proptest::prelude::*;

    /// An ARP request broadcast from a QEMU-style NIC (52:54:00:..), laid out as Linux sends
    /// it: the Ethernet header, the 28-byte ARP body and 18 bytes of zero padding up to the
    /// 60-byte minimum frame. Composed by hand from IEEE 802.3 and RFC 826.
    const UNTAGGED: [u8; 60] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, //
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, //
        0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    /// An 802.1Q-tagged frame (VLAN 100, priority 5, DEI clear: TCI 0xa064) carrying the start
    /// of an IPv4 header, in the layout a Linux `eth0.100` sub-interface uses. Composed by
    /// hand from IEEE 802.1Q.
    const TAGGED: [u8; 22] = [
        0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x81, 0x00, //
        0xa0, 0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x54,
    ];

    const MAC_A: Address = Address([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const MAC_B: Address = Address([0x02, 0x00, 0x5e, 0x00, 0x00, 0x01]);

    #[test]
    fn deconstruct_untagged() {
        let frame = Frame::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(frame.dst_addr(), Address::BROADCAST);
        assert_eq!(frame.src_addr(), MAC_A);
        assert_eq!(frame.ethertype(), EtherType::Arp);
        assert_eq!(frame.outer_ethertype(), EtherType::Arp);
        assert_eq!(frame.vlan_tag(), None);
        assert_eq!(frame.header_len(), 14);
        assert_eq!(frame.payload(), &UNTAGGED[14..]);
        let repr = Repr::parse(&frame).unwrap();
        assert_eq!(
            repr,
            Repr {
                src_addr: MAC_A,
                dst_addr: Address::BROADCAST,
                ethertype: EtherType::Arp,
                vlan: None
            }
        );
    }

    #[test]
    fn deconstruct_tagged() {
        let frame = Frame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(frame.dst_addr(), MAC_B);
        assert_eq!(frame.src_addr(), MAC_A);
        assert_eq!(frame.outer_ethertype(), EtherType::Vlan);
        assert_eq!(frame.ethertype(), EtherType::Ipv4);
        assert_eq!(frame.vlan_tag(), Some(VlanTag { pcp: 5, dei: false, vid: 100 }));
        assert_eq!(frame.header_len(), 18);
        assert_eq!(frame.payload(), &[0x45, 0x00, 0x00, 0x54]);
    }

    #[test]
    fn construct_untagged() {
        let repr = Repr {
            src_addr: MAC_A,
            dst_addr: Address::BROADCAST,
            ethertype: EtherType::Arp,
            vlan: None,
        };
        assert_eq!(repr.buffer_len(46), 60);
        // A buffer with stale tagged bytes: emit must not be fooled by the old 0x8100.
        let mut bytes = TAGGED.to_vec();
        bytes.resize(60, 0xaa);
        let mut frame = Frame::new_unchecked(&mut bytes[..]);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&UNTAGGED[14..]);
        assert_eq!(&bytes[..], &UNTAGGED[..]);
    }

    #[test]
    fn construct_tagged() {
        let repr = Repr {
            src_addr: MAC_A,
            dst_addr: MAC_B,
            ethertype: EtherType::Ipv4,
            vlan: Some(VlanTag { pcp: 5, dei: false, vid: 100 }),
        };
        assert_eq!(repr.header_len(), 18);
        let mut bytes = [0xffu8; 22];
        let mut frame = Frame::new_unchecked(&mut bytes[..]);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&[0x45, 0x00, 0x00, 0x54]);
        assert_eq!(bytes, TAGGED);
    }

    #[test]
    fn setters_follow_the_tag() {
        let mut bytes = [0u8; 18];
        let mut frame = Frame::new_unchecked(&mut bytes[..]);
        frame.set_outer_ethertype(EtherType::Ipv4);
        frame.set_ethertype(EtherType::Arp);
        assert_eq!(frame.ethertype(), EtherType::Arp);
        assert_eq!(frame.header_len(), 14);
        frame.set_vlan_tag(VlanTag { pcp: 7, dei: true, vid: 4095 });
        frame.set_ethertype(EtherType::Ipv6);
        assert_eq!(frame.outer_ethertype(), EtherType::Vlan);
        assert_eq!(frame.ethertype(), EtherType::Ipv6);
        assert_eq!(&bytes[12..18], &[0x81, 0x00, 0xff, 0xff, 0x86, 0xdd]);
    }

    #[test]
    fn truncated() {
        for len in 0..UNTAGGED.len() {
            let result = Frame::new_checked(&UNTAGGED[..len]);
            assert_eq!(result.is_ok(), len >= 14, "length {len}");
        }
        for len in 0..TAGGED.len() {
            let result = Frame::new_checked(&TAGGED[..len]);
            match len {
                0..18 => assert_eq!(result, Err(Error::Truncated), "length {len}"),
                _ => assert_eq!(result.unwrap().payload().len(), len - 18),
            }
        }
        // A tag announced but cut off is truncated for parse too.
        assert_eq!(Repr::parse(&Frame::new_unchecked(&TAGGED[..16])), Err(Error::Truncated));
    }

    #[test]
    fn address_classes() {
        assert!(Address::BROADCAST.is_broadcast());
        assert!(Address::BROADCAST.is_multicast());
        assert!(!Address::BROADCAST.is_unicast());
        let mcast = Address([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
        assert!(mcast.is_multicast() && !mcast.is_broadcast() && !mcast.is_local());
        // QEMU's 52:54:00 prefix and 02:... are locally administered; 00:1b:21 is an IEEE OUI.
        assert!(MAC_A.is_unicast() && MAC_A.is_local());
        assert!(MAC_B.is_unicast() && MAC_B.is_local());
        let universal = Address([0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c]);
        assert!(universal.is_unicast() && !universal.is_local() && !universal.is_multicast());
    }

    #[test]
    fn address_text() {
        assert_eq!(MAC_B.to_string(), "02:00:5e:00:00:01");
        assert_eq!(format!("{MAC_B:?}"), "Address(02:00:5e:00:00:01)");
        assert_eq!("02:00:5e:00:00:01".parse(), Ok(MAC_B));
        assert_eq!("02-00-5E-00-00-01".parse(), Ok(MAC_B));
        assert_eq!("2:0:5e:0:0:1".parse(), Ok(MAC_B));
        for bad in [
            "",
            "02:00:5e:00:00",
            "02:00:5e:00:00:01:02",
            "02:00:5e:00:00:001",
            "02:00-5e:00:00:01",
            "02:00:5e:00::01",
            "02:00:5e:00:00:0g",
            "+2:00:5e:00:00:01",
            "020005e00001",
        ] {
            assert_eq!(bad.parse::<Address>(), Err(ParseAddressError(())), "{bad:?}");
        }
        assert!(!ParseAddressError(()).to_string().is_empty());
    }

    #[test]
    fn ethertype_numbers() {
        for n in [0u16, 0x0800, 0x0806, 0x86dd, 0x8100, 0x88a8, 0xffff] {
            assert_eq!(u16::from(EtherType::from(n)), n);
        }
        assert_eq!(EtherType::from(0x86dd), EtherType::Ipv6);
        assert_eq!(EtherType::Unknown(0x88cc).to_string(), "0x88cc");
        assert_eq!(EtherType::Vlan.to_string(), "802.1Q");
    }

    #[test]
    fn tci_round_trip() {
        for tci in [0u16, 0x0001, 0x0fff, 0x1000, 0xe000, 0xa064, 0xffff] {
            assert_eq!(VlanTag::from_tci(tci).tci(), tci);
        }
    }

    fn ethertype() -> impl Strategy<Value = EtherType> {
        // Vlan is the tag's TPID, never the payload type of a single-tagged frame.
        any::<u16>().prop_filter("not a TPID", |&n| n != 0x8100).prop_map(EtherType::from)
    }

    fn repr() -> impl Strategy<Value = Repr> {
        let tag = (0u8..8, any::<bool>(), 0u16..4096).prop_map(|(pcp, dei, vid)| VlanTag {
            pcp,
            dei,
            vid,
        });
        (any::<[u8; 6]>(), any::<[u8; 6]>(), ethertype(), proptest::option::of(tag)).prop_map(
            |(src, dst, ethertype, vlan)| Repr {
                src_addr: Address(src),
                dst_addr: Address(dst),
                ethertype,
                vlan,
            },
        )
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(
            repr in repr(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = vec![0u8; repr.buffer_len(payload.len())];
            let mut frame = Frame::new_unchecked(&mut bytes[..]);
            repr.emit(&mut frame);
            frame.payload_mut().copy_from_slice(&payload);
            let frame = Frame::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(Repr::parse(&frame).unwrap(), repr);
            prop_assert_eq!(frame.payload(), &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(frame) = Frame::new_checked(&bytes[..]) {
                let _ = (frame.dst_addr(), frame.src_addr(), frame.ethertype(), frame.vlan_tag());
                prop_assert!(frame.header_len() + frame.payload().len() == bytes.len());
                prop_assert!(Repr::parse(&frame).is_ok());
            }
            let _ = Repr::parse(&Frame::new_unchecked(&bytes[..]));
        }
    }
}
