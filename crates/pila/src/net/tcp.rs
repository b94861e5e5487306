//! [`TcpListener`] and [`TcpStream`].

use super::{SocketOptions, Stack, deadline_after, now, tcp_error, try_each};
use crate::stack::{self, ListenerHandle, SocketHandle, TcpHandle};
use crate::tcp::{self, RecvError, SendError, State, TcpInfo};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};

/// The backlog of [`TcpListener::bind`], as Rust's `std` uses.
const DEFAULT_BACKLOG: usize = 128;

/// A TCP socket listening for connections, like [`std::net::TcpListener`].
#[derive(Debug)]
pub struct TcpListener {
    stack: Stack,
    handle: ListenerHandle,
    local: SocketAddr,
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
    stack: Stack,
    handle: TcpHandle,
    local: SocketAddr,
    peer: SocketAddr,
    options: SocketOptions,
    nodelay: AtomicBool,
    /// `shutdown(Read)` was called: reads return end-of-file.
    read_shut: AtomicBool,
    /// The connection's error was reported by [`TcpStream::take_error`].
    error_taken: AtomicBool,
}

impl TcpListener {
    /// Listens on `addr` (port 0: an ephemeral port) with a backlog of 128.
    pub fn bind(stack: &Stack, addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with_backlog(stack, addr, DEFAULT_BACKLOG)
    }

    /// Listens on `addr` with room for `backlog` established connections not yet accepted.
    pub fn bind_with_backlog(
        stack: &Stack,
        addr: impl ToSocketAddrs,
        backlog: usize,
    ) -> io::Result<Self> {
        try_each(addr, |addr| {
            let mut state = stack.shared().lock();
            let handle = state.stack.tcp_listen(addr, backlog)?;
            let local = state.stack.listener_local_addr(handle).unwrap_or(addr);
            Ok(Self { stack: stack.clone(), handle, local, options: SocketOptions::default() })
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let shared = self.stack.shared();
        let handle = self.handle;
        let tcp = shared.block_on(
            SocketHandle::Listener(handle),
            self.options.nonblocking(),
            None,
            io::ErrorKind::WouldBlock,
            |state| match state.stack.tcp_accept(handle) {
                Ok(tcp) => Some(Ok(tcp)),
                Err(stack::Error::WouldBlock) => None,
                // The listener is gone from the stack: `shutdown` closed it.
                Err(stack::Error::InvalidInput) => Some(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the listener is shut down",
                ))),
                Err(e) => Some(Err(e.into())),
            },
        )?;
        let stream = TcpStream::from_handle(&self.stack, tcp)?;
        let peer = stream.peer;
        Ok((stream, peer))
    }

    /// The connections as they come, like [`std::net::TcpListener::incoming`].
    pub const fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
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
        let shared = self.stack.shared();
        let mut state = shared.lock();
        state.stack.listener_close(self.handle);
        super::driver::Shared::wake(&state, SocketHandle::Listener(self.handle));
        drop(state);
        shared.kick();
        Ok(())
    }

    /// A listener has no pending error to report: always `Ok(None)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.stack.shared().close(SocketHandle::Listener(self.handle));
    }
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

impl TcpStream {
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
        let shared = stack.shared();
        let deadline = deadline_after(timeout);
        let handle = shared.lock().stack.tcp_connect(now(), addr, None)?;
        shared.kick();
        let opened = shared.block_on(
            SocketHandle::Tcp(handle),
            false,
            deadline,
            io::ErrorKind::TimedOut,
            |state| {
                if let Some(e) = state.stack.tcp_take_error(handle) {
                    return Some(Err(e.into()));
                }
                let Some(conn) = state.stack.tcp(handle) else {
                    return Some(Err(io::ErrorKind::NotConnected.into()));
                };
                match conn.state() {
                    State::SynSent | State::SynReceived => None,
                    State::Closed => Some(Err(conn
                        .error()
                        .map_or_else(|| io::ErrorKind::ConnectionAborted.into(), tcp_error))),
                    _ => Some(Ok(())),
                }
            },
        );
        match opened {
            Ok(()) => Self::from_handle(stack, handle),
            Err(e) => {
                shared.close(SocketHandle::Tcp(handle));
                Err(e)
            }
        }
    }

    fn from_handle(stack: &Stack, handle: TcpHandle) -> io::Result<Self> {
        let state = stack.shared().lock();
        let conn = state.stack.tcp(handle).ok_or(io::ErrorKind::NotConnected)?;
        let local = conn.local();
        let peer = conn.remote().ok_or(io::ErrorKind::NotConnected)?;
        drop(state);
        Ok(Self {
            stack: stack.clone(),
            handle,
            local,
            peer,
            options: SocketOptions::default(),
            nodelay: AtomicBool::new(false),
            read_shut: AtomicBool::new(false),
            error_taken: AtomicBool::new(false),
        })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Closes the reading half, the writing half, or both, and wakes the calls blocked on
    /// that half in other threads.
    ///
    /// After [`Shutdown::Read`] reads return end-of-file (`Ok(0)`), as on Linux, a read
    /// already blocked included. After [`Shutdown::Write`] a FIN follows the queued data
    /// (the peer reads end-of-file) and writes fail with [`io::ErrorKind::BrokenPipe`], a
    /// write already blocked on a full buffer included.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let write = matches!(how, Shutdown::Write | Shutdown::Both);
        let shared = self.stack.shared();
        let mut state = shared.lock();
        if write {
            let conn = state.stack.tcp_mut(self.handle).ok_or(io::ErrorKind::NotConnected)?;
            conn.shutdown_write();
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut.store(true, Ordering::Relaxed);
        }
        // Under the lock, so that a blocked call sees the change when it wakes.
        super::driver::Shared::wake(&state, SocketHandle::Tcp(self.handle));
        drop(state);
        if write {
            shared.kick();
        }
        Ok(())
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
        let handle = self.handle;
        self.stack.shared().block_on(
            SocketHandle::Tcp(handle),
            self.options.nonblocking(),
            deadline_after(timeout),
            io::ErrorKind::TimedOut,
            |state| {
                let Some(conn) = state.stack.tcp(handle) else {
                    return Some(Err(io::ErrorKind::NotConnected.into()));
                };
                if let Some(e) = conn.error() {
                    return Some(Err(tcp_error(e)));
                }
                matches!(conn.state(), State::TimeWait | State::Closed).then_some(Ok(()))
            },
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

    /// Turns Nagle's algorithm off (`true`) or back on, like `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let shared = self.stack.shared();
        let mut state = shared.lock();
        // Through `tcp_mut`, so that data Nagle held back goes out.
        state.stack.tcp_mut(self.handle).ok_or(io::ErrorKind::NotConnected)?.set_nodelay(nodelay);
        drop(state);
        self.nodelay.store(nodelay, Ordering::Relaxed);
        shared.kick();
        Ok(())
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.nodelay.load(Ordering::Relaxed))
    }

    /// The connection's error, once (like `SO_ERROR`): reset, timed out, refused.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        if let Some(e) = self.stack.shared().lock().stack.tcp_take_error(self.handle) {
            return Ok(Some(e.into()));
        }
        let error = self.with_conn(tcp::Connection::error)?;
        match error {
            Some(e) if !self.error_taken.swap(true, Ordering::Relaxed) => Ok(Some(tcp_error(e))),
            _ => Ok(None),
        }
    }

    /// A snapshot of the connection's state and figures, like Linux's `TCP_INFO`.
    pub fn tcp_info(&self) -> io::Result<TcpInfo> {
        self.with_conn(tcp::Connection::info)
    }

    /// Reads the connection under the lock, without marking it for the driver's attention.
    fn with_conn<T>(&self, f: impl FnOnce(&tcp::Connection) -> T) -> io::Result<T> {
        let state = self.stack.shared().lock();
        let conn = state.stack.tcp(self.handle).ok_or(io::ErrorKind::NotConnected)?;
        Ok(f(conn))
    }

    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let handle = self.handle;
        let read_shut = &self.read_shut;
        let shared = self.stack.shared();
        let read = shared.block_on(
            SocketHandle::Tcp(handle),
            self.options.nonblocking(),
            deadline_after(self.options.read_timeout()),
            io::ErrorKind::WouldBlock,
            |state| {
                // Looked at under the lock: `shutdown(Read)` sets it there and wakes us.
                if read_shut.load(Ordering::Relaxed) {
                    return Some(Ok(0));
                }
                let Some(conn) = state.stack.tcp_mut(handle) else {
                    return Some(Err(io::ErrorKind::NotConnected.into()));
                };
                match conn.recv(buf) {
                    Ok(n) => Some(Ok(n)),
                    Err(RecvError::WouldBlock) => None,
                    Err(RecvError::Error(e)) => Some(Err(tcp_error(e))),
                }
            },
        );
        // Reading freed receive buffer space: the driver sends the window update if one is
        // due (`tcp_mut` marked the connection for it).
        kick_if_moved(shared, read)
    }

    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let handle = self.handle;
        let shared = self.stack.shared();
        let written = shared.block_on(
            SocketHandle::Tcp(handle),
            self.options.nonblocking(),
            deadline_after(self.options.write_timeout()),
            io::ErrorKind::WouldBlock,
            |state| {
                let Some(conn) = state.stack.tcp_mut(handle) else {
                    return Some(Err(io::ErrorKind::NotConnected.into()));
                };
                match conn.send(buf) {
                    Ok(n) => Some(Ok(n)),
                    Err(SendError::WouldBlock) => None,
                    Err(SendError::Closed) => Some(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the sending side is shut down",
                    ))),
                    Err(SendError::Error(e)) => Some(Err(tcp_error(e))),
                }
            },
        );
        // Queued data is for the driver to send.
        kick_if_moved(shared, written)
    }
}

/// Kicks the driver when a read or write moved bytes, which gives it work (data to send, a
/// window to reopen); a call that failed, timed out or read end-of-file gave it none.
fn kick_if_moved(shared: &super::driver::Shared, result: io::Result<usize>) -> io::Result<usize> {
    if matches!(result, Ok(n) if n > 0) {
        shared.kick();
    }
    result
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
        self.write_some(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_some(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.stack.shared().close(SocketHandle::Tcp(self.handle));
    }
}
