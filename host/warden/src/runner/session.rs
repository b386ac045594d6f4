//! [`Session`]: a multi-turn conversation with one agent (what `warden chat` drives).
//!
//! Invariant: one controller lives for the whole session, so the history, usage and budget
//! totals carry over from turn to turn; each `send` drives it to `Done` again.

use super::{Agent, RunError, RunHandle, Runner, drive};
use warden_core::controller::Controller;
use warden_core::events::RunEvent;
use warden_core::run::RunResult;
use warden_core::state::RunState;

/// A multi-turn session. See the module docs.
pub struct Session {
    runner: Runner,
    agent: Agent,
    controller: Option<Controller>,
}

impl Session {
    pub(super) fn new(runner: Runner, agent: Agent) -> Self {
        Self {
            runner,
            agent,
            controller: None,
        }
    }

    /// Sends one user message and drives the agent until it answers (or stops), giving
    /// every event to `on_event`. A stopped turn (budget, cancellation) does not end the
    /// session: the next `send` continues with the same history.
    pub async fn send(
        &mut self,
        input: impl Into<String>,
        handle: &RunHandle,
        mut on_event: impl FnMut(RunEvent),
    ) -> Result<RunResult, RunError> {
        let input = input.into();
        let controller = match &mut self.controller {
            Some(controller) => {
                controller.continue_with(input)?;
                controller
            }
            slot @ None => slot.insert(self.agent.controller(input)?),
        };
        drive::drive(
            &self.runner,
            &self.agent,
            controller,
            handle,
            &mut on_event,
            self.runner.streaming,
            &mut super::record::Recorder::unrecorded(self.runner.approver.clone()),
        )
        .await
        .and_then(drive::finished)
    }

    /// The conversation so far (`None` before the first message).
    pub fn state(&self) -> Option<&RunState> {
        self.controller.as_ref().map(Controller::state)
    }
}
