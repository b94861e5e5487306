//! `pila bench` smoke test: the in-memory items on 4 MiB, the table's shape and its figures
//! non-zero. Speed is never asserted here (DESIGN.md: measured in benchmarks only).

use std::process::{Command, Output};

fn pila(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pila")).args(args).output().expect("run pila")
}

const FAST: [&str; 8] =
    ["bench", "--size", "4", "--only", "sans-io", "--only", "pila-net", "--only"];

fn fast(extra: &[&str]) -> Output {
    let mut args = FAST.to_vec();
    args.push("smoltcp");
    args.extend_from_slice(extra);
    pila(&args)
}

#[test]
fn in_memory_items_fill_the_table() {
    let out = fast(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("pila bench: 4 MiB"), "{stdout}");
    // Without linux, the ratios are taken against smoltcp.
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        header,
        ["item", "MB/s", "×smoltcp", "CPU", "ns/byte", "×smoltcp", "peak", "RSS"],
        "{stdout}"
    );
    let rows: Vec<Vec<&str>> = lines[2..5].iter().map(|l| l.split_whitespace().collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names, ["sans-io", "pila-net", "smoltcp"], "{stdout}");
    for row in &rows {
        assert_eq!(row.len(), 7, "{stdout}");
        let figure = |i: usize| -> f64 {
            row[i].parse().unwrap_or_else(|_| panic!("{:?} in {stdout}", row[i]))
        };
        // Throughput, its ratio and peak memory are never zero. CPU time comes in kernel
        // ticks (10 ms), which 4 MiB may take less than: it must read, and not be negative.
        for i in [1, 2, 5] {
            assert!(figure(i) > 0.0, "zero figure in {row:?}:\n{stdout}");
        }
        for i in [3, 4] {
            assert!(figure(i) >= 0.0, "negative CPU figure in {row:?}:\n{stdout}");
        }
        assert_eq!(row[6], "MiB", "{stdout}");
    }
    // smoltcp over itself is 1, exactly.
    assert_eq!(&rows[2][2..3], ["1.00"], "{stdout}");
    assert!(lines[5].starts_with("ratios: over smoltcp's figures"), "{stdout}");
    assert_eq!(lines.len(), 6, "{stdout}");
}

#[test]
fn json_names_every_item_with_its_figures() {
    let out = fast(&["--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("{\"size_mib\":4,\"baseline\":\"smoltcp\",\"items\":["), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    for name in ["sans-io", "pila-net", "smoltcp"] {
        assert!(
            stdout
                .contains(&format!("{{\"name\":\"{name}\",\"status\":\"done\",\"bytes\":4194304,")),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("\"mb_per_s\":0.000"), "{stdout}");
}

#[test]
fn bad_values_are_one_line_and_status_2() {
    for args in [
        &["bench", "--size", "0"][..],
        &["bench", "--size", "many"],
        &["bench", "--only", "windows"],
    ] {
        let out = pila(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("pila: ") && stderr.contains(" — "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
