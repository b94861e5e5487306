//! The work items on the Linux kernel, in network namespaces this process creates and
//! deletes (192.0.2.0/24 only, no link to the machine's own interfaces): kernel to kernel over
//! a veth pair, and kernel to pila over a TAP. The kernel's ends are small python3 programs.

use super::{BLOCK, Figures, STALL, cpu_seconds, peak_rss_kib, spawn_reader};
use pila::device::Tap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Child, ChildStdout, Command, Stdio};

const SENDER_IP: &str = "192.0.2.1";
const RECEIVER_IP: &str = "192.0.2.2";
const PORT: u16 = 9;

/// Accepts one connection on `argv[1]:argv[2]`, reads it to the end, and prints the bytes and
/// the seconds from the accept to the end of stream.
const RECEIVER: &str = r#"
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(float(sys.argv[3]))
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(float(sys.argv[3]))
t = time.monotonic()
buf = bytearray(1 << 18)
n = 0
while True:
    k = c.recv_into(buf)
    if not k:
        break
    n += k
print(n, time.monotonic() - t, flush=True)
"#;

/// Connects to `argv[1]:argv[2]`, sends `argv[3]` bytes in blocks of `argv[4]`, and closes.
const SENDER: &str = r#"
import socket, sys
total = int(sys.argv[3])
block = b"\x5a" * int(sys.argv[4])
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[5]))
while total > 0:
    chunk = block if total >= len(block) else block[:total]
    s.sendall(chunk)
    total -= len(chunk)
s.close()
"#;

/// Why the Linux items cannot run here, if they cannot.
pub(super) fn preflight() -> Result<(), String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        .unwrap_or(false);
    if !root {
        return Err("not root (needs root, network namespaces, /dev/net/tun, ip, python3)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("no /dev/net/tun".into());
    }
    for (tool, arg) in [("ip", "-V"), ("python3", "--version")] {
        match Command::new(tool).arg(arg).output() {
            Ok(out) if out.status.success() => {}
            _ => return Err(format!("the `{tool}` command is missing")),
        }
    }
    Ok(())
}

/// Deletes every namespace whose name starts with `prefix` (what a worker may have left).
pub(super) fn delete_namespaces(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.split_whitespace().next().filter(|n| n.starts_with(prefix)) {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Runs `ip ARGS`; its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespaces and processes of one item: the processes are killed and the namespaces
/// deleted when it is dropped, whether the item finished or not.
struct Lab {
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    /// Makes the namespace `name`, with its loopback up and IPv6 off.
    fn namespace(&mut self, name: String) -> Result<(), String> {
        ip(&["netns", "add", &name])?;
        self.namespaces.push(name.clone());
        ip(&["-n", &name, "link", "set", "dev", "lo", "up"])?;
        // IPv6 off keeps router solicitations off the wire; a kernel without it has no knob.
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                &name,
                "sysctl",
                "-q",
                "-w",
                "net.ipv6.conf.all.disable_ipv6=1",
            ])
            .output();
        Ok(())
    }

    /// Starts `python3 -c SCRIPT ARGS` in namespace `ns`, its stdout piped.
    fn python(&mut self, ns: &str, script: &str, args: &[String]) -> Result<ChildStdout, String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-c", script])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start python3: {e}"))?;
        let stdout = child.stdout.take().ok_or("python3 has no stdout")?;
        self.children.push(child);
        Ok(stdout)
    }

    /// Waits for every process started; the stderr of the first that failed.
    fn wait_all(&mut self) -> Result<(), String> {
        for mut child in self.children.drain(..) {
            let status = child.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let last = err.lines().last().unwrap_or("").to_owned();
                return Err(format!("python3 failed ({status}): {last}"));
            }
        }
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for name in &self.namespaces {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

fn line(out: &mut BufReader<ChildStdout>) -> Result<String, String> {
    let mut text = String::new();
    out.read_line(&mut text).map_err(|e| e.to_string())?;
    Ok(text.trim().to_owned())
}

fn sender_args(bytes: u64) -> Vec<String> {
    let timeout = STALL.as_secs().to_string();
    vec![RECEIVER_IP.into(), PORT.to_string(), bytes.to_string(), BLOCK.to_string(), timeout]
}

/// Kernel to kernel: namespace A (192.0.2.1) sends to namespace B (192.0.2.2) over a veth
/// pair; the receiver's own clock times the transfer.
pub(super) fn kernel_to_kernel(bytes: u64, prefix: &str) -> Result<Figures, String> {
    let mut lab = Lab { namespaces: Vec::new(), children: Vec::new() };
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    lab.namespace(a.clone())?;
    lab.namespace(b.clone())?;
    ip(&["-n", &a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b])?;
    for (ns, dev, addr) in [(&a, "va", SENDER_IP), (&b, "vb", RECEIVER_IP)] {
        ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
        ip(&["-n", ns, "link", "set", "dev", dev, "up"])?;
    }
    let cpu0 = cpu_seconds();
    let args = [RECEIVER_IP.to_owned(), PORT.to_string(), STALL.as_secs().to_string()];
    let mut receiver = BufReader::new(lab.python(&b, RECEIVER, &args)?);
    if line(&mut receiver)? != "ready" {
        lab.wait_all()?;
        return Err("the receiver did not start".into());
    }
    lab.python(&a, SENDER, &sender_args(bytes))?;
    let result = line(&mut receiver)?;
    lab.wait_all()?;
    let mut f = result.split_whitespace();
    let received = f.next().and_then(|n| n.parse().ok());
    let secs = f.next().and_then(|s| s.parse().ok());
    let (Some(received), Some(secs)) = (received, secs) else {
        return Err(format!("the receiver printed {result:?}, not its figures"));
    };
    // Both ends are python3 children, waited for: their CPU time is in ours. Their memory is
    // the interpreter's, not the kernel's socket buffers, so none is given.
    Ok(Figures { bytes: received, secs, cpu_secs: cpu_seconds() - cpu0, peak_rss_kib: None })
}

/// Kernel to pila: a TAP made here is moved into a namespace where the kernel (192.0.2.1)
/// sends to pila (192.0.2.2, `pila::net` in this process, reading and discarding).
pub(super) fn kernel_to_pila_tap(bytes: u64, prefix: &str) -> Result<Figures, String> {
    let mut lab = Lab { namespaces: Vec::new(), children: Vec::new() };
    let ns = format!("{prefix}-t");
    lab.namespace(ns.clone())?;
    let name = format!("pbt{}", std::process::id());
    let tap = Tap::create(&name).map_err(|e| format!("cannot create the TAP: {e}"))?;
    ip(&["link", "set", "dev", &name, "netns", &ns])?;
    ip(&["-n", &ns, "addr", "add", &format!("{SENDER_IP}/24"), "dev", &name])?;
    ip(&["-n", &ns, "link", "set", "dev", &name, "up"])?;
    let stack = pila::net::Stack::builder()
        .device(tap)
        .address(format!("{RECEIVER_IP}/24"))
        .build()
        .map_err(|e| format!("cannot start pila on the TAP: {e}"))?;
    let at = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), PORT));
    let listener = pila::net::TcpListener::bind(&stack, at).map_err(|e| format!("bind: {e}"))?;
    let cpu0 = cpu_seconds();
    let reader = spawn_reader(listener);
    lab.python(&ns, SENDER, &sender_args(bytes))?;
    let sent = lab.wait_all();
    if let Err(e) = sent {
        // The reader would wait for a connection that never comes: end it with the stack.
        drop(stack);
        return Err(e);
    }
    let (received, secs) = reader
        .join()
        .map_err(|_| "the reader thread panicked".to_owned())?
        .map_err(|e| format!("pila receiving: {e}"))?;
    let cpu_secs = cpu_seconds() - cpu0;
    drop(stack);
    Ok(Figures { bytes: received, secs, cpu_secs, peak_rss_kib: peak_rss_kib() })
}
