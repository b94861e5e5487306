//! `pila-bench-idle`: the `idle` figures of `pila bench` for pila and smoltcp, in a process
//! of their own whose global allocator counts the heap (the `pila` binary carries no such
//! allocator: it would slow every other figure down). Started by `pila bench` as
//! `pila-bench-idle --side pila|smoltcp --variant net|sans-io --count N`; prints `value X`
//! (heap bytes per connection end) and `extra KEY X` lines, or `skip REASON`.

#![allow(dead_code)]

#[path = "idle.rs"]
mod idle;
#[path = "measure.rs"]
mod measure;
#[path = "sans_io_pair.rs"]
mod sans_io_pair;
#[cfg(feature = "bench-smoltcp")]
#[path = "smoltcp_dev.rs"]
mod smoltcp_dev;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
    };
    let side = option("--side").unwrap_or("pila");
    let variant = option("--variant").unwrap_or("net");
    let Some(count) = option("--count").and_then(|c| c.parse::<usize>().ok()) else {
        eprintln!("pila-bench-idle: --count N is needed — it is started by `pila bench`");
        return ExitCode::from(2);
    };
    let result = match (side, variant) {
        ("pila", "net") => idle::pila_net(GLOBAL, count),
        ("pila", "sans-io") => idle::pila_sans_io(GLOBAL, count),
        #[cfg(feature = "bench-smoltcp")]
        ("smoltcp", _) => idle::smoltcp(GLOBAL, count),
        #[cfg(not(feature = "bench-smoltcp"))]
        ("smoltcp", _) => {
            println!("skip built without the bench-smoltcp feature");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!("no idle figure for --side {side} --variant {variant}")),
    };
    match result {
        Ok(taken) => {
            print!("{}", taken.lines());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pila-bench-idle: {e}");
            ExitCode::FAILURE
        }
    }
}
