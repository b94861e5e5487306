//! `pila get`: an HTTP GET through pila's stack on a TAP or TUN, with hyper as the client;
//! the body goes to a file or standard output, with a progress bar on a terminal.

use crate::Failure;
use crate::link::LinkArgs;
use crate::web::client::{self, Target};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal as _, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Options of `pila get`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    link: LinkArgs,
    /// Write the body to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Give up when connecting, or the server sending, stalls for SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// The http:// URL to fetch; its host is an IP address, an IPv6 one in brackets (pila
    /// resolves no names).
    #[arg(value_name = "URL")]
    url: String,
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let target = Target::parse(&args.url).map_err(Failure::Usage)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e} — this is a bug in pila"))?;
    let mut out = Output::open(args.output.as_ref())?;
    let progress = std::io::stderr().is_terminal().then(ProgressBar::no_length);
    let fetched = runtime.block_on(async {
        let stack = args.link.start_tokio()?;
        let on_head = |head: &client::Head| {
            if let Some(bar) = &progress {
                start_bar(bar, head);
            }
        };
        let on_data = |data: &[u8]| {
            if let Some(bar) = &progress {
                bar.inc(data.len() as u64);
            }
            out.write(data)
        };
        let timeout = Duration::from_secs(args.timeout);
        client::get(&stack, target, timeout, on_head, on_data).await
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    match fetched {
        Ok(_) => out.finish(),
        Err(e) => {
            out.discard();
            Err(Failure::Message(e))
        }
    }
}

fn start_bar(bar: &ProgressBar, head: &client::Head) {
    let template = match head.length {
        Some(length) => {
            bar.set_length(length);
            "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}"
        }
        None => "{msg} {spinner} {bytes} {bytes_per_sec}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(head.url.clone());
}

/// Where the body goes: a file (removed again if the fetch fails) or standard output.
enum Output {
    File { file: std::io::BufWriter<std::fs::File>, path: PathBuf },
    Stdout(std::io::Stdout),
}

impl Output {
    fn open(path: Option<&PathBuf>) -> Result<Self, Failure> {
        Ok(match path {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|e| {
                    Failure::Usage(format!(
                        "cannot write {}: {e} — check that its directory exists and is writable",
                        path.display()
                    ))
                })?;
                Self::File { file: std::io::BufWriter::new(file), path: path.clone() }
            }
            None => Self::Stdout(std::io::stdout()),
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<(), String> {
        match self {
            Self::File { file, path } => file
                .write_all(data)
                .map_err(|e| format!("cannot write {}: {e} — check the disk", path.display())),
            Self::Stdout(out) => {
                out.lock().write_all(data).map_err(|e| format!("cannot write the output: {e}"))
            }
        }
    }

    fn finish(self) -> Result<(), Failure> {
        match self {
            Self::File { file, path } => file.into_inner().map(drop).map_err(|e| {
                Failure::Message(format!(
                    "cannot write {}: {} — check the disk",
                    path.display(),
                    e.error()
                ))
            }),
            Self::Stdout(out) => out.lock().flush().map_err(Failure::from),
        }
    }

    /// A failed fetch leaves no partial file behind.
    fn discard(self) {
        if let Self::File { file, path } = self {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
    }
}
