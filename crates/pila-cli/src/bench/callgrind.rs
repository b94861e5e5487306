//! `instructions`: instructions per byte of `bulk-1500` under valgrind's callgrind, which
//! counts every instruction the process (all its threads) executes in user space, whatever
//! the machine's load; `instructions-v6` the same of `bulk-1500-v6`.
//!
//! The worker runs the `bulk-1500` worker twice under callgrind, on N and N/4 bytes, and
//! divides the difference of the two counts by the difference of the bytes, so that
//! start-up, the handshake and the close are not counted.

use super::measure::Taken;
use super::{Scenario, Side, Variant, Why};
use std::process::{Command, Stdio};

/// Takes the figure of `side` through `variant` on `bytes`, over IPv6 with `v6`.
pub(super) fn instructions(
    side: Side,
    variant: Variant,
    v6: bool,
    bytes: u64,
) -> Result<Taken, Why> {
    if side == Side::Linux {
        return Err(Why::Skip(
            "callgrind counts the instructions of a process; the kernel's are not seen".into(),
        ));
    }
    if !cfg!(feature = "bench-smoltcp") && side == Side::Smoltcp {
        return Err(Why::Skip("built without the bench-smoltcp feature".into()));
    }
    match Command::new("valgrind").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => {
            return Err(Why::Skip(
                "valgrind is not installed (Debian: apt-get install valgrind)".into(),
            ));
        }
    }
    let small = bytes / 4;
    let bulk = if v6 { Scenario::Bulk1500V6 } else { Scenario::Bulk1500 };
    let big_ir = count(bulk, side, variant, bytes)?;
    let small_ir = count(bulk, side, variant, small)?;
    let per_byte = big_ir.saturating_sub(small_ir) as f64 / (bytes - small).max(1) as f64;
    Ok(Taken::new(per_byte).with("total_instructions", big_ir as f64))
}

/// The instructions of one `bulk` worker on `bytes`, from callgrind's totals.
fn count(bulk: Scenario, side: Side, variant: Variant, bytes: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let file =
        std::env::temp_dir().join(format!("pila-bench-{}-{bytes}.callgrind", std::process::id()));
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(&exe)
        .args(["bench", "--worker", bulk.name(), "--side", side.name()])
        .args(["--variant", variant.name(), "--count", &bytes.to_string(), "--no-extras"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start valgrind: {e}"))?;
    let text = std::fs::read_to_string(&file);
    let _ = std::fs::remove_file(&file);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "the worker under callgrind failed: {}",
            err.lines().last().unwrap_or("")
        ));
    }
    let text = text.map_err(|e| format!("cannot read callgrind's output: {e}"))?;
    totals(&text).ok_or_else(|| "no totals in callgrind's output".to_owned())
}

/// The first event count (`Ir`) of callgrind's `totals:` or `summary:` line.
fn totals(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn totals_are_read() {
        assert_eq!(super::totals("events: Ir\nfl=x\n0 5\ntotals: 1234 5\n"), Some(1234));
        assert_eq!(super::totals("summary: 77\n"), Some(77));
        assert_eq!(super::totals("events: Ir\n"), None);
    }
}
