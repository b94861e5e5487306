//! The receive side: receive sequence space (RFC 9293 §3.3.1), placing segment text in the
//! receive buffer with out-of-order reassembly, the window we advertise with receiver SWS
//! avoidance (RFC 9293 §3.8.6.2.2), delayed ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2) and the
//! SACK blocks we send (RFC 2018).

use super::Config;
use super::assembler::Assembler;
use super::buffer::RingBuffer;
use super::connection::{Connection, Event};
use super::timers::Timer;
use crate::time::Instant;
use crate::wire::tcp::{SackBlocks, SeqNumber};

/// The receive half of the transmission control block.
#[derive(Debug)]
pub(super) struct Receiver {
    /// The peer's initial sequence number.
    pub(super) irs: SeqNumber,
    /// Next sequence number expected.
    pub(super) rcv_nxt: SeqNumber,
    /// Right edge of the window we advertised last (RCV.NXT + RCV.WND at that time); it
    /// never moves left (RFC 9293 §3.8.6.2.2: do not shrink the window).
    pub(super) rcv_adv: SeqNumber,
    /// Shift applied to our window field (RFC 7323 Rcv.Wind.Shift).
    pub(super) wscale: u8,
    /// Received data: in order up to `len()`, out-of-order beyond (placed by `write_at`).
    pub(super) buffer: RingBuffer,
    /// Out-of-order ranges held beyond `rcv_nxt`.
    pub(super) assembler: Assembler,
    /// Where the peer's FIN is, once seen (possibly ahead of `rcv_nxt`).
    pub(super) fin_seq: Option<SeqNumber>,
    /// The peer's FIN has been consumed: EOF after the buffered data.
    pub(super) fin_received: bool,
    /// An ACK must go out now.
    pub(super) ack_now: bool,
    /// In-order bytes received since our last ACK (delayed ACK, RFC 5681 §4.2).
    pub(super) unacked_bytes: usize,
    /// Estimate of the peer's segment size: the largest payload seen.
    pub(super) mss_est: usize,
    /// The MSS we advertised.
    pub(super) our_mss: usize,
    /// TS.Recent (RFC 7323 §4.3).
    pub(super) ts_recent: u32,
    /// Last.ACK.sent (RFC 7323 §4.3).
    pub(super) last_ack_sent: SeqNumber,
    /// The application closed the receiving direction.
    pub(super) read_closed: bool,
    /// Delayed-ACK delay (`None`: ACK every segment).
    pub(super) delayed_ack: Option<crate::time::Duration>,
    /// A duplicate segment's range to report in the next ACK (RFC 2883 D-SACK).
    pub(super) dsack: Option<(SeqNumber, SeqNumber)>,
}

impl Receiver {
    pub(super) fn new(config: &Config) -> Self {
        let our_mss = usize::from(config.mss);
        Self {
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            wscale: 0,
            buffer: RingBuffer::new(config.recv_buffer),
            assembler: Assembler::new(config.max_ooo_ranges),
            fin_seq: None,
            fin_received: false,
            ack_now: false,
            unacked_bytes: 0,
            mss_est: our_mss.min(536),
            our_mss,
            ts_recent: 0,
            last_ack_sent: SeqNumber(0),
            read_closed: false,
            delayed_ack: config.delayed_ack,
            dsack: None,
        }
    }

    /// The SYN with sequence number `seq` arrived: RCV.NXT = IRS + 1.
    pub(super) fn on_syn(&mut self, seq: SeqNumber) {
        self.irs = seq;
        self.rcv_nxt = seq.plus(1);
        self.rcv_adv = self.rcv_nxt;
        self.last_ack_sent = self.rcv_nxt;
    }

    /// The window RCV.WND we offered: from RCV.NXT to the advertised right edge.
    pub(super) fn rcv_wnd(&self) -> usize {
        if self.rcv_adv > self.rcv_nxt { self.rcv_adv.since(self.rcv_nxt) } else { 0 }
    }

    /// Window we could offer now: the free buffer space, bounded by what the field holds.
    fn free_window(&self) -> usize {
        self.buffer.free().min(usize::from(u16::MAX) << self.wscale)
    }

    /// The window field for the segment being sent (RFC 9293 §3.8.6.2.2 receiver SWS
    /// avoidance; RFC 7323 §2.3 scaling), moving `rcv_adv` accordingly.
    pub(super) fn advertise(&mut self, syn: bool) -> u16 {
        let free = self.free_window();
        if syn {
            // RFC 7323 §2.2: the window in a SYN is never scaled.
            let wnd = free.min(usize::from(u16::MAX));
            self.rcv_adv = self.rcv_adv.max(self.rcv_nxt.plus(wnd));
            return wnd as u16;
        }
        let cur = self.rcv_wnd();
        // Move the right edge only by at least min(buffer/2, MSS) (RFC 9293 §3.8.6.2.2).
        let step = (self.buffer.max_capacity() / 2).min(self.mss_est).max(1);
        let wnd = if free >= cur + step { free } else { cur.min(free) };
        let field = (wnd >> self.wscale).min(usize::from(u16::MAX));
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt.plus(field << self.wscale));
        field as u16
    }

    /// The SACK blocks to send (RFC 2018 §4): the most recently received range first.
    pub(super) fn sack_blocks(&self, max: usize) -> SackBlocks {
        self.assembler.sack_blocks(self.rcv_nxt, max)
    }

    /// The application read data: ACK at once if the window opens by at least
    /// min(2·MSS, buffer/2) (a window update).
    pub(super) fn on_app_read(&mut self) {
        // After the peer's FIN no more data comes, so a bigger window tells it nothing; an
        // update would only reach a peer that may already have let the connection go, and
        // draw a RST.
        if self.fin_received {
            return;
        }
        let grow = self.free_window().saturating_sub(self.rcv_wnd());
        let threshold = (2 * self.mss_est).min(self.buffer.max_capacity() / 2).max(1);
        if grow >= threshold {
            self.ack_now = true;
        }
    }
}

impl Connection {
    /// RFC 9293 §3.10.7.4 seventh: place segment text starting at `seq` (already trimmed to
    /// the window, `seq >= RCV.NXT`), and note a FIN at `fin`; schedules the ACK.
    pub(super) fn process_text(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        data: &[u8],
        fin: Option<SeqNumber>,
    ) {
        let rcv = &mut self.rcv;
        if let Some(f) = fin {
            rcv.fin_seq = Some(f);
        }
        let offset = seq.since(rcv.rcv_nxt);
        let had_holes = !rcv.assembler.is_empty();
        let mut advanced = 0;
        if !data.is_empty() {
            rcv.mss_est = rcv.mss_est.max(data.len().min(rcv.our_mss));
            let at = rcv.buffer.len() + offset;
            let n = rcv.buffer.write_at(at, data);
            match rcv.assembler.add(offset, n) {
                Ok(contiguous) => {
                    if contiguous > 0 {
                        rcv.buffer.commit(contiguous);
                        rcv.assembler.advance(contiguous);
                        rcv.rcv_nxt = rcv.rcv_nxt.plus(contiguous);
                        advanced = contiguous;
                    }
                }
                // Too many holes: drop the segment; the ACK below tells the peer.
                Err(_) => rcv.ack_now = true,
            }
            self.stats.bytes_received += advanced as u64;
        }
        // The FIN counts once everything before it arrived (RFC 9293 §3.10.7.4 eighth).
        let mut fin_now = false;
        if rcv.fin_seq.is_some_and(|f| f == rcv.rcv_nxt) && !rcv.fin_received {
            rcv.rcv_nxt = rcv.rcv_nxt.plus(1);
            rcv.fin_received = true;
            fin_now = true;
        }
        // RFC 5681 §4.2, RFC 9293 §3.8.6.3: ACK at once on out-of-order data, on filling a
        // hole, on FIN; otherwise at least every second full-sized segment or after the delay.
        if !data.is_empty() || fin.is_some() {
            if offset > 0 || had_holes || !rcv.assembler.is_empty() || fin_now {
                rcv.ack_now = true;
            } else {
                rcv.unacked_bytes += advanced;
                match rcv.delayed_ack {
                    Some(delay) if rcv.unacked_bytes < 2 * rcv.mss_est => {
                        self.timers.set_if_idle(Timer::DelayedAck, now + delay);
                    }
                    _ => rcv.ack_now = true,
                }
            }
        }
        if fin_now {
            self.events.push_back(Event::PeerClosed);
            self.on_fin(now);
        }
    }
}
