//! The VirtualWire: a perfect link, each impairment at its configured rate, reproducibility
//! by seed, timing on a virtual clock, and the blocking wait used by threaded drivers.

use pila::device::{
    Device, Endpoint, FrameBatch, Impairments, LinkStats, Medium, VirtualWire, WireConfig,
};
use pila::time::{Duration, Instant, VirtualClock};
use std::collections::HashMap;

/// A frame numbered `seq`: the number in its first four bytes, then a pattern derived from it.
fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> =
        (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seq) as u8).collect();
    f[..4].copy_from_slice(&seq.to_be_bytes());
    f
}

fn seq_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[..4].try_into().unwrap())
}

/// Transmits `frames` at `now`, in batches of at most 64; returns how many the wire took.
fn send(tx: &mut Endpoint, now: Instant, frames: &[Vec<u8>]) -> usize {
    let mut taken = 0;
    for chunk in frames.chunks(64) {
        let mut batch = FrameBatch::new(64);
        for f in chunk {
            assert!(batch.push(f));
        }
        taken += tx.transmit(now, &batch).unwrap();
    }
    taken
}

/// Receives everything due at the clock's time; returns the frames.
fn receive_now(rx: &mut Endpoint, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut batch = FrameBatch::new(16);
    loop {
        batch.clear();
        let n = rx.receive(now, &mut batch).unwrap();
        assert_eq!(n, batch.len());
        out.extend(batch.iter().map(<[u8]>::to_vec));
        if n == 0 {
            return out;
        }
    }
}

/// Receives until nothing is left in flight, jumping the clock to each `poll_at`; returns the
/// frames with the time each was received.
fn drain(rx: &mut Endpoint, clock: &VirtualClock) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let now = clock.now();
        out.extend(receive_now(rx, now).into_iter().map(|f| (now, f)));
        match rx.poll_at() {
            Some(t) => {
                assert!(t > now, "poll_at {t:?} is due at {now:?} but nothing was received");
                clock.advance_to(t);
            }
            None => return out,
        }
    }
}

/// Sends `count` frames of `len` bytes from A to B, one every `gap`, receiving as time goes;
/// returns what B received, with times.
fn run(
    config: WireConfig,
    count: u32,
    len: usize,
    gap: Duration,
) -> (Vec<(Instant, Vec<u8>)>, LinkStats) {
    let (mut a, mut b) = VirtualWire::pair(config);
    let clock = VirtualClock::new();
    let mut got = Vec::new();
    for seq in 0..count {
        let send_at = Instant::ZERO + gap.saturating_mul(u64::from(seq));
        // Receive each frame due before the next send at the time it is due.
        while let Some(t) = b.poll_at().filter(|&t| t < send_at) {
            assert!(t >= clock.now());
            clock.advance_to(t);
            let frames = receive_now(&mut b, t);
            assert!(!frames.is_empty(), "poll_at {t:?} but nothing came");
            got.extend(frames.into_iter().map(|f| (t, f)));
        }
        clock.advance_to(send_at);
        send(&mut a, send_at, &[frame(seq, len)]);
        got.extend(receive_now(&mut b, send_at).into_iter().map(|f| (send_at, f)));
    }
    got.extend(drain(&mut b, &clock));
    assert_eq!(b.poll_at(), None);
    (got, a.stats())
}

fn impaired(imp: Impairments) -> WireConfig {
    WireConfig { a_to_b: imp, ..WireConfig::default() }
}

fn assert_near(what: &str, measured: u64, expected: f64) {
    let low = expected * 0.8;
    let high = expected * 1.2;
    assert!(
        (low..=high).contains(&(measured as f64)),
        "{what}: measured {measured}, expected {expected} ± 20 %"
    );
}

fn assert_accounted(stats: &LinkStats) {
    assert_eq!(
        stats.sent + stats.duplicated,
        stats.delivered + stats.lost + stats.queue_dropped + stats.oversize_dropped,
        "{stats}"
    );
}

const N: u32 = 20_000;

#[test]
fn perfect_link_delivers_intact_in_order_both_ways() {
    let (mut a, mut b) = VirtualWire::pair(WireConfig::default());
    let now = Instant::from_millis(3);
    let to_b: Vec<Vec<u8>> = (0..300).map(|i| frame(i, 14 + (i as usize * 7) % 1500)).collect();
    let to_a: Vec<Vec<u8>> = (0..50).map(|i| frame(i + 1000, 60)).collect();
    assert_eq!(b.poll_at(), None);
    assert_eq!(send(&mut a, now, &to_b), 300);
    assert_eq!(send(&mut b, now, &to_a), 50);
    assert_eq!(b.poll_at(), Some(now));
    assert_eq!(receive_now(&mut b, now), to_b);
    assert_eq!(receive_now(&mut a, now), to_a);
    assert_eq!(b.poll_at(), None);
    let stats = a.stats();
    assert_eq!((stats.sent, stats.delivered), (300, 300));
    let bytes: u64 = to_b.iter().map(|f| f.len() as u64).sum();
    assert_eq!((stats.bytes_sent, stats.bytes_delivered), (bytes, bytes));
    assert_eq!(stats.lost + stats.duplicated + stats.corrupted + stats.reordered, 0);
    assert_eq!(b.peer_stats(), stats);
    assert_eq!(b.stats().delivered, 50);
    let caps = a.capabilities();
    assert_eq!((caps.medium, caps.mtu, caps.max_frame_len()), (Medium::Ethernet, 1500, 1518));
}

#[test]
fn receive_respects_the_batch_limit() {
    let (mut a, mut b) = VirtualWire::pair(WireConfig::default());
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(i, 64)).collect();
    send(&mut a, Instant::ZERO, &frames);
    let mut batch = FrameBatch::new(4);
    assert_eq!(b.receive(Instant::ZERO, &mut batch).unwrap(), 4);
    assert_eq!(b.receive(Instant::ZERO, &mut batch).unwrap(), 0, "a full batch takes nothing");
    assert_eq!(batch.iter().map(seq_of).collect::<Vec<_>>(), [0, 1, 2, 3]);
    batch.clear();
    assert_eq!(b.receive(Instant::ZERO, &mut batch).unwrap(), 4);
    assert_eq!(batch.iter().map(seq_of).collect::<Vec<_>>(), [4, 5, 6, 7]);
}

#[test]
fn loss_lands_near_its_rate() {
    let (got, stats) =
        run(impaired("loss=5%,seed=11".parse().unwrap()), N, 100, Duration::from_micros(10));
    let missing = u64::from(N) - got.len() as u64;
    assert_near("lost frames", missing, f64::from(N) * 0.05);
    assert_eq!(stats.lost, missing);
    // What arrives is intact and in order.
    let seqs: Vec<u32> = got.iter().map(|(_, f)| seq_of(f)).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(got.iter().all(|(_, f)| *f == frame(seq_of(f), 100)));
    assert_accounted(&stats);
}

#[test]
fn duplication_lands_near_its_rate() {
    let (got, stats) =
        run(impaired("dup=5%,seed=12".parse().unwrap()), N, 100, Duration::from_micros(10));
    let extra = got.len() as u64 - u64::from(N);
    assert_near("duplicates", extra, f64::from(N) * 0.05);
    assert_eq!(stats.duplicated, extra);
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for (_, f) in &got {
        *counts.entry(seq_of(f)).or_default() += 1;
    }
    assert_eq!(counts.len(), N as usize);
    assert!(counts.values().all(|&c| c == 1 || c == 2));
    // A copy follows its original at once.
    let seqs: Vec<u32> = got.iter().map(|(_, f)| seq_of(f)).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]));
    assert_accounted(&stats);
}

#[test]
fn corruption_lands_near_its_rate_and_flips_exactly_one_bit() {
    let (got, stats) =
        run(impaired("corrupt=5%,seed=13".parse().unwrap()), N, 100, Duration::from_micros(10));
    assert_eq!(got.len(), N as usize);
    let mut corrupted = 0;
    for (seq, (_, f)) in got.iter().enumerate() {
        let bits: u32 =
            f.iter().zip(frame(seq as u32, 100)).map(|(x, y)| (x ^ y).count_ones()).sum();
        assert!(bits <= 1, "frame {seq} has {bits} bits flipped");
        corrupted += u64::from(bits);
    }
    assert_near("corrupted frames", corrupted, f64::from(N) * 0.05);
    assert_eq!(stats.corrupted, corrupted);
}

#[test]
fn a_duplicated_frame_is_corrupted_independently() {
    let imp = Impairments::NONE.with_duplicate(1.0).with_corrupt(1.0).with_seed(14);
    let (got, stats) = run(impaired(imp), 400, 200, Duration::from_micros(10));
    assert_eq!(got.len(), 800);
    assert_eq!((stats.duplicated, stats.corrupted), (400, 800));
    let mut copies_differ = 0;
    for (seq, pair) in got.chunks(2).enumerate() {
        let original = frame(seq as u32, 200);
        for (_, copy) in pair {
            let bits: u32 = copy.iter().zip(&original).map(|(x, y)| (x ^ y).count_ones()).sum();
            assert_eq!(bits, 1, "copy of frame {seq}");
        }
        copies_differ += usize::from(pair[0].1 != pair[1].1);
    }
    // Two independent flips among 1,600 bits coincide rarely.
    assert!(copies_differ >= 390, "{copies_differ} of 400 pairs differ");
}

/// For each delivered frame, how many frames sent after it were delivered before it.
fn overtakers(got: &[(Instant, Vec<u8>)]) -> Vec<(u32, usize)> {
    got.iter()
        .enumerate()
        .map(|(i, (_, f))| {
            let seq = seq_of(f);
            (seq, got[..i].iter().filter(|(_, g)| seq_of(g) > seq).count())
        })
        .collect()
}

#[test]
fn reordering_lands_near_its_rate_and_honours_the_distance() {
    for distance in [1usize, 3, 5] {
        let imp = Impairments::NONE.with_reorder(0.05, distance).with_seed(15);
        // Frames 1 µs apart: later frames come well within the hold time.
        let (got, stats) = run(impaired(imp), 4_000, 80, Duration::from_micros(1));
        assert_eq!(got.len(), 4_000);
        let mut reordered = 0;
        for (seq, overtaken_by) in overtakers(&got) {
            if seq < 4_000 - distance as u32 {
                assert!(
                    overtaken_by == 0 || overtaken_by == distance,
                    "distance {distance}: frame {seq} overtaken by {overtaken_by}"
                );
            }
            reordered += u64::from(overtaken_by > 0);
        }
        assert_near("reordered frames", reordered, 4_000.0 * 0.05);
        assert_eq!(stats.reordered, reordered);
    }
}

#[test]
fn a_lone_reordered_frame_is_still_delivered() {
    let imp =
        Impairments::NONE.with_reorder(1.0, 3).with_delay(Duration::from_millis(2), Duration::ZERO);
    let (mut a, mut b) = VirtualWire::pair(impaired(imp));
    send(&mut a, Instant::ZERO, &[frame(1, 60)]);
    let due = Instant::from_millis(2) + Impairments::REORDER_HOLD;
    assert_eq!(b.poll_at(), Some(due));
    assert!(receive_now(&mut b, due - Duration::from_micros(1)).is_empty());
    assert_eq!(receive_now(&mut b, due), [frame(1, 60)]);
    assert_eq!(b.poll_at(), None);
    // Nothing overtook it, so it was only delayed.
    assert_eq!(a.stats().reordered, 0);
}

#[test]
fn held_frames_overtaken_by_too_few_come_out_at_their_hold_time() {
    // Every frame is held, so none counts as overtaking another: all leave in order, each
    // REORDER_HOLD after its arrival.
    let imp = Impairments::NONE.with_reorder(1.0, 2);
    let (got, stats) = run(impaired(imp), 50, 60, Duration::from_millis(1));
    let seqs: Vec<u32> = got.iter().map(|(_, f)| seq_of(f)).collect();
    assert_eq!(seqs, (0..50).collect::<Vec<_>>());
    for (seq, (t, _)) in got.iter().enumerate() {
        assert_eq!(*t, Instant::from_millis(seq as u64) + Impairments::REORDER_HOLD);
    }
    assert_eq!(stats.reordered, 0);
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let spec = "loss=3%,dup=3%,reorder=5%,corrupt=2%,delay=1ms,jitter=500us,rate=50mbit,queue=20";
    let run_seed = |seed: u64| {
        let imp: Impairments = format!("{spec},seed={seed}").parse().unwrap();
        run(impaired(imp), 3_000, 700, Duration::from_micros(90))
    };
    let (first, first_stats) = run_seed(7);
    let (again, again_stats) = run_seed(7);
    let (other, other_stats) = run_seed(8);
    assert_eq!(first, again);
    assert_eq!(first_stats, again_stats);
    assert_ne!(first, other);
    assert_ne!(first_stats, other_stats);
    assert!(first_stats.lost > 0 && first_stats.reordered > 0 && first_stats.queue_dropped > 0);
    assert_accounted(&first_stats);
}

#[test]
fn the_two_directions_draw_different_streams() {
    let imp: Impairments = "loss=10%,seed=3".parse().unwrap();
    let (mut a, mut b) = VirtualWire::pair(WireConfig::default().with_impairments(imp));
    let frames: Vec<Vec<u8>> = (0..500).map(|i| frame(i, 64)).collect();
    send(&mut a, Instant::ZERO, &frames);
    send(&mut b, Instant::ZERO, &frames);
    let at_b: Vec<u32> = receive_now(&mut b, Instant::ZERO).iter().map(|f| seq_of(f)).collect();
    let at_a: Vec<u32> = receive_now(&mut a, Instant::ZERO).iter().map(|f| seq_of(f)).collect();
    assert_ne!(at_a, at_b);
    assert!(a.stats().lost > 0 && b.stats().lost > 0);
}

#[test]
fn delay_shifts_every_arrival() {
    let imp = Impairments::NONE.with_delay(Duration::from_millis(5), Duration::ZERO);
    let (mut a, mut b) = VirtualWire::pair(impaired(imp));
    let t0 = Instant::from_micros(1_234);
    send(&mut a, t0, &[frame(0, 100)]);
    send(&mut a, t0 + Duration::from_micros(10), &[frame(1, 100)]);
    assert_eq!(b.poll_at(), Some(t0 + Duration::from_millis(5)));
    assert!(receive_now(&mut b, t0 + Duration::from_micros(4_999)).is_empty());
    assert_eq!(receive_now(&mut b, t0 + Duration::from_millis(5)), [frame(0, 100)]);
    assert_eq!(b.poll_at(), Some(t0 + Duration::from_micros(5_010)));
    assert_eq!(receive_now(&mut b, Instant::from_secs(1)), [frame(1, 100)]);
}

#[test]
fn jitter_spreads_arrivals_without_reordering() {
    let imp: Impairments = "delay=5ms,jitter=1ms,seed=21".parse().unwrap();
    // Frames far apart: each arrives 5 to 6 ms after it was sent.
    let (got, _) = run(impaired(imp), 1_000, 60, Duration::from_millis(10));
    let lateness: Vec<u64> = got
        .iter()
        .map(|(t, f)| (*t - Instant::from_millis(10 * u64::from(seq_of(f)))).total_micros())
        .collect();
    assert!(lateness.iter().all(|l| (5_000..=6_000).contains(l)), "{lateness:?}");
    assert!(*lateness.iter().min().unwrap() < 5_050);
    assert!(*lateness.iter().max().unwrap() > 5_950);
    let mean = lateness.iter().sum::<u64>() as f64 / lateness.len() as f64;
    assert!((5_450.0..5_550.0).contains(&mean), "{mean}");
    // Frames close together: jitter alone never reorders.
    let (got, _) = run(impaired(imp), 2_000, 60, Duration::from_micros(20));
    let seqs: Vec<u32> = got.iter().map(|(_, f)| seq_of(f)).collect();
    assert_eq!(seqs, (0..2_000).collect::<Vec<_>>());
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn rate_serialises_frames_one_after_another() {
    // 1,500 bytes at 12 Mbit/s take exactly 1 ms each.
    let imp: Impairments = "rate=12mbit,delay=5ms".parse().unwrap();
    let (mut a, mut b) = VirtualWire::pair(impaired(imp));
    let clock = VirtualClock::new();
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(i, 1_500)).collect();
    assert_eq!(send(&mut a, clock.now(), &frames), 10);
    let got = drain(&mut b, &clock);
    let times: Vec<u64> = got.iter().map(|(t, _)| t.total_millis()).collect();
    assert_eq!(times, (6..=15).collect::<Vec<_>>());
    assert!(got.iter().all(|(t, _)| t.total_micros() % 1_000 == 0));
    // An idle link sends at once; a 750-byte frame takes half a millisecond.
    let later = Instant::from_millis(100);
    send(&mut a, later, &[frame(99, 750)]);
    assert_eq!(b.poll_at(), Some(later + Duration::from_micros(5_500)));
}

#[test]
fn sub_microsecond_serialisation_does_not_drift() {
    // 1,000 bytes at 1 Gbit/s take 8 µs; 125 bytes take exactly 1 µs, 100 bytes 0.8 µs.
    let imp: Impairments = "rate=1gbit".parse().unwrap();
    let (mut a, mut b) = VirtualWire::pair(impaired(imp));
    let frames: Vec<Vec<u8>> = (0..1_000).map(|i| frame(i, 100)).collect();
    send(&mut a, Instant::ZERO, &frames);
    let clock = VirtualClock::new();
    let got = drain(&mut b, &clock);
    assert_eq!(got.len(), 1_000);
    // 1,000 frames of 0.8 µs: the last leaves at 800 µs, not at 1,000 µs.
    assert_eq!(got.last().unwrap().0, Instant::from_micros(800));
}

#[test]
fn a_full_queue_drops_the_tail() {
    let imp: Impairments = "rate=12mbit,queue=3".parse().unwrap();
    let (mut a, mut b) = VirtualWire::pair(impaired(imp));
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(i, 1_500)).collect();
    // One frame on the wire, three waiting, six dropped.
    assert_eq!(send(&mut a, Instant::ZERO, &frames), 4);
    assert_eq!(a.stats().queue_dropped, 6);
    // At 2 ms frame 2 is on the wire and frame 3 waits: room for two more.
    let more: Vec<Vec<u8>> = (10..15).map(|i| frame(i, 1_500)).collect();
    assert_eq!(send(&mut a, Instant::from_millis(2), &more), 2);
    assert_eq!(a.stats().queue_dropped, 9);
    let clock = VirtualClock::new();
    let got = drain(&mut b, &clock);
    let seqs: Vec<u32> = got.iter().map(|(_, f)| seq_of(f)).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 10, 11]);
    let times: Vec<u64> = got.iter().map(|(t, _)| t.total_millis()).collect();
    assert_eq!(times, [1, 2, 3, 4, 5, 6]);
    assert_accounted(&a.stats());
}

#[test]
fn oversize_frames_are_dropped_and_counted() {
    let (mut a, mut b) = VirtualWire::pair(WireConfig::default());
    let frames = [frame(0, 1_518), frame(1, 1_519), frame(2, 9_000), frame(3, 64)];
    assert_eq!(send(&mut a, Instant::ZERO, &frames), 4, "a dropped frame was still taken");
    let got = receive_now(&mut b, Instant::ZERO);
    assert_eq!(got, [frame(0, 1_518), frame(3, 64)]);
    assert_eq!(a.stats().oversize_dropped, 2);

    let ip = WireConfig::default().with_medium(Medium::Ip, 576);
    let (mut a, mut b) = VirtualWire::pair(ip);
    assert_eq!(a.capabilities().max_frame_len(), 576);
    send(&mut b, Instant::ZERO, &[frame(0, 576), frame(1, 577)]);
    assert_eq!(receive_now(&mut a, Instant::ZERO), [frame(0, 576)]);
    assert_eq!(b.stats().oversize_dropped, 1);
}

#[test]
fn every_frame_is_accounted_for_under_all_impairments() {
    let imp: Impairments =
        "loss=5%,dup=5%,reorder=5%,corrupt=5%,delay=2ms,jitter=2ms,rate=10mbit,queue=8,seed=99"
            .parse()
            .unwrap();
    let (got, stats) = run(impaired(imp), 5_000, 1_000, Duration::from_micros(700));
    assert_eq!(stats.delivered, got.len() as u64);
    assert_accounted(&stats);
    assert!(stats.lost > 0 && stats.duplicated > 0 && stats.corrupted > 0);
    assert!(stats.reordered > 0 && stats.queue_dropped > 0);
}

#[test]
fn impairments_change_mid_run() {
    let (mut a, mut b) = VirtualWire::pair(WireConfig::default());
    a.set_impairments(Impairments::NONE.with_loss(1.0));
    assert_eq!(a.impairments().loss, 1.0);
    send(&mut a, Instant::ZERO, &[frame(0, 60), frame(1, 60)]);
    assert!(receive_now(&mut b, Instant::ZERO).is_empty());
    a.set_impairments(Impairments::NONE);
    send(&mut a, Instant::ZERO, &[frame(2, 60)]);
    assert_eq!(receive_now(&mut b, Instant::ZERO), [frame(2, 60)]);
    assert_eq!(a.stats().lost, 2);
    // The other direction was never touched.
    assert!(b.impairments().is_none());
}

mod threads {
    use super::*;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration as StdDuration;

    fn assert_send<T: Send>() {}

    #[test]
    fn endpoints_and_wakers_cross_threads() {
        assert_send::<Endpoint>();
        assert_send::<pila::device::WireWaker>();
        fn assert_sync<T: Sync>() {}
        assert_sync::<pila::device::WireWaker>();
    }

    #[test]
    fn one_thread_transmits_another_waits_and_receives() {
        let epoch = std::time::Instant::now();
        let imp = Impairments::NONE.with_delay(Duration::from_micros(200), Duration::ZERO);
        let (mut a, mut b) = VirtualWire::pair(impaired(imp));
        let sender = thread::spawn(move || {
            for seq in 0..2_000u32 {
                let now = Instant::from_std(std::time::Instant::now(), epoch);
                send(&mut a, now, &[frame(seq, 128)]);
                if seq % 100 == 0 {
                    thread::sleep(StdDuration::from_millis(1));
                }
            }
            a
        });
        let give_up = std::time::Instant::now() + StdDuration::from_secs(30);
        let mut got = Vec::new();
        loop {
            assert!(std::time::Instant::now() < give_up, "only {} frames came", got.len());
            let now = Instant::from_std(std::time::Instant::now(), epoch);
            got.extend(receive_now(&mut b, now).iter().map(|f| seq_of(f)));
            if got.len() >= 2_000 {
                break;
            }
            // Sleep until a frame is sent or the next one in flight is due.
            let deadline = b.poll_at().map_or(give_up, |t| t.to_std(epoch));
            b.wait(Some(deadline));
        }
        assert_eq!(got, (0..2_000).collect::<Vec<_>>());
        let a = sender.join().unwrap();
        assert_eq!(a.stats().delivered, 2_000);
    }

    #[test]
    fn wait_returns_when_a_frame_is_sent_and_not_before() {
        let (mut a, b) = VirtualWire::pair(WireConfig::default());
        let start = std::time::Instant::now();
        assert!(!b.wait(Some(start + StdDuration::from_millis(30))));
        assert!(start.elapsed() >= StdDuration::from_millis(30));
        let (ready_tx, ready_rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            ready_tx.send(()).unwrap();
            let woke = b.wait(Some(std::time::Instant::now() + StdDuration::from_secs(20)));
            (woke, b)
        });
        ready_rx.recv().unwrap();
        thread::sleep(StdDuration::from_millis(20));
        send(&mut a, Instant::ZERO, &[frame(0, 60)]);
        let (woke, mut b) = waiter.join().unwrap();
        assert!(woke);
        // Until it receives, the endpoint has a frame to see; after, it waits again.
        assert!(b.wait(Some(std::time::Instant::now())));
        assert_eq!(receive_now(&mut b, Instant::ZERO).len(), 1);
        assert!(!b.wait(Some(std::time::Instant::now() + StdDuration::from_millis(5))));
    }

    #[test]
    fn a_waker_interrupts_a_wait() {
        let (_a, b) = VirtualWire::pair(WireConfig::default());
        let waker = b.waker();
        let (ready_tx, ready_rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let start = std::time::Instant::now();
            ready_tx.send(()).unwrap();
            let woke = b.wait(None);
            (woke, start.elapsed(), b)
        });
        ready_rx.recv().unwrap();
        thread::sleep(StdDuration::from_millis(50));
        waker.clone().wake();
        let (woke, waited, b) = waiter.join().unwrap();
        assert!(woke);
        assert!(waited >= StdDuration::from_millis(50), "{waited:?}");
        // The wake-up was used up: the next wait runs to its deadline.
        assert!(!b.wait(Some(std::time::Instant::now() + StdDuration::from_millis(5))));
        // A wake-up given before the wait is not lost.
        waker.wake();
        let start = std::time::Instant::now();
        assert!(b.wait(Some(start + StdDuration::from_secs(20))));
        assert!(start.elapsed() < StdDuration::from_secs(10));
    }
}
