//! Time as the core sees it: an [`Instant`] handed in by the caller and a [`Duration`].
//!
//! The protocol core never reads a clock (DESIGN.md, "The one rule of the core"). The runtime
//! turns the real clock into an [`Instant`] with [`Instant::from_std`]; the simulator drives a
//! [`VirtualClock`] that jumps straight to the next deadline. Both count microseconds in a
//! `u64`, which is fine-grained enough for TCP (RFC 6298 timers, RFC 7323 timestamps) and
//! lasts half a million years.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A point in time, in microseconds since an epoch chosen by whoever drives the stack.
///
/// Only differences between instants from the same clock mean anything.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    micros: Micros,
}

/// A span of time, in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    micros: Micros,
}

/// A count of microseconds kept as one more than itself, so that zero is never stored and
/// `Option<Instant>` or `Option<Duration>` takes no more room than the value: a connection
/// keeps a dozen of them. The one count this leaves out, `u64::MAX`, saturates to the one
/// below it, half a million years on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Micros(NonZeroU64);

impl Micros {
    const fn new(micros: u64) -> Self {
        match NonZeroU64::new(micros.saturating_add(1)) {
            Some(n) => Self(n),
            None => Self(NonZeroU64::MIN),
        }
    }

    const fn get(self) -> u64 {
        self.0.get() - 1
    }
}

impl Default for Micros {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Instant {
    /// The epoch of the clock: time zero.
    pub const ZERO: Self = Self { micros: Micros::new(0) };

    /// The instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros: Micros::new(micros) }
    }

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self { micros: Micros::new(millis * 1_000) }
    }

    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self { micros: Micros::new(secs * 1_000_000) }
    }

    /// Microseconds since the epoch.
    pub const fn total_micros(self) -> u64 {
        self.micros.get()
    }

    /// Milliseconds since the epoch, rounded down.
    pub const fn total_millis(self) -> u64 {
        self.micros.get() / 1_000
    }

    /// The time since the epoch as a [`Duration`].
    pub const fn since_epoch(self) -> Duration {
        Duration { micros: Micros::new(self.micros.get()) }
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration { micros: Micros::new(self.micros.get().saturating_sub(earlier.micros.get())) }
    }

    /// `self + d`, or `None` on overflow.
    pub const fn checked_add(self, d: Duration) -> Option<Self> {
        match self.micros.get().checked_add(d.micros.get()) {
            Some(micros) => Some(Self { micros: Micros::new(micros) }),
            None => None,
        }
    }

    /// Converts a real-clock instant to one measured from `epoch`.
    ///
    /// The runtime picks one `epoch` when it starts and converts every reading of
    /// [`std::time::Instant::now`] with it; instants before the epoch map to zero.
    pub fn from_std(t: std::time::Instant, epoch: std::time::Instant) -> Self {
        Self::ZERO + Duration::from_std(t.saturating_duration_since(epoch))
    }

    /// The real-clock instant this one stands for, given the same `epoch` as
    /// [`Instant::from_std`].
    pub fn to_std(self, epoch: std::time::Instant) -> std::time::Instant {
        epoch + self.since_epoch().to_std()
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Self = Self { micros: Micros::new(0) };
    /// The longest representable span.
    pub const MAX: Self = Self { micros: Micros::new(u64::MAX) };

    /// A span of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros: Micros::new(micros) }
    }

    /// A span of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self { micros: Micros::new(millis * 1_000) }
    }

    /// A span of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self { micros: Micros::new(secs * 1_000_000) }
    }

    /// The span in microseconds.
    pub const fn total_micros(self) -> u64 {
        self.micros.get()
    }

    /// The span in milliseconds, rounded down.
    pub const fn total_millis(self) -> u64 {
        self.micros.get() / 1_000
    }

    /// The span in seconds, as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.micros.get() as f64 / 1e6
    }

    /// Converts from [`std::time::Duration`], rounding down to whole microseconds and
    /// saturating at [`Duration::MAX`].
    pub fn from_std(d: std::time::Duration) -> Self {
        Self { micros: Micros::new(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)) }
    }

    /// Converts to [`std::time::Duration`].
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_micros(self.micros.get())
    }

    /// `self * n`, saturating.
    pub const fn saturating_mul(self, n: u64) -> Self {
        Self { micros: Micros::new(self.micros.get().saturating_mul(n)) }
    }

    /// `self - other`, or zero if `other` is longer.
    pub const fn saturating_sub(self, other: Self) -> Self {
        Self { micros: Micros::new(self.micros.get().saturating_sub(other.micros.get())) }
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, d: Duration) -> Self {
        Self { micros: Micros::new(self.micros.get().saturating_add(d.micros.get())) }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;
    fn sub(self, d: Duration) -> Self {
        Self { micros: Micros::new(self.micros.get().saturating_sub(d.micros.get())) }
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub for Instant {
    type Output = Duration;
    /// The time between two instants, saturating at zero when `rhs` is later.
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Add for Duration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self { micros: Micros::new(self.micros.get().saturating_add(rhs.micros.get())) }
    }
}

impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl Sub for Duration {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        self.saturating_sub(rhs)
    }
}

impl SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Self::from_std(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.to_std()
    }
}

fn fmt_micros(micros: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}.{:06}s", micros / 1_000_000, micros % 1_000_000)
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("t=")?;
        fmt_micros(self.micros.get(), f)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.micros.get(), f)
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.micros.get(), f)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.micros.get() < 1_000 {
            write!(f, "{}µs", self.micros.get())
        } else if self.micros.get() < 1_000_000 {
            write!(f, "{:.3}ms", self.micros.get() as f64 / 1e3)
        } else {
            write!(f, "{:.3}s", self.micros.get() as f64 / 1e6)
        }
    }
}

/// A clock for the simulator: it stands still until told to move.
///
/// Clones share one time, so every host in a simulation sees the same `now`. The simulator
/// asks each stack and each wire for its next deadline and jumps there with
/// [`VirtualClock::advance_to`], so an hour of TCP time costs only the work done in it.
#[derive(Clone, Debug, Default)]
pub struct VirtualClock {
    now: Arc<AtomicU64>,
}

impl VirtualClock {
    /// A clock at [`Instant::ZERO`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.now.load(Ordering::Acquire))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(d.total_micros(), Ordering::AcqRel);
    }

    /// Moves the clock to `t`; a `t` in the past leaves it where it is, since time never
    /// runs backwards.
    pub fn advance_to(&self, t: Instant) {
        self.now.fetch_max(t.total_micros(), Ordering::AcqRel);
    }
}

/// The earlier of two optional deadlines: `None` only when both are `None` (no deadline).
pub(crate) fn earliest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_takes_the_earlier_deadline_or_the_only_one() {
        let (a, b) = (Instant::from_millis(3), Instant::from_millis(5));
        assert_eq!(earliest(Some(a), Some(b)), Some(a));
        assert_eq!(earliest(Some(b), Some(a)), Some(a));
        assert_eq!(earliest(None, Some(b)), Some(b));
        assert_eq!(earliest(Some(a), None), Some(a));
        assert_eq!(earliest::<Instant>(None, None), None);
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Instant::from_millis(5);
        assert_eq!(t - Instant::from_millis(7), Duration::ZERO);
        assert_eq!(t - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(
            Instant::from_micros(u64::MAX) + Duration::from_micros(1),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(t + Duration::from_micros(250), Instant::from_micros(5_250));
    }

    #[test]
    fn an_optional_instant_or_duration_takes_no_more_room_than_one() {
        assert_eq!(size_of::<Option<Instant>>(), size_of::<u64>());
        assert_eq!(size_of::<Option<Duration>>(), size_of::<u64>());
        assert_eq!(Instant::from_micros(u64::MAX), Instant::from_micros(u64::MAX - 1));
        assert_eq!(Duration::MAX.total_micros(), u64::MAX - 1);
        assert!(Instant::ZERO < Instant::from_micros(1));
        assert_eq!(Instant::default(), Instant::ZERO);
        assert_eq!(Duration::default(), Duration::ZERO);
    }

    #[test]
    fn std_round_trip() {
        let epoch = std::time::Instant::now();
        let later = epoch + std::time::Duration::from_micros(1_234_567);
        let t = Instant::from_std(later, epoch);
        assert_eq!(t.total_micros(), 1_234_567);
        assert_eq!(t.to_std(epoch), later);
        assert_eq!(Instant::from_std(epoch, later), Instant::ZERO);
    }

    #[test]
    fn virtual_clock_is_shared_and_monotonic() {
        let clock = VirtualClock::new();
        let other = clock.clone();
        clock.advance(Duration::from_millis(200));
        assert_eq!(other.now(), Instant::from_millis(200));
        other.advance_to(Instant::from_millis(100));
        assert_eq!(clock.now(), Instant::from_millis(200));
        other.advance_to(Instant::from_secs(3));
        assert_eq!(clock.now(), Instant::from_secs(3));
    }

    #[test]
    fn display_picks_a_readable_unit() {
        assert_eq!(Duration::from_micros(12).to_string(), "12µs");
        assert_eq!(Duration::from_micros(1_500).to_string(), "1.500ms");
        assert_eq!(Duration::from_millis(2_250).to_string(), "2.250s");
        assert_eq!(Instant::from_micros(1_000_001).to_string(), "1.000001s");
    }
}
