//! Sequence numbers and timestamp values: 32-bit counters that wrap, compared modulo 2^32
//! (RFC 9293 §3.4, RFC 7323 §5.3, RFC 1982).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// A TCP sequence (or acknowledgment) number.
///
/// Arithmetic wraps modulo 2^32, and ordering is wrap-aware: `a < b` when `b` lies less than
/// 2^31 ahead of `a`, so `SeqNumber(u32::MAX) < SeqNumber(0)`. Two numbers exactly 2^31
/// apart are not ordered (`partial_cmp` is `None`, RFC 1982 §3.2), which keeps `<` and `>`
/// mirror images of each other. The order is not transitive around the circle, so there is
/// deliberately no `Ord`: compare numbers only within one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// How far forward `self` lies from `other`, modulo 2^32: `other + d == self`.
    pub const fn wrapping_sub(self, other: Self) -> u32 {
        self.0.wrapping_sub(other.0)
    }

    /// `self` advanced by `n` bytes, modulo 2^32 (the same as `self + n`).
    pub const fn plus(self, n: usize) -> Self {
        // Sequence space is mod 2^32: truncating `n` is the arithmetic we want.
        Self(self.0.wrapping_add(n as u32))
    }

    /// Bytes from `earlier` forward to `self`, modulo 2^32: `earlier.plus(d) == self`.
    pub const fn since(self, earlier: Self) -> usize {
        self.wrapping_sub(earlier) as usize
    }

    /// The signed distance from `other` to `self`: positive when `self` is ahead. The same as
    /// `self - other`.
    pub const fn signed_diff(self, other: Self) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The later of the two; `self` if they are not ordered.
    pub fn max(self, other: Self) -> Self {
        if other > self { other } else { self }
    }

    /// The earlier of the two; `self` if they are not ordered.
    pub fn min(self, other: Self) -> Self {
        if other < self { other } else { self }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        serial_cmp(self.0, other.0)
    }
}

/// RFC 1982 serial-number order of two 32-bit counters: `a < b` when `b` lies less than
/// 2^31 ahead; exactly 2^31 apart they are not ordered.
const fn serial_cmp(a: u32, b: u32) -> Option<Ordering> {
    match a.wrapping_sub(b) as i32 {
        i32::MIN => None,
        0 => Some(Ordering::Equal),
        d if d < 0 => Some(Ordering::Less),
        _ => Some(Ordering::Greater),
    }
}

/// A TCP timestamp value (TSval or TSecr, RFC 7323): a 32-bit clock that wraps, ordered
/// like [`SeqNumber`] — `a < b` when `b` is less than 2^31 ticks ahead — so PAWS and the
/// undo checks compare clocks, never raw integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TsVal(pub u32);

impl PartialOrd for TsVal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        serial_cmp(self.0, other.0)
    }
}

/// Advances by `rhs` bytes, modulo 2^32 (an offset of 2^32 or more wraps around too).
impl Add<usize> for SeqNumber {
    type Output = Self;

    fn add(self, rhs: usize) -> Self {
        self.plus(rhs)
    }
}

/// Goes back by `rhs` bytes, modulo 2^32.
impl Sub<usize> for SeqNumber {
    type Output = Self;

    fn sub(self, rhs: usize) -> Self {
        Self(self.0.wrapping_sub(rhs as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl SubAssign<usize> for SeqNumber {
    fn sub_assign(&mut self, rhs: usize) {
        *self = *self - rhs;
    }
}

/// The signed distance, as [`SeqNumber::signed_diff`].
impl Sub for SeqNumber {
    type Output = i32;

    fn sub(self, rhs: Self) -> i32 {
        self.signed_diff(rhs)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Largest distance the reference model compares: below 2^31.
    const HALF: i64 = (1 << 31) - 1;

    /// A number on the unbounded line of the model, mapped onto the 32-bit circle.
    fn wrap(x: i64) -> SeqNumber {
        SeqNumber(x.rem_euclid(1 << 32) as u32)
    }

    #[test]
    fn timestamps_compare_across_the_wrap_as_sequence_numbers_do() {
        assert!(TsVal(u32::MAX) < TsVal(0));
        assert!(TsVal(5) > TsVal(u32::MAX - 5));
        assert!(TsVal(7) >= TsVal(7) && TsVal(7) <= TsVal(7));
        assert_eq!(TsVal(0).partial_cmp(&TsVal(1 << 31)), None);
        assert_eq!(SeqNumber(5).plus(10).since(SeqNumber(5)), 10);
        assert_eq!(SeqNumber(u32::MAX).plus(2), SeqNumber(1));
    }

    #[test]
    fn wraps_at_two_to_the_32() {
        let last = SeqNumber(u32::MAX);
        assert_eq!(last + 1, SeqNumber(0));
        assert_eq!(SeqNumber(0) - 1, last);
        assert!(last < SeqNumber(0));
        assert!(SeqNumber(0) > last);
        assert_eq!(SeqNumber(5) - last, 6);
        assert_eq!(last - SeqNumber(5), -6);
        assert_eq!(last.wrapping_sub(SeqNumber(5)), u32::MAX - 5);
        assert_eq!(SeqNumber(5).wrapping_sub(last), 6);
        assert_eq!(SeqNumber(3).max(last), SeqNumber(3));
        assert_eq!(SeqNumber(3).min(last), last);
        let mut s = last;
        s += 10;
        assert_eq!(s, SeqNumber(9));
        s -= 10;
        assert_eq!(s, last);
        // An offset of 2^32 is a full turn.
        assert_eq!(SeqNumber(7) + (1usize << 32), SeqNumber(7));
        assert_eq!(SeqNumber(7).to_string(), "7");
    }

    #[test]
    fn half_the_circle_apart_is_unordered() {
        let a = SeqNumber(10);
        let b = a + (1usize << 31);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
        assert_eq!((a < b, b < a, a > b, b > a, a == b), (false, false, false, false, false));
        assert_eq!(a.max(b), a);
        assert_eq!(b.min(a), b);
        // One less and it is ordered again, both ways round.
        assert_eq!(
            (a.partial_cmp(&(b - 1)), (b - 1).partial_cmp(&a)),
            (Some(Ordering::Less), Some(Ordering::Greater))
        );
        assert_eq!(
            ((b + 1).partial_cmp(&a), a.partial_cmp(&(b + 1))),
            (Some(Ordering::Less), Some(Ordering::Greater))
        );
    }

    proptest! {
        #[test]
        fn agrees_with_the_integer_line(
            base in any::<u32>(),
            a in -HALF / 2..=HALF / 2,
            b in -HALF / 2..=HALF / 2,
        ) {
            // Two points within 2^31 of each other around `base`, which may sit anywhere on
            // the circle, so the window often straddles 2^32.
            let (x, y) = (i64::from(base) + a, i64::from(base) + b);
            let (sx, sy) = (wrap(x), wrap(y));
            prop_assert_eq!(sx.partial_cmp(&sy), Some(x.cmp(&y)));
            prop_assert_eq!(sx < sy, x < y);
            prop_assert_eq!(sx <= sy, x <= y);
            prop_assert_eq!(sx > sy, x > y);
            prop_assert_eq!(sx - sy, i32::try_from(x - y).unwrap());
            prop_assert_eq!(sx.signed_diff(sy), i32::try_from(x - y).unwrap());
            prop_assert_eq!(sx.wrapping_sub(sy), (x - y).rem_euclid(1 << 32) as u32);
            prop_assert_eq!(sx.max(sy), wrap(x.max(y)));
            prop_assert_eq!(sx.min(sy), wrap(x.min(y)));
        }

        #[test]
        fn add_and_sub_follow_the_line(base in any::<u32>(), n in 0..(1usize << 33)) {
            let s = SeqNumber(base);
            let x = i64::from(base);
            let n64 = n as i64;
            prop_assert_eq!(s + n, wrap(x + n64));
            prop_assert_eq!(s - n, wrap(x - n64));
            prop_assert_eq!((s + n) - n, s);
            let mut t = s;
            t += n;
            prop_assert_eq!(t.wrapping_sub(s), wrap(n64).0);
            if n < (1 << 31) {
                prop_assert!(n == 0 || s < s + n);
                prop_assert_eq!((s + n) - s, n as i32);
            }
        }
    }
}
