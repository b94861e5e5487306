//! Building outgoing segments: [`Connection::poll_transmit`] decides what goes next — RST,
//! SYN, the data segment the [`Sender`](super::send::Sender) chooses (retransmission, new
//! data, FIN, probe), keepalive, ACK — then materializes it as a [`Repr`] borrowing the send
//! buffer, with the ACK, window and options the connection and its receiver fill in.

use super::connection::{Connection, bump};
use super::send::Room;
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
        bump(&mut self.stats.segments_sent);
        if self.trace.is_some() {
            self.trace_changes(now);
            let sent = super::trace::Sent {
                seq: plan.seq,
                ack: plan.ack,
                flags: plan.flags,
                len: plan.data_len,
                window: plan.window,
                sack: plan.sack_blocks,
            };
            self.trace_sent(now, sent);
        }
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
                let iss = self.snd.iss();
                self.snd.on_syn_sent(now, &mut self.timers, &self.config);
                let ack = (self.state == State::SynReceived).then_some(self.rcv.rcv_nxt());
                Some(self.finish(iss, ack, flags(&[Flags::SYN]), 0, 0, Kind::Syn, None))
            }
            State::SynSent => None,
            _ => self.plan_synchronized(now, room),
        }
    }

    fn plan_synchronized(&mut self, now: Instant, room: usize) -> Option<Plan> {
        if self.state.sends_data() {
            // RFC 6691: options count against the MSS. Data segments of a connection that is
            // also receiving out of order carry SACK blocks, so they carry that much less
            // data. The blocks take kind, length and 8 bytes a block (RFC 2018 §3), aligned
            // by two NOPs.
            let sack_blocks = self.next_sack_blocks();
            let options = if sack_blocks.is_empty() { 0 } else { 4 + 8 * sack_blocks.len() };
            let room = Room { options, scratch: room };
            let next = self.snd.next_segment(now, self.state, room, &mut self.timers, &self.config);
            if let Some(d) = next {
                let mut f = Flags::default();
                if d.fin {
                    f.insert(Flags::FIN);
                }
                if d.push {
                    f.insert(Flags::PSH);
                }
                let ack = Some(self.rcv.rcv_nxt());
                let kind = Kind::Normal;
                return Some(self.finish(d.seq, ack, f, d.offset, d.len, kind, Some(sack_blocks)));
            }
        }
        if self.keepalive_pending {
            // RFC 9293 §3.8.4: a keepalive carries SEG.SEQ = SND.NXT - 1 and no data, so the
            // peer must answer with an ACK.
            self.keepalive_pending = false;
            bump(&mut self.stats.keepalive_probes);
            return Some(self.ack_plan(self.snd.keepalive_seq()));
        }
        if self.rcv.ack_due() {
            return Some(self.ack_plan(self.snd.nxt()));
        }
        None
    }

    fn ack_plan(&mut self, seq: SeqNumber) -> Plan {
        let ack = Some(self.rcv.rcv_nxt());
        self.finish(seq, ack, Flags::default(), 0, 0, Kind::Normal, None)
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
                self.stats.dsacks_sent =
                    self.stats.dsacks_sent.wrapping_add(u32::from(dsack.is_some()));
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
                options.mss = Some(super::advertised_mss(&self.config, self.local));
                let syn_ack = plan.ack.is_some();
                // In a SYN-ACK an option is echoed only if the peer's SYN offered it.
                if self.config.window_scaling && (!syn_ack || self.snd.ws_offered()) {
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
            let (a, b) = self.snd.payload(plan.data_off, plan.data_len);
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
