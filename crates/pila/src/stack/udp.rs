//! UDP sockets: the table that finds a socket by local address and port (exact address
//! first, then the wildcard), and each socket's bounded receive queue.

use std::collections::{HashMap, VecDeque};

use core::net::{Ipv4Addr, SocketAddrV4};

use super::Error;
use super::slab::{Key, Slab};

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
