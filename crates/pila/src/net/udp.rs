//! [`UdpSocket`].

use super::{SocketOptions, Stack, deadline_after, now, resolve, try_each};
use crate::stack::{self, SocketHandle, UdpHandle};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// A UDP socket, like [`std::net::UdpSocket`].
///
/// A datagram larger than the MTU is sent in IPv4 fragments. A connected socket learns of an
/// ICMP port unreachable from its peer: its next `recv` or `send` fails with
/// [`io::ErrorKind::ConnectionRefused`].
#[derive(Debug)]
pub struct UdpSocket {
    stack: Stack,
    handle: UdpHandle,
    local: SocketAddr,
    options: SocketOptions,
}

impl UdpSocket {
    /// Binds a socket to `addr` (port 0: an ephemeral port).
    pub fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        try_each(addr, |addr| {
            let mut state = stack.shared().lock();
            let handle = state.stack.udp_bind(addr)?;
            let local = state.stack.udp_local_addr(handle).unwrap_or(addr);
            Ok(Self { stack: stack.clone(), handle, local, options: SocketOptions::default() })
        })
    }

    /// Sends `buf` to `addr` as one datagram; returns its length.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let to = resolve(addr)?.into_iter().next().ok_or(io::ErrorKind::InvalidInput)?;
        self.send_datagram(buf, Some(to))
    }

    /// Waits for a datagram and copies it into `buf` (the rest of a longer one is lost);
    /// returns its length as copied and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let handle = self.handle;
        self.stack.shared().block_on(
            SocketHandle::Udp(handle),
            self.options.nonblocking(),
            deadline_after(self.options.read_timeout()),
            io::ErrorKind::WouldBlock,
            // The stack reports a pending error (from ICMP) before any datagram.
            |state| match state.stack.udp_recv_from(handle, buf) {
                Ok(got) => Some(Ok(got)),
                Err(stack::Error::WouldBlock) => None,
                Err(e) => Some(Err(e.into())),
            },
        )
    }

    /// Sets the only peer: `send` goes there and only its datagrams are received.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let to = resolve(addr)?.into_iter().next().ok_or(io::ErrorKind::InvalidInput)?;
        self.stack.shared().lock().stack.udp_connect(self.handle, to)?;
        Ok(())
    }

    /// Sends `buf` to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_datagram(buf, None)
    }

    /// Waits for a datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// The connected peer, or [`io::ErrorKind::NotConnected`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stack
            .shared()
            .lock()
            .stack
            .udp_peer_addr(self.handle)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// How long `recv` and `recv_from` wait before failing with
    /// [`io::ErrorKind::WouldBlock`] (`None`: forever; zero is rejected).
    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.options.set_read_timeout(timeout)
    }

    /// Kept for `std` compatibility: sending never waits, so it has no effect.
    pub fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.options.set_write_timeout(timeout)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<std::time::Duration>> {
        Ok(self.options.read_timeout())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<std::time::Duration>> {
        Ok(self.options.write_timeout())
    }

    /// In nonblocking mode a receive with nothing queued fails with
    /// [`io::ErrorKind::WouldBlock`].
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.options.set_nonblocking(nonblocking);
        Ok(())
    }

    /// The pending error (an ICMP error for a connected socket), once.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self.stack.shared().lock().stack.udp_take_error(self.handle).map(io::Error::from))
    }

    /// Sends `buf` to `to`, or with `None` to the connected peer; a connected send reports
    /// the pending error first.
    fn send_datagram(&self, buf: &[u8], to: Option<SocketAddr>) -> io::Result<usize> {
        let shared = self.stack.shared();
        let mut state = shared.lock();
        let sent = match to {
            Some(to) => state.stack.udp_send_to(now(), self.handle, buf, to)?,
            None => {
                if state.stack.udp_peer_addr(self.handle).is_none() {
                    return Err(io::ErrorKind::NotConnected.into());
                }
                if let Some(e) = state.stack.udp_take_error(self.handle) {
                    return Err(e.into());
                }
                state.stack.udp_send(now(), self.handle, buf)?
            }
        };
        drop(state);
        shared.kick();
        Ok(sent)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.stack.shared().close(SocketHandle::Udp(self.handle));
    }
}
