//! A stack whose device offloads (a virtio-net header on every frame, TCP checksums and
//! segmentation left to the device) against a plain one, with the device in between
//! emulated here the way the kernel's TUN does it: it completes each partial checksum from
//! `csum_start`, cuts each large segment into `gso_size` pieces with their own headers, and
//! hands the offloading stack frames that carry a header. Deterministic: a virtual clock,
//! no kernel.

use pila::stack::{Config, Medium, Offloads, Stack, TcpHandle};
use pila::tcp::State;
use pila::time::{Duration, Instant};
use pila::wire::tcp::{Flags, Packet, Repr};
use pila::wire::{Checksums, checksum, ipv4, virtio};
use std::net::{IpAddr, SocketAddr};

const TSO: usize = Offloads::MAX_SEGMENT_PAYLOAD;

fn stack(addr: &str, offloads: Offloads, seed: u64) -> Stack {
    Stack::new(Config {
        medium: Medium::Ip,
        addresses: vec![addr.parse().unwrap()],
        offloads,
        seed: Some(seed),
        ..Config::default()
    })
    .unwrap()
}

/// What the emulated device saw of the offloading stack's frames.
#[derive(Debug, Default)]
struct Seen {
    frames: u64,
    large: u64,
    pieces: u64,
    largest: usize,
}

/// The device's work on one frame from the offloading stack: the header read, the checksum
/// completed (and checked), the segment cut. Returns the packets that go on the wire.
fn device_out(frame: &[u8], seen: &mut Seen) -> Vec<Vec<u8>> {
    let header = virtio::Repr::parse(frame).expect("every frame starts with a virtio-net header");
    let mut packet = frame[virtio::HEADER_LEN..].to_vec();
    seen.frames += 1;
    seen.largest = seen.largest.max(packet.len());
    if header.flags & virtio::FLAG_NEEDS_CSUM != 0 {
        let start = usize::from(header.csum_start);
        let at = start + usize::from(header.csum_offset);
        // The field holds the pseudo-header's sum; the checksum covers it and the rest.
        let sum = checksum::sum(&packet[start..]);
        packet[at..at + 2].copy_from_slice(&(!sum).to_be_bytes());
    }
    let ip =
        ipv4::Repr::parse(&ipv4::Packet::new_checked(&packet[..]).unwrap(), &Checksums::SOFTWARE)
            .expect("a valid IPv4 header");
    let body = &packet[ipv4::HEADER_LEN..];
    let (src, dst) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
    let seg = Repr::parse(&Packet::new_checked(body).unwrap(), src, dst, &Checksums::SOFTWARE)
        .expect("the completed checksum is right");
    if header.gso == virtio::Gso::None {
        assert!(packet.len() <= 1500, "a {}-byte packet without GSO", packet.len());
        return vec![packet];
    }
    assert_eq!(header.gso, virtio::Gso::TcpV4);
    let per = usize::from(header.gso_size);
    assert_eq!(
        usize::from(header.hdr_len),
        ipv4::HEADER_LEN + seg.buffer_len() - seg.payload.len()
    );
    assert!(seg.payload.len() > per, "GSO for a segment that fits in one piece");
    seen.large += 1;
    let count = seg.payload.len().div_ceil(per);
    seen.pieces += count as u64;
    seg.payload
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let mut flags = seg.flags;
            if i + 1 < count {
                flags.remove(Flags::FIN);
                flags.remove(Flags::PSH);
            }
            let piece =
                Repr { seq_number: seg.seq_number.plus(i * per), flags, payload: chunk, ..seg };
            let ip = ipv4::Repr {
                payload_len: piece.buffer_len(),
                ident: ip.ident.wrapping_add(i as u16),
                ..ip
            };
            let mut out = vec![0; ip.buffer_len()];
            let (h, b) = out.split_at_mut(ipv4::HEADER_LEN);
            ip.emit(&mut ipv4::Packet::new_unchecked(h), &Checksums::SOFTWARE);
            piece.emit(&mut Packet::new_unchecked(b), src, dst, &Checksums::SOFTWARE).unwrap();
            assert!(out.len() <= 1500);
            out
        })
        .collect()
}

/// A packet from the plain stack as the device hands it up, with a header of `flags`.
fn device_in(packet: &[u8], flags: u8) -> Vec<u8> {
    let mut frame = vec![0; virtio::HEADER_LEN];
    virtio::Repr { flags, ..virtio::Repr::PLAIN }.emit(&mut frame).unwrap();
    frame.extend_from_slice(packet);
    frame
}

struct Pair {
    a: Stack,
    b: Stack,
    now: Instant,
    seen: Seen,
    /// The last packet the plain stack sent, kept for the checksum checks.
    last_from_b: Vec<u8>,
}

impl Pair {
    fn new(tso: usize) -> Self {
        let offloads = Offloads { virtio_header: true, tcp_segmentation: tso };
        Self {
            a: stack("192.0.2.1/24", offloads, 1),
            b: stack("192.0.2.2/24", Offloads::default(), 2),
            now: Instant::ZERO,
            seen: Seen::default(),
            last_from_b: Vec::new(),
        }
    }

    /// Moves every frame both ways, then lets 1 ms pass.
    fn step(&mut self) {
        let mut buf = vec![0; 70_000];
        loop {
            let mut moved = false;
            while let Some(n) = self.a.poll_transmit(self.now, &mut buf) {
                for packet in device_out(&buf[..n], &mut self.seen) {
                    self.b.receive(self.now, &packet);
                }
                moved = true;
            }
            while let Some(n) = self.b.poll_transmit(self.now, &mut buf) {
                self.last_from_b = buf[..n].to_vec();
                self.a.receive(self.now, &device_in(&buf[..n], virtio::FLAG_DATA_VALID));
                moved = true;
            }
            if !moved {
                break;
            }
        }
        self.now += Duration::from_millis(1);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }
}

fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(31) >> 3) as u8
}

#[test]
fn segmentation_offload_without_the_header_is_refused() {
    let offloads = Offloads { virtio_header: false, tcp_segmentation: TSO };
    let config = Config {
        medium: Medium::Ip,
        addresses: vec!["192.0.2.1/24".parse().unwrap()],
        offloads,
        seed: Some(1),
        ..Config::default()
    };
    assert_eq!(Stack::new(config).unwrap_err(), pila::stack::ConfigError::BadOffloads);
}

#[test]
fn large_segments_leave_for_the_device_to_cut_and_arrive_intact() {
    large_segments_arrive_intact(TSO);
}

#[test]
fn a_device_that_claims_more_than_an_ipv4_datagram_holds_gets_64_kib_segments() {
    large_segments_arrive_intact(1 << 20);
}

fn large_segments_arrive_intact(tso: usize) {
    const TOTAL: u64 = 8 << 20;
    let mut p = Pair::new(tso);
    let server: SocketAddr = "192.0.2.2:80".parse().unwrap();
    let l = p.b.tcp_listen(server, 1).unwrap();
    let c: TcpHandle = p.a.tcp_connect(p.now, server, None).unwrap();
    let mut s = None;
    let (mut sent, mut got) = (0u64, 0u64);
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..100_000 {
        if s.is_none() {
            s = p.b.tcp_accept(l).ok();
        }
        let conn = p.a.tcp_mut(c).unwrap();
        if conn.state() == State::Established {
            while sent < TOTAL {
                let chunk: Vec<u8> = (sent..(sent + 65_536).min(TOTAL)).map(pattern).collect();
                match conn.send(&chunk) {
                    Ok(n) => sent += n as u64,
                    Err(_) => break,
                }
            }
        }
        if let Some(conn) = s.and_then(|s| p.b.tcp_mut(s)) {
            while let Ok(n @ 1..) = conn.recv(&mut buf) {
                for (k, &byte) in buf[..n].iter().enumerate() {
                    assert_eq!(byte, pattern(got + k as u64), "byte {} differs", got + k as u64);
                }
                got += n as u64;
            }
        }
        if got == TOTAL {
            break;
        }
        p.step();
    }
    assert_eq!(got, TOTAL, "the transfer stalled");
    let full_sized = TOTAL / 1448;
    eprintln!("{:?} for {full_sized} full-sized segments' worth", p.seen);
    assert!(p.seen.large > 0 && p.seen.largest > 60_000, "{:?}", p.seen);
    assert!(
        p.a.counters().tcp_out_segs < full_sized / 4,
        "{} segments",
        p.a.counters().tcp_out_segs
    );
    assert!(p.seen.pieces >= full_sized, "the pieces carry every byte");
    assert_eq!(p.b.counters().tcp_in_errs, 0, "every piece the device cut was valid");

    // The plain stack's checksums: one the device vouched for is not checked again, one it
    // did not is, and a bad one is dropped.
    let mut bad = p.last_from_b.clone();
    let at = ipv4::HEADER_LEN + 16;
    bad[at] ^= 0x5a;
    let errors = p.a.counters().tcp_in_errs;
    p.a.receive(p.now, &device_in(&bad, virtio::FLAG_DATA_VALID));
    assert_eq!(p.a.counters().tcp_in_errs, errors, "a vouched-for checksum is not checked");
    p.a.receive(p.now, &device_in(&bad, 0));
    assert_eq!(p.a.counters().tcp_in_errs, errors + 1, "an unchecked bad checksum is dropped");
    let drops = p.a.counters().eth_dropped;
    p.a.receive(p.now, &bad[..5]);
    assert_eq!(p.a.counters().eth_dropped, drops + 1, "a frame shorter than its header");
}

/// Two offloading stacks on a virtual wire that carries their large segments whole, as a
/// veth pair does: `impairments` on both directions; returns the net after `total` bytes
/// went from A to B, checked byte by byte.
fn offloading_pair_moves(total: u64, impairments: pila::device::Impairments) -> pila::sim::Net {
    use pila::device::WireConfig;
    use pila::sim::Net;
    let offloads = Offloads { virtio_header: true, tcp_segmentation: TSO };
    let config = |addr: &str, seed| Config {
        mac: pila::wire::ethernet::Address([2, 0, 0, 0, 0, seed as u8]),
        addresses: vec![addr.parse().unwrap()],
        offloads,
        seed: Some(seed),
        ..Config::default()
    };
    let wire = WireConfig::default().with_segmentation_offload().with_impairments(impairments);
    let mut net = Net::new(config("192.0.2.1/24", 1), config("192.0.2.2/24", 2), wire).unwrap();
    let server: SocketAddr = "192.0.2.2:80".parse().unwrap();
    let l = net.b().tcp_listen(server, 1).unwrap();
    let now = net.now();
    let c = net.a().tcp_connect(now, server, None).unwrap();
    let (mut s, mut sent, mut got) = (None, 0u64, 0u64);
    let mut buf = vec![0u8; 1 << 16];
    net.run_until(
        |n| {
            if s.is_none() {
                s = n.b().tcp_accept(l).ok();
            }
            let conn = n.a().tcp_mut(c).unwrap();
            while sent < total && conn.state() == State::Established {
                let chunk: Vec<u8> = (sent..(sent + 65_536).min(total)).map(pattern).collect();
                match conn.send(&chunk) {
                    Ok(k) => sent += k as u64,
                    Err(_) => break,
                }
            }
            if let Some(conn) = s.and_then(|s| n.b().tcp_mut(s)) {
                while let Ok(k @ 1..) = conn.recv(&mut buf) {
                    for (i, &byte) in buf[..k].iter().enumerate() {
                        assert_eq!(byte, pattern(got + i as u64), "byte {}", got + i as u64);
                    }
                    got += k as u64;
                }
            }
            got == total
        },
        Duration::from_secs(600),
    )
    .expect("the transfer completes");
    net
}

#[test]
fn a_wire_between_offloading_stacks_carries_large_segments_whole() {
    const TOTAL: u64 = 32 << 20;
    let mut net = offloading_pair_moves(TOTAL, pila::device::Impairments::NONE);
    let sent = net.a().counters().tcp_out_segs;
    eprintln!("{TOTAL} bytes in {sent} segments");
    assert!(sent < TOTAL / 1448 / 10, "{sent} segments for {TOTAL} bytes");
    assert_eq!(net.b().counters().tcp_in_errs, 0);
}

#[test]
fn a_corrupted_large_segment_fails_its_checksum_and_is_sent_again() {
    const TOTAL: u64 = 8 << 20;
    let corrupt =
        pila::device::Impairments { corrupt: 0.05, seed: 9, ..pila::device::Impairments::NONE };
    let mut net = offloading_pair_moves(TOTAL, corrupt);
    let bad = net.b().counters().tcp_in_csum_errors + net.b().counters().ip_in_csum_errors;
    let corrupted = net.link_stats(pila::sim::Side::Client).corrupted;
    eprintln!("{corrupted} frames corrupted, {bad} caught by a checksum");
    assert!(corrupted > 0 && bad > 0, "{corrupted} corrupted, {bad} caught");
}
