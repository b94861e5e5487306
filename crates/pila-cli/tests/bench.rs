//! `pila bench` smoke tests: the scenarios that run without privileges, on tiny sizes (a
//! hidden option), and the shape of what they print — never their speed (DESIGN.md: speed
//! is measured in benchmarks only, never asserted in a test).

use std::process::{Command, Output};

fn pila(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pila")).args(args).output().expect("run pila")
}

/// The scenarios that need no root, with their units.
const UNPRIVILEGED: [(&str, &str); 9] = [
    ("bulk-1500", "Gbit/s"),
    ("bulk-1500-v6", "Gbit/s"),
    ("bulk-64k", "Gbit/s"),
    ("bulk-64k-v6", "Gbit/s"),
    ("rr", "µs/round trip"),
    ("crr", "connections/s"),
    ("idle", "heap bytes/connection"),
    ("instructions", "instructions/byte"),
    ("instructions-v6", "instructions/byte"),
];

fn tiny(extra: &[&str]) -> Output {
    let mut args = vec!["bench", "--quick", "--tiny"];
    for (name, _) in UNPRIVILEGED {
        args.extend(["--only", name]);
    }
    args.extend_from_slice(extra);
    pila(&args)
}

/// Whether the Linux figures must be there (CI: root, namespaces).
fn linux_required() -> bool {
    std::env::var("PILA_REQUIRE_NETNS").is_ok_and(|v| v == "1")
}

#[test]
fn json_is_one_object_per_scenario_with_the_five_keys_first() {
    let out = tiny(&["--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), UNPRIVILEGED.len(), "{stdout}");
    for (i, (line, (name, unit))) in lines.iter().zip(UNPRIVILEGED).enumerate() {
        let lead = format!("{{\"scenario\":\"{name}\",\"unit\":\"{unit}\",\"pila\":");
        assert!(line.starts_with(&lead), "{line}");
        // smoltcp and linux follow, in that order, before anything else.
        let rest = &line[lead.len()..];
        let s = rest.find(",\"smoltcp\":").expect(line);
        let l = rest.find(",\"linux\":").expect(line);
        assert!(rest[..s].bytes().all(|b| b != b','), "{line}");
        assert!(s < l && rest[s + 1..l].bytes().all(|b| b != b','), "{line}");
        let after_linux = &rest[l + ",\"linux\":".len()..];
        let end = after_linux.find([',', '}']).expect(line);
        assert!(after_linux[..end].parse::<f64>().is_ok() || &after_linux[..end] == "null");
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        let figure = |key: &str| -> Option<f64> {
            match &v[key] {
                serde_json::Value::Null => None,
                serde_json::Value::Number(n) => n.as_f64(),
                other => panic!("{key} is {other} in {line}"),
            }
        };
        // pila's figure is always taken, and (where there is one) its Sans-IO core's.
        assert!(figure("pila").is_some(), "{line}");
        if name != "crr" {
            assert!(v.get("pila_sans_io").is_some(), "{line}");
        }
        // smoltcp's too, but under callgrind only where valgrind is installed (CI installs
        // it, and requires the figure).
        let smoltcp = figure("smoltcp");
        let instructions = name.starts_with("instructions");
        assert!(smoltcp.is_some() || (instructions && !linux_required()), "{line}");
        let linux = figure("linux");
        if instructions {
            assert_eq!(linux, None, "{line}");
        } else if linux_required() {
            assert!(linux.is_some(), "{line}\n{stderr}");
        }
        for f in [figure("pila"), smoltcp, linux].into_iter().flatten() {
            assert!(f.is_finite() && f >= 0.0, "{line}");
        }
        if let (Some(p), Some(s)) = (figure("pila"), smoltcp)
            && s > 0.0
        {
            assert!(
                (figure("pila_per_smoltcp").unwrap() - p / s).abs() <= 1e-9 * (p / s),
                "{line}"
            );
        }
        assert_eq!(
            v["pila_api"].as_str().map(|a| a.starts_with("pila::net")),
            Some(true),
            "{line}"
        );
        // An IPv6 scenario is compared with its IPv4 twin, which ran just before it.
        if let Some(twin) = name.strip_suffix("-v6") {
            let before: serde_json::Value = serde_json::from_str(lines[i - 1]).unwrap();
            assert_eq!(before["scenario"].as_str(), Some(twin), "{line}");
            let ratio = figure("pila").unwrap() / before["pila"].as_f64().unwrap();
            let per = figure("pila_per_ipv4").expect(line);
            assert!((per - ratio).abs() <= 1e-9 * ratio, "{line}");
        } else {
            assert!(v.get("pila_per_ipv4").is_none(), "{line}");
        }
    }
    // Every null figure says why, on stderr.
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = v["scenario"].as_str().unwrap();
        for side in ["smoltcp", "linux"] {
            if v[side].is_null() {
                assert!(
                    stderr.contains(&format!("{name}: {side}: null — ")),
                    "{name} {side}: {stderr}"
                );
            }
        }
    }
}

#[test]
fn the_table_has_a_line_per_scenario_and_names_the_api() {
    let out = pila(&["bench", "--tiny", "--only", "bulk-1500", "--only", "rr"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let header = stdout.lines().find(|l| l.starts_with("scenario ")).expect(&stdout);
    let header: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        header,
        ["scenario", "unit", "pila", "smoltcp", "linux", "÷smoltcp", "÷linux", "better"]
    );
    for (name, better) in [("bulk-1500", "higher"), ("rr", "lower")] {
        let row = stdout.lines().find(|l| l.starts_with(&format!("{name} "))).expect(&stdout);
        assert!(row.ends_with(better), "{row}");
    }
    assert!(stdout.contains("pila (pila::net on a VirtualWire): "), "{stdout}");
    assert!(
        stdout.contains("pila sans-io core (pila::stack::Stack pair, one thread): "),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_are_one_line_and_status_2() {
    for args in [
        &["bench", "--only", "windows"][..],
        &["bench", "--quick", "many"],
        &["bench", "--size", "4"],
        &["bench", "--only"],
    ] {
        let out = pila(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("pila: ") && stderr.contains(" — "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Whether this process runs as root (the TAP scenarios need it).
fn root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            .is_some_and(|uid| uid == "0")
    })
}

#[test]
fn the_tap_scenarios_take_every_figure_over_both_families() {
    if !root() && !linux_required() {
        eprintln!("skipped: the TAP scenarios need root and network namespaces");
        return;
    }
    let mut args = vec!["bench", "--tiny", "--json"];
    for name in ["tap-tx", "tap-tx-v6", "tap-rx", "tap-rx-v6"] {
        args.extend(["--only", name]);
    }
    let out = pila(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let rows: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["scenario"].as_str()).collect();
    assert_eq!(names, ["tap-tx", "tap-tx-v6", "tap-rx", "tap-rx-v6"], "{stdout}");
    for row in &rows {
        // pila against the kernel over the TAP, with and without its offloads, and the
        // kernel against itself over veth, with and without.
        for key in ["pila", "pila_offloads_on", "linux", "linux_offloads_on"] {
            let v = row[key].as_f64();
            assert!(v.is_some_and(|v| v.is_finite() && v > 0.0), "{key} in {row}\n{stderr}");
        }
        assert!(row["smoltcp"].is_null(), "{row}");
    }
    for (v6, v4) in [(&rows[1], &rows[0]), (&rows[3], &rows[2])] {
        let per = v6["pila_per_ipv4"].as_f64().expect("a ratio to IPv4");
        let ratio = v6["pila"].as_f64().unwrap() / v4["pila"].as_f64().unwrap();
        assert!((per - ratio).abs() <= 1e-9 * ratio, "{v6}");
    }
}

#[test]
fn the_proxy_scenario_runs_iperf3_through_pila_and_through_the_kernel() {
    if !root() && !linux_required() {
        eprintln!("skipped: the proxy scenario needs root and network namespaces");
        return;
    }
    let out = pila(&["bench", "--tiny", "--json", "--only", "proxy"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let row: serde_json::Value = serde_json::from_str(stdout.trim()).expect(&stdout);
    assert_eq!(row["scenario"], "proxy");
    // pila, with and without the TUN's offloads; the relays on netstack-smoltcp (the
    // smoltcp column) and ipstack; the kernel forwarding.
    for key in [
        "pila",
        "pila_streams_8",
        "pila_offloads_on",
        "smoltcp",
        "smoltcp_streams_8",
        "smoltcp_ipstack",
        "smoltcp_ipstack_streams_8",
        "linux",
        "linux_streams_8",
        // Each relay's memory per proxied idle connection.
        "pila_idle_bytes_per_connection",
        "smoltcp_idle_bytes_per_connection",
        "smoltcp_ipstack_idle_bytes_per_connection",
    ] {
        let v = row[key].as_f64();
        assert!(v.is_some_and(|v| v.is_finite() && v > 0.0), "{key} in {row}\n{stderr}");
    }
}
