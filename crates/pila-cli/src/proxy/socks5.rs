//! The client side of SOCKS5 (RFC 1928) as `pila proxy` needs it: CONNECT for TCP, UDP
//! ASSOCIATE for UDP, with no authentication or username and password (RFC 1929).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASS: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 1;
const UDP_ASSOCIATE: u8 = 3;
const ATYP_V4: u8 = 1;
const ATYP_V6: u8 = 4;

/// A username and password (RFC 1929).
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

/// Why the SOCKS server did not make the connection: its reply code (RFC 1928 §6), or a
/// failure to speak with it at all.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The server answered the request with this code (1 to 8).
    Reply(u8),
    /// The server could not be reached or spoke no SOCKS5.
    Server(io::Error),
}

impl Refused {
    /// The reply code's meaning.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Reply(code) => format!("SOCKS5 reply {code}: {}", reply_text(*code)),
            Self::Server(e) => format!("SOCKS5 server: {e}"),
        }
    }
}

const fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "not allowed by the ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply",
    }
}

/// Opens a TCP connection to `server`, greets it and authenticates.
async fn handshake(server: SocketAddr, auth: Option<&Credentials>) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(server).await?;
    s.set_nodelay(true)?;
    let method = if auth.is_some() { USER_PASS } else { NO_AUTH };
    s.write_all(&[VERSION, 1, method]).await?;
    let mut reply = [0; 2];
    s.read_exact(&mut reply).await?;
    if reply[0] != VERSION {
        return Err(bad("the server does not speak SOCKS5"));
    }
    match (reply[1], auth) {
        (NO_AUTH, None) => Ok(s),
        (USER_PASS, Some(c)) => {
            let (user, pass) = (c.user.as_bytes(), c.password.as_bytes());
            let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
                return Err(bad("the username and the password take 255 bytes at most"));
            };
            let mut msg = vec![1, ulen];
            msg.extend_from_slice(user);
            msg.push(plen);
            msg.extend_from_slice(pass);
            s.write_all(&msg).await?;
            let mut status = [0; 2];
            s.read_exact(&mut status).await?;
            if status[1] == 0 {
                Ok(s)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the server refused the username and password",
                ))
            }
        }
        (NO_ACCEPTABLE, _) | (_, _) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the server accepts none of our authentication methods (give --socks5-user and \
             --socks5-password if it wants them)",
        )),
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The address part of a request or a UDP header: ATYP, address, port.
fn encode(addr: SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(ATYP_V4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(ATYP_V6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// Reads the address part of a reply.
async fn read_addr(s: &mut TcpStream) -> io::Result<SocketAddr> {
    let atyp = s.read_u8().await?;
    let ip = match atyp {
        ATYP_V4 => {
            let mut b = [0; 4];
            s.read_exact(&mut b).await?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        ATYP_V6 => {
            let mut b = [0; 16];
            s.read_exact(&mut b).await?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        3 => {
            // A domain name: read and skip it; the port still follows.
            let len = s.read_u8().await?;
            let mut name = vec![0; usize::from(len)];
            s.read_exact(&mut name).await?;
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
        _ => return Err(bad("the server's reply has an unknown address type")),
    };
    let port = s.read_u16().await?;
    Ok(SocketAddr::new(ip, port))
}

/// Sends the request `cmd` for `addr` and reads the reply: the address it names.
async fn request(s: &mut TcpStream, cmd: u8, addr: SocketAddr) -> Result<SocketAddr, Refused> {
    let mut msg = vec![VERSION, cmd, 0];
    encode(addr, &mut msg);
    s.write_all(&msg).await.map_err(Refused::Server)?;
    let mut head = [0; 3];
    s.read_exact(&mut head).await.map_err(Refused::Server)?;
    if head[0] != VERSION {
        return Err(Refused::Server(bad("the server does not speak SOCKS5")));
    }
    if head[1] != 0 {
        return Err(Refused::Reply(head[1]));
    }
    read_addr(s).await.map_err(Refused::Server)
}

/// A TCP connection to `dst` through the SOCKS5 server at `server`.
pub(crate) async fn connect(
    server: SocketAddr,
    auth: Option<&Credentials>,
    dst: SocketAddr,
) -> Result<TcpStream, Refused> {
    let mut s = handshake(server, auth).await.map_err(Refused::Server)?;
    request(&mut s, CONNECT, dst).await?;
    Ok(s)
}

/// A UDP association: the control connection, which must stay open, and the relay's
/// address to send encapsulated datagrams to.
pub(crate) struct Association {
    pub(crate) control: TcpStream,
    pub(crate) relay: SocketAddr,
}

/// Asks the SOCKS5 server at `server` for a UDP relay for datagrams sent from `from`.
pub(crate) async fn udp_associate(
    server: SocketAddr,
    auth: Option<&Credentials>,
    from: SocketAddr,
) -> Result<Association, Refused> {
    let mut control = handshake(server, auth).await.map_err(Refused::Server)?;
    let mut relay = request(&mut control, UDP_ASSOCIATE, from).await?;
    // RFC 1928 §7: a relay address of all zeros means the server's own.
    if relay.ip().is_unspecified() {
        relay.set_ip(server.ip());
    }
    Ok(Association { control, relay })
}

/// A datagram for `dst` with the UDP request header in front (RFC 1928 §7).
pub(crate) fn wrap(dst: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0];
    encode(dst, &mut out);
    out.extend_from_slice(data);
    out
}

/// The sender and the data of a datagram from the relay; `None` for a fragment (which
/// this client does not reassemble, as RFC 1928 allows) or a malformed header.
pub(crate) fn unwrap(datagram: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let (&[_, _, frag, atyp], rest) = datagram.split_first_chunk::<4>()?;
    if frag != 0 {
        return None;
    }
    let (ip, rest) = match atyp {
        ATYP_V4 => {
            let (b, rest) = rest.split_first_chunk::<4>()?;
            (IpAddr::V4(Ipv4Addr::from(*b)), rest)
        }
        ATYP_V6 => {
            let (b, rest) = rest.split_first_chunk::<16>()?;
            (IpAddr::V6(Ipv6Addr::from(*b)), rest)
        }
        _ => return None,
    };
    let (port, data) = rest.split_first_chunk::<2>()?;
    Some((SocketAddr::new(ip, u16::from_be_bytes(*port)), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_headers_wrap_and_unwrap() {
        for dst in ["198.51.100.53:53", "[2001:db8:1::53]:5353"] {
            let dst: SocketAddr = dst.parse().unwrap();
            let wrapped = wrap(dst, b"query");
            assert_eq!(unwrap(&wrapped), Some((dst, &b"query"[..])));
        }
        let mut fragment = wrap("192.0.2.1:1".parse().unwrap(), b"x");
        fragment[2] = 1;
        assert_eq!(unwrap(&fragment), None);
        assert_eq!(unwrap(&[0, 0, 0, 1, 192, 0]), None);
        assert_eq!(unwrap(&[0, 0, 0, 3, 1, b'a', 0, 53]), None);
        assert_eq!(reply_text(5), "connection refused");
    }
}
