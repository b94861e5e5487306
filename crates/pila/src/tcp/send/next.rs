//! Choosing the next data segment: a retransmission (fast retransmit, go-back-N after a
//! timeout, RACK's loss marks, a tail loss probe), new data as the congestion window, the
//! peer's window, sender SWS avoidance (RFC 9293 §3.8.6.2.1) and Nagle (RFC 9293 §3.7.4)
//! allow, or a zero-window probe (RFC 9293 §3.8.6.1).

use super::{DataSegment, Room, Sender};
use crate::tcp::Config;
use crate::tcp::connection::bump;
use crate::tcp::state::State;
use crate::tcp::timers::{Timer, Timers};
use crate::time::Instant;
use crate::wire::tcp::SeqNumber;

impl Sender {
    /// The next data segment to send in `state` — a retransmission, new data, or a
    /// zero-window probe — as congestion and flow control allow, or `None`.
    pub(in crate::tcp) fn next_segment(
        &mut self,
        now: Instant,
        state: State,
        room: Room,
        timers: &mut Timers,
        config: &Config,
    ) -> Option<DataSegment> {
        if !state.sends_data() {
            return None;
        }
        let mut plan = Plan { now, state, room, timers, config };
        if let Some(s) = self.next_retransmission(&mut plan) {
            return Some(s);
        }
        if let Some(s) = self.next_new_data(&mut plan) {
            return Some(s);
        }
        if core::mem::take(&mut self.probe_pending) {
            return self.next_probe(&mut plan);
        }
        None
    }

    /// Retransmissions: with SACK, tail loss probes and what RACK marked lost; without,
    /// fast retransmit and go-back-N after a timeout.
    fn next_retransmission(&mut self, plan: &mut Plan<'_>) -> Option<DataSegment> {
        if self.sack {
            return self.next_rack_retransmission(plan);
        }
        let smss = self.mss();
        let (una, nxt) = (self.snd_una, self.snd_nxt);
        if self.fast_rtx {
            // RFC 5681 §3.2 step 4 / RFC 6582 §3.2: the first unacknowledged
            // segment goes out regardless of cwnd.
            self.fast_rtx = false;
            if nxt > una {
                return self.segment(plan, una, nxt, smss, true);
            }
        }
        if let Some(p) = self.rtx_next {
            // After a timeout (RFC 6298 §5.4, RFC 5681 §3.1): resend from SND.UNA on, in slow
            // start, as cwnd allows.
            let pipe = p.since(una);
            if self.effective_cwnd() <= pipe || p >= nxt {
                return None;
            }
            let seg = self.segment(plan, p, nxt, smss, true)?;
            let end = seg.seq.plus(seg.len + usize::from(seg.fin));
            self.rtx_next = (end < nxt).then_some(end);
            return Some(seg);
        }
        None
    }

    /// With SACK: a tail loss probe when the PTO fired (RFC 8985 §7.3), else the lowest
    /// segment RACK marked lost while `cwnd - pipe >= SMSS` (RFC 6675 §5 (C) with NextSeg()
    /// rule 1 on RACK's marks); the first retransmission of a recovery goes regardless.
    fn next_rack_retransmission(&mut self, plan: &mut Plan<'_>) -> Option<DataSegment> {
        let smss = self.mss();
        let (una, nxt) = (self.snd_una, self.snd_nxt);
        if core::mem::take(&mut self.tlp_pending) && nxt > una {
            // RFC 8985 §7.3: new data if the window allows, else the last segment again.
            let wnd_end = una.plus(self.window());
            let room = if wnd_end > nxt { wnd_end.since(nxt) } else { 0 };
            let len = self.unsent().min(room).min(smss);
            let s = if len > 0 {
                self.segment(plan, nxt, nxt.plus(len), len, false)
            } else {
                let (start, end) = self.rack.last()?;
                self.segment(plan, start, end, smss, true)
            }?;
            self.rack.on_probe_sent(self.snd_nxt, len == 0);
            bump(&mut self.stats.tlp_probes);
            plan.timers.clear(Timer::Probe);
            plan.timers.set(Timer::Retransmit, plan.now + self.rtt.rto());
            return Some(s);
        }
        let force = core::mem::take(&mut self.fast_rtx);
        let (start, end) = self.rack.first_lost()?;
        if !force && self.cc.cwnd() < self.rack.pipe() + smss {
            return None;
        }
        self.segment(plan, start, end, smss, true)
    }

    /// New data as congestion window, peer window, sender SWS avoidance and Nagle allow.
    fn next_new_data(&mut self, plan: &mut Plan<'_>) -> Option<DataSegment> {
        if self.rtx_next.is_some() {
            return None;
        }
        let now = plan.now;
        let smss = self.mss();
        let unsent = self.unsent();
        let fin_pending = self.fin_queued && !self.fin_sent();
        if unsent == 0 && !fin_pending {
            return None;
        }
        // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the
        // restart window.
        if self.flight() == 0 && self.last_send.is_some_and(|t| now - t > self.rtt.rto()) {
            self.cc.on_idle_restart(now, smss);
            self.last_send = Some(now);
        }
        let flight = self.pipe();
        let usable_cwnd = self.effective_cwnd().saturating_sub(flight);
        let wnd_end = self.snd_una.plus(self.window());
        let nxt = self.snd_nxt;
        let usable_wnd = if wnd_end > nxt { wnd_end.since(nxt) } else { 0 };
        let len = unsent.min(usable_wnd).min(usable_cwnd).min(self.burst());
        if len < unsent {
            if len == 0 {
                if usable_wnd == 0 {
                    self.update_persist(now, plan.timers, plan.config);
                }
                return None;
            }
            // RFC 9293 §3.8.6.2.1 sender SWS avoidance: a partial segment only if the window
            // limits it and it is at least half the largest window the peer offered.
            let window_bound = usable_wnd < usable_cwnd.min(smss);
            if len < smss
                && !(window_bound && len >= self.max_window() / 2)
                && !(window_bound && self.sws_override)
            {
                // RFC 1122 §4.2.3.4: with nothing in flight no ACK will come to open the
                // window further; the persist timer is the override timeout that ends the
                // wait (Linux arms its probe timer here too).
                if self.flight() == 0 && !plan.timers.is_set(Timer::Persist) {
                    plan.timers.set(Timer::Persist, now + self.persist_interval(plan.config));
                }
                return None;
            }
        } else if len > 0 && len < smss && self.nagle && self.flight() > 0 && !fin_pending {
            // RFC 9293 §3.7.4 Nagle: no small segment while data is unacknowledged.
            return None;
        }
        self.sws_override = false;
        // The FIN follows the last byte; it needs no window (as BSD).
        let limit = if len == unsent && fin_pending { nxt.plus(len + 1) } else { nxt.plus(len) };
        self.segment(plan, nxt, limit, len, false)
    }

    /// A zero-window probe (RFC 9293 §3.8.6.1): one byte beyond the window, or the FIN.
    fn next_probe(&mut self, plan: &mut Plan<'_>) -> Option<DataSegment> {
        if self.window() > 0 {
            return None;
        }
        let (una, nxt) = (self.snd_una, self.snd_nxt);
        let s = if nxt > una {
            self.segment(plan, una, nxt, 1, true)
        } else {
            let fin_now = self.unsent() == 0;
            self.segment(plan, nxt, nxt.plus(1), usize::from(!fin_now), false)
        }?;
        bump(&mut self.stats.zero_window_probes);
        Some(s)
    }

    /// The segment starting at `seq` with at most `max_data` bytes (and what `plan.room`
    /// leaves), within `[seq, limit)` in sequence space; the FIN rides along if it falls
    /// below `limit` and right after the data.
    fn segment(
        &mut self,
        plan: &mut Plan<'_>,
        seq: SeqNumber,
        limit: SeqNumber,
        max_data: usize,
        retransmit: bool,
    ) -> Option<DataSegment> {
        // RFC 6691: options count against the MSS, in every piece a device cuts a large
        // segment into too.
        let room = plan.room;
        let per = self.mss().saturating_sub(room.options).max(1);
        let most =
            if retransmit || self.tso() <= per { per } else { self.tso() - self.tso() % per };
        let max_data = max_data.min(most).min(room.scratch);
        let buf_end = self.buf_end();
        let data_stop = seq.plus(max_data).min(limit).min(buf_end);
        let len = if data_stop > seq { data_stop.since(seq) } else { 0 };
        let end = seq.plus(len);
        let fin = self.fin_seq().is_some_and(|f| f == end && limit > f);
        if len == 0 && !fin {
            return None;
        }
        let offset = if seq > self.buf_seq { seq.since(self.buf_seq) } else { 0 };
        let seq_end = end.plus(usize::from(fin));
        let now = plan.now;
        self.note_sent(now, seq, seq_end, len, retransmit, plan.timers, plan.config);
        if self.sack {
            self.rack.on_sent(seq, seq_end, now);
            if !retransmit {
                // RFC 8985 §7.2: (re)start the PTO after sending new data.
                self.schedule_probe(now, plan.state, plan.timers);
            }
        }
        Some(DataSegment { seq, offset, len, fin, push: len > 0 && end == buf_end })
    }
}

/// The inputs of one [`Sender::next_segment`] call, passed down to the helpers that pick
/// the segment.
struct Plan<'a> {
    now: Instant,
    state: State,
    room: Room,
    timers: &'a mut Timers,
    config: &'a Config,
}
