//! The runtime under both socket front ends: a driver that runs one [`stack::Stack`] on a
//! real device and the real clock, and the socket plumbing `pila::net` and `pila::tokio`
//! are both made of.
//!
//! * `shared`: the stack behind one lock, each socket's waiters (condition variables and
//!   wakers), the driver's kick, the event streams.
//! * `socket`: what each socket keeps and each call's attempt, written once for both front
//!   ends.
//! * `engine`: one turn of a driver (frames in, timers, frames out, wake-ups), and the
//!   driver that runs it on a thread of its own.
//! * `task` (feature `tokio`): the driver as a tokio task, the device's descriptor watched
//!   through `AsyncFd`.

mod engine;
pub(crate) mod shared;
pub(crate) mod socket;
#[cfg(feature = "tokio")]
pub(crate) mod task;

use engine::Io;
pub(crate) use engine::spawn_thread;

use crate::stack::{self, Event};
use crate::time::Instant;
use shared::Shared;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

/// The instant every driver in this process measures its clock from.
///
/// All stacks share it, so two stacks on one in-memory wire agree on what its delays mean;
/// a capture made with [`crate::device::Pcap`] can turn it into wall-clock time.
pub fn clock_epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// The drivers' clock now.
pub(crate) fn now() -> Instant {
    Instant::from_std(std::time::Instant::now(), clock_epoch())
}

/// One running stack: its shared state and its driver. Every `Stack` handle and every
/// socket holds it; the last one to go stops the driver, which first sends what is queued.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    driver: Driver,
}

/// How a [`Handle`] waits for its driver to stop.
pub(crate) enum Driver {
    /// A thread, joined.
    Thread(Option<JoinHandle<()>>),
    /// A task, which says when it has ended (or was dropped with its runtime).
    #[cfg(feature = "tokio")]
    Task(Arc<task::Ended>),
}

impl Handle {
    pub(crate) const fn new(shared: Arc<Shared>, driver: Driver) -> Self {
        Self { shared, driver }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shut_down();
        match &mut self.driver {
            Driver::Thread(thread) => {
                if let Some(thread) = thread.take() {
                    // A panicking driver has already reported itself; there is nothing to add.
                    let _ = thread.join();
                }
            }
            #[cfg(feature = "tokio")]
            Driver::Task(ended) => ended.wait_outside_runtime(),
        }
    }
}

impl core::fmt::Debug for Handle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stack").field("address", &self.shared.address).finish_non_exhaustive()
    }
}

/// The socket addresses `addr` names, or `InvalidInput` if it names none.
pub(crate) fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no address to use"));
    }
    Ok(addrs)
}

/// The first socket address `addr` names.
pub(crate) fn resolve_one(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    resolve(addr)?.into_iter().next().ok_or_else(|| io::ErrorKind::InvalidInput.into())
}

/// Tries `f` on each address `addr` names, in order, until one succeeds; otherwise the
/// last failure (`InvalidInput` if `addr` names none).
pub(crate) fn try_each<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in resolve(addr)? {
        match f(addr) {
            Ok(done) => return Ok(done),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::ErrorKind::InvalidInput.into()))
}

/// A core TCP failure as the `std::io` kind `std::net` reports for it.
pub(crate) fn tcp_error(e: crate::tcp::Error) -> io::Error {
    use crate::tcp::Error;
    let kind = match e {
        Error::Refused => io::ErrorKind::ConnectionRefused,
        Error::Reset => io::ErrorKind::ConnectionReset,
        Error::TimedOut => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::ConnectionAborted,
    };
    io::Error::new(kind, e)
}

/// Starts the driver thread for `stack` on `device`.
pub(crate) fn start_thread(
    stack: stack::Stack,
    device: Box<dyn crate::device::WaitDevice>,
    address: crate::wire::Ipv4Addr,
) -> io::Result<Handle> {
    let kick = device.waker();
    let shared = Arc::new(Shared::new(stack, address, kick, Some(Io::new(device))));
    let thread = spawn_thread(Arc::clone(&shared))?;
    Ok(Handle::new(shared, Driver::Thread(Some(thread))))
}
