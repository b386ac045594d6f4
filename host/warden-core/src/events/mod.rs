//! The typed events of a run, for `run_streamed` and `--json` (one JSON object per line,
//! tagged by `type`).
//!
//! Who emits what: the controller queues the events that follow from its decisions
//! (`RunStarted`, `ModelRequest`, `ModelResponse`, `ToolCallRejected`, `Compaction`,
//! `BudgetWarning`, `RunFinished`; take them with `Controller::take_events`). The driver emits the ones only
//! IO can see (`TextDelta`, `ToolCallStarted`, `ToolCallFinished`, `RateLimitWait`,
//! `Retry`, `GuardrailChecked`), using the constructors below so both sides agree on the fields.
//! Invariant: every variant round-trips through serde_json.
//!
//! [`EventRecord`] (in `record.rs`) is the stamped form a log or `--json` consumer reads:
//! schema version, run id, timestamp and step around one event.

mod record;

pub mod content;
mod preview;

use serde::{Deserialize, Serialize};

pub use record::{
    EVENT_SCHEMA_VERSION, EventRecord, EventStamper, at_event_time, brief_server_error, new_run_id,
};

use crate::budget::BudgetResource;
use crate::chat::{FinishReason, Usage};
use crate::guardrail::GuardrailStage;
use crate::run::{FinalOutput, StopReason};
use crate::state::{ModelCallKind, UsageTotals};
use crate::tool::{PlannedCall, ToolFailureKind, ToolOutcome, ToolUsage};

/// Longest tool output or error kept in a `ToolCallFinished` event, in characters.
const PREVIEW_CHARS: usize = 200;

/// One event of a run. Serialised as a JSON object tagged by `type` (`run_started`, ...);
/// `step` fields are the index of the step ([`crate::state::StepRecord::index`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run began; always the first event.
    RunStarted {
        /// The agent's name.
        agent: String,
        /// The model the run talks to.
        model: String,
        /// The task given to the run.
        input: String,
        /// The provider the model is reached through (`openai`, `anthropic`); filled in by
        /// the driver that knows the model (absent in logs written before it was added).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        /// A price is known for the model (the agent's or the known-models table). When
        /// false, each call's `cost_usd` is 0 because nothing says what it cost.
        #[serde(default)]
        priced: bool,
    },
    /// A model call is about to be sent.
    ModelRequest {
        /// The step this call opens.
        step: usize,
        /// What the call is for (a turn, a summary, the forced answer).
        kind: ModelCallKind,
        /// Messages in the request, system prompt included.
        messages: usize,
        /// Tools offered (0 when tools are off).
        tools: usize,
        /// Estimated input tokens of the request.
        estimated_input_tokens: u64,
    },
    /// A piece of the model's answer text, as it streams.
    TextDelta {
        /// The piece, to append.
        text: String,
    },
    /// A model call answered: what it cost and how it ended (its text came as deltas).
    ModelResponse {
        /// The step of the call.
        step: usize,
        /// What the call was for.
        kind: ModelCallKind,
        /// Why the model stopped.
        finish_reason: FinishReason,
        /// Tool calls the model requested (valid or not).
        tool_calls: usize,
        /// Tokens the call used.
        usage: Usage,
        /// The server reported no usage: `usage` is warden's estimate.
        #[serde(default)]
        usage_estimated: bool,
        /// Cost of the call in USD (0 without a price).
        cost_usd: f64,
    },
    /// A tool call starts running.
    ToolCallStarted {
        /// The model's id of the call.
        call_id: String,
        /// The tool's name.
        name: String,
        /// A bounded preview of the arguments: long strings cut (their size noted), long
        /// or deep containers elided with a `…` marker. The tool gets them whole.
        arguments: serde_json::Value,
        /// 1 for the first attempt, 2 for the first retry, ...
        attempt: u32,
        /// A trusted host tool: a function of the host program, running unsandboxed
        /// (absent, false, for sandboxed tools).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        trusted: bool,
    },
    /// A tool call ended, with output or a failure.
    ToolCallFinished {
        /// The model's id of the call.
        call_id: String,
        /// The tool's name.
        name: String,
        /// Whether the call produced output.
        ok: bool,
        /// The failure's kind when `ok` is false.
        error_kind: Option<ToolFailureKind>,
        /// The first 200 characters of the output or error (`…` when cut).
        preview: String,
        /// What the call used.
        usage: ToolUsage,
        /// A trusted host tool, unsandboxed (absent, false, for sandboxed tools).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        trusted: bool,
    },
    /// A final answer the output schema rejected. `will_retry`: the model was told why and
    /// asked again; otherwise the run ends with `invalid_output`.
    OutputRejected {
        /// The step whose answer was rejected.
        step: usize,
        /// Why the schema rejected it.
        reason: String,
        /// How many answers have been rejected so far, this one included.
        attempt: u32,
        /// Whether the model is asked again.
        will_retry: bool,
    },
    /// A call waits for a person's approval before it runs (its tool is marked
    /// `approval = "always"`, or `"first"` and this is its first call).
    ApprovalRequested {
        /// The model's id of the call.
        call_id: String,
        /// The tool's name.
        name: String,
        /// The call's arguments.
        arguments: serde_json::Value,
        /// What the call would be allowed to use (directories, hosts), one line each.
        grants: Vec<String>,
    },
    /// A call the parser rejected: never run, the model was told why.
    ToolCallRejected {
        /// The model's id of the call.
        call_id: String,
        /// The tool name the model used.
        name: String,
        /// What the model was told.
        reason: String,
    },
    /// Old context was summarised (`summarized`) or dropped/shrunk to fit the window.
    Compaction {
        /// Whether a model call summarised old turns (else they were dropped or shrunk).
        summarized: bool,
        /// History messages summarised or dropped.
        messages_replaced: usize,
        /// Tool outputs cut to the cap.
        tool_outputs_shrunk: usize,
        /// Estimated input tokens before.
        tokens_before: u64,
        /// Estimated input tokens after.
        tokens_after: u64,
    },
    /// A resource passed the warning ratio ([`crate::budget::Budget::warn_at`]); once per
    /// resource and run.
    BudgetWarning {
        /// The resource.
        resource: BudgetResource,
        /// How much was used, in the resource's unit (a count, tokens, seconds or USD).
        used: f64,
        /// Its limit, in the same unit.
        limit: f64,
    },
    /// The client-side rate limiter held a model request back.
    RateLimitWait {
        /// How long it waited, in milliseconds.
        wait_ms: u64,
        /// The request's attempt (1 today: the limiter runs before the first).
        attempt: u32,
        /// Which limit held it back.
        message: String,
    },
    /// A model call failed transiently and is tried again.
    Retry {
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Delay before the next attempt, in milliseconds.
        wait_ms: u64,
        /// Why the attempt failed.
        reason: String,
    },
    /// A guardrail checked the input, the output or a tool call (emitted by the driver).
    GuardrailChecked {
        /// The guardrail's name.
        guardrail: String,
        /// What it checked.
        stage: GuardrailStage,
        /// The checked call's id (`tool_call` stage only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        /// It tripped: the run ends (input, output) or the call is vetoed (tool call).
        tripped: bool,
        /// Why it tripped (empty when it passed).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// The run passed from one agent to another (the model called `transfer_to_<to>`):
    /// from here on the events are `to`'s, with its instructions, model, tools and grants.
    Handoff {
        /// The agent handing off.
        from: String,
        /// The agent taking over.
        to: String,
        /// Why, as the model said it (the `reason` argument; empty when none was given).
        reason: String,
        /// The model `to` talks to.
        model: String,
        /// The provider `to`'s model is reached through, when the driver knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        /// History messages passed on (after the handoff's filter).
        messages: usize,
    },
    /// An event of a nested run: an agent called as a tool by another. `path` names the
    /// agents from the caller down to the one that emitted `event`, e.g.
    /// `["triage", "researcher"]`; deeper runs add to it. `calls` names the tool calls
    /// that started each nested run, one per level, so two calls of the same agent in one
    /// turn (running side by side) are told apart: `calls[i]` is the id of the call by
    /// which `path[i]` ran `path[i + 1]`, e.g. `["call_1"]`.
    Nested {
        /// The agents from the caller to the emitter.
        path: Vec<String>,
        /// The ids of the tool calls from the caller down, one per nested level
        /// (`path.len() - 1` of them). Absent (empty) in logs written before it was added.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        calls: Vec<String>,
        /// The nested run's event.
        event: Box<RunEvent>,
    },
    /// The messages a model call was sent and what it answered, in full (bounded: see
    /// [`content`]). Only emitted when the runner captures content
    /// (`Runner::capture_content`), just before the call's `ModelResponse`.
    ModelContent {
        /// The request's messages, oldest first (the newest that fit the cap).
        input: Vec<content::ContentMessage>,
        /// Older messages left out by the cap.
        #[serde(default, skip_serializing_if = "is_zero")]
        dropped: usize,
        /// The answer: one assistant message.
        output: Vec<content::ContentMessage>,
    },
    /// The run is over. `output` is the final answer (also when it was not streamed as
    /// text deltas: a non-streamed call, a stop tool's output), so a consumer of the events
    /// alone (`--json`) has it.
    RunFinished {
        /// Why the run ended.
        stop_reason: StopReason,
        /// The output came from the forced call after a budget ran out.
        forced: bool,
        /// The final answer, if there is one.
        output: Option<FinalOutput>,
        /// Usage summed over the run.
        usage: UsageTotals,
    },
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RunEvent {
    /// `ModelContent` for a request and its response (see [`content`]).
    pub fn model_content(
        messages: &[crate::chat::Message],
        response: &crate::chat::ChatResponse,
    ) -> Self {
        let (input, dropped) = content::request_content(messages);
        RunEvent::ModelContent {
            input,
            dropped,
            output: content::response_content(response),
        }
    }

    /// `ToolCallStarted` for a planned call, with a bounded preview of its arguments.
    pub fn tool_started(call: &PlannedCall) -> Self {
        RunEvent::ToolCallStarted {
            call_id: call.call_id.clone(),
            name: call.name.clone(),
            arguments: preview::preview(&call.arguments),
            attempt: call.attempt,
            trusted: false,
        }
    }

    /// The same event marked as a trusted host tool's (`ToolCallStarted`,
    /// `ToolCallFinished`); any other event is returned unchanged.
    pub fn trusted(mut self) -> Self {
        if let RunEvent::ToolCallStarted { trusted, .. }
        | RunEvent::ToolCallFinished { trusted, .. } = &mut self
        {
            *trusted = true;
        }
        self
    }

    /// `self` as seen one level up: an event of the agent `callee` that `caller` ran by
    /// its tool call `call_id`, wrapped in [`RunEvent::Nested`] (a nested event of the
    /// callee gains `caller` in front of its path and `call_id` in front of its calls).
    pub fn nested_in(self, caller: &str, callee: &str, call_id: &str) -> Self {
        match self {
            RunEvent::Nested {
                mut path,
                mut calls,
                event,
            } => {
                path.insert(0, caller.to_owned());
                calls.insert(0, call_id.to_owned());
                RunEvent::Nested { path, calls, event }
            }
            event => RunEvent::Nested {
                path: vec![caller.to_owned(), callee.to_owned()],
                calls: vec![call_id.to_owned()],
                event: Box::new(event),
            },
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
            trusted: false,
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
    fn a_nested_event_names_every_agent_from_the_caller_down() {
        let inner = RunEvent::TextDelta { text: "hi".into() };
        let once = inner.clone().nested_in("researcher", "searcher", "r_1");
        let twice = once.nested_in("triage", "researcher", "t_1");
        let line = twice.to_json_line();
        assert!(
            line.contains(r#""path":["triage","researcher","searcher"],"calls":["t_1","r_1"]"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<RunEvent>(&line).unwrap(), twice);
        let RunEvent::Nested { path, calls, event } = twice else {
            panic!("wrong variant");
        };
        assert_eq!(path, ["triage", "researcher", "searcher"]);
        assert_eq!(calls, ["t_1", "r_1"], "one call id per nested level");
        assert_eq!(*event, inner);
        let line = RunEvent::Handoff {
            from: "a".into(),
            to: "b".into(),
            reason: "r".into(),
            model: "m".into(),
            provider: None,
            messages: 2,
        }
        .to_json_line();
        assert!(line.starts_with("{\"type\":\"handoff\""), "{line}");
    }

    #[test]
    fn a_nested_event_logged_before_call_ids_still_reads() {
        let line = r#"{"type":"nested","path":["a","b"],"event":{"type":"text_delta","text":"x"}}"#;
        let RunEvent::Nested { path, calls, .. } = serde_json::from_str(line).unwrap() else {
            panic!("wrong variant");
        };
        assert_eq!((path.len(), calls.len()), (2, 0));
    }

    #[test]
    fn only_tool_events_are_marked_trusted() {
        let call = PlannedCall {
            call_id: "c".into(),
            name: "lookup".into(),
            arguments: serde_json::json!({}),
            sequential: false,
            attempt: 1,
        };
        let line = RunEvent::tool_started(&call).trusted().to_json_line();
        assert!(line.contains("\"trusted\":true"), "{line}");
        // Sandboxed tools' events do not carry the field at all.
        assert!(
            !RunEvent::tool_started(&call)
                .to_json_line()
                .contains("trusted")
        );
        let delta = RunEvent::TextDelta { text: "x".into() };
        assert_eq!(delta.clone().trusted(), delta);
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
