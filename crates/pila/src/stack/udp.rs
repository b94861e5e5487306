//! UDP over IPv4 and IPv6: datagrams in (to the socket bound to their address and port,
//! exact address first, then the wildcard, or an ICMP port unreachable), the socket API,
//! and each socket's bounded receive queue.
//!
//! A socket bound to `[::]` is dual-stack, as Linux's are by default: it takes IPv4
//! datagrams too, which it sees from IPv4-mapped addresses (`::ffff:192.0.2.1`), and it
//! sends to such an address over IPv4.

use std::collections::{HashMap, VecDeque};

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::slab::{Key, Slab};
use super::{Error, SocketHandle, Stack, UdpHandle};
use crate::time::Instant;
use crate::wire::ip::Protocol;
use crate::wire::{icmpv4, icmpv6, ipv4, ipv6, udp as wudp};

/// One UDP socket.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    pub(crate) local: SocketAddr,
    pub(crate) remote: Option<SocketAddr>,
    /// Each datagram with its sender and the address it was sent to.
    queue: VecDeque<Queued>,
    queued: usize,
    limit: usize,
    pub(crate) error: Option<Error>,
    /// Made by [`Stack::udp_intercept`]: bound to no port, it sees addresses as they are.
    intercept: bool,
}

/// A datagram waiting to be read.
#[derive(Debug)]
struct Queued {
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
}

impl UdpSocket {
    fn new(local: SocketAddr, limit: usize, intercept: bool) -> Self {
        Self {
            local,
            remote: None,
            queue: VecDeque::new(),
            queued: 0,
            limit,
            error: None,
            intercept,
        }
    }

    /// Queues a datagram; `false` when the queue has no room for it.
    fn push(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        if self.queued + data.len() > self.limit {
            return false;
        }
        self.queued += data.len();
        self.queue.push_back(Queued { from, to, data: data.to_vec() });
        true
    }

    /// The memory its queue holds: each datagram's bytes and its record.
    fn memory(&self) -> usize {
        self.queued + self.queue.len() * size_of::<Queued>()
    }

    /// The oldest datagram, copied into `buf` (cut short if `buf` is), its sender and the
    /// address it was sent to.
    fn pop(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr, SocketAddr)> {
        let Queued { from, to, data } = self.queue.pop_front()?;
        self.queued -= data.len();
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Some((n, from, to))
    }

    /// How this socket names `peer`: an IPv6 socket sees an IPv4 peer at its mapped
    /// address (an intercepting one, bound to no address, sees it as it is).
    fn as_seen(&self, peer: SocketAddr) -> SocketAddr {
        match (self.local, peer) {
            (SocketAddr::V6(_), SocketAddr::V4(p)) if !self.intercept => {
                SocketAddr::V6(SocketAddrV6::new(p.ip().to_ipv6_mapped(), p.port(), 0, 0))
            }
            _ => peer,
        }
    }
}

/// `addr` with an IPv4-mapped IPv6 address turned into the IPv4 address it stands for.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, a.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The wildcard of `ip`'s family.
const fn wildcard(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// The dual-stack wildcard, `::`.
const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// All UDP sockets.
#[derive(Debug, Default)]
pub(crate) struct UdpTable {
    pub(crate) sockets: Slab<UdpSocket>,
    bound: HashMap<(IpAddr, u16), Key>,
    /// Sockets bound per port, any address.
    ports: HashMap<u16, u32>,
    /// The memory every socket's queue holds, charged to the stack's budget.
    memory: usize,
}

impl UdpTable {
    /// Whether binding `local` would clash: the same address and port, or a wildcard and
    /// any address on the port (`::` covers both families).
    pub(crate) fn in_use(&self, local: SocketAddr) -> bool {
        let (ip, port) = (local.ip(), local.port());
        if ip.is_unspecified() {
            self.ports.contains_key(&port)
        } else {
            [ip, wildcard(ip), ANY6].iter().any(|&a| self.bound.contains_key(&(a, port)))
        }
    }

    /// Binds a new socket to `local`, which must not be [`in_use`](Self::in_use).
    pub(crate) fn bind(&mut self, local: SocketAddr, limit: usize) -> Key {
        let key = self.sockets.insert(UdpSocket::new(local, limit, false));
        self.bound.insert((local.ip(), local.port()), key);
        *self.ports.entry(local.port()).or_default() += 1;
        key
    }

    /// A socket for [`Stack::udp_intercept`]: on `[::]:0`, in no map of bound ones.
    pub(crate) fn intercept_socket(&mut self, limit: usize) -> Key {
        self.sockets.insert(UdpSocket::new(SocketAddr::new(ANY6, 0), limit, true))
    }

    /// The memory the sockets' queues hold.
    pub(crate) const fn memory(&self) -> usize {
        self.memory
    }

    /// Queues a datagram on socket `key`; `false` when its queue has no room for it.
    pub(crate) fn push(&mut self, key: Key, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        let Some(s) = self.sockets.get_mut(key) else { return false };
        let before = s.memory();
        let pushed = s.push(from, to, data);
        self.memory = self.memory + s.memory() - before;
        pushed
    }

    /// Takes the oldest datagram of socket `key` into `buf`, like [`UdpSocket::pop`].
    pub(crate) fn pop(
        &mut self,
        key: Key,
        buf: &mut [u8],
    ) -> Option<(usize, SocketAddr, SocketAddr)> {
        let s = self.sockets.get_mut(key)?;
        let before = s.memory();
        let popped = s.pop(buf);
        self.memory = self.memory + s.memory() - before;
        popped
    }

    /// Closes a socket, dropping its queue.
    pub(crate) fn close(&mut self, key: Key) {
        let Some(s) = self.sockets.remove(key) else { return };
        self.memory -= s.memory();
        if s.intercept {
            return;
        }
        self.bound.remove(&(s.local.ip(), s.local.port()));
        if let Some(n) = self.ports.get_mut(&s.local.port()) {
            *n -= 1;
            if *n == 0 {
                self.ports.remove(&s.local.port());
            }
        }
    }

    /// The socket a datagram to `dst` from `src` goes to: bound to `dst`'s address, or its
    /// family's wildcard, or `::`; and, if connected, connected to `src`.
    pub(crate) fn lookup(&self, dst: SocketAddr, src: SocketAddr) -> Option<Key> {
        let key = self.by_local(dst)?;
        let s = self.sockets.get(key)?;
        match s.remote {
            Some(remote) if canonical(remote) != src => None,
            _ => Some(key),
        }
    }

    /// The socket bound to `local`, exactly or by wildcard, whoever it is connected to.
    pub(crate) fn by_local(&self, local: SocketAddr) -> Option<Key> {
        let (ip, port) = (local.ip(), local.port());
        [ip, wildcard(ip), ANY6].iter().find_map(|&a| self.bound.get(&(a, port))).copied()
    }
}

/// The network-layer facts a datagram arrived with, for the answer a refusal gets.
pub(super) enum Arrival<'a> {
    /// Over IPv4: its header, the datagram as received, whether it was a broadcast.
    V4(&'a ipv4::Repr, &'a [u8], bool),
    /// Over IPv6: its header, the packet as received, whether it went to a group.
    V6(&'a ipv6::Repr, &'a [u8], bool),
}

impl Stack {
    /// A UDP datagram arrived from `src_ip` to `dst_ip`: to the socket bound to its
    /// address and port, or answered with a port unreachable of its family.
    pub(super) fn udp_input(
        &mut self,
        now: Instant,
        src_ip: IpAddr,
        dst_ip: IpAddr,
        payload: &[u8],
        arrival: Arrival<'_>,
    ) {
        let Ok(packet) = wudp::Packet::new_checked(payload) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let Ok(repr) = wudp::Repr::parse(&packet, src_ip, dst_ip, &self.rx_checksums()) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        // RFC 8200 §8.1: over IPv6 the checksum is not optional.
        if dst_ip.is_ipv6() && packet.checksum() == 0 {
            self.counters.udp_in_errors += 1;
            return;
        }
        let src = SocketAddr::new(src_ip, repr.src_port);
        let dst = SocketAddr::new(dst_ip, repr.dst_port);
        // Not to one of ours: it reached here because it is intercepted.
        let group = matches!(arrival, Arrival::V4(_, _, true) | Arrival::V6(_, _, true));
        let key = if self.intercepts.is_empty() || group || self.is_own_address(dst_ip) {
            self.udp.lookup(dst, src)
        } else {
            self.intercepts.udp_for(dst_ip)
        };
        let Some(key) = key else {
            self.counters.udp_no_ports += 1;
            match arrival {
                Arrival::V4(ip, raw, false) => {
                    self.icmp_error(now, icmpv4::DstUnreachable::PortUnreachable, ip, raw);
                }
                Arrival::V6(ip, raw, false) => {
                    let reason = icmpv6::DstUnreachable::PortUnreachable;
                    self.icmpv6_unreachable(now, reason, ip, raw);
                }
                _ => {}
            }
            return;
        };
        let Some(socket) = self.udp.sockets.get(key) else { return };
        let (from, to) = (socket.as_seen(src), socket.as_seen(dst));
        if !self.memory_allows(packet.payload().len()) {
            self.counters.udp_in_errors += 1;
            self.counters.mem_dropped += 1;
            return;
        }
        let pushed = self.udp.push(key, from, to, packet.payload());
        self.memory_changed();
        if pushed {
            self.counters.udp_in_datagrams += 1;
            self.wake(SocketHandle::Udp(UdpHandle(key)));
        } else {
            self.counters.udp_in_errors += 1;
        }
    }

    /// Binds a UDP socket to `local`: one of our addresses or the unspecified address of
    /// either family (`[::]` takes IPv4 too), and a port, 0 for an ephemeral one.
    /// [`Error::AddrInUse`] if taken, [`Error::AddrNotAvailable`] if the address is not
    /// ours.
    pub fn udp_bind(&mut self, local: SocketAddr) -> Result<UdpHandle, Error> {
        let ip = self.check_local_any(local.ip())?;
        let port = if local.port() == 0 {
            let salt = self.rng.next_u32();
            let udp = &self.udp;
            self.ports
                .allocate(ip, None, salt, |p| !udp.in_use(SocketAddr::new(ip, p)))
                .ok_or(Error::AddrNotAvailable)?
        } else {
            local.port()
        };
        let local = SocketAddr::new(ip, port);
        if self.udp.in_use(local) {
            return Err(Error::AddrInUse);
        }
        Ok(UdpHandle(self.udp.bind(local, self.config.udp_recv_queue)))
    }

    /// Connects a UDP socket: `udp_send` goes to `remote`, and only datagrams from it are
    /// received.
    pub fn udp_connect(&mut self, h: UdpHandle, remote: SocketAddr) -> Result<(), Error> {
        let remote = Self::check_remote_any(remote)?;
        let s =
            self.udp.sockets.get_mut(h.0).filter(|s| !s.intercept).ok_or(Error::InvalidInput)?;
        s.remote = Some(s.as_seen(remote));
        s.error = None;
        Ok(())
    }

    /// Sends `data` as one datagram to `to`; returns its length. [`Error::MessageTooLong`]
    /// above what one datagram holds; one larger than the MTU goes out in fragments, of
    /// either family. A socket bound to one family's address cannot send to the other's
    /// ([`Error::InvalidInput`]).
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: UdpHandle,
        data: &[u8],
        to: SocketAddr,
    ) -> Result<usize, Error> {
        let s = self.udp.sockets.get(h.0).ok_or(Error::InvalidInput)?;
        if s.intercept {
            // It has no address of its own to send from.
            return Err(Error::InvalidInput);
        }
        let local = s.local;
        self.send_datagram(now, h, data, local, to)
    }

    /// Sends `data` as one datagram from `from` to `to`, through an intercepting socket
    /// ([`Stack::udp_intercept`]): `from` is the address a datagram to be answered was sent
    /// to, or any other it intercepts, or one of ours. [`Error::AddrNotAvailable`] for any
    /// other source; [`Error::InvalidInput`] through a socket that does not intercept.
    pub fn udp_send_from(
        &mut self,
        now: Instant,
        h: UdpHandle,
        data: &[u8],
        from: SocketAddr,
        to: SocketAddr,
    ) -> Result<usize, Error> {
        let s = self.udp.sockets.get(h.0).ok_or(Error::InvalidInput)?;
        let from = canonical(from);
        if !s.intercept || from.port() == 0 || from.ip().is_unspecified() {
            return Err(Error::InvalidInput);
        }
        if from.is_ipv4() != canonical(to).is_ipv4() {
            return Err(Error::InvalidInput);
        }
        if !self.may_send_from(from.ip()) {
            return Err(Error::AddrNotAvailable);
        }
        self.send_datagram(now, h, data, from, to)
    }

    /// Sends a datagram of socket `h` from `local` (an unspecified address: the route's
    /// source) to `to`.
    fn send_datagram(
        &mut self,
        now: Instant,
        h: UdpHandle,
        data: &[u8],
        local: SocketAddr,
        to: SocketAddr,
    ) -> Result<usize, Error> {
        let to = Self::check_remote_any(to)?;
        let repr = wudp::Repr { src_port: local.port(), dst_port: to.port() };
        let len = repr.buffer_len(data.len());
        let (mut packet, header_len, s, d) = match (local.ip(), to.ip()) {
            (IpAddr::V4(_), IpAddr::V6(_)) => return Err(Error::InvalidInput),
            (IpAddr::V6(l), IpAddr::V4(_)) if !l.is_unspecified() => {
                return Err(Error::InvalidInput);
            }
            (l, IpAddr::V4(dst)) => {
                if data.len() > 65535 - ipv4::HEADER_LEN - wudp::HEADER_LEN {
                    return Err(Error::MessageTooLong);
                }
                let src = match l {
                    IpAddr::V4(l) if !l.is_unspecified() => l,
                    _ => match self.source_for_any(IpAddr::V4(dst))? {
                        IpAddr::V4(src) => src,
                        IpAddr::V6(_) => return Err(Error::NetworkUnreachable),
                    },
                };
                // Not DF: larger than the MTU, it goes out in fragments.
                let packet = self.ip_packet(src, dst, Protocol::Udp, len, false);
                (packet, ipv4::HEADER_LEN, IpAddr::V4(src), IpAddr::V4(dst))
            }
            (l, IpAddr::V6(dst)) => {
                // Larger than the MTU, it goes out in fragments.
                if len > 65535 {
                    return Err(Error::MessageTooLong);
                }
                if self.v6.is_none() {
                    return Err(Error::NetworkUnreachable);
                }
                let src = match l {
                    IpAddr::V6(l) if !l.is_unspecified() => l,
                    _ => match self.source_for_any(IpAddr::V6(dst))? {
                        IpAddr::V6(src) => src,
                        IpAddr::V4(_) => return Err(Error::NetworkUnreachable),
                    },
                };
                let hop_limit = self.hop_limit6();
                let mut packet = self.ip6_packet(src, dst, Protocol::Udp, len, hop_limit);
                let flow = self.flow_label(src, dst, Protocol::Udp, (local.port(), to.port()));
                ipv6::Packet::new_unchecked(&mut packet[..]).set_flow_label(flow);
                (packet, ipv6::HEADER_LEN, IpAddr::V6(src), IpAddr::V6(dst))
            }
        };
        repr.emit(
            &mut wudp::Packet::new_unchecked(&mut packet[header_len..]),
            s,
            d,
            data.len(),
            |p| p.copy_from_slice(data),
            &self.config.checksums,
        )
        .map_err(|_| Error::MessageTooLong)?;
        let owner = Some(SocketHandle::Udp(h));
        match d {
            IpAddr::V4(dst) => self.send_ip(now, dst, packet, owner)?,
            IpAddr::V6(dst) => self.send_ip6(now, dst, packet, owner)?,
        }
        self.counters.udp_out_datagrams += 1;
        Ok(data.len())
    }

    /// Sends `data` to the connected peer.
    pub fn udp_send(&mut self, now: Instant, h: UdpHandle, data: &[u8]) -> Result<usize, Error> {
        let s = self.udp.sockets.get(h.0).ok_or(Error::InvalidInput)?;
        let remote = s.remote.ok_or(Error::NotConnected)?;
        self.udp_send_to(now, h, data, remote)
    }

    /// Receives the oldest datagram into `buf` (the rest of a longer one is discarded);
    /// [`Error::WouldBlock`] when none waits. A pending error (from ICMP) comes first.
    pub fn udp_recv_from(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), Error> {
        self.udp_recv_from_to(h, buf).map(|(n, from, _)| (n, from))
    }

    /// [`Stack::udp_recv_from`], with the address the datagram was sent to (as Linux's
    /// `IP_PKTINFO` gives it): one of ours, or for an intercepting socket its original
    /// destination.
    pub fn udp_recv_from_to(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr, SocketAddr), Error> {
        let s = self.udp.sockets.get_mut(h.0).ok_or(Error::InvalidInput)?;
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        let popped = self.udp.pop(h.0, buf).ok_or(Error::WouldBlock);
        self.memory_changed();
        popped
    }

    /// Receives from the connected peer, like [`Stack::udp_recv_from`].
    pub fn udp_recv(&mut self, h: UdpHandle, buf: &mut [u8]) -> Result<usize, Error> {
        self.udp_recv_from(h, buf).map(|(n, _)| n)
    }

    /// Takes the socket's pending error, if any.
    pub fn udp_take_error(&mut self, h: UdpHandle) -> Option<Error> {
        self.udp.sockets.get_mut(h.0)?.error.take()
    }

    /// The address the socket is bound to.
    pub fn udp_local_addr(&self, h: UdpHandle) -> Option<SocketAddr> {
        self.udp.sockets.get(h.0).map(|s| s.local)
    }

    /// The peer the socket is connected to.
    pub fn udp_peer_addr(&self, h: UdpHandle) -> Option<SocketAddr> {
        self.udp.sockets.get(h.0)?.remote
    }

    /// Closes the socket; its handle becomes stale.
    pub fn udp_close(&mut self, h: UdpHandle) {
        self.intercepts.forget_udp(h.0);
        self.udp.close(h.0);
    }

    /// An ICMP or ICMPv6 error says `remote` cannot take what `local` sent it: a socket
    /// connected to it gets `error` (RFC 1122 §4.1.3.3); an unconnected one is not told, as
    /// it could not say which of its peers failed.
    pub(super) fn udp_icmp_error(&mut self, local: SocketAddr, remote: SocketAddr, error: Error) {
        let Some(key) = self.udp.by_local(local) else { return };
        let Some(s) = self.udp.sockets.get_mut(key) else { return };
        if s.remote.map(canonical) == Some(canonical(remote)) {
            s.error = Some(error);
            self.wake(SocketHandle::Udp(UdpHandle(key)));
        }
    }

    /// Checks that `ip` may be a local address of a socket: ours, of either family, or
    /// unspecified.
    pub(super) fn check_local_any(&self, ip: IpAddr) -> Result<IpAddr, Error> {
        match ip {
            IpAddr::V4(_) => self.check_local(ip).map(IpAddr::V4),
            IpAddr::V6(v6) if v6.is_unspecified() => Ok(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.check_local(IpAddr::V4(v4)).map(IpAddr::V4),
                None if self.v6.as_ref().is_some_and(|s| s.iface.has_addr(v6)) => Ok(ip),
                None => Err(Error::AddrNotAvailable),
            },
        }
    }

    /// The source address for a datagram or connection to `dst` (RFC 6724's choice for
    /// IPv6); [`Error::NetworkUnreachable`], counted, when no route leads there (for IPv6:
    /// off every on-link prefix with no default router).
    pub(super) fn source_for_any(&mut self, dst: IpAddr) -> Result<IpAddr, Error> {
        let src = match dst {
            IpAddr::V4(dst) => self.iface.source_for(dst).map(IpAddr::V4),
            IpAddr::V6(dst) => self
                .v6
                .as_ref()
                .filter(|v6| v6.iface.next_hop(dst).is_some())
                .and_then(|v6| v6.iface.source_for(dst))
                .map(IpAddr::V6),
        };
        src.ok_or_else(|| {
            match dst {
                IpAddr::V4(_) => self.counters.ip_out_no_routes += 1,
                IpAddr::V6(_) => self.counters.ip6_out_no_routes += 1,
            }
            Error::NetworkUnreachable
        })
    }

    /// Checks that `addr` may be a remote address, of either family: not unspecified, port
    /// not 0. An IPv4-mapped address comes back as the IPv4 one.
    pub(super) fn check_remote_any(addr: SocketAddr) -> Result<SocketAddr, Error> {
        let addr = canonical(addr);
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(Error::InvalidInput);
        }
        Ok(addr)
    }
}
