//! HTTP/1.1 connections on a `pila::tokio` listener, each served by hyper on a task of its
//! own, with keep-alive, time-outs that stop idle or stalled clients from pinning the
//! server, and a graceful stop.

use super::site::SiteBody;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use pila::tokio::TcpListener;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

/// How a server treats its connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// A connection that moves no byte either way for this long is closed: a client that
    /// sends no request, sends one too slowly, or stops reading the response.
    pub(crate) idle: Duration,
    /// The most connections served at once; more wait in the listener's accept queue.
    pub(crate) connections: usize,
}

/// Answers every connection `listener` accepts with `service` until `stop` turns `true`;
/// then stops accepting, lets the requests under way finish (each connection closes after
/// its current response) and returns when all connections have ended.
pub(crate) async fn serve<S, F>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    S: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<SiteBody>> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    let room = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    loop {
        let accepted = tokio::select! {
            // A connection is taken only when there is room for it.
            accepted = async {
                let permit = Arc::clone(&room).acquire_owned().await;
                (permit, listener.accept().await)
            } => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
            // Reap finished connections as they end, so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        match accepted {
            (Ok(permit), Ok((stream, _peer))) => {
                let served = connection(stream, service.clone(), limits, stop.clone());
                connections.spawn(async move {
                    served.await;
                    drop(permit);
                });
            }
            (Err(_closed), _) => break,
            // The connection failed before it was accepted: the next one.
            (_, Err(e)) if e.kind() != std::io::ErrorKind::InvalidInput => {}
            (_, Err(_)) => break,
        }
    }
    listener.shutdown();
    while connections.join_next().await.is_some() {}
}

/// One connection, to its end: the client closed, it failed, it idled past the limit, or
/// a stop came and its current response is done.
async fn connection<S, F>(
    stream: pila::tokio::TcpStream,
    service: S,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    S: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<SiteBody>> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        // Covers a keep-alive connection waiting for its next request too.
        .header_read_timeout(limits.idle)
        .serve_connection(
            io,
            service_fn(move |req| {
                let response = service(req);
                async move { Ok::<_, Infallible>(response.await) }
            }),
        );
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let idle_until =
            tokio::time::Instant::now() + limits.idle.saturating_sub(activity.idle_for());
        tokio::select! {
            _ = &mut conn => return,
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(idle_until) => {
                if activity.idle_for() >= limits.idle {
                    // Dropping the connection closes it.
                    return;
                }
            }
        }
    }
}

/// When a connection last moved a byte, in milliseconds since the process's clock epoch.
#[derive(Clone)]
struct Activity(Arc<AtomicU64>);

impl Activity {
    /// Activity now: the connection was just accepted.
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(Self::now_ms())))
    }

    fn now_ms() -> u64 {
        u64::try_from(pila::net::clock_epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.0.store(Self::now_ms(), Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        Duration::from_millis(Self::now_ms().saturating_sub(self.0.load(Ordering::Relaxed)))
    }
}

/// A stream that records every read or write that moves bytes.
struct Watched<S> {
    inner: S,
    activity: Activity,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
