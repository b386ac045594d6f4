//! OTLP/HTTP collectors on loopback for tests (feature `testing`): one that decodes the real
//! protobuf (`ExportTraceServiceRequest`) and answers as a collector does, one that accepts
//! connections and never answers, and a port with nothing listening.
//!
//! Invariant: everything binds 127.0.0.1 only. Test code: a failure to bind panics.
#![expect(
    clippy::unwrap_used,
    reason = "test support: failing loudly is the point"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

/// The OTLP protobuf types, to read what a [`Collector`] received.
pub use opentelemetry_proto as proto;

/// What the collector got: the raw bodies and their decoded requests.
#[derive(Default)]
struct Received {
    bodies: Vec<Vec<u8>>,
    requests: Vec<ExportTraceServiceRequest>,
}

/// A collector decoding what it receives.
pub struct Collector {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
}

impl Collector {
    /// Starts a collector answering `POST /v1/traces` (on the current tokio runtime).
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let app = Router::new()
            .route("/v1/traces", post(export))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { addr, received }
    }

    /// The traces URL to export to.
    pub fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// The decoded export requests, in order.
    pub fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.received.lock().unwrap().requests.clone()
    }

    /// The raw request bodies, in order.
    pub fn raw_bodies(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().bodies.clone()
    }
}

async fn export(
    State(received): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    let proto = [(header::CONTENT_TYPE, "application/x-protobuf")];
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-protobuf")
    {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, proto, Vec::new());
    }
    let Ok(request) = ExportTraceServiceRequest::decode(body.as_ref()) else {
        return (StatusCode::BAD_REQUEST, proto, Vec::new());
    };
    let mut received = received.lock().unwrap();
    received.bodies.push(body.to_vec());
    received.requests.push(request);
    let response = ExportTraceServiceResponse::default().encode_to_vec();
    (StatusCode::OK, proto, response)
}

/// A collector that accepts connections, reads nothing and never answers.
pub struct Hanging {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Hanging {
    /// Starts it (on the current tokio runtime).
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Hanging { addr, connections }
    }

    /// The traces URL to export to.
    pub fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
