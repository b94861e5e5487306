//! TCP buffer hot paths: 1448-byte segments through the ring, and in-order against
//! out-of-order reassembly bookkeeping.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pila::internals::{Assembler, RingBuffer};
use pila::wire::tcp::SeqNumber;
use std::hint::black_box;

const SEG: usize = 1448;
/// Segments per batch: a 64-segment flight.
const BATCH: usize = 64;

fn ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring");
    let segment: Vec<u8> = (0..SEG).map(|i| (i * 7 + 3) as u8).collect();
    let mut out = vec![0u8; SEG];
    group.throughput(Throughput::Bytes((SEG * BATCH) as u64));

    // A send buffer: queue a flight, then take it back out segment by segment. The ring's
    // size (not a multiple of 1448) makes the segments wrap at varying places.
    let mut buf = RingBuffer::new(1 << 20);
    group.bench_function("write_read_1448", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(buf.write(black_box(&segment)));
            }
            for _ in 0..BATCH {
                black_box(buf.read(black_box(&mut out)));
            }
        })
    });

    // The transmit path: borrow each segment's bytes in place, then drop them when acked.
    let mut buf = RingBuffer::new(1 << 20);
    let mut scratch = vec![0u8; 65536];
    group.bench_function("write_slice_consume_1448", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                buf.write(black_box(&segment));
            }
            for k in 0..BATCH {
                black_box(buf.contiguous(k * SEG, SEG, &mut scratch));
            }
            buf.consume(BATCH * SEG);
        })
    });
    group.finish();
}

/// Offsets of one flight of segments arriving in order.
fn in_order() -> Vec<usize> {
    (0..BATCH).map(|k| k * SEG).collect()
}

/// The same flight with the first segment lost and retransmitted last, and the others
/// arriving in pairs swapped: every add but the last lands past a hole.
fn out_of_order() -> Vec<usize> {
    let mut order: Vec<usize> = (1..BATCH).collect();
    for pair in order.chunks_mut(2) {
        pair.reverse();
    }
    order.push(0);
    order.into_iter().map(|k| k * SEG).collect()
}

fn assembler(c: &mut Criterion) {
    let mut group = c.benchmark_group("assembler");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, offsets) in [("in_order", in_order()), ("out_of_order", out_of_order())] {
        let mut asm = Assembler::new(32);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut delivered = 0;
                for &offset in &offsets {
                    // Offsets are from the flight's start; rcv_nxt moves as data is delivered.
                    if let Some(offset) = offset.checked_sub(delivered) {
                        let ready = asm.add(offset, SEG).unwrap_or(0);
                        asm.advance(ready);
                        delivered += ready;
                    }
                    // The SACK blocks the ACK for this segment carries.
                    black_box(asm.sack_blocks(SeqNumber(delivered as u32), 3));
                }
                assert_eq!(delivered, BATCH * SEG);
            })
        });
    }

    // The whole receive path: place each segment in the ring, commit what became contiguous.
    let segment = vec![0x5au8; SEG];
    let mut out = vec![0u8; BATCH * SEG];
    for (name, offsets) in [("rx_in_order", in_order()), ("rx_out_of_order", out_of_order())] {
        let mut asm = Assembler::new(32);
        let mut rx = RingBuffer::new(1 << 20);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut delivered = 0;
                for &offset in &offsets {
                    let offset = offset - delivered;
                    if let Ok(ready) = asm.add(offset, SEG) {
                        rx.write_at(rx.len() + offset, black_box(&segment));
                        rx.commit(ready);
                        asm.advance(ready);
                        delivered += ready;
                    }
                }
                black_box(rx.read(&mut out));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ring, assembler);
criterion_main!(benches);
