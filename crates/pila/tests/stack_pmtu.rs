//! Path MTU discovery (RFC 1191) through the stack in the simulator: a router with a
//! smaller MTU bounces TCP's DF datagrams with ICMP "fragmentation needed", the sender
//! lowers its MSS and the transfer carries on in smaller segments; an ICMP error whose
//! quoted sequence number is not in flight is ignored (RFC 5927 §4.1).

mod support;

use core::net::SocketAddr;

use pila::stack::TcpHandle;
use pila::tcp::State;
use pila::time::Duration;
use pila::wire::{Checksums, ethernet, ip::Protocol, ipv4};
use support::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn connected(net: &mut Net) -> (TcpHandle, TcpHandle) {
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 8).unwrap();
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    let mut server = None;
    assert!(net.run_within(Duration::from_secs(5), |n| {
        server = server.or_else(|| n.b().tcp_accept(l).ok());
        server.is_some() && n.a().tcp(c).unwrap().state() == State::Established
    }));
    (c, server.unwrap())
}

/// Sends `data` from A's `c` to B's `s` and returns what B read.
fn transfer(net: &mut Net, c: TcpHandle, s: TcpHandle, data: &[u8]) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0; 65536];
    net.run_within(Duration::from_secs(60), |n| {
        if sent < data.len() {
            if let Ok(k) = n.a().tcp_mut(c).unwrap().send(&data[sent..]) {
                sent += k;
            }
        }
        while let Ok(k) = n.b().tcp_mut(s).unwrap().recv(&mut buf) {
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        got.len() == data.len()
    });
    got
}

#[test]
fn a_smaller_path_mtu_lowers_the_mss_and_the_transfer_goes_on() {
    let mut net = two_hosts();
    let (c, s) = connected(&mut net);
    let mss_before = net.a().tcp(c).unwrap().info().snd_mss;
    assert!(mss_before > 1400);
    set_path_mtu(&mut net, 1000);
    net.set_capture(true);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let got = transfer(&mut net, c, s, &data);
    assert!(
        got == data,
        "{} of {} bytes, intact: {}",
        got.len(),
        data.len(),
        data.starts_with(&got)
    );
    let info = net.a().tcp(c).unwrap().info();
    // 1000 bytes of IP MTU, 40 of headers, 12 of the timestamp option.
    assert_eq!(info.snd_mss, 1000 - 40 - 12);
    assert!(net.a().counters().icmp_in_dest_unreachs >= 1);
    // Once lowered, A's datagrams fit the path: only those sent before the first ICMP
    // came back (one flight) were too big.
    let sizes: Vec<usize> = sent(&net)
        .iter()
        .filter(|(i, _)| *i == 0)
        .map(|(_, f)| f.len() - ethernet::HEADER_LEN)
        .collect();
    let last_big = sizes.iter().rposition(|&n| n > 1000).unwrap();
    assert!(last_big < 40, "big datagrams kept coming: the last at {last_big} of {}", sizes.len());
    assert!(sizes.len() > 300, "the transfer went on in small segments");
}

/// A's TCP datagram quoting sequence number `seq`: header and the first 8 bytes.
fn quoted_segment(net: &mut Net, c: TcpHandle, seq: u32) -> Vec<u8> {
    let local = net.a().tcp(c).unwrap().local();
    let ip = ipv4::Repr {
        src_addr: A_IP.parse().unwrap(),
        dst_addr: B_IP.parse().unwrap(),
        protocol: Protocol::Tcp,
        payload_len: 1460,
        ttl: 64,
        tos: 0,
        ident: 9,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0; 40];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..20]), &Checksums::SOFTWARE);
    bytes[20..22].copy_from_slice(&local.port().to_be_bytes());
    bytes[22..24].copy_from_slice(&80u16.to_be_bytes());
    bytes[24..28].copy_from_slice(&seq.to_be_bytes());
    bytes
}

#[test]
fn frag_needed_must_quote_a_sequence_number_in_flight() {
    let mut net = two_hosts();
    let (c, s) = connected(&mut net);
    // Put data in flight and keep it there: B's acknowledgments are not delivered yet.
    net.a().tcp_mut(c).unwrap().send(&[1; 5000]).unwrap();
    let now = net.now();
    let mut buf = vec![0; 2000];
    while net.a().poll_transmit(now, &mut buf).is_some() {}
    let conn = net.a().tcp(c).unwrap();
    let (una, nxt, mss) = (conn.snd_una(), conn.snd_nxt(), conn.info().snd_mss);
    assert!(nxt.0.wrapping_sub(una.0) > 1448, "data in flight: {una} {nxt}");
    // Blind attempts: just past SND.NXT, and before SND.UNA.
    for seq in [nxt.0, una.0.wrapping_sub(1), nxt.0.wrapping_add(100_000)] {
        let quote = quoted_segment(&mut net, c, seq);
        net.inject(A, &frag_needed(&quote, 600, A_MAC));
    }
    assert_eq!(net.a().tcp(c).unwrap().info().snd_mss, mss);
    assert_eq!(net.a().counters().tcp_out_of_window_icmps, 3);
    // In flight: acted on.
    let quote = quoted_segment(&mut net, c, una.0.wrapping_add(1448));
    net.inject(A, &frag_needed(&quote, 600, A_MAC));
    assert_eq!(net.a().tcp(c).unwrap().info().snd_mss, 600 - 40 - 12);
    // A router claiming more than our own MTU cannot raise it; 0 means 576 (RFC 1191 §5).
    net.inject(A, &frag_needed(&quote, 9000, A_MAC));
    assert_eq!(net.a().tcp(c).unwrap().info().snd_mss, 600 - 40 - 12);
    net.inject(A, &frag_needed(&quote, 0, A_MAC));
    assert_eq!(net.a().tcp(c).unwrap().info().snd_mss, 576 - 40 - 12);
    // And the connection still works.
    let got = transfer(&mut net, c, s, &[2; 3000]);
    assert_eq!(got.len(), 5000 + 3000);
}
