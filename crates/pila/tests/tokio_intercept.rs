//! Transparent mode through `pila::tokio` and `pila::net`: host B, A's router on a
//! `VirtualWire`, intercepts 198.51.100.0/24 and 2001:db8:1::/64; A's connections and
//! datagrams to far addresses end in B's intercepting listener and socket, which see their
//! original destinations and answer from them.

use pila::device::{VirtualWire, WireConfig};
use pila::stack::IpCidr;
use pila::tokio::{Stack, TcpListener, TcpStream, UdpSocket};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(60);

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn prefixes() -> [IpCidr; 2] {
    ["198.51.100.0/24".parse().unwrap(), "2001:db8:1::/64".parse().unwrap()]
}

/// A (192.0.2.1, 2001:db8::1) routed through B (192.0.2.2, 2001:db8::2), both families
/// usable at once.
fn hosts() -> (Stack, Stack) {
    let (a, b) = VirtualWire::pair(WireConfig::default());
    let build = |dev, n: u8, gateway: bool| {
        let mut builder = Stack::builder()
            .device(dev)
            .address(format!("192.0.2.{n}/24"))
            .address(format!("2001:db8::{n}/64"))
            .seed(n.into());
        if gateway {
            builder = builder.gateway("192.0.2.2".parse().unwrap());
        }
        builder
            .configure(move |c| {
                let v6 = c.ipv6.as_mut().unwrap();
                v6.dad_transmits = 0;
                v6.router_solicitations = 0;
                if gateway {
                    v6.gateway = Some("2001:db8::2".parse().unwrap());
                }
            })
            .build_tokio()
            .unwrap()
    };
    (build(a, 1, true), build(b, 2, false))
}

#[tokio::test]
async fn an_intercepting_listener_and_socket_see_and_answer_from_the_original_destination() {
    tokio::time::timeout(LIMIT, async {
        let (a, b) = hosts();
        let listener = TcpListener::intercept(&b, &prefixes()).unwrap();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut stream, client) = listener.accept().await.unwrap();
                let dst = stream.local_addr().unwrap();
                let mut buf = [0; 5];
                stream.read_exact(&mut buf).await.unwrap();
                stream.write_all(dst.to_string().as_bytes()).await.unwrap();
                stream.shutdown().await.unwrap();
                seen.push((client.ip(), dst));
            }
            seen
        });
        for to in ["198.51.100.7:80", "[2001:db8:1::7]:443"] {
            let mut c = TcpStream::connect(&a, to).await.unwrap();
            assert_eq!(c.peer_addr().unwrap(), sa(to));
            c.write_all(b"hello").await.unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).await.unwrap();
            assert_eq!(answer, sa(to).to_string());
        }
        let seen = server.await.unwrap();
        assert_eq!(
            seen,
            [
                (sa("192.0.2.1:1").ip(), sa("198.51.100.7:80")),
                (sa("[2001:db8::1]:1").ip(), sa("[2001:db8:1::7]:443"))
            ]
        );

        let relay = UdpSocket::intercept(&b, &prefixes()).unwrap();
        let client = UdpSocket::bind(&a, "[::]:0").await.unwrap();
        for to in ["198.51.100.53:53", "[2001:db8:1::53]:53"] {
            client.send_to(b"query", to).await.unwrap();
            let mut buf = [0; 64];
            let (n, from, dst) = relay.recv_from_to(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], dst), (&b"query"[..], sa(to)));
            relay.send_from(b"answer", dst, from).await.unwrap();
            let (n, answered_from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"answer");
            // The dual-stack client names an IPv4 peer by its mapped address.
            let answered_from = match answered_from {
                SocketAddr::V6(v6) => v6
                    .ip()
                    .to_ipv4_mapped()
                    .map_or(answered_from, |ip| SocketAddr::new(ip.into(), v6.port())),
                v4 => v4,
            };
            assert_eq!(answered_from, sa(to));
        }
        assert!(relay.send_to(b"x", "192.0.2.1:9").await.is_err());
    })
    .await
    .expect("timed out");
}

#[test]
fn the_blocking_api_intercepts_too() {
    let (wa, wb) = VirtualWire::pair(WireConfig::default());
    let a = pila::net::Stack::builder()
        .device(wa)
        .address("192.0.2.1/24")
        .gateway("192.0.2.2".parse().unwrap())
        .seed(1)
        .build()
        .unwrap();
    let b = pila::net::Stack::builder().device(wb).address("192.0.2.2/24").seed(2).build().unwrap();
    let listener = pila::net::TcpListener::intercept(&b, &prefixes()).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let dst = s.local_addr().unwrap();
        std::io::Write::write_all(&mut s, dst.to_string().as_bytes()).unwrap();
    });
    let mut c = pila::net::TcpStream::connect(&a, "198.51.100.9:8080").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut c, &mut answer).unwrap();
    assert_eq!(answer, "198.51.100.9:8080");
    server.join().unwrap();
    let relay = pila::net::UdpSocket::intercept(&b, &prefixes()).unwrap();
    let client = pila::net::UdpSocket::bind(&a, "0.0.0.0:0").unwrap();
    client.send_to(b"q", "198.51.100.53:53").unwrap();
    let mut buf = [0; 8];
    let (n, from, dst) = relay.recv_from_to(&mut buf).unwrap();
    assert_eq!((n, dst), (1, sa("198.51.100.53:53")));
    relay.send_from(b"a", dst, from).unwrap();
    assert_eq!(client.recv_from(&mut buf).unwrap(), (1, sa("198.51.100.53:53")));
}

#[tokio::test]
async fn an_intercept_listener_answers_each_client_as_its_destination_would() {
    use pila::stack::Refusal;
    use pila::tokio::InterceptListener;
    tokio::time::timeout(LIMIT, async {
        let (a, b) = hosts();
        let listener = InterceptListener::bind(&b, &prefixes()).unwrap();
        let server = tokio::spawn(async move {
            loop {
                let held = listener.next().await.unwrap();
                match held.destination().port() {
                    80 => {
                        let held_destination = held.destination();
                        let mut s = held.accept().await.unwrap();
                        assert_eq!(s.local_addr().unwrap(), held_destination);
                        s.write_all(b"welcome").await.unwrap();
                        s.shutdown().await.unwrap();
                    }
                    81 => held.refuse(Refusal::Reset).unwrap(),
                    82 => held.refuse(Refusal::HostUnreachable).unwrap(),
                    83 => held.refuse(Refusal::NetworkUnreachable).unwrap(),
                    84 => drop(held),
                    _ => return,
                }
            }
        });
        for far in ["198.51.100.7", "[2001:db8:1::7]"] {
            let mut c = TcpStream::connect(&a, format!("{far}:80")).await.unwrap();
            let mut got = String::new();
            c.read_to_string(&mut got).await.unwrap();
            assert_eq!(got, "welcome");
            for (port, kind) in [
                (81, std::io::ErrorKind::ConnectionRefused),
                (82, std::io::ErrorKind::HostUnreachable),
                (83, std::io::ErrorKind::NetworkUnreachable),
                (84, std::io::ErrorKind::ConnectionRefused),
            ] {
                let e = TcpStream::connect(&a, format!("{far}:{port}")).await.unwrap_err();
                assert_eq!(e.kind(), kind, "{far}:{port}: {e}");
                // The ICMP errors' rate limit refills.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
        drop(TcpStream::connect(&a, "198.51.100.7:85").await);
        server.await.unwrap();
    })
    .await
    .expect("timed out");
}
