//! [`TcpPair`]: one TCP connection between the two stacks of a [`Net`]: a client that
//! connects and a server that accepts, each a real [`Stack`](crate::stack::Stack).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::net::{self, Driven, HostStats, Net, RunError, Side};
use crate::device::{Impairments, LinkStats, Medium, WireConfig};
use crate::rand::Rng;
use crate::stack::{self, Ipv4Cidr, Ipv6Cidr, ListenerHandle, TcpHandle, TcpSocket};
use crate::tcp::{self, Connection};
use crate::time::{Duration, Instant};
use crate::wire::tcp::{Flags, Repr, SeqNumber};
use crate::wire::{self, Checksums, ethernet, ipv4, ipv6};

/// The client's address: 192.0.2.1 (TEST-NET-1), port 40000.
pub const CLIENT_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 40_000);
/// The server's address: 192.0.2.2 (TEST-NET-1), port 80.
pub const SERVER_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 80);
/// The client's address over IPv6 ([`Family::V6`]): 2001:db8::1 (documentation prefix),
/// port 40000.
pub const CLIENT_ADDR6: SocketAddrV6 =
    SocketAddrV6::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 40_000, 0, 0);
/// The server's address over IPv6: 2001:db8::2, port 80.
pub const SERVER_ADDR6: SocketAddrV6 =
    SocketAddrV6::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), 80, 0, 0);
/// The client's MAC address (on an Ethernet wire).
pub const CLIENT_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x01]);
/// The server's MAC address (on an Ethernet wire).
pub const SERVER_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x02]);
/// The prefix both addresses are on.
const PREFIX_LEN: u8 = 24;

/// The IP version a [`TcpPair`]'s connection runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Family {
    /// IPv4, between [`CLIENT_ADDR`] and [`SERVER_ADDR`].
    #[default]
    V4,
    /// IPv6, between [`CLIENT_ADDR6`] and [`SERVER_ADDR6`]: both stacks have IPv4 too, and
    /// their IPv6 addresses are usable at once (no duplicate address detection, no router
    /// solicitations, each other's MAC known), so the handshake starts at time zero as it
    /// does over IPv4.
    V6,
}

impl Family {
    /// The client's and the server's addresses.
    pub const fn addrs(self) -> (SocketAddr, SocketAddr) {
        match self {
            Self::V4 => (SocketAddr::V4(CLIENT_ADDR), SocketAddr::V4(SERVER_ADDR)),
            Self::V6 => (SocketAddr::V6(CLIENT_ADDR6), SocketAddr::V6(SERVER_ADDR6)),
        }
    }
}

/// How the two connections open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Open {
    /// The client connects; the server is the connection its stack's listener accepts,
    /// made from the client's SYN with [`PairConfig::server_isn`]
    /// ([`Stack::tcp_listen_with_isn`](crate::stack::Stack::tcp_listen_with_isn)).
    #[default]
    Accept,
    /// The client connects; the server is a passive open by its stack's listener, with an
    /// RFC 6528 ISN from the stack's generator, keyed from the seed.
    Listen,
    /// Both stacks connect to each other at time zero, from and to the fixed ports of
    /// [`CLIENT_ADDR`] and [`SERVER_ADDR`], with the fixed ISNs: RFC 9293 §3.5
    /// simultaneous open.
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
    /// The IP version of the connection.
    pub family: Family,
    /// The seed of every random choice of the run: the wire's impairments and the seeds
    /// of both stacks (their ISN keys, IP identifiers, ports).
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
            family: Family::V4,
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

/// A segment a host sent, as the simulator saw it (recorded when tracing is on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentSegment {
    /// When it was handed to the wire.
    pub at: Instant,
    /// Its sequence number.
    pub seq: SeqNumber,
    /// Its acknowledgment number, if ACK was set.
    pub ack: Option<SeqNumber>,
    /// Its control bits, ACK included.
    pub flags: Flags,
    /// Its payload length.
    pub len: usize,
    /// Its raw window field.
    pub window: u16,
    /// Its TSval, if it carried timestamps.
    pub tsval: Option<u32>,
    /// How many SACK blocks it carried.
    pub sack_blocks: usize,
}

impl SentSegment {
    /// The TCP segment in `frame` (as a stack on `medium` wrote it), if it carries one.
    fn parse(at: Instant, medium: Medium, frame: &[u8]) -> Option<Self> {
        let packet = match medium {
            Medium::Ethernet => {
                let eth = ethernet::Frame::new_checked(frame).ok()?;
                let ip = eth.ethertype();
                if ip != ethernet::EtherType::Ipv4 && ip != ethernet::EtherType::Ipv6 {
                    return None;
                }
                eth.payload()
            }
            Medium::Ip => frame,
        };
        let (src, dst, payload) = match packet.first()? >> 4 {
            4 => {
                let ip = ipv4::Packet::new_checked(packet).ok()?;
                let ip_repr = ipv4::Repr::parse(&ip, &Checksums::SOFTWARE).ok()?;
                if ip_repr.protocol != wire::ip::Protocol::Tcp {
                    return None;
                }
                let (src, dst) = (IpAddr::V4(ip_repr.src_addr), IpAddr::V4(ip_repr.dst_addr));
                (src, dst, ip.payload())
            }
            6 => {
                // The stacks send TCP behind the fixed header alone.
                let ip = ipv6::Packet::new_checked(packet).ok()?;
                let ip_repr = ipv6::Repr::parse(&ip).ok()?;
                if ip_repr.next_header != wire::ip::Protocol::Tcp {
                    return None;
                }
                let (src, dst) = (IpAddr::V6(ip_repr.src_addr), IpAddr::V6(ip_repr.dst_addr));
                (src, dst, ip.payload())
            }
            _ => return None,
        };
        let tcp = wire::tcp::Packet::new_checked(payload).ok()?;
        let seg = Repr::parse(&tcp, src, dst, &Checksums::SOFTWARE).ok()?;
        Some(Self {
            at,
            seq: seg.seq_number,
            ack: seg.ack_number,
            flags: seg.all_flags(),
            len: seg.payload.len(),
            window: seg.window_len,
            tsval: seg.options.timestamp.map(|ts| ts.tsval),
            sack_blocks: seg.options.sack_blocks.len(),
        })
    }
}

/// One TCP connection between the two stacks of a [`Net`]: the client at
/// [`CLIENT_ADDR`] on host A, the server at [`SERVER_ADDR`] on host B, on a
/// [`VirtualWire`](crate::device::VirtualWire), driven on a virtual clock.
///
/// Both ends are real [`Stack`](crate::stack::Stack)s: every segment goes through the
/// production code — Ethernet and IPv4 framing with software checksums, demultiplexing by
/// 4-tuple, the listener and its accept queue — and is parsed back on arrival, so a
/// corrupted frame fails its checksum and is dropped and counted like on a real host.
/// Each stack knows the other's MAC address from the start (`stack::Config::neighbors`),
/// so no ARP exchange shifts the timings, and the ISNs are fixed by the [`PairConfig`].
/// The clock jumps from one deadline to the next (see [`Net`]); a run is reproduced by
/// its seed.
///
/// The applications are the caller: between steps [`TcpPair::run_until`] hands its closure
/// the pair, which may `send`, `recv` or `close` on either connection through
/// [`TcpPair::conn_mut`].
#[derive(Debug)]
pub struct TcpPair {
    net: Net,
    /// The connections, once they exist: the server's once its listener has accepted it.
    conns: [Option<TcpHandle>; 2],
    /// The server's listener ([`Open::Accept`], [`Open::Listen`]).
    listener: Option<ListenerHandle>,
    /// What [`TcpPair::conn`] shows for the server until the listener has accepted: a
    /// connection in LISTEN.
    listening: Connection,
    medium: Medium,
    seed: u64,
    /// The client's and the server's addresses.
    addrs: (SocketAddr, SocketAddr),
}

impl TcpPair {
    /// Builds the pair at time zero; the client's SYN (and, in a simultaneous open, the
    /// server's) leaves on the first step.
    ///
    /// # Panics
    ///
    /// If the stacks refuse the wire's MTU (below 576 or above 65535).
    pub fn new(config: PairConfig) -> Self {
        let PairConfig { mut wire, client, server, client_isn, server_isn, open, family, seed } =
            config;
        wire.a_to_b.seed = seed;
        wire.b_to_a.seed = seed;
        // Each stack draws its keys from its own seed, both fixed by the pair's.
        let mut rng = Rng::new(seed ^ 0x7369_6d2d_7061_6972);
        let v6 = family == Family::V6;
        let mut host = |addr: SocketAddrV4, mac, peer: SocketAddrV4, peer_mac, tcp| stack::Config {
            medium: wire.medium,
            mtu: wire.mtu,
            checksums: wire.checksums,
            mac,
            addresses: Ipv4Cidr::new(*addr.ip(), PREFIX_LEN).into_iter().collect(),
            neighbors: vec![(*peer.ip(), peer_mac)],
            tcp,
            seed: Some(rng.next_u64()),
            ipv6: v6.then(|| {
                let (own, peer) = if addr == CLIENT_ADDR {
                    (CLIENT_ADDR6, SERVER_ADDR6)
                } else {
                    (SERVER_ADDR6, CLIENT_ADDR6)
                };
                stack::Ipv6Config {
                    addresses: Ipv6Cidr::new(*own.ip(), 64).into_iter().collect(),
                    dad_transmits: 0,
                    router_solicitations: 0,
                    neighbors: vec![(*peer.ip(), peer_mac)],
                    ..stack::Ipv6Config::default()
                }
            }),
            ..stack::Config::default()
        };
        let a = host(CLIENT_ADDR, CLIENT_MAC, SERVER_ADDR, SERVER_MAC, client);
        let b = host(SERVER_ADDR, SERVER_MAC, CLIENT_ADDR, CLIENT_MAC, server);
        let (c_addr, s_addr) = family.addrs();
        let listening = Connection::listen(s_addr, b.tcp.clone());
        let mut net = Net::new(a, b, wire).unwrap_or_else(|e| panic!("the pair's stacks: {e}"));
        let now = net.now();
        let mut listener = None;
        let mut server_conn = None;
        // Fresh stacks with every port free: none of these calls can fail.
        let fresh = "a fresh stack takes any port";
        match open {
            Open::Accept => {
                listener = Some(net.b().tcp_listen_with_isn(s_addr, 16, server_isn).expect(fresh));
            }
            Open::Listen => listener = Some(net.b().tcp_listen(s_addr, 16).expect(fresh)),
            Open::Simultaneous => {
                let b = net.b();
                server_conn = Some(b.tcp_connect_with_isn(now, c_addr, Some(s_addr), server_isn));
            }
        }
        let client_conn = net.a().tcp_connect_with_isn(now, s_addr, Some(c_addr), client_isn);
        let conns = [Some(client_conn.expect(fresh)), server_conn.map(|c| c.expect(fresh))];
        let medium = wire.medium;
        Self { net, conns, listener, listening, medium, seed, addrs: (c_addr, s_addr) }
    }

    /// The client's address.
    pub const fn client_addr(&self) -> SocketAddr {
        self.addrs.0
    }

    /// The server's address.
    pub const fn server_addr(&self) -> SocketAddr {
        self.addrs.1
    }

    /// The seed the pair was built with.
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// The two stacks and their wire.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The two stacks and their wire, to act on them directly (open more sockets, inject
    /// frames, filter).
    pub fn net_mut(&mut self) -> &mut Net {
        &mut self.net
    }

    /// The client's connection.
    pub fn client(&self) -> &Connection {
        self.conn(Side::Client)
    }

    /// The client's connection, to act as its application.
    pub fn client_mut(&mut self) -> &mut TcpSocket {
        self.conn_mut(Side::Client)
    }

    /// The server's connection.
    pub fn server(&self) -> &Connection {
        self.conn(Side::Server)
    }

    /// The server's connection, to act as its application.
    pub fn server_mut(&mut self) -> &mut TcpSocket {
        self.conn_mut(Side::Server)
    }

    /// The connection at `side`. Until the server's listener has accepted its connection,
    /// the server's is shown as a connection in LISTEN.
    pub fn conn(&self, side: Side) -> &Connection {
        self.conns[side.index()]
            .and_then(|h| self.net.stack(side).tcp(h))
            .unwrap_or(&self.listening)
    }

    /// The connection at `side`, to act as its application.
    ///
    /// # Panics
    ///
    /// For the server before its listener has accepted the connection (the handshake is
    /// not over).
    pub fn conn_mut(&mut self, side: Side) -> &mut TcpSocket {
        self.socket_mut(side).unwrap_or_else(|| panic!("the {side:?} has no connection yet"))
    }

    /// The connection at `side`, to act as its application, once it exists: the server's
    /// only once its listener has accepted it.
    pub fn socket_mut(&mut self, side: Side) -> Option<&mut TcpSocket> {
        let handle = self.conns[side.index()]?;
        self.net.stack_mut(side).tcp_mut(handle)
    }

    /// The frame counters of the host at `side`.
    pub fn host_stats(&self, side: Side) -> HostStats {
        self.net.host_stats(side)
    }

    /// The counters of the link `side` transmits on.
    pub fn link_stats(&self, side: Side) -> LinkStats {
        self.net.link_stats(side)
    }

    /// Changes the impairments of the link `side` transmits on, from now on (a loss of 1
    /// cuts it). The link's random stream carries on.
    pub fn set_impairments(&mut self, side: Side, impairments: Impairments) {
        self.net.set_impairments(side, impairments);
    }

    /// Starts (or stops) recording every segment both hosts send, forgetting what was
    /// recorded.
    pub fn set_tracing(&mut self, on: bool) {
        self.net.set_capture(on);
    }

    /// The TCP segments `side` sent since tracing started, oldest first.
    pub fn trace(&self, side: Side) -> Vec<SentSegment> {
        self.net
            .captured()
            .iter()
            .filter(|f| f.from == side)
            .filter_map(|f| SentSegment::parse(f.at, self.medium, &f.frame))
            .collect()
    }

    /// Puts a forged segment on the wire as if `side`'s connection had sent it: its stack
    /// frames it (addresses and checksums filled in) and it takes the impairments of that
    /// link like any other. It is not traced.
    pub fn send_raw(&mut self, side: Side, segment: &Repr<'_>) {
        let (local, remote) = match side {
            Side::Client => self.addrs,
            Side::Server => (self.addrs.1, self.addrs.0),
        };
        // What the stack had to send goes first, traced.
        self.net.transmit(side);
        let now = self.now();
        // The stack refuses only a segment too long for an IPv4 packet: it is not sent.
        let _sent = self.net.stack_mut(side).send_segment(now, local, remote, segment);
        let capture = self.net.capture.take();
        self.net.transmit(side);
        self.net.capture = capture;
    }

    /// Runs until `done` returns `true`, for at most `limit` of virtual time.
    ///
    /// `done` is called at every step with the whole pair: it is where the applications
    /// act (send, recv, close) and where the scenario checks its goal. See
    /// [`Net::run_until`].
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&mut Self) -> bool,
        limit: Duration,
    ) -> Result<(), RunError> {
        net::run_until(
            self,
            |p| {
                p.accept();
                done(p)
            },
            limit,
        )
    }

    /// Runs for `duration` of virtual time whatever happens (an idle pair just waits).
    pub fn run_for(&mut self, duration: Duration) {
        let _ = self.run_until(|_| false, duration);
    }

    /// Runs until both connections are ESTABLISHED (or at least past the handshake).
    pub fn handshake(&mut self, limit: Duration) -> Result<(), RunError> {
        self.run_until(
            |p| {
                Side::BOTH.iter().all(|&side| {
                    let state = p.conn(side).state();
                    state.is_synchronized() && state != tcp::State::SynReceived
                })
            },
            limit,
        )
    }

    /// Takes the server's connection from its listener once the handshake has put it in
    /// the accept queue.
    fn accept(&mut self) {
        if let (None, Some(l)) = (self.conns[1], self.listener) {
            self.conns[1] = self.net.b().tcp_accept(l).ok();
        }
    }
}

impl Driven for TcpPair {
    fn net(&mut self) -> &mut Net {
        &mut self.net
    }
}
