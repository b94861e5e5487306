//! SYN cookies through the stack (RFC 4987 §3.6): a SYN flood from thousands of spoofed
//! sources fills the listener's SYN queue, and a legitimate client still connects,
//! exchanges data and is accepted; forged cookie ACKs are counted and answered with RST.

mod support;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use pila::stack::Config;
use pila::tcp::State;
use pila::time::Duration;
use pila::wire::ip::Protocol;
use pila::wire::tcp::{Flags, Options, Repr, SeqNumber, Timestamp};
use pila::wire::{Checksums, ethernet, ipv4, tcp};
use support::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A TCP segment from `src` to B:80 in an Ethernet frame from A's MAC.
fn segment(src: SocketAddr, seg: &Repr<'_>) -> Vec<u8> {
    let (s, d): (IpAddr, IpAddr) = (src.ip(), B_IP.parse().unwrap());
    let ip = ipv4::Repr {
        src_addr: match s {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!(),
        },
        dst_addr: B_IP.parse().unwrap(),
        protocol: Protocol::Tcp,
        payload_len: seg.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 0,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0; ip.buffer_len()];
    let (h, body) = bytes.split_at_mut(20);
    ip.emit(&mut ipv4::Packet::new_unchecked(h), &Checksums::SOFTWARE);
    seg.emit(&mut tcp::Packet::new_unchecked(body), s, d, &Checksums::SOFTWARE).unwrap();
    eth_frame(B_MAC, ethernet::EtherType::Ipv4, &bytes)
}

fn spoofed_syn(i: u32) -> (SocketAddr, Repr<'static>) {
    // Off-link sources through no gateway: B's SYN-ACKs to them go nowhere.
    let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xc633_6400 + (i % 250))), 1024 + i as u16);
    let syn = Repr {
        src_port: src.port(),
        dst_port: 80,
        seq_number: SeqNumber(i.wrapping_mul(2_654_435_761)),
        flags: Flags::SYN,
        window_len: 64240,
        options: Options {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some(Timestamp { tsval: i, tsecr: 0 }),
            ..Options::default()
        },
        ..Repr::TEMPLATE
    };
    (src, syn)
}

fn b_with_gateway() -> Config {
    // A gateway so that spoofed off-link sources are routable (and then never resolve).
    Config { gateway: Some("192.0.2.254".parse().unwrap()), ..config(true) }
}

#[test]
fn a_syn_flood_does_not_keep_a_legitimate_client_out() {
    let mut net = net_with(config(false), b_with_gateway(), pila::device::WireConfig::default());
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 1024).unwrap();
    // 5,000 spoofed SYNs from 250 addresses on 198.51.100.0/24.
    for i in 0..5000 {
        let (src, syn) = spoofed_syn(i);
        net.inject(B, &segment(src, &syn));
    }
    net.settle();
    let c = net.b().counters().clone();
    // The SYN queue took its 256; every other SYN got a cookie and cost nothing.
    assert_eq!(c.tcp_passive_opens, 256);
    assert_eq!(c.tcp_syn_cookies_sent, 5000 - 256);
    assert!(net.b().tcp_connection_count() <= 256);
    // Meanwhile the flood goes on, and a real client connects and talks.
    let now = net.now();
    let client = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    let mut server = None;
    let mut i = 5000;
    let ok = net.run_within(Duration::from_secs(10), |n| {
        for _ in 0..50 {
            let (src, syn) = spoofed_syn(i);
            i += 1;
            n.inject(B, &segment(src, &syn));
        }
        server = server.or_else(|| n.b().tcp_accept(l).ok());
        server.is_some() && n.a().tcp(client).unwrap().state() == State::Established
    });
    assert!(ok, "the client was kept out");
    let server = server.unwrap();
    net.a().tcp_mut(client).unwrap().send(b"hello through the flood").unwrap();
    let mut buf = [0; 64];
    let mut got = 0;
    assert!(net.run_within(Duration::from_secs(5), |n| {
        if let Ok(k) = n.b().tcp_mut(server).unwrap().recv(&mut buf) {
            got = k;
        }
        got > 0
    }));
    assert_eq!(&buf[..got], b"hello through the flood");
    let c = net.b().counters().clone();
    assert_eq!(c.tcp_syn_cookies_recv, 1, "the client came in by its cookie");
    assert_eq!(c.tcp_syn_cookies_failed, 0);
    // The connection negotiated what the cookie kept.
    let info = net.b().tcp(server).unwrap().info();
    assert!(info.sack_enabled && info.timestamps_enabled && info.snd_wscale > 0, "{info:?}");
}

#[test]
fn forged_cookie_acks_are_counted_and_reset() {
    let mut b = config(true);
    b.max_syn_backlog = 1;
    let mut net = net_with(config(false), b, pila::device::WireConfig::default());
    let _l = net.b().tcp_listen(sa("0.0.0.0:80"), 64).unwrap();
    // Before any cookie: a stray ACK is just reset, not counted as a failed cookie.
    let src = sa("192.0.2.1:4000");
    let ack = Repr {
        src_port: 4000,
        dst_port: 80,
        seq_number: SeqNumber(100),
        ack_number: Some(SeqNumber(12345)),
        window_len: 1000,
        ..Repr::TEMPLATE
    };
    net.inject(B, &segment(src, &ack));
    assert_eq!(net.b().counters().tcp_syn_cookies_failed, 0);
    assert_eq!(net.b().counters().tcp_out_rsts, 1);
    // Fill the SYN queue (1) and make B send cookies.
    let now = net.now();
    let c1 = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    let c2 = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.a().tcp(c1).unwrap().state(), State::Established);
    assert_eq!(net.a().tcp(c2).unwrap().state(), State::Established);
    assert_eq!(net.b().counters().tcp_syn_cookies_recv, 1);
    // Now a blind ACK is checked, fails, and is reset.
    for guess in 0..10u32 {
        let forged = Repr { ack_number: Some(SeqNumber(guess * 7919)), ..ack };
        net.inject(B, &segment(src, &forged));
    }
    let c = net.b().counters().clone();
    assert_eq!(c.tcp_syn_cookies_failed, 10);
    assert_eq!(c.tcp_out_rsts, 11);
    assert_eq!(net.b().tcp_connection_count(), 2);
}
