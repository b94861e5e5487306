//! `pila connect`: a TCP connection from pila's stack, joined to standard input and output
//! like `nc HOST PORT`.

use crate::Failure;
use crate::link::LinkArgs;
use pila::net::TcpStream;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Options of `pila connect`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// The server, as an address and port: `192.0.2.1:80`, or `[2001:db8::1]:80` (with an
    /// IPv6 --ip).
    #[arg(value_name = "HOST:PORT")]
    server: SocketAddr,
}

/// Connects, then copies both ways until the peer has closed and all our data is out.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let stack = args.link.start()?;
    let server = args.server;
    let stream = TcpStream::connect(&stack, server).map_err(|e| connect_failure(server, &e))?;
    let result = copy_both_ways(stream);
    drop(stack);
    result
}

/// The one line for a connection that could not be made.
fn connect_failure(server: SocketAddr, e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => {
            format!("connection to {server} refused — check that a server listens on that port")
        }
        ErrorKind::TimedOut => format!(
            "connection to {server} timed out — check the address, --gateway, and that the host is up"
        ),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            format!("cannot reach {server}: {e} — check the address, --ip's prefix and --gateway")
        }
        _ => format!("cannot connect to {server}: {e} — check the address and the device"),
    }
}

/// How long to wait, after both directions are done, for the peer to acknowledge our FIN.
const LINGER: Duration = Duration::from_secs(30);

/// Standard input to the connection (its end shuts down our writing half) and the
/// connection to standard output. Returns once the peer has closed, standard input has
/// ended, and the peer has acknowledged everything, FIN included.
pub(crate) fn copy_both_ways(stream: TcpStream) -> Result<(), Failure> {
    let peer = stream.peer_addr().map_or_else(|_| "the peer".into(), |a| a.to_string());
    let stream = Arc::new(stream);
    let upload = {
        let stream = Arc::clone(&stream);
        std::thread::spawn(move || stdin_to_socket(&stream))
    };
    socket_to_stdout(&stream, &peer)?;
    // The peer has closed its half; what is left is ours: the rest of standard input.
    match upload.join() {
        Ok(result) => result?,
        Err(_) => return Err("the input copier crashed — this is a bug in pila".to_owned().into()),
    }
    wait_all_out(&stream, &peer)
}

fn stdin_to_socket(mut stream: &TcpStream) -> Result<(), Failure> {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(format!("cannot read standard input: {e} — check what feeds it").into());
            }
        };
        if n == 0 {
            return stream
                .shutdown(Shutdown::Write)
                .map_err(|e| Failure::from(format!("cannot close the connection: {e}")));
        }
        stream
            .write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| Failure::from(connection_lost(&e)))?;
    }
}

fn socket_to_stdout(mut stream: &TcpStream, peer: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{peer}: {}", connection_lost(&e)).into()),
        };
        if n == 0 {
            return Ok(());
        }
        stdout.write_all(buf.get(..n).unwrap_or_default())?;
        stdout.flush()?;
    }
}

fn connection_lost(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionReset => {
            "the connection was reset by the peer — the other side aborted it".into()
        }
        ErrorKind::TimedOut => {
            "the connection timed out — the peer stopped answering; check the link".into()
        }
        _ => format!("the connection failed: {e} — check the link and the peer"),
    }
}

/// Waits until the peer has acknowledged our FIN (TIME-WAIT or CLOSED), so that nothing
/// we sent is lost when the process ends.
fn wait_all_out(stream: &TcpStream, peer: &str) -> Result<(), Failure> {
    match stream.wait_closed(Some(LINGER)) {
        Ok(()) => Ok(()),
        Err(e)
            if e.kind() == ErrorKind::TimedOut && stream.take_error().ok().flatten().is_none() =>
        {
            Err(format!(
                "{peer} did not acknowledge the end of our data within {}s — check the link",
                LINGER.as_secs()
            )
            .into())
        }
        Err(e) => Err(format!("{peer}: {}", connection_lost(&e)).into()),
    }
}
