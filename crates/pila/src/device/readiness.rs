//! How an event loop that polls, instead of blocking in [`WaitDevice::wait`], learns that a
//! device may have frames: [`WaitDevice::readiness`].
//!
//! [`WaitDevice::wait`]: super::WaitDevice::wait
//! [`WaitDevice::readiness`]: super::WaitDevice::readiness

use core::fmt;
use core::task::{Context, Poll, Waker};
#[cfg(unix)]
use std::fs::File;
#[cfg(unix)]
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
#[cfg(unix)]
use std::sync::atomic::{AtomicBool, Ordering};

/// How an event loop that polls, instead of blocking in [`WaitDevice::wait`], learns that
/// a device may have frames to [`receive`](super::Device::receive).
///
/// Whatever the source, the loop still calls [`receive`](super::Device::receive) by
/// [`poll_at`](super::Device::poll_at) for frames a device holds back (a delayed link).
///
/// [`WaitDevice::wait`]: super::WaitDevice::wait
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Readiness {
    /// Only [`WaitDevice::wait`](super::WaitDevice::wait) can tell: an event loop runs the
    /// device on a thread of its own.
    Wait,
    /// Frames come from a non-blocking file descriptor (TAP, TUN): wait for it to be
    /// readable.
    #[cfg(unix)]
    Fd(FdReadiness),
    /// The device raises a signal when frames are sent toward it (the in-memory wire).
    Signal(ReadySignal),
}

/// The file descriptor a device receives from, and whether its last receive read it dry.
///
/// An event loop that keeps its own readiness for the descriptor (epoll, tokio's `AsyncFd`)
/// must clear it only when a read has failed with `EAGAIN`, never on a guess: a frame that
/// arrived between the last read and the clearing would otherwise sleep unseen. A batch that
/// comes back short does not say that (a wrapper may hold or drop frames), so the device
/// raises [`drained`](Self::take_drained) itself when its read would block.
///
/// It shares the descriptor's ownership, so an event loop holding it never watches a closed
/// (or reused) descriptor.
#[cfg(unix)]
#[derive(Clone, Debug)]
pub struct FdReadiness {
    file: Arc<File>,
    drained: Arc<AtomicBool>,
}

#[cfg(unix)]
impl FdReadiness {
    /// The readiness of the non-blocking descriptor `file`, which the device reads from.
    pub fn new(file: Arc<File>) -> Self {
        Self { file, drained: Arc::new(AtomicBool::new(false)) }
    }

    /// The descriptor to wait on.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Records whether a read from the descriptor just failed with `EAGAIN` (`true`) or
    /// stopped with frames possibly left (`false`). The device calls it on every receive.
    pub fn set_drained(&self, drained: bool) {
        self.drained.store(drained, Ordering::Release);
    }

    /// Whether the last receive read the descriptor dry; resets the flag.
    pub fn take_drained(&self) -> bool {
        self.drained.swap(false, Ordering::AcqRel)
    }

    /// Registers the descriptor for read readiness with the current tokio runtime's reactor.
    #[cfg(feature = "tokio")]
    #[allow(unsafe_code)]
    pub(crate) fn register(&self) -> std::io::Result<tokio::io::unix::AsyncFd<Arc<File>>> {
        let file = Arc::clone(&self.file);
        // SAFETY: the `AsyncFd` owns a clone of the `Arc`, which keeps the `File` — and so
        // its descriptor — open until the `AsyncFd` is dropped, and a `File`'s `as_raw_fd`
        // returns the same descriptor for as long as it lives.
        let registered = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(file, tokio::io::Interest::READABLE)
        };
        registered.map_err(std::io::Error::from)
    }
}

/// A device's "frames may be ready" flag, with room for one [`Waker`].
///
/// Cheap to clone; every clone polls the same flag.
#[derive(Clone)]
pub struct ReadySignal {
    poll: Arc<dyn Fn(&Waker) -> bool + Send + Sync>,
}

impl ReadySignal {
    /// A signal read by `poll`, which returns `true` when frames may be ready (or the
    /// device's [`DeviceWaker`](super::DeviceWaker) fired since the last look) and otherwise
    /// keeps the waker it is given and wakes it when that changes.
    pub fn new(poll: impl Fn(&Waker) -> bool + Send + Sync + 'static) -> Self {
        Self { poll: Arc::new(poll) }
    }

    /// `Ready` when frames may be ready; otherwise `Pending`, and `cx` is woken when they
    /// may be.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if (self.poll)(cx.waker()) { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl fmt::Debug for ReadySignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadySignal").finish_non_exhaustive()
    }
}
