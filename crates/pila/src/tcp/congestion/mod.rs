//! Congestion control (temporary stand-in for the `tcp-recovery` module; replaced on merge).
#![allow(missing_docs)]

use crate::time::{Duration, Instant};

/// A congestion controller.
pub trait CongestionControl: core::fmt::Debug + Send {
    fn name(&self) -> &'static str;
    fn cwnd(&self) -> usize;
    fn ssthresh(&self) -> usize;
    fn on_ack(
        &mut self,
        now: Instant,
        acked: usize,
        flight_before: usize,
        rtt: Option<Duration>,
        smss: usize,
    );
    fn on_congestion_event(&mut self, now: Instant, flight: usize, smss: usize);
    fn on_recovery_exit(&mut self, now: Instant, smss: usize);
    fn on_rto(&mut self, now: Instant, flight: usize, smss: usize);
    fn on_idle_restart(&mut self, _now: Instant, _smss: usize) {}
}

/// NewReno stand-in.
#[derive(Debug)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    acc: usize,
}

impl NewReno {
    pub fn new(initial_cwnd: usize, _smss: usize) -> Self {
        Self { cwnd: initial_cwnd, ssthresh: usize::MAX, acc: 0 }
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
    fn on_ack(&mut self, _: Instant, acked: usize, _: usize, _: Option<Duration>, smss: usize) {
        if self.cwnd < self.ssthresh {
            self.cwnd += acked.min(2 * smss);
        } else {
            self.acc += acked;
            if self.acc >= self.cwnd {
                self.acc -= self.cwnd;
                self.cwnd += smss;
            }
        }
    }
    fn on_congestion_event(&mut self, _: Instant, flight: usize, smss: usize) {
        self.ssthresh = (flight / 2).max(2 * smss);
        self.cwnd = self.ssthresh;
    }
    fn on_recovery_exit(&mut self, _: Instant, _: usize) {
        self.cwnd = self.ssthresh;
    }
    fn on_rto(&mut self, _: Instant, flight: usize, smss: usize) {
        self.ssthresh = (flight / 2).max(2 * smss);
        self.cwnd = smss;
    }
}

/// CUBIC stand-in (behaves as NewReno until the real one lands).
pub type Cubic = NewReno;
