//! `pila proxy` between real clients and servers, in three namespaces: a client namespace
//! whose traffic to the far prefixes goes to the proxy namespace, where the kernel routes
//! what comes from the client into pila's TUN (`ip rule add iif ...`), and the far
//! namespace with the servers, which pila's relay reaches with the kernel's own sockets
//! (`--direct`) or through a SOCKS5 server there (Debian's microsocks).
//!
//! ```text
//!  client 192.0.2.2 ──veth── 192.0.2.1 proxy (TUN pt0: pila) 198.51.100.1 ──veth── 198.51.100.2 far
//!  2001:db8:c::2              2001:db8:c::1          2001:db8:f::1               2001:db8:f::2
//! ```

mod lab;

use lab::{Netns, sha256};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

/// The far servers: HTTP (GET a file, PUT answers the body's SHA-256) on 8080; on 9000 a
/// server that half-closes first: it sends "hello", shuts its sending half, then reads the
/// client's bytes to their end and answers nothing more (it writes their SHA-256 to the
/// file it was given); on UDP 5353 a DNS-like server that answers each query.
const FAR_SERVERS: &str = r#"
import hashlib, http.server, os, socket, sys, threading
root, host, done = sys.argv[1], sys.argv[2], sys.argv[3]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def do_PUT(self):
        left = int(self.headers["Content-Length"])
        h = hashlib.sha256()
        while left:
            chunk = self.rfile.read(min(left, 1 << 16))
            h.update(chunk)
            left -= len(chunk)
        body = h.hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(http.server.ThreadingHTTPServer):
    address_family = family
    request_queue_size = 512
web = S((host, 8080), H)
threading.Thread(target=web.serve_forever, daemon=True).start()
def dns():
    u = socket.socket(family, socket.SOCK_DGRAM)
    u.bind((host, 5353))
    while True:
        q, peer = u.recvfrom(2048)
        u.sendto(b"answer:" + q, peer)
threading.Thread(target=dns, daemon=True).start()
def hold():
    l = socket.socket(family)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, 9001))
    l.listen(16)
    while True:
        c, _ = l.accept()
        c.sendall(b"hi")
        threading.Thread(target=lambda c=c: (c.recv(1), c.close()), daemon=True).start()
threading.Thread(target=hold, daemon=True).start()
half = socket.socket(family)
half.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
half.bind((host, 9000))
half.listen(16)
print("ready", flush=True)
while True:
    c, _ = half.accept()
    c.sendall(b"hello")
    c.shutdown(socket.SHUT_WR)
    h = hashlib.sha256()
    while chunk := c.recv(1 << 16):
        h.update(chunk)
    c.close()
    with open(done, "a") as f:
        f.write(h.hexdigest() + "\n")
"#;

/// The client's half-close check against port 9000: reads "hello" to its end (the server
/// has half-closed), then sends `n` bytes and half-closes; prints the bytes' SHA-256.
const HALF_CLOSE_CLIENT: &str = r#"
import hashlib, socket, sys
host, n = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, 9000), timeout=20)
got = b""
while chunk := s.recv(100):
    got += chunk
assert got == b"hello", got
data = bytes(i % 251 for i in range(n))
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.settimeout(20)
assert s.recv(1) == b""
print(hashlib.sha256(data).hexdigest())
"#;

/// Connects to HOST PORT and prints "connected" or the errno the connect failed with, and
/// how many seconds it took.
const CONNECT_CLIENT: &str = r#"
import socket, sys, time
t = time.time()
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30).close()
    print("connected", round(time.time() - t, 1))
except OSError as e:
    print(e.errno, round(time.time() - t, 1))
"#;

/// Three queries to HOST's UDP port 5353 from one socket, each answered (asked again
/// after a second without an answer, as a resolver does, up to five times); prints "ok".
const UDP_CLIENT: &str = r#"
import socket, sys
host = sys.argv[1]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
u = socket.socket(family, socket.SOCK_DGRAM)
u.settimeout(1)
for i in range(3):
    q = b"query %d" % i
    for attempt in range(5):
        u.sendto(q, (host, 5353))
        try:
            a, peer = u.recvfrom(2048)
            break
        except socket.timeout:
            continue
    else:
        sys.exit("no answer to %r" % q)
    assert a == b"answer:" + q, a
    assert peer[0] == host, peer
print("ok")
"#;

/// Connects to HOST's port 9001, whose server says "hi" and then waits for the client;
/// prints "connected", then how the connection ended: "fin" or "reset".
const HOLD_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], 9001), timeout=30)
assert s.recv(2) == b"hi"
print("connected", flush=True)
try:
    print("fin" if s.recv(1) == b"" else "data")
except ConnectionResetError:
    print("reset")
"#;

/// `n` GETs of URL at once, each on its own connection; prints how many came back whole.
const PARALLEL_CLIENT: &str = r#"
import sys, threading, urllib.request
url, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = []
def get():
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            if len(r.read()) == size:
                ok.append(1)
    except Exception as e:
        print(e, file=sys.stderr)
ts = [threading.Thread(target=get) for _ in range(n)]
[t.start() for t in ts]
[t.join() for t in ts]
print(len(ok))
"#;

/// The three namespaces, wired and routed, with the far servers running.
struct Proxied {
    client: Netns,
    proxy: Netns,
    far: Netns,
    dir: PathBuf,
    _servers: Vec<Child>,
}

impl Proxied {
    fn new(tag: &str) -> Option<Self> {
        let client = Netns::new(&format!("{tag}c"))?;
        let proxy = Netns::new(&format!("{tag}p"))?;
        let far = Netns::new(&format!("{tag}f"))?;
        for ns in [&client, &proxy, &far] {
            for key in ["all", "default"] {
                ns.run(&[
                    "sh",
                    "-c",
                    &format!("echo 0 > /proc/sys/net/ipv6/conf/{key}/disable_ipv6"),
                ]);
            }
        }
        proxy.veth("pxa", "192.0.2.1/30", &client, "cla", "192.0.2.2/30");
        proxy.veth("pxb", "198.51.100.1/24", &far, "fab", "198.51.100.2/24");
        let sh = |ns: &Netns, script: &str| {
            ns.run(&["sh", "-c", script]);
        };
        sh(
            &proxy,
            "ip -6 addr add 2001:db8:c::1/64 dev pxa nodad && ip -6 addr add 2001:db8:f::1/64 dev pxb nodad",
        );
        sh(&client, "ip -6 addr add 2001:db8:c::2/64 dev cla nodad");
        sh(&far, "ip -6 addr add 2001:db8:f::2/64 dev fab nodad");
        sh(
            &client,
            "ip route add 198.51.100.0/24 via 192.0.2.1 && ip -6 route add 2001:db8:f::/64 via 2001:db8:c::1",
        );
        // What comes from the client is routed into the TUN; the proxy's own sockets use the
        // main table, which reaches the far namespace.
        sh(
            &proxy,
            "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
             net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 && \
             ip tuntap add dev pt0 mode tun && ip link set dev pt0 up && \
             sysctl -qw net.ipv4.conf.pt0.rp_filter=0 && \
             ip route add 198.51.100.0/24 dev pt0 table 100 && \
             ip -6 route add 2001:db8:f::/64 dev pt0 table 100 && \
             ip rule add iif pxa lookup 100 && ip -6 rule add iif pxa lookup 100",
        );
        let dir = std::env::temp_dir().join(proxy.name());
        std::fs::create_dir_all(&dir).unwrap();
        let mut servers = Vec::new();
        for host in ["198.51.100.2", "2001:db8:f::2"] {
            let done = dir.join(format!("half-{}", host.replace(':', "_")));
            let mut child = far.spawn(&[
                "python3",
                "-c",
                FAR_SERVERS,
                dir.to_str().unwrap(),
                host,
                done.to_str().unwrap(),
            ]);
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready", "the far servers did not start on {host}");
            servers.push(child);
        }
        Some(Self { client, proxy, far, dir, _servers: servers })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Starts `pila proxy` on the TUN with `args` and waits for its first line.
    fn start(&self, args: &[&str]) -> Proxy {
        let mut all = vec![
            env!("CARGO_BIN_EXE_pila"),
            "proxy",
            "--tun",
            "pt0",
            "--ip",
            "192.0.2.200/24",
            "--ip",
            "2001:db8:e::1/64",
            "--intercept",
            "198.51.100.0/24",
            "--intercept",
            "2001:db8:f::/64",
        ];
        all.extend_from_slice(args);
        let mut child = self
            .proxy
            .command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        err.read_line(&mut line).unwrap();
        assert!(line.starts_with("pila proxy: "), "pila proxy did not start: {line}");
        Proxy { child, stderr: Some(err) }
    }

    fn client_py(&self, script: &str, args: &[&str]) -> String {
        let mut all = vec!["python3", "-c", script];
        all.extend_from_slice(args);
        self.client.run(&all).trim().to_owned()
    }

    /// A file of `len` pseudo-random bytes for the far web server, and its SHA-256.
    fn random_file(&self, name: &str, len: usize) -> String {
        let path = self.path(name);
        let out = Command::new("sh")
            .args(["-c", &format!("head -c {len} /dev/urandom > {}", path.display())])
            .status()
            .unwrap();
        assert!(out.success());
        sha256(&path)
    }
}

impl Drop for Proxied {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = &self.far;
    }
}

/// A server of a test's, killed when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `pila proxy`.
struct Proxy {
    child: Child,
    stderr: Option<BufReader<std::process::ChildStderr>>,
}

impl Proxy {
    /// Sends SIGTERM; the exit status and what it printed after its first line.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return (status, err);
            }
            assert!(Instant::now() < deadline, "pila proxy did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url(host: &str, path: &str) -> String {
    if host.contains(':') {
        format!("http://[{host}]:8080/{path}")
    } else {
        format!("http://{host}:8080/{path}")
    }
}

/// The events file's lines.
fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Everything one relay mode must carry, over both families: a 64 MiB download and upload
/// intact, 200 connections at once, half-closes both ways, a refused port, an unreachable
/// host, a DNS-like UDP exchange.
/// What the relay's far end can do besides TCP.
struct Can {
    /// Relay UDP.
    udp: bool,
    /// Keep a half-closed connection open the other way (microsocks closes both ways at
    /// the first FIN).
    half_close: bool,
}

fn relays_everything(p: &Proxied, mode: &[&str], tag: &str, can: &Can) {
    let udp = can.udp;
    let big = p.random_file("big", 64 * MIB);
    let small = p.random_file("small", 20_000);
    let log = p.path(&format!("events-{tag}"));
    let mut args = mode.to_vec();
    args.extend(["--events", log.to_str().unwrap(), "--connect-timeout", "5"]);
    let proxy = p.start(&args);
    for far in ["198.51.100.2", "2001:db8:f::2"] {
        // 64 MiB down and up, intact.
        let got = p.path("got");
        let fetch = format!("curl -sS --max-time 120 -o {} {}", got.display(), url(far, "big"));
        p.client.run(&["sh", "-c", &fetch]);
        assert_eq!(sha256(&got), big, "download from {far}");
        let put =
            format!("curl -sS --max-time 120 -T {} {}", p.path("big").display(), url(far, "up"));
        assert_eq!(p.client.run(&["sh", "-c", &put]).trim(), big, "upload to {far}");
        // 200 connections at once.
        let n = p.client_py(PARALLEL_CLIENT, &[&url(far, "small"), "200", "20000"]);
        assert_eq!(n, "200", "parallel GETs from {far}");
        let _ = &small;
        // Half-closes both ways: the server's FIN first, then the client's.
        if can.half_close {
            let sum = p.client_py(HALF_CLOSE_CLIENT, &[far, "300000"]);
            let done = p.path(&format!("half-{}", far.replace(':', "_")));
            let until = Instant::now() + Duration::from_secs(10);
            while !std::fs::read_to_string(&done).unwrap_or_default().contains(&sum) {
                assert!(Instant::now() < until, "the far server never saw the client's end");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // A refused port: "connection refused" (111), at once.
        let refused = p.client_py(CONNECT_CLIENT, &[far, "9"]);
        assert!(refused.starts_with("111 "), "{far}:9 gave {refused}");
        // An unreachable host: "no route to host" (113), not a hang.
        let nobody = if far.contains(':') { "2001:db8:f::77" } else { "198.51.100.77" };
        let unreachable = p.client_py(CONNECT_CLIENT, &[nobody, "80"]);
        assert!(unreachable.starts_with("113 "), "{nobody}:80 gave {unreachable}");
        if udp {
            assert_eq!(p.client_py(UDP_CLIENT, &[far]), "ok", "UDP to {far}");
        }
    }
    // A stop closes what is still relayed with a FIN, not a reset.
    let mut held = p.client.spawn(&["python3", "-c", HOLD_CLIENT, "198.51.100.2"]);
    let mut out = BufReader::new(held.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "connected");
    let (status, err) = proxy.stop();
    assert!(status.success(), "{status}: {err}");
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "fin", "the stop did not close the client's connection cleanly");
    assert!(held.wait().unwrap().success());
    let records = events(&log);
    let tcp = |dst: &'static str| records.iter().filter(move |r| r["destination"] == dst).cloned();
    let download = tcp("198.51.100.2:8080")
        .find(|r| r["bytes_to_client"].as_u64().is_some_and(|b| b > 64 * MIB as u64))
        .expect("the download's record");
    assert_eq!(download["protocol"], "tcp");
    assert_eq!(download["ended"], "closed");
    assert!(download["client"].as_str().unwrap().starts_with("192.0.2.2:"));
    let refused = tcp("198.51.100.2:9").next().expect("the refused connection's record");
    assert!(refused["ended"].as_str().unwrap().contains("refused"), "{refused}");
    assert!(tcp("[2001:db8:f::2]:8080").count() >= 202, "IPv6 connections recorded");
    let stopped = tcp("198.51.100.2:9001").next();
    let stopped = stopped.unwrap_or_else(|| panic!("no record of the held connection: {err}"));
    assert_eq!(stopped["ended"], "the proxy stopped");
    if udp {
        let flow = tcp("198.51.100.2:5353").next().expect("the UDP flow's record");
        assert_eq!(flow["protocol"], "udp");
        // Three queries of 7 bytes and their answers of 14, more if some were asked again.
        assert!(flow["bytes_to_destination"].as_u64().is_some_and(|b| b >= 3 * 7), "{flow}");
        assert!(flow["bytes_to_client"].as_u64().is_some_and(|b| b >= 3 * 14), "{flow}");
    }
}

#[test]
fn direct_relay_carries_tcp_both_families_and_passes_on_refusals() {
    let Some(p) = Proxied::new("pxd") else { return };
    relays_everything(&p, &["--direct"], "direct", &Can { udp: true, half_close: true });
}

#[test]
fn direct_relay_through_an_impaired_tun() {
    let Some(p) = Proxied::new("pxi") else { return };
    let mode = ["--direct", "--impair", "loss=2%,reorder=2%,seed=7"];
    relays_everything(&p, &mode, "impaired", &Can { udp: true, half_close: true });
}

/// Everything microsocks can relay, through it, with `extra` arguments to `pila proxy`.
fn through_microsocks(tag: &str, extra: &[&str]) {
    let Some(p) = Proxied::new(tag) else { return };
    if Command::new("microsocks").arg("-h").output().is_err() {
        assert!(
            std::env::var("PILA_REQUIRE_NETNS").as_deref() != Ok("1"),
            "microsocks is missing (Debian: apt-get install microsocks)"
        );
        eprintln!("skipped: microsocks is not installed");
        return;
    }
    let _socks = Running(p.far.spawn(&["microsocks", "-i", "198.51.100.2", "-p", "1080"]));
    assert!(
        p.far.wait_until(
            &["sh", "-c", "ss -ltn | grep -q 198.51.100.2:1080"],
            Duration::from_secs(5)
        )
    );
    // microsocks speaks CONNECT only, and ends a connection at its first FIN.
    let can = Can { udp: false, half_close: false };
    let mut mode = vec!["--socks5", "198.51.100.2:1080"];
    mode.extend_from_slice(extra);
    relays_everything(&p, &mode, "socks5", &can);
}

#[test]
fn socks5_relay_through_microsocks() {
    through_microsocks("pxs", &[]);
}

#[test]
fn socks5_relay_through_microsocks_and_an_impaired_tun() {
    through_microsocks("pxm", &["--impair", "loss=2%,reorder=2%,seed=11"]);
}

/// A small download and a DNS-like exchange over both families, through `pila proxy
/// --direct` with `extra`, in namespaces whose proxy namespace routes by `rules` instead
/// of by where packets come from.
fn direct_routed_by(tag: &str, rules: &str, extra: &[&str]) {
    let Some(p) = Proxied::new(tag) else { return };
    p.proxy.run(&[
        "sh",
        "-c",
        &format!("ip rule del iif pxa lookup 100 && ip -6 rule del iif pxa lookup 100 && {rules}"),
    ]);
    let small = p.random_file("small", 100_000);
    let mut args = vec!["--direct", "--connect-timeout", "5"];
    args.extend_from_slice(extra);
    let proxy = p.start(&args);
    for far in ["198.51.100.2", "2001:db8:f::2"] {
        let got = p.path("got");
        let fetch = format!("curl -sS --max-time 30 -o {} {}", got.display(), url(far, "small"));
        p.client.run(&["sh", "-c", &fetch]);
        assert_eq!(sha256(&got), small, "a download from {far} with {extra:?}");
        assert_eq!(p.client_py(UDP_CLIENT, &[far]), "ok", "UDP to {far} with {extra:?}");
    }
    let (status, err) = proxy.stop();
    assert!(status.success(), "{status}: {err}");
}

/// Everything to the far prefixes goes into the TUN but the proxy's own marked sockets:
/// without `--mark` its upstream connections would come back to it.
#[test]
fn direct_relay_with_a_mark_stays_out_of_its_tun() {
    direct_routed_by(
        "pxk",
        "ip rule add not fwmark 7 lookup 100 && ip -6 rule add not fwmark 7 lookup 100",
        &["--mark", "7"],
    );
}

/// Everything to the far prefixes goes into the TUN, the proxy's own connections too, but
/// its sockets bound to the far link find the route there.
#[test]
fn direct_relay_bound_to_a_device_stays_out_of_its_tun() {
    direct_routed_by(
        "pxv",
        "ip rule add to 198.51.100.0/24 lookup 100 && ip -6 rule add to 2001:db8:f::/64 lookup 100",
        &["--bind-device", "pxb"],
    );
}

/// Dante's configuration: no authentication, every command, on the far namespace's link.
const DANTE_CONF: &str = "logoutput: stderr
internal: 198.51.100.2 port = 1081
external: fab
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0/0 to: 0/0 command: bind connect udpassociate bindreply udpreply }
";

#[test]
fn socks5_relay_carries_udp_through_dante() {
    through_dante("pxu", &[]);
}

#[test]
fn socks5_relay_carries_udp_through_dante_and_an_impaired_tun() {
    through_dante("pxw", &["--impair", "loss=2%,reorder=2%,seed=5"]);
}

/// UDP flows and a download over both families through Dante, with `extra` arguments to
/// `pila proxy`.
fn through_dante(tag: &str, extra: &[&str]) {
    let Some(p) = Proxied::new(tag) else { return };
    if Command::new("danted").arg("-v").output().is_err() {
        assert!(
            std::env::var("PILA_REQUIRE_NETNS").as_deref() != Ok("1"),
            "danted is missing (Debian: apt-get install dante-server)"
        );
        eprintln!("skipped: dante-server is not installed");
        return;
    }
    let conf = p.path("danted.conf");
    std::fs::write(&conf, DANTE_CONF).unwrap();
    let _dante = Running(p.far.spawn(&["danted", "-f", conf.to_str().unwrap()]));
    assert!(
        p.far.wait_until(
            &["sh", "-c", "ss -ltn | grep -q 198.51.100.2:1081"],
            Duration::from_secs(10)
        ),
        "danted did not start"
    );
    let log = p.path("events");
    let mut args = vec!["--socks5", "198.51.100.2:1081", "--events", log.to_str().unwrap()];
    args.extend_from_slice(extra);
    let proxy = p.start(&args);
    let small = p.random_file("small", 100_000);
    for far in ["198.51.100.2", "2001:db8:f::2"] {
        assert_eq!(p.client_py(UDP_CLIENT, &[far]), "ok", "UDP to {far} through dante");
        let got = p.path("got");
        let fetch = format!("curl -sS --max-time 30 -o {} {}", got.display(), url(far, "small"));
        p.client.run(&["sh", "-c", &fetch]);
        assert_eq!(sha256(&got), small, "a download from {far} through dante");
    }
    let (status, err) = proxy.stop();
    assert!(status.success(), "{status}: {err}");
    let flows: Vec<serde_json::Value> =
        events(&log).into_iter().filter(|r| r["protocol"] == "udp").collect();
    assert_eq!(flows.len(), 2, "{flows:?}");
    for flow in flows {
        // Three answers of 14 bytes; more where an impaired TUN lost one and the query was
        // asked again.
        let to_client = flow["bytes_to_client"].as_u64().unwrap_or(0);
        if extra.is_empty() {
            assert_eq!(to_client, 3 * 14, "{flow}");
        } else {
            assert!(to_client >= 3 * 14, "{flow}");
        }
    }
}
