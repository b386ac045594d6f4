//! The scripted model: responses from a list, every request recorded, and a check that
//! every response was used. Logic only: the async `Model` wrapper for the Runner and the
//! demo wraps it; tests drive the controller with it directly through [`drive`].
//!
//! Invariant: responses are returned in order, each at most once; running out is an error.

use std::collections::VecDeque;

use crate::chat::{ChatRequest, ChatResponse, FinishReason, ToolCall, Usage};
use crate::controller::{Controller, ControllerError, Step};
use crate::run::RunResult;
use crate::tool::{PlannedCall, ToolOutcome};

/// A failure of a scripted run.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    /// Request number `.0` (from 1) found no response left; the script had `.1`.
    #[error("the script has no response left for request {0} (it had {1})")]
    Exhausted(usize, usize),
    /// The run ended with this many responses unused.
    #[error("{0} scripted responses were never used")]
    Unused(usize),
    /// The controller refused a feed.
    #[error(transparent)]
    Controller(#[from] ControllerError),
}

/// Responses to give, in order, and the requests received.
#[derive(Debug, Clone, Default)]
pub struct ScriptedModel {
    responses: VecDeque<ChatResponse>,
    total: usize,
    requests: Vec<ChatRequest>,
}

impl ScriptedModel {
    /// A model that answers with `responses`, in order.
    pub fn new(responses: impl IntoIterator<Item = ChatResponse>) -> Self {
        let responses: VecDeque<ChatResponse> = responses.into_iter().collect();
        Self {
            total: responses.len(),
            responses,
            requests: Vec::new(),
        }
    }

    /// Records `request` and returns the next response.
    pub fn respond(&mut self, request: &ChatRequest) -> Result<ChatResponse, ScriptError> {
        self.requests.push(request.clone());
        self.responses
            .pop_front()
            .ok_or(ScriptError::Exhausted(self.requests.len(), self.total))
    }

    /// Every request received so far.
    pub fn requests(&self) -> &[ChatRequest] {
        &self.requests
    }

    /// Responses not used yet.
    pub fn remaining(&self) -> usize {
        self.responses.len()
    }

    /// Fails unless every response was used.
    pub fn assert_all_used(&self) -> Result<(), ScriptError> {
        match self.responses.len() {
            0 => Ok(()),
            n => Err(ScriptError::Unused(n)),
        }
    }

    /// A final text answer.
    pub fn text(text: &str) -> ChatResponse {
        ChatResponse {
            text: Some(text.into()),
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input_tokens: 100,
                output_tokens: 20,
                cached_tokens: 0,
            },
            model: "scripted".into(),
            refusal: None,
        }
    }

    /// Tool calls: `(id, tool name, arguments JSON text)` each.
    pub fn calls(calls: &[(&str, &str, &str)]) -> ChatResponse {
        ChatResponse {
            text: None,
            tool_calls: calls
                .iter()
                .map(|(id, name, args)| ToolCall::new(*id, *name, *args))
                .collect(),
            finish_reason: FinishReason::ToolCalls,
            usage: Usage {
                input_tokens: 100,
                output_tokens: 20,
                cached_tokens: 0,
            },
            model: "scripted".into(),
            refusal: None,
        }
    }
}

/// Drives `controller` to the end synchronously: model steps go to `model`, tool steps to
/// `run_tool` (one call at a time, in plan order). For tests, examples and the demo's logic.
pub fn drive(
    controller: &mut Controller,
    model: &mut ScriptedModel,
    mut run_tool: impl FnMut(&PlannedCall) -> ToolOutcome,
) -> Result<RunResult, ScriptError> {
    loop {
        match controller.next_step() {
            Step::CallModel(request) | Step::Summarize(request) => {
                let response = model.respond(&request)?;
                controller.on_model_response(response)?;
            }
            Step::RunTools(plan) => {
                let outcomes = plan.calls.iter().map(&mut run_tool).collect();
                controller.on_tool_results(outcomes)?;
            }
            Step::Done(result) => return Ok(result),
        }
    }
}
