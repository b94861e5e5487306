//! The send side: send sequence space (RFC 9293 §3.3.1), the send buffer and the
//! retransmission queue over it, ACK processing, RTT sampling, loss recovery (fast
//! retransmit and NewReno, RFC 5681/6582; limited transmit, RFC 3042; with SACK, RACK-TLP
//! loss detection, RFC 8985, in `rack.rs`, whose marks are resent as RFC 6675 §5 allows),
//! the undoing of spurious recoveries (D-SACK, RFC 2883/RFC 3708; timestamps, RFC 3522) and
//! the retransmission and persist timers.
//!
//! The retransmission queue is not a list of segments: every unacknowledged byte is still
//! in the send buffer, so a retransmission is just a sequence range `[seq, seq+len)` read
//! from it again.

use super::buffer::RingBuffer;
use super::congestion::{CongestionControl, Cubic, NewReno};
use super::connection::{Connection, Error, ts_at};
use super::rack::Rack;
use super::sack::{self, Scoreboard};
use super::state::State;
use super::timers::Timer;
use super::{Config, Congestion};
use crate::time::{Duration, Instant};
use crate::wire::tcp::{Flags, Repr, SeqNumber, TsVal};

/// The send half of the transmission control block.
#[derive(Debug)]
pub(super) struct Sender {
    /// Our initial send sequence number.
    pub(super) iss: SeqNumber,
    /// Oldest unacknowledged sequence number.
    pub(super) snd_una: SeqNumber,
    /// Next new sequence number to send (the highest sent plus one).
    pub(super) snd_nxt: SeqNumber,
    /// The peer's window in bytes (scaled).
    pub(super) snd_wnd: usize,
    /// Sequence number of the segment that last updated the window.
    pub(super) snd_wl1: SeqNumber,
    /// Acknowledgment number of the segment that last updated the window.
    pub(super) snd_wl2: SeqNumber,
    /// Largest window the peer ever offered (RFC 5961 §5 MAX.SND.WND).
    pub(super) max_snd_wnd: usize,
    /// Shift applied to the peer's window field (RFC 7323 Snd.Wind.Shift).
    pub(super) wscale: u8,
    /// The peer's SYN carried the window-scale option.
    pub(super) ws_offered: bool,
    /// Effective send MSS: payload bytes in a full segment.
    pub(super) mss: usize,
    /// The peer's MSS option (536 if absent, RFC 9293 §3.7.1).
    pub(super) peer_mss: usize,
    /// Unacknowledged and unsent data; byte 0 has sequence number `buf_seq`.
    pub(super) buffer: RingBuffer,
    /// Sequence number of the first byte in `buffer`.
    pub(super) buf_seq: SeqNumber,
    /// A FIN follows the data in the buffer.
    pub(super) fin_queued: bool,
    /// The SYN was retransmitted (RFC 6298 §5.7).
    pub(super) syn_retransmitted: bool,
    /// Go-back-N pointer after a retransmission timeout: next byte to resend.
    pub(super) rtx_next: Option<SeqNumber>,
    /// Retransmit the segment at `snd_una` now (fast retransmit, partial ACK).
    pub(super) fast_rtx: bool,
    /// Duplicate ACKs in a row (RFC 5681 §2).
    pub(super) dupacks: u32,
    /// In fast recovery (RFC 6582 or RFC 6675).
    pub(super) in_recovery: bool,
    /// RFC 6582 `recover` / RFC 6675 `RecoveryPoint`.
    pub(super) recover: SeqNumber,
    /// RFC 6582 window inflation by duplicate ACKs (non-SACK recovery).
    pub(super) inflation: usize,
    /// What the peer holds beyond `snd_una` (the SACK scoreboard).
    pub(super) scoreboard: Scoreboard,
    /// RACK-TLP state (RFC 8985), used with SACK.
    pub(super) rack: Rack,
    /// The PTO fired: send a tail loss probe (RFC 8985 §7.3).
    pub(super) tlp_pending: bool,
    /// With SACK, after a retransmission timeout: `SND.NXT` at the timeout, until `SND.UNA`
    /// passes it (RFC 8985 §6.3, RFC 6675 §5.1).
    pub(super) rto_recover: Option<SeqNumber>,
    /// What a spurious-recovery undo needs (RFC 3708 §3.2).
    pub(super) undo: Option<Undo>,
    /// RFC 3522 Eifel detection after a timeout: `SND.UNA` and the time of the timeout.
    pub(super) rto_undo: Option<(SeqNumber, Instant)>,
    /// The congestion controller.
    pub(super) cc: Box<dyn CongestionControl>,
    /// Without timestamps: the segment being timed (end sequence, sent at) — Karn's rule.
    pub(super) rtt_timing: Option<(SeqNumber, Instant)>,
    /// Consecutive retransmission timeouts.
    pub(super) retries: u32,
    /// A zero-window probe is due.
    pub(super) probe_pending: bool,
    /// Persist timer backoff exponent.
    pub(super) persist_backoff: u32,
    /// The persist timer fired while the peer's window was open but too small for sender
    /// SWS avoidance: the next segment may fill it (RFC 1122 §4.2.3.4 override timeout).
    pub(super) sws_override: bool,
    /// Nagle's algorithm on.
    pub(super) nagle: bool,
    /// When we last sent a segment occupying sequence space (RFC 5681 §4.1 idle restart).
    pub(super) last_send: Option<Instant>,
    /// Last forward progress (data acknowledged, or first data sent) — user timeout.
    pub(super) last_progress: Instant,
}

impl Sender {
    pub(super) fn new(iss: SeqNumber, config: &Config) -> Self {
        let mss = usize::from(config.mss);
        Self {
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            wscale: 0,
            ws_offered: false,
            mss,
            peer_mss: 536,
            buffer: RingBuffer::new(config.send_buffer),
            buf_seq: iss.plus(1),
            fin_queued: false,
            syn_retransmitted: false,
            rtx_next: None,
            fast_rtx: false,
            dupacks: 0,
            in_recovery: false,
            recover: iss,
            inflation: 0,
            scoreboard: Scoreboard::new(),
            rack: Rack::new(),
            tlp_pending: false,
            rto_recover: None,
            undo: None,
            rto_undo: None,
            cc: new_cc(config, mss),
            rtt_timing: None,
            retries: 0,
            probe_pending: false,
            persist_backoff: 0,
            sws_override: false,
            nagle: config.nagle,
            last_send: None,
            last_progress: Instant::ZERO,
        }
    }

    /// The handshake is over and the MSS known: start congestion control with IW
    /// (RFC 6928: `initial_window` segments).
    pub(super) fn on_established(&mut self, config: &Config) {
        self.cc = new_cc(config, self.mss);
        self.retries = 0;
    }

    /// Sequence number just past the buffered data.
    pub(super) fn buf_end(&self) -> SeqNumber {
        self.buf_seq.plus(self.buffer.len())
    }

    /// Where the FIN goes, once queued.
    pub(super) fn fin_seq(&self) -> Option<SeqNumber> {
        self.fin_queued.then(|| self.buf_end())
    }

    /// Whether our FIN has been sent.
    pub(super) fn fin_sent(&self) -> bool {
        self.fin_seq().is_some_and(|f| self.snd_nxt > f)
    }

    /// Whether our FIN has been acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|f| self.snd_una > f)
    }

    /// Sequence space sent and not acknowledged.
    pub(super) fn flight(&self) -> usize {
        self.snd_nxt.since(self.snd_una)
    }

    /// Bytes queued and never sent.
    pub(super) fn unsent(&self) -> usize {
        let end = self.buf_end();
        if end > self.snd_nxt { end.since(self.snd_nxt) } else { 0 }
    }

    /// Whether something (data or FIN) waits to be sent for the first time.
    pub(super) fn has_unsent(&self) -> bool {
        self.unsent() > 0 || (self.fin_queued && !self.fin_sent())
    }

    /// Bytes the network holds, as congestion control counts them: with SACK, RFC 6675 pipe
    /// (neither SACKed nor lost); without, after a timeout only what was resent since,
    /// otherwise the flight.
    pub(super) fn pipe(&self, sack: bool) -> usize {
        if let Some(p) = self.rtx_next {
            return p.since(self.snd_una).min(self.flight());
        }
        if sack {
            // RFC 6675 §4 SetPipe with RACK's loss marks in place of IsLost.
            return self.rack.pipe();
        }
        self.flight()
    }

    /// The congestion window with RFC 6582 inflation or RFC 3042 limited transmit.
    pub(super) fn effective_cwnd(&self) -> usize {
        let extra = if self.in_recovery {
            self.inflation
        } else {
            self.dupacks.min(2) as usize * self.mss // RFC 3042 §2
        };
        self.cc.cwnd().saturating_add(extra)
    }
}

/// A loss-recovery episode that may yet prove spurious (RFC 3708 §3.2, as Linux counts it).
#[derive(Clone, Copy, Debug)]
pub(super) struct Undo {
    /// `SND.UNA` when the episode began: D-SACKs below it are for older episodes.
    pub(super) marker: SeqNumber,
    /// Retransmissions of the episode not yet shown unnecessary by a D-SACK.
    pub(super) retrans: u32,
}

fn new_cc(config: &Config, mss: usize) -> Box<dyn CongestionControl> {
    let iw = (config.initial_window as usize).max(1).saturating_mul(mss);
    match config.congestion {
        Congestion::Cubic => Box::new(Cubic::new(iw, mss)),
        Congestion::NewReno => Box::new(NewReno::new(iw, mss)),
    }
}

/// What the ACK check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckCheck {
    /// Go on with the segment.
    Continue,
    /// Drop the segment (an ACK may have been queued).
    Drop,
}

impl Connection {
    /// RFC 9293 §3.10.7.4 fifth (ESTABLISHED and later), with RFC 5961 §5 ACK acceptability.
    pub(super) fn process_ack(&mut self, now: Instant, seg: &Repr<'_>, ack: SeqNumber) -> AckCheck {
        let snd_una = self.snd.snd_una;
        let snd_nxt = self.snd.snd_nxt;
        // RFC 9293 §3.10.7.4 fifth: an ACK for something not yet sent: ACK, drop.
        if ack > snd_nxt {
            self.challenge_ack(now);
            return AckCheck::Drop;
        }
        // RFC 5961 §5.2: acceptable only within [SND.UNA - MAX.SND.WND, SND.NXT].
        let max_wnd = self.snd.max_snd_wnd.min(1 << 30);
        if ack < SeqNumber(snd_una.0.wrapping_sub(max_wnd as u32)) {
            self.challenge_ack(now);
            return AckCheck::Drop;
        }
        let seg_wnd = usize::from(seg.window_len) << self.snd.wscale;
        let mut dsack = None;
        let sack_new = if self.sack_ok && !seg.options.sack_blocks.is_empty() {
            dsack = sack::dsack(ack, &seg.options.sack_blocks);
            let high = ack.max(snd_una);
            self.snd.scoreboard.update(high, snd_nxt, &seg.options.sack_blocks)
        } else {
            0
        };
        if let Some(d) = dsack {
            self.on_dsack(now, d);
        }
        if ack > snd_una {
            self.on_new_ack(now, seg, ack);
        } else if ack == snd_una
            && self.snd.flight() > 0
            && seg.payload.is_empty()
            && !seg.flags.contains(Flags::SYN)
            && !seg.flags.contains(Flags::FIN)
            // A zero window answers a probe: flow control, not a sign of loss.
            && seg_wnd > 0
            && if self.sack_ok { sack_new > 0 } else { seg_wnd == self.snd.snd_wnd }
        {
            // RFC 5681 §2: a duplicate ACK; with SACK, RFC 6675 §2: only one that SACKs
            // new data counts (a duplicated ACK or a D-SACK does not).
            self.on_dupack(now);
        }
        // RFC 9293 §3.10.7.4 fifth: update the send window if the segment is newer.
        if self.snd.snd_wl1 < seg.seq_number
            || (self.snd.snd_wl1 == seg.seq_number && self.snd.snd_wl2 <= ack)
        {
            self.snd.snd_wnd = seg_wnd;
            self.snd.snd_wl1 = seg.seq_number;
            self.snd.snd_wl2 = ack;
            self.snd.max_snd_wnd = self.snd.max_snd_wnd.max(seg_wnd);
        }
        self.update_persist(now);
        if self.sack_ok {
            self.rack_on_ack(now, seg, ack > snd_una, sack_new, dsack.is_some());
        }
        AckCheck::Continue
    }

    /// RFC 8985 §6.2 and §7.4 for an ACK (SACK connections): RACK's view of what was
    /// delivered, the fate of a tail loss probe, loss detection, the PTO.
    fn rack_on_ack(
        &mut self,
        now: Instant,
        seg: &Repr<'_>,
        advanced: bool,
        sack_new: usize,
        dsack: bool,
    ) {
        let echo = seg.options.timestamp.filter(|_| self.ts_ok).map(|t| t.tsecr);
        let offset = self.ts_offset;
        // The ACK echoes a timestamp older than the transmission at `xmit`.
        let echo_older =
            move |xmit: Instant| echo.is_some_and(|e| TsVal(e) < TsVal(ts_at(xmit, offset)));
        let snd_una = self.snd.snd_una;
        self.snd.rack.on_ack(now, snd_una, &self.snd.scoreboard, echo_older);
        // RFC 8985 §7.4.2: did the probe repair a loss?
        if let Some((end, retransmission)) = self.snd.rack.tlp {
            if snd_una >= end {
                if !retransmission || dsack {
                    // A new-data probe (RACK judges the rest), or the probe was a duplicate.
                    self.snd.rack.tlp = None;
                } else if snd_una > end {
                    // The probe repaired a loss: the congestion response of a fast recovery.
                    self.snd.rack.tlp = None;
                    let smss = self.snd.mss;
                    let flight = self.snd.flight();
                    self.snd.cc.on_congestion_event(now, flight, smss);
                    self.snd.cc.on_recovery_exit(now, smss);
                } else if !advanced && sack_new == 0 {
                    // A plain duplicate ACK: the original and the probe both arrived.
                    self.snd.rack.tlp = None;
                }
            }
        }
        self.rack_detect_loss(now);
        self.schedule_probe(now);
    }

    /// RFC 8985 §6.2 step 5: mark losses, arm the reordering timer, start recovery.
    fn rack_detect_loss(&mut self, now: Instant) {
        let in_recovery = self.snd.in_recovery || self.snd.rto_recover.is_some();
        let sacked = self.snd.scoreboard.sacked_bytes();
        let reo_wnd = self.snd.rack.reo_wnd(in_recovery, sacked, self.snd.mss, self.rtt.srtt());
        let (lost, timeout) = self.snd.rack.detect_loss(now, reo_wnd);
        self.stats.rack_lost += lost as u64;
        match timeout {
            Some(t) => self.timers.set(Timer::Reorder, now + t),
            None => self.timers.clear(Timer::Reorder),
        }
        if lost > 0 {
            self.maybe_enter_recovery(now);
        }
    }

    /// The RACK reordering timer fired (RFC 8985 §6.3).
    pub(super) fn on_reorder_timeout(&mut self, now: Instant) {
        if self.sack_ok && self.state.is_synchronized() && self.snd.flight() > 0 {
            self.rack_detect_loss(now);
        }
    }

    /// Arms the PTO (RFC 8985 §7.2) when a tail loss probe may be needed: SACK in use, not
    /// in recovery, no probe outstanding, data in flight. The probe is sent only if it comes
    /// before the retransmission timeout.
    pub(super) fn schedule_probe(&mut self, now: Instant) {
        let ok = self.sack_ok
            && self.state.sends_data()
            && !self.snd.in_recovery
            && self.snd.rto_recover.is_none()
            && self.snd.rack.tlp.is_none()
            && self.snd.flight() > 0
            && self.snd.snd_wnd > 0
            && !self.timers.is_set(Timer::Persist);
        let at = now + self.snd.rack.pto(self.rtt.srtt());
        match self.timers.get(Timer::Retransmit) {
            Some(rto_at) if ok && at < rto_at => self.timers.set(Timer::Probe, at),
            _ => self.timers.clear(Timer::Probe),
        }
    }

    /// The PTO fired: a probe is due (RFC 8985 §7.3).
    pub(super) fn on_probe_timeout(&mut self, _now: Instant) {
        let ok = self.sack_ok
            && self.state.is_synchronized()
            && !self.snd.in_recovery
            && self.snd.rto_recover.is_none()
            && self.snd.rack.tlp.is_none()
            && self.snd.flight() > 0;
        self.snd.tlp_pending = ok;
    }

    /// RFC 2883: the peer reported a duplicate segment. Widen RACK's reordering window
    /// (RFC 8985 §6.2 step 4) and, once every retransmission of the episode proved
    /// unnecessary, undo it (RFC 3708 §3.2).
    fn on_dsack(&mut self, now: Instant, (left, _right): (SeqNumber, SeqNumber)) {
        self.stats.dsacks_received += 1;
        self.snd.rack.on_dsack(self.snd.snd_una, self.snd.snd_nxt);
        if let Some(u) = &mut self.snd.undo {
            if left >= u.marker && u.retrans > 0 {
                u.retrans -= 1;
                if u.retrans == 0 {
                    self.undo_spurious(now);
                }
            }
        }
    }

    /// The last recovery or timeout was spurious: restore the window (RFC 3708 §3.2, RFC 4015
    /// §3), forget the loss marks and leave recovery.
    fn undo_spurious(&mut self, now: Instant) {
        self.snd.cc.on_spurious_congestion(now);
        self.stats.spurious_recoveries += 1;
        self.snd.undo = None;
        self.snd.rto_undo = None;
        if self.snd.in_recovery || self.snd.rto_recover.is_some() {
            self.snd.rack.on_recovery_exit();
        }
        self.snd.in_recovery = false;
        self.snd.rto_recover = None;
        self.snd.rack.clear_lost();
    }

    /// SND.UNA < SEG.ACK <= SND.NXT: new data acknowledged.
    fn on_new_ack(&mut self, now: Instant, seg: &Repr<'_>, ack: SeqNumber) {
        let flight_before = self.snd.flight();
        let acked = ack.since(self.snd.snd_una);
        // Data bytes leaving the buffer (the SYN and FIN occupy no buffer space).
        if ack > self.snd.buf_seq {
            let n = ack.since(self.snd.buf_seq).min(self.snd.buffer.len());
            self.snd.buffer.consume(n);
            self.snd.buf_seq = self.snd.buf_seq.plus(n);
            self.stats.bytes_acked += n as u64;
            if self.snd.buffer.is_empty() {
                self.snd.buffer.shrink_when_empty();
            }
        }
        self.snd.snd_una = ack;
        self.snd.scoreboard.on_ack(ack);
        if let Some(p) = self.snd.rtx_next {
            let p = p.max(ack);
            self.snd.rtx_next = (p < self.snd.snd_nxt).then_some(p);
        }
        let sample = self.rtt_sample(now, seg, ack);
        if let Some(rtt) = sample {
            self.rtt.sample(rtt);
            self.snd.rack.on_rtt(rtt);
        } else {
            self.rtt.reset_backoff();
        }
        self.snd.retries = 0;
        self.snd.last_progress = now;
        self.snd.dupacks = 0;
        let smss = self.snd.mss;
        // RFC 3522 §2: the first ACK after a timeout echoes a timestamp older than the
        // retransmission: the original arrived, the timeout was spurious.
        if let Some((una, at)) = self.snd.rto_undo.filter(|&(una, _)| ack > una) {
            let _ = una;
            self.snd.rto_undo = None;
            let echo = seg.options.timestamp.filter(|_| self.ts_ok).map(|t| t.tsecr);
            if echo.is_some_and(|e| TsVal(e) < TsVal(self.ts_now(at))) {
                self.undo_spurious(now);
            }
        }
        if self.snd.rto_recover.is_some_and(|r| ack >= r) {
            self.snd.rto_recover = None;
            self.snd.rack.on_recovery_exit();
        }
        if self.snd.in_recovery {
            if ack >= self.snd.recover {
                // RFC 6582 §3.2 step 3 / RFC 6675 §5: full ACK ends recovery.
                self.snd.in_recovery = false;
                self.snd.inflation = 0;
                self.snd.cc.on_recovery_exit(now, smss);
                self.snd.rack.on_recovery_exit();
            } else if !self.sack_ok {
                // RFC 6582 §3.2 step 3: partial ACK: resend the next hole, deflate.
                self.snd.fast_rtx = true;
                self.snd.inflation = self.snd.inflation.saturating_sub(acked) + smss;
            }
        } else {
            // RFC 5681 §3.1: slow start or congestion avoidance.
            self.snd.cc.on_ack(now, acked, flight_before, sample, smss);
        }
        // RFC 6675 §5: with SACK, enter recovery as soon as the next segment is lost.
        self.maybe_enter_recovery(now);
        // RFC 6298 §5.2, §5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd.flight() == 0 {
            self.timers.clear(Timer::Retransmit);
            self.timers.clear(Timer::User);
        } else {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            if let Some(ut) = self.config.user_timeout {
                self.timers.set(Timer::User, now + ut);
            }
        }
    }

    /// An RTT measurement from the ACK `ack` of `seg`: RFC 7323 §4.1 from the echoed
    /// timestamp, else from the one timed segment (Karn's rule: never a retransmitted one).
    pub(super) fn rtt_sample(
        &mut self,
        now: Instant,
        seg: &Repr<'_>,
        ack: SeqNumber,
    ) -> Option<Duration> {
        if let (true, Some(ts)) = (self.ts_ok, seg.options.timestamp) {
            let ticks = self.ts_now(now).wrapping_sub(ts.tsecr);
            self.snd.rtt_timing = None;
            return (ts.tsecr != 0 && ticks < 1 << 30)
                .then(|| Duration::from_millis(u64::from(ticks)));
        }
        match self.snd.rtt_timing {
            Some((end, sent)) if ack >= end => {
                self.snd.rtt_timing = None;
                Some(now - sent)
            }
            _ => None,
        }
    }

    fn on_dupack(&mut self, now: Instant) {
        self.snd.dupacks += 1;
        if self.snd.in_recovery {
            if !self.sack_ok {
                // RFC 6582 §3.2 step 4 (RFC 5681 §3.2 step 4): inflate by one SMSS.
                self.snd.inflation += self.snd.mss;
            }
            return;
        }
        self.maybe_enter_recovery(now);
    }

    /// RFC 5681 §3.2 step 2, RFC 6582 §3.2 step 2, RFC 6675 §5 (a)/(b): enter fast recovery.
    fn maybe_enter_recovery(&mut self, now: Instant) {
        if self.snd.in_recovery || self.snd.rtx_next.is_some() || self.snd.flight() == 0 {
            return;
        }
        let smss = self.snd.mss;
        if self.sack_ok {
            // RFC 8985: RACK marked a loss (it replaces RFC 6675's DupThresh rule); after a
            // timeout the retransmissions go on in slow start.
            if self.snd.rto_recover.is_some() || !self.snd.rack.has_lost() {
                return;
            }
        } else if self.snd.dupacks < 3 || self.snd.snd_una <= self.snd.recover {
            // RFC 6582 §3.2 step 2: only if the ACK covers more than `recover`.
            return;
        }
        self.snd.in_recovery = true;
        self.snd.recover = self.snd.snd_nxt;
        self.stats.fast_recoveries += 1;
        // RFC 6675 §5 step (4.2): FlightSize, less what the peer SACKed.
        let flight = self.snd.flight().saturating_sub(self.snd.scoreboard.sacked_bytes());
        self.snd.cc.on_congestion_event(now, flight, smss);
        self.snd.undo = Some(Undo { marker: self.snd.snd_una, retrans: 0 });
        self.snd.rack.tlp = None;
        self.timers.clear(Timer::Probe);
        self.snd.inflation = if self.sack_ok { 0 } else { 3 * smss };
        self.snd.fast_rtx = true;
        self.snd.rtt_timing = None;
    }

    /// Starts or stops the persist timer (RFC 9293 §3.8.6.1) after the window changed.
    pub(super) fn update_persist(&mut self, now: Instant) {
        let zero = self.snd.snd_wnd == 0;
        if zero && self.snd.flight() <= 1 && (self.snd.has_unsent() || self.snd.flight() == 1) {
            if !self.timers.is_set(Timer::Persist) {
                self.timers.clear(Timer::Retransmit);
                self.timers.set(Timer::Persist, now + self.persist_interval());
            }
        } else if !zero {
            if self.timers.is_set(Timer::Persist) {
                self.timers.clear(Timer::Persist);
                if self.snd.flight() > 0 {
                    self.timers.set(Timer::Retransmit, now + self.rtt.rto());
                }
            }
            self.snd.persist_backoff = 0;
        }
    }

    pub(super) fn persist_interval(&self) -> Duration {
        let base = self.rtt.rto().max(self.config.rto_min);
        let f = 1u64.checked_shl(self.snd.persist_backoff.min(32)).unwrap_or(u64::MAX);
        base.saturating_mul(f).min(self.config.rto_max)
    }

    /// The persist timer fired: send a probe, back off (RFC 9293 §3.8.6.1).
    pub(super) fn on_persist_timeout(&mut self, now: Instant) {
        if !self.state.is_synchronized() {
            return;
        }
        if self.snd.snd_wnd > 0 {
            // The window is open but too small for sender SWS avoidance, and nothing is in
            // flight to bring an ACK: RFC 1122 §4.2.3.4 override timeout, send what fits.
            self.snd.sws_override = true;
            return;
        }
        self.snd.probe_pending = true;
        self.snd.persist_backoff = self.snd.persist_backoff.saturating_add(1);
        self.timers.set(Timer::Persist, now + self.persist_interval());
    }

    /// The retransmission timer fired (RFC 6298 §5.4–5.6).
    pub(super) fn on_retransmit_timeout(&mut self, now: Instant) {
        match self.state {
            State::SynSent | State::SynReceived => {
                if self.snd.retries >= self.config.syn_retries {
                    self.enter_closed(Some(Error::TimedOut));
                    return;
                }
                self.snd.retries += 1;
                self.stats.rto_expiries += 1;
                self.snd.syn_retransmitted = true;
                self.syn_pending = true;
                self.snd.snd_nxt = self.snd.iss;
            }
            State::Closed | State::Listen | State::TimeWait => return,
            _ => {
                let flight = self.snd.flight();
                if flight == 0 {
                    return;
                }
                if self.snd.retries >= self.config.retries {
                    self.enter_closed(Some(Error::TimedOut));
                    return;
                }
                self.snd.retries += 1;
                self.stats.rto_expiries += 1;
                // RFC 5681 §3.1 eq. 4 (in the controller); cwnd = 1 SMSS.
                self.snd.cc.on_rto(now, flight, self.snd.mss);
                self.snd.in_recovery = false;
                self.snd.inflation = 0;
                self.snd.dupacks = 0;
                self.snd.fast_rtx = false;
                // RFC 6582 §3.2 step 1: recover = high data.
                self.snd.recover = self.snd.snd_nxt;
                if self.sack_ok {
                    // RFC 6675 §5.1 lets the sender keep SACK information; RFC 8985 §6.3:
                    // everything not SACKed is lost and is resent in slow start.
                    self.snd.rack.mark_all_lost();
                    self.snd.rack.tlp = None;
                    self.snd.tlp_pending = false;
                    self.timers.clear(Timer::Probe);
                    self.timers.clear(Timer::Reorder);
                    self.snd.rto_recover = Some(self.snd.snd_nxt);
                    if self.snd.undo.is_none() {
                        self.snd.undo = Some(Undo { marker: self.snd.snd_una, retrans: 0 });
                    }
                    if self.snd.rto_undo.is_none() {
                        self.snd.rto_undo = Some((self.snd.snd_una, now));
                    }
                } else {
                    // Without SACK: go back N from SND.UNA.
                    self.snd.rtx_next = Some(self.snd.snd_una);
                }
            }
        }
        // RFC 6298 §5.5, §5.6: back off and restart; Karn: no timing of retransmissions.
        self.rtt.back_off();
        self.snd.rtt_timing = None;
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: SeqNumber = SeqNumber(5000);

    /// A sender past its handshake: SND.UNA = SND.NXT = ISS + 1, MSS 1000, IW 10 segments.
    fn sender() -> Sender {
        let config = Config { mss: 1000, initial_window: 10, ..Config::default() };
        let mut snd = Sender::new(ISS, &config);
        snd.snd_una = ISS.plus(1);
        snd.snd_nxt = ISS.plus(1);
        snd.on_established(&config);
        snd
    }

    #[test]
    fn sequence_space_tracks_the_buffer_and_the_fin() {
        let mut snd = sender();
        assert_eq!(snd.buffer.write(&[1; 3000]), 3000);
        assert_eq!((snd.unsent(), snd.flight()), (3000, 0));
        assert!(snd.has_unsent());
        snd.snd_nxt = snd.snd_nxt.plus(2000);
        assert_eq!((snd.unsent(), snd.flight()), (1000, 2000));
        // The FIN goes after the last byte and counts once sent, then once acknowledged.
        snd.fin_queued = true;
        assert_eq!(snd.fin_seq(), Some(ISS.plus(1 + 3000)));
        snd.snd_nxt = snd.buf_end();
        assert!(snd.has_unsent() && !snd.fin_sent(), "the FIN itself is still to send");
        snd.snd_nxt = snd.snd_nxt.plus(1);
        assert!(snd.fin_sent() && !snd.fin_acked() && !snd.has_unsent());
        snd.snd_una = snd.snd_nxt;
        assert!(snd.fin_acked());
    }

    #[test]
    fn the_window_grows_by_limited_transmit_and_by_inflation_in_recovery() {
        let mut snd = sender();
        let cwnd = snd.cc.cwnd();
        assert_eq!(cwnd, 10 * 1000, "IW10");
        // RFC 3042: one and two duplicate ACKs each allow a segment more, not three.
        for (dupacks, extra) in [(0, 0), (1, 1000), (2, 2000), (3, 2000)] {
            snd.dupacks = dupacks;
            assert_eq!(snd.effective_cwnd(), cwnd + extra, "{dupacks} duplicate ACKs");
        }
        // RFC 6582: in recovery the inflation counts instead.
        snd.in_recovery = true;
        snd.inflation = 3000;
        assert_eq!(snd.effective_cwnd(), cwnd + 3000);
    }

    #[test]
    fn after_a_timeout_the_pipe_is_what_was_resent_since() {
        let mut snd = sender();
        snd.buffer.write(&[0; 8000]);
        snd.snd_nxt = snd.snd_una.plus(8000);
        assert_eq!(snd.pipe(false), 8000, "without SACK or a timeout: the flight");
        // Go-back-N after an RTO: only the bytes resent since count.
        snd.rtx_next = Some(snd.snd_una.plus(1500));
        assert_eq!(snd.pipe(false), 1500);
        assert_eq!(snd.pipe(true), 1500, "the timeout's rule holds with SACK too");
    }
}
