//! The `pila` command line.

mod demo;
mod timeline;

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
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
    };
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
    let what = rendered
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("bad command line")
        .trim_start_matches("error: ");
    eprintln!("pila: {what} — see 'pila --help'");
    ExitCode::from(2)
}
