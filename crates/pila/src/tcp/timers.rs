//! The deadlines of one connection: retransmission, persist, keepalive, delayed ACK,
//! TIME-WAIT and the user timeout. Each is an optional instant; the connection's
//! `poll_timeout` is the earliest of them.

use crate::time::Instant;

/// Which timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Retransmission (RFC 6298).
    Retransmit,
    /// Zero-window probe (RFC 9293 §3.8.6.1).
    Persist,
    /// Keepalive probe (RFC 9293 §3.8.4).
    Keepalive,
    /// Delayed ACK (RFC 9293 §3.8.6.3).
    DelayedAck,
    /// End of TIME-WAIT (RFC 9293 §3.6).
    TimeWait,
    /// User timeout (RFC 5482 / RFC 9293 §3.10.8).
    User,
    /// RACK reordering timer (RFC 8985 §6.3).
    Reorder,
    /// Tail loss probe timeout, PTO (RFC 8985 §7.2).
    Probe,
}

const ALL: [Timer; 8] = [
    Timer::TimeWait,
    Timer::User,
    Timer::Retransmit,
    Timer::Reorder,
    Timer::Probe,
    Timer::Persist,
    Timer::Keepalive,
    Timer::DelayedAck,
];

/// The armed deadlines.
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    deadlines: [Option<Instant>; 8],
}

fn index(t: Timer) -> usize {
    match t {
        Timer::TimeWait => 0,
        Timer::User => 1,
        Timer::Retransmit => 2,
        Timer::Persist => 3,
        Timer::Keepalive => 4,
        Timer::DelayedAck => 5,
        Timer::Reorder => 6,
        Timer::Probe => 7,
    }
}

impl Timers {
    /// Arms `t` to fire at `at` (replacing any earlier setting).
    pub(super) fn set(&mut self, t: Timer, at: Instant) {
        self.deadlines[index(t)] = Some(at);
    }

    /// Arms `t` unless it is already armed.
    pub(super) fn set_if_idle(&mut self, t: Timer, at: Instant) {
        let slot = &mut self.deadlines[index(t)];
        if slot.is_none() {
            *slot = Some(at);
        }
    }

    /// Disarms `t`.
    pub(super) fn clear(&mut self, t: Timer) {
        self.deadlines[index(t)] = None;
    }

    /// Disarms every timer.
    pub(super) fn clear_all(&mut self) {
        self.deadlines = [None; 8];
    }

    /// When `t` fires, if armed.
    pub(super) fn get(&self, t: Timer) -> Option<Instant> {
        self.deadlines[index(t)]
    }

    /// Whether `t` is armed.
    pub(super) fn is_set(&self, t: Timer) -> bool {
        self.deadlines[index(t)].is_some()
    }

    /// The earliest armed deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().copied().min()
    }

    /// Disarms and returns the most important timer due at `now`, if any.
    pub(super) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let t = ALL.into_iter().find(|&t| self.get(t).is_some_and(|at| at <= now))?;
        self.clear(t);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_and_expiry_order() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(Timer::DelayedAck, Instant::from_millis(40));
        t.set(Timer::Retransmit, Instant::from_millis(200));
        t.set_if_idle(Timer::DelayedAck, Instant::from_millis(10));
        assert_eq!(t.next(), Some(Instant::from_millis(40)));
        assert_eq!(t.take_expired(Instant::from_millis(39)), None);
        assert_eq!(t.take_expired(Instant::from_millis(300)), Some(Timer::Retransmit));
        assert_eq!(t.take_expired(Instant::from_millis(300)), Some(Timer::DelayedAck));
        assert_eq!(t.take_expired(Instant::from_millis(300)), None);
        assert!(!t.is_set(Timer::Retransmit));
    }
}
