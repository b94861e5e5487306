//! The blocking TCP API: two stacks on a `VirtualWire`, real threads, the real clock.

mod net_util;

use net_util::{IP_A, IP_B, pair, within, write_and_read_back};
use pila::net::{EventKind, TcpListener, TcpStream};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

fn addr(ip: pila::wire::Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

#[test]
fn connect_accept_and_echo() {
    within(LIMIT, || {
        let (a, b) = pair();
        let listener = TcpListener::bind(&b, addr(IP_B, 7)).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr(IP_B, 7));
        let server = std::thread::spawn(move || {
            let (mut stream, peer) = listener.accept().unwrap();
            assert_eq!(peer.ip(), IP_A);
            assert_eq!(stream.peer_addr().unwrap(), peer);
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                stream.write_all(&buf[..n]).unwrap();
            }
        });
        let mut client = TcpStream::connect(&a, "192.0.2.2:7").unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr(IP_B, 7));
        assert_eq!(client.local_addr().unwrap().ip(), IP_A);
        let local_port = client.local_addr().unwrap().port();
        assert!((49152..=65535).contains(&local_port), "ephemeral port {local_port}");
        let message: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        // Write from one thread while reading on this one, through `&TcpStream`.
        assert_eq!(write_and_read_back(&client, &message), message);
        let info = client.tcp_info().unwrap();
        assert_eq!(info.state, pila::tcp::State::Established);
        assert_eq!(info.bytes_received, message.len() as u64);
        client.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        server.join().unwrap();
        let counters = a.counters();
        assert_eq!(counters.tcp_active_opens, 1);
        assert_eq!(b.counters().tcp_passive_opens, 1);
    });
}

#[test]
fn refused_is_seen_on_both_ends() {
    within(LIMIT, || {
        let (a, b) = pair();
        let a_events = a.events();
        let b_events = b.events();
        let err = TcpStream::connect(&a, addr(IP_B, 81)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

        let refusal = b_events.next_timeout(Duration::from_secs(5)).expect("B's event");
        assert_eq!(refusal.kind, EventKind::Refused);
        assert_eq!(refusal.local, addr(IP_B, 81));
        assert_eq!(refusal.remote.ip(), IP_A);
        let refused = a_events.next_timeout(Duration::from_secs(5)).expect("A's event");
        assert_eq!(refused.kind, EventKind::Refused);
        assert_eq!(refused.local, refusal.remote);
        assert_eq!(refused.remote, refusal.local);
        assert!(refusal.to_string().contains("\"refused\""), "{refusal}");
        assert_eq!(b.counters().tcp_out_rsts, 1);
        assert_eq!(a.counters().tcp_attempt_fails, 1);
    });
}

/// An event stream nobody reads holds only its capacity; the rest is counted as missed, so
/// SYNs to closed ports cannot grow it without limit.
#[test]
fn an_unread_event_stream_stays_bounded() {
    within(LIMIT, || {
        let (a, b) = pair();
        let unread = b.events_with_capacity(16);
        let everything = b.events_with_capacity(1_000);
        for _ in 0..100 {
            let err = TcpStream::connect(&a, addr(IP_B, 81)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        }
        // B's refusal is in its stream once A's connect has failed; allow the driver a turn.
        std::thread::sleep(Duration::from_millis(50));
        let kept = everything.try_iter().count();
        assert_eq!(kept, 100, "a stream with room missed events");
        assert_eq!(everything.missed(), 0);
        assert_eq!(unread.try_iter().count(), 16);
        assert_eq!(unread.missed(), 84);
    });
}

#[test]
fn connect_timeout_gives_up_on_a_silent_host() {
    within(LIMIT, || {
        let (a, _b) = pair();
        // Nobody answers ARP for .9: the SYN never leaves.
        let start = Instant::now();
        let err = TcpStream::connect_timeout(
            &a,
            &addr(pila::wire::Ipv4Addr::new(192, 0, 2, 9), 7),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5), "{took:?}");
        let zero = TcpStream::connect_timeout(&a, &addr(IP_B, 7), Duration::ZERO).unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidInput);
    });
}

/// A connected pair of streams, client on A and server on B, and the stacks.
fn connected() -> (TcpStream, TcpStream, pila::net::Stack, pila::net::Stack) {
    connected_with(|builder| builder)
}

fn connected_with(
    tune: impl Fn(pila::net::StackBuilder) -> pila::net::StackBuilder,
) -> (TcpStream, TcpStream, pila::net::Stack, pila::net::Stack) {
    let (a, b) = net_util::pair_with(pila::device::WireConfig::default(), tune);
    let listener = TcpListener::bind(&b, addr(IP_B, 9)).unwrap();
    let client = TcpStream::connect(&a, addr(IP_B, 9)).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server, a, b)
}

#[test]
fn read_timeout_ends_a_read_that_gets_nothing() {
    within(LIMIT, || {
        let (client, _server, _a, _b) = connected();
        assert_eq!(
            client.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        client.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        assert_eq!(client.read_timeout().unwrap(), Some(Duration::from_millis(200)));
        let start = Instant::now();
        let err = (&client).read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(5), "{took:?}");
    });
}

#[test]
fn write_timeout_ends_a_write_into_full_buffers() {
    within(LIMIT, || {
        let (client, _server, _a, _b) =
            connected_with(|b| b.send_buffer(64 * 1024).recv_buffer(64 * 1024));
        client.set_write_timeout(Some(Duration::from_millis(200))).unwrap();
        let chunk = vec![0x5a; 16 * 1024];
        let mut written = 0usize;
        // The server never reads: its window and our send buffer fill, then a write waits
        // out its timeout.
        let err = loop {
            match (&client).write(&chunk) {
                Ok(n) => written += n,
                Err(e) => break e,
            }
            assert!(written < 16 << 20, "the buffers never filled");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(written >= 64 * 1024, "only {written} bytes went out before blocking");
    });
}

#[test]
fn nonblocking_calls_fail_with_would_block() {
    within(LIMIT, || {
        let (a, b) = pair();
        let listener = TcpListener::bind(&b, addr(IP_B, 10)).unwrap();
        listener.set_nonblocking(true).unwrap();
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        let mut client = TcpStream::connect(&a, addr(IP_B, 10)).unwrap();
        listener.set_nonblocking(false).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        assert_eq!(server.read(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
        client.write_all(b"ping").unwrap();
        // The data arrives without the server blocking for it.
        let mut buf = [0u8; 8];
        let n = loop {
            match server.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"ping");
        // A nonblocking writer eventually meets a full buffer.
        client.set_nonblocking(true).unwrap();
        let chunk = vec![1u8; 64 * 1024];
        let mut total = 0usize;
        let err = loop {
            match client.write(&chunk) {
                Ok(n) => total += n,
                Err(e) => break e,
            }
            assert!(total < 64 << 20, "the buffers never filled");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
    });
}

#[test]
fn shutdown_write_half_closes() {
    within(LIMIT, || {
        let (mut client, mut server, _a, _b) = connected();
        client.write_all(b"question").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"question");
        // The other direction still works after the half-close.
        server.write_all(b"answer").unwrap();
        drop(server);
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"answer");
        let err = client.write(b"more").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        // shutdown(Read): reads end at once.
        client.shutdown(Shutdown::Read).unwrap();
        assert_eq!(client.read(&mut [0u8; 4]).unwrap(), 0);
    });
}

#[test]
fn dropping_a_stream_with_unread_data_resets_the_peer() {
    within(LIMIT, || {
        let (mut client, server, a, b) = connected();
        client.write_all(b"never read").unwrap();
        // Wait until the data sits unread in the server's buffer.
        while server.tcp_info().unwrap().recv_queued == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(server);
        let err = client.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        assert_eq!(b.counters().tcp_out_rsts, 1);
        assert_eq!(a.counters().tcp_estab_resets, 1);
        let taken = client.take_error().unwrap().expect("the reset");
        assert_eq!(taken.kind(), ErrorKind::ConnectionReset);
        assert!(client.take_error().unwrap().is_none());
    });
}

#[test]
fn dropping_a_read_stream_closes_with_fin() {
    within(LIMIT, || {
        let (mut client, mut server, _a, _b) = connected();
        client.write_all(b"all of it").unwrap();
        let mut buf = [0u8; 9];
        server.read_exact(&mut buf).unwrap();
        drop(server);
        assert_eq!(client.read(&mut [0u8; 4]).unwrap(), 0, "a FIN, not a reset");
    });
}

#[test]
fn bind_errors_are_the_std_kinds() {
    within(LIMIT, || {
        let (_a, b) = pair();
        let _first = TcpListener::bind(&b, addr(IP_B, 11)).unwrap();
        let err = TcpListener::bind(&b, addr(IP_B, 11)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        let err = TcpListener::bind(&b, addr(IP_A, 11)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrNotAvailable);
    });
}

#[test]
fn dropping_the_stacks_stops_the_drivers() {
    within(LIMIT, || {
        let (a, b) = pair();
        let events = a.events();
        let listener = TcpListener::bind(&b, addr(IP_B, 12)).unwrap();
        let client = TcpStream::connect(&a, addr(IP_B, 12)).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop((client, server, listener));
        drop(a);
        drop(b);
        // The driver is gone: the event stream ends instead of waiting.
        let kinds: Vec<EventKind> = events.map(|e| e.kind).collect();
        assert_eq!(kinds.first(), Some(&EventKind::Established));
    });
}

#[test]
fn a_second_reader_is_woken_by_its_own_socket_only() -> io::Result<()> {
    within(LIMIT, || {
        let (a, b) = pair();
        let listener = TcpListener::bind(&b, addr(IP_B, 13))?;
        let c1 = TcpStream::connect(&a, addr(IP_B, 13))?;
        let (s1, _) = listener.accept()?;
        let c2 = TcpStream::connect(&a, addr(IP_B, 13))?;
        let (s2, _) = listener.accept()?;
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 3];
            (&s2).read_exact(&mut buf).map(|()| buf)
        });
        // Traffic on the other connection does not satisfy the reader of s2.
        (&c1).write_all(b"one")?;
        let mut buf = [0u8; 3];
        (&s1).read_exact(&mut buf)?;
        assert!(!reader.is_finished());
        (&c2).write_all(b"two")?;
        assert_eq!(&reader.join().unwrap()?, b"two");
        Ok(())
    })
}

/// How long a woken call may take to return: generous, only a hang fails it.
const WOKEN_WITHIN: Duration = Duration::from_secs(5);

/// Gives a thread just spawned time to block in its call (the test passes either way; it
/// only tests the wake-up when the call is already asleep).
fn let_it_block() {
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn shutdown_read_wakes_a_blocked_reader_with_eof() {
    within(LIMIT, || {
        let (client, server, _a, _b) = connected();
        std::thread::scope(|s| {
            let reader = s.spawn(|| (&server).read(&mut [0u8; 16]));
            let_it_block();
            let shut = Instant::now();
            server.shutdown(Shutdown::Read).unwrap();
            assert_eq!(reader.join().unwrap().unwrap(), 0, "end-of-file");
            assert!(shut.elapsed() < WOKEN_WITHIN, "{:?}", shut.elapsed());
        });
        // Only the reading half is shut: the server still writes.
        (&server).write_all(b"still here").unwrap();
        let mut buf = [0u8; 10];
        (&client).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"still here");
    });
}

#[test]
fn shutdown_write_wakes_a_writer_blocked_on_a_full_buffer() {
    within(LIMIT, || {
        let (client, server, _a, _b) =
            connected_with(|b| b.send_buffer(64 * 1024).recv_buffer(64 * 1024));
        let (written, err, shut) = std::thread::scope(|s| {
            // The server does not read yet: the buffers fill and the writer blocks.
            let writer = s.spawn(|| {
                let chunk = vec![0x5a; 16 * 1024];
                let mut written = 0usize;
                loop {
                    match (&client).write(&chunk) {
                        Ok(n) => written += n,
                        Err(e) => return (written, e),
                    }
                    assert!(written < 16 << 20, "the buffers never filled");
                }
            });
            while server.tcp_info().unwrap().recv_queued == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            let_it_block();
            let_it_block();
            let shut = Instant::now();
            client.shutdown(Shutdown::Write).unwrap();
            let (written, err) = writer.join().unwrap();
            (written, err, shut)
        });
        assert!(shut.elapsed() < WOKEN_WITHIN, "{:?}", shut.elapsed());
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        // What was written before the shutdown still arrives, then the FIN.
        let mut got = Vec::new();
        (&server).read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), written);
        assert!(got.iter().all(|&b| b == 0x5a));
    });
}

#[test]
fn listener_shutdown_wakes_a_blocked_accept_and_frees_the_port() {
    within(LIMIT, || {
        let (a, b) = pair();
        let listener = std::sync::Arc::new(TcpListener::bind(&b, addr(IP_B, 14)).unwrap());
        let accepter = {
            let listener = std::sync::Arc::clone(&listener);
            std::thread::spawn(move || listener.accept().map(|(_, peer)| peer))
        };
        let_it_block();
        let shut = Instant::now();
        listener.shutdown().unwrap();
        let err = accepter.join().unwrap().unwrap_err();
        assert!(shut.elapsed() < WOKEN_WITHIN, "{:?}", shut.elapsed());
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        // Every later accept fails the same way; a second shutdown is harmless.
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::InvalidInput);
        listener.shutdown().unwrap();
        // Nobody listens on the port any more, and it can be bound again.
        let refused = TcpStream::connect(&a, addr(IP_B, 14)).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
        let again = TcpListener::bind(&b, addr(IP_B, 14)).unwrap();
        drop(listener);
        let _client = TcpStream::connect(&a, addr(IP_B, 14)).unwrap();
        again.accept().unwrap();
    });
}

#[test]
fn listener_shutdown_resets_connections_not_yet_accepted() {
    within(LIMIT, || {
        let (a, b) = pair();
        let listener = TcpListener::bind(&b, addr(IP_B, 15)).unwrap();
        let client = TcpStream::connect(&a, addr(IP_B, 15)).unwrap();
        listener.shutdown().unwrap();
        let err = (&client).read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn wait_closed_returns_once_both_sides_have_closed() {
    within(LIMIT, || {
        let (client, server, _a, _b) = connected();
        let zero = client.wait_closed(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidInput);
        client.shutdown(Shutdown::Write).unwrap();
        // Our FIN is out, but the server has not closed: not over yet.
        let err = client.wait_closed(Some(Duration::from_millis(100))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| client.wait_closed(None));
            let_it_block();
            assert_eq!((&server).read(&mut [0u8; 4]).unwrap(), 0);
            server.shutdown(Shutdown::Write).unwrap();
            waiter.join().unwrap().unwrap();
        });
        // We closed first: TIME-WAIT. The server's LAST-ACK ends with our ACK.
        assert_eq!(client.tcp_info().unwrap().state, pila::tcp::State::TimeWait);
        server.wait_closed(Some(WOKEN_WITHIN)).unwrap();
        assert_eq!(server.tcp_info().unwrap().state, pila::tcp::State::Closed);
    });
}

#[test]
fn wait_closed_reports_a_reset() {
    within(LIMIT, || {
        let (mut client, server, _a, _b) = connected();
        client.write_all(b"never read").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        while server.tcp_info().unwrap().recv_queued == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::scope(|s| {
            let waiter = s.spawn(|| client.wait_closed(None));
            let_it_block();
            // Dropped with unread data: a reset, which ends the wait with its error.
            drop(server);
            let err = waiter.join().unwrap().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        });
    });
}
