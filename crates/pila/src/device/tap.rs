//! A Linux TAP device: the kernel's virtual Ethernet interface, with pila on its wire side.

use super::tuntap::{Kind, TunFd};
use super::{Capabilities, Device, DeviceWaker, FrameBatch, Readiness, Sleeper, WaitDevice};
use crate::time::Instant;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// A Linux TAP device: Ethernet frames between pila and the kernel.
///
/// The kernel sees an Ethernet interface (configure it with `ip`); what it transmits on
/// that interface pila receives, and what pila transmits arrives on it. The descriptor is
/// non-blocking, [`receive`](Device::receive) reads every frame that is ready (up to the
/// batch), and [`WaitDevice::wait`] sleeps in poll(2) on the descriptor and an eventfd.
///
/// The MTU is read from the device when it is opened; [`refresh_mtu`](Self::refresh_mtu)
/// reads it again. The descriptor keeps working when the interface is moved to another
/// network namespace (`ip link set dev NAME netns NS`).
#[derive(Debug)]
pub struct Tap {
    fd: TunFd,
}

impl Tap {
    /// Attaches to the TAP `name`, creating it (removed again when this handle is dropped)
    /// when it does not exist. An empty name lets the kernel pick one (see
    /// [`name`](Self::name)). Creating a device needs root or `CAP_NET_ADMIN`; attaching to
    /// one made with `ip tuntap add dev NAME mode tap user USER` needs only to be USER.
    pub fn open(name: &str) -> io::Result<Self> {
        Ok(Self { fd: TunFd::open(name, Kind::Tap, false, false)? })
    }

    /// Like [`open`](Self::open), asking the kernel for offloads: a virtio-net header on every
    /// frame, TCP checksums left to fill in, and TCP segments of up to 64 KiB both ways
    /// (segmentation and coalescing, TSO/GRO). [`offloads`](Self::offloads) says what it
    /// granted; the device works the same without them.
    pub fn open_with_offloads(name: &str) -> io::Result<Self> {
        Ok(Self { fd: TunFd::open(name, Kind::Tap, false, true)? })
    }

    /// The offloads negotiated with the kernel (none unless opened with
    /// [`open_with_offloads`](Self::open_with_offloads)).
    pub const fn offloads(&self) -> super::Offloads {
        self.fd.offloads()
    }

    /// Creates the TAP `name`; fails, saying so, when a device of that name already exists,
    /// instead of attaching to it.
    pub fn create(name: &str) -> io::Result<Self> {
        Ok(Self { fd: TunFd::open(name, Kind::Tap, true, false)? })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        self.fd.name()
    }

    /// The interface's MTU: the largest IP packet, without the Ethernet header.
    pub const fn mtu(&self) -> usize {
        self.fd.mtu()
    }

    /// Reads the MTU from the device again, after `ip link set dev NAME mtu N`. Works only
    /// while the interface is in this process's network namespace.
    pub fn refresh_mtu(&mut self) -> io::Result<usize> {
        self.fd.refresh_mtu()
    }

    /// Frames the kernel refused on transmit (interface down, malformed, too long) and
    /// that were dropped.
    pub const fn tx_dropped(&self) -> u64 {
        self.fd.dropped()
    }
}

impl Device for Tap {
    fn capabilities(&self) -> Capabilities {
        self.fd.capabilities()
    }

    fn receive(&mut self, _now: Instant, batch: &mut FrameBatch) -> io::Result<usize> {
        self.fd.read_batch(batch)
    }

    fn transmit(&mut self, _now: Instant, batch: &FrameBatch) -> io::Result<usize> {
        self.fd.write_batch(batch)
    }
}

impl WaitDevice for Tap {
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        self.fd.wait(deadline)
    }

    fn waker(&self) -> DeviceWaker {
        self.fd.waker()
    }

    fn readiness(&self) -> Readiness {
        Readiness::Fd(self.fd.readiness())
    }

    fn sleeper(&self) -> Option<Sleeper> {
        Some(self.fd.sleeper())
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
