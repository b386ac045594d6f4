//! Testing utilities, public and documented: [`ScriptedLlm`], a [`Model`] answering from a
//! list (for tests, examples and the offline demo, like other agent SDKs' fake models), and
//! [`guests`], the paths of the repository's guest components built for this checkout.
//!
//! [`ScriptedLlm`] records every request, streams each answer as several deltas (text and tool
//! arguments cut in pieces, as a provider would), and fails a request past the end of the
//! script instead of inventing an answer.
//!
//! Invariant: responses are given in order, each at most once, whether through `complete`
//! or `stream`; the logic is [`warden_core::testing::ScriptedModel`]'s.

use std::sync::Mutex;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};

use warden_core::chat::{ChatRequest, ChatResponse, StreamEvent};
pub use warden_core::testing::{ScriptError, ScriptedModel};
use warden_llm::{LlmError, Model, Notices};

/// How many pieces a streamed text or argument string is cut into (at most).
const PIECES: usize = 3;

/// A scripted model behind the [`Model`] trait. See the module docs.
#[derive(Debug)]
pub struct ScriptedLlm {
    script: Mutex<ScriptedModel>,
    name: String,
}

impl ScriptedLlm {
    /// A model answering with `responses`, in order. Build them with
    /// [`ScriptedModel::text`] and [`ScriptedModel::calls`] or by hand.
    pub fn new(responses: impl IntoIterator<Item = ChatResponse>) -> Self {
        Self {
            script: Mutex::new(ScriptedModel::new(responses)),
            name: "scripted".into(),
        }
    }

    /// A model answering with the responses recorded for run `run_id` in `store`, in
    /// order: a production run becomes a regression test (see `warden replay`).
    pub async fn from_store(
        store: &dyn warden_store::Store,
        run_id: &str,
    ) -> Result<Self, warden_store::StoreError> {
        Ok(Self::new(store.responses(run_id).await?))
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.lock().requests().to_vec()
    }

    /// Responses not used yet.
    pub fn remaining(&self) -> usize {
        self.lock().remaining()
    }

    /// Fails unless every scripted response was used.
    pub fn assert_all_used(&self) -> Result<(), ScriptError> {
        self.lock().assert_all_used()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ScriptedModel> {
        // The script holds plain data: a panic elsewhere cannot leave it half-updated.
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn respond(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.lock()
            .respond(request)
            .map_err(|e| LlmError::InvalidResponse {
                url: "scripted://model".into(),
                context: "scripted model".into(),
                detail: e.to_string(),
            })
    }
}

impl Model for ScriptedLlm {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
        _notices: &'a Notices,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move { self.respond(req) })
    }

    fn stream<'a>(
        &'a self,
        req: &'a ChatRequest,
        _notices: &'a Notices,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>> {
        Box::pin(async move {
            let response = self.respond(req)?;
            let events: Vec<Result<StreamEvent, LlmError>> =
                stream_events(&response).into_iter().map(Ok).collect();
            let boxed: BoxStream<'static, _> = Box::pin(stream::iter(events));
            Ok(boxed)
        })
    }

    fn provider(&self) -> &str {
        "scripted"
    }

    fn model_name(&self) -> &str {
        &self.name
    }
}

/// The events a provider would stream for `response`, text and arguments in a few pieces.
pub fn stream_events(response: &ChatResponse) -> Vec<StreamEvent> {
    response.to_stream_events(pieces)
}

/// `text` cut into up to [`PIECES`] pieces on character boundaries.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let size = chars.len().div_ceil(PIECES);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// Paths of the guest components built from `guest-tools/` during this crate's build: the
/// built-in tools and the test-only ones (`HOSTILE` tries every escape a guest has,
/// `BAD_DESCRIBE` describes itself wrongly).
pub mod guests {
    pub use crate::guests::{BAD_DESCRIBE, CALC, FS, HOSTILE, HTTP, PREV_WIT, TEXT, TYPED};
}
