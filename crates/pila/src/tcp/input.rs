//! The SEGMENT ARRIVES procedure (RFC 9293 §3.10.7), step by step, with the RFC 5961
//! hardening and RFC 7323 PAWS: one `impl Connection` that checks a segment against the
//! state and the receive window, and hands its parts to the [`Sender`](super::send::Sender)
//! (the acknowledgment) and the [`Receiver`](super::recv::Receiver) (the text).

use core::net::SocketAddr;
use std::sync::Arc;

use super::connection::{Connection, Error, Event, Origin, bump};
use super::send::{AckInput, AckOutcome, Negotiated};
use super::state::{State, our_wscale, reset_numbers};
use super::timers::Timer;
use crate::time::Instant;
use crate::wire::tcp::{Flags, Repr, SeqNumber};

impl Connection {
    /// RFC 9293 §3.10.7: SEGMENT ARRIVES.
    pub(super) fn segment_arrives(&mut self, now: Instant, remote: SocketAddr, seg: &Repr<'_>) {
        match self.state {
            State::Closed => self.closed_arrives(seg),
            State::Listen => self.listen_arrives(now, remote, seg),
            State::SynSent => self.syn_sent_arrives(now, seg),
            _ => self.synchronized_arrives(now, seg),
        }
    }

    /// RFC 9293 §3.10.7.1: CLOSED: answer anything but a RST with a RST.
    fn closed_arrives(&mut self, seg: &Repr<'_>) {
        self.rst_pending = reset_numbers(seg);
        self.rst_port = Some(seg.src_port);
    }

    /// RFC 9293 §3.10.7.2: LISTEN.
    fn listen_arrives(&mut self, now: Instant, remote: SocketAddr, seg: &Repr<'_>) {
        // RFC 9293 §3.10.7.2 first: an incoming RST is ignored.
        if seg.flags.contains(Flags::RST) {
            return;
        }
        // RFC 9293 §3.10.7.2 second: any ACK is bad: <SEQ=SEG.ACK><CTL=RST>.
        if let Some(ack) = seg.ack_number {
            self.rst_pending = Some((ack, None));
            self.rst_port = Some(seg.src_port);
            return;
        }
        // RFC 9293 §3.10.7.2 third: SYN: choose the ISS, go to SYN-RECEIVED. (Security
        // compartments are not used; text in the SYN is dropped and will be resent.)
        if seg.flags.contains(Flags::SYN) {
            let iss = match &self.isn_gen {
                Some(g) => g.isn(now, self.local, remote),
                None => SeqNumber(0),
            };
            self.remote = Some(remote);
            self.snd.restart(iss, &self.config);
            self.passive_open(now, seg);
        }
        // RFC 9293 §3.10.7.2 fourth: anything else is dropped.
    }

    /// Records the peer's SYN and negotiates options (RFC 9293 §3.10.7.2; RFC 7323, RFC 2018,
    /// RFC 9293 §3.7.1); the SYN-ACK is due.
    pub(super) fn passive_open(&mut self, now: Instant, syn: &Repr<'_>) {
        self.transition(State::SynReceived);
        self.peer_syn(syn, self.snd.iss());
        self.snd.open(now);
        self.syn_pending = true;
    }

    /// The peer's SYN (or SYN-ACK), the same in every open: its sequence number, the options
    /// both sides now use, and its window, taken with `wl2` as SND.WL2 (RFC 7323 §2.2: the
    /// window in a SYN is not scaled).
    fn peer_syn(&mut self, syn: &Repr<'_>, wl2: SeqNumber) {
        self.rcv.on_syn(syn.seq_number);
        self.negotiate(syn);
        self.snd.take_window(usize::from(syn.window_len), syn.seq_number, wl2);
    }

    /// Our SYN is acknowledged by `ack` (RFC 9293 §3.10.7.3 fourth, §3.10.7.4 fifth): SND.UNA
    /// moves past it, its round trip is sampled, and the connection is ESTABLISHED.
    fn our_syn_acked(&mut self, now: Instant, seg: &Repr<'_>, ack: SeqNumber) {
        self.snd.on_syn_acked(now, ack, self.tsecr(seg), &mut self.timers, &self.config);
        self.enter_established(now);
    }

    /// The most our segments may carry as the handshake ends: the MSS we advertise, or less
    /// if a path MTU learned while our SYN was out lowered it
    /// ([`Connection::set_path_mtu`]); the options are taken off later.
    fn mss_before_handshake(&self) -> usize {
        let ours = usize::from(super::advertised_mss(&self.config, self.local));
        if self.state == State::SynSent { ours.min(self.snd.mss()) } else { ours }
    }

    /// Options from the peer's SYN or SYN-ACK: a feature is on only if both SYNs carry it.
    fn negotiate(&mut self, syn: &Repr<'_>) {
        let o = &syn.options;
        let wscale = match (self.config.window_scaling, o.window_scale) {
            (true, Some(ws)) => {
                self.rcv.set_wscale(our_wscale(&self.config));
                // RFC 7323 §2.3: shifts above 14 are treated as 14.
                ws.min(14)
            }
            _ => {
                self.rcv.set_wscale(0);
                0
            }
        };
        self.sack_ok = self.config.sack && o.sack_permitted;
        self.ts_ok = self.config.timestamps && o.timestamp.is_some();
        if let (true, Some(ts)) = (self.ts_ok, o.timestamp) {
            self.rcv.set_ts_recent(ts.tsval);
        }
        self.snd.negotiate(Negotiated {
            // RFC 9293 §3.7.1: 536 when the MSS option is absent (RFC 8200 §8.3: 1220 over
            // IPv6, whose every link carries 1280 bytes).
            peer_mss: o.mss.map_or(super::default_peer_mss(self.local), usize::from),
            our_mss: self.mss_before_handshake(),
            ws_offered: o.window_scale.is_some(),
            wscale,
            sack: self.sack_ok,
            // The effective send MSS leaves room for the options every segment carries.
            options: if self.ts_ok { 12 } else { 0 },
        });
    }

    /// RFC 9293 §3.10.7.3: SYN-SENT.
    fn syn_sent_arrives(&mut self, now: Instant, seg: &Repr<'_>) {
        let iss = self.snd.iss();
        let rst = seg.flags.contains(Flags::RST);
        // RFC 9293 §3.10.7.3 first: an ACK must acknowledge our SYN: ISS < SEG.ACK <= SND.NXT.
        if let Some(ack) = seg.ack_number {
            if ack <= iss || ack > self.snd.nxt() {
                if !rst {
                    self.rst_pending = Some((ack, None));
                }
                return;
            }
        }
        // RFC 9293 §3.10.7.3 second (RFC 5961 §3: the ACK made it acceptable): RST with an
        // acceptable ACK means "connection refused"; without ACK it is dropped.
        if rst {
            if seg.ack_number.is_some() {
                self.enter_closed(Some(Error::Refused));
            }
            return;
        }
        // RFC 9293 §3.10.7.3 third: no security/compartment check.
        // RFC 9293 §3.10.7.3 fourth: SYN.
        if !seg.flags.contains(Flags::SYN) {
            // RFC 9293 §3.10.7.3 fifth: neither SYN nor RST: drop.
            return;
        }
        match seg.ack_number {
            Some(ack) => {
                // Our SYN is acknowledged: ESTABLISHED, and ACK the peer's SYN.
                self.peer_syn(seg, ack);
                self.our_syn_acked(now, seg, ack);
                self.rcv.request_ack();
                // RFC 9293 §3.10.7.3 fourth: continue with the sixth step (text, FIN).
                let fin = seg.flags.contains(Flags::FIN);
                self.accept_text(now, seg.seq_number.plus(1), seg.payload, fin);
            }
            None => {
                // Simultaneous open: SYN-RECEIVED, SYN-ACK with the same ISS.
                self.peer_syn(seg, iss);
                self.transition(State::SynReceived);
                self.snd.resend_syn();
                self.syn_pending = true;
                self.timers.clear(Timer::Retransmit);
            }
        }
    }

    /// RFC 9293 §3.10.7.4: SYN-RECEIVED and the synchronized states.
    fn synchronized_arrives(&mut self, now: Instant, seg: &Repr<'_>) {
        let rst = seg.flags.contains(Flags::RST);
        let syn = seg.flags.contains(Flags::SYN);
        let mut fin = seg.flags.contains(Flags::FIN);

        // RFC 7323 §5.3 R1 (before the sequence check): PAWS. An older TSval than
        // TS.Recent marks an old duplicate: ACK and drop.
        if let (true, Some(ts), false) = (self.ts_ok, seg.options.timestamp, rst) {
            if self.rcv.paws_rejects(ts.tsval) {
                bump(&mut self.stats.paws_dropped);
                self.answer_unacceptable(now, seg);
                return;
            }
        }

        // RFC 9293 §3.10.7.4 first: the acceptability test, four cases.
        let seq = seg.seq_number;
        let seg_len = seg.segment_len();
        let rcv_nxt = self.rcv.rcv_nxt();
        let wnd = self.rcv.rcv_wnd();
        let in_window = |s: SeqNumber| rcv_nxt <= s && s < rcv_nxt.plus(wnd);
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seq == rcv_nxt,
            (0, _) => in_window(seq),
            (_, 0) => false,
            (_, _) => in_window(seq) || in_window(seq.plus(seg_len - 1)),
        };
        // RFC 9293 §3.10.7.4 first: with a zero window, valid ACKs and RSTs are still
        // processed; the text is dropped.
        let zero_window_text = !acceptable && wnd == 0 && seq == rcv_nxt;
        if !acceptable && !zero_window_text {
            // RFC 9293 §3.10.7.4 first: unacceptable: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
            // unless RST. A retransmitted FIN in TIME-WAIT restarts the 2·MSL timer.
            if !rst {
                self.answer_unacceptable(now, seg);
                // RFC 2883 §4 (1): data wholly below RCV.NXT is a duplicate: D-SACK it.
                let len = seg.payload.len();
                if len > 0 && seq.plus(len) <= rcv_nxt && !syn {
                    self.rcv.report_duplicate(seq, seq.plus(len));
                }
                if self.state == State::TimeWait && fin {
                    self.timers.set(Timer::TimeWait, now + self.config.time_wait);
                }
            }
            return;
        }
        // RFC 7323 §4.3 (2): TS.Recent from a segment covering Last.ACK.sent; not from one
        // that acknowledges what we never sent, which the ACK step drops (RFC 9293
        // §3.10.7.4 fifth): a forged segment must not move TS.Recent ahead of the real
        // peer's clock, after which PAWS would drop everything the peer sends.
        let acks_unsent = seg.ack_number.is_some_and(|ack| ack > self.snd.nxt());
        if let (true, Some(ts), false) = (self.ts_ok, seg.options.timestamp, acks_unsent) {
            self.rcv.update_ts_recent(seq, ts.tsval);
        }
        self.restart_keepalive(now);

        // RFC 9293 §3.10.7.4 first: trim to the window: drop what is below RCV.NXT...
        let mut data = seg.payload;
        let mut text_seq = seq;
        if zero_window_text {
            data = &[];
            fin = false;
        } else {
            if seq < rcv_nxt {
                let mut skip = rcv_nxt.since(seq);
                if syn {
                    skip -= 1;
                }
                // RFC 2883 §4 (1): the part below RCV.NXT was a duplicate: D-SACK it.
                if !syn && skip > 0 && !data.is_empty() {
                    let dup_end = seq.plus(skip.min(data.len()));
                    self.rcv.report_duplicate(seq, dup_end);
                }
                data = data.get(skip..).unwrap_or(&[]);
                text_seq = rcv_nxt;
            }
            // ...and beyond the right edge (a FIN beyond it goes too).
            let room = self.rcv.room_from(text_seq).min(wnd);
            if data.len() > room {
                data = data.get(..room).unwrap_or(&[]);
                fin = false;
            }
        }

        // RFC 9293 §3.10.7.4 second: RST (RFC 5961 §3.2: only an exact RCV.NXT resets;
        // otherwise, being in the window, it earns a challenge ACK).
        if rst {
            if seq != rcv_nxt {
                self.challenge_ack(now);
                return;
            }
            match self.state {
                // RFC 9293 §3.10.7.4 second, SYN-RECEIVED: a passive open returns to LISTEN,
                // an active one is refused.
                State::SynReceived => match self.origin {
                    Origin::Listen => self.reset_to_listen(),
                    Origin::Active => self.enter_closed(Some(Error::Refused)),
                    Origin::Accepted => self.enter_closed(Some(Error::Reset)),
                },
                // ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: "connection reset".
                State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                    self.enter_closed(Some(Error::Reset));
                }
                // CLOSING, LAST-ACK, TIME-WAIT: just CLOSED.
                _ => self.enter_closed(None),
            }
            return;
        }

        // RFC 9293 §3.10.7.4 third: no security/compartment check.

        // RFC 9293 §3.10.7.4 fourth (RFC 5961 §4): a SYN here earns a challenge ACK; in
        // SYN-RECEIVED from a passive open it returns the connection to LISTEN.
        if syn {
            if self.state == State::SynReceived && self.origin == Origin::Listen {
                self.reset_to_listen();
            } else {
                self.challenge_ack(now);
            }
            return;
        }

        // RFC 9293 §3.10.7.4 fifth: without ACK, drop.
        let Some(ack) = seg.ack_number else { return };
        if self.state == State::SynReceived {
            // RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: SND.UNA < SEG.ACK =< SND.NXT enters
            // ESTABLISHED; otherwise <SEQ=SEG.ACK><CTL=RST>.
            if !(self.snd.una() < ack && ack <= self.snd.nxt()) {
                self.rst_pending = Some((ack, None));
                return;
            }
            // RFC 7323 §2.2: windows after the SYNs are scaled.
            self.snd.take_window(usize::from(seg.window_len) << self.snd.wscale(), seq, ack);
            self.our_syn_acked(now, seg, ack);
        } else {
            let input = AckInput {
                seq,
                ack,
                window: seg.window_len,
                sack_blocks: &seg.options.sack_blocks,
                tsecr: self.tsecr(seg),
                bare: seg.payload.is_empty() && !syn && !fin,
            };
            let outcome = self.snd.on_ack(now, &input, self.state, &mut self.timers, &self.config);
            if outcome == AckOutcome::Unacceptable {
                self.challenge_ack(now);
                return;
            }
        }
        match self.state {
            // RFC 9293 §3.10.7.4 fifth, FIN-WAIT-1: our FIN acknowledged: FIN-WAIT-2.
            State::FinWait1 if self.snd.fin_acked() => self.transition(State::FinWait2),
            // RFC 9293 §3.10.7.4 fifth, CLOSING: our FIN acknowledged: TIME-WAIT.
            State::Closing => {
                if self.snd.fin_acked() {
                    self.enter_time_wait(now);
                }
                return;
            }
            // RFC 9293 §3.10.7.4 fifth, LAST-ACK: our FIN acknowledged: CLOSED.
            State::LastAck => {
                if self.snd.fin_acked() {
                    self.enter_closed(None);
                }
                return;
            }
            _ => {}
        }

        // RFC 9293 §3.10.7.4 sixth: URG. Urgent data is delivered inline and the urgent
        // pointer is ignored (RFC 6093 advises against its use); nothing to do.

        // RFC 9293 §3.10.7.4 seventh and eighth: text and FIN.
        if zero_window_text && seg_len > 0 {
            self.rcv.request_ack();
            return;
        }
        self.accept_text(now, text_seq, data, fin);
    }

    /// RFC 9293 §3.10.7.4 seventh (text) and eighth (FIN) for trimmed text at `seq`.
    fn accept_text(&mut self, now: Instant, seq: SeqNumber, data: &[u8], fin: bool) {
        let fin_at = fin.then(|| seq.plus(data.len()));
        match self.state {
            // RFC 9293 §3.10.7.4 seventh: ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 take text.
            State::Established | State::FinWait1 | State::FinWait2 => {
                if self.rcv.read_closed() && !data.is_empty() {
                    // The application closed its receiving side: new data is answered with
                    // RST, as Linux does (RFC 2525 §2.17).
                    self.rst_pending = Some((self.snd.nxt(), Some(self.rcv.rcv_nxt())));
                    self.error = Some(Error::Aborted);
                    self.enter_closed(None);
                    return;
                }
                if !data.is_empty() || fin_at.is_some() {
                    self.process_text(now, seq, data, fin_at);
                }
            }
            // RFC 9293 §3.10.7.4 seventh: CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT ignore
            // text (the peer already sent FIN); a FIN is acknowledged again.
            _ => {
                if fin_at.is_some() {
                    self.rcv.request_ack();
                    // RFC 9293 §3.10.7.4 eighth, TIME-WAIT: restart the 2·MSL timer.
                    if self.state == State::TimeWait {
                        self.timers.set(Timer::TimeWait, now + self.config.time_wait);
                    }
                }
            }
        }
    }

    /// RFC 9293 §3.10.7.4 eighth: the peer's FIN has been consumed (RCV.NXT advanced over it).
    pub(super) fn on_fin(&mut self, now: Instant) {
        self.rcv.request_ack();
        match self.state {
            // SYN-RECEIVED, ESTABLISHED: CLOSE-WAIT.
            State::SynReceived | State::Established => self.transition(State::CloseWait),
            // FIN-WAIT-1: TIME-WAIT if our FIN is acknowledged, else CLOSING.
            State::FinWait1 => {
                if self.snd.fin_acked() {
                    self.enter_time_wait(now);
                } else {
                    self.transition(State::Closing);
                }
            }
            // FIN-WAIT-2: TIME-WAIT.
            State::FinWait2 => self.enter_time_wait(now),
            // TIME-WAIT: restart the 2·MSL timer.
            State::TimeWait => self.timers.set(Timer::TimeWait, now + self.config.time_wait),
            _ => {}
        }
    }

    /// RFC 9293 §3.10.7.4 second/fourth: a passive open returns to LISTEN.
    fn reset_to_listen(&mut self) {
        let config = Arc::clone(&self.config);
        let fresh = match self.isn_gen.clone() {
            Some(g) => Self::listen_with_isn(self.local, config, *g),
            None => Self::listen(self.local, config),
        };
        // The same socket goes on listening: its events and counters carry over.
        let old = core::mem::replace(self, fresh);
        self.events = old.events;
        self.stats = old.stats;
        self.snd.keep_stats(&old.snd);
    }

    /// RFC 9293 §3.10.7.4 seventh and eighth through the receiver: counts what arrived,
    /// arms the delayed-ACK timer, and handles a FIN.
    pub(super) fn process_text(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        data: &[u8],
        fin: Option<SeqNumber>,
    ) {
        let text = self.rcv.text(seq, data, fin);
        self.stats.bytes_received += text.in_order as u64;
        if let Some(delay) = text.delayed_ack {
            self.timers.set_if_idle(Timer::DelayedAck, now + delay);
        }
        if text.fin {
            self.events.push(Event::PeerClosed);
            self.on_fin(now);
        }
    }

    /// The timestamp `seg` echoes (TSecr), when timestamps are in use.
    fn tsecr(&self, seg: &Repr<'_>) -> Option<u32> {
        seg.options.timestamp.filter(|_| self.ts_ok).map(|t| t.tsecr)
    }
}
