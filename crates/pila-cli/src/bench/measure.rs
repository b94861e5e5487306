//! What every worker measures with: CPU time and peak memory of its own process, the block a
//! sender writes, percentiles, and the figures a worker hands back to `pila bench`.
//!
//! CPU time and peak memory come from `/proc/self/stat` and `/proc/self/status`, the
//! accounting `getrusage` reads (without the `unsafe` a call to it would need). CPU time
//! there counts in kernel ticks (10 ms): it means something from a few tens of MiB on.

use std::process::Command;
use std::time::Duration;

/// How long a worker may go without progress before it is declared stuck.
pub(crate) const STALL: Duration = Duration::from_secs(20);
/// The block a sender writes, again and again.
pub(crate) const BLOCK: usize = 1 << 20;

/// What one worker measured: the scenario's figure and the extra ones (`Err` holds why an
/// extra figure could not be taken).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Taken {
    /// The scenario's figure, in its unit.
    pub(crate) value: f64,
    /// Extra figures by key, in the order they are printed.
    pub(crate) extras: Vec<(String, Result<f64, String>)>,
}

impl Taken {
    pub(crate) const fn new(value: f64) -> Self {
        Self { value, extras: Vec::new() }
    }

    /// `self` with the extra figure `key`.
    #[must_use]
    pub(crate) fn with(mut self, key: &str, value: f64) -> Self {
        self.extras.push((key.to_owned(), Ok(value)));
        self
    }

    /// `self` with the extra figure `key` left out, and why.
    #[must_use]
    pub(crate) fn without(mut self, key: &str, why: &str) -> Self {
        self.extras.push((key.to_owned(), Err(why.to_owned())));
        self
    }

    /// `self` with CPU nanoseconds per byte and this process's peak RSS.
    #[must_use]
    pub(crate) fn with_costs(self, cpu_secs: f64, bytes: u64) -> Self {
        let this = self.with("cpu_ns_per_byte", cpu_secs * 1e9 / bytes.max(1) as f64);
        match peak_rss_kib() {
            Some(kib) => this.with("peak_rss_mib", kib as f64 / 1024.0),
            None => this.without("peak_rss_mib", "no VmHWM in /proc/self/status"),
        }
    }

    /// The lines a worker prints: `value X`, then `extra KEY X` or `null KEY REASON`.
    pub(crate) fn lines(&self) -> String {
        let mut s = format!("value {}\n", self.value);
        for (key, figure) in &self.extras {
            match figure {
                Ok(v) => s.push_str(&format!("extra {key} {v}\n")),
                Err(why) => s.push_str(&format!("null {key} {}\n", why.replace('\n', " "))),
            }
        }
        s
    }

    /// Reads what [`lines`](Self::lines) printed; `None` without a `value` line.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut taken = None::<Self>;
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("value ") {
                taken = Some(Self::new(v.trim().parse().ok()?));
            } else if let Some(rest) = line.strip_prefix("extra ") {
                let (key, v) = rest.split_once(' ')?;
                taken.as_mut()?.extras.push((key.to_owned(), Ok(v.trim().parse().ok()?)));
            } else if let Some(rest) = line.strip_prefix("null ") {
                let (key, why) = rest.split_once(' ').unwrap_or((rest, "no reason given"));
                taken.as_mut()?.extras.push((key.to_owned(), Err(why.to_owned())));
            }
        }
        taken.filter(|t| t.value.is_finite())
    }
}

/// Bits per second of `bytes` over `secs`, in Gbit/s.
pub(crate) fn gbit_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / secs.max(1e-9) / 1e9
}

/// The `q` quantile (0 to 1) of `samples`, which it sorts; 0 when there are none.
pub(crate) fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    if samples.is_empty() {
        return 0.0;
    }
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i.min(samples.len() - 1)]
}

/// Median and p99 of round-trip times in seconds, as `Taken` in microseconds.
pub(crate) fn round_trips(mut secs: Vec<f64>) -> Taken {
    let median = quantile(&mut secs, 0.5) * 1e6;
    let p99 = quantile(&mut secs, 0.99) * 1e6;
    Taken::new(median).with("p99_us", p99)
}

/// Two `pila::net` stacks, 192.0.2.1 and .2, on a perfect `VirtualWire` with the given MTU;
/// with `offload`, the wire carries their large TCP segments whole (segmentation offload,
/// as a veth pair between offloading devices does); with `v6`, they are 2001:db8::1 and ::2
/// as well, usable at once (no router, no duplicate address detection on this wire).
pub(crate) fn net_pair(
    mtu: usize,
    offload: bool,
    v6: bool,
) -> Result<(pila::net::Stack, pila::net::Stack), String> {
    let mut wire =
        pila::device::WireConfig::default().with_medium(pila::device::Medium::Ethernet, mtu);
    if offload {
        wire = wire.with_segmentation_offload();
    }
    let (wa, wb) = pila::device::VirtualWire::pair(wire);
    let start = |dev, host: u8, seed| {
        let mut builder =
            pila::net::Stack::builder().device(dev).address(format!("192.0.2.{host}/24"));
        if v6 {
            builder = builder.address(format!("2001:db8::{host}/64"));
        }
        builder
            .seed(seed)
            .configure(|c| {
                // Room for 20,000 connections to one peer in TIME-WAIT (crr).
                c.ephemeral_ports = (1024, 65535);
                if let Some(v6) = c.ipv6.as_mut() {
                    v6.dad_transmits = 0;
                    v6.router_solicitations = 0;
                }
            })
            .build()
            .map_err(|e| format!("cannot start a stack: {e}"))
    };
    Ok((start(wa, 1, 1)?, start(wb, 2, 2)?))
}

/// A stream the `rr` and `crr` figures run over: `std::net`'s (Linux) or `pila::net`'s.
pub(crate) trait Stream: std::io::Read + std::io::Write + Send + 'static {
    /// Nagle off and reads bounded by [`STALL`], as both ends of a round trip want them.
    fn tune(&self) -> std::io::Result<()>;
}

impl Stream for std::net::TcpStream {
    fn tune(&self) -> std::io::Result<()> {
        self.set_nodelay(true)?;
        self.set_read_timeout(Some(STALL))
    }
}

impl Stream for pila::net::TcpStream {
    fn tune(&self) -> std::io::Result<()> {
        self.set_nodelay(true)?;
        self.set_read_timeout(Some(STALL))
    }
}

/// The result of a worker thread, or why there is none.
pub(crate) fn join<T>(
    h: std::thread::JoinHandle<std::io::Result<T>>,
    what: &str,
) -> Result<T, String> {
    h.join().map_err(|_| format!("the {what} thread panicked"))?.map_err(|e| format!("{what}: {e}"))
}

/// `rounds` round trips of 1 byte each way: a thread echoes on the stream `accept` gives,
/// this one times each request and its response on the stream `connect` gives.
pub(crate) fn rr<S: Stream, C: Stream>(
    rounds: u64,
    accept: impl FnOnce() -> std::io::Result<S> + Send + 'static,
    connect: impl FnOnce() -> std::io::Result<C>,
) -> Result<Taken, String> {
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = accept()?;
        s.tune()?;
        let mut byte = [0_u8; 1];
        while s.read(&mut byte)? == 1 {
            s.write_all(&byte)?;
        }
        Ok(())
    });
    let mut s = connect().map_err(|e| format!("connect: {e}"))?;
    s.tune().map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(usize::try_from(rounds).unwrap_or(0));
    let mut byte = [7_u8; 1];
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        s.write_all(&byte).map_err(|e| format!("request: {e}"))?;
        s.read_exact(&mut byte).map_err(|e| format!("response: {e}"))?;
        times.push(t.elapsed().as_secs_f64());
    }
    drop(s);
    join(echo, "echo")?;
    Ok(round_trips(times))
}

/// `conns` times: connect, 1 byte each way, close; a thread serves each connection
/// `accept` gives, and the client closes first (and holds TIME-WAIT), as a client of a web
/// server does. Connections per second.
pub(crate) fn crr<S: Stream, C: Stream>(
    conns: u64,
    mut accept: impl FnMut() -> std::io::Result<S> + Send + 'static,
    mut connect: impl FnMut() -> std::io::Result<C>,
) -> Result<Taken, String> {
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        for _ in 0..conns {
            let mut s = accept()?;
            s.tune()?;
            let mut byte = [0_u8; 1];
            s.read_exact(&mut byte)?;
            s.write_all(&byte)?;
            while s.read(&mut byte)? != 0 {}
        }
        Ok(())
    });
    let start = std::time::Instant::now();
    for i in 0..conns {
        let mut s = connect().map_err(|e| format!("connection {i}: connect: {e}"))?;
        s.tune().map_err(|e| e.to_string())?;
        let mut byte = [7_u8; 1];
        s.write_all(&byte).map_err(|e| format!("connection {i}: request: {e}"))?;
        s.read_exact(&mut byte).map_err(|e| format!("connection {i}: response: {e}"))?;
    }
    join(server, "server")?;
    Ok(Taken::new(conns as f64 / start.elapsed().as_secs_f64()))
}

/// The next piece of the repeated `block` to send once `sent` of `total` bytes have gone:
/// from where `sent` falls in the block to the block's end or the transfer's, whichever
/// comes first.
pub(crate) fn next_chunk(block: &[u8], sent: u64, total: u64) -> &[u8] {
    let len = block.len().max(1);
    let off = usize::try_from(sent % len as u64).unwrap_or(0);
    let want = usize::try_from(total.saturating_sub(sent)).unwrap_or(usize::MAX).min(len - off);
    block.get(off..off + want).unwrap_or(&[])
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
pub(crate) fn clock_ticks() -> f64 {
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

    #[test]
    fn next_chunk_runs_to_the_block_end_or_the_transfer_end() {
        let block: Vec<u8> = (0..10).collect();
        assert_eq!(next_chunk(&block, 0, 25), &block[..]);
        assert_eq!(next_chunk(&block, 13, 25), &block[3..]);
        assert_eq!(next_chunk(&block, 21, 25), &block[1..5]);
        assert!(next_chunk(&block, 25, 25).is_empty());
    }

    #[test]
    fn taken_round_trips_through_its_lines() {
        let t = Taken::new(1.5).with("p99_us", 4.25).without("offloads", "not there\nyet");
        let back = Taken::parse(&t.lines()).unwrap();
        assert_eq!(back.value, 1.5);
        assert_eq!(back.extras[0], ("p99_us".to_owned(), Ok(4.25)));
        assert_eq!(back.extras[1], ("offloads".to_owned(), Err("not there yet".to_owned())));
        assert_eq!(Taken::parse("extra a 1\n"), None);
        assert_eq!(Taken::parse("value x\n"), None);
    }

    #[test]
    fn quantiles_pick_the_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), 51.0);
        assert_eq!(quantile(&mut v, 0.99), 99.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
        assert!((gbit_per_s(1_000_000_000, 8.0) - 1.0).abs() < 1e-12);
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
