//! Byte vectors and properties for the TCP view and `Repr`.
//!
//! The four segments are one Linux handshake and what follows, between 192.0.2.1:46052 (the
//! client) and 198.51.100.7:80, laid out byte for byte as the Linux kernel sends them
//! (options in `tcp_options_write` order). They were composed by hand and every checksum was
//! computed independently with a plain RFC 1071 loop in Python over pseudo-header and segment.

use super::*;
use crate::wire::Checksum;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
const CLIENT6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
const SERVER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
const SW: Checksums = Checksums::SOFTWARE;

const CLIENT_ISN: u32 = 0x6a1f_3c2d;
const SERVER_ISN: u32 = 0x2f7e_8a11;

/// The client's SYN: MSS 1460, SACK-permitted + timestamps, NOP, window scale 7;
/// window 64240; checksum 0x4c1f.
const SYN: [u8; 40] = [
    0xb3, 0xe4, 0x00, 0x50, 0x6a, 0x1f, 0x3c, 0x2d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
    0x4c, 0x1f, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x9c, 0x2b, 0x1e, 0x07,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
];

/// The server's SYN-ACK: same options, echoing the client's timestamp; window 65160;
/// checksum 0xd217.
const SYN_ACK: [u8; 40] = [
    0x00, 0x50, 0xb3, 0xe4, 0x2f, 0x7e, 0x8a, 0x11, 0x6a, 0x1f, 0x3c, 0x2e, 0xa0, 0x12, 0xfe, 0x88,
    0xd2, 0x17, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x4d, 0x5e, 0x6f, 0x70,
    0x9c, 0x2b, 0x1e, 0x07, 0x01, 0x03, 0x03, 0x07,
];

/// The client's request: PSH+ACK, NOP NOP timestamps, window 502, 38 bytes of HTTP;
/// checksum 0xf05c.
const DATA: [u8; 70] = [
    0xb3, 0xe4, 0x00, 0x50, 0x6a, 0x1f, 0x3c, 0x2e, 0x2f, 0x7e, 0x8a, 0x12, 0x80, 0x18, 0x01, 0xf6,
    0xf0, 0x5c, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x9c, 0x2b, 0x1e, 0x13, 0x4d, 0x5e, 0x6f, 0x70,
    0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x31, 0x0d, 0x0a,
    0x48, 0x6f, 0x73, 0x74, 0x3a, 0x20, 0x31, 0x39, 0x38, 0x2e, 0x35, 0x31, 0x2e, 0x31, 0x30, 0x30,
    0x2e, 0x37, 0x0d, 0x0a, 0x0d, 0x0a,
];

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 198.51.100.7\r\n\r\n";

/// The client acknowledging the first 1448-byte segment of the response while holding two
/// later ones: NOP NOP timestamps, NOP NOP SACK with two blocks (the newest first); window
/// 501; checksum 0x7719.
const SACK_ACK: [u8; 52] = [
    0xb3, 0xe4, 0x00, 0x50, 0x6a, 0x1f, 0x3c, 0x54, 0x2f, 0x7e, 0x8f, 0xba, 0xd0, 0x10, 0x01, 0xf5,
    0x77, 0x19, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x9c, 0x2b, 0x1e, 0x2f, 0x4d, 0x5e, 0x6f, 0x8e,
    0x01, 0x01, 0x05, 0x12, 0x2f, 0x7e, 0x9b, 0x0a, 0x2f, 0x7e, 0xa0, 0xb2, 0x2f, 0x7e, 0x95, 0x62,
    0x2f, 0x7e, 0x9b, 0x0a,
];

fn syn_repr() -> Repr<'static> {
    Repr {
        src_port: 46052,
        dst_port: 80,
        seq_number: SeqNumber(CLIENT_ISN),
        flags: Flags::SYN,
        window_len: 64240,
        options: Options {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some(Timestamp { tsval: 0x9c2b_1e07, tsecr: 0 }),
            ..Options::NONE
        },
        ..Repr::TEMPLATE
    }
}

fn syn_ack_repr() -> Repr<'static> {
    Repr {
        src_port: 80,
        dst_port: 46052,
        seq_number: SeqNumber(SERVER_ISN),
        ack_number: Some(SeqNumber(CLIENT_ISN) + 1),
        flags: Flags::SYN,
        window_len: 65160,
        options: Options {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some(Timestamp { tsval: 0x4d5e_6f70, tsecr: 0x9c2b_1e07 }),
            ..Options::NONE
        },
        ..Repr::TEMPLATE
    }
}

fn data_repr() -> Repr<'static> {
    Repr {
        src_port: 46052,
        dst_port: 80,
        seq_number: SeqNumber(CLIENT_ISN) + 1,
        ack_number: Some(SeqNumber(SERVER_ISN) + 1),
        flags: Flags::PSH,
        window_len: 502,
        options: Options {
            timestamp: Some(Timestamp { tsval: 0x9c2b_1e13, tsecr: 0x4d5e_6f70 }),
            ..Options::NONE
        },
        payload: REQUEST,
        ..Repr::TEMPLATE
    }
}

fn sack_repr() -> Repr<'static> {
    let first = SeqNumber(SERVER_ISN) + 1;
    Repr {
        src_port: 46052,
        dst_port: 80,
        seq_number: SeqNumber(CLIENT_ISN) + 1 + REQUEST.len(),
        ack_number: Some(first + 1448),
        window_len: 501,
        options: Options {
            timestamp: Some(Timestamp { tsval: 0x9c2b_1e2f, tsecr: 0x4d5e_6f8e }),
            sack_blocks: [(first + 4344, first + 5792), (first + 2896, first + 4344)]
                .into_iter()
                .collect(),
            ..Options::NONE
        },
        ..Repr::TEMPLATE
    }
}

/// Every vector with its addresses and its `Repr`.
fn vectors() -> [(&'static [u8], IpAddr, IpAddr, Repr<'static>); 4] {
    [
        (&SYN, CLIENT, SERVER, syn_repr()),
        (&SYN_ACK, SERVER, CLIENT, syn_ack_repr()),
        (&DATA, CLIENT, SERVER, data_repr()),
        (&SACK_ACK, CLIENT, SERVER, sack_repr()),
    ]
}

#[test]
fn deconstruct_syn() {
    let packet = Packet::new_checked(&SYN[..]).unwrap();
    assert_eq!(packet.src_port(), 46052);
    assert_eq!(packet.dst_port(), 80);
    assert_eq!(packet.seq_number(), SeqNumber(0x6a1f_3c2d));
    assert_eq!(packet.ack_number(), SeqNumber(0));
    assert_eq!(packet.header_len(), 40);
    assert_eq!(packet.flags(), Flags::SYN);
    assert_eq!(packet.window_len(), 64240);
    assert_eq!(packet.checksum(), 0x4c1f);
    assert_eq!(packet.urgent_at(), 0);
    assert_eq!(packet.options(), &SYN[20..]);
    assert_eq!(packet.payload(), b"");
    assert_eq!(packet.segment_len(), 1);
    assert!(packet.verify_checksum(CLIENT, SERVER));
    assert!(!packet.verify_checksum(SERVER, SERVER));
    let options: Vec<_> = packet.options_iter().collect();
    assert_eq!(
        options,
        [
            Ok(TcpOption::MaxSegmentSize(1460)),
            Ok(TcpOption::SackPermitted),
            Ok(TcpOption::Timestamp { tsval: 0x9c2b_1e07, tsecr: 0 }),
            Ok(TcpOption::NoOperation),
            Ok(TcpOption::WindowScale(7)),
        ]
    );
    let repr = Repr::parse(&packet, CLIENT, SERVER, &SW).unwrap();
    assert_eq!(repr, syn_repr());
    assert_eq!(repr.segment_len(), 1);
    assert_eq!(
        repr.to_string(),
        "46052 > 80: Flags [S], seq 1780431917, win 64240, \
         options [mss 1460,sackOK,TS val 2620071431 ecr 0,wscale 7], length 0"
    );
}

#[test]
fn deconstruct_syn_ack() {
    let packet = Packet::new_checked(&SYN_ACK[..]).unwrap();
    assert_eq!((packet.src_port(), packet.dst_port()), (80, 46052));
    assert_eq!(packet.seq_number(), SeqNumber(SERVER_ISN));
    assert_eq!(packet.ack_number(), SeqNumber(CLIENT_ISN + 1));
    assert_eq!(packet.flags(), Flags::SYN | Flags::ACK);
    assert_eq!(packet.flags().to_string(), "[S.]");
    assert_eq!(packet.window_len(), 65160);
    assert_eq!(packet.checksum(), 0xd217);
    let repr = Repr::parse(&packet, SERVER, CLIENT, &SW).unwrap();
    assert_eq!(repr, syn_ack_repr());
    assert!(!repr.flags.contains(Flags::ACK), "ACK lives in ack_number");
    assert_eq!(repr.all_flags(), Flags::SYN | Flags::ACK);
}

#[test]
fn deconstruct_data() {
    let packet = Packet::new_checked(&DATA[..]).unwrap();
    assert_eq!(packet.header_len(), 32);
    assert_eq!(packet.flags(), Flags::PSH | Flags::ACK);
    assert_eq!(packet.window_len(), 502);
    assert_eq!(packet.checksum(), 0xf05c);
    assert_eq!(packet.options(), [1, 1, 8, 10, 0x9c, 0x2b, 0x1e, 0x13, 0x4d, 0x5e, 0x6f, 0x70]);
    assert_eq!(packet.payload(), REQUEST);
    assert_eq!(packet.segment_len(), 38);
    let repr = Repr::parse(&packet, CLIENT, SERVER, &SW).unwrap();
    assert_eq!(repr, data_repr());
    assert_eq!(
        repr.to_string(),
        format!(
            "46052 > 80: Flags [P.], seq {}, ack {}, win 502, options [TS val 2620071443 ecr 1298034544], length 38",
            CLIENT_ISN + 1,
            SERVER_ISN + 1
        )
    );
}

#[test]
fn deconstruct_sack_ack() {
    let packet = Packet::new_checked(&SACK_ACK[..]).unwrap();
    assert_eq!(packet.header_len(), 52);
    assert_eq!(packet.flags(), Flags::ACK);
    assert_eq!(packet.ack_number(), SeqNumber(0x2f7e_8fba));
    let options: Vec<_> = packet.options_iter().collect();
    assert_eq!(
        options,
        [
            Ok(TcpOption::NoOperation),
            Ok(TcpOption::NoOperation),
            Ok(TcpOption::Timestamp { tsval: 0x9c2b_1e2f, tsecr: 0x4d5e_6f8e }),
            Ok(TcpOption::NoOperation),
            Ok(TcpOption::NoOperation),
            Ok(TcpOption::SackRange([
                Some((0x2f7e_9b0a, 0x2f7e_a0b2)),
                Some((0x2f7e_9562, 0x2f7e_9b0a)),
                None,
                None
            ])),
        ]
    );
    let repr = Repr::parse(&packet, CLIENT, SERVER, &SW).unwrap();
    assert_eq!(repr, sack_repr());
    assert_eq!(repr.segment_len(), 0);
}

#[test]
fn construct_every_vector() {
    for (bytes, src, dst, repr) in vectors() {
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut buffer = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), src, dst, &SW).unwrap();
        assert_eq!(buffer, bytes, "{repr}");
    }
}

#[test]
fn emit_into_a_longer_buffer_leaves_the_rest() {
    let repr = data_repr();
    let mut buffer = vec![0xa5; repr.buffer_len() + 10];
    repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT, SERVER, &SW).unwrap();
    assert_eq!(&buffer[..DATA.len()], DATA);
    assert_eq!(&buffer[DATA.len()..], [0xa5; 10]);
}

#[test]
fn checksums_are_verified_unless_offloaded() {
    let mut bytes = DATA;
    bytes[40] ^= 0x01;
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert!(!packet.verify_checksum(CLIENT, SERVER));
    assert_eq!(Repr::parse(&packet, CLIENT, SERVER, &SW), Err(Error::BadChecksum));
    let offloaded = Checksums { tcp: Checksum::Tx, ..SW };
    assert!(Repr::parse(&packet, CLIENT, SERVER, &offloaded).is_ok());
    // The right bytes with the wrong addresses fail too: the pseudo-header counts.
    let packet = Packet::new_checked(&DATA[..]).unwrap();
    let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    assert_eq!(Repr::parse(&packet, other, SERVER, &SW), Err(Error::BadChecksum));
}

#[test]
fn offloaded_checksum_is_left_zero() {
    let mut buffer = [0xff; 70];
    let offloaded = Checksums { tcp: Checksum::Rx, ..SW };
    data_repr()
        .emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT, SERVER, &offloaded)
        .unwrap();
    assert_eq!(&buffer[16..18], [0, 0]);
    let mut expected = DATA;
    expected[16..18].copy_from_slice(&[0, 0]);
    assert_eq!(buffer, expected);
}

#[test]
fn ipv6_checksum() {
    let repr = data_repr();
    let mut buffer = vec![0; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT6, SERVER6, &SW).unwrap();
    let packet = Packet::new_checked(&buffer[..]).unwrap();
    assert!(packet.verify_checksum(CLIENT6, SERVER6));
    assert!(!packet.verify_checksum(CLIENT, SERVER));
    // Only the checksum differs from the IPv4 segment.
    assert_ne!(packet.checksum(), 0xf05c);
    assert_eq!(buffer[..16], DATA[..16]);
    assert_eq!(buffer[18..], DATA[18..]);
    // RFC 1071 checksums are position-independent sums, so the difference between the two
    // checksums is the difference between the two pseudo-headers.
    let v4 = checksum::pseudo_header(CLIENT, SERVER, 6, 70).unwrap();
    let v6 = checksum::pseudo_header(CLIENT6, SERVER6, 6, 70).unwrap();
    assert_eq!(checksum::combine(&[!packet.checksum(), v4]), checksum::combine(&[!0xf05c, v6]));
    assert_eq!(Repr::parse(&packet, CLIENT6, SERVER6, &SW), Ok(repr));
}

#[test]
fn mixed_families_are_malformed() {
    let packet = Packet::new_checked(&SYN[..]).unwrap();
    assert_eq!(Repr::parse(&packet, CLIENT, SERVER6, &SW), Err(Error::Malformed));
    let no_checks = Checksums { tcp: Checksum::None, ..SW };
    assert_eq!(Repr::parse(&packet, CLIENT6, SERVER, &no_checks), Err(Error::Malformed));
    let mut buffer = [0u8; 40];
    let result = syn_repr().emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT6, SERVER, &SW);
    assert_eq!(result, Err(Error::Malformed));
    assert_eq!(buffer, [0; 40], "nothing written");
    let mut packet = Packet::new_unchecked(&mut buffer[..]);
    assert_eq!(packet.fill_checksum(CLIENT, SERVER6), Err(Error::Malformed));
}

#[test]
fn emit_errors() {
    let repr = data_repr();
    let mut short = vec![0u8; repr.buffer_len() - 1];
    let result = repr.emit(&mut Packet::new_unchecked(&mut short[..]), CLIENT, SERVER, &SW);
    assert_eq!(result, Err(Error::Truncated));
    assert!(short.iter().all(|&b| b == 0), "nothing written");
    // A segment longer than the IPv4 pseudo-header can describe; fine over IPv6.
    let payload = vec![7u8; 65_536 - 20];
    let big = Repr { payload: &payload, ..Repr::TEMPLATE };
    let mut buffer = vec![0u8; big.buffer_len()];
    let result = big.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT, SERVER, &SW);
    assert_eq!(result, Err(Error::BadLength));
    big.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT6, SERVER6, &SW).unwrap();
    assert!(Packet::new_checked(&buffer[..]).unwrap().verify_checksum(CLIENT6, SERVER6));
}

#[test]
fn ack_in_flags_is_ignored_on_emit() {
    let repr = Repr { flags: Flags::SYN | Flags::ACK, ack_number: None, ..syn_repr() };
    let mut buffer = [0; 40];
    repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT, SERVER, &SW).unwrap();
    assert_eq!(buffer, SYN);
}

#[test]
fn ack_number_is_ignored_without_ack() {
    // A SYN with garbage in the acknowledgment field (RFC 9293 says to ignore it).
    let mut bytes = SYN;
    bytes[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let no_checks = Checksums { tcp: Checksum::None, ..SW };
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.ack_number(), SeqNumber(0x0102_0304));
    assert_eq!(Repr::parse(&packet, CLIENT, SERVER, &no_checks).unwrap().ack_number, None);
}

#[test]
fn setters_keep_their_neighbours() {
    let mut bytes = [0u8; 24];
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    packet.set_flags(Flags::ALL);
    packet.set_header_len(24);
    assert_eq!(packet.header_len(), 24);
    assert_eq!(packet.flags(), Flags::ALL);
    packet.set_flags(Flags::FIN);
    assert_eq!(packet.header_len(), 24);
    packet.set_src_port(1);
    packet.set_dst_port(2);
    packet.set_seq_number(SeqNumber(3));
    packet.set_ack_number(SeqNumber(4));
    packet.set_window_len(5);
    packet.set_checksum(6);
    packet.set_urgent_at(7);
    packet.options_mut().copy_from_slice(&[1, 1, 1, 0]);
    assert_eq!(
        bytes,
        [0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0x60, 0x01, 0, 5, 0, 6, 0, 7, 1, 1, 1, 0]
    );
    // Reserved bits are not flags.
    bytes[12] = 0x5e;
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.flags(), Flags::FIN);
    assert_eq!(packet.header_len(), 20);
    assert_eq!(packet.into_inner().len(), 24);
}

#[test]
fn bad_data_offsets() {
    for offset in 0..5u8 {
        let mut bytes = SYN;
        bytes[12] = offset << 4;
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::BadLength), "offset {offset}");
        let unchecked = Packet::new_unchecked(&bytes[..]);
        assert_eq!(Repr::parse(&unchecked, CLIENT, SERVER, &SW), Err(Error::BadLength));
        // Getters on a bad offset do not panic either.
        assert_eq!(unchecked.options(), b"");
        assert_eq!(unchecked.payload().len(), 40 - usize::from(offset) * 4);
    }
    let mut bytes = SYN;
    bytes[12] = 0xb0; // 44 bytes of header in a 40-byte buffer
    assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Truncated));
    let unchecked = Packet::new_unchecked(&bytes[..]);
    assert_eq!(unchecked.options(), b"");
    assert_eq!(unchecked.payload(), b"");
    assert_eq!(Repr::parse(&unchecked, CLIENT, SERVER, &SW), Err(Error::Truncated));
}

#[test]
fn truncated_prefixes() {
    for (bytes, src, dst, _) in vectors() {
        let header_len = Packet::new_checked(bytes).unwrap().header_len();
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            let checked = Packet::new_checked(prefix);
            if len < header_len {
                assert_eq!(checked, Err(Error::Truncated), "prefix of {len}");
            } else {
                // Cutting payload leaves a well-formed header whose checksum fails.
                assert!(checked.is_ok());
            }
            let unchecked = Packet::new_unchecked(prefix);
            let parsed = Repr::parse(&unchecked, src, dst, &SW);
            assert!(parsed == Err(Error::Truncated) || parsed == Err(Error::BadChecksum));
        }
    }
}

/// Replaces the options area of the SYN and fixes up the checksum, so that only the options
/// can be wrong.
fn syn_with_options(options: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut bytes = SYN[..20].to_vec();
    bytes.extend_from_slice(options);
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    packet.set_header_len(20 + options.len());
    packet.fill_checksum(CLIENT, SERVER).unwrap();
    bytes
}

#[test]
fn lying_option_lengths_are_rejected() {
    let cases: &[(&[u8], Error)] = &[
        (&[0x02, 0x00, 0x05, 0xb4], Error::BadLength), // MSS length 0
        (&[0x02, 0x01, 0x05, 0xb4], Error::BadLength), // MSS length 1
        (&[0x01, 0x01, 0x01, 0x02], Error::BadLength), // MSS kind in the last byte
        (&[0x01, 0x01, 0x02, 0x04], Error::BadLength), // MSS running past the end
        (&[0x01, 0x08, 0x0a, 0, 0, 0, 0, 0], Error::BadLength), // TS past the end
        (&[0x05, 0x12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0], Error::BadLength), // SACK past the end
        (&[0xfd, 0x06, 0, 0], Error::BadLength),       // unknown kind past the end
        (&[0xfd, 0x00, 0, 0], Error::BadLength),       // unknown kind, length 0
        (&[0x02, 0x03, 0x05, 0x00], Error::Malformed), // MSS length 3
        (&[0x03, 0x04, 0x07, 0x00], Error::Malformed), // WS length 4
        (&[0x04, 0x04, 0x00, 0x00], Error::Malformed), // SACK-permitted length 4
        (&[0x01, 0x04, 0x04, 0x00], Error::BadLength), // ... after a NOP: runs past the end
        (&[0x05, 0x0b, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0], Error::Malformed), // SACK length 11
        (&[0x05, 0x02, 0, 0], Error::Malformed),       // SACK with no block
        (&[0x08, 0x06, 0, 0, 0, 1, 0, 0], Error::Malformed), // TS length 6
    ];
    for &(options, error) in cases {
        let bytes = syn_with_options(options);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(packet.verify_checksum(CLIENT, SERVER));
        assert_eq!(Repr::parse(&packet, CLIENT, SERVER, &SW), Err(error), "{options:02x?}");
    }
}

#[test]
fn unknown_options_are_skipped_and_eol_stops() {
    // MSS, an experimental option (kind 253, RFC 4727) with 2 data bytes, EOL, then bytes
    // that would be an error if they were read.
    let bytes =
        syn_with_options(&[0x02, 0x04, 0x02, 0x18, 0xfd, 0x04, 0xab, 0xcd, 0x00, 0x05, 0x00, 0xff]);
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    let repr = Repr::parse(&packet, CLIENT, SERVER, &SW).unwrap();
    assert_eq!(repr.options, Options { mss: Some(536), ..Options::NONE });
    let iterated: Vec<_> = packet.options_iter().collect();
    assert_eq!(
        iterated,
        [
            Ok(TcpOption::MaxSegmentSize(536)),
            Ok(TcpOption::Unknown { kind: 253, data: &[0xab, 0xcd] }),
            Ok(TcpOption::EndOfList),
        ]
    );
}

#[test]
fn window_scale_is_clamped_on_parse() {
    let bytes = syn_with_options(&[0x01, 0x03, 0x03, 0x0f]);
    let packet = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(Repr::parse(&packet, CLIENT, SERVER, &SW).unwrap().options.window_scale, Some(14));
}

#[test]
fn segment_len_counts_syn_and_fin() {
    let repr = Repr { flags: Flags::SYN | Flags::FIN, payload: b"abc", ..Repr::TEMPLATE };
    assert_eq!(repr.segment_len(), 5);
    let mut buffer = vec![0; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT, SERVER, &SW).unwrap();
    assert_eq!(Packet::new_checked(&buffer[..]).unwrap().segment_len(), 5);
    assert_eq!(Repr { flags: Flags::RST, ..repr }.segment_len(), 3);
}

#[test]
fn full_sack_options_fit_in_sixty_bytes() {
    let blocks: SackBlocks =
        (0..4u32).map(|i| (SeqNumber(i * 100), SeqNumber(i * 100 + 50))).collect();
    let ts = Some(Timestamp { tsval: 1, tsecr: 2 });
    for (options, kept) in [
        (Options { sack_blocks: blocks, ..Options::NONE }, 4),
        (Options { sack_blocks: blocks, timestamp: ts, ..Options::NONE }, 3),
    ] {
        let repr = Repr { ack_number: Some(SeqNumber(1)), options, ..Repr::TEMPLATE };
        assert!(repr.header_len() <= MAX_HEADER_LEN);
        let mut buffer = vec![0; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT, SERVER, &SW).unwrap();
        let packet = Packet::new_checked(&buffer[..]).unwrap();
        assert_eq!(packet.header_len(), repr.header_len());
        let parsed = Repr::parse(&packet, CLIENT, SERVER, &SW).unwrap();
        assert_eq!(parsed.options.sack_blocks.as_slice(), &blocks.as_slice()[..kept]);
    }
}

prop_compose! {
    fn arb_options()(
        mss in proptest::option::of(any::<u16>()),
        window_scale in proptest::option::of(0..=MAX_WINDOW_SCALE),
        sack_permitted in any::<bool>(),
        timestamp in proptest::option::of((any::<u32>(), any::<u32>())),
        blocks in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
    ) -> Options {
        let mut options = Options {
            mss,
            window_scale,
            sack_permitted,
            timestamp: timestamp.map(|(tsval, tsecr)| Timestamp { tsval, tsecr }),
            ..Options::NONE
        };
        // Consistent options: only as many SACK blocks as fit beside the rest.
        let fit = options.sack_capacity();
        options.sack_blocks = blocks
            .into_iter()
            .take(fit)
            .map(|(l, r)| (SeqNumber(l), SeqNumber(r)))
            .collect();
        options
    }
}

prop_compose! {
    fn arb_repr()(
        src_port in any::<u16>(),
        dst_port in any::<u16>(),
        seq_number in any::<u32>(),
        ack_number in proptest::option::of(any::<u32>()),
        flags in any::<u16>(),
        window_len in any::<u16>(),
        urgent_pointer in any::<u16>(),
        options in arb_options(),
    ) -> Repr<'static> {
        Repr {
            src_port,
            dst_port,
            seq_number: SeqNumber(seq_number),
            ack_number: ack_number.map(SeqNumber),
            flags: Flags::from_bits_truncate(flags).difference(Flags::ACK),
            window_len,
            urgent_pointer,
            options,
            payload: &[],
        }
    }
}

proptest! {
    #[test]
    fn parse_emit_round_trip(
        repr in arb_repr(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        v6 in any::<bool>(),
    ) {
        let (src, dst) = if v6 { (CLIENT6, SERVER6) } else { (CLIENT, SERVER) };
        let repr = Repr { payload: &payload, ..repr };
        prop_assert!(repr.header_len() <= MAX_HEADER_LEN && repr.header_len() % 4 == 0);
        let mut buffer = vec![0; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), src, dst, &SW).unwrap();
        let packet = Packet::new_checked(&buffer[..]).unwrap();
        prop_assert_eq!(packet.header_len(), repr.header_len());
        prop_assert!(packet.verify_checksum(src, dst));
        prop_assert_eq!(Repr::parse(&packet, src, dst, &SW), Ok(repr));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let unchecked = Packet::new_unchecked(&bytes[..]);
        let no_checks = Checksums { tcp: Checksum::None, ..SW };
        let _ = Repr::parse(&unchecked, CLIENT, SERVER, &no_checks);
        if let Ok(packet) = Packet::new_checked(&bytes[..]) {
            let _ = (packet.src_port(), packet.dst_port(), packet.seq_number(), packet.ack_number());
            let _ = (packet.flags(), packet.window_len(), packet.checksum(), packet.urgent_at());
            prop_assert_eq!(packet.options().len() + packet.payload().len() + HEADER_LEN, bytes.len());
            prop_assert!(packet.segment_len() <= bytes.len());
            for option in packet.options_iter() {
                let _ = option;
            }
            let _ = packet.verify_checksum(CLIENT6, SERVER6);
            // With checksums off, parse reaches the options whatever they say.
            if let Ok(repr) = Repr::parse(&packet, CLIENT, SERVER, &no_checks) {
                prop_assert_eq!(repr.payload, packet.payload());
                prop_assert!(repr.options.window_scale.is_none_or(|s| s <= MAX_WINDOW_SCALE));
            }
            let _ = Repr::parse(&packet, CLIENT, SERVER, &SW);
        }
    }

    #[test]
    fn truncating_any_segment_never_panics(
        repr in arb_repr(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buffer = vec![0; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buffer[..]), CLIENT, SERVER, &SW).unwrap();
        let len = cut.index(buffer.len());
        let prefix = &buffer[..len];
        let no_checks = Checksums { tcp: Checksum::None, ..SW };
        prop_assert_eq!(
            Repr::parse(&Packet::new_unchecked(prefix), CLIENT, SERVER, &no_checks),
            Err(Error::Truncated)
        );
    }
}
