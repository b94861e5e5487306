//! One turn of a driver, whichever way it waits, and the driver that waits on a thread of
//! its own.
//!
//! A turn: the received batch into the stack, the timers that are due, a batch of frames
//! out, events to the streams, wake-ups to the sockets the stack named. Both drivers — the
//! thread here and the tokio task (`task.rs`) — run the same [`Engine::turn`]; they differ
//! only in how they fill the receive batch and how they sleep between turns.

use super::now;
use super::shared::{Ready, Shared, WaitKey};
use crate::device::{Device, FrameBatch, WaitDevice};
use crate::time::Instant;
use core::task::Waker;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

/// How long a driver waits before trying a device that failed.
pub(crate) const ERROR_BACKOFF: std::time::Duration = std::time::Duration::from_millis(10);

/// A driver's working state: the shared stack and its reusable frame batches.
pub(crate) struct Engine {
    pub(crate) shared: Arc<Shared>,
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
    /// When the stack or the device next needs a turn, at the latest.
    pub(crate) wake_at: Option<Instant>,
    /// The last handle is gone and everything queued has been sent: stop.
    pub(crate) stop: bool,
    /// A batch came back full: there may be more right away, so turn again before sleeping.
    pub(crate) busy: bool,
    /// The device failed to receive or transmit: back off before the next try.
    pub(crate) failed: bool,
}

impl Engine {
    pub(crate) fn new(shared: Arc<Shared>, device: &dyn Device) -> Self {
        let caps = device.capabilities();
        let burst = caps.max_burst.max(1);
        Self {
            shared,
            rx: FrameBatch::new(burst),
            tx: FrameBatch::new(burst),
            max_frame_len: caps.max_frame_len(),
            wakers: Vec::new(),
            echo_replies: 0,
        }
    }

    /// One turn at `now`, after the driver has put what it received in [`rx`](Self::rx)
    /// (`rx_failed`: the device's receive failed): the stack's work, then the transmission.
    pub(crate) fn turn(&mut self, now: Instant, device: &mut dyn Device, rx_failed: bool) -> Turn {
        let (deadline, shutdown) = self.step(now);
        let tx_failed = !self.tx.is_empty() && device.transmit(now, &self.tx).is_err();
        let busy = self.rx.is_full() || self.tx.is_full();
        Turn {
            wake_at: crate::time::earliest(deadline, device.poll_at()),
            stop: shutdown && !self.tx.is_full(),
            busy,
            failed: rx_failed || tx_failed,
        }
    }

    /// The part under the lock: frames into the stack, timers, frames out of it, events
    /// and wake-ups out to the application. Returns the stack's next deadline and whether
    /// the stack is shutting down. The wakers the stack's changes released are woken after
    /// the lock is dropped, so a woken task on another thread does not find it taken.
    fn step(&mut self, now: Instant) -> (Option<Instant>, bool) {
        let mut guard = self.shared.lock();
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
        while let Some(socket) = state.stack.poll_wake() {
            state.wake_socket(socket, &mut self.wakers);
        }
        let echo_replies = state.stack.counters().icmp_in_echo_reps;
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

/// Starts the driver of `shared`'s stack on a thread of its own, sleeping on `device`.
pub(crate) fn spawn_thread(
    shared: Arc<Shared>,
    device: Box<dyn WaitDevice>,
) -> io::Result<JoinHandle<()>> {
    let name = format!("pila driver {}", shared.address);
    let engine = Engine::new(shared, &*device);
    std::thread::Builder::new().name(name).spawn(move || run_thread(engine, device))
}

/// The thread's loop: receive a batch, take a turn, then sleep on the device until a frame
/// comes, the next deadline or a kick, unless a batch came back full.
fn run_thread(mut engine: Engine, mut device: Box<dyn WaitDevice>) {
    loop {
        let now = now();
        engine.rx.clear();
        let rx_failed = device.receive(now, &mut engine.rx).is_err();
        let turn = engine.turn(now, &mut *device, rx_failed);
        if turn.stop {
            return;
        }
        if turn.busy {
            continue;
        }
        if turn.failed {
            // A failing device is retried, not spun on.
            std::thread::sleep(ERROR_BACKOFF);
        }
        let wake_at = turn.wake_at.map(|t| t.to_std(super::clock_epoch()));
        if device.wait(wake_at).is_err() {
            std::thread::sleep(ERROR_BACKOFF);
        }
    }
}
