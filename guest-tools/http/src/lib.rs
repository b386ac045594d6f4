//! The `http_fetch` tool: one GET or POST through the host's outgoing HTTP (wasi-http), which
//! applies the operator's egress policy.
//!
//! Invariant: the response body returned is at most `max_body_bytes`, `truncated` says when
//! there was more, and a request the host refuses becomes a `failed` error telling the model
//! which host was refused and that only the operator can allow it.

mod body;
mod errors;
mod transport;
mod url;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use warden_tool::{ToolError, tool};

/// Largest `max_body_bytes` accepted.
const BODY_LIMIT: u64 = 1 << 20;
/// Longest `timeout_ms` accepted.
const TIMEOUT_LIMIT_MS: u64 = 120_000;

fn default_max_body_bytes() -> u64 {
    64 * 1024
}
fn default_timeout_ms() -> u64 {
    30_000
}
fn default_return_headers() -> Vec<String> {
    vec!["content-type".into(), "location".into()]
}

/// The HTTP method.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// Fetch a resource (no request body).
    #[default]
    #[serde(alias = "get")]
    Get,
    /// Send `body` to the resource.
    #[serde(alias = "post")]
    Post,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Arguments of `http_fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// An absolute http or https URL.
    pub url: String,
    /// "GET" (default) or "POST".
    #[serde(default)]
    pub method: Method,
    /// Request headers, name to value (e.g. {"accept": "application/json"}).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request body (POST only), sent as UTF-8 with a Content-Length.
    #[serde(default)]
    pub body: Option<String>,
    /// Most response body bytes to return (1 to 1048576, default 65536).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Response headers to return, by name (default ["content-type", "location"]).
    #[serde(default = "default_return_headers")]
    pub return_headers: Vec<String>,
    /// Give up after this many milliseconds without a connection or a response (default
    /// 30000, at most 120000). The host may enforce a shorter limit.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// Output of `http_fetch`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct FetchOutput {
    /// The HTTP status code.
    pub status: u16,
    /// The requested response headers that were present (lower-case names; repeated
    /// headers joined with ", ").
    pub headers: BTreeMap<String, String>,
    /// The response body as text (invalid UTF-8 replaced by U+FFFD), cut at `max_body_bytes`.
    pub body: String,
    /// True when the body went on after `max_body_bytes`.
    pub truncated: bool,
}

/// Fetches a URL with GET, or POSTs a body to it, and returns the status, selected response
/// headers and the body (cut at max_body_bytes, default 64 KiB).
///
/// Only hosts the operator allowed can be reached; a refused host is reported as such.
#[tool(output)]
pub fn http_fetch(args: FetchArgs) -> Result<FetchOutput, ToolError> {
    let request = transport::Request::from_args(&args)?;
    let output = transport::send(&request)?;
    warden_tool::log::debug!(
        "{} {} -> {} ({} body bytes{})",
        args.method.as_str(),
        args.url,
        output.status,
        output.body.len(),
        if output.truncated { ", truncated" } else { "" }
    );
    Ok(output)
}

warden_tool::export_tools!(http_fetch);

fn check_limits(args: &FetchArgs) -> Result<(), ToolError> {
    if args.max_body_bytes == 0 || args.max_body_bytes > BODY_LIMIT {
        return Err(ToolError::invalid_args(format!(
            "max_body_bytes must be from 1 to {BODY_LIMIT}, got {}",
            args.max_body_bytes
        )));
    }
    if args.timeout_ms == 0 || args.timeout_ms > TIMEOUT_LIMIT_MS {
        return Err(ToolError::invalid_args(format!(
            "timeout_ms must be from 1 to {TIMEOUT_LIMIT_MS}, got {}",
            args.timeout_ms
        )));
    }
    if args.method == Method::Get && args.body.is_some() {
        return Err(ToolError::invalid_args(
            "a GET request has no body; use method \"POST\" to send one",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(json: &str) -> FetchArgs {
        warden_tool::serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_are_a_get_with_64_kib_and_two_headers() {
        let a = args(r#"{"url":"http://127.0.0.1/"}"#);
        assert_eq!(a.method, Method::Get);
        assert_eq!(a.max_body_bytes, 65536);
        assert_eq!(a.return_headers, vec!["content-type", "location"]);
        assert!(check_limits(&a).is_ok());
    }

    #[test]
    fn methods_accept_either_case() {
        assert_eq!(
            args(r#"{"url":"http://h/","method":"post"}"#).method,
            Method::Post
        );
        assert_eq!(
            args(r#"{"url":"http://h/","method":"POST"}"#).method,
            Method::Post
        );
    }

    #[test]
    fn a_get_with_a_body_is_refused() {
        let err = check_limits(&args(r#"{"url":"http://h/","body":"x"}"#)).unwrap_err();
        assert!(err.message().contains("use method \"POST\""));
    }

    #[test]
    fn limits_out_of_range_are_invalid_args() {
        let err = check_limits(&args(r#"{"url":"http://h/","max_body_bytes":0}"#)).unwrap_err();
        assert!(matches!(err, ToolError::InvalidArgs(m) if m.contains("max_body_bytes")));
        let err = check_limits(&args(r#"{"url":"http://h/","timeout_ms":999999}"#)).unwrap_err();
        assert!(matches!(err, ToolError::InvalidArgs(m) if m.contains("timeout_ms")));
    }
}
