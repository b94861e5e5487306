//! The `pila` command line.

mod bench;
mod connect;
mod demo;
mod get;
mod link;
mod listen;
mod ping;
mod plot;
mod proxy;
mod serve;
mod timeline;
mod web;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// pila, a TCP/IP stack in user space.
#[derive(Debug, Parser)]
#[command(name = "pila", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Two pila hosts on an in-memory wire, no privileges needed: ping, echo, a refused
    /// connection, and the timeline of every frame.
    Demo(demo::Args),
    /// Serve TCP echo, discard and chargen, UDP echo and static files over HTTP on a TAP or
    /// TUN until SIGINT/SIGTERM.
    Serve(serve::Args),
    /// Fetch an http:// URL through pila on a TAP or TUN, following redirects.
    Get(get::Args),
    /// Open a TCP connection and copy standard input to it and it to standard output.
    Connect(connect::Args),
    /// Accept one TCP connection and copy standard input to it and it to standard output.
    Listen(listen::Args),
    /// Send ICMP echo requests and print one line per reply, like ping(8).
    Ping(ping::Args),
    /// Terminate every TCP connection and UDP flow arriving on a TUN and relay it to its
    /// destination, directly or through a SOCKS5 server (a tun2socks-style proxy).
    Proxy(proxy::Args),
    /// Run the benchmark scenarios (bulk, rr, crr, idle, tap-tx, tap-rx, instructions) on
    /// pila, smoltcp and Linux in one run and print a table with same-run ratios.
    Bench(bench::Args),
    /// Draw one connection from a trace (--trace FILE) or a pcap file: the time-sequence
    /// graph, throughput, RTT and the congestion window, as SVG, PNG or HTML.
    Plot(plot::PlotArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Get(args) => get::run(&args),
        Command::Connect(args) => connect::run(&args),
        Command::Listen(args) => listen::run(&args),
        Command::Ping(args) => ping::run(&args),
        Command::Proxy(args) => proxy::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Plot(args) => plot::run(&args),
    };
    // The stack has stopped: its trace, if any, is written out.
    let result = result.and_then(|()| link::finish_traces().map_err(Failure::Message));
    match result {
        Ok(()) | Err(Failure::OutputClosed) => ExitCode::SUCCESS,
        Err(Failure::Message(err)) => {
            eprintln!("pila: {err}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(err)) => {
            eprintln!("pila: {err}");
            ExitCode::from(2)
        }
    }
}

/// Why a command did not finish.
#[derive(Debug)]
enum Failure {
    /// Something went wrong: one line saying what, and how to fix it.
    Message(String),
    /// A value given on the command line cannot be used: one line saying which, and how to
    /// fix it (exit status 2, like a bad option).
    Usage(String),
    /// Whoever read our output stopped reading (`pila demo | head`): not an error.
    OutputClosed,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Message(message)
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            Self::OutputClosed
        } else {
            Self::Message(format!("cannot write the output: {err}"))
        }
    }
}

/// Prints a bad command line as one line naming what is wrong and where to look, as every
/// pila error is printed; `--help` and `--version` go to standard output as usual.
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        print!("{err}");
        return ExitCode::SUCCESS;
    }
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        eprint!("{}", err.render());
        return ExitCode::from(2);
    }
    let rendered = err.render().to_string();
    let mut lines = rendered.lines().filter(|line| !line.trim().is_empty());
    let mut what =
        lines.next().unwrap_or("bad command line").trim_start_matches("error: ").to_owned();
    // "the following required arguments were not provided:" names them on the next line.
    if what.ends_with(':')
        && let Some(next) = lines.next()
    {
        what = format!("{what} {}", next.trim());
    }
    eprintln!("pila: {what} — see 'pila --help'");
    ExitCode::from(2)
}
