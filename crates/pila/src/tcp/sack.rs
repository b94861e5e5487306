//! Temporary stand-in for the `tcp-recovery` Scoreboard (RFC 6675; replaced on merge).
#![allow(dead_code)]

use crate::wire::tcp::{SackBlocks, SeqNumber};

/// What NextSeg() chose to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NextSeg {
    pub(crate) seq: SeqNumber,
    pub(crate) len: usize,
    pub(crate) retransmit: bool,
    pub(crate) rescue: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Scoreboard {
    /// Sorted, disjoint [left, right) ranges as u32 distances from `base`.
    ranges: Vec<(SeqNumber, SeqNumber)>,
}

fn d(a: SeqNumber, b: SeqNumber) -> usize {
    a.wrapping_sub(b) as usize
}

impl Scoreboard {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn update(
        &mut self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        blocks: &SackBlocks,
    ) -> usize {
        let before = self.sacked_bytes();
        for (l, r) in blocks.iter() {
            if !(snd_una < r && r <= snd_nxt && l < r) {
                continue;
            }
            let l = if l < snd_una { snd_una } else { l };
            self.ranges.push((l, r));
        }
        self.ranges.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(core::cmp::Ordering::Equal));
        let mut merged: Vec<(SeqNumber, SeqNumber)> = Vec::new();
        for (l, r) in self.ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if l <= last.1 => {
                    if r > last.1 {
                        last.1 = r;
                    }
                }
                _ => merged.push((l, r)),
            }
        }
        self.ranges = merged;
        self.sacked_bytes().saturating_sub(before)
    }
    pub(crate) fn on_ack(&mut self, snd_una: SeqNumber) {
        self.ranges.retain(|&(_, r)| r > snd_una);
        for r in &mut self.ranges {
            if r.0 < snd_una {
                r.0 = snd_una;
            }
        }
    }
    pub(crate) fn clear(&mut self) {
        self.ranges.clear();
    }
    pub(crate) fn is_sacked(&self, seq: SeqNumber) -> bool {
        self.ranges.iter().any(|&(l, r)| l <= seq && seq < r)
    }
    pub(crate) fn sacked_bytes(&self) -> usize {
        self.ranges.iter().map(|&(l, r)| d(r, l)).sum()
    }
    pub(crate) fn highest_sacked(&self) -> Option<SeqNumber> {
        self.ranges.last().map(|r| r.1)
    }
    fn sacked_above(&self, seq: SeqNumber) -> usize {
        self.ranges
            .iter()
            .filter(|r| r.1 > seq)
            .map(|&(l, r)| d(r, if l > seq { l } else { seq }))
            .sum()
    }
    pub(crate) fn is_lost(&self, seq: SeqNumber, smss: usize) -> bool {
        let above: usize = self.ranges.iter().filter(|r| r.0 > seq).count();
        above >= 3 || self.sacked_above(seq) > 2 * smss
    }
    pub(crate) fn pipe(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        high_rxt: SeqNumber,
        smss: usize,
    ) -> usize {
        let mut pipe = 0;
        let mut s = snd_una;
        while s < snd_nxt {
            let len = smss.min(d(snd_nxt, s));
            if !self.is_sacked(s) {
                if !self.is_lost(s, smss) {
                    pipe += len;
                }
                if s < high_rxt {
                    pipe += len;
                }
            }
            s = SeqNumber(s.0.wrapping_add(len as u32));
        }
        pipe
    }
    pub(crate) fn next_seg(
        &self,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
        high_rxt: SeqNumber,
        smss: usize,
        new_data: usize,
        _rescue_rxt: Option<SeqNumber>,
    ) -> Option<NextSeg> {
        let mut s = if high_rxt > snd_una { high_rxt } else { snd_una };
        while s < snd_nxt && self.highest_sacked().is_some_and(|h| s < h) {
            let end = self.ranges.iter().find(|r| r.0 > s).map_or(snd_nxt, |r| r.0);
            if !self.is_sacked(s) && self.is_lost(s, smss) {
                let len = smss.min(d(end, s));
                return Some(NextSeg { seq: s, len, retransmit: true, rescue: false });
            }
            let step = if self.is_sacked(s) {
                self.ranges.iter().find(|r| r.0 <= s && s < r.1).map_or(1, |r| d(r.1, s))
            } else {
                smss.min(d(end, s))
            };
            s = SeqNumber(s.0.wrapping_add(step.max(1) as u32));
        }
        (new_data > 0).then_some(NextSeg {
            seq: snd_nxt,
            len: smss.min(new_data),
            retransmit: false,
            rescue: false,
        })
    }
}
