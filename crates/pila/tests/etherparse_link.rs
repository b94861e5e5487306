//! Cross-checks pila's Ethernet, 802.1Q, ARP, IPv4 and ICMPv4 formats against etherparse,
//! an independent parser and writer: for arbitrary valid packets, etherparse reads what pila
//! writes and pila reads what etherparse writes, field for field.

use etherparse as ep;
use pila::wire::ethernet::{self, EtherType, VlanTag};
use pila::wire::ip::Protocol;
use pila::wire::{Checksums, Ipv4Addr, arp, icmpv4, ipv4};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------
// Strategies and conversions

fn vlan_tag() -> impl Strategy<Value = VlanTag> {
    (0u8..8, any::<bool>(), 0u16..4096).prop_map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid })
}

/// A payload EtherType: anything but the 802.1Q TPID, which would make a double tag.
fn payload_ethertype() -> impl Strategy<Value = u16> {
    any::<u16>().prop_filter("not a TPID", |&n| n != 0x8100)
}

fn ep_vlan(tag: VlanTag, ether_type: u16) -> ep::SingleVlanHeader {
    ep::SingleVlanHeader {
        pcp: ep::VlanPcp::try_new(tag.pcp).unwrap(),
        drop_eligible_indicator: tag.dei,
        vlan_id: ep::VlanId::try_new(tag.vid).unwrap(),
        ether_type: ep::EtherType(ether_type),
    }
}

/// An arbitrary IPv4 header as etherparse models it, options included, whose total length
/// covers at least `min_payload` bytes.
fn ep_ipv4(min_payload: usize, fragments: bool) -> impl Strategy<Value = ep::Ipv4Header> {
    (
        (any::<[u8; 4]>(), any::<[u8; 4]>(), any::<u8>(), any::<u8>()),
        (0u8..64, 0u8..4, any::<u16>(), any::<bool>()),
        (any::<bool>(), 0u16..8192, 0usize..=10, any::<[u8; 40]>()),
        0usize..1500,
    )
        .prop_map(
            move |(
                (src, dst, protocol, ttl),
                (dscp, ecn, ident, df),
                (mf, offset, words, opts),
                extra,
            )| {
                let mut header = ep::Ipv4Header {
                    dscp: ep::IpDscp::try_new(dscp).unwrap(),
                    ecn: ep::IpEcn::try_new(ecn).unwrap(),
                    identification: ident,
                    dont_fragment: df,
                    more_fragments: fragments && mf,
                    fragment_offset: ep::IpFragOffset::try_new(if fragments { offset } else { 0 })
                        .unwrap(),
                    time_to_live: ttl,
                    protocol: ep::IpNumber(protocol),
                    source: src,
                    destination: dst,
                    options: ep::Ipv4Options::try_from(&opts[..words * 4]).unwrap(),
                    ..Default::default()
                };
                header.set_payload_len(min_payload + extra).unwrap();
                header.header_checksum = header.calc_header_checksum();
                header
            },
        )
}

/// The pila view of an etherparse IPv4 header (its options are not represented).
fn pila_ipv4(header: &ep::Ipv4Header) -> ipv4::Repr {
    ipv4::Repr {
        src_addr: Ipv4Addr::from(header.source),
        dst_addr: Ipv4Addr::from(header.destination),
        protocol: Protocol::from(header.protocol.0),
        payload_len: usize::from(header.total_len) - header.header_len(),
        ttl: header.time_to_live,
        tos: header.dscp.value() << 2 | header.ecn.value(),
        ident: header.identification,
        dont_frag: header.dont_fragment,
        more_frags: header.more_fragments,
        frag_offset: header.fragment_offset.value() * 8,
    }
}

/// Checks an etherparse header against a pila one, field for field.
fn same_ipv4(ours: &ipv4::Repr, theirs: &ep::Ipv4Header) -> Result<(), TestCaseError> {
    prop_assert_eq!(ours.src_addr, Ipv4Addr::from(theirs.source));
    prop_assert_eq!(ours.dst_addr, Ipv4Addr::from(theirs.destination));
    prop_assert_eq!(u8::from(ours.protocol), theirs.protocol.0);
    prop_assert_eq!(ours.payload_len + theirs.header_len(), usize::from(theirs.total_len));
    prop_assert_eq!(ours.ttl, theirs.time_to_live);
    prop_assert_eq!(ours.tos >> 2, theirs.dscp.value());
    prop_assert_eq!(ours.tos & 3, theirs.ecn.value());
    prop_assert_eq!(ours.ident, theirs.identification);
    prop_assert_eq!(ours.dont_frag, theirs.dont_fragment);
    prop_assert_eq!(ours.more_frags, theirs.more_fragments);
    prop_assert_eq!(ours.frag_offset, theirs.fragment_offset.value() * 8);
    prop_assert_eq!(theirs.header_checksum, theirs.calc_header_checksum());
    Ok(())
}

fn pila_ipv4_arbitrary(fragments: bool) -> impl Strategy<Value = ipv4::Repr> {
    ep_ipv4(0, fragments).prop_map(|h| pila_ipv4(&h))
}

/// An ICMPv4 message with owned data, from which both libraries' views are made.
#[derive(Clone, Debug)]
enum Icmp {
    Echo { request: bool, ident: u16, seq_no: u16, data: Vec<u8> },
    Unreachable { code: u8, mtu: u16, quoted: ep::Ipv4Header, data: Vec<u8> },
    TimeExceeded { code: u8, quoted: ep::Ipv4Header, data: Vec<u8> },
}

impl Icmp {
    fn strategy() -> impl Strategy<Value = Self> {
        let echo =
            (any::<bool>(), any::<u16>(), any::<u16>(), prop::collection::vec(any::<u8>(), 0..100))
                .prop_map(|(request, ident, seq_no, data)| Self::Echo {
                    request,
                    ident,
                    seq_no,
                    data,
                });
        // Errors quote at least 8 bytes, never more than the quoted header's payload.
        let quote = prop::collection::vec(any::<u8>(), 8..100)
            .prop_flat_map(|data| (ep_ipv4(data.len(), true), Just(data)));
        // Codes 0-15 are named, 16 and up unknown to both libraries.
        let unreachable = (prop_oneof![4 => 0u8..16, 1 => 16u8..=255], any::<u16>(), quote.clone())
            .prop_map(|(code, mtu, (quoted, data))| Self::Unreachable { code, mtu, quoted, data });
        let time = (prop_oneof![3 => 0u8..2, 1 => 2u8..=255], quote)
            .prop_map(|(code, (quoted, data))| Self::TimeExceeded { code, quoted, data });
        prop_oneof![echo, unreachable, time]
    }

    /// What pila writes from, and what it must read.
    fn pila(&self) -> icmpv4::Repr<'_> {
        match self {
            Self::Echo { request: true, ident, seq_no, data } => {
                icmpv4::Repr::EchoRequest { ident: *ident, seq_no: *seq_no, data }
            }
            Self::Echo { request: false, ident, seq_no, data } => {
                icmpv4::Repr::EchoReply { ident: *ident, seq_no: *seq_no, data }
            }
            Self::Unreachable { code, mtu, quoted, data } => icmpv4::Repr::DstUnreachable {
                reason: icmpv4::DstUnreachable::from(*code),
                next_hop_mtu: if *code == 4 { *mtu } else { 0 },
                header: pila_ipv4(quoted),
                data,
            },
            Self::TimeExceeded { code, quoted, data } => icmpv4::Repr::TimeExceeded {
                reason: icmpv4::TimeExceeded::from(*code),
                header: pila_ipv4(quoted),
                data,
            },
        }
    }

    /// The type etherparse writes from, and must read.
    fn ep_type(&self) -> ep::Icmpv4Type {
        use ep::Icmpv4Type as T;
        match self {
            Self::Echo { request, ident, seq_no, .. } => {
                let echo = ep::IcmpEchoHeader { id: *ident, seq: *seq_no };
                if *request { T::EchoRequest(echo) } else { T::EchoReply(echo) }
            }
            Self::Unreachable { code, mtu, .. } => {
                match ep::icmpv4::DestUnreachableHeader::from_values(*code, *mtu) {
                    Some(header) => T::DestinationUnreachable(header),
                    None => T::Unknown { type_u8: 3, code_u8: *code, bytes5to8: [0; 4] },
                }
            }
            Self::TimeExceeded { code, .. } => match ep::icmpv4::TimeExceededCode::from_u8(*code) {
                Some(code) => T::TimeExceeded(code),
                None => T::Unknown { type_u8: 11, code_u8: *code, bytes5to8: [0; 4] },
            },
        }
    }

    /// The bytes after the 8-byte header as etherparse writes them: an error's quoted header
    /// keeps its options.
    fn ep_payload(&self) -> Vec<u8> {
        match self {
            Self::Echo { data, .. } => data.clone(),
            Self::Unreachable { quoted, data, .. } | Self::TimeExceeded { quoted, data, .. } => {
                let mut bytes = Vec::new();
                quoted.write(&mut bytes).unwrap();
                bytes.extend_from_slice(data);
                bytes
            }
        }
    }

    /// Checks what etherparse read from pila's bytes: the type and the data after the header.
    fn check_ep(&self, icmp_type: &ep::Icmpv4Type, payload: &[u8]) -> Result<(), TestCaseError> {
        prop_assert_eq!(icmp_type, &self.ep_type());
        match self {
            Self::Echo { data, .. } => prop_assert_eq!(payload, &data[..]),
            Self::Unreachable { quoted, data, .. } | Self::TimeExceeded { quoted, data, .. } => {
                // pila quotes the header without its options.
                let (header, rest) = ep::Ipv4Header::from_slice(payload).unwrap();
                prop_assert_eq!(header.header_len(), 20);
                same_ipv4(&pila_ipv4(quoted), &header)?;
                prop_assert_eq!(rest, &data[..]);
            }
        }
        Ok(())
    }
}

fn ep_icmp_bytes(icmp: &Icmp) -> Vec<u8> {
    let payload = icmp.ep_payload();
    let header = ep::Icmpv4Header::with_checksum(icmp.ep_type(), &payload);
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(&payload);
    bytes
}

fn pila_icmp_bytes(repr: &icmpv4::Repr<'_>) -> Vec<u8> {
    let mut bytes = vec![0u8; repr.buffer_len()];
    repr.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
    bytes
}

#[derive(Clone, Copy, Debug)]
struct Arp {
    op: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
}

impl Arp {
    fn strategy() -> impl Strategy<Value = Self> {
        (
            prop_oneof![Just(1u16), Just(2), any::<u16>()],
            any::<[u8; 6]>(),
            any::<[u8; 4]>(),
            any::<[u8; 6]>(),
            any::<[u8; 4]>(),
        )
            .prop_map(|(op, sha, spa, tha, tpa)| Self { op, sha, spa, tha, tpa })
    }

    fn pila(&self) -> arp::Repr {
        arp::Repr {
            operation: arp::Operation::from(self.op),
            source_hardware_addr: ethernet::Address(self.sha),
            source_protocol_addr: Ipv4Addr::from(self.spa),
            target_hardware_addr: ethernet::Address(self.tha),
            target_protocol_addr: Ipv4Addr::from(self.tpa),
        }
    }

    fn ep(&self) -> ep::ArpEthIpv4Packet {
        ep::ArpEthIpv4Packet {
            operation: ep::ArpOperation(self.op),
            sender_mac: self.sha,
            sender_ipv4: self.spa,
            target_mac: self.tha,
            target_ipv4: self.tpa,
        }
    }
}

/// The link header of a frame: addresses and an optional tag.
#[derive(Clone, Copy, Debug)]
struct Link {
    src: [u8; 6],
    dst: [u8; 6],
    vlan: Option<VlanTag>,
}

impl Link {
    fn strategy() -> impl Strategy<Value = Self> {
        (any::<[u8; 6]>(), any::<[u8; 6]>(), prop::option::of(vlan_tag()))
            .prop_map(|(src, dst, vlan)| Self { src, dst, vlan })
    }

    fn pila(&self, ethertype: EtherType) -> ethernet::Repr {
        ethernet::Repr {
            src_addr: ethernet::Address(self.src),
            dst_addr: ethernet::Address(self.dst),
            ethertype,
            vlan: self.vlan,
        }
    }

    /// Checks the link headers etherparse found in a whole frame.
    fn check_ep(
        &self,
        headers: &ep::PacketHeaders<'_>,
        ethertype: ep::EtherType,
    ) -> Result<(), TestCaseError> {
        let eth = headers.link.clone().and_then(ep::LinkHeader::ethernet2).unwrap();
        prop_assert_eq!(eth.source, self.src);
        prop_assert_eq!(eth.destination, self.dst);
        match self.vlan {
            None => {
                prop_assert_eq!(eth.ether_type, ethertype);
                prop_assert!(headers.link_exts.is_empty());
            }
            Some(tag) => {
                prop_assert_eq!(eth.ether_type, ep::EtherType::VLAN_TAGGED_FRAME);
                prop_assert_eq!(headers.link_exts.len(), 1);
                prop_assert_eq!(
                    &headers.link_exts[0],
                    &ep::LinkExtHeader::Vlan(ep_vlan(tag, ethertype.0))
                );
            }
        }
        Ok(())
    }

    /// Starts an etherparse packet with this link header.
    fn ep_write_ip(
        &self,
        ip: ep::Ipv4Header,
        icmp_type: ep::Icmpv4Type,
        payload: &[u8],
    ) -> Vec<u8> {
        let ip = ep::IpHeaders::Ipv4(ip, Default::default());
        let builder = ep::PacketBuilder::ethernet2(self.src, self.dst);
        let mut bytes = Vec::new();
        match self.vlan {
            None => builder.ip(ip).icmpv4(icmp_type).write(&mut bytes, payload).unwrap(),
            Some(tag) => builder
                .vlan(ep::VlanHeader::Single(ep_vlan(tag, 0)))
                .ip(ip)
                .icmpv4(icmp_type)
                .write(&mut bytes, payload)
                .unwrap(),
        }
        bytes
    }

    fn ep_write_arp(&self, packet: ep::ArpPacket) -> Vec<u8> {
        let builder = ep::PacketBuilder::ethernet2(self.src, self.dst);
        let mut bytes = Vec::new();
        match self.vlan {
            None => builder.arp(packet).write(&mut bytes).unwrap(),
            Some(tag) => builder
                .vlan(ep::VlanHeader::Single(ep_vlan(tag, 0)))
                .arp(packet)
                .write(&mut bytes)
                .unwrap(),
        }
        bytes
    }
}

/// Reads a frame's link header with pila and checks it against `link`; returns the payload.
fn pila_read_link<'a>(
    bytes: &'a [u8],
    link: &Link,
    ethertype: EtherType,
) -> Result<&'a [u8], TestCaseError> {
    let frame = ethernet::Frame::new_checked(bytes).unwrap();
    prop_assert_eq!(ethernet::Repr::parse(&frame).unwrap(), link.pila(ethertype));
    Ok(frame.payload())
}

// ---------------------------------------------------------------------------------------
// Layer by layer

proptest! {
    #[test]
    fn ethernet_pila_to_etherparse(
        link in Link::strategy(),
        ethertype in payload_ethertype(),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let repr = link.pila(EtherType::from(ethertype));
        let mut bytes = vec![0u8; repr.buffer_len(payload.len())];
        let mut frame = ethernet::Frame::new_unchecked(&mut bytes[..]);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&payload);

        let (eth, rest) = ep::Ethernet2Header::from_slice(&bytes).unwrap();
        prop_assert_eq!(eth.source, link.src);
        prop_assert_eq!(eth.destination, link.dst);
        let rest = match link.vlan {
            None => {
                prop_assert_eq!(eth.ether_type.0, ethertype);
                rest
            }
            Some(tag) => {
                prop_assert_eq!(eth.ether_type, ep::EtherType::VLAN_TAGGED_FRAME);
                let (vlan, rest) = ep::SingleVlanHeader::from_slice(rest).unwrap();
                prop_assert_eq!(vlan, ep_vlan(tag, ethertype));
                rest
            }
        };
        prop_assert_eq!(rest, &payload[..]);
    }

    #[test]
    fn ethernet_etherparse_to_pila(
        link in Link::strategy(),
        ethertype in payload_ethertype(),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let outer = if link.vlan.is_some() { 0x8100 } else { ethertype };
        let eth = ep::Ethernet2Header {
            source: link.src,
            destination: link.dst,
            ether_type: ep::EtherType(outer),
        };
        let mut bytes = eth.to_bytes().to_vec();
        if let Some(tag) = link.vlan {
            bytes.extend_from_slice(&ep_vlan(tag, ethertype).to_bytes());
        }
        bytes.extend_from_slice(&payload);

        let rest = pila_read_link(&bytes, &link, EtherType::from(ethertype))?;
        prop_assert_eq!(rest, &payload[..]);
        let frame = ethernet::Frame::new_checked(&bytes[..]).unwrap();
        let tag_len = if link.vlan.is_some() { 4 } else { 0 };
        prop_assert_eq!(frame.header_len(), eth.header_len() + tag_len);
    }

    #[test]
    fn arp_both_ways(arp in Arp::strategy()) {
        // pila writes, etherparse reads.
        let repr = arp.pila();
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut arp::Packet::new_unchecked(&mut bytes[..]));
        let theirs = ep::ArpPacket::from_slice(&bytes).unwrap();
        prop_assert_eq!(theirs.hw_addr_type, ep::ArpHardwareId::ETHERNET);
        prop_assert_eq!(theirs.proto_addr_type, ep::EtherType::IPV4);
        prop_assert_eq!(theirs.try_eth_ipv4().unwrap(), arp.ep());
        // etherparse writes, pila reads.
        let bytes = arp.ep().to_bytes();
        let packet = arp::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(arp::Repr::parse(&packet).unwrap(), repr);
    }

    #[test]
    fn ipv4_pila_to_etherparse(repr in pila_ipv4_arbitrary(true)) {
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        let (header, rest) = ep::Ipv4Header::from_slice(&bytes).unwrap();
        prop_assert!(header.options.is_empty());
        same_ipv4(&repr, &header)?;
        prop_assert_eq!(rest.len(), repr.payload_len);
    }

    #[test]
    fn ipv4_etherparse_to_pila(header in ep_ipv4(0, true)) {
        let mut bytes = Vec::new();
        header.write(&mut bytes).unwrap();
        bytes.resize(usize::from(header.total_len), 0x5a);
        let packet = ipv4::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(packet.header_len(), header.header_len());
        prop_assert_eq!(packet.options(), header.options.as_slice());
        prop_assert_eq!(packet.checksum(), header.header_checksum);
        let repr = ipv4::Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
        prop_assert_eq!(repr, pila_ipv4(&header));
        prop_assert_eq!(packet.payload(), &bytes[header.header_len()..]);
    }

    #[test]
    fn icmpv4_pila_to_etherparse(icmp in Icmp::strategy()) {
        let bytes = pila_icmp_bytes(&icmp.pila());
        let slice = ep::Icmpv4Slice::from_slice(&bytes).unwrap();
        icmp.check_ep(&slice.icmp_type(), slice.payload())?;
        prop_assert_eq!(slice.checksum(), slice.icmp_type().calc_checksum(slice.payload()));
    }

    #[test]
    fn icmpv4_etherparse_to_pila(icmp in Icmp::strategy()) {
        let bytes = ep_icmp_bytes(&icmp);
        let packet = icmpv4::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(packet.verify_checksum());
        prop_assert_eq!(icmpv4::Repr::parse(&packet, &Checksums::SOFTWARE).unwrap(), icmp.pila());
    }
}

// ---------------------------------------------------------------------------------------
// Whole frames: Ethernet (+802.1Q) / IPv4 / ICMPv4, and Ethernet (+802.1Q) / ARP

proptest! {
    #[test]
    fn icmp_frame_pila_to_etherparse(
        link in Link::strategy(),
        outer in pila_ipv4_arbitrary(false),
        icmp in Icmp::strategy(),
    ) {
        let message = icmp.pila();
        let ip =
            ipv4::Repr { protocol: Protocol::Icmp, payload_len: message.buffer_len(), ..outer };
        let eth = link.pila(EtherType::Ipv4);
        let mut bytes = vec![0u8; eth.buffer_len(ip.buffer_len())];
        let mut frame = ethernet::Frame::new_unchecked(&mut bytes[..]);
        eth.emit(&mut frame);
        let mut packet = ipv4::Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet, &Checksums::SOFTWARE);
        let mut icmp_packet = icmpv4::Packet::new_unchecked(packet.payload_mut());
        message.emit(&mut icmp_packet, &Checksums::SOFTWARE);

        let headers = ep::PacketHeaders::from_ethernet_slice(&bytes).unwrap();
        link.check_ep(&headers, ep::EtherType::IPV4)?;
        let Some(ep::NetHeaders::Ipv4(header, _)) = &headers.net else {
            return Err(TestCaseError::fail("no IPv4 header"));
        };
        same_ipv4(&ip, header)?;
        let Some(ep::TransportHeader::Icmpv4(icmp_header)) = &headers.transport else {
            return Err(TestCaseError::fail("no ICMPv4 header"));
        };
        let payload = headers.payload.slice();
        icmp.check_ep(&icmp_header.icmp_type, payload)?;
        prop_assert_eq!(icmp_header.checksum, icmp_header.icmp_type.calc_checksum(payload));
    }

    #[test]
    fn icmp_frame_etherparse_to_pila(
        link in Link::strategy(),
        outer in ep_ipv4(0, false),
        icmp in Icmp::strategy(),
    ) {
        let bytes = link.ep_write_ip(outer.clone(), icmp.ep_type(), &icmp.ep_payload());

        let payload = pila_read_link(&bytes, &link, EtherType::Ipv4)?;
        let packet = ipv4::Packet::new_checked(payload).unwrap();
        prop_assert_eq!(packet.options(), outer.options.as_slice());
        let ip = ipv4::Repr::parse(&packet, &Checksums::SOFTWARE).unwrap();
        let expected = ep_icmp_bytes(&icmp);
        let outer = pila_ipv4(&outer);
        let expected_ip =
            ipv4::Repr { protocol: Protocol::Icmp, payload_len: expected.len(), ..outer };
        prop_assert_eq!(ip, expected_ip);
        prop_assert_eq!(packet.payload(), &expected[..]);
        let message = icmpv4::Packet::new_checked(packet.payload()).unwrap();
        prop_assert_eq!(icmpv4::Repr::parse(&message, &Checksums::SOFTWARE).unwrap(), icmp.pila());
    }

    #[test]
    fn arp_frame_both_ways(link in Link::strategy(), arp in Arp::strategy()) {
        // pila writes, etherparse reads.
        let eth = link.pila(EtherType::Arp);
        let repr = arp.pila();
        let mut bytes = vec![0u8; eth.buffer_len(repr.buffer_len())];
        let mut frame = ethernet::Frame::new_unchecked(&mut bytes[..]);
        eth.emit(&mut frame);
        repr.emit(&mut arp::Packet::new_unchecked(frame.payload_mut()));
        let headers = ep::PacketHeaders::from_ethernet_slice(&bytes).unwrap();
        link.check_ep(&headers, ep::EtherType::ARP)?;
        let Some(ep::NetHeaders::Arp(theirs)) = &headers.net else {
            return Err(TestCaseError::fail("no ARP packet"));
        };
        prop_assert_eq!(theirs.try_eth_ipv4().unwrap(), arp.ep());

        // etherparse writes, pila reads; pad to the 60-byte minimum as a NIC would.
        let mut bytes = link.ep_write_arp(arp.ep().into());
        bytes.resize(bytes.len().max(60), 0);
        let payload = pila_read_link(&bytes, &link, EtherType::Arp)?;
        let packet = arp::Packet::new_checked(payload).unwrap();
        prop_assert_eq!(arp::Repr::parse(&packet).unwrap(), repr);
    }
}
