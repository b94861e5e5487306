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
    // SACK scoreboard's lists are boxed while they hold anything. 928 (2026-12-04): the
    // trace's pointer, and each buffer's growth limit under memory pressure; the RTT
    // estimator's last sample for the trace took the room of its `Option`.
    assert!(size <= 928, "a Connection grew to {size} bytes");
}

/// `N` connections from A to `to(i)`, accepted by B from the listener `listen` makes,
/// each having carried a byte both ways, then idle: the heap they hold on both hosts, per
/// connection end.
fn idle_heap_per_connection(
    mut net: Net,
    listen: impl FnOnce(&mut pila::stack::Stack) -> pila::stack::ListenerHandle,
    to: impl Fn(usize) -> SocketAddr,
) -> usize {
    // The allocator counts every thread's heap: one measurement at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let l = listen(net.b());
    // Warm up the tables and queues that grow once, so that the region sees connections.
    net.settle();
    let region = Region::new(GLOBAL);
    let now = net.now();
    let clients: Vec<TcpHandle> =
        (0..N).map(|i| net.a().tcp_connect(now, to(i), None).unwrap()).collect();
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
    assert_eq!(net.a().counters().tcp_curr_estab, N as u64);
    assert_eq!(net.b().counters().tcp_curr_estab, N as u64);
    // A reallocation's growth is already in `bytes_allocated` (and its shrinking in
    // `bytes_deallocated`); `bytes_reallocated` repeats it.
    let held = change.bytes_allocated.saturating_sub(change.bytes_deallocated);
    // Freed while this measurement still holds the allocator.
    drop(net);
    held / (2 * N)
}

const N: usize = 10_000;

/// 10,000 connections, each having carried a byte both ways, then idle: the heap they hold
/// on both hosts, per connection.
#[test]
fn ten_thousand_idle_connections_hold_little_heap() {
    let per_connection = idle_heap_per_connection(
        two_hosts(),
        |b| b.tcp_listen(sa("0.0.0.0:80"), N).unwrap(),
        |_| sa("192.0.2.2:80"),
    );
    eprintln!(
        "{} idle established connections on two hosts: {per_connection} heap bytes per \
         connection (size_of::<Connection>() = {})",
        2 * N,
        std::mem::size_of::<Connection>()
    );
    // Measured at 1,345 on sim::Net (2026-12-02, after 1,772, 1,956, and 2,369 counted the
    // old way, with the growth of reallocations twice; BENCHMARKS.md has the history): the
    // boxed slot with its Connection (904 bytes), the demultiplexing map, and the stack's
    // event log, which this test never reads (a connected event an end). `pila bench
    // --only idle`, whose stacks' logs are read, counts 1,011 bytes an end. The bound
    // catches a regression.
    assert!(per_connection <= 1_400, "{per_connection} heap bytes per idle connection");
}

/// Ten thousand connections that B intercepts, each to a destination of its own (a
/// hundred far addresses, a hundred ports each), cost what ten thousand connections to one
/// listener cost: an intercepted connection is an ordinary one.
#[test]
fn ten_thousand_intercepted_connections_cost_what_ten_thousand_connections_cost() {
    let routed = || {
        let mut a = config(false);
        a.gateway = Some(B_IP.parse().unwrap());
        net_with(a, config(true), pila::device::WireConfig::default())
    };
    let plain = idle_heap_per_connection(
        routed(),
        |b| b.tcp_listen(sa("0.0.0.0:80"), N).unwrap(),
        |_| sa("192.0.2.2:80"),
    );
    let far: pila::stack::IpCidr = "198.51.100.0/24".parse().unwrap();
    let intercepted = idle_heap_per_connection(
        routed(),
        |b| b.tcp_intercept(&[far], N).unwrap(),
        |i| SocketAddr::new([198, 51, 100, 1 + (i % 100) as u8].into(), 1000 + (i / 100) as u16),
    );
    eprintln!(
        "heap bytes per idle connection end: {plain} to a listener, {intercepted} intercepted"
    );
    assert!(
        intercepted <= plain + plain / 20,
        "an intercepted connection holds {intercepted} heap bytes, one to a listener {plain}"
    );
}
