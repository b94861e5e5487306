//! Congestion control: how many bytes a connection may have in flight.
//!
//! A [`CongestionControl`] owns the congestion window (`cwnd`) and the slow-start threshold
//! (`ssthresh`) and nothing else: the sender (`tcp/send.rs`) decides *when* a congestion
//! event happened (three duplicate ACKs, SACK loss detection, an RTO), runs loss recovery
//! itself (RFC 6675 `pipe`, or RFC 6582 NewReno), and tells the controller through the
//! methods below. Outside recovery it reports every ACK that moves `SND.UNA` with
//! [`CongestionControl::on_ack`].
//!
//! Two algorithms ship:
//!
//! * [`NewReno`]: RFC 5681 slow start and congestion avoidance with appropriate byte counting
//!   (RFC 3465, L = 2), halving on loss.
//! * [`Cubic`]: RFC 9438, with HyStart++ (RFC 9406) in the first slow start.
//!
//! Sizes are bytes; `smss` (the sender maximum segment size, RFC 5681 §2) is passed to every
//! call because it is only final once the handshake is done. Time comes in as an
//! [`Instant`]; no controller reads a clock.
//!
//! Both controllers grow `cwnd` only while the flow actually uses it: an ACK that finds less
//! than half the window in flight leaves it unchanged (the spirit of RFC 7661 and of
//! RFC 9438 §5.8), so an application-limited connection does not build a window it has never
//! tested.

mod cubic;
mod newreno;

use core::fmt;

pub use cubic::Cubic;
pub use newreno::NewReno;

use crate::time::{Duration, Instant};

/// A congestion control algorithm, driven by the sender.
///
/// The calling order for one connection: [`on_ack`](Self::on_ack) for each ACK that
/// advances `SND.UNA` while not in loss recovery; on loss detected by duplicate ACKs or SACK,
/// [`on_congestion_event`](Self::on_congestion_event) once when recovery starts, then (no
/// `on_ack` during recovery) [`on_recovery_exit`](Self::on_recovery_exit) when `SND.UNA`
/// passes the recovery point; [`on_rto`](Self::on_rto) on each retransmission timeout.
pub trait CongestionControl: fmt::Debug + Send {
    /// A short lowercase name, such as `"cubic"`.
    fn name(&self) -> &'static str;

    /// The congestion window, in bytes.
    fn cwnd(&self) -> usize;

    /// The slow-start threshold, in bytes; `usize::MAX` until the first congestion event.
    fn ssthresh(&self) -> usize;

    /// Whether the sender is in slow start (`cwnd < ssthresh`, RFC 5681 §3.1).
    fn in_slow_start(&self) -> bool {
        self.cwnd() < self.ssthresh()
    }

    /// Whether slow start is in its conservative part (HyStart++'s CSS, RFC 9406 §4.2):
    /// the RTT grew, and the window grows more slowly until slow start ends. The default
    /// never is.
    fn in_conservative_slow_start(&self) -> bool {
        false
    }

    /// New data was cumulatively acknowledged outside loss recovery.
    ///
    /// `acked` is the number of bytes `SND.UNA` moved; `flight_before` the bytes outstanding
    /// (`SND.NXT − SND.UNA`) just before this ACK; `rtt` the round-trip sample this ACK gave,
    /// if any (none when it only covers retransmitted data, by Karn's rule).
    fn on_ack(
        &mut self,
        now: Instant,
        acked: usize,
        flight_before: usize,
        rtt: Option<Duration>,
        smss: usize,
    );

    /// Loss was detected by duplicate ACKs or SACK and loss recovery starts.
    ///
    /// `flight` is `FlightSize`, the bytes outstanding when the loss was detected. The
    /// controller sets `ssthresh` from it and `cwnd = ssthresh`; the sender paces its
    /// recovery-phase sending itself (RFC 6675 `pipe`, or RFC 6582).
    fn on_congestion_event(&mut self, now: Instant, flight: usize, smss: usize);

    /// Loss recovery ended: `SND.UNA` reached the recovery point.
    fn on_recovery_exit(&mut self, now: Instant, smss: usize);

    /// The retransmission timer expired (RFC 5681 §3.1 equation 4): `ssthresh` from `flight`
    /// on the first expiry for a segment, held on later ones; `cwnd` = 1 SMSS.
    fn on_rto(&mut self, now: Instant, flight: usize, smss: usize);

    /// The last congestion event or RTO turned out to be spurious (the original segments had
    /// arrived, as shown e.g. by D-SACK or by RFC 4015/RFC 5682 detection): undo the window
    /// reduction it caused (RFC 9438 §4.9). The default does nothing.
    fn on_spurious_congestion(&mut self, now: Instant) {
        let _ = now;
    }

    /// The sender starts sending again after being idle for more than an RTO: shrink `cwnd`
    /// to the restart window (RFC 5681 §4.1). The default does nothing.
    fn on_idle_restart(&mut self, now: Instant, smss: usize) {
        let _ = (now, smss);
    }
}

/// Whether an ACK found the sender using its window, so that growing it is warranted.
///
/// Half the window in flight is the bar: in slow start the flight doubles each round, so a
/// window-limited sender always clears it (the test Linux applies in slow start).
fn cwnd_limited(flight_before: usize, cwnd: usize) -> bool {
    flight_before.saturating_mul(2) >= cwnd
}

/// A valid SMSS: never zero, so no division can fault.
fn valid_smss(smss: usize) -> usize {
    smss.max(1)
}

/// The window after a loss: RFC 5681 §3.1 equation 4, `max(FlightSize / 2, 2 * SMSS)`, or
/// RFC 9438 §4.6 with `beta` in place of one half.
fn reduced_window(flight: usize, beta_num: usize, beta_den: usize, smss: usize) -> usize {
    // The product cannot overflow in u128, and the quotient is at most `flight`.
    let reduced = (flight as u128 * beta_num as u128 / beta_den.max(1) as u128) as usize;
    reduced.max(smss.saturating_mul(2))
}

/// A sender and a path for congestion-control tests: whole segments, a fixed or varying
/// round-trip time, no loss; ACKs arrive one RTT after the last segment they cover was sent.
#[cfg(test)]
pub(super) mod testing {
    use std::collections::VecDeque;

    use super::CongestionControl;
    use crate::time::{Duration, Instant};

    pub(super) struct AckClock {
        pub(super) now: Instant,
        pub(super) smss: usize,
        /// Segments covered by one ACK (2 for a delayed-ACK receiver).
        ack_every: usize,
        /// The most the application keeps outstanding, if it cannot fill the window.
        pub(super) app_limit: Option<usize>,
        una: u64,
        nxt: u64,
        /// Segments in flight: end sequence and time sent.
        in_flight: VecDeque<(u64, Instant)>,
        pub(super) acks: u64,
    }

    impl AckClock {
        pub(super) fn new(smss: usize, ack_every: usize) -> Self {
            Self {
                now: Instant::ZERO,
                smss,
                ack_every,
                app_limit: None,
                una: 0,
                nxt: 0,
                in_flight: VecDeque::new(),
                acks: 0,
            }
        }

        pub(super) fn flight(&self) -> usize {
            (self.nxt - self.una) as usize
        }

        /// Sends whole segments while the window (and the application) allow.
        fn fill(&mut self, cwnd: usize) {
            let limit = self.app_limit.map_or(cwnd, |a| a.min(cwnd));
            while self.flight() + self.smss <= limit {
                self.nxt += self.smss as u64;
                self.in_flight.push_back((self.nxt, self.now));
            }
        }

        /// Delivers every ACK that arrives no later than `until`, the sender refilling the
        /// window after each; `rtt` gives the round-trip time of a segment sent at a time.
        pub(super) fn run_until(
            &mut self,
            cc: &mut dyn CongestionControl,
            until: Instant,
            rtt: impl Fn(Instant) -> Duration,
        ) {
            loop {
                self.fill(cc.cwnd());
                let n = self.ack_every.min(self.in_flight.len());
                if n == 0 {
                    break;
                }
                let (end, sent) = self.in_flight[n - 1];
                let sample = rtt(sent);
                let arrival = sent + sample;
                if arrival > until {
                    break;
                }
                self.in_flight.drain(..n);
                self.now = self.now.max(arrival);
                let flight_before = self.flight();
                let acked = (end - self.una) as usize;
                self.una = end;
                self.acks += 1;
                cc.on_ack(self.now, acked, flight_before, Some(sample), self.smss);
            }
            self.now = self.now.max(until);
        }
    }
}
