//! The send side: send sequence space (RFC 9293 §3.3.1), the send buffer and the
//! retransmission queue over it, ACK processing, RTT sampling, loss recovery (fast
//! retransmit and NewReno, RFC 5681/6582; SACK recovery, RFC 6675; limited transmit,
//! RFC 3042) and the retransmission and persist timers.
//!
//! The retransmission queue is not a list of segments: every unacknowledged byte is still
//! in the send buffer, so a retransmission is just a sequence range `[seq, seq+len)` read
//! from it again.

use super::buffer::RingBuffer;
use super::congestion::{CongestionControl, Cubic, NewReno};
use super::connection::{Connection, Error};
use super::sack::Scoreboard;
use super::state::State;
use super::timers::Timer;
use super::{Config, Congestion, SeqExt, seq_max};
use crate::time::{Duration, Instant};
use crate::wire::tcp::{Flags, Repr, SeqNumber};

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
    /// RFC 6675 HighRxt: highest sequence number retransmitted in this recovery.
    pub(super) high_rxt: SeqNumber,
    /// RFC 6675 RescueRxt: set once the rescue retransmission of this recovery went out.
    pub(super) rescue_rxt: Option<SeqNumber>,
    /// What the peer holds beyond `snd_una` (RFC 6675 scoreboard).
    pub(super) scoreboard: Scoreboard,
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
            high_rxt: iss,
            rescue_rxt: None,
            scoreboard: Scoreboard::new(),
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

    /// Bytes the network holds, as congestion control counts them: RFC 6675 pipe in SACK
    /// recovery; after a timeout only what was resent since; otherwise the flight minus
    /// SACKed bytes.
    pub(super) fn pipe(&self, sack: bool) -> usize {
        if let Some(p) = self.rtx_next {
            return p.since(self.snd_una).min(self.flight());
        }
        if sack && self.in_recovery {
            return self.scoreboard.pipe(self.snd_una, self.snd_nxt, self.high_rxt, self.mss);
        }
        let sacked = if sack { self.scoreboard.sacked_bytes() } else { 0 };
        self.flight().saturating_sub(sacked)
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
        let sack_new = if self.sack_ok && !seg.options.sack_blocks.is_empty() {
            let high = seq_max(ack, snd_una);
            self.snd.scoreboard.update(high, snd_nxt, &seg.options.sack_blocks)
        } else {
            0
        };
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
        AckCheck::Continue
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
            let p = seq_max(p, ack);
            self.snd.rtx_next = (p < self.snd.snd_nxt).then_some(p);
        }
        let sample = self.rtt_sample(now, seg, ack);
        if let Some(rtt) = sample {
            self.rtt.sample(rtt);
        } else {
            self.rtt.reset_backoff();
        }
        self.snd.retries = 0;
        self.snd.last_progress = now;
        self.snd.dupacks = 0;
        let smss = self.snd.mss;
        if self.snd.in_recovery {
            if ack >= self.snd.recover {
                // RFC 6582 §3.2 step 3 / RFC 6675 §5: full ACK ends recovery.
                self.snd.in_recovery = false;
                self.snd.inflation = 0;
                self.snd.cc.on_recovery_exit(now, smss);
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
        let lost = self.snd.dupacks >= 3
            || (self.sack_ok && self.snd.scoreboard.is_lost(self.snd.snd_una, smss));
        // RFC 6582 §3.2 step 2: only if the ACK covers more than `recover`.
        if !lost || self.snd.snd_una <= self.snd.recover {
            return;
        }
        self.snd.in_recovery = true;
        self.snd.recover = self.snd.snd_nxt;
        self.snd.high_rxt = self.snd.snd_una;
        self.snd.rescue_rxt = None;
        self.stats.fast_recoveries += 1;
        let flight = self.snd.pipe(self.sack_ok);
        self.snd.cc.on_congestion_event(now, flight, smss);
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
                // RFC 6675 §5.1: forget SACK state; RFC 6582 §3.2 step 1: recover = high data.
                self.snd.scoreboard.clear();
                self.snd.in_recovery = false;
                self.snd.inflation = 0;
                self.snd.dupacks = 0;
                self.snd.fast_rtx = false;
                self.snd.recover = self.snd.snd_nxt;
                self.snd.rtx_next = Some(self.snd.snd_una);
            }
        }
        // RFC 6298 §5.5, §5.6: back off and restart; Karn: no timing of retransmissions.
        self.rtt.back_off();
        self.snd.rtt_timing = None;
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
    }
}
