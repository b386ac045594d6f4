//! [`Session`]: a multi-turn conversation with one agent (what `warden chat` drives).
//!
//! Invariant: one controller lives for the whole session, so the history, usage and budget
//! totals carry over from turn to turn; each `send` drives it to `Done` again.

use super::team::drive_to_end;
use super::{Agent, RunError, RunHandle, Runner};
use crate::multi::{Active, check_team};
use warden_core::controller::Controller;
use warden_core::events::RunEvent;
use warden_core::run::RunResult;
use warden_core::state::RunState;

/// A multi-turn session. See the module docs.
pub struct Session {
    runner: Runner,
    agent: Agent,
    /// The agent running the session now (handoffs switch it) and its controller.
    active: Option<(Active, Controller)>,
}

impl Session {
    pub(super) fn new(runner: Runner, agent: Agent) -> Self {
        Self {
            runner,
            agent,
            active: None,
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
        let (active, controller) = match &mut self.active {
            Some((active, controller)) => {
                controller.continue_with(input)?;
                active.handoffs = 0;
                (active, controller)
            }
            slot @ None => {
                check_team(&self.runner, &self.agent)?;
                let controller = self.agent.controller(input)?;
                let (active, controller) = slot.insert((Active::entry(&self.agent), controller));
                (active, controller)
            }
        };
        let streaming = self.runner.streaming;
        drive_to_end(
            &self.runner,
            active,
            controller,
            handle,
            &mut on_event,
            streaming,
        )
        .await
    }

    /// The conversation so far (`None` before the first message).
    pub fn state(&self) -> Option<&RunState> {
        self.active
            .as_ref()
            .map(|(_, controller)| controller.state())
    }

    /// The name of the agent the session runs with now (a handoff changes it).
    pub fn active_agent(&self) -> &str {
        match &self.active {
            Some((active, _)) => active.agent.name(),
            None => self.agent.name(),
        }
    }
}
