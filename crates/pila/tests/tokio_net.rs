//! `pila::tokio` on two stacks joined by a `VirtualWire`: echo, many connections at once,
//! futures dropped half-way, UDP and ping, 1 GiB under loss and reordering. Each behaviour
//! runs on the current-thread and the multi-thread runtime, and, where the driver matters,
//! with the driver as a task (`build_tokio`) and as a thread (`build`).

use pila::device::{Impairments, VirtualWire, WireConfig};
use pila::time::Duration as PilaDuration;
use pila::tokio::{Stack, TcpListener, TcpStream, UdpSocket};
use pila::wire::Ipv4Addr;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::io::ErrorKind;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// However slow the machine, no test here needs longer; a hang fails instead of sticking.
const LIMIT: Duration = Duration::from_secs(120);

fn at(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// How a test's stacks run their drivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    /// A tokio task on the test's runtime (`build_tokio`).
    Task,
    /// A thread of its own (`build`).
    Thread,
}

/// Host A (192.0.2.1) and host B (192.0.2.2) on a wire built from `config`, each builder
/// passed through `tune`. Must be called inside the runtime for [`Driver::Task`].
fn hosts_with(
    config: WireConfig,
    driver: Driver,
    tune: impl Fn(pila::tokio::StackBuilder) -> pila::tokio::StackBuilder,
) -> (Stack, Stack) {
    let (a, b) = VirtualWire::pair(config);
    let build = |builder: pila::tokio::StackBuilder| match driver {
        Driver::Task => tune(builder).build_tokio().unwrap(),
        Driver::Thread => tune(builder).build().unwrap(),
    };
    let a = build(Stack::builder().device(a).address("192.0.2.1/24").seed(1));
    let b = build(Stack::builder().device(b).address("192.0.2.2/24").seed(2));
    (a, b)
}

fn hosts(driver: Driver) -> (Stack, Stack) {
    hosts_with(WireConfig::default(), driver, |b| b)
}

/// Runs `test` to completion on a current-thread runtime and then on a multi-thread one
/// with two workers, each time under [`LIMIT`].
fn on_both_runtimes<F: Future<Output = ()> + Send + 'static>(test: impl Fn() -> F) {
    for multi in [false, true] {
        let mut builder = if multi {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let runtime = builder.enable_all().build().unwrap();
        let flavor = if multi { "multi-thread" } else { "current-thread" };
        runtime.block_on(async {
            tokio::time::timeout(LIMIT, test())
                .await
                .unwrap_or_else(|_| panic!("did not finish within {LIMIT:?} ({flavor} runtime)"));
        });
    }
}

/// Accepts connections on `listener` forever, echoing each on its own task.
async fn echo_server(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let (mut rd, mut wr) = stream.split();
            let _ = tokio::io::copy(&mut rd, &mut wr).await;
            let _ = wr.shutdown().await;
        });
    }
}

#[test]
fn echo_on_every_runtime_and_driver() {
    for driver in [Driver::Task, Driver::Thread] {
        on_both_runtimes(move || async move {
            let (a, b) = hosts(driver);
            let listener = TcpListener::bind(&b, at(IP_B, 7)).await.unwrap();
            assert_eq!(listener.local_addr().unwrap(), at(IP_B, 7));
            tokio::spawn(echo_server(listener));
            let mut stream = TcpStream::connect(&a, at(IP_B, 7)).await.unwrap();
            assert_eq!(stream.peer_addr().unwrap(), at(IP_B, 7));
            assert_eq!(stream.local_addr().unwrap().ip(), IP_A);
            stream.set_nodelay(true).unwrap();
            assert!(stream.nodelay().unwrap());
            let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let (mut rd, mut wr) = stream.split();
            let (written, echoed) = tokio::join!(
                async {
                    wr.write_all(&data).await?;
                    wr.shutdown().await
                },
                async {
                    let mut back = Vec::new();
                    rd.read_to_end(&mut back).await.map(|_| back)
                }
            );
            written.unwrap();
            assert_eq!(echoed.unwrap(), data, "{driver:?} driver");
            let info = stream.tcp_info().unwrap();
            assert_eq!(info.bytes_acked, data.len() as u64, "{info:?}");
            // Both sides have closed: the connection ends once our FIN is acknowledged.
            stream.closed().await.unwrap();
        });
    }
}

#[test]
fn refused_and_unbindable_are_the_tokio_kinds() {
    on_both_runtimes(|| async {
        let (a, b) = hosts(Driver::Task);
        let err = TcpStream::connect(&a, at(IP_B, 9)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        let _held = TcpListener::bind(&b, at(IP_B, 80)).await.unwrap();
        let err = TcpListener::bind(&b, at(IP_B, 80)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let err = TcpListener::bind(&b, at(IP_A, 80)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrNotAvailable, "{err}");
    });
}

/// 10,000 connections open at once, each from its own task: connect, send its number,
/// read it back, close.
#[test]
fn ten_thousand_concurrent_connections_from_tasks() {
    const CONNECTIONS: u32 = 10_000;
    on_both_runtimes(|| async {
        let (a, b) = hosts(Driver::Task);
        let listener = TcpListener::bind_with_backlog(&b, at(IP_B, 7), 16_384).unwrap();
        let server = tokio::spawn(echo_server(listener));
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CONNECTIONS as usize));
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let (a, barrier) = (a.clone(), barrier.clone());
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(&a, at(IP_B, 7)).await?;
                    // Every connection is open before any sends.
                    barrier.wait().await;
                    stream.write_all(&i.to_be_bytes()).await?;
                    stream.shutdown().await?;
                    let mut back = Vec::new();
                    stream.read_to_end(&mut back).await?;
                    Ok::<_, std::io::Error>(back == i.to_be_bytes())
                })
            })
            .collect();
        let mut echoed = 0;
        for client in clients {
            if client.await.unwrap().unwrap() {
                echoed += 1;
            }
        }
        assert_eq!(echoed, CONNECTIONS);
        assert_eq!(b.counters().tcp_passive_opens, u64::from(CONNECTIONS));
        server.abort();
    });
}

/// `accept` under a `timeout` far shorter than the connections take to come: every
/// connection is accepted by some later call, none is lost with a dropped future.
#[test]
fn accept_dropped_by_timeout_loses_no_connection() {
    on_both_runtimes(|| async {
        const CONNECTIONS: usize = 50;
        let (a, b) = hosts(Driver::Task);
        let listener = TcpListener::bind(&b, at(IP_B, 7)).await.unwrap();
        let clients = tokio::spawn(async move {
            let mut streams = Vec::new();
            for _ in 0..CONNECTIONS {
                streams.push(TcpStream::connect(&a, at(IP_B, 7)).await.unwrap());
                tokio::time::sleep(Duration::from_micros(300)).await;
            }
            streams
        });
        let (mut accepted, mut timeouts) = (0, 0);
        while accepted < CONNECTIONS {
            match tokio::time::timeout(Duration::from_micros(100), listener.accept()).await {
                Ok(result) => {
                    result.unwrap();
                    accepted += 1;
                }
                Err(_) => timeouts += 1,
            }
        }
        assert!(timeouts > 0, "no accept was ever cancelled: the test proved nothing");
        let streams = clients.await.unwrap();
        assert_eq!(streams.len(), CONNECTIONS);
    });
}

/// Reads raced in `select!` against a fast ticker, writes cut short by `timeout` while a
/// slow reader keeps the small buffers full: the bytes arrive whole and in order.
#[test]
fn reads_and_writes_dropped_mid_way_lose_no_byte() {
    on_both_runtimes(|| async {
        const TOTAL: usize = 4 << 20;
        let small = |b: pila::tokio::StackBuilder| b.send_buffer(64 * 1024).recv_buffer(64 * 1024);
        let (a, b) = hosts_with(WireConfig::default(), Driver::Task, small);
        let listener = TcpListener::bind(&b, at(IP_B, 7)).await.unwrap();
        let reader = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut tick = tokio::time::interval(Duration::from_micros(50));
            let (mut hash, mut got, mut cancelled) = (Sha256::new(), 0, 0u64);
            let mut buf = vec![0u8; 4096];
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read.unwrap() {
                        0 => break,
                        n => {
                            hash.update(&buf[..n]);
                            got += n;
                            // Now and then a pause, so that the writer finds no room.
                            if got % (512 * 1024) < n {
                                tokio::time::sleep(Duration::from_millis(3)).await;
                            }
                        }
                    },
                    _ = tick.tick() => cancelled += 1,
                }
            }
            (got, hash.finalize(), cancelled)
        });
        let mut data = vec![0u8; TOTAL];
        pila::rand::Rng::new(7).fill(&mut data);
        let mut stream = TcpStream::connect(&a, at(IP_B, 7)).await.unwrap();
        let (mut sent, mut cut) = (0, 0u64);
        while sent < TOTAL {
            let end = (sent + 256 * 1024).min(TOTAL);
            match tokio::time::timeout(Duration::from_micros(500), stream.write(&data[sent..end]))
                .await
            {
                Ok(written) => sent += written.unwrap(),
                Err(_) => cut += 1,
            }
        }
        stream.shutdown().await.unwrap();
        let (got, hash, cancelled) = reader.await.unwrap();
        assert_eq!(got, TOTAL);
        assert_eq!(hash, Sha256::digest(&data), "what arrived differs from what was sent");
        assert!(cancelled > 0 && cut > 0, "no read ({cancelled}) or write ({cut}) was cut");
    });
}

/// A connect dropped before the handshake completes leaves nothing behind: its SYN-ACK is
/// answered with a RST, and the listener never sees a connection.
#[test]
fn a_dropped_connect_leaves_nothing_behind() {
    on_both_runtimes(|| async {
        let slow = Impairments::NONE.with_delay(PilaDuration::from_millis(50), PilaDuration::ZERO);
        let (a, b) = hosts_with(WireConfig::default().with_impairments(slow), Driver::Task, |b| b);
        let listener = TcpListener::bind(&b, at(IP_B, 7)).await.unwrap();
        let connect = TcpStream::connect(&a, at(IP_B, 7));
        assert!(tokio::time::timeout(Duration::from_millis(20), connect).await.is_err());
        // The SYN reaches B (50 ms), B's SYN-ACK comes back (100 ms), A resets it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(b.counters().tcp_passive_opens, 1, "the SYN never reached B");
        assert!(a.counters().tcp_out_rsts >= 1, "A did not reset the abandoned handshake");
        assert_eq!(b.counters().tcp_curr_estab, 0);
        assert!(tokio::time::timeout(Duration::from_millis(200), listener.accept()).await.is_err());
        // The listener still works.
        let _stream = TcpStream::connect(&a, at(IP_B, 7)).await.unwrap();
        listener.accept().await.unwrap();
    });
}

/// Counts its wake-ups.
#[derive(Default)]
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A reader parked on a connection wakes when data comes, not for the ACKs and window
/// updates of the data its own connection sends.
#[test]
fn a_parked_reader_wakes_for_data_not_for_acks() {
    use std::sync::atomic::Ordering::SeqCst;
    use tokio::io::{AsyncRead, ReadBuf};
    on_both_runtimes(|| async {
        let (a, b) = hosts(Driver::Task);
        let listener = TcpListener::bind(&b, at(IP_B, 7)).await.unwrap();
        let mut client = TcpStream::connect(&a, at(IP_B, 7)).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let wakes = std::sync::Arc::new(CountingWaker::default());
        let waker = std::task::Waker::from(std::sync::Arc::clone(&wakes));
        // One read, polled by hand with the counting waker.
        let poll = |client: &mut TcpStream| {
            let mut cx = std::task::Context::from_waker(&waker);
            let mut buf = [0u8; 16];
            let mut read = ReadBuf::new(&mut buf);
            match std::pin::Pin::new(client).poll_read(&mut cx, &mut read) {
                std::task::Poll::Ready(done) => done.map(|()| Some(read.filled().to_vec())),
                std::task::Poll::Pending => Ok(None),
            }
        };
        assert_eq!(poll(&mut client).unwrap(), None);
        // 1 MiB out and read by the server: ACKs and window updates come back.
        let data = vec![7u8; 1 << 20];
        client.write_all(&data).await.unwrap();
        let mut got = vec![0u8; data.len()];
        server.read_exact(&mut got).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(client.tcp_info().unwrap().segments_received > 10);
        assert_eq!(wakes.0.load(SeqCst), 0, "ACKs woke a reader with nothing to read");
        server.write_all(b"x").await.unwrap();
        let start = std::time::Instant::now();
        while wakes.0.load(SeqCst) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10), "data did not wake the reader");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(poll(&mut client).unwrap(), Some(b"x".to_vec()));
    });
}

#[test]
fn into_split_halves_move_to_tasks_and_reunite() {
    on_both_runtimes(|| async {
        let (a, b) = hosts(Driver::Task);
        let listener = TcpListener::bind(&b, at(IP_B, 7)).await.unwrap();
        tokio::spawn(echo_server(listener));
        let stream = TcpStream::connect(&a, at(IP_B, 7)).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            wr.write_all(b"ping").await.unwrap();
            wr
        });
        let mut buf = [0u8; 4];
        rd.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        let wr = writer.await.unwrap();
        let mut stream = rd.reunite(wr).unwrap();
        // Reunited, the stream writes on: the write half's drop sent no FIN.
        stream.write_all(b"pong").await.unwrap();
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        // Dropping an owned write half sends the FIN: the echo server closes in turn.
        let (mut rd, wr) = stream.into_split();
        drop(wr);
        let mut rest = Vec::new();
        rd.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

/// `readable` waits without a buffer and `try_read` never waits, on the stream and on
/// both kinds of reading half: the way a relay holds a buffer only while data flows.
#[test]
fn readable_waits_for_data_and_try_read_never_waits() {
    on_both_runtimes(|| async {
        let (a, b) = hosts(Driver::Task);
        let listener = TcpListener::bind(&b, at(IP_B, 7)).await.unwrap();
        let client = TcpStream::connect(&a, at(IP_B, 7)).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 16];
        // Nothing has come: no read, and a wait that does not end by itself.
        assert_eq!(client.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        let quiet = tokio::time::timeout(Duration::from_millis(50), client.readable()).await;
        assert!(quiet.is_err(), "readable with nothing to read");
        assert_eq!(client.try_read(&mut []).unwrap(), 0);
        // Data: readable, then exactly it, then nothing again.
        let wait = tokio::spawn(async move {
            client.readable().await.unwrap();
            client
        });
        server.write_all(b"hello").await.unwrap();
        let mut client = tokio::time::timeout(LIMIT, wait).await.unwrap().unwrap();
        assert_eq!(client.try_read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(client.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        // The same through a borrowed reading half.
        server.write_all(b"half").await.unwrap();
        {
            let (rd, _wr) = client.split();
            rd.readable().await.unwrap();
            assert_eq!(rd.try_read(&mut buf).unwrap(), 4);
            assert_eq!(&buf[..4], b"half");
        }
        // The end of the stream is readable too, and reads as 0, through an owned half.
        let (rd, _wr) = client.into_split();
        server.shutdown().await.unwrap();
        rd.readable().await.unwrap();
        assert_eq!(rd.try_read(&mut buf).unwrap(), 0);
    });
}

#[test]
fn udp_send_to_recv_from_and_connected() {
    on_both_runtimes(|| async {
        let (a, b) = hosts(Driver::Task);
        let server = UdpSocket::bind(&b, at(IP_B, 53)).await.unwrap();
        let client = UdpSocket::bind(&a, at(IP_A, 0)).await.unwrap();
        let client_addr = client.local_addr().unwrap();
        assert_ne!(client_addr.port(), 0);
        client.send_to(b"question", at(IP_B, 53)).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"question"[..], client_addr));
        server.send_to(b"answer", from).await.unwrap();
        let (n, from) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"answer"[..], at(IP_B, 53)));
        // Connected to a port nobody listens on: the ICMP error shows on the next call.
        client.connect(at(IP_B, 54)).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), at(IP_B, 54));
        client.send(b"anyone?").await.unwrap();
        let err = client.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        // A receive dropped by a timeout takes nothing: the next one gets the datagram.
        let quiet = UdpSocket::bind(&b, at(IP_B, 99)).await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(5), quiet.recv_from(&mut buf))
                .await
                .is_err()
        );
        client.send_to(b"late", at(IP_B, 99)).await.unwrap();
        let (n, _) = quiet.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"late");
    });
}

#[test]
fn ping_measures_a_round_trip_and_times_out() {
    on_both_runtimes(|| async {
        let (a, _b) = hosts(Driver::Task);
        let rtt = pila::tokio::ping(&a, IP_B, Duration::from_secs(5)).await.unwrap();
        assert!(rtt < Duration::from_secs(1), "{rtt:?}");
        let nobody = Ipv4Addr::new(192, 0, 2, 9);
        let err = pila::tokio::ping(&a, nobody, Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    });
}

/// 1 GiB, writer and reader on their own tasks, over a wire that loses and reorders 0.5 %
/// of the frames each way; both ends hash what they saw.
#[test]
fn one_gibibyte_arrives_intact_under_loss_and_reordering() {
    const TOTAL: usize = 1 << 30;
    const CHUNK: usize = 1 << 20;
    on_both_runtimes(|| async {
        let lossy = Impairments { loss: 0.005, reorder: 0.005, seed: 11, ..Impairments::NONE };
        let tcp = pila::tcp::Config {
            // A wire with no delay: retransmit as soon as the RTT allows.
            rto_min: PilaDuration::from_millis(20),
            rto_initial: PilaDuration::from_millis(100),
            ..pila::tcp::Config::default()
        };
        let config = WireConfig::default().with_impairments(lossy);
        let (a, b) = hosts_with(config, Driver::Task, |b| b.tcp_config(tcp.clone()));
        let listener = TcpListener::bind(&b, at(IP_B, 5001)).await.unwrap();
        let reader = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (mut hash, mut total) = (Sha256::new(), 0usize);
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                total += n;
            }
            (total, hash.finalize())
        });
        let mut stream = TcpStream::connect(&a, at(IP_B, 5001)).await.unwrap();
        // One random mebibyte, stamped with its index so that order and duplication show.
        let mut block = vec![0u8; CHUNK];
        pila::rand::Rng::new(42).fill(&mut block);
        let mut hash = Sha256::new();
        for i in 0..TOTAL / CHUNK {
            block[..8].copy_from_slice(&(i as u64).to_le_bytes());
            stream.write_all(&block).await.unwrap();
            hash.update(&block);
        }
        stream.shutdown().await.unwrap();
        let retransmitted = stream.tcp_info().unwrap().retransmitted_segments;
        let (received, got) = reader.await.unwrap();
        assert_eq!(received, TOTAL);
        assert_eq!(got, hash.finalize(), "SHA-256 of what arrived differs from what was sent");
        assert!(retransmitted > 0, "nothing was lost: the impairments did not apply");
    });
}
