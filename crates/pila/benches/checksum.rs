//! Internet checksum throughput: the wide-word sum against the RFC 1071 byte-pair loop.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pila::wire::checksum;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    for len in [64usize, 1500, 65536] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("wide/{len}"), |b| b.iter(|| checksum::sum(black_box(&data))));
        group.bench_function(format!("bytewise/{len}"), |b| {
            b.iter(|| checksum::sum_bytewise(black_box(&data)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
