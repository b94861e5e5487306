//! The Linux kernel's figures, and pila against the kernel over a TAP, in network namespaces
//! made here and always deleted (192.0.2.0/24 and 2001:db8::/64 only, no link to the
//! machine's own interfaces). The kernel's ends are this program again (`pila bench
//! --peer`, std::net). The IPv6 twins of the scenarios run the same way over IPv6.
//!
//! * `bulk-*`, `rr`, `crr`, `idle`: std::net over `lo` in a fresh namespace whose `lo` has
//!   the scenario's MTU; the parent makes the namespace and starts the worker inside it.
//! * `tap-*`: Linux to Linux over a veth pair between two namespaces, offloads off (the
//!   figure) and on (an extra); pila to and from the kernel over a TAP in a namespace.

use super::measure::{BLOCK, STALL, Taken, cpu_seconds, crr, gbit_per_s, join, next_chunk, rr};
use super::{Scenario, Side, Why};
use pila::device::Tap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream,
};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OTHER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const KERNEL_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const OTHER_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// The kernel's address (`ours`: the other end's, pila's or the second kernel's) of the
/// family, with its prefix length on the link.
fn host(v6: bool, ours: bool) -> (IpAddr, u8) {
    match (v6, ours) {
        (false, false) => (KERNEL_IP.into(), 24),
        (false, true) => (OTHER_IP.into(), 24),
        (true, false) => (KERNEL_IP6.into(), 64),
        (true, true) => (OTHER_IP6.into(), 64),
    }
}

/// Gives `dev` in namespace `ns` the address `(ip, len)`, used at once (no duplicate
/// address detection to wait for: nothing else on these links holds it).
fn add_address(ns: &str, dev: &str, (addr, len): (IpAddr, u8)) -> Result<(), String> {
    let cidr = format!("{addr}/{len}");
    let mut args = vec!["-n", ns, "addr", "add", &cidr, "dev", dev];
    if addr.is_ipv6() {
        args.push("nodad");
    }
    ip(&args)
}
const PORT: u16 = 9;

/// What a `pila bench --peer` process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Peer {
    /// Connect to `--addr` and send `--count` bytes, then close.
    Send,
    /// Listen on `--addr`, print `ready`, read one connection to its end, print the bytes
    /// and the seconds from the accept to the end.
    Recv,
    /// Listen on `--addr`, print `ready`, and answer every connection's first byte with
    /// itself, holding the connection until the other end closes it.
    Echo,
    /// Open `--count` connections to `--addr`, each one byte there and back, print
    /// `ready`, and hold them, idle, until standard input ends.
    Hold,
}

/// Why the Linux figures cannot be taken here, if they cannot.
pub(super) fn preflight() -> Result<(), String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        .unwrap_or(false);
    if !root {
        return Err("not root (needs root and network namespaces)".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err("`ip netns` does not work here (iproute2 missing?)".into()),
    }
}

/// Deletes every namespace named `PREFIX-…` (what a worker may have left).
pub(super) fn delete_namespaces(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
    let ours = format!("{prefix}-");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.split_whitespace().next().filter(|n| n.starts_with(&ours)) {
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// Runs `tool ARGS`; its stderr on failure.
fn run(tool: &str, args: &[&str]) -> Result<(), String> {
    let out =
        Command::new(tool).args(args).output().map_err(|e| format!("cannot run {tool}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{tool} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args)
}

/// Namespaces and processes: the processes are killed and the namespaces deleted when it
/// is dropped, whether the work finished or not.
pub(super) struct Lab {
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    const fn new() -> Self {
        Self { namespaces: Vec::new(), children: Vec::new() }
    }

    /// The first namespace made.
    pub(super) fn name(&self) -> &str {
        self.namespaces.first().map_or("", String::as_str)
    }

    /// Makes the namespace `name`, with its loopback up, and IPv6 off unless `v6`.
    fn namespace(&mut self, name: String, v6: bool) -> Result<(), String> {
        ip(&["netns", "add", &name])?;
        self.namespaces.push(name.clone());
        ip(&["-n", &name, "link", "set", "dev", "lo", "up"])?;
        if !v6 {
            // IPv6 off keeps router solicitations off the wire; a kernel without it has no
            // knob.
            let _ = sysctl(&name, "net.ipv6.conf.all.disable_ipv6=1");
        }
        // Room for tens of thousands of connections to one port in TIME-WAIT.
        let _ = sysctl(&name, "net.ipv4.ip_local_port_range=1024 65535");
        Ok(())
    }

    /// Starts `pila bench --peer ROLE` in namespace `ns`, its stdout piped.
    fn peer(
        &mut self,
        ns: &str,
        role: &str,
        addr: SocketAddr,
        count: u64,
    ) -> Result<ChildStdout, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(exe)
            .args(["bench", "--peer", role, "--addr", &addr.to_string()])
            .args(["--count", &count.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a peer: {e}"))?;
        let stdout = child.stdout.take().ok_or("the peer has no stdout")?;
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
                return Err(format!("a peer failed ({status}): {last}"));
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

fn sysctl(ns: &str, setting: &str) -> Result<(), String> {
    run("ip", &["netns", "exec", ns, "sysctl", "-q", "-w", setting])
}

/// A namespace whose `lo` has `mtu` and the address 192.0.2.1 (2001:db8::1 with `v6`),
/// for a worker to run in.
pub(super) fn loopback_namespace(prefix: &str, mtu: usize, v6: bool) -> Result<Lab, String> {
    let mut lab = Lab::new();
    let ns = format!("{prefix}-lo");
    lab.namespace(ns.clone(), v6)?;
    ip(&["-n", &ns, "link", "set", "dev", "lo", "mtu", &mtu.to_string()])?;
    let (kernel, _) = host(v6, false);
    add_address(&ns, "lo", (kernel, if v6 { 128 } else { 32 }))?;
    Ok(lab)
}

/// Takes Linux's figure of `scenario` (an IPv4 one; over IPv6 with `v6`): on the loopback
/// of the namespace this worker was started in, or over veth in namespaces made here.
pub(super) fn worker(scenario: Scenario, v6: bool, n: u64, prefix: &str) -> Result<Taken, Why> {
    match scenario {
        Scenario::Bulk1500 | Scenario::Bulk64k => Ok(loopback_bulk(n, v6)?),
        Scenario::Rr => Ok(loopback_rr(n)?),
        Scenario::Crr => Ok(loopback_crr(n)?),
        Scenario::Idle => Ok(loopback_idle(n)?),
        Scenario::TapTx | Scenario::TapRx => {
            preflight().map_err(Why::Skip)?;
            if let Err(e) = run("ethtool", &["--version"]) {
                return Err(Why::Skip(format!("ethtool is needed to turn veth offloads off: {e}")));
            }
            Ok(veth(n, prefix, v6)?)
        }
        Scenario::Instructions => Err(Why::Skip(
            "callgrind counts the instructions of a process; the kernel's are not seen".into(),
        )),
        Scenario::Bulk1500V6
        | Scenario::Bulk64kV6
        | Scenario::TapTxV6
        | Scenario::TapRxV6
        | Scenario::InstructionsV6
        | Scenario::Proxy => {
            Err(Why::Fail(format!("{} reached the worker as itself", scenario.name())))
        }
    }
}

const fn at(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(KERNEL_IP, port))
}

/// The kernel's address and `port`, of the family.
fn kernel_at(v6: bool, port: u16) -> SocketAddr {
    SocketAddr::new(host(v6, false).0, port)
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Reads one connection to its end: the bytes and the seconds from the first call on.
fn read_to_end(stream: &mut TcpStream) -> std::io::Result<(u64, f64)> {
    let start = std::time::Instant::now();
    stream.set_read_timeout(Some(STALL))?;
    let mut buf = vec![0_u8; 256 << 10];
    let mut total = 0_u64;
    loop {
        match stream.read(&mut buf)? {
            0 => return Ok((total, start.elapsed().as_secs_f64())),
            n => total += n as u64,
        }
    }
}

fn write_n(stream: &mut TcpStream, bytes: u64) -> std::io::Result<()> {
    stream.set_write_timeout(Some(STALL))?;
    let block = vec![0x5a_u8; BLOCK];
    let mut sent = 0;
    while sent < bytes {
        let chunk = next_chunk(&block, sent, bytes);
        stream.write_all(chunk)?;
        sent += chunk.len() as u64;
    }
    stream.shutdown(Shutdown::Write)
}

/// Bulk over `lo` as it comes (TSO, GSO and GRO on: segments cross it as up-to-64 KiB
/// super-packets whatever its MTU), then, as an extra figure, with those three off.
fn loopback_bulk(bytes: u64, v6: bool) -> Result<Taken, String> {
    let cpu0 = cpu_seconds();
    let (received, secs) = loopback_transfer(kernel_at(v6, PORT), bytes)?;
    let cpu = cpu_seconds() - cpu0;
    let taken = Taken::new(gbit_per_s(received, secs)).with_costs(cpu, received);
    let off = ["-K", "lo", "tso", "off", "gso", "off", "gro", "off"];
    Ok(match run("ethtool", &off) {
        Ok(()) => {
            let (received, secs) = loopback_transfer(kernel_at(v6, PORT + 1), bytes)?;
            taken.with("offloads_off", gbit_per_s(received, secs))
        }
        Err(e) => taken.without("offloads_off", &e),
    })
}

/// One connection over `lo` to `to`: the receiver's bytes and seconds.
fn loopback_transfer(to: SocketAddr, bytes: u64) -> Result<(u64, f64), String> {
    let listener = TcpListener::bind(to).map_err(io("bind"))?;
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept()?;
        read_to_end(&mut s)
    });
    let mut stream = TcpStream::connect(to).map_err(io("connect"))?;
    write_n(&mut stream, bytes).map_err(io("sending"))?;
    join(reader, "reader")
}

fn loopback_rr(rounds: u64) -> Result<Taken, String> {
    let listener = TcpListener::bind(at(PORT)).map_err(io("bind"))?;
    rr(rounds, move || Ok(listener.accept()?.0), || TcpStream::connect(at(PORT)))
}

fn loopback_crr(conns: u64) -> Result<Taken, String> {
    let listener = TcpListener::bind(at(PORT)).map_err(io("bind"))?;
    crr(conns, move || Ok(listener.accept()?.0), || TcpStream::connect(at(PORT)))
}

/// The soft limit of open files of this process (`/proc/self/limits`; 1024 if unread).
pub(super) fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?.to_owned();
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(1024)
}

/// Bytes in every slab cache (`active_objs × objsize` of `/proc/slabinfo`), and the object
/// size of the `TCP` cache.
fn slab_bytes() -> Result<(u64, Option<u64>), String> {
    let text = std::fs::read_to_string("/proc/slabinfo")
        .map_err(|e| format!("cannot read /proc/slabinfo: {e}"))?;
    let (mut total, mut tcp) = (0_u64, None);
    for line in text.lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(active), Some(size)) = (
            f.get(1).and_then(|v| v.parse::<u64>().ok()),
            f.get(3).and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        total += active * size;
        if f.first() == Some(&"TCP") {
            tcp = Some(size);
        }
    }
    Ok((total, tcp))
}

/// Idle connections on the loopback, each having carried one byte both ways: the growth of
/// the kernel's slab caches over the sockets (both ends) made.
fn loopback_idle(conns: u64) -> Result<Taken, String> {
    const LISTENERS: u16 = 8;
    let listeners: Vec<TcpListener> = (0..LISTENERS)
        .map(|k| TcpListener::bind(at(9000 + k)))
        .collect::<Result<_, _>>()
        .map_err(io("bind"))?;
    let n = usize::try_from(conns).unwrap_or(0);
    let mut ends = Vec::with_capacity(2 * n);
    let (before, _) = slab_bytes()?;
    for i in 0..n {
        let k = i % usize::from(LISTENERS);
        let mut c =
            TcpStream::connect(at(9000 + k as u16)).map_err(|e| format!("connection {i}: {e}"))?;
        let (mut s, _) = listeners[k].accept().map_err(|e| format!("accept {i}: {e}"))?;
        let mut byte = [7_u8; 1];
        c.write_all(&byte).map_err(io("request"))?;
        s.read_exact(&mut byte).map_err(io("request"))?;
        s.write_all(&byte).map_err(io("response"))?;
        c.read_exact(&mut byte).map_err(io("response"))?;
        ends.push(c);
        ends.push(s);
    }
    // Delayed ACKs go out and freed buffers go back to their caches.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (after, tcp) = slab_bytes()?;
    let per = after.saturating_sub(before) as f64 / ends.len().max(1) as f64;
    let taken = Taken::new(per).with("connections", n as f64);
    Ok(match tcp {
        Some(size) => taken.with("tcp_sock_bytes", size as f64),
        None => taken.without("tcp_sock_bytes", "no TCP cache in /proc/slabinfo"),
    })
}

/// Linux to Linux over a veth pair, offloads off (the figure) and on (an extra).
fn veth(bytes: u64, prefix: &str, v6: bool) -> Result<Taken, String> {
    let mut lab = Lab::new();
    let (a, b) = (format!("{prefix}-va"), format!("{prefix}-vb"));
    lab.namespace(a.clone(), v6)?;
    lab.namespace(b.clone(), v6)?;
    ip(&["-n", &a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b])?;
    for (ns, dev, ours) in [(&a, "va", false), (&b, "vb", true)] {
        add_address(ns, dev, host(v6, ours))?;
        ip(&["-n", ns, "link", "set", "dev", dev, "mtu", "1500", "up"])?;
    }
    let mut figures = Vec::new();
    for on in ["off", "on"] {
        for (ns, dev) in [(&a, "va"), (&b, "vb")] {
            let mut args = vec!["netns", "exec", ns.as_str(), "ethtool", "-K", dev];
            for feature in ["tso", "gso", "gro", "tx", "rx", "sg"] {
                args.extend([feature, on]);
            }
            run("ip", &args)?;
        }
        let cpu0 = cpu_seconds();
        let to = SocketAddr::new(host(v6, true).0, PORT);
        let (received, secs) = transfer(&mut lab, &b, &a, to, bytes)?;
        figures.push((gbit_per_s(received, secs), cpu_seconds() - cpu0, received));
    }
    let (off, cpu, received) = figures[0];
    let taken = Taken::new(off).with("cpu_ns_per_byte", cpu * 1e9 / received.max(1) as f64);
    Ok(taken.with("offloads_on", figures[1].0))
}

/// A receiving peer in `rx_ns` listening on `to`, a sending peer in `tx_ns`: the receiver's
/// bytes and seconds.
fn transfer(
    lab: &mut Lab,
    rx_ns: &str,
    tx_ns: &str,
    to: SocketAddr,
    bytes: u64,
) -> Result<(u64, f64), String> {
    let mut rx = BufReader::new(lab.peer(rx_ns, "recv", to, 0)?);
    if line(&mut rx)? != "ready" {
        lab.wait_all()?;
        return Err("the receiving peer did not start".into());
    }
    lab.peer(tx_ns, "send", to, bytes)?;
    let result = line(&mut rx)?;
    lab.wait_all()?;
    parse_received(&result)
}

fn line(out: &mut BufReader<ChildStdout>) -> Result<String, String> {
    let mut text = String::new();
    out.read_line(&mut text).map_err(|e| e.to_string())?;
    Ok(text.trim().to_owned())
}

fn parse_received(text: &str) -> Result<(u64, f64), String> {
    let mut f = text.split_whitespace();
    match (f.next().and_then(|n| n.parse().ok()), f.next().and_then(|s| s.parse().ok())) {
        (Some(n), Some(s)) => Ok((n, s)),
        _ => Err(format!("the receiving peer printed {text:?}, not its figures")),
    }
}

/// pila to the kernel (`tx`) or the kernel to pila over a TAP made here and moved into a
/// namespace: the kernel is 192.0.2.1 there, pila (`pila::net` in this process) 192.0.2.2,
/// or with `v6` 2001:db8::1 and ::2. The figure is without offloads; the same transfer with
/// the TAP's offloads (checksums, TSO/GRO through the virtio-net header) is the extra
/// `offloads_on`.
pub(super) fn pila_tap(tx: bool, v6: bool, bytes: u64, prefix: &str) -> Result<Taken, Why> {
    let taken = pila_tap_once(tx, v6, bytes, prefix, false)?;
    Ok(match pila_tap_once(tx, v6, bytes, prefix, true) {
        Ok(offloaded) => taken.with("offloads_on", offloaded.value),
        Err(Why::Skip(e) | Why::Fail(e)) => taken.without("offloads_on", &e),
    })
}

fn pila_tap_once(
    tx: bool,
    v6: bool,
    bytes: u64,
    prefix: &str,
    offload: bool,
) -> Result<Taken, Why> {
    preflight().map_err(Why::Skip)?;
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err(Why::Skip("no /dev/net/tun".into()));
    }
    let mut lab = Lab::new();
    let ns = format!("{prefix}-t{}", if offload { "o" } else { "" });
    lab.namespace(ns.clone(), v6)?;
    let name = format!("pbt{}{}", std::process::id(), if offload { "o" } else { "" });
    let tap = if offload { Tap::open_with_offloads(&name) } else { Tap::create(&name) };
    let tap = tap.map_err(|e| format!("cannot create the TAP: {e}"))?;
    if offload && tap.offloads().tcp_segmentation == 0 {
        return Err(Why::Skip("the kernel refused the TAP's offloads".into()));
    }
    ip(&["link", "set", "dev", &name, "netns", &ns])?;
    add_address(&ns, &name, host(false, false))?;
    if v6 {
        add_address(&ns, &name, host(true, false))?;
    }
    ip(&["-n", &ns, "link", "set", "dev", &name, "mtu", "1500", "up"])?;
    let mut builder = pila::net::Stack::builder().device(tap).address(format!("{OTHER_IP}/24"));
    if v6 {
        builder = builder.address(format!("{OTHER_IP6}/64"));
    }
    let stack = builder
        .mtu(1500)
        .configure(|c| {
            if let Some(v6) = c.ipv6.as_mut() {
                // The kernel's end is the only other host on the link.
                v6.dad_transmits = 0;
            }
        })
        .build()
        .map_err(|e| format!("cannot start pila on the TAP: {e}"))?;
    let cpu0 = cpu_seconds();
    let (received, secs) = if tx {
        let to = kernel_at(v6, PORT);
        let mut rx = BufReader::new(lab.peer(&ns, "recv", to, 0)?);
        if line(&mut rx)? != "ready" {
            lab.wait_all()?;
            return Err(Why::Fail("the receiving peer did not start".into()));
        }
        let mut s = pila::net::TcpStream::connect(&stack, to).map_err(io("pila connect"))?;
        s.set_write_timeout(Some(STALL)).map_err(|e| e.to_string())?;
        let block = vec![0x5a_u8; BLOCK];
        let mut sent = 0;
        while sent < bytes {
            let chunk = next_chunk(&block, sent, bytes);
            s.write_all(chunk).map_err(io("pila sending"))?;
            sent += chunk.len() as u64;
        }
        s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
        let result = line(&mut rx)?;
        lab.wait_all()?;
        drop(s);
        parse_received(&result)?
    } else {
        let here = SocketAddr::new(host(v6, true).0, PORT);
        let listener = pila::net::TcpListener::bind(&stack, here).map_err(io("bind"))?;
        let reader = std::thread::spawn(move || -> std::io::Result<(u64, f64)> {
            let (mut s, _) = listener.accept()?;
            let start = std::time::Instant::now();
            s.set_read_timeout(Some(STALL))?;
            let mut buf = vec![0_u8; 256 << 10];
            let mut total = 0_u64;
            loop {
                match s.read(&mut buf)? {
                    0 => return Ok((total, start.elapsed().as_secs_f64())),
                    n => total += n as u64,
                }
            }
        });
        lab.peer(&ns, "send", here, bytes)?;
        if let Err(e) = lab.wait_all() {
            // The reader would wait for a connection that never comes: end it with the stack.
            drop(stack);
            return Err(Why::Fail(e));
        }
        join(reader, "pila reader")?
    };
    let cpu = cpu_seconds() - cpu0;
    Ok(Taken::new(gbit_per_s(received, secs)).with_costs(cpu, received))
}

/// The kernel's end of a transfer, run in a namespace by `pila bench --peer`.
pub(super) fn peer(role: Peer, addr: SocketAddr, count: u64) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match role {
        Peer::Recv => {
            let listener = TcpListener::bind(addr).map_err(io("bind"))?;
            writeln!(out, "ready").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
            let (mut s, _) = listener.accept().map_err(io("accept"))?;
            let (n, secs) = read_to_end(&mut s).map_err(io("receiving"))?;
            writeln!(out, "{n} {secs}").and_then(|()| out.flush()).map_err(|e| e.to_string())
        }
        Peer::Echo | Peer::Hold => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            if role == Peer::Echo {
                runtime.block_on(echo(addr, out))
            } else {
                runtime.block_on(hold(addr, count, out))
            }
        }
        Peer::Send => {
            let mut s = TcpStream::connect_timeout(&addr, STALL).map_err(io("connect"))?;
            write_n(&mut s, count).map_err(io("sending"))?;
            // Wait for the other end's close, so that everything sent has been read.
            let mut rest = [0_u8; 64];
            s.set_read_timeout(Some(STALL)).map_err(|e| e.to_string())?;
            while s.read(&mut rest).map_err(io("waiting for the close"))? != 0 {}
            Ok(())
        }
    }
}

/// `pila bench --peer echo`.
async fn echo(addr: SocketAddr, mut out: std::io::StdoutLock<'_>) -> Result<(), String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(io("bind"))?;
    writeln!(out, "ready").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    drop(out);
    loop {
        let (mut s, _) = listener.accept().await.map_err(io("accept"))?;
        tokio::spawn(async move {
            let mut byte = [0_u8; 1];
            if s.read_exact(&mut byte).await.is_ok() && s.write_all(&byte).await.is_ok() {
                while matches!(s.read(&mut byte).await, Ok(n) if n > 0) {}
            }
        });
    }
}

/// `pila bench --peer hold`: `count` connections, made 64 at a time.
async fn hold(
    addr: SocketAddr,
    count: u64,
    mut out: std::io::StdoutLock<'_>,
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let permits = std::sync::Arc::clone(&permits);
            tokio::spawn(async move {
                let _permit = permits.acquire().await.map_err(|e| e.to_string())?;
                let mut s = tokio::time::timeout(STALL, tokio::net::TcpStream::connect(addr))
                    .await
                    .map_err(|_| "connect timed out".to_owned())?
                    .map_err(io("connect"))?;
                let mut byte = [7_u8; 1];
                s.write_all(&byte).await.map_err(io("request"))?;
                tokio::time::timeout(STALL, s.read_exact(&mut byte))
                    .await
                    .map_err(|_| "no answer".to_owned())?
                    .map_err(io("answer"))?;
                Ok::<_, String>(s)
            })
        })
        .collect();
    let mut held = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.into_iter().enumerate() {
        let s =
            task.await.map_err(|e| e.to_string())?.map_err(|e| format!("connection {i}: {e}"))?;
        held.push(s);
    }
    writeln!(out, "ready").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest);
    drop(held);
    Ok(())
}

/// `prlimit`'s (util-linux) option that gives a process all the descriptors this one may
/// have (its hard limit): the `proxy` scenario starts every process through it, as each
/// holds a descriptor per idle connection.
fn nofile() -> String {
    let hard = hard_files_limit();
    format!("--nofile={hard}:{hard}")
}

/// This process's hard limit of open files.
fn hard_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?.to_owned();
            line.split_whitespace().nth(4)?.parse().ok()
        })
        .unwrap_or(1024)
}

/// A process's resident set, in bytes (`VmRSS` of `/proc/PID/status`).
fn resident(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read the status of process {pid}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no VmRSS for process {pid}"))
}

/// The memory `relay` takes per proxied idle connection: its resident set's growth while
/// `conns` connections from namespace `ns`, each having carried a byte both ways, stand
/// idle through it to the far host's echo server. A heap counter would have to live
/// inside every relay; the resident set is what each one costs, measured the same way.
fn idle_through(ns: &str, relay: &Child, conns: u64) -> Result<f64, String> {
    let before = resident(relay.id())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut holder = Command::new("ip")
        .args(["netns", "exec", ns, "prlimit", &nofile()])
        .arg(exe)
        .args(["bench", "--peer", "hold", "--addr", "198.51.100.2:5300"])
        .args(["--count", &conns.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the idle connections: {e}"))?;
    let mut line = String::new();
    if let Some(out) = holder.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let taken = if line.trim() == "ready" {
        // Delayed acknowledgements and window updates go out; buffers no longer needed
        // are given back.
        std::thread::sleep(Duration::from_secs(1));
        resident(relay.id()).map(|after| after.saturating_sub(before) as f64 / conns as f64)
    } else {
        let mut err = String::new();
        if let Some(mut e) = holder.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Err(format!("the idle connections were not made: {}", err.lines().last().unwrap_or("")))
    };
    drop(holder.stdin.take());
    let _ = holder.wait();
    // Their closes go through before the next figure.
    std::thread::sleep(Duration::from_millis(500));
    taken
}

/// What relays the `proxy` scenario's traffic in the middle namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// `pila proxy --direct`, with the TUN's offloads or without.
    Pila { offload: bool },
    /// A relay of `pila bench --relay NAME` on another stack.
    Relay(&'static str),
    /// No TUN: the middle kernel forwards.
    Kernel,
}

/// `proxy`: iperf3 from a client namespace to a far one, one stream (the figure) and eight
/// (an extra), through a relay on a TUN in the middle namespace, or through the middle
/// kernel's plain forwarding. `side` pila: `pila proxy --direct`, and with the TUN's
/// offloads as extras; smoltcp: the relays on netstack-smoltcp (the figure) and on
/// ipstack (extras); linux: the kernel. `bytes` per run. Before the transfers, each relay
/// (pila's without offloads: the same code) holds `conns` idle connections, for its
/// memory per connection (`idle_bytes_per_connection`).
///
/// ```text
/// client 192.0.2.2 ── 192.0.2.1 middle (pt0: the relay) 198.51.100.1 ── 198.51.100.2 far
/// ```
pub(super) fn proxy(side: Side, bytes: u64, conns: u64, prefix: &str) -> Result<Taken, Why> {
    let engines: &[(Engine, &str)] = match side {
        Side::Pila => &[
            (Engine::Pila { offload: false }, ""),
            (Engine::Pila { offload: true }, "offloads_on"),
        ],
        Side::Smoltcp if cfg!(feature = "bench-proxies") => {
            &[(Engine::Relay("netstack-smoltcp"), ""), (Engine::Relay("ipstack"), "ipstack")]
        }
        Side::Smoltcp => {
            return Err(Why::Skip("built without the bench-proxies feature".into()));
        }
        Side::Linux => &[(Engine::Kernel, "")],
    };
    preflight().map_err(Why::Skip)?;
    if run("iperf3", &["--version"]).is_err() {
        return Err(Why::Skip("iperf3 is not installed (Debian: apt-get install iperf3)".into()));
    }
    let mut lab = Lab::new();
    let (c, m, f) = (format!("{prefix}-pc"), format!("{prefix}-pm"), format!("{prefix}-pf"));
    for ns in [&c, &m, &f] {
        lab.namespace(ns.clone(), false)?;
    }
    ip(&["-n", &m, "link", "add", "pma", "type", "veth", "peer", "name", "pca", "netns", &c])?;
    ip(&["-n", &m, "link", "add", "pmb", "type", "veth", "peer", "name", "pfb", "netns", &f])?;
    for (ns, dev, cidr) in [
        (&m, "pma", "192.0.2.1/30"),
        (&c, "pca", "192.0.2.2/30"),
        (&m, "pmb", "198.51.100.1/24"),
        (&f, "pfb", "198.51.100.2/24"),
    ] {
        ip(&["-n", ns, "addr", "add", cidr, "dev", dev])?;
        ip(&["-n", ns, "link", "set", "dev", dev, "up"])?;
    }
    ip(&["-n", &c, "route", "add", "198.51.100.0/24", "via", "192.0.2.1"])?;
    ip(&["-n", &f, "route", "add", "192.0.2.0/24", "via", "198.51.100.1"])?;
    sysctl(&m, "net.ipv4.ip_forward=1")?;
    for key in ["all", "default"] {
        sysctl(&m, &format!("net.ipv4.conf.{key}.rp_filter=0"))?;
    }
    let server = Command::new("ip")
        .args(["netns", "exec", &f, "iperf3", "-s", "-B", "198.51.100.2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start iperf3 -s: {e}"))?;
    lab.children.push(server);
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let echo = Command::new("ip")
        .args(["netns", "exec", &f, "prlimit", &nofile()])
        .arg(exe)
        .args(["bench", "--peer", "echo", "--addr", "198.51.100.2:5300"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the echo server: {e}"))?;
    lab.children.push(echo);
    listening(&f, "198.51.100.2:5201")?;
    listening(&f, "198.51.100.2:5300")?;
    // Each process holds a descriptor per connection, and a few more.
    let conns = conns.min(hard_files_limit().saturating_sub(128)).max(1);
    let mut taken: Option<Taken> = None;
    for &(engine, key) in engines {
        let relay = match engine {
            Engine::Kernel => None,
            engine => Some(start_relay(&m, engine)?),
        };
        let idle = match &relay {
            Some(r) if engine != (Engine::Pila { offload: true }) => {
                Some(idle_through(&c, r, conns))
            }
            _ => None,
        };
        let figures = iperf(&c, bytes, 1).and_then(|one| Ok((one, iperf(&c, bytes, 8)?)));
        if let Some(mut r) = relay {
            let _ = r.kill();
            let _ = r.wait();
            let _ = ip(&["-n", &m, "link", "del", "pt0"]);
            let _ = ip(&["-n", &m, "rule", "del", "iif", "pma", "lookup", "100"]);
        }
        let mut t = match (taken, figures) {
            (None, figures) => {
                let (one, eight) = figures?;
                Taken::new(one).with("streams_8", eight)
            }
            (Some(t), Ok((one, eight))) => {
                t.with(key, one).with(&format!("{key}_streams_8"), eight)
            }
            (Some(t), Err(e)) => t.without(key, &e).without(&format!("{key}_streams_8"), &e),
        };
        let idle_key = if key.is_empty() {
            "idle_bytes_per_connection".to_owned()
        } else {
            format!("{key}_idle_bytes_per_connection")
        };
        t = match idle {
            Some(Ok(bytes)) => t.with(&idle_key, bytes),
            Some(Err(e)) => t.without(&idle_key, &e),
            None => t,
        };
        taken = Some(t);
    }
    taken.ok_or_else(|| Why::Fail("no engine to measure".into()))
}

/// Waits until a TCP socket in `ns` listens on `addr`, so that no client races its server.
fn listening(ns: &str, addr: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "ss", "-Hltn"])
            .output()
            .map_err(|e| format!("cannot run ss: {e}"))?;
        if String::from_utf8_lossy(&out.stdout).contains(addr) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr} in {ns} after 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TUN in `ns` that takes what comes from the client, and `engine` relaying on it.
fn start_relay(ns: &str, engine: Engine) -> Result<Child, String> {
    ip(&["-n", ns, "tuntap", "add", "dev", "pt0", "mode", "tun"])?;
    ip(&["-n", ns, "link", "set", "dev", "pt0", "up"])?;
    sysctl(ns, "net.ipv4.conf.pt0.rp_filter=0")?;
    ip(&["-n", ns, "route", "add", "198.51.100.0/24", "dev", "pt0", "table", "100"])?;
    ip(&["-n", ns, "rule", "add", "iif", "pma", "lookup", "100"])?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns, "prlimit", &nofile()]).arg(exe);
    let ready = match engine {
        Engine::Pila { offload } => {
            command.args(["proxy", "--tun", "pt0", "--ip", "192.0.2.200/24", "--direct"]);
            command.args(["--intercept", "198.51.100.0/24"]);
            if offload {
                command.arg("--offload");
            }
            "pila proxy: "
        }
        Engine::Relay(name) => {
            command.args(["bench", "--relay", name, "--tun", "pt0"]);
            "relay: ready"
        }
        Engine::Kernel => return Err("the kernel needs no relay".into()),
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the relay: {e}"))?;
    let mut first = String::new();
    if let Some(err) = child.stderr.take() {
        let _ = BufReader::new(err).read_line(&mut first);
    }
    if !first.starts_with(ready) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("the relay ({engine:?}) did not start: {}", first.trim()));
    }
    Ok(child)
}

/// `iperf3 -c` from `ns` to the far host with `streams` streams moving `bytes` in all:
/// the receiver's Gbit/s. A server still closing the previous test answers "busy" for a
/// moment: that is tried again, a few times.
fn iperf(ns: &str, bytes: u64, streams: u32) -> Result<f64, String> {
    let mut tries = 0;
    loop {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "iperf3", "-c", "198.51.100.2", "-J"])
            .args(["-n", &bytes.to_string(), "-P", &streams.to_string()])
            .output()
            .map_err(|e| format!("cannot run iperf3: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let error = text.lines().find(|l| l.contains("\"error\"")).unwrap_or("").trim();
        if error.contains("busy") && tries < 5 {
            tries += 1;
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        if !out.status.success() {
            return Err(format!("iperf3 failed: {error}"));
        }
        return received_bits_per_second(&text)
            .map(|b| b / 1e9)
            .ok_or_else(|| format!("no sum_received in iperf3's report {error}"));
    }
}

/// `end.sum_received.bits_per_second` of iperf3's JSON report.
fn received_bits_per_second(json: &str) -> Option<f64> {
    let at = json.rfind("\"sum_received\"")?;
    let rest = &json[at..];
    let key = "\"bits_per_second\":";
    let value = rest[rest.find(key)? + key.len()..].trim_start();
    let end = value.find([',', '\n', '}']).unwrap_or(value.len());
    value[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn iperf3_reports_are_read() {
        let json = r#"{"end": {"sum_sent": {"bits_per_second": 1.0},
            "sum_received": {"seconds": 1, "bits_per_second": 2.5e9, "sender": true}}}"#;
        assert_eq!(super::received_bits_per_second(json), Some(2.5e9));
        assert_eq!(super::received_bits_per_second("{}"), None);
    }
}
