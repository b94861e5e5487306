//! `pila serve`: the classic small servers — echo (RFC 862), discard (RFC 863), chargen
//! (RFC 864) over TCP, echo over UDP — on pila's stack, until SIGINT or SIGTERM.

use crate::Failure;
use crate::link::{EventLog, LinkArgs, StopSignals, stop_requested};
use pila::net::{TcpListener, TcpStream, UdpSocket};
use std::collections::HashMap;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Options of `pila serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// Write every event (established, refused, reset, closed) to FILE, one JSON object a line.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    #[command(flatten)]
    ports: Ports,
}

/// The services and their ports: at least one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
struct Ports {
    /// Answer TCP echo (RFC 862) on PORT: every byte comes back.
    #[arg(long = "echo", value_name = "PORT")]
    echo: Vec<u16>,
    /// Answer TCP discard (RFC 863) on PORT: every byte is read and dropped.
    #[arg(long = "discard", value_name = "PORT")]
    discard: Vec<u16>,
    /// Answer TCP chargen (RFC 864) on PORT: lines of characters until the client closes.
    #[arg(long = "chargen", value_name = "PORT")]
    chargen: Vec<u16>,
    /// Answer UDP echo (RFC 862) on PORT: every datagram goes back to its sender.
    #[arg(long = "udp-echo", value_name = "PORT")]
    udp_echo: Vec<u16>,
}

/// What a TCP port does with a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Echo,
    Discard,
    Chargen,
}

/// How often a blocked socket call looks whether a stop was asked for.
const TICK: Duration = Duration::from_millis(100);
/// How long connections get to finish after a stop signal before they are cut.
const GRACE: Duration = Duration::from_secs(2);
/// Room for connections not yet accepted, per port (200 clients at once must fit).
const BACKLOG: usize = 1024;

/// The live connections, to close them on a stop signal.
#[derive(Default)]
struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<TcpStream>>>,
}

/// Serves until a stop signal, then closes every connection and stops the stack.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let mut signals = StopSignals::catch()?;
    let stack = args.link.start()?;
    let log = args.events.as_deref().map(|path| EventLog::start(&stack, path)).transpose()?;
    let addr = args.link.addr();
    let connections = Arc::new(Connections::default());
    let mut threads = Vec::new();
    let services = [
        (Service::Echo, &args.ports.echo),
        (Service::Discard, &args.ports.discard),
        (Service::Chargen, &args.ports.chargen),
    ];
    let mut listening = Vec::new();
    for (service, ports) in services {
        for &port in ports {
            let listener = TcpListener::bind_with_backlog(&stack, (addr, port), BACKLOG)
                .map_err(|e| bind_failure("TCP", addr, port, &e))?;
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
            let connections = Arc::clone(&connections);
            threads.push(std::thread::spawn(move || accept_loop(&listener, service, &connections)));
            listening.push(format!("tcp {} {port}", service.name()));
        }
    }
    for &port in &args.ports.udp_echo {
        let socket = UdpSocket::bind(&stack, (addr, port))
            .map_err(|e| bind_failure("UDP", addr, port, &e))?;
        socket.set_read_timeout(Some(TICK)).map_err(|e| e.to_string())?;
        threads.push(std::thread::spawn(move || udp_echo(&socket)));
        listening.push(format!("udp echo {port}"));
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "pila serve: ready on {addr}: {}", listening.join(", "))?;
        out.flush()?;
    }

    signals.wait();
    // Close every connection (FIN after what is queued); their threads end once the peers
    // close too, or when the grace period is over.
    for stream in connections.open.lock().unwrap_or_else(PoisonError::into_inner).values() {
        let _ = stream.shutdown(Shutdown::Write);
    }
    for thread in threads {
        let _ = thread.join();
    }
    let deadline = Instant::now() + GRACE;
    while !connections.open.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Anything still open is dropped with the table; then the stack stops (its driver is
    // joined, the capture flushed) and the event log ends.
    connections.open.lock().unwrap_or_else(PoisonError::into_inner).clear();
    drop(stack);
    if let Some(log) = log {
        log.finish()?;
    }
    Ok(())
}

impl Service {
    const fn name(self) -> &'static str {
        match self {
            Self::Echo => "echo",
            Self::Discard => "discard",
            Self::Chargen => "chargen",
        }
    }
}

fn bind_failure(proto: &str, addr: pila::wire::Ipv4Addr, port: u16, e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::AddrInUse {
        format!("{proto} port {port} is given twice — give each port once")
    } else {
        format!("cannot listen on {proto} {addr}:{port}: {e} — check the port")
    }
}

/// Accepts connections until a stop is asked for; each gets its own thread.
fn accept_loop(listener: &TcpListener, service: Service, connections: &Arc<Connections>) {
    while !stop_requested() {
        match listener.accept() {
            Ok((stream, _peer)) => {
                let id = connections.next.fetch_add(1, Ordering::Relaxed);
                let stream = Arc::new(stream);
                connections
                    .open
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id, Arc::clone(&stream));
                let connections = Arc::clone(connections);
                std::thread::spawn(move || {
                    serve_connection(&stream, service);
                    connections.open.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
                });
            }
            // The listener is nonblocking so that a stop is seen; a tick between looks.
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK / 10),
            Err(e) => {
                eprintln!("pila: accept failed on {}: {e}", local(listener));
                std::thread::sleep(TICK);
            }
        }
    }
}

fn local(listener: &TcpListener) -> String {
    listener.local_addr().map_or_else(|_| "?".into(), |a| a.to_string())
}

/// Runs one connection to its end: the peer closed, it failed, or a stop came and the
/// grace period ran out.
fn serve_connection(stream: &TcpStream, service: Service) {
    // Timeouts let a blocked read or write see a stop signal.
    if stream.set_read_timeout(Some(TICK)).is_err() || stream.set_write_timeout(Some(TICK)).is_err()
    {
        return;
    }
    let result = match service {
        Service::Echo => echo(stream),
        Service::Discard => discard(stream),
        Service::Chargen => chargen(stream),
    };
    if result.is_ok() {
        let _ = stream.shutdown(Shutdown::Write);
    }
}

/// A connection loop ended early: the stop's grace period is over, or the connection failed.
struct Cut;

/// The time a stop was first seen, and whether its grace period is over.
struct StopWatch(Option<Instant>);

impl StopWatch {
    fn expired(&mut self) -> bool {
        if !stop_requested() {
            return false;
        }
        let since = *self.0.get_or_insert_with(Instant::now);
        since.elapsed() >= GRACE
    }
}

/// Reads once; `Ok(None)` on a timeout tick.
fn read_tick(
    mut stream: &TcpStream,
    buf: &mut [u8],
    stop: &mut StopWatch,
) -> Result<Option<usize>, Cut> {
    match stream.read(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
            if stop.expired() { Err(Cut) } else { Ok(None) }
        }
        Err(_) => Err(Cut),
    }
}

/// Writes all of `data`, looking for a stop between timeouts.
fn write_all(mut stream: &TcpStream, mut data: &[u8], stop: &mut StopWatch) -> Result<(), Cut> {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(0) => return Err(Cut),
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                if stop.expired() {
                    return Err(Cut);
                }
            }
            Err(_) => return Err(Cut),
        }
    }
    Ok(())
}

fn echo(stream: &TcpStream) -> Result<(), Cut> {
    let mut stop = StopWatch(None);
    let mut buf = vec![0; 64 * 1024];
    loop {
        match read_tick(stream, &mut buf, &mut stop)? {
            Some(0) => return Ok(()),
            Some(n) => write_all(stream, buf.get(..n).unwrap_or_default(), &mut stop)?,
            None => {}
        }
    }
}

fn discard(stream: &TcpStream) -> Result<(), Cut> {
    let mut stop = StopWatch(None);
    let mut buf = vec![0; 64 * 1024];
    loop {
        if read_tick(stream, &mut buf, &mut stop)? == Some(0) {
            return Ok(());
        }
    }
}

/// RFC 864: 72-character lines of the 95 printable ASCII characters, each line starting
/// one character further on, until the client closes. What the client sends is discarded.
fn chargen(stream: &TcpStream) -> Result<(), Cut> {
    let mut stop = StopWatch(None);
    let mut sink = vec![0; 16 * 1024];
    let mut block = Vec::with_capacity(95 * 74);
    for start in 0..95u8 {
        block.extend((0..72u8).map(|i| b' ' + (start + i) % 95));
        block.extend_from_slice(b"\r\n");
    }
    stream.set_nonblocking(false).map_err(|_| Cut)?;
    loop {
        write_all(stream, &block, &mut stop)?;
        // Drain what the client sent without waiting for more; its FIN ends the stream.
        stream.set_nonblocking(true).map_err(|_| Cut)?;
        let read = read_tick(stream, &mut sink, &mut stop);
        stream.set_nonblocking(false).map_err(|_| Cut)?;
        if read? == Some(0) {
            return Ok(());
        }
    }
}

/// Sends every datagram back to where it came from until a stop is asked for.
fn udp_echo(socket: &UdpSocket) {
    let mut buf = vec![0; 65_536];
    while !stop_requested() {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let _ = socket.send_to(buf.get(..n).unwrap_or_default(), from);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => std::thread::sleep(TICK),
        }
    }
}
