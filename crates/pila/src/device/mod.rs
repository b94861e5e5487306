//! Devices: where frames leave pila and where they come in.
//!
//! A [`Device`] moves whole frames — Ethernet frames, or bare IP packets for a TUN-like
//! medium — in batches, so a driver can drain everything that is ready in one wake-up.
//! Devices are the only part of pila that touches the outside world; the `unsafe` needed
//! for TAP and TUN lives here and nowhere else.
//!
//! Implementations:
//! * [`VirtualWire`]: two connected in-memory endpoints with reproducible impairments
//!   (loss, duplication, reordering, corruption, delay, jitter, rate, queue limit);
//! * `Pcap` (feature `pcap`): wraps any device and records every frame to a pcap file;
//! * [`Impaired`]: wraps any device and puts the [`VirtualWire`]'s link model on its
//!   transmitted and received frames (for real devices, where the kernel may have no netem);
//! * `Tap` and `Tun` (Linux): the kernel's virtual Ethernet and IP devices.

mod impair;
mod impaired;
mod link;
#[cfg(feature = "pcap")]
mod pcap;
mod readiness;
#[cfg(target_os = "linux")]
mod tap;
#[cfg(target_os = "linux")]
mod tun;
#[cfg(target_os = "linux")]
mod tuntap;
mod virtual_wire;

pub use impair::{Impairments, ParseImpairmentsError};
pub use impaired::Impaired;
pub use link::LinkStats;
#[cfg(feature = "pcap")]
pub use pcap::Pcap;
#[cfg(unix)]
pub use readiness::FdReadiness;
pub use readiness::{Readiness, ReadySignal};
#[cfg(target_os = "linux")]
pub use tap::Tap;
#[cfg(target_os = "linux")]
pub use tun::Tun;
pub use virtual_wire::{Endpoint, VirtualWire, WireConfig, WireWaker};

use crate::time::Instant;
use crate::wire::Checksums;
use core::fmt;
use std::io;
use std::sync::Arc;

/// What a device carries in its frames: the stack's own [`crate::stack::Medium`], which a
/// device reports and a stack is configured with (the core knows no device).
pub use crate::stack::Medium;
/// The offloads a device negotiated: the stack's own [`crate::stack::Offloads`], which a
/// device reports in its [`Capabilities`].
pub use crate::stack::Offloads;

/// What a device is and what it can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// What the frames carry.
    pub medium: Medium,
    /// The largest IP packet the device carries, in bytes (1500 on most Ethernets). An
    /// Ethernet frame adds its 14-byte header (18 with an 802.1Q tag) on top.
    pub mtu: usize,
    /// The most frames one [`Device::receive`] or [`Device::transmit`] call handles.
    pub max_burst: usize,
    /// Which checksums software must compute and verify.
    pub checksums: Checksums,
    /// The offloads the device negotiated: a virtio-net header on every frame, TCP
    /// segmentation (none for most devices).
    pub offloads: Offloads,
}

impl Capabilities {
    /// The largest frame the device carries, link header included.
    pub const fn max_frame_len(&self) -> usize {
        let link = match self.medium {
            Medium::Ethernet => 18,
            Medium::Ip => 0,
        };
        self.offloads.max_frame_len(self.mtu, link)
    }
}

/// A network device that sends and receives frames in batches.
///
/// Every call takes `now`, the caller's clock, so the same device works under the real
/// clock and under the simulator's virtual one. A device never blocks: when nothing is
/// ready, `receive` returns `Ok(0)`.
pub trait Device {
    /// What the device is and what it can do.
    fn capabilities(&self) -> Capabilities;

    /// Appends to `batch` the frames that have arrived by `now`, until it is full or none are
    /// left, and returns how many it added.
    fn receive(&mut self, now: Instant, batch: &mut FrameBatch) -> io::Result<usize>;

    /// Sends the frames in `batch`, in order, and returns how many the device took. A device
    /// that cannot take more right now (a full queue) returns fewer; those frames are lost,
    /// as on a real link.
    fn transmit(&mut self, now: Instant, batch: &FrameBatch) -> io::Result<usize>;

    /// The earliest instant at which a frame held inside the device (on a delayed link, say)
    /// becomes ready to receive, if the device holds any. A device whose frames arrive from
    /// outside, such as a TAP, returns `None` and is waited on by its file descriptor.
    fn poll_at(&self) -> Option<Instant> {
        None
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    fn receive(&mut self, now: Instant, batch: &mut FrameBatch) -> io::Result<usize> {
        (**self).receive(now, batch)
    }

    fn transmit(&mut self, now: Instant, batch: &FrameBatch) -> io::Result<usize> {
        (**self).transmit(now, batch)
    }

    fn poll_at(&self) -> Option<Instant> {
        (**self).poll_at()
    }
}

/// A [`Device`] a driver thread can sleep on: the runtime's side of a device.
///
/// The driver of `pila::net` receives what is ready, transmits what the stack has, then calls
/// [`wait`](Self::wait) with the stack's next deadline. A wait ends when frames may be ready
/// to [`receive`](Device::receive), when a [`DeviceWaker`] fires (an application call gave
/// the stack something to do), or at the deadline. Ending early is allowed (the driver just
/// looks and waits again); sleeping through a frame or a wake-up is not. A wake-up given while
/// nobody waits must end the next wait at once.
pub trait WaitDevice: Device + Send {
    /// Blocks until frames may be ready, a [`DeviceWaker`] fires, or `deadline` passes
    /// (`None`: no deadline).
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()>;

    /// A handle that ends the current or next [`wait`](Self::wait) from any thread.
    fn waker(&self) -> DeviceWaker;

    /// How an event loop that polls instead of calling [`wait`](Self::wait) (the tokio
    /// driver) learns that frames may be ready. The default, [`Readiness::Wait`], says only
    /// `wait` can tell; a wrapper forwards its inner device's.
    fn readiness(&self) -> Readiness {
        Readiness::Wait
    }

    /// A handle that waits as [`wait`](Self::wait) does, from any thread, without holding
    /// the device. With one, a runtime can let other threads receive and transmit on the
    /// device while its driver sleeps (`pila::net` lets an application thread send what its
    /// own call queued, and poll for the answer). `None`, the default: only `wait` can wait,
    /// and the driver keeps the device to itself. A wrapper forwards its inner device's.
    fn sleeper(&self) -> Option<Sleeper> {
        None
    }
}

/// Waits on a device without holding it: [`WaitDevice::sleeper`]. Cheap to clone.
///
/// Its [`wait`](Self::wait) keeps the contract of [`WaitDevice::wait`]: it ends when frames
/// may be ready, when the device's [`DeviceWaker`] fires (a wake-up given while nobody
/// waits ends the next wait at once), or at the deadline, and may end early.
#[derive(Clone)]
pub struct Sleeper {
    wait: Arc<dyn Fn(Option<std::time::Instant>) -> io::Result<()> + Send + Sync>,
    polled: Option<Arc<dyn Fn(bool) + Send + Sync>>,
}

impl Sleeper {
    /// A sleeper whose waits are calls to `wait`.
    pub fn new(
        wait: impl Fn(Option<std::time::Instant>) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        Self { wait: Arc::new(wait), polled: None }
    }

    /// Adds what the device does when a thread starts (`true`) or stops (`false`) polling
    /// it for frames ([`polling`](Self::polling)).
    #[must_use]
    pub fn with_polling(mut self, polled: impl Fn(bool) + Send + Sync + 'static) -> Self {
        self.polled = Some(Arc::new(polled));
        self
    }

    /// Blocks until frames may be ready, the device's waker fires, or `deadline` passes.
    pub fn wait(&self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        (self.wait)(deadline)
    }

    /// Says that a thread starts (`true`) or stops (`false`) polling the device for frames.
    /// While one polls, a device may hold back the wake-up its frames give a sleeping
    /// [`wait`](Self::wait) (the poller will receive them), and give it when the last poller
    /// stops with frames still unreceived; a wake-up from the [`DeviceWaker`] is never held.
    /// Calls come in pairs. A device that does nothing here is correct, only busier.
    pub fn polling(&self, on: bool) {
        if let Some(polled) = &self.polled {
            polled(on);
        }
    }
}

impl fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleeper").finish_non_exhaustive()
    }
}

/// Ends a [`WaitDevice::wait`] from any thread; cheap to clone.
///
/// A device makes one from whatever interrupts its wait: a condition variable for the
/// in-memory wire, an eventfd for TAP and TUN.
#[derive(Clone)]
pub struct DeviceWaker {
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl DeviceWaker {
    /// A waker that calls `wake` each time it fires.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Self { wake: Arc::new(wake) }
    }

    /// Ends the device's current wait, or the next one if none is under way.
    pub fn wake(&self) {
        (self.wake)();
    }
}

impl fmt::Debug for DeviceWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceWaker").finish_non_exhaustive()
    }
}

impl<D: WaitDevice + ?Sized> WaitDevice for Box<D> {
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        (**self).wait(deadline)
    }

    fn waker(&self) -> DeviceWaker {
        (**self).waker()
    }

    fn readiness(&self) -> Readiness {
        (**self).readiness()
    }

    fn sleeper(&self) -> Option<Sleeper> {
        (**self).sleeper()
    }
}

/// A reusable batch of frames stored back to back in one buffer.
///
/// Filling and draining a batch allocates nothing once its buffer has grown to the size the
/// traffic needs, and writes nothing but the frames: the room a frame is written into is
/// not cleared first (with offloads a frame may take 64 KiB, most often to hold an ACK).
#[derive(Clone, Debug, Default)]
pub struct FrameBatch {
    /// The frames back to back, then room left from earlier frames.
    data: Vec<u8>,
    /// The end of the last frame in `data`.
    used: usize,
    ends: Vec<usize>,
    limit: usize,
}

impl FrameBatch {
    /// An empty batch that holds at most `limit` frames.
    pub fn new(limit: usize) -> Self {
        Self { data: Vec::new(), used: 0, ends: Vec::with_capacity(limit), limit }
    }

    /// The most frames the batch holds.
    pub const fn limit(&self) -> usize {
        self.limit
    }

    /// How many frames the batch holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Whether the batch holds as many frames as it may.
    pub fn is_full(&self) -> bool {
        self.ends.len() >= self.limit
    }

    /// Removes every frame, keeping the memory.
    pub fn clear(&mut self) {
        self.used = 0;
        self.ends.clear();
    }

    /// Appends a copy of `frame`; returns `false`, and adds nothing, when the batch is full.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if self.is_full() {
            return false;
        }
        let end = self.used + frame.len();
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[self.used..end].copy_from_slice(frame);
        self.used = end;
        self.ends.push(end);
        true
    }

    /// Appends a frame written in place: `write` gets `max_len` bytes — not cleared: they
    /// hold whatever earlier frames left — and returns how many of them make the frame (at
    /// most `max_len`; more is clamped). Returns `false`, and
    /// calls nothing, when the batch is full.
    pub fn push_with(&mut self, max_len: usize, write: impl FnOnce(&mut [u8]) -> usize) -> bool {
        match self.try_push_with(max_len, |buf| Ok::<_, core::convert::Infallible>(write(buf))) {
            Ok(pushed) => pushed,
            Err(never) => match never {},
        }
    }

    /// Appends a frame written in place by a fallible `write`, which gets `max_len` bytes
    /// (not cleared, as for [`push_with`](Self::push_with)) and returns how many of them make the frame (clamped to `max_len`). Returns
    /// `Ok(false)`, and calls nothing, when the batch is full; when `write` fails, nothing is
    /// added and its error is returned.
    pub fn try_push_with<E>(
        &mut self,
        max_len: usize,
        write: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<bool, E> {
        if self.is_full() {
            return Ok(false);
        }
        let start = self.used;
        if self.data.len() < start + max_len {
            self.data.resize(start + max_len, 0);
        }
        let room = &mut self.data[start..start + max_len];
        if cfg!(debug_assertions) {
            // A writer must write every byte of its frame: in debug builds (the tests) the
            // room holds a pattern, so one that counts on zeroes shows.
            room.fill(0xa5);
        }
        match write(room) {
            Ok(len) => {
                let len = len.min(max_len);
                self.used = start + len;
                self.ends.push(start + len);
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// The frame at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        Some(&self.data[start..end])
    }

    /// The frames, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_keeps_frames_in_order_and_respects_its_limit() {
        let mut batch = FrameBatch::new(3);
        assert!(batch.push(b"one"));
        assert!(batch.push(b""));
        assert!(batch.push_with(100, |buf| {
            buf[..5].copy_from_slice(b"three");
            5
        }));
        assert!(batch.is_full());
        assert!(!batch.push(b"four"));
        let frames: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(frames, [&b"one"[..], b"", b"three"]);
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.get(0), None);
    }

    #[test]
    fn try_push_with_adds_nothing_when_the_writer_fails() {
        let mut batch = FrameBatch::new(2);
        assert_eq!(
            batch.try_push_with(8, |buf| Ok::<_, ()>({
                buf[0] = 7;
                1
            })),
            Ok(true)
        );
        assert_eq!(batch.try_push_with(8, |_| Err("would block")), Err("would block"));
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.try_push_with(3, |_| Ok::<_, ()>(9)), Ok(true));
        assert_eq!(batch.try_push_with(3, |_| -> Result<usize, ()> { panic!("full") }), Ok(false));
        let frames: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0], frames[1].len()), (&[7u8][..], 3), "the lying length is clamped");
    }

    #[test]
    fn push_with_clamps_a_lying_length() {
        let mut batch = FrameBatch::new(1);
        assert!(batch.push_with(4, |_| 10));
        assert_eq!(batch.get(0).map(<[u8]>::len), Some(4));
    }

    #[test]
    fn endpoint_wait_ends_on_waker_frame_or_deadline() {
        use std::time::{Duration as StdDuration, Instant as StdInstant};
        let (mut a, mut b) = VirtualWire::pair(WireConfig::default());
        let far = Some(StdInstant::now() + StdDuration::from_secs(30));

        // A wake-up given before the wait is kept: the wait returns at once.
        let waker = WaitDevice::waker(&b);
        waker.wake();
        let start = StdInstant::now();
        WaitDevice::wait(&mut b, far).unwrap();
        assert!(start.elapsed() < StdDuration::from_secs(5));

        // A waker fired from another thread ends a wait under way.
        let thread = std::thread::spawn(move || {
            std::thread::sleep(StdDuration::from_millis(20));
            waker.wake();
        });
        let start = StdInstant::now();
        WaitDevice::wait(&mut b, far).unwrap();
        assert!(start.elapsed() < StdDuration::from_secs(5));
        thread.join().unwrap();

        // A frame sent toward the endpoint ends its wait.
        let mut batch = FrameBatch::new(1);
        batch.push(&[0u8; 60]);
        a.transmit(Instant::ZERO, &batch).unwrap();
        WaitDevice::wait(&mut b, far).unwrap();
        let mut got = FrameBatch::new(4);
        assert_eq!(b.receive(Instant::ZERO, &mut got).unwrap(), 1);

        // Nothing pending: the deadline ends the wait, and not before it.
        let start = StdInstant::now();
        WaitDevice::wait(&mut b, Some(start + StdDuration::from_millis(30))).unwrap();
        assert!(start.elapsed() >= StdDuration::from_millis(30));
    }
}
