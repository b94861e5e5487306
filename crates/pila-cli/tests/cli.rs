//! The `pila` binary as a user runs it.

use std::process::{Command, Output};

fn pila(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pila")).args(args).output().expect("run pila")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn demo_exchanges_and_decodes_every_step() {
    let out = pila(&["demo"]);
    assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    for expected in [
        "B got  ARP who-has 192.0.2.2 tell 192.0.2.1",
        "A got  ARP reply 192.0.2.2 is-at 02:00:00:00:00:0b",
        "A got  ICMP echo reply   id 0x0a0a seq 3, 56 bytes",
        "A got  UDP 192.0.2.2:7 > 192.0.2.1:40000 \"hello from A\"",
        "<mss 1460,sackOK,TS val 1 ecr 0,wscale 7>",
        "A got  TCP 192.0.2.2:80 > 192.0.2.1:40001 [R.] seq 0 ack",
        "all 6 steps answered",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn demo_survives_loss_for_many_seeds() {
    for seed in 0..20 {
        let out = pila(&["demo", "--loss", "10", "--seed", &seed.to_string()]);
        assert!(out.status.success(), "seed {seed}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout(&out).contains("all 6 steps answered"), "seed {seed}");
    }
}

#[test]
fn demo_is_reproducible_by_its_seed() {
    let a = pila(&["demo", "--loss", "30", "--seed", "7"]);
    let b = pila(&["demo", "--loss", "30", "--seed", "7"]);
    let c = pila(&["demo", "--loss", "30", "--seed", "8"]);
    assert_eq!(stdout(&a), stdout(&b));
    assert_ne!(stdout(&a), stdout(&c));
}

#[test]
fn bad_arguments_get_one_line_and_a_failure_status() {
    for args in [
        &["demo", "--loss", "120"][..],
        &["demo", "--loss", "ten"],
        &["demo", "--seed", "-1"],
        &["demo", "--bogus"],
        &["teleport"],
    ] {
        let out = pila(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?} printed:\n{err}");
        assert!(err.starts_with("pila: "), "{args:?} printed:\n{err}");
    }
}

#[test]
fn unwritable_capture_fails_with_a_reason() {
    let out = pila(&["demo", "--pcap", "/nonexistent-dir/x.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("pila: cannot create the capture /nonexistent-dir/x.pcap"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn demo_capture_opens_in_tshark() {
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        let required = std::env::var_os("CI").is_some()
            || std::env::var("PILA_REQUIRE_NETNS").is_ok_and(|v| v == "1");
        assert!(!required, "tshark is missing; install it (apt-get install tshark)");
        eprintln!("skipped: tshark is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pila-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("demo.pcap");
    let out = pila(&["demo", "--pcap", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success());
    let decoded = Command::new("tshark")
        .args(["-r", path.to_str().expect("utf-8 path"), "-T", "fields", "-e", "_ws.col.Protocol"])
        .output()
        .expect("run tshark");
    let _ = std::fs::remove_dir_all(&dir);
    let protocols = String::from_utf8_lossy(&decoded.stdout);
    let protocols: Vec<&str> = protocols.lines().collect();
    assert_eq!(
        protocols,
        [
            "ARP", "ARP", "ICMP", "ICMP", "ICMP", "ICMP", "ICMP", "ICMP", "ECHO", "ECHO", "TCP",
            "TCP"
        ]
    );
}
