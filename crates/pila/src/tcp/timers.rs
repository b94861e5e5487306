//! The deadlines of one connection: retransmission, persist, keepalive, delayed ACK,
//! TIME-WAIT and the user timeout. Each is an optional instant; the connection's
//! `poll_timeout` is the earliest of them.

use crate::time::Instant;

/// Which timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
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

impl Timer {
    /// Its name in a trace's JSON lines ([`super::trace`]).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Retransmit => "retransmit",
            Self::Persist => "persist",
            Self::Keepalive => "keepalive",
            Self::DelayedAck => "delayed_ack",
            Self::TimeWait => "time_wait",
            Self::User => "user",
            Self::Reorder => "reorder",
            Self::Probe => "probe",
        }
    }
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

/// The deadline of a timer that is not armed: the end of time, which never comes.
const UNARMED: Instant = Instant::from_micros(u64::MAX);

/// The armed deadlines: [`UNARMED`] marks a timer that is not armed, which keeps the
/// table at one word a timer.
#[derive(Debug, Clone)]
pub(super) struct Timers {
    deadlines: [Instant; 8],
}

impl Default for Timers {
    fn default() -> Self {
        Self { deadlines: [UNARMED; 8] }
    }
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
        // An instant at the end of time never comes: the same as not armed.
        self.deadlines[index(t)] = at;
    }

    /// Arms `t` unless it is already armed.
    pub(super) fn set_if_idle(&mut self, t: Timer, at: Instant) {
        let slot = &mut self.deadlines[index(t)];
        if *slot == UNARMED {
            *slot = at;
        }
    }

    /// Disarms `t`.
    pub(super) fn clear(&mut self, t: Timer) {
        self.deadlines[index(t)] = UNARMED;
    }

    /// Disarms every timer.
    pub(super) fn clear_all(&mut self) {
        self.deadlines = [UNARMED; 8];
    }

    /// When `t` fires, if armed.
    pub(super) fn get(&self, t: Timer) -> Option<Instant> {
        Some(self.deadlines[index(t)]).filter(|&at| at != UNARMED)
    }

    /// Whether `t` is armed.
    pub(super) fn is_set(&self, t: Timer) -> bool {
        self.deadlines[index(t)] != UNARMED
    }

    /// The earliest armed deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().copied().min().filter(|&at| at != UNARMED)
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
