//! `pila::tokio` with its driver as a task (`build_tokio`) on a TAP and a TUN, against the
//! Linux kernel in a namespace each test makes (see `netns`): the device's descriptor is
//! watched through tokio's `AsyncFd`, and no driver thread is started.

#![cfg(target_os = "linux")]

mod netns;

use netns::{Netns, unique_ifname};
use pila::device::{Tap, Tun, WaitDevice};
use pila::tokio::{Stack, TcpListener, TcpStream};
use pila::wire::Ipv4Addr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(60);

/// The threads of this process whose name says they drive a pila stack.
fn driver_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("pila driver"))
                .count()
        })
        .unwrap_or(0)
}

/// Runs an echo server on `stack` at `ours`:7 and has the kernel in `lab` send `len` bytes
/// through it; checks that they come back intact and that no driver thread was started.
fn kernel_echoes_through(
    lab: &Netns,
    runtime: &tokio::runtime::Runtime,
    stack: &Stack,
    ours: Ipv4Addr,
) {
    let listener = runtime.block_on(TcpListener::bind(stack, (ours, 7))).unwrap();
    let server = runtime.spawn(async move {
        let (mut stream, peer) = listener.accept().await?;
        let (mut rd, mut wr) = stream.split();
        let echoed = tokio::io::copy(&mut rd, &mut wr).await?;
        wr.shutdown().await?;
        Ok::<_, std::io::Error>((echoed, peer))
    });
    let total = 16 << 20;
    lab.kernel_echo(&ours.to_string(), 7, total);
    let (echoed, _peer) = runtime.block_on(server).unwrap().unwrap();
    assert_eq!(echoed, total as u64);
    assert_eq!(driver_threads(), 0, "build_tokio started a driver thread");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn tokio_driver_on_a_tap_echoes_for_the_kernel_and_pings_it() {
    let Some(lab) = Netns::new("tokio-tap") else { return };
    let name = unique_ifname("ttap");
    let tap = Tap::create(&name).expect("create a TAP");
    assert!(matches!(tap.readiness(), pila::device::Readiness::Fd(_)));
    lab.adopt(&name);
    lab.configure(&name, "192.0.2.1/24");
    let runtime = runtime();
    let _guard = runtime.enter();
    let stack = Stack::builder().device(tap).address("192.0.2.2/24").build_tokio().unwrap();
    let kernel = Ipv4Addr::new(192, 0, 2, 1);
    let rtt = runtime
        .block_on(pila::tokio::ping(&stack, kernel, Duration::from_secs(5)))
        .expect("the kernel answers a ping over the TAP");
    assert!(rtt < Duration::from_secs(1), "{rtt:?}");
    kernel_echoes_through(&lab, &runtime, &stack, Ipv4Addr::new(192, 0, 2, 2));
}

#[test]
fn tokio_driver_on_a_tun_connects_to_the_kernel() {
    let Some(lab) = Netns::new("tokio-tun") else { return };
    let name = unique_ifname("ttun");
    let tun = Tun::create(&name).expect("create a TUN");
    lab.adopt(&name);
    lab.configure(&name, "198.51.100.1/24");
    let runtime = runtime();
    let _guard = runtime.enter();
    let stack = Stack::builder().device(tun).address("198.51.100.2/24").build_tokio().unwrap();
    // The kernel listens and echoes one line; pila connects from its side.
    let mut server = lab.spawn(&[
        "python3",
        "-c",
        "import socket\ns = socket.create_server(('198.51.100.1', 8000))\nprint('ready', flush=True)\n\
         c, _ = s.accept()\nc.sendall(c.recv(100).upper())\nc.close()",
    ]);
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(server.stdout.as_mut().unwrap(), &mut ready).unwrap();
    let reply = runtime.block_on(async {
        tokio::time::timeout(LIMIT, async {
            let mut stream = TcpStream::connect(&stack, "198.51.100.1:8000").await?;
            stream.write_all(b"over the tun\n").await?;
            let mut reply = Vec::new();
            stream.read_to_end(&mut reply).await?;
            Ok::<_, std::io::Error>(reply)
        })
        .await
        .expect("the TUN exchange took too long")
    });
    assert_eq!(reply.unwrap(), b"OVER THE TUN\n");
    assert!(server.wait().unwrap().success());
    kernel_echoes_through(&lab, &runtime, &stack, Ipv4Addr::new(198, 51, 100, 2));
}
