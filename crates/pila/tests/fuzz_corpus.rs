//! Runs every fuzz target's body over its seed corpus (`fuzz/corpus/<target>/`) and over
//! seeded mutations of it, so CI exercises the fuzz targets on the stable toolchain.
//!
//! The mutations are a small, deterministic stand-in for libFuzzer's: bit flips, byte
//! overwrites with boundary values, truncation, insertion and duplication of ranges. A
//! failure names the target, the seed file and the mutation number, which replays it.

use pila::rand::Rng;
use std::fs;
use std::path::PathBuf;

const MUTATIONS_PER_SEED: u64 = 3_000;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus {} missing: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            (name, fs::read(&path).expect("read seed"))
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "seed corpus {} is empty", dir.display());
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
