//! The interface's IPv6 side: its addresses, each through duplicate address detection
//! (RFC 4862 §5.4), the link-local one made stable and opaque (RFC 7217), the groups it
//! listens to, the on-link prefixes and default router, and source address selection.

use core::fmt;
use core::net::Ipv6Addr;
use core::str::FromStr;

use siphasher::sip::SipHasher24;

use super::iface::ParseCidrError;
use crate::time::Instant;
use crate::wire::ethernet;
use crate::wire::ipv6;

/// An IPv6 address with its prefix length: `2001:db8::2/64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv6Cidr {
    /// The address.
    pub addr: Ipv6Addr,
    /// The prefix length, 0 to 128.
    pub prefix_len: u8,
}

impl Ipv6Cidr {
    /// `addr/prefix_len`; `None` if the prefix is longer than 128.
    pub const fn new(addr: Ipv6Addr, prefix_len: u8) -> Option<Self> {
        if prefix_len > 128 { None } else { Some(Self { addr, prefix_len }) }
    }

    /// The mask of `prefix_len` one bits.
    const fn mask(&self) -> u128 {
        if self.prefix_len == 0 { 0 } else { u128::MAX << (128 - self.prefix_len as u32) }
    }

    /// The prefix: the address with the interface bits cleared.
    pub const fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(self.addr.to_bits() & self.mask())
    }

    /// Whether `ip` is on this prefix.
    pub const fn contains(&self, ip: Ipv6Addr) -> bool {
        ip.to_bits() & self.mask() == self.network().to_bits()
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv6Cidr {
    type Err = ParseCidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s.split_once('/').ok_or(ParseCidrError::V6_ERROR)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| ParseCidrError::V6_ERROR)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseCidrError::V6_ERROR);
        }
        let len: u8 = len.parse().map_err(|_| ParseCidrError::V6_ERROR)?;
        Self::new(addr, len).ok_or(ParseCidrError::V6_ERROR)
    }
}

/// The link-local prefix, `fe80::/64`.
const LINK_LOCAL_PREFIX: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0);

/// A stable, opaque interface identifier (RFC 7217 §5): the low 64 bits of an address on
/// `prefix` for the interface with MAC `mac`, the same every time for the same `secret`,
/// and different on every prefix, so it neither tracks the host across networks nor
/// reveals its MAC. `dad_counter` counts the conflicts so far: each gives a new identifier.
///
/// The pseudorandom function is SipHash-2-4 keyed with the secret, over the prefix's high
/// 64 bits, the MAC and the counter; an identifier RFC 5453 reserves (the subnet-router
/// anycast zero, the reserved anycast range) moves on to the next counter value.
pub(crate) fn stable_iid(
    secret: &[u8; 16],
    prefix: Ipv6Addr,
    mac: ethernet::Address,
    dad_counter: u8,
) -> u64 {
    use core::hash::Hasher as _;
    let mut counter = dad_counter;
    loop {
        let mut h = SipHasher24::new_with_key(secret);
        h.write(&prefix.octets()[..8]);
        h.write(mac.as_bytes());
        h.write_u8(counter);
        let iid = h.finish();
        // RFC 5453: 0 and fdff:ffff:ffff:ff80 to fdff:ffff:ffff:ffff are reserved.
        if iid != 0 && !(0xfdff_ffff_ffff_ff80..=0xfdff_ffff_ffff_ffff).contains(&iid) {
            return iid;
        }
        counter = counter.wrapping_add(1);
    }
}

/// The address on a /64 `prefix` with interface identifier `iid`.
pub(crate) const fn with_iid(prefix: Ipv6Addr, iid: u64) -> Ipv6Addr {
    Ipv6Addr::from_bits(prefix.to_bits() & !(u64::MAX as u128) | iid as u128)
}

/// Where an address came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The interface's own link-local address (RFC 4862 §5.3).
    LinkLocal,
    /// Configured (`Ipv6Config::addresses`).
    Static,
    /// Made from a prefix a router advertised (SLAAC, RFC 4862 §5.5.3).
    Slaac,
}

/// How far an address is through duplicate address detection (RFC 4862 §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dad {
    /// Not usable yet: `left` more solicitations to send, the next (or, with none left,
    /// the end of the wait for an answer) at `next`; `None` before the first is scheduled.
    Tentative { left: u32, next: Option<Instant> },
    /// Unique as far as the link could tell: usable.
    Preferred,
    /// Another node holds it: never used (RFC 4862 §5.4.5).
    Duplicated,
}

/// One of our IPv6 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Address6 {
    pub(crate) cidr: Ipv6Cidr,
    pub(crate) origin: Origin,
    pub(crate) dad: Dad,
    /// Conflicts met so far: a stable link-local address is made anew with each (RFC 7217
    /// §6), up to `IDGEN_RETRIES`.
    pub(crate) conflicts: u8,
    /// When it stops being valid and is removed (`None`: never, as a configured one).
    pub(crate) valid_until: Option<Instant>,
    /// When it becomes deprecated (`None`: never).
    pub(crate) preferred_until: Option<Instant>,
    /// Its preferred lifetime has passed: still ours, no longer chosen as a source while
    /// another fits (RFC 4862 §5.5.4).
    pub(crate) deprecated: bool,
}

/// Stable identifiers tried for one address before giving up (RFC 7217 §6).
pub(crate) const IDGEN_RETRIES: u8 = 3;

impl Address6 {
    /// Whether it may be a source or destination: through DAD.
    pub(crate) const fn usable(&self) -> bool {
        matches!(self.dad, Dad::Preferred)
    }

    /// Whether it is still being checked.
    pub(crate) const fn tentative(&self) -> bool {
        matches!(self.dad, Dad::Tentative { .. })
    }
}

/// A prefix a router said is on-link, until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OnLink {
    pub(crate) prefix: Ipv6Cidr,
    pub(crate) until: Instant,
}

/// A default router a router advertisement made, until when (RFC 4861 §6.3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Router {
    pub(crate) addr: Ipv6Addr,
    pub(crate) until: Instant,
}

/// The IPv6 addresses and routes of the interface.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interface6 {
    pub(crate) addresses: Vec<Address6>,
    /// The configured default router, a link-local address of a neighbour.
    pub(crate) gateway: Option<Ipv6Addr>,
    /// Default routers learned from advertisements, the first alive used.
    pub(crate) routers: Vec<Router>,
    /// On-link prefixes learned from advertisements.
    pub(crate) on_link: Vec<OnLink>,
}

impl Interface6 {
    /// Whether `ip` is one of our usable unicast addresses.
    pub(crate) fn has_addr(&self, ip: Ipv6Addr) -> bool {
        self.addresses.iter().any(|a| a.cidr.addr == ip && a.usable())
    }

    /// Our address `ip` in whatever state it is, if we have it.
    pub(crate) fn find(&self, ip: Ipv6Addr) -> Option<&Address6> {
        self.addresses.iter().find(|a| a.cidr.addr == ip && a.dad != Dad::Duplicated)
    }

    /// Our address `ip` in whatever state it is, mutably.
    pub(crate) fn find_mut(&mut self, ip: Ipv6Addr) -> Option<&mut Address6> {
        self.addresses.iter_mut().find(|a| a.cidr.addr == ip && a.dad != Dad::Duplicated)
    }

    /// Whether we listen to multicast group `group`: all-nodes, and the solicited-node
    /// group of each address not known to be another node's (RFC 4861 §7.2.1; a tentative
    /// address's group is joined before its DAD, RFC 4862 §5.4.2).
    pub(crate) fn listens_to(&self, group: Ipv6Addr) -> bool {
        group == ipv6::ALL_NODES || self.groups().any(|g| g == group)
    }

    /// The solicited-node groups we belong to, once each, in address order.
    pub(crate) fn groups(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.addresses
            .iter()
            .enumerate()
            .filter(|(_, a)| a.dad != Dad::Duplicated)
            .filter(|(i, a)| {
                let group = ipv6::solicited_node(a.cidr.addr);
                !self.addresses[..*i]
                    .iter()
                    .any(|b| b.dad != Dad::Duplicated && ipv6::solicited_node(b.cidr.addr) == group)
            })
            .map(|(_, a)| ipv6::solicited_node(a.cidr.addr))
    }

    /// The neighbour a packet for `dst` goes to: `dst` itself when it is link-local,
    /// multicast or on one of our prefixes, else the default router.
    pub(crate) fn next_hop(&self, dst: Ipv6Addr) -> Option<Ipv6Addr> {
        if ipv6::is_link_local(dst) || dst.is_multicast() || self.on_link(dst) {
            return Some(dst);
        }
        self.gateway.or_else(|| self.routers.first().map(|r| r.addr))
    }

    /// Whether `dst` is on the prefix of one of our configured usable addresses, or on a
    /// prefix a router said is on-link. (A SLAAC address's prefix is on-link only if the
    /// router said so: RFC 5942 §4.)
    fn on_link(&self, dst: Ipv6Addr) -> bool {
        let ours = |a: &Address6| a.usable() && a.origin != Origin::Slaac && a.cidr.contains(dst);
        self.addresses.iter().any(ours) || self.on_link.iter().any(|p| p.prefix.contains(dst))
    }

    /// The source address for a packet to `dst` (RFC 6724 §5, the rules that matter on one
    /// interface): the same scope as `dst` (a link-local source for a link-local or
    /// link-scoped multicast destination, a global one otherwise), then the longest
    /// matching prefix. `None` while no usable address fits.
    pub(crate) fn source_for(&self, dst: Ipv6Addr) -> Option<Ipv6Addr> {
        let link_scope =
            ipv6::is_link_local(dst) || (dst.is_multicast() && dst.octets()[1] & 0x0f <= 2);
        let common = |a: &Address6| (a.cidr.addr.to_bits() ^ dst.to_bits()).leading_zeros();
        // RFC 6724 rule 3: a deprecated address only when nothing else fits.
        let preferred = |a: &&Address6| a.usable() && !a.deprecated;
        let usable = self.addresses.iter().filter(preferred);
        let same_scope = usable.clone().filter(|a| ipv6::is_link_local(a.cidr.addr) == link_scope);
        same_scope
            .max_by_key(|a| common(a))
            .or_else(|| usable.max_by_key(|a| common(a)))
            .or_else(|| self.addresses.iter().filter(|a| a.usable()).max_by_key(|a| common(a)))
            .map(|a| a.cidr.addr)
    }

    /// The link-local address, if it is usable.
    pub(crate) fn link_local(&self) -> Option<Ipv6Addr> {
        self.addresses
            .iter()
            .find(|a| a.origin == Origin::LinkLocal && a.usable())
            .map(|a| a.cidr.addr)
    }
}

/// The link-local address of an interface with MAC `mac` after `conflicts` conflicts.
pub(crate) fn link_local(secret: &[u8; 16], mac: ethernet::Address, conflicts: u8) -> Ipv6Cidr {
    let iid = stable_iid(secret, LINK_LOCAL_PREFIX, mac, conflicts);
    Ipv6Cidr { addr: with_iid(LINK_LOCAL_PREFIX, iid), prefix_len: 64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv6Cidr {
        s.parse().unwrap()
    }

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn usable(c: &str, origin: Origin) -> Address6 {
        Address6 {
            cidr: cidr(c),
            origin,
            dad: Dad::Preferred,
            conflicts: 0,
            valid_until: None,
            preferred_until: None,
            deprecated: false,
        }
    }

    const MAC: ethernet::Address = ethernet::Address([2, 0, 0, 0, 0, 1]);

    #[test]
    fn parses_and_prints() {
        let c = cidr("2001:db8::77/64");
        assert_eq!((c.addr, c.prefix_len), (addr("2001:db8::77"), 64));
        assert_eq!(c.to_string(), "2001:db8::77/64");
        assert_eq!(c.network(), addr("2001:db8::"));
        assert!(c.contains(addr("2001:db8::1:2")));
        assert!(!c.contains(addr("2001:db9::1")));
        assert!(cidr("::/0").contains(addr("2001:db8::1")));
        for bad in ["2001:db8::1", "2001:db8::1/129", "2001:db8::1/", "x/64", "192.0.2.1/24"] {
            assert!(bad.parse::<Ipv6Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn stable_identifiers_are_stable_opaque_and_per_prefix() {
        let secret = [7; 16];
        let a = stable_iid(&secret, LINK_LOCAL_PREFIX, MAC, 0);
        assert_eq!(a, stable_iid(&secret, LINK_LOCAL_PREFIX, MAC, 0), "stable");
        assert_ne!(a, stable_iid(&[8; 16], LINK_LOCAL_PREFIX, MAC, 0), "keyed");
        assert_ne!(a, stable_iid(&secret, addr("2001:db8::"), MAC, 0), "per prefix");
        assert_ne!(a, stable_iid(&secret, LINK_LOCAL_PREFIX, MAC, 1), "new after a conflict");
        let other = ethernet::Address([2, 0, 0, 0, 0, 2]);
        assert_ne!(a, stable_iid(&secret, LINK_LOCAL_PREFIX, other, 0), "per interface");
        // Not the modified EUI-64 of the MAC (RFC 4291 appendix A), which would reveal it.
        assert_ne!(a, 0x0000_00ff_fe00_0001);
        let ll = link_local(&secret, MAC, 0);
        assert!(ipv6::is_link_local(ll.addr));
        assert_eq!(ll.addr.to_bits() as u64, a);
        assert_eq!(ll.prefix_len, 64);
    }

    #[test]
    fn groups_are_joined_once_and_not_for_duplicates() {
        let mut iface = Interface6::default();
        iface.addresses.push(usable("fe80::aa:1/64", Origin::LinkLocal));
        iface.addresses.push(usable("2001:db8::aa:1/64", Origin::Static));
        let mut dup = usable("2001:db8::bb:2/64", Origin::Static);
        dup.dad = Dad::Duplicated;
        iface.addresses.push(dup);
        let groups: Vec<_> = iface.groups().collect();
        assert_eq!(groups, [addr("ff02::1:ffaa:1")]);
        assert!(iface.listens_to(addr("ff02::1")));
        assert!(iface.listens_to(addr("ff02::1:ffaa:1")));
        assert!(!iface.listens_to(addr("ff02::1:ffbb:2")));
        assert!(!iface.has_addr(addr("2001:db8::bb:2")));
    }

    #[test]
    fn routes_and_sources() {
        let mut iface = Interface6::default();
        iface.addresses.push(usable("fe80::1/64", Origin::LinkLocal));
        iface.addresses.push(usable("2001:db8:1::1/64", Origin::Static));
        iface.addresses.push(usable("2001:db8:2::1/64", Origin::Static));
        iface.gateway = Some(addr("fe80::fe"));
        assert_eq!(iface.next_hop(addr("2001:db8:1::9")), Some(addr("2001:db8:1::9")));
        assert_eq!(iface.next_hop(addr("fe80::9")), Some(addr("fe80::9")));
        assert_eq!(iface.next_hop(addr("2001:db8:99::9")), Some(addr("fe80::fe")));
        assert_eq!(iface.source_for(addr("fe80::9")), Some(addr("fe80::1")));
        assert_eq!(iface.source_for(addr("ff02::1")), Some(addr("fe80::1")));
        assert_eq!(iface.source_for(addr("2001:db8:2::9")), Some(addr("2001:db8:2::1")));
        assert_eq!(iface.source_for(addr("2001:db8:1::9")), Some(addr("2001:db8:1::1")));
        // A tentative address is neither a source nor a route.
        iface.addresses[2].dad = Dad::Tentative { left: 1, next: None };
        assert_eq!(iface.source_for(addr("2001:db8:2::9")), Some(addr("2001:db8:1::1")));
        assert_eq!(iface.next_hop(addr("2001:db8:2::9")), Some(addr("fe80::fe")));
        assert!(iface.find(addr("2001:db8:2::1")).is_some_and(Address6::tentative));
        iface.gateway = None;
        assert_eq!(iface.next_hop(addr("2001:db8:99::9")), None);
    }
}
