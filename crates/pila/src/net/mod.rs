//! The blocking, `std::net`-shaped API: a driver thread runs a [`stack::Stack`] on a real
//! device and the real clock, and sockets that block like the kernel's.
//!
//! ```
//! use pila::device::{VirtualWire, WireConfig};
//! use pila::net::{Stack, TcpListener, TcpStream};
//! use std::io::{Read, Write};
//!
//! let (a, b) = VirtualWire::pair(WireConfig::default());
//! let host_a = Stack::builder().device(a).address("192.0.2.1/24").build()?;
//! let host_b = Stack::builder().device(b).address("192.0.2.2/24").build()?;
//! let listener = TcpListener::bind(&host_b, "192.0.2.2:7")?;
//! let mut client = TcpStream::connect(&host_a, "192.0.2.2:7")?;
//! let (mut server, _peer) = listener.accept()?;
//! client.write_all(b"hello")?;
//! let mut buf = [0; 5];
//! server.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How it runs
//! [`StackBuilder::build`] starts one driver thread per stack. The Sans-IO stack is shared
//! with the socket handles behind one mutex. A *turn* receives a batch of frames and hands
//! them to the stack, runs the timers that are due, writes a batch of frames and transmits
//! it, and wakes the sockets whose state changed. The driver takes a turn, then sleeps on the
//! device until a frame comes, the next timer is due or an application call gives it work.
//!
//! When the device can be waited on without being held ([`crate::device::WaitDevice::sleeper`]:
//! the in-memory wire, TAP and TUN), the application's threads take turns too, with no
//! hand-off to the driver thread:
//! * a call that gives the stack work (`write`, `connect`, a close) takes a turn before it
//!   returns, so its segments are on the device by then (if another thread is mid-turn,
//!   the call does not wait: that thread takes one more turn for it as it lets go);
//! * a call that blocks (`accept`, `read`, `write` on a full buffer, `connect`, `recv_from`,
//!   `ping`) first polls for up to 50 µs, taking turns itself, and then sleeps on its
//!   socket's own condition variable, to be woken only for that socket.
//!
//! The driver thread keeps the timers and the frames that come while nobody polls. A
//! request and its response on one connection then cost no thread wake-up at all. Any other
//! device is driven by the driver thread alone.
//!
//! Another thread ends a blocked call by shutting its socket down, as on Linux:
//! [`TcpStream::shutdown`] wakes a blocked `read` (end-of-file, `Shutdown::Read`) or `write`
//! ([`io::ErrorKind::BrokenPipe`], `Shutdown::Write`), and [`TcpListener::shutdown`] a
//! blocked `accept` ([`io::ErrorKind::InvalidInput`]). [`TcpStream::wait_closed`] sleeps
//! until a connection is over, our FIN acknowledged.
//!
//! Errors are [`std::io::Error`]s with the kinds `std::net` uses. A read or write timeout
//! (`set_read_timeout`) ends the call with [`io::ErrorKind::WouldBlock`], as on Linux;
//! `connect_timeout` and `ping` fail with [`io::ErrorKind::TimedOut`].
//!
//! Dropping a [`TcpStream`] closes it as Linux does: FIN after the queued data, or RST when
//! received data was never read. The driver stops, and its thread is joined, when the last
//! [`Stack`] handle and the last socket made from it are dropped.

mod tcp;
mod udp;

pub use crate::runtime::clock_epoch;
pub use crate::stack::{Counters, Event, EventKind};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use crate::device::WaitDevice;
use crate::runtime::Handle;
use crate::runtime::shared::Shared;
use crate::runtime::socket::Ping;
use crate::stack;
use crate::wire::{Ipv4Addr, ethernet};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::sync::{Arc, mpsc};

/// A running stack: the handle the sockets are made from. Cheap to clone; every clone and
/// every socket keeps the driver alive.
#[derive(Clone, Debug)]
pub struct Stack {
    handle: Arc<Handle>,
}

/// A last adjustment of the whole stack configuration ([`StackBuilder::configure`]).
type Configure = Box<dyn FnOnce(&mut stack::Config)>;

/// Builds a [`Stack`]: a device, at least one address, and optional settings.
pub struct StackBuilder {
    device: Option<Box<dyn WaitDevice>>,
    addresses: Vec<String>,
    gateway: Option<Ipv4Addr>,
    mtu: Option<usize>,
    mac: Option<ethernet::Address>,
    seed: Option<u64>,
    send_buffer: Option<usize>,
    recv_buffer: Option<usize>,
    tcp: Option<crate::tcp::Config>,
    trace: bool,
    configure: Option<Configure>,
}

/// The events of a [`Stack`] ([`Stack::events`]), in the order they happened.
///
/// Iterating blocks for the next event and ends when the stack shuts down. The stream holds
/// a bounded number of events not yet read; what comes while it is full is left out and
/// counted ([`missed`](Self::missed)).
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
    missed: Arc<std::sync::atomic::AtomicU64>,
}

/// A stream of trace records of the stack's traced connections ([`Stack::traces`]): each
/// segment, RTT sample, timer, congestion change and loss, with the connection's addresses
/// ([`crate::tcp::trace`]).
///
/// Iterating blocks for the next record and ends when the stack shuts down. Like
/// [`Events`], it holds a bounded number of records not yet read and counts what it had
/// no room for ([`missed`](Self::missed)).
#[derive(Debug)]
pub struct Traces {
    rx: mpsc::Receiver<stack::TraceRecord>,
    missed: Arc<std::sync::atomic::AtomicU64>,
}

impl Traces {
    /// How many unread records a stream holds unless asked otherwise.
    pub const DEFAULT_CAPACITY: usize = 1 << 16;

    /// How many records this stream left out because it was full.
    pub fn missed(&self) -> u64 {
        self.missed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The next record, waiting up to `timeout`.
    pub fn next_timeout(&self, timeout: std::time::Duration) -> Option<stack::TraceRecord> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Every record already there, without blocking.
    pub fn try_iter(&self) -> impl Iterator<Item = stack::TraceRecord> + '_ {
        self.rx.try_iter()
    }
}

impl Iterator for Traces {
    type Item = stack::TraceRecord;

    fn next(&mut self) -> Option<stack::TraceRecord> {
        self.rx.recv().ok()
    }
}

impl Stack {
    /// A stream of the trace records of every traced connection, from now on: turn traces
    /// on with [`StackBuilder::trace`] (or [`crate::tcp::Config::trace`]). Each call makes
    /// a new, independent stream; records nobody takes are dropped.
    pub fn traces(&self) -> Traces {
        let (rx, missed) = self.shared().subscribe_traces(Traces::DEFAULT_CAPACITY);
        Traces { rx, missed }
    }

    /// A builder: give it a device and an address, then [`build`](StackBuilder::build).
    pub fn builder() -> StackBuilder {
        StackBuilder {
            device: None,
            addresses: Vec::new(),
            gateway: None,
            mtu: None,
            mac: None,
            seed: None,
            send_buffer: None,
            recv_buffer: None,
            tcp: None,
            trace: false,
            configure: None,
        }
    }

    /// Sends an ICMP (or ICMPv6) echo request to `addr` and waits up to `timeout` for the
    /// reply; returns the round-trip time. Fails with [`io::ErrorKind::TimedOut`] when no
    /// reply comes.
    pub fn ping(
        &self,
        addr: impl Into<core::net::IpAddr>,
        timeout: std::time::Duration,
    ) -> io::Result<std::time::Duration> {
        self.ping_with_size(addr, Ping::DEFAULT_SIZE, timeout)
    }

    /// [`ping`](Self::ping) with `size` bytes of payload instead of 56 (ping(8)'s `-s`):
    /// larger than the MTU, the request and its reply go in fragments.
    pub fn ping_with_size(
        &self,
        addr: impl Into<core::net::IpAddr>,
        size: usize,
        timeout: std::time::Duration,
    ) -> io::Result<std::time::Duration> {
        let shared = self.shared();
        let ping = Ping::send(shared, addr.into(), size)?;
        let deadline = std::time::Instant::now() + timeout;
        shared
            .block_on(
                crate::runtime::shared::Wait::PING,
                false,
                Some(deadline),
                io::ErrorKind::TimedOut,
                |state| ping.try_reply(state),
            )
            .map_err(
                |e| if e.kind() == io::ErrorKind::TimedOut { ping.timed_out(timeout) } else { e },
            )
    }

    /// A snapshot of the stack's counters, `netstat -s` style.
    pub fn counters(&self) -> Counters {
        self.shared().lock().stack.counters().clone()
    }

    /// What the stack holds now against its memory budget
    /// ([`stack::Config::memory_limit`]).
    pub fn memory(&self) -> stack::MemoryUse {
        self.shared().lock().stack.memory()
    }

    /// A stream of the stack's events (established, refused, reset, timed out, closed), from
    /// now on. Each call makes a new, independent stream, which holds up to 16,384 events
    /// not yet read ([`events_with_capacity`](Self::events_with_capacity)).
    pub fn events(&self) -> Events {
        self.events_with_capacity(Events::DEFAULT_CAPACITY)
    }

    /// A stream of the stack's events that holds at most `capacity` events not yet read
    /// (at least one). When it is full, newer events are left out and counted in
    /// [`Events::missed`]: a stream nobody reads costs bounded memory, however many SYNs
    /// reach closed ports.
    pub fn events_with_capacity(&self, capacity: usize) -> Events {
        let (rx, missed) = self.shared().subscribe(capacity.max(1));
        Events { rx, missed }
    }

    /// Transparent mode: answers pings to the intercepted destinations inside `prefixes`
    /// (all of them if empty) as if they were the stack's own; `None` stops it
    /// ([`stack::Stack::icmp_intercept_echo`]).
    pub fn answer_intercepted_pings(&self, prefixes: Option<Vec<stack::IpCidr>>) {
        self.shared().lock().stack.icmp_intercept_echo(prefixes);
    }

    /// The stack's first IPv4 address.
    pub fn address(&self) -> Ipv4Addr {
        self.shared().address
    }

    /// The stack's IPv6 addresses that are ready for use (through duplicate address
    /// detection), its link-local one first; empty with IPv6 off.
    pub fn ipv6_addresses(&self) -> Vec<core::net::Ipv6Addr> {
        self.shared().lock().stack.ipv6_addresses()
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    pub(crate) const fn handle(&self) -> &Arc<Handle> {
        &self.handle
    }
}

impl StackBuilder {
    /// The device the stack runs on (required).
    #[must_use]
    pub fn device(mut self, device: impl WaitDevice + 'static) -> Self {
        self.device = Some(Box::new(device));
        self
    }

    /// Adds an address with its prefix: an IPv4 one like `"192.0.2.1/24"` (at least one is
    /// required), or an IPv6 one like `"2001:db8::2/64"`, which turns IPv6 on with the
    /// interface's link-local address beside it ([`stack::Ipv6Config`]).
    #[must_use]
    pub fn address(mut self, cidr: impl Into<String>) -> Self {
        self.addresses.push(cidr.into());
        self
    }

    /// The default gateway.
    #[must_use]
    pub const fn gateway(mut self, gateway: Ipv4Addr) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// The IP MTU (default: the device's).
    #[must_use]
    pub const fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// The MAC address (default: `02:00` followed by the first IPv4 address, which is
    /// locally administered and unique among hosts with different addresses).
    #[must_use]
    pub const fn mac(mut self, mac: ethernet::Address) -> Self {
        self.mac = Some(mac);
        self
    }

    /// The seed of the stack's random choices (default: fresh from the operating system).
    /// The seed keys initial sequence numbers and port choice: keep it secret in production.
    #[must_use]
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The largest send buffer of a TCP connection, in bytes.
    #[must_use]
    pub const fn send_buffer(mut self, bytes: usize) -> Self {
        self.send_buffer = Some(bytes);
        self
    }

    /// The largest receive buffer of a TCP connection, in bytes.
    #[must_use]
    pub const fn recv_buffer(mut self, bytes: usize) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// The TCP settings of every connection (buffer sizes set on the builder win).
    #[must_use]
    pub fn tcp_config(mut self, config: crate::tcp::Config) -> Self {
        self.tcp = Some(config);
        self
    }

    /// Traces every connection ([`crate::tcp::trace`]); [`Stack::traces`] hands the
    /// records out.
    #[must_use]
    pub const fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// A last say over the whole [`stack::Config`], after the builder has filled it in.
    #[must_use]
    pub fn configure(mut self, f: impl FnOnce(&mut stack::Config) + 'static) -> Self {
        self.configure = Some(Box::new(f));
        self
    }

    /// Starts the stack: checks the settings, then spawns its driver thread.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when the device or an address is missing
    /// or a setting is out of range.
    pub fn build(self) -> io::Result<Stack> {
        let (stack, device, address) = self.prepare()?;
        Ok(Stack { handle: Arc::new(crate::runtime::start_thread(stack, device, address)?) })
    }

    /// Starts the stack with its driver as a task on the current tokio runtime instead of a
    /// thread of its own (feature `tokio`; see [`crate::tokio`]). A TAP or TUN descriptor
    /// is watched through tokio's `AsyncFd`, the in-memory wire through its ready signal, and
    /// the timers through tokio's timer. A device that can only be waited on from a thread
    /// ([`crate::device::Readiness::Wait`]) gets a driver thread, as [`build`](Self::build)
    /// gives it.
    ///
    /// Call it from within a runtime that has IO and time enabled (`#[tokio::main]` does);
    /// the driver lives as long as that runtime. Blocking [`pila::net`](crate::net) calls on
    /// such a stack must not be made on the runtime's own threads: they would hold up the
    /// driver they wait for.
    ///
    /// When the last handle and socket are dropped the driver sends what is queued and ends,
    /// on its runtime. A drop made outside any runtime waits for that (2 s at most), which
    /// needs the runtime's threads running: a current-thread runtime outside `block_on`
    /// runs nothing, so drop the stack inside it. A runtime that stops first takes the
    /// driver with it; to be sure the peer has everything, shut a connection down and await
    /// [`closed`](crate::tokio::TcpStream::closed) before the runtime ends.
    ///
    /// Fails like [`build`](Self::build), and with [`io::ErrorKind::Other`] outside a
    /// runtime.
    #[cfg(feature = "tokio")]
    pub fn build_tokio(self) -> io::Result<Stack> {
        let (stack, device, address) = self.prepare()?;
        Ok(Stack { handle: Arc::new(crate::runtime::task::start(stack, device, address)?) })
    }

    /// Checks the settings and makes the Sans-IO stack they describe.
    fn prepare(self) -> io::Result<(stack::Stack, Box<dyn WaitDevice>, Ipv4Addr)> {
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        let device = self.device.ok_or_else(|| invalid("no device: call .device(..)".into()))?;
        let mut addresses = Vec::new();
        let mut addresses6 = Vec::new();
        for text in &self.addresses {
            if let Ok(cidr) = text.parse::<stack::Ipv4Cidr>() {
                addresses.push(cidr);
            } else if let Ok(cidr) = text.parse::<stack::Ipv6Cidr>() {
                addresses6.push(cidr);
            } else {
                return Err(invalid(format!(
                    "bad address {text:?}: expected an address and prefix, like 192.0.2.1/24 \
                     or 2001:db8::1/64"
                )));
            }
        }
        let first = addresses
            .first()
            .map(|c| c.addr)
            .ok_or_else(|| invalid("no address: call .address(\"192.0.2.1/24\")".into()))?;
        let caps = device.capabilities();
        let [o1, o2, o3, o4] = first.octets();
        let mut config = stack::Config {
            medium: caps.medium,
            checksums: caps.checksums,
            offloads: caps.offloads,
            mtu: self.mtu.unwrap_or(caps.mtu).min(caps.mtu),
            mac: self.mac.unwrap_or(ethernet::Address([0x02, 0x00, o1, o2, o3, o4])),
            addresses,
            gateway: self.gateway,
            seed: Some(self.seed.unwrap_or_else(random_seed)),
            ipv6: (!addresses6.is_empty())
                .then(|| stack::Ipv6Config { addresses: addresses6, ..Default::default() }),
            ..stack::Config::default()
        };
        if let Some(tcp) = self.tcp {
            config.tcp = tcp;
        }
        if let Some(bytes) = self.send_buffer {
            config.tcp.send_buffer = bytes;
        }
        if let Some(bytes) = self.recv_buffer {
            config.tcp.recv_buffer = bytes;
        }
        config.tcp.trace |= self.trace;
        if let Some(f) = self.configure {
            f(&mut config);
        }
        let stack = stack::Stack::new(config).map_err(|e| invalid(e.to_string()))?;
        Ok((stack, device, first))
    }
}

impl core::fmt::Debug for StackBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StackBuilder")
            .field("addresses", &self.addresses)
            .field("gateway", &self.gateway)
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// How many unread events a stream holds unless asked otherwise.
    pub const DEFAULT_CAPACITY: usize = 16_384;

    /// How many events this stream left out because it was full.
    pub fn missed(&self) -> u64 {
        self.missed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The next event if one has happened, without blocking.
    pub fn try_next(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// The next event, waiting up to `timeout`.
    pub fn next_timeout(&self, timeout: std::time::Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Every event that has already happened, without blocking.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.rx.try_iter()
    }
}

impl Iterator for Events {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.rx.recv().ok()
    }
}

/// 64 bits from the operating system's randomness, through std's randomly keyed hasher.
fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// The deadline `timeout` after now, if any.
fn deadline_after(timeout: Option<std::time::Duration>) -> Option<std::time::Instant> {
    timeout.map(|t| std::time::Instant::now() + t)
}

/// std's rule for timeouts: `Some(zero)` is an error.
fn check_timeout(timeout: Option<std::time::Duration>) -> io::Result<()> {
    if timeout == Some(std::time::Duration::ZERO) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a zero timeout is not allowed"));
    }
    Ok(())
}

/// A socket's blocking settings, changed through `&self` as in `std::net`.
#[derive(Debug, Default)]
struct SocketOptions {
    nonblocking: std::sync::atomic::AtomicBool,
    /// Microseconds; zero means none (a zero timeout cannot be set).
    read_timeout: std::sync::atomic::AtomicU64,
    /// Microseconds; zero means none.
    write_timeout: std::sync::atomic::AtomicU64,
}

impl SocketOptions {
    fn nonblocking(&self) -> bool {
        self.nonblocking.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn read_timeout(&self) -> Option<std::time::Duration> {
        Self::load(&self.read_timeout)
    }

    fn write_timeout(&self) -> Option<std::time::Duration> {
        Self::load(&self.write_timeout)
    }

    fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        Self::store(&self.read_timeout, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        Self::store(&self.write_timeout, timeout)
    }

    fn load(cell: &std::sync::atomic::AtomicU64) -> Option<std::time::Duration> {
        match cell.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            micros => Some(std::time::Duration::from_micros(micros)),
        }
    }

    fn store(
        cell: &std::sync::atomic::AtomicU64,
        timeout: Option<std::time::Duration>,
    ) -> io::Result<()> {
        check_timeout(timeout)?;
        // Below a microsecond still means "a timeout": round up to one.
        let micros = timeout.map_or(0, |t| u64::try_from(t.as_micros()).unwrap_or(u64::MAX).max(1));
        cell.store(micros, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}
