//! The errors of the LLM interface.
//!
//! Invariant: no variant ever carries the API key. Messages quoted from a provider are
//! scrubbed of the key before they are stored here (see `adapter::scrub`), and no variant
//! holds request headers. Each variant's doc says whether the core retries it.

use std::time::Duration;

use warden_core::run::{ModelFailure, ModelFailureKind};

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
pub enum LlmError {
    /// 401/403: the key is missing, wrong or lacks permission. Never retried.
    #[error("{status} from {url}: the API key was rejected; set {env_var}{}", provider_suffix(.message))]
    Auth {
        status: u16,
        url: String,
        env_var: String,
        message: Option<String>,
    },

    /// 400/404/422 (and other 4xx not listed as transient): the request itself is wrong.
    /// Never retried: sending it again gives the same answer.
    #[error("{status} from {url}: the provider rejected the request: {message}")]
    BadRequest {
        status: u16,
        url: String,
        message: String,
    },

    /// 429 still answered after the retry policy was exhausted (or a rate-limit error event).
    /// The core has already retried; the caller may try again later.
    #[error("429 from {url}: rate limited after {attempts} attempt(s){}: {message}", retry_after_suffix(.retry_after))]
    RateLimited {
        url: String,
        attempts: u32,
        retry_after: Option<Duration>,
        message: String,
    },

    /// 5xx, 408, 409 or 529 (overloaded) after the retry policy was exhausted, or a
    /// server-side error event in a stream. Retried by the core while the policy allows.
    #[error("{status} from {url}: server error after {attempts} attempt(s): {message}")]
    Server {
        status: u16,
        url: String,
        attempts: u32,
        message: String,
    },

    /// A timeout fired. Retried by the core (streams: only before any event reached the caller).
    #[error("{phase} timeout after {after:?} talking to {url}")]
    Timeout {
        phase: TimeoutPhase,
        url: String,
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
        status: u16,
        url: String,
        /// The header that asked: `Retry-After` or `retry-after-ms`.
        header: &'static str,
        /// Its value as sent (shortened).
        value: String,
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
        url: String,
        what: SizeCap,
        limit: u64,
    },

    /// The connection could not be made or broke before a response. Retried by the core.
    #[error("connection to {url} failed: {detail}")]
    Connection { url: String, detail: String },

    /// The stream ended or broke before its end marker. Retried by the core only if no
    /// event had reached the caller yet; never replayed after partial delivery.
    #[error("the stream from {url} was cut: {detail}")]
    StreamCut { url: String, detail: String },

    /// The provider answered something we cannot read (malformed JSON, missing fields,
    /// no choices). Not retried.
    #[error("invalid response from {url} ({context}): {detail}")]
    InvalidResponse {
        url: String,
        context: String,
        detail: String,
    },

    /// The output was cut: the stream ended without a finish event, or the model hit its
    /// token limit while a tool call's arguments were incomplete. Not retried by the core
    /// (the same request would be cut again); the caller may raise `max_tokens`.
    #[error("the response was truncated: {detail}")]
    Truncated { detail: String },

    /// No API key in the configuration nor in the environment. Not retried.
    #[error("no API key for {provider}: set {env_var} or `api_key` in the provider config")]
    MissingKey { provider: String, env_var: String },

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
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::RetryAfterTooLong { .. }
                | LlmError::Server { .. }
                | LlmError::Timeout { .. }
                | LlmError::Connection { .. }
                | LlmError::StreamCut { .. }
        )
    }

    /// The HTTP status behind the error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Auth { status, .. }
            | LlmError::BadRequest { status, .. }
            | LlmError::Server { status, .. }
            | LlmError::RetryAfterTooLong { status, .. } => Some(*status),
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
            LlmError::InvalidResponse { .. } | LlmError::Truncated { .. } => {
                ModelFailureKind::InvalidResponse
            }
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
