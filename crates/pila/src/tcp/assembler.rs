//! Temporary stand-in for the `tcp-buffers` Assembler (same interface; replaced on merge).
#![allow(dead_code)]

/// The range would need more holes than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyHoles;

#[derive(Debug)]
pub(crate) struct Assembler {
    ranges: Vec<(usize, usize)>,
    max: usize,
    last: Option<(usize, usize)>,
}

impl Assembler {
    pub(crate) fn new(max_ranges: usize) -> Self {
        Self { ranges: Vec::new(), max: max_ranges, last: None }
    }
    pub(crate) fn add(&mut self, offset: usize, len: usize) -> Result<usize, TooManyHoles> {
        let mut r = self.ranges.clone();
        if len > 0 {
            r.push((offset, offset + len));
        }
        r.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in r {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        if merged.len() > self.max && merged.first().is_some_and(|f| f.0 > 0) {
            return Err(TooManyHoles);
        }
        self.ranges = merged;
        self.last =
            self.ranges.iter().copied().find(|&(s, e)| s <= offset && offset < e.max(s + 1));
        Ok(self.ranges.first().filter(|f| f.0 == 0).map_or(0, |f| f.1))
    }
    pub(crate) fn advance(&mut self, n: usize) {
        self.ranges.retain(|&(_, e)| e > n);
        for r in &mut self.ranges {
            r.0 = r.0.saturating_sub(n);
            r.1 -= n;
        }
        self.last = None;
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges.iter().copied()
    }
    pub(crate) fn recent_ranges(&self, max: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut order: Vec<(usize, usize)> = Vec::new();
        if let Some(l) =
            self.last.and_then(|l| self.ranges.iter().copied().find(|r| r.0 <= l.0 && l.0 < r.1))
        {
            order.push(l);
        }
        for r in self.ranges.iter().copied().rev() {
            if !order.contains(&r) {
                order.push(r);
            }
        }
        order.into_iter().filter(|r| r.0 > 0).take(max)
    }
}
