//! A wrapper that impairs any device with the [`VirtualWire`](super::VirtualWire)'s link
//! model, for real devices on kernels without netem.
//!
//! Each direction is one link of the model in the `link` module (loss, duplication,
//! reordering, corruption, delay with jitter, rate limit), with its own [`Impairments`]
//! and random stream. Frames held by a link (delayed, rate-limited, held for reordering)
//! leave it when the wrapper is next called at or after [`poll_at`](Device::poll_at): a
//! driver must call [`receive`](Device::receive) by then, which also forwards the held
//! transmissions to the inner device.

use super::impair::Impairments;
use super::link::{Fate, Link, LinkStats};
use super::{Capabilities, Device, DeviceWaker, FrameBatch, Readiness, Sleeper, WaitDevice};
use crate::time::Instant;
use std::io;

/// Salt of the transmit link's random stream.
const TX: u64 = 0;
/// Salt of the receive link's random stream.
const RX: u64 = 1;

/// A device whose transmitted and received frames go through impaired links.
///
/// ```
/// use pila::device::{Device, Impaired, Impairments, VirtualWire, WireConfig};
///
/// let (a, _b) = VirtualWire::pair(WireConfig::default());
/// let spec: Impairments = "loss=2%,reorder=2%,dup=1%,seed=7".parse().unwrap();
/// let dev = Impaired::new(a, spec);
/// assert_eq!(dev.tx_impairments(), spec);
/// ```
#[derive(Debug)]
pub struct Impaired<D: Device> {
    inner: D,
    tx: Link,
    rx: Link,
    /// Frames moving between a link and the inner device.
    scratch: FrameBatch,
    /// The last `now` a call was given, and the real clock at that call: how
    /// [`WaitDevice::wait`] turns [`poll_at`](Device::poll_at) into a real deadline.
    anchor: Option<(Instant, std::time::Instant)>,
}

impl<D: Device> Impaired<D> {
    /// Wraps `inner`, impairing both directions as `impairments` says; the directions draw
    /// from different random streams though they share the seed.
    pub fn new(inner: D, impairments: Impairments) -> Self {
        Self::with_directions(inner, impairments, impairments)
    }

    /// Wraps `inner`, impairing transmitted frames as `tx` says and received ones as `rx`.
    pub fn with_directions(inner: D, tx: Impairments, rx: Impairments) -> Self {
        let caps = inner.capabilities();
        let max = caps.max_frame_len();
        Self {
            tx: Link::new(tx, max, TX).with_virtio_header(caps.offloads.virtio_header),
            rx: Link::new(rx, max, RX).with_virtio_header(caps.offloads.virtio_header),
            scratch: FrameBatch::new(caps.max_burst.max(1)),
            inner,
            anchor: None,
        }
    }

    /// The wrapped device.
    pub const fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably (frames sent on it directly bypass the impairments).
    pub const fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The wrapped device; frames still held by the links are lost.
    pub fn into_inner(self) -> D {
        self.inner
    }

    /// Counters of the transmit direction.
    pub const fn tx_stats(&self) -> LinkStats {
        self.tx.stats()
    }

    /// Counters of the receive direction.
    pub const fn rx_stats(&self) -> LinkStats {
        self.rx.stats()
    }

    /// The impairments on transmitted frames.
    pub const fn tx_impairments(&self) -> Impairments {
        self.tx.impairments()
    }

    /// The impairments on received frames.
    pub const fn rx_impairments(&self) -> Impairments {
        self.rx.impairments()
    }

    /// Changes the impairments on frames transmitted from now on; frames in flight keep
    /// their fate, and the random stream restarts only if the seed changes.
    pub fn set_tx_impairments(&mut self, impairments: Impairments) {
        self.tx.set_impairments(impairments, TX);
    }

    /// Changes the impairments on frames received from now on, as
    /// [`set_tx_impairments`](Self::set_tx_impairments) does for transmitted ones.
    pub fn set_rx_impairments(&mut self, impairments: Impairments) {
        self.rx.set_impairments(impairments, RX);
    }

    /// Hands the inner device every transmitted frame that has left the link by `now`.
    /// Frames the inner device does not take are lost, as on a real link.
    fn flush_tx(&mut self, now: Instant) -> io::Result<()> {
        loop {
            self.scratch.clear();
            if self.tx.deliver(now, &mut self.scratch) == 0 {
                return Ok(());
            }
            self.inner.transmit(now, &self.scratch)?;
        }
    }

    fn note_time(&mut self, now: Instant) {
        self.anchor = Some((now, std::time::Instant::now()));
    }
}

impl<D: Device> Device for Impaired<D> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    /// Forwards the transmissions due by `now`, takes at most `batch.limit()` frames from
    /// the inner device into the receive link, and delivers what has come out of it.
    fn receive(&mut self, now: Instant, batch: &mut FrameBatch) -> io::Result<usize> {
        self.note_time(now);
        self.flush_tx(now)?;
        let mut budget = batch.limit();
        while budget > 0 {
            self.scratch.clear();
            let got = self.inner.receive(now, &mut self.scratch)?;
            for frame in self.scratch.iter() {
                // A frame the receive link drops (lost, queue full) is simply gone.
                let _ = self.rx.send(now, frame);
            }
            budget = budget.saturating_sub(got);
            if got < self.scratch.limit() {
                break;
            }
        }
        Ok(self.rx.deliver(now, batch))
    }

    /// Puts the frames on the transmit link, in order, and forwards those due by `now`.
    /// Stops at the first frame the rate limiter's full queue refuses.
    fn transmit(&mut self, now: Instant, batch: &FrameBatch) -> io::Result<usize> {
        self.note_time(now);
        let mut taken = batch.len();
        for (i, frame) in batch.iter().enumerate() {
            if self.tx.send(now, frame) == Fate::QueueFull {
                taken = i;
                break;
            }
        }
        self.flush_tx(now)?;
        Ok(taken)
    }

    /// The earliest instant a held frame leaves either link, or the inner device's own.
    fn poll_at(&self) -> Option<Instant> {
        [self.tx.next_arrival(), self.rx.next_arrival(), self.inner.poll_at()]
            .into_iter()
            .flatten()
            .min()
    }
}

impl<D: WaitDevice> WaitDevice for Impaired<D> {
    /// Waits on the inner device, but no later than [`poll_at`](Device::poll_at) (mapped to
    /// the real clock through the `now` of the last call), so held frames leave on time.
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        let held = self
            .poll_at()
            .zip(self.anchor)
            .map(|(at, (now, real))| real + at.saturating_duration_since(now).to_std());
        self.inner.wait(crate::time::earliest(deadline, held))
    }

    fn waker(&self) -> DeviceWaker {
        self.inner.waker()
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    /// The inner device's: a driver that sleeps on it passes the deadline of the frames
    /// held here ([`poll_at`](Device::poll_at)) itself.
    fn sleeper(&self) -> Option<Sleeper> {
        self.inner.sleeper()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Endpoint, VirtualWire, WireConfig};
    use crate::time::Duration;

    fn pair() -> (Endpoint, Endpoint) {
        VirtualWire::pair(WireConfig::default())
    }

    fn frames(n: usize) -> FrameBatch {
        let mut batch = FrameBatch::new(n);
        for i in 0..n {
            assert!(batch.push(&[i as u8; 60]));
        }
        batch
    }

    fn received(dev: &mut impl Device, now: Instant) -> Vec<Vec<u8>> {
        let mut batch = FrameBatch::new(256);
        dev.receive(now, &mut batch).unwrap();
        batch.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn a_perfect_wrapper_passes_frames_straight_through() {
        let (a, mut b) = pair();
        let mut dev = Impaired::new(a, Impairments::NONE);
        let t = Instant::from_millis(5);
        assert_eq!(dev.transmit(t, &frames(3)).unwrap(), 3);
        assert_eq!(received(&mut b, t), frames(3).iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
        b.transmit(t, &frames(2)).unwrap();
        assert_eq!(received(&mut dev, t).len(), 2);
        assert_eq!(dev.poll_at(), None);
        assert_eq!(dev.tx_stats().delivered, 3);
        assert_eq!(dev.rx_stats().delivered, 2);
    }

    #[test]
    fn transmit_delay_holds_frames_until_poll_at() {
        let (a, mut b) = pair();
        let delay = Duration::from_millis(20);
        let mut dev = Impaired::with_directions(
            a,
            Impairments::NONE.with_delay(delay, Duration::ZERO),
            Impairments::NONE,
        );
        let t0 = Instant::from_millis(100);
        assert_eq!(dev.transmit(t0, &frames(4)).unwrap(), 4);
        assert_eq!(dev.poll_at(), Some(t0 + delay));
        assert!(received(&mut b, t0 + delay).is_empty(), "nothing reaches the inner device early");
        // The driver's call at poll_at forwards them.
        assert!(received(&mut dev, t0 + delay).is_empty());
        assert_eq!(received(&mut b, t0 + delay).len(), 4);
        assert_eq!(dev.poll_at(), None);
    }

    #[test]
    fn receive_delay_is_separate_from_transmit() {
        let (a, mut b) = pair();
        let delay = Duration::from_millis(7);
        let mut dev = Impaired::with_directions(
            a,
            Impairments::NONE,
            Impairments::NONE.with_delay(delay, Duration::ZERO),
        );
        let t0 = Instant::from_millis(1);
        dev.transmit(t0, &frames(1)).unwrap();
        assert_eq!(received(&mut b, t0).len(), 1, "transmit is not delayed");
        b.transmit(t0, &frames(2)).unwrap();
        assert!(received(&mut dev, t0).is_empty());
        assert_eq!(dev.poll_at(), Some(t0 + delay));
        assert_eq!(received(&mut dev, t0 + delay).len(), 2);
    }

    #[test]
    fn loss_and_duplication_are_counted_and_reproducible_by_seed() {
        let run = |seed| {
            let (a, mut b) = pair();
            let imp = Impairments::NONE.with_loss(0.3).with_duplicate(0.2).with_seed(seed);
            let mut dev = Impaired::with_directions(a, imp, Impairments::NONE);
            let t = Instant::from_millis(1);
            let mut got = Vec::new();
            for _ in 0..10 {
                assert_eq!(dev.transmit(t, &frames(50)).unwrap(), 50);
                got.extend(received(&mut b, t));
            }
            let s = dev.tx_stats();
            assert_eq!(s.sent, 500);
            assert_eq!(s.sent + s.duplicated, s.delivered + s.lost);
            assert_eq!(s.delivered as usize, got.len());
            assert!((100..=200).contains(&s.lost), "lost {} of 500 at 30%", s.lost);
            assert!(s.duplicated > 20, "duplicated {}", s.duplicated);
            got
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn a_full_rate_queue_refuses_the_rest_of_the_batch() {
        let (a, _b) = pair();
        let imp = Impairments::NONE.with_rate(1_000_000, Some(2));
        let mut dev = Impaired::with_directions(a, imp, Impairments::NONE);
        // The first frame goes on the wire, two wait, the fourth finds the queue full.
        assert_eq!(dev.transmit(Instant::from_millis(1), &frames(6)).unwrap(), 3);
        assert_eq!(dev.tx_stats().queue_dropped, 1);
    }

    /// A device that never receives and waits by sleeping until the deadline.
    struct Sleeper;

    impl Device for Sleeper {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                medium: crate::device::Medium::Ethernet,
                mtu: 1500,
                max_burst: 8,
                checksums: crate::wire::Checksums::SOFTWARE,
                offloads: crate::device::Offloads::default(),
            }
        }

        fn receive(&mut self, _: Instant, _: &mut FrameBatch) -> io::Result<usize> {
            Ok(0)
        }

        fn transmit(&mut self, _: Instant, batch: &FrameBatch) -> io::Result<usize> {
            Ok(batch.len())
        }
    }

    impl WaitDevice for Sleeper {
        fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
            let deadline = deadline.expect("the wrapper passes a deadline");
            std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
            Ok(())
        }

        fn waker(&self) -> DeviceWaker {
            DeviceWaker::new(|| {})
        }
    }

    #[test]
    fn wait_ends_at_poll_at_on_the_real_clock() {
        let delay = Duration::from_millis(30);
        let imp = Impairments::NONE.with_delay(delay, Duration::ZERO);
        let mut dev = Impaired::with_directions(Sleeper, imp, Impairments::NONE);
        let epoch = std::time::Instant::now();
        let now = Instant::from_std(std::time::Instant::now(), epoch);
        dev.transmit(now, &frames(1)).unwrap();
        let start = std::time::Instant::now();
        dev.wait(Some(start + std::time::Duration::from_secs(5))).unwrap();
        let waited = start.elapsed();
        assert!(waited >= std::time::Duration::from_millis(25), "{waited:?}");
        assert!(waited < std::time::Duration::from_secs(2), "{waited:?}");
    }
}
