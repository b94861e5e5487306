//! Per-segment hot paths through the public API: parsing and emitting a TCP segment
//! (`pila::wire::tcp`), one data segment into an established `tcp::Connection` and one out
//! of it (`handle_segment` / `poll_transmit`), and one segment's round through two
//! `pila::stack::Stack`s (frame out, frame in, the ACK back).
//!
//! The peers of the `tcp` group are hand-made segments, so the connections have no
//! timestamps and no SACK (a hand-made ACK then needs no option to be valid) and no delayed
//! ACK (every data segment is answered at once).

#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pila::stack::{Config as StackConfig, Stack};
use pila::tcp::{Config, Connection, State};
use pila::time::Instant;
use pila::wire::tcp::{Flags, Options, Packet, Repr, SeqNumber, Timestamp};
use pila::wire::{Checksums, ethernet};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const SEG: usize = 1448;
const LOCAL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40000);
const REMOTE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 80);
const PEER_ISN: u32 = 5000;

fn now() -> Instant {
    Instant::from_millis(1000)
}

fn cfg() -> Config {
    Config { timestamps: false, sack: false, delayed_ack: None, ..Config::default() }
}

/// A data segment as Linux sends it in bulk: ACK, timestamps, 1448 bytes.
fn data_segment(payload: &[u8]) -> Repr<'_> {
    Repr {
        src_port: REMOTE.port(),
        dst_port: LOCAL.port(),
        seq_number: SeqNumber(PEER_ISN + 1),
        ack_number: Some(SeqNumber(1001)),
        window_len: 502,
        options: Options {
            timestamp: Some(Timestamp { tsval: 12345, tsecr: 67890 }),
            ..Options::default()
        },
        payload,
        ..Repr::TEMPLATE
    }
}

fn wire(c: &mut Criterion) {
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Elements(1));
    let payload: Vec<u8> = (0..SEG).map(|i| (i * 7 + 3) as u8).collect();
    let repr = data_segment(&payload);
    let mut bytes = vec![0_u8; repr.buffer_len()];
    let (src, dst) = (REMOTE.ip(), LOCAL.ip());
    let soft = Checksums::SOFTWARE;
    repr.emit(&mut Packet::new_unchecked(&mut bytes[..]), src, dst, &soft).unwrap();
    group.bench_function("tcp_parse_1448", |b| {
        b.iter(|| {
            let packet = Packet::new_checked(black_box(&bytes[..])).unwrap();
            black_box(Repr::parse(&packet, src, dst, &soft).unwrap());
        })
    });
    let mut out = vec![0_u8; repr.buffer_len()];
    group.bench_function("tcp_emit_1448", |b| {
        b.iter(|| {
            black_box(&repr)
                .emit(&mut Packet::new_unchecked(&mut out[..]), src, dst, &soft)
                .unwrap();
            black_box(&out);
        })
    });
    group.finish();
}

/// An established connection whose peer is hand-made: the connection accepted the peer's
/// SYN and the peer acknowledged its SYN-ACK. Returns it and its ISS + 1.
fn accepted() -> (Connection, u32) {
    let syn = Repr {
        src_port: REMOTE.port(),
        dst_port: LOCAL.port(),
        seq_number: SeqNumber(PEER_ISN),
        flags: Flags::SYN,
        window_len: 65535,
        options: Options { mss: Some(1460), ..Options::default() },
        ..Repr::TEMPLATE
    };
    let mut c = Connection::accept(now(), LOCAL, REMOTE, &syn, SeqNumber(1000), cfg());
    let mut scratch = vec![0_u8; 65536];
    while c.poll_transmit(now(), &mut scratch).is_some() {}
    let iss1 = c.snd_nxt().0;
    let ack = Repr {
        src_port: REMOTE.port(),
        dst_port: LOCAL.port(),
        seq_number: SeqNumber(PEER_ISN + 1),
        ack_number: Some(SeqNumber(iss1)),
        window_len: 65535,
        ..Repr::TEMPLATE
    };
    c.handle_segment(now(), REMOTE, &ack);
    assert_eq!(c.state(), State::Established, "the hand-made handshake did not establish");
    (c, iss1)
}

fn tcp(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp");
    group.throughput(Throughput::Bytes(SEG as u64));
    let payload = vec![0x5a_u8; SEG];
    let mut scratch = vec![0_u8; 65536];
    let mut buf = vec![0_u8; SEG];

    // Receive: the next in-order segment in, the application reads it, the ACK out.
    let (mut rx, iss1) = accepted();
    let mut seq = PEER_ISN + 1;
    group.bench_function("receive_one_segment_1448", |b| {
        b.iter(|| {
            let seg = Repr {
                src_port: REMOTE.port(),
                dst_port: LOCAL.port(),
                seq_number: SeqNumber(seq),
                ack_number: Some(SeqNumber(iss1)),
                window_len: 65535,
                payload: &payload,
                ..Repr::TEMPLATE
            };
            rx.handle_segment(now(), REMOTE, black_box(&seg));
            seq = seq.wrapping_add(SEG as u32);
            black_box(rx.recv(&mut buf).unwrap());
            while let Some(ack) = rx.poll_transmit(now(), &mut scratch) {
                black_box(ack.ack_number);
            }
        })
    });

    // Send: the application writes a segment's worth, the segment out, its ACK in.
    let (mut tx, _) = accepted();
    group.bench_function("send_one_segment_1448", |b| {
        b.iter(|| {
            black_box(tx.send(black_box(&payload)).unwrap());
            while let Some(seg) = tx.poll_transmit(now(), &mut scratch) {
                black_box(seg.payload.len());
            }
            let ack = Repr {
                src_port: REMOTE.port(),
                dst_port: LOCAL.port(),
                seq_number: SeqNumber(PEER_ISN + 1),
                ack_number: Some(tx.snd_nxt()),
                window_len: 65535,
                ..Repr::TEMPLATE
            };
            tx.handle_segment(now(), REMOTE, &ack);
        })
    });
    group.finish();
}

fn host(mac: u8, ip: &str, seed: u64) -> Stack {
    let config = StackConfig {
        mac: ethernet::Address([2, 0, 0, 0, 0, mac]),
        addresses: vec![ip.parse().unwrap()],
        seed: Some(seed),
        ..StackConfig::default()
    };
    Stack::new(config).unwrap()
}

/// Moves every frame each stack has to the other until neither has one.
fn pump(a: &mut Stack, b: &mut Stack, frame: &mut [u8]) {
    loop {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(now(), frame) {
            b.receive(now(), &frame[..n]);
            moved = true;
        }
        while let Some(n) = b.poll_transmit(now(), frame) {
            a.receive(now(), &frame[..n]);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn stack(c: &mut Criterion) {
    const ROUNDS: usize = 64;
    let mut group = c.benchmark_group("stack");
    group.throughput(Throughput::Bytes((ROUNDS * SEG) as u64));
    let payload = vec![0x5a_u8; SEG];
    let mut buf = vec![0_u8; 64 << 10];
    let mut frame = vec![0_u8; 1518];
    // One segment's round through two stacks: the sender's socket takes 1448 bytes, its
    // frame goes out and into the receiver (Ethernet, IPv4, TCP, checksums), the receiver's
    // application reads it, and the ACK frame goes back.
    group.bench_function("segment_rounds_64x1448", |b| {
        b.iter_batched_ref(
            || {
                let (mut a, mut bb) = (host(1, "192.0.2.1/24", 1), host(2, "192.0.2.2/24", 2));
                let listener = bb.tcp_listen(REMOTE, 1).unwrap();
                let tx = a.tcp_connect(now(), REMOTE, None).unwrap();
                let mut frame = vec![0_u8; 1518];
                pump(&mut a, &mut bb, &mut frame);
                let rx = bb.tcp_accept(listener).unwrap();
                (a, bb, tx, rx)
            },
            |(a, bb, tx, rx)| {
                for _ in 0..ROUNDS {
                    black_box(a.tcp_mut(*tx).unwrap().send(&payload).unwrap());
                    pump(a, bb, &mut frame);
                    black_box(bb.tcp_mut(*rx).unwrap().recv(&mut buf).unwrap());
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, wire, tcp, stack);
criterion_main!(benches);
