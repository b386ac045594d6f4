//! The seam between the shared core and the two wire formats.
//!
//! A [`Wire`] maps provider-neutral requests to bytes and bytes back to responses and
//! stream events; it does no IO. Everything else (HTTP, retries, timeouts, rate limits)
//! lives in the core, so both adapters behave identically apart from the mapping.

use std::borrow::Cow;
use std::sync::Arc;

use reqwest::header::HeaderMap;

use super::config::{ApiKey, ProviderKind};
use super::error::LlmError;
use warden_core::chat::{ChatRequest, ChatResponse, FinishReason, StreamEvent};

/// Where a request goes and what error messages must mention or hide.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Full URL of the chat endpoint.
    pub url: Arc<str>,
    /// Environment variable named in authentication errors.
    pub env_var: Arc<str>,
    /// The key, only to scrub it out of anything a provider echoes back.
    pub key: ApiKey,
}

impl Endpoint {
    /// Removes the key from a provider-supplied text before it goes into an error.
    pub fn scrub(&self, text: &str) -> String {
        let key = self.key.expose();
        if key.len() >= 4 && text.contains(key) {
            text.replace(key, "[redacted]")
        } else {
            text.to_string()
        }
    }

    /// An `InvalidResponse` error for this endpoint.
    pub fn invalid(&self, context: &str, detail: impl std::fmt::Display) -> LlmError {
        LlmError::InvalidResponse {
            url: self.url.to_string(),
            context: context.to_string(),
            detail: self.scrub(&detail.to_string()),
        }
    }

    /// Maps a provider error type (OpenAI `error.type`/`code`, Anthropic `error.type`) met
    /// inside a stream or a 2xx body to the matching error.
    pub fn provider_error(&self, error_type: &str, message: &str) -> LlmError {
        let url = self.url.to_string();
        let message = self.scrub(message);
        match error_type {
            "authentication_error" | "invalid_api_key" | "permission_error" => LlmError::Auth {
                status: 401,
                url,
                env_var: self.env_var.to_string(),
                message: Some(message),
            },
            "rate_limit_error"
            | "rate_limit_exceeded"
            | "insufficient_quota"
            | "tokens"
            | "requests" => LlmError::RateLimited {
                url,
                attempts: 1,
                retry_after: None,
                message,
            },
            "invalid_request_error" | "not_found_error" | "request_too_large" => {
                LlmError::BadRequest {
                    status: 400,
                    url,
                    message,
                }
            }
            "overloaded_error" => LlmError::Server {
                status: 529,
                url,
                attempts: 1,
                message,
            },
            _ => LlmError::Server {
                status: 500,
                url,
                attempts: 1,
                message,
            },
        }
    }
}

/// One wire format.
pub(crate) trait Wire: Send + Sync + 'static {
    /// Which provider's format this is (for the checks of the request's options).
    fn kind(&self) -> ProviderKind;
    /// The chat endpoint under `base`.
    fn url(&self, base: &str) -> String;
    /// Authentication and versioning headers.
    fn headers(&self, key: &ApiKey) -> Result<HeaderMap, LlmError>;
    /// The JSON body for `req`, sent to `model`.
    fn body(&self, req: &ChatRequest, model: &str, stream: bool) -> Result<Vec<u8>, LlmError>;
    /// A complete (non-streamed) response body.
    fn parse_response(&self, body: &[u8], ep: &Endpoint) -> Result<ChatResponse, LlmError>;
    /// A fresh decoder for one stream.
    fn decoder(&self, ep: Endpoint) -> Box<dyn StreamDecoder>;
    /// The `(type, message)` of a provider error body, if it is one.
    fn error_body(&self, body: &[u8]) -> Option<(String, String)>;
}

/// What the decoder saw in one SSE event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// More events follow.
    Continue,
    /// The provider's end marker (`[DONE]`, `message_stop`): the stream is complete.
    Done,
}

/// Turns one stream's SSE events into stream events; keeps per-stream state.
pub(crate) trait StreamDecoder: Send {
    /// Decodes the data of one SSE event, appending to `out`.
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<Step, LlmError>;
    /// Whether a finish event was produced: the end of the bytes after it is not a cut.
    fn finished(&self) -> bool;
}

/// Parses a JSON payload, naming what it was in the error.
pub(crate) fn parse_json<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    ep: &Endpoint,
    context: &str,
) -> Result<T, LlmError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        ep.invalid(context, format_args!("{e}; payload starts with {shown:?}"))
    })
}

/// A finish reason from OpenAI's vocabulary (also used by compatible servers).
pub(crate) fn openai_finish(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// A finish reason from Anthropic's `stop_reason` vocabulary.
pub(crate) fn anthropic_finish(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// The text of a failed tool result on a wire with no error flag (OpenAI): `content`
/// marked `Error: `, unless it already starts with an error label (`Error:` or
/// `Error (kind):`, as warden's controller writes them), so the model sees exactly one.
pub(crate) fn error_result_text(content: &str) -> Cow<'_, str> {
    if has_error_label(content) {
        Cow::Borrowed(content)
    } else {
        Cow::Owned(format!("Error: {content}"))
    }
}

/// Whether `text` starts with `Error:` or `Error (` (any case).
fn has_error_label(text: &str) -> bool {
    let Some(head) = text.get(..5) else {
        return false;
    };
    let rest = &text[5..];
    head.eq_ignore_ascii_case("error") && (rest.starts_with(':') || rest.starts_with(" ("))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_result_gets_one_label() {
        assert_eq!(error_result_text("boom"), "Error: boom");
        assert_eq!(error_result_text("Error: boom"), "Error: boom");
        assert_eq!(error_result_text("error: boom"), "error: boom");
        assert_eq!(
            error_result_text("Error (timeout): slow"),
            "Error (timeout): slow"
        );
        // Only a label counts, not a word that starts the same.
        assert_eq!(error_result_text("Errors: 3"), "Error: Errors: 3");
        assert_eq!(error_result_text("Err"), "Error: Err");
        assert_eq!(error_result_text("é"), "Error: é");
    }
}
