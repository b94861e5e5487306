//! HTTP over pila against real clients and servers in a namespace (see `lab`): curl, a
//! headless Chromium and wrk fetching from `pila serve --http`, and `pila get` fetching from
//! Python's web server.
//!
//! Needs root, /dev/net/tun and the tools (curl, chromium, wrk, python3); skips with one
//! line otherwise, and fails instead with `PILA_REQUIRE_NETNS=1`.

mod lab;

use lab::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A 40×30 orange PNG.
const PIXEL_PNG: [u8; 100] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x1e, 0x08, 0x02, 0x00, 0x00, 0x00, 0xd1, 0xbf, 0xcb,
    0x8a, 0x00, 0x00, 0x00, 0x2b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xcd, 0x31, 0x0d, 0x00,
    0x00, 0x08, 0x03, 0xb0, 0xc9, 0x41, 0x0e, 0xb2, 0x91, 0x85, 0x0c, 0x38, 0x9a, 0xf4, 0x6f, 0xa6,
    0xeb, 0x44, 0xc4, 0x62, 0xb1, 0x58, 0x2c, 0x16, 0x8b, 0xc5, 0x62, 0xb1, 0x58, 0xfc, 0x37, 0x5e,
    0x2f, 0x9e, 0xdc, 0x4c, 0x43, 0x6c, 0x6b, 0x3a, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

/// A page whose script, once the page (image included) has loaded, writes what it saw.
const INDEX_HTML: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pila test page</title>
<script src="app.js" defer></script></head>
<body><h1 id="status">waiting for the script</h1>
<img id="pixel" src="pixel.png" alt="an orange rectangle"></body></html>
"#;

const APP_JS: &str = r"window.addEventListener('load', () => {
  const img = document.getElementById('pixel');
  document.getElementById('status').textContent =
    'script ran; image ' + img.naturalWidth + 'x' + img.naturalHeight;
});
";

/// Whether `tool` can run here; when it cannot, the test is skipped with a line saying so,
/// or fails under `PILA_REQUIRE_NETNS=1` (CI installs every tool).
fn have(tool: &str) -> bool {
    // Found and started is enough: not every tool has a `--version` that exits with 0.
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        !std::env::var("PILA_REQUIRE_NETNS").is_ok_and(|v| v == "1"),
        "{tool} is missing; .ci/run installs it (PILA_REQUIRE_NETNS=1)"
    );
    eprintln!("skipping: {tool} is not installed");
    false
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory `root` under the lab's with a 100 MiB file, a small one, a subdirectory, the
/// test page, and two ways out of the root: a secret beside it and a link to it.
fn site(lab: &Lab) -> (PathBuf, String) {
    let root = lab.path("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let (big, sum) = lab.random_file("big.bin", 100 * MIB, 3);
    std::fs::rename(&big, root.join("big.bin")).unwrap();
    std::fs::write(root.join("small.txt"), "0123456789abcdef".repeat(4096)).unwrap();
    std::fs::write(root.join("sub/inner.txt"), "inside\n").unwrap();
    std::fs::write(lab.path("secret"), "the secret outside the root\n").unwrap();
    std::os::unix::fs::symlink(lab.path("secret"), root.join("escape")).unwrap();
    (root, sum)
}

/// `curl -s` inside the lab with `args`; its stdout.
fn curl(lab: &Lab, args: &[&str]) -> String {
    let mut all = vec!["curl", "-s", "--max-time", "60"];
    all.extend_from_slice(args);
    text(&lab.ns.exec(&all))
}

/// The status code curl gets for `path` on pila's server, asked for exactly as written.
fn status_of(lab: &Lab, path: &str) -> String {
    let url = format!("http://{PILA}{path}");
    curl(lab, &["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", &url])
}

#[test]
fn curl_gets_files_listings_ranges_and_is_refused_what_is_outside() {
    let Some(lab) = Lab::new("webcurl", Medium::Tap) else { return };
    if !have("curl") {
        return;
    }
    let (root, big_sum) = site(&lab);
    let server = lab.serve(&["--http", "80", "--root", p(&root)]);
    let url = |path: &str| format!("http://{PILA}{path}");

    // 100 MiB, whole.
    let out = lab.path("big.out");
    curl(&lab, &["-o", p(&out), &url("/big.bin")]);
    assert_eq!(sha256(&out), big_sum, "the 100 MiB file differs from the one served");

    // HEAD: the length, no body.
    let head = curl(&lab, &["-I", &url("/big.bin")]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok"), "{head}");
    assert!(head.contains("content-length: 104857600"), "{head}");
    assert!(head.contains("accept-ranges: bytes"), "{head}");

    // A range.
    let part = curl(&lab, &["-r", "1000-1099", "-w", " %{http_code}", &url("/small.txt")]);
    let small = std::fs::read_to_string(root.join("small.txt")).unwrap();
    assert_eq!(part, format!("{} 206", &small[1000..1100]));

    // Listings: the root, and a directory reached without its slash (redirected).
    let listing = curl(&lab, &[&url("/")]);
    for name in ["big.bin", "small.txt", "sub/"] {
        assert!(listing.contains(&format!("href=\"./{name}\"")), "{name} not listed:\n{listing}");
    }
    let inner = curl(&lab, &["-L", &url("/sub")]);
    assert!(inner.contains("href=\"./inner.txt\""), "{inner}");

    // Missing, and every way out of the root.
    assert_eq!(status_of(&lab, "/missing.txt"), "404");
    for path in [
        "/../secret",
        "/sub/../../secret",
        "/%2e%2e/secret",
        "/sub/%2E%2E/%2e%2e/secret",
        "/..%2fsecret",
        "/escape",
    ] {
        let code = status_of(&lab, path);
        assert!(code == "403" || code == "404", "{path} answered {code}");
        let body = curl(&lab, &["--path-as-is", &url(path)]);
        assert!(!body.contains("the secret"), "{path} leaked the secret");
    }

    // Keep-alive: the second request rides the first one's connection.
    let connects = curl(
        &lab,
        &[
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{num_connects} ",
            &url("/small.txt"),
            &url("/sub/inner.txt"),
        ],
    );
    assert_eq!(connects.trim(), "1 0", "curl opened a new connection for the second request");

    // 100 curls at once, each with its own connection.
    let script = format!(
        "cd {dir} && for i in $(seq 100); do curl -s --max-time 60 -o many.$i {u} & done; wait; \
         sha256sum many.* | cut -d' ' -f1 | sort | uniq -c",
        dir = p(&lab.dir),
        u = url("/small.txt"),
    );
    let sums = lab.sh_ok(&script);
    let small_sum = sha256(&root.join("small.txt"));
    assert_eq!(sums.trim(), format!("100 {small_sum}"), "not every one of 100 curls got the file");

    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}

/// The kernel-side client: opens `mode` connections and prints how long each stayed open.
const IDLE_CLIENT: &str = r#"
import socket, sys, time
host, mode = sys.argv[1], sys.argv[2]
s = socket.create_connection((host, 80), timeout=30)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
start = time.time()
if mode == "partial":
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")
elif mode == "stalled":
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(6)
got = 0
while chunk := s.recv(65536):
    got += len(chunk)
print(round(time.time() - start, 1), got)
"#;

#[test]
fn idle_slow_and_stalled_clients_are_cut_off() {
    let Some(lab) = Lab::new("webidle", Medium::Tap) else { return };
    let (root, _) = site(&lab);
    let server = lab.serve(&["--http", "80", "--root", p(&root), "--http-idle", "2"]);
    for mode in ["silent", "partial", "stalled"] {
        let out = lab.python(IDLE_CLIENT, &[PILA, mode]);
        let mut fields = out.split_whitespace();
        let open: f64 = fields.next().unwrap().parse().unwrap();
        let got: usize = fields.next().unwrap().parse().unwrap();
        match mode {
            // Closed by the server after about two seconds of nothing.
            "silent" | "partial" => assert!((1.5..6.0).contains(&open), "{mode}: open {open} s"),
            // The response stalled once the buffers filled; it never finished.
            _ => assert!(got < 100 * MIB, "{mode}: the whole file came ({got} bytes)"),
        }
    }
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}

#[test]
fn chromium_loads_a_page_its_script_and_its_image() {
    let Some(lab) = Lab::new("webchrome", Medium::Tap) else { return };
    if !have("chromium") {
        return;
    }
    let root = lab.path("site");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), INDEX_HTML).unwrap();
    std::fs::write(root.join("app.js"), APP_JS).unwrap();
    std::fs::write(root.join("pixel.png"), PIXEL_PNG).unwrap();
    let log = lab.path("events.json");
    let server = lab.serve(&["--http", "80", "--root", p(&root), "--events", p(&log)]);
    let chromium = |profile: &str, what: &[&str]| {
        let profile = lab.path(profile);
        let mut args = vec![
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ];
        let dir = format!("--user-data-dir={}", p(&profile));
        args.push(&dir);
        args.extend_from_slice(what);
        let url = format!("http://{PILA}/");
        args.push(&url);
        let out = lab.ns.exec(&args);
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        text(&out)
    };
    let dom = chromium("profile-dom", &["--dump-dom"]);
    assert!(
        dom.contains("<h1 id=\"status\">script ran; image 40x30</h1>"),
        "the script did not run, or the image did not load:\n{dom}"
    );
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chromium-pila-page.png");
    let _ = std::fs::remove_file(&shot);
    let flag = format!("--screenshot={}", p(&shot));
    chromium("profile-shot", &["--window-size=640,360", &flag]);
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 1000,
        "not a screenshot: {} bytes",
        png.len()
    );
    eprintln!("chromium's screenshot of the page served by pila: {}", shot.display());
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
    // Three files over at least one connection, every connection closed cleanly.
    let established = events(&log, "established").len();
    assert!(established >= 1, "no connection came");
    assert!(events(&log, "reset").is_empty(), "a connection was reset");
}

/// Starts Python's web server on the kernel's side, serving `dir` on port 8000.
fn python_server(lab: &Lab, dir: &Path) -> std::process::Child {
    let child = lab.ns.spawn(&[
        "python3",
        "-m",
        "http.server",
        "8000",
        "--bind",
        KERNEL,
        "--directory",
        p(dir),
    ]);
    let ready = lab.ns.wait_until(
        &["python3", "-c", &format!("import socket; socket.create_connection(('{KERNEL}', 8000))")],
        Duration::from_secs(10),
    );
    assert!(ready, "python3 -m http.server did not start");
    child
}

#[test]
fn pila_get_fetches_from_linux_web_server_plain_and_impaired() {
    let Some(lab) = Lab::new("webget", Medium::Tap) else { return };
    let dir = lab.path("served");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let (file, sum) = lab.random_file("file.bin", 32 * MIB, 9);
    std::fs::rename(&file, dir.join("file.bin")).unwrap();
    std::fs::write(dir.join("sub/inner.txt"), "inside\n").unwrap();
    let mut python = python_server(&lab, &dir);
    let url = |path: &str| format!("http://{KERNEL}:8000{path}");
    for (tag, impair) in [("plain", None), ("impaired", Some("loss=2%,reorder=1%,seed=5"))] {
        let out = lab.path(&format!("got-{tag}"));
        let mut args = vec!["-o", p(&out)];
        if let Some(spec) = impair {
            args.extend(["--impair", spec]);
        }
        let fetch = url("/file.bin");
        args.push(&fetch);
        let started = Instant::now();
        let result = lab.pila("get", &args).output().unwrap();
        assert!(result.status.success(), "{tag}: {}", String::from_utf8_lossy(&result.stderr));
        assert_eq!(sha256(&out), sum, "{tag}: what pila got differs from what was served");
        eprintln!("pila get, {tag}: 32 MiB in {:.2} s", started.elapsed().as_secs_f64());
    }
    // A directory without its slash: Python redirects, pila follows.
    let listing = lab.pila("get", &[&url("/sub")]).output().unwrap();
    assert!(listing.status.success(), "{}", String::from_utf8_lossy(&listing.stderr));
    assert!(text(&listing).contains("inner.txt"), "{}", text(&listing));
    // A status other than 2xx is an error naming it, and leaves no file behind.
    let missing = lab.path("missing.out");
    let failed = lab.pila("get", &["-o", p(&missing), &url("/missing")]).output().unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.starts_with("pila: ") && err.contains("404 Not Found"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!missing.exists(), "a failed fetch left {} behind", missing.display());
    let _ = python.kill();
    let _ = python.wait();
}

/// `curl -6` against `pila serve --http` on its IPv6 address, plain and through an impaired
/// link: a 100 MiB file intact, a listing, and the same server over IPv4 beside it.
#[test]
fn curl_over_ipv6_gets_files_plain_and_impaired() {
    let Some(lab) = Lab::new("webcurl6", Medium::Tap) else { return };
    if !have("curl") {
        return;
    }
    let lab = lab.with_ipv6();
    let (root, big_sum) = site(&lab);
    for (tag, impair) in [("plain", None), ("impaired", Some("loss=2%,reorder=1%,seed=3"))] {
        let mut args = vec!["--ip", PILA6_CIDR, "--http", "80", "--root", p(&root)];
        if let Some(spec) = impair {
            args.extend(["--impair", spec]);
        }
        let server = lab.serve(&args);
        let out = lab.path(&format!("big6-{tag}"));
        let url = |path: &str| format!("http://[{PILA6}]{path}");
        let started = Instant::now();
        curl(&lab, &["-6", "-g", "-o", p(&out), &url("/big.bin")]);
        assert_eq!(sha256(&out), big_sum, "{tag}: curl -6 got other bytes");
        eprintln!("curl -6, {tag}: 100 MiB in {:.2} s", started.elapsed().as_secs_f64());
        let listing = curl(&lab, &["-6", "-g", &url("/")]);
        assert!(listing.contains("small.txt"), "{tag}: {listing}");
        let four = curl(
            &lab,
            &["-4", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{PILA}/")],
        );
        assert_eq!(four, "200", "{tag}: the dual-stack server over IPv4");
        let (status, err) = server.stop();
        assert!(status.success(), "{tag}: serve exited with {status}: {err}");
    }
}

#[test]
fn wrk_load_gets_no_socket_errors() {
    let Some(lab) = Lab::new("webwrk", Medium::Tap) else { return };
    if !have("wrk") {
        return;
    }
    let root = lab.path("site");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), INDEX_HTML.repeat(16)).unwrap();
    let server = lab.serve(&["--http", "80", "--root", p(&root)]);
    let url = format!("http://{PILA}/index.html");
    let out = lab.ns.run(&["wrk", "-t2", "-c64", "-d10s", "--latency", &url]);
    assert!(out.contains("Requests/sec:"), "{out}");
    assert!(!out.contains("Socket errors"), "wrk saw socket errors:\n{out}");
    assert!(!out.contains("Non-2xx"), "wrk saw failed requests:\n{out}");
    eprintln!("wrk against pila serve --http:\n{out}");
    let (status, err) = server.stop();
    assert!(status.success(), "serve exited with {status}: {err}");
}
