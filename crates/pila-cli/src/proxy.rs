//! `pila proxy`: pila as the TCP/IP engine of a tun2socks-style proxy. It reads the TUN
//! (or TAP), terminates every TCP connection and UDP flow to an intercepted destination,
//! and relays each to that destination: straight through the operating system's own
//! sockets (`--direct`), or through a SOCKS5 server (`--socks5`: CONNECT for TCP, UDP
//! ASSOCIATE for UDP).
//!
//! Each end learns what happens to the other. A client's SYN is held while the proxy
//! connects upstream; the handshake completes only if that connection does, and otherwise
//! the client gets what the proxy got: a reset for a refusal, an ICMP unreachable for a
//! host or network that cannot be reached, or for a connect that timed out. A half-close
//! travels both ways, and a reset on either side resets the other.
//!
//! The proxy's own upstream traffic must not be routed back into the TUN. Route only what
//! arrives from the clients into it (`ip rule add iif CLIENTS lookup 100` with the TUN as
//! table 100's route to the intercepted prefixes), or everything but the proxy's own
//! marked sockets (`--mark N` and `ip rule add not fwmark N lookup 100`), or bind its
//! sockets to the outgoing interface (`--bind-device IFACE`).

mod socks5;

use crate::Failure;
use crate::link::{LinkArgs, StopSignals};
use pila::stack::{IpCidr, Refusal};
use pila::tokio::{InterceptListener, Intercepted, TcpStream as PilaStream, UdpSocket as PilaUdp};
use std::collections::HashMap;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// Options of `pila proxy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    link: LinkArgs,
    #[command(flatten)]
    upstream: UpstreamArgs,
    /// The SOCKS5 server's username (RFC 1929), with --socks5-password.
    #[arg(long, value_name = "USER", requires_all = ["socks5", "socks5_password"])]
    socks5_user: Option<String>,
    /// The SOCKS5 server's password, with --socks5-user.
    #[arg(long, value_name = "PASSWORD", requires = "socks5_user")]
    socks5_password: Option<String>,
    /// Intercept only destinations inside PREFIX (IPv4 or IPv6, like 198.51.100.0/24);
    /// repeat it for more. Default: every destination that is not pila's own address.
    #[arg(long = "intercept", value_name = "PREFIX", value_parser = parse_prefix)]
    intercept: Vec<IpCidr>,
    /// Write one JSON object a line per relayed connection and UDP flow to FILE: its
    /// client, destination, bytes each way and how it ended.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Put this mark (SO_MARK) on the proxy's own upstream sockets, for a routing rule
    /// that keeps them out of the TUN.
    #[arg(long, value_name = "N")]
    mark: Option<u32>,
    /// Bind the proxy's own upstream sockets to this interface (SO_BINDTODEVICE).
    #[arg(long, value_name = "IFACE")]
    bind_device: Option<String>,
    /// How long an upstream connection may take before the client is told its destination
    /// is unreachable.
    #[arg(long = "connect-timeout", value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,
    /// Forget a UDP flow after SECS seconds without a datagram either way.
    #[arg(long = "udp-timeout", value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    udp_timeout: u64,
    /// Answer pings to intercepted destinations (by default they go unanswered: the proxy
    /// cannot tell whether the far host is up).
    #[arg(long)]
    answer_ping: bool,
}

/// Where relayed connections go: exactly one of `--socks5` and `--direct`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct UpstreamArgs {
    /// Relay through the SOCKS5 server at HOST:PORT (RFC 1928).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_server)]
    socks5: Option<SocketAddr>,
    /// Relay with the operating system's own sockets, straight to each destination.
    #[arg(long)]
    direct: bool,
}

fn parse_prefix(s: &str) -> Result<IpCidr, String> {
    s.parse().map_err(|e| format!("{e}, or an IPv4 one like 198.51.100.0/24"))
}

fn parse_server(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("{s:?} is not HOST:PORT, like 198.51.100.2:1080"))
}

/// How long relayed connections get to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(3);
/// The buffer of each direction of a relayed connection.
const COPY_BUFFER: usize = 16 << 10;
/// The largest UDP datagram relayed.
const DATAGRAM: usize = 65535;

/// How the relay reaches destinations.
#[derive(Debug)]
enum Via {
    Direct { mark: Option<u32>, device: Option<String> },
    Socks5 { server: SocketAddr, auth: Option<socks5::Credentials> },
}

/// What every relay task shares.
struct Relay {
    via: Via,
    connect_timeout: Duration,
    udp_timeout: Duration,
    log: Option<mpsc::UnboundedSender<Record>>,
    stop: watch::Receiver<bool>,
}

/// One relayed connection or flow, as `--events` writes it.
struct Record {
    protocol: &'static str,
    client: SocketAddr,
    destination: SocketAddr,
    to_destination: u64,
    to_client: u64,
    ended: String,
    millis: u128,
}

impl Record {
    fn json(&self) -> String {
        format!(
            "{{\"protocol\":\"{}\",\"client\":\"{}\",\"destination\":\"{}\",\
             \"bytes_to_destination\":{},\"bytes_to_client\":{},\"ended\":{},\"ms\":{}}}\n",
            self.protocol,
            self.client,
            self.destination,
            self.to_destination,
            self.to_client,
            quote(&self.ended),
            self.millis
        )
    }
}

fn quote(text: &str) -> String {
    let mut s = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if u32::from(c) < 0x20 => s.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Relay {
    fn record(&self, record: Record) {
        if let Some(log) = &self.log {
            let _ = log.send(record);
        }
    }
}

/// Runs the proxy until SIGINT or SIGTERM.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let mut signals = StopSignals::catch()?;
    let via = match (args.upstream.socks5, &args.socks5_user, &args.socks5_password) {
        (Some(server), Some(user), Some(password)) => Via::Socks5 {
            server,
            auth: Some(socks5::Credentials { user: user.clone(), password: password.clone() }),
        },
        (Some(server), _, _) => Via::Socks5 { server, auth: None },
        (None, _, _) => Via::Direct { mark: args.mark, device: args.bind_device.clone() },
    };
    let log = match &args.events {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| {
            format!(
                "cannot create {}: {e} — check that its directory exists and is writable",
                path.display()
            )
        })?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let (stop_tx, stop) = watch::channel(false);
    let result = runtime.block_on(async {
        let stack = args.link.start_tokio()?;
        let prefixes = args.intercept.clone();
        let listener = InterceptListener::bind(&stack, &prefixes)
            .map_err(|e| format!("cannot intercept TCP: {e}"))?;
        let udp = PilaUdp::intercept(&stack, &prefixes)
            .map_err(|e| format!("cannot intercept UDP: {e}"))?;
        if args.answer_ping {
            stack.answer_intercepted_pings(Some(prefixes.clone()));
        }
        let (log_tx, writer) = match log {
            Some(file) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(tokio::spawn(write_records(file, rx))))
            }
            None => (None, None),
        };
        let relay = Arc::new(Relay {
            via,
            connect_timeout: Duration::from_secs(args.connect_timeout),
            udp_timeout: Duration::from_secs(args.udp_timeout),
            log: log_tx,
            stop,
        });
        let what = if prefixes.is_empty() {
            "every destination".to_owned()
        } else {
            prefixes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        };
        let through = match &relay.via {
            Via::Direct { .. } => "directly".to_owned(),
            Via::Socks5 { server, .. } => format!("through the SOCKS5 server {server}"),
        };
        eprintln!(
            "pila proxy: {} relays TCP and UDP to {what} {through}; stop with Ctrl-C",
            args.link.addresses()
        );
        let tcp = tokio::spawn(serve_tcp(listener, Arc::clone(&relay)));
        let udp = tokio::spawn(serve_udp(udp, Arc::clone(&relay)));
        // The signals are waited for on a thread of their own.
        let _ = tokio::task::spawn_blocking(move || signals.wait()).await;
        let _ = stop_tx.send(true);
        let _ = tcp.await;
        let _ = udp.await;
        drop(relay);
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        drop(stack);
        Ok::<(), String>(())
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.map_err(Failure::Message)
}

/// Writes each record to `file` as it comes, until every sender is gone.
async fn write_records(mut file: std::fs::File, mut rx: mpsc::UnboundedReceiver<Record>) {
    while let Some(record) = rx.recv().await {
        if file.write_all(record.json().as_bytes()).is_err() {
            eprintln!("pila proxy: cannot write the events file any more; events are dropped");
            return;
        }
    }
}

/// Takes every intercepted connection and relays it on a task of its own; on the stop
/// signal, stops intercepting and waits for the relays, which get [`GRACE`] to close.
async fn serve_tcp(listener: InterceptListener, relay: Arc<Relay>) {
    let mut relays = tokio::task::JoinSet::new();
    let mut stop = relay.stop.clone();
    loop {
        tokio::select! {
            held = listener.next() => match held {
                Ok(held) => {
                    relays.spawn(relay_tcp(held, Arc::clone(&relay)));
                }
                Err(e) => {
                    eprintln!("pila proxy: intercepting stopped: {e}");
                    break;
                }
            },
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    listener.shutdown();
    // Longer than a relay's own grace, so that each records how it ended.
    let wait = GRACE + Duration::from_secs(2);
    let _ = tokio::time::timeout(wait, async { while relays.join_next().await.is_some() {} }).await;
}

/// A connection upstream, through whichever way the proxy relays.
enum Upstream {
    Tcp(tokio::net::TcpStream),
}

/// Why the upstream connection was not made: the refusal the client gets, and what to
/// record.
struct NotMade {
    refusal: Refusal,
    why: String,
}

impl Relay {
    /// Opens the upstream connection to `dst`.
    async fn connect(&self, dst: SocketAddr) -> Result<Upstream, NotMade> {
        let attempt = async {
            match &self.via {
                Via::Direct { mark, device } => {
                    direct_connect(dst, *mark, device.as_deref()).await.map_err(|e| NotMade {
                        refusal: refusal_for(&e),
                        why: format!("upstream: {e}"),
                    })
                }
                Via::Socks5 { server, auth } => {
                    socks5::connect(*server, auth.as_ref(), dst).await.map_err(|r| NotMade {
                        refusal: match r {
                            socks5::Refused::Reply(3) => Refusal::NetworkUnreachable,
                            socks5::Refused::Reply(4 | 6) => Refusal::HostUnreachable,
                            _ => Refusal::Reset,
                        },
                        why: r.describe(),
                    })
                }
            }
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(Upstream::Tcp(stream))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NotMade {
                refusal: Refusal::HostUnreachable,
                why: format!("upstream: no answer within {:?}", self.connect_timeout),
            }),
        }
    }
}

/// A socket of the operating system's, marked or bound as asked, connected to `dst`.
async fn direct_connect(
    dst: SocketAddr,
    mark: Option<u32>,
    device: Option<&str>,
) -> io::Result<tokio::net::TcpStream> {
    let socket = if dst.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(mark) = mark {
        socket2::SockRef::from(&socket).set_mark(mark)?;
    }
    if let Some(device) = device {
        socket.bind_device(Some(device.as_bytes()))?;
    }
    socket.connect(dst).await
}

/// What the client is told of an upstream connect that failed with `e`.
fn refusal_for(e: &io::Error) -> Refusal {
    match e.kind() {
        io::ErrorKind::HostUnreachable | io::ErrorKind::TimedOut => Refusal::HostUnreachable,
        io::ErrorKind::NetworkUnreachable => Refusal::NetworkUnreachable,
        _ => Refusal::Reset,
    }
}

/// How a direction of a relayed connection broke.
enum Broke {
    /// Reading from its source failed (the source reset).
    Read,
    /// Writing to its sink failed (the sink reset).
    Write,
}

/// The reading side of a stream, which can wait for data without holding a buffer.
trait Source {
    async fn readable(&self) -> io::Result<()>;
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
}

macro_rules! source {
    ($($t:ty),*) => {$(
        impl Source for $t {
            async fn readable(&self) -> io::Result<()> {
                <$t>::readable(self).await
            }

            fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$t>::try_read(self, buf)
            }
        }
    )*};
}

source!(pila::tokio::ReadHalf<'_>, tokio::net::tcp::ReadHalf<'_>);

/// Copies `from` to `to` until end-of-file, then half-closes `to`; `moved` counts the
/// bytes written. The copy buffer is taken when data comes and given back when it stops
/// coming, so an idle connection holds none.
async fn pump<R, W>(from: &R, to: &mut W, moved: &mut u64) -> Result<(), Broke>
where
    R: Source,
    W: AsyncWrite + Unpin,
{
    loop {
        from.readable().await.map_err(|_| Broke::Read)?;
        let mut buf = vec![0; COPY_BUFFER];
        loop {
            match from.try_read(&mut buf) {
                Ok(0) => return to.shutdown().await.map_err(|_| Broke::Write),
                Ok(n) => {
                    to.write_all(&buf[..n]).await.map_err(|_| Broke::Write)?;
                    *moved += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Err(Broke::Read),
            }
        }
    }
}

/// How a relayed connection ended.
enum Ended {
    Closed,
    ClientReset,
    DestinationReset,
    Stopped,
}

/// Relays one intercepted connection: upstream first, then the client's handshake, then
/// bytes both ways until both sides have closed, or one resets, or the proxy stops.
async fn relay_tcp(held: Intercepted, relay: Arc<Relay>) {
    let start = Instant::now();
    let (client, destination) = (held.client(), held.destination());
    let record = |to_destination, to_client, ended: String| Record {
        protocol: "tcp",
        client,
        destination,
        to_destination,
        to_client,
        ended,
        millis: start.elapsed().as_millis(),
    };
    let upstream = match relay.connect(destination).await {
        Ok(Upstream::Tcp(s)) => s,
        Err(NotMade { refusal, why }) => {
            let _ = held.refuse(refusal);
            relay.record(record(0, 0, why));
            return;
        }
    };
    let mut downstream = match held.accept().await {
        Ok(s) => s,
        Err(e) => {
            relay.record(record(0, 0, format!("client: {e}")));
            return;
        }
    };
    let _ = downstream.set_nodelay(true);
    let mut upstream = upstream;
    let (mut up, mut down) = (0_u64, 0_u64);
    let ended = {
        let (cr, mut cw) = downstream.split();
        let (ur, mut uw) = upstream.split();
        let c2u = pump(&cr, &mut uw, &mut up);
        let u2c = pump(&ur, &mut cw, &mut down);
        tokio::pin!(c2u, u2c);
        let (mut c2u_done, mut u2c_done) = (false, false);
        let mut stop = relay.stop.clone();
        loop {
            if c2u_done && u2c_done {
                break Ended::Closed;
            }
            tokio::select! {
                r = &mut c2u, if !c2u_done => match r {
                    Ok(()) => c2u_done = true,
                    Err(Broke::Read) => break Ended::ClientReset,
                    Err(Broke::Write) => break Ended::DestinationReset,
                },
                r = &mut u2c, if !u2c_done => match r {
                    Ok(()) => u2c_done = true,
                    Err(Broke::Read) => break Ended::DestinationReset,
                    Err(Broke::Write) => break Ended::ClientReset,
                },
                _ = stop.wait_for(|stopping| *stopping) => break Ended::Stopped,
            }
        }
    };
    let ended = match ended {
        Ended::Closed => "closed".to_owned(),
        Ended::ClientReset => {
            // The client reset: so does the proxy, upstream.
            let _ = upstream.set_zero_linger();
            "reset by the client".to_owned()
        }
        Ended::DestinationReset => {
            downstream.abort();
            "reset by the destination".to_owned()
        }
        Ended::Stopped => {
            // Both ends get a FIN, and a moment to finish.
            let _ = downstream.shutdown().await;
            let _ = upstream.shutdown().await;
            let _ = tokio::time::timeout(GRACE, drain_both(&mut downstream, &mut upstream)).await;
            "the proxy stopped".to_owned()
        }
    };
    relay.record(record(up, down, ended));
}

/// Reads both streams to their ends, dropping what comes.
async fn drain_both(a: &mut PilaStream, b: &mut tokio::net::TcpStream) {
    let mut buf = vec![0; COPY_BUFFER];
    let mut b_buf = vec![0; COPY_BUFFER];
    let (mut a_done, mut b_done) = (false, false);
    while !(a_done && b_done) {
        tokio::select! {
            r = a.read(&mut buf), if !a_done => a_done = !matches!(r, Ok(n) if n > 0),
            r = b.read(&mut b_buf), if !b_done => b_done = !matches!(r, Ok(n) if n > 0),
        }
    }
}

/// One UDP flow: a client and the destination it sends to.
type Flow = (SocketAddr, SocketAddr);

/// Takes every intercepted datagram: each flow gets an upstream socket of its own, made
/// with its first datagram and forgotten after `--udp-timeout` without traffic.
async fn serve_udp(socket: PilaUdp, relay: Arc<Relay>) {
    let socket = Arc::new(socket);
    let mut flows: HashMap<Flow, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let (ended_tx, mut ended) = mpsc::unbounded_channel::<Flow>();
    let mut stop = relay.stop.clone();
    let mut buf = vec![0; DATAGRAM];
    loop {
        tokio::select! {
            got = socket.recv_from_to(&mut buf) => {
                let Ok((n, client, destination)) = got else { continue };
                let flow = (client, destination);
                let mut data = buf[..n].to_vec();
                if let Some(tx) = flows.get(&flow) {
                    match tx.try_send(data) {
                        // A full queue drops the datagram, as a full socket buffer would.
                        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => continue,
                        // The flow just ended: a new one begins with this datagram.
                        Err(mpsc::error::TrySendError::Closed(back)) => data = back,
                    }
                }
                let (tx, rx) = mpsc::channel(64);
                let _ = tx.try_send(data);
                flows.insert(flow, tx);
                let (socket, relay, ended_tx) =
                    (Arc::clone(&socket), Arc::clone(&relay), ended_tx.clone());
                tokio::spawn(async move {
                    relay_udp(flow, rx, &socket, &relay).await;
                    let _ = ended_tx.send(flow);
                });
            }
            Some(flow) = ended.recv() => {
                if flows.get(&flow).is_some_and(mpsc::Sender::is_closed) {
                    flows.remove(&flow);
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// The upstream end of one UDP flow.
enum UdpUpstream {
    Direct(tokio::net::UdpSocket),
    /// Through a SOCKS5 relay: the association's control connection stays open as long as
    /// the flow.
    Socks5 {
        socket: tokio::net::UdpSocket,
        relay: SocketAddr,
        _control: tokio::net::TcpStream,
    },
}

impl Relay {
    async fn udp_upstream(&self, destination: SocketAddr) -> Result<UdpUpstream, String> {
        match &self.via {
            Via::Direct { mark, device } => {
                let socket = tokio::net::UdpSocket::bind(unspecified(destination))
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(mark) = mark {
                    socket2::SockRef::from(&socket).set_mark(*mark).map_err(|e| e.to_string())?;
                }
                if let Some(device) = device {
                    socket.bind_device(Some(device.as_bytes())).map_err(|e| e.to_string())?;
                }
                socket.connect(destination).await.map_err(|e| e.to_string())?;
                Ok(UdpUpstream::Direct(socket))
            }
            Via::Socks5 { server, auth } => {
                let any = unspecified(*server);
                let socket = tokio::net::UdpSocket::bind(any).await.map_err(|e| e.to_string())?;
                let from = socket.local_addr().map_err(|e| e.to_string())?;
                // The association names where our datagrams come from: the unspecified
                // address with our port, as the socket's address is not known to the
                // server before it sees one.
                let from = SocketAddr::new(any.ip(), from.port());
                let a = socks5::udp_associate(*server, auth.as_ref(), from)
                    .await
                    .map_err(|r| r.describe())?;
                Ok(UdpUpstream::Socks5 { socket, relay: a.relay, _control: a.control })
            }
        }
    }
}

/// The unspecified address of `addr`'s family, port 0.
fn unspecified(addr: SocketAddr) -> SocketAddr {
    let ip: std::net::IpAddr = if addr.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(ip, 0)
}

/// Relays one UDP flow until it has been idle for `--udp-timeout` or the proxy stops.
async fn relay_udp(
    (client, destination): Flow,
    mut from_client: mpsc::Receiver<Vec<u8>>,
    socket: &PilaUdp,
    relay: &Relay,
) {
    let start = Instant::now();
    let (mut up, mut down) = (0_u64, 0_u64);
    let upstream = match relay.udp_upstream(destination).await {
        Ok(u) => u,
        Err(e) => {
            relay.record(Record {
                protocol: "udp",
                client,
                destination,
                to_destination: 0,
                to_client: 0,
                ended: format!("upstream: {e}"),
                millis: start.elapsed().as_millis(),
            });
            return;
        }
    };
    let mut stop = relay.stop.clone();
    let ended = loop {
        let idle = tokio::time::sleep(relay.udp_timeout);
        tokio::select! {
            data = from_client.recv() => {
                let Some(data) = data else { break "the proxy stopped" };
                let sent = match &upstream {
                    UdpUpstream::Direct(s) => s.send(&data).await,
                    UdpUpstream::Socks5 { socket, relay, .. } => {
                        socket.send_to(&socks5::wrap(destination, &data), relay).await
                    }
                };
                if sent.is_ok() {
                    up += data.len() as u64;
                }
            }
            ready = upstream.socket().readable() => {
                if ready.is_err() {
                    continue;
                }
                // As for TCP, a buffer only while datagrams come.
                let mut buf = vec![0; DATAGRAM];
                loop {
                    match upstream.try_recv(&mut buf) {
                        Ok(Some(n)) => {
                            if socket.send_from(&buf[..n], destination, client).await.is_ok() {
                                down += n as u64;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // Not the destination's answer, or an error (a port unreachable).
                        Ok(None) | Err(_) => {}
                    }
                }
            }
            () = idle => break "idle",
            _ = stop.changed() => break "the proxy stopped",
        }
    };
    from_client.close();
    relay.record(Record {
        protocol: "udp",
        client,
        destination,
        to_destination: up,
        to_client: down,
        ended: ended.to_owned(),
        millis: start.elapsed().as_millis(),
    });
}

impl UdpUpstream {
    fn socket(&self) -> &tokio::net::UdpSocket {
        match self {
            Self::Direct(socket) | Self::Socks5 { socket, .. } => socket,
        }
    }

    /// The next datagram from upstream without waiting, its payload moved to the front of
    /// `buf`: `None` for one that is not the destination's answer, `WouldBlock` when none
    /// has come.
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            Self::Direct(s) => s.try_recv(buf).map(Some),
            Self::Socks5 { socket, relay, .. } => {
                let (n, from) = socket.try_recv_from(buf)?;
                if from != *relay {
                    return Ok(None);
                }
                let Some((_, data)) = socks5::unwrap(&buf[..n]) else { return Ok(None) };
                let (start, len) = (n - data.len(), data.len());
                buf.copy_within(start..start + len, 0);
                Ok(Some(len))
            }
        }
    }
}
