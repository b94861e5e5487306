//! The receive side: receive sequence space (RFC 9293 §3.3.1), placing segment text in the
//! receive buffer with out-of-order reassembly, the window we advertise with receiver SWS
//! avoidance (RFC 9293 §3.8.6.2.2), delayed ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2) and the
//! SACK blocks we send (RFC 2018).

use super::Config;
use super::assembler::Assembler;
use super::buffer::RingBuffer;
use crate::time::Duration;
use crate::wire::tcp::{SackBlocks, SeqNumber, TsVal};

/// The receive half of the transmission control block.
#[derive(Debug)]
pub(super) struct Receiver {
    /// The peer's initial sequence number.
    irs: SeqNumber,
    /// Next sequence number expected.
    rcv_nxt: SeqNumber,
    /// Right edge of the window we advertised last (RCV.NXT + RCV.WND at that time); it
    /// never moves left (RFC 9293 §3.8.6.2.2: do not shrink the window).
    rcv_adv: SeqNumber,
    /// Shift applied to our window field (RFC 7323 Rcv.Wind.Shift).
    wscale: u8,
    /// Received data: in order up to `len()`, out-of-order beyond (placed by `write_at`).
    buffer: RingBuffer,
    /// Out-of-order ranges held beyond `rcv_nxt`.
    assembler: Assembler,
    /// Where the peer's FIN is, once seen (possibly ahead of `rcv_nxt`).
    fin_seq: Option<SeqNumber>,
    /// The peer's FIN has been consumed: EOF after the buffered data.
    fin_received: bool,
    /// An ACK must go out now.
    ack_now: bool,
    /// In-order bytes received since our last ACK (delayed ACK, RFC 5681 §4.2).
    unacked_bytes: u32,
    /// Estimate of the peer's segment size: the largest payload seen.
    mss_est: u16,
    /// The MSS we advertised.
    our_mss: u16,
    /// TS.Recent (RFC 7323 §4.3).
    ts_recent: u32,
    /// Last.ACK.sent (RFC 7323 §4.3).
    last_ack_sent: SeqNumber,
    /// The application closed the receiving direction.
    read_closed: bool,
    /// Delayed-ACK delay (`None`: ACK every segment).
    delayed_ack: Option<Duration>,
    /// A duplicate segment's range to report in the next ACK (RFC 2883 D-SACK).
    dsack: Option<(SeqNumber, SeqNumber)>,
}

impl Receiver {
    pub(super) fn new(config: &Config) -> Self {
        let our_mss = config.mss;
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
            // The delayed-ACK timer never exceeds 200 ms (RFC 9293 §3.8.6.3, RFC 1122
            // §4.2.3.2).
            delayed_ack: config.delayed_ack.map(|d| d.min(Duration::from_millis(200))),
            dsack: None,
        }
    }

    /// RCV.NXT: the next sequence number expected.
    pub(super) const fn rcv_nxt(&self) -> SeqNumber {
        self.rcv_nxt
    }

    /// The shift applied to our window field (RFC 7323 Rcv.Wind.Shift).
    pub(super) const fn wscale(&self) -> u8 {
        self.wscale
    }

    /// Sets the window shift both SYNs agreed on (0 without window scaling).
    pub(super) fn set_wscale(&mut self, shift: u8) {
        self.wscale = shift;
    }

    /// TS.Recent (RFC 7323 §4.3): the timestamp echoed in our segments.
    pub(super) const fn ts_recent(&self) -> u32 {
        self.ts_recent
    }

    /// TS.Recent from the peer's SYN.
    pub(super) fn set_ts_recent(&mut self, tsval: u32) {
        self.ts_recent = tsval;
    }

    /// RFC 7323 §5.3 R1, PAWS: whether a segment with `tsval` is an old duplicate.
    pub(super) fn paws_rejects(&self, tsval: u32) -> bool {
        TsVal(tsval) < TsVal(self.ts_recent)
    }

    /// RFC 6191 §2: whether a SYN's `tsval` is newer than anything this connection saw.
    pub(super) fn newer_than_recent(&self, tsval: u32) -> bool {
        TsVal(tsval) > TsVal(self.ts_recent)
    }

    /// RFC 7323 §4.3 (2): an acceptable segment at `seq` updates TS.Recent when it covers
    /// Last.ACK.sent and its `tsval` is not older.
    pub(super) fn update_ts_recent(&mut self, seq: SeqNumber, tsval: u32) {
        if seq <= self.last_ack_sent && TsVal(tsval) >= TsVal(self.ts_recent) {
            self.ts_recent = tsval;
        }
    }

    /// An ACK must go out with the next segment (now, not delayed).
    pub(super) fn request_ack(&mut self) {
        self.ack_now = true;
    }

    /// Whether an ACK is due now.
    pub(super) const fn ack_due(&self) -> bool {
        self.ack_now
    }

    /// The bytes `[start, end)` arrived again: report them in the next ACK (RFC 2883 D-SACK),
    /// which goes out now.
    pub(super) fn report_duplicate(&mut self, start: SeqNumber, end: SeqNumber) {
        self.dsack = Some((start, end));
        self.ack_now = true;
    }

    /// The D-SACK block the next segment carries, if any.
    pub(super) const fn dsack(&self) -> Option<(SeqNumber, SeqNumber)> {
        self.dsack
    }

    /// A segment acknowledging RCV.NXT went out: nothing is owed any more.
    pub(super) fn on_ack_sent(&mut self) {
        self.ack_now = false;
        self.unacked_bytes = 0;
        self.last_ack_sent = self.rcv_nxt;
    }

    /// The pending D-SACK block, taken: it is reported once (RFC 2883 §4).
    pub(super) fn take_dsack(&mut self) -> Option<(SeqNumber, SeqNumber)> {
        self.dsack.take()
    }

    /// Whether ranges are held beyond a gap (so our ACKs carry SACK blocks).
    pub(super) fn has_out_of_order(&self) -> bool {
        !self.assembler.is_empty()
    }

    /// Bytes from `seq` up to the right edge we advertised.
    pub(super) fn room_from(&self, seq: SeqNumber) -> usize {
        if self.rcv_adv > seq { self.rcv_adv.since(seq) } else { 0 }
    }

    /// Bytes of storage the receive buffer and its out-of-order ranges hold.
    pub(super) fn allocated(&self) -> usize {
        self.buffer.allocated() + self.assembler.allocated()
    }

    /// How far the receive buffer's storage may grow for now ([`RingBuffer::set_limit`]):
    /// the window offered never reaches past it.
    pub(super) fn set_buffer_limit(&mut self, limit: usize) {
        self.buffer.set_limit(limit);
    }

    /// In-order bytes waiting for the application.
    pub(super) fn queued(&self) -> usize {
        self.buffer.len()
    }

    /// The peer's FIN has been consumed: end-of-file after the queued data.
    pub(super) const fn fin_received(&self) -> bool {
        self.fin_received
    }

    /// Whether the application closed its receiving side.
    pub(super) const fn read_closed(&self) -> bool {
        self.read_closed
    }

    /// The application closes its receiving side: new data is answered with RST.
    pub(super) fn close_read(&mut self) {
        self.read_closed = true;
    }

    /// Copies queued data into `buf` for the application; returns how much. Frees the
    /// buffer once it holds nothing (in order or not), and owes a window update when the
    /// read opened the window enough.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = self.buffer.read(buf);
        // Out-of-order data lives beyond `len` in the same storage: keep it.
        if self.buffer.is_empty() && self.assembler.is_empty() {
            self.buffer.shrink_when_empty();
        }
        self.on_app_read();
        n
    }

    /// A reset flushes what was received and not read (RFC 9293 §3.10.7.4).
    pub(super) fn discard(&mut self) {
        self.buffer.consume(self.buffer.len());
        self.buffer.shrink_when_empty();
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
        let step = (self.buffer.max_capacity() / 2).min(usize::from(self.mss_est)).max(1);
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
    fn on_app_read(&mut self) {
        // After the peer's FIN no more data comes, so a bigger window tells it nothing; an
        // update would only reach a peer that may already have let the connection go, and
        // draw a RST.
        if self.fin_received {
            return;
        }
        let grow = self.free_window().saturating_sub(self.rcv_wnd());
        let threshold = (2 * usize::from(self.mss_est)).min(self.buffer.max_capacity() / 2).max(1);
        if grow >= threshold {
            self.ack_now = true;
        }
    }

    /// RFC 9293 §3.10.7.4 seventh and eighth: places segment text starting at `seq`
    /// (already trimmed to the window, `seq >= RCV.NXT`) and notes a FIN at `fin`; says
    /// what arrived in order and when the ACK is due.
    pub(super) fn text(&mut self, seq: SeqNumber, data: &[u8], fin: Option<SeqNumber>) -> Text {
        if let Some(f) = fin {
            self.fin_seq = Some(f);
        }
        let offset = seq.since(self.rcv_nxt);
        let had_holes = !self.assembler.is_empty();
        let mut advanced = 0;
        if !data.is_empty() {
            self.mss_est =
                self.mss_est.max(u16::try_from(data.len()).unwrap_or(u16::MAX).min(self.our_mss));
            let at = self.buffer.len() + offset;
            let n = self.buffer.write_at(at, data);
            match self.assembler.add(offset, n) {
                Ok(contiguous) => {
                    if contiguous > 0 {
                        self.buffer.commit(contiguous);
                        self.assembler.advance(contiguous);
                        self.rcv_nxt = self.rcv_nxt.plus(contiguous);
                        advanced = contiguous;
                        if had_holes {
                            // The last hole filled: the list goes until data comes out of
                            // order again.
                            self.assembler.shrink_when_empty();
                        }
                    }
                }
                // Too many holes: drop the segment; the ACK tells the peer.
                Err(_) => self.ack_now = true,
            }
        }
        // The FIN counts once everything before it arrived (RFC 9293 §3.10.7.4 eighth).
        let mut fin_now = false;
        if self.fin_seq.is_some_and(|f| f == self.rcv_nxt) && !self.fin_received {
            self.rcv_nxt = self.rcv_nxt.plus(1);
            self.fin_received = true;
            fin_now = true;
        }
        // RFC 5681 §4.2, RFC 9293 §3.8.6.3: ACK at once on out-of-order data, on filling a
        // hole, on FIN; otherwise at least every second full-sized segment or after the delay.
        let mut delayed = None;
        if !data.is_empty() || fin.is_some() {
            if offset > 0 || had_holes || !self.assembler.is_empty() || fin_now {
                self.ack_now = true;
            } else {
                self.unacked_bytes =
                    self.unacked_bytes.saturating_add(u32::try_from(advanced).unwrap_or(u32::MAX));
                match self.delayed_ack {
                    Some(delay)
                        if (self.unacked_bytes as usize) < 2 * usize::from(self.mss_est) =>
                    {
                        delayed = Some(delay)
                    }
                    _ => self.ack_now = true,
                }
            }
        }
        Text { in_order: advanced, fin: fin_now, delayed_ack: delayed }
    }
}

/// What [`Receiver::text`] did with a segment's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Text {
    /// Bytes that became readable in order.
    pub(super) in_order: usize,
    /// The peer's FIN was consumed: the stream ends after what is queued.
    pub(super) fin: bool,
    /// The ACK may wait this long (the delayed-ACK timer), unless one is due now.
    pub(super) delayed_ack: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const IRS: SeqNumber = SeqNumber(1000);

    /// A receiver whose peer's SYN was `IRS`, with a 64 KiB buffer and a 40 ms delayed ACK.
    fn receiver() -> Receiver {
        let config = Config {
            recv_buffer: 64 * 1024,
            delayed_ack: Some(Duration::from_millis(40)),
            ..Config::default()
        };
        let mut rcv = Receiver::new(&config);
        rcv.on_syn(IRS);
        rcv
    }

    #[test]
    fn in_order_text_advances_and_the_ack_waits_for_the_second_segment() {
        let mut rcv = receiver();
        let start = IRS.plus(1);
        assert_eq!(rcv.rcv_nxt(), start);
        let first = rcv.text(start, &[1; 1460], None);
        assert_eq!(
            first,
            Text { in_order: 1460, fin: false, delayed_ack: Some(Duration::from_millis(40)) }
        );
        assert!(!rcv.ack_due());
        let second = rcv.text(start.plus(1460), &[2; 1460], None);
        assert_eq!((second.in_order, second.delayed_ack), (1460, None));
        assert!(rcv.ack_due(), "every second full-sized segment is ACKed at once");
        assert_eq!(rcv.rcv_nxt(), start.plus(2920));
        assert_eq!(rcv.queued(), 2920);
        rcv.on_ack_sent();
        assert!(!rcv.ack_due());
    }

    #[test]
    fn a_hole_is_acked_at_once_sacked_and_filled() {
        let mut rcv = receiver();
        let start = IRS.plus(1);
        let later = rcv.text(start.plus(100), &[7; 50], None);
        assert_eq!(later.in_order, 0);
        assert!(rcv.ack_due() && rcv.has_out_of_order());
        let blocks: Vec<_> = rcv.sack_blocks(4).iter().collect();
        assert_eq!(blocks, [(start.plus(100), start.plus(150))]);
        rcv.on_ack_sent();
        let filled = rcv.text(start, &[6; 100], None);
        assert_eq!(filled.in_order, 150, "filling the hole delivers what was held past it");
        assert!(rcv.ack_due() && !rcv.has_out_of_order());
        let mut buf = [0u8; 200];
        assert_eq!(rcv.read(&mut buf), 150);
        assert_eq!(&buf[..100], &[6; 100][..]);
        assert_eq!(&buf[100..150], &[7; 50][..]);
    }

    #[test]
    fn a_fin_counts_only_after_the_data_before_it() {
        let mut rcv = receiver();
        let start = IRS.plus(1);
        // The FIN rides on a segment beyond a hole: noted, not consumed.
        let ahead = rcv.text(start.plus(10), b"end", Some(start.plus(13)));
        assert!(!ahead.fin && !rcv.fin_received());
        let filled = rcv.text(start, &[0; 10], None);
        assert!(filled.fin && rcv.fin_received());
        assert_eq!(rcv.rcv_nxt(), start.plus(14), "RCV.NXT steps over the FIN");
    }

    #[test]
    fn the_advertised_right_edge_never_moves_left() {
        let mut rcv = receiver();
        let mut seq = IRS.plus(1);
        let mut edge = IRS.plus(1);
        let mut buf = vec![0u8; 4096];
        let mut rng = crate::rand::Rng::new(9);
        for step in 0..2_000 {
            let field = rcv.advertise(false);
            let right = rcv.rcv_nxt().plus(usize::from(field) << rcv.wscale());
            assert!(rcv.rcv_adv >= edge, "step {step}: the right edge moved left");
            assert!(right <= rcv.rcv_adv, "step {step}: a window past the edge was offered");
            edge = rcv.rcv_adv;
            // The peer fills what it was offered, in pieces; the application reads slowly.
            let room = rcv.room_from(seq).min(1460);
            let len = (rng.next_u32() as usize % 1461).min(room);
            if len > 0 {
                rcv.text(seq, &buf[..len], None);
                seq = seq.plus(len);
            }
            if rng.next_u32() % 3 == 0 {
                let want = rng.next_u32() as usize % buf.len();
                rcv.read(&mut buf[..want]);
            }
        }
    }

    #[test]
    fn reading_opens_the_window_and_owes_an_update_past_the_threshold() {
        let mut rcv = receiver();
        let start = IRS.plus(1);
        // The peer fills every window it is offered until the buffer is full.
        let mut seq = start;
        loop {
            rcv.advertise(false);
            let room = rcv.room_from(seq).min(1460);
            if room == 0 {
                break;
            }
            rcv.text(seq, &vec![1; room], None);
            seq = seq.plus(room);
        }
        // Without window scaling the field says 65,535 at most: one byte stays free.
        assert_eq!(rcv.queued(), 65_535);
        rcv.on_ack_sent();
        let mut buf = vec![0u8; 100];
        rcv.read(&mut buf);
        assert!(!rcv.ack_due(), "100 bytes are not worth a window update");
        let mut big = vec![0u8; 8192];
        rcv.read(&mut big);
        assert!(rcv.ack_due(), "8 KiB more room is");
    }

    #[test]
    fn timestamps_follow_paws_and_the_last_ack_rule() {
        let mut rcv = receiver();
        rcv.set_ts_recent(500);
        assert!(rcv.paws_rejects(499));
        assert!(!rcv.paws_rejects(500));
        assert!(rcv.newer_than_recent(501) && !rcv.newer_than_recent(500));
        // RFC 7323 §4.3: only a segment at or below Last.ACK.sent moves TS.Recent.
        rcv.update_ts_recent(IRS.plus(100), 600);
        assert_eq!(rcv.ts_recent(), 500);
        rcv.update_ts_recent(IRS.plus(1), 600);
        assert_eq!(rcv.ts_recent(), 600);
        rcv.update_ts_recent(IRS.plus(1), 550);
        assert_eq!(rcv.ts_recent(), 600, "an older TSval never moves it back");
    }
}
