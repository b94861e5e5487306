//! The `pila` binary against the Linux kernel: each test makes a namespace with a TAP (or
//! TUN) whose kernel end is 192.0.2.1/24, runs `pila` on the other end at 192.0.2.2, and
//! uses the kernel's own tools (nc, python3, ping, tshark) as the peer.
//!
//! Needs root and /dev/net/tun; skips with one line otherwise (fails with
//! `PILA_REQUIRE_NETNS=1`). Every namespace is deleted when its test ends, pass or fail.

mod lab;

use lab::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---- Linux → pila echo ----

fn echo_16mib(medium: Medium, impair: Option<&str>, tag: &str) {
    echo_16mib_with(medium, impair, false, tag);
}

fn echo_16mib_with(medium: Medium, impair: Option<&str>, offload: bool, tag: &str) {
    let Some(lab) = Lab::new(tag, medium) else { return };
    let mut args = vec!["--echo", "7"];
    if let Some(spec) = impair {
        args.extend(["--impair", spec]);
    }
    if offload {
        args.push("--offload");
    }
    let server = lab.serve(&args);
    let (input, sum) = lab.random_file("in", 16 * MIB, 1);
    let output = lab.path("out");
    lab.sh_ok(&format!("nc -N {PILA} 7 < {} > {}", p(&input), p(&output)));
    assert_eq!(sha256(&output), sum, "the echoed bytes differ from the sent ones");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}

#[test]
fn linux_to_pila_echo_16mib_intact() {
    echo_16mib(Medium::Tap, None, "echo");
}

#[test]
fn linux_to_pila_echo_16mib_intact_impaired() {
    echo_16mib(Medium::Tap, Some(IMPAIR), "echoimp");
}

#[test]
fn linux_to_pila_echo_16mib_intact_with_offloads() {
    echo_16mib_with(Medium::Tap, None, true, "echooff");
}

#[test]
fn linux_to_pila_echo_16mib_intact_with_offloads_impaired() {
    echo_16mib_with(Medium::Tap, Some(IMPAIR), true, "echooffimp");
}

#[test]
fn tun_echo_16mib_intact_with_offloads() {
    echo_16mib_with(Medium::Tun, None, true, "tunoff");
}

#[test]
fn tun_echo_16mib_intact() {
    echo_16mib(Medium::Tun, None, "tunecho");
}

const CONCURRENT_CLIENTS: &str = r#"
import socket, sys, threading, hashlib, os
host, n = sys.argv[1], int(sys.argv[2])
failures = []
def client(i):
    try:
        data = hashlib.sha256(str(i).encode()).digest() * 1024   # 32 KiB
        s = socket.create_connection((host, 7), timeout=60)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b: break
            got += b
        s.close()
        if bytes(got) != data: failures.append((i, len(got)))
    except Exception as e:
        failures.append((i, repr(e)))
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
if failures:
    print("failed:", failures[:5], len(failures)); sys.exit(1)
print("ok", n)
"#;

fn concurrent_clients(impair: Option<&str>, tag: &str) {
    let Some(lab) = Lab::new(tag, Medium::Tap) else { return };
    let mut args = vec!["--echo", "7"];
    if let Some(spec) = impair {
        args.extend(["--impair", spec]);
    }
    let server = lab.serve(&args);
    let out = lab.python(CONCURRENT_CLIENTS, &[PILA, "200"]);
    assert_eq!(out.trim(), "ok 200");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}

#[test]
fn linux_to_pila_echo_200_concurrent_clients() {
    concurrent_clients(None, "conc");
}

#[test]
fn linux_to_pila_echo_200_concurrent_clients_impaired() {
    concurrent_clients(Some(IMPAIR), "concimp");
}

// ---- Linux → pila discard ----

fn discard(medium: Medium, impair: Option<&str>, bytes: usize, tag: &str) {
    let Some(lab) = Lab::new(tag, medium) else { return };
    let log = lab.path("events.jsonl");
    let mut args = vec!["--discard", "9", "--events", p(&log)];
    if let Some(spec) = impair {
        args.extend(["--impair", spec]);
    }
    let server = lab.serve(&args);
    let started = Instant::now();
    lab.sh_ok(&format!("head -c {bytes} /dev/zero | nc -N {PILA} 9"));
    let took = started.elapsed();
    eprintln!("{tag}: {bytes} bytes in {took:?}");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
    let closed = events(&log, "closed");
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(field(&closed[0], "bytes_received"), bytes as u64, "{}", closed[0]);
    assert_eq!(events(&log, "established").len(), 1);
}

#[test]
fn linux_to_pila_discard_1gib_exact() {
    discard(Medium::Tap, None, 1024 * MIB, "discard");
}

#[test]
fn linux_to_pila_discard_impaired_exact() {
    discard(Medium::Tap, Some(IMPAIR), 1024 * MIB, "discimp");
}

#[test]
fn tun_discard_exact() {
    discard(Medium::Tun, None, 64 * MIB, "tundisc");
}

// ---- pila connect → Linux ----

/// Listens on port 5000, sends argv[2] (a file) while reading everything the client sends,
/// then prints the SHA-256 of what it received. It listens on the address in argv[3], of
/// either family.
const LINUX_SERVER: &str = r#"
import socket, sys, threading, hashlib
ready_file, send_path, host = sys.argv[1], sys.argv[2], sys.argv[3]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
ls = socket.socket(family); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, 5000)); ls.listen(1)
open(ready_file, "w").close()
c, _ = ls.accept()
def send():
    with open(send_path, "rb") as f:
        while True:
            b = f.read(65536)
            if not b: break
            c.sendall(b)
    c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b)
t.join(); c.close()
print(h.hexdigest())
"#;

/// `LINUX_SERVER` on `host`:5000 in the lab's namespace, sending `down`, once it listens.
fn linux_server(lab: &Lab, down: &Path, host: &str) -> std::process::Child {
    let ready = lab.path("ready");
    let server = lab
        .ns
        .command(&["python3", "-c", LINUX_SERVER, p(&ready), p(down), host])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the Linux server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

fn connect_64mib_each_way(impair: Option<&str>, tag: &str) {
    connect_64mib_each_way_to(impair, tag, false);
}

/// `pila connect` to the Linux server, over IPv6 if `v6`, moving 64 MiB each way.
fn connect_64mib_each_way_to(impair: Option<&str>, tag: &str, v6: bool) {
    let Some(lab) = Lab::new(tag, Medium::Tap) else { return };
    let lab = if v6 { lab.with_ipv6() } else { lab };
    let (up, up_sum) = lab.random_file("up", 64 * MIB, 2);
    let (down, down_sum) = lab.random_file("down", 64 * MIB, 3);
    let host = if v6 { KERNEL6 } else { KERNEL };
    let server = linux_server(&lab, &down, host);
    let received = lab.path("received");
    let mut args = vec![];
    if let Some(spec) = impair {
        args.extend(["--impair", spec]);
    }
    if v6 {
        args.extend(["--ip", PILA6_CIDR]);
    }
    let target = if v6 { format!("[{KERNEL6}]:5000") } else { format!("{KERNEL}:5000") };
    args.push(&target);
    let status = lab
        .pila("connect", &args)
        .stdin(std::fs::File::open(&up).unwrap())
        .stdout(std::fs::File::create(&received).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "pila connect exited with {status}");
    let out = server.wait_with_output().unwrap();
    assert!(out.status.success(), "server: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), up_sum, "Linux got other bytes");
    assert_eq!(sha256(&received), down_sum, "pila got other bytes");
}

/// `pila connect --trace` to the Linux server over a lossy link, 4 MiB each way: the trace
/// holds one JSON object per line for the connection — its SYN first, every state from
/// SYN-SENT to its close, the data sent and received, retransmissions with their reason,
/// RTT samples near the link's and the congestion window through recovery.
#[test]
fn pila_connect_traces_its_connection() {
    let Some(lab) = Lab::new("trace", Medium::Tap) else { return };
    let (up, up_sum) = lab.random_file("up", 4 * MIB, 4);
    let (down, _) = lab.random_file("down", 4 * MIB, 5);
    let server = linux_server(&lab, &down, KERNEL);
    let trace = lab.path("trace.jsonl");
    let target = format!("{KERNEL}:5000");
    let args = ["--impair", "loss=2%,seed=3", "--trace", p(&trace), &target];
    let status = lab
        .pila("connect", &args)
        .stdin(std::fs::File::open(&up).unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "pila connect exited with {status}");
    let out = server.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), up_sum, "Linux got other bytes");
    let text = std::fs::read_to_string(&trace).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let conn = records[0]["conn"].as_str().unwrap().to_owned();
    assert!(conn.starts_with("192.0.2.2:") && conn.ends_with("-192.0.2.1:5000"), "{conn}");
    assert!(records.iter().all(|r| r["conn"] == conn.as_str()), "one connection only");
    let of = |ev: &str| records.iter().filter(|r| r["ev"] == ev).collect::<Vec<_>>();
    let sent = of("sent");
    assert_eq!(sent[0]["flags"], "S", "{}", sent[0]);
    let data_out: u64 =
        sent.iter().filter(|r| r.get("rtx").is_none()).map(|r| r["len"].as_u64().unwrap()).sum();
    let data_in: u64 = of("recv").iter().map(|r| r["len"].as_u64().unwrap()).sum();
    assert_eq!(data_out, 4 * MIB as u64, "new data sent");
    assert!(data_in >= 4 * MIB as u64, "{data_in} bytes received");
    let resent = sent.iter().filter(|r| r.get("rtx").is_some()).count();
    assert!(resent > 0, "2% loss and no retransmission in the trace");
    let states: Vec<_> = of("state").iter().map(|r| r["to"].as_str().unwrap().to_owned()).collect();
    assert_eq!(states.first().map(String::as_str), Some("ESTABLISHED"), "{states:?}");
    assert!(states.iter().any(|s| s == "TIME-WAIT" || s == "CLOSED"), "{states:?}");
    let rtts = of("rtt");
    assert!(rtts.len() > 10, "{} RTT samples", rtts.len());
    assert!(rtts.iter().all(|r| (0.0..1.0).contains(&r["sample"].as_f64().unwrap())));
    assert!(of("cc").iter().any(|r| r["phase"] == "recovery"), "no recovery traced");
    let times: Vec<f64> = records.iter().map(|r| r["t"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time goes back in the trace");
}

#[test]
fn pila_connect_to_linux_64mib_each_way() {
    connect_64mib_each_way(None, "conn");
}

#[test]
fn pila_connect_to_linux_64mib_each_way_impaired() {
    connect_64mib_each_way(Some(IMPAIR), "connimp");
}

#[test]
fn pila_connect_to_linux_64mib_each_way_over_ipv6() {
    connect_64mib_each_way_to(None, "conn6", true);
}

#[test]
fn pila_connect_to_linux_64mib_each_way_over_ipv6_impaired() {
    connect_64mib_each_way_to(Some(IMPAIR), "connimp6", true);
}

/// The kernel sends 16 MiB to `pila serve --echo` over IPv6 and gets them back; IPv4
/// reaches the same dual-stack listener, and its events name the peer by its IPv4-mapped
/// address.
fn echo_16mib_over_ipv6(impair: Option<&str>, tag: &str) {
    let Some(lab) = Lab::new(tag, Medium::Tap) else { return };
    let lab = lab.with_ipv6();
    let log = lab.path("events.jsonl");
    let mut args = vec!["--ip", PILA6_CIDR, "--echo", "7", "--events", p(&log)];
    if let Some(spec) = impair {
        args.extend(["--impair", spec]);
    }
    let server = lab.serve(&args);
    let (input, sum) = lab.random_file("in", 16 * MIB, 4);
    let output = lab.path("out");
    lab.sh_ok(&format!("nc -6 -N {PILA6} 7 < {} > {}", p(&input), p(&output)));
    assert_eq!(sha256(&output), sum, "the echoed bytes differ from the sent ones");
    let echoed = lab.sh_ok(&format!("echo over-four | nc -4 -N {PILA} 7"));
    assert_eq!(echoed.trim(), "over-four");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
    let closed = events(&log, "closed");
    let six = format!("\"remote\":\"[{KERNEL6}]:");
    assert!(closed.iter().any(|e| e.contains(&six)), "no IPv6 connection closed: {closed:?}");
    let four = format!("\"remote\":\"{KERNEL}:");
    assert!(closed.iter().any(|e| e.contains(&four)), "no IPv4 connection closed: {closed:?}");
}

#[test]
fn linux_to_pila_echo_16mib_over_ipv6() {
    echo_16mib_over_ipv6(None, "echo6");
}

#[test]
fn linux_to_pila_echo_16mib_over_ipv6_impaired() {
    echo_16mib_over_ipv6(Some(IMPAIR), "echoimp6");
}

// ---- refused both ways ----

const CONNECT_REFUSED: &str = r#"
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    print("connected")
except ConnectionRefusedError:
    print("Connection refused")
"#;

#[test]
fn refused_both_ways() {
    let Some(lab) = Lab::new("refused", Medium::Tap) else { return };
    let log = lab.path("events.jsonl");
    let server = lab.serve(&["--echo", "7", "--events", p(&log)]);
    let out = lab.python(CONNECT_REFUSED, &[PILA, "81"]);
    assert_eq!(out.trim(), "Connection refused");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
    let refused = events(&log, "refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains(&format!("\"local\":\"{PILA}:81\"")), "{}", refused[0]);
    assert!(refused[0].contains(&format!("\"remote\":\"{KERNEL}:")), "{}", refused[0]);

    // Nothing listens on the kernel's port 5999: pila connect fails, naming the address.
    let out =
        lab.pila("connect", &[&format!("{KERNEL}:5999")]).stdin(Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("pila: connection to 192.0.2.1:5999 refused — "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

// ---- ping ----

#[test]
fn ping_both_ways() {
    let Some(lab) = Lab::new("ping", Medium::Tap) else { return };
    let server = lab.serve(&["--udp-echo", "7"]);
    let out = lab.sh_ok(&format!("ping -c 3 -i 0.2 -W 2 {PILA}"));
    assert!(out.contains("3 received"), "{out}");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");

    let out = lab.pila("ping", &["-c", "3", KERNEL]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for seq in 1..=3 {
        let line = format!("64 bytes from {KERNEL}: icmp_seq={seq} time=");
        assert!(text.contains(&line), "missing {line:?} in {text}");
    }
    assert!(text.contains("3 packets transmitted, 3 received, 0% packet loss"), "{text}");

    let out = lab.pila("ping", &["-c", "2", "192.0.2.99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "no reply from a missing host is a failure");
}

/// `pila ping` to an IPv6 host: `--ip` given twice, IPv4 and IPv6; replies counted as
/// ping(8) counts them, and the kernel reaches pila's IPv6 address too.
#[test]
fn ping_over_ipv6() {
    let Some(lab) = Lab::new("ping6", Medium::Tap) else { return };
    lab.ns.enable_ipv6(lab::DEV);
    lab.sh_ok(&format!("ip -6 addr add 2001:db8::1/64 dev {} nodad", lab::DEV));
    let out = lab.pila("ping", &["--ip", "2001:db8::2/64", "-c", "6", "2001:db8::1"]).output();
    let out = out.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("PING 2001:db8::1 (2001:db8::1) 56(104) bytes of data."), "{text}");
    // `pila ping` waits for its address to pass duplicate address detection first.
    for seq in 1..=6 {
        let line = format!("64 bytes from 2001:db8::1: icmp_seq={seq} time=");
        assert!(text.contains(&line), "missing {line:?} in {text}");
    }
    assert!(text.contains("6 packets transmitted, 6 received, 0% packet loss"), "{text}");
    let out = lab.pila("ping", &["-c", "1", "--ip", "2001:db8::2/64"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a missing host is a usage error");
    let out = lab.pila("ping", &["--ip", "2001:db8::2/640", "2001:db8::1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("like 192.0.2.2/24 or 2001:db8::2/64"), "{err}");
}

/// 3000-byte echoes over IPv6, in fragments both ways (RFC 8200 §4.5): `ping -6 -s 3000`
/// from the kernel to `pila serve`, and `pila ping -s 3000` to the kernel; the same over
/// IPv4.
#[test]
fn large_pings_go_in_fragments_both_ways() {
    let Some(lab) = Lab::new("ping6big", Medium::Tap) else { return };
    let lab = lab.with_ipv6();
    let server = lab.serve(&["--ip", PILA6_CIDR, "--udp-echo", "7"]);
    for (flag, host) in [("-6", PILA6), ("-4", PILA)] {
        let out = lab.sh_ok(&format!("ping {flag} -c 3 -i 0.2 -W 2 -s 3000 {host}"));
        assert!(out.contains("3 received"), "{out}");
        assert!(out.contains("3008 bytes from"), "{out}");
    }
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
    for (ip, host) in [(Some(PILA6_CIDR), KERNEL6), (None, KERNEL)] {
        let mut args = vec!["-c", "3", "-s", "3000"];
        if let Some(cidr) = ip {
            args.extend(["--ip", cidr]);
        }
        args.push(host);
        let out = lab.pila("ping", &args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&format!("3008 bytes from {host}: icmp_seq=1")), "{text}");
        assert!(text.contains("3 packets transmitted, 3 received"), "{text}");
    }
}

// ---- UDP ----

const UDP_CLIENT: &str = r#"
import socket, sys
host, sizes = sys.argv[1], [int(n) for n in sys.argv[2].split(",")]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
for size in sizes:
    data = bytes(i % 251 for i in range(size))
    s.sendto(data, (host, 7))
    got, frm = s.recvfrom(65536)
    assert got == data and frm == (host, 7), (size, len(got), frm)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(3)
c.connect((host, 8))
c.send(b"anyone?")
try:
    c.recv(100); print("answered")
except ConnectionRefusedError:
    print("ECONNREFUSED")
"#;

#[test]
fn udp_echo_and_port_unreachable() {
    let Some(lab) = Lab::new("udp", Medium::Tap) else { return };
    let server = lab.serve(&["--udp-echo", "7"]);
    // Up to the largest datagram that fits one 1500-byte packet.
    let out = lab.python(UDP_CLIENT, &[PILA, "0,1,100,1472"]);
    assert_eq!(out.trim(), "ECONNREFUSED");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}

#[test]
fn udp_echo_fragmented() {
    let Some(lab) = Lab::new("udpfrag", Medium::Tap) else { return };
    let server = lab.serve(&["--udp-echo", "7"]);
    let out = lab.python(UDP_CLIENT, &[PILA, "1473,4000,65507"]);
    assert_eq!(out.trim(), "ECONNREFUSED");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}

// ---- half-close ----

/// Sends, half-closes, then reads the echo to the end: pila must go on sending after our FIN.
const HALF_CLOSE_CLIENT: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), timeout=20)
data = b"half-closed " * 100000
s.sendall(data); s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b: break
    got += b
assert bytes(got) == data, len(got)
print("ok")
"#;

/// Reads to the end of what the client sends (its FIN), then answers and closes.
const HALF_CLOSE_SERVER: &str = r#"
import socket, sys
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("192.0.2.1", 5001)); ls.listen(1)
open(sys.argv[1], "w").close()
c, _ = ls.accept()
n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
c.sendall(b"after your FIN I got %d bytes\n" % n)
c.close()
"#;

fn half_close(impair: Option<&str>, tag: &str) {
    let Some(lab) = Lab::new(tag, Medium::Tap) else { return };
    let impair: Vec<&str> = impair.map(|spec| vec!["--impair", spec]).unwrap_or_default();
    // Linux half-closes; pila's echo keeps sending after the FIN.
    let mut args = vec!["--echo", "7"];
    args.extend(&impair);
    let server = lab.serve(&args);
    assert_eq!(lab.python(HALF_CLOSE_CLIENT, &[PILA]).trim(), "ok");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");

    // pila half-closes at the end of its input; Linux answers after reading the FIN.
    let ready = lab.path("ready");
    let server = lab.ns.command(&["python3", "-c", HALF_CLOSE_SERVER, p(&ready)]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the Linux server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = format!("{KERNEL}:5001");
    let mut args = impair.clone();
    args.push(&target);
    let mut child = lab
        .pila("connect", &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&[b'x'; 100_000]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after your FIN I got 100000 bytes\n");
    let _ = server.wait_with_output();
}

#[test]
fn half_close_both_ways() {
    half_close(None, "half");
}

#[test]
fn half_close_both_ways_impaired() {
    half_close(Some(IMPAIR), "halfimp");
}

// ---- negotiation in a capture ----

fn tshark(capture: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut args = vec!["-r", p(capture), "-Y", filter, "-T", "fields"];
    for f in fields {
        args.extend(["-e", f]);
    }
    let out = Command::new("tshark").args(&args).output().unwrap();
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn negotiation_and_sack_in_a_capture() {
    if Command::new("tshark").arg("-v").output().is_err() {
        let required = std::env::var_os("CI").is_some()
            || std::env::var("PILA_REQUIRE_NETNS").is_ok_and(|v| v == "1");
        assert!(!required, "tshark is missing: install it (apt-get install tshark)");
        eprintln!("skipping negotiation_and_sack_in_a_capture: tshark is missing");
        return;
    }
    let Some(lab) = Lab::new("tshark", Medium::Tap) else { return };
    let capture = lab.path("pila.pcap");
    let server = lab.serve(&["--echo", "7", "--pcap", p(&capture), "--impair", IMPAIR]);
    let (input, sum) = lab.random_file("in", 4 * MIB, 4);
    let output = lab.path("out");
    lab.sh_ok(&format!("nc -N {PILA} 7 < {} > {}", p(&input), p(&output)));
    assert_eq!(sha256(&output), sum);
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");

    let fields = [
        "ip.src",
        "tcp.options.mss_val",
        "tcp.options.wscale.shift",
        "tcp.options.sack_perm",
        "tcp.options.timestamp.tsval",
    ];
    for (filter, from) in [
        ("tcp.flags.syn == 1 && tcp.flags.ack == 0", KERNEL),
        ("tcp.flags.syn == 1 && tcp.flags.ack == 1", PILA),
    ] {
        let rows = tshark(&capture, filter, &fields);
        assert!(!rows.is_empty(), "no {filter} in the capture");
        for row in rows {
            let cols: Vec<&str> = row.split('\t').collect();
            assert_eq!(cols[0], from, "{filter}: {row}");
            assert!(cols[1].parse::<u16>().is_ok_and(|mss| mss >= 536), "MSS in {filter}: {row}");
            assert!(cols[2].parse::<u8>().is_ok(), "window scale in {filter}: {row}");
            assert!(!cols[3].is_empty(), "SACK-permitted in {filter}: {row}");
            assert!(cols[4].parse::<u32>().is_ok(), "timestamps in {filter}: {row}");
        }
    }
    for from in [KERNEL, PILA] {
        let rows = tshark(
            &capture,
            &format!("ip.src == {from} && tcp.options.sack_le"),
            &["frame.number"],
        );
        assert!(!rows.is_empty(), "{from} sent no SACK block under loss");
    }
    assert_retransmits_only_what_was_not_sacked(&capture);
}

/// pila uses the kernel's SACK blocks. With SACK a sender repairs holes above the first one
/// before the cumulative ACK reaches them (NewReno alone only ever resends at SND.UNA), and it
/// does not resend what the receiver reported holding. The capture sits above the impairment
/// layer, so it shows every segment pila sent (lost ones too) and the kernel's segments as
/// pila received them.
fn assert_retransmits_only_what_was_not_sacked(capture: &Path) {
    let rows = tshark(
        capture,
        "tcp.len > 0 || tcp.options.sack_le || tcp.flags.ack == 1",
        &["ip.src", "tcp.seq", "tcp.len", "tcp.options.sack_le", "tcp.options.sack_re", "tcp.ack"],
    );
    // Relative sequence numbers: pila's data and the kernel's ACKs and SACK blocks for it
    // share a base.
    let mut sacked: Vec<(u64, u64)> = Vec::new();
    let (mut highest_sent, mut acked) = (0u64, 0u64);
    let (mut retransmissions, mut beyond_una, mut of_sacked) = (0u64, 0u64, Vec::new());
    for row in rows {
        let cols: Vec<&str> = row.split('\t').collect();
        let num = |i: usize| cols.get(i).and_then(|c| c.parse::<u64>().ok());
        if cols[0] == KERNEL {
            let edges = |i: usize| -> Vec<u64> {
                cols.get(i)
                    .map_or(Vec::new(), |c| c.split(',').filter_map(|v| v.parse().ok()).collect())
            };
            sacked.extend(edges(3).into_iter().zip(edges(4)));
            acked = acked.max(num(5).unwrap_or(0));
        } else if let (Some(seq), Some(len)) = (num(1), num(2)) {
            let end = seq + len;
            if len > 0 && end <= highest_sent {
                retransmissions += 1;
                if seq > acked {
                    beyond_una += 1;
                }
                if sacked.iter().any(|&(left, right)| left <= seq && end <= right) {
                    of_sacked.push((seq, end));
                }
            }
            highest_sent = highest_sent.max(end);
        }
    }
    eprintln!(
        "pila: {retransmissions} retransmissions, {beyond_una} above the cumulative ACK, {} of SACKed bytes",
        of_sacked.len()
    );
    assert!(retransmissions > 0, "no retransmission in the capture: the check proved nothing");
    assert!(beyond_una > 0, "every retransmission was at SND.UNA: SACK blocks were not used");
    // A tail-loss probe may resend the last segment whatever its state (RFC 8985 §7.3), and
    // a receiver may renege; anything more means the SACK blocks were ignored.
    assert!(
        of_sacked.len() as u64 * 20 <= retransmissions,
        "pila resent bytes the kernel had SACKed: {of_sacked:?} of {retransmissions} retransmissions"
    );
}

// ---- pila listen, chargen, stopping with connections open ----

#[test]
fn linux_to_pila_listen_both_ways() {
    let Some(lab) = Lab::new("listen", Medium::Tap) else { return };
    let (up, up_sum) = lab.random_file("up", 4 * MIB, 5);
    let (down, down_sum) = lab.random_file("down", 4 * MIB, 6);
    let received = lab.path("received");
    let mut pila = lab
        .pila("listen", &["6000"])
        .stdin(std::fs::File::open(&down).unwrap())
        .stdout(std::fs::File::create(&received).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // pila answers SYNs once it listens; nc retries until then.
    let got = lab.path("got");
    let script = format!(
        "for i in $(seq 50); do nc -N {PILA} 6000 < {} > {} && exit 0; sleep 0.1; done; exit 1",
        p(&up),
        p(&got)
    );
    lab.sh_ok(&script);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = pila.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "pila listen did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "pila listen exited with {status}");
    assert_eq!(sha256(&received), up_sum, "pila got other bytes");
    assert_eq!(sha256(&got), down_sum, "Linux got other bytes");
}

const CHARGEN_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], 19), timeout=10)
got = bytearray()
while len(got) < 100000:
    b = s.recv(65536)
    assert b, "chargen ended early"
    got += b
s.close()
lines = bytes(got).split(b"\r\n")[:50]
for i, line in enumerate(lines):
    want = bytes(32 + (i + j) % 95 for j in range(72))
    assert line == want, (i, line)
print("ok")
"#;

#[test]
fn linux_reads_pila_chargen() {
    let Some(lab) = Lab::new("chargen", Medium::Tap) else { return };
    let server = lab.serve(&["--chargen", "19"]);
    assert_eq!(lab.python(CHARGEN_CLIENT, &[PILA]).trim(), "ok");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}

/// Connects, checks the echo works, then waits for pila to close the connection.
const IDLE_CLIENT: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), timeout=20)
s.sendall(b"ping"); assert s.recv(4) == b"ping"
open(sys.argv[2], "w").close()
assert s.recv(100) == b"", "expected pila's FIN"
print("closed by pila")
"#;

#[test]
fn serve_closes_its_connections_on_sigterm() {
    let Some(lab) = Lab::new("stop", Medium::Tap) else { return };
    let log = lab.path("events.jsonl");
    let server = lab.serve(&["--echo", "7", "--events", p(&log)]);
    let ready = lab.path("ready");
    let client = lab
        .ns
        .command(&["python3", "-c", IDLE_CLIENT, PILA, p(&ready)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the client did not connect");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
    let out = client.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "closed by pila",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(events(&log, "established").len(), 1);
}
