//! RACK-TLP loss detection (RFC 8985), used when SACK is negotiated.
//!
//! RACK ("Recent ACKnowledgment") decides that a segment is lost by time, not by counting
//! duplicate ACKs: once a segment sent *later* has been delivered (cumulatively ACKed or
//! SACKed), an earlier one still missing after `RACK.rtt + RACK.reo_wnd` is lost. Because a
//! retransmission gets a new transmit time, a lost retransmission is detected the same way.
//! TLP ("Tail Loss Probe") sends one probe segment a PTO (about two RTTs) after the last
//! transmission when no ACK came, so that a loss at the tail of a flight draws SACK
//! information and is repaired by RACK instead of by a retransmission timeout.
//!
//! The retransmission queue of `send.rs` is sequence space in the send buffer; RACK needs a
//! transmit time per segment, so this file keeps a record per segment sent, in sequence
//! order, from `SND.UNA` to `SND.NXT`. The records are what RFC 6675's `pipe` is computed
//! from while RACK is in use: every segment that is neither SACKed nor marked lost is in
//! the network once.
//!
//! Those questions are asked for every segment sent, and a window of 4 MiB holds thousands
//! of records, so the answers are kept up to date where a record changes (`Totals`, and a
//! cursor to the first record marked lost) instead of walking the list: `pipe` and
//! `has_lost` are O(1), `first_lost` amortised O(1). An ACK looks only at the records its
//! SACK ranges hold, and loss detection stops after the records sent before RACK.xmit_ts
//! while the list is in transmit-time order (nothing retransmitted).

use std::collections::VecDeque;

use super::sack::Scoreboard;
use crate::time::{Duration, Instant};
use crate::wire::tcp::SeqNumber;

/// RFC 8985 §6.2 step 4: the multiplier of the reordering window is reset after this many
/// loss recoveries without a D-SACK.
const REO_WND_PERSIST: u16 = 16;

/// RFC 8985 §7.2: the worst-case delayed-ACK time added to the PTO when one segment is in
/// flight.
const WC_DEL_ACK: Duration = Duration::from_millis(200);

/// One segment sent and not yet cumulatively acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seg {
    start: SeqNumber,
    end: SeqNumber,
    /// When it was (last) transmitted.
    xmit: Instant,
    /// Which transmission of the connection's that was: ties in time go by it.
    tx: u32,
    /// It was retransmitted at least once.
    retransmitted: bool,
    /// Marked lost and not retransmitted since.
    lost: bool,
    /// The peer SACKed it.
    sacked: bool,
}

impl Seg {
    fn len(&self) -> usize {
        self.end.since(self.start)
    }
}

/// Aggregates over the records, kept up to date wherever a record changes so that the
/// questions asked for every segment sent are answered without walking the list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    /// Bytes of the records neither SACKed nor lost: `pipe`.
    pipe: usize,
    /// Records marked lost.
    lost: usize,
    /// Records retransmitted at least once.
    retransmitted: usize,
}

impl Totals {
    fn add(&mut self, s: &Seg) {
        if !s.sacked && !s.lost {
            self.pipe += s.len();
        }
        self.lost += usize::from(s.lost);
        self.retransmitted += usize::from(s.retransmitted);
    }

    fn sub(&mut self, s: &Seg) {
        if !s.sacked && !s.lost {
            self.pipe -= s.len();
        }
        self.lost -= usize::from(s.lost);
        self.retransmitted -= usize::from(s.retransmitted);
    }
}

/// The records of the segments in flight, and what is kept over them.
#[derive(Clone, Debug, Default)]
struct Records {
    segs: VecDeque<Seg>,
    /// Aggregates over `segs`.
    totals: Totals,
    /// No record below this index is marked lost: where the search for the first lost record
    /// starts. It moves forward as that search passes records, back only when a record below
    /// it is marked lost, and down with the records a cumulative ACK removes.
    lost_from: usize,
    /// The starts of the pieces of records split since the last ACK: a piece may now lie
    /// whole inside a SACKed range.
    split_points: Vec<SeqNumber>,
    /// The segments an ACK delivered (kept to reuse its allocation).
    delivered: Vec<Seg>,
    /// The transmit time of the newest record of new data.
    newest_xmit: Option<Instant>,
    /// New data of this flight was sent at an earlier time than the data before it, so the
    /// records never retransmitted may not be in transmit-time order.
    unordered: bool,
}

/// Whether `a` was sent after `b`, each as (time, transmission, end): RFC 8985's
/// RACK_sent_after, which breaks a tie in time by sequence. Here a tie goes first by the
/// order of the transmissions, which a clock that did not move between them (no delay on
/// the path, or a coarse clock) cannot tell apart: a retransmission decided after a segment
/// was delivered went out after that segment, though stamped with the same instant. Only
/// pieces of one transmission fall back on their sequence.
fn sent_after(a: (Instant, u32, SeqNumber), b: (Instant, u32, SeqNumber)) -> bool {
    let later = a.1.wrapping_sub(b.1) as i32;
    a.0 > b.0 || (a.0 == b.0 && (later > 0 || (later == 0 && a.2 > b.2)))
}

impl Records {
    /// A retransmission of `[start, end)` at `now`, transmission `tx`, below the highest
    /// record: splits the records at both edges, then restamps those between.
    fn restamp(&mut self, start: SeqNumber, end: SeqNumber, now: Instant, tx: u32) {
        self.split_at(start);
        self.split_at(end);
        let from = self.segs.partition_point(|s| s.end <= start);
        for s in self.segs.iter_mut().skip(from) {
            if s.start >= end {
                break;
            }
            self.totals.sub(s);
            s.xmit = now;
            s.tx = tx;
            s.retransmitted = true;
            s.lost = false;
            self.totals.add(s);
        }
    }

    /// Splits the record containing `at` (strictly inside) in two.
    fn split_at(&mut self, at: SeqNumber) {
        let i = self.segs.partition_point(|s| s.end <= at);
        if let Some(&s) = self.segs.get(i) {
            if s.start < at && at < s.end {
                if let Some(first) = self.segs.get_mut(i) {
                    self.totals.sub(&s);
                    first.end = at;
                    self.totals.add(first);
                }
                // Both pieces: the range holding a piece holds its start.
                self.split_points.extend([s.start, at]);
                let second = Seg { start: at, ..s };
                self.totals.add(&second);
                self.segs.insert(i + 1, second);
                if i < self.lost_from {
                    self.lost_from += 1;
                }
            }
        }
    }

    /// Marks the records `[left, right)` holds whole SACKed, adding them to `delivered`.
    fn mark_sacked(&mut self, (left, right): (SeqNumber, SeqNumber), delivered: &mut Vec<Seg>) {
        let from = self.segs.partition_point(|s| s.start < left);
        for s in self.segs.range_mut(from..) {
            if s.end > right {
                break;
            }
            if !s.sacked {
                self.totals.sub(s);
                s.sacked = true;
                s.lost = false;
                self.totals.add(s);
                delivered.push(*s);
            }
        }
    }

    /// RFC 8985 §6.2, the records' part: forgets the records an ACK that moved `SND.UNA` to
    /// `snd_una` acknowledged cumulatively, marks those its SACK information (`board`)
    /// holds whole, and returns what it newly delivered, cumulatively acknowledged first,
    /// then SACKed, lowest first. The list's allocation is lent: give it back to
    /// `delivered`.
    fn delivered_by(&mut self, snd_una: SeqNumber, board: &Scoreboard) -> Vec<Seg> {
        let mut delivered = core::mem::take(&mut self.delivered);
        delivered.clear();
        while let Some(s) = self.segs.front_mut() {
            if s.end <= snd_una {
                if !s.sacked {
                    delivered.push(*s);
                }
                self.totals.sub(s);
                self.segs.pop_front();
                self.lost_from = self.lost_from.saturating_sub(1);
            } else {
                if s.start < snd_una {
                    if !s.sacked {
                        delivered.push(Seg { end: snd_una, ..*s });
                    }
                    self.totals.sub(s);
                    s.start = snd_una;
                    self.totals.add(s);
                }
                break;
            }
        }
        // The records a SACK range holds whole: from the first starting in the range to the
        // last ending in it. Every record a range held whole was marked at an earlier ACK,
        // so only the ranges that can hold a record whole for the first time are walked:
        // those this ACK grew or added, the one at the trimmed first record, and those at
        // records split since (a range walked twice marks nothing the second time).
        // They are found out of order; RACK takes them lowest first, as the ranges lie.
        let cumulative = delivered.len();
        let mut split_points = core::mem::take(&mut self.split_points);
        let at = board.touched().iter().chain(&split_points).chain(core::iter::once(&snd_una));
        for range in at.filter_map(|&seq| board.range_from(seq)) {
            self.mark_sacked(range, &mut delivered);
        }
        split_points.clear();
        self.split_points = split_points;
        if let Some(sacked) = delivered.get_mut(cumulative..) {
            sacked.sort_unstable_by_key(|s| s.start.since(snd_una));
        }
        delivered
    }

    /// [`Rack::detect_loss`], with RACK.xmit_ts and RACK.end_seq and the wait RACK.rtt plus the
    /// reordering window; `ordered` says that the records are in transmit-time order
    /// (none was retransmitted and new data was sent at non-decreasing times), so those sent
    /// before RACK.xmit_ts are a prefix of the list and the walk stops after it.
    fn detect_loss_scan(
        &mut self,
        now: Instant,
        recent: (Instant, u32, SeqNumber),
        wait: Duration,
        ordered: bool,
    ) -> (usize, Option<Duration>) {
        let (mut marked, mut timeout) = (0, None::<Duration>);
        for (i, s) in self.segs.iter_mut().enumerate() {
            if s.sacked || s.lost {
                continue;
            }
            let before = !sent_after((s.xmit, s.tx, s.end), recent);
            if !before {
                if ordered {
                    break;
                }
                continue;
            }
            let deadline = s.xmit + wait;
            if deadline <= now {
                self.totals.sub(s);
                s.lost = true;
                self.totals.add(s);
                self.lost_from = self.lost_from.min(i);
                marked += 1;
            } else {
                let left = deadline - now;
                timeout = Some(timeout.map_or(left, |t| t.max(left)));
            }
        }
        (marked, timeout)
    }

    /// RFC 8985 §6.3: after a retransmission timeout every segment not SACKed is lost.
    fn mark_all_lost(&mut self) {
        for s in self.segs.iter_mut().filter(|s| !s.sacked) {
            self.totals.sub(s);
            s.lost = true;
            self.totals.add(s);
        }
        self.lost_from = 0;
    }

    /// The losses were spurious: nothing is marked lost any more.
    fn clear_lost(&mut self) {
        if self.totals.lost == 0 {
            return;
        }
        for s in &mut self.segs {
            self.totals.sub(s);
            s.lost = false;
            self.totals.add(s);
        }
        self.lost_from = self.segs.len();
    }

    /// The first segment marked lost, as `[start, end)`. Amortised O(1): the search goes on
    /// from where the last one stopped.
    fn first_lost(&mut self) -> Option<(SeqNumber, SeqNumber)> {
        if self.totals.lost == 0 {
            return None;
        }
        while let Some(s) = self.segs.get(self.lost_from) {
            if s.lost {
                return Some((s.start, s.end));
            }
            self.lost_from += 1;
        }
        None
    }
}

/// RACK-TLP state of one connection.
#[derive(Clone, Debug, Default)]
pub(super) struct Rack {
    /// The records of the segments in flight; `None` when nothing is in flight, so that an
    /// idle connection holds neither the lists nor their bookkeeping.
    records: Option<Box<Records>>,
    /// RACK.xmit_ts and RACK.end_seq, with the transmission's number: the most recently
    /// sent segment that was delivered.
    recent: Option<(Instant, u32, SeqNumber)>,
    /// RACK.rtt: the RTT of that segment.
    rtt: Duration,
    /// The lowest RTT measured (RACK.min_RTT).
    min_rtt: Option<Duration>,
    /// RACK.fack: the highest end of a delivered segment.
    fack: Option<SeqNumber>,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult (starts at 1; 16 bits, saturating: the window it scales is capped
    /// at SRTT long before).
    reo_wnd_mult: u16,
    /// RACK.reo_wnd_persist.
    reo_wnd_persist: u16,
    /// RACK.dsack_round: `SND.NXT` when the last D-SACK widened the window.
    dsack_round: Option<SeqNumber>,
    /// TLP.end_seq and TLP.is_retrans of the probe in flight.
    tlp: Option<(SeqNumber, bool)>,
    /// The number of the next transmission (wrapping); kept while nothing is in flight, so
    /// that the numbers go on increasing from flight to flight.
    next_tx: u32,
}

impl Rack {
    pub(super) fn new() -> Self {
        Self { reo_wnd_mult: 1, ..Self::default() }
    }

    /// Records the transmission of `[start, end)` at `now`.
    pub(super) fn on_sent(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        if start >= end {
            return;
        }
        let top = self.last().map(|(_, end)| end);
        let records = match self.records.as_deref_mut() {
            Some(records) if top.is_some_and(|top| start < top) => records,
            // New data (a gap cannot happen: data is sent in order).
            _ => return self.push_new(start, end, now),
        };
        let tx = self.next_tx;
        self.next_tx = tx.wrapping_add(1);
        records.restamp(start, end, now, tx);
        if let Some(top) = top.filter(|&top| end > top) {
            self.push_new(top, end, now);
        }
    }

    /// Appends a record of new data `[start, end)` sent at `now`.
    fn push_new(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        let tx = self.next_tx;
        self.next_tx = tx.wrapping_add(1);
        let seg =
            Seg { start, end, xmit: now, tx, retransmitted: false, lost: false, sacked: false };
        let records = self.records.get_or_insert_with(Box::default);
        if records.newest_xmit.is_some_and(|t| now < t) {
            records.unordered = true;
        }
        records.newest_xmit = Some(now);
        records.totals.add(&seg);
        records.segs.push_back(seg);
    }

    /// RFC 8985 §6.2 steps 1–3 for an ACK that moved `SND.UNA` to `snd_una` and whose SACK
    /// information is in `board`: updates RACK.rtt, RACK.xmit_ts/end_seq, RACK.fack and
    /// reordering detection from every segment this ACK newly delivered, and forgets the
    /// segments now cumulatively acknowledged. `spurious_echo` says, for a retransmitted
    /// segment, whether the ACK may stem from its original transmission (RFC 8985 §6.2 step
    /// 2: the echoed timestamp predates the retransmission).
    pub(super) fn on_ack(
        &mut self,
        now: Instant,
        snd_una: SeqNumber,
        board: &Scoreboard,
        spurious_echo: impl Fn(Instant) -> bool,
    ) {
        let Some(records) = self.records.as_deref_mut() else { return };
        let mut delivered = records.delivered_by(snd_una, board);
        for s in delivered.drain(..) {
            let rtt = now - s.xmit;
            // Step 2: an ACK that may be for the original transmission says nothing about
            // the retransmission's RTT.
            if s.retransmitted && (spurious_echo(s.xmit) || self.min_rtt.is_some_and(|m| rtt < m)) {
                continue;
            }
            // Step 3: reordering: a segment delivered below one delivered before it.
            if !s.retransmitted && self.fack.is_some_and(|f| s.end < f) {
                self.reordering_seen = true;
            }
            self.fack = Some(self.fack.map_or(s.end, |f| f.max(s.end)));
            let newer = self.recent.is_none_or(|r| sent_after((s.xmit, s.tx, s.end), r));
            if newer {
                self.recent = Some((s.xmit, s.tx, s.end));
                self.rtt = rtt;
            }
        }
        if let Some(records) = self.records.as_deref_mut() {
            records.delivered = delivered;
        }
    }

    /// Feeds an RTT sample of the connection (RACK.min_RTT).
    pub(super) fn on_rtt(&mut self, rtt: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
    }

    /// RFC 8985 §6.2 step 4 (first half): a D-SACK arrived; widen the reordering window at
    /// most once per round trip.
    pub(super) fn on_dsack(&mut self, snd_una: SeqNumber, snd_nxt: SeqNumber) {
        if self.dsack_round.is_some_and(|r| snd_una >= r) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() {
            self.dsack_round = Some(snd_nxt);
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
        self.reordering_seen = true;
    }

    /// RFC 8985 §6.2 step 4 (second half): a loss recovery ended.
    pub(super) fn on_recovery_exit(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// RFC 8985 §6.2 step 4: RACK.reo_wnd.
    pub(super) fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked: usize,
        smss: usize,
        srtt: Duration,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || sacked >= 3 * smss) {
            return Duration::ZERO;
        }
        let base = self.min_rtt.unwrap_or(Duration::ZERO);
        let wnd = Duration::from_micros(base.total_micros() / 4)
            .saturating_mul(u64::from(self.reo_wnd_mult));
        if srtt > Duration::ZERO { wnd.min(srtt) } else { wnd }
    }

    /// RFC 8985 §6.2 step 5: marks lost every segment sent before RACK.xmit_ts that has
    /// waited RACK.rtt + `reo_wnd`. Returns how many were newly marked, and the time after
    /// which the next one would be (for the reordering timer).
    pub(super) fn detect_loss(
        &mut self,
        now: Instant,
        reo_wnd: Duration,
    ) -> (usize, Option<Duration>) {
        let Some(recent) = self.recent else { return (0, None) };
        let Some(records) = self.records.as_deref_mut() else { return (0, None) };
        let ordered = records.totals.retransmitted == 0 && !records.unordered;
        records.detect_loss_scan(now, recent, self.rtt + reo_wnd, ordered)
    }

    /// Whether any segment is marked lost.
    pub(super) fn has_lost(&self) -> bool {
        self.records.as_ref().is_some_and(|r| r.totals.lost > 0)
    }

    /// RFC 8985 §6.3: after a retransmission timeout every segment not SACKed is lost.
    pub(super) fn mark_all_lost(&mut self) {
        if let Some(records) = self.records.as_deref_mut() {
            records.mark_all_lost();
        }
    }

    /// The losses were spurious: nothing is marked lost any more.
    pub(super) fn clear_lost(&mut self) {
        if let Some(records) = self.records.as_deref_mut() {
            records.clear_lost();
        }
    }

    /// The first segment marked lost, as `[start, end)`. Amortised O(1): the search goes on
    /// from where the last one stopped.
    pub(super) fn first_lost(&mut self) -> Option<(SeqNumber, SeqNumber)> {
        self.records.as_deref_mut()?.first_lost()
    }

    /// The last segment sent (highest in sequence space), as `[start, end)`.
    pub(super) fn last(&self) -> Option<(SeqNumber, SeqNumber)> {
        self.records.as_ref()?.segs.back().map(|s| (s.start, s.end))
    }

    /// Nothing is in flight: gives back the memory of the per-segment records, as the send
    /// buffer does, so that an idle connection holds none.
    pub(super) fn release_when_idle(&mut self) {
        if self.records.as_ref().is_some_and(|r| r.segs.is_empty()) {
            self.records = None;
        }
    }

    /// RFC 8985 §7.3: a tail loss probe went out, ending at `end` (TLP.end_seq); it was a
    /// retransmission of old data rather than new data (TLP.is_retrans).
    pub(super) fn on_probe_sent(&mut self, end: SeqNumber, retransmission: bool) {
        self.tlp = Some((end, retransmission));
    }

    /// Whether a tail loss probe is in flight, its fate not yet known.
    pub(super) fn probe_outstanding(&self) -> bool {
        self.tlp.is_some()
    }

    /// Forgets the probe in flight (recovery or a timeout takes over).
    pub(super) fn forget_probe(&mut self) {
        self.tlp = None;
    }

    /// RFC 8985 §7.4.2: what an ACK says of the probe in flight — `snd_una` after it, whether
    /// it advanced SND.UNA, the bytes it newly SACKed and whether it carried a D-SACK.
    /// Returns `true` when the probe repaired a loss, which calls for the congestion response
    /// of a fast recovery; the probe is forgotten once its fate is known.
    pub(super) fn probe_repaired(
        &mut self,
        snd_una: SeqNumber,
        advanced: bool,
        sack_new: usize,
        dsack: bool,
    ) -> bool {
        let Some((end, retransmission)) = self.tlp else { return false };
        if snd_una < end {
            return false;
        }
        if !retransmission || dsack {
            // A new-data probe (RACK judges the rest), or the probe was a duplicate.
            self.tlp = None;
        } else if snd_una > end {
            // The probe repaired a loss.
            self.tlp = None;
            return true;
        } else if !advanced && sack_new == 0 {
            // A plain duplicate ACK: the original and the probe both arrived.
            self.tlp = None;
        }
        false
    }

    /// RFC 6675 `pipe` under RACK: the bytes of segments neither SACKed nor lost.
    pub(super) fn pipe(&self) -> usize {
        self.records.as_ref().map_or(0, |r| r.totals.pipe)
    }

    /// Whether exactly one segment is in flight.
    pub(super) fn one_in_flight(&self) -> bool {
        self.records.as_ref().is_some_and(|r| r.segs.len() == 1)
    }

    /// RFC 8985 §7.2: the probe timeout for a connection with smoothed RTT `srtt`.
    pub(super) fn pto(&self, srtt: Duration) -> Duration {
        if srtt == Duration::ZERO {
            return Duration::from_secs(1);
        }
        let pto = srtt.saturating_mul(2);
        if self.one_in_flight() { pto + WC_DEL_ACK } else { pto }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::tcp::SackBlocks;

    fn seq(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn retransmission_splits_and_restamps() {
        let mut r = Rack::new();
        r.on_sent(seq(0), seq(100), t(0));
        r.on_sent(seq(100), seq(200), t(1));
        r.on_sent(seq(50), seq(150), t(5));
        let spans: Vec<_> =
            r.segs().iter().map(|s| (s.start.0, s.end.0, s.retransmitted)).collect();
        assert_eq!(spans, [(0, 50, false), (50, 100, true), (100, 150, true), (150, 200, false)]);
        assert_eq!(r.pipe(), 200);
    }

    #[test]
    fn later_delivery_marks_earlier_segment_lost_after_reo_wnd() {
        let mut r = Rack::new();
        for i in 0..4u32 {
            r.on_sent(seq(i * 100), seq(i * 100 + 100), t(u64::from(i)));
        }
        r.on_rtt(Duration::from_millis(20));
        let mut board = Scoreboard::new();
        let mut b = SackBlocks::EMPTY;
        assert!(b.push((seq(300), seq(400))));
        board.update(seq(0), seq(400), &b);
        r.on_ack(t(23), seq(0), &board, |_| false);
        // Segment 3 sent at 3 ms delivered at 23 ms: RACK.rtt = 20 ms; reo_wnd 5 ms.
        let wnd = r.reo_wnd(false, 100, 100, Duration::from_millis(20));
        assert_eq!(wnd, Duration::from_millis(5));
        let (n, timeout) = r.detect_loss(t(23), wnd);
        assert_eq!(n, 0);
        // Segment 0 is due at 0 + 20 + 5 = 25 ms, segment 2 at 27 ms: the timer waits for
        // the last of them.
        assert_eq!(timeout, Some(Duration::from_millis(4)));
        assert_eq!(r.detect_loss(t(25), wnd).0, 1);
        assert_eq!(r.first_lost(), Some((seq(0), seq(100))));
        assert_eq!(r.detect_loss(t(27), wnd).0, 2);
        assert_eq!(r.pipe(), 0);
    }

    /// With no delay on the path, everything happens at one instant: a segment SACKed at
    /// once marks the one before it lost (the tie in time goes by sequence), but its
    /// retransmission, though stamped with the same instant, was sent after and is not
    /// lost again at once; otherwise each duplicate ACK would retransmit it anew.
    #[test]
    fn a_retransmission_at_the_same_instant_is_not_lost_again_at_once() {
        let mut r = Rack::new();
        r.on_sent(seq(0), seq(100), t(0));
        r.on_sent(seq(100), seq(200), t(0));
        r.on_rtt(Duration::ZERO);
        let mut board = Scoreboard::new();
        let mut b = SackBlocks::EMPTY;
        assert!(b.push((seq(100), seq(200))));
        board.update(seq(0), seq(200), &b);
        r.on_ack(t(0), seq(0), &board, |_| false);
        assert_eq!(r.detect_loss(t(0), Duration::ZERO).0, 1);
        assert_eq!(r.first_lost(), Some((seq(0), seq(100))));
        r.on_sent(seq(0), seq(100), t(0));
        assert!(!r.has_lost());
        // The same duplicate ACK again.
        r.on_ack(t(0), seq(0), &board, |_| false);
        assert_eq!(r.detect_loss(t(0), Duration::ZERO).0, 0);
        // Once time has moved and a later segment is delivered, it can be lost again.
        r.on_sent(seq(200), seq(300), t(10));
        assert!(b.push((seq(200), seq(300))));
        board.update(seq(0), seq(300), &b);
        r.on_ack(t(10), seq(0), &board, |_| false);
        assert_eq!(r.detect_loss(t(10), Duration::ZERO).0, 1);
    }

    /// The list walks the aggregates replaced, as they were: the reference the maintained
    /// state is checked against.
    #[derive(Clone, Debug, Default)]
    struct Model {
        segs: VecDeque<Seg>,
        recent: Option<(Instant, u32, SeqNumber)>,
        next_tx: u32,
        rtt: Duration,
        fack: Option<SeqNumber>,
        reordering_seen: bool,
    }

    impl Model {
        fn on_sent(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
            let fresh = |start, end, tx| Seg {
                start,
                end,
                xmit: now,
                tx,
                retransmitted: false,
                lost: false,
                sacked: false,
            };
            let tx = self.next_tx;
            self.next_tx = tx.wrapping_add(1);
            let top = self.segs.back().map(|s| s.end);
            if top.is_none_or(|top| start >= top) {
                self.segs.push_back(fresh(start, end, tx));
                return;
            }
            // Split into one record per byte range boundary, the slow way.
            let mut out = VecDeque::new();
            for s in self.segs.drain(..) {
                let mut cuts = vec![s.start];
                cuts.extend([start, end].into_iter().filter(|&c| s.start < c && c < s.end));
                cuts.push(s.end);
                for w in cuts.windows(2) {
                    let mut p = Seg { start: w[0], end: w[1], ..s };
                    if p.start >= start && p.end <= end {
                        p.xmit = now;
                        p.tx = tx;
                        p.retransmitted = true;
                        p.lost = false;
                    }
                    out.push_back(p);
                }
            }
            self.segs = out;
            if let Some(top) = top.filter(|&top| end > top) {
                let tx = self.next_tx;
                self.next_tx = tx.wrapping_add(1);
                self.segs.push_back(fresh(top, end, tx));
            }
        }

        fn on_ack(&mut self, now: Instant, snd_una: SeqNumber, board: &Scoreboard, m: Duration) {
            let mut delivered = Vec::new();
            let mut kept = VecDeque::new();
            for mut s in self.segs.drain(..) {
                if s.end <= snd_una {
                    if !s.sacked {
                        delivered.push(s);
                    }
                    continue;
                }
                if s.start < snd_una {
                    if !s.sacked {
                        delivered.push(Seg { end: snd_una, ..s });
                    }
                    s.start = snd_una;
                }
                kept.push_back(s);
            }
            for s in kept.iter_mut().filter(|s| !s.sacked) {
                if board.ranges().any(|(l, r)| l <= s.start && s.end <= r) {
                    s.sacked = true;
                    s.lost = false;
                    delivered.push(*s);
                }
            }
            self.segs = kept;
            for s in delivered {
                let rtt = now - s.xmit;
                if s.retransmitted && rtt < m {
                    continue;
                }
                if !s.retransmitted && self.fack.is_some_and(|f| s.end < f) {
                    self.reordering_seen = true;
                }
                self.fack = Some(self.fack.map_or(s.end, |f| f.max(s.end)));
                let newer = self.recent.is_none_or(|r| sent_after((s.xmit, s.tx, s.end), r));
                if newer {
                    self.recent = Some((s.xmit, s.tx, s.end));
                    self.rtt = rtt;
                }
            }
        }

        fn detect_loss(&mut self, now: Instant, reo_wnd: Duration) -> (usize, Option<Duration>) {
            let Some(recent) = self.recent else { return (0, None) };
            let (mut marked, mut timeout) = (0, None::<Duration>);
            for s in self.segs.iter_mut().filter(|s| !s.sacked && !s.lost) {
                if !sent_after((s.xmit, s.tx, s.end), recent) {
                    let deadline = s.xmit + self.rtt + reo_wnd;
                    if deadline <= now {
                        s.lost = true;
                        marked += 1;
                    } else {
                        let left = deadline - now;
                        timeout = Some(timeout.map_or(left, |t| t.max(left)));
                    }
                }
            }
            (marked, timeout)
        }

        fn pipe(&self) -> usize {
            self.segs.iter().filter(|s| !s.sacked && !s.lost).map(Seg::len).sum()
        }

        fn first_lost(&self) -> Option<(SeqNumber, SeqNumber)> {
            self.segs.iter().find(|s| s.lost).map(|s| (s.start, s.end))
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// New data of this many bytes.
        Send(u32),
        /// Resend `len` bytes from this per-mille of the flight (may run past `SND.NXT`).
        Resend(u32, u32),
        /// SACK `len` bytes from this per-mille of the flight.
        Sack(u32, u32),
        /// Move `SND.UNA` up by this per-mille of the flight.
        Ack(u32),
        /// Loss detection with this reordering window (ms).
        Detect(u64),
        MarkAllLost,
        ClearLost,
        /// The clock moves by this many ms (backwards when negative).
        Tick(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1..3000u32).prop_map(Op::Send),
            2 => (0..1000u32, 1..4000u32).prop_map(|(a, l)| Op::Resend(a, l)),
            3 => (0..1000u32, 1..5000u32).prop_map(|(a, l)| Op::Sack(a, l)),
            2 => (0..1000u32).prop_map(Op::Ack),
            3 => (0..30u64).prop_map(Op::Detect),
            1 => Just(Op::MarkAllLost),
            1 => Just(Op::ClearLost),
            3 => (-3..20i64).prop_map(Op::Tick),
        ]
    }

    /// The aggregates recomputed from the records, and the cursor's promise checked.
    fn check(r: &Rack) {
        let Some(r) = r.records.as_deref() else { return };
        let mut totals = Totals::default();
        for s in &r.segs {
            totals.add(s);
        }
        assert_eq!(r.totals, totals);
        assert!(r.segs.iter().take(r.lost_from).all(|s| !s.lost), "a lost record below the cursor");
        assert!(r.segs.iter().zip(r.segs.iter().skip(1)).all(|(a, b)| a.end == b.start));
    }

    impl Rack {
        /// The records, none when nothing is in flight.
        fn segs(&self) -> VecDeque<Seg> {
            self.records.as_ref().map(|r| r.segs.clone()).unwrap_or_default()
        }
    }

    proptest! {
        #[test]
        fn aggregates_match_a_recomputation(
            base in prop_oneof![Just(0u32), Just(u32::MAX - 20_000)],
            ops in prop::collection::vec(op(), 1..120),
        ) {
            let mut r = Rack::new();
            let mut model = Model::default();
            let min_rtt = Duration::from_millis(3);
            r.on_rtt(min_rtt);
            let mut board = Scoreboard::new();
            let (mut una, mut nxt) = (seq(base), seq(base));
            let mut now = t(1000);
            let at = |una: SeqNumber, nxt: SeqNumber, pm: u32| una.plus(
                (nxt.since(una) as u64 * u64::from(pm) / 1000) as usize,
            );
            for op in ops {
                match op {
                    Op::Send(n) => {
                        r.on_sent(nxt, nxt.plus(n as usize), now);
                        model.on_sent(nxt, nxt.plus(n as usize), now);
                        nxt = nxt.plus(n as usize);
                    }
                    Op::Resend(a, len) if nxt > una => {
                        let start = at(una, nxt, a);
                        let end = start.plus(len as usize);
                        r.on_sent(start, end, now);
                        model.on_sent(start, end, now);
                        nxt = nxt.max(end);
                    }
                    Op::Sack(a, len) if nxt > una => {
                        let left = at(una, nxt, a);
                        let right = left.plus(len as usize).min(nxt);
                        let mut b = SackBlocks::EMPTY;
                        prop_assert!(b.push((left, right)));
                        board.update(una, nxt, &b);
                        r.on_ack(now, una, &board, |_| false);
                        model.on_ack(now, una, &board, min_rtt);
                    }
                    Op::Ack(a) => {
                        una = at(una, nxt, a);
                        board.on_ack(una);
                        r.on_ack(now, una, &board, |_| false);
                        model.on_ack(now, una, &board, min_rtt);
                    }
                    Op::Detect(ms) => {
                        let wnd = Duration::from_millis(ms);
                        let mut full = r.clone();
                        let got = r.detect_loss(now, wnd);
                        prop_assert_eq!(got, model.detect_loss(now, wnd));
                        // The walk that assumes nothing of the order finds the same.
                        let unordered = match (full.recent, full.records.as_deref_mut()) {
                            (Some(recent), Some(records)) => {
                                records.detect_loss_scan(now, recent, full.rtt + wnd, false)
                            }
                            _ => (0, None),
                        };
                        prop_assert_eq!(got, unordered);
                    }
                    Op::MarkAllLost => {
                        r.mark_all_lost();
                        model.segs.iter_mut().filter(|s| !s.sacked).for_each(|s| s.lost = true);
                    }
                    Op::ClearLost => {
                        r.clear_lost();
                        model.segs.iter_mut().for_each(|s| s.lost = false);
                    }
                    Op::Tick(ms) => {
                        now = if ms < 0 {
                            Instant::from_micros(now.total_micros() - ms.unsigned_abs() * 1000)
                        } else {
                            now + Duration::from_millis(ms.unsigned_abs())
                        };
                    }
                    Op::Resend(..) | Op::Sack(..) => {}
                }
                check(&r);
                prop_assert_eq!(&r.segs(), &model.segs);
                prop_assert_eq!(r.pipe(), model.pipe());
                prop_assert_eq!(r.has_lost(), model.first_lost().is_some());
                prop_assert_eq!(r.first_lost(), model.first_lost());
                prop_assert_eq!(
                    (r.recent, r.rtt, r.fack, r.reordering_seen),
                    (model.recent, model.rtt, model.fack, model.reordering_seen)
                );
                check(&r);
            }
        }
    }
}
