//! The SACK scoreboard: what the peer holds beyond `SND.UNA` (RFC 2018).
//!
//! The sender records every SACK block the peer reports ([`Scoreboard::update`]); RACK
//! (`rack.rs`) reads the SACKed ranges to mark segments delivered and decides what is lost,
//! and the sender subtracts the SACKed bytes from what it counts in flight. A range is
//! `[left, right)`, as SACK blocks and `SND.NXT` count.
//!
//! Memory is bounded: at most [`MAX_RANGES`] disjoint ranges are kept, allocated only when
//! the first block arrives. When a new disjoint range does not fit, the highest range is
//! forgotten. Forgetting SACK information is always safe (un-SACKed data is treated as
//! outstanding: at worst it is counted in flight or retransmitted needlessly), whereas
//! inventing SACKed bytes could keep a real loss from being repaired.

use crate::wire::tcp::{SackBlock, SackBlocks, SeqNumber};

/// The most disjoint SACKed ranges a scoreboard keeps.
pub(crate) const MAX_RANGES: usize = 512;

/// The SACKed ranges beyond `SND.UNA`, sorted, disjoint and not touching.
///
/// The lists live in a box made at the first SACK block that counts and given back once no
/// range is left, so a connection that sees no loss holds none of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scoreboard {
    lists: Option<Box<Lists>>,
}

/// What a [`Scoreboard`] holds while it has ranges.
#[derive(Clone, Debug, Default)]
struct Lists {
    ranges: Vec<SackBlock>,
    /// The bytes `ranges` cover, kept as they change.
    sacked: usize,
    /// A byte of each range the last `update` grew or added (it may since have merged
    /// into a larger range, or been forgotten).
    touched: Vec<SeqNumber>,
}

impl Scoreboard {
    /// An empty scoreboard; allocates nothing.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Nothing is in flight: gives back the lists' memory once they are empty.
    pub(crate) fn release_when_empty(&mut self) {
        if self.lists.as_ref().is_some_and(|l| l.ranges.is_empty()) {
            self.lists = None;
        }
    }

    /// Records the SACK blocks of an ACK and returns how many bytes they newly SACK.
    ///
    /// First drops what `snd_una` now covers. Blocks that are empty or inverted, end at or
    /// below `snd_una` (D-SACKs of old duplicates, RFC 2883, or stale reports) or end beyond
    /// `snd_nxt` (bogus: data never sent) are ignored; a block reaching below `snd_una` only
    /// counts from `snd_una`. A D-SACK inside the window repeats what is already SACKed and
    /// changes nothing.
    pub(crate) fn update(
        &mut self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        blocks: &SackBlocks,
    ) -> usize {
        if self.lists.is_none() && !blocks.into_iter().any(|b| counts(b, snd_una, snd_nxt)) {
            return 0;
        }
        self.lists.get_or_insert_with(Box::default).update(snd_una, snd_nxt, blocks)
    }

    /// The cumulative ACK moved to `snd_una`: forgets the ranges it covers.
    pub(crate) fn on_ack(&mut self, snd_una: SeqNumber) {
        if let Some(lists) = self.lists.as_deref_mut() {
            lists.on_ack(snd_una);
        }
    }

    /// The SACKed ranges, lowest first.
    #[cfg(test)]
    pub(crate) fn ranges(&self) -> impl Iterator<Item = SackBlock> + '_ {
        self.lists.iter().flat_map(|l| l.ranges.iter().copied())
    }

    /// A byte of each range the last [`update`](Self::update) grew or added; the ranges
    /// are found with [`range_from`](Self::range_from).
    pub(crate) fn touched(&self) -> &[SeqNumber] {
        self.lists.as_ref().map_or(&[], |l| &l.touched)
    }

    /// The first range that ends beyond `seq` (so holds it, or lies above it), if any.
    pub(crate) fn range_from(&self, seq: SeqNumber) -> Option<SackBlock> {
        let ranges = &self.lists.as_ref()?.ranges;
        let i = ranges.partition_point(|&(_, right)| right <= seq);
        ranges.get(i).copied()
    }

    /// The number of bytes SACKed.
    pub(crate) fn sacked_bytes(&self) -> usize {
        self.lists.as_ref().map_or(0, |l| l.sacked)
    }
}

/// RFC 2018 §3 edges: whether the block `[left, right)` is a real range within
/// (SND.UNA, SND.NXT].
fn counts((left, right): SackBlock, snd_una: SeqNumber, snd_nxt: SeqNumber) -> bool {
    left < right && right > snd_una && right <= snd_nxt
}

impl Lists {
    /// [`Scoreboard::update`].
    fn update(&mut self, snd_una: SeqNumber, snd_nxt: SeqNumber, blocks: &SackBlocks) -> usize {
        self.on_ack(snd_una);
        self.touched.clear();
        let mut newly = 0;
        for (left, right) in blocks {
            if !counts((left, right), snd_una, snd_nxt) {
                continue;
            }
            let n = self.insert(left.max(snd_una), right);
            if n > 0 {
                self.touched.push(left.max(snd_una));
            }
            self.sacked += n;
            newly += n;
        }
        newly
    }

    /// [`Scoreboard::on_ack`].
    fn on_ack(&mut self, snd_una: SeqNumber) {
        let covered = self.ranges.iter().take_while(|&&(_, right)| right <= snd_una).count();
        for (left, right) in self.ranges.drain(..covered) {
            self.sacked -= len(left, right);
        }
        if let Some(first) = self.ranges.first_mut() {
            if first.0 < snd_una {
                self.sacked -= len(first.0, snd_una);
                first.0 = snd_una;
            }
        }
    }

    /// Adds `[left, right)` (within the window), merging with what it overlaps or touches.
    /// Returns the bytes it newly covers.
    fn insert(&mut self, left: SeqNumber, right: SeqNumber) -> usize {
        // The ranges that overlap or touch [left, right): from the first whose right edge
        // reaches `left` to the last whose left edge is not beyond `right`.
        let first = self.ranges.partition_point(|&(_, r)| r < left);
        let last = first + self.ranges[first..].iter().take_while(|&&(l, _)| l <= right).count();
        if first == last {
            if self.ranges.len() >= MAX_RANGES {
                if first == self.ranges.len() {
                    // The new range would be the highest: it is the one forgotten.
                    return 0;
                }
                if let Some((l, r)) = self.ranges.pop() {
                    self.sacked -= len(l, r);
                }
            }
            self.ranges.insert(first, (left, right));
            return len(left, right);
        }
        let mut covered = 0;
        for &(l, r) in &self.ranges[first..last] {
            let (l, r) = (l.max(left), r.min(right));
            if l < r {
                covered += len(l, r);
            }
        }
        let merged = (self.ranges[first].0.min(left), self.ranges[last - 1].1.max(right));
        self.ranges.splice(first..last, [merged]);
        len(left, right) - covered
    }
}

/// The bytes in `[left, right)`, for `left <= right`.
fn len(left: SeqNumber, right: SeqNumber) -> usize {
    right.wrapping_sub(left) as usize
}

/// The D-SACK block of an ACK, if its first block is one (RFC 2883 §4): it lies at or below
/// the cumulative ACK, or inside the second block. A D-SACK says a segment arrived twice,
/// so the retransmission of it was unnecessary.
pub(crate) fn dsack(ack: SeqNumber, blocks: &SackBlocks) -> Option<SackBlock> {
    let mut iter = blocks.iter();
    let (left, right) = iter.next().filter(|(left, right)| left < right)?;
    let inside_second = iter.next().is_some_and(|(l, r)| l <= left && right <= r);
    (right <= ack || inside_second).then_some((left, right))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seq(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    fn blocks(list: &[(u32, u32)]) -> SackBlocks {
        let mut b = SackBlocks::EMPTY;
        for &(l, r) in list {
            assert!(b.push((seq(l), seq(r))));
        }
        b
    }

    fn ranges(sb: &Scoreboard) -> Vec<(u32, u32)> {
        sb.ranges().map(|(l, r)| (l.0, r.0)).collect()
    }

    /// Whether byte `s` is SACKed.
    fn is_sacked(sb: &Scoreboard, s: SeqNumber) -> bool {
        sb.ranges().any(|(l, r)| l <= s && s < r)
    }

    /// One past the highest SACKed byte, if any.
    fn highest_sacked(sb: &Scoreboard) -> Option<SeqNumber> {
        sb.ranges().last().map(|(_, r)| r)
    }

    // RFC 2018 §4's examples: eight 500-byte segments from 5000, SACK blocks as the
    // receiver would send them.

    #[test]
    fn rfc2018_first_segment_lost() {
        // Case 2: the first segment is dropped, the other seven arrive one by one.
        let mut sb = Scoreboard::new();
        let mut newly = 0;
        for right in (6000..=8500).step_by(500) {
            newly += sb.update(seq(5000), seq(8500), &blocks(&[(5500, right)]));
        }
        assert_eq!(newly, 3000);
        assert_eq!(ranges(&sb), [(5500, 8500)]);
        assert_eq!(highest_sacked(&sb), Some(seq(8500)));
    }

    #[test]
    fn rfc2018_every_other_segment_lost() {
        // Case 3: the 2nd, 4th, 6th and 8th segments are dropped; the ACKs carry the most
        // recent block first.
        let mut sb = Scoreboard::new();
        assert_eq!(sb.update(seq(5500), seq(9000), &blocks(&[(6000, 6500)])), 500);
        assert_eq!(sb.update(seq(5500), seq(9000), &blocks(&[(7000, 7500), (6000, 6500)])), 500);
        let b = blocks(&[(8000, 8500), (7000, 7500), (6000, 6500)]);
        assert_eq!(sb.update(seq(5500), seq(9000), &b), 500);
        assert_eq!(ranges(&sb), [(6000, 6500), (7000, 7500), (8000, 8500)]);
        assert_eq!(sb.sacked_bytes(), 1500);

        // The 4th segment is retransmitted and arrives: the receiver merges 6000–7500.
        let b = blocks(&[(6000, 7500), (8000, 8500)]);
        assert_eq!(sb.update(seq(5500), seq(9000), &b), 500);
        assert_eq!(ranges(&sb), [(6000, 7500), (8000, 8500)]);
        // Then the 2nd: the cumulative ACK jumps to 7500.
        assert_eq!(sb.update(seq(7500), seq(9000), &blocks(&[(8000, 8500)])), 0);
        assert_eq!(ranges(&sb), [(8000, 8500)]);
    }

    #[test]
    fn blocks_outside_the_window_are_ignored() {
        let mut sb = Scoreboard::new();
        let bogus = blocks(&[
            (500, 900),   // a D-SACK of old data, below SND.UNA
            (900, 1000),  // ends exactly at SND.UNA
            (4000, 5001), // ends beyond SND.NXT
            (3000, 3000), // empty
        ]);
        assert_eq!(sb.update(seq(1000), seq(5000), &bogus), 0);
        let bogus = blocks(&[
            (3000, 2000),             // inverted
            (2000, 2000 + (1 << 31)), // half the circle: unordered
            (1 << 31, 1 << 30),       // nonsense far away
        ]);
        assert_eq!(sb.update(seq(1000), seq(5000), &bogus), 0);
        assert!(ranges(&sb).is_empty());
        assert_eq!(highest_sacked(&sb), None);
        // A block reaching below SND.UNA counts from SND.UNA; one ending at SND.NXT counts.
        assert_eq!(sb.update(seq(1000), seq(5000), &blocks(&[(800, 1200), (4500, 5000)])), 700);
        assert_eq!(ranges(&sb), [(1000, 1200), (4500, 5000)]);
    }

    #[test]
    fn blocks_in_any_order_merge_into_disjoint_ranges() {
        let mut sb = Scoreboard::new();
        assert_eq!(sb.update(seq(0), seq(10_000), &blocks(&[(3000, 4000)])), 1000);
        assert_eq!(sb.update(seq(0), seq(10_000), &blocks(&[(1000, 2000)])), 1000);
        assert_eq!(sb.update(seq(0), seq(10_000), &blocks(&[(6000, 7000)])), 1000);
        assert_eq!(ranges(&sb), [(1000, 2000), (3000, 4000), (6000, 7000)]);
        // Touching ranges merge: [2000, 3000) fills the gap exactly.
        assert_eq!(sb.update(seq(0), seq(10_000), &blocks(&[(2000, 3000)])), 1000);
        assert_eq!(ranges(&sb), [(1000, 4000), (6000, 7000)]);
        // One block spanning a gap and overlapping both sides counts only the gap.
        assert_eq!(sb.update(seq(0), seq(10_000), &blocks(&[(3500, 6500)])), 2000);
        assert_eq!(ranges(&sb), [(1000, 7000)]);
        // A block covering everything and more.
        assert_eq!(sb.update(seq(0), seq(10_000), &blocks(&[(500, 8000)])), 1500);
        assert_eq!(ranges(&sb), [(500, 8000)]);
        // The same blocks again add nothing.
        assert_eq!(sb.update(seq(0), seq(10_000), &blocks(&[(500, 8000), (600, 700)])), 0);
        assert_eq!(sb.sacked_bytes(), 7500);
        assert!(is_sacked(&sb, seq(500)) && is_sacked(&sb, seq(7999)));
        assert!(!is_sacked(&sb, seq(499)) && !is_sacked(&sb, seq(8000)));
    }

    #[test]
    fn dsack_blocks_are_recognised_and_change_nothing() {
        let mut sb = Scoreboard::new();
        sb.update(seq(1000), seq(9000), &blocks(&[(3000, 6000)]));
        // RFC 2883 §4: a first block inside the second reports a duplicate.
        let d = blocks(&[(4000, 4500), (3000, 6000)]);
        assert_eq!(dsack(seq(1000), &d), Some((seq(4000), seq(4500))));
        assert_eq!(sb.update(seq(1000), seq(9000), &d), 0);
        // A first block at or below the cumulative ACK.
        let d = blocks(&[(500, 1000), (3000, 6000)]);
        assert_eq!(dsack(seq(1000), &d), Some((seq(500), seq(1000))));
        assert_eq!(sb.update(seq(1000), seq(9000), &d), 0);
        assert_eq!(ranges(&sb), [(3000, 6000)]);
        // Ordinary blocks are not D-SACKs.
        assert_eq!(dsack(seq(1000), &blocks(&[(7000, 8000), (3000, 6000)])), None);
        assert_eq!(dsack(seq(1000), &blocks(&[(3000, 6000)])), None);
        assert_eq!(dsack(seq(1000), &SackBlocks::EMPTY), None);
    }

    #[test]
    fn the_cumulative_ack_trims_and_drops_ranges() {
        let mut sb = Scoreboard::new();
        sb.update(seq(0), seq(10_000), &blocks(&[(1000, 2000), (3000, 4000), (5000, 6000)]));
        sb.on_ack(seq(1500));
        assert_eq!(ranges(&sb), [(1500, 2000), (3000, 4000), (5000, 6000)]);
        sb.on_ack(seq(4000));
        assert_eq!(ranges(&sb), [(5000, 6000)]);
        sb.on_ack(seq(7000));
        assert!(ranges(&sb).is_empty());
        sb.update(seq(7000), seq(10_000), &blocks(&[(8000, 9000)]));
        assert_eq!(sb.sacked_bytes(), 1000);
        sb.on_ack(seq(9000));
        assert!(ranges(&sb).is_empty() && sb.sacked_bytes() == 0);
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_highest_range() {
        let mut sb = Scoreboard::new();
        // Every other 100 bytes SACKed: MAX_RANGES ranges.
        for i in 0..MAX_RANGES as u32 {
            let l = 1000 + 200 * i;
            assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(l, l + 100)])), 100);
        }
        assert_eq!(sb.ranges().count(), MAX_RANGES);
        let top = highest_sacked(&sb);
        // One range more above all: it is the one forgotten.
        assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(500_000, 500_100)])), 0);
        assert_eq!(highest_sacked(&sb), top);
        // One range more in between: the highest range makes room for it.
        assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(100, 200)])), 100);
        assert_eq!(sb.ranges().count(), MAX_RANGES);
        assert_eq!(sb.ranges().next(), Some((seq(100), seq(200))));
        assert_eq!(highest_sacked(&sb), top.map(|t| t - 200));
        // Blocks that merge still work when full.
        assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(1100, 1200)])), 100);
        assert_eq!(sb.ranges().count(), MAX_RANGES - 1);
        // The running total follows the forgotten and merged ranges.
        let total: usize = sb.ranges().map(|(l, r)| len(l, r)).sum();
        assert_eq!(sb.sacked_bytes(), total);
        assert_eq!(total, 100 * (MAX_RANGES - 1) + 100 + 100);
        assert!(is_sacked(&sb, seq(1150)));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let una = u32::MAX - 2999;
        let nxt = una.wrapping_add(10_000);
        let mut sb = Scoreboard::new();
        let l = una.wrapping_add(2000);
        let b =
            blocks(&[(l, l.wrapping_add(3000)), (una.wrapping_add(6000), una.wrapping_add(7000))]);
        assert_eq!(sb.update(seq(una), seq(nxt), &b), 4000);
        assert!(
            is_sacked(&sb, seq(u32::MAX)) && is_sacked(&sb, seq(0)) && is_sacked(&sb, seq(1999))
        );
        assert!(!is_sacked(&sb, seq(2000)));
        sb.on_ack(seq(una.wrapping_add(4000)));
        assert_eq!(ranges(&sb), [(una.wrapping_add(4000), 2000), (3000, 4000)]);
    }

    // The reference model: one flag per byte of the window [una, nxt).

    #[derive(Clone, Debug)]
    enum Op {
        /// SACK blocks as (offset of the left edge from SND.UNA, length); may be outside.
        Sack(Vec<(i64, i64)>),
        /// SND.UNA moves forward by this many bytes (at most to SND.NXT).
        Ack(usize),
        /// SND.NXT moves forward: new data sent.
        Send(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => prop::collection::vec((-300i64..3300, 0i64..900), 1..=4).prop_map(Op::Sack),
            1 => (0usize..1500).prop_map(Op::Ack),
            1 => (0usize..1500).prop_map(Op::Send),
        ]
    }

    struct Model {
        una: u32,
        sacked: Vec<bool>,
    }

    impl Model {
        fn nxt(&self) -> u32 {
            self.una.wrapping_add(self.sacked.len() as u32)
        }

        /// The same acceptance rule, on the integer line of offsets.
        fn sack(&mut self, left: i64, right: i64) -> usize {
            let w = self.sacked.len() as i64;
            if !(left < right && right > 0 && right <= w) {
                return 0;
            }
            let mut newly = 0;
            for o in left.max(0)..right {
                let b = &mut self.sacked[o as usize];
                newly += usize::from(!*b);
                *b = true;
            }
            newly
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_byte_map(
            una in any::<u32>(),
            window in 0usize..3000,
            ops in prop::collection::vec(op(), 1..12),
        ) {
            let mut sb = Scoreboard::new();
            let mut model = Model { una, sacked: vec![false; window] };
            for op in ops {
                match op {
                    Op::Sack(list) => {
                        let mut b = SackBlocks::EMPTY;
                        let mut expected = 0;
                        for (off, len) in list {
                            let l = una_plus(model.una, off);
                            let r = una_plus(model.una, off + len);
                            b.push((l, r));
                            expected += model.sack(off, off + len);
                        }
                        let newly = sb.update(seq(model.una), seq(model.nxt()), &b);
                        prop_assert_eq!(newly, expected);
                    }
                    Op::Ack(n) => {
                        let n = n.min(model.sacked.len());
                        model.sacked.drain(..n);
                        model.una = model.una.wrapping_add(n as u32);
                        sb.on_ack(seq(model.una));
                    }
                    Op::Send(n) => model.sacked.extend(std::iter::repeat_n(false, n)),
                }
                prop_assert!(sb.ranges().count() <= MAX_RANGES);

                let (una, nxt, w) = (seq(model.una), seq(model.nxt()), model.sacked.len());
                prop_assert_eq!(sb.sacked_bytes(), model.sacked.iter().filter(|&&b| b).count());
                for o in 0..w {
                    prop_assert_eq!(is_sacked(&sb, una + o), model.sacked[o], "offset {}", o);
                }
                prop_assert!(!is_sacked(&sb, una - 1) && !is_sacked(&sb, nxt));
                let top = (0..w).rev().find(|&o| model.sacked[o]).map(|o| una + (o + 1));
                prop_assert_eq!(highest_sacked(&sb), top);
            }
        }
    }

    fn una_plus(una: u32, off: i64) -> SeqNumber {
        SeqNumber((i64::from(una) + off).rem_euclid(1 << 32) as u32)
    }
}
