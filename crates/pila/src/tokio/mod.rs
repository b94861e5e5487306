//! The async, `tokio::net`-shaped API (feature `tokio`): the same stack and socket plumbing
//! as [`crate::net`], with callers that wait by parking their task's waker instead of
//! blocking a thread.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use pila::device::{VirtualWire, WireConfig};
//! use pila::tokio::{Stack, TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let (a, b) = VirtualWire::pair(WireConfig::default());
//! let host_a = Stack::builder().device(a).address("192.0.2.1/24").build_tokio()?;
//! let host_b = Stack::builder().device(b).address("192.0.2.2/24").build_tokio()?;
//! let listener = TcpListener::bind(&host_b, "192.0.2.2:7").await?;
//! tokio::spawn(async move {
//!     let (mut stream, _peer) = listener.accept().await?;
//!     let (mut rd, mut wr) = stream.split();
//!     tokio::io::copy(&mut rd, &mut wr).await
//! });
//! let mut client = TcpStream::connect(&host_a, "192.0.2.2:7").await?;
//! client.write_all(b"hello").await?;
//! let mut buf = [0; 5];
//! client.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! # hyper
//! hyper runs unmodified on these streams through hyper-util's `TokioIo`, serving and
//! fetching:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use http_body_util::{BodyExt as _, Empty, Full};
//! use hyper::{Request, Response, body::Incoming, service::service_fn};
//! use hyper_util::rt::TokioIo;
//! use pila::device::{VirtualWire, WireConfig};
//! use pila::tokio::{Stack, TcpListener, TcpStream};
//!
//! let (a, b) = VirtualWire::pair(WireConfig::default());
//! let client = Stack::builder().device(a).address("192.0.2.1/24").build_tokio()?;
//! let server = Stack::builder().device(b).address("192.0.2.2/24").build_tokio()?;
//!
//! // The server: a task per connection, as with tokio::net.
//! let listener = TcpListener::bind(&server, "192.0.2.2:80").await?;
//! tokio::spawn(async move {
//!     while let Ok((stream, _peer)) = listener.accept().await {
//!         let hello = service_fn(|_: Request<Incoming>| async {
//!             let body = Full::new(Bytes::from("hello from pila"));
//!             Ok::<_, std::convert::Infallible>(Response::new(body))
//!         });
//!         let conn = hyper::server::conn::http1::Builder::new();
//!         tokio::spawn(conn.serve_connection(TokioIo::new(stream), hello));
//!     }
//! });
//!
//! // The client.
//! let stream = TcpStream::connect(&client, "192.0.2.2:80").await?;
//! let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
//! tokio::spawn(conn);
//! let request = Request::get("/").header("host", "192.0.2.2").body(Empty::<Bytes>::new())?;
//! let response = sender.send_request(request).await?;
//! assert_eq!(response.into_body().collect().await?.to_bytes(), "hello from pila");
//! # Ok(())
//! # }
//! ```
//!
//! # How it runs
//! [`StackBuilder::build_tokio`] runs the stack's driver as a task on the current runtime: it
//! sleeps on the device (a TAP or TUN descriptor through tokio's `AsyncFd`, the in-memory
//! wire through its ready signal), on a timer set to the stack's next deadline and on the
//! kick that socket calls give it, and takes the same turns as the driver thread of
//! [`StackBuilder::build`]. Sockets from this module work on a stack built either way, and so
//! do those of [`crate::net`]: one stack can serve blocking threads and async tasks at once.
//!
//! A call that cannot proceed (`accept`, `read`, `write` on a full buffer, `connect`,
//! `recv_from`, [`ping`]) parks its task's waker on its own socket, and the driver wakes it
//! when the stack reports a change on that socket, and only then.
//!
//! # Cancellation
//! As with tokio's sockets, these are cancel safe — dropping the future before it completes
//! (in `select!`, or by `tokio::time::timeout`) loses nothing: [`TcpListener::accept`], the
//! [`AsyncRead`](::tokio::io::AsyncRead) and [`AsyncWrite`](::tokio::io::AsyncWrite) calls
//! underneath `read` and `write`, [`UdpSocket::recv_from`], [`UdpSocket::recv`],
//! [`UdpSocket::send_to`] and [`UdpSocket::send`]. Each either completes at once or changes
//! nothing: a connection is taken off the accept queue, and bytes are copied in or out of a
//! buffer, only in the poll that returns them. [`TcpStream::connect`] dropped early aborts
//! the connection it was opening. What tokio documents as not cancel safe — `read_exact`,
//! `write_all`, which make several calls — is not here either.
//!
//! Errors are [`std::io::Error`]s with the kinds `tokio::net` uses.

mod intercept;
mod tcp;
mod udp;

pub use crate::net::{Counters, Event, EventKind, Events, Stack, StackBuilder, Traces};
pub use intercept::{InterceptListener, Intercepted};
pub use tcp::{
    OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, TcpListener, TcpStream, WriteHalf,
};
pub use udp::UdpSocket;

use crate::runtime::shared::Wait;
use crate::runtime::socket::Ping;
use core::future::poll_fn;
use core::net::IpAddr;
use std::io;

/// Sends an ICMP echo request to `addr` and waits up to `timeout` for the reply; returns
/// the round-trip time. Fails with [`io::ErrorKind::TimedOut`] when no reply comes.
pub async fn ping(
    stack: &Stack,
    addr: impl Into<IpAddr>,
    timeout: std::time::Duration,
) -> io::Result<std::time::Duration> {
    let shared = &stack.handle().shared;
    let ping = Ping::send(shared, addr.into(), Ping::DEFAULT_SIZE)?;
    // The pings' wait outlives this one: take the waker back however the future ends.
    let mut parked = Parked { shared, waker: None };
    let reply = poll_fn(|cx| {
        parked.waker = Some(cx.waker().clone());
        shared.poll_on(cx, Wait::PING, |state| ping.try_reply(state))
    });
    ::tokio::time::timeout(timeout, reply).await.unwrap_or_else(|_| Err(ping.timed_out(timeout)))
}

/// The waker a ping last parked, taken back when the ping is over or dropped.
struct Parked<'a> {
    shared: &'a crate::runtime::shared::Shared,
    waker: Option<std::task::Waker>,
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        if let Some(waker) = &self.waker {
            self.shared.unpark(Wait::PING, waker);
        }
    }
}
