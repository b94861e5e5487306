//! [`UdpSocket`].

use super::Stack;
use crate::runtime::socket::UdpCore;
use crate::runtime::{resolve_one, try_each};
use ::tokio::io::ReadBuf;
use core::future::poll_fn;
use core::task::{Context, Poll, ready};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// A UDP socket, like [`tokio::net::UdpSocket`].
///
/// A datagram larger than the MTU is sent in IPv4 fragments. Sending never waits: a
/// datagram is queued for the driver at once (or refused, as the kernel refuses one).
/// A connected socket learns of an ICMP port unreachable from its peer: its next `recv` or
/// `send` fails with [`io::ErrorKind::ConnectionRefused`].
///
/// [`tokio::net::UdpSocket`]: https://docs.rs/tokio/latest/tokio/net/struct.UdpSocket.html
#[derive(Debug)]
pub struct UdpSocket {
    core: UdpCore,
}

impl UdpSocket {
    /// Binds a socket to `addr` (port 0: an ephemeral port), trying each address it names.
    pub async fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        try_each(addr, |addr| Ok(Self { core: UdpCore::bind(stack.handle(), addr)? }))
    }

    /// Transparent mode: receives the datagrams to any address and port inside `prefixes`
    /// (every address if empty) that is not one of the stack's own, each with its original
    /// destination ([`recv_from_to`](Self::recv_from_to)), and answers from such an address
    /// ([`send_from`](Self::send_from)); `send_to` and `connect` are refused.
    pub fn intercept(stack: &Stack, prefixes: &[crate::stack::IpCidr]) -> io::Result<Self> {
        Ok(Self { core: UdpCore::intercept(stack.handle(), prefixes)? })
    }

    /// Sends `buf` as one datagram from `from` (an address this intercepting socket takes
    /// datagrams for, or one of the stack's own) to `to`.
    ///
    /// Cancel safe: it completes in its first poll.
    pub async fn send_from(
        &self,
        buf: &[u8],
        from: SocketAddr,
        to: SocketAddr,
    ) -> io::Result<usize> {
        self.core.send_from(buf, from, to)
    }

    /// [`recv_from`](Self::recv_from), with the address the datagram was sent to (one of
    /// the stack's own, or for an intercepting socket the original destination).
    ///
    /// Cancel safe, as [`recv_from`](Self::recv_from) is.
    pub async fn recv_from_to(
        &self,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr, SocketAddr)> {
        let core = &self.core;
        poll_fn(|cx| {
            core.shared().poll_on(cx, core.wait_recv(), |state| core.try_recv_from_to(state, buf))
        })
        .await
    }

    /// Sets the only peer: `send` goes there and only its datagrams are received.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.core.connect(resolve_one(addr)?)
    }

    /// Sends `buf` to `target` as one datagram; returns its length.
    ///
    /// Cancel safe: it completes in its first poll.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        self.core.send(buf, Some(resolve_one(target)?))
    }

    /// Sends `buf` to the connected peer.
    ///
    /// Cancel safe: it completes in its first poll.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.core.send(buf, None)
    }

    /// Waits for a datagram and copies it into `buf` (the rest of a longer one is lost);
    /// returns its length as copied and its sender.
    ///
    /// Cancel safe: a datagram is taken off the queue only by the poll that returns it.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from_to(buf).await.map(|(n, from, _)| (n, from))
    }

    /// Waits for a datagram from the connected peer.
    ///
    /// Cancel safe, as [`recv_from`](Self::recv_from) is.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    /// Polls for a datagram, copied into the unfilled part of `buf`: `Ready` with its
    /// sender, or `Pending` with `cx` woken when one comes.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let core = &self.core;
        let dst = buf.initialize_unfilled();
        let (n, from) = ready!(
            core.shared().poll_on(cx, core.wait_recv(), |state| core.try_recv_from(state, dst))
        )?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }

    /// The connected peer, or [`io::ErrorKind::NotConnected`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.core.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.core.local())
    }

    /// The pending error (an ICMP error for a connected socket), once.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self.core.take_error())
    }
}
