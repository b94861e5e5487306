//! Frames the Linux kernel sent, captured with tshark on a veth pair between two network
//! namespaces (192.0.2.1 ↔ 192.0.2.2): an `nc` connection to an open port, one to a closed
//! port, a ping, and a UDP datagram to a closed port. pila must read each field for field and
//! write the same bytes back.
//!
//! veth leaves TCP checksums to offload: the kernel stores only the pseudo-header sum in the
//! field (CHECKSUM_PARTIAL) and the capture sees it that way. Those segments are read as a
//! device with receive offload would hand them over, and the test checks that the field holds
//! exactly that partial sum. The RST, which the kernel builds itself, carries a full checksum.

use pila::wire::ethernet::{self, EtherType};
use pila::wire::icmpv4::{self, DstUnreachable};
use pila::wire::ip::Protocol;
use pila::wire::tcp::{self, Flags, SeqNumber, Timestamp};
use pila::wire::{Checksum, Checksums, arp, checksum, ipv4};
use std::net::{IpAddr, Ipv4Addr};

const CLIENT_MAC: &str = "82:0d:7d:67:d9:44";
const SERVER_MAC: &str = "1a:88:6f:54:f3:4b";
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// Receive checksum offload for TCP: the device vouches, software only fills in on transmit.
const TCP_OFFLOAD: Checksums = Checksums { tcp: Checksum::Tx, ..Checksums::SOFTWARE };

const ARP_REQUEST: &str =
    "ffffffffffff820d7d67d94408060001080006040001820d7d67d944c0000201000000000000c0000202";
const ARP_REPLY: &str =
    "820d7d67d9441a886f54f34b080600010800060400021a886f54f34bc0000202820d7d67d944c0000201";
const SYN: &str = "1a886f54f34b820d7d67d94408004500003c6373400040065345c0000201c000020288f81f90bc61cfc200000000a002faf084320000020405b40402080a1acbeaaa000000000103030a";
const SYN_ACK: &str = "820d7d67d9441a886f54f34b08004500003c000040004006b6b8c0000202c00002011f9088f820edc73dbc61cfc3a012fe8884320000020405b40402080a4a4e95e21acbeaaa0103030a";
const DATA: &str = "1a886f54f34b820d7d67d94408004500003a6375400040065345c0000201c000020288f81f90bc61cfc320edc73e8018003f843000000101080a1acbeaaa4a4e95e268656c6c6f0a";
const RST_ACK: &str = "820d7d67d9441a886f54f34b080045000028000040004006b6ccc0000202c00002010009cbc4000000004773d95e501400003f2d0000";
const ECHO_REQUEST: &str = "1a886f54f34b820d7d67d9440800450000544ed84000400167cdc0000201c0000202080078d514e200018525076b0000000016e4080000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
const PORT_UNREACHABLE: &str = "820d7d67d9441a886f54f34b080045c0003a5fa9000040019656c0000202c000020103032fbf000000004500001e4d0b4000401169c0c0000201c0000202d0d40035000a841f780a";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn mac(text: &str) -> ethernet::Address {
    text.parse().unwrap()
}

/// Splits a frame into its Ethernet header and IPv4 packet, checking both.
fn ip_of(frame: &[u8]) -> (ethernet::Repr, ipv4::Repr, Vec<u8>) {
    let eth_frame = ethernet::Frame::new_checked(frame).unwrap();
    let eth = ethernet::Repr::parse(&eth_frame).unwrap();
    assert_eq!(eth.ethertype, EtherType::Ipv4);
    let packet = ipv4::Packet::new_checked(eth_frame.payload()).unwrap();
    assert!(packet.verify_checksum(), "Linux's IPv4 header checksum must verify");
    let ip = ipv4::Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
    (eth, ip, packet.payload().to_vec())
}

#[test]
fn arp_request_and_reply() {
    let request = hex(ARP_REQUEST);
    let frame = ethernet::Frame::new_checked(&request[..]).unwrap();
    let eth = ethernet::Repr::parse(&frame).unwrap();
    assert_eq!(
        (eth.dst_addr, eth.src_addr, eth.ethertype),
        (ethernet::Address::BROADCAST, mac(CLIENT_MAC), EtherType::Arp)
    );
    let repr = arp::Repr::parse(&arp::Packet::new_checked(frame.payload()).unwrap()).unwrap();
    assert_eq!(repr.operation, arp::Operation::Request);
    assert_eq!((repr.source_hardware_addr, repr.source_protocol_addr), (mac(CLIENT_MAC), CLIENT));
    assert_eq!(
        (repr.target_hardware_addr, repr.target_protocol_addr),
        (ethernet::Address([0; 6]), SERVER)
    );

    let reply = hex(ARP_REPLY);
    let frame = ethernet::Frame::new_checked(&reply[..]).unwrap();
    let repr = arp::Repr::parse(&arp::Packet::new_checked(frame.payload()).unwrap()).unwrap();
    assert_eq!(repr.operation, arp::Operation::Reply);
    assert_eq!((repr.source_hardware_addr, repr.source_protocol_addr), (mac(SERVER_MAC), SERVER));
    let mut out = vec![0; reply.len()];
    let mut view = ethernet::Frame::new_unchecked(&mut out[..]);
    ethernet::Repr::parse(&frame).unwrap().emit(&mut view);
    repr.emit(&mut arp::Packet::new_unchecked(view.payload_mut()));
    assert_eq!(out, reply);
}

#[test]
fn syn_with_linux_options_and_offloaded_checksum() {
    let frame = hex(SYN);
    let (_, ip, segment) = ip_of(&frame);
    assert_eq!(
        (ip.src_addr, ip.dst_addr, ip.protocol, ip.ttl, ip.dont_frag),
        (CLIENT, SERVER, Protocol::Tcp, 64, true)
    );
    let (src, dst) = (IpAddr::V4(CLIENT), IpAddr::V4(SERVER));
    let packet = tcp::Packet::new_checked(&segment[..]).unwrap();
    assert!(!packet.verify_checksum(src, dst), "the capture holds a partial checksum");
    assert_eq!(
        packet.checksum(),
        checksum::pseudo_header_v4(CLIENT, SERVER, 6, segment.len() as u16)
    );
    assert_eq!(
        tcp::Repr::parse(&packet, src, dst, &Checksums::SOFTWARE),
        Err(pila::wire::Error::BadChecksum)
    );

    let syn = tcp::Repr::parse(&packet, src, dst, &TCP_OFFLOAD).unwrap();
    assert_eq!((syn.src_port, syn.dst_port), (35064, 8080));
    assert_eq!(syn.seq_number, SeqNumber(0xbc61_cfc2));
    assert_eq!(syn.ack_number, None);
    assert_eq!(syn.flags, Flags::SYN);
    assert_eq!(syn.window_len, 64240);
    assert_eq!(syn.options.mss, Some(1460));
    assert!(syn.options.sack_permitted);
    assert_eq!(syn.options.timestamp, Some(Timestamp { tsval: 449_571_498, tsecr: 0 }));
    assert_eq!(syn.options.window_scale, Some(10));
    assert_eq!(syn.segment_len(), 1);

    // pila lays options out as Linux does: the same 40 bytes, checksum aside.
    let mut out = vec![0; syn.buffer_len()];
    syn.emit(&mut tcp::Packet::new_unchecked(&mut out[..]), src, dst, &Checksums::SOFTWARE)
        .unwrap();
    assert!(tcp::Packet::new_checked(&out[..]).unwrap().verify_checksum(src, dst));
    let mut expected = segment.clone();
    expected[16..18].copy_from_slice(&out[16..18]);
    assert_eq!(out, expected);
}

#[test]
fn syn_ack_and_data_segment() {
    let (src, dst) = (IpAddr::V4(SERVER), IpAddr::V4(CLIENT));
    let (_, _, segment) = ip_of(&hex(SYN_ACK));
    let packet = tcp::Packet::new_checked(&segment[..]).unwrap();
    let syn_ack = tcp::Repr::parse(&packet, src, dst, &TCP_OFFLOAD).unwrap();
    assert_eq!(syn_ack.flags, Flags::SYN);
    assert_eq!(syn_ack.ack_number, Some(SeqNumber(0xbc61_cfc2) + 1));
    assert_eq!(syn_ack.window_len, 65160);
    assert_eq!(
        syn_ack.options.timestamp,
        Some(Timestamp { tsval: 1_246_664_162, tsecr: 449_571_498 })
    );

    let (_, ip, segment) = ip_of(&hex(DATA));
    assert_eq!(ip.payload_len, 38);
    let packet = tcp::Packet::new_checked(&segment[..]).unwrap();
    let data = tcp::Repr::parse(&packet, dst, src, &TCP_OFFLOAD).unwrap();
    assert_eq!(data.flags, Flags::PSH);
    assert_eq!(data.seq_number, SeqNumber(0xbc61_cfc3));
    assert_eq!(data.ack_number, Some(SeqNumber(0x20ed_c73e)));
    assert_eq!(data.window_len, 63);
    assert_eq!(data.options.mss, None);
    assert_eq!(
        data.options.timestamp,
        Some(Timestamp { tsval: 449_571_498, tsecr: 1_246_664_162 })
    );
    assert_eq!(data.payload, b"hello\n");
    assert_eq!(data.header_len(), 32);
}

#[test]
fn rst_from_a_closed_port_round_trips_exactly() {
    let frame = hex(RST_ACK);
    let (_, ip, segment) = ip_of(&frame);
    let (src, dst) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
    let packet = tcp::Packet::new_checked(&segment[..]).unwrap();
    let rst = tcp::Repr::parse(&packet, src, dst, &Checksums::SOFTWARE).unwrap();
    assert_eq!(rst.flags, Flags::RST);
    assert_eq!((rst.src_port, rst.dst_port), (9, 52164));
    assert_eq!(rst.seq_number, SeqNumber(0));
    assert!(rst.ack_number.is_some());
    assert_eq!(rst.window_len, 0);
    let mut out = vec![0; rst.buffer_len()];
    rst.emit(&mut tcp::Packet::new_unchecked(&mut out[..]), src, dst, &Checksums::SOFTWARE)
        .unwrap();
    assert_eq!(out, segment);
}

#[test]
fn ping_request_round_trips_exactly() {
    let frame = hex(ECHO_REQUEST);
    let (eth, ip, message) = ip_of(&frame);
    let packet = icmpv4::Packet::new_checked(&message[..]).unwrap();
    let repr = icmpv4::Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
    let icmpv4::Repr::EchoRequest { ident, seq_no, data } = repr else { panic!("{repr:?}") };
    assert_eq!((ident, seq_no, data.len()), (0x14e2, 1, 56));
    let mut out = vec![0; frame.len()];
    let mut view = ethernet::Frame::new_unchecked(&mut out[..]);
    eth.emit(&mut view);
    let mut ip_view = ipv4::Packet::new_unchecked(view.payload_mut());
    ip.emit(&mut ip_view, &Checksums::SOFTWARE);
    repr.emit(&mut icmpv4::Packet::new_unchecked(ip_view.payload_mut()), &Checksums::SOFTWARE);
    assert_eq!(out, frame);
}

#[test]
fn port_unreachable_quotes_the_datagram() {
    let (_, ip, message) = ip_of(&hex(PORT_UNREACHABLE));
    assert_eq!((ip.src_addr, ip.dst_addr, ip.tos), (SERVER, CLIENT, 0xc0));
    let packet = icmpv4::Packet::new_checked(&message[..]).unwrap();
    let repr = icmpv4::Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
    let icmpv4::Repr::DstUnreachable { reason, header, data, .. } = repr else {
        panic!("{repr:?}")
    };
    assert_eq!(reason, DstUnreachable::PortUnreachable);
    assert_eq!(
        (header.src_addr, header.dst_addr, header.protocol),
        (CLIENT, SERVER, Protocol::Udp)
    );
    // The quoted UDP header: 53460 → 53, length 10 (two bytes of payload: "x\n").
    assert_eq!(&data[..4], &[0xd0, 0xd4, 0x00, 0x35]);
    assert_eq!(data, &hex("d0d40035000a841f780a")[..]);
}
