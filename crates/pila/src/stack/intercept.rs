//! Transparent mode: traffic to addresses that are not the stack's own, taken over as if
//! they were, for proxies that terminate every connection a TUN device brings them.
//!
//! An intercepting TCP listener ([`Stack::tcp_intercept`]) takes the SYNs to any address
//! and port inside its prefixes; the connection it yields has the original destination as
//! its local address, and every segment of it leaves from there. An intercepting UDP
//! socket ([`Stack::udp_intercept`]) receives the datagrams to any such address with their
//! original destination ([`Stack::udp_recv_from_to`]) and answers from it
//! ([`Stack::udp_send_from`]). Echo requests to intercepted addresses are answered only
//! where asked ([`Stack::icmp_intercept_echo`]); ICMP errors about intercepted connections
//! reach them as they reach any other.
//!
//! The stack's own addresses are never intercepted: their listeners and sockets keep them.
//! Everything else of the normal path holds: the SYN queue and accept backlog, SYN cookies,
//! RFC 5961, window scaling and SACK, each connection's bounded buffers.

use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;

use super::slab::Key;
use super::{Error, Ipv4Cidr, Ipv6Cidr, ListenerHandle, ParseCidrError, Stack, UdpHandle};
use crate::wire::ip::Protocol;

/// An IPv4 or IPv6 prefix: `192.0.2.0/24`, `2001:db8::/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpCidr {
    /// An IPv4 prefix.
    V4(Ipv4Cidr),
    /// An IPv6 prefix.
    V6(Ipv6Cidr),
}

impl IpCidr {
    /// Whether `ip` is inside the prefix (never across families).
    pub const fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::V4(c), IpAddr::V4(ip)) => c.contains(ip),
            (Self::V6(c), IpAddr::V6(ip)) => c.contains(ip),
            _ => false,
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(c) => c.fmt(f),
            Self::V6(c) => c.fmt(f),
        }
    }
}

impl From<Ipv4Cidr> for IpCidr {
    fn from(c: Ipv4Cidr) -> Self {
        Self::V4(c)
    }
}

impl From<Ipv6Cidr> for IpCidr {
    fn from(c: Ipv6Cidr) -> Self {
        Self::V6(c)
    }
}

impl FromStr for IpCidr {
    type Err = ParseCidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') { s.parse().map(Self::V6) } else { s.parse().map(Self::V4) }
    }
}

/// Whether `prefixes` take `ip`: an empty list takes every address.
fn covers(prefixes: &[IpCidr], ip: IpAddr) -> bool {
    prefixes.is_empty() || prefixes.iter().any(|p| p.contains(ip))
}

/// What the stack takes over though it is not addressed to it, each with its prefixes.
#[derive(Debug, Default)]
pub(crate) struct Intercepts {
    /// Intercepting TCP listeners, in the order made: the first that covers an address
    /// takes its SYNs.
    tcp: Vec<(Vec<IpCidr>, Key)>,
    /// Intercepting UDP sockets, likewise.
    udp: Vec<(Vec<IpCidr>, Key)>,
    /// Where echo requests are answered; `None`: nowhere.
    echo: Option<Vec<IpCidr>>,
}

impl Intercepts {
    /// Whether nothing is intercepted (the common case, checked first).
    pub(crate) fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty() && self.echo.is_none()
    }

    /// The listener that takes SYNs to `ip`.
    pub(crate) fn tcp_for(&self, ip: IpAddr) -> Option<Key> {
        self.tcp.iter().find(|(p, _)| covers(p, ip)).map(|&(_, k)| k)
    }

    /// The socket that takes datagrams to `ip`.
    pub(crate) fn udp_for(&self, ip: IpAddr) -> Option<Key> {
        self.udp.iter().find(|(p, _)| covers(p, ip)).map(|&(_, k)| k)
    }

    /// Whether echo requests to `ip` are answered.
    pub(crate) fn echoes(&self, ip: IpAddr) -> bool {
        self.echo.as_deref().is_some_and(|p| covers(p, ip))
    }

    /// Whether `ip` is intercepted for anything: its ICMP errors are ours to read.
    pub(crate) fn covers(&self, ip: IpAddr) -> bool {
        !self.is_empty()
            && (self.tcp_for(ip).is_some() || self.udp_for(ip).is_some() || self.echoes(ip))
    }

    /// Whether a packet carrying `protocol` to `ip`, not one of ours, is taken over.
    pub(crate) fn takes(&self, protocol: Protocol, ip: IpAddr) -> bool {
        if self.is_empty() || ip.is_multicast() || ip.is_unspecified() {
            return false;
        }
        match protocol {
            Protocol::Tcp => self.tcp_for(ip).is_some(),
            Protocol::Udp => self.udp_for(ip).is_some(),
            Protocol::Icmp | Protocol::Icmpv6 => self.covers(ip),
            _ => false,
        }
    }

    /// Forgets the listener `key`, closed.
    pub(crate) fn forget_tcp(&mut self, key: Key) {
        self.tcp.retain(|&(_, k)| k != key);
    }

    /// Forgets the socket `key`, closed.
    pub(crate) fn forget_udp(&mut self, key: Key) {
        self.udp.retain(|&(_, k)| k != key);
    }
}

impl Stack {
    /// Listens for connections to any address and port inside `prefixes` (every address
    /// if empty) that is not one of the stack's own: each connection [`Stack::tcp_accept`]
    /// yields has the original destination as its local address
    /// ([`TcpSocket::local_addr`](super::TcpSocket)), and its segments leave from it. Up
    /// to `backlog` established connections wait to be accepted, as for
    /// [`Stack::tcp_listen`]; more SYNs than the SYN queue holds get cookies.
    ///
    /// Listeners made earlier take the addresses they cover first. Close it with
    /// [`Stack::listener_close`].
    pub fn tcp_intercept(
        &mut self,
        prefixes: &[IpCidr],
        backlog: usize,
    ) -> Result<ListenerHandle, Error> {
        if backlog == 0 {
            return Err(Error::InvalidInput);
        }
        let l = self.tcp.intercept_listener(backlog, self.config.max_syn_backlog);
        self.intercepts.tcp.push((prefixes.to_vec(), l.0));
        Ok(l)
    }

    /// A UDP socket that receives the datagrams to any address and port inside `prefixes`
    /// (every address if empty) that is not one of the stack's own, each with its original
    /// destination ([`Stack::udp_recv_from_to`]), and answers from such an address
    /// ([`Stack::udp_send_from`]). Its receive queue is bounded as every socket's is.
    pub fn udp_intercept(&mut self, prefixes: &[IpCidr]) -> Result<UdpHandle, Error> {
        let key = self.udp.intercept_socket(self.config.udp_recv_queue);
        self.intercepts.udp.push((prefixes.to_vec(), key));
        Ok(UdpHandle(key))
    }

    /// Answers echo requests (ping) to the intercepted addresses inside `prefixes` (all of
    /// them if empty) as if they were ours; `None` stops it (the default: a proxy that
    /// cannot know whether the far host is up does not say it is).
    pub fn icmp_intercept_echo(&mut self, prefixes: Option<Vec<IpCidr>>) {
        self.intercepts.echo = prefixes;
    }

    /// Whether `ip` is one of the stack's own unicast addresses (IPv6: ready for use).
    pub(crate) fn is_own_address(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.iface.has_addr(v4),
            IpAddr::V6(v6) => self.ipv6_address_ready(v6),
        }
    }

    /// Whether `ip` may be the source of what a socket sends: one of ours, or intercepted.
    pub(crate) fn may_send_from(&self, ip: IpAddr) -> bool {
        self.is_own_address(ip) || self.intercepts.covers(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_contain_their_family_only() {
        let v4: IpCidr = "192.0.2.0/24".parse().unwrap();
        let v6: IpCidr = "2001:db8::/32".parse().unwrap();
        assert!(v4.contains("192.0.2.77".parse().unwrap()));
        assert!(!v4.contains("198.51.100.1".parse().unwrap()));
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("192.0.2.1".parse().unwrap()));
        assert!(!v4.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert!("192.0.2.0".parse::<IpCidr>().is_err());
        assert!("2001:db8::/129".parse::<IpCidr>().is_err());
        assert!(covers(&[], "203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn nothing_is_taken_until_asked() {
        let mut i = Intercepts::default();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(i.is_empty() && !i.takes(Protocol::Tcp, ip) && !i.covers(ip));
        i.tcp.push((vec!["198.51.100.0/24".parse().unwrap()], Key::first(3)));
        assert!(i.takes(Protocol::Tcp, ip) && i.takes(Protocol::Icmp, ip));
        assert!(!i.takes(Protocol::Udp, ip) && !i.echoes(ip));
        assert!(!i.takes(Protocol::Tcp, "224.0.0.1".parse().unwrap()));
        assert!(!i.takes(Protocol::Tcp, "192.0.2.1".parse().unwrap()));
        i.forget_tcp(Key::first(3));
        assert!(i.is_empty());
    }
}
