//! IPv6 against the Linux kernel over a TAP in a namespace each test makes (see `netns`):
//! neighbour discovery both ways, `ping -6` to pila's link-local and global addresses,
//! pila's pings answered by the kernel, and duplicate address detection against a kernel
//! that already holds the address. Documentation prefix 2001:db8::/32 only.

#![cfg(target_os = "linux")]

mod netns;

use core::net::Ipv6Addr;
use netns::{Netns, unique_ifname};
use pila::device::{Pcap, Tap};
use pila::net::Stack;
use std::time::{Duration, Instant};

const KERNEL: &str = "2001:db8::1";
const PILA: &str = "2001:db8::2";

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// A lab whose TAP the kernel side holds with `kernel_cidr` (no duplicate address
/// detection of its own, so it is usable at once), IPv6 on; and pila on the TAP's other
/// end with `pila_cidr` beside its IPv4 address.
fn lab(
    tag: &str,
    kernel_cidr: &str,
    pila_cidr: &str,
    capture: Option<&std::path::Path>,
) -> Option<(Netns, String, Stack)> {
    let lab = Netns::new(tag)?;
    let name = unique_ifname("tap6");
    let tap = Tap::create(&name).expect("create a TAP");
    lab.adopt(&name);
    lab.enable_ipv6(&name);
    netns::check_addr(kernel_cidr);
    lab.run(&["ip", "-6", "addr", "add", kernel_cidr, "dev", &name, "nodad"]);
    lab.configure(&name, "192.0.2.1/24");
    let builder = match capture {
        Some(path) => Stack::builder().device(Pcap::create(tap, path).expect("a capture file")),
        None => Stack::builder().device(tap),
    };
    let stack = builder.address("192.0.2.2/24").address(pila_cidr).build().expect("start pila");
    Some((lab, name, stack))
}

/// Waits until pila holds `count` addresses through duplicate address detection.
fn wait_for_addresses(stack: &Stack, count: usize) -> Vec<Ipv6Addr> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let addresses = stack.ipv6_addresses();
        if addresses.len() >= count || Instant::now() > end {
            return addresses;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The kernel's link-local address on `ifname`, once it is through its own detection.
fn kernel_link_local(lab: &Netns, ifname: &str) -> Ipv6Addr {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = lab.run(&["ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "link"]);
        let ready = !shown.contains("tentative");
        let addr = shown.split_whitespace().skip_while(|w| *w != "inet6").nth(1);
        if let (true, Some(addr)) = (ready, addr) {
            return addr.split('/').next().unwrap().parse().expect("an IPv6 address");
        }
        assert!(Instant::now() < end, "no link-local address on {ifname}: {shown}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_kernel_and_pila_ping_each_other_over_link_local_and_global_addresses() {
    let capture = std::env::temp_dir().join(format!("pila-tap6-{}.pcap", std::process::id()));
    let Some((lab, name, stack)) =
        lab("tap6-ping", &format!("{KERNEL}/64"), &format!("{PILA}/64"), Some(&capture))
    else {
        return;
    };
    let addresses = wait_for_addresses(&stack, 2);
    assert_eq!(addresses.len(), 2, "pila's addresses did not pass detection: {addresses:?}");
    let (link_local, global) = (addresses[0], addresses[1]);
    assert_eq!(global, ip6(PILA));
    assert_eq!(link_local.segments()[0], 0xfe80);
    // The kernel resolves pila by neighbour discovery and pings both addresses.
    let out = lab.exec(&["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", PILA]);
    assert!(out.status.success(), "ping -6 {PILA}: {}", String::from_utf8_lossy(&out.stdout));
    let scoped = format!("{link_local}%{name}");
    let out = lab.exec(&["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", &scoped]);
    assert!(out.status.success(), "ping -6 {scoped}: {}", String::from_utf8_lossy(&out.stdout));
    // The kernel learned pila's MAC from neighbour discovery.
    let neigh = lab.run(&["ip", "-6", "neigh", "show", "dev", &name]);
    assert!(neigh.contains(PILA), "{neigh}");
    // Pila pings the kernel's global and link-local addresses.
    let rtt = stack.ping(ip6(KERNEL), Duration::from_secs(5)).expect("the kernel answers");
    assert!(rtt < Duration::from_secs(1), "{rtt:?}");
    let kernel_ll = kernel_link_local(&lab, &name);
    stack.ping(kernel_ll, Duration::from_secs(5)).expect("the kernel's link-local answers");
    let c = stack.counters();
    assert!(c.icmp6_in_echos >= 6, "{c:?}");
    assert!(c.icmp6_in_echo_replies >= 2);
    assert!(c.icmp6_out_neighbor_advertisements >= 1);
    assert_eq!(c.nd_dad_conflicts, 0);
    assert_eq!(c.icmp6_in_errors, 0, "everything the kernel sent parsed and passed the checks");
    drop(stack);
    // Wireshark's dissectors read every ICMPv6 message pila sent, checksums right.
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args(["-Y", "icmpv6 && eth.src == 02:00:c0:00:02:02", "-T", "fields"])
        .args(["-e", "icmpv6.type", "-e", "icmpv6.checksum.status", "-e", "_ws.malformed"])
        .output();
    let _ = std::fs::remove_file(&capture);
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            assert!(std::env::var_os("PILA_REQUIRE_NETNS").is_none(), "tshark is needed: {e}");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert!(rows.iter().all(|r| r.get(1) == Some(&"1")), "a bad checksum: {text}");
    assert!(rows.iter().all(|r| r.get(2).is_none_or(|m| m.is_empty())), "malformed: {text}");
    for kind in ["135", "136", "143", "128", "129"] {
        assert!(rows.iter().any(|r| r[0] == kind), "no ICMPv6 type {kind} from pila: {text}");
    }
}

#[test]
fn an_address_the_kernel_already_holds_is_detected_and_never_used() {
    // The kernel holds 2001:db8::2 already; pila is configured with it too.
    let Some((_lab, _name, stack)) =
        lab("tap6-dad", &format!("{PILA}/64"), &format!("{PILA}/64"), None)
    else {
        return;
    };
    let end = Instant::now() + Duration::from_secs(10);
    while stack.counters().nd_dad_conflicts == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(stack.counters().nd_dad_conflicts, 1, "the kernel defended its address");
    let addresses = wait_for_addresses(&stack, 1);
    assert_eq!(addresses.len(), 1, "only the link-local address: {addresses:?}");
    assert_eq!(addresses[0].segments()[0], 0xfe80);
    let err = stack.ping(ip6(KERNEL), Duration::from_millis(500)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NetworkUnreachable, "{err}");
}

/// A UDP echo server of the kernel's on `[2001:db8::1]:7000`, started in `lab`; it says
/// `ready` once bound.
const KERNEL_UDP_ECHO: &str = r#"
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('2001:db8::1', 7000))
print('ready', flush=True)
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data.upper(), peer)
"#;

/// A kernel socket connected to pila's closed port 9: says what came of its datagram.
const KERNEL_UDP_PROBE: &str = r#"
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(('2001:db8::2', 9))
s.send(b'anyone?')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('silence')
"#;

#[test]
fn udp_echo_with_the_kernel_and_its_connected_socket_hears_refused() {
    let Some((lab, _name, stack)) =
        lab("tap6-udp", &format!("{KERNEL}/64"), &format!("{PILA}/64"), None)
    else {
        return;
    };
    assert_eq!(wait_for_addresses(&stack, 2).len(), 2);
    let mut server = lab.spawn(&["python3", "-c", KERNEL_UDP_ECHO]);
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(server.stdout.as_mut().unwrap(), &mut ready).unwrap();
    let socket = pila::net::UdpSocket::bind(&stack, "[::]:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for round in 0..3 {
        let text = format!("datagram {round} over six");
        socket.send_to(text.as_bytes(), "[2001:db8::1]:7000").unwrap();
        let mut buf = [0u8; 2048];
        let (len, from) = socket.recv_from(&mut buf).expect("the kernel's echo");
        assert_eq!(&buf[..len], text.to_uppercase().as_bytes());
        assert_eq!(from, "[2001:db8::1]:7000".parse().unwrap());
    }
    // The kernel's connected socket to a port pila has closed gets ECONNREFUSED, from
    // pila's ICMPv6 port unreachable.
    let said = lab.run(&["python3", "-c", KERNEL_UDP_PROBE]);
    assert_eq!(said.trim(), "refused");
    let c = stack.counters();
    assert!(c.udp_in_datagrams >= 3 && c.icmp6_out_dest_unreachs >= 1, "{c:?}");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn an_address_from_the_prefix_radvd_advertises() {
    let Some((lab, name, stack)) = lab("tap6-ra", "2001:db8:1::1/64", &format!("{PILA}/64"), None)
    else {
        return;
    };
    // radvd advertises 2001:db8:1::/64, on-link and autonomous, every few seconds, and
    // answers pila's solicitation at once.
    let conf = std::env::temp_dir().join(format!("pila-radvd-{}.conf", std::process::id()));
    let pid = std::env::temp_dir().join(format!("pila-radvd-{}.pid", std::process::id()));
    std::fs::write(
        &conf,
        format!(
            "interface {name} {{\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n \
             MaxRtrAdvInterval 4;\n prefix 2001:db8:1::/64 {{ AdvOnLink on; AdvAutonomous on; }};\n}};\n"
        ),
    )
    .unwrap();
    lab.run(&["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"]);
    let conf_arg = conf.to_string_lossy().into_owned();
    let pid_arg = pid.to_string_lossy().into_owned();
    let mut radvd = lab.spawn(&["radvd", "-n", "-m", "stderr", "-C", &conf_arg, "-p", &pid_arg]);
    let end = Instant::now() + Duration::from_secs(15);
    let slaac = loop {
        let found =
            stack.ipv6_addresses().into_iter().find(|a| a.segments()[..4] == [0x2001, 0xdb8, 1, 0]);
        if let Some(addr) = found {
            break Some(addr);
        }
        if Instant::now() > end {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = radvd.kill();
    let _ = radvd.wait();
    let _ = std::fs::remove_file(&conf);
    let _ = std::fs::remove_file(&pid);
    let slaac = slaac.expect("no address from radvd's prefix");
    assert_ne!(slaac.segments()[4..], [0, 0, 0, 0]);
    let c = stack.counters();
    assert!(c.icmp6_in_router_advertisements >= 1, "{c:?}");
    assert!(c.icmp6_out_router_solicits >= 1);
    // The kernel reaches pila at it.
    let target = slaac.to_string();
    let out = lab.exec(&["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", &target]);
    assert!(out.status.success(), "ping -6 {target}: {}", String::from_utf8_lossy(&out.stdout));
}

/// Reads a connection to its end and answers with the SHA-256 of what came, in hex.
const FAR_SINK: &str = r#"
import socket, hashlib
ls = socket.socket(socket.AF_INET6); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("2001:db8:1::2", 5000)); ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b)
c.sendall(h.hexdigest().encode()); c.close()
"#;

/// pila sends 4 MiB through a Linux router whose next link carries 1300 bytes: the router's
/// Packet Too Big lowers pila's path MTU (RFC 8201) and the bytes arrive intact.
#[test]
fn a_linux_router_with_a_smaller_mtu_lowers_the_path_mtu() {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Write};
    let Some(router) = Netns::new("tap6-pmtu") else { return };
    let Some(far) = Netns::new("tap6-far") else { return };
    let name = unique_ifname("tap6");
    let tap = Tap::create(&name).expect("create a TAP");
    router.adopt(&name);
    router.enable_ipv6(&name);
    router.run(&["ip", "-6", "addr", "add", "2001:db8::1/64", "dev", &name, "nodad"]);
    router.configure(&name, "192.0.2.1/24");
    // The far link: 1300 bytes leaving the router, 1500 at the far host (which therefore
    // offers an MSS of 1440 and never learns of the narrow hop on its own).
    let (r_end, f_end) = (unique_ifname("r6"), unique_ifname("f6"));
    router.veth(&r_end, "198.51.100.1/24", &far, &f_end, "198.51.100.2/24");
    router.enable_ipv6(&r_end);
    far.enable_ipv6(&f_end);
    router.run(&["ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", &r_end, "nodad"]);
    far.run(&["ip", "-6", "addr", "add", "2001:db8:1::2/64", "dev", &f_end, "nodad"]);
    router.run(&["ip", "link", "set", "dev", &r_end, "mtu", "1300"]);
    far.run(&["ip", "-6", "route", "add", "2001:db8::/64", "via", "2001:db8:1::1"]);
    router.run(&["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"]);
    let mut sink = far.spawn(&["python3", "-c", FAR_SINK]);
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(sink.stdout.as_mut().unwrap(), &mut ready).unwrap();
    let stack = Stack::builder()
        .device(tap)
        .address("192.0.2.2/24")
        .address(format!("{PILA}/64"))
        .configure(|c| {
            if let Some(v6) = c.ipv6.as_mut() {
                v6.gateway = Some(ip6(KERNEL));
            }
        })
        .build()
        .expect("start pila");
    assert_eq!(wait_for_addresses(&stack, 2).len(), 2);
    let mut stream = pila::net::TcpStream::connect(&stack, "[2001:db8:1::2]:5000").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let data: Vec<u8> =
        (0..4u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    stream.write_all(&data).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let sum: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(answer, sum, "the far host got other bytes");
    let info = stream.tcp_info().unwrap();
    // 1300 less 40 bytes of IPv6 header, 20 of TCP and 12 of timestamps.
    assert_eq!(info.snd_mss, 1228, "{info:?}");
    let c = stack.counters();
    assert!(c.icmp6_in_pkt_too_bigs >= 1, "{c:?}");
    let _ = sink.kill();
    let _ = sink.wait();
}
