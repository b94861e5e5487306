//! The stack's link and network layers in the simulator: ARP resolution, the neighbour
//! cache, ICMP echo, routing, and bad frames dropped and counted.

mod support;

use core::net::Ipv4Addr;

use pila::device::{Impairments, Medium, WireConfig};
use pila::stack::{Config, ConfigError, Ipv4Cidr, Stack};
use pila::time::Duration;
use pila::wire::{arp, ethernet, ipv4};
use support::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Pings from A to B until a reply comes or `limit` passes; returns the RTT-free reply.
fn ping(net: &mut Net, dst: Ipv4Addr, seq: u16) -> Option<pila::stack::PingReply> {
    let now = net.now();
    net.a().ping_send(now, dst, 0x77, seq, b"hello").unwrap();
    let mut reply = None;
    net.run_within(Duration::from_secs(5), |n| {
        reply = n.a().ping_poll_reply(0x77);
        reply.is_some()
    });
    reply
}

#[test]
fn ping_resolves_arp_then_gets_its_echo() {
    let mut net = two_hosts();
    net.set_capture(true);
    let reply = ping(&mut net, ip(B_IP), 1).expect("echo reply");
    assert_eq!(reply.from, ip(B_IP));
    assert_eq!((reply.seq, reply.data_len), (1, 5));
    // ARP request (broadcast), ARP reply, echo request, echo reply: nothing else.
    let kinds: Vec<(usize, ethernet::EtherType, ethernet::Address)> = sent(&net)
        .iter()
        .map(|(i, f)| {
            let f = ethernet::Frame::new_checked(&f[..]).unwrap();
            (*i, f.ethertype(), f.dst_addr())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (0, ethernet::EtherType::Arp, ethernet::Address::BROADCAST),
            (1, ethernet::EtherType::Arp, A_MAC),
            (0, ethernet::EtherType::Ipv4, B_MAC),
            (1, ethernet::EtherType::Ipv4, A_MAC),
        ]
    );
    let a = net.a().counters().clone();
    let b = net.b().counters().clone();
    assert_eq!((a.arp_requests_sent, b.arp_replies_sent), (1, 1));
    assert_eq!((b.icmp_in_echos, b.icmp_out_echo_reps, a.icmp_in_echo_reps), (1, 1, 1));
    // B learned A from the request: its reply needed no ARP of its own.
    assert_eq!(b.arp_requests_sent, 0);
    // The second ping uses the cache.
    net.clear_captured();
    ping(&mut net, ip(B_IP), 2).expect("second reply");
    assert_eq!(net.captured().len(), 2);
}

/// A broadcast request that merely passes by, from a neighbour A knows, with a new MAC: A
/// takes the new address but does not trust it unchecked. The next datagram goes to it,
/// after a unicast request that probes it (RFC 4861 §7.2.5's rule, which ARP follows too).
#[test]
fn an_overheard_new_address_is_probed_before_it_is_trusted() {
    let mut net = two_hosts();
    ping(&mut net, ip(B_IP), 1).expect("echo reply");
    let moved = ethernet::Address([2, 0, 0, 0, 0, 0x42]);
    let request = arp::Repr {
        operation: arp::Operation::Request,
        source_hardware_addr: moved,
        source_protocol_addr: ip(B_IP),
        target_hardware_addr: ethernet::Address([0; 6]),
        target_protocol_addr: ip("192.0.2.77"),
    };
    let mut body = vec![0; request.buffer_len()];
    request.emit(&mut arp::Packet::new_unchecked(&mut body[..]));
    let mut frame = vec![0; ethernet::HEADER_LEN];
    frame[..6].copy_from_slice(ethernet::Address::BROADCAST.as_bytes());
    frame[6..12].copy_from_slice(moved.as_bytes());
    frame[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    frame.extend(&body);
    net.inject(pila::sim::Side::Client, &frame);
    net.set_capture(true);
    let now = net.now();
    net.a().ping_send(now, ip(B_IP), 0x77, 2, b"hello").unwrap();
    net.run_for(Duration::from_millis(1));
    let from_a: Vec<(ethernet::EtherType, ethernet::Address)> = sent(&net)
        .iter()
        .filter(|(i, _)| *i == 0)
        .map(|(_, f)| {
            let f = ethernet::Frame::new_checked(&f[..]).unwrap();
            (f.ethertype(), f.dst_addr())
        })
        .collect();
    assert_eq!(
        from_a,
        [(ethernet::EtherType::Arp, moved), (ethernet::EtherType::Ipv4, moved)],
        "a unicast probe to the new address, then the datagram"
    );
    assert_eq!(net.a().counters().arp_requests_sent, 2);
}

#[test]
fn unanswered_arp_is_retried_then_fails() {
    let mut net = two_hosts();
    net.set_capture(true);
    let now = net.now();
    net.a().ping_send(now, ip("192.0.2.99"), 1, 1, b"x").unwrap();
    net.run_for(Duration::from_secs(10));
    let a = net.a().counters().clone();
    assert_eq!(a.arp_requests_sent, 3);
    assert_eq!(a.arp_failed, 1);
    assert_eq!(a.ip_out_discards, 1);
    assert!(net.a().poll_timeout().is_none(), "nothing left to do");
    // B saw three requests for an address that is not its own and answered none.
    assert_eq!(net.b().counters().arp_replies_sent, 0);
}

#[test]
fn the_gateway_carries_off_link_traffic_and_no_route_is_an_error() {
    let mut a = config(false);
    a.gateway = Some(ip(B_IP));
    let mut net = net_with(a, config(true), WireConfig::default());
    net.set_capture(true);
    let now = net.now();
    net.a().ping_send(now, ip("198.51.100.7"), 1, 1, b"x").unwrap();
    net.run_for(Duration::from_secs(1));
    // A resolved the gateway and sent it the datagram; B, not a router, dropped it.
    assert_eq!(net.b().counters().arp_replies_sent, 1);
    assert_eq!(net.b().counters().ip_in_addr_errors, 1);
    let frames = sent(&net);
    let echo = frames.iter().find(|(i, f)| *i == 0 && f[12..14] == [0x08, 0x00]).unwrap();
    assert_eq!(&echo.1[..6], &B_MAC.0);
    assert_eq!(&echo.1[30..34], &[198, 51, 100, 7]);

    let mut net = two_hosts();
    let now = net.now();
    let err = net.a().ping_send(now, ip("198.51.100.7"), 1, 1, b"x").unwrap_err();
    assert_eq!(err, pila::stack::Error::NetworkUnreachable);
    assert_eq!(net.a().counters().ip_out_no_routes, 1);
}

#[test]
fn ip_medium_needs_no_arp() {
    let mut a = config(false);
    let mut b = config(true);
    a.medium = Medium::Ip;
    b.medium = Medium::Ip;
    let mut net = net_with(a, b, WireConfig::default().with_medium(Medium::Ip, 1500));
    let reply = ping(&mut net, ip(B_IP), 3).expect("reply over IP medium");
    assert_eq!(reply.seq, 3);
    assert_eq!(net.a().counters().arp_requests_sent, 0);
}

#[test]
fn ping_survives_loss_by_retrying_arp() {
    let wire = WireConfig::default().with_impairments(Impairments::NONE.with_loss(0.3));
    let mut net = net_with(config(false), config(true), wire);
    let mut replies = 0;
    for seq in 0..20 {
        if ping(&mut net, ip(B_IP), seq).is_some() {
            replies += 1;
        }
    }
    assert!(replies >= 5, "{replies} replies of 20 at 30 % loss");
}

#[test]
fn configurations_are_checked() {
    let cfg = |f: &dyn Fn(&mut Config)| {
        let mut c = config(false);
        f(&mut c);
        Stack::new(c).err()
    };
    assert_eq!(cfg(&|c| c.addresses.clear()), Some(ConfigError::BadAddress));
    assert_eq!(cfg(&|c| c.gateway = Some(ip("10.0.0.1"))), Some(ConfigError::GatewayNotOnLink));
    assert_eq!(cfg(&|c| c.mtu = 100), Some(ConfigError::BadMtu));
    assert_eq!(cfg(&|c| c.ephemeral_ports = (5000, 4000)), Some(ConfigError::BadPortRange));
    assert_eq!(cfg(&|c| c.mac = ethernet::Address::BROADCAST), Some(ConfigError::BadMac));
    assert_eq!(cfg(&|c| c.seed = None), Some(ConfigError::NoSeed));
    assert_eq!(cfg(&|_| {}), None);
    let mut c = config(false);
    c.mtu = 1280;
    assert_eq!(Stack::new(c).unwrap().config().tcp.mss, 1240);
    let _: Ipv4Cidr = "192.0.2.1/24".parse().unwrap();
}

/// The defaults hold no seed: keys everyone could predict are not a default.
#[test]
fn a_default_configuration_has_no_seed_to_predict() {
    let addresses = vec!["192.0.2.1/24".parse().unwrap()];
    let c = Config { addresses, ..Config::default() };
    assert_eq!(c.seed, None);
    assert_eq!(Stack::new(c).err(), Some(ConfigError::NoSeed));
}

/// A valid IPv4 datagram from A to B carrying an echo request, as bytes.
fn echo_datagram() -> Vec<u8> {
    // Composed by hand: 45 00 0021 (33 bytes) 1234 0000 40 01 csum c0000201 c0000202, then
    // ICMP 08 00 csum 0001 0001 "hello". Checksums computed below with the library's
    // emit and verified independently in `checksums_are_right` with a plain RFC 1071 sum.
    let mut d = vec![
        0x45, 0x00, 0x00, 0x21, 0x12, 0x34, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 192, 0, 2, 1, 192,
        0, 2, 2, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, b'h', b'e', b'l', b'l', b'o',
    ];
    let ip_sum = rfc1071(&d[..20]);
    d[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    let icmp_sum = rfc1071(&d[20..]);
    d[22..24].copy_from_slice(&icmp_sum.to_be_bytes());
    d
}

/// The Internet checksum, written out plainly (independent of `pila::wire::checksum`).
fn rfc1071(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
        sum += word;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn checksums_are_right() {
    let d = echo_datagram();
    assert_eq!(rfc1071(&d[..20]), 0);
    assert_eq!(rfc1071(&d[20..]), 0);
    let p = ipv4::Packet::new_checked(&d[..]).unwrap();
    assert!(p.verify_checksum());
}

#[test]
fn bad_frames_are_dropped_and_counted() {
    let mut net = two_hosts();
    let good = eth_frame(B_MAC, ethernet::EtherType::Ipv4, &echo_datagram());
    // Baseline: the good frame is answered.
    net.inject(B, &good);
    assert_eq!(net.b().counters().icmp_in_echos, 1);

    let mut expect = net.b().counters().clone();
    // Truncated Ethernet header.
    net.inject(B, &good[..10]);
    expect.eth_dropped += 1;
    // Not our MAC.
    let mut other = good.clone();
    other[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x33]);
    net.inject(B, &other);
    expect.eth_dropped += 1;
    // An unknown ethertype.
    net.inject(B, &eth_frame(B_MAC, ethernet::EtherType::from(0x88b5), &[0; 40]));
    expect.eth_dropped += 1;
    // A truncated ARP packet.
    net.inject(B, &eth_frame(B_MAC, ethernet::EtherType::Arp, &[0, 1, 8, 0, 6]));
    expect.eth_dropped += 1;
    let ip_err =
        |net: &mut Net, d: Vec<u8>| net.inject(B, &eth_frame(B_MAC, ethernet::EtherType::Ipv4, &d));
    // Wrong IP checksum.
    let mut d = echo_datagram();
    d[10] ^= 0x01;
    ip_err(&mut net, d);
    expect.ip_in_receives += 1;
    expect.ip_in_hdr_errors += 1;
    expect.ip_in_csum_errors += 1;
    // Header length that lies (IHL 15 > the 33 bytes... then 4 < 5).
    for ihl in [0x4f, 0x44] {
        let mut d = echo_datagram();
        d[0] = ihl;
        ip_err(&mut net, d);
        expect.ip_in_receives += 1;
        expect.ip_in_hdr_errors += 1;
    }
    // Total length that lies: longer than the frame, shorter than the header.
    for total in [200u16, 12] {
        let mut d = echo_datagram();
        d[2..4].copy_from_slice(&total.to_be_bytes());
        d[10..12].fill(0);
        let sum = rfc1071(&d[..20]);
        d[10..12].copy_from_slice(&sum.to_be_bytes());
        ip_err(&mut net, d);
        expect.ip_in_receives += 1;
        expect.ip_in_hdr_errors += 1;
    }
    // Version 6 in an IPv4 ethertype.
    let mut d = echo_datagram();
    d[0] = 0x65;
    ip_err(&mut net, d);
    expect.ip_in_receives += 1;
    expect.ip_in_hdr_errors += 1;
    // Not our IP.
    let mut d = echo_datagram();
    d[19] = 77;
    d[10..12].fill(0);
    let sum = rfc1071(&d[..20]);
    d[10..12].copy_from_slice(&sum.to_be_bytes());
    ip_err(&mut net, d);
    expect.ip_in_receives += 1;
    expect.ip_in_addr_errors += 1;
    // Wrong ICMP checksum.
    let mut d = echo_datagram();
    d[30] ^= 0xff;
    ip_err(&mut net, d);
    expect.ip_in_receives += 1;
    expect.ip_in_delivers += 1;
    expect.icmp_in_msgs += 1;
    expect.icmp_in_errors += 1;
    assert_eq!(net.b().counters(), &expect);
}

#[test]
fn arp_for_other_hosts_is_not_answered_and_odd_senders_are_ignored() {
    let mut net = two_hosts();
    let request = |target: Ipv4Addr, sender: Ipv4Addr, sender_mac: ethernet::Address| {
        let repr = arp::Repr {
            operation: arp::Operation::Request,
            source_hardware_addr: sender_mac,
            source_protocol_addr: sender,
            target_hardware_addr: ethernet::Address([0; 6]),
            target_protocol_addr: target,
        };
        let mut p = vec![0; repr.buffer_len()];
        repr.emit(&mut arp::Packet::new_unchecked(&mut p[..]));
        eth_frame(ethernet::Address::BROADCAST, ethernet::EtherType::Arp, &p)
    };
    net.inject(B, &request(ip("192.0.2.50"), ip(A_IP), A_MAC));
    assert_eq!(net.b().counters().arp_replies_sent, 0);
    // A sender claiming B's own address, or a broadcast MAC, is dropped.
    net.inject(B, &request(ip(B_IP), ip(B_IP), A_MAC));
    net.inject(B, &request(ip(B_IP), ip(A_IP), ethernet::Address::BROADCAST));
    assert_eq!(net.b().counters().arp_replies_sent, 0);
    assert_eq!(net.b().counters().eth_dropped, 2);
    // An RFC 5227 probe (sender 0.0.0.0) is answered but not cached.
    net.inject(B, &request(ip(B_IP), Ipv4Addr::UNSPECIFIED, A_MAC));
    assert_eq!(net.b().counters().arp_replies_sent, 1);
}

#[test]
fn protocol_unreachable_for_unknown_protocols() {
    let mut net = two_hosts();
    net.set_capture(true);
    // Learn A first, so B's error needs no ARP.
    ping(&mut net, ip(B_IP), 1).unwrap();
    net.clear_captured();
    let mut d = echo_datagram();
    d[9] = 200;
    d[10..12].fill(0);
    let sum = rfc1071(&d[..20]);
    d[10..12].copy_from_slice(&sum.to_be_bytes());
    net.inject(B, &eth_frame(B_MAC, ethernet::EtherType::Ipv4, &d));
    net.settle();
    assert_eq!(net.b().counters().ip_in_unknown_protos, 1);
    assert_eq!(net.b().counters().icmp_out_dest_unreachs, 1);
    let frames = sent(&net);
    let (_, f) = frames.iter().find(|(i, _)| *i == 1).unwrap();
    assert_eq!((f[34], f[35]), (3, 2), "ICMP type 3 code 2");
    assert_eq!(net.a().counters().icmp_in_dest_unreachs, 1);
}

/// Same seed, same frames: two stacks built alike and fed alike send the same bytes, ARP
/// retries to many silent neighbours included (the neighbour cache's order is the core's,
/// not a randomly keyed hash map's).
#[test]
fn the_same_seed_sends_the_same_frames() {
    let frames = || {
        let mut stack = Stack::new(config(false)).unwrap();
        let socket = stack.udp_bind("192.0.2.1:5000".parse().unwrap()).unwrap();
        let mut now = pila::time::Instant::from_secs(1);
        let mut sent = Vec::new();
        let mut buf = vec![0u8; 1600];
        for host in 10..40 {
            let to = std::net::SocketAddr::from((ip(&format!("192.0.2.{host}")), 9));
            stack.udp_send_to(now, socket, b"anyone?", to).unwrap();
        }
        for _ in 0..5 {
            while let Some(n) = stack.poll_transmit(now, &mut buf) {
                sent.push(buf[..n].to_vec());
            }
            now += Duration::from_millis(1_100);
            stack.handle_timeout(now);
        }
        sent
    };
    let first = frames();
    // 30 requests, and three retries of each before the neighbours are given up.
    assert!(first.len() >= 90, "{} frames", first.len());
    for _ in 0..3 {
        assert!(frames() == first, "the same seed sent different frames");
    }
}
