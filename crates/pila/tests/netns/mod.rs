//! The namespace lab: a throw-away Linux network namespace for interop tests.
//!
//! Include it from a test file with `mod netns;`. [`Netns::new`] makes a namespace with a
//! unique name, only its loopback inside and IPv6 off unless a test turns it on with
//! [`Netns::enable_ipv6`] (this keeps the kernel's router solicitations off the wire).
//! Interfaces come in three ways:
//!
//! * a device this process opened (a `Tap` or `Tun`) is moved in with [`Netns::adopt`]: the
//!   descriptor keeps working, and pila runs in the test process;
//! * [`Netns::create_tap`] makes a persistent TAP inside, for a `pila` process started in
//!   the namespace with [`Netns::spawn`] (`pila serve --tap NAME`);
//! * [`Netns::veth`] joins this namespace to another lab namespace.
//!
//! Addresses are from the documentation ranges 192.0.2.0/24, 198.51.100.0/24 and
//! 2001:db8::/32 only, and nothing is linked to the machine's own interfaces. Dropping a `Netns` kills what still
//! runs inside it and deletes it with everything in it, whether the test passed or not.
//!
//! When the test cannot run here (not root, no `/dev/net/tun`, no `ip`, namespaces not
//! allowed), [`Netns::new`] prints one line saying why and returns `None`, and the test
//! returns early; with `PILA_REQUIRE_NETNS=1` (CI) it panics instead.

#![allow(dead_code)] // each test file uses a part of the lab

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The documentation ranges a lab may use.
pub(crate) const ALLOWED_PREFIXES: [&str; 3] = ["192.0.2.", "198.51.100.", "2001:db8:"];

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A kernel-side client: sends TOTAL pseudo-random bytes to HOST:PORT (the arguments) while reading the
/// echo, then prints the SHA-256 of what it sent and of what came back.
const ECHO_CLIENT: &str = r#"
import hashlib, random, socket, sys, threading
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = random.Random(5).randbytes(total)
s = socket.create_connection((host, port), timeout=30)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
back = hashlib.sha256()
while chunk := s.recv(1 << 16):
    back.update(chunk)
t.join()
print(hashlib.sha256(data).hexdigest(), back.hexdigest())
"#;

/// A network namespace that lives as long as this value.
#[derive(Debug)]
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// A fresh namespace for the test `tag`, or `None` (after printing why) when the test
    /// must be skipped here.
    pub(crate) fn new(tag: &str) -> Option<Self> {
        if let Err(reason) = Self::preflight() {
            return skip(tag, &reason);
        }
        let name = format!("pila-{tag}-{}-{}", std::process::id(), next());
        let out = ip(&["netns", "add", &name]);
        if !out.status.success() {
            let reason =
                format!("`ip netns add` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            return skip(tag, &reason);
        }
        let ns = Self { name };
        ns.run(&["ip", "link", "set", "dev", "lo", "up"]);
        // A kernel built without IPv6 has nothing to turn off: the failure is ignored.
        for key in ["all", "default"] {
            let knob = format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6");
            ns.exec(&["sh", "-c", &format!("test ! -e {knob} || echo 1 > {knob}")]);
        }
        Some(ns)
    }

    /// Why the lab cannot run here, if it cannot.
    fn preflight() -> Result<(), String> {
        if !std::path::Path::new("/dev/net/tun").exists() {
            return Err("no /dev/net/tun".into());
        }
        let uid = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
            .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned));
        if uid.as_deref() != Some("0") {
            return Err("not running as root".into());
        }
        match Command::new("ip").arg("-V").output() {
            Ok(out) if out.status.success() => Ok(()),
            _ => Err("the `ip` command (iproute2) is missing".into()),
        }
    }

    /// The namespace's name (for `ip netns exec NAME`).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Runs `args` inside the namespace and returns its output, whatever its status.
    pub(crate) fn exec(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
    }

    /// Runs `args` inside the namespace, panics unless it succeeds, and returns its stdout.
    pub(crate) fn run(&self, args: &[&str]) -> String {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "{args:?} in {} failed ({}): {}{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `args` inside the namespace with piped stdout and stderr; it is killed when
    /// the namespace is dropped if it still runs.
    pub(crate) fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?}: {e}"))
    }

    /// A `Command` running `args` inside the namespace, to configure further.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        cmd
    }

    /// Has a kernel client in the lab send `total` pseudo-random bytes to `host`:`port`
    /// while reading the echo, and checks that the echo is what it sent (by SHA-256).
    pub(crate) fn kernel_echo(&self, host: &str, port: u16, total: usize) {
        let (port, total) = (port.to_string(), total.to_string());
        let out = self.run(&["python3", "-c", ECHO_CLIENT, host, &port, &total]);
        let sums: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(sums.len(), 2, "{out}");
        assert_eq!(sums[0], sums[1], "the echo differs from what the kernel sent");
    }

    /// Turns IPv6 on in the lab (a new lab has it off), and on its interface `ifname`:
    /// the kernel makes a link-local address for it and answers neighbour discovery.
    pub(crate) fn enable_ipv6(&self, ifname: &str) {
        for key in ["all", "default", ifname] {
            let knob = format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6");
            self.run(&["sh", "-c", &format!("echo 0 > {knob}")]);
        }
    }

    /// Moves the interface `ifname` of this process's namespace into the lab. A TAP or TUN
    /// descriptor opened on it keeps working; the interface is deleted with the namespace.
    pub(crate) fn adopt(&self, ifname: &str) {
        let out = ip(&["link", "set", "dev", ifname, "netns", &self.name]);
        assert!(out.status.success(), "cannot move {ifname} into {}: {}", self.name, stderr(&out));
    }

    /// Gives the lab's interface `ifname` the address `cidr` and brings it up.
    pub(crate) fn configure(&self, ifname: &str, cidr: &str) {
        check_addr(cidr);
        self.run(&["ip", "addr", "add", cidr, "dev", ifname]);
        self.run(&["ip", "link", "set", "dev", ifname, "up"]);
    }

    /// Makes a persistent TAP `ifname` inside the lab, with the kernel's side at `cidr`,
    /// for a pila process started in the lab to attach to.
    pub(crate) fn create_tap(&self, ifname: &str, cidr: &str) {
        self.run(&["ip", "tuntap", "add", "dev", ifname, "mode", "tap"]);
        self.configure(ifname, cidr);
    }

    /// Makes a persistent TUN `ifname` inside the lab, with the kernel's side at `cidr`.
    pub(crate) fn create_tun(&self, ifname: &str, cidr: &str) {
        self.run(&["ip", "tuntap", "add", "dev", ifname, "mode", "tun"]);
        self.configure(ifname, cidr);
    }

    /// Joins the lab to `peer` with a veth pair: `ifname` here at `cidr`, `peer_ifname`
    /// in `peer` at `peer_cidr`, both up.
    pub(crate) fn veth(
        &self,
        ifname: &str,
        cidr: &str,
        peer: &Self,
        peer_ifname: &str,
        peer_cidr: &str,
    ) {
        self.run(&["ip", "link", "add", ifname, "type", "veth", "peer", "name", peer_ifname]);
        self.run(&["ip", "link", "set", "dev", peer_ifname, "netns", &peer.name]);
        self.configure(ifname, cidr);
        peer.configure(peer_ifname, peer_cidr);
    }

    /// Waits until `args` succeeds inside the namespace (a server listening, say), for at
    /// most `timeout`; returns whether it did.
    pub(crate) fn wait_until(&self, args: &[&str], timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if self.exec(args).status.success() {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill what still runs inside (only processes this test started live there).
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.name]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// A name for a new interface, unique on this machine for this process: at most 15 bytes.
pub(crate) fn unique_ifname(prefix: &str) -> String {
    let id = format!("{:x}{:x}", std::process::id() % 0x10_0000, next());
    let keep = 15usize.saturating_sub(id.len()).min(prefix.len());
    format!("{}{id}", &prefix[..keep])
}

/// Panics unless `addr` (with or without a prefix length) is in a documentation range.
pub(crate) fn check_addr(addr: &str) {
    assert!(
        ALLOWED_PREFIXES.iter().any(|p| addr.starts_with(p)),
        "{addr} is outside 192.0.2.0/24, 198.51.100.0/24 and 2001:db8::/32, the only ranges a \
         lab may use"
    );
}

fn next() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().unwrap_or_else(|e| panic!("cannot run ip {args:?}: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

fn skip<T>(tag: &str, reason: &str) -> Option<T> {
    if std::env::var("PILA_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
        panic!("{tag}: cannot run the namespace lab: {reason} (PILA_REQUIRE_NETNS=1)");
    }
    eprintln!("skipping {tag}: {reason}");
    None
}
