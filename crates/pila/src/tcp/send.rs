//! The send side: send sequence space (RFC 9293 §3.3.1), the send buffer and the
//! retransmission queue over it, ACK processing, RTT sampling, loss recovery (fast
//! retransmit and NewReno, RFC 5681/6582; limited transmit, RFC 3042; with SACK, RACK-TLP
//! loss detection, RFC 8985, in `rack.rs`, whose marks are resent as RFC 6675 §5 allows),
//! the undoing of spurious recoveries (D-SACK, RFC 2883/RFC 3708; timestamps, RFC 3522),
//! the choice of the next data segment (congestion and flow control, sender SWS avoidance,
//! Nagle, probes) and the retransmission, persist, reordering and probe timers.
//!
//! The [`Sender`] owns all of it. The connection hands it explicit inputs — the instant,
//! the acknowledgment fields of a segment ([`AckInput`]), the state, the timers — and it
//! answers with what happened ([`AckOutcome`], [`Expiry`]) or with the next segment to
//! build ([`DataSegment`]).
//!
//! The retransmission queue is not a list of segments: every unacknowledged byte is still
//! in the send buffer, so a retransmission is just a sequence range `[seq, seq+len)` read
//! from it again.

use super::buffer::RingBuffer;
use super::congestion::{CongestionControl, Cubic, NewReno};
use super::connection::bump;
use super::rack::Rack;
use super::rtt::{RtoBounds, RttEstimator};
use super::sack::{self, Scoreboard};
use super::state::State;
use super::timers::{Timer, Timers};
use super::{Config, Congestion};

mod next;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{SackBlocks, SeqNumber, TsVal};

/// The offset of a connection's timestamp clock (RFC 7323 §7.1), from its ISS, which is
/// already secret and per-connection.
pub(super) fn ts_offset_for(iss: SeqNumber) -> u32 {
    iss.0.rotate_left(16) ^ 0x5bd1_e995
}

/// Our timestamp clock at `at` for a connection with timestamp offset `offset`:
/// milliseconds plus the per-connection offset (RFC 7323 §5.4).
pub(super) fn ts_at(at: Instant, offset: u32) -> u32 {
    (at.total_millis() as u32).wrapping_add(offset)
}

/// The send half of the transmission control block.
#[derive(Debug)]
pub(super) struct Sender {
    /// Our initial send sequence number.
    iss: SeqNumber,
    /// Oldest unacknowledged sequence number.
    snd_una: SeqNumber,
    /// Next new sequence number to send (the highest sent plus one).
    snd_nxt: SeqNumber,
    /// The peer's window in bytes (scaled).
    snd_wnd: u32,
    /// Sequence number of the segment that last updated the window.
    snd_wl1: SeqNumber,
    /// Acknowledgment number of the segment that last updated the window.
    snd_wl2: SeqNumber,
    /// Largest window the peer ever offered (RFC 5961 §5 MAX.SND.WND).
    max_snd_wnd: u32,
    /// Shift applied to the peer's window field (RFC 7323 Snd.Wind.Shift).
    wscale: u8,
    /// The peer's SYN carried the window-scale option.
    ws_offered: bool,
    /// SACK was negotiated: RACK-TLP and the scoreboard drive loss recovery.
    sack: bool,
    /// Effective send MSS: payload bytes in a full segment.
    mss: u32,
    /// Offset of our timestamp clock (RFC 7323 §7.1).
    ts_offset: u32,
    /// Unacknowledged and unsent data; byte 0 has sequence number `buf_seq`.
    buffer: RingBuffer,
    /// Sequence number of the first byte in `buffer`.
    buf_seq: SeqNumber,
    /// A FIN follows the data in the buffer.
    fin_queued: bool,
    /// The SYN was retransmitted (RFC 6298 §5.7).
    syn_retransmitted: bool,
    /// Go-back-N pointer after a retransmission timeout: next byte to resend.
    rtx_next: Option<SeqNumber>,
    /// Retransmit the segment at `snd_una` now (fast retransmit, partial ACK).
    fast_rtx: bool,
    /// Duplicate ACKs in a row (RFC 5681 §2).
    dupacks: u32,
    /// In fast recovery (RFC 6582 or RFC 6675).
    in_recovery: bool,
    /// RFC 6582 `recover` / RFC 6675 `RecoveryPoint`.
    recover: SeqNumber,
    /// RFC 6582 window inflation by duplicate ACKs (non-SACK recovery).
    inflation: u32,
    /// What the peer holds beyond `snd_una` (the SACK scoreboard).
    scoreboard: Scoreboard,
    /// RACK-TLP state (RFC 8985), used with SACK.
    rack: Rack,
    /// The PTO fired: send a tail loss probe (RFC 8985 §7.3).
    tlp_pending: bool,
    /// With SACK, after a retransmission timeout: `SND.NXT` at the timeout, until `SND.UNA`
    /// passes it (RFC 8985 §6.3, RFC 6675 §5.1).
    rto_recover: Option<SeqNumber>,
    /// What a spurious-recovery undo needs (RFC 3708 §3.2).
    undo: Option<Undo>,
    /// RFC 3522 Eifel detection after a timeout: `SND.UNA` at the time of the timeout.
    rto_undo: Option<(SeqNumber, Instant)>,
    /// The congestion controller.
    cc: Controller,
    /// The RFC 6298 estimator and the retransmission timeout.
    rtt: RttEstimator,
    /// Without timestamps: the segment being timed (end sequence, sent at) — Karn's rule.
    rtt_timing: Option<(SeqNumber, Instant)>,
    /// Consecutive retransmission timeouts.
    retries: u32,
    /// A zero-window probe is due.
    probe_pending: bool,
    /// Persist timer backoff exponent.
    persist_backoff: u32,
    /// The persist timer fired while the peer's window was open but too small for sender
    /// SWS avoidance: the next segment may fill it (RFC 1122 §4.2.3.4 override timeout).
    sws_override: bool,
    /// Nagle's algorithm on.
    nagle: bool,
    /// Segmentation offload: new data may go out in segments of up to this many payload
    /// bytes, which the device cuts into MSS-sized ones (0: off).
    tso: u32,
    /// When we last sent a segment occupying sequence space (RFC 5681 §4.1 idle restart).
    last_send: Option<Instant>,
    /// Last forward progress (data acknowledged, or first data sent) — user timeout.
    last_progress: Instant,
    /// The counters of the send side.
    stats: SendStats,
}

/// The send side's counters, for `TcpInfo`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SendStats {
    pub(super) bytes_sent: u64,
    pub(super) bytes_acked: u64,
    pub(super) retransmitted_segments: u64,
    pub(super) fast_recoveries: u32,
    pub(super) rto_expiries: u32,
    pub(super) spurious_recoveries: u32,
    pub(super) tlp_probes: u32,
    pub(super) dsacks_received: u32,
    pub(super) rack_lost: u32,
    pub(super) zero_window_probes: u32,
}

/// What the peer's SYN (or SYN-ACK) settled for the send side.
#[derive(Clone, Copy, Debug)]
pub(super) struct Negotiated {
    /// The peer's MSS option (RFC 9293 §3.7.1: 536 when absent).
    pub(super) peer_mss: usize,
    /// Our MSS, the upper bound of what we send too.
    pub(super) our_mss: usize,
    /// Whether the peer's SYN carried the window-scale option.
    pub(super) ws_offered: bool,
    /// The shift to apply to the peer's window (0 unless both sides scale).
    pub(super) wscale: u8,
    /// SACK negotiated.
    pub(super) sack: bool,
    /// Bytes of options every segment carries (12 with timestamps), off the MSS.
    pub(super) options: usize,
}

/// The acknowledgment fields of an arriving segment, as the send side needs them.
#[derive(Clone, Copy, Debug)]
pub(super) struct AckInput<'a> {
    /// SEG.SEQ: decides whether the segment may update the window.
    pub(super) seq: SeqNumber,
    /// SEG.ACK.
    pub(super) ack: SeqNumber,
    /// The raw window field (scaled here).
    pub(super) window: u16,
    /// The SACK blocks the segment carried.
    pub(super) sack_blocks: &'a SackBlocks,
    /// The echoed timestamp (TSecr), when timestamps are in use.
    pub(super) tsecr: Option<u32>,
    /// The segment carries no data, SYN or FIN: it may count as a duplicate ACK.
    pub(super) bare: bool,
}

/// What [`Sender::on_ack`] made of an acknowledgment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AckOutcome {
    /// SEG.ACK acknowledges something never sent, or is older than the window allows
    /// (RFC 9293 §3.10.7.4 fifth, RFC 5961 §5.2): answer with a challenge ACK and drop the
    /// segment.
    Unacceptable,
    /// New data was acknowledged: SND.UNA moved by this many sequence numbers.
    Advanced(usize),
    /// Nothing new was acknowledged (a duplicate or a window update); the segment goes on.
    Old,
}

/// What a retransmission timeout did ([`Sender::on_retransmit_timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expiry {
    /// Nothing was outstanding: nothing to do.
    Idle,
    /// The SYN (or SYN-ACK) is to be sent again.
    ResendSyn,
    /// Data is to be resent (go-back-N, or what RACK now marks lost).
    Resend,
    /// The retries ran out: the connection times out.
    GiveUp,
}

/// A data segment the sender chose (payload, FIN, or both), to be given its ACK, window and
/// options by the connection. Its payload is [`Sender::payload`]`(offset, len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DataSegment {
    /// SEG.SEQ.
    pub(super) seq: SeqNumber,
    /// Where the payload starts in the send buffer.
    pub(super) offset: usize,
    /// Payload bytes.
    pub(super) len: usize,
    /// The FIN rides on it.
    pub(super) fin: bool,
    /// The payload ends the buffered data (PSH).
    pub(super) push: bool,
}

/// The room for the next segment's payload.
#[derive(Clone, Copy, Debug)]
pub(super) struct Room {
    /// Bytes of options the segment carries beyond the fixed ones (its SACK blocks), off
    /// the MSS (RFC 6691).
    pub(super) options: usize,
    /// The most payload the caller can take (its scratch buffer).
    pub(super) scratch: usize,
}

/// A loss-recovery episode that may yet prove spurious (RFC 3708 §3.2, as Linux counts it).
#[derive(Clone, Copy, Debug)]
struct Undo {
    /// `SND.UNA` when the episode began: D-SACKs below it are for older episodes.
    marker: SeqNumber,
    /// Retransmissions of the episode not yet shown unnecessary by a D-SACK.
    retrans: u32,
}

/// The RTO bounds of `config`.
const fn rto_bounds(config: &Config) -> RtoBounds {
    RtoBounds { min: config.rto_min, max: config.rto_max }
}

/// A byte count for one of the sender's 32-bit fields (windows, segment sizes), which no
/// count TCP can name exceeds: a scaled window is below 2^30.
fn to32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The congestion controller a connection was configured with, held in place: every
/// connection has exactly one, so it needs no allocation of its own, and a call on it is a
/// branch rather than an indirect jump.
#[derive(Clone, Debug)]
enum Controller {
    Cubic(Cubic),
    NewReno(NewReno),
}

impl core::ops::Deref for Controller {
    type Target = dyn CongestionControl;
    fn deref(&self) -> &Self::Target {
        match self {
            Self::Cubic(c) => c,
            Self::NewReno(n) => n,
        }
    }
}

impl core::ops::DerefMut for Controller {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Self::Cubic(c) => c,
            Self::NewReno(n) => n,
        }
    }
}

fn new_cc(config: &Config, mss: usize) -> Controller {
    let iw = (config.initial_window as usize).max(1).saturating_mul(mss);
    match config.congestion {
        Congestion::Cubic => Controller::Cubic(Cubic::new(iw, mss)),
        Congestion::NewReno => Controller::NewReno(NewReno::new(iw, mss)),
    }
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
            sack: false,
            mss: to32(mss),
            ts_offset: ts_offset_for(iss),
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
            rtt: RttEstimator::new(config.rto_initial, rto_bounds(config)),
            rtt_timing: None,
            retries: 0,
            probe_pending: false,
            persist_backoff: 0,
            sws_override: false,
            nagle: config.nagle,
            tso: 0,
            last_send: None,
            last_progress: Instant::ZERO,
            stats: SendStats::default(),
        }
    }

    // ----- The application's side and the figures -----

    /// Queues `data`; returns how much fit in the send buffer.
    pub(super) fn write(&mut self, data: &[u8]) -> usize {
        self.buffer.write(data)
    }

    /// A FIN follows the queued data (the application closed its sending side).
    pub(super) fn queue_fin(&mut self) {
        self.fin_queued = true;
    }

    /// Whether a FIN is queued after the data.
    pub(super) const fn fin_queued(&self) -> bool {
        self.fin_queued
    }

    /// Bytes the send buffer can still take.
    pub(super) fn free(&self) -> usize {
        self.buffer.free()
    }

    /// Bytes of storage the send buffer holds.
    pub(super) fn allocated(&self) -> usize {
        self.buffer.allocated()
    }

    /// How far the send buffer's storage may grow for now ([`RingBuffer::set_limit`]).
    pub(super) fn set_buffer_limit(&mut self, limit: usize) {
        self.buffer.set_limit(limit);
    }

    /// Bytes queued: unacknowledged or unsent.
    pub(super) fn queued(&self) -> usize {
        self.buffer.len()
    }

    /// The payload of a [`DataSegment`]: `len` bytes from `offset` in the send buffer, in
    /// one or two slices (the ring may wrap).
    pub(super) fn payload(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        self.buffer.slices(offset, len)
    }

    /// A reset flushes the queued data (RFC 9293 §3.10.7.4).
    pub(super) fn discard(&mut self) {
        self.buffer = RingBuffer::new(0);
    }

    /// The connection is done with sending (CLOSED or TIME-WAIT): give the buffer's memory
    /// back if nothing is left in it.
    pub(super) fn release_buffer(&mut self) {
        self.buffer.shrink_when_empty();
    }

    /// Nagle's algorithm on or off.
    pub(super) fn set_nagle(&mut self, on: bool) {
        self.nagle = on;
    }

    /// Lets new data go out in segments of up to `max` payload bytes, for a device that cuts
    /// them into MSS-sized ones (TSO); 0 turns it off. Retransmissions stay MSS-sized.
    pub(super) fn set_segmentation_offload(&mut self, max: usize) {
        self.tso = to32(max);
    }

    /// The most payload one new-data segment may carry: the MSS, or with segmentation
    /// offload as many whole MSS-sized pieces as fit in it.
    fn burst(&self) -> usize {
        if self.tso() > self.mss() { self.tso() - self.tso() % self.mss() } else { self.mss() }
    }

    /// Lowers the effective send MSS to `mss` payload bytes (path MTU discovery); never
    /// raises it.
    pub(super) fn lower_mss(&mut self, mss: usize) {
        self.mss = to32(self.mss().min(mss));
    }

    /// Keeps the counters of `old` (a passive open going back to LISTEN stays one socket).
    pub(super) fn keep_stats(&mut self, old: &Self) {
        self.stats = old.stats;
    }

    /// Our initial send sequence number (ISS).
    pub(super) const fn iss(&self) -> SeqNumber {
        self.iss
    }

    /// SND.UNA.
    pub(super) const fn una(&self) -> SeqNumber {
        self.snd_una
    }

    /// SND.NXT.
    pub(super) const fn nxt(&self) -> SeqNumber {
        self.snd_nxt
    }

    /// SND.WND: the peer's window in bytes, scaled.
    pub(super) const fn window(&self) -> usize {
        self.snd_wnd as usize
    }

    /// MAX.SND.WND: the largest window the peer ever offered.
    const fn max_window(&self) -> usize {
        self.max_snd_wnd as usize
    }

    /// RFC 6582 window inflation by duplicate ACKs.
    const fn inflation(&self) -> usize {
        self.inflation as usize
    }

    /// The largest new-data segment the device cuts for us (0: no segmentation offload).
    const fn tso(&self) -> usize {
        self.tso as usize
    }

    /// The shift applied to the peer's window field.
    pub(super) const fn wscale(&self) -> u8 {
        self.wscale
    }

    /// Whether the peer's SYN offered window scaling (a SYN-ACK echoes the option only then).
    pub(super) const fn ws_offered(&self) -> bool {
        self.ws_offered
    }

    /// The effective send MSS: payload bytes in a full segment.
    pub(super) const fn mss(&self) -> usize {
        self.mss as usize
    }

    /// The RTT estimator and the retransmission timeout.
    pub(super) const fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The congestion controller.
    pub(super) fn congestion(&self) -> &dyn CongestionControl {
        &*self.cc
    }

    /// Where congestion control stands, for a trace.
    pub(super) fn phase(&self) -> super::trace::Phase {
        use super::trace::Phase;
        if self.rto_recover.is_some() {
            Phase::Timeout
        } else if self.in_recovery {
            Phase::Recovery
        } else if self.cc.in_conservative_slow_start() {
            Phase::ConservativeSlowStart
        } else if self.cc.in_slow_start() {
            Phase::SlowStart
        } else {
            Phase::CongestionAvoidance
        }
    }

    /// The send side's counters.
    pub(super) const fn stats(&self) -> &SendStats {
        &self.stats
    }

    /// Our timestamp clock at `now` (RFC 7323 §5.4).
    pub(super) fn ts_now(&self, now: Instant) -> u32 {
        ts_at(now, self.ts_offset)
    }

    // ----- Sequence space -----

    /// Sequence number just past the buffered data.
    fn buf_end(&self) -> SeqNumber {
        self.buf_seq.plus(self.buffer.len())
    }

    /// Where the FIN goes, once queued.
    fn fin_seq(&self) -> Option<SeqNumber> {
        self.fin_queued.then(|| self.buf_end())
    }

    /// Whether our FIN has been sent.
    fn fin_sent(&self) -> bool {
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
    fn unsent(&self) -> usize {
        let end = self.buf_end();
        if end > self.snd_nxt { end.since(self.snd_nxt) } else { 0 }
    }

    /// Whether something (data or FIN) waits to be sent for the first time.
    fn has_unsent(&self) -> bool {
        self.unsent() > 0 || (self.fin_queued && !self.fin_sent())
    }

    /// Nothing in flight and nothing queued: only keepalive probes can judge the peer.
    pub(super) fn is_idle(&self) -> bool {
        self.flight() == 0 && self.unsent() == 0
    }

    /// The sequence number of a keepalive probe: SND.UNA − 1, so the peer must answer
    /// (RFC 9293 §3.8.4).
    pub(super) fn keepalive_seq(&self) -> SeqNumber {
        SeqNumber(self.snd_una.0.wrapping_sub(1))
    }

    /// Bytes the network holds, as congestion control counts them: with SACK, RFC 6675 pipe
    /// (neither SACKed nor lost); without, after a timeout only what was resent since,
    /// otherwise the flight.
    fn pipe(&self) -> usize {
        if let Some(p) = self.rtx_next {
            return p.since(self.snd_una).min(self.flight());
        }
        if self.sack {
            // RFC 6675 §4 SetPipe with RACK's loss marks in place of IsLost.
            return self.rack.pipe();
        }
        self.flight()
    }

    /// The congestion window with RFC 6582 inflation or RFC 3042 limited transmit.
    fn effective_cwnd(&self) -> usize {
        let extra = if self.in_recovery {
            self.inflation()
        } else {
            self.dupacks.min(2) as usize * self.mss() // RFC 3042 §2
        };
        self.cc.cwnd().saturating_add(extra)
    }

    // ----- The handshake -----

    /// The connection opens at `now` (a SYN to send, or one received): the user timeout
    /// counts from here.
    pub(super) fn open(&mut self, now: Instant) {
        self.last_progress = now;
    }

    /// A passive open in LISTEN takes `iss` for the SYN that arrived: a fresh send side,
    /// keeping the counters.
    pub(super) fn restart(&mut self, iss: SeqNumber, config: &Config) {
        let stats = self.stats;
        *self = Self::new(iss, config);
        self.stats = stats;
    }

    /// Applies what the handshake settled.
    pub(super) fn negotiate(&mut self, n: Negotiated) {
        self.ws_offered = n.ws_offered;
        self.wscale = n.wscale;
        self.sack = n.sack;
        self.mss = to32(n.peer_mss.min(n.our_mss).saturating_sub(n.options).max(1));
    }

    /// The send window `wnd` from the segment at `seq` acknowledging `ack` (SND.WND,
    /// SND.WL1, SND.WL2), which is also the largest the peer has offered so far.
    pub(super) fn take_window(&mut self, wnd: usize, seq: SeqNumber, ack: SeqNumber) {
        self.snd_wnd = to32(wnd);
        self.max_snd_wnd = to32(wnd);
        self.snd_wl1 = seq;
        self.snd_wl2 = ack;
    }

    /// Our SYN (or SYN-ACK) goes out now, for the first time or again.
    pub(super) fn on_syn_sent(&mut self, now: Instant, timers: &mut Timers, config: &Config) {
        let retransmit = self.syn_retransmitted;
        self.note_sent(now, self.iss, self.iss.plus(1), 0, retransmit, timers, config);
    }

    /// Simultaneous open: the SYN-ACK takes the sequence number of our SYN again.
    pub(super) fn resend_syn(&mut self) {
        self.snd_nxt = self.iss;
    }

    /// A SYN cookie's SYN-ACK counts as sent (RFC 4987 §3.6): SND.NXT = ISS + 1, and the
    /// retransmission timer runs as if it had been.
    pub(super) fn syn_sent_by_cookie(&mut self, now: Instant, timers: &mut Timers) {
        self.snd_nxt = self.iss.plus(1);
        timers.set(Timer::Retransmit, now + self.rtt.rto());
    }

    /// Our SYN is acknowledged by `ack`, which echoed `tsecr` (RFC 9293 §3.10.7.3 fourth,
    /// §3.10.7.4 fifth): SND.UNA moves past it and its round trip is sampled.
    pub(super) fn on_syn_acked(
        &mut self,
        now: Instant,
        ack: SeqNumber,
        tsecr: Option<u32>,
        timers: &mut Timers,
        config: &Config,
    ) {
        self.snd_una = ack;
        if let Some(rtt) = self.rtt_sample(now, tsecr, ack) {
            self.rtt.sample(rtt, rto_bounds(config));
        }
        timers.clear(Timer::Retransmit);
    }

    /// The handshake is over and the MSS known: start congestion control with IW
    /// (RFC 6928: `initial_window` segments), the RTO of RFC 6298 §5.7 if the SYN was
    /// resent, and RACK's first min_RTT from the handshake's RTT (RFC 8985 §6.2).
    pub(super) fn on_established(&mut self, config: &Config) {
        self.cc = new_cc(config, self.mss());
        self.retries = 0;
        if self.syn_retransmitted {
            self.rtt.after_syn_timeout(rto_bounds(config));
        }
        if self.rtt.srtt() > Duration::ZERO {
            self.rack.on_rtt(self.rtt.srtt());
        }
    }

    // ----- Acknowledgments -----

    /// RFC 9293 §3.10.7.4 fifth (ESTABLISHED and later), with RFC 5961 §5 ACK acceptability:
    /// the ACK of `input` in state `state`.
    pub(super) fn on_ack(
        &mut self,
        now: Instant,
        input: &AckInput<'_>,
        state: State,
        timers: &mut Timers,
        config: &Config,
    ) -> AckOutcome {
        let (ack, snd_una, snd_nxt) = (input.ack, self.snd_una, self.snd_nxt);
        // RFC 9293 §3.10.7.4 fifth: an ACK for something not yet sent: ACK, drop.
        if ack > snd_nxt {
            return AckOutcome::Unacceptable;
        }
        // RFC 5961 §5.2: acceptable only within [SND.UNA - MAX.SND.WND, SND.NXT].
        let max_wnd = self.max_window().min(1 << 30);
        if ack < SeqNumber(snd_una.0.wrapping_sub(max_wnd as u32)) {
            return AckOutcome::Unacceptable;
        }
        let seg_wnd = usize::from(input.window) << self.wscale;
        let mut dsack = None;
        let sack_new = if self.sack && !input.sack_blocks.is_empty() {
            dsack = sack::dsack(ack, input.sack_blocks);
            let high = ack.max(snd_una);
            self.scoreboard.update(high, snd_nxt, input.sack_blocks)
        } else {
            0
        };
        if let Some(d) = dsack {
            self.on_dsack(now, d);
        }
        let outcome = if ack > snd_una {
            self.on_new_ack(now, input, timers, config);
            AckOutcome::Advanced(ack.since(snd_una))
        } else {
            if ack == snd_una
                && self.flight() > 0
                && input.bare
                // A zero window answers a probe: flow control, not a sign of loss.
                && seg_wnd > 0
                && if self.sack { sack_new > 0 } else { seg_wnd == self.window() }
            {
                // RFC 5681 §2: a duplicate ACK; with SACK, RFC 6675 §2: only one that SACKs
                // new data counts (a duplicated ACK or a D-SACK does not).
                self.on_dupack(now, timers);
            }
            AckOutcome::Old
        };
        // RFC 9293 §3.10.7.4 fifth: update the send window if the segment is newer.
        if self.snd_wl1 < input.seq || (self.snd_wl1 == input.seq && self.snd_wl2 <= ack) {
            self.snd_wnd = to32(seg_wnd);
            self.snd_wl1 = input.seq;
            self.snd_wl2 = ack;
            self.max_snd_wnd = to32(self.max_window().max(seg_wnd));
        }
        self.update_persist(now, timers, config);
        if self.sack {
            self.rack_on_ack(
                now,
                input.tsecr,
                state,
                ack > snd_una,
                sack_new,
                dsack.is_some(),
                timers,
            );
        }
        if self.flight() == 0 {
            // Idle: the per-segment records and SACK lists give their memory back.
            self.rack.release_when_idle();
            self.scoreboard.release_when_empty();
        }
        outcome
    }

    /// RFC 8985 §6.2 and §7.4 for an ACK (SACK connections): RACK's view of what was
    /// delivered, the fate of a tail loss probe, loss detection, the PTO.
    #[allow(clippy::too_many_arguments)]
    fn rack_on_ack(
        &mut self,
        now: Instant,
        echo: Option<u32>,
        state: State,
        advanced: bool,
        sack_new: usize,
        dsack: bool,
        timers: &mut Timers,
    ) {
        let offset = self.ts_offset;
        // The ACK echoes a timestamp older than the transmission at `xmit`.
        let echo_older =
            move |xmit: Instant| echo.is_some_and(|e| TsVal(e) < TsVal(ts_at(xmit, offset)));
        let snd_una = self.snd_una;
        self.rack.on_ack(now, snd_una, &self.scoreboard, echo_older);
        // RFC 8985 §7.4.2: did the probe repair a loss? Then the congestion response of a
        // fast recovery.
        if self.rack.probe_repaired(snd_una, advanced, sack_new, dsack) {
            let smss = self.mss();
            let flight = self.flight();
            self.cc.on_congestion_event(now, flight, smss);
            self.cc.on_recovery_exit(now, smss);
        }
        self.rack_detect_loss(now, timers);
        self.schedule_probe(now, state, timers);
    }

    /// RFC 8985 §6.2 step 5: mark losses, arm the reordering timer, start recovery.
    fn rack_detect_loss(&mut self, now: Instant, timers: &mut Timers) {
        let in_recovery = self.in_recovery || self.rto_recover.is_some();
        let sacked = self.scoreboard.sacked_bytes();
        let reo_wnd = self.rack.reo_wnd(in_recovery, sacked, self.mss(), self.rtt.srtt());
        let (lost, timeout) = self.rack.detect_loss(now, reo_wnd);
        self.stats.rack_lost = self.stats.rack_lost.wrapping_add(lost as u32);
        match timeout {
            Some(t) => timers.set(Timer::Reorder, now + t),
            None => timers.clear(Timer::Reorder),
        }
        if lost > 0 {
            self.maybe_enter_recovery(now, timers);
        }
    }

    /// RFC 2883: the peer reported a duplicate segment. Widen RACK's reordering window
    /// (RFC 8985 §6.2 step 4) and, once every retransmission of the episode proved
    /// unnecessary, undo it (RFC 3708 §3.2).
    fn on_dsack(&mut self, now: Instant, (left, _right): (SeqNumber, SeqNumber)) {
        bump(&mut self.stats.dsacks_received);
        self.rack.on_dsack(self.snd_una, self.snd_nxt);
        if let Some(u) = &mut self.undo {
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
        self.cc.on_spurious_congestion(now);
        bump(&mut self.stats.spurious_recoveries);
        self.undo = None;
        self.rto_undo = None;
        if self.in_recovery || self.rto_recover.is_some() {
            self.rack.on_recovery_exit();
        }
        self.in_recovery = false;
        self.rto_recover = None;
        self.rack.clear_lost();
    }

    /// SND.UNA < SEG.ACK <= SND.NXT: new data acknowledged.
    fn on_new_ack(
        &mut self,
        now: Instant,
        input: &AckInput<'_>,
        timers: &mut Timers,
        config: &Config,
    ) {
        let ack = input.ack;
        let flight_before = self.flight();
        let acked = ack.since(self.snd_una);
        // Data bytes leaving the buffer (the SYN and FIN occupy no buffer space).
        if ack > self.buf_seq {
            let n = ack.since(self.buf_seq).min(self.buffer.len());
            self.buffer.consume(n);
            self.buf_seq = self.buf_seq.plus(n);
            self.stats.bytes_acked += n as u64;
            if self.buffer.is_empty() {
                self.buffer.shrink_when_empty();
            }
        }
        self.snd_una = ack;
        self.scoreboard.on_ack(ack);
        if let Some(p) = self.rtx_next {
            let p = p.max(ack);
            self.rtx_next = (p < self.snd_nxt).then_some(p);
        }
        let sample = self.rtt_sample(now, input.tsecr, ack);
        if let Some(rtt) = sample {
            self.rtt.sample(rtt, rto_bounds(config));
            self.rack.on_rtt(rtt);
        } else {
            self.rtt.reset_backoff();
        }
        self.retries = 0;
        self.last_progress = now;
        self.dupacks = 0;
        let smss = self.mss();
        // RFC 3522 §2: the first ACK after a timeout echoes a timestamp older than the
        // retransmission: the original arrived, the timeout was spurious.
        if let Some((_, at)) = self.rto_undo.filter(|&(una, _)| ack > una) {
            self.rto_undo = None;
            if input.tsecr.is_some_and(|e| TsVal(e) < TsVal(self.ts_now(at))) {
                self.undo_spurious(now);
            }
        }
        if self.rto_recover.is_some_and(|r| ack >= r) {
            self.rto_recover = None;
            self.rack.on_recovery_exit();
        }
        if self.in_recovery {
            if ack >= self.recover {
                // RFC 6582 §3.2 step 3 / RFC 6675 §5: full ACK ends recovery.
                self.in_recovery = false;
                self.inflation = 0;
                self.cc.on_recovery_exit(now, smss);
                self.rack.on_recovery_exit();
            } else if !self.sack {
                // RFC 6582 §3.2 step 3: partial ACK: resend the next hole, deflate.
                self.fast_rtx = true;
                self.inflation = to32(self.inflation().saturating_sub(acked) + smss);
            }
        } else {
            // RFC 5681 §3.1: slow start or congestion avoidance.
            self.cc.on_ack(now, acked, flight_before, sample, smss);
        }
        // RFC 6675 §5: with SACK, enter recovery as soon as the next segment is lost.
        self.maybe_enter_recovery(now, timers);
        // RFC 6298 §5.2, §5.3: stop the timer when all is acknowledged, else restart it.
        if self.flight() == 0 {
            timers.clear(Timer::Retransmit);
            timers.clear(Timer::User);
        } else {
            timers.set(Timer::Retransmit, now + self.rtt.rto());
            if let Some(ut) = config.user_timeout {
                timers.set(Timer::User, now + ut);
            }
        }
    }

    /// An RTT measurement from the ACK `ack` that echoed `tsecr`: RFC 7323 §4.1 from the
    /// echoed timestamp, else from the one timed segment (Karn's rule: never a
    /// retransmitted one).
    fn rtt_sample(&mut self, now: Instant, tsecr: Option<u32>, ack: SeqNumber) -> Option<Duration> {
        if let Some(tsecr) = tsecr {
            let ticks = self.ts_now(now).wrapping_sub(tsecr);
            self.rtt_timing = None;
            return (tsecr != 0 && ticks < 1 << 30)
                .then(|| Duration::from_millis(u64::from(ticks)));
        }
        match self.rtt_timing {
            Some((end, sent)) if ack >= end => {
                self.rtt_timing = None;
                Some(now - sent)
            }
            _ => None,
        }
    }

    fn on_dupack(&mut self, now: Instant, timers: &mut Timers) {
        self.dupacks += 1;
        if self.in_recovery {
            if !self.sack {
                // RFC 6582 §3.2 step 4 (RFC 5681 §3.2 step 4): inflate by one SMSS.
                self.inflation = to32(self.inflation() + self.mss());
            }
            return;
        }
        self.maybe_enter_recovery(now, timers);
    }

    /// RFC 5681 §3.2 step 2, RFC 6582 §3.2 step 2, RFC 6675 §5 (a)/(b): enter fast recovery.
    fn maybe_enter_recovery(&mut self, now: Instant, timers: &mut Timers) {
        if self.in_recovery || self.rtx_next.is_some() || self.flight() == 0 {
            return;
        }
        let smss = self.mss();
        if self.sack {
            // RFC 8985: RACK marked a loss (it replaces RFC 6675's DupThresh rule); after a
            // timeout the retransmissions go on in slow start.
            if self.rto_recover.is_some() || !self.rack.has_lost() {
                return;
            }
        } else if self.dupacks < 3 || self.snd_una <= self.recover {
            // RFC 6582 §3.2 step 2: only if the ACK covers more than `recover`.
            return;
        }
        self.in_recovery = true;
        self.recover = self.snd_nxt;
        bump(&mut self.stats.fast_recoveries);
        // RFC 6675 §5 step (4.2): FlightSize, less what the peer SACKed.
        let flight = self.flight().saturating_sub(self.scoreboard.sacked_bytes());
        self.cc.on_congestion_event(now, flight, smss);
        self.undo = Some(Undo { marker: self.snd_una, retrans: 0 });
        self.rack.forget_probe();
        timers.clear(Timer::Probe);
        self.inflation = to32(if self.sack { 0 } else { 3 * smss });
        self.fast_rtx = true;
        self.rtt_timing = None;
    }

    // ----- Timers -----

    /// Arms the PTO (RFC 8985 §7.2) when a tail loss probe may be needed: SACK in use, not
    /// in recovery, no probe outstanding, data in flight. The probe is sent only if it comes
    /// before the retransmission timeout.
    fn schedule_probe(&mut self, now: Instant, state: State, timers: &mut Timers) {
        let ok = self.sack
            && state.sends_data()
            && !self.in_recovery
            && self.rto_recover.is_none()
            && !self.rack.probe_outstanding()
            && self.flight() > 0
            && self.window() > 0
            && !timers.is_set(Timer::Persist);
        let at = now + self.rack.pto(self.rtt.srtt());
        match timers.get(Timer::Retransmit) {
            Some(rto_at) if ok && at < rto_at => timers.set(Timer::Probe, at),
            _ => timers.clear(Timer::Probe),
        }
    }

    /// The PTO fired: a probe is due (RFC 8985 §7.3).
    pub(super) fn on_probe_timeout(&mut self, state: State) {
        self.tlp_pending = self.sack
            && state.is_synchronized()
            && !self.in_recovery
            && self.rto_recover.is_none()
            && !self.rack.probe_outstanding()
            && self.flight() > 0;
    }

    /// The RACK reordering timer fired (RFC 8985 §6.3).
    pub(super) fn on_reorder_timeout(&mut self, now: Instant, state: State, timers: &mut Timers) {
        if self.sack && state.is_synchronized() && self.flight() > 0 {
            self.rack_detect_loss(now, timers);
        }
    }

    /// Starts or stops the persist timer (RFC 9293 §3.8.6.1) after the window changed.
    fn update_persist(&mut self, now: Instant, timers: &mut Timers, config: &Config) {
        let zero = self.window() == 0;
        if zero && self.flight() <= 1 && (self.has_unsent() || self.flight() == 1) {
            if !timers.is_set(Timer::Persist) {
                timers.clear(Timer::Retransmit);
                timers.set(Timer::Persist, now + self.persist_interval(config));
            }
        } else if !zero {
            if timers.is_set(Timer::Persist) {
                timers.clear(Timer::Persist);
                if self.flight() > 0 {
                    timers.set(Timer::Retransmit, now + self.rtt.rto());
                }
            }
            self.persist_backoff = 0;
        }
    }

    fn persist_interval(&self, config: &Config) -> Duration {
        let base = self.rtt.rto().max(config.rto_min);
        let f = 1u64.checked_shl(self.persist_backoff.min(32)).unwrap_or(u64::MAX);
        base.saturating_mul(f).min(config.rto_max)
    }

    /// The persist timer fired: send a probe, back off (RFC 9293 §3.8.6.1).
    pub(super) fn on_persist_timeout(
        &mut self,
        now: Instant,
        state: State,
        timers: &mut Timers,
        config: &Config,
    ) {
        if !state.is_synchronized() {
            return;
        }
        if self.window() > 0 {
            // The window is open but too small for sender SWS avoidance, and nothing is in
            // flight to bring an ACK: RFC 1122 §4.2.3.4 override timeout, send what fits.
            self.sws_override = true;
            return;
        }
        self.probe_pending = true;
        self.persist_backoff = self.persist_backoff.saturating_add(1);
        timers.set(Timer::Persist, now + self.persist_interval(config));
    }

    /// Whether sent data has stayed unacknowledged for `limit` (RFC 5482 user timeout).
    pub(super) fn user_timed_out(&self, now: Instant, limit: Duration) -> bool {
        self.flight() > 0 && now - self.last_progress >= limit
    }

    /// The retransmission timer fired (RFC 6298 §5.4–5.6) in `state`.
    pub(super) fn on_retransmit_timeout(
        &mut self,
        now: Instant,
        state: State,
        timers: &mut Timers,
        config: &Config,
    ) -> Expiry {
        let expiry = match state {
            State::SynSent | State::SynReceived => {
                if self.retries >= config.syn_retries {
                    return Expiry::GiveUp;
                }
                self.retries += 1;
                bump(&mut self.stats.rto_expiries);
                self.syn_retransmitted = true;
                self.snd_nxt = self.iss;
                Expiry::ResendSyn
            }
            State::Closed | State::Listen | State::TimeWait => return Expiry::Idle,
            _ => {
                let flight = self.flight();
                if flight == 0 {
                    return Expiry::Idle;
                }
                if self.retries >= config.retries {
                    return Expiry::GiveUp;
                }
                self.retries += 1;
                bump(&mut self.stats.rto_expiries);
                // RFC 5681 §3.1 eq. 4 (in the controller); cwnd = 1 SMSS.
                let mss = self.mss();
                self.cc.on_rto(now, flight, mss);
                self.in_recovery = false;
                self.inflation = 0;
                self.dupacks = 0;
                self.fast_rtx = false;
                // RFC 6582 §3.2 step 1: recover = high data.
                self.recover = self.snd_nxt;
                if self.sack {
                    // RFC 6675 §5.1 lets the sender keep SACK information; RFC 8985 §6.3:
                    // everything not SACKed is lost and is resent in slow start.
                    self.rack.mark_all_lost();
                    self.rack.forget_probe();
                    self.tlp_pending = false;
                    timers.clear(Timer::Probe);
                    timers.clear(Timer::Reorder);
                    self.rto_recover = Some(self.snd_nxt);
                    if self.undo.is_none() {
                        self.undo = Some(Undo { marker: self.snd_una, retrans: 0 });
                    }
                    if self.rto_undo.is_none() {
                        self.rto_undo = Some((self.snd_una, now));
                    }
                } else {
                    // Without SACK: go back N from SND.UNA.
                    self.rtx_next = Some(self.snd_una);
                }
                Expiry::Resend
            }
        };
        // RFC 6298 §5.5, §5.6: back off and restart; Karn: no timing of retransmissions.
        self.rtt.back_off(config.rto_max);
        self.rtt_timing = None;
        timers.set(Timer::Retransmit, now + self.rtt.rto());
        expiry
    }

    /// Bookkeeping for a segment covering `[start, end)` of sequence space.
    #[allow(clippy::too_many_arguments)]
    fn note_sent(
        &mut self,
        now: Instant,
        start: SeqNumber,
        end: SeqNumber,
        data_len: usize,
        retransmit: bool,
        timers: &mut Timers,
        config: &Config,
    ) {
        if self.flight() == 0 {
            self.last_progress = now;
            if let Some(ut) = config.user_timeout {
                timers.set(Timer::User, now + ut);
            }
        }
        if end > self.snd_nxt {
            self.snd_nxt = end;
        }
        self.last_send = Some(now);
        // RFC 6298 §5.1: start the timer if it is not running (the persist timer stands in
        // for it while the window is zero).
        if !timers.is_set(Timer::Persist) {
            timers.set_if_idle(Timer::Retransmit, now + self.rtt.rto());
        }
        if retransmit {
            self.stats.retransmitted_segments += 1;
            if let Some(u) = &mut self.undo {
                u.retrans += 1;
            }
            // Karn's rule: a retransmitted range is never timed.
            if self.rtt_timing.is_some_and(|(e, _)| e > start) {
                self.rtt_timing = None;
            }
        } else if self.rtt_timing.is_none() {
            self.rtt_timing = Some((end, now));
        }
        self.stats.bytes_sent += data_len as u64;
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
        assert_eq!(snd.pipe(), 8000, "without SACK or a timeout: the flight");
        // Go-back-N after an RTO: only the bytes resent since count.
        snd.rtx_next = Some(snd.snd_una.plus(1500));
        assert_eq!(snd.pipe(), 1500);
        snd.sack = true;
        assert_eq!(snd.pipe(), 1500, "the timeout's rule holds with SACK too");
    }

    /// The settings of [`sender`], with NewReno so window arithmetic is easy to follow.
    fn config() -> Config {
        Config {
            mss: 1000,
            initial_window: 10,
            congestion: Congestion::NewReno,
            retries: 3,
            syn_retries: 2,
            ..Config::default()
        }
    }

    /// [`sender`] with NewReno, `queued` bytes written and the peer's window `window`.
    fn sending(queued: usize, window: usize) -> (Sender, Timers, Config) {
        let config = config();
        let mut snd = Sender::new(ISS, &config);
        snd.snd_una = ISS.plus(1);
        snd.snd_nxt = ISS.plus(1);
        snd.on_established(&config);
        snd.take_window(window, SeqNumber(7000), ISS.plus(1));
        assert_eq!(snd.write(&vec![7; queued]), queued);
        (snd, Timers::default(), config)
    }

    const ROOM: Room = Room { options: 0, scratch: 65_536 };

    /// Every segment `snd` sends now, at `at`.
    fn drain(
        snd: &mut Sender,
        at: Instant,
        timers: &mut Timers,
        config: &Config,
    ) -> Vec<DataSegment> {
        std::iter::from_fn(|| snd.next_segment(at, State::Established, ROOM, timers, config))
            .collect()
    }

    /// A bare ACK of `ack` with window `window` (unscaled).
    fn ack_of(ack: SeqNumber, window: u16) -> AckInput<'static> {
        AckInput {
            seq: SeqNumber(7000),
            ack,
            window,
            sack_blocks: &SackBlocks::EMPTY,
            tsecr: None,
            bare: true,
        }
    }

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    #[test]
    fn new_data_goes_out_as_the_congestion_and_peer_windows_allow() {
        let (mut snd, mut timers, config) = sending(30_000, 15_000);
        let sent = drain(&mut snd, at(0), &mut timers, &config);
        // IW10 of 1000-byte segments, below the peer's 15,000.
        assert_eq!(sent.len(), 10);
        for (i, s) in sent.iter().enumerate() {
            assert_eq!((s.seq, s.len, s.fin), (ISS.plus(1 + 1000 * i), 1000, false));
            assert_eq!(s.offset, 1000 * i, "the payload is read from the buffer in place");
        }
        assert_eq!(snd.flight(), 10_000);
        assert!(timers.is_set(Timer::Retransmit), "RFC 6298 §5.1: the timer runs");
        // An ACK of half: slow start opens cwnd by two segments at most (RFC 3465 §2.2), and
        // the window the ACK carries, 6,000 bytes from the new SND.UNA, lets only one
        // segment more out though cwnd would allow seven.
        let outcome = snd.on_ack(
            at(50),
            &ack_of(ISS.plus(5001), 6000),
            State::Established,
            &mut timers,
            &config,
        );
        assert_eq!(outcome, AckOutcome::Advanced(5000));
        assert_eq!((snd.congestion().cwnd(), snd.stats().bytes_acked), (12_000, 5000));
        let more = drain(&mut snd, at(50), &mut timers, &config);
        assert_eq!(more.iter().map(|s| s.seq).collect::<Vec<_>>(), [ISS.plus(10_001)]);
        assert_eq!(snd.nxt(), ISS.plus(1 + 11_000));
        // Everything acknowledged: the retransmission timer stops.
        let all = ISS.plus(1 + 11_000);
        let outcome =
            snd.on_ack(at(100), &ack_of(all, 60_000), State::Established, &mut timers, &config);
        assert_eq!(outcome, AckOutcome::Advanced(6000));
        assert_eq!(snd.flight(), 0);
        assert!(!timers.is_set(Timer::Retransmit));
    }

    #[test]
    fn an_ack_of_unsent_data_or_from_before_the_window_is_unacceptable() {
        let (mut snd, mut timers, config) = sending(5000, 60_000);
        drain(&mut snd, at(0), &mut timers, &config);
        let established = State::Established;
        let beyond = ack_of(snd.nxt().plus(1), 60_000);
        let outcome = snd.on_ack(at(1), &beyond, established, &mut timers, &config);
        assert_eq!(outcome, AckOutcome::Unacceptable, "RFC 9293 §3.10.7.4: ACK of unsent data");
        // RFC 5961 §5.2: below SND.UNA - MAX.SND.WND.
        let ancient = ack_of(SeqNumber(ISS.0.wrapping_sub(70_000)), 60_000);
        let outcome = snd.on_ack(at(1), &ancient, established, &mut timers, &config);
        assert_eq!(outcome, AckOutcome::Unacceptable);
        assert_eq!(snd.una(), ISS.plus(1), "neither moved SND.UNA");
        let old = ack_of(ISS.plus(1), 60_000);
        assert_eq!(snd.on_ack(at(1), &old, established, &mut timers, &config), AckOutcome::Old);
    }

    #[test]
    fn three_duplicate_acks_resend_the_first_segment_and_halve_the_window() {
        let (mut snd, mut timers, config) = sending(10_000, 60_000);
        assert_eq!(drain(&mut snd, at(0), &mut timers, &config).len(), 10);
        let dup = ack_of(ISS.plus(1), 60_000);
        // RFC 3042: the first two duplicates let one new segment each out (none is left).
        for _ in 0..2 {
            snd.on_ack(at(30), &dup, State::Established, &mut timers, &config);
            assert!(!snd.in_recovery);
        }
        // RFC 5681 §3.2: the third enters fast recovery.
        snd.on_ack(at(31), &dup, State::Established, &mut timers, &config);
        assert!(snd.in_recovery);
        assert_eq!(snd.stats().fast_recoveries, 1);
        assert_eq!(snd.congestion().ssthresh(), 5000, "half the flight");
        let resent = snd.next_segment(at(31), State::Established, ROOM, &mut timers, &config);
        assert_eq!(resent.map(|s| (s.seq, s.len)), Some((ISS.plus(1), 1000)));
        assert_eq!(snd.stats().retransmitted_segments, 1);
        // A window update (not the same window) is not a duplicate ACK.
        let update = ack_of(ISS.plus(1), 50_000);
        snd.on_ack(at(32), &update, State::Established, &mut timers, &config);
        assert_eq!(snd.dupacks, 3);
        // The full ACK ends recovery at ssthresh.
        let full = ack_of(ISS.plus(10_001), 60_000);
        snd.on_ack(at(60), &full, State::Established, &mut timers, &config);
        assert!(!snd.in_recovery);
        assert_eq!(snd.congestion().cwnd(), 5000);
    }

    #[test]
    fn a_timeout_goes_back_to_snd_una_and_the_retries_run_out() {
        let (mut snd, mut timers, config) = sending(4000, 60_000);
        drain(&mut snd, at(0), &mut timers, &config);
        let rto = snd.rtt().rto();
        for n in 1..=config.retries {
            let expiry = snd.on_retransmit_timeout(at(0), State::Established, &mut timers, &config);
            assert_eq!(expiry, Expiry::Resend, "timeout {n}");
            assert_eq!(snd.rtt().rto(), rto.saturating_mul(1 << n), "RFC 6298 §5.5 backoff");
            // Go-back-N: cwnd is one segment, and the first one goes again.
            let resent = drain(&mut snd, at(0), &mut timers, &config);
            assert_eq!(resent.iter().map(|s| s.seq).collect::<Vec<_>>(), [ISS.plus(1)]);
        }
        assert_eq!(snd.stats().rto_expiries, config.retries);
        let expiry = snd.on_retransmit_timeout(at(0), State::Established, &mut timers, &config);
        assert_eq!(expiry, Expiry::GiveUp);
        // Nothing in flight: a timeout has nothing to do.
        let (mut idle, mut timers, config) = sending(0, 60_000);
        let expiry = idle.on_retransmit_timeout(at(0), State::Established, &mut timers, &config);
        assert_eq!(expiry, Expiry::Idle);
    }

    #[test]
    fn the_syn_is_resent_until_the_syn_retries_run_out() {
        let config = config();
        let mut snd = Sender::new(ISS, &config);
        let mut timers = Timers::default();
        snd.on_syn_sent(at(0), &mut timers, &config);
        assert_eq!(snd.nxt(), ISS.plus(1));
        for _ in 0..config.syn_retries {
            let expiry = snd.on_retransmit_timeout(at(0), State::SynSent, &mut timers, &config);
            assert_eq!(expiry, Expiry::ResendSyn);
            assert_eq!(snd.nxt(), ISS, "the SYN's sequence number is used again");
            snd.on_syn_sent(at(0), &mut timers, &config);
        }
        let expiry = snd.on_retransmit_timeout(at(0), State::SynSent, &mut timers, &config);
        assert_eq!(expiry, Expiry::GiveUp);
    }

    #[test]
    fn a_zero_window_is_probed_one_byte_at_a_time() {
        let (mut snd, mut timers, config) = sending(3000, 0);
        assert!(drain(&mut snd, at(0), &mut timers, &config).is_empty());
        assert!(timers.is_set(Timer::Persist), "RFC 9293 §3.8.6.1: the persist timer runs");
        snd.on_persist_timeout(at(1000), State::Established, &mut timers, &config);
        let probe = drain(&mut snd, at(1000), &mut timers, &config);
        assert_eq!(probe.iter().map(|s| (s.seq, s.len)).collect::<Vec<_>>(), [(ISS.plus(1), 1)]);
        assert_eq!(snd.stats().zero_window_probes, 1);
        // The window opens: the rest goes, the persist timer stops.
        let open = ack_of(ISS.plus(2), 60_000);
        snd.on_ack(at(1100), &open, State::Established, &mut timers, &config);
        assert!(!timers.is_set(Timer::Persist));
        let rest = drain(&mut snd, at(1100), &mut timers, &config);
        let lens: Vec<_> = rest.iter().map(|s| s.len).collect();
        assert_eq!(lens, [1000, 1000], "Nagle holds the last 999 bytes until these are ACKed");
    }

    #[test]
    fn nagle_holds_a_small_segment_while_data_is_unacknowledged() {
        let (mut snd, mut timers, config) = sending(1500, 60_000);
        let first = drain(&mut snd, at(0), &mut timers, &config);
        assert_eq!(first.iter().map(|s| s.len).collect::<Vec<_>>(), [1000], "500 bytes held");
        snd.set_nagle(false);
        let rest = drain(&mut snd, at(0), &mut timers, &config);
        assert_eq!(rest.iter().map(|s| (s.len, s.push)).collect::<Vec<_>>(), [(500, true)]);
    }

    #[test]
    fn the_fin_rides_on_the_last_segment_and_its_ack_is_seen() {
        let (mut snd, mut timers, config) = sending(1500, 60_000);
        snd.queue_fin();
        let sent = drain(&mut snd, at(0), &mut timers, &config);
        let last = sent.last().copied().unwrap();
        assert_eq!((last.len, last.fin), (500, true), "no small-segment wait once the FIN is due");
        assert_eq!(snd.nxt(), ISS.plus(1 + 1500 + 1));
        assert!(!snd.fin_acked());
        let all = ack_of(snd.nxt(), 60_000);
        snd.on_ack(at(10), &all, State::FinWait1, &mut timers, &config);
        assert!(snd.fin_acked() && snd.is_idle());
    }

    #[test]
    fn a_segment_carries_no_more_than_its_scratch_and_options_leave() {
        let (mut snd, mut timers, config) = sending(5000, 60_000);
        let small = Room { options: 12, scratch: 600 };
        let s = snd.next_segment(at(0), State::Established, small, &mut timers, &config);
        assert_eq!(s.map(|s| s.len), Some(600));
        let sack = Room { options: 12, scratch: 65_536 };
        let s = snd.next_segment(at(0), State::Established, sack, &mut timers, &config);
        assert_eq!(s.map(|s| (s.seq, s.len)), Some((ISS.plus(601), 988)), "RFC 6691");
    }
}
