//! The interface: its IPv4 addresses with their prefixes, the on-link routes they imply,
//! the default gateway, and next-hop selection.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

/// An IPv4 address with its prefix length: `192.0.2.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// `addr/prefix_len`; `None` if the prefix is longer than 32.
    pub const fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Self> {
        if prefix_len > 32 { None } else { Some(Self { addr, prefix_len }) }
    }

    /// The netmask: `prefix_len` one bits.
    pub const fn netmask(&self) -> Ipv4Addr {
        let bits = if self.prefix_len == 0 { 0 } else { u32::MAX << (32 - self.prefix_len) };
        Ipv4Addr::from_bits(bits)
    }

    /// The network address: the address with the host bits cleared.
    pub const fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.addr.to_bits() & self.netmask().to_bits())
    }

    /// The directed broadcast address, or `None` for /31 and /32, which have none (RFC 3021).
    pub const fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            return None;
        }
        Some(Ipv4Addr::from_bits(self.addr.to_bits() | !self.netmask().to_bits()))
    }

    /// Whether `ip` is on this prefix.
    pub const fn contains(&self, ip: Ipv4Addr) -> bool {
        ip.to_bits() & self.netmask().to_bits() == self.network().to_bits()
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Why a string is not an [`Ipv4Cidr`] or an [`Ipv6Cidr`](super::Ipv6Cidr).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseCidrError {
    v6: bool,
}

impl ParseCidrError {
    const V4_ERROR: Self = Self { v6: false };
    pub(crate) const V6_ERROR: Self = Self { v6: true };
}

impl fmt::Display for ParseCidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.v6 {
            "expected an IPv6 address with a prefix length, like 2001:db8::2/64"
        } else {
            "expected an IPv4 address with a prefix length, like 192.0.2.1/24"
        })
    }
}

impl std::error::Error for ParseCidrError {}

impl FromStr for Ipv4Cidr {
    type Err = ParseCidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(ParseCidrError::V4_ERROR)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| ParseCidrError::V4_ERROR)?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseCidrError::V4_ERROR);
        }
        let len: u8 = len.parse().map_err(|_| ParseCidrError::V4_ERROR)?;
        Self::new(addr, len).ok_or(ParseCidrError::V4_ERROR)
    }
}

/// The addresses and routes of the stack's one interface.
#[derive(Clone, Debug)]
pub(crate) struct Interface {
    pub(crate) addresses: Vec<Ipv4Cidr>,
    pub(crate) gateway: Option<Ipv4Addr>,
}

impl Interface {
    /// Whether `ip` is one of our addresses.
    pub(crate) fn has_addr(&self, ip: Ipv4Addr) -> bool {
        self.addresses.iter().any(|c| c.addr == ip)
    }

    /// Whether `ip` is the limited broadcast or the directed broadcast of one of our prefixes.
    pub(crate) fn is_broadcast(&self, ip: Ipv4Addr) -> bool {
        ip == Ipv4Addr::BROADCAST || self.addresses.iter().any(|c| c.broadcast() == Some(ip))
    }

    /// The neighbour a datagram for `dst` goes to: `dst` itself when on-link (the longest
    /// matching prefix wins), else the default gateway; `None` when there is no route.
    pub(crate) fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if dst == Ipv4Addr::BROADCAST || self.on_link(dst).is_some() {
            return Some(dst);
        }
        self.gateway
    }

    /// The prefix `dst` is on, the longest that matches.
    fn on_link(&self, dst: Ipv4Addr) -> Option<&Ipv4Cidr> {
        self.addresses.iter().filter(|c| c.contains(dst)).max_by_key(|c| c.prefix_len)
    }

    /// The source address for a datagram to `dst` (RFC 1122 §3.3.4.3): the address on the
    /// prefix `dst` is on, or the one on the gateway's prefix, or the first.
    pub(crate) fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        let hop = self.next_hop(dst)?;
        self.on_link(hop).or_else(|| self.addresses.first()).map(|c| c.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        let c = cidr("192.0.2.77/24");
        assert_eq!(c.addr, Ipv4Addr::new(192, 0, 2, 77));
        assert_eq!(c.prefix_len, 24);
        assert_eq!(c.to_string(), "192.0.2.77/24");
        assert_eq!(c.network(), Ipv4Addr::new(192, 0, 2, 0));
        assert_eq!(c.broadcast(), Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(cidr("10.0.0.1/0").netmask(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(cidr("10.0.0.1/31").broadcast(), None);
        for bad in ["192.0.2.1", "192.0.2.1/33", "192.0.2.1/", "192.0.2.1/+4", "x/24", "1.2.3/8"] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn next_hop_prefers_the_longest_on_link_prefix_then_the_gateway() {
        let iface = Interface {
            addresses: vec![cidr("10.0.0.1/8"), cidr("10.1.2.3/24")],
            gateway: Some(Ipv4Addr::new(10, 0, 0, 254)),
        };
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(iface.next_hop(ip("10.1.2.9")), Some(ip("10.1.2.9")));
        assert_eq!(iface.source_for(ip("10.1.2.9")), Some(ip("10.1.2.3")));
        assert_eq!(iface.source_for(ip("10.9.9.9")), Some(ip("10.0.0.1")));
        assert_eq!(iface.next_hop(ip("198.51.100.1")), Some(ip("10.0.0.254")));
        assert_eq!(iface.source_for(ip("198.51.100.1")), Some(ip("10.0.0.1")));
        assert!(iface.is_broadcast(ip("10.1.2.255")));
        assert!(iface.is_broadcast(ip("10.255.255.255")));
        assert!(!iface.is_broadcast(ip("10.1.2.254")));
        let no_gw = Interface { gateway: None, ..iface };
        assert_eq!(no_gw.next_hop(ip("198.51.100.1")), None);
    }
}
