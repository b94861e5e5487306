use core::net::SocketAddr;

use pila::stack::{Error, EventKind, Stack, TcpHandle};
use pila::tcp::State;
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

fn events(s: &mut Stack) -> Vec<pila::stack::Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Connects A to B's listener on port 80 and accepts; returns (client, server).
fn connected(net: &mut Net) -> (TcpHandle, TcpHandle) {
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 16).unwrap_or_else(|_| {
        panic!("listen");
    });
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    let mut s = None;
    assert!(net.run_within(Duration::from_secs(5), |n| {
        if s.is_none() {
            s = n.b().tcp_accept(l).ok();
        }
        s.is_some() && n.a().tcp(c).unwrap().state() == State::Established
    }));
    (c, s.unwrap())
}

#[test]
fn connect_exchange_and_close() {
    let mut net = two_hosts();
    let (c, s) = connected(&mut net);
    net.a().tcp_mut(c).unwrap().send(b"hello, b").unwrap();
    let mut buf = [0; 64];
    let mut got = 0;
    net.run_within(Duration::from_secs(2), |n| {
        if let Ok(k) = n.b().tcp_mut(s).unwrap().recv(&mut buf) {
            got = k;
        }
        got > 0
    });
    assert_eq!(&buf[..got], b"hello, b");
    net.b().tcp_mut(s).unwrap().send(b"hi a").unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.a().tcp_mut(c).unwrap().recv(&mut buf), Ok(4));
    // Both close; A ends in TIME-WAIT, B closed and freed.
    net.a().tcp_release(c);
    net.run_for(Duration::from_millis(100));
    net.b().tcp_release(s);
    net.run_for(Duration::from_secs(1));
    assert!(net.b().tcp(s).is_none(), "B's slot is freed");
    assert_eq!(net.b().tcp_connection_count(), 0);
    assert_eq!(net.a().tcp_connection_count(), 1, "A holds TIME-WAIT");
    net.run_for(Duration::from_secs(61));
    assert_eq!(net.a().tcp_connection_count(), 0);
    let ea = events(net.a());
    let kinds: Vec<EventKind> = ea.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Established, EventKind::Closed]);
    assert_eq!(ea[1].bytes_sent, 8);
    assert_eq!(ea[1].bytes_received, 4);
    assert_eq!(ea[0].remote, sa("192.0.2.2:80"));
    let ca = net.a().counters().clone();
    let cb = net.b().counters().clone();
    assert_eq!((ca.tcp_active_opens, cb.tcp_passive_opens), (1, 1));
    assert_eq!((ca.tcp_curr_estab, cb.tcp_curr_estab), (0, 0));
    assert_eq!(ca.tcp_out_rsts + cb.tcp_out_rsts, 0);
    assert!(ca.tcp_out_segs >= 4 && cb.tcp_in_segs >= 4);
}

#[test]
fn refused_is_seen_on_both_ends() {
    let mut net = two_hosts();
    net.set_capture(true);
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:81"), None).unwrap();
    net.run_for(Duration::from_secs(1));
    let conn = net.a().tcp(c).unwrap();
    assert_eq!(conn.state(), State::Closed);
    let mut buf = [0; 4];
    assert_eq!(
        net.a().tcp_mut(c).unwrap().recv(&mut buf),
        Err(pila::tcp::RecvError::Error(pila::tcp::Error::Refused))
    );
    let a_local = net.a().tcp(c).unwrap().local();
    let ea = events(net.a());
    assert_eq!(
        ea.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Refused, EventKind::Closed]
    );
    let eb = events(net.b());
    assert_eq!(eb.len(), 1);
    assert_eq!(eb[0].kind, EventKind::Refused);
    assert_eq!((eb[0].local, eb[0].remote), (sa("192.0.2.2:81"), a_local));
    assert_eq!(net.b().counters().tcp_out_rsts, 1);
    assert_eq!(net.a().counters().tcp_attempt_fails, 1);
    // The application releases it: freed.
    net.a().tcp_release(c);
    net.run_for(Duration::from_millis(1));
    assert_eq!(net.a().tcp_connection_count(), 0);
}

#[test]
fn segments_to_nowhere_get_rst_and_stray_rst_gets_nothing() {
    let mut net = two_hosts();
    let (c, s) = connected(&mut net);
    // B forgets the connection abruptly by aborting; A's data then meets RST.
    net.b().tcp_mut(s).unwrap().abort();
    net.run_for(Duration::from_millis(10));
    let before = net.b().counters().tcp_out_rsts;
    assert_eq!(before, 1, "abort sends RST");
    assert_eq!(net.a().tcp(c).unwrap().state(), State::Closed);
    let kinds: Vec<EventKind> = events(net.a()).iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Established, EventKind::Reset, EventKind::Closed]);
    assert_eq!(net.a().counters().tcp_estab_resets, 1);
}

#[test]
fn release_with_unread_data_resets() {
    let mut net = two_hosts();
    let (c, s) = connected(&mut net);
    net.a().tcp_mut(c).unwrap().send(b"unread").unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.b().tcp(s).unwrap().recv_available(), 6);
    net.b().tcp_release(s);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.b().counters().tcp_out_rsts, 1);
    assert_eq!(net.a().tcp(c).unwrap().state(), State::Closed);
    assert_eq!(net.b().tcp_connection_count(), 0);
}

#[test]
fn time_wait_is_reused_by_a_newer_syn() {
    let mut net = two_hosts();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 4).unwrap();
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:80"), Some(sa("0.0.0.0:5555"))).unwrap();
    net.run_for(Duration::from_millis(100));
    let s = net.b().tcp_accept(l).unwrap();
    // B closes first, so B holds TIME-WAIT.
    net.b().tcp_release(s);
    net.run_for(Duration::from_millis(100));
    net.a().tcp_release(c);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.b().tcp_connection_count(), 1, "TIME-WAIT on B");
    // The same 4-tuple again, at once: B's TIME-WAIT gives way.
    let now = net.now();
    let c2 = net.a().tcp_connect(now, sa("192.0.2.2:80"), Some(sa("0.0.0.0:5555"))).unwrap();
    assert!(net.run_within(Duration::from_secs(1), |n| {
        n.a().tcp(c2).unwrap().state() == State::Established
    }));
    assert!(net.b().tcp_accept(l).is_ok());
}

#[test]
fn addresses_in_use_and_not_ours() {
    let mut net = two_hosts();
    let s = net.a();
    s.tcp_listen(sa("0.0.0.0:80"), 1).unwrap();
    assert_eq!(s.tcp_listen(sa("192.0.2.1:80"), 1), Err(Error::AddrInUse));
    assert_eq!(s.tcp_listen(sa("198.51.100.1:80"), 1), Err(Error::AddrNotAvailable));
    let now = pila::time::Instant::ZERO;
    assert_eq!(
        s.tcp_connect(now, sa("192.0.2.2:80"), Some(sa("192.0.2.1:80"))),
        Err(Error::AddrInUse)
    );
    assert_eq!(s.tcp_connect(now, sa("0.0.0.0:80"), None), Err(Error::InvalidInput));
    assert_eq!(s.tcp_connect(now, sa("203.0.113.1:80"), None), Err(Error::NetworkUnreachable));
    let l = s.tcp_listen(sa("0.0.0.0:0"), 1).unwrap();
    assert!(s.listener_local_addr(l).unwrap().port() >= 49152);
    assert_eq!(s.tcp_accept(l), Err(Error::WouldBlock));
}

#[test]
fn full_accept_queue_drops_syns_until_accepted() {
    let mut net = two_hosts();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 1).unwrap();
    let now = net.now();
    let c1 = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.a().tcp(c1).unwrap().state(), State::Established);
    // The accept queue (backlog 1) is full now: the next SYN is dropped, no cookie either.
    let now = net.now();
    let c2 = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    net.run_for(Duration::from_millis(500));
    assert_eq!(net.a().tcp(c2).unwrap().state(), State::SynSent);
    assert!(net.b().counters().tcp_listen_overflows >= 1);
    assert_eq!(net.b().counters().tcp_syn_cookies_sent, 0);
    assert!(net.b().tcp_accept(l).is_ok());
    // A's SYN retransmission (after 1 s) now gets in.
    assert!(net.run_within(Duration::from_secs(3), |n| {
        n.a().tcp(c2).unwrap().state() == State::Established
    }));
    assert!(net.b().tcp_accept(l).is_ok());
}

#[test]
fn closing_a_listener_resets_what_it_held() {
    let mut net = two_hosts();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 4).unwrap();
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.a().tcp(c).unwrap().state(), State::Established);
    net.b().listener_close(l);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.a().tcp(c).unwrap().state(), State::Closed);
    assert_eq!(net.b().tcp_connection_count(), 0);
    assert!(net.b().tcp_listen(sa("0.0.0.0:80"), 4).is_ok(), "port free again");
}

#[test]
fn arp_failure_fails_a_connect_with_host_unreachable() {
    let mut net = two_hosts();
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.77:80"), None).unwrap();
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.a().tcp(c).unwrap().state(), State::Closed);
    assert_eq!(net.a().tcp_take_error(c), Some(Error::HostUnreachable));
    let kinds: Vec<EventKind> = events(net.a()).iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::TimedOut, EventKind::Closed]);
}

#[test]
fn wakes_name_the_listener_then_the_connection() {
    let mut net = two_hosts();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 4).unwrap();
    let now = net.now();
    net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    net.run_for(Duration::from_millis(100));
    let wakes: Vec<_> = std::iter::from_fn(|| net.b().poll_wake()).collect();
    assert!(wakes.contains(&pila::stack::SocketHandle::Listener(l)), "{wakes:?}");
}

/// 10,000 connections between two stacks at once, each sending and receiving a little.
/// The SYN queue keeps its default bound (256): SYN cookies carry the rest.
#[test]
fn ten_thousand_concurrent_connections() {
    const N: usize = 10_000;
    let mut net = two_hosts();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), N).unwrap();
    let now = net.now();
    let clients: Vec<TcpHandle> =
        (0..N).map(|_| net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap()).collect();
    let mut servers = Vec::new();
    let mut buf = [0u8; 64];
    let mut echoed = 0;
    let mut done = vec![false; N];
    let mut finished = 0;
    let ok = net.run_within(Duration::from_secs(120), |n| {
        while let Ok(s) = n.b().tcp_accept(l) {
            servers.push((s, false));
        }
        for (s, replied) in servers.iter_mut().filter(|(_, r)| !*r) {
            let conn = n.b().tcp_mut(*s).unwrap();
            if let Ok(k) = conn.recv(&mut buf) {
                if k > 0 {
                    conn.send(&buf[..k]).unwrap();
                    conn.shutdown_write();
                    *replied = true;
                    echoed += 1;
                }
            }
        }
        for (i, c) in clients.iter().enumerate() {
            if done[i] {
                continue;
            }
            let conn = n.a().tcp_mut(*c).unwrap();
            match conn.state() {
                State::Established if conn.info().bytes_sent == 0 => {
                    conn.send(format!("#{i}").as_bytes()).unwrap();
                }
                _ => {}
            }
            if let Ok(k) = conn.recv(&mut buf) {
                if k > 0 {
                    assert_eq!(&buf[..k], format!("#{i}").as_bytes());
                    done[i] = true;
                    finished += 1;
                }
            }
        }
        finished == N
    });
    if !ok {
        let mut states = std::collections::HashMap::new();
        for c in &clients {
            *states.entry(format!("{}", net.a().tcp(*c).unwrap().state())).or_insert(0) += 1;
        }
        eprintln!("{states:?} t={:?} next={:?}", net.now(), net.next_deadline());
        eprintln!("{}", net.a().counters().clone());
        eprintln!("{}", net.b().counters().clone());
    }
    assert!(ok, "{finished} of {N} finished, {echoed} echoed");
    assert_eq!(net.b().counters().tcp_passive_opens, N as u64);
    assert_eq!(net.a().counters().tcp_curr_estab, N as u64);
    assert_eq!(net.a().counters().tcp_out_rsts, 0);
    let b = net.b().counters().clone();
    assert!(b.tcp_syn_cookies_sent > 0 && b.tcp_syn_cookies_recv > 0, "{b}");
    assert_eq!(b.tcp_syn_cookies_failed, 0);
}

/// A chatty peer on a keepalive connection moves its deadlines with every segment: the
/// timer heap still holds O(connections) entries, not one per segment.
#[test]
fn a_million_exchanges_leave_the_timer_heap_small() {
    let keepalive = pila::tcp::Keepalive {
        idle: Duration::from_secs(7200),
        interval: Duration::from_secs(75),
        probes: 9,
    };
    // ACKs at once: between exchanges the keepalive is each side's only deadline.
    let tcp = pila::tcp::Config {
        keepalive: Some(keepalive),
        delayed_ack: None,
        ..pila::tcp::Config::default()
    };
    let a = pila::stack::Config { tcp: tcp.clone(), ..config(false) };
    let b = pila::stack::Config { tcp, ..config(true) };
    let mut net = net_with(a, b, pila::device::WireConfig::default());
    let (c, s) = connected(&mut net);
    let mut buf = [0u8; 16];
    let mut most = 0;
    for i in 0..1_000_000u32 {
        net.a().tcp_mut(c).unwrap().send(&i.to_le_bytes()[..1]).unwrap();
        net.settle();
        assert_eq!(net.b().tcp_mut(s).unwrap().recv(&mut buf), Ok(1), "exchange {i}");
        net.b().tcp_mut(s).unwrap().send(b"k").unwrap();
        net.settle();
        assert_eq!(net.a().tcp_mut(c).unwrap().recv(&mut buf), Ok(1), "exchange {i}");
        // Time moves on, so every exchange re-arms the timers at a new instant.
        net.advance(Duration::from_micros(100));
        most = most.max(net.a().tcp_timer_entries()).max(net.b().tcp_timer_entries());
    }
    assert!(most <= 2 + 64 + 2, "the timer heap grew to {most} entries for one connection");
}

