//! The Address Resolution Protocol (RFC 826).
//!
//! The view reads any hardware and protocol address lengths; [`Repr`] handles the one
//! combination pila speaks, Ethernet hardware addresses for IPv4 protocol addresses:
//!
//! ```text
//!  0       2       4   5   6       8             14      18            24      28
//! +-------+-------+---+---+-------+-------------+-------+-------------+-------+
//! | htype | ptype |hln|pln| oper  | sender MAC  | s. IP | target MAC  | t. IP |
//! +-------+-------+---+---+-------+-------------+-------+-------------+-------+
//! ```

use super::ethernet::{self, EtherType};
use super::{Error, Fields as _, FieldsMut as _, Ipv4Addr, Result};
use core::fmt;

mod field {
    use core::ops::Range;

    pub(super) const HTYPE: Range<usize> = 0..2;
    pub(super) const PTYPE: Range<usize> = 2..4;
    pub(super) const HLEN: usize = 4;
    pub(super) const PLEN: usize = 5;
    pub(super) const OPER: Range<usize> = 6..8;
    /// Where the variable-length addresses start: sender hardware, sender protocol, target
    /// hardware, target protocol, each `HLEN` or `PLEN` bytes.
    pub(super) const ADDRESSES: usize = 8;
}

/// The fixed part of the header, before the addresses.
const FIXED_LEN: usize = field::ADDRESSES;

/// The hardware type of Ethernet (RFC 826, IANA "Hardware Types").
const HARDWARE_ETHERNET: u16 = 1;

/// The operation an ARP packet asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Who has this protocol address? (1)
    Request,
    /// This protocol address is at this hardware address. (2)
    Reply,
    /// Any other operation (RARP, InARP, ...).
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(value: u16) -> Self {
        match value {
            1 => Self::Request,
            2 => Self::Reply,
            other => Self::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(value: Operation) -> Self {
        match value {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request => f.write_str("request"),
            Self::Reply => f.write_str("reply"),
            Self::Unknown(n) => write!(f, "operation {n}"),
        }
    }
}

/// A zero-copy view of an ARP packet, for any hardware and protocol address lengths.
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

    /// Checks that the buffer holds the fixed header and the four addresses its length
    /// fields announce. Bytes past them (Ethernet padding) are allowed.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN || len < self.packet_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The length of the packet its length fields announce: 8 + 2 × (hlen + plen).
    pub fn packet_len(&self) -> usize {
        FIXED_LEN + 2 * (usize::from(self.hardware_len()) + usize::from(self.protocol_len()))
    }

    /// The hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        self.buffer.read_u16(field::HTYPE)
    }

    /// The protocol type, an EtherType ([`EtherType::Ipv4`] for IPv4).
    pub fn protocol_type(&self) -> EtherType {
        EtherType::from(self.buffer.read_u16(field::PTYPE))
    }

    /// The length of a hardware address in bytes (6 for Ethernet).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// The length of a protocol address in bytes (4 for IPv4).
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        Operation::from(self.buffer.read_u16(field::OPER))
    }

    fn sha_range(&self) -> core::ops::Range<usize> {
        let start = field::ADDRESSES;
        start..start + usize::from(self.hardware_len())
    }

    fn spa_range(&self) -> core::ops::Range<usize> {
        let start = self.sha_range().end;
        start..start + usize::from(self.protocol_len())
    }

    fn tha_range(&self) -> core::ops::Range<usize> {
        let start = self.spa_range().end;
        start..start + usize::from(self.hardware_len())
    }

    fn tpa_range(&self) -> core::ops::Range<usize> {
        let start = self.tha_range().end;
        start..start + usize::from(self.protocol_len())
    }

    /// The sender's hardware address, [`hardware_len`](Self::hardware_len) bytes.
    pub fn source_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.sha_range()]
    }

    /// The sender's protocol address, [`protocol_len`](Self::protocol_len) bytes.
    pub fn source_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.spa_range()]
    }

    /// The target's hardware address, [`hardware_len`](Self::hardware_len) bytes.
    pub fn target_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.tha_range()]
    }

    /// The target's protocol address, [`protocol_len`](Self::protocol_len) bytes.
    pub fn target_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.tpa_range()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        self.buffer.write_u16(field::HTYPE, value);
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, value: EtherType) {
        self.buffer.write_u16(field::PTYPE, value.into());
    }

    /// Sets the hardware address length; set it before the addresses.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length; set it before the addresses.
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, value: Operation) {
        self.buffer.write_u16(field::OPER, value.into());
    }

    /// Sets the sender's hardware address.
    ///
    /// # Panics
    /// If `addr` is not [`hardware_len`](Self::hardware_len) bytes long.
    pub fn set_source_hardware_addr(&mut self, addr: &[u8]) {
        let range = self.sha_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }

    /// Sets the sender's protocol address.
    ///
    /// # Panics
    /// If `addr` is not [`protocol_len`](Self::protocol_len) bytes long.
    pub fn set_source_protocol_addr(&mut self, addr: &[u8]) {
        let range = self.spa_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }

    /// Sets the target's hardware address.
    ///
    /// # Panics
    /// If `addr` is not [`hardware_len`](Self::hardware_len) bytes long.
    pub fn set_target_hardware_addr(&mut self, addr: &[u8]) {
        let range = self.tha_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }

    /// Sets the target's protocol address.
    ///
    /// # Panics
    /// If `addr` is not [`protocol_len`](Self::protocol_len) bytes long.
    pub fn set_target_protocol_addr(&mut self, addr: &[u8]) {
        let range = self.tpa_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An Ethernet/IPv4 ARP packet as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    /// The operation.
    pub operation: Operation,
    /// The sender's MAC address.
    pub source_hardware_addr: ethernet::Address,
    /// The sender's IPv4 address (unspecified, 0.0.0.0, in an RFC 5227 probe).
    pub source_protocol_addr: Ipv4Addr,
    /// The target's MAC address (ignored in a request; Linux sends zeros).
    pub target_hardware_addr: ethernet::Address,
    /// The target's IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl Repr {
    /// The length of an Ethernet/IPv4 ARP packet.
    pub const LEN: usize = FIXED_LEN + 2 * (6 + 4);

    /// Reads an Ethernet/IPv4 ARP packet. Any other hardware or protocol type, or address
    /// lengths other than 6 and 4, is [`Error::Unsupported`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Self> {
        packet.check_len()?;
        if packet.hardware_type() != HARDWARE_ETHERNET
            || packet.protocol_type() != EtherType::Ipv4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        let mac = |bytes: &[u8]| {
            let mut addr = [0u8; 6];
            addr.copy_from_slice(bytes);
            ethernet::Address(addr)
        };
        let ip = |bytes: &[u8]| {
            let mut addr = [0u8; 4];
            addr.copy_from_slice(bytes);
            Ipv4Addr::from(addr)
        };
        Ok(Self {
            operation: packet.operation(),
            source_hardware_addr: mac(packet.source_hardware_addr()),
            source_protocol_addr: ip(packet.source_protocol_addr()),
            target_hardware_addr: mac(packet.target_hardware_addr()),
            target_protocol_addr: ip(packet.target_protocol_addr()),
        })
    }

    /// The length of the packet `emit` writes: 28 bytes.
    pub const fn buffer_len(&self) -> usize {
        Self::LEN
    }

    /// Writes the packet. Bytes past the 28 (padding) are left alone.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_hardware_type(HARDWARE_ETHERNET);
        packet.set_protocol_type(EtherType::Ipv4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(&self.source_hardware_addr.0);
        packet.set_source_protocol_addr(&self.source_protocol_addr.octets());
        packet.set_target_hardware_addr(&self.target_hardware_addr.0);
        packet.set_target_protocol_addr(&self.target_protocol_addr.octets());
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            Operation::Request => write!(
                f,
                "ARP who-has {} tell {} ({})",
                self.target_protocol_addr, self.source_protocol_addr, self.source_hardware_addr
            ),
            Operation::Reply => write!(
                f,
                "ARP reply {} is-at {}",
                self.source_protocol_addr, self.source_hardware_addr
            ),
            Operation::Unknown(n) => write!(
                f,
                "ARP operation {n} {} ({}) > {} ({})",
                self.source_protocol_addr,
                self.source_hardware_addr,
                self.target_protocol_addr,
                self.target_hardware_addr
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Composed by hand from RFC 826 in the shape Linux sends (target MAC zero in a request,
    // filled in a reply); addresses from the documentation range 192.0.2.0/24.
    /// 192.0.2.2 (52:54:00:12:34:56) asks who has 192.0.2.1.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00, 0x02, 0x02, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01,
    ];
    /// 192.0.2.1 answers that it is at 02:00:5e:00:00:01.
    const REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, //
        0x02, 0x00, 0x5e, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x01, //
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00, 0x02, 0x02,
    ];

    const MAC_HOST: ethernet::Address = ethernet::Address([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const MAC_ROUTER: ethernet::Address = ethernet::Address([0x02, 0x00, 0x5e, 0x00, 0x00, 0x01]);
    const IP_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const IP_ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    fn request_repr() -> Repr {
        Repr {
            operation: Operation::Request,
            source_hardware_addr: MAC_HOST,
            source_protocol_addr: IP_HOST,
            target_hardware_addr: ethernet::Address([0; 6]),
            target_protocol_addr: IP_ROUTER,
        }
    }

    fn reply_repr() -> Repr {
        Repr {
            operation: Operation::Reply,
            source_hardware_addr: MAC_ROUTER,
            source_protocol_addr: IP_ROUTER,
            target_hardware_addr: MAC_HOST,
            target_protocol_addr: IP_HOST,
        }
    }

    #[test]
    fn deconstruct_request() {
        let packet = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(packet.hardware_type(), 1);
        assert_eq!(packet.protocol_type(), EtherType::Ipv4);
        assert_eq!(packet.hardware_len(), 6);
        assert_eq!(packet.protocol_len(), 4);
        assert_eq!(packet.operation(), Operation::Request);
        assert_eq!(packet.source_hardware_addr(), &MAC_HOST.0);
        assert_eq!(packet.source_protocol_addr(), &[192, 0, 2, 2]);
        assert_eq!(packet.target_hardware_addr(), &[0; 6]);
        assert_eq!(packet.target_protocol_addr(), &[192, 0, 2, 1]);
        assert_eq!(Repr::parse(&packet), Ok(request_repr()));
    }

    #[test]
    fn deconstruct_reply_with_padding() {
        // In a minimum-size Ethernet frame the reply is followed by 18 bytes of padding.
        let mut padded = REPLY.to_vec();
        padded.extend_from_slice(&[0; 18]);
        let packet = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.operation(), Operation::Reply);
        assert_eq!(packet.source_hardware_addr(), &MAC_ROUTER.0);
        assert_eq!(packet.target_hardware_addr(), &MAC_HOST.0);
        assert_eq!(Repr::parse(&packet), Ok(reply_repr()));
    }

    #[test]
    fn construct() {
        for (repr, bytes) in [(request_repr(), REQUEST), (reply_repr(), REPLY)] {
            assert_eq!(repr.buffer_len(), 28);
            let mut buffer = [0xa5u8; 28];
            repr.emit(&mut Packet::new_unchecked(&mut buffer[..]));
            assert_eq!(buffer, bytes);
        }
    }

    #[test]
    fn truncated() {
        for len in 0..REQUEST.len() {
            assert_eq!(Packet::new_checked(&REQUEST[..len]), Err(Error::Truncated), "{len}");
            assert_eq!(Repr::parse(&Packet::new_unchecked(&REQUEST[..len])), Err(Error::Truncated));
        }
    }

    #[test]
    fn other_kinds_are_unsupported() {
        let patch = |at: usize, value: u8| {
            let mut bytes = REQUEST;
            bytes[at] = value;
            bytes
        };
        // Hardware type 6 (IEEE 802), protocol type IPv6.
        for bytes in [patch(1, 6), patch(2, 0x86)] {
            let packet = Packet::new_checked(&bytes[..]).unwrap();
            assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
        }
        // Shorter addresses still fit the buffer: the view reads them, Repr refuses them.
        let bytes = patch(4, 2);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.packet_len(), 20);
        assert_eq!(packet.target_protocol_addr(), &REQUEST[16..20]);
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
        // Longer ones run past the buffer: truncated.
        let bytes = patch(5, 16);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Truncated));
    }

    #[test]
    fn operations() {
        for n in [0u16, 1, 2, 3, 4, 8, 9, 0xffff] {
            assert_eq!(u16::from(Operation::from(n)), n);
        }
        assert_eq!(Operation::from(2), Operation::Reply);
        assert_eq!(
            request_repr().to_string(),
            "ARP who-has 192.0.2.1 tell 192.0.2.2 (52:54:00:12:34:56)"
        );
    }

    fn repr() -> impl Strategy<Value = Repr> {
        (any::<u16>(), any::<[u8; 6]>(), any::<[u8; 4]>(), any::<[u8; 6]>(), any::<[u8; 4]>())
            .prop_map(|(op, sha, spa, tha, tpa)| Repr {
                operation: Operation::from(op),
                source_hardware_addr: ethernet::Address(sha),
                source_protocol_addr: Ipv4Addr::from(spa),
                target_hardware_addr: ethernet::Address(tha),
                target_protocol_addr: Ipv4Addr::from(tpa),
            })
    }

    proptest! {
        #[test]
        fn parse_emit_round_trip(repr in repr()) {
            let mut buffer = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut buffer[..]));
            let packet = Packet::new_checked(&buffer[..]).unwrap();
            prop_assert_eq!(Repr::parse(&packet), Ok(repr));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..64),
            plausible in any::<bool>(),
        ) {
            // Random address lengths rarely fit; half the cases get small ones that may.
            if plausible && bytes.len() >= 6 {
                bytes[4] %= 16;
                bytes[5] %= 16;
            }
            if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                let _ = (packet.hardware_type(), packet.protocol_type(), packet.operation());
                let (hlen, plen) = (packet.hardware_len(), packet.protocol_len());
                prop_assert_eq!(packet.source_hardware_addr().len(), usize::from(hlen));
                prop_assert_eq!(packet.target_protocol_addr().len(), usize::from(plen));
                let _ = (packet.source_protocol_addr(), packet.target_hardware_addr());
                let _ = Repr::parse(&packet);
            }
            let _ = Repr::parse(&Packet::new_unchecked(&bytes[..]));
        }
    }
}
