//! `pila serve`: the classic small servers — echo (RFC 862), discard (RFC 863), chargen
//! (RFC 864) over TCP, echo over UDP — and a static web server (HTTP/1.1 through hyper on
//! `pila::tokio`), on pila's stack, until SIGINT or SIGTERM.
//!
//! The small servers are blocking `pila::net` code, a thread per connection. With `--http`
//! the stack's driver runs as a task on a tokio runtime that also runs the web server, and
//! the blocking servers share the same stack from their threads.

use crate::Failure;
use crate::link::{EventLog, LinkArgs, StopSignals, stop_requested};
use crate::web;
use pila::net::{TcpListener, TcpStream, UdpSocket};
use std::collections::HashMap;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

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
    /// The directory `--http` serves.
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,
    /// Close an HTTP connection that moves no byte either way for SECS seconds.
    #[arg(long = "http-idle", value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    http_idle: u64,
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
    /// Serve the files under --root over HTTP/1.1 on PORT: listings, byte ranges, HEAD,
    /// keep-alive.
    #[arg(long = "http", value_name = "PORT")]
    http: Vec<u16>,
}

/// What a TCP port does with a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Echo,
    Discard,
    Chargen,
}

/// How often the UDP echo looks whether a stop was asked for.
const TICK: Duration = Duration::from_millis(100);
/// How long connections get to finish after a stop signal before they are cut.
const GRACE: Duration = Duration::from_secs(2);
/// How long a finished connection waits for the peer to acknowledge its FIN.
const LINGER: Duration = Duration::from_secs(5);
/// How long cut connections get to notice (they wake at once; this bounds a bug).
const CUT: Duration = Duration::from_secs(1);
/// Room for connections not yet accepted, per port (200 clients at once must fit).
const BACKLOG: usize = 1024;
/// The most HTTP connections served at once, per port; more wait in the backlog.
const HTTP_CONNECTIONS: usize = 4096;

/// The live connections, to close them on a stop signal and wait for them to end.
#[derive(Default)]
struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<TcpStream>>>,
    /// Signalled when a connection ends.
    ended: Condvar,
}

impl Connections {
    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<TcpStream>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves `stream` on its own thread, in the table while it lasts.
    fn spawn(self: &Arc<Self>, stream: TcpStream, service: Service) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let stream = Arc::new(stream);
        self.open().insert(id, Arc::clone(&stream));
        let connections = Arc::clone(self);
        std::thread::spawn(move || {
            serve_connection(&stream, service);
            drop(stream);
            connections.open().remove(&id);
            connections.ended.notify_all();
        });
    }

    /// Shuts every open connection down `how`; their threads wake and end.
    fn shutdown_all(&self, how: Shutdown) {
        for stream in self.open().values() {
            let _ = stream.shutdown(how);
        }
    }

    /// Waits up to `timeout` for every connection to end; whether they all did.
    fn wait_all_ended(&self, timeout: Duration) -> bool {
        let open = self.open();
        let (open, _) = self
            .ended
            .wait_timeout_while(open, timeout, |open| !open.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        open.is_empty()
    }
}

/// Serves until a stop signal, then closes every connection and stops the stack.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let mut signals = StopSignals::catch()?;
    let mut web = if args.ports.http.is_empty() { None } else { Some(Web::new(args)?) };
    let stack = match &web {
        Some(web) => {
            let _runtime = web.runtime.enter();
            args.link.start_tokio()?
        }
        None => args.link.start()?,
    };
    let log = args.events.as_deref().map(|path| EventLog::start(&stack, path)).transpose()?;
    let addr = args.link.listen_addr();
    let connections = Arc::new(Connections::default());
    let mut threads = Vec::new();
    let services = [
        (Service::Echo, &args.ports.echo),
        (Service::Discard, &args.ports.discard),
        (Service::Chargen, &args.ports.chargen),
    ];
    let mut listeners = Vec::new();
    let mut listening = Vec::new();
    for (service, ports) in services {
        for &port in ports {
            let listener = TcpListener::bind_with_backlog(&stack, (addr, port), BACKLOG)
                .map_err(|e| bind_failure("TCP", addr, port, &e))?;
            let listener = Arc::new(listener);
            listeners.push(Arc::clone(&listener));
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
    if let Some(web) = &mut web {
        for &port in &args.ports.http {
            let listener =
                pila::tokio::TcpListener::bind_with_backlog(&stack, (addr, port), BACKLOG)
                    .map_err(|e| bind_failure("TCP", addr, port, &e))?;
            web.spawn(listener);
            listening.push(format!("http {port} ({})", args.root.display()));
        }
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "pila serve: ready on {}: {}", args.link.addresses(), listening.join(", "))?;
        out.flush()?;
    }

    signals.wait();
    // The web server stops accepting and finishes the requests under way, within the grace
    // period.
    let web = web.map(|web| web.stop());
    // Stop listening (the accept threads wake and end, so no connection comes after the
    // next step), then close every connection (FIN after what is queued); a connection's
    // thread ends once its peer closes too.
    for listener in listeners {
        let _ = listener.shutdown();
    }
    for thread in threads {
        let _ = thread.join();
    }
    connections.shutdown_all(Shutdown::Write);
    if !connections.wait_all_ended(GRACE) {
        // The grace period is over: cut what is left. Blocked reads end, blocked writes fail.
        connections.shutdown_all(Shutdown::Both);
        connections.wait_all_ended(CUT);
    }
    // Anything still open is dropped with the table; then the stack stops (its driver is
    // joined, the capture flushed) and the event log ends.
    connections.open().clear();
    drop(stack);
    // Whatever the web server still holds goes with its runtime.
    drop(web);
    if let Some(log) = log {
        log.finish()?;
    }
    Ok(())
}

/// `--http`: the runtime that runs the web servers (and the stack's driver), their tasks,
/// and the signal that stops them.
struct Web {
    runtime: tokio::runtime::Runtime,
    site: web::site::Site,
    limits: web::server::Limits,
    stop: tokio::sync::watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Web {
    fn new(args: &Args) -> Result<Self, Failure> {
        let site = web::site::Site::new(&args.root).map_err(|e| {
            Failure::Usage(format!(
                "--root {}: {e} — give the directory to serve over HTTP",
                args.root.display()
            ))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pila web")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the web server's runtime: {e} — this is a bug"))?;
        let limits = web::server::Limits {
            idle: Duration::from_secs(args.http_idle),
            connections: HTTP_CONNECTIONS,
        };
        let (stop, _) = tokio::sync::watch::channel(false);
        Ok(Self { runtime, site, limits, stop, servers: Vec::new() })
    }

    /// Serves the site on `listener` from now until [`stop`](Self::stop).
    fn spawn(&mut self, listener: pila::tokio::TcpListener) {
        let site = self.site.clone();
        let service = move |req: hyper::Request<hyper::body::Incoming>| {
            let site = site.clone();
            async move { site.respond(&req) }
        };
        let server = web::server::serve(listener, service, self.limits, self.stop.subscribe());
        self.servers.push(self.runtime.spawn(server));
    }

    /// Stops accepting and waits, for the grace period at most, for the requests under way;
    /// what is left is cut. The runtime stays up for the stack's driver.
    fn stop(self) -> tokio::runtime::Runtime {
        let _ = self.stop.send(true);
        let servers = self.servers;
        self.runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + GRACE;
            let mut left = Vec::new();
            for mut server in servers {
                if tokio::time::timeout_at(deadline, &mut server).await.is_err() {
                    left.push(server);
                }
            }
            for server in left {
                server.abort();
                let _ = server.await;
            }
        });
        self.runtime
    }
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

fn bind_failure(proto: &str, addr: std::net::IpAddr, port: u16, e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::AddrInUse {
        format!("{proto} port {port} is given twice — give each port once")
    } else {
        let at = std::net::SocketAddr::new(addr, port);
        format!("cannot listen on {proto} {at}: {e} — check the port")
    }
}

/// Accepts connections until the listener is shut down; each gets its own thread.
fn accept_loop(listener: &TcpListener, service: Service, connections: &Arc<Connections>) {
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => connections.spawn(stream, service),
            // `shutdown` on the stop signal.
            Err(e) if e.kind() == ErrorKind::InvalidInput => return,
            // The connection failed before it was accepted: the next one.
            Err(e) if matches!(e.kind(), ErrorKind::NotConnected | ErrorKind::Interrupted) => {}
            Err(e) => {
                eprintln!("pila: accept failed on {}: {e}", local(listener));
                return;
            }
        }
    }
}

fn local(listener: &TcpListener) -> String {
    listener.local_addr().map_or_else(|_| "?".into(), |a| a.to_string())
}

/// Runs one connection to its end: the peer closed, it failed, or a stop came and the
/// grace period ran out (the connection is shut down both ways: its read ends, its write
/// fails).
fn serve_connection(stream: &TcpStream, service: Service) {
    let result = match service {
        Service::Echo => echo(stream),
        Service::Discard => discard(stream),
        Service::Chargen => chargen(stream),
    };
    if result.is_ok() {
        let _ = stream.shutdown(Shutdown::Write);
        // Stay until the peer has acknowledged our FIN, so that the connection's end (and
        // its `closed` event) belongs to this run instead of being cut off by a stop that
        // comes right after the client is done.
        let _ = stream.wait_closed(Some(LINGER));
    }
}

/// A connection loop ended early: it was cut, or it failed.
struct Cut;

/// Reads once; `Ok(0)` is end-of-file.
fn read(mut stream: &TcpStream, buf: &mut [u8]) -> Result<usize, Cut> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            result => return result.map_err(|_| Cut),
        }
    }
}

fn echo(mut stream: &TcpStream) -> Result<(), Cut> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        match read(stream, &mut buf)? {
            0 => return Ok(()),
            n => stream.write_all(buf.get(..n).unwrap_or_default()).map_err(|_| Cut)?,
        }
    }
}

fn discard(stream: &TcpStream) -> Result<(), Cut> {
    let mut buf = vec![0; 64 * 1024];
    while read(stream, &mut buf)? != 0 {}
    Ok(())
}

/// RFC 864: 72-character lines of the 95 printable ASCII characters, each line starting
/// one character further on, until the client closes. What the client sends is discarded.
fn chargen(mut stream: &TcpStream) -> Result<(), Cut> {
    let mut sink = vec![0; 16 * 1024];
    let mut block = Vec::with_capacity(95 * 74);
    for start in 0..95u8 {
        block.extend((0..72u8).map(|i| b' ' + (start + i) % 95));
        block.extend_from_slice(b"\r\n");
    }
    loop {
        stream.write_all(&block).map_err(|_| Cut)?;
        // Drain what the client sent without waiting for more; its FIN ends the stream.
        stream.set_nonblocking(true).map_err(|_| Cut)?;
        let read = match stream.read(&mut sink) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                Ok(None)
            }
            result => result.map(Some).map_err(|_| Cut),
        };
        stream.set_nonblocking(false).map_err(|_| Cut)?;
        if read? == Some(0) {
            return Ok(());
        }
    }
}

/// Sends every datagram back to where it came from until a stop is asked for. A receive
/// that fails (the read timeout's tick, an ICMP error reported once) just looks again.
fn udp_echo(socket: &UdpSocket) {
    let mut buf = vec![0; 65_536];
    while !stop_requested() {
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(buf.get(..n).unwrap_or_default(), from);
        }
    }
}
