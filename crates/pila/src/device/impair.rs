//! Link impairments: what a simulated link does to the frames it carries.
//!
//! [`Impairments`] is plain configuration, shared by the [`VirtualWire`](super::VirtualWire)
//! and by anything else that models a link. It parses from, and prints as, a short spec in
//! the spirit of `tc netem`:
//!
//! ```text
//! loss=2%,dup=1%,reorder=2%,reorder-distance=3,corrupt=0.5%,delay=5ms,jitter=1ms,rate=100mbit,queue=100,seed=7
//! ```
//!
//! Probabilities are written as a percentage (`2%`) or a fraction (`0.02`); durations take
//! `us` (or `µs`), `ms` or `s`; rates take `bit`, `kbit`, `mbit` or `gbit`, or the same with
//! `bps` (`kbps`, `mbps`, `gbps`), all meaning **bits** per second with decimal prefixes.
//! `none`, or an empty spec, is the perfect link. Items are separated by commas and may come
//! in any order; each may be given once.

use crate::time::Duration;
use core::fmt;
use core::str::FromStr;

/// What a link does to the frames it carries, in one direction.
///
/// Every random choice is drawn from a generator seeded with [`seed`](Self::seed), so a run
/// is reproduced exactly by its configuration. The default is [`Impairments::NONE`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairments {
    /// Probability, in `[0, 1]`, that a frame is lost.
    pub loss: f64,
    /// Probability, in `[0, 1]`, that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability, in `[0, 1]`, that a frame is held back and delivered after later ones.
    pub reorder: f64,
    /// Probability, in `[0, 1]`, that one random bit of a frame is flipped.
    pub corrupt: f64,
    /// How many later frames overtake a reordered one (at least 1; default 3).
    pub reorder_distance: usize,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` for each frame. Jitter alone never
    /// reorders: arrival times stay in sending order.
    pub jitter: Duration,
    /// Link rate in bits per second; `None` is unlimited. A frame's serialisation time is its
    /// length in bits divided by the rate, and frames queue behind each other.
    pub rate: Option<u64>,
    /// How many frames may wait for the rate limiter; a frame beyond that is dropped (tail
    /// drop). `None` is unlimited. Only meaningful with a [`rate`](Self::rate).
    pub queue_limit: Option<usize>,
    /// Seed of the link's random generator.
    pub seed: u64,
}

impl Impairments {
    /// The perfect link: nothing lost, nothing delayed, unlimited rate.
    pub const NONE: Self = Self {
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        corrupt: 0.0,
        reorder_distance: 3,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        rate: None,
        queue_limit: None,
        seed: 0,
    };

    /// The longest a reordered frame is held beyond its own arrival time when fewer than
    /// [`reorder_distance`](Self::reorder_distance) later frames come to overtake it, so a
    /// lone last frame is never stuck.
    pub const REORDER_HOLD: Duration = Duration::from_millis(10);

    /// `self` with frames lost with probability `p`.
    #[must_use]
    pub const fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// `self` with frames duplicated with probability `p`.
    #[must_use]
    pub const fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// `self` with frames reordered with probability `p`, each overtaken by `distance` later
    /// frames.
    #[must_use]
    pub const fn with_reorder(mut self, p: f64, distance: usize) -> Self {
        self.reorder = p;
        self.reorder_distance = distance;
        self
    }

    /// `self` with one bit flipped in a frame with probability `p`.
    #[must_use]
    pub const fn with_corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }

    /// `self` with a one-way `delay` plus uniform `jitter`.
    #[must_use]
    pub const fn with_delay(mut self, delay: Duration, jitter: Duration) -> Self {
        self.delay = delay;
        self.jitter = jitter;
        self
    }

    /// `self` limited to `bits_per_second`, with at most `queue_limit` frames waiting.
    #[must_use]
    pub const fn with_rate(mut self, bits_per_second: u64, queue_limit: Option<usize>) -> Self {
        self.rate = Some(bits_per_second);
        self.queue_limit = queue_limit;
        self
    }

    /// `self` with its random generator seeded by `seed`.
    #[must_use]
    pub const fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether the link is perfect: it never loses, alters, reorders, delays or limits a
    /// frame (the seed and the reorder distance do not matter then).
    pub fn is_none(&self) -> bool {
        Self { seed: 0, reorder_distance: 3, ..*self } == Self::NONE
    }

    /// Checks that every value is in range: probabilities in `[0, 1]`, a reorder distance of
    /// at least 1, a rate above zero. The error names the offending item as it would be
    /// written in a spec.
    ///
    /// A link given values out of range clamps them instead: probabilities to `[0, 1]` (NaN
    /// counts as 0), the distance to at least 1, the rate to at least 1 bit per second.
    pub fn validate(&self) -> Result<(), ParseImpairmentsError> {
        for (name, p) in self.probabilities() {
            if !(0.0..=1.0).contains(&p) {
                let item = format!("{name}={}", Probability(p));
                return Err(ParseImpairmentsError::new(&item, Problem::ProbabilityRange));
            }
        }
        if self.reorder_distance == 0 {
            return Err(ParseImpairmentsError::new("reorder-distance=0", Problem::BadDistance));
        }
        if self.rate == Some(0) {
            return Err(ParseImpairmentsError::new("rate=0bit", Problem::ZeroRate));
        }
        Ok(())
    }

    fn probabilities(&self) -> [(&'static str, f64); 4] {
        [
            ("loss", self.loss),
            ("dup", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
        ]
    }
}

impl Default for Impairments {
    fn default() -> Self {
        Self::NONE
    }
}

/// Why an impairment spec was not accepted. Its message is one line naming the bad item and
/// what would have been accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseImpairmentsError {
    item: String,
    problem: Problem,
}

impl ParseImpairmentsError {
    fn new(item: &str, problem: Problem) -> Self {
        Self { item: item.to_owned(), problem }
    }

    /// The item of the spec that was rejected, as written.
    pub fn item(&self) -> &str {
        &self.item
    }
}

impl fmt::Display for ParseImpairmentsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad impairment {:?}: {}", self.item, self.problem.message())
    }
}

impl std::error::Error for ParseImpairmentsError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Problem {
    NoValue,
    UnknownName,
    Repeated,
    BadProbability,
    ProbabilityRange,
    BadDuration,
    BadRate,
    ZeroRate,
    BadQueue,
    BadDistance,
    BadSeed,
}

impl Problem {
    const fn message(self) -> &'static str {
        match self {
            Self::NoValue => "expected name=value, e.g. loss=1%",
            Self::UnknownName => {
                "unknown name; accepted: loss, dup, reorder, reorder-distance, corrupt, delay, \
                 jitter, rate, queue, seed"
            }
            Self::Repeated => "given more than once",
            Self::BadProbability => "a probability is a percentage like 2% or a fraction like 0.02",
            Self::ProbabilityRange => "a probability must be between 0% and 100%",
            Self::BadDuration => "a duration is a number with a unit: us, ms or s (e.g. 5ms)",
            Self::BadRate => {
                "a rate is a number of bits per second with a unit: bit, kbit, mbit, gbit \
                 (or bps, kbps, mbps, gbps), e.g. 100mbit"
            }
            Self::ZeroRate => "a rate must be greater than zero",
            Self::BadQueue => "a queue limit is a whole number of frames, e.g. 100",
            Self::BadDistance => "the reorder distance is a whole number of frames, at least 1",
            Self::BadSeed => "a seed is a whole number from 0 to 18446744073709551615",
        }
    }
}

impl FromStr for Impairments {
    type Err = ParseImpairmentsError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut imp = Self::NONE;
        if spec.trim().eq_ignore_ascii_case("none") {
            return Ok(imp);
        }
        let mut seen = [false; 10];
        for item in spec.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let fail = |problem| ParseImpairmentsError::new(item, problem);
            let (name, value) = item.split_once('=').ok_or_else(|| fail(Problem::NoValue))?;
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            let key = match name.as_str() {
                "loss" => 0,
                "dup" | "duplicate" => 1,
                "reorder" => 2,
                "reorder-distance" | "reorder_distance" => 3,
                "corrupt" => 4,
                "delay" => 5,
                "jitter" => 6,
                "rate" => 7,
                "queue" | "queue-limit" | "queue_limit" => 8,
                "seed" => 9,
                _ => return Err(fail(Problem::UnknownName)),
            };
            if std::mem::replace(&mut seen[key], true) {
                return Err(fail(Problem::Repeated));
            }
            match key {
                0 => imp.loss = parse_probability(value).map_err(fail)?,
                1 => imp.duplicate = parse_probability(value).map_err(fail)?,
                2 => imp.reorder = parse_probability(value).map_err(fail)?,
                3 => {
                    imp.reorder_distance = value
                        .parse()
                        .ok()
                        .filter(|&d: &usize| d >= 1)
                        .ok_or_else(|| fail(Problem::BadDistance))?;
                }
                4 => imp.corrupt = parse_probability(value).map_err(fail)?,
                5 => imp.delay = parse_duration(value).ok_or_else(|| fail(Problem::BadDuration))?,
                6 => {
                    imp.jitter = parse_duration(value).ok_or_else(|| fail(Problem::BadDuration))?
                }
                7 => imp.rate = Some(parse_rate(value).map_err(fail)?),
                8 => imp.queue_limit = Some(value.parse().map_err(|_| fail(Problem::BadQueue))?),
                _ => imp.seed = value.parse().map_err(|_| fail(Problem::BadSeed))?,
            }
        }
        Ok(imp)
    }
}

impl fmt::Display for Impairments {
    /// Writes the spec that parses back to `self`: only the items that differ from
    /// [`Impairments::NONE`], or `none` when nothing does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut item = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let result = write!(f, "{sep}{args}");
            sep = ",";
            result
        };
        for (name, p) in self.probabilities() {
            if p != 0.0 {
                item(f, format_args!("{name}={}", Probability(p)))?;
            }
        }
        if self.reorder_distance != Self::NONE.reorder_distance {
            item(f, format_args!("reorder-distance={}", self.reorder_distance))?;
        }
        if self.delay != Duration::ZERO {
            item(f, format_args!("delay={}", SpecDuration(self.delay)))?;
        }
        if self.jitter != Duration::ZERO {
            item(f, format_args!("jitter={}", SpecDuration(self.jitter)))?;
        }
        if let Some(rate) = self.rate {
            item(f, format_args!("rate={}", Rate(rate)))?;
        }
        if let Some(queue) = self.queue_limit {
            item(f, format_args!("queue={queue}"))?;
        }
        if self.seed != 0 {
            item(f, format_args!("seed={}", self.seed))?;
        }
        if sep.is_empty() {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// A probability printed as a percentage when that reads back exactly, else as a fraction.
struct Probability(f64);

impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let percent = self.0 * 100.0;
        if percent / 100.0 == self.0 { write!(f, "{percent}%") } else { write!(f, "{}", self.0) }
    }
}

/// A duration in the largest of s, ms and us that holds it exactly.
struct SpecDuration(Duration);

impl fmt::Display for SpecDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.total_micros();
        match us {
            _ if us % 1_000_000 == 0 => write!(f, "{}s", us / 1_000_000),
            _ if us % 1_000 == 0 => write!(f, "{}ms", us / 1_000),
            _ => write!(f, "{us}us"),
        }
    }
}

/// A rate in the largest of gbit, mbit, kbit and bit that holds it exactly.
struct Rate(u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = self.0;
        match bits {
            0 => f.write_str("0bit"),
            _ if bits % 1_000_000_000 == 0 => write!(f, "{}gbit", bits / 1_000_000_000),
            _ if bits % 1_000_000 == 0 => write!(f, "{}mbit", bits / 1_000_000),
            _ if bits % 1_000 == 0 => write!(f, "{}kbit", bits / 1_000),
            _ => write!(f, "{bits}bit"),
        }
    }
}

fn parse_probability(value: &str) -> Result<f64, Problem> {
    let (number, scale) = match value.strip_suffix('%') {
        Some(number) => (number.trim_end(), 100.0),
        None => (value, 1.0),
    };
    let p = plain_number(number).ok_or(Problem::BadProbability)? / scale;
    if !(0.0..=1.0).contains(&p) {
        return Err(Problem::ProbabilityRange);
    }
    // `-0%` is accepted, but stored as a plain zero.
    Ok(p + 0.0)
}

/// Parses a duration with a unit into whole microseconds (rounded to the nearest).
fn parse_duration(value: &str) -> Option<Duration> {
    let (number, unit) = split_unit(value);
    let n = plain_number(number).filter(|&n| n >= 0.0)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" if n == 0.0 => 0.0,
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        _ => return None,
    };
    let micros = (n * scale).round();
    // `u64::MAX as f64` rounds up to 2^64, so the comparison is strict.
    (micros < u64::MAX as f64).then(|| Duration::from_micros(micros as u64))
}

/// Parses a rate with a unit into bits per second (rounded to the nearest, at least 1).
fn parse_rate(value: &str) -> Result<u64, Problem> {
    let (number, unit) = split_unit(value);
    let n = plain_number(number).filter(|&n| n >= 0.0).ok_or(Problem::BadRate)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "bit" | "bps" => 1.0,
        "kbit" | "kbps" => 1e3,
        "mbit" | "mbps" => 1e6,
        "gbit" | "gbps" => 1e9,
        _ => return Err(Problem::BadRate),
    };
    let bits = (n * scale).round();
    if bits >= u64::MAX as f64 {
        return Err(Problem::BadRate);
    }
    match bits as u64 {
        0 => Err(Problem::ZeroRate),
        bits => Ok(bits),
    }
}

/// Splits `5ms` into `("5", "ms")`: the number is the leading run of digits, dots and signs.
fn split_unit(value: &str) -> (&str, &str) {
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(end);
    (number, unit.trim())
}

/// A finite, non-negative decimal number (no exponent, no `inf`, no `nan`).
fn plain_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let plain = !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let n: f64 = if plain { digits.parse().ok()? } else { text.parse().ok()? };
    // Negative values parse, so the caller can say "out of range" rather than "not a number".
    (n.is_finite() && (plain || text.starts_with('-'))).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(spec: &str) -> String {
        match spec.parse::<Impairments>() {
            Ok(imp) => panic!("{spec:?} parsed as {imp:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_the_full_example() {
        let imp: Impairments = "loss=2%,reorder=2%,dup=1%,delay=5ms,jitter=1ms,rate=100mbit,\
                                corrupt=0.5%,seed=7,queue=100,reorder-distance=3"
            .parse()
            .unwrap();
        assert_eq!(
            imp,
            Impairments {
                loss: 0.02,
                duplicate: 0.01,
                reorder: 0.02,
                corrupt: 0.005,
                reorder_distance: 3,
                delay: Duration::from_millis(5),
                jitter: Duration::from_millis(1),
                rate: Some(100_000_000),
                queue_limit: Some(100),
                seed: 7,
            }
        );
        assert_eq!(
            imp.to_string(),
            "loss=2%,dup=1%,reorder=2%,corrupt=0.5%,delay=5ms,jitter=1ms,rate=100mbit,\
             queue=100,seed=7"
        );
    }

    #[test]
    fn none_and_empty_are_the_perfect_link() {
        for spec in ["", "none", " NONE ", ",", " , "] {
            assert_eq!(spec.parse::<Impairments>().unwrap(), Impairments::NONE, "{spec:?}");
        }
        assert_eq!(Impairments::NONE.to_string(), "none");
        assert!(Impairments::NONE.with_seed(9).is_none());
        assert!(!Impairments::NONE.with_loss(0.1).is_none());
    }

    #[test]
    fn accepts_fractions_units_aliases_and_spaces() {
        let imp: Impairments =
            " loss = 0.25 , duplicate=1 ,corrupt=0,delay=250us,jitter=0.5ms,rate=2.5Mbps, \
             reorder_distance=1, queue=0, seed=18446744073709551615"
                .parse()
                .unwrap();
        assert_eq!(imp.loss, 0.25);
        assert_eq!(imp.duplicate, 1.0);
        assert_eq!(imp.corrupt, 0.0);
        assert_eq!(imp.delay, Duration::from_micros(250));
        assert_eq!(imp.jitter, Duration::from_micros(500));
        assert_eq!(imp.rate, Some(2_500_000));
        assert_eq!(imp.reorder_distance, 1);
        assert_eq!(imp.queue_limit, Some(0));
        assert_eq!(imp.seed, u64::MAX);
        let more: Impairments = "delay=2s,jitter=7µs,rate=3kbit,loss=-0%".parse().unwrap();
        assert_eq!(more.delay, Duration::from_secs(2));
        assert_eq!(more.jitter, Duration::from_micros(7));
        assert_eq!(more.rate, Some(3_000));
        assert!(more.loss.is_sign_positive());
        assert_eq!("rate=1gbps".parse::<Impairments>().unwrap().rate, Some(1_000_000_000));
        assert_eq!("rate=64bit".parse::<Impairments>().unwrap().rate, Some(64));
        assert_eq!("delay=0".parse::<Impairments>().unwrap().delay, Duration::ZERO);
    }

    #[test]
    fn every_error_names_the_item_and_what_is_accepted() {
        let cases = [
            ("loss=120%", "a probability must be between 0% and 100%"),
            ("loss=1.5", "a probability must be between 0% and 100%"),
            ("dup=-1%", "a probability must be between 0% and 100%"),
            ("reorder=lots", "a probability is a percentage like 2% or a fraction like 0.02"),
            ("corrupt=nan", "a probability is a percentage like 2% or a fraction like 0.02"),
            ("loss=1e-2", "a probability is a percentage like 2% or a fraction like 0.02"),
            ("loss", "expected name=value, e.g. loss=1%"),
            ("loss=1%,none", "expected name=value, e.g. loss=1%"),
            (
                "rate=-5mbit",
                "a rate is a number of bits per second with a unit: bit, kbit, mbit, gbit \
                 (or bps, kbps, mbps, gbps), e.g. 100mbit",
            ),
            (
                "latency=5ms",
                "unknown name; accepted: loss, dup, reorder, reorder-distance, corrupt, delay, \
                 jitter, rate, queue, seed",
            ),
            ("delay=5", "a duration is a number with a unit: us, ms or s (e.g. 5ms)"),
            ("jitter=5min", "a duration is a number with a unit: us, ms or s (e.g. 5ms)"),
            ("delay=-5ms", "a duration is a number with a unit: us, ms or s (e.g. 5ms)"),
            (
                "delay=99999999999999999999s",
                "a duration is a number with a unit: us, ms or s (e.g. 5ms)",
            ),
            (
                "rate=100",
                "a rate is a number of bits per second with a unit: bit, kbit, mbit, gbit \
                 (or bps, kbps, mbps, gbps), e.g. 100mbit",
            ),
            (
                "rate=fast",
                "a rate is a number of bits per second with a unit: bit, kbit, mbit, gbit \
                 (or bps, kbps, mbps, gbps), e.g. 100mbit",
            ),
            ("rate=0mbit", "a rate must be greater than zero"),
            ("queue=-1", "a queue limit is a whole number of frames, e.g. 100"),
            ("queue=1.5", "a queue limit is a whole number of frames, e.g. 100"),
            ("reorder-distance=0", "the reorder distance is a whole number of frames, at least 1"),
            ("reorder-distance=x", "the reorder distance is a whole number of frames, at least 1"),
            ("seed=-3", "a seed is a whole number from 0 to 18446744073709551615"),
            (
                "seed=18446744073709551616",
                "a seed is a whole number from 0 to 18446744073709551615",
            ),
        ];
        for (item, reason) in cases {
            let bad = item.rsplit(',').next().unwrap();
            assert_eq!(err(item), format!("bad impairment \"{bad}\": {reason}"), "{item}");
        }
        assert_eq!(
            err("loss=1%, delay=5ms , loss=2%"),
            "bad impairment \"loss=2%\": given more than once"
        );
        assert_eq!(
            err("dup=1%,duplicate=2%"),
            "bad impairment \"duplicate=2%\": given more than once"
        );
        let e = "delay=5ms,rate=7".parse::<Impairments>().unwrap_err();
        assert_eq!(e.item(), "rate=7");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn validate_catches_hand_built_values() {
        assert_eq!(Impairments::NONE.validate(), Ok(()));
        let cases = [
            (
                Impairments::NONE.with_loss(1.2),
                "bad impairment \"loss=120%\": a probability must be between 0% and 100%",
            ),
            (
                Impairments::NONE.with_corrupt(f64::NAN),
                "bad impairment \"corrupt=NaN\": a probability must be between 0% and 100%",
            ),
            (
                Impairments::NONE.with_reorder(0.1, 0),
                "bad impairment \"reorder-distance=0\": the reorder distance is a whole number of frames, at least 1",
            ),
            (
                Impairments::NONE.with_rate(0, None),
                "bad impairment \"rate=0bit\": a rate must be greater than zero",
            ),
        ];
        for (imp, message) in cases {
            assert_eq!(imp.validate().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn display_picks_exact_units() {
        let imp = Impairments::NONE
            .with_delay(Duration::from_micros(1_500), Duration::from_secs(2))
            .with_rate(1_234, None)
            .with_reorder(0.0, 5);
        assert_eq!(imp.to_string(), "reorder-distance=5,delay=1500us,jitter=2s,rate=1234bit");
        let odd = Impairments::NONE.with_loss(0.07).with_duplicate(1.0 / 3.0);
        assert_eq!(odd.to_string().parse::<Impairments>().unwrap(), odd);
    }

    fn probability() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(1.0),
            0.0..=1.0,
            (0u32..=10_000).prop_map(|n| f64::from(n) / 10_000.0)
        ]
    }

    fn impairments() -> impl Strategy<Value = Impairments> {
        (
            (probability(), probability(), probability(), probability()),
            1usize..1_000,
            (any::<u64>(), any::<u64>()),
            proptest::option::of(1u64..),
            proptest::option::of(any::<usize>()),
            any::<u64>(),
        )
            .prop_map(
                |(
                    (loss, duplicate, reorder, corrupt),
                    distance,
                    (delay, jitter),
                    rate,
                    queue,
                    seed,
                )| {
                    Impairments {
                        loss,
                        duplicate,
                        reorder,
                        corrupt,
                        reorder_distance: distance,
                        // Durations past 2^53 µs (285 years) would lose precision in the parser's f64.
                        delay: Duration::from_micros(delay >> 11),
                        jitter: Duration::from_micros(jitter % 10_000_000),
                        rate: rate.map(|r| r >> 11),
                        queue_limit: queue,
                        seed,
                    }
                },
            )
            .prop_map(|imp| Impairments { rate: imp.rate.map(|r| r.max(1)), ..imp })
    }

    proptest! {
        #[test]
        fn display_parses_back_to_the_same_value(imp in impairments()) {
            prop_assert_eq!(imp.validate(), Ok(()));
            let spec = imp.to_string();
            prop_assert_eq!(spec.parse::<Impairments>(), Ok(imp), "{}", spec);
        }

        #[test]
        fn parsing_never_panics(spec in "[a-z=%,.0-9µ -]{0,40}") {
            let _ = spec.parse::<Impairments>();
        }
    }
}
