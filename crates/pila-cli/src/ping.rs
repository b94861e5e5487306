//! `pila ping`: ICMP echo requests from pila's stack, one line per reply, like ping(8).

use crate::Failure;
use crate::link::{LinkArgs, StopSignals, stop_requested};
use std::io::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Options of `pila ping`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// Stop after COUNT requests (default: until interrupted).
    #[arg(short = 'c', long = "count", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Bytes of payload in each request (default 56); larger than the MTU, requests and
    /// replies go in fragments.
    #[arg(short = 's', long = "size", value_name = "SIZE", default_value_t = 56,
          value_parser = clap::value_parser!(u16).range(0..=65_000))]
    size: u16,
    /// The host to ping, IPv4 or IPv6 (the latter needs an IPv6 --ip).
    #[arg(value_name = "HOST")]
    host: IpAddr,
}

/// How long to wait for each reply, and the time between requests.
const INTERVAL: Duration = Duration::from_secs(1);
/// How long the first reply may take: it may wait for the neighbour's address to resolve
/// (ARP or neighbour solicitations, retried a second apart) and, on a TAP just opened, for
/// the kernel to bring the link up, which it does up to a second late.
const FIRST_WAIT: Duration = Duration::from_secs(3);

/// Pings until the count is reached or SIGINT/SIGTERM arrives, then prints the summary.
/// Fails (exit 1) when no reply came, as ping(8) does.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let _signals = StopSignals::catch()?;
    let stack = args.link.start()?;
    let host = args.host;
    let mut out = std::io::stdout().lock();
    let header = if host.is_ipv6() { 48 } else { 28 };
    let size = usize::from(args.size);
    writeln!(out, "PING {host} ({host}) {size}({}) bytes of data.", size + header)?;
    out.flush()?;
    let started = Instant::now();
    let mut rtts = Vec::new();
    let mut sent = 0u64;
    while args.count.is_none_or(|count| sent < count) && !stop_requested() {
        let asked = Instant::now();
        sent += 1;
        let wait = if sent == 1 { FIRST_WAIT } else { INTERVAL };
        match stack.ping_with_size(host, size, wait) {
            Ok(rtt) => {
                writeln!(
                    out,
                    "{} bytes from {host}: icmp_seq={sent} time={} ms",
                    size + 8,
                    millis(rtt)
                )?;
                out.flush()?;
                rtts.push(rtt);
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => {
                return Err(format!(
                    "cannot ping {host}: {e} — check the address, --ip's prefix and --gateway"
                )
                .into());
            }
        }
        if args.count.is_some_and(|count| sent >= count) {
            break;
        }
        // One request a second, unless a stop signal ends the wait.
        while asked.elapsed() < INTERVAL && !stop_requested() {
            std::thread::sleep(Duration::from_millis(20).min(INTERVAL - asked.elapsed()));
        }
    }
    summary(&mut out, host, sent, &rtts, started.elapsed())?;
    if rtts.is_empty() {
        return Err(format!(
            "no reply from {host} — check that it is up and reachable on this link"
        )
        .into());
    }
    Ok(())
}

/// The closing lines of ping(8).
fn summary(
    out: &mut impl std::io::Write,
    host: IpAddr,
    sent: u64,
    rtts: &[Duration],
    elapsed: Duration,
) -> std::io::Result<()> {
    let received = rtts.len() as u64;
    let loss = (sent.saturating_sub(received) * 100).checked_div(sent).unwrap_or(0);
    writeln!(out, "\n--- {host} ping statistics ---")?;
    writeln!(
        out,
        "{sent} packets transmitted, {received} received, {loss}% packet loss, time {}ms",
        elapsed.as_millis()
    )?;
    if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
        let secs: Vec<f64> = rtts.iter().map(Duration::as_secs_f64).collect();
        let mean = secs.iter().sum::<f64>() / secs.len() as f64;
        let var = secs.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / secs.len() as f64;
        writeln!(
            out,
            "rtt min/avg/max/mdev = {}/{}/{}/{} ms",
            millis(*min),
            millis(Duration::from_secs_f64(mean)),
            millis(*max),
            millis(Duration::from_secs_f64(var.sqrt()))
        )?;
    }
    out.flush()
}

/// Milliseconds with three decimals, as ping(8) prints them.
fn millis(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}
