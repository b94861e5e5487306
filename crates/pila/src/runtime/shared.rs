//! What a driver and the sockets of both front ends share: the Sans-IO stack behind one
//! lock, every socket's waiters, the kick that gives the driver work, and the event streams.
//!
//! A socket call runs an *attempt* under the lock (see `socket.rs`): it returns a result,
//! or `None` to wait for the next change on that socket. A blocking caller then sleeps on
//! the socket's condition variable ([`Shared::block_on`]); an async caller parks its task's
//! waker ([`Shared::poll_on`]). Both are registered under the same lock the attempt ran
//! under, and the driver wakes them under it too (or, for wakers, right after it with the
//! list it took under it), so no wake-up falls between a failed attempt and the wait.

use super::Event;
use crate::device::DeviceWaker;
use crate::stack::{self, SocketHandle};
use crate::wire::Ipv4Addr;
use core::task::Waker;
#[cfg(feature = "tokio")]
use core::task::{Context, Poll};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};

/// What a caller waits on: a socket, or the echo replies of the stack's pings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum WaitKey {
    /// A change on this socket (data, space, a connection, an error, the end).
    Socket(SocketHandle),
    /// An ICMP echo reply arrived.
    Ping,
}

impl From<SocketHandle> for WaitKey {
    fn from(socket: SocketHandle) -> Self {
        Self::Socket(socket)
    }
}

/// Who waits on one [`WaitKey`].
#[derive(Debug, Default)]
struct Waiters {
    /// Blocking callers sleep here; made the first time one does.
    condvar: Option<Arc<Condvar>>,
    /// Async tasks parked here, each once; all are woken at the next change.
    wakers: Vec<Waker>,
}

impl Waiters {
    /// Wakes the blocking callers now and moves the parked wakers to `out`.
    fn wake_into(&mut self, out: &mut Vec<Waker>) {
        if let Some(condvar) = &self.condvar {
            condvar.notify_all();
        }
        out.append(&mut self.wakers);
    }

    #[cfg(feature = "tokio")]
    fn park(&mut self, waker: &Waker) {
        if !self.wakers.iter().any(|w| w.will_wake(waker)) {
            self.wakers.push(waker.clone());
        }
    }
}

/// What the driver and the sockets share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Tells the driver there is work: ends its sleep.
    kick: DeviceWaker,
    /// The stack's first address (for naming and the default MAC).
    pub(crate) address: Ipv4Addr,
    /// The next ICMP echo identifier to use.
    next_ping_ident: AtomicU16,
}

/// The state behind the lock.
pub(crate) struct State {
    /// The Sans-IO stack.
    pub(crate) stack: stack::Stack,
    /// Who waits on what; an entry lives until its socket closes.
    waiters: HashMap<WaitKey, Waiters>,
    /// The open [`super::Events`] streams.
    subscribers: Vec<mpsc::Sender<Event>>,
    /// Set when the last handle is dropped: the driver sends what is queued and stops.
    pub(crate) shutdown: bool,
}

impl State {
    /// Wakes whoever waits on `key`: blocking callers at once, async tasks by moving their
    /// wakers to `out`, for the caller to wake once the lock is released.
    pub(crate) fn wake_into(&mut self, key: WaitKey, out: &mut Vec<Waker>) {
        if let Some(waiters) = self.waiters.get_mut(&key) {
            waiters.wake_into(out);
        }
    }

    /// Hands `event` to every open event stream; streams whose reader is gone are dropped.
    pub(crate) fn publish(&mut self, event: Event) {
        self.subscribers.retain(|tx| tx.send(event).is_ok());
    }
}

impl Shared {
    /// The shared state of a new stack, whose driver `kick` wakes.
    pub(crate) fn new(stack: stack::Stack, address: Ipv4Addr, kick: DeviceWaker) -> Self {
        Self {
            state: Mutex::new(State {
                stack,
                waiters: HashMap::new(),
                subscribers: Vec::new(),
                shutdown: false,
            }),
            kick,
            address,
            next_ping_ident: AtomicU16::new(0x7000 | (u16::from(address.octets()[3]) << 4)),
        }
    }

    /// Locks the shared state. A panic on another thread cannot leave the stack unsound
    /// (every call into it completes or unwinds before changing shared tables), so a
    /// poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the driver an application call gave the stack work (data to send, a window to
    /// reopen, a connection to open or close).
    pub(crate) fn kick(&self) {
        self.kick.wake();
    }

    /// Runs `attempt` until it returns a result, sleeping on `key` between tries: the
    /// blocking front end's wait.
    ///
    /// `attempt` gets the state under the lock and returns `None` to wait for the next change
    /// on `key`. Nonblocking, it runs once and `None` becomes `WouldBlock`; past `deadline`
    /// it becomes an error of kind `on_timeout`. The driver is not kicked: a caller whose
    /// attempt gave the stack work (queued data, freed buffer space) kicks it.
    pub(crate) fn block_on<T>(
        &self,
        key: impl Into<WaitKey>,
        nonblocking: bool,
        deadline: Option<std::time::Instant>,
        on_timeout: io::ErrorKind,
        mut attempt: impl FnMut(&mut State) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        let key = key.into();
        let mut state = self.lock();
        let result = loop {
            if let Some(result) = attempt(&mut state) {
                break result;
            }
            if nonblocking {
                break Err(io::ErrorKind::WouldBlock.into());
            }
            let waiters = state.waiters.entry(key).or_default();
            let condvar = Arc::clone(waiters.condvar.get_or_insert_with(Arc::default));
            state = match deadline {
                None => condvar.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break Err(io::Error::new(on_timeout, "timed out"));
                    }
                    condvar.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        };
        drop(state);
        result
    }

    /// Runs `attempt` once; when it returns `None`, parks `cx`'s waker on `key` to be woken
    /// at the next change there: the async front end's wait.
    ///
    /// Nothing is lost when the caller drops the future instead of polling it again: an
    /// attempt either completes (and its result is returned now) or changes nothing.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_on<T>(
        &self,
        cx: &mut Context<'_>,
        key: impl Into<WaitKey>,
        attempt: impl FnOnce(&mut State) -> Option<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut state = self.lock();
        match attempt(&mut state) {
            Some(result) => Poll::Ready(result),
            None => {
                state.waiters.entry(key.into()).or_default().park(cx.waker());
                Poll::Pending
            }
        }
    }

    /// Wakes everyone waiting on `key`, so that each looks again: the application changed
    /// the socket (shut it down) without the stack reporting a change.
    pub(crate) fn wake(&self, key: impl Into<WaitKey>) {
        let mut wakers = Vec::new();
        self.lock().wake_into(key.into(), &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Closes `socket` in the stack (a TCP connection closes as Linux does, with a FIN or a
    /// RST), wakes and forgets its waiters, and kicks the driver to send what the close
    /// queued.
    pub(crate) fn close(&self, socket: SocketHandle) {
        let mut state = self.lock();
        match socket {
            SocketHandle::Listener(handle) => state.stack.listener_close(handle),
            SocketHandle::Tcp(handle) => state.stack.tcp_release(handle),
            SocketHandle::Udp(handle) => state.stack.udp_close(handle),
        }
        let waiters = state.waiters.remove(&WaitKey::Socket(socket));
        drop(state);
        if let Some(mut waiters) = waiters {
            let mut wakers = Vec::new();
            waiters.wake_into(&mut wakers);
            wakers.into_iter().for_each(Waker::wake);
        }
        self.kick();
    }

    /// A new event stream.
    pub(crate) fn subscribe(&self) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel();
        self.lock().subscribers.push(tx);
        rx
    }

    /// An ICMP echo identifier no other ping of this stack uses at the moment.
    pub(crate) fn next_ping_ident(&self) -> u16 {
        self.next_ping_ident.fetch_add(1, Ordering::Relaxed)
    }

    /// Asks the driver to stop after sending what is queued.
    pub(crate) fn shut_down(&self) {
        let mut state = self.lock();
        state.shutdown = true;
        // Open event streams end.
        state.subscribers.clear();
        drop(state);
        self.kick();
    }
}
