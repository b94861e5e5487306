//! [`TcpListener`], [`TcpStream`] and the stream's halves.

use super::Stack;
use crate::runtime::socket::{
    Connecting, ListenerCore, StreamCore, kick_if_moved, stream_addresses, stream_options,
};
use crate::runtime::{resolve, try_each};
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// The backlog of [`TcpListener::bind`], as tokio uses.
const DEFAULT_BACKLOG: usize = 1024;

/// A TCP socket listening for connections, like [`tokio::net::TcpListener`].
///
/// [`tokio::net::TcpListener`]: https://docs.rs/tokio/latest/tokio/net/struct.TcpListener.html
#[derive(Debug)]
pub struct TcpListener {
    core: ListenerCore,
}

/// A TCP connection, like [`tokio::net::TcpStream`]: [`AsyncRead`] and [`AsyncWrite`].
///
/// Dropping it closes the connection as Linux does: a FIN after the queued data, or a RST
/// when received data was never read. [`AsyncWrite::poll_shutdown`] (`shutdown().await`)
/// sends the FIN and leaves the reading half open.
///
/// [`tokio::net::TcpStream`]: https://docs.rs/tokio/latest/tokio/net/struct.TcpStream.html
#[derive(Debug)]
pub struct TcpStream {
    core: Arc<StreamCore>,
}

/// Readiness and reads that never wait, for a type whose `core` field is (or derefs to) a
/// [`StreamCore`], as tokio's streams and reading halves have them. With them a relay
/// holds a buffer only while data flows: it waits with [`readable`](TcpStream::readable),
/// then reads with [`try_read`](TcpStream::try_read) until `WouldBlock`.
macro_rules! stream_readiness {
    () => {
        /// Waits until a read would not wait: data, the end of the stream or an error has
        /// come. Reads nothing; a [`try_read`](Self::try_read) after it may still find
        /// nothing (another reader took it) and return `WouldBlock`.
        ///
        /// Cancel safe: it only looks.
        pub async fn readable(&self) -> io::Result<()> {
            let core = &*self.core;
            poll_fn(|cx| {
                core.shared().poll_on(cx, core.wait_read(), |state| core.try_readable(state))
            })
            .await
        }

        /// Reads what has arrived into `buf` without waiting: `Ok(0)` at the end of the
        /// stream (or for an empty `buf`), `WouldBlock` when nothing has arrived.
        pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            let core = &*self.core;
            let read = core.try_read(&mut core.shared().lock(), |_| buf);
            kick_if_moved(
                core.shared(),
                read.unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into())),
            )
        }
    };
}

impl TcpListener {
    /// Listens on `addr` (port 0: an ephemeral port) with a backlog of 1024, trying each
    /// address it names until one works. On `[::]` it takes IPv4 connections too, whose
    /// peers it names by their IPv4-mapped addresses.
    pub async fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with_backlog(stack, addr, DEFAULT_BACKLOG)
    }

    /// [`bind`](Self::bind) for IPv6 only (`IPV6_V6ONLY`): on `[::]` it leaves IPv4
    /// connections to another listener on the same port. An IPv4 address is refused.
    pub async fn bind_v6_only(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        try_each(addr, |addr| {
            Ok(Self { core: ListenerCore::bind(stack.handle(), addr, DEFAULT_BACKLOG, true)? })
        })
    }

    /// Listens on `addr` with room for `backlog` established connections not yet accepted
    /// (`listen(2)`'s backlog).
    pub fn bind_with_backlog(
        stack: &Stack,
        addr: impl ToSocketAddrs,
        backlog: usize,
    ) -> io::Result<Self> {
        try_each(addr, |addr| {
            Ok(Self { core: ListenerCore::bind(stack.handle(), addr, backlog, false)? })
        })
    }

    /// Transparent mode: takes the connections to any address and port inside `prefixes`
    /// (every address if empty) that is not one of the stack's own, as a tun2socks-style
    /// proxy must ([`Stack::tcp_intercept`](crate::stack::Stack::tcp_intercept)). Each
    /// accepted stream's [`local_addr`](TcpStream::local_addr) is the destination its
    /// client asked for, and everything it sends leaves from there. Backlog 1024; SYN
    /// cookies beyond the SYN queue, as for any listener.
    ///
    /// ```no_run
    /// # async fn relay(stack: pila::tokio::Stack) -> std::io::Result<()> {
    /// let prefixes = ["198.51.100.0/24".parse().unwrap()];
    /// let listener = pila::tokio::TcpListener::intercept(&stack, &prefixes)?;
    /// let (stream, client) = listener.accept().await?;
    /// let destination = stream.local_addr()?;
    /// # Ok(()) }
    /// ```
    pub fn intercept(stack: &Stack, prefixes: &[crate::stack::IpCidr]) -> io::Result<Self> {
        Ok(Self { core: ListenerCore::intercept(stack.handle(), prefixes, DEFAULT_BACKLOG)? })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Cancel safe: a connection is taken off the accept queue only by the poll that returns
    /// it.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection: `Ready` with it and the peer's address, or `Pending` with
    /// `cx` woken when one is ready.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let core = &self.core;
        let tcp =
            ready!(core.shared().poll_on(cx, core.wait_accept(), |state| core.try_accept(state)))?;
        let (stream, peer) = core.accepted(tcp)?;
        Poll::Ready(Ok((TcpStream::new(stream), peer)))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.core.local())
    }

    /// Stops listening, as Linux's `shutdown(SHUT_RD)` on a listening socket does: the port
    /// is free again, connections not yet accepted are reset, and `accept` fails with
    /// [`io::ErrorKind::InvalidInput`] from now on, one already waiting included.
    pub fn shutdown(&self) {
        self.core.shutdown();
    }
}

impl TcpStream {
    stream_addresses!();
    stream_options!();
    stream_readiness!();

    /// Opens a connection to `addr`, trying each address it names until one answers.
    ///
    /// Dropping the future before it completes aborts the connection it was opening.
    pub fn connect(
        stack: &Stack,
        addr: impl ToSocketAddrs,
    ) -> impl Future<Output = io::Result<Self>> + Send + 'static {
        let host = Arc::clone(stack.handle());
        let addrs = resolve(addr);
        async move {
            let mut last = None;
            for addr in addrs? {
                let connecting = match Connecting::start(&host, addr) {
                    Ok(connecting) => connecting,
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                };
                let established = poll_fn(|cx| {
                    connecting.shared().poll_on(cx, connecting.wait_established(), |state| {
                        connecting.try_established(state)
                    })
                });
                // As the blocking connect does, a failure moves on to the next address.
                match established.await.and_then(|()| connecting.finish()) {
                    Ok(stream) => return Ok(Self::new(stream)),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| io::ErrorKind::InvalidInput.into()))
        }
    }

    pub(crate) fn new(core: StreamCore) -> Self {
        Self { core: Arc::new(core) }
    }

    /// Resets the connection now, as a close with `SO_LINGER` 0 does: the peer gets a RST,
    /// and what is queued either way is dropped; reads and writes fail from then on. A
    /// proxy uses it to pass on a reset from the other side.
    pub fn abort(&self) {
        self.core.abort();
    }

    /// Waits until the connection is over: both sides have closed and the peer has
    /// acknowledged our FIN, so nothing we sent can be lost any more. Call it after
    /// `shutdown().await`: until our FIN is sent the connection cannot end. Fails with the
    /// connection's error when it was reset or timed out.
    ///
    /// Cancel safe: it only looks.
    pub async fn closed(&self) -> io::Result<()> {
        let core = &self.core;
        poll_fn(|cx| core.shared().poll_on(cx, core.wait_closed(), |state| core.try_closed(state)))
            .await
    }

    /// Borrowed halves that read and write at the same time, from one task or two.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf { core: &self.core }, WriteHalf { core: &self.core })
    }

    /// Owned halves that can move to different tasks. Dropping the writing half sends a
    /// FIN, as `shutdown().await` does; [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let core = Arc::clone(&self.core);
        (OwnedReadHalf { core: self.core }, OwnedWriteHalf { core, shutdown_on_drop: true })
    }
}

impl ReadHalf<'_> {
    stream_readiness!();
}

impl OwnedReadHalf {
    stream_readiness!();
}

/// Reads into `buf`: `Ready(Ok)` with what arrived (nothing added at end-of-file), or
/// `Pending` with `cx` woken when data, the end or an error comes.
fn poll_read(
    core: &StreamCore,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    let remaining = buf.remaining();
    let read = ready!(core.shared().poll_on(cx, core.wait_read(), |state| {
        // Zero only what the read fills of the caller's buffer (hyper hands over hundreds of
        // kilobytes uninitialised, on every poll), and nothing when the read waits.
        core.try_read(state, |queued| buf.initialize_unfilled_to(queued.clamp(1, remaining)))
    }));
    // Reading freed receive buffer space: the driver sends the window update if one is due.
    let n = kick_if_moved(core.shared(), read)?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// Queues as much of `bufs` as the send buffer takes, or waits for room.
fn poll_write(
    core: &StreamCore,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    if bufs.iter().all(|b| b.is_empty()) {
        return Poll::Ready(Ok(0));
    }
    let written = ready!(core.shared().poll_on(cx, core.wait_write(), |state| {
        core.try_write(state, bufs.iter().map(|b| &**b))
    }));
    // Queued data is for the driver to send.
    Poll::Ready(kick_if_moved(core.shared(), written))
}

/// Sends the FIN after what is queued; reading goes on.
fn poll_shutdown(core: &StreamCore) -> Poll<io::Result<()>> {
    Poll::Ready(core.shutdown(Shutdown::Write))
}

/// Implements tokio's I/O traits for a type whose `core` field is (or derefs to) a
/// [`StreamCore`].
macro_rules! async_io {
    (read: $($reader:ty),*; write: $($writer:ty),*) => {
        $(impl AsyncRead for $reader {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read(&self.core, cx, buf)
            }
        })*
        $(impl AsyncWrite for $writer {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_write(&self.core, cx, &[IoSlice::new(buf)])
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                poll_write(&self.core, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Written data is in the send buffer, which the driver empties by itself.
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                poll_shutdown(&self.core)
            }
        })*
    };
}

async_io!(
    read: TcpStream, ReadHalf<'_>, OwnedReadHalf;
    write: TcpStream, WriteHalf<'_>, OwnedWriteHalf
);

/// The reading half of a [`TcpStream`], borrowed by [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a> {
    core: &'a StreamCore,
}

/// The writing half of a [`TcpStream`], borrowed by [`TcpStream::split`].
#[derive(Debug)]
pub struct WriteHalf<'a> {
    core: &'a StreamCore,
}

/// The reading half of a [`TcpStream`], owned, from [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    core: Arc<StreamCore>,
}

/// The writing half of a [`TcpStream`], owned, from [`TcpStream::into_split`]. Dropping it
/// sends a FIN after the queued data, as `shutdown().await` does.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    core: Arc<StreamCore>,
    /// Cleared by [`OwnedReadHalf::reunite`], which gives the stream back whole.
    shutdown_on_drop: bool,
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams; here they
/// are back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl OwnedReadHalf {
    /// The stream the halves came from, or both back if they came from different ones.
    pub fn reunite(self, mut other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Arc::ptr_eq(&self.core, &other.core) {
            return Err(ReuniteError(self, other));
        }
        other.shutdown_on_drop = false;
        drop(other);
        Ok(TcpStream { core: self.core })
    }

    stream_addresses!();
}

impl OwnedWriteHalf {
    stream_addresses!();

    /// Turns Nagle's algorithm off (`true`) or back on, like `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.core.set_nodelay(nodelay)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // A stream already gone has nothing left to shut down.
            let _ = self.core.shutdown(Shutdown::Write);
        }
    }
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves given to reunite came from different streams")
    }
}

impl std::error::Error for ReuniteError {}
