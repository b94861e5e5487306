//! One direction of an impaired link: the model behind [`Impairments`].
//!
//! A frame handed to [`Link::send`] goes through, in order:
//!
//! 1. the size check: a frame longer than the link's largest frame is dropped;
//! 2. loss;
//! 3. the rate limiter: the frame starts serialising when the transmitter is free, and takes
//!    `bits / rate`; if the queue of frames waiting to start is at its limit, tail drop;
//! 4. duplication: a second copy leaves with the first;
//! 5. for each copy, independently: corruption (one random bit flipped), then arrival at
//!    departure + delay + uniform jitter, never earlier than the frame sent before it, then
//!    reordering: a chosen copy is held back until `reorder_distance` later frames have
//!    arrived, or until [`Impairments::REORDER_HOLD`] past its own arrival, whichever is first.
//!
//! All randomness comes from one [`Rng`] seeded from the impairment seed, and a random draw
//! is made only for an impairment that is configured, so a run is reproduced by its seed.

use super::FrameBatch;
use super::impair::Impairments;
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use core::fmt;
use std::collections::VecDeque;

/// Counters for one direction of a link.
///
/// Every frame offered is accounted for: `sent + duplicated` equals `delivered + lost +
/// queue_dropped + oversize_dropped` plus the frames still in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Frames offered to the link.
    pub sent: u64,
    /// Frames handed to the receiver, duplicates included.
    pub delivered: u64,
    /// Frames lost at random.
    pub lost: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Frames (or copies) with a bit flipped.
    pub corrupted: u64,
    /// Frames delivered after at least one frame sent later than them.
    pub reordered: u64,
    /// Frames dropped because the rate limiter's queue was full.
    pub queue_dropped: u64,
    /// Frames dropped for being longer than the link's largest frame.
    pub oversize_dropped: u64,
    /// Bytes offered to the link.
    pub bytes_sent: u64,
    /// Bytes handed to the receiver.
    pub bytes_delivered: u64,
}

impl fmt::Display for LinkStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {} ({} B), delivered {} ({} B), lost {}, duplicated {}, corrupted {}, \
             reordered {}, queue-dropped {}, oversize-dropped {}",
            self.sent,
            self.bytes_sent,
            self.delivered,
            self.bytes_delivered,
            self.lost,
            self.duplicated,
            self.corrupted,
            self.reordered,
            self.queue_dropped,
            self.oversize_dropped
        )
    }
}

/// What became of a frame handed to [`Link::send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// At least one copy is on its way to the receiver.
    InFlight,
    /// Dropped for its size, or lost at random.
    Dropped,
    /// Dropped because the rate limiter's queue was full.
    QueueFull,
}

/// One direction of an impaired link, holding the frames in flight.
#[derive(Debug)]
pub(crate) struct Link {
    /// Frames start with a virtio-net header ([`Link::with_virtio_header`]).
    virtio_header: bool,
    imp: Impairments,
    rng: Rng,
    max_frame_len: usize,
    stats: LinkStats,
    /// When the transmitter finishes the last frame it accepted, in nanoseconds.
    busy_until_ns: u128,
    /// When each frame queued behind the transmitter starts serialising, in nanoseconds.
    waiting: VecDeque<u128>,
    /// The latest arrival time given to any frame, so jitter cannot reorder.
    last_arrival: Instant,
    /// Frames on their way, in arrival order (arrival times never decrease).
    in_flight: VecDeque<InFlight>,
    /// Frames held back for reordering, in the order they were held.
    held: Vec<Held>,
    /// Emptied frame buffers, kept for reuse.
    spare: Vec<Vec<u8>>,
}

#[derive(Debug)]
struct InFlight {
    arrival: Instant,
    frame: Vec<u8>,
}

#[derive(Debug)]
struct Held {
    frame: Vec<u8>,
    /// Delivered at this time at the latest.
    deadline: Instant,
    /// How many more frames must arrive before it is released.
    remaining: usize,
    /// Whether some later frame has arrived before it.
    overtaken: bool,
}

/// Frame buffers kept for reuse, at most.
const SPARE_BUFFERS: usize = 256;

impl Link {
    /// A link carrying frames up to `max_frame_len` bytes; `salt` makes its random stream
    /// differ from another link's with the same seed.
    pub(crate) fn new(imp: Impairments, max_frame_len: usize, salt: u64) -> Self {
        Self {
            virtio_header: false,
            imp,
            rng: Self::rng(imp.seed, salt),
            max_frame_len,
            stats: LinkStats::default(),
            busy_until_ns: 0,
            waiting: VecDeque::new(),
            last_arrival: Instant::ZERO,
            in_flight: VecDeque::new(),
            held: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn rng(seed: u64, salt: u64) -> Rng {
        // Injective in `seed` for a fixed salt, and different salts never collide.
        Rng::new(seed.wrapping_mul(2).wrapping_add(salt & 1) ^ (salt >> 1))
    }

    /// The counters so far.
    pub(crate) const fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The impairments in force.
    pub(crate) const fn impairments(&self) -> Impairments {
        self.imp
    }

    /// Changes the impairments for frames sent from now on. Frames in flight keep their
    /// fate. The random stream restarts when the seed changes, and continues otherwise.
    pub(crate) fn set_impairments(&mut self, imp: Impairments, salt: u64) {
        if imp.seed != self.imp.seed {
            self.rng = Self::rng(imp.seed, salt);
        }
        self.imp = imp;
    }

    /// Sends one frame at `now`.
    pub(crate) fn send(&mut self, now: Instant, frame: &[u8]) -> Fate {
        let len = frame.len() as u64;
        self.stats.sent += 1;
        self.stats.bytes_sent += len;
        if frame.len() > self.max_frame_len {
            self.stats.oversize_dropped += 1;
            return Fate::Dropped;
        }
        if self.rng.chance(self.imp.loss) {
            self.stats.lost += 1;
            return Fate::Dropped;
        }
        let Some(departure) = self.serialise(now, len) else {
            self.stats.queue_dropped += 1;
            return Fate::QueueFull;
        };
        let copies = if self.rng.chance(self.imp.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut copy = self.spare.pop().unwrap_or_default();
            copy.clear();
            copy.extend_from_slice(frame);
            self.corrupt(&mut copy);
            let arrival = self.arrival(departure);
            if self.rng.chance(self.imp.reorder) {
                self.held.push(Held {
                    frame: copy,
                    deadline: arrival + Impairments::REORDER_HOLD,
                    remaining: self.imp.reorder_distance.max(1),
                    overtaken: false,
                });
            } else {
                self.arrive(arrival, copy);
            }
        }
        Fate::InFlight
    }

    /// Moves to `batch` the frames that have arrived by `now`, in order, until it is full;
    /// returns how many.
    pub(crate) fn deliver(&mut self, now: Instant, batch: &mut FrameBatch) -> usize {
        self.release_held_until(now);
        let mut count = 0;
        while !batch.is_full() {
            let Some(next) = self.in_flight.front() else { break };
            if next.arrival > now {
                break;
            }
            let Some(InFlight { frame, .. }) = self.in_flight.pop_front() else { break };
            batch.push(&frame);
            self.stats.delivered += 1;
            self.stats.bytes_delivered += frame.len() as u64;
            self.recycle(frame);
            count += 1;
        }
        count
    }

    /// Whether a frame is ready to be delivered at `now`.
    pub(crate) fn ready(&self, now: Instant) -> bool {
        self.next_arrival().is_some_and(|t| t <= now)
    }

    /// When the next frame arrives, if any is in flight.
    pub(crate) fn next_arrival(&self) -> Option<Instant> {
        let queued = self.in_flight.front().map(|f| f.arrival);
        let held = self.held.iter().map(|h| h.deadline).min();
        crate::time::earliest(queued, held)
    }

    /// Runs the rate limiter for a frame of `len` bytes offered at `now`: the instant it has
    /// left the transmitter, or `None` when the queue is full.
    fn serialise(&mut self, now: Instant, len: u64) -> Option<Instant> {
        let Some(rate) = self.imp.rate else { return Some(now) };
        let now_ns = u128::from(now.total_micros()) * 1_000;
        while self.waiting.front().is_some_and(|&start| start <= now_ns) {
            self.waiting.pop_front();
        }
        let start = self.busy_until_ns.max(now_ns);
        if start > now_ns {
            if self.imp.queue_limit.is_some_and(|limit| self.waiting.len() >= limit) {
                return None;
            }
            self.waiting.push_back(start);
        }
        let bits = u128::from(len) * 8;
        let rate = u128::from(rate.max(1));
        self.busy_until_ns = start + (bits * 1_000_000_000).div_ceil(rate);
        let micros = self.busy_until_ns.div_ceil(1_000);
        Some(Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX)))
    }

    /// The frames start with a virtio-net header (the devices offload): corruption hits
    /// the frame behind it, and takes away the header's word that the checksums need no
    /// check, as a real wire between offloading devices carries finished checksums.
    #[must_use]
    pub(crate) const fn with_virtio_header(mut self, on: bool) -> Self {
        self.virtio_header = on;
        self
    }

    /// Flips one random bit of `frame`, with the configured probability.
    fn corrupt(&mut self, frame: &mut [u8]) {
        let skip = if self.virtio_header { crate::wire::virtio::HEADER_LEN } else { 0 };
        if frame.len() <= skip || !self.rng.chance(self.imp.corrupt) {
            return;
        }
        let bit = self.rng.below((frame.len() - skip) as u64 * 8);
        let at = usize::try_from(bit / 8).ok().map(|i| i + skip);
        if let Some(byte) = at.and_then(|i| frame.get_mut(i)) {
            *byte ^= 1 << (bit % 8);
            self.stats.corrupted += 1;
            if skip > 0 {
                frame[0] = 0;
            }
        }
    }

    /// The arrival time of a copy that left at `departure`: delay plus jitter, kept in order.
    fn arrival(&mut self, departure: Instant) -> Instant {
        let jitter = match self.imp.jitter.total_micros() {
            0 => 0,
            max => self.rng.range_inclusive(0, max),
        };
        let arrival = departure + self.imp.delay + Duration::from_micros(jitter);
        self.last_arrival = self.last_arrival.max(arrival);
        self.last_arrival
    }

    /// Queues a frame arriving at `arrival`, after the held frames due by then, and releases
    /// the held frames it completes the overtaking of.
    fn arrive(&mut self, arrival: Instant, frame: Vec<u8>) {
        self.release_held_until(arrival);
        self.in_flight.push_back(InFlight { arrival, frame });
        let mut i = 0;
        while i < self.held.len() {
            let Some(held) = self.held.get_mut(i) else { break };
            held.remaining -= 1;
            held.overtaken = true;
            if held.remaining == 0 {
                let held = self.held.remove(i);
                self.stats.reordered += 1;
                self.in_flight.push_back(InFlight { arrival, frame: held.frame });
            } else {
                i += 1;
            }
        }
    }

    /// Releases the held frames whose deadline has come by `now`, at their deadline.
    ///
    /// Every frame queued so far arrives before those deadlines (a frame arriving later would
    /// have released them first), so the queue stays in arrival order.
    fn release_held_until(&mut self, now: Instant) {
        while let Some(i) = self.earliest_due(now) {
            let held = self.held.remove(i);
            if held.overtaken {
                self.stats.reordered += 1;
            }
            self.in_flight.push_back(InFlight { arrival: held.deadline, frame: held.frame });
        }
    }

    /// The held frame with the earliest deadline, if that deadline is at or before `now`.
    fn earliest_due(&self, now: Instant) -> Option<usize> {
        let (i, held) = self.held.iter().enumerate().min_by_key(|(_, h)| h.deadline)?;
        (held.deadline <= now).then_some(i)
    }

    fn recycle(&mut self, frame: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(frame);
        }
    }
}
