//! The controller's vocabulary: the tool catalog view, the steps it asks the driver to
//! take, the outcomes the driver feeds back, and the run's result.
//!
//! These types are deliberately independent of wasmtime and of the executor: the driver maps
//! the executor's `ToolInfo`/`CallOutcome` into [`ToolCatalogEntry`]/[`ToolOutcome`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::budget::BudgetResource;
use crate::chat::ChatRequest;
use crate::state::{StepRecord, UsageTotals};

/// What to do when a tool call fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorPolicy {
    /// The structured error becomes the tool result; the loop goes on.
    #[default]
    ToModel,
    /// Transient failures are retried up to `max_retries` times, then go to the model.
    Retry { max_retries: u32 },
    /// The run ends with the error.
    Abort,
}

/// One tool offered to the model, as the controller sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCatalogEntry {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub args_schema: serde_json::Value,
    /// Run this tool's calls one after another, never alongside other calls.
    #[serde(default)]
    pub sequential: bool,
    #[serde(default)]
    pub error_policy: ErrorPolicy,
}

impl ToolCatalogEntry {
    /// An entry with the default policy (concurrent, errors to the model).
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        args_schema: serde_json::Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            args_schema,
            sequential: false,
            error_policy: ErrorPolicy::ToModel,
        }
    }
}

/// Resources one tool call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolUsage {
    pub fuel: u64,
    pub wall_ms: u64,
    pub peak_memory: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub http_requests: u64,
    /// HTTP request body bytes the tool sent.
    #[serde(default)]
    pub http_bytes_sent: u64,
    /// HTTP response body bytes the tool received.
    #[serde(default)]
    pub http_bytes_received: u64,
}

/// Why a tool call produced no output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolFailure {
    /// A short machine-readable kind (`timeout`, `out_of_fuel`, `denied`, `failed`, ...).
    pub kind: String,
    /// What the model is told.
    pub message: String,
    /// Whether running the call again may succeed.
    pub transient: bool,
}

/// The outcome of one call, fed back by the driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutcome {
    pub call_id: String,
    pub name: String,
    pub result: Result<String, ToolFailure>,
    pub usage: ToolUsage,
}

/// One call to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedCall {
    pub call_id: String,
    pub name: String,
    /// Arguments, already validated against the tool's schema.
    pub arguments: serde_json::Value,
    /// Run alone: wait for the calls before it, start the ones after it only when done.
    pub sequential: bool,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
}

/// The calls of one turn, in the order the model made them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolPlan {
    pub calls: Vec<PlannedCall>,
    /// At most this many calls at a time.
    pub max_concurrency: usize,
}

/// How to stop a run from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelMode {
    /// Now: pending calls are recorded as cancelled.
    Immediate,
    /// When the current turn (model response and its tool calls) is done.
    AfterTurn,
}

/// What the driver does next.
// `Done` is the large one and comes once per run: boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
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

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// The model gave its final answer.
    Completed,
    /// A tool listed in `stop_on_tools` ran; its output is the final output.
    StopTool { name: String },
    /// Stopped from outside.
    Cancelled { mode: CancelMode },
    /// A budget ran out (with a forced answer unless the policy is `error`).
    Budget {
        resource: BudgetResource,
        used: f64,
        limit: f64,
    },
    /// A tool with the `abort` policy failed.
    ToolAborted {
        tool: String,
        kind: String,
        message: String,
    },
    /// The model kept answering with nothing usable or invalid calls.
    InvalidResponses { detail: String },
    /// The final answer kept failing the output schema.
    InvalidOutput { detail: String },
    /// The model refused.
    Refused { message: String },
    /// The provider filtered the content.
    ContentFiltered,
    /// The model call failed (after the LLM interface's own retries).
    ModelError { message: String },
    /// No valid request could be built.
    Context { message: String },
}

impl std::fmt::Display for CancelMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Immediate => "cancelled",
            Self::AfterTurn => "cancelled after the turn",
        })
    }
}

/// Exit code of a run that answered (also a stop tool's output).
pub const EXIT_ANSWERED: i32 = 0;
/// Exit code of a run that failed: the model, a tool with the `abort` policy, the context.
pub const EXIT_FAILED: i32 = 1;
/// Exit code of a run stopped by a budget or the turn limit (2 is a usage error in the CLI).
pub const EXIT_BUDGET: i32 = 3;
/// Exit code of a run cancelled from outside (Ctrl-C: 128 + SIGINT, as shells report it).
pub const EXIT_CANCELLED: i32 = 130;

impl StopReason {
    /// The CLI's exit code: [`EXIT_ANSWERED`], [`EXIT_BUDGET`] for a budget or the turn
    /// limit, [`EXIT_CANCELLED`] after a cancellation, [`EXIT_FAILED`] for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Completed | Self::StopTool { .. } => EXIT_ANSWERED,
            Self::Budget { .. } => EXIT_BUDGET,
            Self::Cancelled { .. } => EXIT_CANCELLED,
            _ => EXIT_FAILED,
        }
    }

    /// One line for humans.
    pub fn describe(&self) -> String {
        match self {
            Self::Completed => "answered".into(),
            Self::StopTool { name } => format!("stopped by tool `{name}`"),
            Self::Cancelled { mode } => mode.to_string(),
            Self::Budget {
                resource,
                used,
                limit,
            } => {
                let ex = crate::budget::Exhausted {
                    resource: *resource,
                    used: *used,
                    limit: *limit,
                };
                format!("{} reached", ex.describe())
            }
            Self::ToolAborted {
                tool,
                kind,
                message,
            } => format!("tool `{tool}` failed ({kind}): {message}"),
            Self::InvalidResponses { detail } => {
                format!("the model gave no usable answer: {detail}")
            }
            Self::InvalidOutput { detail } => {
                format!("the final answer did not match the output schema: {detail}")
            }
            Self::Refused { message } => format!("the model refused: {message}"),
            Self::ContentFiltered => "the provider filtered the content".into(),
            Self::ModelError { message } => format!("model call failed: {message}"),
            Self::Context { message } => format!("context error: {message}"),
        }
    }
}

/// The final output of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalOutput {
    pub text: String,
    /// The parsed and validated JSON, when the agent has an output schema.
    pub json: Option<serde_json::Value>,
    /// The answer was cut short (output-token limit, or the provider's content filter).
    pub truncated: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub stop_reason: StopReason,
    pub output: Option<FinalOutput>,
    /// The output came from the last call with tools disabled after a budget ran out.
    pub forced: bool,
    pub usage: UsageTotals,
    pub steps: Vec<StepRecord>,
    pub compactions: usize,
}
