//! The socket plumbing both front ends are made of: what each socket keeps beside its entry
//! in the stack, and each call's *attempt* — the step that either completes under the lock
//! or returns `None` to wait for the next change on the socket.
//!
//! `pila::net` runs an attempt in [`Shared::block_on`] (a condition variable), `pila::tokio`
//! in [`Shared::poll_on`] (a parked waker); neither front end touches the stack otherwise.

use super::shared::{Interest, Ready, Shared, State, Wait};
use super::{Handle, now, tcp_error};
use crate::stack::{self, ListenerHandle, SocketHandle, TcpHandle, UdpHandle};
use crate::tcp::{RecvError, SendError, State as TcpState, TcpInfo};
use crate::time::Instant;
use std::io;
use std::net::IpAddr;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `[::]:0`: where an intercepting socket, bound to no address, says it is.
const UNSPECIFIED6: SocketAddr =
    SocketAddr::V6(std::net::SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 0, 0, 0));

/// A listening TCP socket: closed in the stack when dropped.
#[derive(Debug)]
pub(crate) struct ListenerCore {
    host: Arc<Handle>,
    handle: ListenerHandle,
    local: SocketAddr,
}

impl ListenerCore {
    /// Listens on `addr` with room for `backlog` connections not yet accepted; on `[::]`
    /// for IPv4 too unless `v6_only`.
    pub(crate) fn bind(
        host: &Arc<Handle>,
        addr: SocketAddr,
        backlog: usize,
        v6_only: bool,
    ) -> io::Result<Self> {
        let mut state = host.shared.lock();
        let handle = if v6_only {
            state.stack.tcp_listen_v6_only(addr, backlog)?
        } else {
            state.stack.tcp_listen(addr, backlog)?
        };
        let local = state.stack.listener_local_addr(handle).unwrap_or(addr);
        drop(state);
        Ok(Self { host: Arc::clone(host), handle, local })
    }

    /// A listener that holds the SYNs to `prefixes` ([`stack::Stack::tcp_intercept_held`]).
    pub(crate) fn intercept_held(
        host: &Arc<Handle>,
        prefixes: &[stack::IpCidr],
    ) -> io::Result<Self> {
        let handle = host.shared.lock().stack.tcp_intercept_held(prefixes)?;
        Ok(Self { host: Arc::clone(host), handle, local: UNSPECIFIED6 })
    }

    /// The next SYN the listener holds, if one came.
    pub(crate) fn try_held(&self, state: &mut State) -> Option<io::Result<stack::HeldSyn>> {
        if state.stack.listener_local_addr(self.handle).is_none() {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the listener is shut down",
            )));
        }
        state.stack.tcp_intercept_poll(self.handle).map(Ok)
    }

    /// The handle of the stack and of the listener, for answering a held SYN.
    pub(crate) fn parts(&self) -> (Arc<Handle>, ListenerHandle) {
        (Arc::clone(&self.host), self.handle)
    }

    /// An intercepting listener ([`stack::Stack::tcp_intercept`]) on `prefixes`.
    pub(crate) fn intercept(
        host: &Arc<Handle>,
        prefixes: &[stack::IpCidr],
        backlog: usize,
    ) -> io::Result<Self> {
        let mut state = host.shared.lock();
        let handle = state.stack.tcp_intercept(prefixes, backlog)?;
        let local = state.stack.listener_local_addr(handle).unwrap_or(UNSPECIFIED6);
        drop(state);
        Ok(Self { host: Arc::clone(host), handle, local })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.host.shared
    }

    /// What an accept waits on: any change on the listener.
    pub(crate) const fn wait_accept(&self) -> Wait {
        Wait::on(SocketHandle::Listener(self.handle), Interest::Any)
    }

    pub(crate) const fn local(&self) -> SocketAddr {
        self.local
    }

    /// Takes the oldest established connection, if one is queued.
    pub(crate) fn try_accept(&self, state: &mut State) -> Option<io::Result<TcpHandle>> {
        match state.stack.tcp_accept(self.handle) {
            Ok(tcp) => Some(Ok(tcp)),
            Err(stack::Error::WouldBlock) => None,
            // The listener is gone from the stack: `shutdown` closed it.
            Err(stack::Error::InvalidInput) => {
                Some(Err(io::Error::new(io::ErrorKind::InvalidInput, "the listener is shut down")))
            }
            Err(e) => Some(Err(e.into())),
        }
    }

    /// The stream of a connection [`try_accept`](Self::try_accept) took, with the peer's
    /// address; if it cannot be made, the connection is closed rather than left without an
    /// owner.
    pub(crate) fn accepted(&self, tcp: TcpHandle) -> io::Result<(StreamCore, SocketAddr)> {
        let stream = StreamCore::new(&self.host, tcp)
            .inspect_err(|_| self.host.shared.close(SocketHandle::Tcp(tcp)))?;
        let peer = stream.peer();
        Ok((stream, peer))
    }

    /// Stops listening: the port is free, queued connections are reset, and accepts waiting
    /// now or later fail with `InvalidInput`.
    pub(crate) fn shutdown(&self) {
        let shared = self.shared();
        shared.lock().stack.listener_close(self.handle);
        shared.wake(SocketHandle::Listener(self.handle));
        shared.kick();
    }
}

impl Drop for ListenerCore {
    fn drop(&mut self) {
        self.host.shared.close(SocketHandle::Listener(self.handle));
    }
}

/// A connection being opened; dropped before it is [finished](Self::finish), it is
/// aborted, so a cancelled connect leaves nothing behind.
#[derive(Debug)]
pub(crate) struct Connecting {
    host: Arc<Handle>,
    handle: Option<TcpHandle>,
}

impl Connecting {
    /// Answers the SYN `syn` that `listener` holds with a SYN-ACK: the connection then
    /// opens as an active one does.
    pub(crate) fn complete(
        host: &Arc<Handle>,
        listener: ListenerHandle,
        syn: stack::HeldSyn,
    ) -> io::Result<Self> {
        let handle = host.shared.lock().stack.tcp_intercept_complete(now(), listener, syn)?;
        host.shared.kick();
        Ok(Self { host: Arc::clone(host), handle: Some(handle) })
    }

    /// Sends a SYN to `addr` from an ephemeral port.
    pub(crate) fn start(host: &Arc<Handle>, addr: SocketAddr) -> io::Result<Self> {
        let handle = host.shared.lock().stack.tcp_connect(now(), addr, None)?;
        host.shared.kick();
        Ok(Self { host: Arc::clone(host), handle: Some(handle) })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.host.shared
    }

    /// What the connect waits on: any change on the connection.
    pub(crate) fn wait_established(&self) -> Wait {
        let handle = self.handle.expect("a connection being opened has its handle");
        Wait::on(SocketHandle::Tcp(handle), Interest::Any)
    }

    /// `Ok` once the handshake is done, the failure if it failed, `None` while it goes on.
    pub(crate) fn try_established(&self, state: &mut State) -> Option<io::Result<()>> {
        let handle = self.handle?;
        if let Some(e) = state.stack.tcp_take_error(handle) {
            return Some(Err(e.into()));
        }
        let Some(conn) = state.stack.tcp(handle) else {
            return Some(Err(io::ErrorKind::NotConnected.into()));
        };
        match conn.state() {
            TcpState::SynSent | TcpState::SynReceived => None,
            TcpState::Closed => Some(Err(conn
                .error()
                .map_or_else(|| io::ErrorKind::ConnectionAborted.into(), tcp_error))),
            _ => Some(Ok(())),
        }
    }

    /// The stream, once [`try_established`](Self::try_established) said `Ok`.
    pub(crate) fn finish(mut self) -> io::Result<StreamCore> {
        let handle = self.handle.take().expect("finish is called once");
        StreamCore::new(&self.host, handle).inspect_err(|_| {
            self.host.shared.close(SocketHandle::Tcp(handle));
        })
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.host.shared.close(SocketHandle::Tcp(handle));
        }
    }
}

/// The address accessors of a stream type of either front end: `peer_addr`, `local_addr`,
/// forwarded to the [`StreamCore`] in its `core` field.
macro_rules! stream_addresses {
    () => {
        /// The remote address.
        pub fn peer_addr(&self) -> ::std::io::Result<::std::net::SocketAddr> {
            Ok(self.core.peer())
        }

        /// The local address.
        pub fn local_addr(&self) -> ::std::io::Result<::std::net::SocketAddr> {
            Ok(self.core.local())
        }
    };
}

/// The options and figures of a whole stream of either front end: `set_nodelay`,
/// `nodelay`, `take_error`, `tcp_info`, forwarded to the [`StreamCore`] in its `core` field.
macro_rules! stream_options {
    () => {
        /// Turns Nagle's algorithm off (`true`) or back on, like `TCP_NODELAY`.
        pub fn set_nodelay(&self, nodelay: bool) -> ::std::io::Result<()> {
            self.core.set_nodelay(nodelay)
        }

        /// Whether Nagle's algorithm is off.
        pub fn nodelay(&self) -> ::std::io::Result<bool> {
            Ok(self.core.nodelay())
        }

        /// The connection's error, once (like `SO_ERROR`): reset, timed out, refused.
        pub fn take_error(&self) -> ::std::io::Result<Option<::std::io::Error>> {
            self.core.take_error()
        }

        /// A snapshot of the connection's state and figures, like Linux's `TCP_INFO`.
        pub fn tcp_info(&self) -> ::std::io::Result<$crate::tcp::TcpInfo> {
            self.core.tcp_info()
        }
    };
}

pub(crate) use {stream_addresses, stream_options};

/// An open TCP connection: closed in the stack, as Linux closes, when dropped.
#[derive(Debug)]
pub(crate) struct StreamCore {
    host: Arc<Handle>,
    handle: TcpHandle,
    local: SocketAddr,
    peer: SocketAddr,
    nodelay: AtomicBool,
    /// `shutdown(Read)` was called: reads return end-of-file.
    read_shut: AtomicBool,
    /// The connection's error was reported by [`take_error`](Self::take_error).
    error_taken: AtomicBool,
}

impl StreamCore {
    fn new(host: &Arc<Handle>, handle: TcpHandle) -> io::Result<Self> {
        let state = host.shared.lock();
        let (local, peer) = state.stack.tcp_addrs(handle).ok_or(io::ErrorKind::NotConnected)?;
        drop(state);
        Ok(Self {
            host: Arc::clone(host),
            handle,
            local,
            peer,
            nodelay: AtomicBool::new(false),
            read_shut: AtomicBool::new(false),
            error_taken: AtomicBool::new(false),
        })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.host.shared
    }

    /// What a read waits for: data, the end, an error.
    pub(crate) const fn wait_read(&self) -> Wait {
        Wait::on(SocketHandle::Tcp(self.handle), Interest::Read)
    }

    /// What a write waits for: room in the send buffer, or an error.
    pub(crate) const fn wait_write(&self) -> Wait {
        Wait::on(SocketHandle::Tcp(self.handle), Interest::Write)
    }

    /// What waiting for the close waits on: any change on the connection.
    pub(crate) const fn wait_closed(&self) -> Wait {
        Wait::on(SocketHandle::Tcp(self.handle), Interest::Any)
    }

    pub(crate) const fn local(&self) -> SocketAddr {
        self.local
    }

    pub(crate) const fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// `Some(Ok)` once a read would not wait (data, the end or an error has come), `None`
    /// while it would; it reads nothing.
    #[cfg(feature = "tokio")]
    pub(crate) fn try_readable(&self, state: &State) -> Option<io::Result<()>> {
        let shut = self.read_shut.load(Ordering::Relaxed);
        (shut || readiness(&state.stack, SocketHandle::Tcp(self.handle)).read).then_some(Ok(()))
    }

    /// Reads what has arrived: `Ok(0)` at end-of-file (the peer's FIN, or our
    /// `shutdown(Read)`), `None` when nothing has arrived yet. `buf` is asked for once the
    /// read will not wait, given how many bytes are queued (0 at end-of-file or an error),
    /// and must not come back empty; so a caller sizes (or zeroes) only what it fills.
    pub(crate) fn try_read<'b>(
        &self,
        state: &mut State,
        buf: impl FnOnce(usize) -> &'b mut [u8],
    ) -> Option<io::Result<usize>> {
        // Looked at under the lock: `shutdown(Read)` sets it there and wakes us.
        if self.read_shut.load(Ordering::Relaxed) {
            return Some(Ok(0));
        }
        // Look first: a read that waits must not mark the connection for the driver.
        if !readiness(&state.stack, SocketHandle::Tcp(self.handle)).read {
            return None;
        }
        let queued = state.stack.tcp(self.handle).map_or(0, |c| c.recv_available());
        // `tcp_mut` marks the connection for the driver: reading may owe a window update.
        let Some(conn) = state.stack.tcp_mut(self.handle) else {
            return Some(Err(io::ErrorKind::NotConnected.into()));
        };
        match conn.recv(buf(queued)) {
            Ok(n) => Some(Ok(n)),
            Err(RecvError::WouldBlock) => None,
            Err(RecvError::Error(e)) => Some(Err(tcp_error(e))),
        }
    }

    /// Queues as much of `bufs`, in order, as the send buffer takes; `None` when it takes
    /// nothing now. Empty slices are skipped; all of them empty is `Ok(0)`.
    pub(crate) fn try_write<'b>(
        &self,
        state: &mut State,
        bufs: impl IntoIterator<Item = &'b [u8]>,
    ) -> Option<io::Result<usize>> {
        // Look first: a write that waits must not mark the connection for the driver.
        if !readiness(&state.stack, SocketHandle::Tcp(self.handle)).write {
            return None;
        }
        let Some(conn) = state.stack.tcp_mut(self.handle) else {
            return Some(Err(io::ErrorKind::NotConnected.into()));
        };
        let mut written = 0;
        for buf in bufs.into_iter().filter(|b| !b.is_empty()) {
            match conn.send(buf) {
                Ok(n) => {
                    written += n;
                    if n < buf.len() {
                        break;
                    }
                }
                // What was queued before counts; the failure shows on the next call.
                _ if written > 0 => break,
                Err(SendError::WouldBlock) => return None,
                Err(SendError::Closed) => {
                    return Some(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the sending side is shut down",
                    )));
                }
                Err(SendError::Error(e)) => return Some(Err(tcp_error(e))),
            }
        }
        Some(Ok(written))
    }

    /// `Ok` once the connection is over (TIME-WAIT or CLOSED, our FIN acknowledged), its
    /// error if it failed, `None` while it goes on.
    pub(crate) fn try_closed(&self, state: &mut State) -> Option<io::Result<()>> {
        let Some(conn) = state.stack.tcp(self.handle) else {
            return Some(Err(io::ErrorKind::NotConnected.into()));
        };
        if let Some(e) = conn.error() {
            return Some(Err(tcp_error(e)));
        }
        matches!(conn.state(), TcpState::TimeWait | TcpState::Closed).then_some(Ok(()))
    }

    /// Closes the reading half, the writing half, or both, and wakes the calls waiting on
    /// the connection so that they see it: a read returns end-of-file after
    /// `Shutdown::Read`, a write fails with `BrokenPipe` after `Shutdown::Write`, whose FIN
    /// follows the queued data.
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let write = matches!(how, Shutdown::Write | Shutdown::Both);
        let shared = self.shared();
        let mut state = shared.lock();
        if write {
            let conn = state.stack.tcp_mut(self.handle).ok_or(io::ErrorKind::NotConnected)?;
            conn.shutdown_write();
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut.store(true, Ordering::Relaxed);
        }
        drop(state);
        // After the change, so that a woken call sees it when it looks again.
        shared.wake(SocketHandle::Tcp(self.handle));
        if write {
            shared.kick();
        }
        Ok(())
    }

    /// Resets the connection: a RST to the peer, and what is queued either way dropped.
    pub(crate) fn abort(&self) {
        let shared = self.shared();
        if let Some(conn) = shared.lock().stack.tcp_mut(self.handle) {
            conn.abort();
        }
        shared.wake(SocketHandle::Tcp(self.handle));
        shared.kick();
    }

    /// Turns Nagle's algorithm off (`true`) or back on; data it held back goes out.
    pub(crate) fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let shared = self.shared();
        let mut state = shared.lock();
        // Through `tcp_mut`, so that data Nagle held back goes out.
        state.stack.tcp_mut(self.handle).ok_or(io::ErrorKind::NotConnected)?.set_nodelay(nodelay);
        drop(state);
        self.nodelay.store(nodelay, Ordering::Relaxed);
        shared.kick();
        Ok(())
    }

    pub(crate) fn nodelay(&self) -> bool {
        self.nodelay.load(Ordering::Relaxed)
    }

    /// The connection's error, once (like `SO_ERROR`): reset, timed out, refused.
    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        let mut state = self.shared().lock();
        if let Some(e) = state.stack.tcp_take_error(self.handle) {
            return Ok(Some(e.into()));
        }
        let conn = state.stack.tcp(self.handle).ok_or(io::ErrorKind::NotConnected)?;
        match conn.error() {
            Some(e) if !self.error_taken.swap(true, Ordering::Relaxed) => Ok(Some(tcp_error(e))),
            _ => Ok(None),
        }
    }

    /// A snapshot of the connection's state and figures, like Linux's `TCP_INFO`. Read
    /// without marking the connection for the driver's attention.
    pub(crate) fn tcp_info(&self) -> io::Result<TcpInfo> {
        let state = self.shared().lock();
        let conn = state.stack.tcp(self.handle).ok_or(io::ErrorKind::NotConnected)?;
        Ok(conn.info())
    }
}

impl Drop for StreamCore {
    fn drop(&mut self) {
        self.host.shared.close(SocketHandle::Tcp(self.handle));
    }
}

/// What the stack's report of a change on `socket` made possible, judged from the socket as
/// it is now: a connection's readers wake only for data, the end or an error, its writers
/// only for room or an error. Every other socket's change wakes all its waiters.
pub(crate) fn readiness(stack: &stack::Stack, socket: SocketHandle) -> Ready {
    use TcpState::{CloseWait, Closed, Closing, FinWait1, FinWait2, LastAck, TimeWait};
    let SocketHandle::Tcp(handle) = socket else { return Ready::ALL };
    let Some(conn) = stack.tcp(handle) else { return Ready::ALL };
    let failed = conn.error().is_some();
    let state = conn.state();
    Ready {
        // No more data can come: a read returns end-of-file.
        read: failed
            || conn.recv_available() > 0
            || matches!(state, CloseWait | Closing | LastAck | TimeWait | Closed),
        // Once our FIN is queued a write fails at once.
        write: failed
            || conn.send_capacity() > 0
            || matches!(state, FinWait1 | FinWait2 | Closing | LastAck | TimeWait | Closed),
    }
}

/// Kicks the driver when a read or write moved bytes, which gives it work (data to send, a
/// window to reopen); a call that failed, waited or read end-of-file gave it none.
pub(crate) fn kick_if_moved(shared: &Shared, result: io::Result<usize>) -> io::Result<usize> {
    if matches!(result, Ok(n) if n > 0) {
        shared.kick();
    }
    result
}

/// A UDP socket: closed in the stack when dropped.
#[derive(Debug)]
pub(crate) struct UdpCore {
    host: Arc<Handle>,
    handle: UdpHandle,
    local: SocketAddr,
}

impl UdpCore {
    /// Binds to `addr` (port 0: an ephemeral port).
    pub(crate) fn bind(host: &Arc<Handle>, addr: SocketAddr) -> io::Result<Self> {
        let mut state = host.shared.lock();
        let handle = state.stack.udp_bind(addr)?;
        let local = state.stack.udp_local_addr(handle).unwrap_or(addr);
        drop(state);
        Ok(Self { host: Arc::clone(host), handle, local })
    }

    /// An intercepting socket ([`stack::Stack::udp_intercept`]) on `prefixes`.
    pub(crate) fn intercept(host: &Arc<Handle>, prefixes: &[stack::IpCidr]) -> io::Result<Self> {
        let mut state = host.shared.lock();
        let handle = state.stack.udp_intercept(prefixes)?;
        let local = state.stack.udp_local_addr(handle).unwrap_or(UNSPECIFIED6);
        drop(state);
        Ok(Self { host: Arc::clone(host), handle, local })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.host.shared
    }

    /// What a receive waits on: any change on the socket (a datagram, an error).
    pub(crate) const fn wait_recv(&self) -> Wait {
        Wait::on(SocketHandle::Udp(self.handle), Interest::Any)
    }

    pub(crate) const fn local(&self) -> SocketAddr {
        self.local
    }

    /// The oldest datagram, copied into `buf` (the rest of a longer one is lost), with its
    /// sender; a pending error (from ICMP) comes first. `None` when nothing is queued.
    pub(crate) fn try_recv_from(
        &self,
        state: &mut State,
        buf: &mut [u8],
    ) -> Option<io::Result<(usize, SocketAddr)>> {
        self.try_recv_from_to(state, buf).map(|r| r.map(|(n, from, _)| (n, from)))
    }

    /// [`try_recv_from`](Self::try_recv_from) with the address the datagram was sent to.
    pub(crate) fn try_recv_from_to(
        &self,
        state: &mut State,
        buf: &mut [u8],
    ) -> Option<io::Result<(usize, SocketAddr, SocketAddr)>> {
        match state.stack.udp_recv_from_to(self.handle, buf) {
            Ok(got) => Some(Ok(got)),
            Err(stack::Error::WouldBlock) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Sends `buf` as one datagram from `from` to `to` (an intercepting socket). Never
    /// waits.
    pub(crate) fn send_from(
        &self,
        buf: &[u8],
        from: SocketAddr,
        to: SocketAddr,
    ) -> io::Result<usize> {
        let shared = self.shared();
        let sent = shared.lock().stack.udp_send_from(now(), self.handle, buf, from, to)?;
        shared.kick();
        Ok(sent)
    }

    /// Sets the only peer: `send` goes there and only its datagrams are received.
    pub(crate) fn connect(&self, to: SocketAddr) -> io::Result<()> {
        Ok(self.shared().lock().stack.udp_connect(self.handle, to)?)
    }

    /// Sends `buf` as one datagram to `to`, or with `None` to the connected peer; a
    /// connected send reports the pending error first. Never waits.
    pub(crate) fn send(&self, buf: &[u8], to: Option<SocketAddr>) -> io::Result<usize> {
        let shared = self.shared();
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

    /// The connected peer, or `NotConnected`.
    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared()
            .lock()
            .stack
            .udp_peer_addr(self.handle)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// The pending error (an ICMP error for a connected socket), once.
    pub(crate) fn take_error(&self) -> Option<io::Error> {
        self.shared().lock().stack.udp_take_error(self.handle).map(io::Error::from)
    }
}

impl Drop for UdpCore {
    fn drop(&mut self) {
        self.host.shared.close(SocketHandle::Udp(self.handle));
    }
}

/// One ICMP echo request on its way, waiting for its reply.
#[derive(Debug)]
pub(crate) struct Ping {
    addr: IpAddr,
    ident: u16,
    sent_at: Instant,
}

impl Ping {
    /// The payload ping(8) sends by default: 56 bytes.
    pub(crate) const DEFAULT_SIZE: usize = 56;

    /// Sends one echo request to `addr` with `size` bytes of payload, counting up from zero
    /// as ping(8)'s do; a request larger than the MTU goes in fragments.
    pub(crate) fn send(shared: &Shared, addr: IpAddr, size: usize) -> io::Result<Self> {
        let ident = shared.next_ping_ident();
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut state = shared.lock();
        let sent_at = now();
        state.stack.ping_send(sent_at, addr, ident, 1, &payload)?;
        drop(state);
        shared.kick();
        Ok(Self { addr, ident, sent_at })
    }

    /// The round-trip time once the reply is in; `None` until then. A reply from another
    /// host (a late one to an earlier ping that used the same identifier) is passed over.
    pub(crate) fn try_reply(&self, state: &mut State) -> Option<io::Result<std::time::Duration>> {
        loop {
            let reply = state.stack.ping_poll_reply(self.ident)?;
            if reply.from == self.addr {
                return Some(Ok(reply.at.saturating_duration_since(self.sent_at).to_std()));
            }
        }
    }

    /// The error of a ping whose reply did not come within `timeout`.
    pub(crate) fn timed_out(&self, timeout: std::time::Duration) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no echo reply from {} within {timeout:?}", self.addr),
        )
    }
}
