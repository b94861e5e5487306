//! Two connections wired back to back on a virtual clock: a bulk transfer with every
//! configuration feature, with and without deterministic loss, must deliver every byte in
//! order and close cleanly on both sides.

use core::net::SocketAddr;
use std::collections::VecDeque;

use pila::rand::Rng;
use pila::tcp::{Config, Congestion, Connection, Event, State};
use pila::time::{Duration, Instant};
use pila::wire::tcp::{Repr, SeqNumber};

struct InFlight {
    at: Instant,
    to_b: bool,
    seg: Repr<'static>,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Runs a transfer of `len` bytes from A to B with one-way `delay` and loss probability
/// `loss`; returns (A, B) when both are closed or the clock passes `limit`.
fn run(
    config: &Config,
    len: usize,
    delay: Duration,
    loss: f64,
    seed: u64,
) -> (Connection, Connection, Vec<u8>) {
    let (la, lb) = (addr("192.0.2.1:40000"), addr("192.0.2.2:80"));
    let mut rng = Rng::new(seed);
    let mut now = Instant::ZERO;
    let mut a = Connection::connect(now, la, lb, SeqNumber(0xffff_f000), config);
    let mut b = Connection::listen(lb, config);
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut wire: VecDeque<InFlight> = VecDeque::new();
    let mut scratch = vec![0u8; 65536];
    let mut closed_a = false;
    let limit = Instant::from_secs(3600);
    let mut buf = vec![0u8; 65536];
    loop {
        // Application work.
        if sent < len {
            if let Ok(n) = a.send(&data[sent..]) {
                sent += n;
            }
        } else if !closed_a {
            a.close();
            closed_a = true;
        }
        loop {
            match b.recv(&mut buf) {
                Ok(0) => {
                    if b.state() == State::CloseWait {
                        b.close();
                    }
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        // Output.
        for (conn, to_b) in [(&mut a, true), (&mut b, false)] {
            while let Some(r) = conn.poll_transmit(now, &mut scratch) {
                let payload: &'static [u8] = Box::leak(r.payload.to_vec().into_boxed_slice());
                if !rng.chance(loss) {
                    wire.push_back(InFlight { at: now + delay, to_b, seg: Repr { payload, ..r } });
                }
            }
        }
        if a.is_closed() && b.is_closed() {
            break;
        }
        // Next event: a delivery or a timer.
        let next = [wire.front().map(|f| f.at), a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        assert!(next < limit, "stuck: A {:?} B {:?}", a.info(), b.info());
        now = now.max(next);
        while wire.front().is_some_and(|f| f.at <= now) {
            let f = wire.pop_front().unwrap();
            if f.to_b {
                b.handle_segment(now, la, &f.seg);
            } else {
                a.handle_segment(now, lb, &f.seg);
            }
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert_eq!(got.len(), len);
    assert!(got == data, "data corrupted");
    (a, b, got)
}

fn full() -> Config {
    Config { recv_buffer: 256 << 10, send_buffer: 256 << 10, ..Config::default() }
}

#[test]
fn bulk_transfer_clean_path() {
    let (mut a, mut b, _) = run(&full(), 4 << 20, Duration::from_millis(5), 0.0, 1);
    let ea: Vec<_> = core::iter::from_fn(|| a.poll_event()).collect();
    let eb: Vec<_> = core::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(ea, [Event::Connected, Event::PeerClosed, Event::Closed]);
    assert_eq!(eb, [Event::Connected, Event::PeerClosed, Event::Closed]);
    assert_eq!(a.info().retransmitted_segments, 0);
}

#[test]
fn bulk_transfer_with_loss_sack() {
    for seed in 1..4 {
        let (a, _, _) = run(&full(), 1 << 20, Duration::from_millis(10), 0.02, seed);
        let i = a.info();
        // About 2 % of ~720 segments are lost: recovery resends little more than that.
        assert!(i.retransmitted_segments > 0 && i.retransmitted_segments < i.segments_sent / 20);
    }
}

#[test]
fn bulk_transfer_with_loss_newreno_no_options() {
    let config = Config {
        sack: false,
        timestamps: false,
        window_scaling: false,
        congestion: Congestion::NewReno,
        ..full()
    };
    for seed in 1..4 {
        run(&config, 512 << 10, Duration::from_millis(10), 0.02, seed);
    }
}
