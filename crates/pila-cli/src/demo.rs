//! `pila demo`: two pila hosts, A and B, on an in-memory Ethernet wire, programmed through
//! the blocking `pila::net` API exactly as an application would.
//!
//! Both hosts speak IPv4 and IPv6. A pings B over each, echoes data through B's dual-stack
//! echo port over each and checks its SHA-256, tries a port where nothing listens (A's
//! connect fails, B's event stream records the refusal), fetches a web page from B over
//! IPv6 with hyper over `pila::tokio` on the same two stacks, and both close.
//! A device wrapper on A's end of the wire keeps every frame in either direction; the demo
//! prints them as a timeline, then each host's counters.

use crate::link;
use crate::timeline::{self, Observed};
use crate::web;
use pila::device::{Impairments, VirtualWire, WaitDevice, WireConfig};
use pila::net::{EventKind, Stack, TcpListener, TcpStream};
use pila::time::Duration;
use pila::wire::Ipv4Addr;
use sha2::{Digest, Sha256};
use std::io::{Read, Write as _};
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

/// Options of `pila demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seed of the wire's impairments and of both hosts: the same seed makes the same choices.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Share of frames the wire loses in each direction, in percent (0 up to 50).
    #[arg(long, value_name = "PCT", default_value = "0", value_parser = parse_loss)]
    loss: f64,
    /// Also write every frame host A sends and receives to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Also write a trace of host A's connections to this file, one JSON object per line
    /// (`pila plot` draws it).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

fn parse_loss(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    match number.parse::<f64>() {
        Ok(pct) if (0.0..=50.0).contains(&pct) => Ok(pct / 100.0),
        _ => Err(format!("expected a percentage from 0 to 50, like 10 or 2.5, not {text:?}")),
    }
}

const IP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const IP6_A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const IP6_B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const ECHO_PORT: u16 = 7;
const CLOSED_PORT: u16 = 8080;
const HTTP_PORT: u16 = 80;
/// The page B serves.
const PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Hello from pila</title></head>\n\
                    <body><p>Served by host B over pila's TCP, fetched by host A with hyper.</p>\
                    </body></html>\n";
/// What A echoes through B over IPv4, and over IPv6.
const ECHO_BYTES: usize = 1 << 20;
const ECHO6_BYTES: usize = 256 << 10;
/// Echo replies A wants before moving on.
const PINGS: u32 = 3;
/// How long each step may take at most, however unlucky the wire.
const STEP_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Prints a line of the demo's story; a closed standard output (`pila demo | head`) ends the
/// demo quietly instead of with a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(crate::Failure::from)?
    };
}

/// A step that did not work: what failed, and what to try.
fn failed(step: &str, err: impl std::fmt::Display) -> crate::Failure {
    crate::Failure::Message(format!(
        "demo step '{step}' failed: {err} — rerun with another --seed or a lower --loss"
    ))
}

pub(crate) fn run(args: &Args) -> Result<(), crate::Failure> {
    let loss = Impairments {
        loss: args.loss,
        seed: args.seed,
        delay: Duration::from_micros(500),
        ..Impairments::NONE
    };
    let (a_end, b_end) = VirtualWire::pair(WireConfig::default().with_impairments(loss));
    let (a_dev, log) = Observed::new(a_end);
    let a_dev: Box<dyn WaitDevice> = match &args.pcap {
        Some(path) => Box::new(link::open_capture(a_dev, path).map_err(crate::Failure::Usage)?),
        None => Box::new(a_dev),
    };
    // The wire's RTT is 1 ms: retransmit sooner than RFC 6298's 1 s, and cap the backoff
    // at 1 s (Linux's floor is 200 ms and its cap 120 s, sized for the Internet).
    let tcp = pila::tcp::Config {
        rto_initial: Duration::from_millis(200),
        rto_min: Duration::from_millis(50),
        rto_max: Duration::from_secs(1),
        syn_retries: 10,
        retries: 40,
        ..pila::tcp::Config::default()
    };
    let trace = args
        .trace
        .as_deref()
        .map(link::TraceLog::create)
        .transpose()
        .map_err(crate::Failure::Usage)?;
    let build = |device: Box<dyn WaitDevice>, cidr: &str, cidr6: &str, seed: u64, traced: bool| {
        Stack::builder()
            .device(device)
            .trace(traced)
            .address(cidr)
            .address(cidr6)
            .seed(seed)
            .tcp_config(tcp.clone())
            .configure(|c| {
                if let Some(v6) = c.ipv6.as_mut() {
                    // No router on this wire, and a 1 ms RTT: detection need not wait 1 s.
                    v6.router_solicitations = 0;
                    v6.retrans_timer = Duration::from_millis(100);
                }
            })
            .build()
            .map_err(|e| failed("start the hosts", e))
    };
    let a = build(a_dev, "192.0.2.1/24", "2001:db8::1/64", args.seed, trace.is_some())?;
    if let Some(log) = trace {
        log.start(&a);
    }
    let b_seed = args.seed.wrapping_add(1);
    let b = build(Box::new(b_end), "192.0.2.2/24", "2001:db8::2/64", b_seed, false)?;
    let a_events = EventLog::new(a.events());
    let mut b_events = EventLog::new(b.events());
    say!(
        "pila demo: host A {IP_A} {IP6_A} and host B {IP_B} {IP6_B} on an in-memory Ethernet \
         wire"
    );
    say!("           one-way delay 500µs, loss {}%, seed {}\n", args.loss * 100.0, args.seed);
    // An IPv6 address is used once duplicate address detection has found it free.
    let deadline = std::time::Instant::now() + STEP_LIMIT;
    while [&a, &b].iter().any(|s| s.ipv6_addresses().len() < 2) {
        if std::time::Instant::now() > deadline {
            return Err(failed("IPv6 addresses", "duplicate address detection never ended"));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    say!("A and B: IPv6 addresses through duplicate address detection: {:?}", a.ipv6_addresses());

    // 1. Ping, over each family.
    for to in [IpAddr::V4(IP_B), IpAddr::V6(IP6_B)] {
        ping_step(&a, to)?;
    }

    // 2. Echo through B's open port, a dual-stack one: over IPv4, then over IPv6.
    let listener = TcpListener::bind(&b, (Ipv6Addr::UNSPECIFIED, ECHO_PORT))
        .map_err(|e| failed("listen on B", e))?;
    say!("\nB: listening on [::]:{ECHO_PORT} (echo, IPv4 and IPv6)");
    let server = std::thread::spawn(move || -> std::io::Result<u64> {
        let mut echoed = 0;
        for _ in 0..2 {
            let (stream, _) = listener.accept()?;
            echoed += std::io::copy(&mut &stream, &mut &stream)?;
        }
        Ok(echoed)
    });
    echo_step(&a, SocketAddr::new(IpAddr::V4(IP_B), ECHO_PORT), ECHO_BYTES, args.seed)?;
    echo_step(&a, SocketAddr::new(IpAddr::V6(IP6_B), ECHO_PORT), ECHO6_BYTES, args.seed)?;
    let served = server
        .join()
        .unwrap_or_else(|_| Err(std::io::ErrorKind::Other.into()))
        .map_err(|e| failed("echo (server side)", e))?;
    say!("B: echoed {served} bytes on two connections");

    // 3. A port nobody listens on.
    let closed = SocketAddr::V4(SocketAddrV4::new(IP_B, CLOSED_PORT));
    match TcpStream::connect_timeout(&a, &closed, STEP_LIMIT) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            say!("\nA: connect to {closed}: {e}");
        }
        Err(e) => return Err(failed("connect to a closed port", e)),
        Ok(_) => return Err(failed("connect to a closed port", "it was accepted")),
    }
    let refusal = b_events
        .wait_for(|e| e.kind == EventKind::Refused && e.local == closed)
        .ok_or_else(|| failed("B records the refusal", "no event came"))?;
    say!("B: event {refusal}");

    // 4. The web: B serves a page over HTTP, A fetches it with hyper over IPv6, both
    // through the async API on the same stacks.
    say!("");
    let (head, page) = web_step(&a, &b)?;
    let title = page.split("<title>").nth(1).and_then(|t| t.split("</title>").next());
    say!(
        "A: GET {} -> {} ({}, {} bytes, title {:?})",
        head.url,
        head.status,
        head.content_type.as_deref().unwrap_or("no type"),
        page.len(),
        title.unwrap_or("none")
    );

    // 5. Both closed: B's side of each connection is over once its FIN is acknowledged.
    let at_b = [
        ("echo", SocketAddr::new(IpAddr::V4(IP_B), ECHO_PORT)),
        ("IPv6 echo", SocketAddr::new(IpAddr::V6(IP6_B), ECHO_PORT)),
        ("web", SocketAddr::new(IpAddr::V6(IP6_B), HTTP_PORT)),
    ];
    for (what, at_b) in at_b {
        b_events
            .wait_for(|e| e.kind == EventKind::Closed && e.local == at_b)
            .ok_or_else(|| failed("close", format!("B's {what} connection never closed")))?;
    }
    say!("A and B: the echo and web connections are closed");
    finish(a, b, a_events, b_events, &log)
}

/// A pings `to` until [`PINGS`] replies came.
fn ping_step(a: &Stack, to: IpAddr) -> Result<(), crate::Failure> {
    let mut replies = 0;
    for attempt in 1..=PINGS * 10 {
        match a.ping(to, std::time::Duration::from_millis(500)) {
            Ok(rtt) => {
                replies += 1;
                say!("A: ping {to}: echo reply after {:.3} ms", rtt.as_secs_f64() * 1e3);
                if replies == PINGS {
                    break;
                }
            }
            Err(e) => say!("A: ping {to}: {e} (attempt {attempt}); trying again"),
        }
    }
    if replies < PINGS {
        return Err(failed("ping", format!("only {replies} of {PINGS} echo replies came back")));
    }
    Ok(())
}

/// A sends `len` bytes of the seed's stream to the echo port at `to` and checks what
/// comes back.
fn echo_step(a: &Stack, to: SocketAddr, len: usize, seed: u64) -> Result<(), crate::Failure> {
    let stream = TcpStream::connect_timeout(a, &to, STEP_LIMIT)
        .map_err(|e| failed("connect to the echo port", e))?;
    let local = stream.local_addr().map_err(|e| failed("connect to the echo port", e))?;
    say!("A: connected {local} -> {to}");
    let mut data = vec![0u8; len];
    pila::rand::Rng::new(seed).fill(&mut data);
    let started = std::time::Instant::now();
    let echoed = std::thread::scope(|s| {
        let writer = s.spawn(|| -> std::io::Result<()> {
            (&stream).write_all(&data)?;
            stream.shutdown(Shutdown::Write)
        });
        let mut echoed = Vec::with_capacity(ECHO_BYTES);
        let read = (&stream).read_to_end(&mut echoed);
        let written = writer.join().unwrap_or_else(|_| Err(std::io::ErrorKind::Other.into()));
        written.and(read).map(|_| echoed)
    })
    .map_err(|e| failed("echo", e))?;
    let took = started.elapsed();
    let info = stream.tcp_info().ok();
    drop(stream);
    let sent_hash = hex(&Sha256::digest(&data));
    let got_hash = hex(&Sha256::digest(&echoed));
    say!(
        "A: sent {} bytes and got {} back in {:.1} ms: {:.1} MB/s each way{}",
        data.len(),
        echoed.len(),
        took.as_secs_f64() * 1e3,
        data.len() as f64 / took.as_secs_f64() / 1e6,
        info.map_or(String::new(), |i| format!(
            ", {} segments retransmitted",
            i.retransmitted_segments
        )),
    );
    if sent_hash != got_hash {
        return Err(failed("echo", format!("SHA-256 differs: sent {sent_hash}, got {got_hash}")));
    }
    say!("A: SHA-256 {got_hash} matches");
    Ok(())
}

/// The end of the demo: each host's events, the timeline, the counters.
fn finish(
    a: Stack,
    b: Stack,
    mut a_events: EventLog,
    mut b_events: EventLog,
    log: &timeline::Log,
) -> Result<(), crate::Failure> {
    std::thread::sleep(std::time::Duration::from_millis(20));
    for (name, log) in [("A", &mut a_events), ("B", &mut b_events)] {
        say!("\n{name}'s events:");
        for event in log.all() {
            say!("  {event}");
        }
    }
    say!("\nTimeline (frames on A's end of the wire; TCP numbers relative to each side's first):");
    let seen = log.lock().map(|l| l.clone()).unwrap_or_else(|p| p.into_inner().clone());
    for line in timeline::render(&seen, "A", "B") {
        say!("{line}");
    }
    say!("\nHost A counters:\n{}", a.counters());
    say!("Host B counters:\n{}", b.counters());
    drop(a);
    drop(b);
    say!(
        "all steps worked: ping, echo with matching SHA-256, refusal seen by both hosts, a web \
         page over hyper, close"
    );
    Ok(())
}

/// B serves [`PAGE`] on port 80 with hyper; A fetches it with hyper and checks it. Both run
/// on `pila::tokio` sockets, on a tokio runtime of the step's own, over the stacks the
/// blocking steps used.
fn web_step(a: &Stack, b: &Stack) -> Result<(web::client::Head, String), crate::Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed("start the web step", e))?;
    runtime.block_on(async {
        let listener = pila::tokio::TcpListener::bind(b, (Ipv6Addr::UNSPECIFIED, HTTP_PORT))
            .await
            .map_err(|e| failed("listen on B's web port", e))?;
        writeln!(std::io::stdout().lock(), "B: serving http://[{IP6_B}]/ (hyper)")?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let page = |_request| async {
            let mut response = hyper::Response::new(web::site::full(PAGE));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        };
        let limits = web::server::Limits { idle: STEP_LIMIT, connections: 16 };
        let server = tokio::spawn(web::server::serve(listener, page, limits, stopped));
        let target = web::client::Target::parse(&format!("http://[{IP6_B}]/"))
            .map_err(|e| failed("fetch the page", e))?;
        let mut body = Vec::new();
        let head = web::client::get(
            a,
            target,
            STEP_LIMIT,
            |_| {},
            |data| {
                body.extend_from_slice(data);
                Ok(())
            },
        )
        .await
        .map_err(|e| failed("fetch the page", e))?;
        let _ = stop.send(true);
        let _ = server.await;
        match String::from_utf8(body) {
            Ok(page) if page == PAGE => Ok((head, page)),
            _ => Err(failed("fetch the page", "what came is not the page B served")),
        }
    })
}

/// A host's event stream and every event read from it so far.
struct EventLog {
    events: pila::net::Events,
    seen: Vec<pila::net::Event>,
}

impl EventLog {
    fn new(events: pila::net::Events) -> Self {
        Self { events, seen: Vec::new() }
    }

    /// The first event, past or coming, that `wanted` accepts, waiting up to [`STEP_LIMIT`].
    fn wait_for(&mut self, wanted: impl Fn(&pila::net::Event) -> bool) -> Option<pila::net::Event> {
        if let Some(event) = self.seen.iter().find(|e| wanted(e)) {
            return Some(*event);
        }
        let deadline = std::time::Instant::now() + STEP_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = self.events.next_timeout(left)?;
            self.seen.push(event);
            if wanted(&event) {
                return Some(event);
            }
        }
    }

    /// Every event so far.
    fn all(&mut self) -> &[pila::net::Event] {
        self.seen.extend(self.events.try_iter());
        &self.seen
    }
}

/// Lower-case hexadecimal, as `sha256sum` prints a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{b:02x}"));
        s
    })
}
