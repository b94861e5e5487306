//! A connection's trace: a record of each thing it did and why — segments sent and
//! received, RTT samples, timers fired, congestion window and phase, losses marked, state
//! changes — taken out like events ([`Connection::poll_trace`]), never written anywhere
//! by the core.
//!
//! Off by default ([`Config::trace`](super::Config::trace) or
//! [`Connection::set_trace`]): an untraced connection pays one pointer and one branch per
//! call. On, a connection keeps at most [`MAX_PENDING`] records not yet taken and counts
//! the ones it had to drop (the stack takes them after every call, so it never drops in
//! practice).
//!
//! # JSON lines
//!
//! [`Record::write_json`] writes one record as one JSON object, the format of `pila ...
//! --trace FILE` and what `pila plot` reads. Every object has
//!
//! - `t`: seconds since the stack's clock started, to the microsecond;
//! - `conn`: the connection's 4-tuple, `"LOCAL-REMOTE"` (`192.0.2.1:49152-192.0.2.2:80`,
//!   `[2001:db8::1]:49152-[2001:db8::2]:80`);
//! - `ev`: what the record is, and with it:
//!
//! | `ev` | keys |
//! |---|---|
//! | `sent`, `recv` | `seq`, `ack` (absent without ACK), `len` (payload bytes), `win` (the window in bytes, scaled), `flags` (tcpdump's letters, `.` for ACK: `S`, `S.`, `P.`, `.`), `sack` (`[[left, right], ...]`, absent if none); `sent` adds `rtx` when it is a retransmission: `"rto"`, `"tlp"`, `"rack"`, `"recovery"` or `"probe"` |
//! | `rtt` | `sample`, `srtt`, `rttvar`, `rto` (seconds) |
//! | `timer` | `timer`: `retransmit`, `persist`, `keepalive`, `delayed_ack`, `time_wait`, `user`, `reorder`, `probe` |
//! | `cc` | `cwnd`, `ssthresh` (absent before the first loss), `inflight` (bytes), `phase`: `slow_start`, `conservative_slow_start`, `congestion_avoidance`, `recovery`, `timeout` |
//! | `lost` | `segments`: how many more segments were marked lost (RACK, or a timeout) |
//! | `state` | `from`, `to`: RFC 9293 state names (`ESTABLISHED`) |
//! | `dropped` | `records`: how many records were lost before this one (a full queue) |
//!
//! Sequence and acknowledgment numbers are the raw 32-bit values on the wire.

use core::fmt;
use core::net::SocketAddr;
use std::collections::VecDeque;

use super::Connection;
use super::Timer;
use super::state::State;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{Flags, Repr, SackBlocks, SeqNumber};

/// The most records a connection keeps before they are taken.
pub const MAX_PENDING: usize = 4096;

/// One thing a connection did, at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub what: Traced,
}

/// What a [`Record`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Traced {
    /// A segment left.
    Sent(Segment),
    /// A segment arrived.
    Received(Segment),
    /// An RTT measurement, and the estimator after it (RFC 6298).
    Rtt {
        /// The measurement.
        sample: Duration,
        /// Smoothed RTT.
        srtt: Duration,
        /// RTT variation.
        rttvar: Duration,
        /// The retransmission timeout now.
        rto: Duration,
    },
    /// A timer fired.
    Timer(Timer),
    /// The congestion window, the threshold, what is in flight, or the phase changed.
    Congestion {
        /// Congestion window, bytes.
        cwnd: usize,
        /// Slow-start threshold, bytes (`usize::MAX` before the first loss).
        ssthresh: usize,
        /// Sequence space sent and not acknowledged, bytes.
        in_flight: usize,
        /// Where congestion control stands.
        phase: Phase,
    },
    /// More segments were marked lost (RACK, RFC 8985, or a retransmission timeout).
    Lost {
        /// How many.
        segments: u64,
    },
    /// The RFC 9293 state changed.
    State {
        /// The state left.
        from: State,
        /// The state entered.
        to: State,
    },
    /// Records were dropped before this one: the queue was full.
    Dropped {
        /// How many.
        records: u64,
    },
}

/// A segment as a trace shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Sequence number.
    pub seq: SeqNumber,
    /// Acknowledgment number, when ACK is set.
    pub ack: Option<SeqNumber>,
    /// Payload bytes.
    pub len: u32,
    /// The window offered, in bytes (scaled as its receiver reads it).
    pub window: u32,
    /// The control bits other than ACK.
    pub flags: Flags,
    /// The SACK blocks.
    pub sack: SackBlocks,
    /// Why a sent segment carries data sent before; `None` for new data and for every
    /// received segment.
    pub retransmit: Option<Retransmit>,
}

/// Why data was sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Retransmit {
    /// The retransmission timer expired (RFC 6298).
    Timeout,
    /// A tail loss probe (RFC 8985 §7).
    TailLossProbe,
    /// RACK's reordering timer marked it lost (RFC 8985 §6.3).
    Rack,
    /// Loss recovery: SACK or duplicate ACKs (RFC 6675, RFC 6582).
    Recovery,
    /// A zero-window or keepalive probe.
    Probe,
}

/// Where congestion control stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Slow start (RFC 5681 §3.1).
    SlowStart,
    /// HyStart++'s conservative slow start (RFC 9406 §4.2).
    ConservativeSlowStart,
    /// Congestion avoidance.
    CongestionAvoidance,
    /// Fast recovery (RFC 6675, RFC 6582).
    Recovery,
    /// Recovering from a retransmission timeout.
    Timeout,
}

impl Phase {
    /// The name the JSON lines use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SlowStart => "slow_start",
            Self::ConservativeSlowStart => "conservative_slow_start",
            Self::CongestionAvoidance => "congestion_avoidance",
            Self::Recovery => "recovery",
            Self::Timeout => "timeout",
        }
    }
}

impl Retransmit {
    /// The name the JSON lines use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Timeout => "rto",
            Self::TailLossProbe => "tlp",
            Self::Rack => "rack",
            Self::Recovery => "recovery",
            Self::Probe => "probe",
        }
    }
}

impl Segment {
    fn of(seg: &Repr<'_>, window: u32, retransmit: Option<Retransmit>) -> Self {
        Self {
            seq: seg.seq_number,
            ack: seg.ack_number,
            len: seg.payload.len() as u32,
            window,
            flags: seg.flags,
            sack: seg.options.sack_blocks,
            retransmit,
        }
    }
}

/// What [`Connection::trace_sent`] needs of a segment about to leave.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sent {
    pub(super) seq: SeqNumber,
    pub(super) ack: Option<SeqNumber>,
    pub(super) flags: Flags,
    pub(super) len: usize,
    /// The window field, unscaled.
    pub(super) window: u16,
    pub(super) sack: SackBlocks,
}

/// Seconds, to the microsecond.
struct Secs(u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

fn secs(d: Duration) -> Secs {
    Secs(d.total_micros())
}

impl Record {
    /// Writes the record as one JSON object (no newline) for the connection `local` to
    /// `remote`; the [module documentation](self) gives the schema.
    pub fn write_json(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        out: &mut impl fmt::Write,
    ) -> fmt::Result {
        let t = Secs(self.at.total_micros());
        write!(out, "{{\"t\":{t},\"conn\":\"{local}-{remote}\",")?;
        match self.what {
            Traced::Sent(s) | Traced::Received(s) => {
                let ev = if matches!(self.what, Traced::Sent(_)) { "sent" } else { "recv" };
                write!(out, "\"ev\":\"{ev}\",\"seq\":{}", s.seq.0)?;
                if let Some(ack) = s.ack {
                    write!(out, ",\"ack\":{}", ack.0)?;
                }
                // tcpdump's letters, `.` for ACK: `S`, `S.`, `P.`, `.`, `R`.
                let letters = s.flags.to_string();
                let letters = letters.trim_matches(['[', ']']).trim_start_matches("none");
                let ack = if s.ack.is_some() && !letters.contains('.') { "." } else { "" };
                let (len, win) = (s.len, s.window);
                write!(out, ",\"len\":{len},\"win\":{win},\"flags\":\"{letters}{ack}\"")?;
                if !s.sack.is_empty() {
                    out.write_str(",\"sack\":[")?;
                    for (i, (l, r)) in s.sack.iter().enumerate() {
                        let comma = if i > 0 { "," } else { "" };
                        write!(out, "{comma}[{},{}]", l.0, r.0)?;
                    }
                    out.write_str("]")?;
                }
                if let Some(why) = s.retransmit {
                    write!(out, ",\"rtx\":\"{}\"", why.name())?;
                }
            }
            Traced::Rtt { sample, srtt, rttvar, rto } => write!(
                out,
                "\"ev\":\"rtt\",\"sample\":{},\"srtt\":{},\"rttvar\":{},\"rto\":{}",
                secs(sample),
                secs(srtt),
                secs(rttvar),
                secs(rto)
            )?,
            Traced::Timer(t) => write!(out, "\"ev\":\"timer\",\"timer\":\"{}\"", t.name())?,
            Traced::Congestion { cwnd, ssthresh, in_flight, phase } => {
                write!(out, "\"ev\":\"cc\",\"cwnd\":{cwnd}")?;
                if ssthresh != usize::MAX {
                    write!(out, ",\"ssthresh\":{ssthresh}")?;
                }
                write!(out, ",\"inflight\":{in_flight},\"phase\":\"{}\"", phase.name())?;
            }
            Traced::Lost { segments } => write!(out, "\"ev\":\"lost\",\"segments\":{segments}")?,
            Traced::State { from, to } => {
                write!(out, "\"ev\":\"state\",\"from\":\"{from}\",\"to\":\"{to}\"")?;
            }
            Traced::Dropped { records } => {
                write!(out, "\"ev\":\"dropped\",\"records\":{records}")?;
            }
        }
        out.write_str("}")
    }
}

/// What a trace compares between calls to see what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    state: State,
    cwnd: usize,
    ssthresh: usize,
    in_flight: usize,
    phase: Phase,
    rtt_samples: u32,
    lost: u64,
}

/// A traced connection's records, boxed behind one pointer in the connection.
#[derive(Debug, Default)]
pub(super) struct Tracer {
    records: VecDeque<Record>,
    /// Records dropped since the last one kept.
    dropped: u64,
    /// The end of the highest data sent: what starts below it is sent again.
    high: Option<SeqNumber>,
    /// The timer that fired last, until an ACK comes: why data goes again.
    cause: Option<Retransmit>,
    /// What the last call left (none before the first).
    seen: Option<Seen>,
}

impl Tracer {
    fn push(&mut self, at: Instant, what: Traced) {
        if self.records.len() >= MAX_PENDING {
            self.dropped += 1;
            return;
        }
        if self.dropped > 0 {
            let records = core::mem::take(&mut self.dropped);
            self.records.push_back(Record { at, what: Traced::Dropped { records } });
        }
        self.records.push_back(Record { at, what });
    }
}

impl Connection {
    /// Turns this connection's trace on or off ([`Config::trace`](super::Config::trace)
    /// turns it on for every connection). Turning it off drops the records not taken.
    pub fn set_trace(&mut self, on: bool) {
        match (on, self.trace.is_some()) {
            (true, false) => self.trace = Some(Box::default()),
            (false, true) => self.trace = None,
            _ => {}
        }
    }

    /// Whether the connection keeps a trace.
    pub fn is_traced(&self) -> bool {
        self.trace.is_some()
    }

    /// The next trace record, oldest first.
    pub fn poll_trace(&mut self) -> Option<Record> {
        self.trace.as_mut()?.records.pop_front()
    }

    /// A segment arrived (before it is processed).
    pub(super) fn trace_received(&mut self, now: Instant, seg: &Repr<'_>) {
        let wscale = if seg.flags.contains(Flags::SYN) { 0 } else { self.snd.wscale() };
        let window = u32::from(seg.window_len) << wscale;
        let Some(t) = self.trace.as_deref_mut() else { return };
        if seg.ack_number.is_some() {
            t.cause = None;
        }
        t.push(now, Traced::Received(Segment::of(seg, window, None)));
    }

    /// A timer fired.
    pub(super) fn trace_timer(&mut self, now: Instant, timer: Timer) {
        let Some(t) = self.trace.as_deref_mut() else { return };
        t.cause = match timer {
            Timer::Retransmit => Some(Retransmit::Timeout),
            Timer::Probe => Some(Retransmit::TailLossProbe),
            Timer::Reorder => Some(Retransmit::Rack),
            Timer::Persist | Timer::Keepalive => Some(Retransmit::Probe),
            _ => t.cause,
        };
        t.push(now, Traced::Timer(timer));
    }

    /// A segment leaves: `seq`, `ack`, `flags`, `len` payload bytes, the window field and
    /// the SACK blocks it carries.
    pub(super) fn trace_sent(&mut self, now: Instant, sent: Sent) {
        let wscale = if sent.flags.contains(Flags::SYN) { 0 } else { self.rcv.wscale() };
        let window = u32::from(sent.window) << wscale;
        let phase = self.snd.phase();
        let Some(t) = self.trace.as_deref_mut() else { return };
        let len = sent.len;
        let end = sent.seq.plus(len);
        let retransmit =
            (len > 0 && t.high.is_some_and(|h| sent.seq < h)).then_some(match (t.cause, phase) {
                (Some(cause), _) => cause,
                (None, Phase::Recovery | Phase::Timeout) => Retransmit::Recovery,
                (None, _) => Retransmit::Probe,
            });
        if len > 0 && t.high.is_none_or(|h| end > h) {
            t.high = Some(end);
        }
        let segment = Segment {
            seq: sent.seq,
            ack: sent.ack,
            len: len as u32,
            window,
            flags: sent.flags,
            sack: sent.sack,
            retransmit,
        };
        t.push(now, Traced::Sent(segment));
    }

    /// After a call: records what changed in the state, the RTT estimator, congestion
    /// control and loss marks.
    pub(super) fn trace_changes(&mut self, now: Instant) {
        let (cc, rtt, stats) = (self.snd.congestion(), self.snd.rtt(), self.snd.stats());
        let (sample, rtt_samples) = rtt.latest();
        let seen = Seen {
            state: self.state,
            cwnd: cc.cwnd(),
            ssthresh: cc.ssthresh(),
            in_flight: self.snd.flight(),
            phase: self.snd.phase(),
            rtt_samples,
            lost: u64::from(stats.rack_lost) + u64::from(stats.rto_expiries),
        };
        let (srtt, rttvar, rto) = (rtt.srtt(), rtt.rttvar(), rtt.rto());
        let synchronized = self.state.is_synchronized();
        let Some(t) = self.trace.as_deref_mut() else { return };
        let Some(was) = t.seen.replace(seen) else {
            // The first call: what is there is the start, not a change.
            if synchronized {
                t.push(now, congestion(&seen));
            }
            return;
        };
        if was == seen {
            return;
        }
        if was.state != seen.state {
            t.push(now, Traced::State { from: was.state, to: seen.state });
        }
        if seen.rtt_samples != was.rtt_samples {
            t.push(now, Traced::Rtt { sample, srtt, rttvar, rto });
        }
        if seen.lost > was.lost {
            t.push(now, Traced::Lost { segments: seen.lost - was.lost });
        }
        let window = |s: &Seen| (s.cwnd, s.ssthresh, s.in_flight, s.phase);
        if window(&seen) != window(&was) && synchronized {
            t.push(now, congestion(&seen));
        }
    }
}

/// The congestion record of what a call left.
const fn congestion(seen: &Seen) -> Traced {
    let Seen { cwnd, ssthresh, in_flight, phase, .. } = *seen;
    Traced::Congestion { cwnd, ssthresh, in_flight, phase }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(what: Traced) -> String {
        let record = Record { at: Instant::from_micros(1_500_002), what };
        let mut out = String::new();
        let (l, r) = ("192.0.2.1:5".parse().unwrap(), "[2001:db8::2]:80".parse().unwrap());
        record.write_json(l, r, &mut out).unwrap();
        out
    }

    #[test]
    fn each_record_is_one_json_object_as_the_schema_says() {
        let head = r#"{"t":1.500002,"conn":"192.0.2.1:5-[2001:db8::2]:80","#;
        let ms = Duration::from_millis;
        let cases = [
            (
                Traced::Rtt { sample: ms(21), srtt: ms(20), rttvar: ms(5), rto: ms(220) },
                r#""ev":"rtt","sample":0.021000,"srtt":0.020000,"rttvar":0.005000,"rto":0.220000}"#,
            ),
            (Traced::Timer(Timer::Retransmit), r#""ev":"timer","timer":"retransmit"}"#),
            (
                Traced::Congestion {
                    cwnd: 14600,
                    ssthresh: usize::MAX,
                    in_flight: 2920,
                    phase: Phase::SlowStart,
                },
                r#""ev":"cc","cwnd":14600,"inflight":2920,"phase":"slow_start"}"#,
            ),
            (Traced::Lost { segments: 2 }, r#""ev":"lost","segments":2}"#),
            (
                Traced::State { from: State::SynSent, to: State::Established },
                r#""ev":"state","from":"SYN-SENT","to":"ESTABLISHED"}"#,
            ),
            (Traced::Dropped { records: 7 }, r#""ev":"dropped","records":7}"#),
        ];
        for (what, tail) in cases {
            assert_eq!(json(what), format!("{head}{tail}"));
        }
        let mut sack = SackBlocks::EMPTY;
        sack.push((SeqNumber(10), SeqNumber(20)));
        let seg = Segment {
            seq: SeqNumber(1),
            ack: Some(SeqNumber(9)),
            len: 0,
            window: 65535 << 7,
            flags: Flags::default(),
            sack,
            retransmit: Some(Retransmit::TailLossProbe),
        };
        assert_eq!(
            json(Traced::Sent(seg)),
            format!(
                "{head}\"ev\":\"sent\",\"seq\":1,\"ack\":9,\"len\":0,\"win\":8388480,\
                 \"flags\":\".\",\"sack\":[[10,20]],\"rtx\":\"tlp\"}}"
            )
        );
    }

    #[test]
    fn a_full_queue_drops_and_says_how_many_it_dropped() {
        let mut t = Tracer::default();
        for _ in 0..MAX_PENDING + 3 {
            t.push(Instant::ZERO, Traced::Lost { segments: 1 });
        }
        assert_eq!(t.records.len(), MAX_PENDING);
        t.records.clear();
        t.push(Instant::ZERO, Traced::Lost { segments: 1 });
        assert_eq!(t.records.front().unwrap().what, Traced::Dropped { records: 3 });
        assert_eq!(t.records.len(), 2);
    }
}
