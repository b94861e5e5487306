//! The host: one interface and all its sockets, Sans-IO.
//!
//! A [`Stack`] owns the interface (addresses, routes, MTU), the neighbour caches, IPv4
//! reassembly, the ICMP, UDP and TCP socket tables and the counters; with
//! [`Config::ipv6`], IPv6 too: addresses through duplicate address detection, configured
//! or made from router advertisements (SLAAC), neighbour discovery, ICMPv6 echo and errors,
//! MLDv2 reports, path MTU from Packet Too Big, and UDP and TCP over both families with
//! dual-stack sockets and listeners. It never reads a clock, never does I/O and draws randomness only from the seeded generator its [`Config`] makes.
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
//!
//! # Layout
//!
//! This file holds the configuration and the dispatch; each layer's input, output and
//! socket API live together, each in its own file:
//!
//! * `link`: Ethernet in and out, ARP, the control queue of frames; `neighbor`: the
//!   neighbour cache, with the reachability states both ARP and IPv6 neighbour discovery use;
//! * `ipv4`: datagrams in and out, routing; `fragment`, `reassembly`: fragments both ways;
//! * `ipv6`: packets in and out, extension headers, duplicate address detection; `iface6`:
//!   IPv6 addresses (stable link-local, RFC 7217), groups, routes and source selection;
//!   `nd`: ICMPv6 at the host — echo, neighbour discovery, MLDv2 reports;
//! * `icmp`: echo, errors sent and received; `udp`: UDP input and sockets; `tcp`: the
//!   connection table, listeners, timers and TCP input and output;
//! * `socket`: the socket API's errors and handles; `iface`, `ports`, `slab`, `counters`:
//!   addresses and routes, ephemeral ports, the socket slab, counters and events.

mod counters;
mod fragment;
mod icmp;
mod iface;
mod iface6;
mod intercept;
mod ipv4;
mod ipv6;
mod link;
mod memory;
mod nd;
mod neighbor;
mod ports;
mod reassembly;
mod slab;
mod socket;
mod tcp;
mod trace;
mod udp;

pub use counters::{Counters, Event, EventKind};
pub use icmp::PingReply;
pub use iface::{Ipv4Cidr, ParseCidrError};
pub use iface6::Ipv6Cidr;
pub use intercept::{HeldSyn, IpCidr, Refusal};
pub use memory::{MemoryLevel, MemoryUse};
pub use socket::{Error, ListenerHandle, SocketHandle, TcpHandle, UdpHandle};
pub use tcp::TcpSocket;
pub use trace::{MAX_TRACE_RECORDS, TraceRecord};

use std::collections::{HashSet, VecDeque};

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::{Checksum, Checksums, ethernet, virtio};
use icmp::{Pings, TokenBucket};
use iface::Interface;
use link::LinkFrame;
use neighbor::{Neighbors, NudConfig};
use ports::Ports;
use reassembly::Reassembler;
use tcp::TcpTable;
use udp::UdpTable;

/// The TTL of the datagrams we send (Linux's default).
const TTL: u8 = 64;
/// The most frames waiting in the control queue (ARP, ICMP, RST, UDP) at once.
const LINK_QUEUE: usize = 4096;
/// The most events kept for [`Stack::poll_event`]; older ones are dropped.
const MAX_EVENTS: usize = 1 << 16;

/// What the stack's frames carry: the link it runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Medium {
    /// Ethernet II frames, with ARP (a TAP device, a virtual Ethernet wire).
    Ethernet,
    /// Bare IP packets, no link header and no ARP (a TUN device).
    Ip,
}

/// The offloads a device negotiated with its kernel (a TAP or TUN opened with
/// `IFF_VNET_HDR`), which change how the stack frames what it sends and reads what it
/// receives. The default is none: plain frames, every checksum in software, nothing larger
/// than the MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Offloads {
    /// Every frame, both ways, starts with a virtio-net header
    /// ([`wire::virtio`](crate::wire::virtio)). Received frames whose header says their
    /// transport checksum was verified, or is left to be filled in, are not checked again;
    /// frames up to 64 KiB may arrive (segments the kernel coalesced).
    pub virtio_header: bool,
    /// The device cuts large TCP segments of either family into MSS-sized ones (TSO):
    /// connections may send segments of up to this many payload bytes, which leave with a
    /// virtio-net header saying how to cut them. `0` is off; it needs `virtio_header`.
    pub tcp_segmentation: usize,
}

impl Offloads {
    /// The most TCP payload one segment for the device to cut may carry: a 64 KiB IPv4
    /// datagram less its header and the largest TCP header (an IPv6 one, whose length
    /// field leaves out its own header, holds as much).
    pub const MAX_SEGMENT_PAYLOAD: usize = 65_535 - 20 - 60;

    /// TCP segmentation offload as far as one IP datagram goes, with the virtio-net header
    /// it needs.
    pub const SEGMENTATION: Self =
        Self { virtio_header: true, tcp_segmentation: Self::MAX_SEGMENT_PAYLOAD };

    /// The largest frame the stack writes or reads on a link with these offloads whose IP
    /// MTU is `mtu` and whose link header takes `link` bytes.
    pub const fn max_frame_len(&self, mtu: usize, link: usize) -> usize {
        if !self.virtio_header {
            return mtu + link;
        }
        // A coalesced or to-be-cut segment is one IP datagram of at most 64 KiB: an IPv6
        // one's length leaves out its 40-byte header.
        let packet = if mtu > 65_535 + 40 { mtu } else { 65_535 + 40 };
        crate::wire::virtio::HEADER_LEN + link + packet
    }
}

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
    /// The device's offloads (default none).
    pub offloads: Offloads,
    /// How long a resolved neighbour is trusted (default 60 s).
    pub arp_cache_ttl: Duration,
    /// ARP requests sent before a neighbour is declared unreachable (default 3).
    pub arp_retries: u32,
    /// Time between ARP requests (default 1 s).
    pub arp_retry_interval: Duration,
    /// Datagrams queued per unresolved neighbour (default 16).
    pub arp_pending_limit: usize,
    /// Static neighbours (Ethernet only): IPv4 addresses whose MAC is known in advance,
    /// like `ip neigh add .. nud permanent`. They are never resolved, refreshed or
    /// forgotten, and ARP packets do not change them. Default none. For point-to-point
    /// links and for simulations whose timings must not include an ARP exchange
    /// ([`crate::sim`]).
    pub neighbors: Vec<(Ipv4Addr, ethernet::Address)>,
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
    /// The memory budget of the whole stack, in bytes (default 512 MiB): connections and
    /// their buffers, UDP queues, reassembly, datagrams waiting for a neighbour. Under
    /// pressure (from ¾ of it) buffers stop growing; at the limit new connections,
    /// datagrams and fragments are refused, each counted. See [`Stack::memory`].
    pub memory_limit: usize,
    /// IPv6 on the interface: `None` (the default) leaves it off, and IPv6 packets are
    /// dropped and counted.
    pub ipv6: Option<Ipv6Config>,
}

/// How the interface speaks IPv6. [`Ipv6Config::default`] gives it a link-local address
/// and nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv6Config {
    /// Addresses with their prefixes, beside the link-local one (`fe80::/64`, always
    /// there); each prefix is on-link.
    pub addresses: Vec<Ipv6Cidr>,
    /// The default router: the address of a neighbour, usually link-local.
    pub gateway: Option<Ipv6Addr>,
    /// The secret that makes the link-local address stable and opaque (RFC 7217): the
    /// same secret and MAC give the same address every time, and the address says nothing
    /// of the MAC. `None` draws it from the seed, so the address changes with the seed.
    pub stable_secret: Option<[u8; 16]>,
    /// Neighbour solicitations sent to check that an address is unique before it is used
    /// (RFC 4862 `DupAddrDetectTransmits`, default 1). 0 uses every address at once.
    pub dad_transmits: u32,
    /// The time between neighbour solicitations (RFC 4861 `RetransTimer`, default 1 s).
    pub retrans_timer: Duration,
    /// How long a confirmed neighbour is trusted (RFC 4861 `ReachableTime`, default 30 s).
    pub reachable_time: Duration,
    /// The hop limit of the packets we send (default 64; a router advertisement may set
    /// another).
    pub hop_limit: u8,
    /// Whether router advertisements are taken (default on): their default router,
    /// on-link prefixes, MTU, hop limit, and an address made on each autonomous /64 prefix
    /// (SLAAC, RFC 4862 §5.5.3), stable and opaque like the link-local one (RFC 7217).
    pub accept_ra: bool,
    /// Router solicitations sent at start, 4 s apart, until an advertisement comes (RFC
    /// 4861 `MAX_RTR_SOLICITATIONS`, default 3); 0 waits for the routers' own.
    pub router_solicitations: u32,
    /// Neighbours known from the start, never solicited nor forgotten (like `ip -6 neigh
    /// add .. nud permanent`); unicast MACs only.
    pub neighbors: Vec<(Ipv6Addr, ethernet::Address)>,
    /// How long the fragments of an IPv6 packet wait for the rest (RFC 8200 §4.5: 60 s).
    /// They share [`Config::reassembly_memory`] with IPv4's.
    pub reassembly_timeout: Duration,
}

impl Default for Ipv6Config {
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            gateway: None,
            stable_secret: None,
            dad_transmits: 1,
            retrans_timer: Duration::from_secs(1),
            reachable_time: Duration::from_secs(30),
            hop_limit: 64,
            accept_ra: true,
            router_solicitations: 3,
            neighbors: Vec::new(),
            reassembly_timeout: Duration::from_secs(60),
        }
    }
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
            offloads: Offloads::default(),
            arp_cache_ttl: Duration::from_secs(60),
            arp_retries: 3,
            arp_retry_interval: Duration::from_secs(1),
            arp_pending_limit: 16,
            neighbors: Vec::new(),
            reassembly_timeout: Duration::from_secs(30),
            reassembly_memory: 1 << 20,
            icmp_rate: 100,
            udp_recv_queue: 256 << 10,
            max_syn_backlog: 256,
            memory_limit: 512 << 20,
            ipv6: None,
        }
    }
}

/// Why a [`Config`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No address at all, or an unusable one (unspecified, multicast, broadcast, loopback).
    BadAddress,
    /// The gateway is not on any of our prefixes.
    GatewayNotOnLink,
    /// The MTU is below IPv4's 576 (IPv6's 1280 when it is on) or above 65535.
    BadMtu,
    /// The ephemeral port range is empty or starts at 0.
    BadPortRange,
    /// The Ethernet address, ours or a static neighbour's, is not unicast.
    BadMac,
    /// No seed was given: a stack's keys must not be predictable.
    NoSeed,
    /// TCP segmentation offload without the virtio-net header that tells the device how
    /// to cut the segments.
    BadOffloads,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadAddress => {
                "the stack needs unicast addresses only, and an IPv4 one or IPv6 (Config::ipv6)"
            }
            Self::GatewayNotOnLink => "the gateway is not on any of the stack's prefixes",
            Self::BadMtu => "the MTU must be between 576 and 65535, and 1280 or more with IPv6",
            Self::BadPortRange => "the ephemeral port range must be non-empty and above 0",
            Self::BadMac => "the MAC address must be unicast",
            Self::NoSeed => {
                "the stack needs a seed (Config::seed), secret and random in production"
            }
            Self::BadOffloads => {
                "TCP segmentation offload needs the virtio-net header (Offloads::virtio_header)"
            }
        })
    }
}

impl std::error::Error for ConfigError {}

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
    /// The stack-wide memory budget's level.
    budget: memory::Budget,
    /// Records of traced connections, for the application to take.
    traces: VecDeque<TraceRecord>,
    /// IPv6, when the configuration turns it on.
    v6: Option<ipv6::V6>,
    /// What is taken over though not addressed to us (transparent mode).
    intercepts: intercept::Intercepts,
    /// The frame being received carried a virtio-net header saying its transport checksum
    /// needs no check.
    rx_checksum_trusted: bool,
    /// The virtio-net header of the frame being sent, when it is not a plain one (a TCP
    /// segment for the device to cut, or whose checksum it fills in).
    tx_virtio: Option<virtio::Repr>,
}

impl Stack {
    /// A stack configured by `config`.
    pub fn new(mut config: Config) -> Result<Self, ConfigError> {
        let usable = |ip: Ipv4Addr| {
            !(ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback())
        };
        if !config.addresses.iter().all(|c| usable(c.addr)) {
            return Err(ConfigError::BadAddress);
        }
        let usable6 = |c: &Ipv6Cidr| {
            let ip = c.addr;
            !(ip.is_unspecified() || ip.is_multicast() || ip.is_loopback()) && c.prefix_len <= 128
        };
        match &config.ipv6 {
            None if config.addresses.is_empty() => return Err(ConfigError::BadAddress),
            Some(v6) if !v6.addresses.iter().all(usable6) => return Err(ConfigError::BadAddress),
            Some(v6) if v6.gateway.is_some_and(|g| g.is_multicast() || g.is_unspecified()) => {
                return Err(ConfigError::GatewayNotOnLink);
            }
            Some(_) if config.mtu < crate::wire::ipv6::MIN_MTU => return Err(ConfigError::BadMtu),
            _ => {}
        }
        if let Some(gw) = config.gateway {
            if !config.addresses.iter().any(|c| c.contains(gw)) || !usable(gw) {
                return Err(ConfigError::GatewayNotOnLink);
            }
        }
        if !(576..=65535).contains(&config.mtu) {
            return Err(ConfigError::BadMtu);
        }
        if config.offloads.tcp_segmentation > 0 && !config.offloads.virtio_header {
            return Err(ConfigError::BadOffloads);
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
        let mut neighbors = Neighbors::new(NudConfig {
            reachable_time: config.arp_cache_ttl,
            retries: config.arp_retries.max(1),
            retry_interval: config.arp_retry_interval,
            // ARP probes a stale entry as soon as it is used.
            delay_first_probe: Duration::ZERO,
            pending_limit: config.arp_pending_limit,
        });
        for &(ip, mac) in &config.neighbors {
            if !mac.is_unicast() {
                return Err(ConfigError::BadMac);
            }
            neighbors.insert_static(ip, mac);
        }
        let bad_mac =
            config.ipv6.iter().flat_map(|c| &c.neighbors).any(|(_, mac)| !mac.is_unicast());
        if bad_mac {
            return Err(ConfigError::BadMac);
        }
        // Drawn last, and only with IPv6 on, so an IPv4-only stack's keys stay as they were.
        let v6 = config.ipv6.as_ref().map(|c| {
            let secret = c.stable_secret.unwrap_or_else(|| {
                let mut secret = [0; 16];
                rng.fill(&mut secret);
                secret
            });
            ipv6::V6::new(c, config.mac, secret)
        });
        Ok(Self {
            iface: Interface { addresses: config.addresses.clone(), gateway: config.gateway },
            neighbors,
            link_out: VecDeque::new(),
            ip_ident,
            reasm: Reassembler::new(
                config.reassembly_timeout,
                config.ipv6.as_ref().map_or(Duration::from_secs(60), |c| c.reassembly_timeout),
                config.reassembly_memory,
            ),
            icmp_bucket: TokenBucket::new(config.icmp_rate),
            pings: Pings::default(),
            ports,
            udp: UdpTable::default(),
            tcp: TcpTable::new(isn_key, cookie_key, &config.tcp),
            counters: Counters::default(),
            events: VecDeque::new(),
            wakes: VecDeque::new(),
            wake_set: HashSet::new(),
            v6,
            budget: memory::Budget::new(config.memory_limit),
            traces: VecDeque::new(),
            rx_checksum_trusted: false,
            tx_virtio: None,
            intercepts: intercept::Intercepts::default(),
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
        let frame = if self.config.offloads.virtio_header {
            match virtio::Repr::parse(frame) {
                Ok(header) => {
                    self.rx_checksum_trusted = header.checksum_trusted();
                    frame.get(virtio::HEADER_LEN..).unwrap_or_default()
                }
                Err(_) => {
                    self.counters.eth_dropped += 1;
                    return;
                }
            }
        } else {
            frame
        };
        match self.config.medium {
            // A bare IP packet says its family in its first four bits.
            Medium::Ip if frame.first().is_some_and(|b| b >> 4 == 6) => {
                self.ipv6_input(now, frame);
            }
            Medium::Ip => self.ipv4_input(now, frame),
            Medium::Ethernet => self.ethernet_input(now, frame),
        }
        self.rx_checksum_trusted = false;
    }

    /// The checksums to verify on the frame being received: the configured ones, less the
    /// transport checksums its virtio-net header vouched for.
    pub(crate) fn rx_checksums(&self) -> Checksums {
        let mut checksums = self.config.checksums;
        if self.rx_checksum_trusted {
            let unverified = |c: Checksum| if c.compute() { Checksum::Tx } else { Checksum::None };
            checksums.tcp = unverified(checksums.tcp);
            checksums.udp = unverified(checksums.udp);
        }
        checksums
    }

    /// Writes the next frame to send into `buf` and returns its length; `None` when there is
    /// nothing to send. Give a buffer of at least MTU + 14 bytes (with offloads,
    /// [`Offloads::max_frame_len`]); a frame that does not fit is dropped.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if !self.config.offloads.virtio_header {
            return self.poll_frame(now, buf);
        }
        let (header, frame) = buf.split_at_mut_checked(virtio::HEADER_LEN)?;
        let len = self.poll_frame(now, frame)?;
        let repr = self.tx_virtio.take().unwrap_or(virtio::Repr::PLAIN);
        repr.emit(header).ok()?;
        Some(virtio::HEADER_LEN + len)
    }

    /// The next frame, without the virtio-net header.
    fn poll_frame(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.tx_virtio = None;
        loop {
            if let Some(len) = self.link_poll_transmit(buf) {
                return Some(len);
            }
            if let Some(len) = self.tcp_poll_transmit(now, buf) {
                return Some(len);
            }
            // A connection's segment may have started an ARP resolution.
            if !self.link_pending() {
                return None;
            }
        }
    }

    /// The latest instant at which [`Stack::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let v6 = self.v6.as_ref().and_then(ipv6::V6::poll_at);
        [self.neighbors.poll_at(), self.tcp.poll_at(), self.reasm.poll_at(), v6]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`: ARP and neighbour discovery retries and failures,
    /// duplicate address detection, TCP timers, reassembly time-outs.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tcp_handle_timeout(now);
        self.reassembly_timeout(now);
        self.ipv6_timeout(now);
        for (_, queue) in self.neighbors.handle_timeout(now) {
            self.counters.arp_failed += 1;
            self.counters.ip_out_discards += self.fail_pending(now, queue);
        }
        // Reassembly and neighbour queues may have let memory go.
        self.memory_changed();
    }

    /// Drops the datagrams that waited for a neighbour that never answered, telling each
    /// one's socket its host is unreachable; returns how many there were.
    fn fail_pending(&mut self, now: Instant, queue: VecDeque<neighbor::Pending>) -> u64 {
        let dropped = queue.len() as u64;
        for pending in queue {
            if let Some(owner) = pending.owner {
                self.unreachable(now, owner);
            }
        }
        dropped
    }

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
