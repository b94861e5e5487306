//! Cross-checks pila's UDP and TCP wire formats against an independent implementation,
//! etherparse: packets etherparse builds must parse in pila field for field (checksums
//! included), and segments pila emits must parse in etherparse field for field, with the
//! checksum etherparse computes equal to the one pila wrote.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use etherparse::{
    NetSlice, PacketBuilder, SlicedPacket, TcpHeader, TcpOptionElement, TransportSlice, UdpHeader,
};
use pila::wire::tcp::{self, Flags, Options, SeqNumber, TcpOption, Timestamp};
use pila::wire::{Checksums, checksum, udp};
use proptest::prelude::*;

const SW: Checksums = Checksums::SOFTWARE;
const V4: ([u8; 4], [u8; 4]) = ([192, 0, 2, 1], [198, 51, 100, 7]);
const V6: ([u8; 16], [u8; 16]) = (
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
);

/// The addresses of one test packet, for pila and for etherparse.
#[derive(Clone, Copy, Debug)]
enum Addrs {
    V4,
    V6,
}

impl Addrs {
    fn pila(self) -> (IpAddr, IpAddr) {
        match self {
            Self::V4 => (Ipv4Addr::from(V4.0).into(), Ipv4Addr::from(V4.1).into()),
            Self::V6 => (Ipv6Addr::from(V6.0).into(), Ipv6Addr::from(V6.1).into()),
        }
    }

    fn builder(self) -> IpStep {
        match self {
            Self::V4 => PacketBuilder::ipv4(V4.0, V4.1, 64),
            Self::V6 => PacketBuilder::ipv6(V6.0, V6.1, 64),
        }
    }

    /// The length of the IP header etherparse's builder writes (no options, no extensions).
    fn ip_header_len(self) -> usize {
        match self {
            Self::V4 => 20,
            Self::V6 => 40,
        }
    }

    /// An IP header built by hand (pila's own IPv4 code is not under test here), carrying
    /// `payload_len` bytes of `protocol`.
    fn ip_header(self, protocol: u8, payload_len: usize) -> Vec<u8> {
        match self {
            Self::V4 => {
                let total = u16::try_from(20 + payload_len).unwrap().to_be_bytes();
                let mut header =
                    vec![0x45, 0, total[0], total[1], 0, 0, 0x40, 0, 64, protocol, 0, 0];
                header.extend_from_slice(&V4.0);
                header.extend_from_slice(&V4.1);
                let sum = checksum::finish(&[checksum::sum(&header)]);
                header[10..12].copy_from_slice(&sum.to_be_bytes());
                header
            }
            Self::V6 => {
                let len = u16::try_from(payload_len).unwrap().to_be_bytes();
                let mut header = vec![0x60, 0, 0, 0, len[0], len[1], protocol, 64];
                header.extend_from_slice(&V6.0);
                header.extend_from_slice(&V6.1);
                header
            }
        }
    }
}

type IpStep = etherparse::PacketBuilderStep<etherparse::IpHeaders>;

fn addrs() -> impl Strategy<Value = Addrs> {
    prop_oneof![Just(Addrs::V4), Just(Addrs::V6)]
}

/// etherparse's checksum for the TCP segment in `sliced`, computed its own way.
fn etherparse_tcp_checksum(addrs: Addrs, tcp: &etherparse::TcpSlice<'_>) -> u16 {
    match addrs {
        Addrs::V4 => tcp.calc_checksum_ipv4(V4.0, V4.1).unwrap(),
        Addrs::V6 => tcp.calc_checksum_ipv6(V6.0, V6.1).unwrap(),
    }
}

fn etherparse_udp_checksum(addrs: Addrs, header: &UdpHeader, payload: &[u8]) -> u16 {
    match addrs {
        Addrs::V4 => header.calc_checksum_ipv4_raw(V4.0, V4.1, payload).unwrap(),
        Addrs::V6 => header.calc_checksum_ipv6_raw(V6.0, V6.1, payload).unwrap(),
    }
}

/// Checks that etherparse sliced `bytes` as the IP version `addrs` says and returns the
/// transport part.
fn slice(addrs: Addrs, bytes: &[u8]) -> TransportSlice<'_> {
    let sliced = SlicedPacket::from_ip(bytes).unwrap();
    match (addrs, sliced.net) {
        (Addrs::V4, Some(NetSlice::Ipv4(_))) | (Addrs::V6, Some(NetSlice::Ipv6(_))) => {}
        (_, net) => panic!("unexpected network layer {net:?}"),
    }
    sliced.transport.unwrap()
}

// ---------------------------------------------------------------------------------------
// TCP options: one strategy, two views of it.

fn option_element() -> impl Strategy<Value = TcpOptionElement> {
    let pair = || (any::<u32>(), any::<u32>());
    prop_oneof![
        Just(TcpOptionElement::Noop),
        any::<u16>().prop_map(TcpOptionElement::MaximumSegmentSize),
        any::<u8>().prop_map(TcpOptionElement::WindowScale),
        Just(TcpOptionElement::SelectiveAcknowledgementPermitted),
        (pair(), proptest::collection::vec(pair(), 0..=3)).prop_map(|(first, rest)| {
            let mut more = [None; 3];
            for (slot, block) in more.iter_mut().zip(rest) {
                *slot = Some(block);
            }
            TcpOptionElement::SelectiveAcknowledgement(first, more)
        }),
        pair().prop_map(|(a, b)| TcpOptionElement::Timestamp(a, b)),
    ]
}

fn element_len(element: &TcpOptionElement) -> usize {
    match element {
        TcpOptionElement::Noop => 1,
        TcpOptionElement::MaximumSegmentSize(_) => 4,
        TcpOptionElement::WindowScale(_) => 3,
        TcpOptionElement::SelectiveAcknowledgementPermitted => 2,
        TcpOptionElement::SelectiveAcknowledgement(_, more) => {
            10 + 8 * more.iter().flatten().count()
        }
        TcpOptionElement::Timestamp(..) => 10,
    }
}

/// Option lists that fit in 40 bytes, in any order, repeats allowed.
fn option_elements() -> impl Strategy<Value = Vec<TcpOptionElement>> {
    proptest::collection::vec(option_element(), 0..8).prop_map(|elements| {
        let mut total = 0;
        elements
            .into_iter()
            .take_while(|e| {
                total += element_len(e);
                total <= 40
            })
            .collect()
    })
}

/// What pila's option iterator must yield for an etherparse element.
fn as_pila_option(element: &TcpOptionElement) -> TcpOption<'static> {
    match *element {
        TcpOptionElement::Noop => TcpOption::NoOperation,
        TcpOptionElement::MaximumSegmentSize(mss) => TcpOption::MaxSegmentSize(mss),
        TcpOptionElement::WindowScale(shift) => TcpOption::WindowScale(shift),
        TcpOptionElement::SelectiveAcknowledgementPermitted => TcpOption::SackPermitted,
        TcpOptionElement::SelectiveAcknowledgement(first, more) => {
            let mut ranges = [None; 4];
            for (slot, block) in
                ranges.iter_mut().zip(core::iter::once(first).chain(more.into_iter().flatten()))
            {
                *slot = Some(block);
            }
            TcpOption::SackRange(ranges)
        }
        TcpOptionElement::Timestamp(tsval, tsecr) => TcpOption::Timestamp { tsval, tsecr },
    }
}

/// What pila's `Options` must hold after parsing the elements: the last of each kind wins,
/// window shifts above 14 are 14.
fn as_pila_options(elements: &[TcpOptionElement]) -> Options {
    let mut options = Options::NONE;
    for element in elements {
        match *element {
            TcpOptionElement::Noop => {}
            TcpOptionElement::MaximumSegmentSize(mss) => options.mss = Some(mss),
            TcpOptionElement::WindowScale(shift) => options.window_scale = Some(shift.min(14)),
            TcpOptionElement::SelectiveAcknowledgementPermitted => options.sack_permitted = true,
            TcpOptionElement::SelectiveAcknowledgement(first, more) => {
                options.sack_blocks = core::iter::once(first)
                    .chain(more.into_iter().flatten())
                    .map(|(l, r)| (SeqNumber(l), SeqNumber(r)))
                    .collect();
            }
            TcpOptionElement::Timestamp(tsval, tsecr) => {
                options.timestamp = Some(Timestamp { tsval, tsecr });
            }
        }
    }
    options
}

/// What etherparse must read from pila's Linux layout: an independent statement of it.
/// Returns the elements and how many SACK blocks made it in.
fn linux_layout(options: &Options) -> (Vec<TcpOptionElement>, usize) {
    use TcpOptionElement::*;
    let mut elements = Vec::new();
    let mut used: usize = 0;
    if let Some(mss) = options.mss {
        elements.push(MaximumSegmentSize(mss));
        used += 4;
    }
    match (options.timestamp, options.sack_permitted) {
        (Some(ts), true) => {
            elements.extend([SelectiveAcknowledgementPermitted, Timestamp(ts.tsval, ts.tsecr)])
        }
        (Some(ts), false) => elements.extend([Noop, Noop, Timestamp(ts.tsval, ts.tsecr)]),
        (None, true) => elements.extend([Noop, Noop, SelectiveAcknowledgementPermitted]),
        (None, false) => {}
    }
    used += if options.timestamp.is_some() {
        12
    } else if options.sack_permitted {
        4
    } else {
        0
    };
    if let Some(shift) = options.window_scale {
        elements.extend([Noop, WindowScale(shift)]);
        used += 4;
    }
    // NOP NOP plus 8 bytes a block, in what is left of 40 bytes.
    let fit = ((40 - used).saturating_sub(4) / 8).min(4);
    let blocks: Vec<(u32, u32)> =
        options.sack_blocks.iter().take(fit).map(|(l, r)| (l.0, r.0)).collect();
    if let Some((&first, more)) = blocks.split_first() {
        let mut rest = [None; 3];
        for (slot, &block) in rest.iter_mut().zip(more) {
            *slot = Some(block);
        }
        elements.extend([Noop, Noop, SelectiveAcknowledgement(first, rest)]);
    }
    (elements, blocks.len())
}

// ---------------------------------------------------------------------------------------
// etherparse builds, pila parses.

#[derive(Clone, Debug)]
struct EtherparseTcp {
    addrs: Addrs,
    header: TcpHeader,
    elements: Vec<TcpOptionElement>,
    payload: Vec<u8>,
}

prop_compose! {
    fn etherparse_tcp()(
        addrs in addrs(),
        ports in (any::<u16>(), any::<u16>()),
        numbers in (any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>()),
        flags in proptest::array::uniform9(any::<bool>()),
        elements in option_elements(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) -> EtherparseTcp {
        let (seq, ack, window, urgent) = numbers;
        let mut header = TcpHeader::new(ports.0, ports.1, seq, window);
        header.acknowledgment_number = ack;
        header.urgent_pointer = urgent;
        [header.ns, header.fin, header.syn, header.rst, header.psh, header.ack, header.urg, header.ece, header.cwr] = flags;
        header.set_options(&elements).unwrap();
        EtherparseTcp { addrs, header, elements, payload }
    }
}

proptest! {
    #[test]
    fn pila_parses_what_etherparse_builds(case in etherparse_tcp()) {
        let EtherparseTcp { addrs, header, elements, payload } = case;
        let mut bytes = Vec::new();
        addrs.builder().tcp_header(header.clone()).write(&mut bytes, &payload).unwrap();
        let segment = &bytes[addrs.ip_header_len()..];
        let (src, dst) = addrs.pila();

        let packet = tcp::Packet::new_checked(segment).unwrap();
        prop_assert_eq!(packet.src_port(), header.source_port);
        prop_assert_eq!(packet.dst_port(), header.destination_port);
        prop_assert_eq!(packet.seq_number(), SeqNumber(header.sequence_number));
        prop_assert_eq!(packet.ack_number(), SeqNumber(header.acknowledgment_number));
        prop_assert_eq!(packet.header_len(), header.header_len());
        prop_assert_eq!(packet.window_len(), header.window_size);
        prop_assert_eq!(packet.urgent_at(), header.urgent_pointer);
        let flags = packet.flags();
        for (flag, set) in [
            (Flags::NS, header.ns), (Flags::FIN, header.fin), (Flags::SYN, header.syn),
            (Flags::RST, header.rst), (Flags::PSH, header.psh), (Flags::ACK, header.ack),
            (Flags::URG, header.urg), (Flags::ECE, header.ece), (Flags::CWR, header.cwr),
        ] {
            prop_assert_eq!(flags.contains(flag), set, "{:?}", flag);
        }
        prop_assert_eq!(packet.options(), header.options.as_slice());
        prop_assert_eq!(packet.payload(), &payload[..]);

        // The checksum etherparse wrote is the one pila computes, and it verifies.
        let expected = match addrs {
            Addrs::V4 => header.calc_checksum_ipv4_raw(V4.0, V4.1, &payload),
            Addrs::V6 => header.calc_checksum_ipv6_raw(V6.0, V6.1, &payload),
        };
        prop_assert_eq!(packet.checksum(), expected.unwrap());
        prop_assert!(packet.verify_checksum(src, dst));

        // Options, element by element; etherparse pads with End of Option List.
        let mut iterated: Vec<TcpOption<'_>> = packet.options_iter().map(Result::unwrap).collect();
        let padded = elements.iter().map(element_len).sum::<usize>() % 4 != 0;
        prop_assert_eq!(iterated.last() == Some(&TcpOption::EndOfList), padded);
        if padded {
            iterated.pop();
        }
        let expected: Vec<_> = elements.iter().map(as_pila_option).collect();
        prop_assert_eq!(iterated, expected);

        let repr = tcp::Repr::parse(&packet, src, dst, &SW).unwrap();
        prop_assert_eq!(repr.src_port, header.source_port);
        prop_assert_eq!(repr.dst_port, header.destination_port);
        prop_assert_eq!(repr.seq_number, SeqNumber(header.sequence_number));
        prop_assert_eq!(repr.ack_number, header.ack.then_some(SeqNumber(header.acknowledgment_number)));
        prop_assert_eq!(repr.all_flags(), flags);
        prop_assert!(!repr.flags.contains(Flags::ACK));
        prop_assert_eq!(repr.window_len, header.window_size);
        prop_assert_eq!(repr.urgent_pointer, header.urgent_pointer);
        prop_assert_eq!(repr.options, as_pila_options(&elements));
        prop_assert_eq!(repr.payload, &payload[..]);
        prop_assert_eq!(repr.segment_len(), payload.len() + usize::from(header.syn) + usize::from(header.fin));
    }
}

// ---------------------------------------------------------------------------------------
// pila emits, etherparse parses.

prop_compose! {
    fn pila_options()(
        mss in proptest::option::of(any::<u16>()),
        window_scale in proptest::option::of(0..=14u8),
        sack_permitted in any::<bool>(),
        timestamp in proptest::option::of((any::<u32>(), any::<u32>())),
        blocks in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
    ) -> Options {
        Options {
            mss,
            window_scale,
            sack_permitted,
            timestamp: timestamp.map(|(tsval, tsecr)| Timestamp { tsval, tsecr }),
            // Up to four blocks whatever else is set: emit must drop what does not fit.
            sack_blocks: blocks.into_iter().map(|(l, r)| (SeqNumber(l), SeqNumber(r))).collect(),
        }
    }
}

proptest! {
    #[test]
    fn etherparse_parses_what_pila_emits(
        addrs in addrs(),
        ports in (any::<u16>(), any::<u16>()),
        numbers in (any::<u32>(), proptest::option::of(any::<u32>()), any::<u16>(), any::<u16>()),
        flag_bits in any::<u16>(),
        options in pila_options(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let (seq, ack, window_len, urgent_pointer) = numbers;
        let repr = tcp::Repr {
            src_port: ports.0,
            dst_port: ports.1,
            seq_number: SeqNumber(seq),
            ack_number: ack.map(SeqNumber),
            flags: Flags::from_bits_truncate(flag_bits).difference(Flags::ACK),
            window_len,
            urgent_pointer,
            options,
            payload: &payload,
        };
        let (src, dst) = addrs.pila();
        let mut bytes = addrs.ip_header(6, repr.buffer_len());
        let ip_len = bytes.len();
        bytes.resize(ip_len + repr.buffer_len(), 0);
        repr.emit(&mut tcp::Packet::new_unchecked(&mut bytes[ip_len..]), src, dst, &SW).unwrap();

        let TransportSlice::Tcp(tcp) = slice(addrs, &bytes) else {
            panic!("not TCP");
        };
        prop_assert_eq!(tcp.source_port(), repr.src_port);
        prop_assert_eq!(tcp.destination_port(), repr.dst_port);
        prop_assert_eq!(tcp.sequence_number(), seq);
        prop_assert_eq!(tcp.acknowledgment_number(), ack.unwrap_or(0));
        prop_assert_eq!(usize::from(tcp.data_offset()) * 4, repr.header_len());
        let all = repr.all_flags();
        for (flag, set) in [
            (Flags::NS, tcp.ns()), (Flags::FIN, tcp.fin()), (Flags::SYN, tcp.syn()),
            (Flags::RST, tcp.rst()), (Flags::PSH, tcp.psh()), (Flags::ACK, tcp.ack()),
            (Flags::URG, tcp.urg()), (Flags::ECE, tcp.ece()), (Flags::CWR, tcp.cwr()),
        ] {
            prop_assert_eq!(all.contains(flag), set, "{:?}", flag);
        }
        prop_assert_eq!(tcp.ack(), ack.is_some());
        prop_assert_eq!(tcp.window_size(), window_len);
        prop_assert_eq!(tcp.urgent_pointer(), urgent_pointer);
        prop_assert_eq!(tcp.payload(), &payload[..]);

        // Options in Linux's layout, as etherparse reads them; SACK blocks that do not fit
        // are dropped, and header_len counted only what was written.
        let read: Vec<TcpOptionElement> = tcp.options_iterator().map(Result::unwrap).collect();
        let (expected, blocks_kept) = linux_layout(&repr.options);
        prop_assert_eq!(read, expected);
        prop_assert_eq!(blocks_kept, repr.options.sack_capacity().min(repr.options.sack_blocks.len()));
        prop_assert!(repr.header_len() <= tcp::MAX_HEADER_LEN);

        // etherparse computes the same checksum pila wrote.
        prop_assert_eq!(tcp.checksum(), etherparse_tcp_checksum(addrs, &tcp));
    }
}

// ---------------------------------------------------------------------------------------
// UDP, both ways.

proptest! {
    #[test]
    fn pila_parses_udp_etherparse_builds(
        addrs in addrs(),
        ports in (any::<u16>(), any::<u16>()),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = Vec::new();
        addrs.builder().udp(ports.0, ports.1).write(&mut bytes, &payload).unwrap();
        let datagram = &bytes[addrs.ip_header_len()..];
        let (src, dst) = addrs.pila();

        let packet = udp::Packet::new_checked(datagram).unwrap();
        prop_assert_eq!(packet.src_port(), ports.0);
        prop_assert_eq!(packet.dst_port(), ports.1);
        prop_assert_eq!(usize::from(packet.len()), 8 + payload.len());
        prop_assert_eq!(packet.payload(), &payload[..]);
        let header = UdpHeader {
            source_port: ports.0,
            destination_port: ports.1,
            length: packet.len(),
            checksum: 0,
        };
        prop_assert_eq!(packet.checksum(), etherparse_udp_checksum(addrs, &header, &payload));
        prop_assert!(packet.verify_checksum(src, dst));
        let repr = udp::Repr::parse(&packet, src, dst, &SW).unwrap();
        prop_assert_eq!(repr, udp::Repr { src_port: ports.0, dst_port: ports.1 });
    }

    #[test]
    fn etherparse_parses_udp_pila_emits(
        addrs in addrs(),
        ports in (any::<u16>(), any::<u16>()),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let repr = udp::Repr { src_port: ports.0, dst_port: ports.1 };
        let (src, dst) = addrs.pila();
        let len = repr.buffer_len(payload.len());
        let mut bytes = addrs.ip_header(17, len);
        let ip_len = bytes.len();
        bytes.resize(ip_len + len, 0);
        repr.emit(
            &mut udp::Packet::new_unchecked(&mut bytes[ip_len..]),
            src,
            dst,
            payload.len(),
            |p| p.copy_from_slice(&payload),
            &SW,
        ).unwrap();

        let TransportSlice::Udp(udp) = slice(addrs, &bytes) else {
            panic!("not UDP");
        };
        prop_assert_eq!(udp.source_port(), ports.0);
        prop_assert_eq!(udp.destination_port(), ports.1);
        prop_assert_eq!(usize::from(udp.length()), len);
        prop_assert_eq!(udp.payload(), &payload[..]);
        let header = UdpHeader { checksum: 0, ..udp.to_header() };
        prop_assert_eq!(udp.checksum(), etherparse_udp_checksum(addrs, &header, udp.payload()));
    }
}

/// One fixed case each way, so a failure here reads without proptest's shrinking: the Linux
/// SYN of the unit tests, built by etherparse.
#[test]
fn linux_syn_built_by_etherparse() {
    let mut header = TcpHeader::new(46052, 80, 0x6a1f_3c2d, 64240);
    header.syn = true;
    header
        .set_options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(0x9c2b_1e07, 0),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .unwrap();
    let mut bytes = Vec::new();
    PacketBuilder::ipv4(V4.0, V4.1, 64).tcp_header(header).write(&mut bytes, &[]).unwrap();
    let (src, dst) = Addrs::V4.pila();
    let packet = tcp::Packet::new_checked(&bytes[20..]).unwrap();
    let repr = tcp::Repr::parse(&packet, src, dst, &SW).unwrap();
    assert_eq!(packet.checksum(), 0x4c1f, "the checksum computed independently in Python");
    assert_eq!(repr.options.mss, Some(1460));
    assert_eq!(repr.options.window_scale, Some(7));
    let mut again = vec![0; repr.buffer_len()];
    repr.emit(&mut tcp::Packet::new_unchecked(&mut again[..]), src, dst, &SW).unwrap();
    assert_eq!(again, &bytes[20..], "pila writes the same bytes back");
}
