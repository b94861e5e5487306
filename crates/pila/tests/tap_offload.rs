//! TAP and TUN with the kernel's offloads (`IFF_VNET_HDR`, `TUNSETOFFLOAD`), against the
//! Linux kernel in a namespace each test makes (see `netns`): the kernel hands pila TCP
//! segments of up to 64 KiB with their checksums left to fill in, and takes pila's large
//! segments and cuts them itself. Each test moves 64 MiB both ways through an echo and
//! checks that it arrives intact and that the segments were large.

#![cfg(target_os = "linux")]

mod netns;

use netns::{Netns, unique_ifname};
use pila::device::{Device, Tap, Tun};
use pila::net::{Stack, TcpListener};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};

const TOTAL: u64 = 64 << 20;

/// Echoes one connection on `stack` at `ours`:7 while the kernel in `lab` sends [`TOTAL`]
/// bytes through it; checks the echo, and that both directions used large segments: fewer
/// than half the segments a 1500-byte MTU would take, each way.
fn kernel_echoes_in_large_segments(lab: &Netns, stack: &Stack, ours: impl Into<IpAddr>) {
    let ours = ours.into();
    let listener = TcpListener::bind(stack, (ours, 7)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 << 10];
        let mut echoed = 0u64;
        loop {
            match stream.read(&mut buf)? {
                0 => break,
                n => {
                    stream.write_all(&buf[..n])?;
                    echoed += n as u64;
                }
            }
        }
        stream.shutdown(std::net::Shutdown::Write)?;
        Ok::<_, std::io::Error>(echoed)
    });
    let before = stack.counters();
    lab.kernel_echo(&ours.to_string(), 7, TOTAL as usize);
    assert_eq!(server.join().unwrap().unwrap(), TOTAL);
    let after = stack.counters();
    let full_sized = TOTAL / 1448;
    let (got, sent) =
        (after.tcp_in_segs - before.tcp_in_segs, after.tcp_out_segs - before.tcp_out_segs);
    eprintln!("64 MiB each way: {got} segments in, {sent} out ({full_sized} at 1448 bytes)");
    assert!(got < full_sized / 2, "the kernel's segments were not coalesced: {got} arrived");
    assert!(sent < full_sized / 2, "pila's segments were not large: {sent} went out");
    assert_eq!(after.tcp_in_errs, before.tcp_in_errs, "a segment failed its checks");
}

#[test]
fn a_tap_with_offloads_moves_large_segments_both_ways() {
    let Some(lab) = Netns::new("tap-offload") else { return };
    let name = unique_ifname("otap");
    let tap = Tap::open_with_offloads(&name).expect("create a TAP with offloads");
    let offloads = tap.offloads();
    assert!(offloads.virtio_header && offloads.tcp_segmentation > 60_000, "{offloads:?}");
    assert!(tap.capabilities().max_frame_len() > 65_535);
    lab.adopt(&name);
    lab.configure(&name, "192.0.2.1/24");
    let stack = Stack::builder().device(tap).address("192.0.2.2/24").build().unwrap();
    kernel_echoes_in_large_segments(&lab, &stack, Ipv4Addr::new(192, 0, 2, 2));
}

#[test]
fn a_tap_with_offloads_moves_large_ipv6_segments_both_ways() {
    let Some(lab) = Netns::new("tap6-offload") else { return };
    let name = unique_ifname("otap6");
    let tap = Tap::open_with_offloads(&name).expect("create a TAP with offloads");
    assert!(tap.offloads().tcp_segmentation > 60_000, "{:?}", tap.offloads());
    lab.adopt(&name);
    lab.enable_ipv6(&name);
    lab.run(&["ip", "-6", "addr", "add", "2001:db8::1/64", "dev", &name, "nodad"]);
    lab.configure(&name, "192.0.2.1/24");
    let stack = Stack::builder()
        .device(tap)
        .address("192.0.2.2/24")
        .address("2001:db8::2/64")
        .build()
        .unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stack.ipv6_addresses().len() < 2 && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ours: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
    assert!(stack.ipv6_addresses().contains(&ours), "{:?}", stack.ipv6_addresses());
    kernel_echoes_in_large_segments(&lab, &stack, ours);
}

#[test]
fn a_tun_with_offloads_moves_large_segments_both_ways() {
    let Some(lab) = Netns::new("tun-offload") else { return };
    let name = unique_ifname("otun");
    let tun = Tun::open_with_offloads(&name).expect("create a TUN with offloads");
    assert!(tun.offloads().tcp_segmentation > 60_000, "{:?}", tun.offloads());
    lab.adopt(&name);
    lab.configure(&name, "198.51.100.1/24");
    let stack = Stack::builder().device(tun).address("198.51.100.2/24").build().unwrap();
    kernel_echoes_in_large_segments(&lab, &stack, Ipv4Addr::new(198, 51, 100, 2));
}
