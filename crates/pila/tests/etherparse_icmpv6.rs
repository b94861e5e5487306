//! Cross-checks pila's ICMPv6 and neighbour discovery formats against etherparse, an
//! independent parser and writer: etherparse reads what pila writes, checksum over the
//! pseudo-header included, and pila reads what etherparse writes, field for field.

use core::net::Ipv6Addr;

use etherparse as ep;
use pila::wire::ethernet;
use pila::wire::icmpv6::{self, DstUnreachable, NdpOption, Repr, TimeExceeded};
use pila::wire::ip::Protocol;
use pila::wire::ipv6::{self, ext::ProblemCode};
use proptest::prelude::*;

const SW: pila::wire::Checksums = pila::wire::Checksums::SOFTWARE;

fn addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

/// A unicast target: neighbour discovery refuses a multicast one.
fn target() -> impl Strategy<Value = Ipv6Addr> {
    addr().prop_map(|a| if a.is_multicast() { Ipv6Addr::from(a.to_bits() >> 8) } else { a })
}

/// An IPv6 packet as an error would quote it, cut anywhere after its fixed header.
fn invoking() -> impl Strategy<Value = Vec<u8>> {
    (addr(), addr(), 0usize..200, 0usize..200).prop_map(|(src, dst, len, cut)| {
        let header = ipv6::Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: Protocol::Udp,
            payload_len: len,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut packet = vec![0x3c; header.buffer_len()];
        header.emit(&mut ipv6::Packet::new_unchecked(&mut packet[..]));
        packet.truncate(ipv6::HEADER_LEN + cut.min(len));
        packet
    })
}

/// What pila writes for `repr` from `src` to `dst`, and etherparse's reading of it, whose
/// checksum must hold.
fn pila_writes(repr: &Repr<'_>, src: Ipv6Addr, dst: Ipv6Addr) -> (Vec<u8>, ep::Icmpv6Header) {
    let mut bytes = vec![0; repr.buffer_len()];
    repr.emit(&mut icmpv6::Packet::new_unchecked(&mut bytes[..]), src, dst, &SW);
    let slice = ep::Icmpv6Slice::from_slice(&bytes).expect("etherparse reads it");
    assert!(slice.is_checksum_valid(src.octets(), dst.octets()), "checksum of {repr:?}");
    (bytes.clone(), slice.header())
}

/// What etherparse writes for `kind` with `payload`, and pila's reading of it.
fn etherparse_writes(
    kind: ep::Icmpv6Type,
    payload: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Vec<u8> {
    let header =
        ep::Icmpv6Header::with_checksum(kind, src.octets(), dst.octets(), payload).unwrap();
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

fn pila_reads<'a>(bytes: &'a [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Repr<'a> {
    let packet = icmpv6::Packet::new_checked(bytes).unwrap();
    Repr::parse(&packet, src, dst, &SW).expect("pila reads it")
}

proptest! {
    #[test]
    fn echo_both_ways(src in addr(), dst in addr(), ident in any::<u16>(), seq in any::<u16>(),
                      data in proptest::collection::vec(any::<u8>(), 0..100), reply in any::<bool>()) {
        let repr = if reply {
            Repr::EchoReply { ident, seq_no: seq, data: &data }
        } else {
            Repr::EchoRequest { ident, seq_no: seq, data: &data }
        };
        let echo = ep::IcmpEchoHeader { id: ident, seq };
        let kind = if reply { ep::Icmpv6Type::EchoReply(echo) } else { ep::Icmpv6Type::EchoRequest(echo) };
        let (_, read) = pila_writes(&repr, src, dst);
        prop_assert_eq!(read.icmp_type, kind);
        let bytes = etherparse_writes(kind, &data, src, dst);
        prop_assert_eq!(pila_reads(&bytes, src, dst), repr);
    }

    #[test]
    fn errors_both_ways(src in addr(), dst in addr(), original in invoking(), code in 0u8..7,
                        word in any::<u32>(), which in 0u8..4) {
        let repr = match which {
            0 => Repr::dst_unreachable(DstUnreachable::from(code), &original).unwrap(),
            1 => Repr::packet_too_big(word, &original).unwrap(),
            2 => Repr::time_exceeded(TimeExceeded::from(code % 2), &original).unwrap(),
            _ => Repr::param_problem(ProblemCode::from(code % 3), word, &original).unwrap(),
        };
        let kind = match which {
            0 => ep::Icmpv6Type::DestinationUnreachable(ep::icmpv6::DestUnreachableCode::from_u8(code).unwrap()),
            1 => ep::Icmpv6Type::PacketTooBig { mtu: word },
            2 => ep::Icmpv6Type::TimeExceeded(ep::icmpv6::TimeExceededCode::from_u8(code % 2).unwrap()),
            _ => ep::Icmpv6Type::ParameterProblem(ep::icmpv6::ParameterProblemHeader {
                code: ep::icmpv6::ParameterProblemCode::from_u8(code % 3).unwrap(),
                pointer: word,
            }),
        };
        let (bytes, read) = pila_writes(&repr, src, dst);
        prop_assert_eq!(read.icmp_type, kind);
        prop_assert_eq!(&bytes[8..], &original[..], "the quote");
        let written = etherparse_writes(kind, &original, src, dst);
        prop_assert_eq!(pila_reads(&written, src, dst), repr);
    }

    #[test]
    fn neighbour_discovery_both_ways(src in addr(), dst in addr(), target in target(),
                                     mac in any::<[u8; 6]>(), flags in any::<[bool; 3]>(),
                                     ra in (any::<u8>(), any::<u16>(), any::<u32>(), any::<u32>())) {
        let mac = ethernet::Address(mac);
        let slla = [NdpOption::SourceLinkAddr(mac)];
        let tlla = [NdpOption::TargetLinkAddr(mac)];
        let mut ns_payload = target.octets().to_vec();
        ns_payload.extend([1, 1]);
        ns_payload.extend(mac.as_bytes());
        let mut na_payload = target.octets().to_vec();
        na_payload.extend([2, 1]);
        na_payload.extend(mac.as_bytes());

        let ns = Repr::neighbor_solicit(target, &slla);
        let (bytes, read) = pila_writes(&ns, src, dst);
        prop_assert_eq!(read.icmp_type, ep::Icmpv6Type::NeighborSolicitation);
        prop_assert_eq!(&bytes[8..], &ns_payload[..]);
        let written = etherparse_writes(ep::Icmpv6Type::NeighborSolicitation, &ns_payload, src, dst);
        let Repr::NeighborSolicit { target: t, options } = pila_reads(&written, src, dst) else {
            return Err(TestCaseError::fail("not a solicitation"));
        };
        prop_assert_eq!((t, options.source_link_addr()), (target, Some(mac)));

        let na = Repr::neighbor_advert(flags[0], flags[1], flags[2], target, &tlla);
        let kind = ep::Icmpv6Type::NeighborAdvertisement(ep::icmpv6::NeighborAdvertisementHeader {
            router: flags[0],
            solicited: flags[1],
            r#override: flags[2],
        });
        let (bytes, read) = pila_writes(&na, src, dst);
        prop_assert_eq!(read.icmp_type, kind);
        prop_assert_eq!(&bytes[8..], &na_payload[..]);
        let written = etherparse_writes(kind, &na_payload, src, dst);
        let Repr::NeighborAdvert { router, solicited, override_entry, target: t, options } =
            pila_reads(&written, src, dst)
        else {
            return Err(TestCaseError::fail("not an advertisement"));
        };
        prop_assert_eq!([router, solicited, override_entry], flags);
        prop_assert_eq!((t, options.target_link_addr()), (target, Some(mac)));

        let mtu = [NdpOption::Mtu(1500), NdpOption::SourceLinkAddr(mac)];
        let advert = Repr::RouterAdvert {
            hop_limit: ra.0,
            managed: flags[0],
            other: flags[1],
            router_lifetime: ra.1,
            reachable_time: ra.2,
            retrans_timer: ra.3,
            options: icmpv6::NdpOptions::List(&mtu),
        };
        let kind = ep::Icmpv6Type::RouterAdvertisement(ep::icmpv6::RouterAdvertisementHeader {
            cur_hop_limit: ra.0,
            managed_address_config: flags[0],
            other_config: flags[1],
            router_lifetime: ra.1,
        });
        let (bytes, read) = pila_writes(&advert, src, dst);
        prop_assert_eq!(read.icmp_type, kind);
        prop_assert_eq!(&bytes[8..12], &ra.2.to_be_bytes());
        prop_assert_eq!(&bytes[12..16], &ra.3.to_be_bytes());
        let written = etherparse_writes(kind, &bytes[8..], src, dst);
        let back = pila_reads(&written, src, dst);
        let Repr::RouterAdvert { options, reachable_time, retrans_timer, .. } = back else {
            return Err(TestCaseError::fail("not a router advertisement"));
        };
        prop_assert_eq!((reachable_time, retrans_timer), (ra.2, ra.3));
        prop_assert_eq!(options.iter().collect::<Vec<_>>(), mtu.to_vec());
    }
}
