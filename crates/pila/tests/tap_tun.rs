//! TAP and TUN against the Linux kernel, in a namespace each test makes (see `netns`).
//!
//! pila's side of each device is driven by hand with `pila::wire` only: the tests build
//! ARP and ICMP frames, the kernel answers them, and the tests answer the kernel's. Nothing
//! leaves the namespace: its only interfaces are its loopback and the device under test,
//! whose far end is this process.

#![cfg(target_os = "linux")]

mod netns;

use netns::{Netns, unique_ifname};
use pila::device::{Device, FrameBatch, Impaired, Impairments, Tap, Tun, WaitDevice};
use pila::time::Instant;
use pila::wire::ip::Protocol;
use pila::wire::{Checksums, Ipv4Addr, arp, ethernet, icmpv4, ipv4};
use std::time::Duration;

/// The kernel's address on the TAP.
const KERNEL_TAP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Our address behind the TAP.
const OURS_TAP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The kernel's address on the TUN.
const KERNEL_TUN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Our address behind the TUN.
const OURS_TUN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// Our MAC: locally administered, unicast.
const OUR_MAC: ethernet::Address = ethernet::Address([0x02, 0x50, 0x49, 0x4c, 0x41, 0x02]);

const SW: Checksums = Checksums::SOFTWARE;

/// A TAP in a fresh namespace, the kernel's side at 192.0.2.1/24. The device is dropped
/// before the namespace.
struct TapLab {
    tap: Tap,
    lab: Netns,
}

fn tap_lab(tag: &str) -> Option<TapLab> {
    let lab = Netns::new(tag)?;
    let name = unique_ifname("ptap");
    let tap = Tap::create(&name).expect("create a TAP");
    assert_eq!(tap.name(), name);
    assert_eq!(tap.mtu(), 1500, "a new TAP has the Ethernet MTU");
    lab.adopt(&name);
    lab.configure(&name, "192.0.2.1/24");
    Some(TapLab { tap, lab })
}

/// The kernel's neighbour entry for us, so it sends to us without asking first.
fn pin_neighbour(lab: &TapLab) {
    let mac = OUR_MAC.to_string();
    lab.lab.run(&[
        "ip",
        "neigh",
        "replace",
        "192.0.2.2",
        "lladdr",
        &mac,
        "dev",
        lab.tap.name(),
        "nud",
        "permanent",
    ]);
}

fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

fn now() -> Instant {
    Instant::from_std(std::time::Instant::now(), epoch())
}

// ---- building frames with pila::wire ----

fn ethernet_frame(
    dst: ethernet::Address,
    ethertype: ethernet::EtherType,
    payload: &[u8],
) -> Vec<u8> {
    let repr = ethernet::Repr { src_addr: OUR_MAC, dst_addr: dst, ethertype, vlan: None };
    let mut buf = vec![0u8; repr.buffer_len(payload.len())];
    let mut frame = ethernet::Frame::new_unchecked(&mut buf[..]);
    repr.emit(&mut frame);
    frame.payload_mut().copy_from_slice(payload);
    buf
}

fn arp_packet(repr: &arp::Repr) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut arp::Packet::new_unchecked(&mut buf[..]));
    buf
}

fn ipv4_icmp(src: Ipv4Addr, dst: Ipv4Addr, icmp: &icmpv4::Repr<'_>) -> Vec<u8> {
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: Protocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 0x5151,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut buf = vec![0u8; ip.buffer_len()];
    let mut packet = ipv4::Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut packet, &SW);
    icmp.emit(&mut icmpv4::Packet::new_unchecked(packet.payload_mut()), &SW);
    buf
}

fn echo_request(ident: u16, seq_no: u16, data: &[u8]) -> icmpv4::Repr<'_> {
    icmpv4::Repr::EchoRequest { ident, seq_no, data }
}

// ---- reading frames with pila::wire ----

/// An Ethernet frame's header and payload, if it parses.
fn parse_ethernet(frame: &[u8]) -> Option<(ethernet::Repr, &[u8])> {
    let frame = ethernet::Frame::new_checked(frame).ok()?;
    Some((ethernet::Repr::parse(&frame).ok()?, frame.payload()))
}

fn parse_arp(payload: &[u8]) -> Option<arp::Repr> {
    arp::Repr::parse(&arp::Packet::new_checked(payload).ok()?).ok()
}

/// An IPv4 packet carrying ICMP, both checksums verified.
fn parse_icmp(packet: &[u8]) -> Option<(ipv4::Repr, icmpv4::Repr<'_>)> {
    let packet = ipv4::Packet::new_checked(packet).ok()?;
    let ip = ipv4::Repr::parse(&packet, &SW).ok()?;
    if ip.protocol != Protocol::Icmp {
        return None;
    }
    let icmp = icmpv4::Packet::new_checked(packet.payload()).ok()?;
    Some((ip, icmpv4::Repr::parse(&icmp, &SW).ok()?))
}

/// Our answer to a frame from the kernel on the TAP: an ARP reply for an ARP request for
/// our address, an echo reply for an echo request to it.
fn answer_on_tap(frame: &[u8]) -> Option<Vec<u8>> {
    let (eth, payload) = parse_ethernet(frame)?;
    match eth.ethertype {
        ethernet::EtherType::Arp => {
            let req = parse_arp(payload)?;
            if req.operation != arp::Operation::Request || req.target_protocol_addr != OURS_TAP {
                return None;
            }
            let reply = arp::Repr {
                operation: arp::Operation::Reply,
                source_hardware_addr: OUR_MAC,
                source_protocol_addr: OURS_TAP,
                target_hardware_addr: req.source_hardware_addr,
                target_protocol_addr: req.source_protocol_addr,
            };
            Some(ethernet_frame(
                req.source_hardware_addr,
                ethernet::EtherType::Arp,
                &arp_packet(&reply),
            ))
        }
        ethernet::EtherType::Ipv4 => {
            let reply = answer_echo(payload, OURS_TAP)?;
            Some(ethernet_frame(eth.src_addr, ethernet::EtherType::Ipv4, &reply))
        }
        _ => None,
    }
}

/// The echo reply to an echo request for `ours`, as an IPv4 packet.
fn answer_echo(packet: &[u8], ours: Ipv4Addr) -> Option<Vec<u8>> {
    let (ip, icmp) = parse_icmp(packet)?;
    let icmpv4::Repr::EchoRequest { ident, seq_no, data } = icmp else { return None };
    if ip.dst_addr != ours {
        return None;
    }
    let reply = icmpv4::Repr::EchoReply { ident, seq_no, data };
    Some(ipv4_icmp(ours, ip.src_addr, &reply))
}

/// Receives for up to `timeout`, handing each frame to `look`, until it returns `Some`.
fn receive_until<D: WaitDevice, T>(
    dev: &mut D,
    timeout: Duration,
    mut look: impl FnMut(&mut D, &[u8]) -> Option<T>,
) -> Option<T> {
    let end = std::time::Instant::now() + timeout;
    let mut batch = FrameBatch::new(64);
    while std::time::Instant::now() < end {
        dev.wait(Some(end)).expect("wait");
        batch.clear();
        dev.receive(now(), &mut batch).expect("receive");
        for frame in batch.iter() {
            if let Some(found) = look(dev, frame) {
                return Some(found);
            }
        }
    }
    None
}

fn send(dev: &mut impl Device, frames: &[Vec<u8>]) -> usize {
    let mut batch = FrameBatch::new(frames.len().max(1));
    for frame in frames {
        assert!(batch.push(frame));
    }
    dev.transmit(now(), &batch).expect("transmit")
}

// ---- the tests ----

#[test]
fn the_kernel_pings_us_over_a_tap_and_we_answer_its_arp_and_echo() {
    let Some(mut lab) = tap_lab("tapping") else { return };
    let ping = lab.lab.spawn(&["ping", "-n", "-c", "3", "-i", "0.2", "-W", "3", "192.0.2.2"]);
    let (mut arp_requests, mut echo_requests) = (0, 0);
    let done = std::time::Instant::now() + Duration::from_secs(10);
    receive_until(&mut lab.tap, Duration::from_secs(10), |tap, frame| {
        if let Some(reply) = answer_on_tap(frame) {
            match parse_ethernet(frame).map(|(eth, _)| eth.ethertype) {
                Some(ethernet::EtherType::Arp) => arp_requests += 1,
                _ => echo_requests += 1,
            }
            assert_eq!(send(tap, &[reply]), 1);
        }
        (echo_requests == 3 || std::time::Instant::now() > done).then_some(())
    })
    .expect("three echo requests from ping");
    let out = ping.wait_with_output().expect("ping ran");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ping failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("3 received"), "{text}");
    assert!(arp_requests >= 1, "the kernel resolved 192.0.2.2 with ARP first");
}

#[test]
fn the_kernel_answers_our_arp_request_and_echo_request_over_a_tap() {
    let Some(mut lab) = tap_lab("tapasks") else { return };
    let request = arp::Repr {
        operation: arp::Operation::Request,
        source_hardware_addr: OUR_MAC,
        source_protocol_addr: OURS_TAP,
        target_hardware_addr: ethernet::Address([0; 6]),
        target_protocol_addr: KERNEL_TAP,
    };
    let frame = ethernet_frame(
        ethernet::Address::BROADCAST,
        ethernet::EtherType::Arp,
        &arp_packet(&request),
    );
    assert_eq!(send(&mut lab.tap, &[frame]), 1);
    let kernel_mac = receive_until(&mut lab.tap, Duration::from_secs(5), |_, frame| {
        let (eth, payload) = parse_ethernet(frame)?;
        let reply = parse_arp(payload)?;
        (reply.operation == arp::Operation::Reply).then_some(())?;
        assert_eq!(eth.dst_addr, OUR_MAC);
        assert_eq!(reply.source_protocol_addr, KERNEL_TAP);
        assert_eq!(reply.target_protocol_addr, OURS_TAP);
        assert_eq!(reply.target_hardware_addr, OUR_MAC);
        assert_eq!(eth.src_addr, reply.source_hardware_addr);
        Some(reply.source_hardware_addr)
    })
    .expect("an ARP reply from the kernel");
    let shown = lab.lab.run(&["cat", &format!("/sys/class/net/{}/address", lab.tap.name())]);
    assert_eq!(shown.trim(), kernel_mac.to_string(), "the reply carries the interface's MAC");

    let data = b"pila over a TAP, checksums by pila::wire";
    let ping = ipv4_icmp(OURS_TAP, KERNEL_TAP, &echo_request(0x7a11, 1, data));
    assert_eq!(
        send(&mut lab.tap, &[ethernet_frame(kernel_mac, ethernet::EtherType::Ipv4, &ping)]),
        1
    );
    receive_until(&mut lab.tap, Duration::from_secs(5), |tap, frame| {
        if let Some(reply) = answer_on_tap(frame) {
            send(tap, &[reply]); // in case the kernel asks for our MAC itself
            return None;
        }
        let (eth, payload) = parse_ethernet(frame)?;
        let (ip, icmp) = parse_icmp(payload)?;
        assert_eq!((eth.src_addr, eth.dst_addr), (kernel_mac, OUR_MAC));
        assert_eq!((ip.src_addr, ip.dst_addr), (KERNEL_TAP, OURS_TAP));
        assert_eq!(icmp, icmpv4::Repr::EchoReply { ident: 0x7a11, seq_no: 1, data });
        Some(())
    })
    .expect("an echo reply from the kernel");
}

#[test]
fn the_kernel_answers_our_echo_over_a_tun_and_we_answer_its_ping() {
    let Some(lab) = Netns::new("tun") else { return };
    let name = unique_ifname("ptun");
    let mut tun = Tun::create(&name).expect("create a TUN");
    assert_eq!(tun.capabilities().medium, pila::device::Medium::Ip);
    assert_eq!(tun.capabilities().max_frame_len(), tun.mtu());
    lab.adopt(&name);
    lab.configure(&name, "198.51.100.1/24");

    let data = b"bare IPv4 on a TUN";
    assert_eq!(
        send(&mut tun, &[ipv4_icmp(OURS_TUN, KERNEL_TUN, &echo_request(0x0b0b, 9, data))]),
        1
    );
    receive_until(&mut tun, Duration::from_secs(5), |_, packet| {
        let (ip, icmp) = parse_icmp(packet)?;
        assert_eq!((ip.src_addr, ip.dst_addr), (KERNEL_TUN, OURS_TUN));
        assert_eq!(icmp, icmpv4::Repr::EchoReply { ident: 0x0b0b, seq_no: 9, data });
        Some(())
    })
    .expect("an echo reply from the kernel");

    let ping = lab.spawn(&["ping", "-n", "-c", "2", "-i", "0.2", "-W", "3", "198.51.100.2"]);
    let mut answered = 0;
    receive_until(&mut tun, Duration::from_secs(10), |tun, packet| {
        let reply = answer_echo(packet, OURS_TUN)?;
        assert_eq!(send(tun, &[reply]), 1);
        answered += 1;
        (answered == 2).then_some(())
    })
    .expect("two echo requests from ping");
    let out = ping.wait_with_output().expect("ping ran");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("2 received"), "{text}");
    drop(tun);
    drop(lab);
}

#[test]
fn frames_are_written_and_read_in_batches() {
    let Some(mut lab) = tap_lab("batch") else { return };
    pin_neighbour(&lab);
    let kernel_mac = kernel_mac(&lab);
    let requests: Vec<Vec<u8>> = (0..20u16)
        .map(|seq| {
            let ping = ipv4_icmp(OURS_TAP, KERNEL_TAP, &echo_request(0xba7c, seq, b"batch"));
            ethernet_frame(kernel_mac, ethernet::EtherType::Ipv4, &ping)
        })
        .collect();
    assert_eq!(send(&mut lab.tap, &requests), 20, "one transmit call writes the whole batch");

    // Let the kernel answer them all, then read: a small batch fills, the next call takes
    // everything else that is ready.
    std::thread::sleep(Duration::from_millis(200));
    let mut small = FrameBatch::new(8);
    assert_eq!(lab.tap.receive(now(), &mut small).unwrap(), 8);
    let mut big = FrameBatch::new(64);
    assert_eq!(lab.tap.receive(now(), &mut big).unwrap(), 12);
    assert_eq!(lab.tap.receive(now(), &mut FrameBatch::new(64)).unwrap(), 0, "nothing left");
    let seqs: Vec<u16> = small
        .iter()
        .chain(big.iter())
        .map(|frame| {
            let (_, payload) = parse_ethernet(frame).expect("ethernet");
            match parse_icmp(payload).expect("icmp").1 {
                icmpv4::Repr::EchoReply { ident: 0xba7c, seq_no, .. } => seq_no,
                other => panic!("unexpected {other:?}"),
            }
        })
        .collect();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>(), "every reply, in order");
}

/// The kernel's MAC on the lab's TAP.
fn kernel_mac(lab: &TapLab) -> ethernet::Address {
    let shown = lab.lab.run(&["cat", &format!("/sys/class/net/{}/address", lab.tap.name())]);
    shown.trim().parse().expect("a MAC address")
}

#[test]
fn wait_returns_for_a_frame_for_the_waker_and_at_the_deadline() {
    let Some(mut lab) = tap_lab("wait") else { return };
    let tap = &mut lab.tap;
    let mut drain = FrameBatch::new(64);
    while tap.receive(now(), &mut drain).unwrap() > 0 {
        drain.clear();
    }

    // Nothing comes: the deadline ends the wait, not earlier.
    let start = std::time::Instant::now();
    tap.wait(Some(start + Duration::from_millis(150))).unwrap();
    let waited = start.elapsed();
    drain.clear();
    if tap.receive(now(), &mut drain).unwrap() == 0 {
        assert!(waited >= Duration::from_millis(145), "woke after {waited:?} with nothing to read");
    }

    // A wake-up given before the wait is kept.
    let waker = tap.waker();
    waker.wake();
    let start = std::time::Instant::now();
    tap.wait(Some(start + Duration::from_secs(10))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(1), "a pending wake-up ends the wait at once");

    // A wake-up from another thread ends a wait under way.
    let start = std::time::Instant::now();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        waker.wake();
    });
    tap.wait(Some(start + Duration::from_secs(10))).unwrap();
    let waited = start.elapsed();
    thread.join().unwrap();
    assert!(waited >= Duration::from_millis(90) && waited < Duration::from_secs(5), "{waited:?}");

    // A frame ends a wait: the kernel's ARP request when something pings us.
    let ping = lab.lab.spawn(&["ping", "-n", "-c", "1", "-W", "1", "192.0.2.2"]);
    let start = std::time::Instant::now();
    tap.wait(Some(start + Duration::from_secs(10))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    drain.clear();
    assert!(tap.receive(now(), &mut drain).unwrap() >= 1, "the wait ended because a frame came");
    let (eth, _) = parse_ethernet(drain.get(0).unwrap()).unwrap();
    assert_eq!(eth.ethertype, ethernet::EtherType::Arp);
    let _ = ping.wait_with_output();
}

#[test]
fn the_impairment_wrapper_counts_what_it_does_to_a_tap() {
    let Some(lab) = tap_lab("impair") else { return };
    pin_neighbour(&lab);
    let kernel_mac = kernel_mac(&lab);
    let TapLab { tap, lab } = lab;
    let tx: Impairments = "loss=30%,seed=7".parse().unwrap();
    let rx: Impairments = "dup=100%".parse().unwrap();
    let mut dev = Impaired::with_directions(tap, tx, rx);

    const N: u16 = 100;
    for chunk in (0..N).collect::<Vec<_>>().chunks(25) {
        let frames: Vec<Vec<u8>> = chunk
            .iter()
            .map(|&seq| {
                let ping = ipv4_icmp(OURS_TAP, KERNEL_TAP, &echo_request(0x1a55, seq, b"impaired"));
                ethernet_frame(kernel_mac, ethernet::EtherType::Ipv4, &ping)
            })
            .collect();
        assert_eq!(send(&mut dev, &frames), frames.len());
    }
    let tx_stats = dev.tx_stats();
    assert_eq!(tx_stats.sent, u64::from(N));
    assert_eq!(tx_stats.delivered + tx_stats.lost, u64::from(N));
    assert!((15..=45).contains(&tx_stats.lost), "lost {} of {N} at 30%", tx_stats.lost);

    // Every request that reached the kernel is answered once; each answer arrives twice.
    let mut replies = Vec::new();
    receive_until(&mut dev, Duration::from_secs(3), |_, frame| {
        let (_, payload) = parse_ethernet(frame)?;
        if let (_, icmpv4::Repr::EchoReply { ident: 0x1a55, seq_no, .. }) = parse_icmp(payload)? {
            replies.push(seq_no);
        }
        (replies.len() as u64 == 2 * tx_stats.delivered).then_some(())
    })
    .expect("two copies of every reply");
    let mut distinct = replies.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len() as u64, tx_stats.delivered);
    let rx_stats = dev.rx_stats();
    assert_eq!(rx_stats.sent, tx_stats.delivered, "only the replies came in");
    assert_eq!(rx_stats.duplicated, rx_stats.sent);
    assert_eq!(rx_stats.delivered, 2 * rx_stats.sent);
    assert_eq!(rx_stats.lost, 0);

    // A delayed transmission waits in the wrapper until poll_at, and wait() wakes for it.
    // First let the wrapper hand over whatever it still holds from the phase above (late
    // duplicates), so the only frame held afterwards is the delayed one.
    let mut batch = FrameBatch::new(64);
    while dev.poll_at().is_some() {
        let deadline = dev.poll_at().map(|t| t.to_std(epoch()));
        dev.wait(deadline).unwrap();
        batch.clear();
        dev.receive(now(), &mut batch).unwrap();
    }
    dev.set_tx_impairments("delay=50ms".parse().unwrap());
    let ping = ipv4_icmp(OURS_TAP, KERNEL_TAP, &echo_request(0xde1a, 1, b"late"));
    let sent_at = now();
    assert_eq!(send(&mut dev, &[ethernet_frame(kernel_mac, ethernet::EtherType::Ipv4, &ping)]), 1);
    // `send` reads the clock again after `sent_at`, so allow it a few milliseconds.
    let held_until = dev.poll_at().expect("the delayed frame is held");
    let due = sent_at + pila::time::Duration::from_millis(50);
    assert!(
        held_until >= due && held_until - due < pila::time::Duration::from_millis(5),
        "held until {held_until}, due {due}"
    );
    let start = std::time::Instant::now();
    receive_until(&mut dev, Duration::from_secs(5), |_, frame| {
        let (_, payload) = parse_ethernet(frame)?;
        matches!(parse_icmp(payload)?.1, icmpv4::Repr::EchoReply { ident: 0xde1a, .. })
            .then_some(())
    })
    .expect("the delayed request is answered");
    assert!(start.elapsed() >= Duration::from_millis(45), "answered after {:?}", start.elapsed());
    drop(dev);
    drop(lab);
}

#[test]
fn opening_attaches_to_an_existing_tap_and_reads_its_mtu() {
    let Some(lab) = Netns::new("attach") else { return };
    let name = unique_ifname("ppers");
    // A persistent TAP as `ip tuntap add` makes it, with a non-default MTU; moved into the
    // lab right after, so it is deleted with it.
    let out = std::process::Command::new("ip")
        .args(["tuntap", "add", "dev", &name, "mode", "tap"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mtu = std::process::Command::new("ip")
        .args(["link", "set", "dev", &name, "mtu", "1400"])
        .status()
        .unwrap();
    let tap = Tap::open(&name);
    lab.adopt(&name);
    assert!(mtu.success());
    let tap = tap.expect("attach to the existing TAP");
    assert_eq!(tap.mtu(), 1400);
    assert_eq!(tap.capabilities().max_frame_len(), 1400 + 18);
    assert_eq!(tap.capabilities().medium, pila::device::Medium::Ethernet);
    drop(tap);
}

#[test]
fn errors_say_what_went_wrong_and_how_to_fix_it() {
    let err = Tap::open("a-name-longer-than-15").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at most 15 bytes"), "{err}");

    let Some(lab) = Netns::new("errors") else { return };
    let name = unique_ifname("perr");
    let tun = Tun::create(&name).expect("create a TUN");
    let err = Tap::open(&name).unwrap_err();
    assert!(err.to_string().contains("is not a single-queue TAP"), "{err}");
    let err = Tun::create(&name).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let err = Tun::open(&name).unwrap_err();
    assert!(err.to_string().contains("in use by another process"), "{err}");
    lab.adopt(&name);
    drop(tun);
}
