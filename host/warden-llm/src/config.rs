//! Provider configuration: which wire format, where, with which key, timeouts, retry
//! policy and client-side rate limits. Deserialised from the agent's TOML.
//!
//! Invariant: the API key lives only in an [`ApiKey`], whose `Debug` and `Display` print
//! `[redacted]`; the raw key is reachable only through `ApiKey::expose`, crate-private.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::LlmError;

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderKind {
    /// OpenAI Chat Completions; also any OpenAI-compatible server (Ollama, vLLM, llama.cpp).
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

impl ProviderKind {
    /// The provider's public endpoint, used when no base URL is configured.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Openai => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }

    /// The environment variable the key is read from by default.
    pub fn default_key_env(self) -> &'static str {
        match self {
            ProviderKind::Openai => "OPENAI_API_KEY",
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        }
    }

    /// Lower-case name, as in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

/// An API key. Printing it (`{:?}` or `{}`) shows `[redacted]`; serialising it is refused
/// by skipping, so a config written back never contains it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The raw key, for the authentication header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Timeouts, in milliseconds in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// TCP + TLS connection establishment, in ms (default 10 000).
    pub connect_ms: u64,
    /// A whole non-streaming request; for a stream, the wait for response headers. In ms
    /// (default 600 000: ten minutes).
    pub request_ms: u64,
    /// The longest gap allowed between two stream events, in ms (default 120 000).
    pub idle_ms: u64,
    /// The longest a stream may last, from its response headers to its end: a server that
    /// keeps sending pings or empty events cannot hold a run past it. In ms (default
    /// 1 800 000: thirty minutes).
    pub stream_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: 10_000,
            request_ms: 600_000,
            idle_ms: 120_000,
            stream_ms: 1_800_000,
        }
    }
}

impl Timeouts {
    /// `connect_ms` as a duration.
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }
    /// `request_ms` as a duration.
    pub fn request(&self) -> Duration {
        Duration::from_millis(self.request_ms)
    }
    /// `idle_ms` as a duration.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms)
    }
    /// `stream_ms` as a duration.
    pub fn stream(&self) -> Duration {
        Duration::from_millis(self.stream_ms)
    }
}

/// When and how transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 disables retries (default 5).
    pub max_attempts: u32,
    /// Backoff before the second attempt, in ms (default 500).
    pub initial_backoff_ms: u64,
    /// Cap on one backoff computed by the policy (a provider's Retry-After may exceed it),
    /// in ms (default 30 000).
    pub max_backoff_ms: u64,
    /// Growth factor of the backoff per attempt (default 2.0).
    pub multiplier: f64,
    /// No retry starts once this much time has passed since the first attempt began, in ms
    /// (default 180 000).
    pub max_total_ms: u64,
    /// The longest wait a server may ask for (`Retry-After`, `retry-after-ms`): a longer
    /// demand fails the call with [`LlmError::RetryAfterTooLong`] instead of waiting. In ms
    /// (default 60 000).
    pub max_retry_after_ms: u64,
}

impl RetryPolicy {
    /// The longest wait a server may ask for.
    pub fn max_retry_after(&self) -> Duration {
        Duration::from_millis(self.max_retry_after_ms)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            multiplier: 2.0,
            max_total_ms: 180_000,
            max_retry_after_ms: 60_000,
        }
    }
}

/// Client-side rate limits, per provider and model; 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Requests per minute (default 0: unlimited).
    pub rpm: u32,
    /// Tokens (input + output) per minute (default 0: unlimited).
    pub tpm: u32,
}

/// Caps on what a server may send, in bytes; a response over one fails the call with
/// [`LlmError::ResponseTooLarge`] naming the cap, before the excess is held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseLimits {
    /// A whole non-streamed response body (default 16 MiB).
    pub max_body_bytes: u64,
    /// One stream event, all its lines together (one endless line included). Some
    /// OpenAI-compatible servers send a whole tool call's arguments in one event (default 4 MiB).
    pub max_event_bytes: u64,
    /// A whole stream (default 64 MiB).
    pub max_stream_bytes: u64,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_body_bytes: 16 << 20,
            max_event_bytes: 4 << 20,
            max_stream_bytes: 64 << 20,
        }
    }
}

/// The longest any configured duration may be (a week): an `Instant` plus it cannot overflow.
const MAX_DURATION_MS: u64 = 7 * 24 * 3600 * 1000;

/// Everything needed to talk to one provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Wire format.
    pub kind: ProviderKind,
    /// Model used when a request leaves `settings.model` empty; also the `Model::model_name`.
    pub model: String,
    /// Base URL; defaults to the provider's public endpoint.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The key itself (prefer the environment variable).
    #[serde(default)]
    pub api_key: Option<ApiKey>,
    /// Environment variable holding the key; defaults to OPENAI_API_KEY / ANTHROPIC_API_KEY.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Connection, request, idle and stream timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// When and how transient failures are retried.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Client-side rate limits (default: none).
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Size caps on responses and streams.
    #[serde(default)]
    pub response_limits: ResponseLimits,
    /// Speak HTTP/2 without negotiation (h2c) to a plain-HTTP server that supports it: every
    /// concurrent request then shares one connection instead of opening its own. `https`
    /// endpoints negotiate HTTP/2 by ALPN whatever this says.
    #[serde(default)]
    pub http2_prior_knowledge: bool,
}

impl ProviderConfig {
    /// A config with defaults for everything but the kind and model.
    pub fn new(kind: ProviderKind, model: impl Into<String>) -> Self {
        ProviderConfig {
            kind,
            model: model.into(),
            base_url: None,
            api_key: None,
            api_key_env: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            response_limits: ResponseLimits::default(),
            http2_prior_knowledge: false,
        }
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.kind.default_base_url())
            .trim_end_matches('/')
    }

    /// The environment variable the key comes from.
    pub fn key_env(&self) -> &str {
        self.api_key_env
            .as_deref()
            .unwrap_or(self.kind.default_key_env())
    }

    /// The configured key, else the one in the environment variable.
    pub fn resolve_key(&self) -> Result<ApiKey, LlmError> {
        if let Some(key) = &self.api_key {
            return Ok(key.clone());
        }
        match std::env::var(self.key_env()) {
            Ok(v) if !v.trim().is_empty() => Ok(ApiKey::new(v.trim())),
            _ => Err(LlmError::MissingKey {
                provider: self.kind.as_str().to_string(),
                env_var: self.key_env().to_string(),
            }),
        }
    }

    /// Checks the values that would otherwise fail later and less clearly.
    pub fn validate(&self) -> Result<(), LlmError> {
        let url = self.base_url();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "base_url {url:?} must start with http:// or https://"
            )));
        }
        if self.retry.max_attempts == 0 {
            return Err(LlmError::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        if !(self.retry.multiplier >= 1.0 && self.retry.multiplier.is_finite()) {
            return Err(LlmError::Config(
                "retry.multiplier must be a number >= 1".into(),
            ));
        }
        let t = &self.timeouts;
        let durations = [
            ("timeouts.connect_ms", t.connect_ms),
            ("timeouts.request_ms", t.request_ms),
            ("timeouts.idle_ms", t.idle_ms),
            ("timeouts.stream_ms", t.stream_ms),
            ("retry.max_retry_after_ms", self.retry.max_retry_after_ms),
        ];
        for (name, ms) in durations {
            if ms == 0 || ms > MAX_DURATION_MS {
                return Err(LlmError::Config(format!(
                    "{name} is {ms}; set it between 1 and {MAX_DURATION_MS} ms (a week)"
                )));
            }
        }
        let l = &self.response_limits;
        for (name, bytes) in [
            ("response_limits.max_body_bytes", l.max_body_bytes),
            ("response_limits.max_event_bytes", l.max_event_bytes),
            ("response_limits.max_stream_bytes", l.max_stream_bytes),
        ] {
            if bytes == 0 {
                return Err(LlmError::Config(format!(
                    "{name} must be greater than 0 bytes"
                )));
            }
        }
        if l.max_event_bytes > l.max_stream_bytes {
            return Err(LlmError::Config(format!(
                "response_limits.max_event_bytes ({}) exceeds max_stream_bytes ({}); one event is part of a stream",
                l.max_event_bytes, l.max_stream_bytes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn key_is_redacted_in_debug_and_display() {
        let mut cfg = ProviderConfig::new(ProviderKind::Openai, "gpt");
        cfg.api_key = Some(ApiKey::new("sk-secret-123"));
        let shown = format!("{cfg:?} {}", cfg.api_key.as_ref().unwrap());
        assert!(!shown.contains("sk-secret-123"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn a_base_url_that_is_no_url_is_refused_by_connect() {
        let mut cfg = ProviderConfig::new(ProviderKind::Openai, "gpt");
        cfg.api_key = Some(ApiKey::new("sk-test"));
        cfg.base_url = Some("http://bad host:8080/v1".into());
        let err = crate::connect(&cfg).err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("base_url gives the invalid endpoint"), "{err}");
        assert!(err.contains("bad host"), "{err}");
        assert!(err.contains("set a URL such as"), "{err}");
    }

    #[test]
    fn toml_config_with_defaults() {
        let cfg: ProviderConfig =
            toml::from_str("kind = \"anthropic\"\nmodel = \"claude\"\n[rate_limits]\nrpm = 50\n")
                .unwrap();
        assert_eq!(cfg.base_url(), "https://api.anthropic.com");
        assert_eq!(cfg.key_env(), "ANTHROPIC_API_KEY");
        assert_eq!(cfg.rate_limits.rpm, 50);
        assert_eq!(cfg.retry, RetryPolicy::default());
        cfg.validate().unwrap();
    }

    #[test]
    fn missing_key_names_the_env_var() {
        let mut cfg = ProviderConfig::new(ProviderKind::Openai, "gpt");
        cfg.api_key_env = Some("WARDEN_TEST_SURELY_UNSET_KEY".into());
        let err = cfg.resolve_key().unwrap_err();
        assert!(
            err.to_string().contains("WARDEN_TEST_SURELY_UNSET_KEY"),
            "{err}"
        );
    }

    #[test]
    fn durations_and_caps_are_bounded() {
        let ok = ProviderConfig::new(ProviderKind::Openai, "gpt");
        ok.validate().unwrap();
        let mut cfg = ok.clone();
        cfg.retry.max_retry_after_ms = u64::MAX;
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("retry.max_retry_after_ms"), "{err}");
        let mut cfg = ok.clone();
        cfg.timeouts.stream_ms = 0;
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("timeouts.stream_ms"), "{err}");
        let mut cfg = ok.clone();
        cfg.response_limits.max_event_bytes = cfg.response_limits.max_stream_bytes + 1;
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("exceeds max_stream_bytes"), "{err}");
        let mut cfg = ok;
        cfg.response_limits.max_body_bytes = 0;
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("max_body_bytes must be greater"), "{err}");
    }

    #[test]
    fn bad_base_url_is_rejected() {
        let mut cfg = ProviderConfig::new(ProviderKind::Openai, "gpt");
        cfg.base_url = Some("api.openai.com".into());
        assert!(cfg.validate().unwrap_err().to_string().contains("http://"));
    }
}
