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
use super::engine::{BUSY_POLL, Io};
use super::socket::readiness;
use crate::device::DeviceWaker;
use crate::stack::{self, SocketHandle};
use crate::wire::Ipv4Addr;
use core::task::Waker;
#[cfg(feature = "tokio")]
use core::task::{Context, Poll};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};

/// What a caller waits on: a socket, or the echo replies of the stack's pings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum WaitKey {
    /// A change on this socket (data, space, a connection, an error, the end).
    Socket(SocketHandle),
    /// An ICMP echo reply arrived.
    Ping,
}

/// What a waiting call needs from a change before it can make progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Data, the end of the stream, or an error (a read).
    Read,
    /// Room in the send buffer, or an error (a write).
    Write,
    /// Any change (accept, connect, close, a datagram, a ping reply).
    Any,
}

impl Interest {
    const ALL: [Self; 3] = [Self::Read, Self::Write, Self::Any];

    const fn index(self) -> usize {
        self as usize
    }
}

/// A wait: the key and what the caller needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wait {
    pub(crate) key: WaitKey,
    pub(crate) interest: Interest,
}

impl Wait {
    /// Waiting for the next echo reply.
    pub(crate) const PING: Self = Self { key: WaitKey::Ping, interest: Interest::Any };

    pub(crate) const fn on(socket: SocketHandle, interest: Interest) -> Self {
        Self { key: WaitKey::Socket(socket), interest }
    }
}

/// What a change on a socket made possible: whom to wake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ready {
    /// A read would return something now (data, end-of-file, an error).
    pub(crate) read: bool,
    /// A write would return something now (it takes bytes, or fails).
    pub(crate) write: bool,
}

impl Ready {
    /// Wake everyone: the change is not one the stack can judge (the application's own).
    pub(crate) const ALL: Self = Self { read: true, write: true };

    const fn wakes(self, interest: Interest) -> bool {
        match interest {
            Interest::Read => self.read,
            Interest::Write => self.write,
            Interest::Any => true,
        }
    }
}

/// Who waits with one [`Interest`] on one [`WaitKey`].
#[derive(Debug, Default)]
struct Slot {
    /// Blocking callers sleep here; made the first time one does.
    condvar: Option<Arc<Condvar>>,
    /// How many blocking callers sleep on it now: no one, no notification.
    sleepers: usize,
    /// Async tasks parked here, each once; all are woken at the next change that helps.
    wakers: Vec<Waker>,
}

/// Who waits on one [`WaitKey`], by interest.
#[derive(Debug, Default)]
struct Waiters {
    slots: [Slot; 3],
}

impl Waiters {
    /// Nobody waits: no sleeper, no parked waker.
    fn is_idle(&self) -> bool {
        self.slots.iter().all(|s| s.sleepers == 0 && s.wakers.is_empty())
    }

    /// Wakes the blocking callers `ready` can help now, and moves the wakers it can help to
    /// `out`.
    fn wake_into(&mut self, ready: Ready, out: &mut Vec<Waker>) {
        for interest in Interest::ALL {
            if !ready.wakes(interest) {
                continue;
            }
            let slot = &mut self.slots[interest.index()];
            if slot.sleepers > 0 {
                if let Some(condvar) = &slot.condvar {
                    condvar.notify_all();
                }
            }
            out.append(&mut slot.wakers);
        }
    }

    #[cfg(feature = "tokio")]
    fn park(&mut self, interest: Interest, waker: &Waker) {
        let wakers = &mut self.slots[interest.index()].wakers;
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

/// An open stream of events or trace records: a bounded queue, and how many it had no
/// room for.
struct Subscriber<T> {
    tx: mpsc::SyncSender<T>,
    missed: Arc<AtomicU64>,
}

impl<T> Subscriber<T> {
    /// Offers `item`: a full queue counts it as missed; `false` when the reader is gone.
    fn offer(&self, item: T) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::TrySendError::Full(_)) => {
                self.missed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::TrySendError::Disconnected(_)) => false,
        }
    }
}

/// A new bounded stream: its reader, and the count of what it had no room for.
fn open<T>(capacity: usize) -> (Subscriber<T>, mpsc::Receiver<T>, Arc<AtomicU64>) {
    let (tx, rx) = mpsc::sync_channel(capacity);
    let missed = Arc::new(AtomicU64::new(0));
    (Subscriber { tx, missed: Arc::clone(&missed) }, rx, missed)
}

/// What the driver and the sockets share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Tells the driver there is work: ends its sleep.
    kick: DeviceWaker,
    /// The device, for whichever thread takes a turn, when the driver is a thread (the
    /// tokio task keeps its own).
    io: Option<Io>,
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
    /// The open [`crate::net::Events`] streams.
    subscribers: Vec<Subscriber<Event>>,
    /// The open [`crate::net::Traces`] streams.
    tracers: Vec<Subscriber<stack::TraceRecord>>,
    /// Set when the last handle is dropped: the driver sends what is queued and stops.
    pub(crate) shutdown: bool,
}

impl State {
    /// Wakes whoever waits on `key` for what `ready` says is possible: blocking callers at
    /// once, async tasks by moving their wakers to `out`, for the caller to wake once the
    /// lock is released.
    pub(crate) fn wake_into(&mut self, key: WaitKey, ready: Ready, out: &mut Vec<Waker>) {
        if let Some(waiters) = self.waiters.get_mut(&key) {
            waiters.wake_into(ready, out);
        }
    }

    /// Wakes whoever waits on `socket`, after the stack named it as changed, for what the
    /// change made possible ([`readiness`]) — judged only when someone waits, since most
    /// changes (every ACK) find nobody.
    pub(crate) fn wake_socket(&mut self, socket: SocketHandle, out: &mut Vec<Waker>) {
        let Some(waiters) = self.waiters.get_mut(&WaitKey::Socket(socket)) else { return };
        if waiters.is_idle() {
            return;
        }
        waiters.wake_into(readiness(&self.stack, socket), out);
    }

    fn slot(&mut self, wait: Wait) -> &mut Slot {
        &mut self.waiters.entry(wait.key).or_default().slots[wait.interest.index()]
    }

    /// Hands `event` to every open event stream: a full one counts it as missed, and one
    /// whose reader is gone is forgotten.
    pub(crate) fn publish(&mut self, event: Event) {
        self.subscribers.retain(|sub| sub.offer(event));
    }

    /// Hands `record` to every open trace stream, as [`publish`](Self::publish) does
    /// events.
    pub(crate) fn publish_trace(&mut self, record: stack::TraceRecord) {
        self.tracers.retain(|sub| sub.offer(record));
    }
}

impl Shared {
    /// The shared state of a new stack, whose driver `kick` wakes.
    pub(crate) fn new(
        stack: stack::Stack,
        address: Ipv4Addr,
        kick: DeviceWaker,
        io: Option<Io>,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                stack,
                waiters: HashMap::new(),
                subscribers: Vec::new(),
                tracers: Vec::new(),
                shutdown: false,
            }),
            kick,
            io,
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

    /// The device shared with callers, when the driver is a thread.
    pub(super) const fn io(&self) -> Option<&Io> {
        self.io.as_ref()
    }

    /// Gets done the work an application call gave the stack (data to send, a window to
    /// reopen, a connection to open or close): in a turn on this thread where the device is
    /// shared with callers, else by the driver, which this wakes. Called without the state
    /// locked.
    pub(crate) fn kick(&self) {
        if self.polls() {
            self.turn_here(true);
        } else {
            self.wake_driver();
        }
    }

    /// Ends the driver's sleep, so that it takes a turn.
    pub(crate) fn wake_driver(&self) {
        self.kick.wake();
    }

    /// Runs `attempt` until it returns a result, sleeping on `wait` between tries: the
    /// blocking front end's wait.
    ///
    /// `attempt` gets the state under the lock and returns `None` to wait for the next change
    /// that can help. Where the device is shared with callers, the wait starts by polling it
    /// for [`BUSY_POLL`], taking turns on this thread. Nonblocking, it runs once and `None` becomes `WouldBlock`; past
    /// `deadline` it becomes an error of kind `on_timeout`. The driver is not kicked: a
    /// caller whose attempt gave the stack work (queued data, freed buffer space) kicks it.
    pub(crate) fn block_on<T>(
        &self,
        wait: Wait,
        nonblocking: bool,
        deadline: Option<std::time::Instant>,
        on_timeout: io::ErrorKind,
        mut attempt: impl FnMut(&mut State) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        // `None` until the first attempt fails; then the poll, if the device can be polled.
        let mut polling = None;
        let mut state = self.lock();
        let result = loop {
            if let Some(result) = attempt(&mut state) {
                break result;
            }
            if nonblocking {
                break Err(io::ErrorKind::WouldBlock.into());
            }
            let now = std::time::Instant::now();
            let left = deadline.map(|d| d.saturating_duration_since(now));
            if left.is_some_and(|left| left.is_zero()) {
                break Err(io::Error::new(on_timeout, "timed out"));
            }
            // Before sleeping, poll a while: take turns here, so that an answer that comes
            // at once is received by this thread, with no hand-off.
            let poll = polling.get_or_insert_with(|| self.start_polling(now + BUSY_POLL));
            if poll.as_ref().is_some_and(|poll| now < poll.until) {
                drop(state);
                if self.turn_here(false) != Some(true) {
                    std::thread::yield_now();
                }
                state = self.lock();
                continue;
            }
            // Asleep, this thread polls no more.
            *poll = None;
            let slot = state.slot(wait);
            slot.sleepers += 1;
            let condvar = Arc::clone(slot.condvar.get_or_insert_with(Arc::default));
            state = match left {
                None => condvar.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    condvar.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
            let slot = state.slot(wait);
            slot.sleepers = slot.sleepers.saturating_sub(1);
        };
        drop(state);
        drop(polling);
        result
    }

    /// Runs `attempt` once; when it returns `None`, parks `cx`'s waker on `wait` to be woken
    /// at the next change that can help: the async front end's wait.
    ///
    /// Nothing is lost when the caller drops the future instead of polling it again: an
    /// attempt either completes (and its result is returned now) or changes nothing.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_on<T>(
        &self,
        cx: &mut Context<'_>,
        wait: Wait,
        attempt: impl FnOnce(&mut State) -> Option<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut state = self.lock();
        match attempt(&mut state) {
            Some(result) => Poll::Ready(result),
            None => {
                state.waiters.entry(wait.key).or_default().park(wait.interest, cx.waker());
                Poll::Pending
            }
        }
    }

    /// Takes `waker` back from `wait`, for a future dropped before it was woken whose key
    /// lives on (the stack's pings): its waker would otherwise stay parked there.
    #[cfg(feature = "tokio")]
    pub(crate) fn unpark(&self, wait: Wait, waker: &Waker) {
        let mut state = self.lock();
        if let Some(waiters) = state.waiters.get_mut(&wait.key) {
            waiters.slots[wait.interest.index()].wakers.retain(|w| !w.will_wake(waker));
        }
    }

    /// Wakes everyone waiting on `socket`, so that each looks again: the application changed
    /// it (shut it down) without the stack reporting a change.
    pub(crate) fn wake(&self, socket: SocketHandle) {
        let mut wakers = Vec::new();
        self.lock().wake_into(WaitKey::Socket(socket), Ready::ALL, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Closes `socket` in the stack (a TCP connection closes as Linux does, with a FIN or a
    /// RST), forgets its waiters (none are left: whoever waited held the socket), and kicks
    /// the driver to send what the close queued.
    pub(crate) fn close(&self, socket: SocketHandle) {
        let mut state = self.lock();
        match socket {
            SocketHandle::Listener(handle) => state.stack.listener_close(handle),
            SocketHandle::Tcp(handle) => state.stack.tcp_release(handle),
            SocketHandle::Udp(handle) => state.stack.udp_close(handle),
        }
        state.waiters.remove(&WaitKey::Socket(socket));
        drop(state);
        self.kick();
    }

    /// A new event stream that holds at most `capacity` events not yet read; the count of
    /// those it had no room for grows in the returned counter.
    pub(crate) fn subscribe(&self, capacity: usize) -> (mpsc::Receiver<Event>, Arc<AtomicU64>) {
        let (sub, rx, missed) = open(capacity);
        self.lock().subscribers.push(sub);
        (rx, missed)
    }

    /// A new stream of trace records, like [`subscribe`](Self::subscribe)'s of events.
    pub(crate) fn subscribe_traces(
        &self,
        capacity: usize,
    ) -> (mpsc::Receiver<stack::TraceRecord>, Arc<AtomicU64>) {
        let (sub, rx, missed) = open(capacity);
        self.lock().tracers.push(sub);
        (rx, missed)
    }

    /// An ICMP echo identifier no other ping of this stack uses at the moment.
    pub(crate) fn next_ping_ident(&self) -> u16 {
        self.next_ping_ident.fetch_add(1, Ordering::Relaxed)
    }

    /// Asks the driver to stop after sending what is queued.
    pub(crate) fn shut_down(&self) {
        let mut state = self.lock();
        state.shutdown = true;
        // Open event and trace streams end.
        state.subscribers.clear();
        state.tracers.clear();
        drop(state);
        // Whoever else takes a turn, the driver must see the flag.
        self.wake_driver();
    }
}
