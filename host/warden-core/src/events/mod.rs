//! The typed events of a run, for `run_streamed` and `--json` (one JSON object per line,
//! tagged by `type`).
//!
//! Who emits what: the controller queues the events that follow from its decisions
//! (`RunStarted`, `ModelRequest`, `ModelResponse`, `ToolCallRejected`, `Compaction`,
//! `BudgetWarning`, `RunFinished`; take them with `Controller::take_events`). The driver emits the ones only
//! IO can see (`TextDelta`, `ToolCallStarted`, `ToolCallFinished`, `RateLimitWait`,
//! `Retry`), using the constructors below so both sides agree on the fields.
//! Invariant: every variant round-trips through serde_json.
//!
//! [`EventRecord`] (in `record.rs`) is the stamped form a log or `--json` consumer reads:
//! schema version, run id, timestamp and step around one event.

mod record;

mod preview;

use serde::{Deserialize, Serialize};

pub use record::{EVENT_SCHEMA_VERSION, EventRecord, EventStamper, brief_server_error, new_run_id};

use crate::budget::BudgetResource;
use crate::chat::{FinishReason, Usage};
use crate::run::{FinalOutput, StopReason};
use crate::state::{ModelCallKind, UsageTotals};
use crate::tool::{PlannedCall, ToolFailureKind, ToolOutcome, ToolUsage};

/// Longest tool output or error kept in a `ToolCallFinished` event, in characters.
const PREVIEW_CHARS: usize = 200;

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        agent: String,
        model: String,
        input: String,
    },
    ModelRequest {
        step: usize,
        kind: ModelCallKind,
        messages: usize,
        tools: usize,
        estimated_input_tokens: u64,
    },
    TextDelta {
        text: String,
    },
    /// A model call answered: what it cost and how it ended (its text came as deltas).
    ModelResponse {
        step: usize,
        kind: ModelCallKind,
        finish_reason: FinishReason,
        tool_calls: usize,
        usage: Usage,
        /// The server reported no usage: `usage` is warden's estimate.
        #[serde(default)]
        usage_estimated: bool,
        cost_usd: f64,
    },
    ToolCallStarted {
        call_id: String,
        name: String,
        /// A bounded preview of the arguments: long strings cut (their size noted), long
        /// or deep containers elided with a `…` marker. The tool gets them whole.
        arguments: serde_json::Value,
        attempt: u32,
    },
    ToolCallFinished {
        call_id: String,
        name: String,
        ok: bool,
        error_kind: Option<ToolFailureKind>,
        preview: String,
        usage: ToolUsage,
    },
    /// A final answer the output schema rejected. `will_retry`: the model was told why and
    /// asked again; otherwise the run ends with `invalid_output`.
    OutputRejected {
        step: usize,
        reason: String,
        attempt: u32,
        will_retry: bool,
    },
    /// A call the parser rejected: never run, the model was told why.
    ToolCallRejected {
        call_id: String,
        name: String,
        reason: String,
    },
    /// Old context was summarised (`summarized`) or dropped/shrunk to fit the window.
    Compaction {
        summarized: bool,
        messages_replaced: usize,
        tool_outputs_shrunk: usize,
        tokens_before: u64,
        tokens_after: u64,
    },
    BudgetWarning {
        resource: BudgetResource,
        used: f64,
        limit: f64,
    },
    RateLimitWait {
        wait_ms: u64,
        attempt: u32,
        message: String,
    },
    Retry {
        attempt: u32,
        wait_ms: u64,
        reason: String,
    },
    /// The run is over. `output` is the final answer (also when it was not streamed as
    /// text deltas: a non-streamed call, a stop tool's output), so a consumer of the events
    /// alone (`--json`) has it.
    RunFinished {
        stop_reason: StopReason,
        forced: bool,
        output: Option<FinalOutput>,
        usage: UsageTotals,
    },
}

impl RunEvent {
    /// `ToolCallStarted` for a planned call, with a bounded preview of its arguments.
    pub fn tool_started(call: &PlannedCall) -> Self {
        RunEvent::ToolCallStarted {
            call_id: call.call_id.clone(),
            name: call.name.clone(),
            arguments: preview::preview(&call.arguments),
            attempt: call.attempt,
        }
    }

    /// `ToolCallFinished` for an outcome, with a short preview of the output or error.
    pub fn tool_finished(outcome: &ToolOutcome) -> Self {
        let (ok, error_kind, text) = match &outcome.result {
            Ok(output) => (true, None, output.as_str()),
            Err(failure) => (false, Some(failure.kind), failure.message.as_str()),
        };
        let mut preview: String = text.chars().take(PREVIEW_CHARS).collect();
        if text.chars().nth(PREVIEW_CHARS).is_some() {
            preview.push('…');
        }
        RunEvent::ToolCallFinished {
            call_id: outcome.call_id.clone(),
            name: outcome.name.clone(),
            ok,
            error_kind,
            preview,
            usage: outcome.usage,
        }
    }

    /// The event as one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising these plain data types cannot fail; fall back to a marker regardless.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"type\":\"serialize_error\",\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use crate::tool::ToolFailure;

    #[test]
    fn events_round_trip_as_tagged_json() {
        let event = RunEvent::BudgetWarning {
            resource: BudgetResource::CostUsd,
            used: 0.8,
            limit: 1.0,
        };
        let line = event.to_json_line();
        assert!(line.starts_with("{\"type\":\"budget_warning\""), "{line}");
        assert_eq!(serde_json::from_str::<RunEvent>(&line).unwrap(), event);
        let finished = RunEvent::RunFinished {
            stop_reason: StopReason::Completed,
            forced: false,
            output: Some(FinalOutput {
                text: "42".into(),
                json: None,
                truncated: false,
            }),
            usage: UsageTotals::default(),
        };
        assert_eq!(
            serde_json::from_str::<RunEvent>(&finished.to_json_line()).unwrap(),
            finished
        );
        let response = RunEvent::ModelResponse {
            step: 2,
            kind: ModelCallKind::Turn,
            finish_reason: FinishReason::Other("pause_turn".into()),
            tool_calls: 0,
            usage: Usage {
                input_tokens: 812,
                output_tokens: 35,
                cached_tokens: 512,
            },
            usage_estimated: false,
            cost_usd: 0.0012,
        };
        let line = response.to_json_line();
        assert!(
            line.contains("\"finish_reason\":{\"other\":\"pause_turn\"}"),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<RunEvent>(&line).unwrap(), response);
    }

    #[test]
    fn tool_started_carries_a_bounded_preview_of_the_arguments() {
        let call = PlannedCall {
            call_id: "c1".into(),
            name: "write".into(),
            arguments: serde_json::json!({"path": "/a", "text": "y".repeat(1 << 20)}),
            sequential: false,
            attempt: 1,
        };
        let event = RunEvent::tool_started(&call);
        let line = event.to_json_line();
        assert!(
            line.len() < 2 * preview::ARGS_PREVIEW_CHARS,
            "{} bytes",
            line.len()
        );
        let RunEvent::ToolCallStarted { arguments, .. } = event else {
            panic!("wrong variant");
        };
        assert_eq!(arguments["path"], "/a");
        assert!(
            arguments["text"]
                .as_str()
                .unwrap()
                .ends_with("(1048576 bytes)")
        );
    }

    #[test]
    fn tool_finished_previews_long_output_and_errors() {
        let outcome = ToolOutcome {
            call_id: "c1".into(),
            name: "fs".into(),
            result: Err(ToolFailure {
                kind: ToolFailureKind::CapabilityDenied,
                message: "x".repeat(500),
                transient: false,
            }),
            usage: ToolUsage {
                fuel: 7,
                ..Default::default()
            },
        };
        let RunEvent::ToolCallFinished {
            ok,
            error_kind,
            preview,
            usage,
            ..
        } = RunEvent::tool_finished(&outcome)
        else {
            panic!("wrong variant");
        };
        assert!(!ok);
        assert_eq!(error_kind, Some(ToolFailureKind::CapabilityDenied));
        assert_eq!(preview.chars().count(), PREVIEW_CHARS + 1);
        assert_eq!(usage.fuel, 7);
    }
}
