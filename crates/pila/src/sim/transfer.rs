//! [`Transfer`]: a bulk transfer of a seeded pseudo-random stream over a [`TcpPair`],
//! checked byte for byte at the receiver, with a report of what it took.

use core::fmt;

use super::net::{HostStats, RunError, Side};
use super::pair::TcpPair;
use crate::device::LinkStats;
use crate::rand::Rng;
use crate::tcp::{self, RecvError, SendError, State, TcpInfo};
use crate::time::{Duration, Instant};

/// A reproducible stream of pseudo-random bytes: the same seed gives the same bytes,
/// however the reads are split.
#[derive(Clone, Debug)]
pub struct PatternStream {
    rng: Rng,
    word: [u8; 8],
    /// Bytes of `word` already handed out.
    used: usize,
}

impl PatternStream {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: Rng::new(seed), word: [0; 8], used: 8 }
    }

    /// Fills `out` with the next bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) {
        let lead = (8 - self.used).min(out.len());
        let (head, rest) = out.split_at_mut(lead);
        head.copy_from_slice(&self.word[self.used..self.used + lead]);
        self.used += lead;
        let mut words = rest.chunks_exact_mut(8);
        for chunk in &mut words {
            chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            self.word = self.rng.next_u64().to_le_bytes();
            tail.copy_from_slice(&self.word[..tail.len()]);
            self.used = tail.len();
        }
    }
}

/// A one-way bulk transfer: the sender writes [`Transfer::bytes`] bytes of the
/// [`PatternStream`] of [`Transfer::seed`] as fast as its send buffer takes them, then
/// shuts down writing; the receiver reads everything, checks it against the same stream,
/// sees EOF and closes. The transfer ends when both connections have finished closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Which end sends.
    pub from: Side,
    /// How many bytes it sends.
    pub bytes: u64,
    /// The seed of the data stream.
    pub seed: u64,
    /// The most virtual time the transfer may take.
    pub time_limit: Duration,
    /// How long after the start the receiver begins to read (to fill its window and make
    /// the sender probe a zero window).
    pub read_delay: Duration,
}

/// What a [`Transfer`] achieved.
#[derive(Clone, Debug)]
pub struct TransferReport {
    /// Bytes received in order and checked.
    pub bytes: u64,
    /// When the transfer started.
    pub started: Instant,
    /// When the receiver saw EOF after the last byte.
    pub finished: Instant,
    /// The sender's figures when both ends had closed.
    pub sender: TcpInfo,
    /// The receiver's figures when both ends had closed.
    pub receiver: TcpInfo,
    /// The sender's frame counters.
    pub sender_host: HostStats,
    /// The receiver's frame counters.
    pub receiver_host: HostStats,
    /// The counters of the link from sender to receiver.
    pub data_link: LinkStats,
    /// The counters of the link from receiver to sender.
    pub ack_link: LinkStats,
}

impl TransferReport {
    /// From start to EOF.
    pub fn duration(&self) -> Duration {
        self.finished - self.started
    }

    /// Goodput in bits per second of virtual time, from start to EOF.
    pub fn throughput_bps(&self) -> f64 {
        let secs = self.duration().as_secs_f64();
        if secs > 0.0 { self.bytes as f64 * 8.0 / secs } else { f64::INFINITY }
    }
}

impl fmt::Display for TransferReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, r) = (&self.sender, &self.receiver);
        write!(
            f,
            "{} B in {} ({:.2} Mbit/s); sender: {} segments, {} retransmitted, {} fast \
             recoveries, {} RTOs, {} undone, {} TLPs, {} D-SACKs, {} RACK-lost, cwnd {} \
             ssthresh {} srtt {}; receiver: {} dropped frames; data link: {}",
            self.bytes,
            self.duration(),
            self.throughput_bps() / 1e6,
            s.segments_sent,
            s.retransmitted_segments,
            s.fast_recoveries,
            s.rto_expiries,
            s.spurious_recoveries,
            s.tlp_probes,
            s.dsacks_received,
            s.rack_lost,
            s.cwnd,
            s.ssthresh,
            s.srtt,
            self.receiver_host.dropped(),
            self.data_link,
        )?;
        write!(f, "; receiver window {}", r.rcv_wnd)
    }
}

/// Why a [`Transfer`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferError {
    /// The simulation stopped first (time limit, or nothing left to happen).
    Run(RunError, String),
    /// A connection failed.
    Connection(Side, tcp::Error),
    /// The receiver got a byte that differs from the stream's at this offset.
    Corrupted(u64),
    /// The receiver got more bytes than were sent, or EOF too early, at this offset.
    Length(u64),
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Run(e, state) => write!(f, "{e}; {state}"),
            Self::Connection(side, e) => write!(f, "{side:?} failed: {e}"),
            Self::Corrupted(at) => write!(f, "received data differs from the stream at byte {at}"),
            Self::Length(at) => write!(f, "received stream has the wrong length: {at} bytes"),
        }
    }
}

impl std::error::Error for TransferError {}

/// The chunk the sender generates and writes at a time.
const CHUNK: usize = 64 * 1024;

impl Transfer {
    /// A transfer of `bytes` from `from`, data seeded by `seed`, with an hour of virtual time.
    pub const fn new(from: Side, bytes: u64, seed: u64) -> Self {
        Self {
            from,
            bytes,
            seed,
            time_limit: Duration::from_secs(3600),
            read_delay: Duration::ZERO,
        }
    }

    /// Runs the transfer on `pair`; `on_data` sees every received chunk, in order (to hash
    /// it, say).
    pub fn run(
        &self,
        pair: &mut TcpPair,
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<TransferReport, TransferError> {
        let (from, to) = (self.from, self.from.peer());
        let started = pair.now();
        let mut source = PatternStream::new(self.seed);
        let mut check = PatternStream::new(self.seed);
        let mut chunk = vec![0u8; CHUNK];
        let (mut chunk_pos, mut chunk_len) = (0, 0);
        let mut written = 0u64;
        let mut buf = vec![0u8; CHUNK];
        let mut want = vec![0u8; CHUNK];
        let mut received = 0u64;
        let mut finished = None;
        let mut failure = None;
        let result = pair.run_until(
            |p| {
                // Until the server's listener has accepted, the server has nothing to do.
                let Some(tx) = p.socket_mut(from) else { return false };
                while written < self.bytes {
                    if chunk_pos == chunk_len {
                        let left = usize::try_from(self.bytes - written).unwrap_or(CHUNK);
                        chunk_len = left.min(CHUNK);
                        source.fill(&mut chunk[..chunk_len]);
                        chunk_pos = 0;
                    }
                    match tx.send(&chunk[chunk_pos..chunk_len]) {
                        Ok(n) => {
                            chunk_pos += n;
                            written += n as u64;
                        }
                        Err(SendError::WouldBlock) => break,
                        Err(SendError::Error(e)) => {
                            failure = Some(TransferError::Connection(from, e));
                            return true;
                        }
                        Err(SendError::Closed) => {
                            failure = Some(TransferError::Connection(from, tcp::Error::Aborted));
                            return true;
                        }
                    }
                }
                if written == self.bytes {
                    tx.shutdown_write();
                }
                let now = p.now();
                let Some(rx) = p.socket_mut(to) else { return false };
                while finished.is_none() && now >= started + self.read_delay {
                    match rx.recv(&mut buf) {
                        Ok(0) => {
                            if received != self.bytes {
                                failure = Some(TransferError::Length(received));
                                return true;
                            }
                            finished = Some(now);
                            rx.close();
                        }
                        Ok(n) => {
                            let got = &buf[..n];
                            if received + n as u64 > self.bytes {
                                failure = Some(TransferError::Length(received + n as u64));
                                return true;
                            }
                            check.fill(&mut want[..n]);
                            if got != &want[..n] {
                                let at = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
                                failure = Some(TransferError::Corrupted(received + at as u64));
                                return true;
                            }
                            on_data(got);
                            received += n as u64;
                        }
                        Err(RecvError::WouldBlock) => break,
                        Err(RecvError::Error(e)) => {
                            failure = Some(TransferError::Connection(to, e));
                            return true;
                        }
                    }
                }
                finished.is_some()
                    && p.conn(to).is_closed()
                    && matches!(p.conn(from).state(), State::TimeWait | State::Closed)
            },
            self.time_limit,
        );
        if let Some(failure) = failure {
            return Err(failure);
        }
        if let Err(e) = result {
            let state = format!(
                "written {written}, received {received}; sender {:?}; receiver {:?}",
                pair.conn(from).info(),
                pair.conn(to).info()
            );
            return Err(TransferError::Run(e, state));
        }
        Ok(TransferReport {
            bytes: received,
            started,
            finished: finished.unwrap_or(started),
            sender: pair.conn(from).info(),
            receiver: pair.conn(to).info(),
            sender_host: pair.host_stats(from),
            receiver_host: pair.host_stats(to),
            data_link: pair.link_stats(from),
            ack_link: pair.link_stats(to),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_stream_does_not_depend_on_how_it_is_read() {
        let mut whole = vec![0u8; 1000];
        PatternStream::new(9).fill(&mut whole);
        let mut pieces = vec![0u8; 1000];
        let mut s = PatternStream::new(9);
        let mut at = 0;
        for len in [3, 0, 8, 13, 1, 200, 7, 768] {
            s.fill(&mut pieces[at..at + len]);
            at += len;
        }
        assert_eq!(at, 1000);
        assert_eq!(whole, pieces);
        let mut other = vec![0u8; 1000];
        PatternStream::new(10).fill(&mut other);
        assert_ne!(whole, other);
    }
}
