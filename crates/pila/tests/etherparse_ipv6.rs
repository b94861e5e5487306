//! Cross-checks pila's IPv6 header and its walk down extension headers against etherparse,
//! an independent parser and writer: etherparse reads the headers pila writes and pila
//! reads the headers etherparse writes, field for field; for a chain of extension headers
//! etherparse writes, pila's walk finds the upper layer (or the fragment header) where the
//! chain puts it.

use etherparse as ep;
use pila::wire::ip::Protocol;
use pila::wire::ipv6::{self, ext};
use proptest::prelude::*;

fn ep_ipv6() -> impl Strategy<Value = ep::Ipv6Header> {
    (
        (any::<[u8; 16]>(), any::<[u8; 16]>(), any::<u8>(), any::<u8>()),
        (any::<u8>(), 0u32..(1 << 20), any::<u16>()),
    )
        .prop_map(|((src, dst, next, hop_limit), (traffic_class, flow, len))| ep::Ipv6Header {
            traffic_class,
            flow_label: ep::Ipv6FlowLabel::try_new(flow).unwrap(),
            payload_length: len,
            next_header: ep::IpNumber(next),
            hop_limit,
            source: src,
            destination: dst,
        })
}

/// The option area of a Hop-by-Hop or Destination Options header, `len` bytes (6 + 8k),
/// made only of options a host must skip: padding, or an unknown option of action `00`.
fn options_area(len: usize, kind: u8) -> Vec<u8> {
    match kind % 3 {
        // Pad1s only.
        0 => vec![0; len],
        // One PadN over the whole area.
        1 => {
            let mut area = vec![0; len];
            area[0] = 1;
            area[1] = (len - 2) as u8;
            area
        }
        // An unknown option whose type says "skip" (00xxxxxx), then PadN.
        _ => {
            let mut area = vec![0x1e, 2, 0xab, 0xcd];
            area.extend([1, (len - 6) as u8]);
            area.resize(len, 0);
            area
        }
    }
}

fn options_header(units: usize, kind: u8) -> ep::Ipv6RawExtHeader {
    let area = options_area(6 + 8 * units, kind);
    ep::Ipv6RawExtHeader::new_raw(ep::IpNumber(0), &area).unwrap()
}

/// A chain of extension headers in RFC 8200 §4.1's order, any of them absent, and the
/// upper-layer protocol after it.
fn chain() -> impl Strategy<Value = (ep::Ipv6Extensions, u8)> {
    let options = proptest::option::of((0usize..4, any::<u8>()));
    (
        (options.clone(), options.clone(), options),
        proptest::option::of((any::<u8>(), 0usize..3, any::<[u8; 22]>())),
        proptest::option::of((0u16..8192, any::<bool>(), any::<u32>())),
        any::<bool>(),
        // The upper layer: anything but the extension headers a walk goes on through.
        prop_oneof![Just(6u8), Just(17), Just(58), Just(59), any::<u8>()]
            .prop_filter("an extension header", |n| ![0, 43, 44, 60].contains(n)),
    )
        .prop_map(|((hbh, dst, final_dst), routing, fragment, auth, upper)| {
            let routing = routing.map(|(kind, units, rest)| {
                // Segments left 0: a host ignores the routing header (RFC 8200 §4.4).
                let mut area = vec![kind, 0];
                area.extend(&rest[..4 + 8 * units]);
                ep::Ipv6RoutingExtensions {
                    routing: ep::Ipv6RawExtHeader::new_raw(ep::IpNumber(0), &area).unwrap(),
                    final_destination_options: final_dst.map(|(u, k)| options_header(u, k)),
                }
            });
            let mut exts = ep::Ipv6Extensions {
                hop_by_hop_options: hbh.map(|(u, k)| options_header(u, k)),
                destination_options: dst.map(|(u, k)| options_header(u, k)),
                routing,
                fragment: fragment.map(|(units, more, ident)| {
                    ep::Ipv6FragmentHeader::new(
                        ep::IpNumber(0),
                        ep::IpFragOffset::try_new(units).unwrap(),
                        more,
                        ident,
                    )
                }),
                auth: auth.then(|| ep::IpAuthHeader::new(ep::IpNumber(0), 0x1234, 1, &[]).unwrap()),
            };
            exts.set_next_headers(ep::IpNumber(upper));
            (exts, upper)
        })
}

/// Where pila's walk must stop on `exts`: after the fragment header if there is one (with
/// its fields), else at the authentication header, which a host without IPsec does not
/// process, else at the upper layer after the whole chain.
fn expected(
    exts: &ep::Ipv6Extensions,
    upper: u8,
) -> (Protocol, usize, Option<ext::FragmentHeader>) {
    let mut at = 0;
    for header in [&exts.hop_by_hop_options, &exts.destination_options] {
        at += header.as_ref().map_or(0, |h| h.header_len());
    }
    at += exts.routing.as_ref().map_or(0, |r| r.routing.header_len());
    if let Some(f) = &exts.fragment {
        let fragment = ext::FragmentHeader {
            next_header: Protocol::from(f.next_header.0),
            offset: f.fragment_offset.value() * 8,
            more: f.more_fragments,
            ident: f.identification,
        };
        return (fragment.next_header, at + ext::FRAGMENT_LEN, Some(fragment));
    }
    if exts.auth.is_some() {
        return (Protocol::from(51), at, None);
    }
    let final_dst = exts.routing.as_ref().and_then(|r| r.final_destination_options.as_ref());
    at += final_dst.map_or(0, |h| h.header_len());
    (Protocol::from(upper), at, None)
}

proptest! {
    #[test]
    fn pila_reads_what_etherparse_writes(header in ep_ipv6()) {
        let mut bytes = header.to_bytes().to_vec();
        bytes.resize(ipv6::HEADER_LEN + usize::from(header.payload_length), 0x5a);
        let packet = ipv6::Packet::new_checked(&bytes[..]).unwrap();
        let repr = ipv6::Repr::parse(&packet).unwrap();
        prop_assert_eq!(repr.src_addr.octets(), header.source);
        prop_assert_eq!(repr.dst_addr.octets(), header.destination);
        prop_assert_eq!(u8::from(repr.next_header), header.next_header.0);
        prop_assert_eq!(repr.payload_len, usize::from(header.payload_length));
        prop_assert_eq!(repr.hop_limit, header.hop_limit);
        prop_assert_eq!(repr.traffic_class, header.traffic_class);
        prop_assert_eq!(repr.flow_label, header.flow_label.value());
    }

    #[test]
    fn etherparse_reads_what_pila_writes(header in ep_ipv6()) {
        let repr = ipv6::Repr {
            src_addr: header.source.into(),
            dst_addr: header.destination.into(),
            next_header: Protocol::from(header.next_header.0),
            payload_len: usize::from(header.payload_length),
            hop_limit: header.hop_limit,
            traffic_class: header.traffic_class,
            flow_label: header.flow_label.value(),
        };
        let mut bytes = vec![0; repr.buffer_len()];
        repr.emit(&mut ipv6::Packet::new_unchecked(&mut bytes[..]));
        let (read, _) = ep::Ipv6Header::from_slice(&bytes).unwrap();
        prop_assert_eq!(read, header);
    }

    #[test]
    fn the_walk_stops_where_etherparse_put_the_upper_layer(
        (exts, upper) in chain(),
        multicast in any::<bool>(),
    ) {
        let first = exts.clone().set_next_headers(ep::IpNumber(upper));
        let mut payload = Vec::new();
        exts.write(&mut payload, first).unwrap();
        prop_assert_eq!(payload.len(), exts.header_len());
        payload.extend([0xee; 20]);
        let chain = ext::walk(Protocol::from(first.0), &payload, ipv6::HEADER_LEN, true, multicast)
            .unwrap();
        let (protocol, start, fragment) = expected(&exts, upper);
        prop_assert_eq!(chain.protocol, protocol);
        prop_assert_eq!(chain.start, start);
        prop_assert_eq!(chain.fragment, fragment);
        if fragment.is_none() && protocol != Protocol::from(51) {
            // etherparse's own walk ends at the same place.
            let (_, next, rest) = ep::Ipv6Extensions::from_slice(first, &payload).unwrap();
            prop_assert_eq!(next.0, u8::from(protocol));
            prop_assert_eq!(rest.len(), payload.len() - start);
        }
    }
}

/// A Hop-by-Hop header pila writes for MLDv2 reports is one etherparse reads as such, with
/// the Router Alert option in it (RFC 2711: type 5, length 2, value 0).
#[test]
fn the_router_alert_header_pila_writes() {
    let bytes = ext::router_alert(Protocol::Icmpv6);
    let (header, rest) = ep::Ipv6RawExtHeader::from_slice(&bytes).unwrap();
    assert!(rest.is_empty());
    assert_eq!(header.next_header, ep::IpNumber::IPV6_ICMP);
    assert_eq!(&header.payload()[..4], &[5, 2, 0, 0]);
    let chain = ext::walk(Protocol::from(ext::HOP_BY_HOP), &bytes, 40, true, true).unwrap();
    assert_eq!((chain.protocol, chain.start), (Protocol::Icmpv6, 8));
}
