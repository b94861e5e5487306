//! One turn of a driver, whichever thread takes it, and the driver that waits on a thread
//! of its own.
//!
//! A turn: the received batch into the stack, the timers that are due, a batch of frames
//! out, events to the streams, wake-ups to the sockets the stack named. Both drivers — the
//! thread here and the tokio task (`task.rs`) — run the same [`Engine::turn`]; they differ
//! only in how they fill the receive batch and how they sleep between turns.
//!
//! # Turns on the application's threads
//!
//! A driver thread whose device can be slept on without being held
//! ([`WaitDevice::sleeper`]) shares the device with the application ([`Io`]). Whoever
//! holds it takes the turn:
//!
//! * a call that gave the stack work (a write, a connect, a close) takes a turn at once, so
//!   its segments are on the device when the call returns — no hand-off to the driver;
//! * a call that must wait polls for a while ([`BUSY_POLL`]) before it sleeps, taking turns
//!   itself, so an answer that comes quickly is received by the thread that wants it.
//!
//! The device is held only for turns. A call that finds it taken leaves a request, and
//! whoever lets go of the device next takes one more turn for it; a poll tries again later.
//!
//! The driver thread still owns the timers. A turn on another thread can move the stack's
//! next deadline earlier than the driver means to wake; it then kicks the driver, unless the
//! driver wakes before that deadline anyway. While application threads take turns the
//! driver wakes at least every [`ACTIVE_TICK`], so that only a deadline nearer than that
//! costs a kick (a delayed ACK armed by every request of a request-response exchange does
//! not); once a tick passes with no turn but its own, it sleeps until the deadline again.

use super::now;
use super::shared::{Ready, Shared, WaitKey};
use crate::device::{Device, FrameBatch, Sleeper, WaitDevice};
use crate::time::{Duration, Instant};
use core::task::Waker;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;

/// How long a driver waits before trying a device that failed.
pub(crate) const ERROR_BACKOFF: std::time::Duration = std::time::Duration::from_millis(10);

/// How long a blocking call polls the device before it sleeps: about what two turns and a
/// thread's wake-up cost, so that a peer answering at once is never slept through.
pub(crate) const BUSY_POLL: std::time::Duration = std::time::Duration::from_micros(50);

/// While application threads take turns, the driver thread wakes at least this often to
/// look at the timers.
pub(crate) const ACTIVE_TICK: Duration = Duration::from_millis(10);

/// Turns one application call takes in a row when batches come back full.
const TURNS_PER_CALL: usize = 4;

/// "No deadline", in [`Io::driver_until`].
const NEVER: u64 = u64::MAX;

/// A driver's working state: its reusable frame batches.
pub(crate) struct Engine {
    /// Frames received this turn; a driver fills it before [`turn`](Self::turn).
    pub(crate) rx: FrameBatch,
    /// Frames to transmit, filled by [`turn`](Self::turn).
    pub(crate) tx: FrameBatch,
    /// The largest frame the device takes.
    max_frame_len: usize,
    /// The wakers a turn took from the sockets, woken once the lock is released.
    wakers: Vec<Waker>,
    /// The stack's count of echo replies at the last turn: a change wakes the pings.
    echo_replies: u64,
}

/// What a turn leaves for the driver to do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Turn {
    /// When the stack's next timer is due.
    deadline: Option<Instant>,
    /// When the next frame held inside the device comes due ([`Device::poll_at`]).
    held: Option<Instant>,
    /// The last handle is gone and everything queued has been sent: stop.
    pub(crate) stop: bool,
    /// A batch came back full: there may be more right away, so turn again before sleeping.
    pub(crate) busy: bool,
    /// The device failed to receive or transmit: back off before the next try.
    pub(crate) failed: bool,
}

impl Turn {
    /// When the stack or the device next needs a turn, at the latest.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        crate::time::earliest(self.deadline, self.held)
    }
}

impl Engine {
    pub(crate) fn new(device: &dyn Device) -> Self {
        let caps = device.capabilities();
        let burst = caps.max_burst.max(1);
        Self {
            rx: FrameBatch::new(burst),
            tx: FrameBatch::new(burst),
            max_frame_len: caps.max_frame_len(),
            wakers: Vec::new(),
            echo_replies: 0,
        }
    }

    /// One turn at `now` on `shared`'s stack, after the driver has put what it received in
    /// [`rx`](Self::rx) (`rx_failed`: the device's receive failed): the stack's work, then
    /// the transmission.
    pub(crate) fn turn(
        &mut self,
        shared: &Shared,
        now: Instant,
        device: &mut dyn Device,
        rx_failed: bool,
    ) -> Turn {
        let (deadline, shutdown) = self.step(shared, now);
        let tx_failed = !self.tx.is_empty() && device.transmit(now, &self.tx).is_err();
        let busy = self.rx.is_full() || self.tx.is_full();
        Turn {
            deadline,
            held: device.poll_at(),
            stop: shutdown && !self.tx.is_full(),
            busy,
            failed: rx_failed || tx_failed,
        }
    }

    /// The part under the lock: frames into the stack, timers, frames out of it, events
    /// and wake-ups out to the application. Returns the stack's next deadline and whether
    /// the stack is shutting down. The wakers the stack's changes released are woken after
    /// the lock is dropped, so a woken task on another thread does not find it taken.
    fn step(&mut self, shared: &Shared, now: Instant) -> (Option<Instant>, bool) {
        let mut guard = shared.lock();
        let state = &mut *guard;
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
            state.publish(event);
        }
        while let Some(record) = state.stack.poll_trace() {
            state.publish_trace(record);
        }
        while let Some(socket) = state.stack.poll_wake() {
            state.wake_socket(socket, &mut self.wakers);
        }
        // Echo replies of either family wake whoever waits for a ping.
        let counters = state.stack.counters();
        let echo_replies = counters.icmp_in_echo_reps + counters.icmp6_in_echo_replies;
        if echo_replies != self.echo_replies {
            self.echo_replies = echo_replies;
            state.wake_into(WaitKey::Ping, Ready::ALL, &mut self.wakers);
        }
        let result = (state.stack.poll_timeout(), state.shutdown);
        drop(guard);
        self.wakers.drain(..).for_each(Waker::wake);
        result
    }
}

/// The device of a stack driven by a thread, and its engine, for whichever thread takes a
/// turn (see the module's documentation).
pub(crate) struct Io {
    turns: Mutex<Turns>,
    /// Waits on the device without holding it; without one the driver sleeps holding the
    /// device, and application calls kick it rather than take turns.
    sleeper: Option<Sleeper>,
    /// When the driver thread wakes at the latest, in microseconds of the runtime's clock
    /// ([`NEVER`]: only for a frame or a kick). Written under the `turns` lock.
    driver_until: AtomicU64,
    /// Turns other threads took since the driver's last.
    app_turns: AtomicU64,
    /// A caller that queued work found the device taken: the next to let go of it takes
    /// another turn ([`Shared::turn_here`]).
    wanted: AtomicBool,
}

/// What a turn needs: the engine and the device.
struct Turns {
    engine: Engine,
    device: Box<dyn WaitDevice>,
}

impl Turns {
    /// Receives what is ready, then takes a turn.
    fn take(&mut self, shared: &Shared, now: Instant) -> Turn {
        self.engine.rx.clear();
        let rx_failed = self.device.receive(now, &mut self.engine.rx).is_err();
        self.engine.turn(shared, now, &mut *self.device, rx_failed)
    }
}

impl Io {
    pub(crate) fn new(device: Box<dyn WaitDevice>) -> Self {
        let sleeper = device.sleeper();
        let engine = Engine::new(&*device);
        Self {
            turns: Mutex::new(Turns { engine, device }),
            sleeper,
            driver_until: AtomicU64::new(NEVER),
            app_turns: AtomicU64::new(0),
            wanted: AtomicBool::new(false),
        }
    }

    /// Whether application threads may take turns (the device has a sleeper).
    pub(crate) const fn shared_with_callers(&self) -> bool {
        self.sleeper.is_some()
    }

    fn lock(&self) -> MutexGuard<'_, Turns> {
        // A turn that panicked left the engine's batches, which the next turn clears.
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `at` as [`Io::driver_until`] holds it.
fn encode(at: Option<Instant>) -> u64 {
    at.map_or(NEVER, |t| t.since_epoch().total_micros())
}

impl Shared {
    /// Takes a turn on the calling thread, if this stack's device is shared with callers:
    /// what the calling thread's call queued goes out now, and what has arrived comes in.
    ///
    /// If another thread holds the device (it is mid-turn), `wanted` leaves it a request:
    /// whoever lets go of the device next takes one more turn for this caller, so a call
    /// that queued work never waits for a turn and never loses it. Without `wanted` (a poll)
    /// nothing is left. Returns whether this thread took a turn and, if so, whether frames
    /// were received.
    ///
    /// Must not be called with the state locked: a turn takes the lock.
    pub(crate) fn turn_here(&self, wanted: bool) -> Option<bool> {
        let io = self.io()?;
        if !io.shared_with_callers() {
            return None;
        }
        if wanted {
            io.wanted.store(true, Ordering::Relaxed);
        }
        let mut received = None;
        loop {
            // Pairs with the fence after a holder lets go: either this thread finds the device
            // free, or that holder finds the request.
            fence(Ordering::SeqCst);
            let turns = match io.turns.try_lock() {
                Ok(turns) => turns,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => break,
            };
            io.wanted.store(false, Ordering::Relaxed);
            let got = self.take_turns(io, turns);
            received = Some(received.unwrap_or(false) || got);
            fence(Ordering::SeqCst);
            if !io.wanted.load(Ordering::Relaxed) {
                break;
            }
        }
        received
    }

    /// Takes turns while a request another thread left is pending (after the driver has let
    /// go of the device).
    fn relay_wanted(&self, io: &Io) {
        fence(Ordering::SeqCst);
        if io.wanted.load(Ordering::Relaxed) {
            self.turn_here(false);
        }
    }

    /// Turns on `turns` (more than one while batches come back full), then what the driver
    /// must know of them; lets go of the device. Returns whether frames were received.
    fn take_turns(&self, io: &Io, mut turns: MutexGuard<'_, Turns>) -> bool {
        let mut turn = turns.take(self, now());
        let mut received = !turns.engine.rx.is_empty();
        for _ in 1..TURNS_PER_CALL {
            if !turn.busy {
                break;
            }
            turn = turns.take(self, now());
            received |= !turns.engine.rx.is_empty();
        }
        io.app_turns.fetch_add(1, Ordering::Relaxed);
        // The driver must be awake by the stack's next deadline and by the next frame the
        // device holds back — not for a frame due already, of which the device tells its
        // sleeper itself — and take over a batch still coming back full, or a failing device.
        // The clock read after the turn is past the stamp of every frame the turn saw.
        let after = super::now();
        let held = turn.held.filter(|&t| t > after);
        let wake_at = encode(crate::time::earliest(turn.deadline, held));
        let until = io.driver_until.load(Ordering::Relaxed);
        let late = wake_at < until;
        if late {
            io.driver_until.store(wake_at, Ordering::Relaxed);
        }
        drop(turns);
        if late || turn.busy || turn.failed {
            self.wake_driver();
        }
        received
    }

    /// Whether application threads take turns on this stack's device.
    pub(crate) fn polls(&self) -> bool {
        self.io().is_some_and(Io::shared_with_callers)
    }

    /// Starts a blocking call's poll of the device until `until`, if its turns can take
    /// it: the device is told (so that its frames need not wake the driver) until the
    /// returned guard goes.
    pub(crate) fn start_polling(&self, until: std::time::Instant) -> Option<Polling<'_>> {
        let sleeper = self.io()?.sleeper.as_ref()?;
        sleeper.polling(true);
        Some(Polling { sleeper, until })
    }
}

/// A blocking call polling the device: [`Shared::start_polling`].
pub(crate) struct Polling<'a> {
    sleeper: &'a Sleeper,
    /// When the call stops polling and sleeps.
    pub(crate) until: std::time::Instant,
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.sleeper.polling(false);
    }
}

/// Starts the driver of `shared`'s stack on a thread of its own; `shared` holds the device.
pub(crate) fn spawn_thread(shared: Arc<Shared>) -> io::Result<JoinHandle<()>> {
    let name = format!("pila driver {}", shared.address);
    std::thread::Builder::new().name(name).spawn(move || run_thread(&shared))
}

/// The thread's loop: receive a batch, take a turn, then sleep on the device until a frame
/// comes, the next deadline or a kick, unless a batch came back full.
fn run_thread(shared: &Shared) {
    let Some(io) = shared.io() else { return };
    loop {
        let mut turns = io.lock();
        let now = now();
        let turn = turns.take(shared, now);
        if turn.stop {
            return;
        }
        if turn.busy || turn.failed {
            drop(turns);
            shared.relay_wanted(io);
            if !turn.busy {
                // A failing device is retried, not spun on.
                std::thread::sleep(ERROR_BACKOFF);
            }
            continue;
        }
        // Other threads took turns since the last one: look at the timers a tick from now,
        // so that they need not kick for a deadline they moved earlier.
        let active = io.app_turns.swap(0, Ordering::Relaxed) > 0;
        let tick = active.then(|| now + ACTIVE_TICK);
        let wake_at = crate::time::earliest(turn.wake_at(), tick);
        io.driver_until.store(encode(wake_at), Ordering::Relaxed);
        let wake_at = wake_at.map(|t| t.to_std(super::clock_epoch()));
        let waited = match &io.sleeper {
            Some(sleeper) => {
                drop(turns);
                shared.relay_wanted(io);
                sleeper.wait(wake_at)
            }
            None => turns.device.wait(wake_at),
        };
        if waited.is_err() {
            std::thread::sleep(ERROR_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Endpoint, VirtualWire, WireConfig};
    use crate::wire::Ipv4Addr;

    /// A stack on one end of a wire, shared with callers, with a datagram queued for a
    /// neighbour (its ARP request is the frame the next turn sends); and the other end.
    fn shared_with_work() -> (Shared, Endpoint) {
        let (a, b) = VirtualWire::pair(WireConfig::default());
        let config = crate::stack::Config {
            addresses: vec!["192.0.2.1/24".parse().unwrap()],
            seed: Some(1),
            ..crate::stack::Config::default()
        };
        let stack = crate::stack::Stack::new(config).unwrap();
        let kick = WaitDevice::waker(&a);
        let io = Io::new(Box::new(a));
        let shared = Shared::new(stack, Ipv4Addr::new(192, 0, 2, 1), kick, Some(io));
        let mut state = shared.lock();
        let udp = state.stack.udp_bind("192.0.2.1:9".parse().unwrap()).unwrap();
        state.stack.udp_send_to(now(), udp, b"x", "192.0.2.2:9".parse().unwrap()).unwrap();
        drop(state);
        (shared, b)
    }

    fn frames_at(end: &mut Endpoint) -> usize {
        let mut batch = FrameBatch::new(16);
        end.receive(Instant::from_micros(u64::MAX / 2), &mut batch).unwrap()
    }

    #[test]
    fn a_turn_wanted_while_the_device_is_taken_is_taken_by_whoever_lets_go() {
        let (shared, mut peer) = shared_with_work();
        let io = shared.io().unwrap();
        let held = io.lock();
        // Another thread is mid-turn: the caller neither waits nor takes a turn...
        assert_eq!(shared.turn_here(true), None);
        assert_eq!(frames_at(&mut peer), 0);
        // ...and the holder, letting go, takes the turn it asked for.
        drop(held);
        shared.relay_wanted(io);
        assert_eq!(frames_at(&mut peer), 1, "the queued work went out");
        assert!(!io.wanted.load(Ordering::Relaxed));
    }

    #[test]
    fn a_poll_that_finds_the_device_taken_leaves_nothing() {
        let (shared, mut peer) = shared_with_work();
        let io = shared.io().unwrap();
        let held = io.lock();
        assert_eq!(shared.turn_here(false), None);
        drop(held);
        shared.relay_wanted(io);
        assert_eq!(frames_at(&mut peer), 0, "no turn was asked for");
        // A turn on a free device needs no request.
        assert_eq!(shared.turn_here(false), Some(false));
        assert_eq!(frames_at(&mut peer), 1);
    }
}
