//! [`Net`]: two [`Stack`]s on the two ends of a [`VirtualWire`], driven on a
//! [`VirtualClock`] that jumps from one deadline to the next.

use core::fmt;

use crate::device::{
    Device, Endpoint, FrameBatch, Impairments, LinkStats, VirtualWire, WireConfig,
};
use crate::stack::{self, ConfigError, Stack};
use crate::time::{Duration, Instant, VirtualClock};

/// One of the two hosts of a [`Net`] (and of a [`TcpPair`](super::TcpPair)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Host A, on endpoint A of the wire; in a [`TcpPair`](super::TcpPair), the end that
    /// connects.
    Client,
    /// Host B, on endpoint B of the wire; in a [`TcpPair`](super::TcpPair), the end that
    /// listens.
    Server,
}

impl Side {
    /// Both sides, A first.
    pub const BOTH: [Self; 2] = [Self::Client, Self::Server];

    /// The other end.
    pub const fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Client => 0,
            Self::Server => 1,
        }
    }
}

/// Counters of one host's frames: what the harness handed to the wire and took from it,
/// and, from the stack's own counters ([`Stack::counters`]), what the stack dropped on
/// arrival and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// Frames handed to the wire.
    pub frames_sent: u64,
    /// Frames taken from the wire.
    pub frames_received: u64,
    /// TCP segments the stack took in with good checksums (`tcp_in_segs`), whichever
    /// connection or listener they were for.
    pub segments_delivered: u64,
    /// Frames dropped because an IPv4 or TCP checksum failed (a corrupted frame):
    /// `ip_in_csum_errors + tcp_in_csum_errors`.
    pub bad_checksum: u64,
    /// Frames dropped because an IP, ICMPv6 or TCP header did not parse (bad length,
    /// version, option...) or, for ICMPv6, its checksum failed: the rest of
    /// `ip_in_hdr_errors` and `tcp_in_errs`, `ip6_in_hdr_errors`, `icmp6_in_errors`.
    pub malformed: u64,
    /// Frames dropped because they were not for this host: another MAC or ethertype, or a
    /// malformed link header (`eth_dropped`), another IP address (`ip_in_addr_errors`,
    /// `ip6_in_addr_errors`), a protocol it does not speak (`ip_in_unknown_protos`,
    /// `ip6_in_unknown_protos`).
    pub not_ours: u64,
    /// Frames the wire refused because its queue was full (tail drop at our sender).
    pub queue_full: u64,
}

impl HostStats {
    /// Every frame this host dropped on arrival.
    pub const fn dropped(&self) -> u64 {
        self.bad_checksum + self.malformed + self.not_ours
    }
}

/// A frame a host sent, recorded while capture is on ([`Net::set_capture`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentFrame {
    /// The host that sent it.
    pub from: Side,
    /// When it left the stack.
    pub at: Instant,
    /// The whole frame, as the stack wrote it (before the wire's impairments).
    pub frame: Vec<u8>,
}

/// What a frame filter ([`Net::set_filter`]) does with a frame a host sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The frame goes on the wire.
    Pass,
    /// The frame is dropped before the wire (it is not counted as sent).
    Drop,
    /// The frame is dropped, and this frame is delivered to the sender instead, at once:
    /// what a router between the hosts answers (an ICMP error, say).
    Reply(Vec<u8>),
}

/// A frame filter: sees every frame a host sends, before the wire.
type Filter = Box<dyn FnMut(Side, &[u8]) -> Verdict>;

/// Why [`Net::run_until`] (or [`TcpPair::run_until`](super::TcpPair::run_until)) stopped
/// before its condition held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The time limit passed (the clock is left at the limit).
    TimeLimit(Instant),
    /// Nothing is left to happen since this instant: no timer is armed and no frame is in
    /// flight (the clock is left at the limit).
    Idle(Instant),
    /// The clock stopped moving: something kept happening at this instant.
    Livelock(Instant),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimeLimit(t) => write!(f, "time limit reached at {t}"),
            Self::Idle(t) => write!(f, "nothing left to happen at {t}"),
            Self::Livelock(t) => write!(f, "the clock stopped moving at {t}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Steps without the clock moving before [`RunError::Livelock`].
const MAX_SPINS: u32 = 100_000;
/// The buffer a stack writes a frame into: the largest IP packet, an Ethernet header and a
/// virtio-net header.
const FRAME_BUF: usize = 65_535 + 18 + crate::wire::virtio::HEADER_LEN;

/// One host: its stack, its end of the wire and the harness's counts of its frames.
#[derive(Debug)]
struct Host {
    stack: Stack,
    device: Endpoint,
    sent: u64,
    received: u64,
    refused: u64,
}

/// Two [`Stack`]s on the two ends of a [`VirtualWire`], on a virtual clock.
///
/// Each step delivers the frames due now, one at a time, sending what each one calls for
/// before the next (as a host that handles a packet per interrupt does: a receiver then
/// ACKs every second segment even when a whole window arrives at once); runs the timers
/// due now; lets the caller act (the `done` closure of [`Net::run_until`]); sends what the
/// stacks have; and jumps the clock to the earliest deadline — a stack's
/// [`Stack::poll_timeout`] or the wire's next arrival. An hour of protocol time costs only
/// the work done in it, and a run is reproduced by the seeds of the stacks and the wire.
///
/// The harness can record every frame sent ([`Net::set_capture`]), put a filter between
/// the hosts and the wire that drops or answers frames ([`Net::set_filter`]), and feed a
/// forged frame straight into a stack ([`Net::inject`]). [`TcpPair`](super::TcpPair)
/// is built on it.
///
/// ```
/// use pila::device::WireConfig;
/// use pila::sim::Net;
/// use pila::stack::Config;
/// use pila::time::Duration;
/// use pila::wire::ethernet;
///
/// let host = |cidr: &str, mac: u8| Config {
///     mac: ethernet::Address([0x02, 0, 0, 0, 0, mac]),
///     addresses: vec![cidr.parse().unwrap()],
///     seed: Some(u64::from(mac)),
///     ..Config::default()
/// };
/// let (a, b) = (host("192.0.2.1/24", 1), host("192.0.2.2/24", 2));
/// let mut net = Net::new(a, b, WireConfig::default()).unwrap();
/// let server = "192.0.2.2:80".parse().unwrap();
/// let listener = net.b().tcp_listen(server, 8).unwrap();
/// let now = net.now();
/// net.a().tcp_connect(now, server, None).unwrap();
/// let mut accepted = None;
/// net.run_until(
///     |n| {
///         accepted = accepted.or_else(|| n.b().tcp_accept(listener).ok());
///         accepted.is_some()
///     },
///     Duration::from_secs(1),
/// )
/// .unwrap();
/// // A asked for B's MAC address first: these stacks were given no static neighbours.
/// assert_eq!(net.a().counters().arp_requests_sent, 1);
/// ```
pub struct Net {
    clock: VirtualClock,
    hosts: [Host; 2],
    /// The frames recorded, while capturing.
    pub(super) capture: Option<Vec<SentFrame>>,
    filter: Option<Filter>,
    /// Frames a filter answered, for each host's next input.
    replies: [Vec<Vec<u8>>; 2],
    rx: FrameBatch,
    tx: FrameBatch,
    buf: Vec<u8>,
    /// The trace records both stacks gave, while recording them.
    traces: Option<Vec<(Side, stack::TraceRecord)>>,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("now", &self.clock.now())
            .field("hosts", &self.hosts)
            .field("capturing", &self.capture.is_some())
            .field("filtered", &self.filter.is_some())
            .finish_non_exhaustive()
    }
}

impl Net {
    /// Host A configured by `a` on endpoint A of a wire built by `wire`, host B by `b` on
    /// endpoint B, at time zero.
    ///
    /// # Errors
    ///
    /// What [`Stack::new`] refuses in `a` or `b`.
    ///
    /// # Panics
    ///
    /// If a stack's medium is not the wire's.
    pub fn new(a: stack::Config, b: stack::Config, wire: WireConfig) -> Result<Self, ConfigError> {
        assert!(
            a.medium == wire.medium && b.medium == wire.medium,
            "both stacks must speak the wire's medium ({:?})",
            wire.medium
        );
        let (ea, eb) = VirtualWire::pair(wire);
        let burst = ea.capabilities().max_burst.max(1);
        let host = |config, device| -> Result<Host, ConfigError> {
            Ok(Host { stack: Stack::new(config)?, device, sent: 0, received: 0, refused: 0 })
        };
        Ok(Self {
            clock: VirtualClock::new(),
            hosts: [host(a, ea)?, host(b, eb)?],
            capture: None,
            filter: None,
            replies: [Vec::new(), Vec::new()],
            rx: FrameBatch::new(burst),
            tx: FrameBatch::new(burst),
            buf: vec![0; FRAME_BUF],
            traces: None,
        })
    }

    /// Starts (or stops, dropping what was kept) keeping the trace records both stacks
    /// give, every step, so that no stack's queue of them fills. Which connections are
    /// traced is up to their configuration ([`tcp::Config::trace`](crate::tcp::Config))
    /// or [`TcpSocket::set_trace`](crate::stack::TcpSocket::set_trace).
    pub fn set_trace_recording(&mut self, on: bool) {
        self.traces = on.then(Vec::new);
    }

    /// The trace records kept so far, with the host that gave each, oldest first.
    pub fn trace_records(&self) -> &[(Side, stack::TraceRecord)] {
        self.traces.as_deref().unwrap_or_default()
    }

    /// Writes the trace records kept so far as JSON lines, the format `pila plot` reads
    /// ([`tcp::trace`](crate::tcp::trace) gives the schema).
    ///
    /// # Errors
    ///
    /// What writing to `out` returns.
    pub fn write_trace(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        for (_, record) in self.trace_records() {
            writeln!(out, "{}", record.to_json())?;
        }
        Ok(())
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The stack at `side`.
    pub fn stack(&self, side: Side) -> &Stack {
        &self.hosts[side.index()].stack
    }

    /// The stack at `side`, to open sockets and act as their applications. What a call
    /// makes the stack send goes out on the next step.
    pub fn stack_mut(&mut self, side: Side) -> &mut Stack {
        &mut self.hosts[side.index()].stack
    }

    /// Host A's stack ([`Side::Client`]).
    pub fn a(&mut self) -> &mut Stack {
        self.stack_mut(Side::Client)
    }

    /// Host B's stack ([`Side::Server`]).
    pub fn b(&mut self) -> &mut Stack {
        self.stack_mut(Side::Server)
    }

    /// The frame counters of the host at `side`.
    pub fn host_stats(&self, side: Side) -> HostStats {
        let host = &self.hosts[side.index()];
        let c = host.stack.counters();
        let csum = c.ip_in_csum_errors + c.tcp_in_csum_errors;
        HostStats {
            frames_sent: host.sent,
            frames_received: host.received,
            segments_delivered: c.tcp_in_segs,
            bad_checksum: csum,
            malformed: c.ip_in_hdr_errors + c.tcp_in_errs - csum
                + c.ip6_in_hdr_errors
                + c.icmp6_in_errors,
            not_ours: c.eth_dropped
                + c.ip_in_addr_errors
                + c.ip_in_unknown_protos
                + c.ip6_in_addr_errors
                + c.ip6_in_unknown_protos,
            queue_full: host.refused,
        }
    }

    /// The counters of the link `side` transmits on.
    pub fn link_stats(&self, side: Side) -> LinkStats {
        self.hosts[side.index()].device.stats()
    }

    /// Changes the impairments of the link `side` transmits on, from now on (a loss of 1
    /// cuts it). The link's random stream carries on.
    pub fn set_impairments(&mut self, side: Side, impairments: Impairments) {
        let device = &self.hosts[side.index()].device;
        let seed = device.impairments().seed;
        device.set_impairments(Impairments { seed, ..impairments });
    }

    /// Starts recording every frame both hosts send (forgetting what was recorded), or
    /// stops and forgets.
    pub fn set_capture(&mut self, on: bool) {
        self.capture = on.then(Vec::new);
    }

    /// The frames recorded since capture started, oldest first.
    pub fn captured(&self) -> &[SentFrame] {
        self.capture.as_deref().unwrap_or_default()
    }

    /// Forgets the frames recorded so far; capture goes on.
    pub fn clear_captured(&mut self) {
        if let Some(c) = self.capture.as_mut() {
            c.clear();
        }
    }

    /// Puts `filter` between both hosts and the wire: it sees every frame a host sends
    /// (after capture) and passes, drops or answers it.
    pub fn set_filter(&mut self, filter: impl FnMut(Side, &[u8]) -> Verdict + 'static) {
        self.filter = Some(Box::new(filter));
    }

    /// Takes the filter away: every frame goes on the wire.
    pub fn clear_filter(&mut self) {
        self.filter = None;
    }

    /// Feeds `frame` straight into the stack at `side`, now, as if it had just arrived
    /// (it bypasses the wire and is not counted as received). What the stack answers goes
    /// out on the next step.
    pub fn inject(&mut self, side: Side, frame: &[u8]) {
        let now = self.now();
        self.stack_mut(side).receive(now, frame);
    }

    /// Moves the clock on by `d` without running anything; what falls due meanwhile runs
    /// on the next step.
    pub fn advance(&mut self, d: Duration) {
        self.clock.advance(d);
    }

    /// The next instant anything is due: a timer of either stack or a frame on the wire.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.replies.iter().any(|r| !r.is_empty()) {
            return Some(self.now());
        }
        self.hosts.iter().flat_map(|h| [h.stack.poll_timeout(), h.device.poll_at()]).flatten().min()
    }

    /// Delivers, runs and sends everything due at the current instant, over and over,
    /// until nothing moves (on a wire without delay, frames cross at once).
    pub fn settle(&mut self) {
        for _ in 0..MAX_SPINS {
            let received = self.input();
            let sent = self.output();
            let due = self.next_deadline().is_some_and(|t| t <= self.now());
            if !received && !sent && !due {
                return;
            }
        }
    }

    /// Runs until `done` returns `true`, for at most `limit` of virtual time.
    ///
    /// `done` is called at every step, after the frames and timers due then and before
    /// the stacks send: it is where the applications act and where the caller checks its
    /// goal. When the limit comes, or nothing is left to happen, the clock is moved to the
    /// limit and `done` has a last look.
    pub fn run_until(
        &mut self,
        done: impl FnMut(&mut Self) -> bool,
        limit: Duration,
    ) -> Result<(), RunError> {
        run_until(self, done, limit)
    }

    /// Runs for `duration` of virtual time whatever happens; the clock ends at the end.
    pub fn run_for(&mut self, duration: Duration) {
        let _ = self.run_until(|_| false, duration);
    }

    /// Takes in what is due now: each host's arrived frames, one at a time, each followed
    /// by what the stack sends for it; then the timers due. Whether any frame arrived.
    fn input(&mut self) -> bool {
        let now = self.now();
        let mut moved = false;
        let mut rx = core::mem::take(&mut self.rx);
        for side in Side::BOTH {
            let i = side.index();
            for frame in core::mem::take(&mut self.replies[i]) {
                self.hosts[i].stack.receive(now, &frame);
                self.transmit(side);
                moved = true;
            }
            loop {
                rx.clear();
                if self.hosts[i].device.receive(now, &mut rx).unwrap_or(0) == 0 {
                    break;
                }
                for frame in rx.iter() {
                    self.hosts[i].received += 1;
                    self.hosts[i].stack.receive(now, frame);
                    self.transmit(side);
                }
                moved = true;
            }
        }
        self.rx = rx;
        for host in &mut self.hosts {
            host.stack.handle_timeout(now);
        }
        moved
    }

    /// Sends what both stacks have. Whether anything left.
    fn output(&mut self) -> bool {
        let a = self.transmit(Side::Client);
        let b = self.transmit(Side::Server);
        if let Some(traces) = self.traces.as_mut() {
            for side in Side::BOTH {
                while let Some(record) = self.hosts[side.index()].stack.poll_trace() {
                    traces.push((side, record));
                }
            }
        }
        a || b
    }

    /// Sends every frame the stack at `side` has: recorded, filtered, put on the wire.
    /// Whether there was any.
    pub(super) fn transmit(&mut self, side: Side) -> bool {
        let now = self.now();
        let i = side.index();
        let mut any = false;
        while let Some(len) = self.hosts[i].stack.poll_transmit(now, &mut self.buf) {
            any = true;
            let frame = &self.buf[..len];
            if let Some(capture) = self.capture.as_mut() {
                capture.push(SentFrame { from: side, at: now, frame: frame.to_vec() });
            }
            match self.filter.as_mut().map_or(Verdict::Pass, |f| f(side, frame)) {
                Verdict::Pass => {
                    self.tx.push(frame);
                    if self.tx.is_full() {
                        self.flush(side);
                    }
                }
                Verdict::Drop => {}
                Verdict::Reply(answer) => self.replies[i].push(answer),
            }
        }
        self.flush(side);
        any
    }

    fn flush(&mut self, side: Side) {
        if self.tx.is_empty() {
            return;
        }
        let now = self.now();
        let host = &mut self.hosts[side.index()];
        let taken = host.device.transmit(now, &self.tx).unwrap_or(0).min(self.tx.len());
        host.sent += self.tx.len() as u64;
        host.refused += (self.tx.len() - taken) as u64;
        self.tx.clear();
    }
}

/// What [`run_until`] drives: a [`Net`], or something built on one.
pub(super) trait Driven {
    /// The net underneath.
    fn net(&mut self) -> &mut Net;
}

impl Driven for Net {
    fn net(&mut self) -> &mut Net {
        self
    }
}

/// The one run loop of the simulator: see [`Net::run_until`].
pub(super) fn run_until<T: Driven>(
    this: &mut T,
    mut done: impl FnMut(&mut T) -> bool,
    limit: Duration,
) -> Result<(), RunError> {
    let deadline = this.net().now() + limit;
    let mut spins = 0;
    loop {
        this.net().input();
        if done(this) {
            return Ok(());
        }
        let net = this.net();
        net.output();
        let now = net.now();
        let error = match net.next_deadline() {
            None => RunError::Idle(now),
            Some(next) if next > deadline => RunError::TimeLimit(deadline),
            Some(next) => {
                if next <= now {
                    spins += 1;
                    if spins > MAX_SPINS {
                        return Err(RunError::Livelock(now));
                    }
                } else {
                    spins = 0;
                }
                net.clock.advance_to(next.max(now));
                continue;
            }
        };
        net.clock.advance_to(deadline);
        net.input();
        return if done(this) { Ok(()) } else { Err(error) };
    }
}
