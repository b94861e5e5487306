//! The TCP adversary of the stateful fuzz target (`pila::fuzz::tcp_adversary`) as a seeded
//! soak in the simulator: each seed's bytes become up to 256 actions of an adversary on the
//! wire of a live connection (drops, duplicates, reordering, corruption, forged segments
//! and ICMP errors, time jumps) and of both applications, and every invariant of the target
//! is checked. A failing seed is printed; `PILA_ADVERSARY_SEED=N` replays it alone and
//! `PILA_ADVERSARY_SEEDS=N` soaks longer.

use pila::rand::Rng;

/// Seeds run by default: a few seconds.
const SEEDS: u64 = 300;

fn input(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    // Between a handful of actions and the most one input runs.
    let mut data = vec![0; 16 + rng.below(2048) as usize];
    rng.fill(&mut data);
    data
}

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn the_adversary_breaks_no_invariant() {
    let seeds = match env("PILA_ADVERSARY_SEED") {
        Some(seed) => seed..seed + 1,
        None => 0..env("PILA_ADVERSARY_SEEDS").unwrap_or(SEEDS),
    };
    let mut all = Vec::new();
    for seed in seeds {
        let data = input(seed);
        match std::panic::catch_unwind(|| pila::fuzz::tcp_adversary(&data)) {
            Ok(report) => all.push(report),
            Err(_) => panic!("seed {seed} broke an invariant (replay: PILA_ADVERSARY_SEED={seed})"),
        }
    }
    let count = |f: fn(&pila::fuzz::Report) -> bool| all.iter().filter(|r| f(r)).count();
    let (established, moved, checked, forged) = (
        count(|r| r.established),
        count(|r| r.read.iter().all(|&n| n > 0)),
        count(|r| r.checked_delivery && r.read.iter().any(|&n| n > 0)),
        all.iter().map(|r| r.forged).sum::<usize>(),
    );
    let actions: usize = all.iter().map(|r| r.actions).sum();
    eprintln!(
        "{} runs, {actions} actions, {forged} forged segments and ICMP errors: {established} \
         reached ESTABLISHED, {moved} moved data both ways, {checked} checked every byte's \
         delivery on a clean wire",
        all.len()
    );
    // The soak reaches the state machine, not only the handshake: most runs connect,
    // many carry data both ways while attacked.
    if all.len() >= 100 {
        assert!(established * 2 > all.len(), "{established} of {} runs connected", all.len());
        assert!(moved * 6 > all.len(), "{moved} of {} runs moved data both ways", all.len());
        assert!(checked * 30 > all.len(), "{checked} of {} runs checked delivery", all.len());
    }
}
