//! UDP through the stack in the simulator: bind and ephemeral ports, datagrams both ways,
//! connected sockets, port unreachable (rate-limited) and ICMP errors turned into socket
//! errors, host unreachable when ARP fails.
//!
//! Every scenario runs over IPv4 (`v4::`) and over IPv6 (`v6::`), written once with IPv4
//! addresses that map to their IPv6 twins (`support::Family`); the ICMP rate limit and the
//! hand-made malformed datagrams are tested over IPv4, at the end.

mod support;

mod v4 {
    const FAMILY: super::support::Family = super::support::Family::V4;
    include!("stack_udp/scenarios.rs");
}

mod v6 {
    const FAMILY: super::support::Family = super::support::Family::V6;
    include!("stack_udp/scenarios.rs");
}

use core::net::SocketAddr;

use pila::time::Duration;
use support::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn recv(net: &mut Net, i: usize, h: pila::stack::UdpHandle) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0; 70_000];
    let mut got = None;
    net.run_within(Duration::from_secs(3), |n| {
        match n.stack_mut(side(i)).udp_recv_from(h, &mut buf) {
            Ok((len, from)) => {
                got = Some((buf[..len].to_vec(), from));
                true
            }
            Err(_) => false,
        }
    });
    got
}

#[test]
fn port_unreachable_is_rate_limited() {
    let mut b = config(true);
    b.icmp_rate = 10;
    let mut net = net_with(config(false), b, pila::device::WireConfig::default());
    let a = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    // Resolve B first: only 16 datagrams may wait for ARP.
    let now = net.now();
    net.a().ping_send(now, B_IP.parse::<core::net::Ipv4Addr>().unwrap(), 1, 1, b"").unwrap();
    net.run_for(Duration::from_millis(10));
    for _ in 0..30 {
        let now = net.now();
        net.a().udp_send_to(now, a, b"x", sa("192.0.2.2:9")).unwrap();
    }
    net.run_for(Duration::from_millis(10));
    let c = net.b().counters().clone();
    assert_eq!(c.udp_no_ports, 30);
    assert_eq!(c.icmp_out_dest_unreachs, 10);
    assert_eq!(c.icmp_out_rate_limited, 20);
    // A second later the bucket is full again.
    net.run_for(Duration::from_secs(1));
    for _ in 0..30 {
        let now = net.now();
        net.a().udp_send_to(now, a, b"x", sa("192.0.2.2:9")).unwrap();
    }
    net.run_for(Duration::from_millis(10));
    assert_eq!(net.b().counters().icmp_out_dest_unreachs, 20);
}

#[test]
fn bad_udp_is_counted() {
    let mut net = two_hosts();
    let b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    let a = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    net.set_capture(true);
    let now = net.now();
    net.a().udp_send_to(now, a, b"data", sa("192.0.2.2:7")).unwrap();
    net.run_for(Duration::from_millis(10));
    let (_, frame) = sent(&net).iter().find(|(i, f)| *i == 0 && f[23] == 17).unwrap().clone();
    assert!(recv(&mut net, 1, b).is_some());
    let mut bad = frame.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40; // payload corrupted: the UDP checksum no longer matches
    net.inject(B, &bad);
    let mut short = frame.clone();
    short[38..40].copy_from_slice(&100u16.to_be_bytes()); // UDP length past the datagram
    net.inject(B, &short);
    assert_eq!(net.b().counters().udp_in_errors, 2);
    assert_eq!(net.b().counters().udp_in_datagrams, 1);
}
