//! The blocking UDP API: two stacks on a `VirtualWire`, real threads.

mod net_util;

use net_util::{IP_A, IP_B, pair, within};
use pila::net::UdpSocket;
use std::io::ErrorKind;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn addr(ip: pila::wire::Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

#[test]
fn udp_echo() {
    within(LIMIT, || {
        let (a, b) = pair();
        let server = UdpSocket::bind(&b, addr(IP_B, 7)).unwrap();
        let echo = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = UdpSocket::bind(&a, "192.0.2.1:0").unwrap();
        let local = client.local_addr().unwrap();
        assert_eq!(local.ip(), IP_A);
        assert_ne!(local.port(), 0, "an ephemeral port was chosen");
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        client.send_to(b"hello", addr(IP_B, 7)).unwrap();
        let mut buf = [0u8; 4096];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], addr(IP_B, 7)));
        client.connect(addr(IP_B, 7)).unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr(IP_B, 7));
        client.send(b"again").unwrap();
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"again");
        echo.join().unwrap();
        assert_eq!(a.counters().udp_out_datagrams, 2);
        assert_eq!(b.counters().udp_in_datagrams, 2);
    });
}

#[test]
fn connected_socket_learns_port_unreachable_as_refused() {
    within(LIMIT, || {
        let (a, b) = pair();
        let socket = UdpSocket::bind(&a, addr(IP_A, 5000)).unwrap();
        socket.connect(addr(IP_B, 9999)).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        socket.send(b"anyone?").unwrap();
        let err = socket.recv(&mut [0u8; 64]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert_eq!(b.counters().udp_no_ports, 1);
        assert_eq!(b.counters().icmp_out_dest_unreachs, 1);
        assert_eq!(a.counters().icmp_in_dest_unreachs, 1);
    });
}

#[test]
fn udp_read_timeout_and_nonblocking() {
    within(LIMIT, || {
        let (a, _b) = pair();
        let socket = UdpSocket::bind(&a, addr(IP_A, 5001)).unwrap();
        socket.set_nonblocking(true).unwrap();
        assert_eq!(socket.recv_from(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
        socket.set_nonblocking(false).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let start = std::time::Instant::now();
        assert_eq!(socket.recv_from(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(socket.send(b"x").unwrap_err().kind(), ErrorKind::NotConnected);
        let err = UdpSocket::bind(&a, addr(IP_A, 5001)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    });
}
