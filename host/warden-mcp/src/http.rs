//! Streamable HTTP: one endpoint (`/mcp`), rmcp's service behind a bearer-token check.
//!
//! Invariant: a server bound to a non-loopback address exists only with an explicit
//! opt-in AND a bearer token ([`check_bind`]); with a token set, every request without it
//! gets `401` before reaching MCP. rmcp's `Host` check guards loopback servers against DNS
//! rebinding; request bodies are capped at [`MAX_MESSAGE_BYTES`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use http::StatusCode;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{MAX_MESSAGE_BYTES, McpServer, ServeError};

/// How the HTTP endpoint is exposed.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Required as `Authorization: Bearer <token>` on every request, if set.
    pub bearer_token: Option<String>,
    /// The operator asked to bind a non-loopback address (needs a token too).
    pub allow_remote: bool,
}

/// Refuses a bind the options do not allow: a non-loopback address needs `allow_remote`
/// and a bearer token.
pub fn check_bind(addr: SocketAddr, options: &HttpOptions) -> Result<(), ServeError> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if !options.allow_remote {
        return Err(ServeError::Bind(format!(
            "{addr} is not a loopback address: serving MCP beyond this machine needs \
             --allow-remote and a bearer token (WARDEN_MCP_TOKEN)"
        )));
    }
    if options.bearer_token.as_deref().is_none_or(str::is_empty) {
        return Err(ServeError::Bind(format!(
            "binding {addr} (beyond loopback) needs a bearer token: set WARDEN_MCP_TOKEN"
        )));
    }
    Ok(())
}

/// The `/mcp` router for `server`, bound at `addr`.
pub fn router(
    server: McpServer,
    addr: SocketAddr,
    options: &HttpOptions,
    stop: CancellationToken,
) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(stop)
        .with_max_request_body_bytes(MAX_MESSAGE_BYTES);
    if !addr.ip().is_loopback() {
        // Reached by address from elsewhere: the bearer token guards it, not the Host header.
        config = config.disable_allowed_hosts();
    }
    let service: StreamableHttpService<McpServer, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let token: Option<Arc<str>> = options
        .bearer_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(Arc::from);
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(token, require_token))
}

/// Serves `server` on `listener` until `stop` is cancelled.
pub async fn serve(
    server: McpServer,
    listener: TcpListener,
    options: HttpOptions,
    stop: CancellationToken,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|e| ServeError::Transport {
        message: e.to_string(),
    })?;
    check_bind(addr, &options)?;
    let app = router(server, addr, &options, stop.child_token());
    // Without TCP_NODELAY a response written in two pieces waits for the client's delayed
    // ACK (~40 ms per call on loopback); a failure to set it only costs that latency.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled_owned().await })
        .await
        .map_err(|e| ServeError::Transport {
            message: e.to_string(),
        })
}

async fn require_token(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = token {
        let given = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(http::header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required (Authorization: Bearer <token>)",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Compares without an early exit, so timing does not reveal a prefix of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_binds_without_opt_in_and_token() {
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let remote: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_bind(local, &HttpOptions::default()).is_ok());
        assert!(check_bind(remote, &HttpOptions::default()).is_err());
        let no_token = HttpOptions {
            allow_remote: true,
            bearer_token: None,
        };
        assert!(
            check_bind(remote, &no_token)
                .unwrap_err()
                .to_string()
                .contains("WARDEN_MCP_TOKEN")
        );
        let both = HttpOptions {
            allow_remote: true,
            bearer_token: Some("s3cret".into()),
        };
        assert!(check_bind(remote, &both).is_ok());
        let token_only = HttpOptions {
            allow_remote: false,
            bearer_token: Some("s3cret".into()),
        };
        assert!(check_bind(remote, &token_only).is_err());
    }

    #[test]
    fn token_comparison_needs_the_whole_token() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
