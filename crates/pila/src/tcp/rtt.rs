//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use crate::time::Duration;

/// Clock granularity G of RFC 6298 §2: our timestamps tick in milliseconds.
const GRANULARITY: Duration = Duration::from_millis(1);

/// The bounds of the RTO (RFC 6298 §2.4, §2.5): the stack's settings, handed to the calls
/// that need them rather than copied into every connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RtoBounds {
    pub(super) min: Duration,
    pub(super) max: Duration,
}

/// The RFC 6298 estimator: SRTT, RTTVAR, RTO with exponential backoff.
#[derive(Debug, Clone)]
pub(super) struct RttEstimator {
    /// Smoothed RTT; meaningful once `samples` is not 0.
    srtt: Duration,
    rttvar: Duration,
    /// The RTO before backoff, at most the maximum.
    base_rto: Duration,
    /// The RTO, backoff included (RFC 6298 §5.5), at most the maximum.
    rto: Duration,
    /// The last measurement in microseconds (at most 71 minutes), what a trace records.
    latest_micros: u32,
    /// Measurements so far, modulo 2^32 but never 0 again after the first: 0 means none,
    /// as an `Option` around `srtt` would say in 8 more bytes.
    samples: u32,
}

impl RttEstimator {
    /// RFC 6298 §2.1: before any sample, RTO = the initial value (at most the maximum).
    pub(super) fn new(initial: Duration, bounds: RtoBounds) -> Self {
        let base_rto = initial.min(bounds.max);
        Self {
            srtt: Duration::ZERO,
            rttvar: Duration::ZERO,
            base_rto,
            rto: base_rto,
            latest_micros: 0,
            samples: 0,
        }
    }

    /// Feeds one RTT measurement (RFC 6298 §2.2, §2.3).
    pub(super) fn sample(&mut self, rtt: Duration, bounds: RtoBounds) {
        self.latest_micros = u32::try_from(rtt.total_micros()).unwrap_or(u32::MAX);
        let first = self.samples == 0;
        self.samples = self.samples.wrapping_add(1).max(1);
        if first {
            // RFC 6298 §2.2: the first measurement.
            self.srtt = rtt;
            self.rttvar = Duration::from_micros(rtt.total_micros() / 2);
        } else {
            // RFC 6298 §2.3: alpha = 1/8, beta = 1/4.
            let (s, r) = (self.srtt.total_micros(), rtt.total_micros());
            let err = s.abs_diff(r);
            let var = (3 * self.rttvar.total_micros() + err) / 4;
            self.rttvar = Duration::from_micros(var);
            self.srtt = Duration::from_micros((7 * s + r) / 8);
        }
        let srtt = self.srtt;
        let k_var = self.rttvar.saturating_mul(4).max(GRANULARITY);
        // RFC 6298 §2.4, §2.5: RTO = SRTT + max(G, 4·RTTVAR), clamped.
        self.base_rto = (srtt + k_var).max(bounds.min).min(bounds.max);
        // A new measurement ends the backoff (RFC 6298 §5.7 note; as Linux).
        self.rto = self.base_rto;
    }

    /// The last measurement and the number of measurements so far (modulo 2^32).
    pub(super) const fn latest(&self) -> (Duration, u32) {
        (Duration::from_micros(self.latest_micros as u64), self.samples)
    }

    /// The current RTO, backoff included (RFC 6298 §5.5), at most the maximum.
    pub(super) fn rto(&self) -> Duration {
        self.rto
    }

    /// The timer expired: double the RTO (RFC 6298 §5.5), up to `max`.
    pub(super) fn back_off(&mut self, max: Duration) {
        self.rto = self.rto.saturating_mul(2).min(max);
    }

    /// Forward progress without a new sample: keep the RTO but stop backing off.
    pub(super) fn reset_backoff(&mut self) {
        self.rto = self.base_rto;
    }

    /// RFC 6298 §5.7: the SYN was retransmitted and no sample was taken: RTO = 3 s on
    /// entering the data phase.
    pub(super) fn after_syn_timeout(&mut self, bounds: RtoBounds) {
        if self.samples == 0 {
            self.base_rto = Duration::from_secs(3).max(bounds.min).min(bounds.max);
        }
        self.rto = self.base_rto;
    }

    /// The smoothed RTT (zero before the first sample).
    pub(super) fn srtt(&self) -> Duration {
        self.srtt
    }

    /// The RTT variation.
    pub(super) fn rttvar(&self) -> Duration {
        self.rttvar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: RtoBounds =
        RtoBounds { min: Duration::from_millis(200), max: Duration::from_secs(60) };

    fn est() -> RttEstimator {
        RttEstimator::new(Duration::from_secs(1), BOUNDS)
    }

    #[test]
    fn initial_rto_then_first_sample() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100), BOUNDS);
        // SRTT = 100 ms, RTTVAR = 50 ms, RTO = 100 + 200 = 300 ms.
        assert_eq!(e.srtt(), Duration::from_millis(100));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn second_sample_smooths() {
        let mut e = est();
        e.sample(Duration::from_millis(100), BOUNDS);
        e.sample(Duration::from_millis(200), BOUNDS);
        // RTTVAR = 3/4·50 + 1/4·100 = 62.5 ms; SRTT = 7/8·100 + 1/8·200 = 112.5 ms.
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Duration::from_micros(112_500));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
    }

    #[test]
    fn rto_is_clamped_and_backs_off_to_max() {
        let mut e = est();
        e.sample(Duration::from_millis(1), BOUNDS);
        assert_eq!(e.rto(), Duration::from_millis(200));
        e.back_off(BOUNDS.max);
        assert_eq!(e.rto(), Duration::from_millis(400));
        for _ in 0..40 {
            e.back_off(BOUNDS.max);
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        e.reset_backoff();
        assert_eq!(e.rto(), Duration::from_millis(200));
    }

    #[test]
    fn syn_timeout_sets_three_seconds() {
        let mut e = est();
        e.back_off(BOUNDS.max);
        e.after_syn_timeout(BOUNDS);
        assert_eq!(e.rto(), Duration::from_secs(3));
    }
}
