//! TCP scenarios in the simulator (`pila::sim`): two connections on a virtual wire, every
//! segment as real IPv4 + TCP bytes, under a virtual clock. Each scenario runs under
//! `sim::with_seed`, so a failure names the seed that replays it.

use pila::device::{Impairments, Medium, WireConfig};
use pila::sim::{self, Open, PairConfig, Side, TcpPair, Transfer, TransferReport};
use pila::tcp::{self, Config, Event, RecvError, State};
use pila::time::{Duration, Instant};
use pila::wire::tcp::{Flags, Repr, SeqNumber};
use sha2::{Digest, Sha256};

const MIB: u64 = 1 << 20;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A wire with `one_way` delay both ways, and `imp` on top.
fn pair_config(seed: u64, one_way: Duration, imp: Impairments) -> PairConfig {
    PairConfig { seed, ..PairConfig::default() }.with_impairments(imp.with_delay(one_way, Duration::ZERO))
}

fn events(c: &mut tcp::Connection) -> Vec<Event> {
    core::iter::from_fn(|| c.poll_event()).collect()
}

/// Reads everything `c` has into `out`; returns whether EOF was seen.
fn read_all(c: &mut tcp::Connection, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match c.recv(&mut buf) {
            Ok(0) => return true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(RecvError::WouldBlock) => return false,
            Err(RecvError::Error(e)) => panic!("recv failed: {e}"),
        }
    }
}

/// SHA-256 of the first `len` bytes of the pattern stream of `seed`.
fn stream_sha256(seed: u64, len: u64) -> [u8; 32] {
    let mut s = sim::PatternStream::new(seed);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        s.fill(&mut buf[..n]);
        h.update(&buf[..n]);
        left -= n as u64;
    }
    h.finalize().into()
}

/// Sends `len` bytes of the seed's stream from client to server over `config`, checks the
/// SHA-256 of what arrived, and returns the report.
fn transfer_checked(config: PairConfig, len: u64) -> TransferReport {
    let seed = config.seed;
    let mut pair = TcpPair::new(config);
    let mut hasher = Sha256::new();
    let report = Transfer::new(Side::Client, len, seed)
        .run(&mut pair, |chunk| hasher.update(chunk))
        .unwrap_or_else(|e| panic!("transfer failed: {e}"));
    let got: [u8; 32] = hasher.finalize().into();
    assert_eq!(report.bytes, len);
    assert_eq!(got, stream_sha256(seed, len), "SHA-256 of the received stream");
    report
}

#[test]
fn bulk_64mib_no_loss() {
    sim::with_seed(1, |seed| {
        let r = transfer_checked(pair_config(seed, ms(5), Impairments::NONE), 64 * MIB);
        eprintln!("{r}");
        assert_eq!(r.sender.retransmitted_segments, 0, "{r}");
        assert_eq!(r.sender.fast_recoveries, 0, "{r}");
        assert_eq!(r.sender.rto_expiries, 0, "{r}");
        assert_eq!(r.receiver_host.dropped(), 0, "{r}");
    });
}
