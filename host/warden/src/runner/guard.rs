//! Where the drive loop runs an agent's guardrails: the input beside (or before) the first
//! model call of a user turn, the final output before `RunFinished` leaves the runner, and
//! each tool call before its approval and its sandbox.
//!
//! Invariant: while an agent has output guardrails, no `RunFinished` reaches the caller
//! before they decided (the driver holds it back, see [`FinishGate`]); a tripped input
//! guardrail's run never gets the model's response fed; a vetoed call never starts.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

use super::Agent;
use super::drive::forward;
use crate::guardrail::{Guardrail, Subject, check_all};
use warden_core::budget::Budget;
use warden_core::chat::Message;
use warden_core::controller::Controller;
use warden_core::events::RunEvent;
use warden_core::guardrail::GuardrailStage;
use warden_core::run::{CancelMode, RunResult, StopReason};
use warden_core::state::UsageTotals;
use warden_core::tool::{PlannedCall, ToolFailure, ToolFailureKind, ToolOutcome, ToolUsage};

/// The user's input to check, when the run is at the start of a user turn (its last live
/// message is the user's) and the agent has input guardrails.
pub(super) fn pending_input(agent: &Agent, controller: &Controller) -> Option<String> {
    if agent.guardrails().input.is_empty() {
        return None;
    }
    match controller.state().live().last() {
        Some(Message::User { content }) => Some(content.to_string()),
        _ => None,
    }
}

/// The input guardrails that must pass before the model sees the input, and the others.
pub(super) fn input_guards(agent: &Agent) -> (Vec<&Guardrail>, Vec<&Guardrail>) {
    agent
        .guardrails()
        .input
        .iter()
        .partition(|g| g.is_before_model())
}

/// What checking a subject gave: the guardrails' events, the stop reason if one tripped,
/// and what the checks used (charged to the run).
pub(super) type InputChecked = (Vec<RunEvent>, Option<StopReason>, UsageTotals);

/// Checks `input` with `guards`, within `cap` (what the run has left).
pub(super) async fn check_input(guards: &[&Guardrail], input: &str, cap: &Budget) -> InputChecked {
    if guards.is_empty() {
        return (Vec::new(), None, UsageTotals::default());
    }
    let checked = check_all(guards, &Subject::Input(input), None, Some(cap)).await;
    let reason = checked.stop_reason(GuardrailStage::Input);
    (checked.events, reason, checked.usage)
}

/// Holds back `RunFinished` events while an agent has output guardrails, until they decide.
pub(super) struct FinishGate {
    hold: bool,
    held: Mutex<Option<RunEvent>>,
    open: AtomicBool,
}

impl FinishGate {
    pub(super) fn new(agent: &Agent) -> Self {
        FinishGate {
            hold: !agent.guardrails().output.is_empty(),
            held: Mutex::new(None),
            open: AtomicBool::new(false),
        }
    }

    /// `event` if it may go on now; `None` if it is held.
    pub(super) fn pass(&self, event: RunEvent) -> Option<RunEvent> {
        let finished = matches!(event, RunEvent::RunFinished { .. });
        if self.hold && finished && !self.open.load(Ordering::SeqCst) {
            *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(event);
            return None;
        }
        Some(event)
    }

    /// Runs the output guardrails on a finished run's output (answers and stop tools only),
    /// then lets its `RunFinished` go: the held one, or the controller's new one when a
    /// guardrail tripped (the run then has no output). Returns the run's final result.
    pub(super) async fn review<S: FnMut(RunEvent) + ?Sized>(
        &self,
        agent: &Agent,
        controller: &mut Controller,
        result: RunResult,
        cancel: &CancellationToken,
        sink: &mut S,
    ) -> RunResult {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(held) = held else {
            return result;
        };
        self.open.store(true, Ordering::SeqCst);
        // A handoff is a stop tool too, but its "output" is not the run's answer.
        let answered = match &result.stop_reason {
            StopReason::Completed => true,
            StopReason::StopTool { name } => agent.handoff(name).is_none(),
            _ => false,
        };
        let guards: Vec<&Guardrail> = agent.guardrails().output.iter().collect();
        let output = result.output.as_ref().filter(|_| answered);
        let Some(output) = output else {
            sink(held);
            return result;
        };
        let subject = Subject::Output(&output.text);
        let cap = controller.remaining_budget();
        let checked = tokio::select! {
            biased;
            // Cancelled while the output waits for its review: it was never cleared.
            _ = cancel.cancelled() => {
                controller.stop(StopReason::Cancelled { mode: CancelMode::Immediate });
                forward(controller, sink);
                return controller.result().cloned().unwrap_or(result);
            }
            checked = check_all(&guards, &subject, None, Some(&cap)) => checked,
        };
        let reason = checked.stop_reason(GuardrailStage::Output);
        checked.events.into_iter().for_each(&mut *sink);
        // The checks' usage is the run's: charged before a trip's new end is made, added to
        // the result and its held `run_finished` on a pass.
        controller.charge(&checked.usage);
        match reason {
            Some(reason) => {
                controller.stop(reason);
                forward(controller, sink);
                controller.result().cloned().unwrap_or(result)
            }
            None => {
                let mut result = result;
                result.usage.add_totals(&checked.usage);
                let mut held = held;
                if let RunEvent::RunFinished { usage, .. } = &mut held {
                    usage.add_totals(&checked.usage);
                }
                sink(held);
                result
            }
        }
    }
}

/// Checks each of `calls` with the agent's tool guardrails; returns the calls that may go
/// on and the outcomes of the vetoed ones (the model's result for them). The checks' usage
/// is charged to `controller`. `None` when the run was cancelled meanwhile.
pub(super) async fn veto<S: FnMut(RunEvent) + ?Sized>(
    agent: &Agent,
    calls: Vec<PlannedCall>,
    controller: &mut Controller,
    cancel: &CancellationToken,
    sink: &mut S,
) -> Option<(Vec<PlannedCall>, Vec<ToolOutcome>)> {
    let guards: Vec<&Guardrail> = agent.guardrails().tool_call.iter().collect();
    if guards.is_empty() {
        return Some((calls, Vec::new()));
    }
    let cap = controller.remaining_budget();
    let (mut allowed, mut vetoed) = (Vec::new(), Vec::new());
    for call in calls {
        let subject = Subject::ToolCall {
            name: &call.name,
            arguments: &call.arguments,
        };
        let checked = tokio::select! {
            biased;
            _ = cancel.cancelled() => return None,
            checked = check_all(&guards, &subject, Some(&call.call_id), Some(&cap)) => checked,
        };
        controller.charge(&checked.usage);
        let tripped = checked.tripped;
        checked.events.into_iter().for_each(&mut *sink);
        match tripped {
            Some((guardrail, message)) => vetoed.push(ToolOutcome {
                call_id: call.call_id.clone(),
                name: call.name.clone(),
                result: Err(ToolFailure {
                    kind: ToolFailureKind::CapabilityDenied,
                    message: format!("not run: vetoed by guardrail `{guardrail}`: {message}"),
                    transient: false,
                }),
                usage: ToolUsage::default(),
            }),
            None => allowed.push(call),
        }
    }
    Some((allowed, vetoed))
}
