//! A static site: files and directory listings under one root, answered as HTTP/1.1
//! responses.
//!
//! What a request may reach is decided before any file is opened: the path is
//! percent-decoded, `..` is refused outright (`403`), and the file found is resolved through
//! its symbolic links and must still lie under the root (`403` otherwise). `GET` and `HEAD`
//! only; single byte ranges (`206`, `416`); `If-Modified-Since` (`304`); content types from
//! the file name.
//!
//! Looking a file up, opening it and reading a small one are plain system calls on the
//! connection's task: from the page cache they take microseconds, where a trip through
//! tokio's blocking pool for each would take tens. A larger file is sent a chunk at a time
//! through `tokio::fs`, whose reads run on that pool.

use bytes::{Bytes, BytesMut};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use std::fmt::Write as _;
use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;
use tokio::io::{AsyncRead, ReadBuf};

/// How much of a file one body frame carries.
const CHUNK: usize = 64 * 1024;
/// A file (or range) up to this long is read whole and sent from memory.
const SMALL: u64 = 256 * 1024;

/// The files under one directory, served read-only.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    /// The root, with its symbolic links resolved.
    root: PathBuf,
}

/// A response body: bytes in memory (`Left`), or part of a file read as it is sent
/// (`Right`).
pub(crate) type SiteBody = Either<Full<Bytes>, FileBody>;

impl Site {
    /// The site under `root`, which must be a directory.
    pub(crate) fn new(root: &Path) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a directory"));
        }
        Ok(Self { root })
    }

    /// The response to `req` (whose body, if any, is ignored).
    pub(crate) fn respond<B>(&self, req: &Request<B>) -> Response<SiteBody> {
        let head = req.method() == Method::HEAD;
        if !head && req.method() != Method::GET {
            let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let path = req.uri().path();
        let found = match self.resolve(path) {
            Ok(found) => found,
            Err(code) => return status(code),
        };
        let response = match std::fs::metadata(&found) {
            Err(e) => status(io_status(&e)),
            Ok(meta) if meta.is_dir() && !path.ends_with('/') => {
                // Relative links in the listing need the slash: send the client there, on
                // this server (a path starting `//` would name another host).
                let mut to = format!("/{}/", path.trim_start_matches('/'));
                if let Some(query) = req.uri().query() {
                    let _ = write!(to, "?{query}");
                }
                redirect(&to)
            }
            // The index goes through `resolve` too: a link named index.html is no way out.
            Ok(meta) if meta.is_dir() => match self.resolve(&format!("{path}index.html")) {
                Ok(index) => match std::fs::metadata(&index) {
                    Ok(meta) => file(req, &index, &meta),
                    Err(e) => status(io_status(&e)),
                },
                Err(StatusCode::NOT_FOUND) => listing(path, &found),
                Err(code) => status(code),
            },
            Ok(meta) => file(req, &found, &meta),
        };
        if head { strip_body(response) } else { response }
    }

    /// The file or directory `uri_path` names under the root, or the status that refuses
    /// it: `400` for a path that does not decode, `403` for one that leaves the root (by
    /// `..` or through a symbolic link), `404` for one that is not there.
    pub(crate) fn resolve(&self, uri_path: &str) -> Result<PathBuf, StatusCode> {
        let decoded =
            percent_decode_str(uri_path).decode_utf8().map_err(|_| StatusCode::BAD_REQUEST)?;
        let mut path = self.root.clone();
        for segment in decoded.split('/') {
            match segment {
                "" | "." => {}
                ".." => return Err(StatusCode::FORBIDDEN),
                s if s.contains(['\0', '\\']) => return Err(StatusCode::BAD_REQUEST),
                s => path.push(s),
            }
        }
        let real = path.canonicalize().map_err(|e| io_status(&e))?;
        if real.starts_with(&self.root) { Ok(real) } else { Err(StatusCode::FORBIDDEN) }
    }
}

/// A file, whole or the one byte range asked for. Only regular files: opening a FIFO or a
/// device would block the connection's task (and the runtime thread under it).
fn file<B>(req: &Request<B>, path: &Path, meta: &std::fs::Metadata) -> Response<SiteBody> {
    if !meta.is_file() {
        return status(StatusCode::FORBIDDEN);
    }
    let len = meta.len();
    let modified = meta.modified().ok();
    if let Some(modified) = modified
        && not_modified_since(req.headers(), modified)
    {
        return status(StatusCode::NOT_MODIFIED);
    }
    let Ok(range) = wanted_range(req.headers(), modified, len) else {
        let mut response = status(StatusCode::RANGE_NOT_SATISFIABLE);
        insert(response.headers_mut(), header::CONTENT_RANGE, format!("bytes */{len}"));
        return response;
    };
    let (start, count) = range.as_ref().map_or((0, len), |r| (*r.start(), r.end() - r.start() + 1));
    let opened = open_at(path, start);
    let body = if req.method() == Method::HEAD {
        // The headers only, but the same ones (and the same failure) as for a GET.
        opened.map(|_| full(Bytes::new()))
    } else {
        opened.and_then(|file| file_body(file, count))
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return status(io_status(&e)),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type(path));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    insert(headers, header::CONTENT_LENGTH, count.to_string());
    if let Some(modified) = modified {
        insert(headers, header::LAST_MODIFIED, httpdate::fmt_http_date(modified));
    }
    if let Some(range) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let content_range = format!("bytes {}-{}/{len}", range.start(), range.end());
        insert(response.headers_mut(), header::CONTENT_RANGE, content_range);
    }
    response
}

/// `path`, opened and positioned at `start`.
fn open_at(path: &Path, start: u64) -> io::Result<std::fs::File> {
    let mut file = std::fs::File::open(path)?;
    if start > 0 {
        io::Seek::seek(&mut file, io::SeekFrom::Start(start))?;
    }
    Ok(file)
}

/// The byte range a `Range` header asks for: `Ok(None)` for the whole file (no header, one
/// this server ignores — several ranges, another unit — or an `If-Range` that no longer
/// matches), `Err` when it cannot be satisfied.
fn wanted_range(
    headers: &HeaderMap,
    modified: Option<SystemTime>,
    len: u64,
) -> Result<Option<RangeInclusive<u64>>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    // RFC 9110 §13.1.5: a range is served only while the representation is unchanged; with
    // no entity tags here, that is an `If-Range` date equal to our `Last-Modified`.
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        let ours = modified.map(httpdate::fmt_http_date);
        if ours.as_deref() != Some(if_range) {
            return Ok(None);
        }
    }
    if !value.trim_start().starts_with("bytes=") {
        return Ok(None);
    }
    match http_range_header::parse_range_header(value).and_then(|r| r.validate(len)) {
        Ok(ranges) if ranges.len() == 1 => Ok(ranges.into_iter().next()),
        // Several ranges: RFC 9110 §14.2 lets a server send the whole file instead.
        Ok(_) => Ok(None),
        Err(_) => Err(()),
    }
}

/// Whether an `If-Modified-Since` header says the client's copy is current.
fn not_modified_since(headers: &HeaderMap, modified: SystemTime) -> bool {
    let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    // HTTP dates have whole seconds.
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    secs(modified) <= secs(since)
}

/// The characters percent-encoded in a listing's links: controls and those that would end
/// or change the meaning of a path segment in an `href`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\'');

/// An HTML page listing `dir`, which the client reached as `uri_path` (ending in `/`).
fn listing(uri_path: &str, dir: &Path) -> Response<SiteBody> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return status(io_status(&e)),
    };
    let mut names: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            (entry.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect();
    names.sort();
    let title = html_escape(&percent_decode_str(uri_path).decode_utf8_lossy());
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title>\
         </head>\n<body><h1>Index of {title}</h1>\n<ul>\n"
    );
    if uri_path != "/" {
        page.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        let href = utf8_percent_encode(&name, SEGMENT);
        // `./` keeps a name like `javascript:...` a relative path, never a scheme.
        let _ = writeln!(
            page,
            "<li><a href=\"./{href}{slash}\">{}{slash}</a></li>",
            html_escape(&name)
        );
    }
    page.push_str("</ul>\n</body></html>\n");
    let mut response = Response::new(full(page));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn html_escape(text: &str) -> String {
    text.chars().fold(String::with_capacity(text.len()), |mut out, c| {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
        out
    })
}

/// The `Content-Type` for a file name; text in UTF-8.
fn content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream");
    if mime.starts_with("text/") {
        HeaderValue::try_from(format!("{mime}; charset=utf-8"))
            .unwrap_or(HeaderValue::from_static("text/plain"))
    } else {
        HeaderValue::from_static(mime)
    }
}

/// The status for a file-system failure: missing is `404`, not allowed `403`.
fn io_status(e: &io::Error) -> StatusCode {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => StatusCode::NOT_FOUND,
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A short HTML page for a status, or an empty body where none is allowed.
pub(crate) fn status(code: StatusCode) -> Response<SiteBody> {
    let body = if code == StatusCode::NOT_MODIFIED {
        full(String::new())
    } else {
        let reason = code.canonical_reason().unwrap_or("");
        full(format!(
            "<!DOCTYPE html>\n<html><head><title>{} {reason}</title></head>\
             <body><h1>{} {reason}</h1></body></html>\n",
            code.as_u16(),
            code.as_u16()
        ))
    };
    let mut response = Response::new(body);
    *response.status_mut() = code;
    if code != StatusCode::NOT_MODIFIED {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    }
    response
}

fn redirect(to: &str) -> Response<SiteBody> {
    let mut response = status(StatusCode::MOVED_PERMANENTLY);
    if let Ok(location) = HeaderValue::try_from(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `response` as the answer to a `HEAD`: the same headers, `Content-Length` included
/// (unless the response had none, as a `304` has not), and no body.
fn strip_body(response: Response<SiteBody>) -> Response<SiteBody> {
    let length = response.body().size_hint().exact();
    let (mut parts, _) = response.into_parts();
    if parts.status != StatusCode::NOT_MODIFIED
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
        && let Some(length) = length
    {
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, full(Bytes::new()))
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

/// A body of bytes in memory.
pub(crate) fn full(data: impl Into<Bytes>) -> SiteBody {
    Either::Left(Full::new(data.into()))
}

/// The next `count` bytes of `file`: read now when they are few, else as they are sent.
fn file_body(mut file: std::fs::File, count: u64) -> io::Result<SiteBody> {
    if count > SMALL {
        return Ok(Either::Right(FileBody::new(tokio::fs::File::from_std(file), count)));
    }
    let mut data = vec![0; usize::try_from(count).unwrap_or(0)];
    io::Read::read_exact(&mut file, &mut data)?;
    Ok(full(data))
}

/// `left` bytes of an open file, read a chunk at a time as the connection takes them.
pub(crate) struct FileBody {
    file: tokio::fs::File,
    left: u64,
    chunk: BytesMut,
}

impl FileBody {
    fn new(file: tokio::fs::File, left: u64) -> Self {
        Self { file, left, chunk: BytesMut::new() }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.left).unwrap_or(CHUNK).min(CHUNK);
        // Kept across a pending read: the file fills the same chunk when it completes.
        this.chunk.resize(want, 0);
        let mut buf = ReadBuf::new(&mut this.chunk[..want]);
        ready!(Pin::new(&mut this.file).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        if n == 0 {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was being sent",
            ))));
        }
        this.left -= n as u64;
        let data = this.chunk.split_to(n).freeze();
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    /// A site in a fresh directory: `a.txt`, `sub/b.html`, `empty/`, a symbolic link out of
    /// the root and one inside it.
    fn site(tag: &str) -> (Site, PathBuf) {
        let dir = std::env::temp_dir().join(format!("pila-site-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("a.txt"), b"0123456789").unwrap();
        std::fs::write(root.join("sub/b.html"), b"<p>b</p>").unwrap();
        std::fs::write(dir.join("secret"), b"outside").unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("in")).unwrap();
        (Site::new(&root).unwrap(), dir)
    }

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).unwrap()
    }

    async fn body(response: Response<SiteBody>) -> Vec<u8> {
        response.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    #[test]
    fn nothing_outside_the_root_is_reachable() {
        let (site, dir) = site("escape");
        for path in [
            "/../secret",
            "/sub/../../secret",
            "/%2e%2e/secret",
            "/%2E%2E%2Fsecret",
            "/sub/..%2f..%2fsecret",
            "/..",
            "/out",
        ] {
            assert_eq!(site.resolve(path), Err(StatusCode::FORBIDDEN), "{path}");
        }
        // Doubly encoded dots are a plain (missing) name, not a way up.
        assert_eq!(site.resolve("/%252e%252e/secret"), Err(StatusCode::NOT_FOUND));
        assert_eq!(site.resolve("/a%00.txt"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(site.resolve("/%ff"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(site.resolve("/missing"), Err(StatusCode::NOT_FOUND));
        // A link that stays inside the root is followed.
        assert!(site.resolve("/in").unwrap().ends_with("a.txt"));
        run(async {
            // A directory whose index.html is a link out of the root.
            let trap = dir.join("root/trap");
            std::fs::create_dir_all(&trap).unwrap();
            std::os::unix::fs::symlink(dir.join("secret"), trap.join("index.html")).unwrap();
            assert_eq!(site.respond(&get("/trap/")).status(), StatusCode::FORBIDDEN);
            // `//empty` must not redirect to `//empty/`, which names a host.
            let response = site.respond(&get("//empty"));
            assert_eq!(response.headers()[header::LOCATION], "/empty/");
            // A FIFO would block the task that opens it: refused.
            let fifo = dir.join("root/fifo");
            assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
            assert_eq!(site.respond(&get("/fifo")).status(), StatusCode::FORBIDDEN);
        });
        assert!(site.resolve("/./sub//b.html").unwrap().ends_with("sub/b.html"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn files_ranges_heads_and_listings() {
        let (site, dir) = site("serve");
        run(async {
            let response = site.respond(&get("/a.txt"));
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
            assert_eq!(response.headers()[header::CONTENT_LENGTH], "10");
            assert_eq!(body(response).await, b"0123456789");

            let ranged =
                Request::get("/a.txt").header(header::RANGE, "bytes=2-4").body(()).unwrap();
            let response = site.respond(&ranged);
            assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
            assert_eq!(body(response).await, b"234");

            let suffix = Request::get("/a.txt").header(header::RANGE, "bytes=-3").body(()).unwrap();
            assert_eq!(body(site.respond(&suffix)).await, b"789");

            let beyond =
                Request::get("/a.txt").header(header::RANGE, "bytes=20-").body(()).unwrap();
            let response = site.respond(&beyond);
            assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
            assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */10");

            let head = Request::head("/a.txt").body(()).unwrap();
            let response = site.respond(&head);
            assert_eq!(response.headers()[header::CONTENT_LENGTH], "10");
            assert!(body(response).await.is_empty());
            let modified = std::fs::metadata(dir.join("root/a.txt")).unwrap().modified().unwrap();
            let cached_head = Request::head("/a.txt")
                .header(header::IF_MODIFIED_SINCE, httpdate::fmt_http_date(modified))
                .body(())
                .unwrap();
            let response = site.respond(&cached_head);
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
            assert!(
                !response.headers().contains_key(header::CONTENT_LENGTH),
                "a 304 has no length"
            );

            let response = site.respond(&get("/sub"));
            assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
            assert_eq!(response.headers()[header::LOCATION], "/sub/");

            let response = site.respond(&get("/"));
            assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
            let page = String::from_utf8(body(response).await).unwrap();
            for link in ["href=\"./a.txt\"", "href=\"./sub/\"", "href=\"./empty/\""] {
                assert!(page.contains(link), "{link} missing from {page}");
            }
            assert!(!page.contains("../"), "the root has no parent link");

            assert_eq!(site.respond(&get("/nope")).status(), StatusCode::NOT_FOUND);
            assert_eq!(site.respond(&get("/../secret")).status(), StatusCode::FORBIDDEN);
            let post = Request::post("/a.txt").body(()).unwrap();
            assert_eq!(site.respond(&post).status(), StatusCode::METHOD_NOT_ALLOWED);

            let modified = std::fs::metadata(dir.join("root/a.txt")).unwrap().modified().unwrap();
            let cached = Request::get("/a.txt")
                .header(header::IF_MODIFIED_SINCE, httpdate::fmt_http_date(modified))
                .body(())
                .unwrap();
            assert_eq!(site.respond(&cached).status(), StatusCode::NOT_MODIFIED);
        });
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_large_file_streams_whole_and_in_ranges() {
        let (site, dir) = site("large");
        let data: Vec<u8> = (0..3 * SMALL as u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("root/large.bin"), &data).unwrap();
        run(async {
            let response = site.respond(&get("/large.bin"));
            assert!(matches!(response.body(), Either::Right(_)), "a large file is streamed");
            assert_eq!(response.headers()[header::CONTENT_LENGTH], data.len().to_string());
            assert_eq!(body(response).await, data);
            let range = format!("bytes=100000-{}", 100_000 + SMALL * 2);
            let ranged = Request::get("/large.bin").header(header::RANGE, range).body(()).unwrap();
            let response = site.respond(&ranged);
            assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
            let want = &data[100_000..=100_000 + 2 * SMALL as usize];
            assert_eq!(body(response).await, want);
        });
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn content_types_follow_the_file_name() {
        for (name, want) in [
            ("index.html", "text/html; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("pixel.png", "image/png"),
            ("style.css", "text/css; charset=utf-8"),
            ("blob.bin", "application/octet-stream"),
            ("no-extension", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), want, "{name}");
        }
    }
}
