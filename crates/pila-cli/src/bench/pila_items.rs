//! pila's own work items: the Sans-IO core alone, and the blocking API on a `VirtualWire`.

use super::{BLOCK, Figures, STALL, cpu_seconds, next_chunk, peak_rss_kib, spawn_reader};
use pila::device::{VirtualWire, WireConfig};
use pila::stack::{Config, Stack};
use pila::tcp::{RecvError, SendError};
use pila::time::Instant;
use pila::wire::ethernet;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PORT: u16 = 9;

fn host(mac: u8, cidr: &str, seed: u64) -> Result<Stack, String> {
    let addresses = vec![cidr.parse().map_err(|_| format!("bad address {cidr}"))?];
    let config = Config {
        mac: ethernet::Address([2, 0, 0, 0, 0, mac]),
        addresses,
        seed: Some(seed),
        ..Config::default()
    };
    Stack::new(config).map_err(|e| format!("cannot build a stack: {e}"))
}

/// Two Sans-IO stacks in one thread: frames go from one `poll_transmit` straight into the
/// other's `receive`, on the real clock, with no wire and no delay between them.
pub(super) fn sans_io(bytes: u64) -> Result<Figures, String> {
    let epoch = std::time::Instant::now();
    let clock = || Instant::from_std(std::time::Instant::now(), epoch);
    let mut a = host(0x0a, "192.0.2.1/24", 1)?;
    let mut b = host(0x0b, "192.0.2.2/24", 2)?;
    let cpu0 = cpu_seconds();
    let start = std::time::Instant::now();
    let remote = SocketAddr::V4(SocketAddrV4::new(IP_B, PORT));
    let listener = b.tcp_listen(remote, 1).map_err(|e| format!("listen: {e:?}"))?;
    let tx = a.tcp_connect(clock(), remote, None).map_err(|e| format!("connect: {e:?}"))?;
    let mut rx = None;
    let block = vec![0x5a_u8; BLOCK];
    let mut rbuf = vec![0_u8; 256 << 10];
    let mut frame = vec![0_u8; 70_000];
    let (mut sent, mut received, mut closed) = (0_u64, 0_u64, false);
    let mut last_progress = std::time::Instant::now();
    loop {
        let now = clock();
        let mut moved = false;
        // The application: the sender fills its buffer, the receiver drains its own.
        if let Some(conn) = a.tcp_mut(tx) {
            while sent < bytes {
                match conn.send(next_chunk(&block, sent, bytes)) {
                    Ok(n) => {
                        sent += n as u64;
                        moved = true;
                    }
                    Err(SendError::WouldBlock) => break,
                    Err(e) => return Err(format!("sending: {e:?}")),
                }
            }
            if sent == bytes && !closed {
                conn.shutdown_write();
                closed = true;
            }
        }
        if rx.is_none() {
            rx = b.tcp_accept(listener).ok();
        }
        if let Some(conn) = rx.and_then(|h| b.tcp_mut(h)) {
            loop {
                match conn.recv(&mut rbuf) {
                    Ok(0) => {
                        let secs = start.elapsed().as_secs_f64();
                        return Ok(Figures {
                            bytes: received,
                            secs,
                            cpu_secs: cpu_seconds() - cpu0,
                            peak_rss_kib: peak_rss_kib(),
                        });
                    }
                    Ok(n) => {
                        received += n as u64;
                        moved = true;
                    }
                    Err(RecvError::WouldBlock) => break,
                    Err(e) => return Err(format!("receiving: {e:?}")),
                }
            }
        }
        // The wire: every frame one stack has goes straight to the other.
        a.handle_timeout(now);
        b.handle_timeout(now);
        while let Some(n) = a.poll_transmit(now, &mut frame) {
            b.receive(now, frame.get(..n).unwrap_or_default());
            moved = true;
        }
        while let Some(n) = b.poll_transmit(now, &mut frame) {
            a.receive(now, frame.get(..n).unwrap_or_default());
            moved = true;
        }
        for s in [&mut a, &mut b] {
            while s.poll_event().is_some() {}
            while s.poll_wake().is_some() {}
        }
        if moved {
            last_progress = std::time::Instant::now();
        } else {
            if last_progress.elapsed() > STALL {
                return Err(format!("stuck after {received} of {bytes} bytes"));
            }
            // Nothing to do until a timer (a delayed ACK, a retransmission) is due.
            let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min();
            if let Some(wait) = next.map(|t| t.saturating_duration_since(clock())) {
                std::thread::sleep(wait.to_std().min(std::time::Duration::from_millis(10)));
            }
        }
    }
}

/// Two `pila::net` stacks on a perfect `VirtualWire`: a writer thread, a reader thread, and
/// each stack's driver thread.
pub(super) fn pila_net(bytes: u64) -> Result<Figures, String> {
    let (wa, wb) = VirtualWire::pair(WireConfig::default());
    let start_stack = |dev, cidr: &str, seed| {
        pila::net::Stack::builder()
            .device(dev)
            .address(cidr)
            .seed(seed)
            .build()
            .map_err(|e| format!("cannot start a stack: {e}"))
    };
    let a = start_stack(wa, "192.0.2.1/24", 1)?;
    let b = start_stack(wb, "192.0.2.2/24", 2)?;
    let at = SocketAddr::V4(SocketAddrV4::new(IP_B, PORT));
    let listener = pila::net::TcpListener::bind(&b, at).map_err(|e| format!("bind: {e}"))?;
    let cpu0 = cpu_seconds();
    let start = std::time::Instant::now();
    let reader = spawn_reader(listener);
    let mut stream = pila::net::TcpStream::connect(&a, at).map_err(|e| format!("connect: {e}"))?;
    stream.set_write_timeout(Some(STALL)).map_err(|e| e.to_string())?;
    let block = vec![0x5a_u8; BLOCK];
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(BLOCK).min(BLOCK);
        stream.write_all(&block[..n]).map_err(|e| format!("sending: {e}"))?;
        left -= n as u64;
    }
    drop(stream);
    let (received, _) = reader
        .join()
        .map_err(|_| "the reader thread panicked".to_owned())?
        .map_err(|e| format!("receiving: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let cpu_secs = cpu_seconds() - cpu0;
    drop((a, b));
    Ok(Figures { bytes: received, secs, cpu_secs, peak_rss_kib: peak_rss_kib() })
}
