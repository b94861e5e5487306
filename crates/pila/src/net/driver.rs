//! The driver thread and the state it shares with the socket handles.

use super::{Event, now};
use crate::device::{DeviceWaker, FrameBatch, WaitDevice};
use crate::stack::{self, SocketHandle};
use crate::time::Instant;
use crate::wire::Ipv4Addr;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;

/// What the driver thread and the sockets share.
pub(super) struct Shared {
    state: Mutex<State>,
    /// Signalled when an echo reply may have arrived.
    ping_ready: Condvar,
    /// Ends the driver's sleep on the device.
    waker: DeviceWaker,
    /// The stack's first address (for naming and the default MAC).
    pub(super) address: Ipv4Addr,
    /// The next ICMP echo identifier to use.
    next_ping_ident: AtomicU16,
}

/// The state behind the lock.
pub(super) struct State {
    /// The Sans-IO stack.
    pub(super) stack: stack::Stack,
    /// One condition variable per socket that has ever blocked, woken when the stack reports
    /// a change on that socket.
    waiters: HashMap<SocketHandle, Arc<Condvar>>,
    /// Callers waiting in [`Shared::ping`].
    ping_waiters: usize,
    /// The open [`super::Events`] streams.
    subscribers: Vec<mpsc::Sender<Event>>,
    /// Set when the last handle is dropped: the driver sends what is queued and stops.
    shutdown: bool,
}

/// Starts the driver thread for `stack` on `device`.
pub(super) fn start(
    stack: stack::Stack,
    device: Box<dyn WaitDevice>,
    address: Ipv4Addr,
) -> io::Result<(Arc<Shared>, JoinHandle<()>)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            stack,
            waiters: HashMap::new(),
            ping_waiters: 0,
            subscribers: Vec::new(),
            shutdown: false,
        }),
        ping_ready: Condvar::new(),
        waker: device.waker(),
        address,
        next_ping_ident: AtomicU16::new(0x7000 | (u16::from(address.octets()[3]) << 4)),
    });
    let driver = Driver::new(Arc::clone(&shared), device);
    let thread = std::thread::Builder::new()
        .name(format!("pila driver {address}"))
        .spawn(move || driver.run())?;
    Ok((shared, thread))
}

impl Shared {
    /// Locks the shared state. A panic on another thread cannot leave the stack unsound
    /// (every call into it completes or unwinds before changing shared tables), so a
    /// poisoned lock is taken over.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the driver an application call gave the stack work (data to send, a window to
    /// reopen, a connection to open or close).
    pub(super) fn kick(&self) {
        self.waker.wake();
    }

    /// Runs `attempt` until it returns a result, sleeping on `socket` between tries.
    ///
    /// `attempt` gets the state under the lock and returns `None` to wait for the next change
    /// on the socket. Nonblocking, it runs once and `None` becomes `WouldBlock`; past
    /// `deadline` it becomes an error of kind `on_timeout`. The driver is not kicked: a
    /// caller whose attempt gave the stack work (queued data, freed buffer space) kicks it.
    pub(super) fn block_on<T>(
        &self,
        socket: SocketHandle,
        nonblocking: bool,
        deadline: Option<std::time::Instant>,
        on_timeout: io::ErrorKind,
        mut attempt: impl FnMut(&mut State) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        let mut state = self.lock();
        let result = loop {
            if let Some(result) = attempt(&mut state) {
                break result;
            }
            if nonblocking {
                break Err(io::ErrorKind::WouldBlock.into());
            }
            let waiter = Arc::clone(state.waiters.entry(socket).or_default());
            state = match deadline {
                None => waiter.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break Err(io::Error::new(on_timeout, "timed out"));
                    }
                    waiter.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        };
        drop(state);
        result
    }

    /// Wakes every caller blocked on `socket`, so that each looks at the socket again: the
    /// application changed it (shut it down) without the stack reporting a change.
    pub(super) fn wake(state: &State, socket: SocketHandle) {
        if let Some(waiter) = state.waiters.get(&socket) {
            waiter.notify_all();
        }
    }

    /// Closes `socket` in the stack (a TCP connection closes as Linux does, with a FIN or a
    /// RST), forgets its condition variable, and kicks the driver to send what the close
    /// queued.
    pub(super) fn close(&self, socket: SocketHandle) {
        let mut state = self.lock();
        match socket {
            SocketHandle::Listener(handle) => state.stack.listener_close(handle),
            SocketHandle::Tcp(handle) => state.stack.tcp_release(handle),
            SocketHandle::Udp(handle) => state.stack.udp_close(handle),
        }
        state.waiters.remove(&socket);
        drop(state);
        self.kick();
    }

    /// A new event stream.
    pub(super) fn subscribe(&self) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel();
        self.lock().subscribers.push(tx);
        rx
    }

    /// Sends one echo request to `addr` and waits for its reply.
    pub(super) fn ping(
        &self,
        addr: Ipv4Addr,
        timeout: std::time::Duration,
    ) -> io::Result<std::time::Duration> {
        const PAYLOAD: [u8; 56] = {
            let mut data = [0u8; 56];
            let mut i = 0;
            while i < data.len() {
                data[i] = i as u8;
                i += 1;
            }
            data
        };
        let ident = self.next_ping_ident.fetch_add(1, Ordering::Relaxed);
        let deadline = std::time::Instant::now() + timeout;
        let mut state = self.lock();
        let sent_at = now();
        state.stack.ping_send(sent_at, addr, ident, 1, &PAYLOAD).map_err(io::Error::from)?;
        state.ping_waiters += 1;
        self.kick();
        let result = loop {
            if let Some(reply) = state.stack.ping_poll_reply(ident) {
                break Ok(reply.at.saturating_duration_since(sent_at).to_std());
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no echo reply from {addr} within {timeout:?}"),
                ));
            }
            state =
                self.ping_ready.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        };
        state.ping_waiters -= 1;
        result
    }

    /// Asks the driver to stop after sending what is queued.
    pub(super) fn shut_down(&self) {
        let mut state = self.lock();
        state.shutdown = true;
        // Open event streams end.
        state.subscribers.clear();
        drop(state);
        self.kick();
    }
}

/// The driver: owns the device and moves frames between it and the stack.
struct Driver {
    shared: Arc<Shared>,
    device: Box<dyn WaitDevice>,
    rx: FrameBatch,
    tx: FrameBatch,
    /// The largest frame the device takes.
    max_frame_len: usize,
}

/// How long the driver waits before trying a device that failed.
const ERROR_BACKOFF: std::time::Duration = std::time::Duration::from_millis(10);

impl Driver {
    fn new(shared: Arc<Shared>, device: Box<dyn WaitDevice>) -> Self {
        let caps = device.capabilities();
        let burst = caps.max_burst.max(1);
        Self {
            shared,
            rx: FrameBatch::new(burst),
            tx: FrameBatch::new(burst),
            max_frame_len: caps.max_frame_len(),
            device,
        }
    }

    /// The loop: one bounded batch in, timers, one bounded batch out, wake-ups; then sleep
    /// unless a batch came back full.
    fn run(mut self) {
        loop {
            let now = now();
            self.rx.clear();
            let rx_failed = self.device.receive(now, &mut self.rx).is_err();
            let (deadline, stop) = self.step(now);
            let tx_failed = !self.tx.is_empty() && self.device.transmit(now, &self.tx).is_err();
            if stop && !self.tx.is_full() {
                return;
            }
            if self.rx.is_full() || self.tx.is_full() {
                continue;
            }
            if rx_failed || tx_failed {
                // A failing device is retried, not spun on.
                std::thread::sleep(ERROR_BACKOFF);
            }
            let wake_at = crate::time::earliest(deadline, self.device.poll_at())
                .map(|t| t.to_std(super::clock_epoch()));
            if self.device.wait(wake_at).is_err() {
                std::thread::sleep(ERROR_BACKOFF);
            }
        }
    }

    /// The part under the lock: frames into the stack, timers, frames out of it, events
    /// and wake-ups out to the application. Returns the stack's next deadline and whether
    /// to stop.
    fn step(&mut self, now: Instant) -> (Option<Instant>, bool) {
        let mut state = self.shared.lock();
        let state = &mut *state;
        for frame in self.rx.iter() {
            state.stack.receive(now, frame);
        }
        if state.stack.poll_timeout().is_some_and(|t| t <= now) {
            state.stack.handle_timeout(now);
        }
        self.tx.clear();
        // Frames are written straight into the batch; `Err` is "nothing more to send".
        while let Ok(true) = self
            .tx
            .try_push_with(self.max_frame_len, |buf| state.stack.poll_transmit(now, buf).ok_or(()))
        {
        }
        while let Some(event) = state.stack.poll_event() {
            state.subscribers.retain(|tx| tx.send(event).is_ok());
        }
        while let Some(socket) = state.stack.poll_wake() {
            Shared::wake(state, socket);
        }
        if state.ping_waiters > 0 && !self.rx.is_empty() {
            self.shared.ping_ready.notify_all();
        }
        (state.stack.poll_timeout(), state.shutdown)
    }
}
