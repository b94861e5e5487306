//! The lab the `pila` binary's namespace tests share: a namespace with a TAP (or TUN) whose
//! kernel end is 192.0.2.1/24, `pila` on the other end at 192.0.2.2, a scratch directory, and
//! helpers to run the kernel's tools as the peer. Include it with `mod lab;`.

#![allow(dead_code)] // each test file uses a part of the lab

#[path = "../../../pila/tests/netns/mod.rs"]
mod netns;

pub(crate) use netns::Netns;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const KERNEL: &str = "192.0.2.1";
pub(crate) const KERNEL_CIDR: &str = "192.0.2.1/24";
pub(crate) const PILA: &str = "192.0.2.2";
pub(crate) const PILA_CIDR: &str = "192.0.2.2/24";
pub(crate) const DEV: &str = "pila0";
/// The kernel's and pila's IPv6 addresses, once [`Lab::with_ipv6`] gave them.
pub(crate) const KERNEL6: &str = "2001:db8::1";
pub(crate) const PILA6: &str = "2001:db8::2";
pub(crate) const PILA6_CIDR: &str = "2001:db8::2/64";
pub(crate) const IMPAIR: &str = "loss=2%,reorder=2%,dup=1%,seed=7";
pub(crate) const MIB: usize = 1024 * 1024;

/// Which kind of device the lab's pila runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Medium {
    Tap,
    Tun,
}

/// A namespace with the kernel on one end of a device and a scratch directory.
pub(crate) struct Lab {
    pub(crate) ns: Netns,
    pub(crate) medium: Medium,
    pub(crate) dir: PathBuf,
}

impl Lab {
    pub(crate) fn new(tag: &str, medium: Medium) -> Option<Self> {
        let ns = Netns::new(tag)?;
        match medium {
            Medium::Tap => ns.create_tap(DEV, KERNEL_CIDR),
            Medium::Tun => ns.create_tun(DEV, KERNEL_CIDR),
        }
        let dir = std::env::temp_dir().join(ns.name());
        std::fs::create_dir_all(&dir).unwrap();
        Some(Self { ns, medium, dir })
    }

    /// The lab with IPv6 on the kernel's end too, at [`KERNEL6`] (no duplicate address
    /// detection of its own, so usable at once); pila gets [`PILA6`] from `--ip
    /// PILA6_CIDR` among a command's arguments.
    pub(crate) fn with_ipv6(self) -> Self {
        self.ns.enable_ipv6(DEV);
        self.sh_ok(&format!("ip -6 addr add {KERNEL6}/64 dev {DEV} nodad"));
        self
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `pila SUBCOMMAND --tap pila0 --ip 192.0.2.2/24 ARGS...` inside the namespace.
    pub(crate) fn pila(&self, subcommand: &str, args: &[&str]) -> Command {
        let flag = if self.medium == Medium::Tap { "--tap" } else { "--tun" };
        let mut all = vec![env!("CARGO_BIN_EXE_pila"), subcommand, flag, DEV, "--ip", PILA_CIDR];
        all.extend_from_slice(args);
        self.ns.command(&all)
    }

    /// Starts `pila serve ARGS` and waits until it says it is ready.
    pub(crate) fn serve(&self, args: &[&str]) -> Server {
        let mut child = self
            .pila("serve", args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.starts_with("pila serve: ready") => Server { child },
            other => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "pila serve did not start: {other:?} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            }
        }
    }

    /// Runs a shell script inside the namespace.
    pub(crate) fn sh(&self, script: &str) -> Output {
        self.ns.exec(&["sh", "-c", script])
    }

    /// Runs a shell script inside the namespace and returns its stdout; panics on failure.
    pub(crate) fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "{script:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs python3 `script` with `args` inside the namespace; panics on failure.
    pub(crate) fn python(&self, script: &str, args: &[&str]) -> String {
        let mut all = vec!["python3", "-c", script];
        all.extend_from_slice(args);
        self.ns.run(&all)
    }

    /// A file of `len` pseudo-random bytes in the lab's directory, and its SHA-256.
    pub(crate) fn random_file(&self, name: &str, len: usize, seed: u64) -> (PathBuf, String) {
        let path = self.path(name);
        let mut state = seed | 1;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut chunk = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            for word in chunk.chunks_mut(8) {
                // xorshift64*: plenty random for a transfer test.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
            }
            let n = left.min(chunk.len());
            file.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        file.flush().unwrap();
        let sum = sha256(&path);
        (path, sum)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `pila serve`.
pub(crate) struct Server {
    pub(crate) child: Child,
}

impl Server {
    /// Sends SIGTERM and returns the exit status and stderr.
    pub(crate) fn stop(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                return (status, err);
            }
            assert!(Instant::now() < deadline, "pila serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
}

pub(crate) fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The event log's lines of `kind`.
pub(crate) fn events(path: &Path, kind: &str) -> Vec<String> {
    let needle = format!("\"event\":\"{kind}\"");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// The number after `"field":` in a JSON line.
pub(crate) fn field(line: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    let start = line.find(&key).unwrap() + key.len();
    line[start..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}
