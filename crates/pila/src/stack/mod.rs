//! The host: one interface and all its sockets, Sans-IO.
//!
//! A [`Stack`] owns the interface (addresses, routes, MTU), the neighbour cache, IPv4
//! reassembly, the ICMP, UDP and TCP socket tables and the counters. It never reads a clock,
//! never does I/O and draws randomness only from the seeded generator its [`Config`] makes.
//!
//! # Calling order
//!
//! Whoever drives the stack (the `pila::net` driver, the simulator, a test) repeats:
//!
//! 1. [`Stack::receive`] every frame that arrived;
//! 2. [`Stack::handle_timeout`] with the current time (cheap when nothing is due);
//! 3. [`Stack::poll_transmit`] until it returns `None`, sending each frame;
//! 4. [`Stack::poll_event`] and [`Stack::poll_wake`] until `None`, waking the sockets named;
//! 5. sleep until a frame arrives, an application call is made, or [`Stack::poll_timeout`].
//!
//! Socket calls (`tcp_*`, `udp_*`, `ping_*`) may come at any point; the frames they cause
//! come out of the next `poll_transmit`.

mod arp;
mod counters;
mod fragment;
mod icmp;
mod iface;
mod ports;
mod reassembly;
mod slab;
mod tcp;
mod udp;

pub use counters::{Counters, Event, EventKind};
pub use icmp::PingReply;
pub use iface::{Ipv4Cidr, ParseCidrError};

use std::collections::{HashSet, VecDeque};

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::device::Medium;
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::ip::Protocol;
use crate::wire::{Checksums, arp as warp, ethernet, icmpv4, ipv4, udp as wudp};
use arp::{ArpConfig, Enqueued, Neighbors, Pending};
use icmp::{Pings, TokenBucket};
use iface::Interface;
use ports::Ports;
use reassembly::Reassembler;
use slab::Key;
use tcp::TcpTable;
use udp::UdpTable;

/// The TTL of the datagrams we send (Linux's default).
const TTL: u8 = 64;
/// The most frames waiting in the control queue (ARP, ICMP, RST, UDP) at once.
const LINK_QUEUE: usize = 4096;
/// The most events kept for [`Stack::poll_event`]; older ones are dropped.
const MAX_EVENTS: usize = 1 << 16;

/// How a [`Stack`] is built. [`Config::default`] has no address; add at least one.
#[derive(Clone, Debug)]
pub struct Config {
    /// What the device's frames carry: Ethernet (with ARP) or bare IP (TUN, no ARP).
    pub medium: Medium,
    /// Our MAC address (Ethernet only).
    pub mac: ethernet::Address,
    /// Our IPv4 addresses with their prefixes; each prefix is an on-link route.
    pub addresses: Vec<Ipv4Cidr>,
    /// The default gateway, which must be on one of the prefixes.
    pub gateway: Option<Ipv4Addr>,
    /// The IP MTU (default 1500).
    pub mtu: usize,
    /// Seed of the stack's random generator: the keys of initial sequence numbers and SYN
    /// cookies, ephemeral ports, IP identifiers. Required, and secret in production: anyone
    /// who knows it can predict them. There is no default; the edges (`pila::net`, the CLI)
    /// draw one from the operating system unless told otherwise.
    pub seed: Option<u64>,
    /// Defaults of every TCP connection. Its `mss` follows the MTU when left at 1460.
    pub tcp: crate::tcp::Config,
    /// The ephemeral port range, inclusive (default 49152–65535, RFC 6335).
    pub ephemeral_ports: (u16, u16),
    /// Which checksums software computes and verifies.
    pub checksums: Checksums,
    /// How long a resolved neighbour is trusted (default 60 s).
    pub arp_cache_ttl: Duration,
    /// ARP requests sent before a neighbour is declared unreachable (default 3).
    pub arp_retries: u32,
    /// Time between ARP requests (default 1 s).
    pub arp_retry_interval: Duration,
    /// Datagrams queued per unresolved neighbour (default 16).
    pub arp_pending_limit: usize,
    /// How long fragments wait for the rest of their datagram (default 30 s).
    pub reassembly_timeout: Duration,
    /// Bytes all datagrams under reassembly may hold (default 1 MiB).
    pub reassembly_memory: usize,
    /// ICMP errors sent per second at most (default 100).
    pub icmp_rate: u32,
    /// Bytes queued per UDP socket before datagrams are dropped (default 256 KiB).
    pub udp_recv_queue: usize,
    /// Half-open connections per listener before SYN cookies take over (default 256).
    pub max_syn_backlog: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            medium: Medium::Ethernet,
            mac: ethernet::Address([0x02, 0, 0, 0, 0, 0x01]),
            addresses: Vec::new(),
            gateway: None,
            mtu: 1500,
            seed: None,
            tcp: crate::tcp::Config::default(),
            ephemeral_ports: (49152, 65535),
            checksums: Checksums::SOFTWARE,
            arp_cache_ttl: Duration::from_secs(60),
            arp_retries: 3,
            arp_retry_interval: Duration::from_secs(1),
            arp_pending_limit: 16,
            reassembly_timeout: Duration::from_secs(30),
            reassembly_memory: 1 << 20,
            icmp_rate: 100,
            udp_recv_queue: 256 << 10,
            max_syn_backlog: 256,
        }
    }
}

/// Why a [`Config`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No IPv4 address, or an unusable one (unspecified, multicast, broadcast).
    BadAddress,
    /// The gateway is not on any of our prefixes.
    GatewayNotOnLink,
    /// The MTU is below IPv4's 576 or above 65535.
    BadMtu,
    /// The ephemeral port range is empty or starts at 0.
    BadPortRange,
    /// The Ethernet address is not unicast.
    BadMac,
    /// No seed was given: a stack's keys must not be predictable.
    NoSeed,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadAddress => "the stack needs at least one unicast IPv4 address",
            Self::GatewayNotOnLink => "the gateway is not on any of the stack's prefixes",
            Self::BadMtu => "the MTU must be between 576 and 65535",
            Self::BadPortRange => "the ephemeral port range must be non-empty and above 0",
            Self::BadMac => "the MAC address must be unicast",
            Self::NoSeed => {
                "the stack needs a seed (Config::seed), secret and random in production"
            }
        })
    }
}

impl std::error::Error for ConfigError {}

/// What a socket call failed with. Converts to [`std::io::Error`] with the kind
/// `std::net` would give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Nothing to do now: no data, no connection to accept, a full buffer.
    WouldBlock,
    /// The local address and port are taken.
    AddrInUse,
    /// The local address is not one of ours, or no ephemeral port is free.
    AddrNotAvailable,
    /// A bad argument: a zero port, an IPv6 address, a stale handle.
    InvalidInput,
    /// The socket is not connected.
    NotConnected,
    /// The peer refused: RST to our SYN, or ICMP port unreachable.
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The connection was aborted locally.
    ConnectionAborted,
    /// The peer stopped answering.
    TimedOut,
    /// The next hop never answered ARP, or ICMP said the host is unreachable.
    HostUnreachable,
    /// No route to the destination.
    NetworkUnreachable,
    /// The sending direction is closed.
    BrokenPipe,
    /// The datagram is larger than UDP allows.
    MessageTooLong,
    /// A queue is full.
    NoBufferSpace,
}

impl Error {
    /// The [`std::io::ErrorKind`] `std::net` uses for this error.
    pub fn kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            Self::WouldBlock => K::WouldBlock,
            Self::AddrInUse => K::AddrInUse,
            Self::AddrNotAvailable => K::AddrNotAvailable,
            Self::InvalidInput | Self::MessageTooLong => K::InvalidInput,
            Self::NotConnected => K::NotConnected,
            Self::ConnectionRefused => K::ConnectionRefused,
            Self::ConnectionReset => K::ConnectionReset,
            Self::ConnectionAborted => K::ConnectionAborted,
            Self::TimedOut => K::TimedOut,
            Self::HostUnreachable => K::HostUnreachable,
            Self::NetworkUnreachable => K::NetworkUnreachable,
            Self::BrokenPipe => K::BrokenPipe,
            Self::NoBufferSpace => K::OutOfMemory,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WouldBlock => "operation would block",
            Self::AddrInUse => "address in use",
            Self::AddrNotAvailable => "address not available",
            Self::InvalidInput => "invalid argument",
            Self::NotConnected => "not connected",
            Self::ConnectionRefused => "connection refused",
            Self::ConnectionReset => "connection reset by peer",
            Self::ConnectionAborted => "connection aborted",
            Self::TimedOut => "connection timed out",
            Self::HostUnreachable => "host unreachable",
            Self::NetworkUnreachable => "network unreachable",
            Self::BrokenPipe => "broken pipe",
            Self::MessageTooLong => "message too long",
            Self::NoBufferSpace => "no buffer space available",
        })
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        Self::new(e.kind(), e)
    }
}

macro_rules! handle {
    ($(#[doc = $doc:literal])* $name:ident) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Key);
    };
}

handle!(
    /// A TCP connection of a [`Stack`]: a slot index and its generation.
    TcpHandle
);
handle!(
    /// A TCP listener of a [`Stack`].
    ListenerHandle
);
handle!(
    /// A UDP socket of a [`Stack`].
    UdpHandle
);

/// Any socket, as [`Stack::poll_wake`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketHandle {
    /// A TCP connection.
    Tcp(TcpHandle),
    /// A TCP listener.
    Listener(ListenerHandle),
    /// A UDP socket.
    Udp(UdpHandle),
}

/// A frame waiting in the control queue: its link destination and payload.
#[derive(Debug)]
struct LinkFrame {
    dst: ethernet::Address,
    ethertype: ethernet::EtherType,
    payload: Vec<u8>,
}

/// A host: an interface with its addresses, routes and sockets. See the [module
/// documentation](self) for the calling order.
#[derive(Debug)]
pub struct Stack {
    config: Config,
    iface: Interface,
    rng: Rng,
    neighbors: Neighbors,
    link_out: VecDeque<LinkFrame>,
    ip_ident: u16,
    reasm: Reassembler,
    icmp_bucket: TokenBucket,
    pings: Pings,
    ports: Ports,
    udp: UdpTable,
    tcp: TcpTable,
    counters: Counters,
    events: VecDeque<Event>,
    wakes: VecDeque<SocketHandle>,
    wake_set: HashSet<SocketHandle>,
}

impl Stack {
    /// A stack configured by `config`.
    pub fn new(mut config: Config) -> Result<Self, ConfigError> {
        let usable = |ip: Ipv4Addr| {
            !(ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback())
        };
        if config.addresses.is_empty() || !config.addresses.iter().all(|c| usable(c.addr)) {
            return Err(ConfigError::BadAddress);
        }
        if let Some(gw) = config.gateway {
            if !config.addresses.iter().any(|c| c.contains(gw)) || !usable(gw) {
                return Err(ConfigError::GatewayNotOnLink);
            }
        }
        if !(576..=65535).contains(&config.mtu) {
            return Err(ConfigError::BadMtu);
        }
        let (lo, hi) = config.ephemeral_ports;
        if lo == 0 || lo > hi {
            return Err(ConfigError::BadPortRange);
        }
        if config.medium == Medium::Ethernet && !config.mac.is_unicast() {
            return Err(ConfigError::BadMac);
        }
        let mss_for_mtu = u16::try_from(config.mtu - 40).unwrap_or(u16::MAX);
        if config.tcp.mss == crate::tcp::Config::default().mss {
            config.tcp.mss = mss_for_mtu;
        } else {
            config.tcp.mss = config.tcp.mss.min(mss_for_mtu);
        }
        let mut rng = Rng::new(config.seed.ok_or(ConfigError::NoSeed)?);
        let ip_ident = rng.next_u32() as u16;
        let mut port_key = [0; 16];
        rng.fill(&mut port_key);
        let ports = Ports::new(port_key, rng.next_u32(), config.ephemeral_ports);
        let mut isn_key = [0; 16];
        rng.fill(&mut isn_key);
        let mut cookie_key = [0; 16];
        rng.fill(&mut cookie_key);
        Ok(Self {
            iface: Interface { addresses: config.addresses.clone(), gateway: config.gateway },
            neighbors: Neighbors::new(ArpConfig {
                ttl: config.arp_cache_ttl,
                retries: config.arp_retries.max(1),
                retry_interval: config.arp_retry_interval,
                pending_limit: config.arp_pending_limit,
            }),
            link_out: VecDeque::new(),
            ip_ident,
            reasm: Reassembler::new(config.reassembly_timeout, config.reassembly_memory),
            icmp_bucket: TokenBucket::new(config.icmp_rate),
            pings: Pings::default(),
            ports,
            udp: UdpTable::default(),
            tcp: TcpTable::new(isn_key, cookie_key),
            counters: Counters::default(),
            events: VecDeque::new(),
            wakes: VecDeque::new(),
            wake_set: HashSet::new(),
            rng,
            config,
        })
    }

    /// The configuration the stack runs with (the TCP MSS adjusted to the MTU).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The next connection event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next socket whose state changed since it was last named: readable, writable,
    /// connected, closed, failed, a connection to accept, a datagram.
    pub fn poll_wake(&mut self) -> Option<SocketHandle> {
        let h = self.wakes.pop_front()?;
        self.wake_set.remove(&h);
        Some(h)
    }

    /// A frame arrived. Never fails: a frame that is malformed, not for us or of no use is
    /// counted and dropped.
    pub fn receive(&mut self, now: Instant, frame: &[u8]) {
        match self.config.medium {
            Medium::Ip => self.ipv4_input(now, frame),
            Medium::Ethernet => self.ethernet_input(now, frame),
        }
    }

    /// Writes the next frame to send into `buf` and returns its length; `None` when there is
    /// nothing to send. Give a buffer of at least MTU + 14 bytes; a frame that does not fit
    /// is dropped.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        loop {
            if let Some((target, unicast)) = self.neighbors.pop_request() {
                if let Some(len) = self.arp_request(buf, target, unicast) {
                    self.counters.arp_requests_sent += 1;
                    return Some(len);
                }
                continue;
            }
            if let Some(frame) = self.link_out.pop_front() {
                match self.write_frame(buf, frame.dst, frame.ethertype, &frame.payload) {
                    Some(len) => return Some(len),
                    None => {
                        self.counters.ip_out_discards += 1;
                        continue;
                    }
                }
            }
            if let Some(len) = self.tcp_poll_transmit(now, buf) {
                return Some(len);
            }
            // A connection's segment may have started an ARP resolution.
            if self.neighbors.has_requests() || !self.link_out.is_empty() {
                continue;
            }
            return None;
        }
    }

    /// The latest instant at which [`Stack::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.neighbors.poll_at(), self.tcp.poll_at(), self.reasm.poll_at()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`: ARP retries and failures, TCP timers, reassembly
    /// time-outs.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tcp_handle_timeout(now);
        self.reassembly_timeout(now);
        for (_, queue) in self.neighbors.handle_timeout(now) {
            self.counters.arp_failed += 1;
            for pending in queue {
                self.counters.ip_out_discards += 1;
                if let Some(owner) = pending.owner {
                    self.unreachable(now, owner);
                }
            }
        }
    }

    /// Sends an ICMP echo request to `dst`; replies come from [`Stack::ping_poll_reply`].
    pub fn ping_send(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        data: &[u8],
    ) -> Result<(), Error> {
        if dst.is_unspecified() || dst.is_multicast() {
            return Err(Error::InvalidInput);
        }
        let repr = icmpv4::Repr::EchoRequest { ident, seq_no: seq, data };
        let src = self.iface.source_for(dst).ok_or(Error::NetworkUnreachable);
        let src = match src {
            Ok(src) => src,
            Err(e) => {
                self.counters.ip_out_no_routes += 1;
                return Err(e);
            }
        };
        if repr.buffer_len() + ipv4::HEADER_LEN > self.config.mtu {
            return Err(Error::MessageTooLong);
        }
        let packet = self.icmp_packet(src, dst, &repr);
        self.pings.register(ident);
        self.counters.icmp_out_msgs += 1;
        self.send_ip(now, dst, packet, None)
    }

    /// The oldest echo reply with identifier `ident` not yet returned.
    pub fn ping_poll_reply(&mut self, ident: u16) -> Option<PingReply> {
        self.pings.poll(ident)
    }

    // ---- input ----

    fn ethernet_input(&mut self, now: Instant, data: &[u8]) {
        let Ok(frame) = ethernet::Frame::new_checked(data) else {
            self.counters.eth_dropped += 1;
            return;
        };
        let dst = frame.dst_addr();
        if dst != self.config.mac && !dst.is_broadcast() {
            self.counters.eth_dropped += 1;
            return;
        }
        match frame.ethertype() {
            ethernet::EtherType::Arp => self.arp_input(now, frame.payload()),
            ethernet::EtherType::Ipv4 => self.ipv4_input(now, frame.payload()),
            _ => self.counters.eth_dropped += 1,
        }
    }

    fn arp_input(&mut self, now: Instant, data: &[u8]) {
        let Ok(packet) = warp::Packet::new_checked(data) else {
            self.counters.eth_dropped += 1;
            return;
        };
        let Ok(repr) = warp::Repr::parse(&packet) else {
            self.counters.eth_dropped += 1;
            return;
        };
        let sender = repr.source_protocol_addr;
        let sender_mac = repr.source_hardware_addr;
        let for_us = self.iface.has_addr(repr.target_protocol_addr);
        let sender_ok = !sender.is_unspecified()
            && !sender.is_multicast()
            && !self.iface.is_broadcast(sender)
            && !self.iface.has_addr(sender)
            && sender_mac.is_unicast();
        if sender_ok {
            // RFC 826: update a known sender; add it only if the packet is for us.
            let released = self.neighbors.learn(now, sender, sender_mac, for_us);
            for pending in released {
                self.push_datagram(sender_mac, pending.packet);
            }
        } else if !sender.is_unspecified() || !sender_mac.is_unicast() {
            self.counters.eth_dropped += 1;
            return;
        }
        if for_us && repr.operation == warp::Operation::Request {
            let reply = warp::Repr {
                operation: warp::Operation::Reply,
                source_hardware_addr: self.config.mac,
                source_protocol_addr: repr.target_protocol_addr,
                target_hardware_addr: sender_mac,
                target_protocol_addr: sender,
            };
            let mut payload = vec![0; reply.buffer_len()];
            reply.emit(&mut warp::Packet::new_unchecked(&mut payload[..]));
            if self.push_link(sender_mac, ethernet::EtherType::Arp, payload) {
                self.counters.arp_replies_sent += 1;
            }
        }
    }

    fn ipv4_input(&mut self, now: Instant, data: &[u8]) {
        self.counters.ip_in_receives += 1;
        let Ok(packet) = ipv4::Packet::new_checked(data) else {
            self.counters.ip_in_hdr_errors += 1;
            return;
        };
        let Ok(repr) = ipv4::Repr::parse(&packet, &self.config.checksums) else {
            self.counters.ip_in_hdr_errors += 1;
            return;
        };
        let src = repr.src_addr;
        // RFC 1122 §3.2.1.3: a source that is broadcast or multicast is discarded; TTL 0
        // was never legal to send.
        if repr.ttl == 0 || src.is_broadcast() || src.is_multicast() || self.iface.is_broadcast(src)
        {
            self.counters.ip_in_hdr_errors += 1;
            return;
        }
        let broadcast = self.iface.is_broadcast(repr.dst_addr);
        if !broadcast && !self.iface.has_addr(repr.dst_addr) {
            self.counters.ip_in_addr_errors += 1;
            return;
        }
        let total = usize::from(packet.total_len());
        let raw = data.get(..total).unwrap_or(data);
        let payload = packet.payload();
        if repr.more_frags || repr.frag_offset != 0 {
            self.fragment_input(now, &repr, payload, broadcast);
            return;
        }
        self.deliver(now, &repr, payload, raw, broadcast);
    }

    /// Hands a whole datagram to its protocol. `raw` is the datagram as received (or as
    /// rebuilt after reassembly), quoted by the ICMP errors it causes.
    fn deliver(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        raw: &[u8],
        broadcast: bool,
    ) {
        match ip.protocol {
            Protocol::Icmp => {
                self.counters.ip_in_delivers += 1;
                self.icmp_input(now, ip, payload, broadcast);
            }
            Protocol::Udp => {
                self.counters.ip_in_delivers += 1;
                self.udp_input(now, ip, payload, raw, broadcast);
            }
            // TCP is unicast only (RFC 1122 §4.2.3.10).
            Protocol::Tcp if broadcast => self.counters.ip_in_addr_errors += 1,
            Protocol::Tcp => {
                self.counters.ip_in_delivers += 1;
                self.tcp_input(now, ip, payload);
            }
            _ => {
                self.counters.ip_in_unknown_protos += 1;
                if !broadcast {
                    self.icmp_error(now, icmpv4::DstUnreachable::ProtoUnreachable, ip, raw);
                }
            }
        }
    }

    fn icmp_input(&mut self, now: Instant, ip: &ipv4::Repr, payload: &[u8], broadcast: bool) {
        self.counters.icmp_in_msgs += 1;
        let Ok(packet) = icmpv4::Packet::new_checked(payload) else {
            self.counters.icmp_in_errors += 1;
            return;
        };
        let repr = match icmpv4::Repr::parse(&packet, &self.config.checksums) {
            Ok(repr) => repr,
            Err(crate::wire::Error::Unsupported) => return,
            Err(_) => {
                self.counters.icmp_in_errors += 1;
                return;
            }
        };
        match repr {
            icmpv4::Repr::EchoRequest { ident, seq_no, data } => {
                self.counters.icmp_in_echos += 1;
                // Like Linux's icmp_echo_ignore_broadcasts: no smurf amplifier.
                if broadcast {
                    return;
                }
                let reply = icmpv4::Repr::EchoReply { ident, seq_no, data };
                let packet = self.icmp_packet(ip.dst_addr, ip.src_addr, &reply);
                if self.send_ip(now, ip.src_addr, packet, None).is_ok() {
                    self.counters.icmp_out_msgs += 1;
                    self.counters.icmp_out_echo_reps += 1;
                }
            }
            icmpv4::Repr::EchoReply { ident, seq_no, data } => {
                self.counters.icmp_in_echo_reps += 1;
                let reply =
                    PingReply { from: ip.src_addr, seq: seq_no, at: now, data_len: data.len() };
                self.pings.record(ident, reply);
            }
            icmpv4::Repr::DstUnreachable { reason, next_hop_mtu, header, data } => {
                self.counters.icmp_in_dest_unreachs += 1;
                self.dst_unreachable(now, reason, next_hop_mtu, &header, data);
            }
            icmpv4::Repr::TimeExceeded { .. } => {}
        }
    }

    // ---- output ----

    /// Sends a destination unreachable error about `raw`, unless its source is unspecified
    /// or the rate limit says no. The callers hold the rest of RFC 1122 §3.2.2: they pass
    /// only whole (or reassembled), non-ICMP datagrams not sent to a broadcast address.
    fn icmp_error(
        &mut self,
        now: Instant,
        reason: icmpv4::DstUnreachable,
        ip: &ipv4::Repr,
        raw: &[u8],
    ) {
        if ip.src_addr.is_unspecified() {
            return;
        }
        if !self.icmp_bucket.take(now) {
            self.counters.icmp_out_rate_limited += 1;
            return;
        }
        let Ok(repr) = icmpv4::Repr::dst_unreachable(reason, raw) else { return };
        let packet = self.icmp_packet(ip.dst_addr, ip.src_addr, &repr);
        if self.send_ip(now, ip.src_addr, packet, None).is_ok() {
            self.counters.icmp_out_msgs += 1;
            self.counters.icmp_out_dest_unreachs += 1;
        }
    }

    /// A whole IPv4 datagram carrying `repr`.
    fn icmp_packet(&mut self, src: Ipv4Addr, dst: Ipv4Addr, repr: &icmpv4::Repr<'_>) -> Vec<u8> {
        let len = repr.buffer_len();
        let mut packet = self.ip_packet(src, dst, Protocol::Icmp, len, false);
        let body = &mut packet[ipv4::HEADER_LEN..];
        repr.emit(&mut icmpv4::Packet::new_unchecked(body), &self.config.checksums);
        packet
    }

    /// A datagram of `payload_len` zero bytes behind a filled-in IPv4 header.
    fn ip_packet(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: Protocol,
        payload_len: usize,
        dont_frag: bool,
    ) -> Vec<u8> {
        let repr = ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol,
            payload_len,
            ttl: TTL,
            tos: 0,
            ident: self.next_ident(),
            dont_frag,
            more_frags: false,
            frag_offset: 0,
        };
        let mut packet = vec![0; repr.buffer_len()];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut packet[..]), &self.config.checksums);
        packet
    }

    fn next_ident(&mut self) -> u16 {
        bump_ident(&mut self.ip_ident)
    }

    /// Routes a whole datagram to `dst`: straight to the control queue when its next hop
    /// is known, or to the neighbour's pending queue while ARP resolves it.
    fn send_ip(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        packet: Vec<u8>,
        owner: Option<SocketHandle>,
    ) -> Result<(), Error> {
        self.counters.ip_out_requests += 1;
        if self.config.medium == Medium::Ip {
            return self.push_ip(ethernet::Address::BROADCAST, packet);
        }
        let Some(hop) = self.iface.next_hop(dst) else {
            self.counters.ip_out_no_routes += 1;
            return Err(Error::NetworkUnreachable);
        };
        if self.iface.is_broadcast(dst) {
            return self.push_ip(ethernet::Address::BROADCAST, packet);
        }
        if let Some(mac) = self.neighbors.lookup(now, hop) {
            return self.push_ip(mac, packet);
        }
        match self.neighbors.enqueue(now, hop, Pending { packet, owner }) {
            Enqueued::Queued => Ok(()),
            Enqueued::Dropped => {
                self.counters.ip_out_discards += 1;
                Err(Error::NoBufferSpace)
            }
        }
    }

    fn push_ip(&mut self, dst: ethernet::Address, packet: Vec<u8>) -> Result<(), Error> {
        if self.push_datagram(dst, packet) { Ok(()) } else { Err(Error::NoBufferSpace) }
    }

    /// Queues a frame in the bounded control queue; `false` (and counted) when full.
    fn push_link(
        &mut self,
        dst: ethernet::Address,
        ethertype: ethernet::EtherType,
        payload: Vec<u8>,
    ) -> bool {
        if self.link_out.len() >= LINK_QUEUE {
            self.counters.ip_out_discards += 1;
            return false;
        }
        self.link_out.push_back(LinkFrame { dst, ethertype, payload });
        true
    }

    /// The link header for the medium, written at the front of `buf`; returns its length,
    /// or `None` when `buf` cannot hold it and `payload_len` more bytes.
    fn link_header(
        &self,
        buf: &mut [u8],
        dst: ethernet::Address,
        ethertype: ethernet::EtherType,
        payload_len: usize,
    ) -> Option<usize> {
        match self.config.medium {
            Medium::Ip => (buf.len() >= payload_len).then_some(0),
            Medium::Ethernet => {
                let repr = ethernet::Repr {
                    src_addr: self.config.mac,
                    dst_addr: dst,
                    ethertype,
                    vlan: None,
                };
                let len = repr.buffer_len(payload_len);
                let frame = buf.get_mut(..len)?;
                repr.emit(&mut ethernet::Frame::new_unchecked(frame));
                Some(repr.header_len())
            }
        }
    }

    fn write_frame(
        &self,
        buf: &mut [u8],
        dst: ethernet::Address,
        ethertype: ethernet::EtherType,
        payload: &[u8],
    ) -> Option<usize> {
        let header = self.link_header(buf, dst, ethertype, payload.len())?;
        let end = header + payload.len();
        buf.get_mut(header..end)?.copy_from_slice(payload);
        Some(end)
    }

    fn arp_request(
        &self,
        buf: &mut [u8],
        target: Ipv4Addr,
        unicast: Option<ethernet::Address>,
    ) -> Option<usize> {
        let src = self.iface.source_for(target)?;
        let repr = warp::Repr {
            operation: warp::Operation::Request,
            source_hardware_addr: self.config.mac,
            source_protocol_addr: src,
            target_hardware_addr: ethernet::Address([0; 6]),
            target_protocol_addr: target,
        };
        let dst = unicast.unwrap_or(ethernet::Address::BROADCAST);
        let header = self.link_header(buf, dst, ethernet::EtherType::Arp, repr.buffer_len())?;
        let body = buf.get_mut(header..header + repr.buffer_len())?;
        repr.emit(&mut warp::Packet::new_unchecked(body));
        Some(header + repr.buffer_len())
    }

    // ---- sockets ----

    /// Tells `owner` its datagram's next hop never answered.
    fn unreachable(&mut self, now: Instant, owner: SocketHandle) {
        match owner {
            SocketHandle::Udp(h) => {
                if let Some(s) = self.udp.sockets.get_mut(h.0) {
                    s.error = Some(Error::HostUnreachable);
                }
                self.wake(owner);
            }
            SocketHandle::Tcp(h) => self.tcp_unreachable(now, h.0),
            SocketHandle::Listener(_) => {}
        }
    }

    /// An ICMP destination unreachable about a datagram we sent: `header` and the first
    /// bytes of its payload. RFC 1122 §4.1.3.3: a connected UDP socket learns of it.
    fn dst_unreachable(
        &mut self,
        now: Instant,
        reason: icmpv4::DstUnreachable,
        next_hop_mtu: u16,
        header: &ipv4::Repr,
        data: &[u8],
    ) {
        use icmpv4::DstUnreachable as U;
        if !self.iface.has_addr(header.src_addr) {
            return;
        }
        let port = |i: usize| data.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let (Some(sport), Some(dport)) = (port(0), port(2)) else { return };
        let local = SocketAddrV4::new(header.src_addr, sport);
        let remote = SocketAddrV4::new(header.dst_addr, dport);
        // The quoted TCP sequence number, for RFC 5927's in-window check.
        let seq = data.get(4..8).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let seq = seq.map(crate::wire::tcp::SeqNumber);
        let error = match reason {
            U::PortUnreachable | U::ProtoUnreachable => Error::ConnectionRefused,
            U::NetUnreachable | U::DstNetUnknown => Error::NetworkUnreachable,
            U::FragRequired if header.protocol == Protocol::Tcp => {
                self.tcp_icmp_error(now, (local, remote), seq, None, Some(next_hop_mtu));
                return;
            }
            U::FragRequired => return,
            _ => Error::HostUnreachable,
        };
        if header.protocol == Protocol::Tcp {
            self.tcp_icmp_error(now, (local, remote), seq, Some(error), None);
            return;
        }
        if header.protocol == Protocol::Udp {
            let Some(key) = self.udp.by_local(local) else { return };
            let Some(s) = self.udp.sockets.get_mut(key) else { return };
            if s.remote == Some(remote) {
                s.error = Some(error);
                self.wake(SocketHandle::Udp(UdpHandle(key)));
            }
        }
    }

    fn udp_input(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        raw: &[u8],
        broadcast: bool,
    ) {
        let (src_ip, dst_ip) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
        let Ok(packet) = wudp::Packet::new_checked(payload) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let Ok(repr) = wudp::Repr::parse(&packet, src_ip, dst_ip, &self.config.checksums) else {
            self.counters.udp_in_errors += 1;
            return;
        };
        let src = SocketAddrV4::new(ip.src_addr, repr.src_port);
        let dst = SocketAddrV4::new(ip.dst_addr, repr.dst_port);
        let Some(key) = self.udp.lookup(dst, src) else {
            self.counters.udp_no_ports += 1;
            if !broadcast {
                self.icmp_error(now, icmpv4::DstUnreachable::PortUnreachable, ip, raw);
            }
            return;
        };
        let Some(socket) = self.udp.sockets.get_mut(key) else { return };
        if socket.push(src, packet.payload()) {
            self.counters.udp_in_datagrams += 1;
            self.wake(SocketHandle::Udp(UdpHandle(key)));
        } else {
            self.counters.udp_in_errors += 1;
        }
    }

    /// Checks that `ip` may be a local address: ours or unspecified.
    fn check_local(&self, ip: IpAddr) -> Result<Ipv4Addr, Error> {
        let ip = v4(ip).ok_or(Error::InvalidInput)?;
        if ip.is_unspecified() || self.iface.has_addr(ip) {
            Ok(ip)
        } else {
            Err(Error::AddrNotAvailable)
        }
    }

    /// Checks that `addr` may be a remote address: IPv4, not unspecified, port not 0.
    fn check_remote(addr: SocketAddr) -> Result<SocketAddrV4, Error> {
        match addr {
            SocketAddr::V4(a) if !a.ip().is_unspecified() && a.port() != 0 => Ok(a),
            _ => Err(Error::InvalidInput),
        }
    }

    // ---- UDP API ----

    /// Binds a UDP socket to `local`: one of our addresses or the unspecified address, and
    /// a port, 0 for an ephemeral one. [`Error::AddrInUse`] if taken,
    /// [`Error::AddrNotAvailable`] if the address is not ours.
    pub fn udp_bind(&mut self, local: SocketAddr) -> Result<UdpHandle, Error> {
        let ip = self.check_local(local.ip())?;
        let port = if local.port() == 0 {
            let salt = self.rng.next_u32();
            let udp = &self.udp;
            self.ports
                .allocate(ip, None, salt, |p| !udp.in_use(SocketAddrV4::new(ip, p)))
                .ok_or(Error::AddrNotAvailable)?
        } else {
            local.port()
        };
        let local = SocketAddrV4::new(ip, port);
        if self.udp.in_use(local) {
            return Err(Error::AddrInUse);
        }
        Ok(UdpHandle(self.udp.bind(local, self.config.udp_recv_queue)))
    }

    /// Connects a UDP socket: `udp_send` goes to `remote`, and only datagrams from it are
    /// received.
    pub fn udp_connect(&mut self, h: UdpHandle, remote: SocketAddr) -> Result<(), Error> {
        let remote = Self::check_remote(remote)?;
        let s = self.udp.sockets.get_mut(h.0).ok_or(Error::InvalidInput)?;
        s.remote = Some(remote);
        s.error = None;
        Ok(())
    }

    /// Sends `data` as one datagram to `to`; returns its length. [`Error::MessageTooLong`]
    /// above 65507 bytes; larger than the MTU, it is fragmented.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: UdpHandle,
        data: &[u8],
        to: SocketAddr,
    ) -> Result<usize, Error> {
        let to = Self::check_remote(to)?;
        let local = self.udp.sockets.get(h.0).ok_or(Error::InvalidInput)?.local;
        if data.len() > 65535 - ipv4::HEADER_LEN - wudp::HEADER_LEN {
            return Err(Error::MessageTooLong);
        }
        let src = if local.ip().is_unspecified() {
            match self.iface.source_for(*to.ip()) {
                Some(src) => src,
                None => {
                    self.counters.ip_out_no_routes += 1;
                    return Err(Error::NetworkUnreachable);
                }
            }
        } else {
            *local.ip()
        };
        let repr = wudp::Repr { src_port: local.port(), dst_port: to.port() };
        let len = repr.buffer_len(data.len());
        let mut packet = self.ip_packet(src, *to.ip(), Protocol::Udp, len, false);
        let (s, d) = (IpAddr::V4(src), IpAddr::V4(*to.ip()));
        let body = &mut packet[ipv4::HEADER_LEN..];
        repr.emit(
            &mut wudp::Packet::new_unchecked(body),
            s,
            d,
            data.len(),
            |p| p.copy_from_slice(data),
            &self.config.checksums,
        )
        .map_err(|_| Error::MessageTooLong)?;
        // Not DF: larger than the MTU, it goes out in fragments.
        self.send_ip(now, *to.ip(), packet, Some(SocketHandle::Udp(h)))?;
        self.counters.udp_out_datagrams += 1;
        Ok(data.len())
    }

    /// Sends `data` to the connected peer.
    pub fn udp_send(&mut self, now: Instant, h: UdpHandle, data: &[u8]) -> Result<usize, Error> {
        let s = self.udp.sockets.get(h.0).ok_or(Error::InvalidInput)?;
        let remote = s.remote.ok_or(Error::NotConnected)?;
        self.udp_send_to(now, h, data, SocketAddr::V4(remote))
    }

    /// Receives the oldest datagram into `buf` (the rest of a longer one is discarded);
    /// [`Error::WouldBlock`] when none waits. A pending error (from ICMP) comes first.
    pub fn udp_recv_from(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), Error> {
        let s = self.udp.sockets.get_mut(h.0).ok_or(Error::InvalidInput)?;
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        s.pop(buf).map(|(n, from)| (n, SocketAddr::V4(from))).ok_or(Error::WouldBlock)
    }

    /// Receives from the connected peer, like [`Stack::udp_recv_from`].
    pub fn udp_recv(&mut self, h: UdpHandle, buf: &mut [u8]) -> Result<usize, Error> {
        self.udp_recv_from(h, buf).map(|(n, _)| n)
    }

    /// Takes the socket's pending error, if any.
    pub fn udp_take_error(&mut self, h: UdpHandle) -> Option<Error> {
        self.udp.sockets.get_mut(h.0)?.error.take()
    }

    /// The address the socket is bound to.
    pub fn udp_local_addr(&self, h: UdpHandle) -> Option<SocketAddr> {
        self.udp.sockets.get(h.0).map(|s| SocketAddr::V4(s.local))
    }

    /// The peer the socket is connected to.
    pub fn udp_peer_addr(&self, h: UdpHandle) -> Option<SocketAddr> {
        self.udp.sockets.get(h.0)?.remote.map(SocketAddr::V4)
    }

    /// Closes the socket; its handle becomes stale.
    pub fn udp_close(&mut self, h: UdpHandle) {
        self.udp.close(h.0);
    }

    fn wake(&mut self, h: SocketHandle) {
        if self.wake_set.insert(h) {
            self.wakes.push_back(h);
        }
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}

/// The IPv4 address of an `IpAddr`, if it is one.
fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    }
}

/// Advances the IPv4 identification counter and returns the new value.
fn bump_ident(ident: &mut u16) -> u16 {
    *ident = ident.wrapping_add(1);
    *ident
}
