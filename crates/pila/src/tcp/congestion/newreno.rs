//! NewReno's window arithmetic: RFC 5681 slow start and congestion avoidance, counted in
//! bytes (RFC 3465), halved on loss.
//!
//! The NewReno loss *recovery* of RFC 6582 (partial ACKs, the recovery point) is the
//! sender's; this type only keeps `cwnd` and `ssthresh`.

use super::{CongestionControl, cwnd_limited, reduced_window, valid_smss};
use crate::time::{Duration, Instant};

/// RFC 3465 §2.2: the most a single ACK may grow `cwnd` in slow start, in SMSS.
const ABC_LIMIT: usize = 2;

/// Reno congestion control (RFC 5681) with appropriate byte counting (RFC 3465, L = 2).
///
/// Slow start adds the bytes acknowledged, at most 2 SMSS per ACK, so the window doubles
/// every round trip whether the peer acknowledges every segment or every other one.
/// Congestion avoidance adds one SMSS each time a full window of bytes has been
/// acknowledged: one SMSS per round trip. Loss halves the flight.
#[derive(Clone, Debug)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    initial_cwnd: usize,
    /// RFC 3465 §2.1 `bytes_acked`: bytes acknowledged toward the next congestion-avoidance
    /// increment.
    bytes_acked: usize,
    /// The window before the last reduction, for [`CongestionControl::on_spurious_congestion`].
    undo: Option<(usize, usize)>,
    /// An RTO happened and no new data has been acknowledged since: later expiries are
    /// backoffs of the same retransmission and keep `ssthresh` (RFC 5681 §3.1).
    in_rto_backoff: bool,
}

impl NewReno {
    /// A controller in slow start with a window of `initial_cwnd` bytes (RFC 6928: ten
    /// segments, `10 * smss`; never less than one SMSS) and no threshold yet.
    pub fn new(initial_cwnd: usize, smss: usize) -> Self {
        let cwnd = initial_cwnd.max(valid_smss(smss));
        Self {
            cwnd,
            ssthresh: usize::MAX,
            initial_cwnd: cwnd,
            bytes_acked: 0,
            undo: None,
            in_rto_backoff: false,
        }
    }

    /// RFC 3465 §2.1: count `acked` bytes toward `cwnd`; each full window adds one SMSS.
    fn congestion_avoidance(&mut self, acked: usize, smss: usize) {
        self.bytes_acked = self.bytes_acked.saturating_add(acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(smss);
        }
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_ack(
        &mut self,
        _now: Instant,
        acked: usize,
        flight_before: usize,
        _rtt: Option<Duration>,
        smss: usize,
    ) {
        let smss = valid_smss(smss);
        self.in_rto_backoff = false;
        if acked == 0 || !cwnd_limited(flight_before, self.cwnd) {
            return;
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 equation 2, with RFC 3465 §2.2's limit L = 2 SMSS per ACK.
            let increase = acked.min(ABC_LIMIT * smss);
            let room = self.ssthresh - self.cwnd;
            if increase <= room {
                self.cwnd += increase;
            } else {
                // Slow start reaches ssthresh part way through this ACK: what is left of it
                // counts toward congestion avoidance.
                self.cwnd = self.ssthresh;
                self.congestion_avoidance(increase - room, smss);
            }
        } else {
            self.congestion_avoidance(acked, smss);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight: usize, smss: usize) {
        let smss = valid_smss(smss);
        self.undo = Some((self.cwnd, self.ssthresh));
        // RFC 5681 §3.1 equation 4; RFC 6675 §5 step 4.2: cwnd = ssthresh.
        self.ssthresh = reduced_window(flight, 1, 2, smss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    fn on_recovery_exit(&mut self, _now: Instant, _smss: usize) {
        // RFC 6582 §3.2 step 3: leave recovery with cwnd = ssthresh, which it already is
        // (the sender never inflates this window); start counting afresh.
        self.bytes_acked = 0;
    }

    fn on_rto(&mut self, _now: Instant, flight: usize, smss: usize) {
        let smss = valid_smss(smss);
        if !self.in_rto_backoff {
            self.undo = Some((self.cwnd, self.ssthresh));
            // RFC 5681 §3.1 equation 4, only for the first timeout of a segment.
            self.ssthresh = reduced_window(flight, 1, 2, smss);
        }
        self.in_rto_backoff = true;
        // RFC 5681 §3.1: cwnd = LW, the loss window of one segment.
        self.cwnd = smss;
        self.bytes_acked = 0;
    }

    fn on_spurious_congestion(&mut self, _now: Instant) {
        // RFC 4015 §3.2 style: restore the window and threshold the reduction took away.
        if let Some((cwnd, ssthresh)) = self.undo.take() {
            self.cwnd = self.cwnd.max(cwnd);
            self.ssthresh = self.ssthresh.max(ssthresh);
            self.bytes_acked = 0;
            self.in_rto_backoff = false;
        }
    }

    fn on_idle_restart(&mut self, _now: Instant, _smss: usize) {
        // RFC 5681 §4.1: cwnd = min(cwnd, RW) with RW = min(IW, cwnd).
        self.cwnd = self.cwnd.min(self.initial_cwnd);
        self.bytes_acked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::congestion::testing::AckClock;

    const SMSS: usize = 1000;
    const RTT: Duration = Duration::from_millis(100);

    fn at_rtts(k: u64) -> Instant {
        Instant::ZERO + RTT.saturating_mul(k)
    }

    #[test]
    fn slow_start_doubles_every_round_trip() {
        // Every segment acknowledged, or every other one (delayed ACK): the same doubling.
        for ack_every in [1, 2] {
            let mut cc = NewReno::new(10 * SMSS, SMSS);
            let mut path = AckClock::new(SMSS, ack_every);
            for k in 1..=5 {
                path.run_until(&mut cc, at_rtts(k), |_| RTT);
                assert_eq!(cc.cwnd(), (10 * SMSS) << k, "ack_every {ack_every}, round {k}");
            }
            assert!(cc.in_slow_start());
        }
    }

    #[test]
    fn byte_counting_caps_stretch_acks_at_two_segments() {
        // RFC 3465 §2.2, L = 2: one ACK for 10 segments grows the window by 2 segments.
        let mut cc = NewReno::new(8 * SMSS, SMSS);
        cc.on_ack(Instant::ZERO, 10 * SMSS, 8 * SMSS, None, SMSS);
        assert_eq!(cc.cwnd(), 10 * SMSS);
        // A receiver acknowledging every fourth segment: the window grows by half per RTT.
        let mut path = AckClock::new(SMSS, 4);
        let mut cc = NewReno::new(8 * SMSS, SMSS);
        for (k, expected) in [(1, 12), (2, 18)] {
            path.run_until(&mut cc, at_rtts(k), |_| RTT);
            assert_eq!(cc.cwnd(), expected * SMSS, "round {k}");
        }
    }

    #[test]
    fn congestion_avoidance_adds_one_segment_per_round_trip() {
        let mut cc = NewReno::new(80 * SMSS, SMSS);
        cc.on_congestion_event(Instant::ZERO, 100 * SMSS, SMSS);
        cc.on_recovery_exit(Instant::ZERO, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (50 * SMSS, 50 * SMSS));
        let mut path = AckClock::new(SMSS, 1);
        for k in 1..=20 {
            path.run_until(&mut cc, at_rtts(k), |_| RTT);
            assert_eq!(cc.cwnd(), (50 + k as usize) * SMSS, "round {k}");
        }
        // With delayed ACKs an ACK can straddle two rounds, but the rate is the same.
        let mut cc = NewReno::new(50 * SMSS, SMSS);
        cc.ssthresh = 50 * SMSS;
        let mut path = AckClock::new(SMSS, 2);
        path.run_until(&mut cc, at_rtts(40), |_| RTT);
        assert!((88..=90).contains(&(cc.cwnd() / SMSS)), "{}", cc.cwnd());
    }

    #[test]
    fn slow_start_stops_at_ssthresh_and_carries_the_rest() {
        let mut cc = NewReno::new(10 * SMSS, SMSS);
        cc.ssthresh = 11 * SMSS;
        cc.on_ack(Instant::ZERO, 2 * SMSS, 10 * SMSS, None, SMSS);
        assert_eq!(cc.cwnd(), 11 * SMSS);
        assert_eq!(cc.bytes_acked, SMSS);
        assert!(!cc.in_slow_start());
    }

    #[test]
    fn loss_halves_the_flight_with_a_floor_of_two_segments() {
        let mut cc = NewReno::new(40 * SMSS, SMSS);
        // FlightSize, not cwnd, is what RFC 5681 equation 4 halves.
        cc.on_congestion_event(Instant::ZERO, 30 * SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (15 * SMSS, 15 * SMSS));
        cc.on_congestion_event(Instant::ZERO, 3 * SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (2 * SMSS, 2 * SMSS));
    }

    #[test]
    fn rto_collapses_to_one_segment_then_slow_starts_to_ssthresh() {
        let mut cc = NewReno::new(40 * SMSS, SMSS);
        cc.on_rto(Instant::ZERO, 40 * SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (SMSS, 20 * SMSS));
        // A second expiry for the same data keeps ssthresh (RFC 5681 §3.1).
        cc.on_rto(Instant::ZERO, SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (SMSS, 20 * SMSS));

        let mut path = AckClock::new(SMSS, 1);
        let cwnds: Vec<usize> = (1..=8)
            .map(|k| {
                path.run_until(&mut cc, at_rtts(k), |_| RTT);
                cc.cwnd() / SMSS
            })
            .collect();
        // 1, 2, 4, 8, 16 → capped at 20, then one segment per round trip.
        assert_eq!(cwnds, [2, 4, 8, 16, 20, 21, 22, 23]);

        // Once new data was acknowledged, another RTO halves the flight again.
        cc.on_rto(path.now, 20 * SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (SMSS, 10 * SMSS));
    }

    #[test]
    fn an_application_limited_flow_does_not_grow_the_window() {
        let mut cc = NewReno::new(10 * SMSS, SMSS);
        let mut path = AckClock::new(SMSS, 1);
        path.app_limit = Some(4 * SMSS);
        path.run_until(&mut cc, at_rtts(10), |_| RTT);
        assert!(path.acks >= 40);
        assert_eq!(cc.cwnd(), 10 * SMSS);
        // Half the window in use is enough to grow it, up to twice the flight.
        path.app_limit = Some(5 * SMSS);
        path.run_until(&mut cc, at_rtts(20), |_| RTT);
        assert_eq!(cc.cwnd(), 11 * SMSS);
    }

    #[test]
    fn a_spurious_reduction_is_undone() {
        let mut cc = NewReno::new(40 * SMSS, SMSS);
        cc.on_congestion_event(Instant::ZERO, 40 * SMSS, SMSS);
        cc.on_spurious_congestion(Instant::ZERO);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (40 * SMSS, usize::MAX));
        // Nothing to undo twice.
        cc.on_rto(Instant::ZERO, 40 * SMSS, SMSS);
        cc.on_spurious_congestion(Instant::ZERO);
        cc.on_spurious_congestion(Instant::ZERO);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (40 * SMSS, usize::MAX));
    }

    #[test]
    fn idle_restart_falls_back_to_the_initial_window() {
        let mut cc = NewReno::new(10 * SMSS, SMSS);
        let mut path = AckClock::new(SMSS, 1);
        path.run_until(&mut cc, at_rtts(2), |_| RTT);
        assert_eq!(cc.cwnd(), 40 * SMSS);
        cc.on_idle_restart(at_rtts(20), SMSS);
        assert_eq!(cc.cwnd(), 10 * SMSS);
        // A window already below the restart window stays.
        cc.on_rto(at_rtts(20), 10 * SMSS, SMSS);
        cc.on_idle_restart(at_rtts(40), SMSS);
        assert_eq!(cc.cwnd(), SMSS);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let mut cc = NewReno::new(0, 0);
        assert_eq!(cc.cwnd(), 1);
        cc.on_ack(Instant::ZERO, usize::MAX, usize::MAX, None, 0);
        cc.on_congestion_event(Instant::ZERO, usize::MAX, usize::MAX);
        cc.on_ack(Instant::ZERO, usize::MAX, usize::MAX, None, usize::MAX);
        cc.on_rto(Instant::ZERO, 0, 0);
        assert_eq!(cc.cwnd(), 1);
        assert_eq!(cc.name(), "newreno");
    }
}
