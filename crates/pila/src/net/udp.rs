//! [`UdpSocket`].

use super::{SocketOptions, Stack, deadline_after};
use crate::runtime::socket::UdpCore;
use crate::runtime::{resolve_one, try_each};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// A UDP socket, like [`std::net::UdpSocket`].
///
/// A datagram larger than the MTU is sent in IPv4 fragments. A connected socket learns of an
/// ICMP port unreachable from its peer: its next `recv` or `send` fails with
/// [`io::ErrorKind::ConnectionRefused`].
#[derive(Debug)]
pub struct UdpSocket {
    core: UdpCore,
    options: SocketOptions,
}

impl UdpSocket {
    /// Binds a socket to `addr` (port 0: an ephemeral port).
    pub fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        try_each(addr, |addr| {
            Ok(Self {
                core: UdpCore::bind(stack.handle(), addr)?,
                options: SocketOptions::default(),
            })
        })
    }

    /// Sends `buf` to `addr` as one datagram; returns its length.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        self.core.send(buf, Some(resolve_one(addr)?))
    }

    /// Waits for a datagram and copies it into `buf` (the rest of a longer one is lost);
    /// returns its length as copied and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from_to(buf).map(|(n, from, _)| (n, from))
    }

    /// Transparent mode: receives the datagrams to any address and port inside `prefixes`
    /// (every address if empty) that is not one of the stack's own, each with its original
    /// destination ([`recv_from_to`](Self::recv_from_to)), and answers from such an address
    /// ([`send_from`](Self::send_from)); `send_to` and `connect` are refused.
    pub fn intercept(stack: &Stack, prefixes: &[crate::stack::IpCidr]) -> io::Result<Self> {
        let core = UdpCore::intercept(stack.handle(), prefixes)?;
        Ok(Self { core, options: SocketOptions::default() })
    }

    /// Sends `buf` as one datagram from `from` (an address this intercepting socket takes
    /// datagrams for, or one of the stack's own) to `to`.
    pub fn send_from(&self, buf: &[u8], from: SocketAddr, to: SocketAddr) -> io::Result<usize> {
        self.core.send_from(buf, from, to)
    }

    /// [`recv_from`](Self::recv_from), with the address the datagram was sent to (one of
    /// the stack's own, or for an intercepting socket the original destination).
    pub fn recv_from_to(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, SocketAddr)> {
        let core = &self.core;
        core.shared().block_on(
            core.wait_recv(),
            self.options.nonblocking(),
            deadline_after(self.options.read_timeout()),
            io::ErrorKind::WouldBlock,
            |state| core.try_recv_from_to(state, buf),
        )
    }

    /// Sets the only peer: `send` goes there and only its datagrams are received.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.core.connect(resolve_one(addr)?)
    }

    /// Sends `buf` to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.core.send(buf, None)
    }

    /// Waits for a datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// The connected peer, or [`io::ErrorKind::NotConnected`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.core.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.core.local())
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
        Ok(self.core.take_error())
    }
}
