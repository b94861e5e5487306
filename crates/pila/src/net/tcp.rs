//! [`TcpListener`] and [`TcpStream`].

use super::{SocketOptions, Stack, deadline_after};
use crate::runtime::socket::{
    Connecting, ListenerCore, StreamCore, kick_if_moved, stream_addresses, stream_options,
};
use crate::runtime::try_each;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};

/// The backlog of [`TcpListener::bind`], as Rust's `std` uses.
const DEFAULT_BACKLOG: usize = 128;

/// A TCP socket listening for connections, like [`std::net::TcpListener`].
#[derive(Debug)]
pub struct TcpListener {
    core: ListenerCore,
    options: SocketOptions,
}

/// An iterator over the connections a [`TcpListener`] accepts; it never ends.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

/// A TCP connection, like [`std::net::TcpStream`].
///
/// Reads and writes work through `&TcpStream` too, so one thread can read while another
/// writes. Dropping the stream closes it as Linux does: a FIN after the queued data, or a
/// RST when received data was never read.
#[derive(Debug)]
pub struct TcpStream {
    core: StreamCore,
    options: SocketOptions,
}

impl TcpListener {
    /// Listens on `addr` (port 0: an ephemeral port) with a backlog of 128. On `[::]` it
    /// takes IPv4 connections too, whose peers it names by their IPv4-mapped addresses.
    pub fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with_backlog(stack, addr, DEFAULT_BACKLOG)
    }

    /// [`bind`](Self::bind) for IPv6 only (`IPV6_V6ONLY`): on `[::]` it leaves IPv4
    /// connections to another listener on the same port. An IPv4 address is refused.
    pub fn bind_v6_only(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        try_each(addr, |addr| {
            let core = ListenerCore::bind(stack.handle(), addr, DEFAULT_BACKLOG, true)?;
            Ok(Self { core, options: SocketOptions::default() })
        })
    }

    /// Transparent mode: takes the connections to any address and port inside `prefixes`
    /// (every address if empty) that is not one of the stack's own
    /// ([`Stack::tcp_intercept`](crate::stack::Stack::tcp_intercept)); each accepted
    /// stream's [`local_addr`](TcpStream::local_addr) is the destination its client asked
    /// for. Backlog 128.
    pub fn intercept(stack: &Stack, prefixes: &[crate::stack::IpCidr]) -> io::Result<Self> {
        let core = ListenerCore::intercept(stack.handle(), prefixes, DEFAULT_BACKLOG)?;
        Ok(Self { core, options: SocketOptions::default() })
    }

    /// Listens on `addr` with room for `backlog` established connections not yet accepted.
    pub fn bind_with_backlog(
        stack: &Stack,
        addr: impl ToSocketAddrs,
        backlog: usize,
    ) -> io::Result<Self> {
        try_each(addr, |addr| {
            let core = ListenerCore::bind(stack.handle(), addr, backlog, false)?;
            Ok(Self { core, options: SocketOptions::default() })
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let core = &self.core;
        let tcp = core.shared().block_on(
            core.wait_accept(),
            self.options.nonblocking(),
            None,
            io::ErrorKind::WouldBlock,
            |state| core.try_accept(state),
        )?;
        let (stream, peer) = core.accepted(tcp)?;
        Ok((TcpStream::new(stream), peer))
    }

    /// The connections as they come, like [`std::net::TcpListener::incoming`].
    pub const fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.core.local())
    }

    /// In nonblocking mode `accept` fails with [`io::ErrorKind::WouldBlock`] instead of
    /// waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.options.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Stops listening, as Linux's `shutdown(SHUT_RD)` on a listening socket does: the port
    /// is free again, connections not yet accepted are reset, and `accept` fails with
    /// [`io::ErrorKind::InvalidInput`] from now on — including an `accept` blocked on another
    /// thread (share the listener with an `Arc`), which wakes at once. Shutting down twice
    /// is harmless.
    pub fn shutdown(&self) -> io::Result<()> {
        self.core.shutdown();
        Ok(())
    }

    /// A listener has no pending error to report: always `Ok(None)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

impl TcpStream {
    stream_addresses!();
    stream_options!();

    /// Opens a connection to `addr`, trying each address it names until one answers.
    pub fn connect(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        try_each(addr, |addr| Self::open(stack, addr, None))
    }

    /// Opens a connection to `addr`, giving up with [`io::ErrorKind::TimedOut`] after
    /// `timeout` (which must not be zero).
    pub fn connect_timeout(
        stack: &Stack,
        addr: &SocketAddr,
        timeout: std::time::Duration,
    ) -> io::Result<Self> {
        super::check_timeout(Some(timeout))?;
        Self::open(stack, *addr, Some(timeout))
    }

    fn open(
        stack: &Stack,
        addr: SocketAddr,
        timeout: Option<std::time::Duration>,
    ) -> io::Result<Self> {
        let connecting = Connecting::start(stack.handle(), addr)?;
        connecting.shared().block_on(
            connecting.wait_established(),
            false,
            deadline_after(timeout),
            io::ErrorKind::TimedOut,
            |state| connecting.try_established(state),
        )?;
        Ok(Self::new(connecting.finish()?))
    }

    fn new(core: StreamCore) -> Self {
        Self { core, options: SocketOptions::default() }
    }

    /// Closes the reading half, the writing half, or both, and wakes the calls blocked on
    /// that half in other threads.
    ///
    /// After [`Shutdown::Read`] reads return end-of-file (`Ok(0)`), as on Linux, a read
    /// already blocked included. After [`Shutdown::Write`] a FIN follows the queued data
    /// (the peer reads end-of-file) and writes fail with [`io::ErrorKind::BrokenPipe`], a
    /// write already blocked on a full buffer included.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.core.shutdown(how)
    }

    /// Waits until the connection is over: both sides have closed and the peer has
    /// acknowledged our FIN (TIME-WAIT or CLOSED), so nothing we sent can be lost any more.
    /// Call it after [`shutdown(Write)`](Self::shutdown): until our FIN is sent the
    /// connection cannot end.
    ///
    /// Fails with the connection's error when it was reset or timed out, and with
    /// [`io::ErrorKind::TimedOut`] when it is not over after `timeout` (`None`: no limit;
    /// a zero duration is rejected with [`io::ErrorKind::InvalidInput`]). In nonblocking mode
    /// it fails with [`io::ErrorKind::WouldBlock`] instead of waiting.
    pub fn wait_closed(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        super::check_timeout(timeout)?;
        let core = &self.core;
        core.shared().block_on(
            core.wait_closed(),
            self.options.nonblocking(),
            deadline_after(timeout),
            io::ErrorKind::TimedOut,
            |state| core.try_closed(state),
        )
    }

    /// How long a read waits before failing with [`io::ErrorKind::WouldBlock`] (`None`:
    /// forever). A zero duration is rejected with [`io::ErrorKind::InvalidInput`].
    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.options.set_read_timeout(timeout)
    }

    /// How long a write waits for buffer space before failing with
    /// [`io::ErrorKind::WouldBlock`] (`None`: forever).
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

    /// In nonblocking mode reads and writes that cannot proceed fail with
    /// [`io::ErrorKind::WouldBlock`] instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.options.set_nonblocking(nonblocking);
        Ok(())
    }

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let core = &self.core;
        let read = core.shared().block_on(
            core.wait_read(),
            self.options.nonblocking(),
            deadline_after(self.options.read_timeout()),
            io::ErrorKind::WouldBlock,
            |state| core.try_read(state, |_| &mut *buf),
        );
        // Reading freed receive buffer space: the driver sends the window update if one is
        // due.
        kick_if_moved(core.shared(), read)
    }

    fn write_some(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        let core = &self.core;
        let written = core.shared().block_on(
            core.wait_write(),
            self.options.nonblocking(),
            deadline_after(self.options.write_timeout()),
            io::ErrorKind::WouldBlock,
            |state| core.try_write(state, bufs.iter().map(|b| &**b)),
        );
        // Queued data is for the driver to send.
        kick_if_moved(core.shared(), written)
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_some(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_some(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_some(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_some(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_some(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_some(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
