//! pila's figures: through `pila::net` (blocking sockets, one driver thread per stack) on a
//! `VirtualWire`, and through the Sans-IO core (two `pila::stack::Stack`s in one thread,
//! frames handed from one to the other).

use super::measure::{
    BLOCK, STALL, Taken, cpu_seconds, crr, gbit_per_s, join, net_pair, next_chunk, round_trips, rr,
};
use super::sans_io_pair::Pair;
use super::{Scenario, Variant, Why};
use pila::tcp::{RecvError, SendError};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

const IP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const IP6_B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const PORT: u16 = 9;
const AT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(IP_B, PORT));
const AT6: SocketAddr = SocketAddr::V6(SocketAddrV6::new(IP6_B, PORT, 0, 0));

/// Takes pila's figure of `scenario` (an IPv4 one; over IPv6 with `v6`) through `variant`.
pub(super) fn worker(
    scenario: Scenario,
    variant: Variant,
    v6: bool,
    n: u64,
    mtu: usize,
    extras: bool,
) -> Result<Taken, Why> {
    Ok(match (scenario, variant) {
        (Scenario::Bulk1500 | Scenario::Bulk64k, Variant::Net) => {
            let (taken, _) = net_bulk(n, mtu, false, v6)?;
            if !extras {
                return Ok(taken);
            }
            // The same transfer with segmentation offload on the wire (an extra).
            match net_bulk(n, mtu, true, v6) {
                Ok((_, gbit)) => taken.with("offloads_on", gbit),
                Err(e) => taken.without("offloads_on", &e),
            }
        }
        (Scenario::Bulk1500 | Scenario::Bulk64k, Variant::SansIo) => sans_io_bulk(n, mtu, v6)?,
        (Scenario::Rr, Variant::Net) => net_rr(n)?,
        (Scenario::Rr, Variant::SansIo) => sans_io_rr(n)?,
        (Scenario::Crr, Variant::Net) => net_crr(n)?,
        (s, v) => {
            return Err(Why::Skip(format!("no {} figure through {v:?} here", s.name())));
        }
    })
}

/// Bulk through `pila::net`: a writer thread (this one), a reader thread, two drivers; the
/// figure and its Gbit/s.
fn net_bulk(bytes: u64, mtu: usize, offload: bool, v6: bool) -> Result<(Taken, f64), String> {
    let (a, b) = net_pair(mtu, offload, v6)?;
    let at = if v6 { AT6 } else { AT };
    let listener = pila::net::TcpListener::bind(&b, at).map_err(|e| format!("bind: {e}"))?;
    let cpu0 = cpu_seconds();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept()?;
        let start = std::time::Instant::now();
        stream.set_read_timeout(Some(STALL))?;
        let mut buf = vec![0_u8; 256 << 10];
        let mut total = 0_u64;
        loop {
            match stream.read(&mut buf)? {
                0 => return Ok((total, start.elapsed().as_secs_f64())),
                n => total += n as u64,
            }
        }
    });
    let mut stream = pila::net::TcpStream::connect(&a, at).map_err(|e| format!("connect: {e}"))?;
    stream.set_write_timeout(Some(STALL)).map_err(|e| e.to_string())?;
    let block = vec![0x5a_u8; BLOCK];
    let mut sent = 0;
    while sent < bytes {
        let chunk = next_chunk(&block, sent, bytes);
        stream.write_all(chunk).map_err(|e| format!("sending: {e}"))?;
        sent += chunk.len() as u64;
    }
    drop(stream);
    let (received, secs) = join(reader, "reader")?;
    let cpu = cpu_seconds() - cpu0;
    if received != bytes {
        return Err(format!("received {received} of {bytes} bytes"));
    }
    let gbit = gbit_per_s(received, secs);
    Ok((Taken::new(gbit).with_costs(cpu, received), gbit))
}

/// Round trips through `pila::net`: an echo thread answers each byte.
fn net_rr(rounds: u64) -> Result<Taken, String> {
    let (a, b) = net_pair(1500, false, false)?;
    let listener = pila::net::TcpListener::bind(&b, AT).map_err(|e| format!("bind: {e}"))?;
    rr(rounds, move || Ok(listener.accept()?.0), || pila::net::TcpStream::connect(&a, AT))
}

/// Connection after connection through `pila::net`: connect, one byte each way, close.
fn net_crr(conns: u64) -> Result<Taken, String> {
    let (a, b) = net_pair(1500, false, false)?;
    let listener = pila::net::TcpListener::bind(&b, AT).map_err(|e| format!("bind: {e}"))?;
    crr(conns, move || Ok(listener.accept()?.0), || pila::net::TcpStream::connect(&a, AT))
}

/// Bulk through the Sans-IO core, both ends in this thread.
fn sans_io_bulk(bytes: u64, mtu: usize, v6: bool) -> Result<Taken, String> {
    let mut p = Pair::new(mtu, v6)?;
    let at = if v6 { AT6 } else { AT };
    let cpu0 = cpu_seconds();
    let start = std::time::Instant::now();
    let listener = p.b.tcp_listen(at, 1).map_err(|e| format!("listen: {e:?}"))?;
    let tx = p.a.tcp_connect(p.now(), at, None).map_err(|e| format!("connect: {e:?}"))?;
    let mut rx = None;
    let block = vec![0x5a_u8; BLOCK];
    let mut rbuf = vec![0_u8; 256 << 10];
    let (mut sent, mut received, mut closed) = (0_u64, 0_u64, false);
    let mut last_progress = std::time::Instant::now();
    loop {
        let mut moved = false;
        if let Some(conn) = p.a.tcp_mut(tx) {
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
            rx = p.b.tcp_accept(listener).ok();
        }
        if let Some(conn) = rx.and_then(|h| p.b.tcp_mut(h)) {
            loop {
                match conn.recv(&mut rbuf) {
                    Ok(0) => {
                        let secs = start.elapsed().as_secs_f64();
                        let taken = Taken::new(gbit_per_s(received, secs));
                        return Ok(taken.with_costs(cpu_seconds() - cpu0, received));
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
        moved |= p.pump();
        if moved {
            last_progress = std::time::Instant::now();
        } else {
            if last_progress.elapsed() > STALL {
                return Err(format!("stuck after {received} of {bytes} bytes"));
            }
            // Nothing to do until a timer (a delayed ACK, a retransmission) is due.
            p.idle();
        }
    }
}

/// Round trips through the Sans-IO core, both ends in this thread, no sleeping.
fn sans_io_rr(rounds: u64) -> Result<Taken, String> {
    let mut p = Pair::new(1500, false)?;
    let listener = p.b.tcp_listen(AT, 1).map_err(|e| format!("listen: {e:?}"))?;
    let (tx, rx) = p.connect(listener, AT)?;
    for (s, h) in [(&mut p.a, tx), (&mut p.b, rx)] {
        s.tcp_mut(h).ok_or("the connection is gone")?.set_nodelay(true);
    }
    let mut times = Vec::with_capacity(usize::try_from(rounds).unwrap_or(0));
    let mut byte = [7_u8; 1];
    for i in 0..rounds {
        let t = std::time::Instant::now();
        p.a.tcp_mut(tx).ok_or("the client is gone")?.send(&byte).map_err(|e| format!("{e:?}"))?;
        // The server answers the byte as soon as it has it; the client waits for the answer.
        let mut answered = false;
        loop {
            p.pump();
            let server = p.b.tcp_mut(rx).ok_or("the server is gone")?;
            if !answered && server.recv(&mut byte) == Ok(1) {
                server.send(&byte).map_err(|e| format!("{e:?}"))?;
                answered = true;
                continue;
            }
            if p.a.tcp_mut(tx).ok_or("the client is gone")?.recv(&mut byte) == Ok(1) {
                break;
            }
            if t.elapsed() > STALL {
                return Err(format!("round trip {i} never ended"));
            }
        }
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(round_trips(times))
}
