//! IPv6 on the link in the simulator: addresses through duplicate address detection, the
//! stable link-local address, neighbour discovery with its reachability states, echo both
//! ways over link-local and global addresses, conflicts, and what a host refuses.

mod support;

use core::net::{IpAddr, Ipv6Addr};

use pila::device::WireConfig;
use pila::stack::{Config, Ipv6Config, PingReply};
use pila::time::Duration;
use pila::wire::{ethernet, ipv6};
use support::*;

const A6: &str = "2001:db8::a";
const B6: &str = "2001:db8::b";

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Host A or B with IPv6 on: a stable link-local address from a fixed secret, and a global
/// address on 2001:db8::/64.
fn config6(b: bool) -> Config {
    Config {
        ipv6: Some(Ipv6Config {
            addresses: vec![format!("{}/64", if b { B6 } else { A6 }).parse().unwrap()],
            stable_secret: Some([if b { 0xbb } else { 0xaa }; 16]),
            // These tests are about neighbours; routers have a test of their own.
            router_solicitations: 0,
            ..Ipv6Config::default()
        }),
        ..config(b)
    }
}

fn two_hosts6() -> Net {
    net_with(config6(false), config6(true), WireConfig::default())
}

/// Runs until both hosts' addresses are through duplicate address detection.
fn settle(net: &mut Net) {
    let ready = net.run_within(Duration::from_secs(5), |n| {
        n.a().ipv6_addresses().len() == 2 && n.b().ipv6_addresses().len() == 2
    });
    assert!(ready, "addresses still tentative: {:?}", net.a().ipv6_addresses());
}

fn ping(net: &mut Net, dst: Ipv6Addr, seq: u16) -> Option<PingReply> {
    let now = net.now();
    net.a().ping_send(now, dst, 0x66, seq, b"hello six").unwrap();
    let mut reply = None;
    net.run_within(Duration::from_secs(5), |n| {
        reply = n.a().ping_poll_reply(0x66);
        reply.is_some()
    });
    reply
}

#[test]
fn addresses_become_usable_after_duplicate_address_detection() {
    let mut net = two_hosts6();
    let start = net.now();
    // Tentative at first: not a source yet.
    assert!(net.a().ipv6_addresses().is_empty());
    let err = net.a().ping_send(start, ip6(B6), 1, 1, b"x").unwrap_err();
    assert_eq!(err, pila::stack::Error::NetworkUnreachable);
    settle(&mut net);
    // One solicitation per address, a random delay of under a second, then RetransTimer.
    let took = net.now() - start;
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(3), "{took:?}");
    let a = net.a().counters().clone();
    assert_eq!(a.icmp6_out_neighbor_solicits, 2, "one DAD probe per address");
    assert!(a.icmp6_out_mldv2_reports >= 1, "the solicited-node groups are reported");
    assert_eq!(a.nd_dad_conflicts, 0);
    // The link-local address is stable: the same secret and MAC give it again.
    let again = Net::new(config6(false), config6(true), WireConfig::default()).unwrap();
    let mut again = again;
    settle(&mut again);
    assert_eq!(net.a().ipv6_addresses(), again.a().ipv6_addresses());
    let link_local = net.a().ipv6_addresses()[0];
    assert_eq!(link_local.segments()[..4], [0xfe80, 0, 0, 0]);
    // Opaque: not the modified EUI-64 of A's MAC (02:00:00:00:00:0a).
    assert_ne!(link_local, ip6("fe80::ff:fe00:a"));
}

#[test]
fn echo_both_ways_over_global_and_link_local_addresses() {
    let mut net = two_hosts6();
    settle(&mut net);
    net.set_capture(true);
    let reply = ping(&mut net, ip6(B6), 1).expect("echo reply from the global address");
    assert_eq!(reply.from, IpAddr::V6(ip6(B6)));
    assert_eq!((reply.seq, reply.data_len), (1, 9));
    // Neighbour solicitation (multicast), advertisement, echo request, echo reply.
    let kinds: Vec<(usize, ethernet::Address)> = sent(&net)
        .iter()
        .filter_map(|(i, f)| {
            let f = ethernet::Frame::new_checked(&f[..]).unwrap();
            (f.ethertype() == ethernet::EtherType::Ipv6).then(|| (*i, f.dst_addr()))
        })
        .collect();
    let b_group = ethernet::Address::from_ipv6_multicast(pila::wire::ipv6::solicited_node(ip6(B6)));
    assert_eq!(kinds, [(0, b_group), (1, A_MAC), (0, B_MAC), (1, A_MAC)]);
    let (a, b) = (net.a().counters().clone(), net.b().counters().clone());
    assert_eq!((b.icmp6_in_echos, b.icmp6_out_echo_replies, a.icmp6_in_echo_replies), (1, 1, 1));
    assert_eq!(b.icmp6_out_neighbor_advertisements, 1);
    // B learned A from the solicitation: its reply needed no solicitation of its own.
    assert_eq!(b.icmp6_out_neighbor_solicits, 2, "B's two DAD probes and nothing else");
    // The link-local address answers too.
    let b_link_local = net.b().ipv6_addresses()[0];
    let reply = ping(&mut net, b_link_local, 2).expect("echo reply from the link-local address");
    assert_eq!(reply.from, IpAddr::V6(b_link_local));
    // And B pings A back.
    let now = net.now();
    net.b().ping_send(now, ip6(A6), 7, 1, b"back").unwrap();
    let mut back = None;
    net.run_within(Duration::from_secs(5), |n| {
        back = n.b().ping_poll_reply(7);
        back.is_some()
    });
    assert_eq!(back.map(|r| r.from), Some(IpAddr::V6(ip6(A6))));
}

#[test]
fn a_neighbour_gone_silent_is_probed_then_forgotten() {
    let mut net = two_hosts6();
    settle(&mut net);
    ping(&mut net, ip6(B6), 1).expect("first reply");
    // B stops answering anything.
    net.set_filter(
        |from, _| if from == B { pila::sim::Verdict::Drop } else { pila::sim::Verdict::Pass },
    );
    // Past ReachableTime the entry is stale; a ping uses it, waits DELAY_FIRST_PROBE_TIME,
    // then probes by unicast three times and gives up.
    net.run_for(Duration::from_secs(31));
    let before = net.a().counters().icmp6_out_neighbor_solicits;
    assert!(ping(&mut net, ip6(B6), 2).is_none());
    net.run_for(Duration::from_secs(10));
    let a = net.a().counters().clone();
    assert_eq!(a.icmp6_out_neighbor_solicits - before, 3, "three unicast probes");
    // Forgotten: the next ping starts a multicast resolution, which fails after three more.
    let now = net.now();
    net.a().ping_send(now, ip6(B6), 0x66, 3, b"x").unwrap();
    net.run_for(Duration::from_secs(5));
    let a = net.a().counters().clone();
    assert_eq!(a.icmp6_out_neighbor_solicits - before, 6);
    assert_eq!(a.nd_failed, 1);
    assert_eq!(a.ip6_out_discards, 1, "the ping that waited for it");
}

#[test]
fn a_duplicate_address_is_detected_and_never_used() {
    // B is configured with A's global address: whoever checks second finds it taken.
    let mut b = config6(true);
    b.ipv6.as_mut().unwrap().addresses = vec![format!("{A6}/64").parse().unwrap()];
    let mut net = net_with(config6(false), b, WireConfig::default());
    net.run_for(Duration::from_secs(5));
    let (a, b) = (net.a().counters().clone(), net.b().counters().clone());
    // Both check it at the same time (each sees the other's solicitation from ::), or one
    // after the other (the second sees the first's advertisement): either way neither may
    // keep it unchallenged, and at least one gives it up.
    assert!(a.nd_dad_conflicts + b.nd_dad_conflicts >= 1);
    let holders = [net.a().ipv6_address_ready(ip6(A6)), net.b().ipv6_address_ready(ip6(A6))];
    assert!(holders.iter().filter(|&&h| h).count() <= 1, "{holders:?}");
    // The link-local addresses differ, so both hosts keep theirs.
    for addresses in [net.a().ipv6_addresses(), net.b().ipv6_addresses()] {
        assert!(addresses.iter().any(|a| a.segments()[0] == 0xfe80), "{addresses:?}");
    }
}

#[test]
fn ipv6_to_a_stack_without_ipv6_is_dropped_and_counted() {
    let mut net = net_with(config6(false), config(true), WireConfig::default());
    net.run_for(Duration::from_secs(3));
    // A's duplicate address detection and reports go to groups B never joined.
    assert!(net.b().counters().eth_dropped >= 2);
    // A packet to B's own MAC is read, and refused: B has no IPv6 address.
    let header = pila::wire::ipv6::Repr {
        src_addr: ip6(A6),
        dst_addr: ip6(B6),
        next_header: pila::wire::ip::Protocol::from(59),
        payload_len: 0,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut packet = vec![0; header.buffer_len()];
    header.emit(&mut pila::wire::ipv6::Packet::new_unchecked(&mut packet[..]));
    let frame = eth_frame(B_MAC, ethernet::EtherType::Ipv6, &packet);
    net.inject(B, &frame);
    let b = net.b().counters().clone();
    assert_eq!((b.ip6_in_receives, b.ip6_in_addr_errors), (1, 1));
    assert_eq!(b.icmp6_out_msgs, 0);
}

fn sa(s: &str) -> core::net::SocketAddr {
    s.parse().unwrap()
}

/// Runs until `h` on the host `side` has a datagram; returns it and its sender.
fn recv(
    net: &mut Net,
    side: Side,
    h: pila::stack::UdpHandle,
) -> Option<(Vec<u8>, core::net::SocketAddr)> {
    let mut got = None;
    net.run_within(Duration::from_secs(5), |n| {
        let mut buf = [0u8; 2048];
        let stack = if side == A { n.a() } else { n.b() };
        if let Ok((len, from)) = stack.udp_recv_from(h, &mut buf) {
            got = Some((buf[..len].to_vec(), from));
        }
        got.is_some()
    });
    got
}

#[test]
fn udp_datagrams_both_ways_over_ipv6() {
    let mut net = two_hosts6();
    settle(&mut net);
    let server = net.b().udp_bind(sa("[2001:db8::b]:7")).unwrap();
    let client = net.a().udp_bind(sa("[::]:0")).unwrap();
    let now = net.now();
    net.a().udp_send_to(now, client, b"over six", sa("[2001:db8::b]:7")).unwrap();
    let (data, from) = recv(&mut net, B, server).expect("the datagram");
    assert_eq!(data, b"over six");
    assert_eq!(from.ip(), IpAddr::V6(ip6(A6)), "the source fits the destination");
    let now = net.now();
    net.b().udp_send_to(now, server, b"and back", from).unwrap();
    let (data, back_from) = recv(&mut net, A, client).expect("the answer");
    assert_eq!((data.as_slice(), back_from), (&b"and back"[..], sa("[2001:db8::b]:7")));
    // Link-local works the same, to a socket bound to every address.
    let any = net.b().udp_bind(sa("[::]:8")).unwrap();
    let b_link_local = net.b().ipv6_addresses()[0];
    let now = net.now();
    let to = core::net::SocketAddr::new(IpAddr::V6(b_link_local), 8);
    net.a().udp_send_to(now, client, b"local", to).unwrap();
    let (_, from) = recv(&mut net, B, any).expect("the link-local datagram");
    assert_eq!(from.ip().to_string()[..4], *"fe80", "a link-local source for a link-local peer");
    let (a, b) = (net.a().counters().clone(), net.b().counters().clone());
    assert_eq!((a.udp_out_datagrams, b.udp_in_datagrams), (2, 2));
    assert_eq!(b.udp_in_errors, 0);
    // RFC 6437: a flow keeps its label, another flow gets another.
    net.set_capture(true);
    for port in [7, 7, 8] {
        let now = net.now();
        net.a().udp_send_to(now, client, b"flow", sa(&format!("[2001:db8::b]:{port}"))).unwrap();
        net.run_for(Duration::from_millis(1));
    }
    let labels: Vec<u32> = sent(&net)
        .iter()
        .filter(|(i, _)| *i == 0)
        .filter_map(|(_, f)| {
            let f = ethernet::Frame::new_checked(&f[..]).ok()?;
            let p = pila::wire::ipv6::Packet::new_checked(f.payload()).ok()?;
            (p.next_header() == pila::wire::ip::Protocol::Udp).then(|| p.flow_label())
        })
        .collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(labels[0] != 0 && labels[0] == labels[1] && labels[2] != labels[0], "{labels:?}");
}

#[test]
fn a_closed_port_answers_with_icmpv6_and_a_connected_socket_hears_refused() {
    let mut net = two_hosts6();
    settle(&mut net);
    let client = net.a().udp_bind(sa("[::]:0")).unwrap();
    net.a().udp_connect(client, sa("[2001:db8::b]:9")).unwrap();
    let now = net.now();
    net.a().udp_send(now, client, b"anyone?").unwrap();
    let refused = net.run_within(Duration::from_secs(5), |n| {
        n.a().udp_take_error(client) == Some(pila::stack::Error::ConnectionRefused)
    });
    assert!(refused, "no refusal reached the connected socket");
    let (a, b) = (net.a().counters().clone(), net.b().counters().clone());
    assert_eq!((b.udp_no_ports, b.icmp6_out_dest_unreachs), (1, 1));
    assert_eq!(a.icmp6_in_dest_unreachs, 1);
}

#[test]
fn a_dual_stack_socket_takes_ipv4_as_mapped_addresses_and_answers_over_ipv4() {
    let mut net = two_hosts6();
    settle(&mut net);
    let server = net.b().udp_bind(sa("[::]:53")).unwrap();
    let client = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    let now = net.now();
    net.a().udp_send_to(now, client, b"four", sa("192.0.2.2:53")).unwrap();
    let (data, from) = recv(&mut net, B, server).expect("the IPv4 datagram");
    assert_eq!(data, b"four");
    let port = net.a().udp_local_addr(client).unwrap().port();
    assert_eq!(from, sa(&format!("[::ffff:192.0.2.1]:{port}")), "seen as mapped");
    let now = net.now();
    net.b().udp_send_to(now, server, b"back on four", from).unwrap();
    let (data, back_from) = recv(&mut net, A, client).expect("the IPv4 answer");
    assert_eq!((data.as_slice(), back_from), (&b"back on four"[..], sa("192.0.2.2:53")));
    // The same port over IPv6 reaches the same socket.
    let six = net.a().udp_bind(sa("[::]:0")).unwrap();
    let now = net.now();
    net.a().udp_send_to(now, six, b"six", sa("[2001:db8::b]:53")).unwrap();
    let (_, from) = recv(&mut net, B, server).expect("the IPv6 datagram");
    assert_eq!(from.ip(), IpAddr::V6(ip6(A6)));
    // `[::]` holds the port for both families; an IPv4 socket bound to one family's
    // address cannot send to the other's.
    assert_eq!(net.b().udp_bind(sa("0.0.0.0:53")), Err(pila::stack::Error::AddrInUse));
    let now = net.now();
    let err = net.a().udp_send_to(now, client, b"x", sa("[2001:db8::b]:53")).unwrap_err();
    assert_eq!(err, pila::stack::Error::InvalidInput);
}

/// A router advertisement from fe80::1 (ROUTER_MAC) to all nodes: default router for
/// `lifetime` seconds, MTU 1400, and 2001:db8:1::/64 on-link and autonomous with the given
/// valid and preferred lifetimes.
fn router_advert(lifetime: u16, valid: u32, preferred: u32) -> Vec<u8> {
    use pila::wire::icmpv6::{NdpOption, NdpOptions, PrefixInfo, Repr};
    let (src, dst) = (ip6("fe80::1"), pila::wire::ipv6::ALL_NODES);
    let options = [
        NdpOption::SourceLinkAddr(ROUTER_MAC),
        NdpOption::Mtu(1400),
        NdpOption::PrefixInfo(PrefixInfo {
            prefix_len: 64,
            on_link: true,
            autonomous: true,
            valid_lifetime: valid,
            preferred_lifetime: preferred,
            prefix: ip6("2001:db8:1::"),
        }),
    ];
    let repr = Repr::RouterAdvert {
        hop_limit: 60,
        managed: false,
        other: false,
        router_lifetime: lifetime,
        reachable_time: 20_000,
        retrans_timer: 250,
        options: NdpOptions::List(&options),
    };
    let header = pila::wire::ipv6::Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: pila::wire::ip::Protocol::Icmpv6,
        payload_len: repr.buffer_len(),
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut packet = vec![0; header.buffer_len()];
    header.emit(&mut pila::wire::ipv6::Packet::new_unchecked(&mut packet[..]));
    let body = &mut packet[pila::wire::ipv6::HEADER_LEN..];
    let sw = pila::wire::Checksums::SOFTWARE;
    repr.emit(&mut pila::wire::icmpv6::Packet::new_unchecked(body), src, dst, &sw);
    let eth = ethernet::Repr {
        src_addr: ROUTER_MAC,
        dst_addr: ethernet::Address::from_ipv6_multicast(dst),
        ethertype: ethernet::EtherType::Ipv6,
        vlan: None,
    };
    let mut frame = vec![0; eth.buffer_len(packet.len())];
    eth.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
    frame[eth.header_len()..].copy_from_slice(&packet);
    frame
}

#[test]
fn router_solicitations_then_an_advertisement_gives_an_address_a_route_and_an_mtu() {
    let mut b = config6(true);
    b.ipv6.as_mut().unwrap().router_solicitations = 3;
    let mut net = net_with(config6(false), b, WireConfig::default());
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.b().counters().icmp6_out_router_solicits, 3, "three, then it waits");
    net.inject(B, &router_advert(1800, 86_400, 14_400));
    net.run_for(Duration::from_secs(3));
    let b = net.b().counters().clone();
    assert_eq!(b.icmp6_in_router_advertisements, 1);
    // An address on the advertised prefix, through detection, stable and opaque.
    let addresses = net.b().ipv6_addresses();
    let slaac: Vec<_> =
        addresses.iter().filter(|a| a.segments()[..4] == [0x2001, 0xdb8, 1, 0]).collect();
    assert_eq!(slaac.len(), 1, "{addresses:?}");
    assert_ne!(slaac[0].segments()[4..], [0, 0, 0, 0]);
    // The router carries what is off-link: a ping elsewhere asks for the router's MAC
    // (already known from the advertisement: the echo goes straight to it).
    net.set_capture(true);
    let now = net.now();
    net.b().ping_send(now, ip6("2001:db8:99::9"), 5, 1, b"out").unwrap();
    net.run_for(Duration::from_millis(10));
    let to_router = sent(&net).iter().any(|(i, f)| {
        let f = ethernet::Frame::new_checked(&f[..]).unwrap();
        *i == 1 && f.dst_addr() == ROUTER_MAC && f.ethertype() == ethernet::EtherType::Ipv6
    });
    assert!(to_router, "the echo went to the default router");
    // The advertised MTU bounds a packet: one byte more goes in fragments that fit it.
    let udp = net.b().udp_bind(sa("[::]:0")).unwrap();
    net.set_capture(true);
    let now = net.now();
    let big = vec![0; 1400 - 40 - 8 + 1];
    net.b().udp_send_to(now, udp, &big, sa("[2001:db8::a]:9")).unwrap();
    net.run_for(Duration::from_millis(10));
    let sizes: Vec<usize> = sent(&net)
        .iter()
        .filter(|(i, f)| *i == 1 && f[12..14] == [0x86, 0xdd])
        .map(|(_, f)| f.len() - ethernet::HEADER_LEN)
        .collect();
    assert!(sizes.len() >= 2 && sizes.iter().all(|&n| n <= 1400), "{sizes:?}");
    assert_eq!(net.b().counters().ip6_frag_oks, 1);
    // A second advertisement with a shorter valid lifetime cannot cut it below two hours.
    net.inject(B, &router_advert(1800, 60, 30));
    net.run_for(Duration::from_secs(120));
    assert!(net.b().ipv6_address_ready(*slaac[0]), "the two-hour rule kept it");
}

// ---- TCP over IPv6 ----------------------------------------------------------------------

/// Connects A from `from` (or a source of A's choosing) to `to` on B, whose listener `l`
/// accepts; returns (client, server) once both are established.
fn tcp_pair(
    net: &mut Net,
    l: pila::stack::ListenerHandle,
    to: &str,
) -> (pila::stack::TcpHandle, pila::stack::TcpHandle) {
    let now = net.now();
    let c = net.a().tcp_connect(now, sa(to), None).unwrap();
    let mut s = None;
    let up = net.run_within(Duration::from_secs(5), |n| {
        if s.is_none() {
            s = n.b().tcp_accept(l).ok();
        }
        s.is_some() && n.a().tcp(c).unwrap().state() == pila::tcp::State::Established
    });
    assert!(up, "the connection to {to} did not open");
    (c, s.unwrap())
}

/// Sends `data` from `from` on A to `to` on B and runs until B has read all of it.
fn exchange(net: &mut Net, from: pila::stack::TcpHandle, to: pila::stack::TcpHandle, data: &[u8]) {
    net.a().tcp_mut(from).unwrap().send(data).unwrap();
    let mut got = Vec::new();
    net.run_within(Duration::from_secs(30), |n| {
        let mut buf = [0u8; 4096];
        while let Ok(len @ 1..) = n.b().tcp_mut(to).unwrap().recv(&mut buf) {
            got.extend_from_slice(&buf[..len]);
        }
        got.len() >= data.len()
    });
    assert!(got == data, "{} of {} bytes arrived", got.len(), data.len());
}

#[test]
fn tcp_over_ipv6_connects_exchanges_and_is_refused_on_a_closed_port() {
    let mut net = two_hosts6();
    settle(&mut net);
    let l = net.b().tcp_listen(sa("[2001:db8::b]:7"), 8).unwrap();
    let (c, s) = tcp_pair(&mut net, l, "[2001:db8::b]:7");
    let conn = net.a().tcp(c).unwrap();
    let (local, remote, mss) = (conn.local(), conn.remote(), conn.mss());
    assert_eq!(local.ip(), IpAddr::V6(ip6(A6)), "the source fits the destination");
    assert_eq!(remote, Some(sa("[2001:db8::b]:7")));
    // 1500 less 40 bytes of IPv6 header, 20 of TCP, 12 of timestamps.
    assert_eq!(mss, 1428);
    assert_eq!(net.b().tcp_addrs(s), Some((sa("[2001:db8::b]:7"), local)));
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    exchange(&mut net, c, s, &data);
    let (a, b) = (net.a().counters().clone(), net.b().counters().clone());
    assert!(b.ip6_in_delivers > 100 && a.ip6_out_requests > 100, "{a:?}");
    assert_eq!((a.ip_out_requests, b.ip_in_receives), (0, 0), "nothing went over IPv4");
    // The flow label is the same on every segment of the connection, and not zero.
    net.set_capture(true);
    exchange(&mut net, c, s, b"one more");
    let labels: Vec<u32> = sent(&net)
        .iter()
        .filter_map(|(_, f)| {
            let f = ethernet::Frame::new_checked(&f[..]).ok()?;
            let p = pila::wire::ipv6::Packet::new_checked(f.payload()).ok()?;
            (p.next_header() == pila::wire::ip::Protocol::Tcp).then(|| p.flow_label())
        })
        .collect();
    assert!(labels.len() >= 2 && labels[0] != 0, "{labels:?}");
    // A closed port: RST, refused on both ends, over IPv6.
    let now = net.now();
    let refused = net.a().tcp_connect(now, sa("[2001:db8::b]:9"), None).unwrap();
    net.run_for(Duration::from_millis(50));
    let conn = net.a().tcp(refused).unwrap();
    assert_eq!(conn.error(), Some(pila::tcp::Error::Refused));
    let events: Vec<_> = std::iter::from_fn(|| net.b().poll_event()).collect();
    let event = events.iter().find(|e| e.kind == pila::stack::EventKind::Refused);
    assert_eq!(event.map(|e| e.local), Some(sa("[2001:db8::b]:9")), "{events:?}");
    assert_eq!(net.b().counters().tcp_out_rsts, 1);
}

#[test]
fn a_dual_stack_listener_accepts_both_families_and_a_v6_only_one_leaves_ipv4_alone() {
    let mut net = two_hosts6();
    settle(&mut net);
    let l = net.b().tcp_listen(sa("[::]:80"), 8).unwrap();
    // Over IPv4: the connection is IPv4 on the wire, its socket sees mapped addresses.
    let (c4, s4) = tcp_pair(&mut net, l, "192.0.2.2:80");
    assert_eq!(net.b().tcp(s4).unwrap().local(), sa("192.0.2.2:80"));
    let client4 = net.a().tcp(c4).unwrap().local();
    let seen = net.b().tcp_addrs(s4).unwrap();
    assert_eq!(seen.0, sa("[::ffff:192.0.2.2]:80"));
    assert_eq!(seen.1, sa(&format!("[::ffff:192.0.2.1]:{}", client4.port())));
    exchange(&mut net, c4, s4, b"over four");
    // Over IPv6, the same listener.
    let (c6, s6) = tcp_pair(&mut net, l, "[2001:db8::b]:80");
    assert_eq!(net.b().tcp_addrs(s6).unwrap().0, sa("[2001:db8::b]:80"));
    exchange(&mut net, c6, s6, b"over six");
    // `[::]` takes the IPv4 port too: an IPv4 listener on it clashes, either way round.
    let in_use = Err(pila::stack::Error::AddrInUse);
    assert_eq!(net.b().tcp_listen(sa("0.0.0.0:80"), 8).map(|_| ()), in_use);
    assert_eq!(net.b().tcp_listen(sa("192.0.2.2:80"), 8).map(|_| ()), in_use);
    assert_eq!(net.b().tcp_listen(sa("[2001:db8::b]:80"), 8).map(|_| ()), in_use);
    let v4 = net.b().tcp_listen(sa("0.0.0.0:81"), 8).unwrap();
    assert_eq!(net.b().tcp_listen(sa("[::]:81"), 8).map(|_| ()), in_use);
    // An IPv6-only `[::]` shares the port with the IPv4 listener; each gets its family.
    let v6 = net.b().tcp_listen_v6_only(sa("[::]:81"), 8).unwrap();
    let invalid = Err(pila::stack::Error::InvalidInput);
    assert_eq!(net.b().tcp_listen_v6_only(sa("0.0.0.0:82"), 8).map(|_| ()), invalid);
    let (_, s) = tcp_pair(&mut net, v4, "192.0.2.2:81");
    assert_eq!(net.b().tcp_addrs(s).unwrap().0, sa("192.0.2.2:81"), "an IPv4 socket's view");
    let (_, s) = tcp_pair(&mut net, v6, "[2001:db8::b]:81");
    assert_eq!(net.b().tcp_addrs(s).unwrap().0, sa("[2001:db8::b]:81"));
    // Closing the IPv4 listener leaves IPv4 SYNs to port 81 refused: the v6-only one
    // never takes them.
    net.b().listener_close(v4);
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:81"), None).unwrap();
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.a().tcp(c).unwrap().error(), Some(pila::tcp::Error::Refused));
    // A connection to an IPv4-mapped address runs over IPv4 and is seen mapped.
    let (c, _) = tcp_pair(&mut net, l, "[::ffff:192.0.2.2]:80");
    assert_eq!(net.a().tcp(c).unwrap().remote(), Some(sa("192.0.2.2:80")));
    assert_eq!(net.a().tcp_addrs(c).unwrap().1, sa("[::ffff:192.0.2.2]:80"));
    // An IPv4 source cannot reach an IPv6 peer.
    let now = net.now();
    let err = net.a().tcp_connect(now, sa("[2001:db8::b]:80"), Some(sa("192.0.2.1:0")));
    assert_eq!(err.map(|_| ()), invalid);
}

/// A router between A and B whose link carries `mtu` bytes of IPv6: a larger packet is
/// dropped and its sender gets a Packet Too Big from the router, 2001:db8::fe, that
/// announces `announced`.
fn ipv6_path_mtu(net: &mut Net, mtu: usize, announced: u32) {
    use pila::sim::Verdict;
    use pila::wire::{Checksums, icmpv6, ip::Protocol, ipv6};
    net.set_filter(move |_, frame| {
        let Ok(eth) = ethernet::Frame::new_checked(frame) else { return Verdict::Pass };
        let packet = eth.payload();
        if eth.ethertype() != ethernet::EtherType::Ipv6 || packet.len() <= mtu {
            return Verdict::Pass;
        }
        let Ok(p) = ipv6::Packet::new_checked(packet) else { return Verdict::Pass };
        let sender = p.src_addr();
        let repr = icmpv6::Repr::packet_too_big(announced, packet).unwrap();
        let router = ip6("2001:db8::fe");
        let ip = ipv6::Repr {
            src_addr: router,
            dst_addr: sender,
            next_header: Protocol::Icmpv6,
            payload_len: repr.buffer_len(),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut reply = vec![0; ip.buffer_len()];
        ip.emit(&mut ipv6::Packet::new_unchecked(&mut reply[..]));
        let body = &mut reply[ipv6::HEADER_LEN..];
        repr.emit(&mut icmpv6::Packet::new_unchecked(body), router, sender, &Checksums::SOFTWARE);
        let eth_repr = ethernet::Repr {
            src_addr: eth.dst_addr(),
            dst_addr: eth.src_addr(),
            ethertype: ethernet::EtherType::Ipv6,
            vlan: None,
        };
        let mut out = vec![0; eth_repr.buffer_len(reply.len())];
        eth_repr.emit(&mut ethernet::Frame::new_unchecked(&mut out[..]));
        out[eth_repr.header_len()..].copy_from_slice(&reply);
        Verdict::Reply(out)
    });
}

#[test]
fn packet_too_big_lowers_the_path_mtu_and_the_transfer_goes_on() {
    let mut net = two_hosts6();
    settle(&mut net);
    let l = net.b().tcp_listen(sa("[::]:80"), 8).unwrap();
    let (c, s) = tcp_pair(&mut net, l, "[2001:db8::b]:80");
    assert_eq!(net.a().tcp(c).unwrap().mss(), 1428);
    ipv6_path_mtu(&mut net, 1400, 1400);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 249) as u8).collect();
    let start = net.now();
    exchange(&mut net, c, s, &data);
    eprintln!("100 kB through a smaller path MTU in {:?}", net.now() - start);
    // 1400 less 60 bytes of headers and 12 of timestamps.
    assert_eq!(net.a().tcp(c).unwrap().mss(), 1328);
    assert!(net.a().counters().icmp6_in_pkt_too_bigs >= 1);
    // RFC 8201 §4: below IPv6's minimum link MTU, the minimum is taken (a router that
    // says less is wrong: every IPv6 link carries 1280 bytes).
    ipv6_path_mtu(&mut net, 1280, 1000);
    exchange(&mut net, c, s, &data);
    assert_eq!(net.a().tcp(c).unwrap().mss(), 1280 - 60 - 12);
    // A Packet Too Big quoting a sequence number not in flight is ignored (RFC 5927).
    let before = net.a().counters().tcp_out_of_window_icmps;
    net.set_capture(true);
    net.a().tcp_mut(c).unwrap().send(b"x").unwrap();
    net.run_for(Duration::from_millis(100));
    // The one-byte segment: behind 40 bytes of IPv6 and 32 of TCP with timestamps.
    let (_, frame) = sent(&net)
        .into_iter()
        .find(|(i, f)| *i == 0 && f.len() == ethernet::HEADER_LEN + 40 + 32 + 1)
        .expect("A's one-byte segment");
    let mut stale = ethernet::Frame::new_checked(&frame[..]).unwrap().payload().to_vec();
    // Move the quoted sequence number far back: bytes 4..8 of the TCP header.
    stale[ipv6::HEADER_LEN + 4] ^= 0x80;
    inject_too_big(&mut net, &stale, 1280);
    assert_eq!(net.a().counters().tcp_out_of_window_icmps, before + 1);
}

/// Delivers to A a Packet Too Big from the router quoting `packet`.
fn inject_too_big(net: &mut Net, packet: &[u8], mtu: u32) {
    use pila::wire::{Checksums, icmpv6, ip::Protocol};
    let repr = icmpv6::Repr::packet_too_big(mtu, packet).unwrap();
    let (router, to) = (ip6("2001:db8::fe"), ip6(A6));
    let ip = ipv6::Repr {
        src_addr: router,
        dst_addr: to,
        next_header: Protocol::Icmpv6,
        payload_len: repr.buffer_len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut reply = vec![0; ip.buffer_len()];
    ip.emit(&mut ipv6::Packet::new_unchecked(&mut reply[..]));
    repr.emit(
        &mut icmpv6::Packet::new_unchecked(&mut reply[ipv6::HEADER_LEN..]),
        router,
        to,
        &Checksums::SOFTWARE,
    );
    let frame = eth_frame(A_MAC, ethernet::EtherType::Ipv6, &reply);
    net.inject(A, &frame);
    net.run_for(Duration::from_millis(1));
}

#[test]
fn syn_cookies_carry_ipv6_connections_past_a_full_syn_queue() {
    // B keeps two half-open connections at most; the rest of A's SYNs get cookies.
    let b = Config { max_syn_backlog: 2, ..config6(true) };
    let mut net = net_with(config6(false), b, WireConfig::default());
    settle(&mut net);
    let l = net.b().tcp_listen(sa("[::]:80"), 64).unwrap();
    let now = net.now();
    let clients: Vec<_> =
        (0..20).map(|_| net.a().tcp_connect(now, sa("[2001:db8::b]:80"), None).unwrap()).collect();
    let mut accepted = Vec::new();
    let all = net.run_within(Duration::from_secs(5), |n| {
        while let Ok(s) = n.b().tcp_accept(l) {
            accepted.push(s);
        }
        accepted.len() == clients.len()
    });
    assert!(all, "{} of {} accepted", accepted.len(), clients.len());
    let b = net.b().counters().clone();
    // The SYNs arrive together: all but the two in the queue (and those that found room
    // as the handshakes ended) are answered with cookies, and every cookie comes back.
    assert!(b.tcp_syn_cookies_sent >= 10, "{b:?}");
    assert_eq!(b.tcp_syn_cookies_recv, b.tcp_syn_cookies_sent);
    assert_eq!(b.tcp_syn_cookies_failed, 0);
    // A connection rebuilt from a cookie carries data like any other, with the MSS the
    // cookie kept (1440 less 12 bytes of timestamps).
    let c = *clients.last().unwrap();
    let s = *accepted
        .iter()
        .find(|&&s| net.b().tcp(s).unwrap().remote() == Some(net.a().tcp(c).unwrap().local()))
        .unwrap();
    exchange(&mut net, c, s, b"through a cookie");
    assert_eq!(net.b().tcp(s).unwrap().mss(), 1428);
}

// ---- Fragments ----------------------------------------------------------------------------

#[test]
fn a_3000_byte_ping_and_9000_byte_datagrams_go_in_fragments_both_ways() {
    let mut net = two_hosts6();
    settle(&mut net);
    net.set_capture(true);
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
    let now = net.now();
    net.a().ping_send(now, ip6(B6), 0x77, 1, &data).unwrap();
    let mut reply = None;
    net.run_within(Duration::from_secs(5), |n| {
        reply = n.a().ping_poll_reply(0x77);
        reply.is_some()
    });
    let reply = reply.expect("the echo reply, reassembled");
    assert_eq!((reply.from, reply.data_len), (IpAddr::V6(ip6(B6)), 3000));
    // Three fragments each way, none above the MTU, all of one identification per packet.
    let fragments: Vec<(usize, u32, u16, bool, usize)> = sent(&net)
        .iter()
        .filter_map(|(i, f)| {
            let f = ethernet::Frame::new_checked(&f[..]).ok()?;
            let p = ipv6::Packet::new_checked(f.payload()).ok()?;
            if u8::from(p.next_header()) != ipv6::ext::FRAGMENT {
                return None;
            }
            let h = ipv6::ext::FragmentHeader::parse(p.payload()).ok()?;
            Some((*i, h.ident, h.offset, h.more, f.payload().len()))
        })
        .collect();
    assert_eq!(fragments.len(), 6, "{fragments:?}");
    assert!(fragments.iter().all(|f| f.4 <= 1500), "{fragments:?}");
    assert!(fragments[..3].iter().all(|f| f.0 == 0 && f.1 == fragments[0].1));
    assert_eq!(
        fragments.iter().map(|f| (f.2, f.3)).take(3).collect::<Vec<_>>(),
        [(0, true), (1448, true), (2896, false)]
    );
    let (a, b) = (net.a().counters().clone(), net.b().counters().clone());
    assert_eq!((a.ip6_frag_oks, a.ip6_frag_creates, b.ip6_reasm_oks), (1, 3, 1));
    assert_eq!((b.ip6_frag_oks, a.ip6_reasm_oks, b.ip6_reasm_reqds), (1, 1, 3));
    // UDP: 9000 bytes each way.
    let server = net.b().udp_bind(sa("[2001:db8::b]:7")).unwrap();
    let client = net.a().udp_bind(sa("[::]:0")).unwrap();
    let big: Vec<u8> = (0..9000u32).map(|i| (i * 7 % 251) as u8).collect();
    let now = net.now();
    net.a().udp_send_to(now, client, &big, sa("[2001:db8::b]:7")).unwrap();
    let mut buf = vec![0u8; 65536];
    let mut from = None;
    net.run_within(Duration::from_secs(5), |n| {
        if let Ok((len, addr)) = n.b().udp_recv_from(server, &mut buf) {
            assert!(buf[..len] == big[..], "the datagram differs");
            from = Some(addr);
        }
        from.is_some()
    });
    let from = from.expect("the 9000-byte datagram");
    let now = net.now();
    net.b().udp_send_to(now, server, &big, from).unwrap();
    let mut back = false;
    net.run_within(Duration::from_secs(5), |n| {
        if let Ok((len, _)) = n.a().udp_recv_from(client, &mut buf) {
            back = buf[..len] == big[..];
        }
        back
    });
    assert!(back, "the 9000-byte answer");
    // The largest datagram a UDP length holds, and no more.
    let now = net.now();
    let most = vec![1u8; 65535 - 8];
    assert_eq!(net.a().udp_send_to(now, client, &most, sa("[2001:db8::b]:7")), Ok(65527));
    let too_long = net.a().udp_send_to(now, client, &[0; 65535 - 7], sa("[2001:db8::b]:7"));
    assert_eq!(too_long, Err(pila::stack::Error::MessageTooLong));
}

/// An IPv6 packet from A to B carrying a fragment header (`ident`, `offset`, `more`) whose
/// next header is `next`, then `data`, as an Ethernet frame to B.
fn fragment_frame(ident: u32, offset: u16, more: bool, next: u8, data: &[u8]) -> Vec<u8> {
    use pila::wire::ip::Protocol;
    let ip = ipv6::Repr {
        src_addr: ip6(A6),
        dst_addr: ip6(B6),
        next_header: Protocol::from(ipv6::ext::FRAGMENT),
        payload_len: ipv6::ext::FRAGMENT_LEN + data.len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut packet = vec![0; ip.buffer_len()];
    ip.emit(&mut ipv6::Packet::new_unchecked(&mut packet[..]));
    let header =
        ipv6::ext::FragmentHeader { next_header: Protocol::from(next), offset, more, ident };
    header.emit(&mut packet[ipv6::HEADER_LEN..]);
    packet[ipv6::HEADER_LEN + ipv6::ext::FRAGMENT_LEN..].copy_from_slice(data);
    eth_frame(B_MAC, ethernet::EtherType::Ipv6, &packet)
}

/// The ICMPv6 errors B sent since capture began: (type, code, pointer or 0).
fn icmp6_from_b(net: &Net) -> Vec<(u8, u8, u32)> {
    sent(net)
        .iter()
        .filter(|(i, _)| *i == 1)
        .filter_map(|(_, f)| {
            let f = ethernet::Frame::new_checked(&f[..]).ok()?;
            let p = ipv6::Packet::new_checked(f.payload()).ok()?;
            let body = p.payload();
            let icmp = p.next_header() == pila::wire::ip::Protocol::Icmpv6;
            (icmp && body.len() >= 8 && body[0] < 128).then(|| {
                (body[0], body[1], u32::from_be_bytes([body[4], body[5], body[6], body[7]]))
            })
        })
        .collect()
}

/// A UDP datagram from A's port 4000 to B's port 9 carrying `len` bytes, its checksum
/// right: what B's closed port answers with an unreachable, once reassembled.
fn udp_datagram(len: usize) -> Vec<u8> {
    let mut dgram = vec![0u8; 8 + len];
    let repr = pila::wire::udp::Repr { src_port: 4000, dst_port: 9 };
    repr.emit(
        &mut pila::wire::udp::Packet::new_unchecked(&mut dgram[..]),
        IpAddr::V6(ip6(A6)),
        IpAddr::V6(ip6(B6)),
        len,
        |p| p.fill(0x5a),
        &pila::wire::Checksums::SOFTWARE,
    )
    .unwrap();
    dgram
}

#[test]
fn fragments_that_overlap_lie_or_never_complete_are_dropped_and_answered() {
    let mut net = two_hosts6();
    settle(&mut net);
    // Resolve A at B first, so B's answers leave at once.
    ping(&mut net, ip6(B6), 1).expect("a ping");
    net.set_capture(true);
    let dgram = udp_datagram(64);
    // In two fragments, the second first: reassembled, and B's closed port answers it.
    net.inject(B, &fragment_frame(1, 32, false, 17, &dgram[32..]));
    net.inject(B, &fragment_frame(1, 0, true, 17, &dgram[..32]));
    net.run_for(Duration::from_millis(10));
    assert_eq!(icmp6_from_b(&net), [(1, 4, 0)], "port unreachable for the reassembled datagram");
    let b = net.b().counters().clone();
    assert_eq!((b.ip6_reasm_reqds, b.ip6_reasm_oks, b.udp_no_ports), (2, 1, 1));
    // Overlapping fragments (RFC 5722): the datagram is dropped, the later piece too.
    net.set_capture(true);
    net.inject(B, &fragment_frame(2, 0, true, 17, &dgram[..32]));
    net.inject(B, &fragment_frame(2, 24, true, 17, &dgram[24..48]));
    net.inject(B, &fragment_frame(2, 32, false, 17, &dgram[32..]));
    net.run_for(Duration::from_millis(10));
    assert_eq!(icmp6_from_b(&net), [], "nothing answers a dropped datagram");
    let b = net.b().counters().clone();
    assert_eq!((b.ip6_reasm_oks, b.ip6_reasm_fails, b.udp_no_ports), (1, 1, 1));
    // RFC 8200 §4.5's refusals: a middle fragment not a multiple of 8 bytes (pointer at
    // the payload length), one ending past 65535 bytes (pointer at its offset field).
    net.inject(B, &fragment_frame(3, 0, true, 17, &dgram[..30]));
    net.inject(B, &fragment_frame(4, 65528, false, 17, &dgram[..16]));
    // RFC 7112: a first fragment without the whole UDP header (code 3, pointer 0).
    net.inject(B, &fragment_frame(5, 0, true, 17, &[0; 0][..]));
    net.run_for(Duration::from_millis(10));
    assert_eq!(icmp6_from_b(&net), [(4, 0, 4), (4, 0, 40 + 2), (4, 3, 0)]);
    // Fragment 0 of a datagram whose rest never comes: after 60 s, Time Exceeded code 1
    // (RFC 8200 §4.5). A datagram whose fragment 0 never came times out unanswered.
    net.set_capture(true);
    net.inject(B, &fragment_frame(6, 0, true, 17, &dgram[..32]));
    net.inject(B, &fragment_frame(7, 32, false, 17, &dgram[32..]));
    net.run_for(Duration::from_secs(59));
    assert_eq!(icmp6_from_b(&net), [], "too early");
    net.run_for(Duration::from_secs(2));
    assert_eq!(icmp6_from_b(&net), [(3, 1, 0)]);
    let b = net.b().counters().clone();
    assert_eq!(b.icmp6_out_time_excds, 1);
    assert_eq!(b.ip6_reasm_fails, 1 + 3 + 2, "the overlap, three refusals, two time-outs");
}

#[test]
fn a_router_advertisement_sets_the_neighbour_timers() {
    let mut net = two_hosts6();
    settle(&mut net);
    // The router says: retransmit solicitations every 250 ms (RFC 4861 §6.3.4).
    net.inject(B, &router_advert(1800, 86_400, 14_400));
    net.run_for(Duration::from_millis(10));
    net.set_capture(true);
    let now = net.now();
    // An on-link neighbour that never answers.
    net.b().ping_send(now, ip6("2001:db8:1::77"), 9, 1, b"anyone?").unwrap();
    net.run_for(Duration::from_secs(2));
    let solicits: Vec<pila::time::Instant> = net
        .captured()
        .iter()
        .filter(|f| f.from == B)
        .filter(|f| {
            let Ok(e) = ethernet::Frame::new_checked(&f.frame[..]) else { return false };
            let Ok(p) = ipv6::Packet::new_checked(e.payload()) else { return false };
            let body = p.payload();
            // Solicitations for the silent neighbour (not the detection of B's new address).
            p.next_header() == pila::wire::ip::Protocol::Icmpv6
                && body.first() == Some(&135)
                && body.get(8..24) == Some(&ip6("2001:db8:1::77").octets()[..])
        })
        .map(|f| f.at)
        .collect();
    assert_eq!(solicits.len(), 3, "{solicits:?}");
    for pair in solicits.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_millis(250), "{solicits:?}");
    }
    assert_eq!(net.b().counters().nd_failed, 1);
}

#[test]
fn a_packet_too_big_about_a_datagram_sets_the_path_mtu_of_its_destination() {
    let mut net = two_hosts6();
    settle(&mut net);
    let server = net.b().udp_bind(sa("[::]:7")).unwrap();
    let client = net.a().udp_bind(sa("[::]:0")).unwrap();
    ipv6_path_mtu(&mut net, 1300, 1300);
    net.set_capture(true);
    let datagram = vec![7u8; 1400];
    let mut buf = vec![0u8; 2048];
    // The first is too big for the path and lost; its Packet Too Big teaches A the path.
    let now = net.now();
    net.a().udp_send_to(now, client, &datagram, sa("[2001:db8::b]:7")).unwrap();
    net.run_for(Duration::from_millis(10));
    assert!(net.b().udp_recv_from(server, &mut buf).is_err());
    assert_eq!(net.a().counters().icmp6_in_pkt_too_bigs, 1);
    // The next goes in fragments that fit, and arrives.
    let now = net.now();
    net.a().udp_send_to(now, client, &datagram, sa("[2001:db8::b]:7")).unwrap();
    net.run_for(Duration::from_millis(10));
    let (len, _) = net.b().udp_recv_from(server, &mut buf).expect("the fragmented datagram");
    assert_eq!(len, 1400);
    assert_eq!(net.a().counters().ip6_frag_oks, 1);
    // A connection to that destination starts at the path's MSS: 1300 - 60 - 12.
    let l = net.b().tcp_listen(sa("[::]:80"), 4).unwrap();
    let (c, _) = tcp_pair(&mut net, l, "[2001:db8::b]:80");
    assert_eq!(net.a().tcp(c).unwrap().mss(), 1228);
    // Ten minutes on, the larger MTU is tried again (RFC 8201 §4): the datagram goes
    // whole, and with the narrow router gone it arrives so.
    net.set_filter(|_, _| pila::sim::Verdict::Pass);
    net.run_for(Duration::from_secs(601));
    let frags = net.a().counters().ip6_frag_oks;
    let now = net.now();
    net.a().udp_send_to(now, client, &datagram, sa("[2001:db8::b]:7")).unwrap();
    net.run_for(Duration::from_millis(10));
    assert_eq!(net.a().counters().ip6_frag_oks, frags, "sent whole");
    assert!(net.b().udp_recv_from(server, &mut buf).is_ok());
}

/// The MLDv2 records of the reports B sent since capture began.
fn mld_records_from_b(net: &Net) -> Vec<(pila::wire::icmpv6::RecordType, Ipv6Addr)> {
    use pila::wire::icmpv6;
    let mut out = Vec::new();
    for f in net.captured().iter().filter(|f| f.from == B) {
        let Ok(e) = ethernet::Frame::new_checked(&f.frame[..]) else { continue };
        let Ok(p) = ipv6::Packet::new_checked(e.payload()) else { continue };
        let Ok(repr) = ipv6::Repr::parse(&p) else { continue };
        let Ok(chain) = ipv6::ext::walk(repr.next_header, p.payload(), 40, true, true) else {
            continue;
        };
        let Ok(packet) = icmpv6::Packet::new_checked(&p.payload()[chain.start..]) else { continue };
        let sw = pila::wire::Checksums::SOFTWARE;
        if let Ok(icmpv6::Repr::Mldv2Report { records }) =
            icmpv6::Repr::parse(&packet, repr.src_addr, repr.dst_addr, &sw)
        {
            out.extend(records.groups());
        }
    }
    out
}

#[test]
fn a_group_no_longer_needed_is_left_in_the_next_mld_report() {
    use pila::wire::icmpv6::RecordType;
    let mut net = two_hosts6();
    settle(&mut net);
    // An address from the router's prefix, valid for a minute.
    net.inject(B, &router_advert(1800, 60, 30));
    net.run_for(Duration::from_secs(3));
    let slaac = net.b().ipv6_addresses().into_iter().find(|a| a.segments()[2] == 1);
    let slaac = slaac.expect("an address from 2001:db8:1::/64");
    let group = ipv6::solicited_node(slaac);
    net.set_capture(true);
    net.run_for(Duration::from_secs(60));
    assert!(!net.b().ipv6_address_ready(slaac), "its valid lifetime ended");
    let records = mld_records_from_b(&net);
    assert!(records.contains(&(RecordType::ChangeToInclude, group)), "{records:?}");
    // The groups still needed are reported as joined, and only the one is left.
    let left = records.iter().filter(|(k, _)| *k == RecordType::ChangeToInclude).count();
    assert_eq!(left, 1, "{records:?}");
    let b_group = ipv6::solicited_node(ip6(B6));
    assert!(records.contains(&(RecordType::ChangeToExclude, b_group)), "{records:?}");
}
