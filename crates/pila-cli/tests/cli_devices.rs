//! `pila serve`, `connect`, `listen` and `ping`: their command lines and error lines, no
//! device needed (the runs against the kernel are in `interop.rs`).

use std::process::{Command, Output};

fn pila(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pila")).args(args).output().expect("run pila")
}

/// Asserts `args` fails with `code` and one stderr line `pila: ... — ...` containing `what`.
fn fails_with(args: &[&str], code: i32, what: &str) {
    let out = pila(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.starts_with("pila: ") && err.contains(" — "), "{args:?}: {err}");
    assert!(err.contains(what), "{args:?}: {what:?} missing from {err}");
    assert!(out.stdout.is_empty(), "{args:?} wrote to stdout");
}

#[test]
fn the_issues_command_lines_are_accepted() {
    for (subcommand, flags) in [
        (
            "serve",
            &[
                "--tap",
                "--tun",
                "--ip",
                "--gateway",
                "--mtu",
                "--pcap",
                "--impair",
                "--offload",
                "--events",
                "--echo",
                "--discard",
                "--chargen",
                "--udp-echo",
            ][..],
        ),
        ("connect", &["--tap", "--tun", "--ip", "--impair", "--offload", "<HOST:PORT>"][..]),
        ("listen", &["--tap", "--tun", "--ip", "--impair", "--offload", "<PORT>"][..]),
        ("ping", &["--tap", "--tun", "--ip", "-c", "<HOST>"][..]),
    ] {
        let out = pila(&[subcommand, "--help"]);
        assert!(out.status.success(), "{subcommand} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        for flag in flags {
            assert!(help.contains(flag), "{subcommand} --help lacks {flag}:\n{help}");
        }
    }
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let ip = ["--ip", "192.0.2.2/24"];
    fails_with(&["serve", "--tap", "a", "--tun", "b", ip[0], ip[1], "--echo", "7"], 2, "--tun");
    fails_with(&["serve", ip[0], ip[1], "--echo", "7"], 2, "--tap <NAME>|--tun <NAME>");
    fails_with(&["serve", "--tap", "a", ip[0], ip[1]], 2, "--echo <PORT>|--discard");
    fails_with(&["serve", "--tap", "a", "--ip", "192.0.2.2", "--echo", "7"], 2, "192.0.2.2/24");
    fails_with(&["serve", "--tap", "a", ip[0], ip[1], "--echo", "70000"], 2, "70000");
    fails_with(&["serve", "--tap", "a", ip[0], ip[1], "--mtu", "100", "--echo", "7"], 2, "100");
    fails_with(
        &["connect", "--tap", "a", ip[0], ip[1], "--impair", "loss=200%", "192.0.2.1:7"],
        2,
        "loss=200%",
    );
    fails_with(&["connect", "--tap", "a", ip[0], ip[1], "example.org:80"], 2, "example.org:80");
    fails_with(&["connect", "--tap", "a", ip[0], ip[1]], 2, "<HOST:PORT>");
    fails_with(&["listen", "--tun", "a", ip[0], ip[1], "port"], 2, "port");
    fails_with(&["ping", "--tap", "a", ip[0], ip[1], "-c", "0", "192.0.2.1"], 2, "0");
}

#[test]
fn a_device_that_cannot_be_opened_exits_1_saying_how_to_fix_it() {
    let ip = ["--ip", "192.0.2.2/24"];
    // The name is checked before anything is opened, so this fails the same with or
    // without privileges.
    fails_with(
        &["serve", "--tap", "a-name-far-too-long", ip[0], ip[1], "--echo", "7"],
        1,
        "invalid interface name",
    );
    fails_with(
        &["ping", "--tun", "bad/name", ip[0], ip[1], "192.0.2.1"],
        1,
        "invalid interface name",
    );
}
