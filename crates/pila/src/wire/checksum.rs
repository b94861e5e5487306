//! The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the pseudo-headers
//! that TCP, UDP and ICMPv6 cover.
//!
//! The one's complement sum does not care about byte order: summing 16-bit words read in the
//! machine's own order gives the byte-swapped sum on a little-endian machine, and one swap at
//! the end puts it right (RFC 1071 §2(B)). So [`sum`] reads 32-bit native words into four
//! 64-bit accumulators — no carries to chase, and the loop vectorises — and folds once.

use super::{Error, Result};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The one's complement sum of `data` as 16-bit big-endian words, folded to 16 bits but not
/// complemented. An odd final byte counts as the high byte of a word padded with zero.
pub fn sum(data: &[u8]) -> u16 {
    let mut acc = [0u64; 4];
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        for (i, word) in block.chunks_exact(4).enumerate() {
            acc[i % 4] += u64::from(u32::from_ne_bytes([word[0], word[1], word[2], word[3]]));
        }
    }
    let mut total = acc.iter().map(|&a| u128::from(a)).sum::<u128>();
    let mut words = blocks.remainder().chunks_exact(4);
    for word in &mut words {
        total += u128::from(u32::from_ne_bytes([word[0], word[1], word[2], word[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for pair in &mut pairs {
        total += u128::from(u16::from_ne_bytes([pair[0], pair[1]]));
    }
    if let [last] = pairs.remainder() {
        total += u128::from(u16::from_ne_bytes([*last, 0]));
    }
    u16::from_be(fold(total))
}

/// Folds a wide one's complement accumulator down to 16 bits.
const fn fold(mut total: u128) -> u16 {
    while total > 0xffff {
        total = (total & 0xffff) + (total >> 16);
    }
    total as u16
}

/// Adds folded sums together, one's complement style.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u128::from(s)).sum())
}

/// The finished checksum of a set of folded sums: their one's complement sum, complemented.
pub fn finish(sums: &[u16]) -> u16 {
    !combine(sums)
}

/// The sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768) for an upper-layer message of
/// `length` bytes carried with `protocol`.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let mut header = [0u8; 12];
    header[0..4].copy_from_slice(&src.octets());
    header[4..8].copy_from_slice(&dst.octets());
    header[9] = protocol;
    header[10..12].copy_from_slice(&length.to_be_bytes());
    sum(&header)
}

/// The sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an upper-layer message of `length`
/// bytes whose next header is `next_header`.
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut header = [0u8; 40];
    header[0..16].copy_from_slice(&src.octets());
    header[16..32].copy_from_slice(&dst.octets());
    header[32..36].copy_from_slice(&length.to_be_bytes());
    header[39] = next_header;
    sum(&header)
}

/// The pseudo-header sum for an upper-layer message of `length` bytes between `src` and
/// `dst`, whichever family they are: what TCP and UDP fold into their checksums.
///
/// Fails with [`Error::Malformed`] when the addresses are of different families, and with
/// [`Error::BadLength`] when `length` does not fit the family's length field (16 bits for
/// IPv4, 32 for IPv6).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, length: usize) -> Result<u16> {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let length = u16::try_from(length).map_err(|_| Error::BadLength)?;
            Ok(pseudo_header_v4(src, dst, protocol, length))
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let length = u32::try_from(length).map_err(|_| Error::BadLength)?;
            Ok(pseudo_header_v6(src, dst, protocol, length))
        }
        _ => Err(Error::Malformed),
    }
}

/// Updates a checksum for one 16-bit word of the covered data changing from `old` to `new`,
/// without summing the data again: `HC' = ~(~HC + ~m + m')` (RFC 1624 §3, eqn. 3), which
/// never produces the `0x0000`/`0xffff` ambiguity that RFC 1141's form did.
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    !combine(&[!checksum, !old, new])
}

/// Like [`update`], for a 32-bit field such as an IPv4 address or a sequence number.
pub fn update32(checksum: u16, old: u32, new: u32) -> u16 {
    let checksum = update(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update(checksum, old as u16, new as u16)
}

/// The plain byte-pair loop of RFC 1071 §4.1, kept as the reference that tests and the
/// benchmark hold [`sum`] against. Not for use on a hot path.
#[doc(hidden)]
pub fn sum_bytewise(data: &[u8]) -> u16 {
    let mut total: u32 = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        total += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
        total = (total & 0xffff) + (total >> 16);
        i += 2;
    }
    if i < data.len() {
        total += u32::from(data[i]) << 8;
        total = (total & 0xffff) + (total >> 16);
    }
    fold(u128::from(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(finish(&[sum(&data)]), !0xddf2);
    }

    #[test]
    fn ipv4_header_from_the_wire() {
        // An IPv4 header captured from Linux; its checksum field (0xb861) makes the sum 0xffff.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(sum(&header), 0xffff);
        let mut zeroed = header;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(finish(&[sum(&zeroed)]), 0xb861);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(sum(&[0x01, 0x02, 0x03]), 0x0402);
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn pseudo_header_matches_its_bytes() {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let dst = Ipv4Addr::new(198, 51, 100, 7);
        let bytes = [192, 0, 2, 1, 198, 51, 100, 7, 0, 6, 0x05, 0xdc];
        assert_eq!(pseudo_header_v4(src, dst, 6, 1500), sum_bytewise(&bytes));
    }

    #[test]
    fn pseudo_header_picks_the_family() {
        let (v4a, v4b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 7));
        let (v6a, v6b) = (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), Ipv6Addr::LOCALHOST);
        assert_eq!(
            pseudo_header(v4a.into(), v4b.into(), 6, 1500),
            Ok(pseudo_header_v4(v4a, v4b, 6, 1500))
        );
        assert_eq!(
            pseudo_header(v6a.into(), v6b.into(), 17, 70_000),
            Ok(pseudo_header_v6(v6a, v6b, 17, 70_000))
        );
        assert_eq!(pseudo_header(v4a.into(), v4b.into(), 6, 65_536), Err(Error::BadLength));
        assert_eq!(pseudo_header(v4a.into(), v6b.into(), 6, 20), Err(Error::Malformed));
        assert_eq!(pseudo_header(v6a.into(), v4b.into(), 6, 20), Err(Error::Malformed));
    }

    proptest! {
        #[test]
        fn fast_sum_equals_bytewise(data in proptest::collection::vec(any::<u8>(), 0..2048), skip in 0usize..8) {
            // Unaligned starts too: the fast path must not care where the slice begins.
            let data = &data[skip.min(data.len())..];
            prop_assert_eq!(sum(data), sum_bytewise(data));
        }

        #[test]
        fn incremental_update_equals_recomputation(
            mut data in proptest::collection::vec(any::<u8>(), 2..256),
            at in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            let word = at.index(data.len() / 2) * 2;
            let old = u16::from_be_bytes([data[word], data[word + 1]]);
            let before = finish(&[sum(&data)]);
            data[word..word + 2].copy_from_slice(&new.to_be_bytes());
            let after = finish(&[sum(&data)]);
            let updated = update(before, old, new);
            // 0x0000 and 0xffff are the same number in one's complement; a receiver accepts either.
            prop_assert!(updated == after || (updated ^ after) == 0xffff && (after == 0 || after == 0xffff),
                "updated {updated:#06x} recomputed {after:#06x}");
        }

        #[test]
        fn update32_equals_two_updates(checksum in any::<u16>(), old in any::<u32>(), new in any::<u32>()) {
            let two = update(update(checksum, (old >> 16) as u16, (new >> 16) as u16), old as u16, new as u16);
            prop_assert_eq!(update32(checksum, old, new), two);
        }
    }
}
