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
//! A listener made with [`Stack::tcp_intercept_held`] answers no SYN by itself: it holds
//! each ([`Stack::tcp_intercept_poll`]) until the application, which has tried the real
//! destination meanwhile, completes the handshake ([`Stack::tcp_intercept_complete`]) or
//! refuses it ([`Stack::tcp_intercept_refuse`]) with a reset or an ICMP unreachable, so the
//! client's `connect` fails as it would have against the far host itself.
//!
//! The stack's own addresses are never intercepted: their listeners and sockets keep them.
//! Everything else of the normal path holds: the SYN queue and accept backlog, SYN cookies,
//! RFC 5961, window scaling and SACK, each connection's bounded buffers.

use core::fmt;
use core::net::{IpAddr, SocketAddr};
use core::str::FromStr;
use std::collections::{HashMap, VecDeque};

use super::slab::Key;
use super::{Error, Ipv4Cidr, Ipv6Cidr, ListenerHandle, ParseCidrError, Stack, TcpHandle};
use super::{SocketHandle, UdpHandle};
use crate::tcp::Connection;
use crate::time::{Duration, Instant};
use crate::wire::ip::Protocol;
use crate::wire::tcp::Repr;
use crate::wire::{icmpv4, icmpv6, ipv4, ipv6};

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

/// A SYN an intercepting listener holds ([`Stack::tcp_intercept_held`]): the connection
/// a client asks for, from `remote` to the destination `local`, not answered yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeldSyn {
    /// The destination the client asked for: the local address of the connection.
    pub local: SocketAddr,
    /// The client.
    pub remote: SocketAddr,
}

/// How a held SYN is refused ([`Stack::tcp_intercept_refuse`]), so that the client learns
/// what became of the real destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A reset: the client's `connect` fails with "connection refused".
    Reset,
    /// ICMP (or ICMPv6) host unreachable: "no route to host".
    HostUnreachable,
    /// ICMP net unreachable, ICMPv6 no route: "network is unreachable".
    NetworkUnreachable,
}

/// How long a held SYN waits for the application before it is forgotten: the client has
/// given up by then (Linux's last SYN retransmission is at 63 s).
const HOLD_LIMIT: Duration = Duration::from_secs(75);

/// The SYNs an intercepting listener holds.
#[derive(Debug, Default)]
struct Holding {
    /// Not yet polled, oldest first.
    queue: VecDeque<HeldSyn>,
    /// Every held SYN (polled or not), with when it came.
    syns: HashMap<HeldSyn, (Repr<'static>, Instant)>,
}

/// An intercepting TCP listener.
#[derive(Debug)]
struct TcpIntercept {
    prefixes: Vec<IpCidr>,
    key: Key,
    /// Holds its SYNs for the application to answer.
    holding: Option<Holding>,
}

/// What the stack takes over though it is not addressed to it, each with its prefixes.
#[derive(Debug, Default)]
pub(crate) struct Intercepts {
    /// Intercepting TCP listeners, in the order made: the first that covers an address
    /// takes its SYNs.
    tcp: Vec<TcpIntercept>,
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
        self.tcp.iter().find(|t| covers(&t.prefixes, ip)).map(|t| t.key)
    }

    fn holding(&mut self, l: Key) -> Option<&mut Holding> {
        self.tcp.iter_mut().find(|t| t.key == l)?.holding.as_mut()
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

    /// Forgets the listener `key`, closed, and the SYNs it held.
    pub(crate) fn forget_tcp(&mut self, key: Key) {
        self.tcp.retain(|t| t.key != key);
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
        self.intercepts.tcp.push(TcpIntercept {
            prefixes: prefixes.to_vec(),
            key: l.0,
            holding: None,
        });
        Ok(l)
    }

    /// [`Stack::tcp_intercept`] that answers no SYN by itself: each new one is held, at
    /// most [`Config::max_syn_backlog`](super::Config) at a time (more are dropped, and the
    /// clients retransmit), until the application answers it. [`Stack::tcp_intercept_poll`]
    /// names the next; [`Stack::poll_wake`] names the listener when one comes. A held SYN
    /// nobody answers is forgotten after 75 s. Retransmissions of a held SYN are absorbed.
    pub fn tcp_intercept_held(&mut self, prefixes: &[IpCidr]) -> Result<ListenerHandle, Error> {
        let l = self.tcp.intercept_listener(1, self.config.max_syn_backlog);
        let holding = Some(Holding::default());
        self.intercepts.tcp.push(TcpIntercept { prefixes: prefixes.to_vec(), key: l.0, holding });
        Ok(l)
    }

    /// The next SYN the listener `l` holds, oldest first; it stays held until answered.
    pub fn tcp_intercept_poll(&mut self, l: ListenerHandle) -> Option<HeldSyn> {
        self.intercepts.holding(l.0)?.queue.pop_front()
    }

    /// Answers the held SYN `syn` with a SYN-ACK: the connection it makes is the
    /// application's at once, as one it opened itself would be ([`Stack::poll_wake`] names
    /// it when established, or when the handshake fails). [`Error::InvalidInput`] if `l`
    /// holds no such SYN (answered already, or forgotten).
    pub fn tcp_intercept_complete(
        &mut self,
        now: Instant,
        l: ListenerHandle,
        syn: HeldSyn,
    ) -> Result<TcpHandle, Error> {
        let holding = self.intercepts.holding(l.0).ok_or(Error::InvalidInput)?;
        let (seg, _) = holding.syns.remove(&syn).ok_or(Error::InvalidInput)?;
        let HeldSyn { local, remote } = syn;
        let isn = self.tcp.isn.isn(now, local, remote);
        let conn = Connection::accept(
            now,
            local,
            remote,
            &seg,
            isn,
            std::sync::Arc::clone(&self.tcp.config),
        );
        let key = self.open_passive(conn, None, false);
        self.after_tcp(now, key);
        Ok(TcpHandle(key))
    }

    /// Refuses the held SYN `syn` as `how` says: the client's `connect` fails with
    /// "connection refused", "no route to host" or "network is unreachable".
    /// [`Error::InvalidInput`] if `l` holds no such SYN.
    pub fn tcp_intercept_refuse(
        &mut self,
        now: Instant,
        l: ListenerHandle,
        syn: HeldSyn,
        how: Refusal,
    ) -> Result<(), Error> {
        let holding = self.intercepts.holding(l.0).ok_or(Error::InvalidInput)?;
        let (seg, _) = holding.syns.remove(&syn).ok_or(Error::InvalidInput)?;
        let HeldSyn { local, remote } = syn;
        if how == Refusal::Reset {
            self.send_reset(now, local, remote, &seg);
            return Ok(());
        }
        // The error quotes the SYN's IP header and the start of its TCP header: ports and
        // sequence number, all the client needs to find its connection.
        let mut quote = [0; 8];
        quote[..2].copy_from_slice(&remote.port().to_be_bytes());
        quote[2..4].copy_from_slice(&local.port().to_be_bytes());
        quote[4..].copy_from_slice(&seg.seq_number.0.to_be_bytes());
        match (remote.ip(), local.ip()) {
            (IpAddr::V4(src_addr), IpAddr::V4(dst_addr)) => {
                let ip = ipv4::Repr {
                    src_addr,
                    dst_addr,
                    protocol: Protocol::Tcp,
                    payload_len: quote.len(),
                    ttl: 64,
                    tos: 0,
                    ident: 0,
                    dont_frag: true,
                    more_frags: false,
                    frag_offset: 0,
                };
                let mut raw = vec![0; ip.buffer_len()];
                ip.emit(&mut ipv4::Packet::new_unchecked(&mut raw[..]), &self.config.checksums);
                raw[ipv4::HEADER_LEN..].copy_from_slice(&quote);
                let reason = match how {
                    Refusal::NetworkUnreachable => icmpv4::DstUnreachable::NetUnreachable,
                    _ => icmpv4::DstUnreachable::HostUnreachable,
                };
                self.icmp_error(now, reason, &ip, &raw);
            }
            (IpAddr::V6(src_addr), IpAddr::V6(dst_addr)) => {
                let ip = ipv6::Repr {
                    src_addr,
                    dst_addr,
                    next_header: Protocol::Tcp,
                    payload_len: quote.len(),
                    hop_limit: 64,
                    traffic_class: 0,
                    flow_label: 0,
                };
                let mut raw = vec![0; ip.buffer_len()];
                ip.emit(&mut ipv6::Packet::new_unchecked(&mut raw[..]));
                raw[ipv6::HEADER_LEN..].copy_from_slice(&quote);
                let reason = match how {
                    Refusal::NetworkUnreachable => icmpv6::DstUnreachable::NoRoute,
                    _ => icmpv6::DstUnreachable::AddrUnreachable,
                };
                self.icmpv6_unreachable(now, reason, &ip, &raw);
            }
            _ => return Err(Error::InvalidInput),
        }
        Ok(())
    }

    /// A SYN for the holding listener `l`: held, unless it is a retransmission of one
    /// held already or the listener holds as many as it may. Whether `l` holds SYNs.
    pub(crate) fn hold_syn(
        &mut self,
        now: Instant,
        l: Key,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Repr<'_>,
    ) -> bool {
        let limit = self.config.max_syn_backlog.max(1);
        let Some(holding) = self.intercepts.holding(l) else { return false };
        let syn = HeldSyn { local, remote };
        if holding.syns.contains_key(&syn) {
            return true;
        }
        if holding.syns.len() >= limit {
            // Full: those nobody answered in time make room, if there are any.
            holding.syns.retain(|_, (_, at)| now < *at + HOLD_LIMIT);
            holding.queue.retain(|s| holding.syns.contains_key(s));
            if holding.syns.len() >= limit {
                self.counters.tcp_listen_overflows += 1;
                return true;
            }
        }
        // Data on a SYN is not kept: unacknowledged, it comes again after the handshake.
        let held = Repr { payload: &[], ..*seg };
        holding.syns.insert(syn, (held, now));
        holding.queue.push_back(syn);
        self.wake(SocketHandle::Listener(ListenerHandle(l)));
        true
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
        let prefixes = vec!["198.51.100.0/24".parse().unwrap()];
        i.tcp.push(TcpIntercept { prefixes, key: Key::first(3), holding: None });
        assert!(i.takes(Protocol::Tcp, ip) && i.takes(Protocol::Icmp, ip));
        assert!(!i.takes(Protocol::Udp, ip) && !i.echoes(ip));
        assert!(!i.takes(Protocol::Tcp, "224.0.0.1".parse().unwrap()));
        assert!(!i.takes(Protocol::Tcp, "192.0.2.1".parse().unwrap()));
        i.forget_tcp(Key::first(3));
        assert!(i.is_empty());
    }
}
