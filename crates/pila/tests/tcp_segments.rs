//! Exact-segment tests of `tcp::Connection`, in the manner of packetdrill: hand-built
//! segments in, the segments out checked field by field, on a virtual clock.

use core::net::SocketAddr;

use pila::tcp::{Config, Connection, Error, Event, Keepalive, RecvError, State, reset_for};
use pila::time::{Duration, Instant};
use pila::wire::tcp::{Flags, Options, Repr, SackBlocks, SeqNumber, Timestamp};

const LOCAL_PORT: u16 = 40000;
const REMOTE_PORT: u16 = 80;
const ISS: u32 = 1000;
const IRS: u32 = 5000;
const MSS: usize = 1460;

fn local() -> SocketAddr {
    SocketAddr::new("192.0.2.1".parse().unwrap(), LOCAL_PORT)
}

fn remote() -> SocketAddr {
    SocketAddr::new("198.51.100.2".parse().unwrap(), REMOTE_PORT)
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn fl(list: &[Flags]) -> Flags {
    let mut f = Flags::default();
    for &x in list {
        f.insert(x);
    }
    f
}

/// Plain configuration: no window scaling, SACK, timestamps or delayed ACK, a 64 KiB - 1
/// receive buffer, so every field of every segment is predictable.
fn cfg() -> Config {
    Config {
        window_scaling: false,
        sack: false,
        timestamps: false,
        delayed_ack: None,
        recv_buffer: 65535,
        send_buffer: 1 << 20,
        ..Config::default()
    }
}

/// A segment we send: the TEMPLATE of expectations.
fn ours() -> Repr<'static> {
    Repr {
        src_port: LOCAL_PORT,
        dst_port: REMOTE_PORT,
        seq_number: SeqNumber(ISS + 1),
        ack_number: Some(SeqNumber(IRS + 1)),
        flags: Flags::default(),
        window_len: 65535,
        urgent_pointer: 0,
        options: Options::default(),
        payload: &[],
    }
}

/// A segment the peer sends.
fn peer() -> Repr<'static> {
    Repr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq_number: SeqNumber(IRS + 1),
        ack_number: Some(SeqNumber(ISS + 1)),
        flags: Flags::default(),
        window_len: 65535,
        urgent_pointer: 0,
        options: Options::default(),
        payload: &[],
    }
}

fn seq(n: u32) -> SeqNumber {
    SeqNumber(n)
}

/// Feeds one peer segment at `t`.
fn inject(c: &mut Connection, t: Instant, seg: Repr<'_>) {
    c.handle_segment(t, remote(), &seg);
}

/// Drains every segment the connection wants to send at `t`.
fn drain(c: &mut Connection, t: Instant) -> Vec<Repr<'static>> {
    let mut scratch = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(r) = c.poll_transmit(t, &mut scratch) {
        let payload: &'static [u8] = Box::leak(r.payload.to_vec().into_boxed_slice());
        out.push(Repr { payload, ..r });
        assert!(out.len() < 10_000, "runaway poll_transmit");
    }
    out
}

fn expect(c: &mut Connection, t: Instant, want: &[Repr<'static>]) {
    let got = drain(c, t);
    assert_eq!(got, want, "at {t:?}");
}

fn events(c: &mut Connection) -> Vec<Event> {
    core::iter::from_fn(|| c.poll_event()).collect()
}

fn syn_ack() -> Repr<'static> {
    Repr {
        seq_number: seq(IRS),
        flags: fl(&[Flags::SYN]),
        options: Options { mss: Some(1460), ..Options::default() },
        ..peer()
    }
}

/// Active open with `cfg()`, established at 10 ms (RTT 10 ms, so RTO = 200 ms).
fn established() -> Connection {
    established_with(&cfg())
}

fn established_with(config: &Config) -> Connection {
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), config);
    let out = drain(&mut c, ms(0));
    assert_eq!(out.len(), 1);
    inject(&mut c, ms(10), syn_ack());
    let out = drain(&mut c, ms(10));
    assert_eq!(out.len(), 1);
    assert_eq!(c.state(), State::Established);
    assert_eq!(events(&mut c), [Event::Connected]);
    c
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

// ---------------------------------------------------------------- handshakes

#[test]
fn active_handshake_negotiates_options() {
    let config = Config { delayed_ack: None, ..Config::default() };
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), &config);
    assert_eq!(c.state(), State::SynSent);
    let out = drain(&mut c, ms(0));
    assert_eq!(out.len(), 1);
    let syn = out[0];
    assert_eq!(syn.seq_number, seq(ISS));
    assert_eq!(syn.ack_number, None);
    assert_eq!(syn.flags, fl(&[Flags::SYN]));
    // RFC 7323 §2.2: the SYN's window is not scaled; 4 MiB needs shift 7.
    assert_eq!(syn.window_len, 65535);
    assert_eq!(syn.options.mss, Some(1460));
    assert_eq!(syn.options.window_scale, Some(7));
    assert!(syn.options.sack_permitted);
    let ts = syn.options.timestamp.expect("TSopt in SYN");
    assert_eq!(ts.tsecr, 0);

    inject(
        &mut c,
        ms(30),
        Repr {
            window_len: 29200,
            options: Options {
                mss: Some(1400),
                window_scale: Some(9),
                sack_permitted: true,
                timestamp: Some(Timestamp { tsval: 777, tsecr: ts.tsval }),
                ..Options::default()
            },
            ..syn_ack()
        },
    );
    assert_eq!(c.state(), State::Established);
    let out = drain(&mut c, ms(30));
    assert_eq!(out.len(), 1);
    let ack = out[0];
    assert_eq!(ack.seq_number, seq(ISS + 1));
    assert_eq!(ack.ack_number, Some(seq(IRS + 1)));
    assert_eq!(ack.flags, Flags::default());
    assert_eq!(ack.window_len, ((4 << 20) >> 7) as u16);
    assert_eq!(ack.options.timestamp.map(|t| t.tsecr), Some(777));
    // The timestamp clock ticks in milliseconds.
    assert_eq!(ack.options.timestamp.map(|t| t.tsval.wrapping_sub(ts.tsval)), Some(30));
    let info = c.info();
    assert!(info.sack_enabled && info.timestamps_enabled);
    assert_eq!((info.snd_wscale, info.rcv_wscale), (9, 7));
    // min(1400, 1460) minus 12 bytes of timestamps.
    assert_eq!(info.snd_mss, 1388);
    assert_eq!(info.snd_wnd, 29200, "the SYN-ACK's window is not scaled");
    assert_eq!(info.srtt, Duration::from_millis(30));
    assert_eq!(info.cwnd, 10 * 1388);
    assert_eq!(events(&mut c), [Event::Connected]);
}

#[test]
fn passive_handshake_echoes_only_offered_options() {
    let config = Config { delayed_ack: None, ..Config::default() };
    let syn = Repr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq_number: seq(IRS),
        ack_number: None,
        flags: fl(&[Flags::SYN]),
        window_len: 64240,
        urgent_pointer: 0,
        options: Options { mss: Some(1460), sack_permitted: true, ..Options::default() },
        payload: &[],
    };
    let mut c = Connection::accept(ms(0), local(), remote(), &syn, seq(ISS), &config);
    assert_eq!(c.state(), State::SynReceived);
    expect(
        &mut c,
        ms(0),
        &[Repr {
            seq_number: seq(ISS),
            flags: fl(&[Flags::SYN]),
            options: Options { mss: Some(1460), sack_permitted: true, ..Options::default() },
            ..ours()
        }],
    );
    inject(&mut c, ms(20), Repr { window_len: 64240, ..peer() });
    assert_eq!(c.state(), State::Established);
    assert_eq!(events(&mut c), [Event::Connected]);
    let info = c.info();
    assert!(info.sack_enabled && !info.timestamps_enabled);
    assert_eq!((info.snd_wscale, info.rcv_wscale), (0, 0));
    assert_eq!(info.snd_mss, 1460);
    assert_eq!(info.snd_wnd, 64240);
    assert_eq!(info.srtt, Duration::from_millis(20));
    expect(&mut c, ms(20), &[]);
}

#[test]
fn listen_then_rst_in_syn_received_returns_to_listen() {
    let mut c = Connection::listen(local(), cfg());
    assert_eq!(c.state(), State::Listen);
    // RFC 9293 §3.10.7.2: an ACK in LISTEN gets <SEQ=SEG.ACK><CTL=RST>.
    inject(&mut c, ms(0), Repr { ack_number: Some(seq(77)), ..peer() });
    expect(
        &mut c,
        ms(0),
        &[Repr {
            seq_number: seq(77),
            ack_number: None,
            flags: fl(&[Flags::RST]),
            window_len: 0,
            ..ours()
        }],
    );
    let syn = Repr { ack_number: None, ..syn_ack() };
    inject(&mut c, ms(1), syn);
    assert_eq!(c.state(), State::SynReceived);
    assert_eq!(c.remote(), Some(remote()));
    let out = drain(&mut c, ms(1));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, fl(&[Flags::SYN]));
    assert_eq!(out[0].ack_number, Some(seq(IRS + 1)));
    inject(&mut c, ms(2), Repr { flags: fl(&[Flags::RST]), ack_number: None, ..peer() });
    assert_eq!(c.state(), State::Listen);
    // A fresh SYN opens it again and completes.
    inject(&mut c, ms(3), syn);
    let out = drain(&mut c, ms(3));
    inject(&mut c, ms(4), Repr { ack_number: Some(out[0].seq_number + 1), ..peer() });
    assert_eq!(c.state(), State::Established);
    assert_eq!(events(&mut c), [Event::Connected]);
}

#[test]
fn simultaneous_open() {
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), cfg());
    drain(&mut c, ms(0));
    // The peer's SYN crosses ours.
    inject(&mut c, ms(5), Repr { ack_number: None, ..syn_ack() });
    assert_eq!(c.state(), State::SynReceived);
    expect(
        &mut c,
        ms(5),
        &[Repr {
            seq_number: seq(ISS),
            flags: fl(&[Flags::SYN]),
            options: Options { mss: Some(1460), ..Options::default() },
            ..ours()
        }],
    );
    // The peer's SYN-ACK: nothing new in sequence space, so it is answered by an ACK.
    inject(&mut c, ms(10), syn_ack());
    expect(&mut c, ms(10), &[ours()]);
    // The peer's ACK of our SYN completes the open.
    inject(&mut c, ms(11), peer());
    assert_eq!(c.state(), State::Established);
    assert_eq!(events(&mut c), [Event::Connected]);
}

#[test]
fn rst_in_syn_sent_is_refused() {
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), cfg());
    drain(&mut c, ms(0));
    // A RST whose ACK does not cover our SYN is dropped (RFC 5961 §3).
    inject(&mut c, ms(1), Repr { flags: fl(&[Flags::RST]), ack_number: Some(seq(ISS)), ..peer() });
    assert_eq!(c.state(), State::SynSent);
    expect(&mut c, ms(1), &[]);
    inject(&mut c, ms(2), Repr { flags: fl(&[Flags::RST]), seq_number: seq(0), ..peer() });
    assert_eq!(c.state(), State::Closed);
    assert_eq!(events(&mut c), [Event::Error(Error::Refused), Event::Closed]);
    assert_eq!(c.recv(&mut [0; 4]), Err(RecvError::Error(Error::Refused)));
    assert!(c.is_closed());
}

#[test]
fn bad_ack_in_syn_sent_gets_rst() {
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), cfg());
    drain(&mut c, ms(0));
    inject(&mut c, ms(1), Repr { ack_number: Some(seq(ISS + 50)), ..syn_ack() });
    expect(
        &mut c,
        ms(1),
        &[Repr {
            seq_number: seq(ISS + 50),
            ack_number: None,
            flags: fl(&[Flags::RST]),
            window_len: 0,
            ..ours()
        }],
    );
    assert_eq!(c.state(), State::SynSent);
}

#[test]
fn syn_retransmissions_then_timeout() {
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), cfg());
    let syn = drain(&mut c, ms(0));
    // RTO 1 s doubling: 1, 3, 7, 15, 31, 63 s; the 6th retransmission waits 60 s (rto_max).
    for at in [1_000, 3_000, 7_000, 15_000, 31_000, 63_000] {
        assert_eq!(c.poll_timeout(), Some(ms(at)));
        c.handle_timeout(ms(at));
        assert_eq!(drain(&mut c, ms(at)), syn, "at {at}");
    }
    assert_eq!(c.poll_timeout(), Some(ms(123_000)));
    c.handle_timeout(ms(123_000));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(events(&mut c), [Event::Error(Error::TimedOut), Event::Closed]);
    assert_eq!(c.info().rto_expiries, 6);
}

// ---------------------------------------------------------------- data

#[test]
fn data_both_ways() {
    let mut c = established();
    assert_eq!(c.send(b"hello"), Ok(5));
    expect(&mut c, ms(20), &[Repr { flags: fl(&[Flags::PSH]), payload: b"hello", ..ours() }]);
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 6)), payload: b"world", ..peer() });
    // Without delayed ACK the data is acknowledged at once; the window shrank by 5.
    expect(
        &mut c,
        ms(30),
        &[Repr {
            seq_number: seq(ISS + 6),
            ack_number: Some(seq(IRS + 6)),
            window_len: 65530,
            ..ours()
        }],
    );
    let mut buf = [0u8; 16];
    assert_eq!(c.recv(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"world");
    assert_eq!(c.recv(&mut buf), Err(RecvError::WouldBlock));
    let info = c.info();
    assert_eq!((info.bytes_sent, info.bytes_acked, info.bytes_received), (5, 5, 5));
    assert_eq!(info.srtt, Duration::from_millis(10));
}

#[test]
fn out_of_order_data_is_reassembled() {
    let mut c = established();
    inject(&mut c, ms(20), Repr { seq_number: seq(IRS + 5), payload: b"efgh", ..peer() });
    // A duplicate ACK at once for out-of-order data.
    expect(&mut c, ms(20), &[ours()]);
    assert_eq!(c.recv_available(), 0);
    inject(&mut c, ms(21), Repr { payload: b"abcd", ..peer() });
    // Filling the hole is acknowledged at once, up to the end of the stored range.
    expect(
        &mut c,
        ms(21),
        &[Repr { ack_number: Some(seq(IRS + 9)), window_len: 65535 - 8, ..ours() }],
    );
    let mut buf = [0u8; 16];
    assert_eq!(c.recv(&mut buf), Ok(8));
    assert_eq!(&buf[..8], b"abcdefgh");
}

#[test]
fn isn_near_wrap() {
    let iss = u32::MAX - 10;
    let irs = u32::MAX - 1;
    let mut c = Connection::connect(ms(0), local(), remote(), seq(iss), cfg());
    drain(&mut c, ms(0));
    inject(
        &mut c,
        ms(10),
        Repr { seq_number: seq(irs), ack_number: Some(seq(iss.wrapping_add(1))), ..syn_ack() },
    );
    assert_eq!(c.state(), State::Established);
    drain(&mut c, ms(10));
    let payload = leak(data(100));
    c.send(payload).unwrap();
    let out = drain(&mut c, ms(20));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq_number, seq(iss.wrapping_add(1)));
    assert_eq!(out[0].payload, payload);
    // The ACK wraps past zero.
    let end = iss.wrapping_add(101);
    assert!(end < 100);
    inject(
        &mut c,
        ms(30),
        Repr {
            seq_number: seq(irs.wrapping_add(1)),
            ack_number: Some(seq(end)),
            payload: b"xyz",
            ..peer()
        },
    );
    assert_eq!(c.info().bytes_acked, 100);
    assert_eq!(c.poll_timeout(), None, "all acknowledged: no retransmission timer");
    let out = drain(&mut c, ms(30));
    assert_eq!(out[0].ack_number, Some(seq(irs.wrapping_add(4))));
    assert_eq!(out[0].seq_number, seq(end));
    assert_eq!(c.recv_available(), 3);
}

// ---------------------------------------------------------------- closing

#[test]
fn active_close_through_time_wait() {
    let mut c = established();
    c.close();
    assert_eq!(c.state(), State::FinWait1);
    expect(&mut c, ms(20), &[Repr { flags: fl(&[Flags::FIN]), ..ours() }]);
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 2)), ..peer() });
    assert_eq!(c.state(), State::FinWait2);
    inject(
        &mut c,
        ms(40),
        Repr { ack_number: Some(seq(ISS + 2)), flags: fl(&[Flags::FIN]), ..peer() },
    );
    assert_eq!(c.state(), State::TimeWait);
    expect(
        &mut c,
        ms(40),
        &[Repr {
            seq_number: seq(ISS + 2),
            ack_number: Some(seq(IRS + 2)),
            window_len: 65534,
            ..ours()
        }],
    );
    assert_eq!(c.poll_timeout(), Some(ms(60_040)));
    // A retransmitted FIN is acknowledged again and restarts 2·MSL.
    inject(
        &mut c,
        ms(1_000),
        Repr { ack_number: Some(seq(ISS + 2)), flags: fl(&[Flags::FIN]), ..peer() },
    );
    expect(
        &mut c,
        ms(1_000),
        &[Repr {
            seq_number: seq(ISS + 2),
            ack_number: Some(seq(IRS + 2)),
            window_len: 65534,
            ..ours()
        }],
    );
    assert_eq!(c.poll_timeout(), Some(ms(61_000)));
    c.handle_timeout(ms(60_999));
    assert_eq!(c.state(), State::TimeWait);
    c.handle_timeout(ms(61_000));
    assert_eq!(c.state(), State::Closed);
    assert!(c.is_closed());
    assert_eq!(events(&mut c), [Event::PeerClosed, Event::PeerClosed, Event::Closed][1..]);
}

#[test]
fn passive_close() {
    let mut c = established();
    inject(&mut c, ms(20), Repr { flags: fl(&[Flags::FIN]), ..peer() });
    assert_eq!(c.state(), State::CloseWait);
    // The FIN took one sequence number of the window.
    expect(&mut c, ms(20), &[Repr { ack_number: Some(seq(IRS + 2)), window_len: 65534, ..ours() }]);
    assert_eq!(c.recv(&mut [0; 8]), Ok(0));
    // Still able to send in CLOSE-WAIT.
    assert_eq!(c.send(b"bye"), Ok(3));
    c.close();
    assert_eq!(c.state(), State::LastAck);
    expect(
        &mut c,
        ms(25),
        &[Repr {
            ack_number: Some(seq(IRS + 2)),
            window_len: 65534,
            flags: fl(&[Flags::FIN, Flags::PSH]),
            payload: b"bye",
            ..ours()
        }],
    );
    inject(
        &mut c,
        ms(35),
        Repr { seq_number: seq(IRS + 2), ack_number: Some(seq(ISS + 5)), ..peer() },
    );
    assert_eq!(c.state(), State::Closed);
    assert!(c.is_closed());
    assert_eq!(events(&mut c), [Event::PeerClosed, Event::Closed]);
}

#[test]
fn simultaneous_close() {
    let mut c = established();
    c.close();
    expect(&mut c, ms(20), &[Repr { flags: fl(&[Flags::FIN]), ..ours() }]);
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    inject(&mut c, ms(25), Repr { flags: fl(&[Flags::FIN]), ..peer() });
    assert_eq!(c.state(), State::Closing);
    expect(
        &mut c,
        ms(25),
        &[Repr {
            seq_number: seq(ISS + 2),
            ack_number: Some(seq(IRS + 2)),
            window_len: 65534,
            ..ours()
        }],
    );
    inject(
        &mut c,
        ms(30),
        Repr { seq_number: seq(IRS + 2), ack_number: Some(seq(ISS + 2)), ..peer() },
    );
    assert_eq!(c.state(), State::TimeWait);
    c.handle_timeout(ms(60_030));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(events(&mut c), [Event::PeerClosed, Event::Closed]);
}

#[test]
fn half_close_keeps_receiving() {
    let mut c = established();
    c.shutdown_write();
    assert_eq!(c.send(b"x"), Err(pila::tcp::SendError::Closed));
    expect(&mut c, ms(20), &[Repr { flags: fl(&[Flags::FIN]), ..ours() }]);
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 2)), ..peer() });
    assert_eq!(c.state(), State::FinWait2);
    inject(&mut c, ms(40), Repr { ack_number: Some(seq(ISS + 2)), payload: b"more", ..peer() });
    expect(
        &mut c,
        ms(40),
        &[Repr {
            seq_number: seq(ISS + 2),
            ack_number: Some(seq(IRS + 5)),
            window_len: 65531,
            ..ours()
        }],
    );
    let mut buf = [0u8; 8];
    assert_eq!(c.recv(&mut buf), Ok(4));
    inject(
        &mut c,
        ms(50),
        Repr {
            seq_number: seq(IRS + 5),
            ack_number: Some(seq(ISS + 2)),
            flags: fl(&[Flags::FIN]),
            ..peer()
        },
    );
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(c.recv(&mut buf), Ok(0));
}

#[test]
fn close_with_unread_data_resets() {
    let mut c = established();
    inject(&mut c, ms(20), Repr { payload: b"unread", ..peer() });
    drain(&mut c, ms(20));
    c.close();
    assert_eq!(c.state(), State::Closed);
    expect(
        &mut c,
        ms(21),
        &[Repr { ack_number: None, flags: fl(&[Flags::RST]), window_len: 0, ..ours() }],
    );
    assert!(c.is_closed());
}

#[test]
fn time_wait_reuse_rule() {
    let mut c = established();
    c.close();
    drain(&mut c, ms(20));
    inject(
        &mut c,
        ms(30),
        Repr { ack_number: Some(seq(ISS + 2)), flags: fl(&[Flags::FIN]), ..peer() },
    );
    assert_eq!(c.state(), State::TimeWait);
    let syn = |s: u32| Repr { seq_number: seq(s), ack_number: None, ..syn_ack() };
    // RFC 9293 §3.6.1: without timestamps the new ISN must lie above RCV.NXT (IRS + 2).
    assert!(c.time_wait_accepts(&syn(IRS + 100_000)));
    assert!(!c.time_wait_accepts(&syn(IRS + 1)));
    // A SYN fed to the TIME-WAIT connection itself only earns a (challenge) ACK.
    inject(&mut c, ms(40), syn(IRS + 100_000));
    expect(
        &mut c,
        ms(40),
        &[Repr {
            seq_number: seq(ISS + 2),
            ack_number: Some(seq(IRS + 2)),
            window_len: 65534,
            ..ours()
        }],
    );
    assert_eq!(c.state(), State::TimeWait);
}

#[test]
fn reset_for_segments_without_connection() {
    let with_ack = Repr { payload: b"abc", ..peer() };
    let r = reset_for(&with_ack).unwrap();
    assert_eq!((r.seq_number, r.ack_number), (seq(ISS + 1), None));
    assert_eq!((r.src_port, r.dst_port), (LOCAL_PORT, REMOTE_PORT));
    assert!(r.flags.contains(Flags::RST));
    let syn = Repr { ack_number: None, ..syn_ack() };
    let r = reset_for(&syn).unwrap();
    assert_eq!((r.seq_number, r.ack_number), (seq(0), Some(seq(IRS + 1))));
    assert!(reset_for(&Repr { flags: fl(&[Flags::RST]), ..peer() }).is_none());
}

// ---------------------------------------------------------------- RFC 5961

#[test]
fn rst_in_window_but_not_exact_gets_challenge_ack() {
    let mut c = established();
    inject(&mut c, ms(20), Repr { seq_number: seq(IRS + 100), flags: fl(&[Flags::RST]), ..peer() });
    assert_eq!(c.state(), State::Established);
    expect(&mut c, ms(20), &[ours()]);
    assert_eq!(c.info().challenge_acks_sent, 1);
}

#[test]
fn rst_out_of_window_is_dropped() {
    let mut c = established();
    inject(
        &mut c,
        ms(20),
        Repr { seq_number: seq(IRS + 1 + 70_000), flags: fl(&[Flags::RST]), ..peer() },
    );
    inject(&mut c, ms(20), Repr { seq_number: seq(IRS), flags: fl(&[Flags::RST]), ..peer() });
    assert_eq!(c.state(), State::Established);
    expect(&mut c, ms(20), &[]);
}

#[test]
fn exact_rst_resets() {
    let mut c = established();
    c.send(b"pending").unwrap();
    inject(&mut c, ms(20), Repr { flags: fl(&[Flags::RST]), ack_number: None, ..peer() });
    assert_eq!(c.state(), State::Closed);
    assert_eq!(events(&mut c), [Event::Error(Error::Reset), Event::Closed]);
    expect(&mut c, ms(20), &[]);
    assert_eq!(c.send(b"x"), Err(pila::tcp::SendError::Error(Error::Reset)));
    assert_eq!(c.recv(&mut [0; 4]), Err(RecvError::Error(Error::Reset)));
}

#[test]
fn syn_in_established_gets_challenge_ack_rate_limited() {
    let mut c = established();
    let syn = Repr { seq_number: seq(IRS + 500), ack_number: None, ..syn_ack() };
    for _ in 0..12 {
        inject(&mut c, ms(1_000), syn);
        let _ = drain(&mut c, ms(1_000));
    }
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.info().challenge_acks_sent, 10, "at most 10 per second");
    inject(&mut c, ms(1_500), syn);
    expect(&mut c, ms(1_500), &[]);
    inject(&mut c, ms(2_000), syn);
    expect(&mut c, ms(2_000), &[ours()]);
    assert_eq!(c.info().challenge_acks_sent, 11);
}

/// Pure ACKs out of the window are answered within the challenge ACK budget, so two ends
/// that each find the other unacceptable cannot answer each other forever; out-of-window
/// data is always answered (its ACK may carry the D-SACK its sender needs).
#[test]
fn unacceptable_pure_acks_are_answered_within_a_budget_data_always() {
    let mut c = established();
    let stale = Repr { seq_number: seq(IRS + 1 + 70_000), ..peer() };
    let mut answers = 0;
    for _ in 0..30 {
        inject(&mut c, ms(1_000), stale);
        answers += drain(&mut c, ms(1_000)).len();
    }
    assert_eq!(answers, 10, "at most 10 a second");
    inject(&mut c, ms(2_000), stale);
    assert_eq!(drain(&mut c, ms(2_000)).len(), 1, "a new second, a new budget");
    let old_data = Repr { seq_number: seq(IRS - 99), payload: &[1; 50], ..peer() };
    let mut answers = 0;
    for _ in 0..30 {
        inject(&mut c, ms(2_100), old_data);
        answers += drain(&mut c, ms(2_100)).len();
    }
    assert_eq!(answers, 30, "every segment with data is answered");
    assert_eq!(c.state(), State::Established);
}

#[test]
fn ack_beyond_snd_nxt_is_acked_and_dropped() {
    let mut c = established();
    inject(&mut c, ms(20), Repr { ack_number: Some(seq(ISS + 999)), payload: b"data", ..peer() });
    expect(&mut c, ms(20), &[ours()]);
    assert_eq!(c.recv_available(), 0);
}

// ---------------------------------------------------------------- retransmission

#[test]
fn rto_backoff_against_dead_peer_ends_in_timeout() {
    let mut c = established();
    let payload = leak(data(100));
    c.send(payload).unwrap();
    let first = drain(&mut c, ms(1_000));
    assert_eq!(first, [Repr { flags: fl(&[Flags::PSH]), payload, ..ours() }]);
    // SRTT 10 ms gives RTO = 200 ms, doubling up to rto_max = 60 s.
    let timeline = [
        1_200, 1_600, 2_400, 4_000, 7_200, 13_600, 26_400, 52_000, 103_200, 163_200, 223_200,
        283_200, 343_200, 403_200, 463_200,
    ];
    for at in timeline {
        assert_eq!(c.poll_timeout(), Some(ms(at)));
        c.handle_timeout(ms(at));
        assert_eq!(drain(&mut c, ms(at)), first, "retransmission at {at} ms");
    }
    assert_eq!(c.poll_timeout(), Some(ms(523_200)));
    c.handle_timeout(ms(523_200));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(events(&mut c), [Event::Error(Error::TimedOut), Event::Closed]);
    let info = c.info();
    assert_eq!((info.rto_expiries, info.retransmitted_segments), (15, 15));
}

#[test]
fn user_timeout_aborts_earlier() {
    let config = Config { user_timeout: Some(Duration::from_secs(5)), ..cfg() };
    let mut c = established_with(&config);
    c.send(b"x").unwrap();
    drain(&mut c, ms(1_000));
    let mut now = ms(1_000);
    while c.state() != State::Closed {
        now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
        drain(&mut c, now);
    }
    assert_eq!(now, ms(6_000));
    assert_eq!(events(&mut c), [Event::Error(Error::TimedOut), Event::Closed]);
}

/// Sends `n` full segments from an established connection; returns their payloads.
fn send_segments(c: &mut Connection, n: usize, t: Instant) -> Vec<Repr<'static>> {
    c.send(&data(n * MSS)).unwrap();
    drain(c, t)
}

fn seg_seq(i: usize) -> SeqNumber {
    seq(ISS + 1 + (i * MSS) as u32)
}

#[test]
fn fast_retransmit_after_three_dupacks_with_limited_transmit() {
    let config = Config { congestion: pila::tcp::Congestion::NewReno, ..cfg() };
    let mut c = established_with(&config);
    c.send(&data(13 * MSS)).unwrap();
    let out = drain(&mut c, ms(20));
    assert_eq!(out.len(), 10, "IW10");
    // ACK of segment 0: slow start opens the window by one segment, two more go.
    inject(&mut c, ms(30), Repr { ack_number: Some(seg_seq(1)), ..peer() });
    let out = drain(&mut c, ms(30));
    assert_eq!(out.iter().map(|s| s.seq_number).collect::<Vec<_>>(), [seg_seq(10), seg_seq(11)]);
    let dupack = Repr { ack_number: Some(seg_seq(1)), ..peer() };
    // RFC 3042: the first duplicate ACK releases one new segment...
    inject(&mut c, ms(31), dupack);
    let out = drain(&mut c, ms(31));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq_number, seg_seq(12));
    inject(&mut c, ms(32), dupack);
    expect(&mut c, ms(32), &[]);
    // ...the third triggers the fast retransmit of segment 1.
    inject(&mut c, ms(33), dupack);
    let out = drain(&mut c, ms(33));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq_number, seg_seq(1));
    assert_eq!(out[0].payload.len(), MSS);
    assert_eq!(out[0].payload, &data(13 * MSS)[MSS..2 * MSS]);
    let info = c.info();
    assert_eq!((info.fast_recoveries, info.retransmitted_segments), (1, 1));
    assert!(info.ssthresh < usize::MAX);
    // A full ACK ends recovery.
    inject(&mut c, ms(45), Repr { ack_number: Some(seg_seq(13)), ..peer() });
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.info().bytes_acked, (13 * MSS) as u64);
}

#[test]
fn sack_recovery_retransmits_only_the_holes() {
    let config = Config { sack: true, ..cfg() };
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), &config);
    drain(&mut c, ms(0));
    inject(
        &mut c,
        ms(10),
        Repr {
            options: Options { mss: Some(1460), sack_permitted: true, ..Options::default() },
            ..syn_ack()
        },
    );
    drain(&mut c, ms(10));
    assert!(c.info().sack_enabled);
    let out = send_segments(&mut c, 10, ms(20));
    assert_eq!(out.len(), 10);
    // Segments 1 and 4 are lost; the peer ACKs 0 and SACKs the rest as they arrive.
    let mut blocks = SackBlocks::default();
    blocks.push((seg_seq(2), seg_seq(4)));
    let ack = |b: SackBlocks| Repr {
        ack_number: Some(seg_seq(1)),
        options: Options { sack_blocks: b, ..Options::default() },
        ..peer()
    };
    inject(&mut c, ms(30), Repr { ack_number: Some(seg_seq(1)), ..peer() });
    inject(&mut c, ms(31), ack(blocks));
    expect(&mut c, ms(31), &[]);
    let mut blocks = SackBlocks::default();
    blocks.push((seg_seq(5), seg_seq(7)));
    blocks.push((seg_seq(2), seg_seq(4)));
    inject(&mut c, ms(32), ack(blocks));
    let mut blocks = SackBlocks::default();
    blocks.push((seg_seq(5), seg_seq(10)));
    blocks.push((seg_seq(2), seg_seq(4)));
    inject(&mut c, ms(33), ack(blocks));
    let out = drain(&mut c, ms(33));
    let seqs: Vec<_> = out.iter().map(|s| s.seq_number).collect();
    assert_eq!(seqs, [seg_seq(1), seg_seq(4)], "both holes, no SACKed data");
    assert!(out.iter().all(|s| s.payload.len() == MSS));
    assert_eq!(c.info().fast_recoveries, 1);
    inject(&mut c, ms(40), Repr { ack_number: Some(seg_seq(10)), ..peer() });
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn sack_blocks_are_sent_for_out_of_order_data() {
    let config = Config { sack: true, ..cfg() };
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), &config);
    drain(&mut c, ms(0));
    inject(
        &mut c,
        ms(10),
        Repr {
            options: Options { mss: Some(1460), sack_permitted: true, ..Options::default() },
            ..syn_ack()
        },
    );
    drain(&mut c, ms(10));
    inject(&mut c, ms(20), Repr { seq_number: seq(IRS + 11), payload: b"later", ..peer() });
    let out = drain(&mut c, ms(20));
    assert_eq!(out.len(), 1);
    let blocks: Vec<_> = out[0].options.sack_blocks.iter().collect();
    assert_eq!(blocks, [(seq(IRS + 11), seq(IRS + 16))]);
}

// ---------------------------------------------------------------- flow control

#[test]
fn zero_window_persist_probes_then_resume() {
    let mut c = established();
    c.send(&data(1000)).unwrap();
    drain(&mut c, ms(20));
    // Everything acknowledged, window closed.
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 1001)), window_len: 0, ..peer() });
    assert_eq!(c.info().snd_wnd, 0);
    c.send(&data(500)).unwrap();
    expect(&mut c, ms(40), &[]);
    // The persist timer: RTO (200 ms), then doubling.
    assert_eq!(c.poll_timeout(), Some(ms(240)));
    c.handle_timeout(ms(240));
    let probe = drain(&mut c, ms(240));
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].seq_number, seq(ISS + 1001));
    assert_eq!(probe[0].payload, &data(500)[..1]);
    // The peer still has no room: it ACKs without taking the byte.
    inject(&mut c, ms(250), Repr { ack_number: Some(seq(ISS + 1001)), window_len: 0, ..peer() });
    expect(&mut c, ms(250), &[]);
    assert_eq!(c.poll_timeout(), Some(ms(640)));
    c.handle_timeout(ms(640));
    let again = drain(&mut c, ms(640));
    assert_eq!(again, probe);
    assert_eq!(c.poll_timeout(), Some(ms(1_440)));
    // The window opens and the probe byte is taken: the rest flows.
    inject(&mut c, ms(700), Repr { ack_number: Some(seq(ISS + 1002)), ..peer() });
    let out = drain(&mut c, ms(700));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq_number, seq(ISS + 1002));
    assert_eq!(out[0].payload, &data(500)[1..]);
    assert_eq!(c.info().zero_window_probes, 2);
    assert_eq!(c.info().rto_expiries, 0);
}

#[test]
fn small_window_with_nothing_in_flight_is_filled_after_the_override_timeout() {
    let mut c = established();
    c.send(&data(2920)).unwrap();
    let out = drain(&mut c, ms(20));
    assert_eq!(out.len(), 2);
    // Everything is acknowledged but the window shrank to 300 bytes: less than an MSS and
    // less than half the largest window, so sender SWS avoidance holds the rest back...
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 2921)), window_len: 300, ..peer() });
    c.send(&data(1000)).unwrap();
    expect(&mut c, ms(30), &[]);
    // ...but with nothing in flight no ACK will ever widen it: the persist timer is the
    // RFC 1122 §4.2.3.4 override timeout, and when it fires what fits is sent.
    assert_eq!(c.poll_timeout(), Some(ms(230)));
    c.handle_timeout(ms(230));
    let out = drain(&mut c, ms(230));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seq_number, seq(ISS + 2921));
    assert_eq!(out[0].payload, &data(1000)[..300]);
    assert_eq!(c.info().rto_expiries, 0);
}

#[test]
fn acks_of_zero_window_probes_are_not_duplicate_acks() {
    let mut c = established();
    c.send(&data(1000)).unwrap();
    drain(&mut c, ms(20));
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 1001)), window_len: 0, ..peer() });
    c.send(&data(500)).unwrap();
    expect(&mut c, ms(40), &[]);
    // Four probes, each answered with the same ACK and a still-closed window: that is the
    // receiver saying "no room", never three duplicate ACKs announcing a loss.
    for i in 0..4 {
        let t = c.poll_timeout().unwrap_or_else(|| panic!("probe {i}: {:?}", c.info()));
        c.handle_timeout(t);
        let probe = drain(&mut c, t);
        assert_eq!(probe.len(), 1);
        assert_eq!(probe[0].payload.len(), 1);
        let zero = Repr { ack_number: Some(seq(ISS + 1001)), window_len: 0, ..peer() };
        inject(&mut c, t + Duration::from_millis(10), zero);
        expect(&mut c, t + Duration::from_millis(10), &[]);
    }
    let info = c.info();
    // The first probe sends a new byte; the next three send it again.
    assert_eq!((info.fast_recoveries, info.retransmitted_segments), (0, 3));
    assert_eq!(info.zero_window_probes, 4);
}

#[test]
fn duplicated_acks_without_sack_news_do_not_trigger_recovery_with_sack() {
    let config = Config { sack: true, ..cfg() };
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), &config);
    drain(&mut c, ms(0));
    let options = Options { mss: Some(1460), sack_permitted: true, ..Options::default() };
    inject(&mut c, ms(10), Repr { options, ..syn_ack() });
    drain(&mut c, ms(10));
    assert_eq!(send_segments(&mut c, 10, ms(20)).len(), 10);
    // The network duplicated one ACK four times: no SACK block reports anything new, so
    // RFC 6675 §2 counts none of the copies as a duplicate ACK.
    let ack = Repr { ack_number: Some(seg_seq(2)), ..peer() };
    for i in 0..4 {
        inject(&mut c, ms(30 + i), ack);
    }
    let out = drain(&mut c, ms(34));
    assert!(out.iter().all(|s| s.seq_number > seg_seq(9)), "only new data: {out:?}");
    assert_eq!((c.info().fast_recoveries, c.info().retransmitted_segments), (0, 0));
}

#[test]
fn window_update_when_application_reads() {
    let config = Config { recv_buffer: 8192, ..cfg() };
    let mut c = established_with(&config);
    inject(&mut c, ms(20), Repr { payload: leak(data(8192)), ..peer() });
    expect(&mut c, ms(20), &[Repr { ack_number: Some(seq(IRS + 8193)), window_len: 0, ..ours() }]);
    // Reading a little is not worth a window update (receiver SWS avoidance)...
    let mut buf = vec![0u8; 8192];
    assert_eq!(c.recv(&mut buf[..1000]), Ok(1000));
    expect(&mut c, ms(21), &[]);
    // ...reading 2·MSS (more than half the buffer here) is.
    assert_eq!(c.recv(&mut buf[..4000]), Ok(4000));
    expect(
        &mut c,
        ms(22),
        &[Repr { ack_number: Some(seq(IRS + 8193)), window_len: 5000, ..ours() }],
    );
}

#[test]
fn no_window_update_after_the_peers_fin() {
    // The peer sent its data and FIN: reading it opens the window, but nothing more will
    // come, so no update goes out (it would reach a peer that may have closed, and draw RST).
    let config = Config { recv_buffer: 8192, ..cfg() };
    let mut c = established_with(&config);
    let fin = fl(&[Flags::FIN]);
    inject(&mut c, ms(20), Repr { payload: leak(data(8192)), flags: fin, ..peer() });
    expect(&mut c, ms(20), &[Repr { ack_number: Some(seq(IRS + 8194)), window_len: 0, ..ours() }]);
    assert_eq!(c.state(), State::CloseWait);
    let mut buf = vec![0u8; 8192];
    assert_eq!(c.recv(&mut buf), Ok(8192));
    assert_eq!(c.recv(&mut buf), Ok(0));
    expect(&mut c, ms(21), &[]);
}

#[test]
fn nagle_holds_small_segments_until_acked() {
    let mut c = established();
    c.send(b"a").unwrap();
    expect(&mut c, ms(20), &[Repr { flags: fl(&[Flags::PSH]), payload: b"a", ..ours() }]);
    c.send(b"bc").unwrap();
    expect(&mut c, ms(21), &[]);
    c.send(b"d").unwrap();
    expect(&mut c, ms(22), &[]);
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 2)), ..peer() });
    expect(
        &mut c,
        ms(30),
        &[Repr { seq_number: seq(ISS + 2), flags: fl(&[Flags::PSH]), payload: b"bcd", ..ours() }],
    );
    // With TCP_NODELAY small segments go at once.
    c.set_nodelay(true);
    c.send(b"e").unwrap();
    expect(
        &mut c,
        ms(31),
        &[Repr { seq_number: seq(ISS + 5), flags: fl(&[Flags::PSH]), payload: b"e", ..ours() }],
    );
}

// ---------------------------------------------------------------- delayed ACK

#[test]
fn delayed_ack_timing() {
    let config = Config { delayed_ack: Some(Duration::from_millis(40)), ..cfg() };
    let mut c = established_with(&config);
    inject(&mut c, ms(100), Repr { payload: b"one", ..peer() });
    expect(&mut c, ms(100), &[]);
    assert_eq!(c.poll_timeout(), Some(ms(140)));
    c.handle_timeout(ms(140));
    expect(
        &mut c,
        ms(140),
        &[Repr { ack_number: Some(seq(IRS + 4)), window_len: 65532, ..ours() }],
    );
    // Two full-sized segments: ACK at once on the second.
    let big = leak(data(MSS));
    inject(&mut c, ms(200), Repr { seq_number: seq(IRS + 4), payload: big, ..peer() });
    expect(&mut c, ms(200), &[]);
    inject(&mut c, ms(201), Repr { seq_number: seq(IRS + 4 + MSS as u32), payload: big, ..peer() });
    let out = drain(&mut c, ms(201));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack_number, Some(seq(IRS + 4 + 2 * MSS as u32)));
    assert_eq!(c.poll_timeout(), None);
    // The ACK piggybacks on data sent before the timer fires.
    inject(
        &mut c,
        ms(300),
        Repr { seq_number: seq(IRS + 4 + 2 * MSS as u32), payload: b"q", ..peer() },
    );
    c.send(b"reply").unwrap();
    let out = drain(&mut c, ms(301));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload, b"reply");
    assert_eq!(out[0].ack_number, Some(seq(IRS + 5 + 2 * MSS as u32)));
    assert_eq!(c.poll_timeout(), Some(ms(301 + 200)), "only the RTO remains");
}

// ---------------------------------------------------------------- timestamps

fn established_ts() -> (Connection, u32) {
    let config = Config { timestamps: true, ..cfg() };
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), &config);
    let syn = drain(&mut c, ms(0));
    let tsval = syn[0].options.timestamp.unwrap().tsval;
    inject(
        &mut c,
        ms(10),
        Repr {
            options: Options {
                mss: Some(1460),
                timestamp: Some(Timestamp { tsval: 100, tsecr: tsval }),
                ..Options::default()
            },
            ..syn_ack()
        },
    );
    drain(&mut c, ms(10));
    (c, tsval)
}

/// A segment whose ACK covers data never sent is dropped at the ACK step, so its TSval
/// does not become TS.Recent: a forgery with a TSval far ahead cannot make PAWS drop the
/// real peer's segments.
#[test]
fn a_segment_acking_unsent_data_does_not_move_ts_recent() {
    let (mut c, ours_ts) = established_ts();
    let ts = |v: u32| Options {
        timestamp: Some(Timestamp { tsval: v, tsecr: ours_ts }),
        ..Options::default()
    };
    let forged = Repr { ack_number: Some(seq(ISS + 5000)), options: ts(1 << 30), ..peer() };
    inject(&mut c, ms(20), forged);
    drain(&mut c, ms(20));
    inject(&mut c, ms(30), Repr { payload: b"real", options: ts(200), ..peer() });
    assert_eq!(c.recv_available(), 4, "the real peer's data was dropped");
    assert_eq!(c.info().paws_dropped, 0);
}

#[test]
fn paws_drops_old_duplicates() {
    let (mut c, ours_ts) = established_ts();
    let ts = |v: u32| Options {
        timestamp: Some(Timestamp { tsval: v, tsecr: ours_ts }),
        ..Options::default()
    };
    inject(&mut c, ms(20), Repr { payload: b"new", options: ts(200), ..peer() });
    let out = drain(&mut c, ms(20));
    assert_eq!(out[0].options.timestamp.unwrap().tsecr, 200);
    // An old duplicate (TSval 150 < TS.Recent 200) of data not yet seen is dropped and ACKed.
    inject(
        &mut c,
        ms(30),
        Repr { seq_number: seq(IRS + 4), payload: b"old", options: ts(150), ..peer() },
    );
    let out = drain(&mut c, ms(30));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack_number, Some(seq(IRS + 4)));
    assert_eq!(c.recv_available(), 3);
    assert_eq!(c.info().paws_dropped, 1);
    // A RST is not subject to PAWS.
    inject(
        &mut c,
        ms(40),
        Repr { seq_number: seq(IRS + 4), flags: fl(&[Flags::RST]), options: ts(1), ..peer() },
    );
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn rtt_from_timestamps() {
    let (mut c, _) = established_ts();
    assert_eq!(c.info().srtt, Duration::from_millis(10));
    c.send(b"ping").unwrap();
    let out = drain(&mut c, ms(100));
    let tsval = out[0].options.timestamp.unwrap().tsval;
    inject(
        &mut c,
        ms(150),
        Repr {
            ack_number: Some(seq(ISS + 5)),
            options: Options {
                timestamp: Some(Timestamp { tsval: 300, tsecr: tsval }),
                ..Options::default()
            },
            ..peer()
        },
    );
    // SRTT = 7/8·10 + 1/8·50 = 15 ms.
    assert_eq!(c.info().srtt, Duration::from_millis(15));
}

// ---------------------------------------------------------------- keepalive

#[test]
fn keepalive_probes_then_timeout() {
    let config = Config {
        keepalive: Some(Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            probes: 3,
        }),
        ..cfg()
    };
    let mut c = established_with(&config);
    let probe = Repr { seq_number: seq(ISS), ..ours() };
    assert_eq!(c.poll_timeout(), Some(ms(10_010)));
    c.handle_timeout(ms(10_010));
    expect(&mut c, ms(10_010), &[probe]);
    // An answer restarts the idle period.
    inject(&mut c, ms(10_020), peer());
    assert_eq!(c.poll_timeout(), Some(ms(20_020)));
    for at in [20_020, 21_020, 22_020] {
        c.handle_timeout(ms(at));
        expect(&mut c, ms(at), &[probe]);
    }
    assert_eq!(c.poll_timeout(), Some(ms(23_020)));
    c.handle_timeout(ms(23_020));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(events(&mut c), [Event::Error(Error::TimedOut), Event::Closed]);
    assert_eq!(c.info().keepalive_probes, 4);
}

// ---------------------------------------------------------------- RACK-TLP, D-SACK, undo

/// Active open with SACK (no timestamps), established at 10 ms: SRTT = min_RTT = 10 ms.
fn established_sack(congestion: pila::tcp::Congestion) -> Connection {
    let config = Config { sack: true, congestion, ..cfg() };
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), &config);
    drain(&mut c, ms(0));
    let options = Options { mss: Some(1460), sack_permitted: true, ..Options::default() };
    inject(&mut c, ms(10), Repr { options, ..syn_ack() });
    drain(&mut c, ms(10));
    assert!(c.info().sack_enabled);
    c
}

/// An ACK of `ack` from the peer carrying `blocks` (first block first).
fn sack_ack(ack: SeqNumber, list: &[(SeqNumber, SeqNumber)]) -> Repr<'static> {
    let mut b = SackBlocks::default();
    for &block in list {
        assert!(b.push(block));
    }
    Repr {
        ack_number: Some(ack),
        options: Options { sack_blocks: b, ..Options::default() },
        ..peer()
    }
}

#[test]
fn rack_marks_a_segment_lost_after_the_reordering_window() {
    let mut c = established_sack(pila::tcp::Congestion::Cubic);
    assert_eq!(send_segments(&mut c, 4, ms(20)).len(), 4);
    // Segment 0 is ACKed and segment 2 SACKed at 30 ms: segment 1, sent at the same time,
    // is overdue only after RACK.rtt (10 ms) + reo_wnd (min_RTT / 4 = 2.5 ms): one SACKed
    // segment is not yet three duplicate ACKs' worth, so the window is not zero.
    inject(&mut c, ms(30), sack_ack(seg_seq(1), &[(seg_seq(2), seg_seq(3))]));
    expect(&mut c, ms(30), &[]);
    assert_eq!(c.poll_timeout(), Some(Instant::from_micros(32_500)));
    c.handle_timeout(Instant::from_micros(32_400));
    expect(&mut c, Instant::from_micros(32_400), &[]);
    c.handle_timeout(Instant::from_micros(32_500));
    let out = drain(&mut c, Instant::from_micros(32_500));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].seq_number, seg_seq(1));
    assert_eq!(out[0].payload, &data(4 * MSS)[MSS..2 * MSS]);
    let info = c.info();
    assert_eq!((info.fast_recoveries, info.rack_lost, info.rto_expiries), (1, 1, 0));
    assert!(info.ssthresh < usize::MAX);
}

#[test]
fn tail_loss_probe_repairs_a_tail_loss_without_rto() {
    let mut c = established_sack(pila::tcp::Congestion::Cubic);
    assert_eq!(send_segments(&mut c, 10, ms(20)).len(), 10);
    // The last two segments are lost: the ACK at 30 ms covers eight, then silence.
    inject(&mut c, ms(30), Repr { ack_number: Some(seg_seq(8)), ..peer() });
    expect(&mut c, ms(30), &[]);
    // RFC 8985 §7.2: PTO = 2·SRTT = 20 ms, well before the RTO (230 ms).
    assert_eq!(c.poll_timeout(), Some(ms(50)));
    c.handle_timeout(ms(50));
    let probe = drain(&mut c, ms(50));
    assert_eq!(probe.len(), 1, "{probe:?}");
    assert_eq!(probe[0].seq_number, seg_seq(9), "the last segment is the probe");
    assert_eq!(c.info().tlp_probes, 1);
    // The probe draws a SACK; RACK now sees segment 8 overdue and repairs it.
    inject(&mut c, ms(60), sack_ack(seg_seq(8), &[(seg_seq(9), seg_seq(10))]));
    let out = drain(&mut c, ms(60));
    assert_eq!(out.iter().map(|s| s.seq_number).collect::<Vec<_>>(), [seg_seq(8)]);
    inject(&mut c, ms(70), Repr { ack_number: Some(seg_seq(10)), ..peer() });
    assert_eq!(c.poll_timeout(), None);
    let info = c.info();
    assert_eq!((info.rto_expiries, info.retransmitted_segments), (0, 2));
    assert_eq!(info.bytes_acked, (10 * MSS) as u64);
}

#[test]
fn a_lost_retransmission_is_detected_and_resent() {
    let mut c = established_sack(pila::tcp::Congestion::NewReno);
    assert_eq!(send_segments(&mut c, 6, ms(20)).len(), 6);
    // Segment 1 is lost; the rest is SACKed at 30 ms: three segments' worth above it makes
    // the reordering window zero, so it is lost now; new data follows the retransmission.
    inject(&mut c, ms(30), sack_ack(seg_seq(1), &[(seg_seq(2), seg_seq(6))]));
    c.send(&data(MSS)).unwrap();
    let out = drain(&mut c, ms(30));
    assert_eq!(out.iter().map(|s| s.seq_number).collect::<Vec<_>>(), [seg_seq(1), seg_seq(6)]);
    // The retransmission is lost too. The new segment, sent with it, arrives: RACK sees the
    // retransmission overdue (RACK.rtt 10 ms, reo_wnd 0 in recovery) and sends it again,
    // without waiting for the RTO.
    inject(&mut c, ms(40), sack_ack(seg_seq(1), &[(seg_seq(2), seg_seq(7))]));
    let out = drain(&mut c, ms(40));
    assert_eq!(out.iter().map(|s| s.seq_number).collect::<Vec<_>>(), [seg_seq(1)]);
    let info = c.info();
    assert_eq!((info.retransmitted_segments, info.rack_lost, info.rto_expiries), (2, 2, 0));
    inject(&mut c, ms(50), Repr { ack_number: Some(seg_seq(7)), ..peer() });
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn dsack_undoes_a_spurious_fast_recovery() {
    let mut c = established_sack(pila::tcp::Congestion::Cubic);
    assert_eq!(send_segments(&mut c, 10, ms(20)).len(), 10);
    let before = c.info();
    assert_eq!(before.ssthresh, usize::MAX);
    // Segment 1 is late (reordered), not lost: everything after it is SACKed first.
    inject(&mut c, ms(30), sack_ack(seg_seq(1), &[(seg_seq(2), seg_seq(10))]));
    let out = drain(&mut c, ms(30));
    assert_eq!(out[0].seq_number, seg_seq(1), "RACK retransmits it");
    let reduced = c.info();
    assert_eq!(reduced.fast_recoveries, 1);
    assert!(reduced.cwnd < before.cwnd && reduced.ssthresh < usize::MAX, "{reduced:?}");
    // The original arrives: a full ACK ends recovery.
    inject(&mut c, ms(31), Repr { ack_number: Some(seg_seq(10)), ..peer() });
    // Then the retransmission arrives as a duplicate: RFC 2883 D-SACK below the ACK.
    inject(&mut c, ms(40), sack_ack(seg_seq(10), &[(seg_seq(1), seg_seq(2))]));
    let info = c.info();
    assert_eq!((info.dsacks_received, info.spurious_recoveries), (1, 1));
    // RFC 3708 / RFC 9438 §4.9: the window and threshold are restored.
    assert!(info.cwnd >= before.cwnd, "{info:?}");
    assert_eq!(info.ssthresh, usize::MAX);
    // A second D-SACK does not undo twice.
    inject(&mut c, ms(41), sack_ack(seg_seq(10), &[(seg_seq(1), seg_seq(2))]));
    assert_eq!(c.info().spurious_recoveries, 1);
}

#[test]
fn duplicate_segments_are_reported_with_dsack() {
    let mut c = established_sack(pila::tcp::Congestion::Cubic);
    let hello = Repr { payload: b"hello", ..peer() };
    inject(&mut c, ms(20), hello);
    let first = drain(&mut c, ms(20));
    assert_eq!(first.len(), 1);
    assert!(first[0].options.sack_blocks.is_empty());
    // RFC 2883 §4: the same segment again is ACKed at once with a D-SACK block for it.
    inject(&mut c, ms(21), hello);
    let out = drain(&mut c, ms(21));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack_number, Some(seq(IRS + 6)));
    let blocks: Vec<_> = out[0].options.sack_blocks.iter().collect();
    assert_eq!(blocks, [(seq(IRS + 1), seq(IRS + 6))]);
    // Only once: the next ACK carries no D-SACK.
    inject(&mut c, ms(22), Repr { seq_number: seq(IRS + 6), payload: b"!", ..peer() });
    let out = drain(&mut c, ms(22));
    assert!(out[0].options.sack_blocks.is_empty(), "{out:?}");
    assert_eq!(c.info().dsacks_sent, 1);
}

// ---------------------------------------------------------------- options and the MSS

#[test]
fn data_segments_leave_room_for_sack_blocks() {
    // RFC 6691: options count against the MSS. A connection that sends data while it holds
    // out-of-order data from the peer carries SACK blocks on its data segments, and each one
    // must still fit the peer's MSS, or the path drops every one of them.
    let config = Config { sack: true, timestamps: true, ..cfg() };
    let mut c = Connection::connect(ms(0), local(), remote(), seq(ISS), &config);
    drain(&mut c, ms(0));
    let ts = |tsval| Some(Timestamp { tsval, tsecr: 0 });
    let options =
        Options { mss: Some(1460), sack_permitted: true, timestamp: ts(100), ..Options::default() };
    inject(&mut c, ms(10), Repr { options, ..syn_ack() });
    drain(&mut c, ms(10));
    assert_eq!(c.state(), State::Established);
    // Peer data with a hole in front of it: we now have a SACK block to report.
    let options = Options { timestamp: ts(101), ..Options::default() };
    inject(
        &mut c,
        ms(20),
        Repr { seq_number: seq(IRS + 501), payload: leak(data(100)), options, ..peer() },
    );
    let acks = drain(&mut c, ms(20));
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].options.sack_blocks.len(), 1);

    c.send(&data(3 * MSS)).unwrap();
    let segments = drain(&mut c, ms(21));
    assert!(segments.len() >= 3, "{segments:?}");
    for s in &segments {
        assert_eq!(s.options.sack_blocks.len(), 1, "{s}");
        let options_len = s.header_len() - 20;
        assert!(options_len + s.payload.len() <= 1460, "{s}: options and data exceed the MSS");
    }
    // Timestamps take 12 bytes (two NOPs and 10), one SACK block 12 more (two NOPs, 2 and 8).
    assert_eq!(segments[0].payload.len(), 1460 - 12 - 12);
}

/// Data that wraps around the send ring is copied into the caller's scratch: with a
/// scratch smaller than the MSS each segment carries only what fits, and the sequence space
/// (and the FIN) follows what was carried, so the stream arrives whole.
#[test]
fn a_small_scratch_never_cuts_a_wrapping_segment_short() {
    let config = Config { send_buffer: 4096, ..cfg() };
    let mut c = established_with(&config);
    let first = data(2 * MSS);
    assert_eq!(c.send(&first), Ok(2 * MSS));
    let sent = drain(&mut c, ms(20));
    assert_eq!(sent.iter().map(|s| s.payload.len()).sum::<usize>(), 2 * MSS);
    // 2000 bytes acknowledged: the ring holds [2000, 2920) and the next write wraps its end.
    inject(&mut c, ms(30), Repr { ack_number: Some(seq(ISS + 1 + 2000)), ..peer() });
    let second: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8 ^ 0x5a).collect();
    assert_eq!(c.send(&second), Ok(3000));
    c.shutdown_write();
    let mut scratch = [0u8; 100];
    let mut next = seq(ISS + 1 + 2 * MSS as u32);
    let mut got = Vec::new();
    let mut fin = false;
    while let Some(seg) = c.poll_transmit(ms(40), &mut scratch) {
        assert!(!fin, "a segment after the FIN");
        assert_eq!(seg.seq_number, next, "a gap in the sequence space after {} bytes", got.len());
        assert!(seg.payload.len() <= 100);
        got.extend_from_slice(seg.payload);
        fin = seg.flags.contains(Flags::FIN);
        next = seg.seq_number + (seg.payload.len() + usize::from(fin));
        if got.len() >= second.len() && fin {
            break;
        }
    }
    assert_eq!(got, second, "what the segments carried is not what was written");
    assert!(fin, "no FIN after the data");
}
