//! `pila listen`: waits for one TCP connection on pila's stack and joins it to standard input
//! and output, like `nc -l PORT`.

use crate::Failure;
use crate::connect::copy_both_ways;
use crate::link::LinkArgs;
use pila::net::TcpListener;

/// Options of `pila listen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// The TCP port to listen on.
    #[arg(value_name = "PORT")]
    port: u16,
}

/// Accepts one connection, stops listening, then copies both ways as `connect` does.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let stack = args.link.start()?;
    let addr = std::net::SocketAddr::new(args.link.listen_addr(), args.port);
    let listener = TcpListener::bind_with_backlog(&stack, addr, 1)
        .map_err(|e| format!("cannot listen on {addr}: {e} — check the port"))?;
    let (stream, _peer) = listener
        .accept()
        .map_err(|e| format!("cannot accept on {addr}: {e} — check the device"))?;
    drop(listener);
    let result = copy_both_ways(stream);
    drop(stack);
    result
}
