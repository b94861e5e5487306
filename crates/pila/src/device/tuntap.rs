//! What TAP and TUN share on Linux: the `/dev/net/tun` file descriptor, the eventfd that
//! wakes a waiting driver, and every system call they make.
//!
//! The kernel's interface (linux/if_tun.h, Documentation/networking/tuntap.rst): open
//! `/dev/net/tun`, then `TUNSETIFF` with `IFF_TAP` or `IFF_TUN` (plus `IFF_NO_PI`: no
//! 4-byte packet-information prefix) and a name binds the descriptor to the device of that
//! name, creating it if it does not exist. Each `read(2)` returns one frame and each
//! `write(2)` sends one. The descriptor is non-blocking: a read with nothing queued fails
//! with `EAGAIN`, which ends a batch.
//!
//! Offloads are asked for, never assumed: with `IFF_VNET_HDR` every frame both ways starts
//! with a virtio-net header, and `TUNSETOFFLOAD` with `TUN_F_CSUM | TUN_F_TSO4 |
//! TUN_F_TSO6` lets the kernel hand over TCP segments of either family of up to 64 KiB
//! whose checksum is left to fill in, and
//! take such segments from pila, cutting them itself. A kernel that refuses leaves the
//! device working without them.
//!
//! All the `unsafe` of TAP and TUN is in this file, each block with its `SAFETY:` argument.

#![allow(unsafe_code)]

use super::{Capabilities, DeviceWaker, FdReadiness, FrameBatch, Medium, Offloads, Sleeper};
use crate::wire::Checksums;
use std::ffi::c_int;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

/// The most frames one `receive` or `transmit` call on a TAP or TUN handles.
const MAX_BURST: usize = 64;

/// The clone device every TAP and TUN is opened through.
const CLONE_DEVICE: &str = "/dev/net/tun";

/// Which kind of device a descriptor is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Ethernet frames (`IFF_TAP`).
    Tap,
    /// Bare IP packets (`IFF_TUN`).
    Tun,
}

impl Kind {
    /// What the device carries: Ethernet frames (TAP) or bare IP packets (TUN).
    const fn medium(self) -> Medium {
        match self {
            Self::Tap => Medium::Ethernet,
            Self::Tun => Medium::Ip,
        }
    }

    const fn flag(self) -> c_int {
        match self {
            Self::Tap => libc::IFF_TAP,
            Self::Tun => libc::IFF_TUN,
        }
    }

    const fn word(self) -> &'static str {
        match self {
            Self::Tap => "TAP",
            Self::Tun => "TUN",
        }
    }

    const fn mode(self) -> &'static str {
        match self {
            Self::Tap => "tap",
            Self::Tun => "tun",
        }
    }
}

/// A non-blocking descriptor bound to one TAP or TUN device, with its wake-up eventfd.
#[derive(Debug)]
pub(super) struct TunFd {
    /// Shared with [`readiness`](Self::readiness), so that an event loop watching it never
    /// outlives the descriptor.
    file: Arc<File>,
    name: String,
    kind: Kind,
    mtu: usize,
    wake: Arc<File>,
    /// Whether the last read ran the descriptor dry, for an event loop that polls it.
    readiness: FdReadiness,
    /// Frames the kernel refused on transmit, dropped.
    dropped: u64,
    /// What was negotiated with the kernel.
    offloads: Offloads,
}

impl TunFd {
    /// Binds to the device `name` (created when missing unless `exclusive` makes an existing
    /// one an error). An empty `name` lets the kernel choose one (`tap0`, `tun1`...).
    /// With `offload`, asks for the virtio-net header and the checksum and TSO offloads
    /// ([`offloads`](Self::offloads) says what the kernel granted).
    pub(super) fn open(name: &str, kind: Kind, exclusive: bool, offload: bool) -> io::Result<Self> {
        let mut req = ifreq_named(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(CLONE_DEVICE)
            .map_err(|e| open_error(&e))?;
        let mut flags = kind.flag() | libc::IFF_NO_PI;
        if exclusive {
            flags |= libc::IFF_TUN_EXCL;
        }
        if offload {
            flags |= libc::IFF_VNET_HDR;
        }
        // The flags all fit in 16 bits (IFF_TUN_EXCL is 0x8000: the sign bit of a short,
        // which is how the kernel reads it too).
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: `file` is an open descriptor of /dev/net/tun; TUNSETIFF reads and writes a
        // `struct ifreq`, and `req` is a properly initialised one that outlives the call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &raw mut req) };
        if rc < 0 {
            return Err(attach_error(&io::Error::last_os_error(), name, kind, exclusive));
        }
        let name = name_of(&req);
        let mtu = device_mtu(&name)?;
        let offloads = if offload { negotiate(&file) } else { Offloads::default() };
        let file = Arc::new(file);
        let readiness = FdReadiness::new(Arc::clone(&file));
        let wake = Arc::new(eventfd()?);
        Ok(Self { file, name, kind, mtu, wake, readiness, dropped: 0, offloads })
    }

    /// The offloads negotiated with the kernel.
    pub(super) const fn offloads(&self) -> Offloads {
        self.offloads
    }

    /// The device's name, as the kernel knows it.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The MTU read from the device when it was opened (or last refreshed).
    pub(super) const fn mtu(&self) -> usize {
        self.mtu
    }

    /// Frames the kernel refused on transmit (interface down, malformed, too long) and that
    /// were dropped.
    pub(super) const fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The device's capabilities: its medium and MTU, software checksums, bursts of
    /// [`MAX_BURST`].
    pub(super) fn capabilities(&self) -> Capabilities {
        Capabilities {
            medium: self.kind.medium(),
            mtu: self.mtu,
            max_burst: MAX_BURST,
            checksums: Checksums::SOFTWARE,
            offloads: self.offloads,
        }
    }

    /// Reads the device's MTU again (after `ip link set dev NAME mtu N`). Only works while
    /// the device is in this process's network namespace.
    pub(super) fn refresh_mtu(&mut self) -> io::Result<usize> {
        self.mtu = device_mtu(&self.name)?;
        Ok(self.mtu)
    }

    /// The descriptor, and whether the last [`read_batch`](Self::read_batch) ran it dry.
    pub(super) fn readiness(&self) -> FdReadiness {
        self.readiness.clone()
    }

    /// Reads frames (up to the device's largest) into `batch` until it is full or none is
    /// queued; returns how many. An error after some frames were read is left for the next
    /// call.
    pub(super) fn read_batch(&mut self, batch: &mut FrameBatch) -> io::Result<usize> {
        let max_len = self.capabilities().max_frame_len();
        let mut count = 0;
        self.readiness.set_drained(false);
        loop {
            match batch.try_push_with(max_len, |buf| (&*self.file).read(buf)) {
                Ok(true) => count += 1,
                Ok(false) => return Ok(count),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.readiness.set_drained(true);
                    return Ok(count);
                }
                Err(_) if count > 0 => return Ok(count),
                Err(e) => return Err(self.io_error(&e, "read from")),
            }
        }
    }

    /// Writes the frames of `batch` in order; returns how many the device took. It stops at
    /// a full queue (`EAGAIN`); a frame the kernel refuses by itself (device down, too long,
    /// malformed) is dropped, counted in [`dropped`](Self::dropped), and taken, as a real
    /// link would.
    pub(super) fn write_batch(&mut self, batch: &FrameBatch) -> io::Result<usize> {
        let mut taken = 0;
        for frame in batch.iter() {
            loop {
                match (&*self.file).write(frame) {
                    Ok(_) => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(taken),
                    Err(e) if is_frame_refused(&e) => {
                        self.dropped += 1;
                        break;
                    }
                    Err(_) if taken > 0 => return Ok(taken),
                    Err(e) => return Err(self.io_error(&e, "write to")),
                }
            }
            taken += 1;
        }
        Ok(taken)
    }

    /// Blocks until the device has a frame to read, the waker fires, or `deadline` passes.
    pub(super) fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        wait_either(&self.file, &self.wake, deadline)
    }

    /// A sleeper that waits as [`wait`](Self::wait) does, on clones of the descriptors.
    pub(super) fn sleeper(&self) -> Sleeper {
        let (file, wake) = (Arc::clone(&self.file), Arc::clone(&self.wake));
        Sleeper::new(move |deadline| wait_either(&file, &wake, deadline))
    }

    /// A waker that ends the current or next [`wait`](Self::wait).
    pub(super) fn waker(&self) -> DeviceWaker {
        let wake = Arc::clone(&self.wake);
        DeviceWaker::new(move || {
            // Adds 1 to the eventfd's counter, which makes it readable until reset. A full
            // counter (EAGAIN) is readable already, so the error changes nothing.
            let _ = (&*wake).write(&1u64.to_ne_bytes());
        })
    }

    fn io_error(&self, e: &io::Error, verb: &str) -> io::Error {
        let hint = match e.raw_os_error() {
            Some(libc::EBADFD) => {
                " — the device was deleted or detached; create it again and reopen it"
            }
            _ => "",
        };
        io::Error::new(
            e.kind(),
            format!("cannot {verb} {} {}: {e}{hint}", self.kind.word(), self.name),
        )
    }
}

impl AsFd for TunFd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Sets up the virtio-net header of a descriptor opened with `IFF_VNET_HDR` (10 bytes,
/// little-endian) and asks for checksum and TCPv4 segmentation offloads; what the kernel
/// grants is what the stack may use.
fn negotiate(file: &File) -> Offloads {
    let fd = file.as_raw_fd();
    let mut len: c_int = crate::wire::virtio::HEADER_LEN as c_int;
    // SAFETY: TUNSETVNETHDRSZ reads one `int` through the pointer, which points at `len`,
    // alive for the call; `fd` is an open TUN/TAP descriptor.
    // A kernel that refuses keeps the default length, which is 10 bytes too.
    let _ = unsafe { libc::ioctl(fd, libc::TUNSETVNETHDRSZ, &raw mut len) };
    let mut little: c_int = 1;
    // SAFETY: as above, TUNSETVNETLE reads one `int` through a pointer to `little`. A kernel
    // without it uses the native order, little-endian on the hosts pila runs on.
    let _ = unsafe { libc::ioctl(fd, libc::TUNSETVNETLE, &raw mut little) };
    let features = libc::c_ulong::from(libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6);
    // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long of flags); no
    // memory is passed.
    let tso = unsafe { libc::ioctl(fd, libc::TUNSETOFFLOAD, features) } == 0;
    if tso { Offloads::SEGMENTATION } else { Offloads { virtio_header: true, tcp_segmentation: 0 } }
}

/// Whether the kernel refused this one frame (the next may pass), rather than the device
/// failing.
fn is_frame_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// An `ifreq` carrying `name`, checked for length.
fn ifreq_named(name: &str) -> io::Result<libc::ifreq> {
    if name.len() >= libc::IFNAMSIZ
        || name.bytes().any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
    {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "invalid interface name {name:?} — use at most {} bytes, without '/', spaces or NUL",
                libc::IFNAMSIZ - 1
            ),
        ));
    }
    // SAFETY: `ifreq` is a plain C struct of integers, byte arrays and a union of those and
    // pointers; all-zero bytes are a valid value of every field (null pointers unused).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// The name the kernel wrote back into `req`.
fn name_of(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The MTU of the device `name` in this process's network namespace (`SIOCGIFMTU`).
fn device_mtu(name: &str) -> io::Result<usize> {
    let mut req = ifreq_named(name)?;
    let socket = control_socket()?;
    // SAFETY: `socket` is an open socket; SIOCGIFMTU reads the name from and writes the MTU
    // into the `struct ifreq` we pass, which is initialised and outlives the call.
    #[allow(clippy::useless_conversion, clippy::cast_possible_truncation)]
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFMTU as _, &raw mut req) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "cannot read the MTU of {name}: {e} — the device must stay in this process's \
                 network namespace until it is opened"
            ),
        ));
    }
    // SAFETY: a successful SIOCGIFMTU has written `ifru_mtu`, an integer.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    usize::try_from(mtu)
        .map_err(|_| io::Error::other(format!("{name} reports a negative MTU ({mtu})")))
}

/// A datagram socket to address interface ioctls to.
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; a negative return is checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2), is open, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Blocks until `file` has a frame to read, `wake` (an eventfd) is written to, or `deadline`
/// passes; the wake-up is consumed by the return it causes.
fn wait_either(file: &File, wake: &File, deadline: Option<std::time::Instant>) -> io::Result<()> {
    let timeout = match deadline {
        None => -1,
        Some(deadline) => {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // Round up, so a wait never ends just before its deadline.
            let ms = left.as_nanos().div_ceil(1_000_000);
            c_int::try_from(ms).unwrap_or(c_int::MAX)
        }
    };
    let mut fds = [
        libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: wake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
    ];
    // SAFETY: `fds` is an array of two initialised `pollfd`s, and its length is passed
    // with it; both descriptors stay open for the call (borrowed for it).
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        // A signal only ends the wait early, which callers allow.
        return if e.kind() == ErrorKind::Interrupted { Ok(()) } else { Err(e) };
    }
    if fds[1].revents & libc::POLLIN != 0 {
        // Reset the eventfd's counter; the wake-up is consumed by this return.
        let mut count = [0u8; 8];
        let _ = (&*wake).read(&mut count);
    }
    Ok(())
}

/// A non-blocking eventfd with its counter at zero.
fn eventfd() -> io::Result<File> {
    // SAFETY: eventfd(2) takes no pointers; a negative return is checked below.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd(2), is open, and nothing else owns it.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// The error for a failed open of /dev/net/tun, saying how to fix it.
fn open_error(e: &io::Error) -> io::Error {
    let hint = match e.kind() {
        ErrorKind::NotFound => {
            "load the tun module (`modprobe tun`) or create the node (`mknod /dev/net/tun c 10 200`)"
        }
        ErrorKind::PermissionDenied => "run as root, or give the program CAP_NET_ADMIN",
        _ => "check that the tun driver is available",
    };
    io::Error::new(e.kind(), format!("cannot open {CLONE_DEVICE}: {e} — {hint}"))
}

/// The error for a failed `TUNSETIFF`, saying how to fix it.
fn attach_error(e: &io::Error, name: &str, kind: Kind, exclusive: bool) -> io::Error {
    let (word, mode) = (kind.word(), kind.mode());
    let what = match e.raw_os_error() {
        Some(libc::EPERM) => format!(
            "the {word} {name} does not exist and cannot be created, or belongs to another user \
             — run as root or create it with `ip tuntap add dev {name} mode {mode} user $USER`"
        ),
        Some(libc::EBUSY) if exclusive => {
            format!(
                "{name} already exists — pick another name or delete it with `ip link del {name}`"
            )
        }
        Some(libc::EBUSY) => format!(
            "the {word} {name} is in use by another process — stop that process or pick another name"
        ),
        Some(libc::EINVAL) => format!(
            "{name} exists but is not a single-queue {word} — pick another name or delete it with \
             `ip link del {name}`"
        ),
        _ => format!("cannot attach to the {word} {name}: {e}"),
    };
    io::Error::new(e.kind(), what)
}
