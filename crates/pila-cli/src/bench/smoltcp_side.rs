//! smoltcp's figures: both ends smoltcp (two interfaces in one thread on in-memory queues,
//! see `smoltcp_dev`), CUBIC congestion control, software checksums, 4 MiB socket buffers
//! for bulk as pila's `tcp::Config` has by default.

use super::measure::{BLOCK, STALL, Taken, cpu_seconds, gbit_per_s, next_chunk, round_trips};
use super::smoltcp_dev::{Wire, addr, addr6};
use super::{Scenario, Why};
use smoltcp::socket::tcp;

const PORT: u16 = 9;
const BULK_BUFFER: usize = 4 << 20;
/// Socket buffers of the request-response scenarios: far more than one byte needs.
const SMALL_BUFFER: usize = 16 << 10;

/// Takes smoltcp's figure of `scenario` (an IPv4 one; over IPv6 with `v6`).
pub(super) fn worker(scenario: Scenario, v6: bool, n: u64, mtu: usize) -> Result<Taken, Why> {
    Ok(match scenario {
        Scenario::Bulk1500 | Scenario::Bulk64k => bulk(n, mtu, v6)?,
        Scenario::Rr => rr(n)?,
        Scenario::Crr => crr(n)?,
        s => return Err(Why::Skip(format!("no smoltcp figure of {} here", s.name()))),
    })
}

/// A socket with `buffer` bytes each way, CUBIC and no Nagle delay where asked.
pub(crate) fn socket(buffer: usize, nodelay: bool) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer]),
        tcp::SocketBuffer::new(vec![0; buffer]),
    );
    s.set_congestion_control(tcp::CongestionControl::Cubic);
    s.set_nagle_enabled(!nodelay);
    s
}

fn bulk(bytes: u64, mtu: usize, v6: bool) -> Result<Taken, String> {
    let mut w = Wire::new(mtu, v6);
    let cpu0 = cpu_seconds();
    let start = std::time::Instant::now();
    let mut server = socket(BULK_BUFFER, false);
    server.listen(PORT).map_err(|e| format!("smoltcp listen: {e}"))?;
    let rx = w.sockets_b.add(server);
    let mut client = socket(BULK_BUFFER, false);
    client
        .connect(w.a.context(), (if v6 { addr6(2) } else { addr(2) }, PORT), 49152)
        .map_err(|e| format!("smoltcp connect: {e}"))?;
    let tx = w.sockets_a.add(client);
    let block = vec![0x5a_u8; BLOCK];
    let mut rbuf = vec![0_u8; 256 << 10];
    let (mut sent, mut received, mut closed) = (0_u64, 0_u64, false);
    let mut last_progress = std::time::Instant::now();
    loop {
        let mut moved = w.pump();
        let conn = w.sockets_a.get_mut::<tcp::Socket<'_>>(tx);
        while sent < bytes && conn.can_send() {
            match conn.send_slice(next_chunk(&block, sent, bytes)) {
                Ok(0) => break,
                Ok(n) => {
                    sent += n as u64;
                    moved = true;
                }
                Err(e) => return Err(format!("smoltcp send: {e}")),
            }
        }
        if sent == bytes && !closed {
            conn.close();
            closed = true;
        }
        let conn = w.sockets_b.get_mut::<tcp::Socket<'_>>(rx);
        loop {
            match conn.recv_slice(&mut rbuf) {
                Ok(0) => break,
                Ok(n) => {
                    received += n as u64;
                    moved = true;
                }
                Err(tcp::RecvError::Finished) => {
                    let secs = start.elapsed().as_secs_f64();
                    let taken = Taken::new(gbit_per_s(received, secs));
                    return Ok(taken.with_costs(cpu_seconds() - cpu0, received));
                }
                // Not yet connected.
                Err(tcp::RecvError::InvalidState) => break,
            }
        }
        if moved {
            last_progress = std::time::Instant::now();
        } else {
            if last_progress.elapsed() > STALL {
                return Err(format!("smoltcp stuck after {received} of {bytes} bytes"));
            }
            w.idle();
        }
    }
}

fn rr(rounds: u64) -> Result<Taken, String> {
    let mut w = Wire::new(1500, false);
    let mut server = socket(SMALL_BUFFER, true);
    server.listen(PORT).map_err(|e| format!("smoltcp listen: {e}"))?;
    let rx = w.sockets_b.add(server);
    let mut client = socket(SMALL_BUFFER, true);
    client
        .connect(w.a.context(), (addr(2), PORT), 49152)
        .map_err(|e| format!("smoltcp connect: {e}"))?;
    let tx = w.sockets_a.add(client);
    let t = std::time::Instant::now();
    while !w.sockets_a.get::<tcp::Socket<'_>>(tx).may_send() {
        w.pump();
        if t.elapsed() > STALL {
            return Err("smoltcp never connected".into());
        }
    }
    let mut times = Vec::with_capacity(usize::try_from(rounds).unwrap_or(0));
    let mut byte = [7_u8; 1];
    for i in 0..rounds {
        let t = std::time::Instant::now();
        w.sockets_a.get_mut::<tcp::Socket<'_>>(tx).send_slice(&byte).map_err(|e| e.to_string())?;
        let mut answered = false;
        loop {
            w.pump();
            let server = w.sockets_b.get_mut::<tcp::Socket<'_>>(rx);
            if !answered && server.recv_slice(&mut byte) == Ok(1) {
                server.send_slice(&byte).map_err(|e| e.to_string())?;
                answered = true;
                continue;
            }
            if w.sockets_a.get_mut::<tcp::Socket<'_>>(tx).recv_slice(&mut byte) == Ok(1) {
                break;
            }
            if t.elapsed() > STALL {
                return Err(format!("smoltcp round trip {i} never ended"));
            }
        }
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(round_trips(times))
}

/// Connection after connection. smoltcp has no listener: its one listening socket becomes
/// the connection, so the next connection starts when the server's socket is listening
/// again. The client, which closes first, drops its socket once in TIME-WAIT.
fn crr(conns: u64) -> Result<Taken, String> {
    let mut w = Wire::new(1500, false);
    let mut server = socket(SMALL_BUFFER, true);
    server.listen(PORT).map_err(|e| format!("smoltcp listen: {e}"))?;
    let rx = w.sockets_b.add(server);
    let start = std::time::Instant::now();
    let mut byte = [7_u8; 1];
    for i in 0..conns {
        let port = 1024 + u16::try_from(i % 64_000).unwrap_or(0);
        let mut client = socket(SMALL_BUFFER, true);
        client
            .connect(w.a.context(), (addr(2), PORT), port)
            .map_err(|e| format!("smoltcp connect {i}: {e}"))?;
        let tx = w.sockets_a.add(client);
        let (mut asked, mut answered, mut got) = (false, false, false);
        let t = std::time::Instant::now();
        loop {
            w.pump();
            let c = w.sockets_a.get_mut::<tcp::Socket<'_>>(tx);
            if !asked && c.may_send() {
                c.send_slice(&byte).map_err(|e| e.to_string())?;
                asked = true;
            }
            if asked && !got && c.recv_slice(&mut byte) == Ok(1) {
                got = true;
                c.close();
            }
            let client_done = got && matches!(c.state(), tcp::State::TimeWait | tcp::State::Closed);
            let s = w.sockets_b.get_mut::<tcp::Socket<'_>>(rx);
            if !answered && s.recv_slice(&mut byte) == Ok(1) {
                s.send_slice(&byte).map_err(|e| e.to_string())?;
                answered = true;
            }
            if answered && s.state() == tcp::State::CloseWait {
                s.close();
            }
            if answered && s.state() == tcp::State::Closed {
                s.listen(PORT).map_err(|e| format!("smoltcp listen: {e}"))?;
            }
            if client_done && s.state() == tcp::State::Listen {
                break;
            }
            if t.elapsed() > STALL {
                return Err(format!("smoltcp connection {i} never ended"));
            }
        }
        w.sockets_a.remove(tx);
    }
    Ok(Taken::new(conns as f64 / start.elapsed().as_secs_f64()))
}
