//! Who takes `pila::net`'s turns: an application call that queued work sends it itself when
//! the device can be shared, the driver thread keeps the timers it arms, and a device that
//! cannot be shared leaves everything to the driver.

mod net_util;

use net_util::{IP_B, pair_on, within, write_and_read_back};
use pila::device::{
    Capabilities, Device, DeviceWaker, FrameBatch, Sleeper, VirtualWire, WaitDevice, WireConfig,
};
use pila::net::{Stack, TcpListener, TcpStream};
use pila::time::Instant;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// What a [`Spy`] saw: the thread behind each transmission of a non-empty batch.
#[derive(Default)]
struct Seen {
    senders: Mutex<Vec<ThreadId>>,
    /// Drop every frame transmitted from now on (the peer hears nothing).
    deaf_peer: AtomicBool,
}

impl Seen {
    fn senders(&self) -> Vec<ThreadId> {
        self.senders.lock().unwrap().clone()
    }
}

/// A device that records which thread transmits, around a wire endpoint; `share` says
/// whether it hands out the endpoint's sleeper.
struct Spy<D> {
    inner: D,
    seen: Arc<Seen>,
    share: bool,
}

impl<D: Device> Device for Spy<D> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self, now: Instant, batch: &mut FrameBatch) -> io::Result<usize> {
        self.inner.receive(now, batch)
    }

    fn transmit(&mut self, now: Instant, batch: &FrameBatch) -> io::Result<usize> {
        if !batch.is_empty() {
            self.seen.senders.lock().unwrap().push(std::thread::current().id());
        }
        if self.seen.deaf_peer.load(Ordering::SeqCst) {
            return Ok(batch.len());
        }
        self.inner.transmit(now, batch)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }
}

impl<D: WaitDevice> WaitDevice for Spy<D> {
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.wait(deadline)
    }

    fn waker(&self) -> DeviceWaker {
        self.inner.waker()
    }

    fn sleeper(&self) -> Option<Sleeper> {
        if self.share { self.inner.sleeper() } else { None }
    }
}

/// Host A on a spied device (sharing it with callers or not) and host B, on one wire.
fn spied_pair(share: bool) -> (Stack, Stack, Arc<Seen>) {
    let (a, b) = VirtualWire::pair(WireConfig::default());
    let seen = Arc::new(Seen::default());
    let a = Spy { inner: a, seen: Arc::clone(&seen), share };
    let (a, b) = pair_on(a, b, |builder| builder);
    (a, b, seen)
}

fn at_b(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(IP_B, port))
}

/// An echo server on B's `port`, for one connection.
fn echo_once(b: &Stack, port: u16) -> std::thread::JoinHandle<()> {
    let listener = TcpListener::bind(b, at_b(port)).unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 256];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => stream.write_all(&buf[..n]).unwrap(),
            }
        }
    })
}

#[test]
fn a_write_is_sent_by_the_writing_thread_when_the_device_is_shared() {
    within(LIMIT, || {
        let (a, b, seen) = spied_pair(true);
        let server = echo_once(&b, 7);
        let mut client = TcpStream::connect(&a, at_b(7)).unwrap();
        client.set_nodelay(true).unwrap();
        let me = std::thread::current().id();
        let mut by_me = 0;
        for round in 0..50u8 {
            let before = seen.senders().len();
            client.write_all(&[round]).unwrap();
            // The segment left on this thread, before `write_all` returned — unless a turn
            // the driver was taking at that moment sent it first.
            if seen.senders()[before..].contains(&me) {
                by_me += 1;
            }
            let mut echoed = [0u8; 1];
            client.read_exact(&mut echoed).unwrap();
            assert_eq!(echoed, [round]);
        }
        assert!(by_me >= 45, "only {by_me} of 50 requests were transmitted by the writing thread");
        drop(client);
        server.join().unwrap();
    });
}

#[test]
fn a_device_without_a_sleeper_is_driven_by_the_driver_thread_alone() {
    within(LIMIT, || {
        let (a, b, seen) = spied_pair(false);
        let server = echo_once(&b, 7);
        let client = TcpStream::connect(&a, at_b(7)).unwrap();
        client.set_nodelay(true).unwrap();
        let message: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(write_and_read_back(&client, &message), message);
        drop(client);
        server.join().unwrap();
        let senders = seen.senders();
        assert!(!senders.is_empty());
        let driver = senders[0];
        assert!(
            senders.iter().all(|&t| t == driver),
            "every frame goes out on the driver thread when the device is not shared"
        );
        assert_ne!(driver, std::thread::current().id());
    });
}

#[test]
fn the_driver_retransmits_what_a_callers_turn_sent_into_silence() {
    within(LIMIT, || {
        let (a, b, seen) = spied_pair(true);
        let server = echo_once(&b, 7);
        let mut client = TcpStream::connect(&a, at_b(7)).unwrap();
        client.set_nodelay(true).unwrap();
        client.write_all(b"x").unwrap();
        let mut echoed = [0u8; 1];
        client.read_exact(&mut echoed).unwrap();
        // From now on the peer hears nothing: the request below is never acknowledged.
        seen.deaf_peer.store(true, Ordering::SeqCst);
        let me = std::thread::current().id();
        let before = seen.senders().len();
        client.write_all(b"y").unwrap();
        // This thread makes no call now: the retransmission timer its turn armed (almost
        // always; the driver may have sent the request in a turn of its own) is the driver's
        // to fire, on time (an RTO of about 200 ms here, never the minutes the driver would
        // otherwise sleep).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while client.tcp_info().unwrap().retransmitted_segments < 2 {
            assert!(std::time::Instant::now() < deadline, "no retransmission within 5 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let resent = seen.senders()[before..].iter().filter(|&&t| t != me).count();
        assert!(resent >= 2, "{resent} transmissions by the driver");
        seen.deaf_peer.store(false, Ordering::SeqCst);
        client.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"y");
        drop(client);
        server.join().unwrap();
    });
}
