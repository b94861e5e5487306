//! `idle`: established idle connections in one process, each having carried one byte both
//! ways, and the heap they hold, counted by the global allocator of `pila-bench-idle`: the
//! bytes allocated and not freed from just before the first connection to a moment after
//! the last went idle, over the connection ends (two per connection, both in this process).

use super::measure::{STALL, Taken, net_pair};
use super::sans_io_pair::Pair;
use stats_alloc::{Region, StatsAlloc};
use std::alloc::System;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// Listening ports: each takes at most 64,512 connections from one peer address.
const LISTENERS: u16 = 8;

fn to(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), port))
}

/// Bytes held since `region` began.
fn held(region: &Region<'_, System>) -> u64 {
    let c = region.change();
    c.bytes_allocated.saturating_sub(c.bytes_deallocated) as u64
}

fn result(bytes: u64, conns: usize) -> Taken {
    let ends = (2 * conns).max(1) as f64;
    Taken::new(bytes as f64 / ends)
        .with("per_connection_both_ends", bytes as f64 / conns.max(1) as f64)
}

/// Through `pila::net`: two stacks on a `VirtualWire`, each connection made with
/// `TcpStream::connect` and `TcpListener::accept`.
pub(crate) fn pila_net(alloc: &'static StatsAlloc<System>, conns: usize) -> Result<Taken, String> {
    let (a, b) = net_pair(1500, false, false)?;
    let listeners: Vec<pila::net::TcpListener> = (0..LISTENERS)
        .map(|k| pila::net::TcpListener::bind_with_backlog(&b, to(9000 + k), 1024))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bind: {e}"))?;
    let mut ends = Vec::with_capacity(2 * conns);
    let region = Region::new(alloc);
    for i in 0..conns {
        let k = i % usize::from(LISTENERS);
        let port = 9000 + u16::try_from(k).unwrap_or(0);
        let mut c = pila::net::TcpStream::connect(&a, to(port))
            .map_err(|e| format!("connection {i}: {e}"))?;
        let (mut s, _) = listeners[k].accept().map_err(|e| format!("accept {i}: {e}"))?;
        for end in [&c, &s] {
            end.set_read_timeout(Some(STALL)).map_err(|e| e.to_string())?;
            end.set_nodelay(true).map_err(|e| e.to_string())?;
        }
        let mut byte = [7_u8; 1];
        c.write_all(&byte).map_err(|e| format!("request {i}: {e}"))?;
        s.read_exact(&mut byte).map_err(|e| format!("request {i}: {e}"))?;
        s.write_all(&byte).map_err(|e| format!("response {i}: {e}"))?;
        c.read_exact(&mut byte).map_err(|e| format!("response {i}: {e}"))?;
        ends.push(c);
        ends.push(s);
    }
    // Delayed ACKs go out and buffers no longer needed are given back.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let bytes = held(&region);
    drop(ends);
    Ok(result(bytes, conns))
}

/// Through the Sans-IO core: two `pila::stack::Stack`s in this thread.
pub(crate) fn pila_sans_io(
    alloc: &'static StatsAlloc<System>,
    conns: usize,
) -> Result<Taken, String> {
    let mut p = Pair::new(1500, false)?;
    let listeners: Vec<_> = (0..LISTENERS)
        .map(|k| p.b.tcp_listen(to(9000 + k), 1024))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("listen: {e:?}"))?;
    let mut ends = Vec::with_capacity(conns);
    let region = Region::new(alloc);
    for i in 0..conns {
        let k = i % usize::from(LISTENERS);
        let port = 9000 + u16::try_from(k).unwrap_or(0);
        let (tx, rx) = p.connect(listeners[k], to(port))?;
        let mut byte = [7_u8; 1];
        p.a.tcp_mut(tx).ok_or("the client is gone")?.send(&byte).map_err(|e| format!("{e:?}"))?;
        let t = std::time::Instant::now();
        let (mut answered, mut done) = (false, false);
        while !done {
            p.pump();
            let s = p.b.tcp_mut(rx).ok_or("the server is gone")?;
            if !answered && s.recv(&mut byte) == Ok(1) {
                s.send(&byte).map_err(|e| format!("{e:?}"))?;
                answered = true;
            }
            done = p.a.tcp_mut(tx).ok_or("the client is gone")?.recv(&mut byte) == Ok(1);
            if t.elapsed() > STALL {
                return Err(format!("connection {i} never carried its bytes"));
            }
        }
        ends.push((tx, rx));
    }
    // Delayed ACKs go out (their timers run in the pump).
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_millis(500) {
        if !p.pump() {
            p.idle();
        }
    }
    let bytes = held(&region);
    Ok(result(bytes, conns))
}

/// Both ends smoltcp, on wires of at most 1,000 connections each (smoltcp walks every socket
/// of a set for every packet), with the smallest socket buffers the exchange works with.
#[cfg(feature = "bench-smoltcp")]
pub(crate) fn smoltcp(alloc: &'static StatsAlloc<System>, conns: usize) -> Result<Taken, String> {
    use super::smoltcp_dev::{Wire, addr};
    use smoltcp::iface::SocketSet;
    use smoltcp::socket::tcp;
    /// One byte each way: the smallest buffer smoltcp accepts that carries it.
    const BUFFER: usize = 1;
    const PER_WIRE: usize = 1000;
    let socket = || {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUFFER]),
            tcp::SocketBuffer::new(vec![0; BUFFER]),
        );
        s.set_congestion_control(tcp::CongestionControl::Cubic);
        s.set_nagle_enabled(false);
        s
    };
    let wires_needed = conns.div_ceil(PER_WIRE);
    let mut wires: Vec<Wire> = (0..wires_needed).map(|_| Wire::new(1500, false)).collect();
    let region = Region::new(alloc);
    for (w_index, w) in wires.iter_mut().enumerate() {
        let m = PER_WIRE.min(conns - w_index * PER_WIRE);
        w.sockets_a = SocketSet::new(Vec::with_capacity(m));
        w.sockets_b = SocketSet::new(Vec::with_capacity(m));
        let mut pairs = Vec::with_capacity(m);
        for i in 0..m {
            let mut server = socket();
            server.listen(9).map_err(|e| format!("smoltcp listen: {e}"))?;
            let rx = w.sockets_b.add(server);
            let mut client = socket();
            let port = 1024 + u16::try_from(i).unwrap_or(0);
            client
                .connect(w.a.context(), (addr(2), 9), port)
                .map_err(|e| format!("smoltcp connect: {e}"))?;
            pairs.push((w.sockets_a.add(client), rx));
        }
        let mut state = vec![0_u8; m];
        let t = std::time::Instant::now();
        while state.iter().any(|&s| s < 3) {
            w.pump();
            for (k, &(tx, rx)) in pairs.iter().enumerate() {
                let mut byte = [7_u8; 1];
                match state[k] {
                    0 => {
                        let c = w.sockets_a.get_mut::<tcp::Socket<'_>>(tx);
                        if c.may_send() && c.send_slice(&byte) == Ok(1) {
                            state[k] = 1;
                        }
                    }
                    1 => {
                        let s = w.sockets_b.get_mut::<tcp::Socket<'_>>(rx);
                        if s.recv_slice(&mut byte) == Ok(1) && s.send_slice(&byte) == Ok(1) {
                            state[k] = 2;
                        }
                    }
                    2 => {
                        let c = w.sockets_a.get_mut::<tcp::Socket<'_>>(tx);
                        if c.recv_slice(&mut byte) == Ok(1) {
                            state[k] = 3;
                        }
                    }
                    _ => {}
                }
            }
            if t.elapsed() > STALL {
                let done = state.iter().filter(|&&s| s == 3).count();
                return Err(format!("smoltcp: {done} of {m} connections carried their bytes"));
            }
        }
    }
    // Delayed ACKs go out.
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_millis(500) {
        for w in &mut wires {
            w.pump();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let bytes = held(&region);
    drop(wires);
    Ok(result(bytes, conns).with("socket_buffer_bytes", BUFFER as f64))
}
