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
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wasmtime_wasi_http::io::TokioIo;

type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub path: String,
    pub body: Bytes,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// The running server; it stops when the test's runtime ends.
pub struct TestServer {
    pub addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    sni: Arc<Mutex<Vec<String>>>,
}

/// The test CA (DER) that signed the `tls.test` certificate of [`TestServer::start_tls`].
pub const TEST_CA: &[u8] = include_bytes!("tls/ca.der");

fn tls_acceptor() -> TlsAcceptor {
    let cert = CertificateDer::from(include_bytes!("tls/leaf.der").to_vec());
    let key = PrivatePkcs8KeyDer::from(include_bytes!("tls/leaf.key.der").to_vec());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key.into())
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

impl TestServer {
    /// Binds 127.0.0.1 on a free port and serves the routes of [`route`] over plain HTTP.
    pub async fn start() -> TestServer {
        Self::start_with(None).await
    }

    /// The same over HTTPS with a certificate for `tls.test` signed by [`TEST_CA`].
    pub async fn start_tls() -> TestServer {
        Self::start_with(Some(tls_acceptor())).await
    }

    async fn start_with(tls: Option<TlsAcceptor>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = TestServer {
            addr: listener.local_addr().unwrap(),
            accepts: Arc::new(AtomicUsize::new(0)),
            seen: Arc::new(Mutex::new(Vec::new())),
            sni: Arc::new(Mutex::new(Vec::new())),
        };
        let (accepts, seen, sni) = (
            server.accepts.clone(),
            server.seen.clone(),
            server.sni.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepts.fetch_add(1, Ordering::SeqCst);
                let (seen, sni, tls) = (seen.clone(), sni.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, seen).await,
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            let name = stream.get_ref().1.server_name().unwrap_or_default();
                            sni.lock().unwrap().push(name.to_string());
                            serve(stream, seen).await;
                        }
                    }
                });
            }
        });
        server
    }

    /// Server names the TLS clients sent (SNI), one per handshake.
    pub fn sni(&self) -> Vec<String> {
        self.sni.lock().unwrap().clone()
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

async fn serve<S>(stream: S, seen: Arc<Mutex<Vec<Seen>>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| route(req, seen.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
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
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
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
        // Echoes the Authorization header in a header and in a body split mid-value.
        "/v1/echo-auth" => {
            let auth = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let text = format!("you sent: {auth}.");
            let (a, b) = text.split_at(text.len() / 2 + 3);
            let frames =
                [a.to_string(), b.to_string()].map(|part| Ok(Frame::data(Bytes::from(part))));
            Response::builder()
                .header("x-echo", auth)
                .body(StreamBody::new(futures::stream::iter(frames)).boxed_unsync())
        }
        _ => Response::builder().status(404).body(full("no such route")),
    };
    Ok(reply.unwrap())
}
