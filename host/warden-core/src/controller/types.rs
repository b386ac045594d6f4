//! The controller's protocol: the steps it asks the driver to take.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chat::ChatRequest;
use crate::run::RunResult;
use crate::tool::PlannedCall;

/// The calls of one turn, in the order the model made them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolPlan {
    /// The calls to run.
    pub calls: Vec<PlannedCall>,
    /// At most this many calls at a time.
    pub max_concurrency: usize,
}

/// What the driver does next.
#[expect(
    clippy::large_enum_variant,
    reason = "`Done` is the large one and comes once per run: boxing it would buy nothing"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this request to the model, then call `on_model_response` or `on_model_error`.
    /// Shared with the controller, which keeps it while the answer is awaited.
    CallModel(Arc<ChatRequest>),
    /// Send this summary request to the model (same feed methods).
    Summarize(Arc<ChatRequest>),
    /// Run these calls, then call `on_tool_results` with their outcomes (any order).
    RunTools(ToolPlan),
    /// The run is over.
    Done(RunResult),
}
