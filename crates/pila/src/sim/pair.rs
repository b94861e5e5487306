//! [`TcpPair`]: a client and a server connection joined by a [`VirtualWire`], on a
//! [`VirtualClock`] that jumps from one deadline to the next.

use core::fmt;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::host::{Host, HostStats, SentSegment};
use crate::device::{Impairments, LinkStats, VirtualWire, WireConfig};
use crate::rand::Rng;
use crate::tcp::{self, Connection, IsnGenerator};
use crate::time::{Duration, Instant, VirtualClock};
use crate::wire::ethernet;
use crate::wire::tcp::{Repr, SeqNumber};

/// The client's address: 192.0.2.1 (TEST-NET-1), port 40000.
pub const CLIENT_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 40_000);
/// The server's address: 192.0.2.2 (TEST-NET-1), port 80.
pub const SERVER_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 80);
const CLIENT_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x01]);
const SERVER_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x02]);

/// One of the two ends of a [`TcpPair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The end that connects (endpoint A of the wire).
    Client,
    /// The end that listens (endpoint B of the wire).
    Server,
}

impl Side {
    /// The other end.
    pub const fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Client => 0,
            Self::Server => 1,
        }
    }
}

/// How the two connections open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Open {
    /// The client connects; the server is a listener's new connection: it is created from the
    /// client's SYN with [`Connection::accept`] and [`PairConfig::server_isn`].
    #[default]
    Accept,
    /// The client connects; the server is a [`Connection::listen_with_isn`] passive open whose
    /// ISN generator is keyed from the seed.
    Listen,
    /// Both connect to each other at time zero: RFC 9293 §3.5 simultaneous open.
    Simultaneous,
}

/// How a [`TcpPair`] is built.
#[derive(Clone, Debug, PartialEq)]
pub struct PairConfig {
    /// The wire between the two; its impairment seeds are replaced by [`PairConfig::seed`].
    pub wire: WireConfig,
    /// The client's TCP settings.
    pub client: tcp::Config,
    /// The server's TCP settings.
    pub server: tcp::Config,
    /// The client's initial sequence number.
    pub client_isn: SeqNumber,
    /// The server's initial sequence number (unused with [`Open::Listen`]).
    pub server_isn: SeqNumber,
    /// How the connections open.
    pub open: Open,
    /// The seed of every random choice of the run: the wire's impairments and the
    /// listener's ISN key.
    pub seed: u64,
}

impl Default for PairConfig {
    /// A clean Ethernet wire, default TCP settings, fixed ISNs, seed 1.
    fn default() -> Self {
        Self {
            wire: WireConfig::default(),
            client: tcp::Config::default(),
            server: tcp::Config::default(),
            client_isn: SeqNumber(0x1000_0000),
            server_isn: SeqNumber(0x8000_0000),
            open: Open::Accept,
            seed: 1,
        }
    }
}

impl PairConfig {
    /// `self` with `impairments` on both directions of the wire.
    #[must_use]
    pub fn with_impairments(mut self, impairments: Impairments) -> Self {
        self.wire = self.wire.with_impairments(impairments);
        self
    }

    /// `self` with `config` on both connections.
    #[must_use]
    pub fn with_tcp(mut self, config: tcp::Config) -> Self {
        self.client = config.clone();
        self.server = config;
        self
    }
}

/// Why [`TcpPair::run_until`] stopped before its condition held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The time limit passed (the clock is left at the limit).
    TimeLimit(Instant),
    /// Nothing is left to happen: no timer is armed and no frame is in flight.
    Idle(Instant),
    /// The clock stopped moving: a timer kept firing at the same instant.
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

/// Two TCP connections on the two ends of a [`VirtualWire`], driven on a virtual clock.
///
/// Each step sends what the connections have to send (as IPv4 + TCP frames), jumps the
/// clock to the earliest deadline — a connection's [`Connection::poll_timeout`] or the
/// wire's next arrival — delivers the frames due then and runs the timers due then. An hour
/// of TCP time costs only the work done in it, and a run is reproduced by its seed.
///
/// The applications are the caller: between steps [`TcpPair::run_until`] hands its closure
/// the pair, which may `send`, `recv` or `close` on either connection.
#[derive(Debug)]
pub struct TcpPair {
    clock: VirtualClock,
    hosts: [Host; 2],
    seed: u64,
}

impl TcpPair {
    /// Builds the pair at time zero; the client's SYN (and, in a simultaneous open, the
    /// server's) leaves on the first step.
    pub fn new(config: PairConfig) -> Self {
        let PairConfig { mut wire, client, server, client_isn, server_isn, open, seed } = config;
        wire.a_to_b.seed = seed;
        wire.b_to_a.seed = seed;
        let (a, b) = VirtualWire::pair(wire);
        let clock = VirtualClock::new();
        let now = clock.now();
        let (c_addr, s_addr) = (SocketAddr::V4(CLIENT_ADDR), SocketAddr::V4(SERVER_ADDR));
        let client_conn = Connection::connect(now, c_addr, s_addr, client_isn, &client);
        let mut accept = None;
        let server_conn = match open {
            Open::Accept => {
                accept = Some((server_isn, server.clone()));
                Connection::listen(s_addr, &server)
            }
            Open::Listen => {
                let mut key = [0u8; 16];
                Rng::new(seed ^ 0x6973_6e6b_6579).fill(&mut key);
                Connection::listen_with_isn(s_addr, &server, IsnGenerator::new(key))
            }
            Open::Simultaneous => Connection::connect(now, s_addr, c_addr, server_isn, &server),
        };
        let client_host =
            Host::new(client_conn, a, CLIENT_ADDR, SERVER_ADDR, CLIENT_MAC, SERVER_MAC);
        let mut server_host =
            Host::new(server_conn, b, SERVER_ADDR, CLIENT_ADDR, SERVER_MAC, CLIENT_MAC);
        server_host.accept = accept;
        Self { clock, hosts: [client_host, server_host], seed }
    }

    /// The seed the pair was built with.
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The client's connection.
    pub fn client(&self) -> &Connection {
        self.conn(Side::Client)
    }

    /// The client's connection, to act as its application.
    pub fn client_mut(&mut self) -> &mut Connection {
        self.conn_mut(Side::Client)
    }

    /// The server's connection.
    pub fn server(&self) -> &Connection {
        self.conn(Side::Server)
    }

    /// The server's connection, to act as its application.
    pub fn server_mut(&mut self) -> &mut Connection {
        self.conn_mut(Side::Server)
    }

    /// The connection at `side`.
    pub fn conn(&self, side: Side) -> &Connection {
        &self.host(side).conn
    }

    /// The connection at `side`, to act as its application.
    pub fn conn_mut(&mut self, side: Side) -> &mut Connection {
        &mut self.host_mut(side).conn
    }

    /// The frame counters of the host at `side`.
    pub fn host_stats(&self, side: Side) -> HostStats {
        self.host(side).stats
    }

    /// The counters of the link `side` transmits on.
    pub fn link_stats(&self, side: Side) -> LinkStats {
        self.host(side).device.stats()
    }

    /// Changes the impairments of the link `side` transmits on, from now on (a loss of 1
    /// cuts it). The link's random stream carries on.
    pub fn set_impairments(&mut self, side: Side, impairments: Impairments) {
        let host = self.host(side);
        let seed = host.device.impairments().seed;
        host.device.set_impairments(Impairments { seed, ..impairments });
    }

    /// Starts (or stops) recording every segment both connections send.
    pub fn set_tracing(&mut self, on: bool) {
        for host in &mut self.hosts {
            host.trace = on.then(Vec::new);
        }
    }

    /// The segments `side` sent since tracing started.
    pub fn trace(&self, side: Side) -> &[SentSegment] {
        self.host(side).trace.as_deref().unwrap_or_default()
    }

    /// Puts a forged segment on the wire as if `side` had sent it (addresses and checksums
    /// filled in); it takes the impairments of that link like any other.
    pub fn send_raw(&mut self, side: Side, segment: &Repr<'_>) {
        let now = self.now();
        self.host_mut(side).transmit_raw(now, segment);
    }

    /// Runs until `done` returns `true`, for at most `limit` of virtual time.
    ///
    /// `done` is called before every step with the whole pair: it is where the
    /// applications act (send, recv, close) and where the scenario checks its goal.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&mut Self) -> bool,
        limit: Duration,
    ) -> Result<(), RunError> {
        let deadline = self.now() + limit;
        let mut spins = 0;
        loop {
            if done(self) {
                return Ok(());
            }
            let now = self.now();
            for host in &mut self.hosts {
                host.transmit(now);
            }
            let next = self.hosts.iter().filter_map(Host::poll_at).min();
            let Some(next) = next else { return Err(RunError::Idle(now)) };
            if next > deadline {
                self.clock.advance_to(deadline);
                return Err(RunError::TimeLimit(deadline));
            }
            if next <= now {
                spins += 1;
                if spins > MAX_SPINS {
                    return Err(RunError::Livelock(now));
                }
            } else {
                spins = 0;
            }
            self.clock.advance_to(next);
            let now = self.now();
            for host in &mut self.hosts {
                host.receive(now);
            }
            for host in &mut self.hosts {
                host.handle_timeout(now);
            }
        }
    }

    /// Runs for `duration` of virtual time whatever happens (an idle pair just waits).
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now() + duration;
        let _ = self.run_until(|_| false, duration);
        self.clock.advance_to(end);
    }

    /// Runs until both connections are ESTABLISHED (or at least past the handshake).
    pub fn handshake(&mut self, limit: Duration) -> Result<(), RunError> {
        self.run_until(
            |p| {
                p.hosts.iter().all(|h| {
                    h.conn.state().is_synchronized() && h.conn.state() != tcp::State::SynReceived
                })
            },
            limit,
        )
    }

    fn host(&self, side: Side) -> &Host {
        &self.hosts[side.index()]
    }

    fn host_mut(&mut self, side: Side) -> &mut Host {
        &mut self.hosts[side.index()]
    }
}
