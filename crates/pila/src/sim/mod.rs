//! The simulator: two real [`Stack`](crate::stack::Stack)s on the two ends of a
//! [`VirtualWire`](crate::device::VirtualWire), under a virtual clock, seeded and
//! reproducible.
//!
//! A [`Net`] is the one harness: host A and host B, each a stack, joined by a wire with
//! per-direction impairments (loss, duplication, reordering, corruption, delay, jitter,
//! rate, queue limit). Every frame goes over the wire as real bytes, written and parsed by
//! the production code, so a corrupted frame fails its checksum and is dropped and counted
//! like on a real host. The clock jumps straight to the next deadline — a stack's timer or
//! the wire's next arrival — so hours of protocol time run in milliseconds. The harness
//! can capture every frame, filter (drop or answer) frames between the hosts and the wire,
//! and inject frames into a stack.
//!
//! A [`TcpPair`] is one TCP connection on a [`Net`]: a client that connects and a server
//! whose listener accepts, with fixed ISNs, static neighbour entries (no ARP exchange
//! shifts the timings) and segment traces. A [`Transfer`] drives a bulk transfer of a
//! [`PatternStream`] over a pair and reports what it took. [`with_seed`] runs a scenario
//! so that a failure names its seed.
//!
//! ```
//! use pila::sim::{PairConfig, Side, TcpPair, Transfer};
//! use pila::time::Duration;
//!
//! let mut pair = TcpPair::new(PairConfig::default());
//! pair.handshake(Duration::from_secs(5)).unwrap();
//! let report = Transfer::new(Side::Client, 100_000, 7).run(&mut pair, |_| {}).unwrap();
//! assert_eq!(report.bytes, 100_000);
//! ```

mod net;
mod pair;
mod transfer;

pub use net::{HostStats, Net, RunError, SentFrame, Side, Verdict};
pub use pair::{
    CLIENT_ADDR, CLIENT_ADDR6, CLIENT_MAC, Family, Open, PairConfig, SERVER_ADDR, SERVER_ADDR6,
    SERVER_MAC, SentSegment, TcpPair,
};
pub use transfer::{PatternStream, Transfer, TransferError, TransferReport};

use std::panic::{self, AssertUnwindSafe};

/// The environment variable that overrides the seed given to [`with_seed`], to replay a
/// failing run.
pub const SEED_VAR: &str = "PILA_SIM_SEED";

/// Runs `scenario` with `seed` (or the seed in [`SEED_VAR`], if set) and, if it panics,
/// panics again with the seed added to the message, so every failure can be replayed.
pub fn with_seed<R>(seed: u64, scenario: impl FnOnce(u64) -> R) -> R {
    let seed = std::env::var(SEED_VAR).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(seed);
    match panic::catch_unwind(AssertUnwindSafe(|| scenario(seed))) {
        Ok(r) => r,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!("{message}\n[simulation seed {seed}; replay with {SEED_VAR}={seed}]")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_scenario_names_its_seed() {
        assert_eq!(with_seed(5, |s| s * 2), 10);
        let err = panic::catch_unwind(|| with_seed(4242, |_| panic!("boom"))).unwrap_err();
        let message = err.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("boom"), "{message}");
        assert!(message.contains("seed 4242") && message.contains("PILA_SIM_SEED=4242"));
    }
}
