//! The stack test harness: `Stack`s joined by a `VirtualWire` on a `VirtualClock` that
//! jumps to the next deadline (a stack's `poll_timeout` or a frame's arrival), so seconds
//! of protocol time cost only the work done in them.
#![allow(dead_code, unreachable_pub, missing_docs)]

use pila::device::{Device, Endpoint, FrameBatch, Medium, VirtualWire, WireConfig};
use pila::stack::{Config, Stack};
use pila::time::{Duration, Instant, VirtualClock};
use pila::wire::ethernet;

/// One host: a stack and its end of the wire.
pub struct Host {
    pub stack: Stack,
    pub dev: Endpoint,
}

/// Two hosts on one wire, A (index 0) and B (index 1).
pub struct Net {
    pub clock: VirtualClock,
    pub hosts: [Host; 2],
    /// Every frame sent, with the sender's index, when `capture` is on.
    pub sent: Vec<(usize, Vec<u8>)>,
    pub capture: bool,
    /// A router between A and B with this IP MTU: a datagram larger than it with DF set
    /// does not pass, and its sender gets an ICMP "fragmentation needed" (RFC 1191).
    pub path_mtu: Option<usize>,
    /// Frames datagrams the router bounced, fed back to each host with its next input.
    bounced: [Vec<Vec<u8>>; 2],
    batch: FrameBatch,
    buf: Vec<u8>,
}

pub const A_IP: &str = "192.0.2.1";
pub const B_IP: &str = "192.0.2.2";
pub const A_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x0a]);
pub const B_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x0b]);

/// The configuration of host A or B on 192.0.2.0/24.
pub fn config(b: bool) -> Config {
    Config {
        mac: if b { B_MAC } else { A_MAC },
        addresses: vec![format!("{}/24", if b { B_IP } else { A_IP }).parse().unwrap()],
        seed: Some(if b { 2 } else { 1 }),
        ..Config::default()
    }
}

impl Net {
    /// A and B with the default configurations on a perfect Ethernet wire.
    pub fn new() -> Self {
        Self::with(config(false), config(true), WireConfig::default())
    }

    pub fn with(a: Config, b: Config, wire: WireConfig) -> Self {
        let wire = if a.medium == Medium::Ip { wire.with_medium(Medium::Ip, a.mtu) } else { wire };
        let (ea, eb) = VirtualWire::pair(wire);
        Self {
            clock: VirtualClock::new(),
            hosts: [
                Host { stack: Stack::new(a).unwrap(), dev: ea },
                Host { stack: Stack::new(b).unwrap(), dev: eb },
            ],
            sent: Vec::new(),
            capture: false,
            path_mtu: None,
            bounced: [Vec::new(), Vec::new()],
            batch: FrameBatch::new(64),
            buf: vec![0; 70_000],
        }
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    pub fn a(&mut self) -> &mut Stack {
        &mut self.hosts[0].stack
    }

    pub fn b(&mut self) -> &mut Stack {
        &mut self.hosts[1].stack
    }

    /// Delivers what has arrived, runs due timers, and sends what the stacks have, until
    /// nothing moves at the current instant.
    pub fn settle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..2 {
                let now = self.clock.now();
                let host = &mut self.hosts[i];
                for frame in self.bounced[i].drain(..) {
                    host.stack.receive(now, &frame);
                    moved = true;
                }
                loop {
                    self.batch.clear();
                    let n = host.dev.receive(now, &mut self.batch).unwrap();
                    for frame in self.batch.iter() {
                        host.stack.receive(now, frame);
                    }
                    if n == 0 {
                        break;
                    }
                    moved = true;
                }
                host.stack.handle_timeout(now);
                self.batch.clear();
                while let Some(len) = host.stack.poll_transmit(now, &mut self.buf) {
                    if self.capture {
                        self.sent.push((i, self.buf[..len].to_vec()));
                    }
                    if let Some(icmp) = self.path_mtu.and_then(|m| too_big(&self.buf[..len], m)) {
                        self.bounced[i].push(icmp);
                        moved = true;
                        continue;
                    }
                    self.batch.push(&self.buf[..len]);
                    moved = true;
                    if self.batch.is_full() {
                        host.dev.transmit(now, &self.batch).unwrap();
                        self.batch.clear();
                    }
                }
                if !self.batch.is_empty() {
                    host.dev.transmit(now, &self.batch).unwrap();
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The next instant anything is due: a timer of either stack or a frame on the wire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.hosts.iter().flat_map(|h| [h.stack.poll_timeout(), h.dev.poll_at()]).flatten().min()
    }

    /// Settles, then jumps the clock to the next deadline; `false` when nothing is due.
    /// Moves the clock on by `d`; what falls due meanwhile runs at the next settle.
    pub fn advance(&mut self, d: Duration) {
        self.clock.advance(d);
    }

    pub fn step(&mut self) -> bool {
        self.settle();
        match self.next_deadline() {
            Some(t) => {
                self.clock.advance_to(t.max(self.clock.now()));
                true
            }
            None => false,
        }
    }

    /// Steps until `done` holds (returns `true`) or `limit` of virtual time passes.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let end = self.clock.now() + limit;
        loop {
            self.settle();
            if done(self) {
                return true;
            }
            // What `done` gave the stacks to do goes out first: the deadlines it arms count.
            self.settle();
            match self.next_deadline() {
                Some(t) if t <= end => self.clock.advance_to(t.max(self.clock.now())),
                _ => {
                    self.clock.advance_to(end);
                    self.settle();
                    return done(self);
                }
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// Feeds `frame` straight into host `i`'s stack.
    pub fn inject(&mut self, i: usize, frame: &[u8]) {
        let now = self.clock.now();
        self.hosts[i].stack.receive(now, frame);
    }
}

/// An Ethernet frame from A's MAC to B's carrying `ethertype` and `payload`.
pub fn eth_frame(
    dst: ethernet::Address,
    ethertype: ethernet::EtherType,
    payload: &[u8],
) -> Vec<u8> {
    let repr = ethernet::Repr { src_addr: A_MAC, dst_addr: dst, ethertype, vlan: None };
    let mut frame = vec![0; repr.buffer_len(payload.len())];
    repr.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
    frame[repr.header_len()..].copy_from_slice(payload);
    frame
}

/// The router's address, on the shared prefix.
pub const ROUTER_IP: &str = "192.0.2.254";
pub const ROUTER_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0xfe]);

/// If `frame` carries an IPv4 datagram with DF set larger than `mtu`, the ICMP
/// "fragmentation needed" a router would send back (as an Ethernet frame to the sender).
pub fn too_big(frame: &[u8], mtu: usize) -> Option<Vec<u8>> {
    use pila::wire::ipv4;
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    if eth.ethertype() != ethernet::EtherType::Ipv4 {
        return None;
    }
    let datagram = eth.payload();
    let packet = ipv4::Packet::new_checked(datagram).ok()?;
    if datagram.len() <= mtu || !packet.dont_frag() {
        return None;
    }
    Some(frag_needed(datagram, mtu as u16, eth.src_addr()))
}

/// An ICMP "fragmentation needed" from the router about `datagram` (whole, or its header
/// and first bytes), announcing `mtu`, in an Ethernet frame to `to`.
pub fn frag_needed(datagram: &[u8], mtu: u16, to: ethernet::Address) -> Vec<u8> {
    use pila::wire::{Checksums, icmpv4, ip::Protocol, ipv4};
    let (quoted, _) = ipv4::Repr::parse_quoted(datagram).unwrap();
    let repr = icmpv4::Repr::frag_required(mtu, datagram).unwrap();
    let ip = ipv4::Repr {
        src_addr: ROUTER_IP.parse().unwrap(),
        dst_addr: quoted.src_addr,
        protocol: Protocol::Icmp,
        payload_len: repr.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0; ip.buffer_len()];
    let (h, body) = bytes.split_at_mut(ipv4::HEADER_LEN);
    ip.emit(&mut ipv4::Packet::new_unchecked(h), &Checksums::SOFTWARE);
    repr.emit(&mut icmpv4::Packet::new_unchecked(body), &Checksums::SOFTWARE);
    let e = ethernet::Repr {
        src_addr: ROUTER_MAC,
        dst_addr: to,
        ethertype: ethernet::EtherType::Ipv4,
        vlan: None,
    };
    let mut out = vec![0; e.buffer_len(bytes.len())];
    e.emit(&mut ethernet::Frame::new_unchecked(&mut out[..]));
    out[e.header_len()..].copy_from_slice(&bytes);
    out
}
