//! The bodies of the fuzz targets in `fuzz/`.
//!
//! Each function takes arbitrary bytes and must never panic except on a real defect: it
//! runs the checked view and every getter, parses the `Repr`, and when that succeeds emits it
//! again and checks that the emitted bytes parse back to the same `Repr` (parse ∘ emit = id
//! on everything the parser accepts). cargo-fuzz drives them under libFuzzer; the test suite
//! (`tests/fuzz_corpus.rs`) runs them over the seed corpus on the stable toolchain, so CI
//! exercises the same code.
//!
//! Checksums are not verified on the way in (a fuzzer rarely guesses one, and everything
//! behind the check would go untested) but are computed and verified on the way back.

mod adversary;

pub use adversary::{Action, Around, Forge, IcmpError, Report, Stamp, tcp_adversary};

use crate::wire::{Checksum, Checksums, arp, ethernet, icmpv4, icmpv6, ipv4, ipv6, tcp, udp};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// No checksum verified on the way in (for every target, the adversary's too).
const NO_VERIFY: Checksums = Checksums {
    ipv4: Checksum::Tx,
    tcp: Checksum::Tx,
    udp: Checksum::Tx,
    icmpv4: Checksum::Tx,
    icmpv6: Checksum::Tx,
};
const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const DST6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2);

/// Ethernet II frames, with or without an 802.1Q tag.
pub fn ethernet(data: &[u8]) {
    let Ok(frame) = ethernet::Frame::new_checked(data) else { return };
    let _ = (frame.dst_addr(), frame.src_addr(), frame.ethertype(), frame.vlan_tag());
    let _ = (frame.header_len(), frame.payload().len());
    let Ok(repr) = ethernet::Repr::parse(&frame) else { return };
    let payload = frame.payload();
    let mut buf = vec![0; repr.buffer_len(payload.len())];
    let mut out = ethernet::Frame::new_unchecked(&mut buf[..]);
    repr.emit(&mut out);
    out.payload_mut().copy_from_slice(payload);
    let again = ethernet::Frame::new_checked(&buf[..]).expect("emitted frame is checked");
    assert_eq!(ethernet::Repr::parse(&again), Ok(repr));
    assert_eq!(again.payload(), payload);
}

/// ARP packets.
pub fn arp(data: &[u8]) {
    let Ok(packet) = arp::Packet::new_checked(data) else { return };
    let _ = (packet.hardware_type(), packet.protocol_type(), packet.operation());
    let _ = (packet.source_hardware_addr(), packet.source_protocol_addr());
    let _ = (packet.target_hardware_addr(), packet.target_protocol_addr());
    let Ok(repr) = arp::Repr::parse(&packet) else { return };
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut arp::Packet::new_unchecked(&mut buf[..]));
    let again = arp::Packet::new_checked(&buf[..]).expect("emitted packet is checked");
    assert_eq!(arp::Repr::parse(&again), Ok(repr));
}

/// IPv4 headers, options skipped; the quoted-header parser of ICMP errors too.
pub fn ipv4(data: &[u8]) {
    let _ = ipv4::Repr::parse_quoted(data);
    let Ok(packet) = ipv4::Packet::new_checked(data) else { return };
    let _ = (packet.version(), packet.dscp(), packet.ecn(), packet.ident(), packet.ttl());
    let _ = (packet.dont_frag(), packet.more_frags(), packet.frag_offset(), packet.protocol());
    let _ = (packet.options().len(), packet.payload().len(), packet.verify_checksum());
    let Ok(repr) = ipv4::Repr::parse(&packet, &NO_VERIFY) else { return };
    let mut buf = vec![0; repr.buffer_len()];
    let mut out = ipv4::Packet::new_unchecked(&mut buf[..]);
    repr.emit(&mut out, &Checksums::SOFTWARE);
    out.payload_mut().copy_from_slice(packet.payload());
    let again = ipv4::Packet::new_checked(&buf[..]).expect("emitted packet is checked");
    assert_eq!(ipv4::Repr::parse(&again, &Checksums::SOFTWARE), Ok(repr));
}

/// IPv6 packets: the fixed header, the walk down its extension headers (to a unicast and
/// to a multicast destination), any fragment header met; the quoted-header parser of
/// ICMPv6 errors too.
pub fn ipv6(data: &[u8]) {
    let _ = ipv6::Repr::parse_quoted(data);
    let Ok(packet) = ipv6::Packet::new_checked(data) else { return };
    let _ = (packet.version(), packet.traffic_class(), packet.flow_label(), packet.hop_limit());
    let Ok(repr) = ipv6::Repr::parse(&packet) else { return };
    let payload = packet.payload();
    for multicast in [false, true] {
        let walked = ipv6::ext::walk(repr.next_header, payload, ipv6::HEADER_LEN, true, multicast);
        let Ok(chain) = walked else { continue };
        assert!(chain.start <= payload.len(), "the walk ended past the payload");
        if let Some(fragment) = chain.fragment {
            let mut header = [0; ipv6::ext::FRAGMENT_LEN];
            fragment.emit(&mut header);
            assert_eq!(ipv6::ext::FragmentHeader::parse(&header), Ok(fragment));
        }
    }
    let mut buf = vec![0; repr.buffer_len()];
    let mut out = ipv6::Packet::new_unchecked(&mut buf[..]);
    repr.emit(&mut out);
    out.payload_mut().copy_from_slice(payload);
    let again = ipv6::Packet::new_checked(&buf[..]).expect("emitted packet is checked");
    assert_eq!(ipv6::Repr::parse(&again), Ok(repr));
}

/// ICMPv6 messages between two fixed addresses: echo, errors with their quoted packet,
/// neighbour discovery with its options (and the checks that need the IPv6 header),
/// MLD queries and MLDv2 reports.
pub fn icmpv6(data: &[u8]) {
    let (src, dst) = (SRC6, DST6);
    let Ok(packet) = icmpv6::Packet::new_checked(data) else { return };
    let _ = (packet.msg_type(), packet.msg_code(), packet.verify_checksum(src, dst));
    let Ok(repr) = icmpv6::Repr::parse(&packet, src, dst, &NO_VERIFY) else { return };
    let _ = repr.to_string();
    let header = ipv6::Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: crate::wire::ip::Protocol::Icmpv6,
        payload_len: data.len(),
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    };
    let _ = icmpv6::validate_nd(&repr, &header);
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut icmpv6::Packet::new_unchecked(&mut buf[..]), src, dst, &Checksums::SOFTWARE);
    let again = icmpv6::Packet::new_checked(&buf[..]).expect("emitted message is checked");
    assert_eq!(icmpv6::Repr::parse(&again, src, dst, &Checksums::SOFTWARE), Ok(repr));
}

/// ICMPv4 messages, including the datagram quoted in errors.
pub fn icmpv4(data: &[u8]) {
    let Ok(packet) = icmpv4::Packet::new_checked(data) else { return };
    let _ = (packet.msg_type(), packet.msg_code(), packet.echo_ident(), packet.echo_seq_no());
    let _ = (packet.next_hop_mtu(), packet.data().len(), packet.verify_checksum());
    let Ok(repr) = icmpv4::Repr::parse(&packet, &NO_VERIFY) else { return };
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut icmpv4::Packet::new_unchecked(&mut buf[..]), &Checksums::SOFTWARE);
    let again = icmpv4::Packet::new_checked(&buf[..]).expect("emitted message is checked");
    assert_eq!(icmpv4::Repr::parse(&again, &Checksums::SOFTWARE), Ok(repr));
}

/// UDP datagrams over IPv4.
pub fn udp(data: &[u8]) {
    let Ok(packet) = udp::Packet::new_checked(data) else { return };
    let _ = (packet.src_port(), packet.dst_port(), packet.len(), packet.checksum());
    let _ = packet.verify_checksum(SRC, DST);
    let Ok(repr) = udp::Repr::parse(&packet, SRC, DST, &NO_VERIFY) else { return };
    let payload = packet.payload();
    let mut buf = vec![0; repr.buffer_len(payload.len())];
    let mut out = udp::Packet::new_unchecked(&mut buf[..]);
    repr.emit(
        &mut out,
        SRC,
        DST,
        payload.len(),
        |b| b.copy_from_slice(payload),
        &Checksums::SOFTWARE,
    )
    .expect("a datagram that parsed fits its own length");
    let again = udp::Packet::new_checked(&buf[..]).expect("emitted datagram is checked");
    assert_eq!(udp::Repr::parse(&again, SRC, DST, &Checksums::SOFTWARE), Ok(repr));
    assert_eq!(again.payload(), payload);
}

/// TCP segments over IPv4, every option kind included.
pub fn tcp(data: &[u8]) {
    let Ok(packet) = tcp::Packet::new_checked(data) else { return };
    let _ = (packet.src_port(), packet.dst_port(), packet.seq_number(), packet.ack_number());
    let _ = (packet.flags(), packet.window_len(), packet.urgent_at(), packet.payload().len());
    let _ = packet.verify_checksum(SRC, DST);
    for option in packet.options_iter() {
        if option.is_err() {
            break;
        }
    }
    let Ok(mut repr) = tcp::Repr::parse(&packet, SRC, DST, &NO_VERIFY) else { return };
    // A header has room for fewer SACK blocks when other options ride along; emit writes what
    // fits, so compare against that.
    let capacity = repr.options.sack_capacity();
    repr.options.sack_blocks.truncate(capacity);
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut tcp::Packet::new_unchecked(&mut buf[..]), SRC, DST, &Checksums::SOFTWARE)
        .expect("a segment that parsed fits its own length");
    let again = tcp::Packet::new_checked(&buf[..]).expect("emitted segment is checked");
    assert_eq!(tcp::Repr::parse(&again, SRC, DST, &Checksums::SOFTWARE), Ok(repr));
}

/// Arbitrary frames into a [`Stack`](crate::stack::Stack) with a listener, a UDP socket and
/// a connection in progress: never a panic, and the stack keeps working afterwards. The
/// input is split at `0xff 0xfe` markers into several frames, so one input can carry a
/// handshake. Checksums are not verified, so mutated segments reach the TCP and UDP code.
pub fn stack_receive(data: &[u8]) {
    use crate::stack::{Config, Stack};
    use crate::time::{Duration, Instant};
    let config = Config {
        mac: ethernet::Address([0x02, 0, 0, 0, 0, 0x0b]),
        addresses: vec!["192.0.2.2/24".parse().expect("literal")],
        gateway: Some(Ipv4Addr::new(192, 0, 2, 254)),
        checksums: NO_VERIFY,
        max_syn_backlog: 2,
        seed: Some(1),
        ..Config::default()
    };
    let Ok(mut stack) = Stack::new(config) else { return };
    let mut now = Instant::from_secs(1);
    let _ = stack.tcp_listen("0.0.0.0:80".parse().expect("literal"), 4);
    let _ = stack.udp_bind("0.0.0.0:53".parse().expect("literal"));
    let _ = stack.tcp_connect(now, "192.0.2.1:8080".parse().expect("literal"), None);
    let mut buf = vec![0u8; 2048];
    let mut frames = 0;
    let mut rest = data;
    loop {
        let (frame, next) = match rest.windows(2).position(|w| w == [0xff, 0xfe]) {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        stack.receive(now, frame);
        while stack.poll_transmit(now, &mut buf).is_some() {
            frames += 1;
            assert!(frames < 10_000, "poll_transmit does not stop");
        }
        while let Some(h) = stack.poll_wake() {
            if let crate::stack::SocketHandle::Listener(l) = h {
                while let Ok(c) = stack.tcp_accept(l) {
                    if let Some(conn) = stack.tcp_mut(c) {
                        let _ = conn.recv(&mut [0; 64]);
                        let _ = conn.send(b"reply");
                    }
                }
            }
        }
        while stack.poll_event().is_some() {}
        now += Duration::from_millis(10);
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    // Time passes: every timer runs without panicking and the stack winds down.
    for _ in 0..200 {
        let Some(t) = stack.poll_timeout() else { break };
        now = now.max(t);
        stack.handle_timeout(now);
        while stack.poll_transmit(now, &mut buf).is_some() {}
    }
}
