//! An HTTP/1.1 GET through hyper on a `pila::tokio` connection, following redirects.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1;
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use pila::tokio::{Stack, TcpStream};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

/// The most redirects a fetch follows.
const MAX_REDIRECTS: usize = 10;
/// How long a finished connection waits for the server to acknowledge our FIN.
const LINGER: Duration = Duration::from_secs(2);

/// Where a URL points: the server's address, the `Host` it is known by, and the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    addr: SocketAddr,
    authority: String,
    path: String,
}

/// What the server answered, before the body.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    /// The URL that answered, after redirects.
    pub(crate) url: String,
    pub(crate) status: StatusCode,
    /// `Content-Length`, when given.
    pub(crate) length: Option<u64>,
    pub(crate) content_type: Option<String>,
}

impl Target {
    /// A `http://` URL whose host is an IP address (IPv6 in brackets); the error says what
    /// to change.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL ({e}) — give one like http://192.0.2.1/"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!("{url} is https, which pila get does not speak — use http://"));
            }
            _ => {
                return Err(format!(
                    "{url:?} is not an http:// URL — give one like http://192.0.2.1/"
                ));
            }
        }
        let authority = uri.authority().ok_or_else(|| format!("{url} names no host"))?;
        let host = authority.host();
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let ip: IpAddr = bare.parse().map_err(|_| {
            format!(
                "{url} names the host {host:?}, and pila resolves no names — give the server's \
                 address, like http://192.0.2.1/ or http://[2001:db8::1]/"
            )
        })?;
        let port = authority.port_u16().unwrap_or(80);
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let path = if path.is_empty() { "/" } else { path };
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            authority: authority.as_str().to_owned(),
            path: path.to_owned(),
        })
    }

    /// The URL again.
    pub(crate) fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.path)
    }

    /// Where a `Location` header sends us from here (RFC 9110 §10.2.2: it may be relative).
    fn join(&self, location: &str) -> Result<Self, String> {
        // RFC 3986 §3.1: a scheme is letters, digits, `+`, `-` and `.` up to the first `:`,
        // which comes before any `/`, `?` or `#`.
        let scheme = location
            .split_once(':')
            .map(|(scheme, _)| scheme)
            .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .filter(|s| s.starts_with(|c: char| c.is_ascii_alphabetic()));
        if scheme.is_some() {
            Self::parse(location)
        } else if location.starts_with("//") {
            Self::parse(&format!("http:{location}"))
        } else if location.starts_with('/') {
            Self::parse(&format!("http://{}{location}", self.authority))
        } else {
            let path = self.path.split(['?', '#']).next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            Self::parse(&format!("http://{}{dir}{location}", self.authority))
        }
    }
}

/// Fetches `target` with `GET` on `stack`, following up to ten redirects; `on_head` sees
/// the final response's head, then `on_data` gets its body as it comes. A final status
/// other than 2xx is an error naming it, and `on_data` is not called. `timeout` bounds
/// the connect and each wait for the server.
pub(crate) async fn get(
    stack: &Stack,
    target: Target,
    timeout: Duration,
    mut on_head: impl FnMut(&Head),
    mut on_data: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<Head, String> {
    let mut target = target;
    for _ in 0..=MAX_REDIRECTS {
        let url = target.url();
        let stream =
            within(timeout, &url, TcpStream::connect(stack, target.addr)).await?.map_err(|e| {
                format!("cannot connect to {}: {e} — is a server listening there?", target.addr)
            })?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP with {url} failed: {e}"))?;
        let conn = tokio::spawn(conn.without_shutdown());
        let request = Request::get(target.path.as_str())
            .header(header::HOST, target.authority.as_str())
            .header(header::USER_AGENT, concat!("pila/", env!("CARGO_PKG_VERSION")))
            .header(header::ACCEPT, "*/*")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("cannot ask for {url}: {e}"))?;
        let response = within(timeout, &url, sender.send_request(request))
            .await?
            .map_err(|e| format!("HTTP with {url} failed: {e}"))?;
        let status = response.status();
        let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok());
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let location = location
                .ok_or_else(|| format!("{url} answered {status} without saying where to go"))?;
            let next = target.join(location)?;
            // Read the short page that came with it, so the connection ends cleanly.
            let _ = within(timeout, &url, response.into_body().collect()).await;
            drop(sender);
            close(conn).await;
            target = next;
            continue;
        }
        let head = Head {
            url: url.clone(),
            status,
            length: header_value(response.headers().get(header::CONTENT_LENGTH))
                .and_then(|v| v.parse().ok()),
            content_type: header_value(response.headers().get(header::CONTENT_TYPE)),
        };
        if !status.is_success() {
            return Err(format!("the server answered {status} for {url}"));
        }
        on_head(&head);
        let mut body = response.into_body();
        while let Some(frame) = within(timeout, &url, body.frame()).await? {
            let frame = frame.map_err(|e| format!("the body of {url} broke off: {e}"))?;
            if let Some(data) = frame.data_ref() {
                on_data(data)?;
            }
        }
        drop(sender);
        close(conn).await;
        return Ok(head);
    }
    Err(format!(
        "more than {MAX_REDIRECTS} redirects from {} — the server sends us in circles",
        target.url()
    ))
}

/// Closes a finished connection cleanly: our FIN, then a short wait for its ACK.
async fn close(conn: tokio::task::JoinHandle<hyper::Result<http1::Parts<TokioIo<TcpStream>>>>) {
    if let Ok(Ok(parts)) = conn.await {
        let mut stream = parts.io.into_inner();
        let _ = stream.shutdown().await;
        let _ = tokio::time::timeout(LINGER, stream.closed()).await;
    }
}

/// `what` within `timeout`, or an error saying that `url` went quiet.
async fn within<T>(
    timeout: Duration,
    url: &str,
    what: impl Future<Output = T>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, what).await.map_err(|_| {
        format!("{url} sent nothing for {} s — try a longer --timeout", timeout.as_secs())
    })
}

fn header_value(value: Option<&HeaderValue>) -> Option<String> {
    value.and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_an_address_a_host_and_a_path() {
        let t = Target::parse("http://192.0.2.1:8000/a/b.html?x=1").unwrap();
        assert_eq!(t.addr, "192.0.2.1:8000".parse().unwrap());
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("192.0.2.1:8000", "/a/b.html?x=1"));
        let t = Target::parse("http://192.0.2.1").unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (80, "/"));
        for (bad, says) in [
            ("https://192.0.2.1/", "use http://"),
            ("http://example.com/", "resolves no names"),
            ("ftp://192.0.2.1/", "not an http:// URL"),
            ("192.0.2.1/x", "give one like http://192.0.2.1/"),
            ("http://[::1", "not a URL"),
        ] {
            let err = Target::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn redirects_resolve_against_the_current_url() {
        let base = Target::parse("http://192.0.2.1:8000/dir/page?q").unwrap();
        for (location, want) in [
            ("http://198.51.100.7/x", "http://198.51.100.7/x"),
            ("//192.0.2.9:81/y", "http://192.0.2.9:81/y"),
            ("/top", "http://192.0.2.1:8000/top"),
            ("other", "http://192.0.2.1:8000/dir/other"),
            ("sub/", "http://192.0.2.1:8000/dir/sub/"),
            ("/go?to=http://198.51.100.1/", "http://192.0.2.1:8000/go?to=http://198.51.100.1/"),
            ("next?u=https://x", "http://192.0.2.1:8000/dir/next?u=https://x"),
        ] {
            assert_eq!(base.join(location).unwrap().url(), want, "{location}");
        }
    }
}
