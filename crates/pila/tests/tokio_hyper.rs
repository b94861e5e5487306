//! hyper 1.x, unmodified, serving and fetching over `pila::tokio` streams through
//! hyper-util's `TokioIo`, on two stacks joined by a `VirtualWire`.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pila::device::{Impairments, VirtualWire, WireConfig};
use pila::tokio::{Stack, TcpListener, TcpStream};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::time::Duration;

/// What the server answers: `/big` is 16 MiB of seeded bytes, anything else echoes the path.
async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = if req.uri().path() == "/big" {
        big()
    } else {
        Bytes::from(format!("you asked for {}", req.uri().path()))
    };
    Ok(Response::new(Full::new(body)))
}

fn big() -> Bytes {
    let mut data = vec![0u8; 16 << 20];
    pila::rand::Rng::new(3).fill(&mut data);
    Bytes::from(data)
}

fn hosts(config: WireConfig) -> (Stack, Stack) {
    let (a, b) = VirtualWire::pair(config);
    let a = Stack::builder().device(a).address("192.0.2.1/24").build_tokio().unwrap();
    let b = Stack::builder().device(b).address("192.0.2.2/24").build_tokio().unwrap();
    (a, b)
}

async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(
            http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(answer)),
        );
    }
}

/// Three requests on one keep-alive connection, the last 16 MiB, with hyper on both ends.
async fn keep_alive_exchange(a: &Stack) {
    let stream = TcpStream::connect(a, "192.0.2.2:80").await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    for path in ["/one", "/two", "/big"] {
        let request =
            Request::get(path).header("host", "192.0.2.2").body(Empty::<Bytes>::new()).unwrap();
        // The connection takes the next request once it has finished the last one.
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if path == "/big" {
            assert_eq!(Sha256::digest(&body), Sha256::digest(big()), "the 16 MiB body differs");
        } else {
            assert_eq!(body, format!("you asked for {path}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_serves_and_fetches_over_pila() {
    let test = async {
        let (a, b) = hosts(WireConfig::default());
        let listener = TcpListener::bind(&b, "192.0.2.2:80").await.unwrap();
        tokio::spawn(serve(listener));
        keep_alive_exchange(&a).await;
    };
    tokio::time::timeout(Duration::from_secs(60), test).await.expect("hyper over pila hung");
}

#[tokio::test(flavor = "current_thread")]
async fn hyper_over_pila_on_one_thread_through_loss() {
    let test = async {
        let lossy = Impairments { loss: 0.02, reorder: 0.01, seed: 4, ..Impairments::NONE };
        let (a, b) = hosts(WireConfig::default().with_impairments(lossy));
        let listener = TcpListener::bind(&b, "192.0.2.2:80").await.unwrap();
        tokio::spawn(serve(listener));
        keep_alive_exchange(&a).await;
    };
    tokio::time::timeout(Duration::from_secs(60), test).await.expect("hyper over pila hung");
}
