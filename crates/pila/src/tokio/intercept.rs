//! [`InterceptListener`] and the [`Intercepted`] connections it yields: transparent mode
//! for proxies that must answer each client as its real destination answered them.

use super::{Stack, TcpStream};
use crate::runtime::Handle;
use crate::runtime::socket::{Connecting, ListenerCore};
use crate::stack::{HeldSyn, IpCidr, ListenerHandle, Refusal};
use core::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// Takes the connections to any address and port inside its prefixes that are not the
/// stack's own, and lets the application answer each before the handshake completes:
/// a proxy tries the real destination first, then [accepts](Intercepted::accept) the
/// client's connection, or [refuses](Intercepted::refuse) it as the destination refused
/// the proxy, so that the client's `connect` fails with "connection refused" or "no route
/// to host" as it would have without the proxy.
///
/// ```no_run
/// # async fn relay(stack: pila::tokio::Stack) -> std::io::Result<()> {
/// use pila::stack::Refusal;
/// let listener = pila::tokio::InterceptListener::bind(&stack, &[])?;
/// loop {
///     let held = listener.next().await?;
///     match tokio::net::TcpStream::connect(held.destination()).await {
///         Ok(upstream) => {
///             let client = held.accept().await?;
///             // ... copy both ways
///         }
///         Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
///             held.refuse(Refusal::Reset)?
///         }
///         Err(_) => held.refuse(Refusal::HostUnreachable)?,
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct InterceptListener {
    core: ListenerCore,
}

/// A connection a client asked for, held until it is accepted or refused. Dropped without
/// either, it is refused with a reset.
#[derive(Debug)]
pub struct Intercepted {
    host: Arc<Handle>,
    listener: ListenerHandle,
    syn: Option<HeldSyn>,
}

impl InterceptListener {
    /// Intercepts every address inside `prefixes` (every address if empty) that is not one
    /// of the stack's own ([`Stack::tcp_intercept_held`](crate::stack::Stack::tcp_intercept_held)).
    pub fn bind(stack: &Stack, prefixes: &[IpCidr]) -> io::Result<Self> {
        Ok(Self { core: ListenerCore::intercept_held(stack.handle(), prefixes)? })
    }

    /// Waits for the next connection a client asks for.
    ///
    /// Cancel safe: a request is taken only by the poll that returns it.
    pub async fn next(&self) -> io::Result<Intercepted> {
        let core = &self.core;
        let syn = poll_fn(|cx| {
            core.shared().poll_on(cx, core.wait_accept(), |state| core.try_held(state))
        })
        .await?;
        let (host, listener) = core.parts();
        Ok(Intercepted { host, listener, syn: Some(syn) })
    }

    /// Stops intercepting: the requests not yet answered are forgotten, and `next` fails
    /// with [`io::ErrorKind::InvalidInput`] from now on.
    pub fn shutdown(&self) {
        self.core.shutdown();
    }
}

impl Intercepted {
    /// The client.
    pub fn client(&self) -> SocketAddr {
        self.held().remote
    }

    /// The destination the client asked for: the local address of the stream
    /// [`accept`](Self::accept) gives.
    pub fn destination(&self) -> SocketAddr {
        self.held().local
    }

    fn held(&self) -> HeldSyn {
        self.syn.unwrap_or(HeldSyn { local: UNSPECIFIED, remote: UNSPECIFIED })
    }

    /// Completes the handshake and returns the stream once established. Fails if the
    /// client gave up meanwhile, or if the request was held too long (75 s) and forgotten.
    pub async fn accept(mut self) -> io::Result<TcpStream> {
        let syn = self.syn.take().ok_or(io::ErrorKind::InvalidInput)?;
        let connecting = Connecting::complete(&self.host, self.listener, syn)?;
        poll_fn(|cx| {
            connecting.shared().poll_on(cx, connecting.wait_established(), |state| {
                connecting.try_established(state)
            })
        })
        .await?;
        Ok(TcpStream::new(connecting.finish()?))
    }

    /// Refuses the connection: with [`Refusal::Reset`] the client's `connect` fails with
    /// "connection refused", with an unreachable one with "no route to host" or "network is
    /// unreachable".
    pub fn refuse(mut self, how: Refusal) -> io::Result<()> {
        let syn = self.syn.take().ok_or(io::ErrorKind::InvalidInput)?;
        self.answer_no(syn, how)
    }

    fn answer_no(&self, syn: HeldSyn, how: Refusal) -> io::Result<()> {
        let shared = &self.host.shared;
        let now = crate::runtime::now();
        shared.lock().stack.tcp_intercept_refuse(now, self.listener, syn, how)?;
        shared.kick();
        Ok(())
    }
}

impl Drop for Intercepted {
    fn drop(&mut self) {
        if let Some(syn) = self.syn.take() {
            let _ = self.answer_no(syn, Refusal::Reset);
        }
    }
}

const UNSPECIFIED: SocketAddr =
    SocketAddr::V6(std::net::SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 0, 0, 0));
