//! The errors of the LLM interface.
//!
//! Invariant: no variant ever carries the API key. Messages quoted from a provider are
//! scrubbed of the key before they are stored here (see `adapter::scrub`), and no variant
//! holds request headers. Each variant's doc says whether the core retries it.

use std::time::Duration;

use warden_core::run::{ModelFailure, ModelFailureKind};

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Establishing the TCP (and TLS) connection.
    Connect,
    /// The whole non-streaming request, or the wait for a stream's response headers.
    Request,
    /// The gap between two events of a stream.
    Idle,
    /// A whole stream, from its response headers to its end.
    Stream,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Request => "request",
            TimeoutPhase::Idle => "idle",
            TimeoutPhase::Stream => "stream",
        })
    }
}

/// Which size cap a response exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SizeCap {
    /// A whole non-streamed body.
    Body,
    /// One stream event (all its lines, or one endless line).
    Event,
    /// A whole stream.
    Stream,
}

impl SizeCap {
    /// The field of `ResponseLimits` that sets this cap.
    pub fn setting(self) -> &'static str {
        match self {
            SizeCap::Body => "max_body_bytes",
            SizeCap::Event => "max_event_bytes",
            SizeCap::Stream => "max_stream_bytes",
        }
    }
}

impl std::fmt::Display for SizeCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SizeCap::Body => "a response body",
            SizeCap::Event => "one stream event",
            SizeCap::Stream => "a whole stream",
        })
    }
}

/// Everything that can go wrong talking to a model provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// 401/403: the key is missing, wrong or lacks permission. Never retried.
    #[error("{status} from {url}: the API key was rejected; set {env_var}{}", provider_suffix(.message))]
    Auth {
        /// The HTTP status (401 or 403).
        status: u16,
        /// The URL requested.
        url: String,
        /// The environment variable the key is read from, to name in the fix.
        env_var: String,
        /// The provider's own message, if its body had one (scrubbed of the key).
        message: Option<String>,
    },

    /// 400/404/422 (and other 4xx not listed as transient): the request itself is wrong.
    /// Never retried: sending it again gives the same answer.
    #[error("{status} from {url}: the provider rejected the request: {message}")]
    BadRequest {
        /// The HTTP status.
        status: u16,
        /// The URL requested.
        url: String,
        /// The provider's message, or the body's excerpt when it had none.
        message: String,
    },

    /// 429 still answered after the retry policy was exhausted (or a rate-limit error event).
    /// The core has already retried; the caller may try again later.
    #[error("429 from {url}: rate limited after {attempts} attempt(s){}: {message}", retry_after_suffix(.retry_after))]
    RateLimited {
        /// The URL requested.
        url: String,
        /// Attempts made, the first included.
        attempts: u32,
        /// The last wait the server asked for, if it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },

    /// 5xx, 408, 409 or 529 (overloaded) after the retry policy was exhausted, or a
    /// server-side error event in a stream. Retried by the core while the policy allows.
    #[error("{status} from {url}: server error after {attempts} attempt(s): {message}")]
    Server {
        /// The HTTP status of the last attempt.
        status: u16,
        /// The URL requested.
        url: String,
        /// Attempts made, the first included.
        attempts: u32,
        /// The provider's message.
        message: String,
    },

    /// A timeout fired. Retried by the core (streams: only before any event reached the caller).
    #[error("{phase} timeout after {after:?} talking to {url}")]
    Timeout {
        /// Which timeout fired.
        phase: TimeoutPhase,
        /// The URL requested.
        url: String,
        /// The configured limit that elapsed.
        after: Duration,
    },

    /// The server asked to wait longer before another attempt than `retry.max_retry_after_ms`
    /// allows (or longer than can be represented). Not retried by the core; the caller may
    /// try again later.
    #[error(
        "{status} from {url}: the server asked to wait {value:?} ({header}) before another attempt, \
         more than the {cap:?} warden waits; try again later, or raise retry.max_retry_after_ms \
         ([model.retry] in the agent file) if the wait is expected"
    )]
    RetryAfterTooLong {
        /// The HTTP status that came with the demand (429, 503...).
        status: u16,
        /// The URL requested.
        url: String,
        /// The header that asked: `Retry-After` or `retry-after-ms`.
        header: &'static str,
        /// Its value as sent (shortened).
        value: String,
        /// The longest wait allowed (`retry.max_retry_after_ms`).
        cap: Duration,
    },

    /// A response body or stream exceeded one of the size caps. Not retried: a server that
    /// sends this much once is likely to do it again.
    #[error(
        "the response from {url} exceeded the {limit}-byte cap on {what}; raise \
         response_limits.{} ([model.response_limits] in the agent file) if the server is trusted",
        what.setting()
    )]
    ResponseTooLarge {
        /// The URL requested.
        url: String,
        /// Which cap was exceeded.
        what: SizeCap,
        /// The cap, in bytes.
        limit: u64,
    },

    /// The connection could not be made or broke before a response. Retried by the core.
    #[error("connection to {url} failed: {detail}")]
    Connection {
        /// The URL requested.
        url: String,
        /// The underlying error chain.
        detail: String,
    },

    /// The stream ended or broke before its end marker. Retried by the core only if no
    /// event had reached the caller yet; never replayed after partial delivery.
    #[error("the stream from {url} was cut: {detail}")]
    StreamCut {
        /// The URL requested.
        url: String,
        /// What broke, or that the end marker never came.
        detail: String,
    },

    /// The provider answered something we cannot read (malformed JSON, missing fields,
    /// no choices). Not retried.
    #[error("invalid response from {url} ({context}): {detail}")]
    InvalidResponse {
        /// The URL requested.
        url: String,
        /// What was being read (a response body, an event type, SSE framing).
        context: String,
        /// What was wrong with it.
        detail: String,
    },

    /// The server answered with something that is not the JSON (or event stream) asked
    /// for: an HTML error page from a proxy or gateway, plain text, an empty body, or a body
    /// compressed with a `Content-Encoding` warden never asked for and cannot decode (any
    /// status, streamed or not). `excerpt` is a short, sanitised piece of the body (the
    /// page's `<title>` when it has one; empty for a compressed body). Retried, like the
    /// status it came with, only when that status is transient (5xx, 408, 409, 429, 529):
    /// a gateway's 502 page may pass, a 200 HTML page from a captive portal or a
    /// misconfigured base URL will not.
    #[error("{}", non_json_message(.url, *.status, .content_type.as_deref(), .content_encoding.as_deref(), .excerpt, *.attempts))]
    NonJson {
        /// The URL requested.
        url: String,
        /// The HTTP status it came with.
        status: u16,
        /// The `Content-Type` header as sent (shortened), if any.
        content_type: Option<String>,
        /// The `Content-Encoding` header as sent (shortened), if any.
        content_encoding: Option<String>,
        /// A short, sanitised piece of the body (its `<title>` when it has one).
        excerpt: String,
        /// Attempts made, the first included.
        attempts: u32,
    },

    /// A successful (2xx) response whose body or stream carried the provider's error
    /// object instead of an answer: OpenAI `data: {"error": {...}}`, Anthropic
    /// `event: error`. Its type and message are reported as sent (no HTTP status is made
    /// up). Retried by the core (before any event reached the caller) only for transient
    /// types: overloaded, rate-limit and server errors (see [`LlmError::is_retryable`]).
    #[error("the response from {url} reported an error ({}): {message}", if .error_type.is_empty() { "no type given" } else { .error_type.as_str() })]
    InBand {
        /// The URL requested.
        url: String,
        /// The provider's error type (OpenAI `code` or `type`, Anthropic `error.type`).
        error_type: String,
        /// The provider's message.
        message: String,
    },

    /// The output was cut: the stream ended without a finish event, or the model hit its
    /// token limit while a tool call's arguments were incomplete. Not retried by the core
    /// (the same request would be cut again); the caller may raise `max_tokens`.
    #[error("the response was truncated: {detail}")]
    Truncated {
        /// Where the output was cut.
        detail: String,
    },

    /// No API key in the configuration nor in the environment. Not retried.
    #[error("no API key for {provider}: set {env_var} or `api_key` in the provider config")]
    MissingKey {
        /// The provider's name (`openai`, `anthropic`).
        provider: String,
        /// The environment variable the key was looked for in.
        env_var: String,
    },

    /// The provider configuration is unusable (bad base URL, zero limits...). Not retried.
    #[error("invalid provider configuration: {0}")]
    Config(String),

    /// A request's model settings cannot be sent to this provider; nothing was sent.
    /// Not retried.
    #[error("model setting `{name}`: {0}", name = .0.setting())]
    Options(#[from] super::options::OptionsError),
}

fn provider_suffix(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(" (provider said: {m})"),
        _ => String::new(),
    }
}

fn non_json_message(
    url: &str,
    status: u16,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    excerpt: &str,
    attempts: u32,
) -> String {
    let mut s = format!(
        "non-JSON response from {url} (content-type {}",
        content_type.unwrap_or("not given")
    );
    if let Some(encoding) = content_encoding {
        s.push_str(&format!(", content-encoding {encoding}"));
    }
    s.push_str(&format!(", status {status})"));
    if attempts > 1 {
        s.push_str(&format!(" after {attempts} attempts"));
    }
    match content_encoding {
        Some(encoding) => s.push_str(&format!(
            ": the body is encoded with {encoding}, which warden did not ask for and cannot decode"
        )),
        None if excerpt.is_empty() => s.push_str(": the body is empty"),
        None => s.push_str(&format!(": {excerpt}")),
    }
    s
}

/// Error types a provider puts in a stream or a 2xx body that are worth another attempt.
fn is_transient_type(error_type: &str) -> bool {
    matches!(
        error_type,
        "overloaded_error"
            | "api_error"
            | "server_error"
            | "internal_server_error"
            | "service_unavailable"
            | "timeout"
            | "rate_limit_error"
            | "rate_limit_exceeded"
            | "tokens"
            | "requests"
    )
}

fn retry_after_suffix(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (last Retry-After {d:?})"),
        None => String::new(),
    }
}

impl LlmError {
    /// Whether the failure is transient: trying the same request again later may succeed.
    /// The core already retries these within its policy; this tells the caller whether
    /// a later attempt (e.g. a resumed run) makes sense.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::RateLimited { .. }
            | LlmError::RetryAfterTooLong { .. }
            | LlmError::Server { .. }
            | LlmError::Timeout { .. }
            | LlmError::Connection { .. }
            | LlmError::StreamCut { .. } => true,
            LlmError::NonJson { status, .. } => super::retry::is_retryable_status(*status),
            LlmError::InBand { error_type, .. } => is_transient_type(error_type),
            _ => false,
        }
    }

    /// The HTTP status behind the error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Auth { status, .. }
            | LlmError::BadRequest { status, .. }
            | LlmError::Server { status, .. }
            | LlmError::RetryAfterTooLong { status, .. }
            | LlmError::NonJson { status, .. } => Some(*status),
            LlmError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The typed failure the agent loop is told about: its kind, the status and the message.
    pub fn failure(&self) -> ModelFailure {
        let kind = match self {
            LlmError::Auth { .. } | LlmError::MissingKey { .. } => ModelFailureKind::Auth,
            LlmError::BadRequest { .. } => ModelFailureKind::BadRequest,
            LlmError::RateLimited { .. } | LlmError::RetryAfterTooLong { .. } => {
                ModelFailureKind::RateLimited
            }
            LlmError::Server { .. } => ModelFailureKind::Server,
            LlmError::Timeout { .. } => ModelFailureKind::Timeout,
            LlmError::Connection { .. } | LlmError::StreamCut { .. } => {
                ModelFailureKind::Connection
            }
            LlmError::ResponseTooLarge { .. } => ModelFailureKind::TooLarge,
            LlmError::InvalidResponse { .. }
            | LlmError::Truncated { .. }
            | LlmError::NonJson { .. } => ModelFailureKind::InvalidResponse,
            // An error object inside a successful response: the provider's own failure.
            LlmError::InBand { error_type, .. } if error_type.contains("rate_limit") => {
                ModelFailureKind::RateLimited
            }
            LlmError::InBand { .. } => ModelFailureKind::Server,
            LlmError::Config(_) | LlmError::Options(_) => ModelFailureKind::Config,
        };
        ModelFailure {
            kind,
            status: self.status(),
            message: self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_message_names_the_url_and_env_var() {
        let e = LlmError::Auth {
            status: 401,
            url: "http://127.0.0.1:1/v1/chat/completions".into(),
            env_var: "OPENAI_API_KEY".into(),
            message: None,
        };
        assert_eq!(
            e.to_string(),
            "401 from http://127.0.0.1:1/v1/chat/completions: the API key was rejected; set OPENAI_API_KEY"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn transient_errors_are_retryable_and_client_errors_are_not() {
        let t = LlmError::Timeout {
            phase: TimeoutPhase::Idle,
            url: "u".into(),
            after: Duration::from_secs(1),
        };
        assert!(t.is_retryable());
        let b = LlmError::BadRequest {
            status: 400,
            url: "u".into(),
            message: "bad".into(),
        };
        assert!(!b.is_retryable());
        assert_eq!(b.status(), Some(400));
        assert!(!LlmError::Truncated { detail: "x".into() }.is_retryable());
    }

    #[test]
    fn a_failure_keeps_its_kind_and_status_for_the_loop() {
        let e = LlmError::Server {
            status: 503,
            url: "u".into(),
            attempts: 3,
            message: "overloaded".into(),
        };
        let failure = e.failure();
        assert_eq!(failure.kind, ModelFailureKind::Server);
        assert_eq!(failure.status, Some(503));
        assert_eq!(failure.message, e.to_string());
        let timeout = LlmError::Timeout {
            phase: TimeoutPhase::Connect,
            url: "u".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(timeout.failure().kind, ModelFailureKind::Timeout);
        assert_eq!(timeout.failure().status, None);
    }
}
