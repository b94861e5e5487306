//! Building outgoing segments: [`Connection::poll_transmit`] decides what goes next —
//! RST, SYN, retransmission, new data (congestion and flow control, sender SWS avoidance,
//! Nagle), FIN, probes, ACK — then materializes it as a [`Repr`] borrowing the send buffer.

use super::connection::Connection;
use super::state::{State, our_wscale};
use super::timers::Timer;
use crate::time::Instant;
use crate::wire::tcp::{Flags, Options, Repr, SackBlocks, SeqNumber, Timestamp};

/// What the next segment is, decided before borrowing the buffer for its payload.
#[derive(Debug, Clone, Copy)]
struct Plan {
    seq: SeqNumber,
    ack: Option<SeqNumber>,
    flags: Flags,
    /// Payload: offset into the send buffer and length.
    data_off: usize,
    data_len: usize,
    window: u16,
    kind: Kind,
    /// The SACK blocks to send, a D-SACK block first (RFC 2018, RFC 2883); empty for SYNs
    /// and RSTs.
    sack_blocks: SackBlocks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// SYN or SYN-ACK: the negotiation options.
    Syn,
    /// Any other segment of the connection: timestamps and SACK blocks as negotiated.
    Normal,
    /// A RST: no options.
    Reset,
}

fn flags(list: &[Flags]) -> Flags {
    let mut f = Flags::default();
    for &x in list {
        f.insert(x);
    }
    f
}

impl Connection {
    /// The next segment to send, or `None`; call until `None`. The payload borrows the
    /// send buffer, or `scratch` when the bytes wrap around the ring; a segment carries no
    /// more data than `scratch` holds (give it at least the MSS, 64 KiB to be safe), so
    /// what the sequence space counts as sent is always what the segment carries.
    pub fn poll_transmit<'a>(
        &'a mut self,
        now: Instant,
        scratch: &'a mut [u8],
    ) -> Option<Repr<'a>> {
        let plan = self.plan(now, scratch.len())?;
        self.stats.segments_sent += 1;
        Some(self.materialize(now, plan, scratch))
    }

    /// `room`: the most data the segment may carry.
    fn plan(&mut self, now: Instant, room: usize) -> Option<Plan> {
        if let Some((seq, ack)) = self.rst_pending.take() {
            let f = flags(&[Flags::RST]);
            return Some(Plan {
                seq,
                ack,
                flags: f,
                data_off: 0,
                data_len: 0,
                window: 0,
                kind: Kind::Reset,
                sack_blocks: SackBlocks::EMPTY,
            });
        }
        match self.state {
            State::Closed | State::Listen => None,
            State::SynSent | State::SynReceived if self.syn_pending => {
                self.syn_pending = false;
                let iss = self.snd.iss;
                let retransmit = self.snd.syn_retransmitted;
                self.note_sent(now, iss, iss.plus(1), 0, retransmit);
                let ack = (self.state == State::SynReceived).then_some(self.rcv.rcv_nxt());
                Some(self.finish(iss, ack, flags(&[Flags::SYN]), 0, 0, Kind::Syn, None))
            }
            State::SynSent => None,
            _ => self.plan_synchronized(now, room),
        }
    }

    fn plan_synchronized(&mut self, now: Instant, room: usize) -> Option<Plan> {
        if self.state.sends_data() {
            if let Some(p) = self.plan_retransmit(now, room) {
                return Some(p);
            }
            if let Some(p) = self.plan_new_data(now, room) {
                return Some(p);
            }
            if self.snd.probe_pending {
                self.snd.probe_pending = false;
                if let Some(p) = self.plan_probe(now, room) {
                    return Some(p);
                }
            }
        }
        if self.keepalive_pending {
            // RFC 9293 §3.8.4: a keepalive carries SEG.SEQ = SND.NXT - 1 and no data, so the
            // peer must answer with an ACK.
            self.keepalive_pending = false;
            self.stats.keepalive_probes += 1;
            let seq = SeqNumber(self.snd.snd_una.0.wrapping_sub(1));
            return Some(self.ack_plan(seq));
        }
        if self.rcv.ack_due() {
            return Some(self.ack_plan(self.snd.snd_nxt));
        }
        None
    }

    fn ack_plan(&mut self, seq: SeqNumber) -> Plan {
        let ack = Some(self.rcv.rcv_nxt());
        self.finish(seq, ack, Flags::default(), 0, 0, Kind::Normal, None)
    }

    /// Retransmissions: with SACK, tail loss probes and what RACK marked lost; without,
    /// fast retransmit and go-back-N after a timeout.
    fn plan_retransmit(&mut self, now: Instant, room: usize) -> Option<Plan> {
        if self.sack_ok {
            return self.plan_rack_retransmit(now, room);
        }
        let smss = self.snd.mss;
        let (una, nxt) = (self.snd.snd_una, self.snd.snd_nxt);
        if self.snd.fast_rtx {
            // RFC 5681 §3.2 step 4 / RFC 6582 §3.2: the first unacknowledged
            // segment goes out regardless of cwnd.
            self.snd.fast_rtx = false;
            if nxt > una {
                return self.data_segment(now, una, nxt, smss, true, room);
            }
        }
        if let Some(p) = self.snd.rtx_next {
            // After a timeout (RFC 6298 §5.4, RFC 5681 §3.1): resend from SND.UNA on, in slow
            // start, as cwnd allows.
            let pipe = p.since(una);
            if self.snd.effective_cwnd() <= pipe || p >= nxt {
                return None;
            }
            let seg = self.data_segment(now, p, nxt, smss, true, room)?;
            let end = seg.seq.plus(seg.data_len + usize::from(seg.flags.contains(Flags::FIN)));
            self.snd.rtx_next = (end < nxt).then_some(end);
            return Some(seg);
        }
        None
    }

    /// With SACK: a tail loss probe when the PTO fired (RFC 8985 §7.3), else the lowest
    /// segment RACK marked lost while `cwnd - pipe >= SMSS` (RFC 6675 §5 (C) with NextSeg()
    /// rule 1 on RACK's marks); the first retransmission of a recovery goes regardless.
    fn plan_rack_retransmit(&mut self, now: Instant, room: usize) -> Option<Plan> {
        let smss = self.snd.mss;
        let (una, nxt) = (self.snd.snd_una, self.snd.snd_nxt);
        if core::mem::take(&mut self.snd.tlp_pending) && nxt > una {
            // RFC 8985 §7.3: new data if the window allows, else the last segment again.
            let wnd_end = una.plus(self.snd.snd_wnd);
            let room = if wnd_end > nxt { wnd_end.since(nxt) } else { 0 };
            let len = self.snd.unsent().min(room).min(smss);
            let p = if len > 0 {
                self.data_segment(now, nxt, nxt.plus(len), len, false, room)
            } else {
                let (start, end) = self.snd.rack.last()?;
                self.data_segment(now, start, end, smss, true, room)
            }?;
            self.snd.rack.tlp = Some((self.snd.snd_nxt, len == 0));
            self.stats.tlp_probes += 1;
            self.timers.clear(Timer::Probe);
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            return Some(p);
        }
        let force = core::mem::take(&mut self.snd.fast_rtx);
        let (start, end) = self.snd.rack.first_lost()?;
        if !force && self.snd.cc.cwnd() < self.snd.rack.pipe() + smss {
            return None;
        }
        self.data_segment(now, start, end, smss, true, room)
    }

    /// New data as congestion window, peer window, sender SWS avoidance and Nagle allow.
    fn plan_new_data(&mut self, now: Instant, room: usize) -> Option<Plan> {
        if self.snd.rtx_next.is_some() {
            return None;
        }
        let smss = self.snd.mss;
        let unsent = self.snd.unsent();
        let fin_pending = self.snd.fin_queued && !self.snd.fin_sent();
        if unsent == 0 && !fin_pending {
            return None;
        }
        // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the
        // restart window.
        if self.snd.flight() == 0 && self.snd.last_send.is_some_and(|t| now - t > self.rtt.rto()) {
            self.snd.cc.on_idle_restart(now, smss);
            self.snd.last_send = Some(now);
        }
        let flight = self.snd.pipe(self.sack_ok);
        let usable_cwnd = self.snd.effective_cwnd().saturating_sub(flight);
        let wnd_end = self.snd.snd_una.plus(self.snd.snd_wnd);
        let nxt = self.snd.snd_nxt;
        let usable_wnd = if wnd_end > nxt { wnd_end.since(nxt) } else { 0 };
        let len = unsent.min(usable_wnd).min(usable_cwnd).min(smss);
        if len < unsent {
            if len == 0 {
                if usable_wnd == 0 {
                    self.update_persist(now);
                }
                return None;
            }
            // RFC 9293 §3.8.6.2.1 sender SWS avoidance: a partial segment only if the window
            // limits it and it is at least half the largest window the peer offered.
            let window_bound = usable_wnd < usable_cwnd.min(smss);
            if len < smss
                && !(window_bound && len >= self.snd.max_snd_wnd / 2)
                && !(window_bound && self.snd.sws_override)
            {
                // RFC 1122 §4.2.3.4: with nothing in flight no ACK will come to open the
                // window further; the persist timer is the override timeout that ends the
                // wait (Linux arms its probe timer here too).
                if self.snd.flight() == 0 && !self.timers.is_set(Timer::Persist) {
                    self.timers.set(Timer::Persist, now + self.persist_interval());
                }
                return None;
            }
        } else if len > 0 && len < smss && self.snd.nagle && self.snd.flight() > 0 && !fin_pending {
            // RFC 9293 §3.7.4 Nagle: no small segment while data is unacknowledged.
            return None;
        }
        self.snd.sws_override = false;
        // The FIN follows the last byte; it needs no window (as BSD).
        let limit = if len == unsent && fin_pending { nxt.plus(len + 1) } else { nxt.plus(len) };
        self.data_segment(now, nxt, limit, len, false, room)
    }

    /// A zero-window probe (RFC 9293 §3.8.6.1): one byte beyond the window, or the FIN.
    fn plan_probe(&mut self, now: Instant, room: usize) -> Option<Plan> {
        if self.snd.snd_wnd > 0 {
            return None;
        }
        let (una, nxt) = (self.snd.snd_una, self.snd.snd_nxt);
        let p = if nxt > una {
            self.data_segment(now, una, nxt, 1, true, room)
        } else {
            let fin_now = self.snd.unsent() == 0;
            self.data_segment(now, nxt, nxt.plus(1), usize::from(!fin_now), false, room)
        }?;
        self.stats.zero_window_probes += 1;
        Some(p)
    }

    /// The segment starting at `seq` with at most `max_data` bytes (and at most `room`, what
    /// the caller's scratch holds), within `[seq, limit)` in sequence space; the FIN rides
    /// along if it falls below `limit` and right after the data.
    fn data_segment(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        limit: SeqNumber,
        max_data: usize,
        retransmit: bool,
        room: usize,
    ) -> Option<Plan> {
        // RFC 6691: options count against the MSS. Data segments of a connection that is also
        // receiving out of order carry SACK blocks, so they carry that much less data. The
        // blocks take kind, length and 8 bytes a block (RFC 2018 §3), aligned by two NOPs.
        let sack_blocks = self.next_sack_blocks();
        let sack_len = if sack_blocks.is_empty() { 0 } else { 4 + 8 * sack_blocks.len() };
        let max_data = max_data.min(self.snd.mss.saturating_sub(sack_len).max(1)).min(room);
        let buf_end = self.snd.buf_end();
        let data_stop = seq.plus(max_data).min(limit).min(buf_end);
        let len = if data_stop > seq { data_stop.since(seq) } else { 0 };
        let end = seq.plus(len);
        let fin = self.snd.fin_seq().is_some_and(|f| f == end && limit > f);
        if len == 0 && !fin {
            return None;
        }
        let off = if seq > self.snd.buf_seq { seq.since(self.snd.buf_seq) } else { 0 };
        let mut f = Flags::default();
        if fin {
            f.insert(Flags::FIN);
        }
        if len > 0 && end == buf_end {
            f.insert(Flags::PSH);
        }
        let seq_end = end.plus(usize::from(fin));
        self.note_sent(now, seq, seq_end, len, retransmit);
        if self.sack_ok {
            self.snd.rack.on_sent(seq, seq_end, now);
            if !retransmit {
                // RFC 8985 §7.2: (re)start the PTO after sending new data.
                self.schedule_probe(now);
            }
        }
        let ack = Some(self.rcv.rcv_nxt());
        Some(self.finish(seq, ack, f, off, len, Kind::Normal, Some(sack_blocks)))
    }

    /// Bookkeeping for a segment covering `[start, end)` of sequence space.
    fn note_sent(
        &mut self,
        now: Instant,
        start: SeqNumber,
        end: SeqNumber,
        data_len: usize,
        retransmit: bool,
    ) {
        if self.snd.flight() == 0 {
            self.snd.last_progress = now;
            if let Some(ut) = self.config.user_timeout {
                self.timers.set(Timer::User, now + ut);
            }
        }
        if end > self.snd.snd_nxt {
            self.snd.snd_nxt = end;
        }
        self.snd.last_send = Some(now);
        // RFC 6298 §5.1: start the timer if it is not running (the persist timer stands in
        // for it while the window is zero).
        if !self.timers.is_set(Timer::Persist) {
            self.timers.set_if_idle(Timer::Retransmit, now + self.rtt.rto());
        }
        if retransmit {
            self.stats.retransmitted_segments += 1;
            if let Some(u) = &mut self.snd.undo {
                u.retrans += 1;
            }
            // Karn's rule: a retransmitted range is never timed.
            if self.snd.rtt_timing.is_some_and(|(e, _)| e > start) {
                self.snd.rtt_timing = None;
            }
        } else if self.snd.rtt_timing.is_none() {
            self.snd.rtt_timing = Some((end, now));
        }
        self.stats.bytes_sent += data_len as u64;
    }

    /// Fills in the window and the SACK blocks (`sack_blocks` if the caller already built
    /// them with [`next_sack_blocks`](Self::next_sack_blocks)) and, for segments with ACK,
    /// clears the pending-ACK state.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        seq: SeqNumber,
        ack: Option<SeqNumber>,
        flags: Flags,
        data_off: usize,
        data_len: usize,
        kind: Kind,
        sack_blocks: Option<SackBlocks>,
    ) -> Plan {
        let window = self.rcv.advertise(kind == Kind::Syn);
        let mut blocks = SackBlocks::EMPTY;
        if ack.is_some() {
            if kind == Kind::Normal && self.sack_ok {
                blocks = sack_blocks.unwrap_or_else(|| self.next_sack_blocks());
                // RFC 2883 §4: a D-SACK is reported once, in the next segment.
                let dsack = self.rcv.take_dsack();
                self.stats.dsacks_sent += u64::from(dsack.is_some());
            }
            self.rcv.on_ack_sent();
            self.timers.clear(Timer::DelayedAck);
        }
        Plan { seq, ack, flags, data_off, data_len, window, kind, sack_blocks: blocks }
    }

    /// The SACK blocks of the next segment (RFC 2018 §4): the pending D-SACK block first
    /// (RFC 2883 §4), then the ranges held past a gap, as many as the option space allows.
    fn next_sack_blocks(&self) -> SackBlocks {
        if !self.sack_ok {
            return SackBlocks::EMPTY;
        }
        let max = if self.ts_ok { 3 } else { 4 };
        match self.rcv.dsack() {
            Some(d) => {
                let mut blocks = SackBlocks::EMPTY;
                blocks.push(d);
                for b in self.rcv.sack_blocks(max - 1).iter() {
                    blocks.push(b);
                }
                blocks
            }
            None if self.rcv.has_out_of_order() => self.rcv.sack_blocks(max),
            None => SackBlocks::EMPTY,
        }
    }

    fn materialize<'a>(&'a self, now: Instant, plan: Plan, scratch: &'a mut [u8]) -> Repr<'a> {
        let mut options = Options::default();
        match plan.kind {
            Kind::Syn => {
                options.mss = Some(self.config.mss);
                let syn_ack = plan.ack.is_some();
                // In a SYN-ACK an option is echoed only if the peer's SYN offered it.
                if self.config.window_scaling && (!syn_ack || self.snd.ws_offered) {
                    options.window_scale = Some(our_wscale(&self.config));
                }
                options.sack_permitted = self.config.sack && (!syn_ack || self.sack_ok);
                if self.config.timestamps && (!syn_ack || self.ts_ok) {
                    let tsecr = if syn_ack { self.rcv.ts_recent() } else { 0 };
                    options.timestamp = Some(Timestamp { tsval: self.ts_now(now), tsecr });
                }
            }
            Kind::Normal => {
                if self.ts_ok {
                    options.timestamp =
                        Some(Timestamp { tsval: self.ts_now(now), tsecr: self.rcv.ts_recent() });
                }
                options.sack_blocks = plan.sack_blocks;
            }
            Kind::Reset => {}
        }
        let payload: &'a [u8] = if plan.data_len == 0 {
            &[]
        } else {
            let (a, b) = self.snd.buffer.slices(plan.data_off, plan.data_len);
            if b.is_empty() {
                a
            } else {
                // `plan` left no more data than the scratch holds.
                debug_assert!(a.len() + b.len() <= scratch.len());
                let n = (a.len() + b.len()).min(scratch.len());
                let first = a.len().min(n);
                scratch[..first].copy_from_slice(&a[..first]);
                let rest = n - first;
                scratch[first..n].copy_from_slice(&b[..rest]);
                &scratch[..n]
            }
        };
        Repr {
            src_port: self.local.port(),
            dst_port: match (plan.kind, self.rst_port) {
                (Kind::Reset, Some(port)) => port,
                _ => self.remote.map_or(0, |r| r.port()),
            },
            seq_number: plan.seq,
            ack_number: plan.ack,
            flags: plan.flags,
            window_len: plan.window,
            urgent_pointer: 0,
            options,
            payload,
        }
    }
}
