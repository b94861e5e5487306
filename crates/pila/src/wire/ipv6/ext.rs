//! IPv6 extension headers (RFC 8200 §4): walked and skipped by their lengths, with the rules
//! a destination host follows for what it does not know.
//!
//! The headers a host processes come in a chain after the fixed header, each naming the
//! next one, until an upper-layer protocol:
//!
//! ```text
//! Hop-by-Hop Options (0), Routing (43), Destination Options (60):
//! +---------------+---------------+-------------------------------+
//! |  Next Header  |  Hdr Ext Len  |  options / routing type, ...  |
//! +---------------+---------------+-------------------------------+
//! |          ... (8 + Hdr Ext Len × 8 bytes in all)               |
//!
//! Fragment (44), always 8 bytes:
//! +---------------+---------------+-------------------------+-+-+-+
//! |  Next Header  |   Reserved    |     Fragment Offset     |Res|M|
//! +---------------+---------------+-------------------------+-+-+-+
//! |                         Identification                        |
//! +---------------------------------------------------------------+
//! ```
//!
//! [`walk`] goes down the chain and says where the upper layer starts, or why the packet is
//! dropped: silently, or with the ICMPv6 Parameter Problem RFC 8200 asks for. It stops at a
//! fragment header: the rest of a fragment is only readable once reassembled, and the
//! caller walks the reassembled payload again from the fragment header's next header.

use super::super::ip::Protocol;
use super::super::{Error, Result};
use core::fmt;

/// Hop-by-Hop Options (RFC 8200 §4.3).
pub const HOP_BY_HOP: u8 = 0;
/// Routing (RFC 8200 §4.4).
pub const ROUTING: u8 = 43;
/// Fragment (RFC 8200 §4.5).
pub const FRAGMENT: u8 = 44;
/// No Next Header (RFC 8200 §4.7): nothing follows; bytes after are ignored.
pub const NO_NEXT_HEADER: u8 = 59;
/// Destination Options (RFC 8200 §4.6).
pub const DESTINATION_OPTIONS: u8 = 60;

/// The length of a fragment header.
pub const FRAGMENT_LEN: usize = 8;

/// The option type of Pad1, a single zero byte.
const PAD1: u8 = 0;
/// The option type of PadN.
const PADN: u8 = 1;
/// The option type of Router Alert (RFC 2711).
const ROUTER_ALERT: u8 = 5;

/// The code of an ICMPv6 Parameter Problem (RFC 4443 §3.4, RFC 8200 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemCode {
    /// Erroneous header field encountered (0).
    ErroneousField,
    /// Unrecognized Next Header type encountered (1).
    UnrecognizedNextHeader,
    /// Unrecognized IPv6 option encountered (2).
    UnrecognizedOption,
    /// The first fragment lacks headers of the chain up to the upper layer's (3, RFC
    /// 7112 §5).
    IncompleteHeaderChain,
    /// Any other code.
    Unknown(u8),
}

impl From<u8> for ProblemCode {
    fn from(value: u8) -> Self {
        match value {
            0 => Self::ErroneousField,
            1 => Self::UnrecognizedNextHeader,
            2 => Self::UnrecognizedOption,
            3 => Self::IncompleteHeaderChain,
            other => Self::Unknown(other),
        }
    }
}

impl From<ProblemCode> for u8 {
    fn from(value: ProblemCode) -> Self {
        match value {
            ProblemCode::ErroneousField => 0,
            ProblemCode::UnrecognizedNextHeader => 1,
            ProblemCode::UnrecognizedOption => 2,
            ProblemCode::IncompleteHeaderChain => 3,
            ProblemCode::Unknown(other) => other,
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErroneousField => f.write_str("erroneous header field"),
            Self::UnrecognizedNextHeader => f.write_str("unrecognized next header"),
            Self::UnrecognizedOption => f.write_str("unrecognized option"),
            Self::IncompleteHeaderChain => f.write_str("incomplete header chain"),
            Self::Unknown(n) => write!(f, "code {n}"),
        }
    }
}

/// Why a walk refused a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A header runs past the payload, or an option past its header: drop the packet and
    /// count it, as any malformed packet.
    Malformed(Error),
    /// An unrecognized option whose type says to discard the packet and say nothing
    /// (RFC 8200 §4.2: action `01`, or `11` when the destination is multicast).
    Discard,
    /// Discard the packet and send the source a Parameter Problem with this code, whose
    /// pointer is the offset in the original packet (fixed header included) of the byte
    /// at fault.
    Problem {
        /// The code.
        code: ProblemCode,
        /// The offset of the byte at fault from the start of the IPv6 packet.
        pointer: u32,
    },
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Self::Malformed(e)
    }
}

/// A fragment header (RFC 8200 §4.5) as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentHeader {
    /// The header of the fragmentable part: what the reassembled payload starts with.
    pub next_header: Protocol,
    /// The offset of this fragment's data in the fragmentable part, in bytes (a multiple
    /// of 8).
    pub offset: u16,
    /// The M flag: more fragments follow.
    pub more: bool,
    /// The identification shared by the fragments of one packet.
    pub ident: u32,
}

impl FragmentHeader {
    /// Reads a fragment header from the first 8 bytes of `data`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let Some(h) = data.get(..FRAGMENT_LEN) else { return Err(Error::Truncated) };
        let off_m = u16::from_be_bytes([h[2], h[3]]);
        Ok(Self {
            next_header: Protocol::from(h[0]),
            offset: off_m & !0x7,
            more: off_m & 1 != 0,
            ident: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        })
    }

    /// Whether this is an atomic fragment (RFC 6946): offset 0 and no more fragments, a
    /// whole packet that is processed as it is, never with other fragments.
    pub const fn is_atomic(&self) -> bool {
        self.offset == 0 && !self.more
    }

    /// Writes the 8-byte header into the start of `buf` (at least [`FRAGMENT_LEN`] bytes);
    /// an offset that is not a multiple of 8 is rounded down.
    pub fn emit(&self, buf: &mut [u8]) {
        let off_m = (self.offset & !0x7) | u16::from(self.more);
        buf[0] = self.next_header.into();
        buf[1] = 0;
        buf[2..4].copy_from_slice(&off_m.to_be_bytes());
        buf[4..8].copy_from_slice(&self.ident.to_be_bytes());
    }
}

/// Where a walk down the extension headers stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chain {
    /// The first header the walk did not process: the upper-layer protocol, No Next Header
    /// ([`NO_NEXT_HEADER`]: the caller ignores the rest), or, after a fragment header, the
    /// first header of the fragmentable part.
    pub protocol: Protocol,
    /// Where that header starts in the walked bytes.
    pub start: usize,
    /// The offset, from the start of the IPv6 packet, of the Next Header field that named
    /// `protocol`: the pointer of the Parameter Problem (code 1) a host sends for an
    /// upper layer it does not know (RFC 8200 §4).
    pub pointer: u32,
    /// The fragment header the walk stopped after, if it met one.
    pub fragment: Option<FragmentHeader>,
}

/// Walks the extension headers of a packet to `dst_multicast` or not, from `first` (the
/// fixed header's next header) over `data` (the payload), and says where the upper layer
/// starts. `base` is the offset of `data` in the packet: 40 for the payload of a packet
/// as received, more when a reassembled payload is walked after its unfragmentable part.
/// `hop_by_hop_allowed` says whether `first` may be a Hop-by-Hop Options header, which
/// RFC 8200 §4.1 allows only right after the fixed header.
///
/// Hop-by-Hop and Destination Options are processed (unknown options by their action
/// bits, RFC 8200 §4.2); a Routing header with segments left is refused, since a host
/// forwards nothing (RFC 8200 §4.4, RFC 5095); the walk stops after a fragment header.
pub fn walk(
    first: Protocol,
    data: &[u8],
    base: usize,
    hop_by_hop_allowed: bool,
    dst_multicast: bool,
) -> core::result::Result<Chain, Refusal> {
    let mut next = u8::from(first);
    let mut at = 0;
    // The offset in the packet of the field that named `next`: the fixed header's Next
    // Header, byte 6.
    let mut pointer = 6;
    let packet_offset = |at: usize| u32::try_from(base + at).unwrap_or(u32::MAX);
    loop {
        match next {
            HOP_BY_HOP | DESTINATION_OPTIONS => {
                if next == HOP_BY_HOP && !(hop_by_hop_allowed && at == 0) {
                    return Err(Refusal::Problem {
                        code: ProblemCode::UnrecognizedNextHeader,
                        pointer,
                    });
                }
                let len = header_len(data, at)?;
                options(&data[at + 2..at + len], base + at + 2, dst_multicast)?;
                (next, pointer) = (data[at], packet_offset(at));
                at += len;
            }
            ROUTING => {
                let len = header_len(data, at)?;
                let segments_left = data[at + 3];
                if segments_left != 0 {
                    return Err(Refusal::Problem {
                        code: ProblemCode::ErroneousField,
                        pointer: packet_offset(at + 2),
                    });
                }
                (next, pointer) = (data[at], packet_offset(at));
                at += len;
            }
            FRAGMENT => {
                let fragment = FragmentHeader::parse(&data[at..])?;
                return Ok(Chain {
                    protocol: fragment.next_header,
                    start: at + FRAGMENT_LEN,
                    pointer: packet_offset(at),
                    fragment: Some(fragment),
                });
            }
            _ => {
                return Ok(Chain {
                    protocol: Protocol::from(next),
                    start: at,
                    pointer,
                    fragment: None,
                });
            }
        }
    }
}

/// The length in bytes of the options or routing header at `at`, checked to fit `data`.
fn header_len(data: &[u8], at: usize) -> Result<usize> {
    let Some(&units) = data.get(at + 1) else { return Err(Error::Truncated) };
    let len = 8 + usize::from(units) * 8;
    if at + len > data.len() {
        return Err(Error::Truncated);
    }
    Ok(len)
}

/// Processes the options of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2):
/// `area` is the header after its first two bytes, found at `offset` in the packet.
fn options(area: &[u8], offset: usize, dst_multicast: bool) -> core::result::Result<(), Refusal> {
    let mut i = 0;
    while i < area.len() {
        let kind = area[i];
        if kind == PAD1 {
            i += 1;
            continue;
        }
        let Some(&len) = area.get(i + 1) else { return Err(Refusal::Malformed(Error::BadLength)) };
        let end = i + 2 + usize::from(len);
        if end > area.len() {
            return Err(Refusal::Malformed(Error::BadLength));
        }
        if !matches!(kind, PADN | ROUTER_ALERT) {
            // The two high bits of the type say what to do with an option not recognized.
            match kind >> 6 {
                0b00 => {}
                0b01 => return Err(Refusal::Discard),
                0b11 if dst_multicast => return Err(Refusal::Discard),
                _ => {
                    let pointer = u32::try_from(offset + i).unwrap_or(u32::MAX);
                    return Err(Refusal::Problem {
                        code: ProblemCode::UnrecognizedOption,
                        pointer,
                    });
                }
            }
        }
        i = end;
    }
    Ok(())
}

/// The length of [`router_alert`]'s header.
pub const ROUTER_ALERT_LEN: usize = 8;

/// A Hop-by-Hop Options header with one Router Alert option (RFC 2711) saying the packet
/// holds an MLD message (value 0), followed by `next`: what MLDv2 reports carry (RFC 3810
/// §5).
pub fn router_alert(next: Protocol) -> [u8; ROUTER_ALERT_LEN] {
    [next.into(), 0, ROUTER_ALERT, 2, 0, 0, PADN, 0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UDP: Protocol = Protocol::Udp;

    fn walk_of(first: u8, data: &[u8]) -> core::result::Result<Chain, Refusal> {
        walk(Protocol::from(first), data, 40, true, false)
    }

    #[test]
    fn no_extension_headers() {
        let chain = walk_of(17, &[0; 8]).unwrap();
        assert_eq!(chain, Chain { protocol: UDP, start: 0, pointer: 6, fragment: None });
    }

    #[test]
    fn options_are_skipped_and_the_upper_layer_found() {
        // Hop-by-hop with a router alert, then destination options with PadN and Pad1s,
        // then UDP.
        let mut data = router_alert(Protocol::from(DESTINATION_OPTIONS)).to_vec();
        data.extend([17, 0, PADN, 1, 0, PAD1, PAD1, PAD1]);
        data.extend([0; 8]);
        let chain = walk_of(HOP_BY_HOP, &data).unwrap();
        assert_eq!(chain, Chain { protocol: UDP, start: 16, pointer: 48, fragment: None });
    }

    #[test]
    fn unknown_options_act_by_their_high_bits() {
        let with = |kind: u8, multicast: bool| {
            let data = [17, 0, kind, 2, 0, 0, PADN, 0];
            walk(Protocol::from(DESTINATION_OPTIONS), &data, 40, true, multicast)
        };
        assert!(with(0x1e, false).is_ok(), "00: skip");
        assert_eq!(with(0x5e, false), Err(Refusal::Discard), "01: discard");
        let problem = Refusal::Problem { code: ProblemCode::UnrecognizedOption, pointer: 42 };
        assert_eq!(with(0x9e, false), Err(problem), "10: discard, tell");
        assert_eq!(with(0x9e, true), Err(problem), "10: tell even a multicast's source");
        assert_eq!(with(0xde, false), Err(problem), "11: discard, tell");
        assert_eq!(with(0xde, true), Err(Refusal::Discard), "11: not to a multicast");
    }

    #[test]
    fn hop_by_hop_only_first() {
        let data = [HOP_BY_HOP, 0, PADN, 4, 0, 0, 0, 0, 17, 0, PADN, 4, 0, 0, 0, 0];
        let refused = walk_of(DESTINATION_OPTIONS, &data);
        let problem = Refusal::Problem { code: ProblemCode::UnrecognizedNextHeader, pointer: 40 };
        assert_eq!(refused, Err(problem));
        // Nor first in a reassembled payload.
        let refused = walk(Protocol::from(HOP_BY_HOP), &data[8..], 48, false, false);
        let problem = Refusal::Problem { code: ProblemCode::UnrecognizedNextHeader, pointer: 6 };
        assert_eq!(refused, Err(problem));
    }

    #[test]
    fn routing_with_segments_left_is_refused() {
        let done = [17, 0, 4, 0, 0, 0, 0, 0];
        assert_eq!(walk_of(ROUTING, &done).unwrap().protocol, UDP, "segments left 0: ignored");
        let pending = [17, 2, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let problem = Refusal::Problem { code: ProblemCode::ErroneousField, pointer: 42 };
        assert_eq!(walk_of(ROUTING, &pending), Err(problem));
    }

    #[test]
    fn the_walk_stops_after_a_fragment_header() {
        let header = FragmentHeader { next_header: UDP, offset: 1448, more: true, ident: 0xdead };
        let mut data = [FRAGMENT, 0, PADN, 4, 0, 0, 0, 0].to_vec();
        data.extend([0; FRAGMENT_LEN]);
        header.emit(&mut data[8..]);
        data.extend([0xab; 16]);
        let chain = walk_of(DESTINATION_OPTIONS, &data).unwrap();
        assert_eq!(chain, Chain { protocol: UDP, start: 16, pointer: 48, fragment: Some(header) });
        assert!(!header.is_atomic());
        let atomic = FragmentHeader { offset: 0, more: false, ..header };
        assert!(atomic.is_atomic());
    }

    #[test]
    fn truncated_chains_are_malformed() {
        assert_eq!(walk_of(HOP_BY_HOP, &[17]), Err(Refusal::Malformed(Error::Truncated)));
        assert_eq!(walk_of(HOP_BY_HOP, &[17, 1, 0, 0]), Err(Refusal::Malformed(Error::Truncated)));
        assert_eq!(walk_of(FRAGMENT, &[17, 0, 0]), Err(Refusal::Malformed(Error::Truncated)));
        // An option that runs past its header.
        let data = [17, 0, PADN, 5, 0, 0, 0, 0];
        assert_eq!(walk_of(HOP_BY_HOP, &data), Err(Refusal::Malformed(Error::BadLength)));
    }

    #[test]
    fn problem_codes_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(ProblemCode::from(n)), n);
        }
    }

    proptest! {
        #[test]
        fn walk_never_panics(
            first in prop_oneof![Just(0u8), Just(43), Just(44), Just(60), any::<u8>()],
            bytes in proptest::collection::vec(any::<u8>(), 0..96),
            multicast in any::<bool>(),
        ) {
            if let Ok(chain) = walk(Protocol::from(first), &bytes, 40, true, multicast) {
                prop_assert!(chain.start <= bytes.len());
            }
        }

        #[test]
        fn fragment_headers_round_trip(next in any::<u8>(), units in 0u16..8192, more in any::<bool>(), ident in any::<u32>()) {
            let header = FragmentHeader { next_header: Protocol::from(next), offset: units * 8, more, ident };
            let mut buf = [0u8; FRAGMENT_LEN];
            header.emit(&mut buf);
            prop_assert_eq!(FragmentHeader::parse(&buf), Ok(header));
        }
    }
}
