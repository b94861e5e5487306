//! Out-of-order reassembly: which byte ranges beyond `rcv_nxt` we hold, and the SACK blocks
//! that report them (RFC 2018 §4).
//!
//! The [`Assembler`] keeps only bookkeeping; the bytes themselves sit in the receive
//! [`RingBuffer`](super::buffer::RingBuffer) beyond its readable data. Offsets count from
//! `rcv_nxt`: offset 0 is the next byte expected in order. For one arriving segment, already
//! trimmed to the receive window, whose payload starts `offset` bytes past `rcv_nxt`:
//!
//! ```text
//! match assembler.add(offset, payload.len()) {
//!     Ok(ready) => {
//!         rx.write_at(rx.len() + offset, payload);
//!         rx.commit(ready);           // now readable
//!         assembler.advance(ready);   // rcv_nxt += ready
//!     }
//!     Err(TooManyHoles) => {}         // drop the segment; the ACK still goes out
//! }
//! ```
//!
//! Memory is bounded: at most `max_ranges` ranges are held past a gap, and a segment that
//! would open one more is refused. Each range remembers when a segment last landed in it, so
//! [`Assembler::sack_blocks`] lists them most recent first, as RFC 2018 §4 asks.

use crate::wire::tcp::{SackBlocks, SeqNumber};
use core::fmt;

/// Offsets from `rcv_nxt` past which a range cannot be named in sequence space: a right edge
/// 2^31 or more ahead is not ordered after `rcv_nxt` (RFC 1982), and no window is that large.
const MAX_SACK_OFFSET: usize = (1 << 31) - 1;

/// A segment was refused: keeping it would leave more than `max_ranges` separate ranges of
/// out-of-order data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyHoles;

impl fmt::Display for TooManyHoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many holes in the reassembly queue")
    }
}

impl std::error::Error for TooManyHoles {}

/// The out-of-order byte ranges held beyond `rcv_nxt`, as offsets from `rcv_nxt`.
#[derive(Clone, Debug)]
pub struct Assembler {
    /// The end of the bytes held from offset 0 while `ranges` is empty: in-order data, which
    /// the caller is about to `advance` past, kept without touching the list (0: none).
    front: usize,
    /// Sorted by `start`, disjoint and never adjacent (touching ranges are merged). Only the
    /// first may start at offset 0, and only until the caller calls `advance`. Allocated
    /// only when data arrives out of order.
    ranges: Vec<Held>,
    /// Most ranges allowed past offset 0.
    max_ranges: usize,
    /// Stamp of the latest accepted segment; stamps grow with every `add`.
    clock: u64,
}

/// One range of held bytes, `[start, end)`.
#[derive(Clone, Copy, Debug)]
struct Held {
    start: usize,
    end: usize,
    /// When a segment last landed in this range (a value of `Assembler::clock`).
    stamp: u64,
}

impl Assembler {
    /// Bytes of storage its list of ranges holds.
    pub fn allocated(&self) -> usize {
        self.ranges.capacity() * size_of::<Held>()
    }

    /// An empty assembler that holds at most `max_ranges` separate ranges beyond a gap.
    /// Allocates nothing.
    pub fn new(max_ranges: usize) -> Self {
        Self { front: 0, ranges: Vec::new(), max_ranges, clock: 0 }
    }

    /// Records `[offset, offset + len)` as received, merging it with the ranges it overlaps
    /// or touches, and returns how many bytes are now contiguous from offset 0: the caller
    /// makes them readable and then calls [`advance`](Self::advance) with that count.
    ///
    /// A range that would leave more than `max_ranges` ranges past a gap is refused and
    /// nothing changes. An empty range (`len == 0`, or an offset at the end of `usize`)
    /// changes nothing either. Ranges that run past `usize::MAX` are cut there.
    pub fn add(&mut self, offset: usize, len: usize) -> Result<usize, TooManyHoles> {
        let (start, end) = (offset, offset.saturating_add(len));
        if end <= start {
            return Ok(self.contiguous());
        }
        if self.ranges.is_empty() && start <= self.front {
            // In order, with nothing held past a gap: the common case, and no list.
            self.clock = self.clock.wrapping_add(1);
            self.front = self.front.max(end);
            return Ok(self.front);
        }
        if self.front > 0 {
            // Out-of-order data arrived before the caller advanced: the in-order bytes
            // join the list as its first range.
            self.ranges.push(Held { start: 0, end: self.front, stamp: self.clock });
            self.front = 0;
        }
        // ranges[i..j] overlap or touch [start, end); j >= i because the ranges are sorted.
        let i = self.ranges.partition_point(|r| r.end < start);
        let j = self.ranges.partition_point(|r| r.start <= end);
        let (start, end) = if i < j {
            (start.min(self.ranges[i].start), end.max(self.ranges[j - 1].end))
        } else {
            (start, end)
        };
        let count = self.ranges.len() - (j - i) + 1;
        let first_start = match self.ranges.first() {
            Some(first) if i > 0 => first.start,
            _ => start,
        };
        if count - usize::from(first_start == 0) > self.max_ranges {
            return Err(TooManyHoles);
        }
        self.clock = self.clock.wrapping_add(1);
        let held = Held { start, end, stamp: self.clock };
        if i == j {
            self.ranges.insert(i, held);
        } else {
            self.ranges[i] = held;
            self.ranges.drain(i + 1..j);
        }
        Ok(self.contiguous())
    }

    /// `rcv_nxt` moved forward by `n`: forgets the bytes below `n` and shifts every range
    /// down by `n`.
    pub fn advance(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.front = self.front.saturating_sub(n);
        let gone = self.ranges.partition_point(|r| r.end <= n);
        self.ranges.drain(..gone);
        for range in &mut self.ranges {
            range.start = range.start.saturating_sub(n);
            range.end -= n;
        }
    }

    /// Whether no byte is held.
    pub fn is_empty(&self) -> bool {
        self.front == 0 && self.ranges.is_empty()
    }

    /// The held ranges as `(start, end)` offsets, half-open, in increasing order.
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let front = (self.front > 0).then_some((0, self.front));
        front.into_iter().chain(self.ranges.iter().map(|r| (r.start, r.end)))
    }

    /// Bytes held contiguously from offset 0 (0 unless the caller has yet to `advance`).
    pub fn contiguous(&self) -> usize {
        self.ranges.first().filter(|r| r.start == 0).map_or(self.front, |r| r.end)
    }

    /// Up to `max` ranges past a gap, as `(start, end)` offsets, the most recently received
    /// first: the order of the SACK blocks we send (RFC 2018 §4). A duplicate segment counts
    /// as received again.
    pub fn recent_ranges(&self, max: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        // Stamps are distinct, so "the newest range older than the last one given" walks
        // them in order; at most a handful are asked for, among at most `max_ranges`.
        let mut newer_than_this = None;
        core::iter::from_fn(move || {
            let next = self
                .ranges
                .iter()
                .filter(|r| r.start > 0 && newer_than_this.is_none_or(|s| r.stamp < s))
                .max_by_key(|r| r.stamp)?;
            newer_than_this = Some(next.stamp);
            Some((next.start, next.end))
        })
        .take(max)
    }

    /// The SACK blocks to send with an ACK of `rcv_nxt`, at most `max` (and at most four):
    /// the range holding the segment that triggered the ACK first, then the others, most
    /// recently received first (RFC 2018 §4). Empty when nothing is held past a gap.
    pub fn sack_blocks(&self, rcv_nxt: SeqNumber, max: usize) -> SackBlocks {
        self.recent_ranges(usize::MAX)
            .filter(|&(_, end)| end <= MAX_SACK_OFFSET)
            .take(max.min(SackBlocks::CAPACITY))
            .map(|(start, end)| (rcv_nxt + start, rcv_nxt + end))
            .collect()
    }

    /// Frees the range list's storage if nothing is held.
    pub fn shrink_when_empty(&mut self) {
        if self.ranges.is_empty() {
            self.ranges = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn held(asm: &Assembler) -> Vec<(usize, usize)> {
        asm.ranges().collect()
    }

    fn recent(asm: &Assembler, max: usize) -> Vec<(usize, usize)> {
        asm.recent_ranges(max).collect()
    }

    #[test]
    fn in_order_data_needs_no_list_and_a_filled_hole_gives_it_back() {
        let mut asm = Assembler::new(4);
        for _ in 0..3 {
            assert_eq!(asm.add(0, 1448), Ok(1448));
            asm.advance(1448);
        }
        assert_eq!(asm.ranges.capacity(), 0, "in-order data allocated a list");
        // In-order bytes not yet advanced past, then a segment beyond a gap.
        assert_eq!(asm.add(0, 100), Ok(100));
        assert_eq!(asm.add(200, 100), Ok(100));
        assert_eq!(held(&asm), [(0, 100), (200, 300)]);
        asm.advance(100);
        assert_eq!(asm.add(0, 100), Ok(200));
        asm.advance(200);
        assert!(asm.is_empty());
        asm.shrink_when_empty();
        assert_eq!(asm.ranges.capacity(), 0);
    }

    #[test]
    fn in_order_data_is_ready_at_once() {
        let mut asm = Assembler::new(4);
        assert_eq!(asm.add(0, 1448), Ok(1448));
        assert_eq!(held(&asm), [(0, 1448)]);
        assert_eq!(recent(&asm, 4), [], "a range at offset 0 is not a SACK block");
        asm.advance(1448);
        assert!(asm.is_empty());
        assert_eq!(asm.contiguous(), 0);
    }

    #[test]
    fn fills_a_hole() {
        let mut asm = Assembler::new(4);
        assert_eq!(asm.add(100, 100), Ok(0));
        assert_eq!(asm.add(300, 100), Ok(0));
        assert_eq!(held(&asm), [(100, 200), (300, 400)]);
        assert_eq!(asm.add(0, 100), Ok(200));
        assert_eq!(held(&asm), [(0, 200), (300, 400)]);
        asm.advance(200);
        assert_eq!(held(&asm), [(100, 200)]);
        assert_eq!(asm.add(0, 100), Ok(200));
        asm.advance(200);
        assert!(asm.is_empty());
    }

    #[test]
    fn merges_overlaps_and_adjacent_ranges() {
        let mut asm = Assembler::new(8);
        asm.add(10, 10).unwrap();
        asm.add(30, 10).unwrap();
        asm.add(50, 10).unwrap();
        // Adjacent on the left.
        asm.add(20, 5).unwrap();
        assert_eq!(held(&asm), [(10, 25), (30, 40), (50, 60)]);
        // Partial overlap spanning two ranges.
        asm.add(24, 8).unwrap();
        assert_eq!(held(&asm), [(10, 40), (50, 60)]);
        // Full overlap: a duplicate inside a range.
        asm.add(12, 3).unwrap();
        assert_eq!(held(&asm), [(10, 40), (50, 60)]);
        // One range covering everything.
        asm.add(5, 100).unwrap();
        assert_eq!(held(&asm), [(5, 105)]);
        // Adjacent on the right.
        asm.add(105, 1).unwrap();
        assert_eq!(held(&asm), [(5, 106)]);
    }

    #[test]
    fn zero_length_and_extreme_offsets_never_panic() {
        let mut asm = Assembler::new(2);
        assert_eq!(asm.add(0, 0), Ok(0));
        assert_eq!(asm.add(50, 0), Ok(0));
        assert_eq!(asm.add(usize::MAX, 10), Ok(0));
        assert!(asm.is_empty());
        assert_eq!(asm.add(usize::MAX - 5, usize::MAX), Ok(0));
        assert_eq!(held(&asm), [(usize::MAX - 5, usize::MAX)]);
        assert_eq!(asm.add(usize::MAX - 10, 5), Ok(0));
        assert_eq!(held(&asm), [(usize::MAX - 10, usize::MAX)]);
        asm.advance(usize::MAX);
        assert!(asm.is_empty());
        assert_eq!(asm.add(0, usize::MAX), Ok(usize::MAX));
        asm.advance(0);
        assert_eq!(held(&asm), [(0, usize::MAX)]);
    }

    #[test]
    fn refuses_the_hole_too_many_and_changes_nothing() {
        let mut asm = Assembler::new(2);
        asm.add(10, 10).unwrap();
        asm.add(30, 10).unwrap();
        let before = (held(&asm), recent(&asm, 4));
        assert_eq!(asm.add(50, 10), Err(TooManyHoles));
        assert_eq!(asm.add(24, 2), Err(TooManyHoles));
        assert_eq!((held(&asm), recent(&asm, 4)), before);
        // In-order data is not past a gap: always accepted.
        assert_eq!(asm.add(0, 5), Ok(5));
        // Growing or joining existing ranges is always allowed.
        assert_eq!(asm.add(40, 5), Ok(5));
        assert_eq!(asm.add(5, 5), Ok(20));
        // Now [0, 20) is ready and does not count; a second range past a gap fits.
        assert_eq!(asm.add(60, 1), Ok(20));
        assert_eq!(held(&asm), [(0, 20), (30, 45), (60, 61)]);
    }

    #[test]
    fn zero_max_ranges_keeps_only_in_order_data() {
        let mut asm = Assembler::new(0);
        assert_eq!(asm.add(1, 1), Err(TooManyHoles));
        assert_eq!(asm.add(0, 1), Ok(1));
        assert_eq!(asm.add(1, 1), Ok(2));
        asm.advance(2);
        assert!(asm.is_empty());
    }

    #[test]
    fn advance_clips_a_range_it_cuts() {
        let mut asm = Assembler::new(4);
        asm.add(10, 10).unwrap();
        asm.add(30, 10).unwrap();
        asm.advance(15);
        assert_eq!(held(&asm), [(0, 5), (15, 25)]);
        assert_eq!(asm.contiguous(), 5);
        asm.advance(100);
        assert!(asm.is_empty());
    }

    #[test]
    fn recent_ranges_follow_rfc_2018_order() {
        let mut asm = Assembler::new(8);
        for offset in [100, 300, 500, 700, 900] {
            asm.add(offset, 50).unwrap();
        }
        assert_eq!(recent(&asm, 4), [(900, 950), (700, 750), (500, 550), (300, 350)]);
        assert_eq!(recent(&asm, 3), [(900, 950), (700, 750), (500, 550)]);
        assert_eq!(recent(&asm, 0), []);
        // The block holding the segment that triggers the ACK comes first, even a duplicate.
        asm.add(110, 10).unwrap();
        assert_eq!(recent(&asm, 3), [(100, 150), (900, 950), (700, 750)]);
        // Merging two ranges makes one, newest.
        asm.add(550, 150).unwrap();
        assert_eq!(recent(&asm, 5), [(500, 750), (100, 150), (900, 950), (300, 350)]);
        // A segment that advances rcv_nxt takes its range out of the blocks.
        assert_eq!(asm.add(0, 100), Ok(150));
        asm.advance(150);
        assert_eq!(recent(&asm, 4), [(350, 600), (750, 800), (150, 200)]);
    }

    #[test]
    fn sack_blocks_in_sequence_space_across_the_wrap() {
        let rcv_nxt = SeqNumber(u32::MAX - 99);
        let mut asm = Assembler::new(8);
        assert!(asm.sack_blocks(rcv_nxt, 4).is_empty());
        asm.add(50, 100).unwrap();
        asm.add(300, 10).unwrap();
        asm.add(500, 10).unwrap();
        asm.add(700, 10).unwrap();
        asm.add(900, 10).unwrap();
        let blocks = asm.sack_blocks(rcv_nxt, 3);
        assert_eq!(
            blocks.as_slice(),
            [
                (SeqNumber(800), SeqNumber(810)),
                (SeqNumber(600), SeqNumber(610)),
                (SeqNumber(400), SeqNumber(410)),
            ]
        );
        // Never more than the option holds.
        assert_eq!(asm.sack_blocks(rcv_nxt, 10).len(), 4);
        assert_eq!(asm.sack_blocks(rcv_nxt, 0).len(), 0);
        // The block that straddles the wrap, once it is the newest.
        asm.add(60, 1).unwrap();
        let first = asm.sack_blocks(rcv_nxt, 1).iter().next();
        assert_eq!(first, Some((SeqNumber(u32::MAX - 49), SeqNumber(50))));
    }

    #[test]
    fn sack_blocks_skip_ranges_beyond_sequence_space() {
        let mut asm = Assembler::new(8);
        asm.add(10, 10).unwrap();
        asm.add(MAX_SACK_OFFSET - 10, 10).unwrap();
        asm.add(MAX_SACK_OFFSET + 1, 10).unwrap();
        asm.add(usize::MAX - 10, 10).unwrap();
        let blocks = asm.sack_blocks(SeqNumber(0), 4);
        let want = [(MAX_SACK_OFFSET - 10, MAX_SACK_OFFSET), (10, 20)];
        let want = want.map(|(s, e)| (SeqNumber(s as u32), SeqNumber(e as u32)));
        assert_eq!(blocks.as_slice(), want);
    }

    #[test]
    fn shrink_frees_only_an_empty_list() {
        let mut asm = Assembler::new(4);
        asm.add(10, 1).unwrap();
        asm.shrink_when_empty();
        assert_eq!(held(&asm), [(10, 11)]);
        asm.add(0, 10).unwrap();
        asm.advance(11);
        asm.shrink_when_empty();
        assert_eq!(asm.ranges.capacity(), 0);
    }

    /// The reference: every received byte's absolute offset in a set, `base` = bytes
    /// advanced past, and every accepted segment in arrival order.
    struct Model {
        max: usize,
        base: usize,
        bytes: BTreeSet<usize>,
        segments: Vec<(usize, usize)>,
    }

    impl Model {
        /// Maximal runs of received bytes at or past `base`, absolute, half-open.
        fn runs(bytes: &BTreeSet<usize>, base: usize) -> Vec<(usize, usize)> {
            let mut runs: Vec<(usize, usize)> = Vec::new();
            for &b in bytes.range(base..) {
                match runs.last_mut() {
                    Some(run) if run.1 == b => run.1 += 1,
                    _ => runs.push((b, b + 1)),
                }
            }
            runs
        }

        fn relative(&self) -> Vec<(usize, usize)> {
            Self::runs(&self.bytes, self.base)
                .into_iter()
                .map(|(s, e)| (s - self.base, e - self.base))
                .collect()
        }

        fn contiguous(&self) -> usize {
            match self.relative().first() {
                Some(&(0, end)) => end,
                _ => 0,
            }
        }

        fn add(&mut self, offset: usize, len: usize) -> Result<usize, TooManyHoles> {
            let (start, end) = (self.base + offset, self.base + offset + len);
            let mut bytes = self.bytes.clone();
            bytes.extend(start..end);
            let runs = Self::runs(&bytes, self.base);
            let holes = runs.iter().filter(|r| r.0 > self.base).count();
            if holes > self.max {
                return Err(TooManyHoles);
            }
            if len > 0 {
                self.bytes = bytes;
                self.segments.push((start, end));
            }
            Ok(self.contiguous())
        }

        /// RFC 2018 §4 read literally: the run holding the newest segment, then the runs
        /// holding older segments, each reported once, never a run starting at `base`.
        fn recent(&self, max: usize) -> Vec<(usize, usize)> {
            let runs = Self::runs(&self.bytes, self.base);
            let mut out = Vec::new();
            for &(start, end) in self.segments.iter().rev() {
                let first = start.max(self.base);
                if first >= end {
                    continue;
                }
                let run = runs.iter().find(|r| r.0 <= first && first < r.1).copied();
                let run = run.map(|(s, e)| (s - self.base, e - self.base));
                if let Some(run) = run.filter(|r| r.0 > 0 && !out.contains(r)) {
                    out.push(run);
                }
            }
            out.truncate(max);
            out
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A segment arrives, and the caller advances over what became contiguous.
        Segment(usize, usize),
        /// Like `Segment`, but the caller does not advance (yet).
        AddOnly(usize, usize),
        Advance(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0usize..300, 0usize..40).prop_map(|(o, n)| Op::Segment(o, n)),
            1 => (0usize..300, 0usize..40).prop_map(|(o, n)| Op::AddOnly(o, n)),
            1 => (0usize..60).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_set_of_received_offsets(
            max in 0usize..6,
            isn in any::<u32>(),
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            let mut asm = Assembler::new(max);
            let mut model = Model { max, base: 0, bytes: BTreeSet::new(), segments: Vec::new() };
            for op in ops {
                match op {
                    Op::Segment(o, n) | Op::AddOnly(o, n) => {
                        let before = (held(&asm), recent(&asm, 8));
                        let got = asm.add(o, n);
                        prop_assert_eq!(got, model.add(o, n));
                        if got.is_err() {
                            prop_assert_eq!((held(&asm), recent(&asm, 8)), before);
                        }
                        if let (Op::Segment(..), Ok(ready)) = (&op, got) {
                            asm.advance(ready);
                            model.base += ready;
                        }
                    }
                    Op::Advance(n) => {
                        asm.advance(n);
                        model.base += n;
                    }
                }
                prop_assert_eq!(held(&asm), model.relative());
                prop_assert_eq!(asm.contiguous(), model.contiguous());
                prop_assert_eq!(asm.is_empty(), model.relative().is_empty());
                prop_assert!(held(&asm).iter().filter(|r| r.0 > 0).count() <= max);
                for k in [1, 3, 4] {
                    prop_assert_eq!(recent(&asm, k), model.recent(k));
                }
                let rcv_nxt = SeqNumber(isn) + model.base;
                let blocks: Vec<_> = asm.sack_blocks(rcv_nxt, 3).iter().collect();
                let want: Vec<_> =
                    model.recent(3).iter().map(|&(s, e)| (rcv_nxt + s, rcv_nxt + e)).collect();
                prop_assert_eq!(blocks, want);
            }
        }
    }
}
