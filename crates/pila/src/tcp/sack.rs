//! The SACK scoreboard: what the peer holds beyond `SND.UNA` (RFC 2018, RFC 6675).
//!
//! The sender records every SACK block the peer reports ([`Scoreboard::update`]) and asks the
//! scoreboard the questions of RFC 6675 §4: is a byte lost (`IsLost`), how much data is in
//! the network (`SetPipe`), and what to send next during loss recovery (`NextSeg`).
//!
//! Positions follow the convention of SACK blocks and `SND.NXT`: a range is `[left, right)`,
//! and `high_rxt` and `rescue_rxt` are one past the last byte retransmitted (RFC 6675's
//! `HighRxt + 1` and `RescueRxt + 1`). So at the start of recovery `high_rxt = SND.UNA`, after
//! retransmitting a segment `[s, e)` it becomes `e`, and `RescueRxt = RecoveryPoint` becomes
//! the `SND.NXT` recovery started at.
//!
//! Memory is bounded: at most [`MAX_RANGES`] disjoint ranges are kept, allocated only when
//! the first block arrives. When a new disjoint range does not fit, the highest range is
//! forgotten. Forgetting SACK information is always safe (un-SACKed data is treated as
//! outstanding: at worst it is counted in `pipe` or retransmitted needlessly), whereas
//! inventing SACKed bytes could keep a real loss from being repaired.

use crate::wire::tcp::{SackBlock, SackBlocks, SeqNumber};

/// The most disjoint SACKed ranges a scoreboard keeps.
pub(crate) const MAX_RANGES: usize = 512;

/// RFC 6675 §2 `DupThresh`: SACKed segments above a hole that make it lost.
const DUP_THRESH: usize = 3;

/// The SACKed ranges beyond `SND.UNA`, sorted, disjoint and not touching.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scoreboard {
    ranges: Vec<SackBlock>,
}

/// What `NextSeg()` chose to send (RFC 6675 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NextSeg {
    /// The first sequence number to send.
    pub(crate) seq: SeqNumber,
    /// How many bytes, at most one SMSS (never across SACKed data).
    pub(crate) len: usize,
    /// Old data (rules 1, 3 and 4) rather than new data (rule 2).
    pub(crate) retransmit: bool,
    /// The rescue retransmission of rule 4: the caller sets `rescue_rxt` to the recovery
    /// point and leaves `high_rxt` alone.
    pub(crate) rescue: bool,
}

impl Scoreboard {
    /// An empty scoreboard; allocates nothing.
    pub(crate) fn new() -> Self {
        Self::default()
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
        self.on_ack(snd_una);
        let mut newly = 0;
        for (left, right) in blocks {
            // RFC 2018 §3 edges: [left, right) must be a real range within (SND.UNA, SND.NXT].
            if !(left < right && right > snd_una && right <= snd_nxt) {
                continue;
            }
            newly += self.insert(left.max(snd_una), right);
        }
        newly
    }

    /// The cumulative ACK moved to `snd_una`: forgets the ranges it covers.
    pub(crate) fn on_ack(&mut self, snd_una: SeqNumber) {
        let covered = self.ranges.iter().take_while(|&&(_, right)| right <= snd_una).count();
        self.ranges.drain(..covered);
        if let Some(first) = self.ranges.first_mut() {
            first.0 = first.0.max(snd_una);
        }
    }

    /// Forgets every range, as after an RTO: the receiver may have reneged, so SACK
    /// information cannot be trusted for retransmission (RFC 2018 §8, RFC 6675 §5.1).
    pub(crate) fn clear(&mut self) {
        self.ranges = Vec::new();
    }

    /// Whether no byte is SACKed.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The SACKed ranges, lowest first.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = SackBlock> + '_ {
        self.ranges.iter().copied()
    }

    /// Whether byte `seq` is SACKed.
    pub(crate) fn is_sacked(&self, seq: SeqNumber) -> bool {
        let i = self.ranges.partition_point(|&(_, right)| right <= seq);
        self.ranges.get(i).is_some_and(|&(left, _)| left <= seq)
    }

    /// The number of bytes SACKed.
    pub(crate) fn sacked_bytes(&self) -> usize {
        self.ranges.iter().map(|&(left, right)| len(left, right)).sum()
    }

    /// One past the highest SACKed byte (the right edge of the highest range), if any.
    pub(crate) fn highest_sacked(&self) -> Option<SeqNumber> {
        self.ranges.last().map(|&(_, right)| right)
    }

    /// RFC 6675 §4 `IsLost(seq)`: whether `DupThresh` SACKed segments lie above `seq`, or
    /// more than `(DupThresh − 1) · SMSS` SACKed bytes.
    ///
    /// Segment boundaries are not kept, so the segments of a range are counted as
    /// `⌈bytes / SMSS⌉`, the fewest it can hold: the count never exceeds the truth, and a
    /// byte is never declared lost early.
    pub(crate) fn is_lost(&self, seq: SeqNumber, smss: usize) -> bool {
        let smss = smss.max(1);
        let mut above = Above::default();
        for &(left, right) in self.ranges.iter().rev() {
            if right <= seq + 1 {
                break;
            }
            // Only the bytes with sequence numbers greater than `seq` count.
            above.add(len(left.max(seq + 1), right), smss);
        }
        above.lost(smss)
    }

    /// RFC 6675 §4 `SetPipe()`: the bytes estimated in the network.
    ///
    /// Every byte in `[snd_una, snd_nxt)` that is not SACKed counts once if it is not lost
    /// (the original may still arrive) and once more if it was retransmitted (below
    /// `high_rxt`).
    pub(crate) fn pipe(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        high_rxt: SeqNumber,
        smss: usize,
    ) -> usize {
        let smss = smss.max(1);
        let mut pipe = 0;
        for ((start, end), lost) in self.holes(snd_una, snd_nxt, smss) {
            if !lost {
                pipe += len(start, end);
            }
            if high_rxt > start {
                pipe += len(start, high_rxt.min(end));
            }
        }
        pipe
    }

    /// RFC 6675 §4 `NextSeg()`: what to send next during loss recovery, or `None`.
    ///
    /// `new_data` is how many bytes of new data beyond `snd_nxt` the application has queued
    /// and the peer's window allows; `rescue_rxt` is `None` until a rescue retransmission
    /// was sent in this recovery (§5 step 4.3 sets it with the first retransmission).
    ///
    /// 1. the first un-SACKed byte at or above `high_rxt` and below the highest SACKed byte
    ///    that `IsLost`: one segment of it;
    /// 2. otherwise new data;
    /// 3. otherwise the first un-SACKed byte at or above `high_rxt` below the highest SACKed
    ///    byte, lost or not;
    /// 4. otherwise, once per recovery (when `snd_una` has passed `rescue_rxt`), a rescue
    ///    retransmission of the segment ending at the highest un-SACKed byte.
    pub(crate) fn next_seg(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        high_rxt: SeqNumber,
        smss: usize,
        new_data: usize,
        rescue_rxt: Option<SeqNumber>,
    ) -> Option<NextSeg> {
        let smss = smss.max(1);
        let high_rxt = high_rxt.max(snd_una);
        // One segment of old data starting at `start`, within the hole ending at `end`.
        let retransmit = |start: SeqNumber, end: SeqNumber, rescue| NextSeg {
            seq: start,
            len: len(start, end).min(smss),
            retransmit: true,
            rescue,
        };
        // The part of a hole not yet retransmitted: at or above high_rxt.
        let fresh = |(start, end): SackBlock| {
            let start = start.max(high_rxt);
            (start < end).then_some((start, end))
        };
        // Rules 1 and 3 look below the highest SACKed byte only.
        let top = self.highest_sacked().map_or(snd_una, |top| top.min(snd_nxt));

        // Rule 1.
        let mut lost = self.holes(snd_una, top, smss).filter(|&(_, lost)| lost);
        if let Some((start, end)) = lost.find_map(|(hole, _)| fresh(hole)) {
            return Some(retransmit(start, end, false));
        }
        // Rule 2.
        if new_data > 0 {
            let len = new_data.min(smss);
            return Some(NextSeg { seq: snd_nxt, len, retransmit: false, rescue: false });
        }
        // Rule 3.
        if let Some((start, end)) = self.holes(snd_una, top, smss).find_map(|(h, _)| fresh(h)) {
            return Some(retransmit(start, end, false));
        }
        // Rule 4: once per recovery, when HighACK > RescueRxt: the last segment's worth of
        // the highest hole.
        if rescue_rxt.is_some_and(|rescue_rxt| snd_una <= rescue_rxt) {
            return None;
        }
        let ((start, end), _) = self.holes(snd_una, snd_nxt, smss).last()?;
        let start = end - len(start, end).min(smss);
        Some(retransmit(start, end, true))
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
                self.ranges.pop();
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

    /// The un-SACKed holes of `[from, to)`, lowest first, each with whether `IsLost` holds
    /// for its bytes (it is the same for every byte of a hole, since the SACKed bytes above
    /// them are the same).
    fn holes(
        &self,
        from: SeqNumber,
        to: SeqNumber,
        smss: usize,
    ) -> impl Iterator<Item = (SackBlock, bool)> + '_ {
        // Everything SACKed at or above `from` is above the first hole.
        let mut above = Above::default();
        for &(left, right) in &self.ranges {
            if right > from {
                above.add(len(left.max(from), right), smss);
            }
        }
        let mut ranges = self.ranges.iter().filter_map(move |&(left, right)| {
            let (left, right) = (left.max(from), right.min(to));
            (left < right).then_some((left, right))
        });
        let mut start = Some(from).filter(|&from| from < to);
        core::iter::from_fn(move || {
            loop {
                let hole_start = start?;
                let lost = above.lost(smss);
                match ranges.next() {
                    Some((left, right)) => {
                        above.remove(len(left, right), smss);
                        start = Some(right);
                        if hole_start < left {
                            return Some(((hole_start, left), lost));
                        }
                    }
                    None => {
                        start = None;
                        return (hole_start < to).then_some(((hole_start, to), lost));
                    }
                }
            }
        })
    }
}

/// The SACKed data above some byte, as `IsLost` counts it.
#[derive(Default)]
struct Above {
    bytes: usize,
    /// The fewest segments those bytes can be: `⌈bytes / SMSS⌉` per range.
    segments: usize,
}

impl Above {
    fn add(&mut self, bytes: usize, smss: usize) {
        self.bytes += bytes;
        self.segments += bytes.div_ceil(smss);
    }

    fn remove(&mut self, bytes: usize, smss: usize) {
        self.bytes -= bytes;
        self.segments -= bytes.div_ceil(smss);
    }

    fn lost(&self, smss: usize) -> bool {
        self.segments >= DUP_THRESH || self.bytes > (DUP_THRESH - 1) * smss
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

    fn next(sb: &Scoreboard, una: u32, nxt: u32, high_rxt: u32, smss: usize) -> Option<NextSeg> {
        sb.next_seg(seq(una), seq(nxt), seq(high_rxt), smss, 0, None)
    }

    fn rexmit(s: u32, len: usize) -> Option<NextSeg> {
        Some(NextSeg { seq: seq(s), len, retransmit: true, rescue: false })
    }

    /// RFC 2018 §4's examples: eight 500-byte segments from 5000, SACK blocks as the
    /// receiver would send them.
    const SMSS: usize = 500;

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
        assert_eq!(sb.highest_sacked(), Some(seq(8500)));
        // 3000 bytes SACKed above 5000: lost. Nothing else outstanding.
        assert!(sb.is_lost(seq(5000), SMSS));
        assert_eq!(sb.pipe(seq(5000), seq(8500), seq(5000), SMSS), 0);
        assert_eq!(next(&sb, 5000, 8500, 5000, SMSS), rexmit(5000, 500));
        // Retransmitted: it counts in pipe once, and NextSeg has nothing more to offer but
        // the rescue retransmission, which §5 step 4.3 has used up (RescueRxt = 5500).
        assert_eq!(sb.pipe(seq(5000), seq(8500), seq(5500), SMSS), 500);
        assert_eq!(sb.next_seg(seq(5000), seq(8500), seq(5500), SMSS, 0, Some(seq(5500))), None);
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

        // IsLost: three SACKed segments above 5500; two above 6500 (1000 bytes, not more
        // than 2 · SMSS); one above 7500; none above 8500.
        let lost: Vec<bool> =
            [5500, 6500, 7500, 8500].iter().map(|&s| sb.is_lost(seq(s), SMSS)).collect();
        assert_eq!(lost, [true, false, false, false]);

        // SetPipe with nothing retransmitted: the holes at 6500, 7500 and 8500 are in flight.
        assert_eq!(sb.pipe(seq(5500), seq(9000), seq(5500), SMSS), 1500);
        // NextSeg: rule 1 retransmits the lost hole...
        assert_eq!(next(&sb, 5500, 9000, 5500, SMSS), rexmit(5500, 500));
        // ...which then counts in pipe as a retransmission.
        assert_eq!(sb.pipe(seq(5500), seq(9000), seq(6000), SMSS), 2000);
        // Then rule 2 (new data) comes before rule 3.
        let new = sb.next_seg(seq(5500), seq(9000), seq(6000), SMSS, 100, None);
        assert_eq!(
            new,
            Some(NextSeg { seq: seq(9000), len: 100, retransmit: false, rescue: false })
        );
        // Without new data, rule 3: the next un-SACKed bytes below the highest SACK.
        assert_eq!(next(&sb, 5500, 9000, 6000, SMSS), rexmit(6500, 500));
        assert_eq!(next(&sb, 5500, 9000, 7000, SMSS), rexmit(7500, 500));
        // The hole at 8500 is above every SACK: only the rescue retransmission reaches it.
        let rescue = next(&sb, 5500, 9000, 8000, SMSS);
        assert_eq!(
            rescue,
            Some(NextSeg { seq: seq(8500), len: 500, retransmit: true, rescue: true })
        );

        // The 4th segment is retransmitted and arrives: the receiver merges 6000–7500.
        let b = blocks(&[(6000, 7500), (8000, 8500)]);
        assert_eq!(sb.update(seq(5500), seq(9000), &b), 500);
        assert_eq!(ranges(&sb), [(6000, 7500), (8000, 8500)]);
        // Then the 2nd: the cumulative ACK jumps to 7500.
        assert_eq!(sb.update(seq(7500), seq(9000), &blocks(&[(8000, 8500)])), 0);
        assert_eq!(ranges(&sb), [(8000, 8500)]);
        assert!(!sb.is_lost(seq(7500), SMSS));
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
        assert!(sb.is_empty());
        assert_eq!(sb.highest_sacked(), None);
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
        assert!(sb.is_sacked(seq(500)) && sb.is_sacked(seq(7999)));
        assert!(!sb.is_sacked(seq(499)) && !sb.is_sacked(seq(8000)));
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
        assert!(sb.is_empty());
        sb.update(seq(7000), seq(10_000), &blocks(&[(8000, 9000)]));
        sb.clear();
        assert!(sb.is_empty() && sb.sacked_bytes() == 0);
        assert_eq!(sb.ranges.capacity(), 0);
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_highest_range() {
        let mut sb = Scoreboard::new();
        // Every other 100 bytes SACKed: MAX_RANGES ranges.
        for i in 0..MAX_RANGES as u32 {
            let l = 1000 + 200 * i;
            assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(l, l + 100)])), 100);
        }
        assert_eq!(sb.ranges.len(), MAX_RANGES);
        let top = sb.highest_sacked();
        // One range more above all: it is the one forgotten.
        assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(500_000, 500_100)])), 0);
        assert_eq!(sb.highest_sacked(), top);
        // One range more in between: the highest range makes room for it.
        assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(100, 200)])), 100);
        assert_eq!(sb.ranges.len(), MAX_RANGES);
        assert_eq!(sb.ranges.first(), Some(&(seq(100), seq(200))));
        assert_eq!(sb.highest_sacked(), top.map(|t| t - 200));
        // Blocks that merge still work when full.
        assert_eq!(sb.update(seq(0), seq(1_000_000), &blocks(&[(1100, 1200)])), 100);
        assert_eq!(sb.ranges.len(), MAX_RANGES - 1);
        assert!(sb.is_sacked(seq(1150)));
    }

    #[test]
    fn is_lost_counts_segments_and_bytes_above() {
        let smss = 1460;
        let mut sb = Scoreboard::new();
        // Two full segments SACKed above 1000: 2920 bytes is not more than 2 · SMSS.
        sb.update(seq(1000), seq(100_000), &blocks(&[(2460, 5380)]));
        assert!(!sb.is_lost(seq(1000), smss));
        // One byte more is.
        sb.update(seq(1000), seq(100_000), &blocks(&[(5380, 5381)]));
        assert!(sb.is_lost(seq(1000), smss));

        // Small segments: three discontiguous SACKed segments of 100 bytes are DupThresh
        // segments, though only 300 bytes.
        let mut sb = Scoreboard::new();
        sb.update(seq(0), seq(10_000), &blocks(&[(200, 300), (400, 500)]));
        assert!(!sb.is_lost(seq(100), smss));
        sb.update(seq(0), seq(10_000), &blocks(&[(600, 700)]));
        assert!(sb.is_lost(seq(100), smss));
        // Only what lies above counts: above 350 there are two.
        assert!(!sb.is_lost(seq(350), smss));
        // One contiguous range of 300 bytes may be a single segment: not lost.
        let mut sb = Scoreboard::new();
        sb.update(seq(0), seq(10_000), &blocks(&[(200, 500)]));
        assert!(!sb.is_lost(seq(100), smss));
        // Inside a range only the bytes above count (2 full segments + 1 byte above 999).
        let mut sb = Scoreboard::new();
        sb.update(seq(0), seq(10_000), &blocks(&[(999, 1000 + 2 * 1460 + 1)]));
        assert!(sb.is_lost(seq(999), smss));
        assert!(!sb.is_lost(seq(1000), smss));
    }

    #[test]
    fn pipe_counts_unsacked_unlost_and_retransmitted_bytes() {
        let smss = 1000;
        let mut sb = Scoreboard::new();
        // Outstanding [0, 10000): SACKed 2000–3000, 4000–5000, 6000–7000.
        sb.update(seq(0), seq(10_000), &blocks(&[(2000, 3000), (4000, 5000), (6000, 7000)]));
        // Holes: 0–2000 (3 segments above: lost), 3000–4000 (2 above: not lost),
        // 5000–6000 (1), 7000–10000 (none).
        assert_eq!(sb.pipe(seq(0), seq(10_000), seq(0), smss), 1000 + 1000 + 3000);
        // Retransmitting 0–1500 adds 1500; retransmissions of not-lost data count twice.
        assert_eq!(sb.pipe(seq(0), seq(10_000), seq(1500), smss), 5000 + 1500);
        assert_eq!(sb.pipe(seq(0), seq(10_000), seq(3500), smss), 5000 + 2000 + 500);
        // Nothing outstanding, nothing in pipe.
        assert_eq!(sb.pipe(seq(10_000), seq(10_000), seq(10_000), smss), 0);
        // Without SACK information everything outstanding is in the network.
        assert_eq!(Scoreboard::new().pipe(seq(0), seq(10_000), seq(0), smss), 10_000);
    }

    #[test]
    fn next_seg_rule_by_rule() {
        let smss = 1000;
        let mut sb = Scoreboard::new();
        // Outstanding [0, 12000): SACKed 2500–3000, 4000–6000, 8000–9000.
        sb.update(seq(0), seq(12_000), &blocks(&[(2500, 3000), (4000, 6000), (8000, 9000)]));
        // Rule 1: the lowest lost byte at or above high_rxt, one SMSS at most...
        assert_eq!(next(&sb, 0, 12_000, 0, smss), rexmit(0, 1000));
        // ...and never into SACKed data.
        assert_eq!(next(&sb, 0, 12_000, 2000, smss), rexmit(2000, 500));
        // The hole 3000–4000 has 3000 bytes SACKed above it: lost too.
        assert_eq!(next(&sb, 0, 12_000, 2500, smss), rexmit(3000, 1000));
        // Rule 2: the hole 6000–8000 is not lost (1000 bytes, one segment above): new data
        // goes first.
        let seg = sb.next_seg(seq(0), seq(12_000), seq(4000), smss, 5000, None);
        assert_eq!(
            seg,
            Some(NextSeg { seq: seq(12_000), len: 1000, retransmit: false, rescue: false })
        );
        // Rule 3: without new data, the not-lost hole below the highest SACK.
        assert_eq!(next(&sb, 0, 12_000, 4000, smss), rexmit(6000, 1000));
        assert_eq!(next(&sb, 0, 12_000, 7500, smss), rexmit(7500, 500));
        // Rule 4: above the highest SACK only the rescue is left: the last SMSS before SND.NXT.
        let rescue = Some(NextSeg { seq: seq(11_000), len: 1000, retransmit: true, rescue: true });
        assert_eq!(next(&sb, 0, 12_000, 8000, smss), rescue);
        // Once per recovery: not while SND.UNA has not passed RescueRxt...
        assert_eq!(sb.next_seg(seq(0), seq(12_000), seq(8000), smss, 0, Some(seq(12_000))), None);
        assert_eq!(sb.next_seg(seq(0), seq(12_000), seq(8000), smss, 0, Some(seq(0))), None);
        // ...but again once it has.
        sb.on_ack(seq(1000));
        let seg = sb.next_seg(seq(1000), seq(12_000), seq(9000), smss, 0, Some(seq(500)));
        assert_eq!(seg, rescue);
        // Rule 5: nothing un-SACKed at all.
        let mut sb = Scoreboard::new();
        sb.update(seq(0), seq(3000), &blocks(&[(0, 3000)]));
        assert_eq!(sb.next_seg(seq(0), seq(3000), seq(0), smss, 0, None), None);
        // A short hole at the top: the rescue covers just it.
        let mut sb = Scoreboard::new();
        sb.update(seq(0), seq(3000), &blocks(&[(0, 2800)]));
        let seg = sb.next_seg(seq(0), seq(3000), seq(0), smss, 0, None);
        assert_eq!(seg, Some(NextSeg { seq: seq(2800), len: 200, retransmit: true, rescue: true }));
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
        assert!(sb.is_sacked(seq(u32::MAX)) && sb.is_sacked(seq(0)) && sb.is_sacked(seq(1999)));
        assert!(!sb.is_sacked(seq(2000)));
        assert!(sb.is_lost(seq(una), 1000));
        assert_eq!(sb.pipe(seq(una), seq(nxt), seq(una), 1000), 1000 + 3000);
        assert_eq!(next(&sb, una, nxt, una, 1000), rexmit(una, 1000));
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

        /// IsLost for every offset, from the runs of SACKed bytes above it.
        fn lost(&self, smss: usize) -> Vec<bool> {
            let mut lost = vec![false; self.sacked.len()];
            let (mut segments, mut bytes, mut run) = (0usize, 0usize, 0usize);
            for o in (0..self.sacked.len()).rev() {
                let seg_here = segments + run.div_ceil(smss);
                lost[o] = seg_here >= 3 || bytes + run > 2 * smss;
                if self.sacked[o] {
                    run += 1;
                } else {
                    segments += run.div_ceil(smss);
                    bytes += run;
                    run = 0;
                }
            }
            lost
        }

        fn pipe(&self, high_rxt: usize, smss: usize) -> usize {
            let lost = self.lost(smss);
            (0..self.sacked.len())
                .filter(|&o| !self.sacked[o])
                .map(|o| usize::from(!lost[o]) + usize::from(o < high_rxt))
                .sum()
        }

        /// NextSeg by the letter, byte by byte; offsets from SND.UNA.
        fn next_seg(
            &self,
            high_rxt: usize,
            smss: usize,
            new_data: usize,
            rescue_allowed: bool,
        ) -> Option<(usize, usize, bool, bool)> {
            let w = self.sacked.len();
            let lost = self.lost(smss);
            let top = (0..w).rev().find(|&o| self.sacked[o]).map_or(0, |o| o + 1);
            let hole_len = |o: usize| (o..w).take_while(|&i| !self.sacked[i]).count().min(smss);
            let candidates = || (high_rxt..top).filter(|&o| !self.sacked[o]);
            if let Some(o) = candidates().find(|&o| lost[o]) {
                return Some((o, hole_len(o), true, false));
            }
            if new_data > 0 {
                return Some((w, new_data.min(smss), false, false));
            }
            if let Some(o) = candidates().next() {
                return Some((o, hole_len(o), true, false));
            }
            if !rescue_allowed {
                return None;
            }
            let last = (0..w).rev().find(|&o| !self.sacked[o])?;
            let first = (0..=last).rev().take_while(|&o| !self.sacked[o]).last()?;
            let start = first.max((last + 1).saturating_sub(smss));
            Some((start, last + 1 - start, true, true))
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_byte_map(
            una in any::<u32>(),
            window in 0usize..3000,
            ops in prop::collection::vec(op(), 1..12),
            smss in prop::sample::select(vec![100usize, 300, 536]),
            high_rxt_frac in 0.0f64..=1.0,
            new_data in prop::sample::select(vec![0usize, 0, 50, 1000]),
            rescue_back in prop::option::of(-2i64..3),
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
                prop_assert!(sb.ranges.len() <= MAX_RANGES);

                let (una, nxt, w) = (seq(model.una), seq(model.nxt()), model.sacked.len());
                prop_assert_eq!(sb.sacked_bytes(), model.sacked.iter().filter(|&&b| b).count());
                for o in 0..w {
                    prop_assert_eq!(sb.is_sacked(una + o), model.sacked[o], "offset {}", o);
                }
                prop_assert!(!sb.is_sacked(una - 1) && !sb.is_sacked(nxt));
                let top = (0..w).rev().find(|&o| model.sacked[o]).map(|o| una + (o + 1));
                prop_assert_eq!(sb.highest_sacked(), top);
                let lost = model.lost(smss);
                for o in (0..w).step_by(7) {
                    prop_assert_eq!(sb.is_lost(una + o, smss), lost[o], "offset {}", o);
                }
                let high_rxt = (w as f64 * high_rxt_frac) as usize;
                prop_assert_eq!(sb.pipe(una, nxt, una + high_rxt, smss), model.pipe(high_rxt, smss));

                let rescue_rxt = rescue_back.map(|back| una_plus(model.una, -back));
                let allowed = rescue_back.is_none_or(|back| back > 0);
                let got = sb
                    .next_seg(una, nxt, una + high_rxt, smss, new_data, rescue_rxt)
                    .map(|s| (s.seq.wrapping_sub(una) as usize, s.len, s.retransmit, s.rescue));
                prop_assert_eq!(got, model.next_seg(high_rxt, smss, new_data, allowed));
            }
        }
    }

    fn una_plus(una: u32, off: i64) -> SeqNumber {
        SeqNumber((i64::from(una) + off).rem_euclid(1 << 32) as u32)
    }
}
