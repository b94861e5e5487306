//! What `serve`, `connect`, `listen` and `ping` share: the device and address options, and
//! starting a `pila::net::Stack` on them.

use pila::device::{Device, Impaired, Impairments, Pcap, Tap, Tun, WaitDevice};
use pila::net;
use pila::stack::{Ipv4Cidr, Ipv6Cidr};
use pila::wire::Ipv4Addr;
use std::io::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

/// Which device pila runs on: exactly one of `--tap` and `--tun`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub(crate) struct DeviceArgs {
    /// Run on the TAP device NAME (Ethernet, with ARP); created if it does not exist.
    #[arg(long, value_name = "NAME")]
    tap: Option<String>,
    /// Run on the TUN device NAME (bare IP packets); created if it does not exist.
    #[arg(long, value_name = "NAME")]
    tun: Option<String>,
}

/// Whether to ask the kernel for the device's offloads.
#[derive(Debug, clap::Args)]
pub(crate) struct OffloadArgs {
    /// Ask the kernel for TAP/TUN offloads: TCP checksums left to it and TCP segments of up
    /// to 64 KiB both ways (TSO and GRO through a virtio-net header). Without them, or when
    /// the kernel refuses, the device works the same, one MTU-sized frame at a time.
    #[arg(long)]
    offload: bool,
}

/// The device, pila's address on it, and how the link behaves.
#[derive(Debug, clap::Args)]
pub(crate) struct LinkArgs {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    offload: OffloadArgs,
    /// pila's address and prefix length on the device, like 192.0.2.2/24; repeat it for
    /// more. One must be IPv4; an IPv6 one (2001:db8::2/64) turns IPv6 on, with a
    /// link-local address and SLAAC from the link's routers beside it.
    #[arg(long, value_name = "ADDR/PREFIX", value_parser = parse_cidr, required = true)]
    ip: Vec<Cidr>,
    /// The router for destinations outside the prefix.
    #[arg(long, value_name = "ADDR")]
    gateway: Option<Ipv4Addr>,
    /// The IP MTU (default and upper bound: the device's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(576..))]
    mtu: Option<u16>,
    /// Write every frame pila sends and receives to this pcap file (Wireshark, tshark).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Impair the link in both directions, like loss=2%,reorder=2%,dup=1%,delay=5ms,seed=7.
    #[arg(long, value_name = "SPEC", value_parser = parse_impairments)]
    impair: Option<Impairments>,
    /// Write a trace of every TCP connection to this file: one JSON object per line for
    /// each segment, RTT sample, timer, congestion window change and loss (`pila plot`
    /// draws it).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

impl LinkArgs {
    /// How many IPv6 addresses `--ip` gave.
    pub(crate) fn ipv6_count(&self) -> usize {
        self.ip.iter().filter(|c| matches!(c, Cidr::V6(_))).count()
    }

    /// pila's first IPv4 address (unspecified until `start` has checked there is one).
    fn addr(&self) -> Ipv4Addr {
        self.ip
            .iter()
            .find_map(|c| match c {
                Cidr::V4(c) => Some(c.addr),
                Cidr::V6(_) => None,
            })
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// Where a server listens: with IPv6 on, `::`, every address of both families (IPv4
    /// ones seen as mapped); otherwise pila's IPv4 address.
    pub(crate) fn listen_addr(&self) -> IpAddr {
        if self.ipv6_count() > 0 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(self.addr())
        }
    }

    /// pila's addresses as `--ip` gave them, without prefixes: `192.0.2.2 and 2001:db8::2`.
    pub(crate) fn addresses(&self) -> String {
        let addrs: Vec<String> = self
            .ip
            .iter()
            .map(|c| match c {
                Cidr::V4(c) => c.addr.to_string(),
                Cidr::V6(c) => c.addr.to_string(),
            })
            .collect();
        addrs.join(" and ")
    }

    /// Opens the device, wraps it as asked and starts a stack on it, with its driver on a
    /// thread of its own; returns once its IPv6 addresses are usable.
    pub(crate) fn start(&self) -> Result<net::Stack, String> {
        let trace = self.trace.as_deref().map(TraceLog::create).transpose()?;
        let stack = self.builder()?.build().map_err(start_failure)?;
        if let Some(log) = trace {
            log.start(&stack);
        }
        self.wait_for_ipv6(&stack);
        Ok(stack)
    }

    /// Opens the device, wraps it as asked and starts a stack on it, with its driver as a
    /// task on the current tokio runtime; returns once its IPv6 addresses are usable.
    pub(crate) fn start_tokio(&self) -> Result<net::Stack, String> {
        let trace = self.trace.as_deref().map(TraceLog::create).transpose()?;
        let stack = self.builder()?.build_tokio().map_err(start_failure)?;
        if let Some(log) = trace {
            log.start(&stack);
        }
        self.wait_for_ipv6(&stack);
        Ok(stack)
    }

    /// Waits, at most 5 s, until the link-local address and those `--ip` gave have passed
    /// duplicate address detection (a second or two): until then no connection or
    /// datagram can come from them. One found taken is reported and never used; the wait
    /// then ends at its bound and the rest goes on without it.
    fn wait_for_ipv6(&self, stack: &net::Stack) {
        let wanted = self.ipv6_count();
        if wanted == 0 {
            return;
        }
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while stack.ipv6_addresses().len() < 1 + wanted && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The device, wrapped as asked, and the stack's settings.
    fn builder(&self) -> Result<net::StackBuilder, String> {
        let offload = self.offload.offload;
        let mut device: Box<dyn WaitDevice> = match (&self.device.tap, &self.device.tun) {
            (Some(name), _) => {
                let tap = if offload { Tap::open_with_offloads(name) } else { Tap::open(name) };
                Box::new(tap.map_err(|e| open_failure("TAP", &e))?)
            }
            (None, Some(name)) => {
                let tun = if offload { Tun::open_with_offloads(name) } else { Tun::open(name) };
                Box::new(tun.map_err(|e| open_failure("TUN", &e))?)
            }
            (None, None) => return Err("no device — give --tap NAME or --tun NAME".into()),
        };
        if let Some(spec) = self.impair {
            device = Box::new(Impaired::new(device, spec));
        }
        if let Some(path) = &self.pcap {
            device = Box::new(open_capture(device, path)?);
        }
        if !self.ip.iter().any(|c| matches!(c, Cidr::V4(_))) {
            return Err("no IPv4 address — give one --ip like 192.0.2.2/24 (IPv6 ones go \
                        beside it)"
                .into());
        }
        let mut builder = net::Stack::builder().device(device).trace(self.trace.is_some());
        for cidr in &self.ip {
            builder = builder.address(cidr.to_string());
        }
        if let Some(gateway) = self.gateway {
            builder = builder.gateway(gateway);
        }
        if let Some(mtu) = self.mtu {
            builder = builder.mtu(usize::from(mtu));
        }
        Ok(builder)
    }
}

fn start_failure(e: std::io::Error) -> String {
    format!("cannot start the stack: {e} — check --ip and --mtu")
}

/// A failure to open the device; the device layer's message already says how to fix it.
fn open_failure(kind: &str, err: &std::io::Error) -> String {
    let text = err.to_string();
    if text.contains(" — ") {
        text
    } else {
        format!("cannot open the {kind}: {text} — run as root, or check the name")
    }
}

/// Wraps `device` in a capture written to `path`, stamped with wall-clock time.
pub(crate) fn open_capture<D: Device>(device: D, path: &Path) -> Result<Pcap<D>, String> {
    let pcap = Pcap::create(device, path).map_err(|e| {
        format!(
            "cannot create the capture {}: {e} — check that its directory exists and is writable",
            path.display()
        )
    })?;
    // The driver's clock reads zero at `clock_epoch`; pcap readers want Unix time.
    let since_epoch = net::clock_epoch().elapsed();
    let unix_now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Ok(pcap.with_time_offset(unix_now.saturating_sub(since_epoch)))
}

/// An address and prefix of either family, as `--ip` takes it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cidr {
    V4(Ipv4Cidr),
    V6(Ipv6Cidr),
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4(c) => c.fmt(f),
            Self::V6(c) => c.fmt(f),
        }
    }
}

fn parse_cidr(text: &str) -> Result<Cidr, String> {
    if let Ok(c) = text.parse() {
        return Ok(Cidr::V4(c));
    }
    text.parse().map(Cidr::V6).map_err(|_| {
        format!(
            "expected an address and prefix length, like 192.0.2.2/24 or 2001:db8::2/64, \
             not {text:?}"
        )
    })
}

fn parse_impairments(text: &str) -> Result<Impairments, String> {
    text.parse().map_err(|e: pila::device::ParseImpairmentsError| e.to_string())
}

/// Creates (or truncates) the `what` at `path` (`"event log"`, `"trace"`).
fn create_log(path: &Path, what: &str) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| {
        format!(
            "cannot write the {what} {}: {e} — check that its directory exists and is writable",
            path.display()
        )
    })
}

/// What the thread that wrote the `what` at `path` ended with, as one line if it failed.
fn joined(thread: JoinHandle<std::io::Result<()>>, path: &Path, what: &str) -> Result<(), String> {
    match thread.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            Err(format!("could not write the {what} {}: {e} — check the disk", path.display()))
        }
        Err(_) => Err(format!("the {what} writer crashed — this is a bug in pila")),
    }
}

/// `--events FILE`: every event of the stack, one JSON object per line, written as it
/// happens by a thread that ends when the stack stops.
pub(crate) struct EventLog {
    thread: JoinHandle<std::io::Result<()>>,
    path: PathBuf,
}

impl EventLog {
    /// Creates (or truncates) `path` and starts writing `stack`'s events to it.
    pub(crate) fn start(stack: &net::Stack, path: &Path) -> Result<Self, String> {
        let file = create_log(path, "event log")?;
        let events = stack.events();
        let thread = std::thread::spawn(move || {
            let mut out = std::io::LineWriter::new(file);
            for event in events {
                writeln!(out, "{event}")?;
            }
            out.flush()
        });
        Ok(Self { thread, path: path.to_owned() })
    }

    /// Waits for the log to end (the stack has stopped) and reports a write failure.
    pub(crate) fn finish(self) -> Result<(), String> {
        joined(self.thread, &self.path, "event log")
    }
}

/// `--trace FILE`: the trace records of every connection, one JSON object per line
/// (`pila::tcp::trace` gives the schema), written by a thread that ends when the stack
/// stops; [`finish_traces`] waits for it before the process exits.
pub(crate) struct TraceLog {
    file: std::fs::File,
    path: PathBuf,
}

/// The trace writers started, for [`finish_traces`].
static TRACE_WRITERS: std::sync::Mutex<Vec<(PathBuf, JoinHandle<std::io::Result<()>>)>> =
    std::sync::Mutex::new(Vec::new());

impl TraceLog {
    /// Creates (or truncates) `path`, before the stack starts, so that a path that cannot
    /// be written is one clear error.
    pub(crate) fn create(path: &Path) -> Result<Self, String> {
        Ok(Self { file: create_log(path, "trace")?, path: path.to_owned() })
    }

    /// Writes `stack`'s trace records to the file from now on.
    pub(crate) fn start(self, stack: &net::Stack) {
        let traces = stack.traces();
        let file = self.file;
        let thread = std::thread::spawn(move || {
            let mut out = std::io::BufWriter::new(file);
            let mut missed = 0;
            while let Some(record) = traces.next_timeout(std::time::Duration::MAX) {
                let dropped = traces.missed();
                if dropped > missed {
                    // The stream was full: say so where it happened.
                    writeln!(out, "{{\"ev\":\"dropped\",\"records\":{}}}", dropped - missed)?;
                    missed = dropped;
                }
                writeln!(out, "{}", record.to_json())?;
            }
            out.flush()
        });
        let mut writers = TRACE_WRITERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        writers.push((self.path, thread));
    }
}

/// Waits (2 s at most) for every trace writer to write what its stack traced; one line
/// when one could not.
pub(crate) fn finish_traces() -> Result<(), String> {
    let writers = std::mem::take(
        &mut *TRACE_WRITERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for (path, thread) in writers {
        while !thread.is_finished() && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if !thread.is_finished() {
            return Err(format!(
                "the trace {} may miss its last records: the stack did not stop",
                path.display()
            ));
        }
        joined(thread, &path, "trace")?;
    }
    Ok(())
}

/// Set once SIGINT or SIGTERM has arrived.
pub(crate) fn stop_requested() -> bool {
    stop_flag().load(Ordering::Relaxed)
}

/// SIGINT and SIGTERM, caught: they set [`stop_requested`] instead of killing the process.
pub(crate) struct StopSignals(signal_hook::iterator::Signals);

impl StopSignals {
    /// Catches SIGINT and SIGTERM from now on.
    pub(crate) fn catch() -> Result<Self, String> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let failed = |e: std::io::Error| {
            format!("cannot catch SIGINT and SIGTERM: {e} — this is a bug in pila")
        };
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(stop_flag())).map_err(failed)?;
        }
        let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(failed)?;
        Ok(Self(signals))
    }

    /// Blocks until one of the signals has arrived (at once if one already has).
    pub(crate) fn wait(&mut self) {
        if !stop_requested() {
            // Every signal registered here is a stop signal: whichever comes ends the wait.
            let _ = self.0.forever().next();
        }
    }
}

fn stop_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}
