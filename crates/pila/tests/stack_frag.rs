//! IPv4 fragments through the stack in the simulator: UDP datagrams up to 64 KiB go out in
//! fragments and come back whole; TCP keeps DF; fragments that overlap, lie or never
//! complete are dropped and counted, and a reassembly time-out is reported with ICMP.

mod support;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use pila::stack::UdpHandle;
use pila::time::Duration;
use pila::wire::ip::Protocol;
use pila::wire::{Checksums, ethernet, icmpv4, ipv4, udp};
use support::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn recv(net: &mut Net, i: usize, h: UdpHandle, within: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0; 70_000];
    let mut got = None;
    net.run_within(within, |n| match n.stack_mut(side(i)).udp_recv_from(h, &mut buf) {
        Ok((len, _)) => {
            got = Some(buf[..len].to_vec());
            true
        }
        Err(_) => false,
    });
    got
}

/// The IPv4 datagram inside an Ethernet frame.
fn datagram(frame: &[u8]) -> Option<&[u8]> {
    (frame.get(12..14)? == [0x08, 0x00]).then(|| &frame[ethernet::HEADER_LEN..])
}

/// A UDP datagram from A (port 5000) to B's port 7 carrying `data`, as whole IPv4 bytes.
fn udp_datagram(ident: u16, data: &[u8]) -> Vec<u8> {
    let (src, dst) = (ip(A_IP), ip(B_IP));
    let repr = udp::Repr { src_port: 5000, dst_port: 7 };
    let ip_repr = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: Protocol::Udp,
        payload_len: repr.buffer_len(data.len()),
        ttl: 64,
        tos: 0,
        ident,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0; ip_repr.buffer_len()];
    ip_repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..20]), &Checksums::SOFTWARE);
    repr.emit(
        &mut udp::Packet::new_unchecked(&mut bytes[20..]),
        IpAddr::V4(src),
        IpAddr::V4(dst),
        data.len(),
        |p| p.copy_from_slice(data),
        &Checksums::SOFTWARE,
    )
    .unwrap();
    bytes
}

/// One fragment of `whole` (an unfragmented datagram): payload bytes `start..end`.
fn fragment(whole: &[u8], start: usize, end: usize, more: bool) -> Vec<u8> {
    let packet = ipv4::Packet::new_checked(whole).unwrap();
    let header = ipv4::Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
    let piece = &packet.payload()[start..end];
    let repr = ipv4::Repr {
        payload_len: piece.len(),
        more_frags: more,
        frag_offset: start as u16,
        ..header
    };
    let mut bytes = vec![0; repr.buffer_len()];
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..20]), &Checksums::SOFTWARE);
    bytes[20..].copy_from_slice(piece);
    eth_frame(B_MAC, ethernet::EtherType::Ipv4, &bytes)
}

/// A and B with B's MAC known to A and A's to B, so no ARP is in the way.
fn resolved() -> Net {
    let mut net = two_hosts();
    let now = net.now();
    net.a().ping_send(now, ip(B_IP), 1, 1, b"hi").unwrap();
    net.run_for(Duration::from_millis(10));
    assert!(net.a().ping_poll_reply(1).is_some());
    net
}

#[test]
fn udp_datagrams_up_to_64k_are_fragmented_and_reassembled() {
    let mut net = resolved();
    let b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    let a = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    net.set_capture(true);
    for len in [1472, 1473, 3000, 65507] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let now = net.now();
        assert_eq!(net.a().udp_send_to(now, a, &data, sa("192.0.2.2:7")), Ok(len));
        assert_eq!(recv(&mut net, 1, b, Duration::from_secs(1)).as_deref(), Some(&data[..]));
    }
    // 1472 fits; 1473 takes 2 fragments, 3000 takes 3, 65507 takes 45 (1480 bytes each).
    let c = net.a().counters().clone();
    assert_eq!((c.ip_frag_oks, c.ip_frag_creates), (3, 2 + 3 + 45));
    let c = net.b().counters().clone();
    assert_eq!((c.ip_reasm_reqds, c.ip_reasm_oks, c.ip_reasm_fails), (50, 3, 0));
    assert_eq!(c.udp_in_datagrams, 4);
    // On the wire: at most the MTU, DF clear, MF on all but the last, offsets in 8-byte
    // units that tile the datagram.
    let mut next = 0;
    let mut frags = 0;
    for (_, frame) in sent(&net).iter().filter(|(i, _)| *i == 0) {
        let Some(d) = datagram(frame) else { continue };
        let p = ipv4::Packet::new_checked(d).unwrap();
        if p.protocol() != Protocol::Udp || !(p.more_frags() || p.frag_offset() != 0) {
            continue;
        }
        frags += 1;
        assert!(d.len() <= 1500 && !p.dont_frag() && p.verify_checksum());
        assert_eq!(usize::from(p.frag_offset()), next);
        assert_eq!(p.frag_offset() % 8, 0);
        next = if p.more_frags() { next + p.payload().len() } else { 0 };
        if p.more_frags() {
            assert_eq!(p.payload().len() % 8, 0);
        }
    }
    assert_eq!(frags, 50);
    assert_eq!(next, 0, "every datagram ended with a last fragment");
}

#[test]
fn a_datagram_waiting_for_arp_waits_whole_and_leaves_in_fragments() {
    let mut net = two_hosts();
    let b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    let a = net.a().udp_bind(sa("0.0.0.0:0")).unwrap();
    // 45 fragments would overflow the 16-datagram ARP queue; one whole datagram does not.
    let data = vec![0x5a; 65000];
    let now = net.now();
    net.a().udp_send_to(now, a, &data, sa("192.0.2.2:7")).unwrap();
    assert_eq!(recv(&mut net, 1, b, Duration::from_secs(2)), Some(data));
    assert_eq!(net.a().counters().ip_frag_oks, 1);
}

#[test]
fn tcp_segments_carry_df() {
    let mut net = two_hosts();
    net.set_capture(true);
    let _l = net.b().tcp_listen(sa("0.0.0.0:80"), 8).unwrap();
    let now = net.now();
    let _c = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    net.run_for(Duration::from_millis(50));
    let frames = sent(&net);
    let tcp: Vec<_> = frames
        .iter()
        .filter_map(|(_, f)| datagram(f))
        .map(|d| ipv4::Packet::new_checked(d).unwrap())
        .filter(|p| p.protocol() == Protocol::Tcp)
        .collect();
    assert!(tcp.len() >= 3, "handshake seen");
    assert!(tcp.iter().all(|p| p.dont_frag()));
}

#[test]
fn fragments_in_reverse_order_with_a_repeat_make_the_datagram() {
    let mut net = resolved();
    let b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    let whole = udp_datagram(0x1234, &[0xab; 100]);
    // The UDP payload of 108 bytes: pieces [0, 48), [48, 96), [96, 108).
    net.inject(B, &fragment(&whole, 96, 108, false));
    net.inject(B, &fragment(&whole, 48, 96, true));
    net.inject(B, &fragment(&whole, 48, 96, true));
    assert!(recv(&mut net, 1, b, Duration::from_millis(1)).is_none());
    net.inject(B, &fragment(&whole, 0, 48, true));
    assert_eq!(recv(&mut net, 1, b, Duration::from_millis(1)), Some(vec![0xab; 100]));
    let c = net.b().counters().clone();
    assert_eq!((c.ip_reasm_reqds, c.ip_reasm_oks, c.ip_reasm_fails), (4, 1, 0));
}

#[test]
fn overlapping_fragments_drop_the_whole_datagram() {
    let mut net = resolved();
    let b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    let whole = udp_datagram(0x4321, &[0x11; 100]);
    net.inject(B, &fragment(&whole, 0, 48, true));
    // [40, 96) overlaps [0, 48): the datagram is dead, later fragments too.
    net.inject(B, &fragment(&whole, 40, 96, true));
    net.inject(B, &fragment(&whole, 48, 96, true));
    net.inject(B, &fragment(&whole, 96, 108, false));
    assert!(recv(&mut net, 1, b, Duration::from_secs(1)).is_none());
    let c = net.b().counters().clone();
    assert_eq!((c.ip_reasm_reqds, c.ip_reasm_oks, c.ip_reasm_fails), (4, 0, 1));
    // The dead datagram's time-out sends no ICMP and is not counted twice.
    let sent_before = net.b().counters().icmp_out_msgs;
    net.run_for(Duration::from_secs(31));
    assert_eq!(net.b().counters().ip_reasm_fails, 1);
    assert_eq!(net.b().counters().icmp_out_msgs, sent_before);
    // The same ident after the time-out is a new datagram and works.
    for (s, e, more) in [(0, 48, true), (48, 96, true), (96, 108, false)] {
        net.inject(B, &fragment(&whole, s, e, more));
    }
    assert_eq!(recv(&mut net, 1, b, Duration::from_millis(1)), Some(vec![0x11; 100]));
}

#[test]
fn incomplete_datagrams_time_out_with_icmp_time_exceeded() {
    let mut net = resolved();
    let _b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    net.set_capture(true);
    let a_icmp = net.a().counters().icmp_in_msgs;
    let first = udp_datagram(0x0101, &[1; 100]);
    let second = udp_datagram(0x0202, &[2; 100]);
    net.inject(B, &fragment(&first, 0, 48, true)); // fragment 0: time exceeded later
    net.inject(B, &fragment(&second, 48, 96, true)); // no fragment 0: silent
    net.run_for(Duration::from_secs(29));
    assert_eq!(net.b().counters().ip_reasm_fails, 0);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.b().counters().ip_reasm_fails, 2);
    let errors: Vec<_> = sent(&net)
        .iter()
        .filter(|(i, _)| *i == 1)
        .filter_map(|(_, f)| datagram(f))
        .filter_map(|d| {
            let p = ipv4::Packet::new_checked(d).ok()?;
            (p.protocol() == Protocol::Icmp).then(|| p.payload().to_vec())
        })
        .filter_map(|icmp| {
            let p = icmpv4::Packet::new_checked(&icmp[..]).ok()?;
            match icmpv4::Repr::parse(&p, &Checksums::SOFTWARE).ok()? {
                icmpv4::Repr::TimeExceeded { reason, header, data } => {
                    Some((reason, header.ident, data.to_vec()))
                }
                _ => None,
            }
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (reason, ident, data) = &errors[0];
    assert_eq!(*reason, icmpv4::TimeExceeded::FragReassemblyExpired);
    assert_eq!(*ident, 0x0101);
    assert_eq!(data[..4], first[20..24], "the quote starts with the UDP ports");
    assert_eq!(net.a().counters().icmp_in_msgs, a_icmp + 1, "A received it");
}

#[test]
fn the_reassembly_memory_bound_holds_under_a_flood_of_partial_datagrams() {
    let mut b_config = config(true);
    b_config.reassembly_memory = 64 << 10;
    let mut net = net_with(config(false), b_config, pila::device::WireConfig::default());
    let b = net.b().udp_bind(sa("0.0.0.0:7")).unwrap();
    // 200 datagrams of which only the first 1480 bytes ever come: ~300 KiB of fragments.
    for ident in 0..200u16 {
        let whole = udp_datagram(ident, &[0; 3000]);
        net.inject(B, &fragment(&whole, 0, 1480, true));
    }
    let c = net.b().counters().clone();
    assert_eq!(c.ip_reasm_reqds, 200);
    assert!(c.ip_reasm_fails >= 150, "the oldest were evicted: {}", c.ip_reasm_fails);
    // A whole datagram still gets through.
    let whole = udp_datagram(999, &[7; 3000]);
    for (s, e, more) in [(0, 1480, true), (1480, 2960, true), (2960, 3008, false)] {
        net.inject(B, &fragment(&whole, s, e, more));
    }
    assert_eq!(recv(&mut net, 1, b, Duration::from_millis(1)), Some(vec![7; 3000]));
}
