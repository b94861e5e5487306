//! Floods and hostile peers in the simulator: each test measures the heap the attacked
//! stack holds because of the attack (a counting global allocator, one measurement at a
//! time), asserts it stays within the stack's bounds, and asserts that an honest client is
//! still served during or right after the attack.

mod support;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use pila::stack::Config;
use pila::tcp::State;
use pila::time::Duration;
use pila::wire::ip::Protocol;
use pila::wire::tcp::{Flags, Options, Repr, SeqNumber};
use pila::wire::{Checksums, ethernet, ipv4, tcp, udp};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use support::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The allocator counts every thread's heap: each test holds this from its start, so that
/// one test at a time allocates.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `attack`; the heap bytes it left held.
fn held_by<T>(attack: impl FnOnce() -> T) -> (T, u64) {
    let region = Region::new(GLOBAL);
    let out = attack();
    let c = region.change();
    (out, c.bytes_allocated.saturating_sub(c.bytes_deallocated) as u64)
}

/// An IPv4 packet from `src` to B carrying `protocol`, with `frag` = (ident, more
/// fragments, offset in 8-byte units), in an Ethernet frame from A's MAC.
fn ip_frame(src: Ipv4Addr, protocol: Protocol, payload: &[u8], frag: (u16, bool, u16)) -> Vec<u8> {
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: B_IP.parse().unwrap(),
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        tos: 0,
        ident: frag.0,
        dont_frag: false,
        more_frags: frag.1,
        frag_offset: frag.2,
    };
    let mut bytes = vec![0; ip.buffer_len()];
    let (h, body) = bytes.split_at_mut(ipv4::HEADER_LEN);
    ip.emit(&mut ipv4::Packet::new_unchecked(h), &Checksums::SOFTWARE);
    body.copy_from_slice(payload);
    eth_frame(B_MAC, ethernet::EtherType::Ipv4, &bytes)
}

/// A TCP segment from `src` to B.
fn tcp_frame(src: SocketAddr, seg: &Repr<'_>) -> Vec<u8> {
    let IpAddr::V4(s) = src.ip() else { unreachable!() };
    let mut body = vec![0; seg.buffer_len()];
    seg.emit(
        &mut tcp::Packet::new_unchecked(&mut body[..]),
        src.ip(),
        B_IP.parse().unwrap(),
        &Checksums::SOFTWARE,
    )
    .unwrap();
    ip_frame(s, Protocol::Tcp, &body, (0, false, 0))
}

/// A UDP datagram from `src` to B's `port`.
fn udp_frame(src: SocketAddr, port: u16, payload: &[u8]) -> Vec<u8> {
    let IpAddr::V4(s) = src.ip() else { unreachable!() };
    let repr = udp::Repr { src_port: src.port(), dst_port: port };
    let mut body = vec![0; repr.buffer_len(payload.len())];
    let mut packet = udp::Packet::new_unchecked(&mut body[..]);
    let fill = |p: &mut [u8]| p.copy_from_slice(payload);
    let b_ip = B_IP.parse().unwrap();
    repr.emit(&mut packet, src.ip(), b_ip, payload.len(), fill, &Checksums::SOFTWARE).unwrap();
    ip_frame(s, Protocol::Udp, &body, (0, false, 0))
}

/// The `i`th of 250 spoofed off-link sources on 198.51.100.0/24.
fn spoofed(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xc633_6400 + (i % 250))
}

/// A and B, B with a gateway that never answers, so that spoofed off-link sources are
/// routable and B's answers to them wait for a neighbour that never resolves.
fn attacked() -> Net {
    let b = Config { gateway: Some("192.0.2.254".parse().unwrap()), ..config(true) };
    net_with(config(false), b, pila::device::WireConfig::default())
}

/// A connects to B's `port` and they exchange a byte each way.
fn honest_client_is_served(net: &mut Net, l: pila::stack::ListenerHandle, port: u16) {
    let now = net.now();
    let c = net.a().tcp_connect(now, SocketAddr::new(B_IP.parse().unwrap(), port), None).unwrap();
    let mut s = None;
    let mut got = [0u8; 1];
    let ok = net.run_within(Duration::from_secs(10), |n| {
        if s.is_none() {
            s = n.b().tcp_accept(l).ok();
            if let Some(s) = s {
                n.b().tcp_mut(s).unwrap().send(b"y").unwrap();
            }
        }
        if n.a().tcp(c).unwrap().state() == State::Established {
            let _ = n.a().tcp_mut(c).unwrap().recv(&mut got);
        }
        got == *b"y"
    });
    assert!(ok, "the honest client was not served");
}

/// 100,000 half-open connections from spoofed sources: the listener keeps its SYN queue
/// (256) and answers the rest with cookies, which cost nothing to hold.
#[test]
fn a_hundred_thousand_half_open_connections_hold_a_bounded_heap() {
    let _alone = alone();
    let mut net = attacked();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 128).unwrap();
    net.settle();
    let ((), held) = held_by(|| {
        for i in 0..100_000u32 {
            let src = SocketAddr::new(spoofed(i).into(), 1024 + (i % 60_000) as u16);
            let syn = Repr {
                src_port: src.port(),
                dst_port: 80,
                seq_number: SeqNumber(i.wrapping_mul(2_654_435_761)),
                flags: Flags::SYN,
                window_len: 64240,
                options: Options { mss: Some(1460), ..Options::default() },
                ..Repr::TEMPLATE
            };
            net.inject(B, &tcp_frame(src, &syn));
            if i % 1000 == 0 {
                net.settle();
            }
        }
        net.settle();
    });
    let counters = net.b().counters();
    eprintln!(
        "100,000 spoofed SYNs: {held} heap bytes held, {} cookies",
        counters.tcp_syn_cookies_sent
    );
    assert!(counters.tcp_syn_cookies_sent > 90_000, "{}", counters.tcp_syn_cookies_sent);
    // The SYN queue's 256 entries and the ARP queue of the gateway that never answers.
    assert!(held < 512 << 10, "{held} heap bytes held by 100,000 half-open connections");
    honest_client_is_served(&mut net, l, 80);
}

/// An ACK flood at a listener: every ACK is a failed cookie, answered with a reset at
/// most; nothing is kept.
#[test]
fn an_ack_flood_at_a_listener_keeps_nothing() {
    let _alone = alone();
    let mut net = attacked();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 128).unwrap();
    net.settle();
    let ((), held) = held_by(|| {
        for i in 0..100_000u32 {
            let src = SocketAddr::new(spoofed(i).into(), 2000 + (i % 50_000) as u16);
            let ack = Repr {
                src_port: src.port(),
                dst_port: 80,
                seq_number: SeqNumber(i.wrapping_mul(7919)),
                ack_number: Some(SeqNumber(i.wrapping_mul(104_729))),
                window_len: 512,
                ..Repr::TEMPLATE
            };
            net.inject(B, &tcp_frame(src, &ack));
            if i % 1000 == 0 {
                net.settle();
            }
        }
        net.settle();
    });
    let counters = net.b().counters();
    eprintln!("100,000 stray ACKs: {held} heap bytes held, {} resets", counters.tcp_out_rsts);
    assert!(counters.tcp_in_segs >= 100_000, "{}", counters.tcp_in_segs);
    assert!(held < 64 << 10, "{held} heap bytes held after an ACK flood");
    honest_client_is_served(&mut net, l, 80);
}

/// 20,000 first fragments that never complete: the reassembly memory bound (1 MiB) holds,
/// what it cannot take is dropped and counted, and TCP goes on.
#[test]
fn fragments_that_never_complete_stay_within_the_reassembly_bound() {
    let _alone = alone();
    let mut net = attacked();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 16).unwrap();
    net.settle();
    let payload = vec![0x5a; 1400];
    let ((), held) = held_by(|| {
        for i in 0..20_000u32 {
            let src = spoofed(i);
            net.inject(B, &ip_frame(src, Protocol::Udp, &payload, (i as u16, true, 0)));
        }
        net.settle();
    });
    let counters = net.b().counters();
    eprintln!(
        "20,000 lone first fragments of 1,400 bytes: {held} heap bytes held, {} reassemblies failed",
        counters.ip_reasm_fails
    );
    assert!(counters.ip_reasm_fails > 15_000, "{}", counters.ip_reasm_fails);
    // The bound (1 MiB) charges each datagram its bookkeeping too.
    assert!(held <= (1 << 20) + (64 << 10), "{held} heap bytes held by fragments");
    honest_client_is_served(&mut net, l, 80);
    // When they time out, their memory comes back.
    let region = Region::new(GLOBAL);
    net.run_for(Duration::from_secs(31));
    let freed = region.change().bytes_deallocated as u64;
    eprintln!("the reassembly time-out gave back {freed} heap bytes");
    // The datagrams' data and lists; the table keeps its room for the next ones.
    assert!(freed >= 640 << 10, "only {freed} heap bytes came back after the time-out");
}

/// A UDP flood on a socket whose reader is slow: its queue stops at its bound (256 KiB),
/// the rest is dropped and counted, and another socket still gets its datagram.
#[test]
fn a_udp_flood_on_a_slow_reader_fills_its_queue_and_no_more() {
    let _alone = alone();
    let mut net = attacked();
    let slow = net.b().udp_bind(sa("0.0.0.0:53")).unwrap();
    let other = net.b().udp_bind(sa("0.0.0.0:54")).unwrap();
    net.settle();
    let payload = vec![7u8; 1000];
    let ((), held) = held_by(|| {
        for i in 0..100_000u32 {
            let src = SocketAddr::new(spoofed(i).into(), 3000);
            net.inject(B, &udp_frame(src, 53, &payload));
        }
        net.settle();
    });
    eprintln!("100,000 datagrams of 1,000 bytes to an unread socket: {held} heap bytes held");
    assert!(held < (256 << 10) + (128 << 10), "{held} heap bytes held by one UDP queue");
    net.inject(B, &udp_frame(sa("192.0.2.1:4000"), 54, b"honest"));
    net.settle();
    let mut buf = [0u8; 16];
    assert_eq!(net.b().udp_recv(other, &mut buf), Ok(6));
    assert_eq!(&buf[..6], b"honest");
    // The slow reader still reads what its queue kept, oldest first.
    assert_eq!(net.b().udp_recv(slow, &mut buf), Ok(16));
}

/// An established connection from A to B, its two ends (A's, B's).
fn connected(
    net: &mut Net,
    l: pila::stack::ListenerHandle,
) -> (pila::stack::TcpHandle, pila::stack::TcpHandle) {
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    let mut s = None;
    assert!(net.run_within(Duration::from_secs(5), |n| {
        s = s.or_else(|| n.b().tcp_accept(l).ok());
        s.is_some() && n.a().tcp(c).is_some_and(|c| c.state() == State::Established)
    }));
    (c, s.unwrap())
}

/// 100,000 echo requests and 100,000 forged ICMP errors quoting B's connection with
/// numbers it never sent (port unreachable, fragmentation needed with a tiny MTU): B answers
/// the echoes within its rate, keeps nothing, and its connection carries on at full size.
#[test]
fn icmp_floods_and_forged_errors_keep_nothing_and_break_no_connection() {
    use pila::wire::icmpv4;
    let _alone = alone();
    let mut net = attacked();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 16).unwrap();
    let (c, s) = connected(&mut net, l);
    let mss = net.b().tcp(s).unwrap().mss();
    // What B sends on the connection, quoted by the forged errors with a sequence number
    // far from anything in flight.
    let seg = Repr {
        src_port: 80,
        dst_port: net.a().tcp(c).unwrap().local().port(),
        seq_number: SeqNumber(0x5555_5555),
        ack_number: Some(SeqNumber(1)),
        window_len: 1000,
        ..Repr::TEMPLATE
    };
    let mut body = vec![0; seg.buffer_len()];
    let (b_ip, a_ip): (IpAddr, IpAddr) = (B_IP.parse().unwrap(), A_IP.parse().unwrap());
    seg.emit(&mut tcp::Packet::new_unchecked(&mut body[..]), b_ip, a_ip, &Checksums::SOFTWARE)
        .unwrap();
    let quoted_ip = ipv4::Repr {
        src_addr: B_IP.parse().unwrap(),
        dst_addr: A_IP.parse().unwrap(),
        protocol: Protocol::Tcp,
        payload_len: body.len(),
        ttl: 64,
        tos: 0,
        ident: 9,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut quoted = vec![0; quoted_ip.buffer_len()];
    quoted_ip.emit(&mut ipv4::Packet::new_unchecked(&mut quoted[..20]), &Checksums::SOFTWARE);
    quoted[20..].copy_from_slice(&body);
    let icmp = |repr: icmpv4::Repr<'_>| {
        let mut bytes = vec![0; repr.buffer_len()];
        repr.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
        ip_frame(A_IP.parse().unwrap(), Protocol::Icmp, &bytes, (0, false, 0))
    };
    let unreachable = icmp(
        icmpv4::Repr::dst_unreachable(icmpv4::DstUnreachable::PortUnreachable, &quoted).unwrap(),
    );
    let too_big = icmp(icmpv4::Repr::frag_required(576, &quoted).unwrap());
    let ((), held) = held_by(|| {
        for i in 0..100_000u32 {
            let src = spoofed(i);
            let echo = icmpv4::Repr::EchoRequest { ident: 7, seq_no: i as u16, data: b"flood" };
            let mut bytes = vec![0; echo.buffer_len()];
            echo.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]), &Checksums::SOFTWARE);
            net.inject(B, &ip_frame(src, Protocol::Icmp, &bytes, (0, false, 0)));
            net.inject(B, if i % 2 == 0 { &unreachable } else { &too_big });
            if i % 1000 == 0 {
                net.settle();
            }
        }
        net.settle();
    });
    let counters = net.b().counters();
    eprintln!(
        "100,000 echoes and 100,000 forged errors: {held} heap bytes held, {} echo replies, {} \
         errors ignored as out of window",
        counters.icmp_out_echo_reps, counters.tcp_out_of_window_icmps
    );
    assert!(held < 64 << 10, "{held} heap bytes held after an ICMP flood");
    assert!(counters.tcp_out_of_window_icmps >= 50_000, "{}", counters.tcp_out_of_window_icmps);
    let conn = net.b().tcp(s).unwrap();
    assert_eq!((conn.state(), conn.error(), conn.mss()), (State::Established, None, mss));
    honest_client_is_served(&mut net, l, 80);
}

/// A peer that never reads: B's send buffer fills and B probes the zero window at a
/// backing-off pace; for the next half hour it probes about once a minute (the backoff's
/// cap) and holds not a byte more; when the peer reads at last, everything arrives.
#[test]
fn a_peer_that_never_reads_is_probed_at_a_bounded_pace() {
    let _alone = alone();
    let mut net = attacked();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 16).unwrap();
    let (c, s) = connected(&mut net, l);
    let data = vec![3u8; 8 << 20];
    let mut queued = 0;
    // B writes as much as it can; A's application never reads.
    let mut fill = |net: &mut Net, limit: Duration| {
        let _ = net.run_within(limit, |n| {
            let conn = n.b().tcp_mut(s).unwrap();
            while queued < data.len() {
                match conn.send(&data[queued..]) {
                    Ok(k) if k > 0 => queued += k,
                    _ => break,
                }
            }
            false
        });
    };
    fill(&mut net, Duration::from_secs(1800));
    let before = net.b().tcp(s).unwrap().info().zero_window_probes;
    let ((), held) = held_by(|| fill(&mut net, Duration::from_secs(1800)));
    let info = net.b().tcp(s).unwrap().info();
    let probes = info.zero_window_probes - before;
    eprintln!(
        "a second half hour against a zero window: {held} more heap bytes held, {probes} probes"
    );
    assert!((20..=40).contains(&probes), "{probes} probes in half an hour: {info:?}");
    assert!(held < 4 << 10, "{held} more heap bytes held while probing");
    assert_eq!(info.state, State::Established);
    // A reads at last: all of it arrives.
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 16];
    assert!(net.run_within(Duration::from_secs(120), |n| {
        while let Ok(k) = n.a().tcp_mut(c).unwrap().recv(&mut buf) {
            if k == 0 {
                break;
            }
            got += k;
        }
        let conn = n.b().tcp_mut(s).unwrap();
        while queued < data.len() {
            match conn.send(&data[queued..]) {
                Ok(k) if k > 0 => queued += k,
                _ => break,
            }
        }
        got == data.len()
    }));
}

/// Sixty-four peers fill connections whose application never reads, at a stack whose
/// memory budget is 4 MiB, though their windows would let them push 256 MiB: under
/// pressure B's buffers stop growing, B never holds more than its limit, nor does the heap
/// the attack leaves held pass it, an honest client is still served, and once B reads,
/// every byte each peer sent arrives intact.
#[test]
fn peers_filling_unread_buffers_never_push_the_stack_past_its_memory_budget() {
    const LIMIT: usize = 4 << 20;
    const PEERS: usize = 64;
    const EACH: usize = 1 << 20;
    let _alone = alone();
    // The peers' own send buffers are small, so that the heap measured is mostly B's.
    let a_tcp = pila::tcp::Config { send_buffer: 64 << 10, ..config(false).tcp };
    let a = Config { tcp: a_tcp, ..config(false) };
    let b = Config { memory_limit: LIMIT, ..config(true) };
    let mut net = net_with(a, b, pila::device::WireConfig::default());
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 128).unwrap();
    let data: Vec<u8> = (0..EACH).map(|i| (i % 251) as u8).collect();
    let now = net.now();
    let clients: Vec<_> =
        (0..PEERS).map(|_| net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap()).collect();
    let mut servers = Vec::new();
    let mut sent = vec![0; PEERS];
    let mut peak = 0;
    let send_all = |n: &mut Net, sent: &mut [usize]| {
        for (i, &c) in clients.iter().enumerate() {
            let conn = n.a().tcp_mut(c).unwrap();
            while sent[i] < EACH {
                match conn.send(&data[sent[i]..]) {
                    Ok(k) if k > 0 => sent[i] += k,
                    _ => break,
                }
            }
        }
    };
    let ((), held) = held_by(|| {
        let _ = net.run_within(Duration::from_secs(30), |n| {
            while let Ok(s) = n.b().tcp_accept(l) {
                servers.push(s);
            }
            send_all(n, &mut sent);
            peak = peak.max(n.b().memory().used);
            false
        });
    });
    let memory = net.b().memory();
    let counters = net.b().counters().clone();
    let pushed: usize = sent.iter().sum();
    eprintln!(
        "{PEERS} peers pushed {pushed} bytes at a 4 MiB budget: peak {peak} bytes charged, \
         {held} heap bytes held by both stacks, {memory:?}, {} times under pressure",
        counters.mem_pressure
    );
    assert_eq!(servers.len(), PEERS);
    assert!(counters.mem_pressure >= 1, "the budget never came under pressure");
    assert!(peak <= LIMIT, "B charged {peak} bytes, past its {LIMIT}-byte budget");
    // B within its budget, the peers within their 64 KiB send buffers each.
    assert!(held < (LIMIT + PEERS * (64 << 10) + (2 << 20)) as u64, "{held} heap bytes held");
    // Every peer still had data to send: B's windows, not the peers, set the pace.
    assert!(sent.iter().all(|&k| k < EACH), "a peer sent all it had: {sent:?}");
    assert!(peak >= LIMIT / 4 * 3, "B charged {peak} bytes at most: the budget was not tried");
    honest_client_is_served(&mut net, l, 80);
    // B reads at last: each connection gets its peer's stream, whole and in order.
    let mut got = vec![0; PEERS];
    let mut buf = vec![0u8; 1 << 16];
    let drained = net.run_within(Duration::from_secs(600), |n| {
        send_all(n, &mut sent);
        for (i, &s) in servers.iter().enumerate() {
            while let Ok(k) = n.b().tcp_mut(s).unwrap().recv(&mut buf) {
                if k == 0 {
                    break;
                }
                let at = got[i];
                assert_eq!(buf[..k], data[at..at + k], "connection {i}: bytes {at}.. differ");
                got[i] += k;
            }
        }
        got.iter().all(|&g| g == EACH)
    });
    assert!(drained, "B read {got:?} of {EACH} bytes each");
    assert!(net.b().memory().used <= LIMIT);
}

/// A peer that advertises a window of one byte: B sends it one byte at a time, as the
/// window allows, holding no more than what its application wrote, without retransmitting
/// or probing more than the byte-sized segments need; the stream arrives intact and an
/// honest client is served meanwhile.
#[test]
fn a_peer_with_a_one_byte_window_gets_its_bytes_one_at_a_time() {
    const LEN: usize = 2000;
    let _alone = alone();
    let a_tcp = pila::tcp::Config { recv_buffer: 1, ..config(false).tcp };
    let b = Config { gateway: Some("192.0.2.254".parse().unwrap()), ..config(true) };
    let mut net = net_with(Config { tcp: a_tcp, ..config(false) }, b, Default::default());
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 16).unwrap();
    let (c, s) = connected(&mut net, l);
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 % 256) as u8).collect();
    assert_eq!(net.b().tcp_mut(s).unwrap().send(&data).unwrap(), LEN);
    let segs_before = net.b().counters().tcp_out_segs;
    let mut got = Vec::new();
    let (done, held) = held_by(|| {
        net.run_within(Duration::from_secs(600), |n| {
            let mut byte = [0u8; 16];
            while let Ok(k) = n.a().tcp_mut(c).unwrap().recv(&mut byte) {
                if k == 0 {
                    break;
                }
                assert_eq!(k, 1, "more than the one-byte window at once");
                got.push(byte[0]);
            }
            got.len() == LEN
        })
    });
    let info = net.b().tcp(s).unwrap().info();
    let segs = net.b().counters().tcp_out_segs - segs_before;
    eprintln!("{LEN} bytes through a one-byte window: {segs} segments, {held} heap bytes held");
    assert!(done, "{} of {LEN} bytes arrived", got.len());
    assert_eq!(got, data);
    assert!(segs < 2 * LEN as u64, "{segs} segments for {LEN} one-byte windows");
    assert_eq!((info.state, info.retransmitted_segments), (State::Established, 0), "{info:?}");
    assert!(held < 16 << 10, "{held} heap bytes held");
    honest_client_is_served(&mut net, l, 80);
}

/// An attacker who knows B's connection but not its exact numbers floods it with RSTs
/// and SYNs inside the window: each draws at most a challenge ACK (RFC 5961 §3.2, §4.2),
/// no more than `challenge_ack_limit` a second (§7), the connection survives and carries
/// data both ways, and nothing is held.
#[test]
fn in_window_rst_and_syn_floods_draw_only_rate_limited_challenge_acks() {
    let _alone = alone();
    let mut net = attacked();
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 16).unwrap();
    let (c, s) = connected(&mut net, l);
    let a_port = net.a().tcp(c).unwrap().local().port();
    let from = SocketAddr::new(A_IP.parse().unwrap(), a_port);
    let limit = u64::from(config(true).tcp.challenge_ack_limit);
    let rcv_nxt = net.a().tcp(c).unwrap().snd_nxt();
    let b_nxt = net.b().tcp(s).unwrap().snd_nxt();
    let challenges = |net: &mut Net| net.b().tcp(s).unwrap().info().challenge_acks_sent;
    let before = challenges(&mut net);
    let start = net.now();
    let ((), held) = held_by(|| {
        for i in 0..20_000u32 {
            // In the window, never RCV.NXT itself: an exact RST would be obeyed.
            let seq = SeqNumber(rcv_nxt.0.wrapping_add(1 + i % 1000 * 17));
            let seg = if i % 2 == 0 {
                Repr { flags: Flags::RST, ..Repr::TEMPLATE }
            } else {
                Repr { flags: Flags::SYN, ack_number: Some(b_nxt), ..Repr::TEMPLATE }
            };
            let seg =
                Repr { src_port: a_port, dst_port: 80, seq_number: seq, window_len: 512, ..seg };
            net.inject(B, &tcp_frame(from, &seg));
            if i % 200 == 199 {
                // A hundred attacks a second of virtual time: twenty thousand in 100 s.
                net.run_for(Duration::from_secs(1));
            }
        }
        net.settle();
    });
    let seconds = (net.now() - start).as_secs_f64() as u64 + 1;
    let sent = challenges(&mut net) - before;
    eprintln!(
        "20,000 in-window RSTs and SYNs in {seconds} s: {sent} challenge ACKs, {held} heap bytes held"
    );
    assert!(
        sent >= seconds,
        "{sent} challenge ACKs in {seconds} s: the attacks were not challenged"
    );
    assert!(sent <= limit * seconds, "{sent} challenge ACKs in {seconds} s, past {limit} a second");
    assert!(held < 16 << 10, "{held} heap bytes held");
    let conn = net.b().tcp(s).unwrap();
    assert_eq!((conn.state(), conn.error()), (State::Established, None));
    // The connection still carries data both ways.
    net.a().tcp_mut(c).unwrap().send(b"ping").unwrap();
    net.b().tcp_mut(s).unwrap().send(b"pong").unwrap();
    let (mut at_a, mut at_b) = ([0u8; 4], [0u8; 4]);
    assert!(net.run_within(Duration::from_secs(10), |n| {
        let _ = n.b().tcp_mut(s).unwrap().recv(&mut at_b);
        let _ = n.a().tcp_mut(c).unwrap().recv(&mut at_a);
        at_a == *b"pong" && at_b == *b"ping"
    }));
    honest_client_is_served(&mut net, l, 80);
}
