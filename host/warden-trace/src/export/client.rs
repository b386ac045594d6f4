//! The HTTP client the OTLP exporter sends through: warden's own reqwest (rustls, the
//! system's proxies), so export adds no second HTTP stack.
//!
//! Invariant: a request ends within the timeout; no redirect is followed (a collector that
//! redirects is misconfigured, and a redirect would carry the export headers elsewhere);
//! at most [`MAX_RESPONSE_BYTES`] of a response body are read.

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};

/// Most bytes of a collector's response body read (it is only shown in an error).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// See the module docs.
#[derive(Debug, Clone)]
pub(super) struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    pub(super) fn new(timeout: std::time::Duration) -> Result<Self, reqwest::Error> {
        // The process may not have chosen a TLS provider yet (an https collector).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(ReqwestClient { client })
    }
}

/// A failed request as one readable line: the exporter shows its `Debug` form, which for
/// reqwest's own error is a nested struct dump.
struct SendError(String);

impl SendError {
    fn from_chain(e: &dyn std::error::Error) -> HttpError {
        Box::new(SendError(warden_core::report::error_chain(e)))
    }
}

impl std::fmt::Debug for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SendError {}

#[async_trait::async_trait]
impl HttpClient for ReqwestClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let failed = |e: reqwest::Error| SendError::from_chain(&e);
        let request = reqwest::Request::try_from(request).map_err(failed)?;
        let mut response = self.client.execute(request).await.map_err(failed)?;
        let status = response.status();
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_BYTES
            && let Some(chunk) = response.chunk().await.map_err(failed)?
        {
            let room = MAX_RESPONSE_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok(Response::builder().status(status).body(Bytes::from(body))?)
    }
}
