//! CUBIC (RFC 9438), with HyStart++ (RFC 9406) in the first slow start.
//!
//! Window sizes are kept in bytes; the RFC's formulas, written in segments, are applied
//! with one SMSS as the unit (`W_cubic(t)` in bytes is `C·(t−K)³·SMSS + W_max`).

use super::{CongestionControl, cwnd_limited, reduced_window, valid_smss};
use crate::time::{Duration, Instant};

/// RFC 9438 §5: the aggressiveness constant C, in segments per second cubed.
const C: f64 = 0.4;
/// RFC 9438 §4.6: the multiplicative decrease factor β_cubic = 0.7, as a fraction.
const BETA_NUM: usize = 7;
const BETA_DEN: usize = 10;
const BETA: f64 = 0.7;
/// RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β), the Reno-friendly additive increase.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);
/// RFC 3465 §2.2: at most 2 SMSS of growth per ACK in a standard slow start.
const ABC_LIMIT: usize = 2;

/// CUBIC congestion control (RFC 9438).
///
/// In congestion avoidance the window follows `W_cubic(t) = C·(t−K)³ + W_max` from the
/// start of the epoch: concave up to the window where the last loss happened (`W_max`,
/// reached after `K` seconds), a plateau there, then convex probing beyond. Losses multiply
/// the window by β = 0.7, with fast convergence (RFC 9438 §4.7) lowering `W_max` further when
/// the window keeps shrinking, and the Reno-friendly region (§4.3) keeps CUBIC at least as
/// fast as Reno on short round trips.
///
/// The first slow start uses HyStart++ (RFC 9406): when the minimum RTT of a round rises by
/// a clear margin over the previous round's, the queue is filling, and slow start gives way
/// to a gentler Conservative Slow Start, then to congestion avoidance, usually before any
/// loss. Later slow starts (after an RTO) are standard (RFC 5681, RFC 3465).
#[derive(Clone, Debug)]
pub struct Cubic {
    cwnd: usize,
    ssthresh: usize,
    initial_cwnd: u32,
    /// `W_max`, bytes: the window just before the last reduction (§4.7), or the window when
    /// the current epoch started if that is larger.
    w_max: f64,
    /// `cwnd_prior`, bytes: the window when `ssthresh` was last set (§4.3).
    cwnd_prior: f64,
    /// `K`, seconds: when `W_cubic` reaches `W_max` in the current epoch (§4.2 figure 2).
    k: f64,
    /// `t_epoch`: when the current congestion-avoidance stage started.
    epoch_start: Option<Instant>,
    /// `W_est`, bytes: the Reno-friendly window estimate (§4.3).
    w_est: f64,
    /// Growth earned but less than a byte, carried to the next ACK.
    carry: f64,
    /// A smoothed RTT kept from the samples (RFC 6298 gains), for `W_cubic(t + RTT)`.
    srtt: Option<Duration>,
    /// When the last ACK arrived: app-limited and idle time is kept out of `t` (§5.8).
    last_ack: Option<Instant>,
    /// HyStart++ while the first slow start runs; `None` once it is over or disabled.
    hystart: Option<HyStart>,
    /// The next epoch starts with `K = 0` and `W_max` = its starting window (§4.8, after
    /// an RTO).
    restart_curve: bool,
    /// An RTO happened and no new data has been acknowledged since (RFC 5681 §3.1).
    in_rto_backoff: bool,
    /// The state before the last reduction (§4.9), boxed: most connections never reduce
    /// their window, and keep only the pointer.
    undo: Option<Box<Saved>>,
}

/// What a spurious congestion event gives back (RFC 9438 §4.9).
#[derive(Clone, Copy, Debug)]
struct Saved {
    cwnd: usize,
    ssthresh: usize,
    w_max: f64,
    cwnd_prior: f64,
    k: f64,
    epoch_start: Option<Instant>,
    w_est: f64,
}

impl Cubic {
    /// A controller in slow start, HyStart++ on, with a window of `initial_cwnd` bytes
    /// (RFC 6928: ten segments, `10 * smss`; never less than one SMSS) and no threshold.
    pub fn new(initial_cwnd: usize, smss: usize) -> Self {
        let cwnd = initial_cwnd.max(valid_smss(smss));
        Self {
            cwnd,
            ssthresh: usize::MAX,
            initial_cwnd: u32::try_from(cwnd).unwrap_or(u32::MAX),
            w_max: 0.0,
            cwnd_prior: 0.0,
            k: 0.0,
            epoch_start: None,
            w_est: 0.0,
            carry: 0.0,
            srtt: None,
            last_ack: None,
            hystart: Some(HyStart::new()),
            restart_curve: false,
            in_rto_backoff: false,
            undo: None,
        }
    }

    /// The same controller with HyStart++ turned on or off for its first slow start
    /// (RFC 9406); off, slow start runs until the first loss as in RFC 5681.
    pub fn with_hystart(mut self, enabled: bool) -> Self {
        self.hystart = enabled.then(HyStart::new);
        self
    }

    /// `W_cubic(t)` in bytes (RFC 9438 §4.2 figure 1), `t` in seconds since the epoch.
    fn w_cubic(&self, t: f64, smss: usize) -> f64 {
        let d = t - self.k;
        C * d * d * d * smss as f64 + self.w_max
    }

    /// Starts a congestion-avoidance stage at `now` (RFC 9438 §4.2, §4.3, §4.8, §4.10).
    fn start_epoch(&mut self, now: Instant, smss: usize) {
        let cwnd = self.cwnd as f64;
        self.epoch_start = Some(now);
        if self.restart_curve || self.w_max <= cwnd {
            // After an RTO (§4.8), after HyStart++ (§4.10), or above the old W_max: the
            // curve starts at its plateau.
            self.w_max = cwnd;
            self.k = 0.0;
        } else {
            // §4.2 figure 2: K = cbrt((W_max − cwnd_epoch) / C), in segments.
            self.k = ((self.w_max - cwnd) / smss as f64 / C).cbrt();
        }
        self.restart_curve = false;
        self.w_est = cwnd;
        self.carry = 0.0;
    }

    /// One ACK's growth in congestion avoidance (RFC 9438 §4.2–§4.5).
    fn congestion_avoidance(&mut self, now: Instant, acked: usize, smss: usize) {
        let epoch_start = match self.epoch_start {
            Some(t) => t,
            None => {
                self.start_epoch(now, smss);
                now
            }
        };
        let t = (now - epoch_start).as_secs_f64();
        let cwnd = self.cwnd as f64;
        let acked = acked as f64;

        // §4.3 figure 4: W_est += α_cubic · segments_acked / cwnd, with α_cubic = 1 once
        // W_est has reached cwnd_prior.
        let alpha = if self.w_est >= self.cwnd_prior { 1.0 } else { ALPHA };
        self.w_est += alpha * acked * smss as f64 / cwnd;

        if self.w_cubic(t, smss) < self.w_est {
            // §4.3: the Reno-friendly region: cwnd = W_est.
            if self.w_est > cwnd {
                self.cwnd = self.w_est as usize;
            }
            self.carry = 0.0;
        } else {
            // §4.4 and §4.5, concave and convex regions: grow by (target − cwnd)/cwnd per
            // SMSS acknowledged, target = W_cubic(t + RTT) clamped to [cwnd, 1.5·cwnd].
            let rtt = self.srtt.map_or(0.0, Duration::as_secs_f64);
            let target = self.w_cubic(t + rtt, smss).max(cwnd).min(1.5 * cwnd);
            self.carry += (target - cwnd) * acked / cwnd;
            if self.carry >= 1.0 {
                let whole = self.carry.floor();
                self.carry -= whole;
                self.cwnd = self.cwnd.saturating_add(whole as usize);
            }
        }
    }

    /// Keeps a smoothed RTT with RFC 6298's gain of 1/8.
    fn sample_rtt(&mut self, rtt: Duration) {
        self.srtt = Some(match self.srtt {
            None => rtt,
            Some(srtt) => Duration::from_micros(
                (srtt.total_micros().saturating_mul(7) + rtt.total_micros()) / 8,
            ),
        });
    }

    fn save(&mut self) {
        let saved = Saved {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            w_max: self.w_max,
            cwnd_prior: self.cwnd_prior,
            k: self.k,
            epoch_start: self.epoch_start,
            w_est: self.w_est,
        };
        match &mut self.undo {
            Some(slot) => **slot = saved,
            None => self.undo = Some(Box::new(saved)),
        }
    }

    /// RFC 9438 §4.6 and §4.7: remember where the loss happened and set `ssthresh`.
    fn reduce(&mut self, flight: usize, smss: usize) {
        let cwnd = self.cwnd as f64;
        // §4.7 fast convergence: a window that shrank since the last loss releases bandwidth
        // for newer flows by aiming lower.
        self.w_max = if cwnd < self.w_max { cwnd * (1.0 + BETA) / 2.0 } else { cwnd };
        self.cwnd_prior = cwnd;
        // §4.6 figure 5: ssthresh = flight_size · β_cubic, at least 2 SMSS.
        self.ssthresh = reduced_window(flight, BETA_NUM, BETA_DEN, smss);
        self.epoch_start = None;
        self.carry = 0.0;
        // RFC 9406 §4.2: a loss ends HyStart++ for good.
        self.hystart = None;
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn in_conservative_slow_start(&self) -> bool {
        self.in_slow_start() && self.hystart.as_ref().is_some_and(|h| h.css.is_some())
    }

    fn on_ack(
        &mut self,
        now: Instant,
        acked: usize,
        flight_before: usize,
        rtt: Option<Duration>,
        smss: usize,
    ) {
        let smss = valid_smss(smss);
        self.in_rto_backoff = false;
        if let Some(rtt) = rtt {
            self.sample_rtt(rtt);
        }
        let previous_ack = self.last_ack.replace(now);
        if acked == 0 {
            return;
        }
        let limited = cwnd_limited(flight_before, self.cwnd);

        if self.cwnd < self.ssthresh {
            if let Some(hystart) = &mut self.hystart {
                let step = hystart.on_ack(acked, flight_before, rtt);
                if limited {
                    // RFC 9406 §4.2: cwnd += min(N, L·SMSS), divided by CSS_GROWTH_DIVISOR in CSS.
                    let increase = acked.min(HYSTART_L * smss) / step.divisor;
                    self.cwnd = self.cwnd.saturating_add(increase);
                }
                if step.enter_congestion_avoidance {
                    // RFC 9406 §4.2: CSS is over; RFC 9438 §4.10: cwnd_prior = cwnd, and the
                    // first epoch starts at the curve's plateau.
                    self.ssthresh = self.cwnd;
                    self.cwnd_prior = self.cwnd as f64;
                    self.hystart = None;
                    self.epoch_start = None;
                }
                return;
            }
            if !limited {
                return;
            }
            // RFC 5681 §3.1 with RFC 3465 §2.2 (L = 2).
            let increase = acked.min(ABC_LIMIT * smss);
            let room = self.ssthresh - self.cwnd;
            if increase <= room {
                self.cwnd += increase;
                return;
            }
            self.cwnd = self.ssthresh;
            self.congestion_avoidance(now, increase - room, smss);
            return;
        }

        if !limited {
            // RFC 9438 §5.8: t must not include application-limited periods; move the epoch
            // forward by the time this ACK spent without the window in use.
            if let (Some(epoch), Some(previous)) = (self.epoch_start, previous_ack) {
                self.epoch_start = Some(epoch + (now - previous));
            }
            return;
        }
        self.congestion_avoidance(now, acked, smss);
    }

    fn on_congestion_event(&mut self, _now: Instant, flight: usize, smss: usize) {
        let smss = valid_smss(smss);
        self.save();
        self.reduce(flight, smss);
        // §4.6: cwnd = max(ssthresh, 2 SMSS); ssthresh is at least 2 SMSS already.
        self.cwnd = self.ssthresh;
    }

    fn on_recovery_exit(&mut self, _now: Instant, _smss: usize) {
        // The epoch starts with the first ACK of congestion avoidance.
        self.epoch_start = None;
        self.carry = 0.0;
    }

    fn on_rto(&mut self, _now: Instant, flight: usize, smss: usize) {
        let smss = valid_smss(smss);
        if !self.in_rto_backoff {
            self.save();
            // §4.8: ssthresh as for any loss; later expiries for the same data keep it
            // (RFC 5681 §3.1).
            self.reduce(flight, smss);
        }
        self.in_rto_backoff = true;
        self.restart_curve = true;
        self.epoch_start = None;
        // RFC 5681 §3.1: cwnd = LW, one segment.
        self.cwnd = smss;
    }

    fn on_spurious_congestion(&mut self, _now: Instant) {
        // §4.9: restore what the reduction changed.
        if let Some(saved) = self.undo.take() {
            self.cwnd = self.cwnd.max(saved.cwnd);
            self.ssthresh = saved.ssthresh;
            self.w_max = saved.w_max;
            self.cwnd_prior = saved.cwnd_prior;
            self.k = saved.k;
            self.epoch_start = saved.epoch_start;
            self.w_est = saved.w_est;
            self.carry = 0.0;
            self.restart_curve = false;
            self.in_rto_backoff = false;
        }
    }

    fn on_idle_restart(&mut self, now: Instant, _smss: usize) {
        // RFC 5681 §4.1: cwnd = min(cwnd, RW) with RW = min(IW, cwnd).
        if self.cwnd > self.initial_cwnd as usize {
            self.cwnd = self.initial_cwnd as usize;
            self.epoch_start = None;
            self.carry = 0.0;
        } else if let (Some(epoch), Some(previous)) = (self.epoch_start, self.last_ack) {
            // The window is kept: keep the idle time out of the curve (§5.8).
            self.epoch_start = Some(epoch + (now - previous));
            self.last_ack = Some(now);
        }
    }
}

/// RFC 9406 §4.3: the per-ACK growth limit L, in SMSS, for a sender that does not pace.
const HYSTART_L: usize = 8;
/// RFC 9406 §4.3: bounds and divisor of the RTT increase that ends slow start.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
const MIN_RTT_DIVISOR: u64 = 8;
/// RFC 9406 §4.3: RTT samples a round needs before its minimum is trusted.
const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 §4.3: Conservative Slow Start grows this many times slower than slow start.
const CSS_GROWTH_DIVISOR: usize = 4;
/// RFC 9406 §4.3: Conservative Slow Start lasts at most this many rounds.
const CSS_ROUNDS: u32 = 5;

/// HyStart++ state (RFC 9406 §4.2).
///
/// A round is the time for the data in flight at its start to be acknowledged: the RFC's
/// `windowEnd` is `SND.NXT` when the round starts, and the round ends when `SND.UNA` passes
/// it. The controller sees byte counts rather than sequence numbers, so it keeps the bytes
/// still to be acknowledged before the round ends.
#[derive(Clone, Debug)]
struct HyStart {
    /// Bytes to be acknowledged before the current round ends; `None` before the first ACK.
    round_remaining: Option<u32>,
    last_round_min_rtt: Option<Duration>,
    current_round_min_rtt: Option<Duration>,
    rtt_sample_count: u32,
    /// `Some` in Conservative Slow Start: `cssBaselineMinRtt` and the rounds spent in CSS
    /// (the partial round of entry counts).
    css: Option<(Duration, u32)>,
}

/// What HyStart++ makes of one ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HyStartStep {
    /// Slow start's growth is divided by this (1 in slow start, 4 in CSS).
    divisor: usize,
    /// CSS has run its rounds: set `ssthresh = cwnd` and enter congestion avoidance.
    enter_congestion_avoidance: bool,
}

impl HyStart {
    fn new() -> Self {
        Self {
            round_remaining: None,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            rtt_sample_count: 0,
            css: None,
        }
    }

    fn start_round(&mut self, remaining: usize) {
        // A round is at most a window, below 2^30 bytes.
        self.round_remaining = Some(u32::try_from(remaining).unwrap_or(u32::MAX));
        self.last_round_min_rtt = self.current_round_min_rtt.take();
        self.rtt_sample_count = 0;
    }

    fn on_ack(&mut self, acked: usize, flight_before: usize, rtt: Option<Duration>) -> HyStartStep {
        // The bytes still outstanding after this ACK make the new round if one starts here.
        let outstanding_after = flight_before.saturating_sub(acked);
        let first = self.round_remaining.is_none();
        if first {
            self.start_round(outstanding_after);
        }
        // RFC 9406 §4.2: the growth of this ACK follows the phase it arrived in.
        let divisor = if self.css.is_some() { CSS_GROWTH_DIVISOR } else { 1 };

        if let Some(rtt) = rtt {
            self.current_round_min_rtt =
                Some(self.current_round_min_rtt.map_or(rtt, |m| m.min(rtt)));
            self.rtt_sample_count += 1;
        }
        if self.rtt_sample_count >= N_RTT_SAMPLE {
            match (self.css, self.current_round_min_rtt, self.last_round_min_rtt) {
                (None, Some(current), Some(last)) => {
                    // RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR,
                    // MAX_RTT_THRESH)).
                    let thresh = Duration::from_micros(last.total_micros() / MIN_RTT_DIVISOR)
                        .min(MAX_RTT_THRESH)
                        .max(MIN_RTT_THRESH);
                    if current >= last + thresh {
                        // The delay grew: leave slow start for CSS.
                        self.css = Some((current, 1));
                    }
                }
                (Some((baseline, _)), Some(current), _) if current < baseline => {
                    // The RTT fell back below the baseline: the exit was spurious.
                    self.css = None;
                }
                _ => {}
            }
        }

        let mut enter_congestion_avoidance = false;
        match self.round_remaining {
            _ if first => {}
            Some(remaining) if acked < remaining as usize => {
                self.round_remaining = Some(remaining - acked as u32);
            }
            _ => {
                // This ACK covers the end of the round: the next one starts.
                self.start_round(outstanding_after);
                if let Some((_, rounds)) = &mut self.css {
                    *rounds += 1;
                    enter_congestion_avoidance = *rounds > CSS_ROUNDS;
                }
            }
        }
        HyStartStep { divisor, enter_congestion_avoidance }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::congestion::testing::AckClock;

    const SMSS: usize = 1000;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn secs(t: f64) -> Duration {
        Duration::from_micros((t * 1e6) as u64)
    }

    /// RFC 9438 figure 1, computed independently: the window in segments at `t` seconds.
    fn rfc_w_cubic(t: f64, w_max_segments: f64, cwnd_epoch_segments: f64) -> f64 {
        let k = ((w_max_segments - cwnd_epoch_segments) / 0.4).cbrt();
        0.4 * (t - k).powi(3) + w_max_segments
    }

    /// A controller that has just lost at a window of `segments`, flight = window.
    fn after_loss_at(segments: usize) -> Cubic {
        let mut cc = Cubic::new(segments * SMSS, SMSS).with_hystart(false);
        cc.on_congestion_event(Instant::ZERO, segments * SMSS, SMSS);
        cc.on_recovery_exit(Instant::ZERO, SMSS);
        cc
    }

    fn segments(cc: &Cubic) -> f64 {
        cc.cwnd() as f64 / SMSS as f64
    }

    #[test]
    fn slow_start_doubles_every_round_trip() {
        for hystart in [true, false] {
            for ack_every in [1, 2] {
                let mut cc = Cubic::new(10 * SMSS, SMSS).with_hystart(hystart);
                let mut path = AckClock::new(SMSS, ack_every);
                for k in 1..=6 {
                    path.run_until(&mut cc, Instant::ZERO + ms(100 * k), |_| ms(100));
                    assert_eq!(cc.cwnd(), (10 * SMSS) << k, "{hystart} {ack_every} {k}");
                }
                // A steady RTT never looks like a filling queue.
                assert!(cc.in_slow_start());
                assert_eq!(cc.ssthresh(), usize::MAX);
            }
        }
    }

    #[test]
    fn loss_multiplies_the_window_by_beta() {
        let cc = after_loss_at(100);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (70 * SMSS, 70 * SMSS));
        assert_eq!(cc.w_max, 100_000.0);
        assert_eq!(cc.cwnd_prior, 100_000.0);
        // β applies to the flight; the floor is 2 SMSS.
        let mut cc = Cubic::new(100 * SMSS, SMSS);
        cc.on_congestion_event(Instant::ZERO, 40 * SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (28 * SMSS, 28 * SMSS));
        cc.on_congestion_event(Instant::ZERO, 2 * SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (2 * SMSS, 2 * SMSS));
        assert!(cc.hystart.is_none());
    }

    #[test]
    fn the_window_follows_the_cubic_curve() {
        // W_max = 1000 segments, cwnd_epoch = 700, RTT 100 ms: the Reno estimate stays far
        // below the curve, which alone sets the window.
        let mut cc = after_loss_at(1000);
        let rtt = ms(100);
        let mut path = AckClock::new(SMSS, 1);
        path.run_until(&mut cc, Instant::ZERO + rtt, |_| rtt);
        let epoch = cc.epoch_start.expect("the first ACK in congestion avoidance starts an epoch");
        // K = cbrt((1000 − 700) / 0.4) = cbrt(750) ≈ 9.086 s.
        let k = 750f64.cbrt();
        assert!((cc.k - k).abs() < 1e-9, "K = {}", cc.k);

        let mut previous = segments(&cc);
        let mut growth = Vec::new();
        for t in [1.0, 2.0, 4.0, 6.0, 8.0, k, 10.0, 11.0, 12.0, 13.0, 14.0] {
            path.run_until(&mut cc, epoch + secs(t), |_| rtt);
            let expected = rfc_w_cubic(t, 1000.0, 700.0);
            let got = segments(&cc);
            // Within half a percent of RFC 9438 figure 1 at every sample time.
            assert!((got - expected).abs() <= expected * 0.005, "t={t}: {got} vs {expected}");
            assert!(cc.w_est < cc.w_cubic(t, SMSS), "Reno-friendly region at t={t}");
            growth.push(got - previous);
            previous = got;
        }
        // Concave: the growth per second falls toward the plateau at W_max...
        assert!(growth[0] > 30.0 && growth[1] > growth[2] / 2.0, "{growth:?}");
        let at_k = rfc_w_cubic(k, 1000.0, 700.0);
        assert!((at_k - 1000.0).abs() < 1e-9);
        // ...is nearly flat around K (between 8 s and 10 s it gains under 2 segments)...
        let plateau = growth[5] + growth[6];
        assert!(plateau < 2.0, "{growth:?}");
        // ...and convex after it: every second adds more than the one before.
        assert!(growth[7..].windows(2).all(|w| w[1] > w[0]), "{growth:?}");
        assert!(segments(&cc) > 1040.0);
    }

    #[test]
    fn the_target_is_capped_at_one_and_a_half_windows_per_rtt() {
        // Far beyond K the curve is steep; one RTT can at most grow the window by half.
        let mut cc = after_loss_at(100);
        cc.on_ack(Instant::ZERO, SMSS, 70 * SMSS, Some(ms(100)), SMSS);
        let before = cc.cwnd();
        // 100 s after the epoch, W_cubic is ~360,000 segments; one ACK per segment of the
        // window for one RTT at most adds half of it.
        let mut path = AckClock::new(SMSS, 1);
        path.now = Instant::from_secs(100);
        path.run_until(&mut cc, Instant::from_secs(100) + ms(100), |_| ms(100));
        assert!(cc.cwnd() as f64 <= before as f64 * 1.5 + SMSS as f64, "{} {before}", cc.cwnd());
        assert!(cc.cwnd() as f64 >= before as f64 * 1.3, "{} {before}", cc.cwnd());
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_the_window_shrinks() {
        let mut cc = after_loss_at(100);
        let rtt = ms(100);
        let mut path = AckClock::new(SMSS, 1);
        while cc.cwnd() < 80 * SMSS {
            let until = path.now + rtt;
            path.run_until(&mut cc, until, |_| rtt);
        }
        let cwnd = cc.cwnd() as f64;
        assert!(cwnd < cc.w_max);
        cc.on_congestion_event(path.now, cc.cwnd(), SMSS);
        // RFC 9438 §4.7: W_max = cwnd · (1 + β) / 2.
        assert!((cc.w_max - cwnd * 0.85).abs() < 1e-6, "{} {cwnd}", cc.w_max);
        assert_eq!(cc.ssthresh(), (cwnd * 0.7) as usize);
        let now = path.now;
        cc.on_recovery_exit(now, SMSS);
        cc.on_ack(now, SMSS, cc.cwnd(), Some(rtt), SMSS);
        let expected_k = ((cwnd * 0.85 - cc.cwnd() as f64) / SMSS as f64 / 0.4).cbrt();
        assert!((cc.k - expected_k).abs() < 1e-3, "{} {expected_k}", cc.k);

        // A loss above the old W_max remembers the window itself.
        let mut cc = after_loss_at(100);
        cc.cwnd = 120 * SMSS;
        cc.on_congestion_event(Instant::ZERO, 120 * SMSS, SMSS);
        assert_eq!(cc.w_max, 120_000.0);
    }

    #[test]
    fn the_reno_friendly_region_dominates_on_short_rtts() {
        // RTT 1 ms: in 40 round trips W_cubic barely moves from 70 segments, while Reno's
        // estimate gains α = 3(1 − 0.7)/(1 + 0.7) ≈ 0.53 segment per round trip, and 1 per
        // round trip once it has passed cwnd_prior (100 segments).
        let mut cc = after_loss_at(100);
        let rtt = ms(1);
        let mut path = AckClock::new(SMSS, 1);
        path.run_until(&mut cc, Instant::ZERO + ms(40), |_| rtt);
        let epoch = cc.epoch_start.expect("epoch");
        let t = (path.now - epoch).as_secs_f64();
        let w_cubic = rfc_w_cubic(t, 100.0, 70.0);
        assert!(w_cubic < 71.0);
        let reno = 70.0 + 40.0 * 3.0 * 0.3 / 1.7;
        assert!((segments(&cc) - reno).abs() < 1.5, "{} vs {reno}", segments(&cc));

        path.run_until(&mut cc, Instant::ZERO + ms(200), |_| rtt);
        // ~57 round trips to reach 100 at α ≈ 0.53, then 143 at α = 1.
        assert!((segments(&cc) - 243.0).abs() < 4.0, "{}", segments(&cc));
        assert!(cc.w_est >= cc.cwnd_prior);
    }

    #[test]
    fn rto_collapses_to_one_segment_and_restarts_the_curve_at_its_plateau() {
        let mut cc = Cubic::new(100 * SMSS, SMSS);
        cc.on_rto(Instant::ZERO, 100 * SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (SMSS, 70 * SMSS));
        // A backed-off second expiry keeps ssthresh.
        cc.on_rto(Instant::ZERO, SMSS, SMSS);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (SMSS, 70 * SMSS));

        let rtt = ms(100);
        let mut path = AckClock::new(SMSS, 1);
        // Standard slow start (no HyStart++ after a loss) up to 70 segments.
        let mut k = 0;
        while cc.in_slow_start() {
            k += 1;
            path.run_until(&mut cc, Instant::ZERO + rtt.saturating_mul(k), |_| rtt);
        }
        assert_eq!(k, 7);
        assert!(cc.hystart.is_none());
        // RFC 9438 §4.8: K = 0 and W_max = the window the epoch started with.
        assert_eq!(cc.k, 0.0);
        let w_max = cc.w_max;
        assert!((70_000.0..=71_000.0).contains(&w_max), "{w_max}");
        let epoch = cc.epoch_start.expect("epoch");
        // Convex from the start: after 6 s, 0.4 · 6³ ≈ 86 segments above W_max (the Reno
        // estimate, ~33 segments above, is left behind).
        path.run_until(&mut cc, epoch + Duration::from_secs(6), |_| rtt);
        // The window aims one RTT ahead (W_cubic(t + RTT)), so it lies between the two.
        let w = |t: f64| 0.4 * t * t * t + w_max / SMSS as f64;
        let got = segments(&cc);
        assert!(w(6.0) - 0.5 <= got && got <= w(6.1) + 0.5, "{got} vs {} – {}", w(6.0), w(6.1));
    }

    #[test]
    fn application_limited_time_is_kept_out_of_the_curve() {
        let mut cc = after_loss_at(100);
        cc.on_ack(Instant::ZERO, SMSS, 70 * SMSS, Some(ms(100)), SMSS);
        let epoch = cc.epoch_start.expect("epoch");
        let cwnd = cc.cwnd();
        // Two seconds with a tiny flight: no growth, and the epoch moves with the clock.
        cc.on_ack(Instant::from_secs(2), SMSS, 2 * SMSS, Some(ms(100)), SMSS);
        assert_eq!(cc.cwnd(), cwnd);
        assert_eq!(cc.epoch_start, Some(epoch + Duration::from_secs(2)));
        // Idle without shrinking the window: also kept out.
        cc.on_idle_restart(Instant::from_secs(5), SMSS);
        assert_eq!(cc.epoch_start, Some(epoch + Duration::from_secs(5)));
        // Idle with a window above the initial one: back to IW, new epoch later.
        let mut cc = Cubic::new(10 * SMSS, SMSS);
        cc.cwnd = 50 * SMSS;
        cc.on_idle_restart(Instant::from_secs(5), SMSS);
        assert_eq!(cc.cwnd(), 10 * SMSS);
    }

    #[test]
    fn a_spurious_reduction_is_undone() {
        let mut cc = after_loss_at(100);
        cc.on_ack(Instant::ZERO, SMSS, 70 * SMSS, Some(ms(100)), SMSS);
        let (cwnd, ssthresh, w_max, k) = (cc.cwnd(), cc.ssthresh(), cc.w_max, cc.k);
        cc.on_congestion_event(Instant::from_millis(10), cwnd, SMSS);
        assert!(cc.cwnd() < cwnd);
        cc.on_spurious_congestion(Instant::from_millis(20));
        assert_eq!((cc.cwnd(), cc.ssthresh(), cc.w_max, cc.k), (cwnd, ssthresh, w_max, k));
        cc.on_rto(Instant::from_millis(30), cwnd, SMSS);
        cc.on_spurious_congestion(Instant::from_millis(40));
        assert_eq!((cc.cwnd(), cc.ssthresh(), cc.w_max, cc.k), (cwnd, ssthresh, w_max, k));
        assert!(!cc.restart_curve);
    }

    #[test]
    fn hystart_leaves_slow_start_when_the_queue_builds() {
        // RTT 100 ms until the sender has 80 segments out, then a queue adds 30 ms.
        let rtt = |sent: Instant| if sent < Instant::from_millis(300) { ms(100) } else { ms(130) };
        let mut cc = Cubic::new(10 * SMSS, SMSS);
        let mut path = AckClock::new(SMSS, 1);
        path.run_until(&mut cc, Instant::from_millis(400), rtt);
        assert_eq!(cc.cwnd(), 80 * SMSS);
        assert!(cc.hystart.as_ref().is_some_and(|h| h.css.is_none()));

        // The first round at 130 ms enters Conservative Slow Start.
        path.run_until(&mut cc, Instant::from_millis(430), rtt);
        assert!(cc.hystart.as_ref().is_some_and(|h| h.css.is_some()));

        // CSS grows a quarter as fast: about ×1.25 per round trip instead of ×2.
        let before = cc.cwnd() as f64;
        path.run_until(&mut cc, Instant::from_millis(560), rtt);
        let ratio = cc.cwnd() as f64 / before;
        assert!((1.2..1.3).contains(&ratio), "{ratio}");

        // After CSS_ROUNDS rounds it hands over to congestion avoidance at ssthresh = cwnd.
        let mut exit = None;
        while path.now < Instant::from_secs(2) {
            let until = path.now + ms(10);
            path.run_until(&mut cc, until, rtt);
            if exit.is_none() && !cc.in_slow_start() {
                exit = Some((path.now, cc.ssthresh()));
                // ssthresh = cwnd at the exit; congestion avoidance may have added a little since.
                assert!(cc.cwnd() - cc.ssthresh() < 2 * SMSS);
                assert_eq!(cc.cwnd_prior, cc.ssthresh() as f64);
            }
        }
        let (when, window) = exit.expect("HyStart++ ends slow start");
        assert!(Instant::from_millis(900) <= when && when <= Instant::from_millis(1200), "{when}");
        assert!((300 * SMSS..600 * SMSS).contains(&window), "{window}");
        assert!(cc.hystart.is_none());

        // Without HyStart++ the same path doubles on: ten times the window by then.
        let mut plain = Cubic::new(10 * SMSS, SMSS).with_hystart(false);
        let mut path = AckClock::new(SMSS, 1);
        path.run_until(&mut plain, when, rtt);
        assert!(plain.cwnd() > 4 * window, "{}", plain.cwnd());
    }

    /// Drives HyStart++ directly: a round is `n` ACKs of one segment each.
    fn hystart_round(h: &mut HyStart, n: usize, rtt: Duration) -> Vec<HyStartStep> {
        (0..n).map(|_| h.on_ack(SMSS, (n + 1) * SMSS, Some(rtt))).collect()
    }

    fn hystart_started(rtt: Duration) -> HyStart {
        let mut h = HyStart::new();
        // The first ACK starts the first round of `n` = 10 more ACKs.
        h.on_ack(SMSS, 11 * SMSS, Some(rtt));
        hystart_round(&mut h, 10, rtt);
        h
    }

    #[test]
    fn hystart_threshold_is_an_eighth_of_the_rtt_within_4_and_16_ms() {
        // (last round's minimum, this round's minimum, CSS expected)
        let cases = [
            (100, 112, false), // 12.5 ms threshold
            (100, 113, true),
            (20, 23, false), // an eighth is 2.5 ms: raised to 4 ms
            (20, 24, true),
            (400, 415, false), // an eighth is 50 ms: lowered to 16 ms
            (400, 416, true),
        ];
        for (last, now, css) in cases {
            let mut h = hystart_started(ms(last));
            let steps = hystart_round(&mut h, 10, ms(now));
            assert_eq!(h.css.is_some(), css, "{last} → {now}");
            if css {
                // Entered on the 8th sample (N_RTT_SAMPLE); later ACKs grow at a quarter.
                assert!(steps[..8].iter().all(|s| s.divisor == 1));
                assert!(steps[8..].iter().all(|s| s.divisor == CSS_GROWTH_DIVISOR));
            }
        }
    }

    #[test]
    fn hystart_needs_enough_samples_in_a_round() {
        let mut h = hystart_started(ms(100));
        // A round of 7 ACKs at a much higher RTT: too few samples to judge.
        for _ in 0..7 {
            h.on_ack(SMSS, 8 * SMSS, Some(ms(200)));
        }
        assert!(h.css.is_none());
        // ACKs without RTT samples do not count either.
        let mut h = hystart_started(ms(100));
        for _ in 0..10 {
            h.on_ack(SMSS, 11 * SMSS, None);
        }
        assert!(h.css.is_none());
    }

    #[test]
    fn hystart_resumes_slow_start_when_the_rtt_falls_back() {
        let mut h = hystart_started(ms(100));
        hystart_round(&mut h, 10, ms(120));
        assert_eq!(h.css.map(|(baseline, _)| baseline), Some(ms(120)));
        // The next round's minimum is below the baseline: the exit was spurious.
        let steps = hystart_round(&mut h, 10, ms(101));
        assert!(h.css.is_none());
        assert_eq!(steps.last().map(|s| s.divisor), Some(1));
        assert!(steps.iter().all(|s| !s.enter_congestion_avoidance));
    }

    #[test]
    fn hystart_css_lasts_five_rounds_counting_the_partial_one() {
        let mut h = hystart_started(ms(100));
        hystart_round(&mut h, 10, ms(120)); // enters CSS mid-round: round 1
        for round in 2..=4 {
            let steps = hystart_round(&mut h, 10, ms(120));
            assert!(steps.iter().all(|s| !s.enter_congestion_avoidance), "round {round}");
        }
        let steps = hystart_round(&mut h, 10, ms(120));
        // The last ACK of the fifth round ends CSS.
        assert!(steps[..9].iter().all(|s| !s.enter_congestion_avoidance));
        assert!(steps[9].enter_congestion_avoidance);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let mut cc = Cubic::new(0, 0);
        assert_eq!(cc.cwnd(), 1);
        cc.on_ack(Instant::ZERO, usize::MAX, usize::MAX, Some(Duration::MAX), 0);
        cc.on_congestion_event(Instant::ZERO, usize::MAX, usize::MAX);
        cc.on_ack(Instant::from_secs(1_000_000), usize::MAX, usize::MAX, None, usize::MAX);
        cc.on_rto(Instant::ZERO, 0, 0);
        cc.on_ack(Instant::from_secs(1), 1, 1, None, 1);
        cc.on_ack(Instant::from_micros(u64::MAX), 1, 1, None, 1);
        assert_eq!(cc.name(), "cubic");
    }
}
