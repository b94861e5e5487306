//! The `pila` binary as a user runs it.

use std::process::{Command, Output};

fn pila(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pila")).args(args).output().expect("run pila")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn demo_runs_every_step_and_prints_the_timeline() {
    let out = pila(&["demo"]);
    let text = stdout(&out);
    assert!(out.status.success(), "demo failed: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "A: ping 192.0.2.2: echo reply after",
        "A: ping 2001:db8::2: echo reply after",
        "A and B: IPv6 addresses through duplicate address detection",
        "A: sent 1048576 bytes and got 1048576 back",
        "A: sent 262144 bytes and got 262144 back",
        "B: echoed 1310720 bytes on two connections",
        "matches",
        "A: connect to 192.0.2.2:8080: connection refused",
        "B: event {\"at_us\":",
        "\"event\":\"refused\",\"local\":\"192.0.2.2:8080\"",
        "A > B  ARP who-has 192.0.2.2 tell 192.0.2.1",
        "B > A  ARP reply 192.0.2.2 is-at",
        "A > B  ICMP echo request",
        "B > A  ICMP echo reply",
        "ICMPv6 MLDv2 report",
        "A > B  ICMPv6 neighbor solicitation who-has 2001:db8::2",
        "B > A  ICMPv6 neighbor advertisement 2001:db8::2 is-at 02:00:c0:00:02:02",
        "A > B  ICMPv6 echo request",
        "B > A  ICMPv6 echo reply",
        "> [2001:db8::2]:7 [S] seq 0 win 65535 <mss 1440,",
        "> 192.0.2.2:7 [S] seq 0 win",
        "192.0.2.2:7 > 192.0.2.1:",
        "[S.] seq 0 ack 1",
        "more data and ACK segments",
        "> 192.0.2.2:8080 [S] seq 0",
        "192.0.2.2:8080 > 192.0.2.1:",
        "[R.] seq 0 ack 1",
        "B: serving http://[2001:db8::2]/ (hyper)",
        "A: GET http://[2001:db8::2]/ -> 200 OK (text/html; charset=utf-8, 157 bytes, title \"Hello from pila\")",
        "> [2001:db8::2]:80 [S] seq 0",
        "length 76 HTTP \"GET / HTTP/1.1\"",
        "HTTP \"HTTP/1.1 200 OK\"",
        "A and B: the echo and web connections are closed",
        "\"event\":\"closed\",\"local\":\"[2001:db8::2]:80\"",
        "\"event\":\"closed\",\"local\":\"192.0.2.2:7\"",
        "Host A counters:",
        "Host B counters:",
        "all steps worked",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains("[F.]") || text.contains("[FP.]"), "no FIN in:\n{text}");
}

#[test]
fn demo_survives_loss_for_many_seeds() {
    for seed in 0..12 {
        let out = pila(&["demo", "--loss", "10", "--seed", &seed.to_string()]);
        assert!(
            out.status.success(),
            "seed {seed}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            stdout(&out)
        );
        assert!(stdout(&out).contains("all steps worked"), "seed {seed}");
    }
}

#[test]
fn bad_arguments_get_one_line_and_a_failure_status() {
    for args in [
        &["demo", "--loss", "120"][..],
        &["demo", "--loss", "ten"],
        &["demo", "--seed", "-1"],
        &["demo", "--bogus"],
        &["teleport"],
        // A proxy needs exactly one way upstream, and prefixes and servers that parse.
        &["proxy", "--tun", "pt0", "--ip", "192.0.2.1/24"],
        &["proxy", "--tun", "pt0", "--ip", "192.0.2.1/24", "--direct", "--socks5", "h:1"],
        &["proxy", "--tun", "pt0", "--ip", "192.0.2.1/24", "--direct", "--intercept", "x/8"],
        &["proxy", "--tun", "pt0", "--ip", "192.0.2.1/24", "--socks5", "nowhere"],
        &["proxy", "--tun", "pt0", "--ip", "192.0.2.1/24", "--direct", "--socks5-user", "u"],
    ] {
        let out = pila(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?} printed:\n{err}");
        assert!(err.starts_with("pila: "), "{args:?} printed:\n{err}");
        assert!(err.contains(" — "), "{args:?} printed no way to fix it:\n{err}");
    }
}

#[test]
fn unwritable_capture_fails_with_a_reason() {
    let out = pila(&["demo", "--pcap", "/nonexistent-dir/x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("pila: cannot create the capture /nonexistent-dir/x.pcap"), "{err}");
    assert!(err.contains(" — "), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn demo_capture_opens_in_tshark_one_conversation_per_family() {
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
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = |args: &[&str]| {
        let out = Command::new("tshark")
            .args(["-r", path.to_str().expect("utf-8 path")])
            .args(args)
            .output()
            .expect("run tshark");
        assert!(out.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let protocols = run(&["-T", "fields", "-e", "_ws.col.Protocol"]);
    let conversations = run(&["-q", "-z", "conv,ip"]);
    let conversations6 = run(&["-q", "-z", "conv,ipv6"]);
    let expert = run(&["-q", "-z", "expert,error"]);
    // The echo connection closes with FINs; the only reset is B refusing the closed port.
    let resets = run(&["-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "tcp.srcport"]);
    let _ = std::fs::remove_dir_all(&dir);
    let protocols: Vec<&str> = protocols.lines().collect();
    let count = |name: &str| protocols.iter().filter(|p| **p == name).count();
    assert_eq!(count("ARP"), 2, "{protocols:?}");
    assert_eq!(count("ICMP"), 6, "{protocols:?}");
    // Three echoes each way, and detection, resolution and MLD reports around them.
    assert!(count("ICMPv6") >= 6 + 4, "{protocols:?}");
    assert!(
        protocols.iter().all(|p| ["ARP", "ICMP", "ICMPv6", "TCP", "ECHO", "HTTP"].contains(p)),
        "{protocols:?}"
    );
    // The web step: one request, one response.
    assert_eq!(protocols.iter().filter(|p| **p == "HTTP").count(), 2, "{protocols:?}");
    // One IPv4 conversation: 192.0.2.1 <-> 192.0.2.2, and nothing malformed in it.
    let pairs: Vec<&str> = conversations.lines().filter(|l| l.contains("<->")).collect();
    assert_eq!(pairs.len(), 1, "{conversations}");
    assert!(pairs[0].contains("192.0.2.1") && pairs[0].contains("192.0.2.2"), "{conversations}");
    // Over IPv6, the global addresses' (pings, the second echo, the web), beside the
    // link-local and multicast ones of detection and MLD.
    let global = |l: &&str| l.contains("2001:db8::1") && l.contains("2001:db8::2");
    assert_eq!(conversations6.lines().filter(global).count(), 1, "{conversations6}");
    assert!(!expert.contains("Malformed"), "{expert}");
    assert_eq!(resets.lines().collect::<Vec<_>>(), ["8080"], "resets from ports: {resets}");
}
