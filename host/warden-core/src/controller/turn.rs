//! Handling one normal model response: final answer (with the structured-output check),
//! refusal, filtered or empty response, tool calls to check, skip or plan, or a turn the
//! provider paused (held for its continuation, see `pause`).
//!
//! Invariant: the assistant message is appended before its results, and a turn with tool
//! calls always yields one result per call (explanation, skip note or real output).

use super::tools::{PendingTurn, Slot};
use super::{Controller, Phase};
use crate::budget::OnExhaustion;
use crate::chat::{ChatResponse, Message};
use crate::events::RunEvent;
use crate::parser::{Parsed, ParsedCall};
use crate::run::{FinalOutput, StopReason};
use crate::state::InvalidCallRecord;
use crate::tool::PlannedCall;

const EMPTY_NUDGE: &str = "Your last reply was empty. Continue the task: call one of the tools or give your final answer.";

impl Controller {
    pub(super) fn handle_turn(&mut self, mut response: ChatResponse) {
        self.resume_paused(&mut response);
        if self.on_paused(&mut response) {
            return;
        }
        self.normalize_call_ids(&mut response);
        match self.tools.parse(&response) {
            Parsed::Refusal { message } => {
                self.state.push(Message::assistant_text(message.clone()));
                self.finish(StopReason::Refused { message }, None, false);
            }
            Parsed::ContentFiltered { text } => {
                if let Some(text) = &text {
                    self.state.push(Message::assistant_text(text.clone()));
                }
                let output = text.map(|text| FinalOutput {
                    text,
                    json: None,
                    truncated: true,
                });
                self.finish(StopReason::ContentFiltered, output, false);
            }
            Parsed::Empty { finish_reason } => {
                let detail = format!(
                    "the model answered with neither text nor tool calls (finish reason `{finish_reason}`)"
                );
                match self.count_invalid_turn(detail) {
                    Some(reason) => self.finish(reason, None, false),
                    None => self.state.push(Message::user(EMPTY_NUDGE)),
                }
            }
            Parsed::Final { text, truncated } => self.on_final(text, truncated),
            Parsed::ToolCalls { calls, .. } => {
                self.state.push(response.to_message());
                self.on_calls(calls);
            }
        }
    }

    /// Gives provider-less ids (empty or repeated) a unique one, so results can pair.
    fn normalize_call_ids(&mut self, response: &mut ChatResponse) {
        let step = self.state.steps().len();
        for (i, call) in response.tool_calls.iter_mut().enumerate() {
            if call.id.is_empty() || self.call_ids.contains(&call.id) {
                let mut n = 0;
                call.id = loop {
                    let candidate = format!("call_w{step}_{i}_{n}");
                    if !self.call_ids.contains(&candidate) {
                        break candidate;
                    }
                    n += 1;
                };
            }
            if self.call_ids.insert(call.id.clone()) {
                self.call_order.push(call.id.clone());
            }
        }
    }

    /// Counts a turn without a usable answer; the stop reason once the budget is spent.
    fn count_invalid_turn(&mut self, detail: String) -> Option<StopReason> {
        self.invalid_turns += 1;
        let max = self.config.max_invalid_turns;
        (self.invalid_turns > max).then(|| StopReason::InvalidResponses {
            detail: format!(
                "{detail}; {} turns without a usable answer, retry budget of {max} spent",
                self.invalid_turns
            ),
        })
    }

    fn on_final(&mut self, text: String, truncated: bool) {
        self.state.push(Message::assistant_text(text.clone()));
        let Some(schema) = &self.output_schema else {
            self.finish(
                StopReason::Completed,
                Some(FinalOutput {
                    text,
                    json: None,
                    truncated,
                }),
                false,
            );
            return;
        };
        match schema.check(&text) {
            Ok(json) => self.finish(
                StopReason::Completed,
                Some(FinalOutput {
                    text,
                    json: Some(json),
                    truncated,
                }),
                false,
            ),
            Err(why) => {
                self.output_retries += 1;
                let will_retry = self.output_retries <= self.config.max_output_retries;
                let step = self.state.steps().last().map_or(0, |s| s.index);
                self.events.push(RunEvent::OutputRejected {
                    step,
                    reason: why.clone(),
                    attempt: self.output_retries,
                    will_retry,
                });
                if !will_retry {
                    let output = FinalOutput {
                        text,
                        json: None,
                        truncated,
                    };
                    self.finish(
                        StopReason::InvalidOutput { detail: why },
                        Some(output),
                        false,
                    );
                } else {
                    self.state.push(Message::user(format!(
                        "Your final answer was rejected: {why}. Answer again with JSON that matches the schema."
                    )));
                }
            }
        }
    }

    /// Checks, skips or plans the calls of a turn whose assistant message is appended.
    fn on_calls(&mut self, calls: Vec<ParsedCall>) {
        let mut end: Option<StopReason> = None;
        let mut skip: Option<String> = None;
        let first_invalid = calls.iter().find_map(|c| match c {
            ParsedCall::Invalid(inv) => Some(format!(
                "invalid call to `{}`: {}",
                inv.name,
                inv.reason.summary()
            )),
            ParsedCall::Valid(_) => None,
        });
        if let Some(detail) = first_invalid {
            end = self.count_invalid_turn(detail);
            if end.is_some() {
                skip = Some("not run: the run ended after too many invalid tool calls".into());
            }
        }
        if end.is_none()
            && let Some(exhausted) = self.budget.check_after(self.consumption())
        {
            skip = Some(format!("not run: the {} ran out", exhausted.resource));
            match self.config.budget.on_exhaustion {
                OnExhaustion::Answer => self.exhausted = Some(exhausted),
                OnExhaustion::Error => {
                    end = Some(StopReason::Budget {
                        resource: exhausted.resource,
                        used: exhausted.used,
                        limit: exhausted.limit,
                    });
                }
            }
        }
        let mut allowed = self
            .budget
            .remaining_tool_calls(self.state.usage())
            .unwrap_or(u32::MAX);
        let mut slots = Vec::with_capacity(calls.len());
        for parsed in calls {
            match parsed {
                ParsedCall::Invalid(inv) => {
                    let summary = inv.reason.summary();
                    self.emit_rejected(&inv.call_id, &inv.name, &summary);
                    self.state.usage_mut().invalid_tool_calls += 1;
                    if let Some(step) = self.state.current_step_mut() {
                        step.invalid_calls.push(InvalidCallRecord {
                            call_id: inv.call_id.clone(),
                            name: inv.name.clone(),
                            reason: summary,
                        });
                    }
                    let text = inv.reason.message_for_model(&inv.name);
                    slots.push(Slot::Done(Message::tool_result(inv.call_id, text, true)));
                }
                ParsedCall::Valid(call) => {
                    let why = skip.clone().or_else(|| {
                        (allowed == 0).then(|| "not run: the tool-call budget is spent".into())
                    });
                    if let Some(why) = why {
                        slots.push(Slot::Done(Message::tool_result(
                            call.call_id,
                            format!("Error: {why}."),
                            true,
                        )));
                        continue;
                    }
                    allowed -= 1;
                    let entry = self.tools.get(&call.name);
                    let sequential = entry.is_some_and(|e| e.sequential);
                    let policy = entry.map(|e| e.error_policy).unwrap_or_default();
                    let call = PlannedCall {
                        call_id: call.call_id,
                        name: call.name,
                        arguments: call.arguments,
                        sequential,
                        attempt: 1,
                    };
                    slots.push(Slot::Pending { call, policy });
                }
            }
        }
        let turn = PendingTurn::new(slots, self.config.max_parallel_tools);
        if turn.is_complete() {
            self.append_results(turn.close("no result"));
            if let Some(reason) = end {
                self.finish(reason, None, false);
            }
        } else {
            self.phase = Phase::AwaitingTools(turn);
        }
    }
}
