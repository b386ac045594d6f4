//! A tiny HTTP/1.1 server on 127.0.0.1 for the egress tests: counts accepted connections and
//! records every request, so a test can prove that a denied request never connected.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;

type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub path: String,
    pub body: Bytes,
}

/// The running server; it stops when the test's runtime ends.
pub struct TestServer {
    pub addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    /// Binds 127.0.0.1 on a free port and serves the routes of [`route`].
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (accepts2, seen2) = (accepts.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepts2.fetch_add(1, Ordering::SeqCst);
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| route(req, seen.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            accepts,
            seen,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn full(bytes: impl Into<Bytes>) -> UnsyncBoxBody<Bytes, Infallible> {
    Full::new(bytes.into()).boxed_unsync()
}

/// `/hello` 200 with a header; `/echo` returns the request body; `/redirect` 302 elsewhere;
/// `/trickle` one byte every 50 ms forever; `/big` 2 MiB in chunks; `/hang` never answers.
async fn route(req: Request<Incoming>, seen: Arc<Mutex<Vec<Seen>>>) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    seen.lock().unwrap().push(Seen {
        method: parts.method.clone(),
        path: path.clone(),
        body: body.clone(),
    });
    let reply = match path.as_str() {
        "/hello" => Response::builder()
            .header("x-test", "round-trip")
            .body(full("hello world")),
        "/echo" => Response::builder().body(full(body)),
        "/redirect" => Response::builder()
            .status(302)
            .header("location", "http://evil.example/stolen")
            .body(full("")),
        "/trickle" => {
            let drip = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Ok(Frame::data(Bytes::from_static(b"x"))), ()))
            });
            Response::builder().body(StreamBody::new(drip).boxed_unsync())
        }
        "/big" => {
            let chunk = Bytes::from(vec![b'a'; 64 * 1024]);
            let chunks =
                futures::stream::iter((0..32).map(move |_| Ok(Frame::data(chunk.clone()))));
            Response::builder().body(StreamBody::new(chunks).boxed_unsync())
        }
        "/hang" => std::future::pending().await,
        _ => Response::builder().status(404).body(full("no such route")),
    };
    Ok(reply.unwrap())
}
