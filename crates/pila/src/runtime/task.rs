//! The driver as a tokio task ([`crate::net::StackBuilder::build_tokio`]).
//!
//! It takes the same turns as the driver thread ([`Engine::turn`]) and differs only in how
//! it waits between them: it returns `Pending` with its waker registered in three places —
//! the device's readiness (a TAP or TUN descriptor through tokio's `AsyncFd`, the in-memory
//! wire through its [`ReadySignal`]), a tokio timer set to the stack's next deadline, and
//! the kick that application calls give it. No thread of its own, no busy polling, no ticks.
//!
//! For a descriptor, readiness is cleared only when a read has failed with `EAGAIN` (the
//! device raises [`FdReadiness::take_drained`]; the clearing is `AsyncFd`'s `try_io`), so a
//! frame that arrives between the last read and the wait is never slept through.

use super::engine::{ERROR_BACKOFF, Engine};
use super::shared::Shared;
use super::{Driver, Handle, clock_epoch, now};
use crate::device::{DeviceWaker, FdReadiness, Readiness, ReadySignal, WaitDevice};
use crate::time::Instant;
use ::tokio::io::unix::AsyncFd;
use ::tokio::time::Sleep;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// Turns one poll may take before the driver yields to the runtime's other tasks.
const TURNS_PER_POLL: usize = 16;
/// How long dropping the last handle waits for the driver task to send what is queued.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Starts the driver of `stack` on `device` as a task on the current tokio runtime; a
/// device that only a thread can wait on gets a driver thread instead.
pub(crate) fn start(
    stack: crate::stack::Stack,
    device: Box<dyn WaitDevice>,
    address: crate::wire::Ipv4Addr,
) -> io::Result<Handle> {
    let runtime = ::tokio::runtime::Handle::try_current().map_err(|e| {
        io::Error::other(format!("build_tokio needs a tokio runtime ({e}): call it inside one"))
    })?;
    let source = match device.readiness() {
        Readiness::Wait => return super::start_thread(stack, device, address),
        Readiness::Fd(readiness) => Source::Fd { fd: readiness.register()?, readiness },
        Readiness::Signal(signal) => Source::Signal(signal),
    };
    let kick = Arc::new(Kick::default());
    let kicker = Arc::clone(&kick);
    let shared =
        Arc::new(Shared::new(stack, address, DeviceWaker::new(move || kicker.kick()), None));
    let ended = Arc::new(Ended::default());
    let driver = TaskDriver {
        engine: Engine::new(&*device),
        shared: Arc::clone(&shared),
        source,
        device,
        kick,
        timer: Box::pin(::tokio::time::sleep(std::time::Duration::from_secs(86_400))),
        armed: None,
        backoff_until: None,
        _ended: EndGuard(Arc::clone(&ended)),
    };
    runtime.spawn(driver);
    Ok(Handle::new(shared, Driver::Task(ended)))
}

/// Set when the driver task has ended, or was dropped with its runtime.
#[derive(Default)]
pub(crate) struct Ended {
    ended: Mutex<bool>,
    changed: Condvar,
}

impl Ended {
    /// Waits (a little, at most) for the driver to send what is queued and end — unless
    /// called from a runtime's thread, which may be the one the driver needs to run on.
    pub(crate) fn wait_outside_runtime(&self) {
        if ::tokio::runtime::Handle::try_current().is_ok() {
            return;
        }
        let ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.changed.wait_timeout_while(ended, STOP_WAIT, |ended| !*ended);
    }
}

/// Marks the driver ended when the task is dropped, however it ends.
struct EndGuard(Arc<Ended>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        *self.0.ended.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.0.changed.notify_all();
    }
}

/// Where the task learns that frames may be ready.
enum Source {
    /// A TAP or TUN descriptor, registered with the runtime's reactor.
    Fd { fd: AsyncFd<Arc<File>>, readiness: FdReadiness },
    /// The in-memory wire's signal.
    Signal(ReadySignal),
}

/// The driver's kick: application calls that gave the stack work wake the task.
///
/// `kicked` keeps a burst of calls (every write kicks) to one wake-up per turn: it is
/// cleared when a turn starts, after the waker is registered, so a kick either lands before
/// the turn (which then sees its work) or wakes the task for another.
#[derive(Default)]
struct Kick {
    kicked: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Kick {
    fn kick(&self) {
        if !self.kicked.swap(true, Ordering::AcqRel) {
            if let Some(waker) = &*self.waker.lock().unwrap_or_else(PoisonError::into_inner) {
                waker.wake_by_ref();
            }
        }
    }

    /// Registers `waker` for the next kick, then forgets the kicks before.
    fn arm(&self, waker: &Waker) {
        {
            let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
        self.kicked.store(false, Ordering::Release);
    }
}

/// The task: the engine, the device and what it waits on.
struct TaskDriver {
    engine: Engine,
    shared: Arc<Shared>,
    source: Source,
    device: Box<dyn WaitDevice>,
    kick: Arc<Kick>,
    /// Set to the next deadline; `armed` is the deadline it is set to.
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// After a device failure, no turn before this instant.
    backoff_until: Option<Instant>,
    /// Held for its drop, which comes last: after the device is closed (a capture flushed).
    _ended: EndGuard,
}

impl Future for TaskDriver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let Some(until) = this.backoff_until {
            if this.arm_timer(cx, Some(until)).is_pending() {
                return Poll::Pending;
            }
            this.backoff_until = None;
        }
        for _ in 0..TURNS_PER_POLL {
            this.kick.arm(cx.waker());
            let now = now();
            this.engine.rx.clear();
            let (rx_failed, more) = this.receive(cx, now);
            let turn = this.engine.turn(&this.shared, now, &mut *this.device, rx_failed);
            if turn.stop {
                return Poll::Ready(());
            }
            if turn.busy || more {
                continue;
            }
            if turn.failed {
                // A failing device is retried, not spun on.
                let until = now + crate::time::Duration::from_std(ERROR_BACKOFF);
                this.backoff_until = Some(until);
                if this.arm_timer(cx, Some(until)).is_pending() {
                    return Poll::Pending;
                }
                this.backoff_until = None;
                continue;
            }
            if this.arm_timer(cx, turn.wake_at()).is_pending() {
                return Poll::Pending;
            }
        }
        // Busy for a whole poll: let the runtime's other tasks run, then carry on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl TaskDriver {
    /// Receives into the engine's batch if the device may have frames (its readiness is
    /// set, or frames it holds are due), and leaves the waker registered with the source.
    /// Returns whether the receive failed and whether frames may be ready still.
    fn receive(&mut self, cx: &mut Context<'_>, now: Instant) -> (bool, bool) {
        let held_due = self.device.poll_at().is_some_and(|t| t <= now);
        let (device, rx) = (&mut self.device, &mut self.engine.rx);
        match &self.source {
            Source::Fd { fd, readiness } => {
                let guard = match fd.poll_read_ready(cx) {
                    Poll::Ready(Ok(guard)) => Some(guard),
                    Poll::Ready(Err(_)) => return (true, false),
                    Poll::Pending => None,
                };
                let Some(mut guard) = guard else {
                    // Not readable: only frames held inside the device (a delayed link) can
                    // be due, and a read that finds nothing changes no readiness.
                    let failed = held_due && device.receive(now, rx).is_err();
                    return (failed, false);
                };
                let _ = readiness.take_drained();
                let read = guard.try_io(|_| {
                    let result = device.receive(now, rx);
                    // Only a read that failed with EAGAIN clears the readiness.
                    if readiness.take_drained() {
                        Err(io::ErrorKind::WouldBlock.into())
                    } else {
                        result.map(drop)
                    }
                });
                match read {
                    // Stopped with frames possibly left: the readiness stays.
                    Ok(Ok(())) => (false, true),
                    Ok(Err(_)) => (true, false),
                    // Read dry and the readiness cleared: register for the next frame, and
                    // look again if one came meanwhile.
                    Err(_would_block) => (false, fd.poll_read_ready(cx).is_ready()),
                }
            }
            Source::Signal(signal) => {
                if signal.poll_ready(cx).is_pending() && !held_due {
                    return (false, false);
                }
                let failed = device.receive(now, rx).is_err();
                // The signal registers the waker only when it is down: look again.
                (failed, signal.poll_ready(cx).is_ready())
            }
        }
    }

    /// Sets the timer to `at` (when it is not set there already) and polls it: `Ready` when
    /// `at` has passed. With no deadline nothing is set and the wait is only for the device
    /// and the kick.
    fn arm_timer(&mut self, cx: &mut Context<'_>, at: Option<Instant>) -> Poll<()> {
        let Some(at) = at else { return Poll::Pending };
        if self.armed != Some(at) {
            let deadline = ::tokio::time::Instant::from_std(at.to_std(clock_epoch()));
            self.timer.as_mut().reset(deadline);
            self.armed = Some(at);
        }
        self.timer.as_mut().poll(cx)
    }
}
