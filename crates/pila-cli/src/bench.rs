//! `pila bench`: the same bulk TCP transfer on several stacks in one run, with ratios.
//!
//! Each work item runs in its own process (this binary started again with a hidden
//! `--worker NAME`), so that its CPU time and peak memory are its own. The worker prints one
//! line of figures; the parent collects them and prints the table. CPU time and peak memory
//! come from `/proc/self/stat` and `/proc/self/status`, the accounting `getrusage` reads
//! (without the `unsafe` a call to it would need). CPU time there counts in kernel ticks
//! (10 ms): it means something from a few tens of MiB on, not for `--size 4`.

mod linux;
mod pila_items;
#[cfg(feature = "bench-smoltcp")]
mod smoltcp_item;

use crate::Failure;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Options of `pila bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// MiB each work item transfers.
    #[arg(long, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    size: u64,
    /// Run only this work item; repeat to run several (default: all).
    #[arg(long = "only", value_name = "NAME", value_enum)]
    only: Vec<Item>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Run one work item in this process and print its figures (used by `pila bench`).
    #[arg(long, value_name = "NAME", value_enum, hide = true)]
    worker: Option<Item>,
    /// Prefix of the network namespaces a worker creates (used by `pila bench`).
    #[arg(long, value_name = "PREFIX", hide = true)]
    netns_prefix: Option<String>,
}

/// One work item: a stack (or two) moving `--size` MiB over TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Item {
    /// Two Sans-IO `pila::stack::Stack`s joined in memory, one thread, no wire delay.
    #[value(name = "sans-io")]
    SansIo,
    /// Two `pila::net` stacks on a `VirtualWire`, writer and reader on their own threads.
    #[value(name = "pila-net")]
    PilaNet,
    /// Two smoltcp interfaces joined by in-memory queues, one thread.
    Smoltcp,
    /// Linux to Linux over a veth pair between two network namespaces (root).
    Linux,
    /// Linux sending to pila (`pila::net`, discard) over a TAP in a namespace (root).
    #[value(name = "pila-tap")]
    PilaTap,
}

impl Item {
    const ALL: [Self; 5] = [Self::SansIo, Self::PilaNet, Self::Smoltcp, Self::Linux, Self::PilaTap];

    const fn name(self) -> &'static str {
        match self {
            Self::SansIo => "sans-io",
            Self::PilaNet => "pila-net",
            Self::Smoltcp => "smoltcp",
            Self::Linux => "linux",
            Self::PilaTap => "pila-tap",
        }
    }
}

/// What one work item measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Figures {
    /// Bytes the receiver got.
    pub(crate) bytes: u64,
    /// Seconds from the connection's start to the receiver's end of stream.
    pub(crate) secs: f64,
    /// CPU seconds (user and system) of every process of the item, both ends.
    pub(crate) cpu_secs: f64,
    /// Peak resident memory of the item's process, when it means something.
    pub(crate) peak_rss_kib: Option<u64>,
}

/// How a work item ended.
#[derive(Debug)]
enum Outcome {
    Done(Figures),
    Skipped(String),
    Failed(String),
}

/// How long a work item may go without moving a byte before it is declared stuck.
pub(crate) const STALL: Duration = Duration::from_secs(20);
/// The block a sender writes, again and again.
pub(crate) const BLOCK: usize = 1 << 20;

/// The next piece of the repeated `block` to send once `sent` of `total` bytes have gone:
/// from where `sent` falls in the block to the block's end or the transfer's, whichever
/// comes first.
pub(crate) fn next_chunk(block: &[u8], sent: u64, total: u64) -> &[u8] {
    let len = block.len().max(1);
    let off = usize::try_from(sent % len as u64).unwrap_or(0);
    let want = usize::try_from(total.saturating_sub(sent)).unwrap_or(usize::MAX).min(len - off);
    block.get(off..off + want).unwrap_or(&[])
}

/// Accepts one connection on `listener` in a new thread and reads it to its end. The
/// thread returns the bytes read and the seconds from the accept to the end.
pub(crate) fn spawn_reader(
    listener: pila::net::TcpListener,
) -> std::thread::JoinHandle<std::io::Result<(u64, f64)>> {
    std::thread::spawn(move || {
        use std::io::Read as _;
        let (mut stream, _) = listener.accept()?;
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
    })
}

/// Runs the work items, each in its own process, and prints the table (or the JSON).
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let bytes = args.size << 20;
    if let Some(item) = args.worker {
        return worker(item, bytes, args.netns_prefix.as_deref());
    }
    let items: Vec<Item> =
        Item::ALL.into_iter().filter(|i| args.only.is_empty() || args.only.contains(i)).collect();
    let prefix = format!("pila-bench-{}", std::process::id());
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program to start the work items: {e}"))?;
    let mut results = Vec::new();
    for item in items {
        if !args.json {
            eprintln!("pila bench: running {} ({} MiB)…", item.name(), args.size);
        }
        let outcome = run_worker(&exe, item, args.size, &prefix);
        // Whatever became of the worker, no namespace of ours outlives it.
        linux::delete_namespaces(&prefix);
        results.push((item, outcome));
    }
    let report = if args.json { json(args.size, &results) } else { table(args.size, &results) };
    let mut out = std::io::stdout().lock();
    out.write_all(report.as_bytes())?;
    out.flush()?;
    match results.iter().find_map(|(i, o)| matches!(o, Outcome::Failed(_)).then_some(*i)) {
        Some(item) => Err(Failure::Message(format!(
            "the {} work item failed — its error is above the table",
            item.name()
        ))),
        None => Ok(()),
    }
}

/// Starts `exe bench --worker ITEM` and reads its one line of figures.
fn run_worker(exe: &std::path::Path, item: Item, size: u64, prefix: &str) -> Outcome {
    let out = Command::new(exe)
        .args(["bench", "--worker", item.name(), "--size", &size.to_string()])
        .args(["--netns-prefix", prefix])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => return Outcome::Failed(format!("cannot start the worker: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stdout.lines() {
        if let Some(reason) = line.strip_prefix("skip ") {
            return Outcome::Skipped(reason.to_owned());
        }
        if let Some(figures) = line.strip_prefix("figures ").and_then(parse_figures) {
            if out.status.success() {
                return Outcome::Done(figures);
            }
        }
    }
    let why = stderr.lines().last().unwrap_or("no output").trim_start_matches("pila: ");
    Outcome::Failed(format!("{} ({})", why, out.status))
}

/// Runs one item here and prints `figures BYTES SECS CPU RSS` or `skip REASON`.
fn worker(item: Item, bytes: u64, prefix: Option<&str>) -> Result<(), Failure> {
    let prefix = prefix.unwrap_or("pila-bench");
    clock_ticks();
    let figures = match item {
        Item::SansIo => pila_items::sans_io(bytes)?,
        Item::PilaNet => pila_items::pila_net(bytes)?,
        #[cfg(feature = "bench-smoltcp")]
        Item::Smoltcp => smoltcp_item::run(bytes)?,
        #[cfg(not(feature = "bench-smoltcp"))]
        Item::Smoltcp => return skip("built without the bench-smoltcp feature"),
        Item::Linux | Item::PilaTap => {
            if let Err(reason) = linux::preflight() {
                return skip(&reason);
            }
            if item == Item::Linux {
                linux::kernel_to_kernel(bytes, prefix)?
            } else {
                linux::kernel_to_pila_tap(bytes, prefix)?
            }
        }
    };
    let rss = figures.peak_rss_kib.map_or_else(|| "-".to_owned(), |k| k.to_string());
    let mut out = std::io::stdout().lock();
    writeln!(out, "figures {} {} {} {rss}", figures.bytes, figures.secs, figures.cpu_secs)?;
    out.flush()?;
    Ok(())
}

fn skip(reason: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "skip {reason}")?;
    out.flush()?;
    Ok(())
}

fn parse_figures(text: &str) -> Option<Figures> {
    let mut f = text.split_whitespace();
    let bytes = f.next()?.parse().ok()?;
    let secs = f.next()?.parse().ok()?;
    let cpu_secs = f.next()?.parse().ok()?;
    let peak_rss_kib = match f.next()? {
        "-" => None,
        k => Some(k.parse().ok()?),
    };
    Some(Figures { bytes, secs, cpu_secs, peak_rss_kib })
}

impl Figures {
    /// Decimal megabytes per second, as iperf and most papers count.
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.secs.max(1e-9) / 1e6
    }

    /// CPU nanoseconds spent per byte moved, both ends together.
    fn cpu_ns_per_byte(&self) -> f64 {
        self.cpu_secs * 1e9 / (self.bytes.max(1) as f64)
    }
}

/// The item the ratios are taken against: `linux` when it ran, else `smoltcp`.
fn baseline(results: &[(Item, Outcome)]) -> Option<(Item, Figures)> {
    [Item::Linux, Item::Smoltcp].into_iter().find_map(|base| {
        results.iter().find_map(|(i, o)| match o {
            Outcome::Done(f) if *i == base => Some((base, *f)),
            _ => None,
        })
    })
}

fn ratio(value: f64, base: f64) -> f64 {
    if base > 0.0 { value / base } else { 0.0 }
}

fn table(size: u64, results: &[(Item, Outcome)]) -> String {
    let base = baseline(results);
    let base_name = base.map_or("-", |(i, _)| i.name());
    let mut s = String::new();
    let _ =
        writeln!(s, "pila bench: {size} MiB of bulk TCP per item, one run, one process per item");
    let _ = writeln!(
        s,
        "{:<10} {:>10} {:>9} {:>12} {:>9} {:>10}",
        "item",
        "MB/s",
        format!("×{base_name}"),
        "CPU ns/byte",
        format!("×{base_name}"),
        "peak RSS"
    );
    let mut notes = Vec::new();
    for (item, outcome) in results {
        match outcome {
            Outcome::Done(f) => {
                let (speed, cpu) = base.map_or(("-".to_owned(), "-".to_owned()), |(_, b)| {
                    (
                        format!("{:.2}", ratio(f.mb_per_s(), b.mb_per_s())),
                        format!("{:.2}", ratio(f.cpu_ns_per_byte(), b.cpu_ns_per_byte())),
                    )
                });
                let rss = f
                    .peak_rss_kib
                    .map_or_else(|| "-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
                let _ = writeln!(
                    s,
                    "{:<10} {:>10.1} {:>9} {:>12.2} {:>9} {:>10}",
                    item.name(),
                    f.mb_per_s(),
                    speed,
                    f.cpu_ns_per_byte(),
                    cpu,
                    rss
                );
            }
            Outcome::Skipped(why) => notes.push(format!("{}: skipped — {why}", item.name())),
            Outcome::Failed(why) => notes.push(format!("{}: FAILED — {why}", item.name())),
        }
    }
    for note in notes {
        let _ = writeln!(s, "{note}");
    }
    if base.is_some() {
        let _ = writeln!(
            s,
            "ratios: over {base_name}'s figures (MB/s: above 1 is faster; CPU: above 1 costs more)"
        );
    }
    s
}

fn json(size: u64, results: &[(Item, Outcome)]) -> String {
    let base = baseline(results);
    let mut items = Vec::new();
    for (item, outcome) in results {
        let body = match outcome {
            Outcome::Done(f) => {
                let (speed, cpu) = base.map_or(("null".to_owned(), "null".to_owned()), |(_, b)| {
                    (
                        format!("{:.4}", ratio(f.mb_per_s(), b.mb_per_s())),
                        format!("{:.4}", ratio(f.cpu_ns_per_byte(), b.cpu_ns_per_byte())),
                    )
                });
                let rss = f.peak_rss_kib.map_or_else(|| "null".to_owned(), |k| k.to_string());
                format!(
                    "\"status\":\"done\",\"bytes\":{},\"seconds\":{:.6},\"mb_per_s\":{:.3},\
                     \"cpu_seconds\":{:.6},\"cpu_ns_per_byte\":{:.4},\"peak_rss_kib\":{rss},\
                     \"speed_ratio\":{speed},\"cpu_ratio\":{cpu}",
                    f.bytes,
                    f.secs,
                    f.mb_per_s(),
                    f.cpu_secs,
                    f.cpu_ns_per_byte()
                )
            }
            Outcome::Skipped(why) => format!("\"status\":\"skipped\",\"reason\":{}", quote(why)),
            Outcome::Failed(why) => format!("\"status\":\"failed\",\"reason\":{}", quote(why)),
        };
        items.push(format!("{{\"name\":\"{}\",{body}}}", item.name()));
    }
    let base = base.map_or_else(|| "null".to_owned(), |(i, _)| format!("\"{}\"", i.name()));
    format!("{{\"size_mib\":{size},\"baseline\":{base},\"items\":[{}]}}\n", items.join(","))
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut s = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", u32::from(c));
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// CPU seconds this process (all its threads) and its waited-for children have used.
pub(crate) fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime, stime, cutime, cstime are fields 14 to 17, so 11 to 14 after the ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 =
        rest.split_whitespace().skip(11).take(4).filter_map(|t| t.parse::<u64>().ok()).sum();
    ticks as f64 / clock_ticks()
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`, 100 on Linux unless told).
/// Asked once, before anything is measured: `getconf` is a child whose CPU time would count.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|&t| t > 0.0)
            .unwrap_or(100.0)
    })
}

/// This process's peak resident memory (`VmHWM`), in KiB.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(bytes: u64, secs: f64, cpu_secs: f64) -> Outcome {
        Outcome::Done(Figures { bytes, secs, cpu_secs, peak_rss_kib: Some(2048) })
    }

    #[test]
    fn next_chunk_runs_to_the_block_end_or_the_transfer_end() {
        let block: Vec<u8> = (0..10).collect();
        assert_eq!(next_chunk(&block, 0, 25), &block[..]);
        assert_eq!(next_chunk(&block, 13, 25), &block[3..]);
        assert_eq!(next_chunk(&block, 21, 25), &block[1..5]);
        assert!(next_chunk(&block, 25, 25).is_empty());
    }

    #[test]
    fn figures_line_round_trips() {
        let f = parse_figures("268435456 0.5 0.75 12345").unwrap();
        assert_eq!(
            f,
            Figures { bytes: 268_435_456, secs: 0.5, cpu_secs: 0.75, peak_rss_kib: Some(12345) }
        );
        assert_eq!(parse_figures("1 2 3 -").unwrap().peak_rss_kib, None);
        assert_eq!(parse_figures("1 2 3"), None);
        assert_eq!(parse_figures("x 2 3 -"), None);
    }

    #[test]
    fn ratios_are_taken_against_linux_first_then_smoltcp() {
        let results = vec![
            (Item::SansIo, done(1_000_000, 1.0, 1.0)),
            (Item::Smoltcp, done(1_000_000, 2.0, 1.0)),
        ];
        assert_eq!(baseline(&results).unwrap().0, Item::Smoltcp);
        let t = table(1, &results);
        assert!(t.contains("×smoltcp"), "{t}");
        // sans-io moved the same bytes in half the time: twice as fast.
        let row = t.lines().find(|l| l.starts_with("sans-io")).unwrap();
        assert_eq!(row.split_whitespace().nth(2), Some("2.00"), "{row}");
        let mut results = results;
        results.push((Item::Linux, done(1_000_000, 0.5, 2.0)));
        assert_eq!(baseline(&results).unwrap().0, Item::Linux);
        results.push((Item::PilaTap, Outcome::Skipped("not root".into())));
        let t = table(1, &results);
        assert!(t.contains("pila-tap: skipped — not root"), "{t}");
    }

    #[test]
    fn json_is_one_object_with_every_item() {
        let results = vec![
            (Item::Smoltcp, done(4 << 20, 1.0, 0.5)),
            (Item::Linux, Outcome::Failed("a \"b\"".into())),
        ];
        let j = json(4, &results);
        assert!(j.starts_with("{\"size_mib\":4,\"baseline\":\"smoltcp\""), "{j}");
        assert!(j.contains("\"speed_ratio\":1.0000"), "{j}");
        assert!(j.contains("\"reason\":\"a \\\"b\\\"\""), "{j}");
        assert_eq!(j.matches("\"name\"").count(), 2);
    }

    #[test]
    fn own_cpu_time_and_memory_are_read() {
        let start = cpu_seconds();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(cpu_seconds() > start, "150 ms of spinning used no CPU time");
        assert!(peak_rss_kib().unwrap() > 0);
    }
}
