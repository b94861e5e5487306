use core::net::SocketAddr;

use pila::stack::{Counters, Error, Stack};
use pila::time::Duration;
#[allow(unused_imports)]
use super::support::*;

/// `s`, written as an IPv4 socket address, in the family this module runs over.
fn sa(s: &str) -> SocketAddr {
    FAMILY.sa(s)
}

fn two_hosts() -> Net {
    FAMILY.two_hosts()
}

fn config(b: bool) -> pila::stack::Config {
    FAMILY.config(b)
}

fn net_with(a: pila::stack::Config, b: pila::stack::Config, wire: pila::device::WireConfig) -> Net {
    FAMILY.net_with(a, b, wire)
}

/// Destination unreachables sent, and received, in this family's ICMP.
fn unreachables(c: &Counters) -> (u64, u64) {
    match FAMILY {
        Family::V4 => (c.icmp_out_dest_unreachs, c.icmp_in_dest_unreachs),
        Family::V6 => (c.icmp6_out_dest_unreachs, c.icmp6_in_dest_unreachs),
    }
}

/// Neighbours that never answered, in this family's resolution (ARP or ND).
fn neighbour_failures(c: &Counters) -> u64 {
    match FAMILY {
        Family::V4 => c.arp_failed,
        Family::V6 => c.nd_failed,
    }
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
fn datagrams_flow_both_ways_and_wake_the_receiver() {
    let mut net = two_hosts();
    let b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    let a = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    let a_local = net.a().udp_local_addr(a).unwrap();
    assert!((49152..=65535).contains(&a_local.port()), "{a_local}");
    let now = net.now();
    assert_eq!(net.a().udp_send_to(now, a, b"ping", sa("192.0.2.2:7")), Ok(4));
    let (data, from) = recv(&mut net, 1, b).unwrap();
    assert_eq!(data, b"ping");
    assert_eq!(from, SocketAddr::new(FAMILY.twin(A_IP.parse().unwrap()), a_local.port()));
    // B was woken for its socket.
    let mut woken = vec![];
    while let Some(h) = net.b().poll_wake() {
        woken.push(h);
    }
    assert_eq!(woken, [pila::stack::SocketHandle::Udp(b)]);
    let now = net.now();
    net.b().udp_send_to(now, b, b"pong", from).unwrap();
    let (data, from) = recv(&mut net, 0, a).unwrap();
    assert_eq!((data.as_slice(), from), (&b"pong"[..], sa("192.0.2.2:7")));
    assert_eq!(net.b().counters().udp_in_datagrams, 1);
    assert_eq!(net.a().counters().udp_out_datagrams, 1);
    assert_eq!(net.a().udp_recv_from(a, &mut [0; 10]), Err(Error::WouldBlock));
}

#[test]
fn bind_rules() {
    let mut net = two_hosts();
    let s = net.a();
    let h = s.udp_bind(sa("192.0.2.1:53")).unwrap();
    assert_eq!(s.udp_bind(sa("192.0.2.1:53")), Err(Error::AddrInUse));
    assert_eq!(s.udp_bind(sa("0.0.0.0:53")), Err(Error::AddrInUse));
    assert_eq!(s.udp_bind(sa("198.51.100.1:53")), Err(Error::AddrNotAvailable));
    // An IPv6 address that is not ours, as for IPv4.
    assert_eq!(s.udp_bind(sa("[::1]:53")), Err(Error::AddrNotAvailable));
    s.udp_close(h);
    let w = s.udp_bind(sa("0.0.0.0:53")).unwrap();
    assert_eq!(s.udp_bind(sa("192.0.2.1:53")), Err(Error::AddrInUse));
    s.udp_close(w);
    assert!(s.udp_local_addr(w).is_none(), "stale handle");
    assert!(s.udp_bind(sa("192.0.2.1:53")).is_ok());
    // Ephemeral ports are distinct.
    let mut ports = std::collections::HashSet::new();
    for _ in 0..100 {
        let h = s.udp_bind(sa("0.0.0.0:0")).unwrap();
        assert!(ports.insert(s.udp_local_addr(h).unwrap().port()));
    }
    // A tiny range runs out.
    let mut c = config(false);
    c.ephemeral_ports = (40000, 40001);
    let mut s = Stack::new(c).unwrap();
    s.udp_bind(sa("0.0.0.0:0")).unwrap();
    s.udp_bind(sa("0.0.0.0:0")).unwrap();
    assert_eq!(s.udp_bind(sa("0.0.0.0:0")), Err(Error::AddrNotAvailable));
}

#[test]
fn ephemeral_ports_depend_on_the_seed() {
    let port = |seed| {
        let mut c = config(false);
        c.seed = Some(seed);
        let mut s = Stack::new(c).unwrap();
        let h = s.udp_bind(sa("0.0.0.0:0")).unwrap();
        s.udp_local_addr(h).unwrap().port()
    };
    assert_eq!(port(5), port(5));
    assert_ne!(port(5), port(6));
}

#[test]
fn closed_port_answers_port_unreachable_and_a_connected_socket_is_refused() {
    let mut net = two_hosts();
    let a = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    net.a().udp_connect(a, sa("192.0.2.2:9")).unwrap();
    let now = net.now();
    net.a().udp_send(now, a, b"anyone?").unwrap();
    net.run_for(Duration::from_millis(10));
    assert_eq!(net.b().counters().udp_no_ports, 1);
    assert_eq!(unreachables(net.b().counters()).0, 1);
    assert_eq!(unreachables(net.a().counters()).1, 1);
    assert_eq!(net.a().udp_recv(a, &mut [0; 8]), Err(Error::ConnectionRefused));
    assert_eq!(net.a().udp_take_error(a), None, "taken by recv");
    // An unconnected socket is not told (RFC 1122 §4.1.3.3 leaves it to the application;
    // Linux does the same).
    let u = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    let now = net.now();
    net.a().udp_send_to(now, u, b"x", sa("192.0.2.2:9")).unwrap();
    net.run_for(Duration::from_millis(10));
    assert_eq!(net.a().udp_take_error(u), None);
    assert_eq!(unreachables(net.a().counters()).1, 2);
}

#[test]
fn connected_socket_ignores_other_senders_and_full_queues_drop() {
    let mut b_cfg = config(true);
    b_cfg.udp_recv_queue = 10;
    let mut net = net_with(config(false), b_cfg, pila::device::WireConfig::default());
    let b = net.b().udp_bind(sa("192.0.2.2:5000")).unwrap();
    let a1 = net.a().udp_bind(sa("0.0.0.0:1111")).unwrap();
    let a2 = net.a().udp_bind(sa("0.0.0.0:2222")).unwrap();
    net.b().udp_connect(b, sa("192.0.2.1:1111")).unwrap();
    let now = net.now();
    net.a().udp_send_to(now, a2, b"stranger", sa("192.0.2.2:5000")).unwrap();
    net.a().udp_send_to(now, a1, b"friend", sa("192.0.2.2:5000")).unwrap();
    net.a().udp_send_to(now, a1, b"overflow", sa("192.0.2.2:5000")).unwrap();
    net.run_for(Duration::from_millis(10));
    assert_eq!(recv(&mut net, 1, b).unwrap().0, b"friend");
    assert_eq!(net.b().udp_recv(b, &mut [0; 16]), Err(Error::WouldBlock));
    let c = net.b().counters().clone();
    assert_eq!((c.udp_no_ports, c.udp_in_datagrams, c.udp_in_errors), (1, 1, 1));
}

#[test]
fn arp_failure_reports_host_unreachable() {
    let mut net = two_hosts();
    let a = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    let now = net.now();
    net.a().udp_send_to(now, a, b"x", sa("192.0.2.200:9")).unwrap();
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.a().udp_take_error(a), Some(Error::HostUnreachable));
    assert_eq!(neighbour_failures(net.a().counters()), 1);
    assert_eq!(
        std::io::Error::from(Error::HostUnreachable).kind(),
        std::io::ErrorKind::HostUnreachable
    );
    assert_eq!(
        std::io::Error::from(Error::ConnectionRefused).kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}

