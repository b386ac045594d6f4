//! warden-llm: the [`Model`] trait and its OpenAI and Anthropic adapters, sharing one HTTP,
//! retry, rate-limit and streaming core. It speaks `warden-core`'s provider-neutral types
//! (`warden_core::chat`) and knows nothing of how tools run.
//!
//! Layout: `openai` / `anthropic` (wire mapping only), `wire` (the seam between them and
//! the core), `adapter` (HTTP, retries, timeouts), `live` (a stream in flight), `cap` (size
//! caps on responses), `retry`, `ratelimit`, `sse`, `sniff` (bodies that are not what was
//! asked for), `accumulate`, `config`, `error`, `notice`, `options` (checks of the optional
//! model settings).
//!
//! Invariant: everything above this crate sees only the neutral types and [`LlmError`];
//! the API key never leaves [`ApiKey`] except into a sensitive request header.

#![deny(missing_docs)]

mod accumulate;
mod adapter;
mod anthropic;
mod cap;
mod client;
mod config;
mod error;
mod estimate;
mod history;
mod live;
mod notice;
mod openai;
mod options;
mod ratelimit;
mod retry;
mod sniff;
mod sse;
mod wire;

#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod request_tests;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use warden_core::chat::{ChatRequest, ChatResponse, StreamEvent};

pub use accumulate::{StreamAccumulator, check_truncation};
pub use client::http_client;
pub use config::{
    ApiKey, ProviderConfig, ProviderKind, RateLimits, ResponseLimits, RetryPolicy, Timeouts,
};
pub use error::{LlmError, SizeCap, TimeoutPhase};
pub use estimate::estimate_tokens;
pub use notice::{LlmNotice, NoticeQueue, Notices};
pub use options::{OptionsError, THINKING_WITH_TOOLS, body_keys, check_options};
pub use sse::decode_recorded;

/// A model behind some provider. Dyn-compatible: the agent loop holds `Arc<dyn Model>`.
///
/// Dropping a returned future or stream cancels the HTTP request and closes its connection.
pub trait Model: Send + Sync {
    /// One complete response (retried on transient failures per the provider's policy).
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
        notices: &'a Notices,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>>;

    /// A streamed response. The future resolves once the first content event arrived (the
    /// request is retried until then); the stream then yields events until the provider's
    /// finish, or one error after which it ends. Fold it with [`StreamAccumulator`] or
    /// [`collect_stream`].
    fn stream<'a>(
        &'a self,
        req: &'a ChatRequest,
        notices: &'a Notices,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>>;

    /// `openai` or `anthropic`.
    fn provider(&self) -> &str;

    /// The configured model, used when a request leaves `settings.model` empty.
    fn model_name(&self) -> &str;
}

impl<W: wire::Wire> Model for adapter::Adapter<W> {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
        notices: &'a Notices,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(adapter::Adapter::complete(self, req, notices))
    }

    fn stream<'a>(
        &'a self,
        req: &'a ChatRequest,
        notices: &'a Notices,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>> {
        Box::pin(adapter::Adapter::stream(self, req, notices))
    }

    fn provider(&self) -> &str {
        self.config().kind.as_str()
    }

    fn model_name(&self) -> &str {
        &self.config().model
    }
}

/// Builds the model for a provider configuration. Fails at once on a missing key (naming
/// the environment variable) or an invalid configuration; makes no request.
pub fn connect(config: &ProviderConfig) -> Result<Arc<dyn Model>, LlmError> {
    Ok(match config.kind {
        ProviderKind::Openai => {
            let official = config.base_url().contains("://api.openai.com");
            Arc::new(adapter::Adapter::new(openai::OpenAi { official }, config)?)
        }
        ProviderKind::Anthropic => Arc::new(adapter::Adapter::new(anthropic::Anthropic, config)?),
    })
}

/// Drains a stream into the response it describes (see [`StreamAccumulator`]).
pub async fn collect_stream(
    mut stream: BoxStream<'static, Result<StreamEvent, LlmError>>,
    model: &str,
) -> Result<ChatResponse, LlmError> {
    use futures::StreamExt;
    let mut acc = StreamAccumulator::new(model);
    while let Some(event) = stream.next().await {
        acc.push(&event?);
    }
    acc.finish()
}
