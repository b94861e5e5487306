//! A Linux TUN device: the kernel's virtual IP interface, with pila on its far side.

use super::tuntap::{Kind, TunFd};
use super::{Capabilities, Device, DeviceWaker, FrameBatch, Readiness, Sleeper, WaitDevice};
use crate::time::Instant;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// A Linux TUN device: bare IP packets between pila and the kernel, no link header and
/// no ARP.
///
/// The kernel sees a point-to-point IP interface (configure it with `ip`); the packets it
/// routes into that interface pila receives, and the packets pila transmits enter the
/// kernel's IP input. Like [`Tap`](super::Tap): non-blocking, batched, waited on with
/// poll(2), MTU read from the device when opened.
#[derive(Debug)]
pub struct Tun {
    fd: TunFd,
}

impl Tun {
    /// Attaches to the TUN `name`, creating it (removed again when this handle is dropped)
    /// when it does not exist. An empty name lets the kernel pick one. Creating a device
    /// needs root or `CAP_NET_ADMIN`; attaching to one made with
    /// `ip tuntap add dev NAME mode tun user USER` needs only to be USER.
    pub fn open(name: &str) -> io::Result<Self> {
        Ok(Self { fd: TunFd::open(name, Kind::Tun, false, false)? })
    }

    /// Like [`open`](Self::open), asking the kernel for offloads: a virtio-net header on every
    /// frame, TCP checksums left to fill in, and TCP segments of up to 64 KiB both ways
    /// (segmentation and coalescing, TSO/GRO). [`offloads`](Self::offloads) says what it
    /// granted; the device works the same without them.
    pub fn open_with_offloads(name: &str) -> io::Result<Self> {
        Ok(Self { fd: TunFd::open(name, Kind::Tun, false, true)? })
    }

    /// The offloads negotiated with the kernel (none unless opened with
    /// [`open_with_offloads`](Self::open_with_offloads)).
    pub const fn offloads(&self) -> super::Offloads {
        self.fd.offloads()
    }

    /// Creates the TUN `name`; fails when a device of that name already exists, instead of
    /// attaching to it.
    pub fn create(name: &str) -> io::Result<Self> {
        Ok(Self { fd: TunFd::open(name, Kind::Tun, true, false)? })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        self.fd.name()
    }

    /// The interface's MTU: the largest IP packet.
    pub const fn mtu(&self) -> usize {
        self.fd.mtu()
    }

    /// Reads the MTU from the device again, after `ip link set dev NAME mtu N`. Works only
    /// while the interface is in this process's network namespace.
    pub fn refresh_mtu(&mut self) -> io::Result<usize> {
        self.fd.refresh_mtu()
    }

    /// Packets the kernel refused on transmit (interface down, malformed, too long) and
    /// that were dropped.
    pub const fn tx_dropped(&self) -> u64 {
        self.fd.dropped()
    }
}

impl Device for Tun {
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

impl WaitDevice for Tun {
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

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
