//! TCP through the stack in the simulator: connect, listen and accept, data both ways,
//! close; refusal seen on both ends; RST for closed ports; release semantics; TIME-WAIT
//! reuse; the accept backlog; many concurrent connections.
//!
//! Every scenario runs over IPv4 (`v4::`) and over IPv6 (`v6::`), written once with IPv4
//! addresses that map to their IPv6 twins (`support::Family`); what only IPv4 has (ARP)
//! is tested once, at the end.

mod support;

mod v4 {
    const FAMILY: super::support::Family = super::support::Family::V4;
    include!("stack_tcp/scenarios.rs");
}

mod v6 {
    const FAMILY: super::support::Family = super::support::Family::V6;
    include!("stack_tcp/scenarios.rs");
}

use core::net::SocketAddr;

use pila::stack::Stack;
use pila::tcp::State;
use pila::time::Duration;
use support::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// What a simulation needs of the stack: fixed ISNs on both ends, static neighbours (no
/// ARP at all), the connection's own events on its socket, and checksum failures counted
/// apart.
#[test]
fn fixed_isns_static_neighbours_and_socket_events() {
    use pila::wire::tcp::SeqNumber;
    let a =
        pila::stack::Config { neighbors: vec![(B_IP.parse().unwrap(), B_MAC)], ..config(false) };
    let b = pila::stack::Config { neighbors: vec![(A_IP.parse().unwrap(), A_MAC)], ..config(true) };
    let mut net = net_with(a, b, pila::device::WireConfig::default());
    net.set_capture(true);
    let l = net.b().tcp_listen_with_isn(sa("0.0.0.0:80"), 4, SeqNumber(7)).unwrap();
    let now = net.now();
    let local = Some(sa("0.0.0.0:4000"));
    let c = net.a().tcp_connect_with_isn(now, sa("192.0.2.2:80"), local, SeqNumber(u32::MAX));
    let c = c.unwrap();
    let mut s = None;
    assert!(net.run_within(Duration::from_secs(1), |n| {
        s = s.or_else(|| n.b().tcp_accept(l).ok());
        s.is_some()
    }));
    let s = s.unwrap();
    // The SYN took ISN 2^32 - 1, so SND.UNA wrapped to 0; the listener's SYN-ACK took 7.
    assert_eq!(net.a().tcp(c).unwrap().snd_una(), SeqNumber(0));
    assert_eq!(net.b().tcp(s).unwrap().snd_una(), SeqNumber(8));
    assert_eq!(net.a().tcp(c).unwrap().local(), sa("192.0.2.1:4000"));
    assert_eq!(net.a().counters().arp_requests_sent + net.b().counters().arp_requests_sent, 0);
    assert!(sent(&net).iter().all(|(_, f)| f[12..14] == [0x08, 0x00]), "IPv4 only, no ARP");
    // A segment whose checksum fails is counted as such.
    net.a().tcp_mut(c).unwrap().send(b"abc").unwrap();
    net.run_for(Duration::from_millis(100));
    let frames = sent(&net);
    let (_, data) = frames.iter().rev().find(|(i, f)| *i == 0 && f.len() > 54 + 12).unwrap();
    let mut bad = data.clone();
    *bad.last_mut().unwrap() ^= 0x20;
    net.inject(B, &bad);
    let c_b = net.b().counters().clone();
    assert_eq!((c_b.tcp_in_errs, c_b.tcp_in_csum_errors), (1, 1));
    assert_eq!(c_b.ip_in_csum_errors, 0);
    // Each socket has its connection's events: connected, then the peer's FIN, then closed.
    net.a().tcp_mut(c).unwrap().close();
    net.run_for(Duration::from_millis(100));
    let mut buf = [0; 8];
    assert_eq!(net.b().tcp_mut(s).unwrap().recv(&mut buf), Ok(3));
    assert_eq!(net.b().tcp_mut(s).unwrap().recv(&mut buf), Ok(0));
    net.b().tcp_mut(s).unwrap().close();
    net.run_for(Duration::from_millis(100));
    let socket_events = |stack: &mut Stack, h| {
        let socket = stack.tcp_mut(h).unwrap();
        std::iter::from_fn(|| socket.poll_event()).collect::<Vec<_>>()
    };
    use pila::tcp::Event::{Closed, Connected, PeerClosed};
    assert_eq!(socket_events(net.b(), s), [Connected, PeerClosed, Closed]);
    assert_eq!(socket_events(net.a(), c), [Connected, PeerClosed]);
    assert_eq!(net.a().tcp(c).unwrap().state(), State::TimeWait);
    assert_eq!(socket_events(net.a(), c), [], "taken once");
}
