//! An in-memory wire between two endpoints, with reproducible impairments.
//!
//! [`VirtualWire::pair`] makes two [`Endpoint`]s, A and B. Each direction is a link with its
//! own [`Impairments`] and its own random stream (see the `link` module for the model). The
//! endpoints share their state behind a mutex, so they work on one thread under the
//! simulator's virtual clock or on two threads under the real clock, where
//! [`Endpoint::wait`] blocks a driver until a frame comes or a [`WireWaker`] fires.

use super::impair::Impairments;
use super::link::{Fate, Link, LinkStats};
use super::{
    Capabilities, Device, DeviceWaker, FrameBatch, Medium, Offloads, Readiness, ReadySignal,
    Sleeper, WaitDevice,
};
use crate::time::Instant;
use crate::wire::Checksums;
use core::fmt;
use core::task::Waker;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// How a [`VirtualWire`] is built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WireConfig {
    /// What the frames carry.
    pub medium: Medium,
    /// The largest IP packet the wire carries; frames longer than
    /// [`Capabilities::max_frame_len`] for it are dropped.
    pub mtu: usize,
    /// What happens to frames from endpoint A to endpoint B.
    pub a_to_b: Impairments,
    /// What happens to frames from endpoint B to endpoint A.
    pub b_to_a: Impairments,
    /// The checksums the endpoints report as left to software.
    pub checksums: Checksums,
    /// The offloads the endpoints report (default none). With
    /// [`with_segmentation_offload`](Self::with_segmentation_offload) the wire carries a
    /// sender's large TCP segments whole, each with its virtio-net header, as a pair of
    /// offloading devices does (a veth pair passes such segments uncut too): the receiving
    /// stack takes them as they are. Impairments then act on whole large segments.
    pub offloads: Offloads,
}

impl Default for WireConfig {
    /// An Ethernet wire with a 1500-byte MTU and no impairments.
    fn default() -> Self {
        Self {
            medium: Medium::Ethernet,
            mtu: 1500,
            a_to_b: Impairments::NONE,
            b_to_a: Impairments::NONE,
            checksums: Checksums::SOFTWARE,
            offloads: Offloads::default(),
        }
    }
}

impl WireConfig {
    /// `self` with TCP segmentation offload on both endpoints: every frame carries a
    /// virtio-net header, TCP checksums are left to the (perfect) wire, and TCP segments of
    /// up to 64 KiB cross it whole.
    #[must_use]
    pub const fn with_segmentation_offload(mut self) -> Self {
        self.offloads = Offloads::SEGMENTATION;
        self
    }

    /// `self` with `impairments` in both directions. The directions still draw from
    /// different random streams, though they share the seed.
    #[must_use]
    pub const fn with_impairments(mut self, impairments: Impairments) -> Self {
        self.a_to_b = impairments;
        self.b_to_a = impairments;
        self
    }

    /// `self` carrying `medium` with the given `mtu`.
    #[must_use]
    pub const fn with_medium(mut self, medium: Medium, mtu: usize) -> Self {
        self.medium = medium;
        self.mtu = mtu;
        self
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            medium: self.medium,
            mtu: self.mtu,
            max_burst: MAX_BURST,
            checksums: self.checksums,
            offloads: self.offloads,
        }
    }
}

/// The most frames one `receive` or `transmit` call on an [`Endpoint`] handles.
const MAX_BURST: usize = 64;

/// An in-memory wire: the maker of connected [`Endpoint`] pairs.
#[derive(Debug)]
pub struct VirtualWire {
    _private: (),
}

impl VirtualWire {
    /// Two endpoints joined by a wire: what A transmits, B receives, and the other way
    /// round, each direction impaired as `config` says.
    pub fn pair(config: WireConfig) -> (Endpoint, Endpoint) {
        let caps = config.capabilities();
        let max = caps.max_frame_len();
        let virtio = caps.offloads.virtio_header;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                links: [
                    Link::new(config.a_to_b, max, 0).with_virtio_header(virtio),
                    Link::new(config.b_to_a, max, 1).with_virtio_header(virtio),
                ],
                signals: [Signal::default(); 2],
                wakers: [None, None],
                sleeping: [0; 2],
                polled: [0; 2],
            }),
            ready: [Condvar::new(), Condvar::new()],
        });
        let a = Endpoint { shared: Arc::clone(&shared), side: A, caps };
        let b = Endpoint { shared, side: B, caps };
        (a, b)
    }
}

/// One end of a [`VirtualWire`].
///
/// It transmits on the link toward its peer and receives from the link toward itself;
/// [`poll_at`](Device::poll_at) is the next arrival on that incoming link, so a simulator
/// can jump its clock there.
pub struct Endpoint {
    shared: Arc<Shared>,
    side: usize,
    caps: Capabilities,
}

/// Interrupts an [`Endpoint::wait`] from any thread.
///
/// A wake-up given while nobody waits is kept, so the next wait returns at once: none is
/// lost.
#[derive(Clone)]
pub struct WireWaker {
    shared: Arc<Shared>,
    side: usize,
}

/// Index of endpoint A, of its signal, and of the link it sends on.
const A: usize = 0;
/// Index of endpoint B, of its signal, and of the link it sends on.
const B: usize = 1;

struct Shared {
    state: Mutex<State>,
    /// Signalled when the matching endpoint's [`Signal`] changes.
    ready: [Condvar; 2],
}

struct State {
    /// `links[A]` carries A to B, `links[B]` carries B to A.
    links: [Link; 2],
    /// What each endpoint's waiter is told.
    signals: [Signal; 2],
    /// The task polling each endpoint's [`ReadySignal`], woken when its signal is raised.
    wakers: [Option<Waker>; 2],
    /// How many threads sleep in each endpoint's wait: nobody, no notification.
    sleeping: [usize; 2],
    /// How many threads poll each endpoint ([`Sleeper::polling`]): while any does, frames
    /// sent toward it do not wake its sleepers.
    polled: [usize; 2],
}

impl State {
    /// Raises endpoint `side`'s signal: frames came (`frames`) or its waker fired.
    fn raise(&mut self, shared: &Shared, side: usize, frames: bool) {
        let signal = &mut self.signals[side];
        if frames {
            signal.frames = true;
        } else {
            signal.woken = true;
        }
        if self.sleeping[side] > 0 && (!frames || self.polled[side] == 0) {
            shared.ready[side].notify_all();
        }
        if let Some(waker) = self.wakers[side].take() {
            waker.wake();
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Signal {
    /// A frame was sent toward the endpoint since it last received (or frames remain ready).
    frames: bool,
    /// A [`WireWaker`] fired since the last wait returned.
    woken: bool,
}

impl Signal {
    /// Whether a wait ends now: frames are ready, or the waker fired (a wake-up is used
    /// up by the wait it ends).
    fn take_ready(&mut self) -> bool {
        std::mem::take(&mut self.woken) || self.frames
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the links unsound, only mid-update; carry on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A thread starts or stops polling endpoint `side`; the last to stop gives the sleepers
    /// the wake-up frames it did not receive would have given them.
    fn polled(&self, side: usize, on: bool) {
        let mut state = self.lock();
        if on {
            state.polled[side] += 1;
            return;
        }
        state.polled[side] = state.polled[side].saturating_sub(1);
        // Frames on their way count too: the poller may have looked before they were due.
        let unreceived =
            state.signals[side].frames || state.links[1 - side].next_arrival().is_some();
        if state.polled[side] == 0 && unreceived && state.sleeping[side] > 0 {
            self.ready[side].notify_all();
        }
    }

    /// [`Endpoint::wait`] for endpoint `side`.
    fn wait(&self, side: usize, deadline: Option<std::time::Instant>) -> bool {
        let mut state = self.lock();
        loop {
            if state.signals[side].take_ready() {
                return true;
            }
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return false;
            }
            state.sleeping[side] += 1;
            let ready = &self.ready[side];
            state = match left {
                None => ready.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(left) => match ready.wait_timeout(state, left) {
                    Ok((state, _)) => state,
                    Err(poisoned) => poisoned.into_inner().0,
                },
            };
            state.sleeping[side] -= 1;
        }
    }
}

impl Endpoint {
    /// Counters for the link this endpoint transmits on.
    pub fn stats(&self) -> LinkStats {
        self.shared.lock().links[self.side].stats()
    }

    /// Counters for the link this endpoint receives from (its peer's transmissions).
    pub fn peer_stats(&self) -> LinkStats {
        self.shared.lock().links[self.peer()].stats()
    }

    /// The impairments on the link this endpoint transmits on.
    pub fn impairments(&self) -> Impairments {
        self.shared.lock().links[self.side].impairments()
    }

    /// Changes the impairments on the link this endpoint transmits on, for the frames sent
    /// from now on (to cut a link, say, with a loss of 1). Frames already in flight keep their
    /// fate. The random stream restarts if the seed changes, and continues otherwise.
    pub fn set_impairments(&self, impairments: Impairments) {
        self.shared.lock().links[self.side].set_impairments(impairments, self.side as u64);
    }

    /// Blocks until a frame has been transmitted toward this endpoint since it last received,
    /// a [`WireWaker`] fires, or the `deadline` passes (`None`: no deadline).
    ///
    /// Returns `true` when a frame or a wake-up ended the wait, `false` when the deadline
    /// did. A frame sent with a delay ends the wait when it is sent, not when it arrives: the
    /// caller then receives what is due and waits again until [`poll_at`](Device::poll_at).
    pub fn wait(&self, deadline: Option<std::time::Instant>) -> bool {
        self.shared.wait(self.side, deadline)
    }

    /// A handle that interrupts this endpoint's [`wait`](Self::wait) from any thread.
    pub fn waker(&self) -> WireWaker {
        WireWaker { shared: Arc::clone(&self.shared), side: self.side }
    }

    const fn peer(&self) -> usize {
        1 - self.side
    }
}

impl Device for Endpoint {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn receive(&mut self, now: Instant, batch: &mut FrameBatch) -> io::Result<usize> {
        let peer = self.peer();
        let mut state = self.shared.lock();
        let count = state.links[peer].deliver(now, batch);
        state.signals[self.side].frames = state.links[peer].ready(now);
        Ok(count)
    }

    fn transmit(&mut self, now: Instant, batch: &FrameBatch) -> io::Result<usize> {
        let mut state = self.shared.lock();
        let mut taken = None;
        let mut sent = false;
        for (i, frame) in batch.iter().enumerate() {
            match state.links[self.side].send(now, frame) {
                Fate::InFlight => sent = true,
                Fate::Dropped => {}
                Fate::QueueFull => {
                    taken.get_or_insert(i);
                }
            }
        }
        if sent {
            state.raise(&self.shared, self.peer(), true);
        }
        Ok(taken.unwrap_or(batch.len()))
    }

    fn poll_at(&self) -> Option<Instant> {
        self.shared.lock().links[self.peer()].next_arrival()
    }
}

impl WaitDevice for Endpoint {
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        Self::wait(self, deadline);
        Ok(())
    }

    fn waker(&self) -> DeviceWaker {
        let waker = Self::waker(self);
        DeviceWaker::new(move || waker.wake())
    }

    fn sleeper(&self) -> Option<Sleeper> {
        let (shared, side) = (Arc::clone(&self.shared), self.side);
        let polled = Arc::clone(&self.shared);
        let sleeper = Sleeper::new(move |deadline| {
            shared.wait(side, deadline);
            Ok(())
        });
        Some(sleeper.with_polling(move |on| polled.polled(side, on)))
    }

    /// Raised, as [`wait`](Endpoint::wait) would return, when a frame was sent toward the
    /// endpoint or its waker fired.
    fn readiness(&self) -> Readiness {
        let (shared, side) = (Arc::clone(&self.shared), self.side);
        Readiness::Signal(ReadySignal::new(move |waker| {
            let mut state = shared.lock();
            if state.signals[side].take_ready() {
                return true;
            }
            match &mut state.wakers[side] {
                Some(kept) if kept.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
            false
        }))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("side", &if self.side == A { "A" } else { "B" })
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

impl WireWaker {
    /// Ends the endpoint's current [`Endpoint::wait`], or the next one if none is under way.
    pub fn wake(&self) {
        self.shared.lock().raise(&self.shared, self.side, false);
    }
}

impl fmt::Debug for WireWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireWaker").field("side", &if self.side == A { "A" } else { "B" }).finish()
    }
}
