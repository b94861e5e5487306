//! UDP: datagrams in (to the socket bound to their address and port, exact address first,
//! then the wildcard, or an ICMP port unreachable), the socket API, and each socket's
//! bounded receive queue.

use std::collections::{HashMap, VecDeque};

use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use super::slab::{Key, Slab};
use super::{Error, SocketHandle, Stack, UdpHandle};
use crate::time::Instant;
use crate::wire::ip::Protocol;
use crate::wire::{icmpv4, ipv4, udp as wudp};

/// One UDP socket.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: Option<SocketAddrV4>,
    queue: VecDeque<(SocketAddrV4, Vec<u8>)>,
    queued: usize,
    limit: usize,
    pub(crate) error: Option<Error>,
}

impl UdpSocket {
    /// Queues a datagram; `false` when the queue has no room for it.
    pub(crate) fn push(&mut self, from: SocketAddrV4, data: &[u8]) -> bool {
        if self.queued + data.len() > self.limit {
            return false;
        }
        self.queued += data.len();
        self.queue.push_back((from, data.to_vec()));
        true
    }

    /// The oldest datagram, copied into `buf` (cut short if `buf` is), and its sender.
    pub(crate) fn pop(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddrV4)> {
        let (from, data) = self.queue.pop_front()?;
        self.queued -= data.len();
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Some((n, from))
    }
}

/// All UDP sockets.
#[derive(Debug, Default)]
pub(crate) struct UdpTable {
    pub(crate) sockets: Slab<UdpSocket>,
    bound: HashMap<(Ipv4Addr, u16), Key>,
    /// Sockets bound per port, any address.
    ports: HashMap<u16, u32>,
}

impl UdpTable {
    /// Whether binding `local` would clash: the same address and port, or the wildcard and
    /// any address on the port.
    pub(crate) fn in_use(&self, local: SocketAddrV4) -> bool {
        if local.ip().is_unspecified() {
            self.ports.contains_key(&local.port())
        } else {
            self.bound.contains_key(&(*local.ip(), local.port()))
                || self.bound.contains_key(&(Ipv4Addr::UNSPECIFIED, local.port()))
        }
    }

    /// Binds a new socket to `local`, which must not be [`in_use`](Self::in_use).
    pub(crate) fn bind(&mut self, local: SocketAddrV4, limit: usize) -> Key {
        let key = self.sockets.insert(UdpSocket {
            local,
            remote: None,
            queue: VecDeque::new(),
            queued: 0,
            limit,
            error: None,
        });
        self.bound.insert((*local.ip(), local.port()), key);
        *self.ports.entry(local.port()).or_default() += 1;
        key
    }

    /// Closes a socket, dropping its queue.
    pub(crate) fn close(&mut self, key: Key) {
        let Some(s) = self.sockets.remove(key) else { return };
        self.bound.remove(&(*s.local.ip(), s.local.port()));
        if let Some(n) = self.ports.get_mut(&s.local.port()) {
            *n -= 1;
            if *n == 0 {
                self.ports.remove(&s.local.port());
            }
        }
    }

    /// The socket a datagram to `dst` from `src` goes to: bound to `dst`'s address or the
    /// wildcard, and, if connected, connected to `src`.
    pub(crate) fn lookup(&self, dst: SocketAddrV4, src: SocketAddrV4) -> Option<Key> {
        let key = self
            .bound
            .get(&(*dst.ip(), dst.port()))
            .or_else(|| self.bound.get(&(Ipv4Addr::UNSPECIFIED, dst.port())))?;
        let s = self.sockets.get(*key)?;
        match s.remote {
            Some(remote) if remote != src => None,
            _ => Some(*key),
        }
    }

    /// The socket bound to `local`, exactly or by wildcard, whoever it is connected to.
    pub(crate) fn by_local(&self, local: SocketAddrV4) -> Option<Key> {
        self.bound
            .get(&(*local.ip(), local.port()))
            .or_else(|| self.bound.get(&(Ipv4Addr::UNSPECIFIED, local.port())))
            .copied()
    }
}

impl Stack {
    /// A UDP datagram arrived: to the socket bound to its address and port, or answered
    /// with ICMP port unreachable.
    pub(super) fn udp_input(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        raw: &[u8],
        broadcast: bool,
    ) {
        let (src_ip, dst_ip) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
        let Ok(packet) = wudp::Packet::new_checked(payload) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let Ok(repr) = wudp::Repr::parse(&packet, src_ip, dst_ip, &self.rx_checksums()) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let src = SocketAddrV4::new(ip.src_addr, repr.src_port);
        let dst = SocketAddrV4::new(ip.dst_addr, repr.dst_port);
        let Some(key) = self.udp.lookup(dst, src) else {
            self.counters.udp_no_ports += 1;
            if !broadcast {
                self.icmp_error(now, icmpv4::DstUnreachable::PortUnreachable, ip, raw);
            }
            return;
        };
        let Some(socket) = self.udp.sockets.get_mut(key) else { return };
        if socket.push(src, packet.payload()) {
            self.counters.udp_in_datagrams += 1;
            self.wake(SocketHandle::Udp(UdpHandle(key)));
        } else {
            self.counters.udp_in_errors += 1;
        }
    }

    /// Binds a UDP socket to `local`: one of our addresses or the unspecified address, and
    /// a port, 0 for an ephemeral one. [`Error::AddrInUse`] if taken,
    /// [`Error::AddrNotAvailable`] if the address is not ours.
    pub fn udp_bind(&mut self, local: SocketAddr) -> Result<UdpHandle, Error> {
        let ip = self.check_local(local.ip())?;
        let port = if local.port() == 0 {
            let salt = self.rng.next_u32();
            let udp = &self.udp;
            self.ports
                .allocate(ip, None, salt, |p| !udp.in_use(SocketAddrV4::new(ip, p)))
                .ok_or(Error::AddrNotAvailable)?
        } else {
            local.port()
        };
        let local = SocketAddrV4::new(ip, port);
        if self.udp.in_use(local) {
            return Err(Error::AddrInUse);
        }
        Ok(UdpHandle(self.udp.bind(local, self.config.udp_recv_queue)))
    }

    /// Connects a UDP socket: `udp_send` goes to `remote`, and only datagrams from it are
    /// received.
    pub fn udp_connect(&mut self, h: UdpHandle, remote: SocketAddr) -> Result<(), Error> {
        let remote = Self::check_remote(remote)?;
        let s = self.udp.sockets.get_mut(h.0).ok_or(Error::InvalidInput)?;
        s.remote = Some(remote);
        s.error = None;
        Ok(())
    }

    /// Sends `data` as one datagram to `to`; returns its length. [`Error::MessageTooLong`]
    /// above 65507 bytes; larger than the MTU, it is fragmented.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: UdpHandle,
        data: &[u8],
        to: SocketAddr,
    ) -> Result<usize, Error> {
        let to = Self::check_remote(to)?;
        let local = self.udp.sockets.get(h.0).ok_or(Error::InvalidInput)?.local;
        if data.len() > 65535 - ipv4::HEADER_LEN - wudp::HEADER_LEN {
            return Err(Error::MessageTooLong);
        }
        let src = if local.ip().is_unspecified() {
            match self.iface.source_for(*to.ip()) {
                Some(src) => src,
                None => {
                    self.counters.ip_out_no_routes += 1;
                    return Err(Error::NetworkUnreachable);
                }
            }
        } else {
            *local.ip()
        };
        let repr = wudp::Repr { src_port: local.port(), dst_port: to.port() };
        let len = repr.buffer_len(data.len());
        let mut packet = self.ip_packet(src, *to.ip(), Protocol::Udp, len, false);
        let (s, d) = (IpAddr::V4(src), IpAddr::V4(*to.ip()));
        let body = &mut packet[ipv4::HEADER_LEN..];
        repr.emit(
            &mut wudp::Packet::new_unchecked(body),
            s,
            d,
            data.len(),
            |p| p.copy_from_slice(data),
            &self.config.checksums,
        )
        .map_err(|_| Error::MessageTooLong)?;
        // Not DF: larger than the MTU, it goes out in fragments.
        self.send_ip(now, *to.ip(), packet, Some(SocketHandle::Udp(h)))?;
        self.counters.udp_out_datagrams += 1;
        Ok(data.len())
    }

    /// Sends `data` to the connected peer.
    pub fn udp_send(&mut self, now: Instant, h: UdpHandle, data: &[u8]) -> Result<usize, Error> {
        let s = self.udp.sockets.get(h.0).ok_or(Error::InvalidInput)?;
        let remote = s.remote.ok_or(Error::NotConnected)?;
        self.udp_send_to(now, h, data, SocketAddr::V4(remote))
    }

    /// Receives the oldest datagram into `buf` (the rest of a longer one is discarded);
    /// [`Error::WouldBlock`] when none waits. A pending error (from ICMP) comes first.
    pub fn udp_recv_from(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), Error> {
        let s = self.udp.sockets.get_mut(h.0).ok_or(Error::InvalidInput)?;
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        s.pop(buf).map(|(n, from)| (n, SocketAddr::V4(from))).ok_or(Error::WouldBlock)
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
        self.udp.sockets.get(h.0).map(|s| SocketAddr::V4(s.local))
    }

    /// The peer the socket is connected to.
    pub fn udp_peer_addr(&self, h: UdpHandle) -> Option<SocketAddr> {
        self.udp.sockets.get(h.0)?.remote.map(SocketAddr::V4)
    }

    /// Closes the socket; its handle becomes stale.
    pub fn udp_close(&mut self, h: UdpHandle) {
        self.udp.close(h.0);
    }
}
