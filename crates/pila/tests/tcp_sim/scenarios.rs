use pila::device::{Impairments, Medium};
use pila::sim::{self, Family, Open, PairConfig, Side, TcpPair, Transfer, TransferReport};
use pila::stack::TcpSocket;
use pila::tcp::{self, Config, Event, RecvError, State};
use pila::time::{Duration, Instant};
use pila::wire::tcp::{Flags, Repr, SeqNumber};
use sha2::{Digest, Sha256};

const MIB: u64 = 1 << 20;

/// The MSS each end advertises on the 1500-byte wire: 1500 less the IP and TCP headers.
const MSS: usize = match FAMILY {
    Family::V4 => 1460,
    Family::V6 => 1440,
};

/// The frames a host drops that its peer sent before the connection began: over IPv6 the
/// peer's MLDv2 report, addressed to the group of multicast routers (ff02::16), which a
/// host does not listen to.
const STARTUP_DROPS: u64 = match FAMILY {
    Family::V4 => 0,
    Family::V6 => 1,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A wire with `one_way` delay both ways, and `imp` on top.
fn pair_config(seed: u64, one_way: Duration, imp: Impairments) -> PairConfig {
    PairConfig { seed, family: FAMILY, ..PairConfig::default() }
        .with_impairments(imp.with_delay(one_way, Duration::ZERO))
}

fn events(c: &mut TcpSocket) -> Vec<Event> {
    core::iter::from_fn(|| c.poll_event()).collect()
}

/// Reads everything `c` has into `out`; returns whether EOF was seen.
fn read_all(c: &mut TcpSocket, out: &mut Vec<u8>) -> bool {
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

// ---- Opening, data, closing ---------------------------------------------------------------

#[test]
fn handshake_negotiates_every_option() {
    sim::with_seed(11, |seed| {
        let mut pair = TcpPair::new(pair_config(seed, ms(10), Impairments::NONE));
        pair.set_tracing(true);
        pair.handshake(secs(5)).unwrap();
        // SYN at 0, SYN-ACK at 10 ms, ACK at 20 ms, which the server has at 30 ms.
        assert_eq!(pair.now(), Instant::from_millis(30));
        let (c, s) = (pair.trace(Side::Client), pair.trace(Side::Server));
        assert_eq!(c[0].flags, Flags::SYN);
        assert_eq!(c[0].seq, SeqNumber(0x1000_0000));
        assert_eq!(s[0].flags, Flags::SYN | Flags::ACK);
        assert_eq!((s[0].seq, s[0].ack), (SeqNumber(0x8000_0000), Some(SeqNumber(0x1000_0001))));
        assert_eq!(s[0].at, Instant::from_millis(10));
        assert_eq!(c[1].flags, Flags::ACK);
        assert_eq!(c[1].at, Instant::from_millis(20));
        for side in [Side::Client, Side::Server] {
            let info = pair.conn(side).info();
            assert_eq!(info.state, State::Established);
            assert!(info.sack_enabled && info.timestamps_enabled, "{info:?}");
            assert_eq!(info.snd_mss, MSS - 12, "the MSS less 12 bytes of timestamps");
            // A 4 MiB buffer needs a shift of 7 (65535 << 6 is just under 4 MiB).
            assert_eq!((info.snd_wscale, info.rcv_wscale), (7, 7));
            assert_eq!(events(pair.conn_mut(side)), [Event::Connected]);
        }
        assert_eq!(pair.client().info().srtt, ms(20));
    });
}

#[test]
fn passive_open_from_listen() {
    sim::with_seed(12, |seed| {
        let config =
            PairConfig { open: Open::Listen, ..pair_config(seed, ms(1), Impairments::NONE) };
        let mut pair = TcpPair::new(config);
        pair.handshake(secs(5)).unwrap();
        assert_eq!(pair.server().state(), State::Established);
        assert_eq!(pair.server().remote(), Some(pair.client_addr()));
        let mut got = Vec::new();
        pair.client_mut().send(b"ping").unwrap();
        pair.run_until(
            |p| {
                read_all(p.server_mut(), &mut got);
                got.len() == 4
            },
            secs(1),
        )
        .unwrap();
        assert_eq!(got, b"ping");
    });
}

#[test]
fn data_both_ways_on_an_ip_wire() {
    sim::with_seed(13, |seed| {
        let mut config = pair_config(seed, ms(3), Impairments::NONE);
        config.wire = config.wire.with_medium(Medium::Ip, 1500);
        let mut pair = TcpPair::new(config);
        pair.handshake(secs(5)).unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n".to_vec();
        let response: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(pair.client_mut().send(&request), Ok(request.len()));
        let (mut at_server, mut at_client, mut sent) = (Vec::new(), Vec::new(), 0);
        pair.run_until(
            |p| {
                read_all(p.server_mut(), &mut at_server);
                if at_server.len() == request.len() && sent < response.len() {
                    sent += p.server_mut().send(&response[sent..]).unwrap_or(0);
                }
                read_all(p.client_mut(), &mut at_client);
                at_client.len() == response.len()
            },
            secs(10),
        )
        .unwrap();
        assert_eq!(at_server, request);
        assert!(at_client == response, "response corrupted");
        assert_eq!(pair.host_stats(Side::Client).dropped(), STARTUP_DROPS);
        assert_eq!(pair.server().info().retransmitted_segments, 0);
    });
}

/// Closes from `closer`; the other side reads EOF and closes in turn. The closer goes
/// through FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT (2·MSL), the other through CLOSE-WAIT and
/// LAST-ACK.
fn close_from(closer: Side, seed: u64) {
    let mut pair = TcpPair::new(pair_config(seed, ms(10), Impairments::NONE));
    pair.handshake(secs(5)).unwrap();
    let other = closer.peer();
    pair.conn_mut(closer).close();
    assert_eq!(pair.conn(closer).state(), State::FinWait1);
    pair.run_until(|p| p.conn(other).state() == State::CloseWait, secs(1)).unwrap();
    pair.run_until(|p| p.conn(closer).state() == State::FinWait2, secs(1)).unwrap();
    assert_eq!(pair.conn_mut(other).recv(&mut [0; 8]), Ok(0), "EOF");
    pair.conn_mut(other).close();
    assert_eq!(pair.conn(other).state(), State::LastAck);
    pair.run_until(|p| p.conn(closer).state() == State::TimeWait, secs(1)).unwrap();
    let time_wait_at = pair.now();
    pair.run_until(|p| p.conn(other).is_closed(), secs(1)).unwrap();
    pair.run_until(|p| p.conn(closer).is_closed(), secs(120)).unwrap();
    assert_eq!(pair.now() - time_wait_at, secs(60), "TIME-WAIT lasts 2·MSL");
    for side in [Side::Client, Side::Server] {
        let c = pair.conn_mut(side);
        assert_eq!(events(c), [Event::Connected, Event::PeerClosed, Event::Closed]);
    }
    assert_eq!(pair.client().poll_timeout(), None);
    assert_eq!(pair.server().poll_timeout(), None);
}

#[test]
fn close_from_the_client() {
    sim::with_seed(14, |seed| close_from(Side::Client, seed));
}

#[test]
fn close_from_the_server() {
    sim::with_seed(15, |seed| close_from(Side::Server, seed));
}

#[test]
fn simultaneous_open() {
    sim::with_seed(16, |seed| {
        let config =
            PairConfig { open: Open::Simultaneous, ..pair_config(seed, ms(10), Impairments::NONE) };
        let mut pair = TcpPair::new(config);
        pair.set_tracing(true);
        pair.handshake(secs(5)).unwrap();
        // RFC 9293 §3.5 figure 7: SYNs cross, each answers with SYN-ACK, both establish.
        for side in [Side::Client, Side::Server] {
            let t = pair.trace(side);
            assert_eq!(t[0].flags, Flags::SYN);
            assert_eq!(t[1].flags, Flags::SYN | Flags::ACK);
            assert_eq!(t[1].seq, t[0].seq, "the SYN-ACK repeats the ISN");
            assert_eq!(pair.conn(side).state(), State::Established);
            assert!(pair.conn(side).info().sack_enabled);
        }
        let mut got = Vec::new();
        pair.server_mut().send(b"from the other opener").unwrap();
        pair.run_until(
            |p| {
                read_all(p.client_mut(), &mut got);
                got.len() == 21
            },
            secs(1),
        )
        .unwrap();
        assert_eq!(got, b"from the other opener");
    });
}

#[test]
fn simultaneous_close() {
    sim::with_seed(17, |seed| {
        let mut pair = TcpPair::new(pair_config(seed, ms(10), Impairments::NONE));
        pair.handshake(secs(5)).unwrap();
        pair.client_mut().close();
        pair.server_mut().close();
        // RFC 9293 §3.6 figure 13: FINs cross; both pass CLOSING into TIME-WAIT.
        pair.run_until(|p| p.client().state() == State::Closing, secs(1)).unwrap();
        assert_eq!(pair.server().state(), State::Closing);
        pair.run_until(
            |p| p.client().state() == State::TimeWait && p.server().state() == State::TimeWait,
            secs(1),
        )
        .unwrap();
        let at = pair.now();
        pair.run_until(|p| p.client().is_closed() && p.server().is_closed(), secs(120)).unwrap();
        assert_eq!(pair.now() - at, secs(60));
        for side in [Side::Client, Side::Server] {
            assert_eq!(
                events(pair.conn_mut(side)),
                [Event::Connected, Event::PeerClosed, Event::Closed]
            );
        }
    });
}

#[test]
fn half_close_keeps_the_other_direction_open() {
    sim::with_seed(18, |seed| {
        let mut pair = TcpPair::new(pair_config(seed, ms(5), Impairments::NONE));
        pair.handshake(secs(5)).unwrap();
        pair.client_mut().send(b"request, then EOF").unwrap();
        pair.client_mut().shutdown_write();
        let mut request = Vec::new();
        pair.run_until(|p| read_all(p.server_mut(), &mut request), secs(1)).unwrap();
        assert_eq!(request, b"request, then EOF");
        assert_eq!(pair.server().state(), State::CloseWait);
        // The server answers with 2 MiB after the client's EOF; the client still reads.
        let answer: Vec<u8> =
            (0..2 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let (mut sent, mut got, mut closed) = (0, Vec::new(), false);
        pair.run_until(
            |p| {
                if sent < answer.len() {
                    sent += p.server_mut().send(&answer[sent..]).unwrap_or(0);
                } else if !closed {
                    p.server_mut().close();
                    closed = true;
                }
                assert_eq!(p.client_mut().send(b"x"), Err(tcp::SendError::Closed));
                read_all(p.client_mut(), &mut got)
            },
            secs(30),
        )
        .unwrap();
        assert!(got == answer, "answer corrupted ({} of {} bytes)", got.len(), answer.len());
        pair.run_until(
            |p| p.server().is_closed() && p.client().state() == State::TimeWait,
            secs(1),
        )
        .unwrap();
    });
}

// ---- 64 MiB under impairments --------------------------------------------------------------

#[test]
fn bulk_64mib_no_loss() {
    sim::with_seed(1, |seed| {
        let r = transfer_checked(pair_config(seed, ms(5), Impairments::NONE), 64 * MIB);
        eprintln!("no loss: {r}");
        assert_eq!(r.sender.retransmitted_segments, 0, "{r}");
        assert_eq!(r.sender.fast_recoveries, 0, "{r}");
        assert_eq!(r.sender.rto_expiries, 0, "{r}");
        assert_eq!(r.receiver_host.dropped(), STARTUP_DROPS, "{r}");
    });
}

fn lossy(seed: u64, p: f64) -> TransferReport {
    let r = transfer_checked(pair_config(seed, ms(5), Impairments::NONE.with_loss(p)), 64 * MIB);
    eprintln!("{p} loss: {r}");
    // Every data segment the wire lost had to be sent again.
    assert!(r.sender.retransmitted_segments >= r.data_link.lost, "{r}");
    r
}

#[test]
fn bulk_64mib_1_percent_loss() {
    sim::with_seed(2, |seed| {
        let r = lossy(seed, 0.01);
        assert!(r.sender.fast_recoveries > 0, "{r}");
        // RACK repairs every loss, tail losses through TLP: no timeout at all.
        assert_eq!(r.sender.rto_expiries, 0, "{r}");
        // Every retransmission filled a real hole, or nearly.
        assert!(r.sender.retransmitted_segments <= r.data_link.lost * 11 / 10, "{r}");
    });
}

#[test]
fn bulk_64mib_5_percent_loss() {
    sim::with_seed(3, |seed| {
        let r = lossy(seed, 0.05);
        assert!(r.sender.fast_recoveries > 0, "{r}");
        // RACK detects lost retransmissions: timeouts are rare.
        assert!(r.sender.rto_expiries * 100 < r.sender.fast_recoveries, "{r}");
    });
}

#[test]
fn bulk_64mib_20_percent_loss() {
    sim::with_seed(4, |seed| {
        let r = lossy(seed, 0.20);
        // Retransmissions get lost too: both fast recovery and timeouts are at work.
        assert!(r.sender.fast_recoveries > 0, "{r}");
        assert!(r.sender.rto_expiries > 0, "{r}");
    });
}

#[test]
fn newreno_without_options_recovers_from_loss() {
    sim::with_seed(22, |seed| {
        // No SACK, no timestamps, no window scaling: RFC 6582 NewReno on a 64 KiB window.
        let plain = Config {
            sack: false,
            timestamps: false,
            window_scaling: false,
            congestion: tcp::Congestion::NewReno,
            ..Config::default()
        };
        let config = pair_config(seed, ms(5), Impairments::NONE.with_loss(0.02)).with_tcp(plain);
        let r = transfer_checked(config, 8 * MIB);
        assert!(!r.sender.sack_enabled && !r.sender.timestamps_enabled);
        assert_eq!((r.sender.snd_wscale, r.sender.snd_mss), (0, MSS));
        assert_eq!(r.sender.congestion, "newreno");
        assert!(r.sender.fast_recoveries > 0, "{r}");
        assert!(r.sender.retransmitted_segments >= r.data_link.lost, "{r}");
    });
}

#[test]
fn bulk_64mib_5_percent_reordering() {
    sim::with_seed(5, |seed| {
        let r = transfer_checked(
            pair_config(seed, ms(5), Impairments::NONE.with_reorder(0.05, 3)),
            64 * MIB,
        );
        eprintln!("reordering: {r}");
        assert!(r.data_link.reordered > 0, "{r}");
        assert_eq!(r.data_link.lost, 0);
        assert_eq!(r.sender.rto_expiries, 0, "{r}");
        assert_eq!(r.receiver_host.dropped(), STARTUP_DROPS, "{r}");
        // RACK's reordering window (RFC 8985) keeps most reordering from looking like loss,
        // and D-SACK undoes the rest (RFC 3708): few or no net window reductions, and the
        // transfer runs far faster than the 7.6 Mbit/s a DupThresh sender managed.
        let net = r.sender.fast_recoveries - r.sender.spurious_recoveries;
        assert!(net <= 5, "{net} window reductions: {r}");
        assert!(r.throughput_bps() > 100e6, "{r}");
    });
}

#[test]
fn bulk_64mib_5_percent_duplication() {
    sim::with_seed(6, |seed| {
        let r = transfer_checked(
            pair_config(seed, ms(5), Impairments::NONE.with_duplicate(0.05)),
            64 * MIB,
        );
        eprintln!("duplication: {r}");
        assert!(r.data_link.duplicated > 0, "{r}");
        assert_eq!(r.sender.rto_expiries, 0, "{r}");
        assert_eq!(r.sender.retransmitted_segments, 0, "nothing was lost: {r}");
        assert_eq!(r.receiver.bytes_received, 64 * MIB, "duplicates are not counted twice");
    });
}

#[test]
fn bulk_64mib_1_percent_corruption() {
    sim::with_seed(7, |seed| {
        // On a bare-IP wire every bit is under a checksum (an Ethernet header has none here:
        // a flipped source MAC would go unnoticed, as it would without the FCS).
        let mut config = pair_config(seed, ms(5), Impairments::NONE.with_corrupt(0.01));
        config.wire = config.wire.with_medium(Medium::Ip, 1500);
        let r = transfer_checked(config, 64 * MIB);
        eprintln!("corruption: {r}");
        // Every corrupted frame was caught on arrival (checksum, or a header that no longer
        // names us) and dropped: none reached the data, as the SHA-256 shows. IPv6 has no
        // header checksum, and its traffic class, flow label and hop limit are under none
        // at all (RFC 8200 §8.1): a flip there changes nothing a receiver checks, so a few
        // corrupted frames are rightly taken.
        assert!(r.data_link.corrupted > 0);
        let caught = |dropped: u64, corrupted: u64| match FAMILY {
            Family::V4 => dropped == corrupted,
            // 4.5 of an ACK's 72 bytes, under 7 %, plus flips that turn a segment into
            // something else no checksum then fails.
            Family::V6 => dropped <= corrupted && dropped * 100 >= corrupted * 85,
        };
        let (data, acks) = (&r.receiver_host, &r.sender_host);
        assert!(caught(data.dropped(), r.data_link.corrupted), "{r}");
        assert!(caught(acks.dropped(), r.ack_link.corrupted), "{r}; ACKs: {acks:?}");
        assert!(r.receiver_host.bad_checksum > 0);
        assert!(r.sender.fast_recoveries > 0, "{r}");
        assert_eq!(r.sender.rto_expiries, 0, "{r}");
    });
}

// ---- A long fat pipe -----------------------------------------------------------------------

#[test]
fn fills_100_mbit_with_100_ms_rtt() {
    sim::with_seed(8, |seed| {
        const RATE: u64 = 100_000_000;
        // One bandwidth-delay product of queue: 100 Mbit/s × 100 ms = 1.25 MB ≈ 833 frames.
        let link = Impairments::NONE.with_rate(RATE, Some(833)).with_delay(ms(50), Duration::ZERO);
        let buffers = Config { send_buffer: 8 << 20, recv_buffer: 8 << 20, ..Config::default() };
        let config =
            PairConfig { seed, family: FAMILY, ..PairConfig::default() }.with_impairments(link).with_tcp(buffers);
        let mut pair = TcpPair::new(config);
        pair.handshake(secs(5)).unwrap();
        // Long enough that slow start and its overshoot into the queue are a small part.
        let r = Transfer::new(Side::Client, 256 * MIB, seed).run(&mut pair, |_| {}).unwrap();
        eprintln!("100 Mbit/s × 100 ms: {r}");
        assert_eq!(r.sender.congestion, "cubic");
        assert!(r.sender.snd_wscale > 0 && r.receiver.rcv_wscale > 0);
        let ratio = r.throughput_bps() / RATE as f64;
        assert!(ratio >= 0.85, "{:.1} % of the link rate: {r}", ratio * 100.0);
        // SACK survives everything, RACK repairs the slow-start overshoot: no timeout, and
        // no spurious retransmission (no D-SACK). The retransmissions are the queue drops plus
        // the segments the receiver discarded for exceeding its 32 out-of-order ranges
        // (`Config::max_ooo_ranges`), which it never SACKed.
        assert_eq!(r.sender.rto_expiries, 0, "{r}");
        assert_eq!(r.sender.dsacks_received, 0, "{r}");
        let dropped = r.data_link.queue_dropped;
        assert!(r.sender.retransmitted_segments >= dropped, "{r}");
        assert!(r.sender.retransmitted_segments < dropped * 2, "{r}");
    });
}

// ---- Time-outs ------------------------------------------------------------------------------

#[test]
fn rto_backoff_against_a_dead_peer_ends_in_timeout() {
    sim::with_seed(9, |seed| {
        let mut pair = TcpPair::new(pair_config(seed, ms(10), Impairments::NONE));
        pair.handshake(secs(5)).unwrap();
        // One RTT sample of 20 ms: RTO = 20 + 4·10 = 60 ms, raised to the 200 ms floor.
        assert_eq!(pair.client().info().rto, ms(200));
        // The peer disappears: nothing crosses the wire any more.
        let dead = Impairments::NONE.with_loss(1.0);
        pair.set_impairments(Side::Client, dead);
        pair.set_impairments(Side::Server, dead);
        pair.set_tracing(true);
        let t0 = pair.now();
        pair.client_mut().send(&[7; 1000]).unwrap();
        pair.run_until(|p| p.client().is_closed(), secs(3600)).unwrap();
        // RFC 6298 §5.5: the RTO doubles after every expiry, up to the 60 s maximum; after
        // `retries` (15) retransmissions the next expiry gives up.
        let mut expected = vec![t0];
        let (mut at, mut rto) = (t0, ms(200));
        for _ in 0..15 {
            at += rto;
            expected.push(at);
            rto = (rto + rto).min(secs(60));
        }
        let sent: Vec<Instant> = pair.trace(Side::Client).iter().map(|s| s.at).collect();
        assert_eq!(sent, expected);
        assert!(
            pair.trace(Side::Client)
                .iter()
                .all(|s| s.len == 1000 && s.seq == SeqNumber(0x1000_0001))
        );
        assert_eq!(pair.now(), at + secs(60), "gives up one full RTO after the last try");
        let info = pair.client().info();
        assert_eq!((info.rto_expiries, info.retransmitted_segments), (15, 15));
        assert_eq!(
            events(pair.client_mut()),
            [Event::Connected, Event::Error(tcp::Error::TimedOut), Event::Closed]
        );
        assert_eq!(
            pair.client_mut().recv(&mut [0; 4]),
            Err(RecvError::Error(tcp::Error::TimedOut))
        );
    });
}

// ---- Flow control ---------------------------------------------------------------------------

#[test]
fn zero_window_probes_then_resumes() {
    sim::with_seed(10, |seed| {
        let small = Config { recv_buffer: 64 << 10, ..Config::default() };
        let mut config = pair_config(seed, ms(5), Impairments::NONE);
        config.server = small;
        let mut pair = TcpPair::new(config);
        pair.handshake(secs(5)).unwrap();
        pair.set_tracing(true);
        let start = pair.now();
        let transfer =
            Transfer { read_delay: secs(30), ..Transfer::new(Side::Client, 4 * MIB, seed) };
        let r = transfer.run(&mut pair, |_| {}).unwrap();
        // The reader stalled for 30 s: the window closed and the sender probed it, with
        // backoff, until the window reopened; then everything arrived.
        assert_eq!(r.bytes, 4 * MIB);
        assert!(r.duration() >= secs(30));
        assert!(r.sender.zero_window_probes >= 3, "{r}");
        assert_eq!(r.sender.rto_expiries, 0, "probes are not retransmissions: {r}");
        // After the window closed, the probes: one byte each, at doubling intervals.
        let probes: Vec<Instant> = pair
            .trace(Side::Client)
            .iter()
            .filter(|s| s.at > start + secs(1) && s.at < start + secs(30))
            .map(|s| {
                assert_eq!(s.len, 1, "only probes while the window is closed: {s:?}");
                s.at
            })
            .collect();
        assert!(probes.len() >= 3, "{probes:?}");
        let gaps: Vec<Duration> = probes.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] == g[0] + g[0] || g[1] == secs(60)), "{gaps:?}");
        // The window update came when the reader read.
        let server = pair.trace(Side::Server);
        let update = server.iter().find(|s| s.at >= start + secs(30) && s.window > 0);
        assert!(update.is_some());
    });
}

// ---- RFC 7323 and RFC 5961 -------------------------------------------------------------------

#[test]
fn paws_drops_an_old_duplicate() {
    sim::with_seed(19, |seed| {
        let mut pair = TcpPair::new(pair_config(seed, ms(5), Impairments::NONE));
        pair.set_tracing(true);
        pair.handshake(secs(5)).unwrap();
        let mut got = Vec::new();
        pair.client_mut().send(&[b'a'; 10_000]).unwrap();
        pair.run_until(
            |p| {
                read_all(p.server_mut(), &mut got);
                got.len() == 10_000
            },
            secs(1),
        )
        .unwrap();
        pair.run_for(secs(1));
        let old = *pair.trace(Side::Client).iter().find(|s| s.len > 0).unwrap();
        // An old duplicate whose sequence number lands right at RCV.NXT, as it would after
        // the sequence space wrapped: only its timestamp tells it apart.
        let forged = Repr {
            src_port: sim::CLIENT_ADDR.port(),
            dst_port: sim::SERVER_ADDR.port(),
            seq_number: SeqNumber(0x1000_0001 + 10_000),
            ack_number: old.ack,
            flags: Flags::PSH,
            window_len: old.window,
            options: pila::wire::tcp::Options {
                timestamp: Some(pila::wire::tcp::Timestamp { tsval: old.tsval.unwrap(), tsecr: 0 }),
                ..pila::wire::tcp::Options::NONE
            },
            payload: b"stale bytes",
            ..Repr::TEMPLATE
        };
        let injected_at = pair.now();
        pair.send_raw(Side::Client, &forged);
        pair.run_for(secs(1));
        assert_eq!(pair.server().info().paws_dropped, 1);
        assert_eq!(pair.server().recv_available(), 0, "the stale payload was not taken");
        // RFC 7323 §5.3 R1: the drop is answered with an ACK for RCV.NXT.
        let ack = pair.trace(Side::Server).iter().find(|s| s.at >= injected_at).copied().unwrap();
        assert_eq!(ack.ack, Some(SeqNumber(0x1000_0001 + 10_000)));
        pair.client_mut().send(b"fresh").unwrap();
        pair.run_until(
            |p| {
                read_all(p.server_mut(), &mut got);
                got.len() == 10_005
            },
            secs(1),
        )
        .unwrap();
        assert_eq!(&got[10_000..], b"fresh");
    });
}

#[test]
fn wrapped_sequence_space_transfers_cleanly() {
    sim::with_seed(20, |seed| {
        for from in [Side::Client, Side::Server] {
            let config = PairConfig {
                client_isn: SeqNumber(u32::MAX - 20_000),
                server_isn: SeqNumber(u32::MAX - 3),
                ..pair_config(seed, ms(5), Impairments::NONE.with_loss(0.02))
            };
            let mut pair = TcpPair::new(config);
            let mut hasher = Sha256::new();
            let r =
                Transfer::new(from, 8 * MIB, seed).run(&mut pair, |d| hasher.update(d)).unwrap();
            let got: [u8; 32] = hasher.finalize().into();
            assert_eq!(got, stream_sha256(seed, 8 * MIB), "{from:?}");
            assert!(r.sender.fast_recoveries > 0, "loss was repaired across the wrap: {r}");
        }
    });
}

#[test]
fn rfc5961_resets_and_syns_on_an_established_connection() {
    sim::with_seed(21, |seed| {
        let mut pair = TcpPair::new(pair_config(seed, ms(5), Impairments::NONE));
        pair.handshake(secs(5)).unwrap();
        pair.set_tracing(true);
        // The client's RCV.NXT is the server's ISN + 1.
        let rcv_nxt = 0x8000_0001u32;
        let from_server = Repr {
            src_port: sim::SERVER_ADDR.port(),
            dst_port: sim::CLIENT_ADDR.port(),
            ..Repr::TEMPLATE
        };
        let expect_challenge = |pair: &mut TcpPair, seg: Repr<'_>, n: usize| {
            pair.send_raw(Side::Server, &seg);
            pair.run_for(ms(100));
            let t = pair.trace(Side::Client);
            assert_eq!(t.len(), n, "{t:?}");
            if let Some(last) = t.last() {
                assert_eq!((last.flags, last.ack), (Flags::ACK, Some(SeqNumber(rcv_nxt))));
            }
            assert_eq!(pair.client().state(), State::Established);
        };
        // RFC 5961 §3.2: an in-window RST that is not exact draws a challenge ACK.
        let rst = Repr { flags: Flags::RST, seq_number: SeqNumber(rcv_nxt + 1000), ..from_server };
        expect_challenge(&mut pair, rst, 1);
        // An RST outside the window is dropped silently.
        let rst = Repr {
            flags: Flags::RST,
            seq_number: SeqNumber(rcv_nxt.wrapping_add(1 << 30)),
            ..from_server
        };
        expect_challenge(&mut pair, rst, 1);
        // RFC 5961 §4.2: a SYN on a synchronized connection draws a challenge ACK.
        let syn = Repr { flags: Flags::SYN, seq_number: SeqNumber(rcv_nxt + 5), ..from_server };
        expect_challenge(&mut pair, syn, 2);
        assert_eq!(pair.client().info().challenge_acks_sent, 2);
        // An RST exactly at RCV.NXT resets the connection.
        let rst = Repr { flags: Flags::RST, seq_number: SeqNumber(rcv_nxt), ..from_server };
        pair.send_raw(Side::Server, &rst);
        pair.run_for(ms(100));
        assert!(pair.client().is_closed());
        assert_eq!(
            events(pair.client_mut()),
            [Event::Connected, Event::Error(tcp::Error::Reset), Event::Closed]
        );
    });
}

// ---- Both directions at once, under loss ---------------------------------------------------

/// Both ends send bulk data at the same time over a lossy link, as an echo does. Each end
/// then holds out-of-order data while it sends, so its data segments carry SACK blocks; they
/// must still fit the MTU (RFC 6691), or the link drops every one of them and the transfer
/// never finishes.
#[test]
fn bulk_both_ways_at_once_under_loss() {
    sim::with_seed(31, |seed| {
        const LEN: usize = 4 << 20;
        let mut pair = TcpPair::new(pair_config(seed, ms(5), Impairments::NONE.with_loss(0.05)));
        pair.handshake(secs(5)).unwrap();
        let data: Vec<u8> = {
            let mut d = vec![0; LEN];
            sim::PatternStream::new(seed).fill(&mut d);
            d
        };
        let (mut sent, mut got) = ([0usize; 2], [Vec::new(), Vec::new()]);
        pair.run_until(
            |p| {
                for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
                    if sent[i] < LEN {
                        sent[i] += p.conn_mut(side).send(&data[sent[i]..]).unwrap_or(0);
                    }
                    read_all(p.conn_mut(side), &mut got[i]);
                }
                got[0].len() == LEN && got[1].len() == LEN
            },
            secs(600),
        )
        .unwrap();
        assert!(got[0] == data && got[1] == data, "data corrupted");
        for side in [Side::Client, Side::Server] {
            let link = pair.link_stats(side);
            assert_eq!(link.oversize_dropped, 0, "{side:?} sent frames over the MTU");
            assert!(link.lost > 0, "the link lost nothing: the test proves nothing");
            assert!(pair.conn(side).info().rto_expiries < 10, "{:?}", pair.conn(side).info());
        }
    });
}

// ---- Reproducibility -----------------------------------------------------------------------

/// The same seed gives the same frames, byte for byte and at the same instants; another seed
/// gives other ones (the wire's losses, and both stacks' keys and IP identifiers).
#[test]
fn the_same_seed_sends_the_same_frames() {
    let run = |seed: u64| {
        let config = PairConfig {
            open: Open::Listen,
            ..pair_config(seed, ms(5), Impairments::NONE.with_loss(0.05))
        };
        let mut pair = TcpPair::new(config);
        pair.net_mut().set_capture(true);
        Transfer::new(Side::Client, 1 << 20, 1).run(&mut pair, |_| {}).unwrap();
        pair.net().captured().to_vec()
    };
    let frames = run(41);
    assert!(frames.len() > 700, "{} frames", frames.len());
    assert!(frames == run(41), "a second run with the same seed differs");
    assert!(frames != run(42), "another seed gives the same run");
}

// ---- The trace ---------------------------------------------------------------------------

/// A traced 1 MiB transfer at 2 % loss: the sender's trace holds every segment it sent and
/// received, each retransmission with its reason, its RTT samples, its congestion window
/// through slow start and recovery, the losses RACK marked and the handshake's states; the
/// JSON lines carry the same, one object per record.
#[test]
fn a_traced_lossy_transfer_records_every_segment_and_decision() {
    use pila::tcp::trace::{Phase, Traced};
    sim::with_seed(40, |seed| {
        let config = pair_config(seed, ms(10), Impairments::NONE.with_loss(0.02))
            .with_tcp(Config { trace: true, ..Config::default() });
        let mut pair = TcpPair::new(config);
        pair.net_mut().set_trace_recording(true);
        let r = Transfer::new(Side::Client, MIB, seed)
            .run(&mut pair, |_| {})
            .unwrap_or_else(|e| panic!("transfer failed: {e}"));
        let info = pair.client().info();
        let client = pair.client().local();
        let records: Vec<_> = pair
            .net()
            .trace_records()
            .iter()
            .filter(|(side, t)| *side == Side::Client && t.local == client)
            .map(|(_, t)| t.record)
            .collect();
        let count = |f: &dyn Fn(&Traced) -> bool| records.iter().filter(|r| f(&r.what)).count();
        let sent = count(&|w| matches!(w, Traced::Sent(_)));
        let received = count(&|w| matches!(w, Traced::Received(_)));
        let resent = count(&|w| matches!(w, Traced::Sent(s) if s.retransmit.is_some()));
        let samples = count(&|w| matches!(w, Traced::Rtt { .. }));
        let phases: std::collections::HashSet<Phase> = records
            .iter()
            .filter_map(|r| match r.what {
                Traced::Congestion { phase, .. } => Some(phase),
                _ => None,
            })
            .collect();
        let lost: u64 =
            records.iter().map(|r| if let Traced::Lost { segments } = r.what { segments } else { 0 }).sum();
        eprintln!(
            "{r}\ntrace: {} records, {sent} sent ({resent} again), {received} received, \
             {samples} RTT samples, phases {phases:?}, {lost} lost",
            records.len()
        );
        assert_eq!(sent as u64, info.segments_sent, "{info:?}");
        assert_eq!(received as u64, info.segments_received, "{info:?}");
        assert!(r.data_link.lost > 0, "the wire lost nothing: {r}");
        assert_eq!(resent as u64, info.retransmitted_segments, "{info:?}");
        assert_eq!(lost, info.rack_lost + info.rto_expiries, "{info:?}");
        assert!(samples > 10, "{samples} RTT samples");
        assert!(phases.contains(&Phase::SlowStart) && phases.contains(&Phase::Recovery), "{phases:?}");
        // Each RTT sample near the wire's 20 ms round trip, the estimator with it.
        for rec in &records {
            if let Traced::Rtt { sample, srtt, rto, .. } = rec.what {
                assert!(sample >= ms(20) && sample < ms(400), "{sample:?}");
                assert!(srtt >= ms(20) && rto >= srtt, "{srtt:?} {rto:?}");
            }
        }
        let states: Vec<_> = records
            .iter()
            .filter_map(|r| match r.what {
                Traced::State { from, to } => Some((from, to)),
                _ => None,
            })
            .collect();
        // The client wrote everything and closed before its SYN was answered: from SYN-SENT
        // it goes straight to FIN-WAIT-1 (RFC 9293 §3.10.4), and on to TIME-WAIT, each
        // change recorded once and in order.
        assert!(states.windows(2).all(|w| w[0].1 == w[1].0), "{states:?}");
        assert_eq!(states.first().map(|s| s.0), Some(State::SynSent), "{states:?}");
        assert_eq!(states.last().map(|s| s.1), Some(State::TimeWait), "{states:?}");
        // Time runs forward through the records.
        assert!(records.windows(2).all(|w| w[0].at <= w[1].at));
        // The JSON lines say the same.
        let mut out = Vec::new();
        pair.net().write_trace(&mut out).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let conn = format!("{client}-{}", pair.client().remote().unwrap());
        let ours: Vec<_> = lines.iter().filter(|v| v["conn"] == conn.as_str()).collect();
        let json_sent = ours.iter().filter(|v| v["ev"] == "sent").count();
        let json_resent = ours.iter().filter(|v| v["ev"] == "sent" && v.get("rtx").is_some()).count();
        assert_eq!((json_sent, json_resent), (sent, resent));
        assert!(ours.iter().all(|v| v["t"].as_f64().is_some()));
        let first_syn = ours.iter().find(|v| v["ev"] == "sent").unwrap();
        assert_eq!(first_syn["flags"], "S", "{first_syn}");
        assert!(ours.iter().any(|v| v["ev"] == "cc" && v["phase"] == "recovery"));
    });
}
