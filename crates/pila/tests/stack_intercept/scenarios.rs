use core::net::{IpAddr, SocketAddr};

use pila::stack::{Config, Error, EventKind, IpCidr, ListenerHandle, Stack, TcpHandle};
use pila::tcp::State;
use pila::time::Duration;
#[allow(unused_imports)]
use super::support::*;

/// `s`, written as an IPv4 socket address, in the family this module runs over.
fn sa(s: &str) -> SocketAddr {
    FAMILY.sa(s)
}

fn ip(s: &str) -> IpAddr {
    FAMILY.twin(s.parse().unwrap())
}

/// The far prefix in this family.
fn far() -> IpCidr {
    match FAMILY {
        Family::V4 => "198.51.100.0/24".parse().unwrap(),
        Family::V6 => "2001:db8:1::/64".parse().unwrap(),
    }
}

/// A with B as its router, and B; `b` changes B's configuration.
fn routed(b: impl FnOnce(&mut Config)) -> Net {
    let mut a = FAMILY.config(false);
    match a.ipv6.as_mut() {
        Some(v6) => v6.gateway = Some("2001:db8::2".parse().unwrap()),
        None => a.gateway = Some(B_IP.parse().unwrap()),
    }
    let mut bc = FAMILY.config(true);
    b(&mut bc);
    FAMILY.net_with(a, bc, pila::device::WireConfig::default())
}

fn events(s: &mut Stack) -> Vec<pila::stack::Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// A connects to `to`; B accepts it from `l`: (A's end, B's end).
fn connect(net: &mut Net, l: ListenerHandle, to: SocketAddr) -> (TcpHandle, TcpHandle) {
    let now = net.now();
    let c = net.a().tcp_connect(now, to, None).unwrap();
    let mut s = None;
    assert!(
        net.run_within(Duration::from_secs(5), |n| {
            s = s.or_else(|| n.b().tcp_accept(l).ok());
            s.is_some() && n.a().tcp(c).is_some_and(|c| c.state() == State::Established)
        }),
        "{to} was never accepted"
    );
    (c, s.unwrap())
}

/// Reads what has arrived on B's end `h`.
fn read_b(net: &mut Net, h: TcpHandle) -> Vec<u8> {
    let mut buf = vec![0; 1 << 16];
    let n = net.b().tcp_mut(h).unwrap().recv(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

#[test]
fn connections_to_any_far_address_end_here_with_their_destinations() {
    let mut net = routed(|_| {});
    let l = net.b().tcp_intercept(&[far()], 16).unwrap();
    for to in ["198.51.100.7:80", "198.51.100.200:443"] {
        let (c, s) = connect(&mut net, l, sa(to));
        // B's end is the far address, and A's end talks to it; B's socket sees the
        // addresses as they are (no IPv4-mapped view, though the listener is on no family).
        assert_eq!(net.b().tcp(s).unwrap().local(), sa(to));
        let (local, remote) = net.b().tcp_addrs(s).unwrap();
        assert_eq!((local, remote.ip()), (sa(to), ip(A_IP)));
        assert_eq!(net.b().tcp(s).unwrap().remote().map(|r| r.ip()), Some(ip(A_IP)));
        assert_eq!(net.a().tcp(c).unwrap().remote(), Some(sa(to)));
        net.a().tcp_mut(c).unwrap().send(b"request").unwrap();
        net.run_for(Duration::from_millis(50));
        assert_eq!(read_b(&mut net, s), b"request");
        net.b().tcp_mut(s).unwrap().send(b"response").unwrap();
        net.run_for(Duration::from_millis(50));
        let mut buf = [0; 16];
        assert_eq!(net.a().tcp_mut(c).unwrap().recv(&mut buf), Ok(8));
        assert_eq!(&buf[..8], b"response");
        // A half-close each way, then both gone.
        net.a().tcp_mut(c).unwrap().shutdown_write();
        net.run_for(Duration::from_millis(50));
        assert_eq!(net.b().tcp_mut(s).unwrap().recv(&mut buf), Ok(0));
        net.b().tcp_mut(s).unwrap().send(b"after").unwrap();
        net.b().tcp_mut(s).unwrap().close();
        net.run_for(Duration::from_millis(50));
        assert_eq!(net.a().tcp_mut(c).unwrap().recv(&mut buf), Ok(5));
        assert_eq!(net.a().tcp_mut(c).unwrap().recv(&mut buf), Ok(0));
        net.a().tcp_mut(c).unwrap().close();
        net.b().tcp_release(s);
        net.a().tcp_release(c);
    }
    let seen = events(net.b());
    let established: Vec<SocketAddr> =
        seen.iter().filter(|e| e.kind == EventKind::Established).map(|e| e.local).collect();
    assert_eq!(established, [sa("198.51.100.7:80"), sa("198.51.100.200:443")]);
}

#[test]
fn what_is_not_intercepted_is_dropped_and_own_addresses_keep_their_listeners() {
    let mut net = routed(|_| {});
    let own = net.b().tcp_listen(sa("0.0.0.0:80"), 16).unwrap();
    let l = net.b().tcp_intercept(&[far()], 16).unwrap();
    // B's own address goes to its own listener, the far one to the intercepting one, even
    // on the port the wildcard listener has.
    let (_, s) = connect(&mut net, own, sa("192.0.2.2:80"));
    assert_eq!(net.b().tcp(s).unwrap().local(), sa("192.0.2.2:80"));
    let (_, s) = connect(&mut net, l, sa("198.51.100.7:80"));
    assert_eq!(net.b().tcp(s).unwrap().local(), sa("198.51.100.7:80"));
    assert_eq!(net.b().tcp_accept(own), Err(Error::WouldBlock));
    // Outside the prefix: dropped and counted, no answer (no RST, no ICMP).
    let before = net.b().counters().clone();
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("203.0.113.5:80"), None).unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.a().tcp(c).unwrap().state(), State::SynSent);
    let after = net.b().counters().clone();
    let dropped = (after.ip_in_addr_errors - before.ip_in_addr_errors)
        + (after.ip6_in_addr_errors - before.ip6_in_addr_errors);
    assert!(dropped >= 2, "the SYN and its retransmission: {dropped}");
    assert_eq!(after.tcp_out_rsts, before.tcp_out_rsts);
    // Closed, the listener intercepts nothing more.
    net.b().listener_close(l);
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("198.51.100.8:80"), None).unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.a().tcp(c).unwrap().state(), State::SynSent);
    assert_eq!(net.b().tcp_connection_count(), 2);
}

#[test]
fn syn_cookies_carry_intercepted_connections() {
    let mut net = routed(|b| b.max_syn_backlog = 1);
    let l = net.b().tcp_intercept(&[far()], 64).unwrap();
    let now = net.now();
    let to: Vec<SocketAddr> =
        (1..=6).map(|i| sa(&format!("198.51.100.{}:{}", 10 + i, 8000 + i))).collect();
    let clients: Vec<TcpHandle> =
        to.iter().map(|&t| net.a().tcp_connect(now, t, None).unwrap()).collect();
    let mut accepted = Vec::new();
    assert!(net.run_within(Duration::from_secs(10), |n| {
        while let Ok(s) = n.b().tcp_accept(l) {
            accepted.push(s);
        }
        accepted.len() == to.len()
    }));
    assert!(net.b().counters().tcp_syn_cookies_recv > 0, "no cookie was used");
    let mut locals: Vec<SocketAddr> =
        accepted.iter().map(|&s| net.b().tcp(s).unwrap().local()).collect();
    locals.sort();
    let mut want = to.clone();
    want.sort();
    assert_eq!(locals, want);
    for c in clients {
        assert_eq!(net.a().tcp(c).unwrap().state(), State::Established);
    }
    let mut seen: Vec<SocketAddr> =
        accepted.iter().map(|&s| net.b().tcp_addrs(s).unwrap().0).collect();
    seen.sort();
    assert_eq!(seen, want);
}

#[test]
fn datagrams_to_any_far_address_arrive_with_their_destination_and_are_answered_from_it() {
    let mut net = routed(|_| {});
    let u = net.b().udp_intercept(&[far()]).unwrap();
    let a = net.a().udp_bind(sa("0.0.0.0:5353")).unwrap();
    net.a().udp_connect(a, sa("198.51.100.53:53")).unwrap();
    let now = net.now();
    net.a().udp_send(now, a, b"query").unwrap();
    net.run_for(Duration::from_millis(50));
    let mut buf = [0; 64];
    let (n, from, to) = net.b().udp_recv_from_to(u, &mut buf).unwrap();
    assert_eq!((&buf[..n], from, to), (&b"query"[..], sa("192.0.2.1:5353"), sa("198.51.100.53:53")));
    // Only an intercepted (or own) source will do, and only through send_from.
    let now = net.now();
    assert_eq!(
        net.b().udp_send_from(now, u, b"x", sa("203.0.113.1:53"), from),
        Err(Error::AddrNotAvailable)
    );
    assert_eq!(net.b().udp_send_to(now, u, b"x", from), Err(Error::InvalidInput));
    assert_eq!(net.b().udp_connect(u, from), Err(Error::InvalidInput));
    net.b().udp_send_from(now, u, b"answer", to, from).unwrap();
    net.run_for(Duration::from_millis(50));
    // A's socket is connected to the far address: the answer came from there.
    assert_eq!(net.a().udp_recv_from(a, &mut buf), Ok((6, sa("198.51.100.53:53"))));
    // A datagram to B's own address still goes to B's own sockets, with B's address.
    let own = net.b().udp_bind(sa("0.0.0.0:53")).unwrap();
    let now = net.now();
    net.a().udp_send_to(now, a, b"own", sa("192.0.2.2:53")).unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.b().udp_recv_from(u, &mut buf), Err(Error::WouldBlock));
    let (n, _, to) = net.b().udp_recv_from_to(own, &mut buf).unwrap();
    assert_eq!((n, to.ip()), (3, ip(B_IP)));
    // Closed, it takes nothing: the datagram is dropped (no port unreachable from a far
    // address B does not stand for).
    net.b().udp_close(u);
    let now = net.now();
    let before = net.b().counters().icmp_out_msgs + net.b().counters().icmp6_out_msgs;
    net.a().udp_send(now, a, b"again").unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.b().counters().icmp_out_msgs + net.b().counters().icmp6_out_msgs, before);
}

#[test]
fn echo_requests_to_intercepted_addresses_are_answered_only_when_asked() {
    let mut net = routed(|_| {});
    net.b().tcp_intercept(&[far()], 16).unwrap();
    let target = ip("198.51.100.7");
    let now = net.now();
    net.a().ping_send(now, target, 7, 1, b"ping").unwrap();
    net.run_for(Duration::from_millis(100));
    assert!(net.a().ping_poll_reply(7).is_none(), "a far host is not said to be up");
    net.b().icmp_intercept_echo(Some(vec![far()]));
    let now = net.now();
    net.a().ping_send(now, target, 7, 2, b"ping").unwrap();
    net.run_for(Duration::from_millis(100));
    let reply = net.a().ping_poll_reply(7).expect("an answer from the far address");
    assert_eq!((reply.from, reply.seq), (target, 2));
    // Outside the prefixes, still nothing.
    let now = net.now();
    net.a().ping_send(now, ip("203.0.113.9"), 8, 1, b"ping").unwrap();
    net.run_for(Duration::from_millis(100));
    assert!(net.a().ping_poll_reply(8).is_none());
}

/// A listener that holds SYNs: A's connect waits while B decides, then completes, or
/// fails as B's answer says.
#[test]
fn a_held_syn_waits_for_the_answer_and_the_client_learns_it() {
    use pila::stack::{HeldSyn, Refusal};
    let mut net = routed(|_| {});
    let l = net.b().tcp_intercept_held(&[far()]).unwrap();
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("198.51.100.7:80"), None).unwrap();
    // Past the first retransmission of the SYN: held once, never answered.
    net.run_for(Duration::from_millis(1500));
    let syn = net.b().tcp_intercept_poll(l).expect("the SYN is held");
    assert_eq!(syn.local, sa("198.51.100.7:80"));
    assert_eq!(syn.remote.ip(), ip(A_IP));
    assert_eq!(net.b().tcp_intercept_poll(l), None, "a retransmission is no new SYN");
    assert_eq!(net.a().tcp(c).unwrap().state(), State::SynSent);
    assert_eq!(net.b().tcp_connection_count(), 0);
    let now = net.now();
    let s = net.b().tcp_intercept_complete(now, l, syn).unwrap();
    assert!(net.run_within(Duration::from_secs(2), |n| {
        n.a().tcp(c).is_some_and(|c| c.state() == State::Established)
            && n.b().tcp(s).is_some_and(|s| s.state() == State::Established)
    }));
    assert_eq!(net.b().tcp(s).unwrap().local(), sa("198.51.100.7:80"));
    assert_eq!(net.b().tcp_intercept_complete(now, l, syn), Err(Error::InvalidInput));
    net.a().tcp_mut(c).unwrap().send(b"hi").unwrap();
    net.run_for(Duration::from_millis(50));
    let mut buf = [0; 4];
    assert_eq!(net.b().tcp_mut(s).unwrap().recv(&mut buf), Ok(2));

    // Refused with a reset: "connection refused"; with ICMP: "no route to host" or
    // "network is unreachable".
    for (how, want) in [
        (Refusal::Reset, Error::ConnectionRefused),
        (Refusal::HostUnreachable, Error::HostUnreachable),
        (Refusal::NetworkUnreachable, Error::NetworkUnreachable),
    ] {
        let now = net.now();
        let c = net.a().tcp_connect(now, sa("198.51.100.8:443"), None).unwrap();
        let mut syn: Option<HeldSyn> = None;
        assert!(net.run_within(Duration::from_secs(1), |n| {
            syn = n.b().tcp_intercept_poll(l);
            syn.is_some()
        }));
        let now = net.now();
        net.b().tcp_intercept_refuse(now, l, syn.unwrap(), how).unwrap();
        // Well before the SYN's next retransmission.
        net.run_for(Duration::from_millis(200));
        // A reset is the connection's own error, and ends it; an ICMP one the stack learned
        // for it (RFC 1122 §4.2.3.9: soft, the connect call reports it).
        let own = net.a().tcp(c).and_then(|c| c.error());
        let got = match own {
            Some(pila::tcp::Error::Refused) => Some(Error::ConnectionRefused),
            _ => net.a().tcp_take_error(c),
        };
        assert_eq!(got, Some(want), "{how:?}");
        net.a().tcp_release(c);
        // Time for the ICMP rate limit's bucket to fill again.
        net.run_for(Duration::from_secs(1));
    }
}

/// Held SYNs are bounded: beyond the SYN backlog they are dropped and counted, and those
/// nobody answered make room once the clients have given up.
#[test]
fn held_syns_are_bounded_and_forgotten_when_nobody_answers() {
    let mut net = routed(|b| b.max_syn_backlog = 4);
    let l = net.b().tcp_intercept_held(&[far()]).unwrap();
    let now = net.now();
    for i in 0..10 {
        net.a().tcp_connect(now, sa(&format!("198.51.100.{}:80", 20 + i)), None).unwrap();
    }
    net.run_for(Duration::from_millis(100));
    let held: Vec<_> = std::iter::from_fn(|| net.b().tcp_intercept_poll(l)).collect();
    assert_eq!(held.len(), 4);
    assert!(net.b().counters().tcp_listen_overflows >= 6);
    // After the hold limit, a new SYN finds room.
    net.run_for(Duration::from_secs(80));
    let now = net.now();
    net.a().tcp_connect(now, sa("198.51.100.99:80"), None).unwrap();
    net.run_for(Duration::from_millis(100));
    let next = std::iter::from_fn(|| net.b().tcp_intercept_poll(l)).find(|s| s.local == sa("198.51.100.99:80"));
    assert!(next.is_some(), "no room was made");
}
