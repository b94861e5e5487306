//! What a TCP connection costs: its size, and the heap 10,000 idle established connections
//! hold, measured with a counting global allocator.

mod support;

use core::net::SocketAddr;

use pila::stack::TcpHandle;
use pila::tcp::{Connection, State};
use pila::time::Duration;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use support::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The connection is a fixed-size value; its settings are shared, not copied into it.
#[test]
fn a_connection_is_small_and_shares_its_settings() {
    let size = std::mem::size_of::<Connection>();
    eprintln!("size_of::<Connection>() = {size} bytes");
    // 904 bytes (2026-12-02), CUBIC's state now included (it was a box of 208 bytes
    // beside 976): an optional instant costs no more than an instant, event counters are
    // 32 bits, the RTO bounds are read from the settings, RACK's per-flight state and the
    // SACK scoreboard's lists are boxed while they hold anything.
    assert!(size <= 912, "a Connection grew to {size} bytes");
}

/// 10,000 connections, each having carried a byte both ways, then idle: the heap they hold
/// on both hosts, per connection.
#[test]
fn ten_thousand_idle_connections_hold_little_heap() {
    const N: usize = 10_000;
    let mut net = two_hosts();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), N).unwrap();
    // Warm up the tables and queues that grow once, so that the region sees connections.
    net.settle();
    let region = Region::new(GLOBAL);
    let now = net.now();
    let clients: Vec<TcpHandle> =
        (0..N).map(|_| net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap()).collect();
    let mut servers = Vec::new();
    let mut buf = [0u8; 8];
    let mut sent = vec![false; N];
    let ok = net.run_within(Duration::from_secs(120), |n| {
        while let Ok(s) = n.b().tcp_accept(l) {
            servers.push(s);
        }
        for (i, c) in clients.iter().enumerate() {
            let conn = n.a().tcp_mut(*c).unwrap();
            if !sent[i] && conn.state() == State::Established {
                conn.send(b"x").unwrap();
                sent[i] = true;
            }
            let _ = conn.recv(&mut buf);
        }
        for s in &servers {
            let conn = n.b().tcp_mut(*s).unwrap();
            if let Ok(1) = conn.recv(&mut buf) {
                conn.send(b"y").unwrap();
            }
        }
        servers.len() == N
            && clients.iter().all(|c| n.a().tcp(*c).unwrap().info().bytes_received == 1)
    });
    assert!(ok, "not every connection exchanged its bytes");
    // Idle: every ACK out, every timer but the keepalive-free idle state settled.
    net.run_within(Duration::from_secs(1), |_| false);
    let change = region.change();
    // A reallocation's growth is already in `bytes_allocated` (and its shrinking in
    // `bytes_deallocated`); `bytes_reallocated` repeats it.
    let held = change.bytes_allocated.saturating_sub(change.bytes_deallocated);
    let per_connection = held / (2 * N);
    eprintln!(
        "{} idle established connections on two hosts hold {held} heap bytes: {per_connection} \
         per connection (size_of::<Connection>() = {})",
        2 * N,
        std::mem::size_of::<Connection>()
    );
    assert_eq!(net.a().counters().tcp_curr_estab, N as u64);
    // Measured at 1,345 on sim::Net (2026-12-02, after 1,772, 1,956, and 2,369 counted the
    // old way, with the growth of reallocations twice; BENCHMARKS.md has the history): the
    // boxed slot with its Connection (904 bytes), the demultiplexing map, and the stack's
    // event log, which this test never reads (a connected event an end). `pila bench
    // --only idle`, whose stacks' logs are read, counts 1,011 bytes an end. The bound
    // catches a regression.
    assert!(per_connection <= 1_400, "{per_connection} heap bytes per idle connection");
}
