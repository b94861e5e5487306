//! The table and the JSON lines `pila bench` prints.

use super::{Outcome, Row, Scenario, Side, Sizes};
use std::fmt::Write as _;

/// Which API pila's main figure of `scenario` went through.
pub(super) const fn pila_api(scenario: Scenario) -> &'static str {
    match scenario.base() {
        Scenario::TapTx | Scenario::TapRx => "pila::net on a TAP",
        Scenario::Proxy => "pila proxy --direct on a TUN, iperf3 through it",
        Scenario::Instructions => "pila::net on a VirtualWire, under callgrind",
        _ => "pila::net on a VirtualWire",
    }
}

/// What the smoltcp figure of `scenario` is.
const fn smoltcp_what(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::Proxy => {
            "a relay on netstack-smoltcp, the ipstack one beside it, each with the tun crate"
        }
        _ => "two interfaces, in-memory queues, one thread",
    }
}

/// What the Linux figure of `scenario` is.
const fn linux_what(scenario: Scenario) -> &'static str {
    match scenario.base() {
        Scenario::TapTx | Scenario::TapRx => "std::net, veth pair between two namespaces",
        Scenario::Proxy => "iperf3 through the kernel forwarding between the namespaces",
        Scenario::Idle => "kernel slab bytes per socket (/proc/slabinfo)",
        Scenario::Instructions => "not measured",
        Scenario::Bulk1500 | Scenario::Bulk64k => {
            "std::net over lo in its own namespace, TSO/GSO/GRO on as lo has them"
        }
        _ => "std::net over lo in its own namespace",
    }
}

pub(super) fn value(o: &Outcome) -> Option<f64> {
    match o {
        Outcome::Done(t) => Some(t.value),
        _ => None,
    }
}

fn sides(row: &Row) -> [(Side, &Outcome); 3] {
    [(Side::Pila, &row.pila), (Side::Smoltcp, &row.smoltcp), (Side::Linux, &row.linux)]
}

/// `pila ÷ other`, when both were taken.
fn ratio(pila: Option<f64>, other: Option<f64>) -> Option<f64> {
    match (pila, other) {
        (Some(p), Some(o)) if o > 0.0 => Some(p / o),
        _ => None,
    }
}

fn json_number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".to_owned(),
    }
}

/// One scenario as one JSON object on one line: `scenario`, `unit`, `pila`, `smoltcp`,
/// `linux` first, then the API, the ratios and every extra figure.
pub(super) fn json_line(row: &Row) -> String {
    let s = row.scenario;
    let pila = value(&row.pila);
    let mut j = format!(
        "{{\"scenario\":{},\"unit\":{},\"pila\":{},\"smoltcp\":{},\"linux\":{}",
        quote(s.name()),
        quote(s.unit()),
        json_number(pila),
        json_number(value(&row.smoltcp)),
        json_number(value(&row.linux)),
    );
    let _ = write!(j, ",\"pila_api\":{}", quote(pila_api(s)));
    if let Some(sans_io) = &row.sans_io {
        let _ = write!(j, ",\"pila_sans_io\":{}", json_number(value(sans_io)));
    }
    let _ = write!(
        j,
        ",\"pila_per_smoltcp\":{},\"pila_per_linux\":{},\"higher_is_better\":{}",
        json_number(ratio(pila, value(&row.smoltcp))),
        json_number(ratio(pila, value(&row.linux))),
        s.higher_is_better()
    );
    if s.ipv6() {
        let _ = write!(j, ",\"pila_per_ipv4\":{}", json_number(ratio(pila, row.ipv4)));
    }
    let mut extras: Vec<(String, &Outcome)> =
        sides(row).into_iter().map(|(side, o)| (side.name().to_owned(), o)).collect();
    if let Some(sans_io) = &row.sans_io {
        extras.insert(1, ("pila_sans_io".to_owned(), sans_io));
    }
    for (who, outcome) in extras {
        if let Outcome::Done(t) = outcome {
            for (key, figure) in &t.extras {
                let _ =
                    write!(j, ",\"{who}_{key}\":{}", json_number(figure.as_ref().ok().copied()));
            }
        }
    }
    j.push_str("}\n");
    j
}

/// Why each figure of `row` that is null is null, one line each.
pub(super) fn reasons(row: &Row) -> Vec<String> {
    let s = row.scenario.name();
    let mut all: Vec<(&str, &Outcome)> =
        sides(row).into_iter().map(|(side, o)| (side.name(), o)).collect();
    if let Some(sans_io) = &row.sans_io {
        all.push(("pila_sans_io", sans_io));
    }
    let mut lines = Vec::new();
    for (who, outcome) in all {
        match outcome {
            Outcome::Done(t) => {
                for (key, figure) in &t.extras {
                    if let Err(why) = figure {
                        lines.push(format!("{s}: {who}_{key}: null — {why}"));
                    }
                }
            }
            Outcome::Skipped(why) => lines.push(format!("{s}: {who}: null — skipped: {why}")),
            Outcome::Failed(why) => lines.push(format!("{s}: {who}: null — FAILED: {why}")),
        }
    }
    if let Some(twin) = row.scenario.ipv4_twin().filter(|_| row.ipv4.is_none()) {
        lines.push(format!(
            "{s}: pila_per_ipv4: null — no pila figure of {} in this run",
            twin.name()
        ));
    }
    lines
}

/// The figures of `row` that failed (not skipped), named.
pub(super) fn failures(row: &Row) -> Vec<String> {
    let mut all: Vec<(&str, &Outcome)> =
        sides(row).into_iter().map(|(side, o)| (side.name(), o)).collect();
    if let Some(sans_io) = &row.sans_io {
        all.push(("pila sans-io", sans_io));
    }
    all.into_iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(who, _)| format!("{} on {who} failed", row.scenario.name()))
        .collect()
}

/// A figure in a table cell: three significant digits or whole numbers.
fn cell(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The table of every scenario, then under each the API used, the extra figures and why a
/// figure is missing.
pub(super) fn table(rows: &[Row], sizes: &Sizes) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "pila bench: one run, each figure from its own process; ratios are pila ÷ the other"
    );
    let _ = writeln!(
        s,
        "(bulk {} MiB, tap {} MiB, rr {} round trips, crr {} connections, idle {} connections, \
         instructions {} MiB)",
        sizes.bulk >> 20,
        sizes.tap >> 20,
        sizes.rr,
        sizes.crr,
        sizes.idle,
        sizes.instructions >> 20
    );
    let _ = writeln!(
        s,
        "{:<13} {:<22} {:>10} {:>10} {:>10} {:>8} {:>8}  better",
        "scenario", "unit", "pila", "smoltcp", "linux", "÷smoltcp", "÷linux"
    );
    for row in rows {
        let sc = row.scenario;
        let pila = value(&row.pila);
        let _ = writeln!(
            s,
            "{:<13} {:<22} {:>10} {:>10} {:>10} {:>8} {:>8}  {}",
            sc.name(),
            sc.unit(),
            cell(pila),
            cell(value(&row.smoltcp)),
            cell(value(&row.linux)),
            cell(ratio(pila, value(&row.smoltcp))),
            cell(ratio(pila, value(&row.linux))),
            if sc.higher_is_better() { "higher" } else { "lower" }
        );
    }
    let _ = writeln!(s);
    for row in rows {
        let sc = row.scenario;
        let _ = writeln!(s, "{}:", sc.name());
        let mut lines: Vec<(String, &Outcome)> =
            vec![(format!("pila ({})", pila_api(sc)), &row.pila)];
        if let Some(sans_io) = &row.sans_io {
            lines.push(("pila sans-io core (pila::stack::Stack pair, one thread)".into(), sans_io));
        }
        lines.push((format!("smoltcp ({})", smoltcp_what(sc)), &row.smoltcp));
        lines.push((format!("linux ({})", linux_what(sc)), &row.linux));
        for (who, outcome) in lines {
            let what = match outcome {
                Outcome::Done(t) => {
                    let mut text = cell(Some(t.value));
                    for (key, figure) in &t.extras {
                        match figure {
                            Ok(v) => {
                                let _ = write!(text, ", {key} {}", cell(Some(*v)));
                            }
                            Err(why) => {
                                let _ = write!(text, ", {key} - ({why})");
                            }
                        }
                    }
                    text
                }
                Outcome::Skipped(why) => format!("skipped — {why}"),
                Outcome::Failed(why) => format!("FAILED — {why}"),
            };
            let _ = writeln!(s, "  {who}: {what}");
        }
        if let Some(twin) = sc.ipv4_twin() {
            let per = ratio(value(&row.pila), row.ipv4);
            let _ =
                writeln!(s, "  pila over IPv6 ÷ pila over IPv4 ({}): {}", twin.name(), cell(per));
        }
    }
    s
}

/// A JSON string literal.
pub(super) fn quote(text: &str) -> String {
    let mut s = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", u32::from(c));
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::super::Taken;
    use super::*;

    fn row() -> Row {
        Row {
            scenario: Scenario::Bulk1500,
            pila: Outcome::Done(Taken::new(2.0).with("cpu_ns_per_byte", 1.5)),
            sans_io: Some(Outcome::Done(Taken::new(3.0))),
            smoltcp: Outcome::Done(Taken::new(4.0).without("peak_rss_mib", "none")),
            linux: Outcome::Skipped("not root".into()),
            ipv4: None,
        }
    }

    #[test]
    fn json_leads_with_the_five_keys() {
        let j = json_line(&row());
        assert!(
            j.starts_with(
                "{\"scenario\":\"bulk-1500\",\"unit\":\"Gbit/s\",\"pila\":2,\"smoltcp\":4,\
                 \"linux\":null,"
            ),
            "{j}"
        );
        assert!(j.contains("\"pila_sans_io\":3,"), "{j}");
        assert!(j.contains("\"pila_per_smoltcp\":0.5,\"pila_per_linux\":null"), "{j}");
        assert!(j.contains("\"pila_cpu_ns_per_byte\":1.5"), "{j}");
        assert!(j.contains("\"smoltcp_peak_rss_mib\":null"), "{j}");
        assert!(j.ends_with("}\n") && j.lines().count() == 1, "{j}");
        let r = reasons(&row());
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().any(|l| l == "bulk-1500: linux: null — skipped: not root"), "{r:?}");
    }

    #[test]
    fn the_table_has_a_line_per_scenario_with_ratios() {
        let t = table(&[row()], &Sizes::TINY);
        let line = t.lines().find(|l| l.starts_with("bulk-1500 ")).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells, ["bulk-1500", "Gbit/s", "2.00", "4.00", "-", "0.50", "-", "higher"]);
        assert!(
            t.contains("in its own namespace, TSO/GSO/GRO on as lo has them): skipped — not root"),
            "{t}"
        );
        assert!(failures(&row()).is_empty());
    }

    #[test]
    fn an_ipv6_row_is_compared_with_its_ipv4_twin() {
        let v6 = Row { scenario: Scenario::Bulk1500V6, ipv4: Some(2.5), ..row() };
        let j = json_line(&v6);
        assert!(j.starts_with("{\"scenario\":\"bulk-1500-v6\",\"unit\":\"Gbit/s\","), "{j}");
        assert!(j.contains("\"pila_per_ipv4\":0.8,"), "{j}");
        let t = table(&[row(), v6.clone()], &Sizes::TINY);
        assert!(t.contains("pila over IPv6 ÷ pila over IPv4 (bulk-1500): 0.80"), "{t}");
        assert!(!json_line(&row()).contains("pila_per_ipv4"));
        let alone = Row { ipv4: None, ..v6 };
        assert!(json_line(&alone).contains("\"pila_per_ipv4\":null"));
        let r = reasons(&alone);
        assert!(r.iter().any(|l| l.contains("pila_per_ipv4: null — no pila figure of bulk-1500")));
    }

    #[test]
    fn quotes_escape() {
        assert_eq!(quote("a \"b\"\n"), "\"a \\\"b\\\"\\u000a\"");
    }
}
