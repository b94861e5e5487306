//! `pila bench`: the scenarios of issue 10 on pila, smoltcp and Linux, one after the other
//! in the same run, with ratios.
//!
//! Every figure is taken in its own process: this binary started again with hidden
//! `--worker SCENARIO --side SIDE` options (the `idle` figures of pila and smoltcp in
//! `pila-bench-idle`, the binary beside it that counts the heap with a counting global
//! allocator, which this one does not carry). A worker prints its figures as lines
//! (`value X`, `extra KEY X`, `null KEY REASON`, or `skip REASON`); the parent collects them
//! and prints a table, or one JSON object per scenario and line. Linux's figures on the
//! loopback run in a network namespace the parent makes for the worker and always deletes.

mod callgrind;
mod linux;
mod measure;
mod pila_side;
#[cfg(feature = "bench-proxies")]
mod relays;
mod report;
mod sans_io_pair;
#[cfg(feature = "bench-smoltcp")]
mod smoltcp_dev;
#[cfg(feature = "bench-smoltcp")]
mod smoltcp_side;

use crate::Failure;
use measure::Taken;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

/// Options of `pila bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print one JSON object per scenario, one a line, instead of the table.
    #[arg(long)]
    json: bool,
    /// Smaller work: 256 MiB per transfer instead of 1 GiB, 10,000 idle connections instead
    /// of 100,000.
    #[arg(long)]
    quick: bool,
    /// Run only this scenario; repeat to run several (default: all).
    #[arg(long = "only", value_name = "SCENARIO", value_enum)]
    only: Vec<Scenario>,
    /// Tiny sizes, for the test suite: seconds, not minutes; the figures mean little.
    #[arg(long, hide = true)]
    tiny: bool,
    /// Take one figure in this process and print it (used by `pila bench`).
    #[arg(long, value_name = "SCENARIO", value_enum, hide = true)]
    worker: Option<Scenario>,
    /// The stack the worker measures.
    #[arg(long, value_enum, hide = true, default_value = "pila")]
    side: Side,
    /// Which of pila's APIs the worker uses.
    #[arg(long, value_enum, hide = true, default_value = "net")]
    variant: Variant,
    /// Bytes, round trips or connections of the worker's work.
    #[arg(long, hide = true, default_value_t = 1 << 20)]
    count: u64,
    /// Idle connections the proxy scenario's worker holds through each relay.
    #[arg(long, hide = true, default_value_t = 100)]
    connections: u64,
    /// Prefix of the network namespaces a worker creates.
    #[arg(long, value_name = "PREFIX", hide = true)]
    netns_prefix: Option<String>,
    /// Be the kernel's end of a transfer (std::net), in a namespace: `send` or `recv`.
    #[arg(long, value_enum, hide = true)]
    peer: Option<linux::Peer>,
    /// Where the peer connects or listens.
    #[arg(long, hide = true)]
    addr: Option<SocketAddr>,
    /// Be a relay of the proxy scenario on another stack, on the TUN `--tun`.
    #[cfg(feature = "bench-proxies")]
    #[arg(long, value_enum, hide = true, requires = "tun")]
    relay: Option<relays::Relay>,
    /// The TUN the relay runs on.
    #[arg(long, hide = true)]
    tun: Option<String>,
    /// Take the worker's figure only, none of its extras (the instructions scenario counts
    /// one transfer).
    #[arg(long, hide = true)]
    no_extras: bool,
}

/// A scenario of issue 10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// One connection moves 1 GiB over an in-memory wire (Linux: the loopback), MTU 1500.
    #[value(name = "bulk-1500")]
    Bulk1500,
    /// The same with MTU 65535.
    #[value(name = "bulk-64k")]
    Bulk64k,
    /// 1-byte request, 1-byte response on one connection, 100,000 times.
    Rr,
    /// Connect, 1-byte request and response, close, 20,000 times.
    Crr,
    /// 100,000 established idle connections in one process: heap per connection.
    Idle,
    /// pila sends 1 GiB to the Linux kernel over a TAP (Linux: veth to veth).
    #[value(name = "tap-tx")]
    TapTx,
    /// The Linux kernel sends 1 GiB to pila over a TAP (Linux: veth to veth).
    #[value(name = "tap-rx")]
    TapRx,
    /// Instructions per byte of bulk-1500 (16 MiB) under valgrind's callgrind.
    Instructions,
    /// bulk-1500 over IPv6.
    #[value(name = "bulk-1500-v6")]
    Bulk1500V6,
    /// bulk-64k over IPv6.
    #[value(name = "bulk-64k-v6")]
    Bulk64kV6,
    /// tap-tx over IPv6.
    #[value(name = "tap-tx-v6")]
    TapTxV6,
    /// tap-rx over IPv6.
    #[value(name = "tap-rx-v6")]
    TapRxV6,
    /// instructions over IPv6: the comparison of the two families that the machine's
    /// noise does not move.
    #[value(name = "instructions-v6")]
    InstructionsV6,
    /// iperf3 between two namespaces through `pila proxy --direct` on a TUN (Linux: the
    /// kernel forwarding between them), one stream and eight.
    Proxy,
}

/// The stack a figure is taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Side {
    Pila,
    Smoltcp,
    Linux,
}

/// Which of pila's APIs a pila figure goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Variant {
    /// `pila::net`: blocking sockets, a driver thread per stack.
    Net,
    /// The Sans-IO core: `pila::stack::Stack`s driven in one thread.
    #[value(name = "sans-io")]
    SansIo,
}

impl Scenario {
    /// Every scenario, each IPv6 one right after its IPv4 twin.
    const ALL: [Self; 14] = [
        Self::Bulk1500,
        Self::Bulk1500V6,
        Self::Bulk64k,
        Self::Bulk64kV6,
        Self::Rr,
        Self::Crr,
        Self::Idle,
        Self::TapTx,
        Self::TapTxV6,
        Self::TapRx,
        Self::TapRxV6,
        Self::Instructions,
        Self::InstructionsV6,
        Self::Proxy,
    ];

    /// The IPv4 scenario this one repeats over IPv6, if it is an IPv6 one.
    pub(crate) const fn ipv4_twin(self) -> Option<Self> {
        match self {
            Self::Bulk1500V6 => Some(Self::Bulk1500),
            Self::Bulk64kV6 => Some(Self::Bulk64k),
            Self::TapTxV6 => Some(Self::TapTx),
            Self::TapRxV6 => Some(Self::TapRx),
            Self::InstructionsV6 => Some(Self::Instructions),
            _ => None,
        }
    }

    /// The scenario's work whatever the family: the IPv4 twin of an IPv6 scenario.
    pub(crate) const fn base(self) -> Self {
        match self.ipv4_twin() {
            Some(twin) => twin,
            None => self,
        }
    }

    /// Whether the scenario runs over IPv6.
    pub(crate) const fn ipv6(self) -> bool {
        self.ipv4_twin().is_some()
    }

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Bulk1500 => "bulk-1500",
            Self::Bulk64k => "bulk-64k",
            Self::Rr => "rr",
            Self::Crr => "crr",
            Self::Idle => "idle",
            Self::TapTx => "tap-tx",
            Self::TapRx => "tap-rx",
            Self::Instructions => "instructions",
            Self::Bulk1500V6 => "bulk-1500-v6",
            Self::Bulk64kV6 => "bulk-64k-v6",
            Self::TapTxV6 => "tap-tx-v6",
            Self::TapRxV6 => "tap-rx-v6",
            Self::InstructionsV6 => "instructions-v6",
            Self::Proxy => "proxy",
        }
    }

    pub(crate) const fn unit(self) -> &'static str {
        match self {
            Self::Bulk1500
            | Self::Bulk64k
            | Self::TapTx
            | Self::TapRx
            | Self::Bulk1500V6
            | Self::Bulk64kV6
            | Self::TapTxV6
            | Self::TapRxV6
            | Self::Proxy => "Gbit/s",
            Self::Rr => "µs/round trip",
            Self::Crr => "connections/s",
            Self::Idle => "heap bytes/connection",
            Self::Instructions | Self::InstructionsV6 => "instructions/byte",
        }
    }

    /// Whether a bigger figure is better.
    pub(crate) const fn higher_is_better(self) -> bool {
        matches!(
            self.base(),
            Self::Bulk1500 | Self::Bulk64k | Self::Crr | Self::TapTx | Self::TapRx | Self::Proxy
        )
    }

    /// The IP MTU of the scenario's wire.
    pub(crate) const fn mtu(self) -> usize {
        match self.base() {
            Self::Bulk64k => 65535,
            _ => 1500,
        }
    }

    /// Whether pila's Sans-IO core is measured too, as an extra figure.
    const fn has_sans_io(self) -> bool {
        matches!(
            self.base(),
            Self::Bulk1500 | Self::Bulk64k | Self::Rr | Self::Idle | Self::Instructions
        )
    }

    /// Whether Linux's figure is taken on a loopback in a namespace the parent makes.
    const fn linux_on_loopback(self) -> bool {
        matches!(self.base(), Self::Bulk1500 | Self::Bulk64k | Self::Rr | Self::Crr | Self::Idle)
    }

    /// What the scenario's work is: bytes, round trips or connections.
    const fn count(self, sizes: &Sizes) -> u64 {
        match self {
            Self::Bulk1500 | Self::Bulk64k | Self::Bulk1500V6 | Self::Bulk64kV6 => sizes.bulk,
            Self::TapTx | Self::TapRx | Self::TapTxV6 | Self::TapRxV6 | Self::Proxy => sizes.tap,
            Self::Rr => sizes.rr,
            Self::Crr => sizes.crr,
            Self::Idle => sizes.idle,
            Self::Instructions | Self::InstructionsV6 => sizes.instructions,
        }
    }
}

impl Side {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Pila => "pila",
            Self::Smoltcp => "smoltcp",
            Self::Linux => "linux",
        }
    }
}

impl Variant {
    const fn name(self) -> &'static str {
        match self {
            Self::Net => "net",
            Self::SansIo => "sans-io",
        }
    }
}

/// The size of every scenario's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub(crate) bulk: u64,
    pub(crate) tap: u64,
    pub(crate) rr: u64,
    pub(crate) crr: u64,
    pub(crate) idle: u64,
    /// Idle connections through each relay of the proxy scenario.
    pub(crate) proxied: u64,
    pub(crate) instructions: u64,
}

impl Sizes {
    const FULL: Self = Self {
        bulk: 1 << 30,
        tap: 1 << 30,
        rr: 100_000,
        crr: 20_000,
        idle: 100_000,
        proxied: 10_000,
        instructions: 16 << 20,
    };
    const QUICK: Self =
        Self { bulk: 256 << 20, tap: 256 << 20, idle: 10_000, proxied: 2_000, ..Self::FULL };
    const TINY: Self = Self {
        bulk: 4 << 20,
        tap: 4 << 20,
        rr: 300,
        crr: 100,
        idle: 200,
        proxied: 100,
        instructions: 1 << 20,
    };

    const fn of(args: &Args) -> Self {
        if args.tiny {
            Self::TINY
        } else if args.quick {
            Self::QUICK
        } else {
            Self::FULL
        }
    }
}

/// How the taking of one figure ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Done(Taken),
    /// Cannot be taken here (no root, a missing tool): not an error.
    Skipped(String),
    Failed(String),
}

/// The figures of one scenario.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) scenario: Scenario,
    pub(crate) pila: Outcome,
    /// pila's Sans-IO core on the same work, where it is measured.
    pub(crate) sans_io: Option<Outcome>,
    pub(crate) smoltcp: Outcome,
    pub(crate) linux: Outcome,
    /// For an IPv6 scenario, pila's figure of its IPv4 twin in this run, if taken.
    pub(crate) ipv4: Option<f64>,
}

/// Runs the scenarios, each figure in its own process, and prints the table or the JSON.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    if let Some(peer) = args.peer {
        let addr = args.addr.ok_or_else(|| Failure::Usage("--peer needs --addr".into()))?;
        return linux::peer(peer, addr, args.count).map_err(Failure::Message);
    }
    #[cfg(feature = "bench-proxies")]
    if let (Some(relay), Some(tun)) = (args.relay, &args.tun) {
        return relays::run(relay, tun).map_err(Failure::Message);
    }
    if let Some(scenario) = args.worker {
        return worker(scenario, args);
    }
    let sizes = Sizes::of(args);
    let scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.contains(s))
        .collect();
    let prefix = format!("pb{}", std::process::id());
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program to start the workers: {e}"))?;
    let jobs: u64 = scenarios.iter().map(|s| 3 + u64::from(s.has_sans_io())).sum();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(jobs),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template("{pos}/{len} [{elapsed}] {msg}") {
        bar.set_style(style);
    }
    let mut rows = Vec::new();
    let mut out = std::io::stdout().lock();
    for scenario in scenarios {
        let figure = |side: Side, variant: Variant| {
            bar.set_message(format!("{} on {} ({})", scenario.name(), side.name(), variant.name()));
            let outcome = take(&exe, scenario, side, variant, &sizes, &prefix);
            // Whatever became of the worker, no namespace of ours outlives it.
            linux::delete_namespaces(&prefix);
            bar.inc(1);
            outcome
        };
        let pila = figure(Side::Pila, Variant::Net);
        let sans_io = scenario.has_sans_io().then(|| figure(Side::Pila, Variant::SansIo));
        let smoltcp = figure(Side::Smoltcp, Variant::Net);
        let linux = figure(Side::Linux, Variant::Net);
        // An IPv6 scenario runs right after its IPv4 twin: the two are compared.
        let ipv4 = scenario.ipv4_twin().and_then(|twin| {
            let row = rows.iter().find(|r: &&Row| r.scenario == twin)?;
            report::value(&row.pila)
        });
        let row = Row { scenario, pila, sans_io, smoltcp, linux, ipv4 };
        if args.json {
            bar.suspend(|| -> std::io::Result<()> {
                for reason in report::reasons(&row) {
                    eprintln!("pila bench: {reason}");
                }
                out.write_all(report::json_line(&row).as_bytes())?;
                out.flush()
            })?;
        }
        rows.push(row);
    }
    bar.finish_and_clear();
    if !args.json {
        out.write_all(report::table(&rows, &sizes).as_bytes())?;
        out.flush()?;
    }
    let failed: Vec<String> = rows.iter().flat_map(report::failures).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Message(format!("{} — see above", failed.join("; "))))
    }
}

/// Starts the worker that takes one figure, and reads what it printed.
fn take(
    exe: &std::path::Path,
    scenario: Scenario,
    side: Side,
    variant: Variant,
    sizes: &Sizes,
    prefix: &str,
) -> Outcome {
    let mut count = scenario.count(sizes);
    if (scenario, side) == (Scenario::Idle, Side::Linux) {
        // Both ends of every connection are in the worker, two descriptors each: as many
        // connections as this process's descriptor limit allows (raising it takes a
        // privilege the machine may not give); the worker says how many it made.
        count = count.min(linux::open_files_limit().saturating_sub(64) / 2);
    }
    let count = count.to_string();
    let mut worker_args: Vec<String> =
        ["bench", "--worker", scenario.name(), "--side", side.name()]
            .into_iter()
            .map(str::to_owned)
            .collect();
    worker_args.extend(["--variant".into(), variant.name().into(), "--count".into(), count]);
    worker_args.extend(["--netns-prefix".into(), prefix.to_owned()]);
    if scenario == Scenario::Proxy {
        worker_args.extend(["--connections".into(), sizes.proxied.to_string()]);
    }
    let mut _lab = None;
    let mut command = match (scenario, side) {
        (Scenario::Idle, Side::Pila | Side::Smoltcp) => {
            let Some(idle) = exe.parent().map(|dir| dir.join("pila-bench-idle")) else {
                return Outcome::Failed("no folder around this program".into());
            };
            if !idle.exists() {
                return Outcome::Skipped(format!(
                    "{} is missing (it is built with pila: cargo build -p pila-cli)",
                    idle.display()
                ));
            }
            let mut c = Command::new(idle);
            c.args(&worker_args[1..]);
            c
        }
        (s, Side::Linux) if s.linux_on_loopback() => {
            if let Err(reason) = linux::preflight() {
                return Outcome::Skipped(reason);
            }
            let lab = match linux::loopback_namespace(prefix, s.mtu(), s.ipv6()) {
                Ok(lab) => lab,
                Err(e) => return Outcome::Failed(e),
            };
            let mut c = Command::new("ip");
            c.args(["netns", "exec", lab.name()]);
            c.arg(exe).args(&worker_args);
            _lab = Some(lab);
            c
        }
        _ => {
            let mut c = Command::new(exe);
            c.args(&worker_args);
            c
        }
    };
    let out = command.stdin(Stdio::null()).stderr(Stdio::piped()).output();
    let out = match out {
        Ok(out) => out,
        Err(e) => return Outcome::Failed(format!("cannot start the worker: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(reason) = stdout.lines().find_map(|l| l.strip_prefix("skip ")) {
        return Outcome::Skipped(reason.to_owned());
    }
    match Taken::parse(&stdout) {
        Some(taken) if out.status.success() => Outcome::Done(taken),
        _ => {
            let why = stderr.lines().last().unwrap_or("no output").trim_start_matches("pila: ");
            Outcome::Failed(format!("{why} ({})", out.status))
        }
    }
}

/// Takes one figure here and prints it, or `skip REASON`.
fn worker(scenario: Scenario, args: &Args) -> Result<(), Failure> {
    measure::clock_ticks();
    let prefix = args.netns_prefix.as_deref().unwrap_or("pb");
    let n = args.count;
    let (mtu, v6) = (scenario.mtu(), scenario.ipv6());
    let taken = match (scenario.base(), args.side, args.variant) {
        (Scenario::Instructions, side, variant) => callgrind::instructions(side, variant, v6, n),
        (Scenario::Proxy, side, _) => linux::proxy(side, n, args.connections, prefix),
        (base, Side::Linux, _) => linux::worker(base, v6, n, prefix),
        (Scenario::TapTx | Scenario::TapRx, Side::Smoltcp, _) => {
            Err(Why::Skip("smoltcp has no TAP end here: the scenario is pila against Linux".into()))
        }
        (Scenario::TapTx, Side::Pila, _) => linux::pila_tap(true, v6, n, prefix),
        (Scenario::TapRx, Side::Pila, _) => linux::pila_tap(false, v6, n, prefix),
        (Scenario::Idle, _, _) => {
            Err(Why::Skip("idle runs in pila-bench-idle, which counts the heap".into()))
        }
        (base, Side::Pila, variant) => {
            pila_side::worker(base, variant, v6, n, mtu, !args.no_extras)
        }
        #[cfg(feature = "bench-smoltcp")]
        (base, Side::Smoltcp, _) => smoltcp_side::worker(base, v6, n, mtu),
        #[cfg(not(feature = "bench-smoltcp"))]
        (_, Side::Smoltcp, _) => Err(Why::Skip("built without the bench-smoltcp feature".into())),
    };
    let text = match taken {
        Ok(taken) => taken.lines(),
        Err(Why::Skip(reason)) => format!("skip {reason}\n"),
        Err(Why::Fail(e)) => return Err(Failure::Message(e)),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Why a worker took no figure.
#[derive(Debug)]
pub(crate) enum Why {
    /// It cannot be taken here; not an error.
    Skip(String),
    /// It went wrong.
    Fail(String),
}

impl From<String> for Why {
    fn from(e: String) -> Self {
        Self::Fail(e)
    }
}
