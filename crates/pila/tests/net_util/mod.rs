//! Two `pila::net` stacks on one in-memory wire, shared by the `net_*` tests.

#![allow(dead_code)]

use pila::device::{VirtualWire, WaitDevice, WireConfig};
use pila::net::{Stack, TcpStream};
use pila::wire::Ipv4Addr;
use std::io::{Read, Write};
use std::time::Duration;

pub(crate) const IP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub(crate) const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// Host A (192.0.2.1) and host B (192.0.2.2) on a perfect Ethernet wire.
pub(crate) fn pair() -> (Stack, Stack) {
    pair_with(WireConfig::default(), |b| b)
}

/// Host A and host B on a wire built from `config`, each builder passed through `tune`.
pub(crate) fn pair_with(
    config: WireConfig,
    tune: impl Fn(pila::net::StackBuilder) -> pila::net::StackBuilder,
) -> (Stack, Stack) {
    let (a, b) = VirtualWire::pair(config);
    pair_on(a, b, tune)
}

/// Host A on device `a` and host B on device `b`, each builder passed through `tune`.
pub(crate) fn pair_on(
    a: impl WaitDevice + 'static,
    b: impl WaitDevice + 'static,
    tune: impl Fn(pila::net::StackBuilder) -> pila::net::StackBuilder,
) -> (Stack, Stack) {
    let a = tune(Stack::builder().device(a).address("192.0.2.1/24").seed(1)).build().unwrap();
    let b = tune(Stack::builder().device(b).address("192.0.2.2/24").seed(2)).build().unwrap();
    (a, b)
}

/// Writes `message` to `stream` from one thread while reading as much back on this one
/// (through `&TcpStream`), and returns what came back.
pub(crate) fn write_and_read_back(stream: &TcpStream, message: &[u8]) -> Vec<u8> {
    std::thread::scope(|s| {
        s.spawn(|| (&*stream).write_all(message).unwrap());
        let mut echoed = vec![0u8; message.len()];
        (&*stream).read_exact(&mut echoed).unwrap();
        echoed
    })
}

/// Runs `f` on a thread and fails the test if it takes longer than `limit` (a hang shows as
/// a failure, not a stuck test run).
pub(crate) fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => {
            thread.join().unwrap();
            value
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: show its panic.
            match thread.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the closure returned without sending"),
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("did not finish within {limit:?}")
        }
    }
}
