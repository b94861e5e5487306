//! Bad input while a healthy connection transfers data: truncated frames, wrong
//! checksums, frames not for our MAC or IP, header and total lengths that lie, fragments
//! that overlap or never complete. Each is dropped and counted by the right counter, no
//! panic, and the transfer completes intact.

mod support;

use core::net::SocketAddr;

use pila::device::{Impairments, WireConfig};
use pila::tcp::State;
use pila::time::Duration;
use pila::wire::{ethernet, ipv4};
use support::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// How many frames of each kind one round injects.
#[derive(Default, Debug, PartialEq, Eq, Clone, Copy)]
struct Expect {
    eth: u64,
    hdr: u64,
    addr: u64,
    tcp: u64,
    reasm_now: u64,
    reasm_later: u64,
}

/// Bad variants of `good`, a TCP data frame the peer sent to this host, for round `round`.
fn bad_frames(good: &[u8], round: u16) -> (Vec<Vec<u8>>, Expect) {
    const L: usize = ethernet::HEADER_LEN;
    let mut out = Vec::new();
    let mut e = Expect::default();
    let refill = |f: &mut Vec<u8>| ipv4::Packet::new_unchecked(&mut f[L..]).fill_checksum();
    // Link layer: a runt, another MAC.
    out.push(good[..10].to_vec());
    let mut f = good.to_vec();
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x77]);
    out.push(f);
    e.eth += 2;
    // IPv4 header: cut inside it; a wrong checksum; IHL 4 and 15; total length past the
    // frame and below the header; version 6 in an IPv4 frame.
    out.push(good[..L + 12].to_vec());
    let mut f = good.to_vec();
    f[L + 10] ^= 0x5a;
    out.push(f);
    // IHL 4 (below the minimum); IHL 15 (60 bytes) in a 40-byte datagram.
    let mut f = good.to_vec();
    f[L] = 0x44;
    refill(&mut f);
    out.push(f);
    let mut f = good[..L + 40].to_vec();
    f[L + 2..L + 4].copy_from_slice(&40u16.to_be_bytes());
    f[L] = 0x4f;
    out.push(f);
    for total in [(good.len() - L + 1) as u16, 19] {
        let mut f = good.to_vec();
        f[L + 2..L + 4].copy_from_slice(&total.to_be_bytes());
        refill(&mut f);
        out.push(f);
    }
    let mut f = good.to_vec();
    f[L] = 0x65;
    out.push(f);
    e.hdr += 7;
    // Not our address (checksum made right).
    let mut f = good.to_vec();
    f[L + 16..L + 20].copy_from_slice(&[192, 0, 2, 99]);
    refill(&mut f);
    out.push(f);
    e.addr += 1;
    // TCP: a flipped payload bit (checksum wrong); the segment cut short with a total
    // length that agrees (checksum wrong, or header cut); a data offset past the segment.
    let mut f = good.to_vec();
    let last = f.len() - 1;
    f[last] ^= 1;
    out.push(f);
    for keep in [L + 20 + 10, L + 20 + 30] {
        let mut f = good[..keep].to_vec();
        f[L + 2..L + 4].copy_from_slice(&((keep - L) as u16).to_be_bytes());
        refill(&mut f);
        out.push(f);
    }
    let mut f = good.to_vec();
    f[L + 20 + 12] = 0xf0;
    out.push(f);
    e.tcp += 4;
    // Fragments: two that overlap (the datagram fails at once), and one that never
    // completes (fails at the time-out), each with its own identification.
    let frag = |ident: u16, offset: u16, more: bool, len: usize| {
        let mut f = good[..L + 20 + len].to_vec();
        f[L + 2..L + 4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
        f[L + 4..L + 6].copy_from_slice(&ident.to_be_bytes());
        let flags = (offset / 8) | if more { 0x2000 } else { 0 };
        f[L + 6..L + 8].copy_from_slice(&flags.to_be_bytes());
        refill(&mut f);
        f
    };
    let ident = 0x8000 | round;
    out.push(frag(ident, 0, true, 24));
    out.push(frag(ident, 16, false, 24));
    e.reasm_now += 1;
    out.push(frag(ident ^ 0x4000, 0, true, 24));
    e.reasm_later += 1;
    (out, e)
}

#[test]
fn bad_frames_during_a_transfer_are_dropped_counted_and_harmless() {
    // 5 ms each way at 100 Mbit/s: the transfer takes many steps, bad input in each.
    let link = Impairments {
        delay: Duration::from_millis(5),
        rate: Some(100_000_000),
        ..Impairments::NONE
    };
    let wire = WireConfig { a_to_b: link, b_to_a: link, ..WireConfig::default() };
    let mut net = net_with(config(false), config(true), wire);
    let l = net.b().tcp_listen(sa("0.0.0.0:80"), 8).unwrap();
    let now = net.now();
    let c = net.a().tcp_connect(now, sa("192.0.2.2:80"), None).unwrap();
    let mut server = None;
    assert!(net.run_within(Duration::from_secs(5), |n| {
        server = server.or_else(|| n.b().tcp_accept(l).ok());
        server.is_some() && n.a().tcp(c).unwrap().state() == State::Established
    }));
    let s = server.unwrap();
    // A template for each direction: a data segment each way.
    net.set_capture(true);
    net.a().tcp_mut(c).unwrap().send(&[0xa5; 100]).unwrap();
    net.b().tcp_mut(s).unwrap().send(&[0x5a; 100]).unwrap();
    net.run_for(Duration::from_millis(300));
    let mut sink = [0; 200];
    assert_eq!(net.b().tcp_mut(s).unwrap().recv(&mut sink), Ok(100));
    assert_eq!(net.a().tcp_mut(c).unwrap().recv(&mut sink), Ok(100));
    let data_frame = |from: usize| {
        sent(&net).iter().find(|(i, f)| *i == from && f.len() > 100 + 54).unwrap().1.clone()
    };
    let templates = [data_frame(1), data_frame(0)]; // what A receives, what B receives
    net.set_capture(false);
    let before = [net.a().counters().clone(), net.b().counters().clone()];

    let data: Vec<u8> =
        (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0; 65536];
    let mut rounds = 0u16;
    let mut expect = Expect::default();
    let ok = net.run_within(Duration::from_secs(60), |n| {
        if rounds < 200 {
            for (host, template) in templates.iter().enumerate() {
                let (frames, e) = bad_frames(template, rounds);
                for f in &frames {
                    n.inject(side(host), f);
                }
                if host == 1 {
                    expect = Expect {
                        eth: expect.eth + e.eth,
                        hdr: expect.hdr + e.hdr,
                        addr: expect.addr + e.addr,
                        tcp: expect.tcp + e.tcp,
                        reasm_now: expect.reasm_now + e.reasm_now,
                        reasm_later: expect.reasm_later + e.reasm_later,
                    };
                }
            }
            rounds += 1;
        }
        if sent < data.len() {
            if let Ok(k) = n.a().tcp_mut(c).unwrap().send(&data[sent..]) {
                sent += k;
            }
        }
        while let Ok(k) = n.b().tcp_mut(s).unwrap().recv(&mut buf) {
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        got.len() == data.len()
    });
    assert!(ok && got == data, "{} of {} bytes", got.len(), data.len());
    assert!(rounds >= 20, "the transfer ran through {rounds} rounds of bad input");
    // The never-completing fragments time out.
    net.run_for(Duration::from_secs(31));
    for (host, b) in before.iter().enumerate() {
        let c = net.stack(side(host)).counters().clone();
        let what = format!("host {host} after {rounds} rounds: {c}");
        assert_eq!(c.eth_dropped - b.eth_dropped, expect.eth, "{what}");
        assert_eq!(c.ip_in_hdr_errors - b.ip_in_hdr_errors, expect.hdr, "{what}");
        assert_eq!(c.ip_in_addr_errors - b.ip_in_addr_errors, expect.addr, "{what}");
        assert_eq!(c.tcp_in_errs - b.tcp_in_errs, expect.tcp, "{what}");
        assert_eq!(
            c.ip_reasm_fails - b.ip_reasm_fails,
            expect.reasm_now + expect.reasm_later,
            "{what}"
        );
        assert_eq!(c.ip_reasm_oks, 0);
        assert_eq!(c.tcp_out_rsts, 0, "{what}");
    }
    // The connection is still healthy both ways.
    assert_eq!(net.a().tcp(c).unwrap().state(), State::Established);
    assert_eq!(net.b().tcp(s).unwrap().state(), State::Established);
}
