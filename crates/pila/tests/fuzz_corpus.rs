//! Runs every fuzz target's body over its hand-made seeds (`fuzz/seeds/<target>/`) and
//! seeded mutations of them, over what libFuzzer campaigns kept (`fuzz/corpus/<target>/`,
//! minimised), and over every crash a campaign found (`fuzz/regressions/<target>/`, copied
//! there by `scripts/fuzz`), so CI exercises the fuzz targets on the stable toolchain.
//!
//! The mutations are a small, deterministic stand-in for libFuzzer's: bit flips, byte
//! overwrites with boundary values, truncation, insertion and duplication of ranges. A
//! failure names the target, the seed file and the mutation number, which replays it.

use pila::rand::Rng;
use std::fs;
use std::path::PathBuf;

const MUTATIONS_PER_SEED: u64 = 3_000;

/// The files of `fuzz/<kind>/<target>/`, sorted by name; none if the folder is missing.
fn files(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz").join(kind).join(target);
    let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
    let mut found: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            (name, fs::read(&path).expect("read seed"))
        })
        .collect();
    found.sort();
    found
}

/// The hand-made seeds of `target`.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let seeds = files("seeds", target);
    assert!(!seeds.is_empty(), "the seeds fuzz/seeds/{target} are empty or missing");
    seeds
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = data.len() as u64;
        match rng.below(6) {
            0 if len > 0 => {
                let at = rng.below(len) as usize;
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len) as usize;
                data[at] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x05, 0x0f, 0x45][rng.below(8) as usize];
            }
            2 => data.truncate(rng.below(len + 1) as usize),
            3 => {
                let at = rng.below(len + 1) as usize;
                let mut extra = vec![0; rng.below(16) as usize];
                rng.fill(&mut extra);
                data.splice(at..at, extra);
            }
            4 if len > 1 => {
                let start = rng.below(len) as usize;
                let end = start + rng.below(len - start as u64) as usize + 1;
                let copy = data[start..end].to_vec();
                let at = rng.below(data.len() as u64 + 1) as usize;
                data.splice(at..at, copy);
            }
            _ => {
                // Rewrite a length-looking byte: the fields parsers trust most.
                if len > 0 {
                    let at = rng.below(len.min(64)) as usize;
                    data[at] = rng.below(256) as u8;
                }
            }
        }
    }
    data
}

fn run(target: &str, body: fn(&[u8])) {
    for (name, crash) in files("regressions", target) {
        let outcome = std::panic::catch_unwind(|| body(&crash));
        assert!(outcome.is_ok(), "{target}: the crash fuzz/regressions/{target}/{name} is back");
    }
    for (name, input) in files("corpus", target) {
        let outcome = std::panic::catch_unwind(|| body(&input));
        assert!(outcome.is_ok(), "{target}: fuzz/corpus/{target}/{name} panicked");
    }
    for (index, (name, seed)) in corpus(target).into_iter().enumerate() {
        body(&seed);
        let mut rng = Rng::new(0x5eed ^ ((index as u64) << 32));
        for i in 0..MUTATIONS_PER_SEED {
            let input = mutate(&mut rng, &seed);
            let outcome = std::panic::catch_unwind(|| body(&input));
            assert!(
                outcome.is_ok(),
                "{target}: seed {name}, mutation {i} panicked on {input:02x?}"
            );
        }
    }
}

#[test]
fn ethernet() {
    run("ethernet", pila::fuzz::ethernet);
}

#[test]
fn arp() {
    run("arp", pila::fuzz::arp);
}

#[test]
fn ipv4() {
    run("ipv4", pila::fuzz::ipv4);
}

#[test]
fn ipv6() {
    run("ipv6", pila::fuzz::ipv6);
}

#[test]
fn icmpv6() {
    run("icmpv6", pila::fuzz::icmpv6);
}

#[test]
fn icmpv4() {
    run("icmpv4", pila::fuzz::icmpv4);
}

#[test]
fn udp() {
    run("udp", pila::fuzz::udp);
}

#[test]
fn tcp() {
    run("tcp", pila::fuzz::tcp);
}

/// The mutator must actually reach past the checked views: most mutated TCP seeds still
/// parse, so the round trip in the body is exercised and not just the early returns.
#[test]
fn mutations_stay_mostly_parseable() {
    use pila::wire::tcp;
    let (_, seed) = &corpus("tcp")[0];
    let mut rng = Rng::new(1);
    let checked =
        (0..1000).filter(|_| tcp::Packet::new_checked(&mutate(&mut rng, seed)[..]).is_ok()).count();
    assert!(checked > 300, "only {checked} of 1000 mutations pass the checked view");
}

#[test]
fn stack_receive() {
    run("stack_receive", pila::fuzz::stack_receive);
}

/// The stateful target: its corpus and its crashes, once each (its soak is
/// `tests/fuzz_adversary.rs`).
#[test]
fn tcp_adversary() {
    for (name, crash) in files("regressions", "tcp_adversary") {
        let outcome = std::panic::catch_unwind(|| pila::fuzz::tcp_adversary(&crash));
        assert!(outcome.is_ok(), "the crash fuzz/regressions/tcp_adversary/{name} is back");
    }
    for (_, input) in corpus("tcp_adversary").into_iter().chain(files("corpus", "tcp_adversary")) {
        pila::fuzz::tcp_adversary(&input);
    }
}
