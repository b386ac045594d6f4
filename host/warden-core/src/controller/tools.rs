//! One turn's tool calls between `RunTools` and the last outcome: retries, abort, stop
//! tools, and the results appended in call order.
//!
//! Invariant: a turn has one slot per call of the assistant message, in call order, and it
//! is appended to the history only when every slot holds a result message.

use super::{Controller, ControllerError, Phase, ToolPlan};
use crate::chat::Message;
use crate::events::RunEvent;
use crate::run::{FinalOutput, StopReason};
use crate::state::ToolCallRecord;
use crate::tool::{ErrorPolicy, PlannedCall, ToolFailureKind, ToolOutcome};

/// The result of one call of the turn, or the call still to run.
pub(super) enum Slot {
    Done(Message),
    Pending {
        call: PlannedCall,
        policy: ErrorPolicy,
    },
}

/// The calls of the turn being run.
pub(super) struct PendingTurn {
    pub(super) slots: Vec<Slot>,
    pub(super) max_concurrency: usize,
    /// The first (in call order) successful stop tool: slot index, name, output.
    pub(super) stop: Option<(usize, String, String)>,
}

impl PendingTurn {
    pub(super) fn new(slots: Vec<Slot>, max_concurrency: usize) -> Self {
        Self {
            slots,
            max_concurrency: max_concurrency.max(1),
            stop: None,
        }
    }

    /// The calls still to run, in call order.
    pub(super) fn plan(&self) -> ToolPlan {
        let calls = self
            .slots
            .iter()
            .filter_map(|s| match s {
                Slot::Pending { call, .. } => Some(call.clone()),
                Slot::Done(_) => None,
            })
            .collect();
        ToolPlan {
            calls,
            max_concurrency: self.max_concurrency,
        }
    }

    pub(super) fn is_complete(&self) -> bool {
        self.slots.iter().all(|s| matches!(s, Slot::Done(_)))
    }

    fn pending_index(&self, call_id: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| matches!(s, Slot::Pending { call, .. } if call.call_id == call_id))
    }

    /// The result messages in call order; calls still pending get an error result saying `why`.
    pub(super) fn close(self, why: &str) -> Vec<Message> {
        self.slots
            .into_iter()
            .map(|s| match s {
                Slot::Done(message) => message,
                Slot::Pending { call, .. } => {
                    Message::tool_result(call.call_id, format!("Error: {why}."), true)
                }
            })
            .collect()
    }
}

/// The tool result the model sees for a failure.
fn failure_text(kind: ToolFailureKind, message: &str) -> String {
    format!("Error ({kind}): {message}")
}

impl Controller {
    /// Feeds outcomes of the pending `RunTools` step, in any order and any number at a time.
    /// Calls not reported yet stay pending (`next_step` plans them again), and so do failed
    /// calls whose tool has the `retry` policy and a transient failure with retries left.
    pub fn on_tool_results(&mut self, outcomes: Vec<ToolOutcome>) -> Result<(), ControllerError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Ready);
        let Phase::AwaitingTools(mut turn) = phase else {
            let got = phase.name();
            self.phase = phase;
            return Err(ControllerError::UnexpectedFeed {
                got: "tool results",
                phase: got,
            });
        };
        if let Some(unknown) = outcomes
            .iter()
            .find(|o| turn.pending_index(&o.call_id).is_none())
        {
            let err = ControllerError::UnknownCall(unknown.call_id.clone());
            self.phase = Phase::AwaitingTools(turn);
            return Err(err);
        }
        let mut abort = None;
        for outcome in outcomes {
            self.state.usage_mut().add_tool(&outcome.usage);
            let Some(index) = turn.pending_index(&outcome.call_id) else {
                continue;
            };
            let Slot::Pending { call, policy } = &mut turn.slots[index] else {
                continue;
            };
            self.record_call(call, &outcome);
            match outcome.result {
                Ok(output) => {
                    if turn.stop.is_none() && self.config.stop_on_tools.contains(&call.name) {
                        turn.stop = Some((index, call.name.clone(), output.clone()));
                    }
                    turn.slots[index] =
                        Slot::Done(Message::tool_result(&outcome.call_id, output, false));
                }
                Err(failure) => match *policy {
                    ErrorPolicy::Retry { max_retries }
                        if failure.transient && call.attempt <= max_retries =>
                    {
                        call.attempt += 1;
                    }
                    policy => {
                        if policy == ErrorPolicy::Abort && abort.is_none() {
                            abort = Some(StopReason::ToolAborted {
                                tool: call.name.clone(),
                                kind: failure.kind,
                                message: failure.message.clone(),
                            });
                        }
                        let text = failure_text(failure.kind, &failure.message);
                        turn.slots[index] =
                            Slot::Done(Message::tool_result(&outcome.call_id, text, true));
                    }
                },
            }
        }
        if let Some(reason) = abort {
            self.append_results(turn.close("not run: the run was aborted by a failing tool"));
            self.finish(reason, None, false);
            return Ok(());
        }
        if !turn.is_complete() {
            self.phase = Phase::AwaitingTools(turn);
            return Ok(());
        }
        let stop = turn.stop.take();
        self.append_results(turn.close("no result"));
        self.emit_warnings();
        if let Some((_, name, output)) = stop {
            let output = FinalOutput {
                text: output,
                json: None,
                truncated: false,
            };
            self.finish(StopReason::StopTool { name }, Some(output), false);
        } else if let Some(exhausted) = self.budget.check_after(self.consumption()) {
            self.on_exhausted(exhausted);
        }
        Ok(())
    }

    /// Records one attempt in the current step (attempts of a retried call are merged).
    fn record_call(&mut self, call: &PlannedCall, outcome: &ToolOutcome) {
        let Some(step) = self.state.current_step_mut() else {
            return;
        };
        let error_kind = outcome.result.as_ref().err().map(|f| f.kind);
        match step
            .tool_calls
            .iter_mut()
            .find(|r| r.call_id == call.call_id)
        {
            Some(record) => {
                record.attempts = call.attempt;
                record.error_kind = error_kind;
                record.usage.fuel += outcome.usage.fuel;
                record.usage.wall_ms += outcome.usage.wall_ms;
                record.usage.peak_memory = record.usage.peak_memory.max(outcome.usage.peak_memory);
                record.usage.bytes_in += outcome.usage.bytes_in;
                record.usage.bytes_out += outcome.usage.bytes_out;
                record.usage.http_requests += outcome.usage.http_requests;
                record.usage.http_bytes_sent += outcome.usage.http_bytes_sent;
                record.usage.http_bytes_received += outcome.usage.http_bytes_received;
            }
            None => step.tool_calls.push(ToolCallRecord {
                call_id: call.call_id.clone(),
                name: call.name.clone(),
                error_kind,
                attempts: call.attempt,
                usage: outcome.usage,
            }),
        }
    }

    /// Appends tool results to the history.
    pub(super) fn append_results(&mut self, messages: Vec<Message>) {
        for message in messages {
            self.state.push(message);
        }
    }

    /// Queues `ToolCallRejected` events (used by the turn handler).
    pub(super) fn emit_rejected(&mut self, call_id: &str, name: &str, reason: &str) {
        self.events.push(RunEvent::ToolCallRejected {
            call_id: call_id.into(),
            name: name.into(),
            reason: reason.into(),
        });
    }
}
