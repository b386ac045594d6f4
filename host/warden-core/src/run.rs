//! How a run ends: the stop reason, the final output, the result, and the typed failure of a
//! model call as the loop is told it.
//!
//! Invariant: every way a run can end is a [`StopReason`] variant with typed fields; the CLI's
//! exit code and one-line description derive from it alone.

use serde::{Deserialize, Serialize};

use crate::budget::BudgetResource;
use crate::guardrail::GuardrailStage;
use crate::state::{StepRecord, UsageTotals};
use crate::tool::ToolFailureKind;

/// How to stop a run from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelMode {
    /// Now: pending calls are recorded as cancelled.
    Immediate,
    /// When the current turn (model response and its tool calls) is done.
    AfterTurn,
}

/// Why a run ended. Serialised as a JSON object tagged by `reason` (`completed`, ...).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// The model gave its final answer.
    Completed,
    /// A tool listed in `stop_on_tools` ran; its output is the final output.
    StopTool {
        /// The tool's name.
        name: String,
    },
    /// Stopped from outside.
    Cancelled {
        /// How it was stopped.
        mode: CancelMode,
    },
    /// A budget ran out (with a forced answer unless the policy is `error`).
    Budget {
        /// The resource that ran out.
        resource: BudgetResource,
        /// How much was used, in the resource's unit (a count, tokens, seconds or USD).
        used: f64,
        /// Its limit, in the same unit.
        limit: f64,
    },
    /// A tool with the `abort` policy failed.
    ToolAborted {
        /// The tool's name.
        tool: String,
        /// The failure's kind.
        kind: ToolFailureKind,
        /// The failure's message.
        message: String,
    },
    /// The model kept answering with nothing usable or invalid calls.
    InvalidResponses {
        /// What was wrong with the last answer.
        detail: String,
    },
    /// The final answer kept failing the output schema.
    InvalidOutput {
        /// Why the schema rejected the last answer.
        detail: String,
    },
    /// The model refused.
    Refused {
        /// The model's explanation.
        message: String,
    },
    /// The provider filtered the content.
    ContentFiltered,
    /// The model call failed (after the LLM interface's own retries).
    ModelError {
        /// What failed, typed.
        #[serde(flatten)]
        failure: ModelFailure,
    },
    /// No valid request could be built.
    Context {
        /// Why (see [`crate::context::ContextError`]).
        message: String,
    },
    /// An input or output guardrail tripped (a tool-call guardrail vetoes one call only).
    GuardrailTripped {
        /// The guardrail's name.
        guardrail: String,
        /// What it checked.
        stage: GuardrailStage,
        /// Why it tripped.
        message: String,
    },
    /// The agents handed the run to each other more often than the run allows (a handoff
    /// loop); the handoff that would have gone over is not made.
    HandoffLimit {
        /// The run's most handoffs.
        limit: u32,
        /// The agent that asked for one more.
        from: String,
        /// The agent it named.
        to: String,
    },
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
            Self::Budget { .. } | Self::HandoffLimit { .. } => EXIT_BUDGET,
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
            Self::ModelError { failure } => format!("model call failed: {}", failure.message),
            Self::Context { message } => format!("context error: {message}"),
            Self::GuardrailTripped {
                guardrail,
                stage,
                message,
            } => format!("guardrail `{guardrail}` tripped on {stage}: {message}"),
            Self::HandoffLimit { limit, from, to } => {
                format!("handoff limit ({limit}) reached: `{from}` asked to hand off to `{to}`")
            }
        }
    }
}

/// The final output of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalOutput {
    /// The answer's text (a stop tool's output when the run ended by one).
    pub text: String,
    /// The parsed and validated JSON, when the agent has an output schema.
    pub json: Option<serde_json::Value>,
    /// The answer was cut short (output-token limit, or the provider's content filter).
    pub truncated: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Why the run ended.
    pub stop_reason: StopReason,
    /// The final answer, if there is one.
    pub output: Option<FinalOutput>,
    /// The output came from the last call with tools disabled after a budget ran out.
    pub forced: bool,
    /// Usage summed over the run.
    pub usage: UsageTotals,
    /// Every step (model call and its tool calls), in order.
    pub steps: Vec<StepRecord>,
    /// How many times old turns were summarised.
    pub compactions: usize,
}

/// What kind of failure ended a model call (after the adapter's own retries).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFailureKind {
    /// The API key is missing or was refused.
    Auth,
    /// The provider refused the request as invalid.
    BadRequest,
    /// The provider kept rate-limiting, or asked to wait longer than allowed.
    RateLimited,
    /// The provider's server kept failing.
    Server,
    /// A connect, request, idle or stream timeout fired.
    Timeout,
    /// No connection, or it broke before the answer was complete.
    Connection,
    /// The response was larger than its cap.
    TooLarge,
    /// The response was not what was asked for (not JSON, an unknown shape, cut short).
    InvalidResponse,
    /// The provider's configuration cannot work.
    Config,
    /// A failure of the model interface itself, or one a custom model did not classify.
    Other,
}

/// A failed model call, as fed to the controller: a typed kind, the HTTP status when there
/// was one, and the message to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFailure {
    /// What kind of failure it was.
    pub kind: ModelFailureKind,
    /// The HTTP status of the last response, if one came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The whole message (it names the URL and what to change).
    pub message: String,
}

impl ModelFailure {
    /// A failure of `kind` with `message` and no HTTP status.
    pub fn new(kind: ModelFailureKind, message: impl Into<String>) -> Self {
        ModelFailure {
            kind,
            status: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ModelFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handoff_loop_ends_like_a_budget() {
        let reason = StopReason::HandoffLimit {
            limit: 3,
            from: "a".into(),
            to: "b".into(),
        };
        assert_eq!(reason.exit_code(), EXIT_BUDGET);
        assert!(reason.describe().contains("handoff limit (3)"));
    }
}
