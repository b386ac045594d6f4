//! Durable runs: a [`Runner`] with a [`Store`] records every step of a run, continues a
//! named session across processes, and resumes an interrupted run where it stopped.
//!
//! ```text
//! runner.with_store(store)
//! runner.run_recorded(&agent, "task", &handle, on_event)          -> Recorded (new run id)
//! runner.run_session(&agent, "name", "message", &handle, on_event) -> Recorded (one run per name)
//! runner.resume(&agent, "run id", &options, &handle, on_event)     -> Recorded
//! ```
//!
//! Invariants: a run is checkpointed after every model response and every tool result
//! (see `record`); on resume, a call journaled as started without a recorded result is run
//! again only if its tool is declared idempotent, otherwise the model gets the result
//! "interrupted, outcome unknown"; a run whose agent definition changed is not resumed
//! unless the caller accepts the change; a run handed off within a team (see
//! `crate::multi`) is continued and resumed with the agent it was handed to, as each
//! checkpoint records it.

use std::sync::{Arc, Mutex};

use warden_core::controller::Controller;
use warden_core::events::{EventStamper, RunEvent, new_run_id};
use warden_core::run::RunResult;
use warden_core::tool::{PlannedCall, ToolFailure, ToolFailureKind, ToolOutcome, ToolUsage};
use warden_store::{
    AgentSummary, Lease, NewRun, PendingApproval, RunCheckpoint, RunStatus, Store, StoredRun,
    TeamSummary,
};

use super::approval::{Approvals, Gate};
use super::record::{EventBuffer, Recorder, buffering};
use super::team::drive_handing_off;
use super::{Agent, RunError, RunHandle, Runner};
use crate::multi::{Active, check_team, team_changes};

/// What the model is told about a call that was interrupted without a recorded result.
pub const INTERRUPTED: &str = "interrupted: the run stopped while this call was running and its outcome is unknown (it may or may not have taken effect); check before repeating it";

/// A recorded run's id and how it ended (or paused).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The run's id in the store.
    pub run_id: String,
    /// The result; `None` while the run is paused.
    pub result: Option<RunResult>,
    /// The call the run waits on, when it paused for an approval.
    pub paused: Option<PendingApproval>,
}

/// What a resume accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResumeOptions {
    /// Resume even if the agent definition changed since the run started (its budget,
    /// tools or settings): the new definition applies from the next step.
    pub accept_agent_change: bool,
}

/// Why a durable run cannot go on.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// The runner has no store.
    #[error("this runner has no run store: set one with `Runner::with_store`")]
    NoStore,
    /// The run is over; only a session continues a finished run (with a new message).
    #[error("run {run_id} is finished ({outcome}); there is nothing to resume")]
    Finished {
        /// The run.
        run_id: String,
        /// How it ended.
        outcome: String,
    },
    /// The run waits for an approval that has not been given.
    #[error("run {run_id} is paused for an approval: `warden runs approve|reject {run_id}`")]
    Paused {
        /// The run.
        run_id: String,
    },
    /// The session's last turn was interrupted.
    #[error(
        "session `{session}`: its run {run_id} was interrupted; `warden runs resume {run_id}` first"
    )]
    Interrupted {
        /// The session.
        session: String,
        /// Its run.
        run_id: String,
    },
    /// The agent definition changed since the run started.
    #[error(
        "run {run_id} was started with another version of agent `{agent}` ({changes}); \
         resume with the original agent file, or accept the change (`--accept-agent-change`)"
    )]
    AgentChanged {
        /// The run.
        run_id: String,
        /// The agent's name.
        agent: String,
        /// What changed, in one line.
        changes: String,
    },
    /// Agents of the run's team changed since the run started (or was last resumed).
    #[error(
        "run {run_id} was started with another version of its team: {changes}; resume with \
         the original agent files, or accept the change (`--accept-agent-change`)"
    )]
    TeamChanged {
        /// The run.
        run_id: String,
        /// The agents that changed, were added or were removed, by name (and
        /// `max_handoffs` when the team's limit changed).
        agents: Vec<String>,
        /// What changed, agent by agent, in one line.
        changes: String,
    },
}

impl Runner {
    /// Records this runner's durable runs in `store` (see [`Runner::run_recorded`]).
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The run store, if set.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref()
    }

    fn need_store(&self) -> Result<Arc<dyn Store>, RunError> {
        self.store
            .clone()
            .ok_or(RunError::Durable(DurableError::NoStore))
    }

    /// Runs `agent` on `input` as a new recorded run.
    pub async fn run_recorded(
        &self,
        agent: &Agent,
        input: impl Into<String>,
        handle: &RunHandle,
        on_event: impl FnMut(RunEvent) + Send,
    ) -> Result<Recorded, RunError> {
        self.run_recorded_as(agent, new_run_id(), input, handle, on_event)
            .await
    }

    /// [`Runner::run_recorded`] under a given run id (e.g. the id a `--json` stream shows).
    pub async fn run_recorded_as(
        &self,
        agent: &Agent,
        run_id: String,
        input: impl Into<String>,
        handle: &RunHandle,
        on_event: impl FnMut(RunEvent) + Send,
    ) -> Result<Recorded, RunError> {
        self.start_new(agent, run_id, None, input.into(), handle, on_event)
            .await
    }

    /// Sends `input` to the session `name`: the first message starts its run, each later
    /// one (from this process or another, after a restart) continues its history.
    pub async fn run_session(
        &self,
        agent: &Agent,
        name: &str,
        input: impl Into<String>,
        handle: &RunHandle,
        mut on_event: impl FnMut(RunEvent) + Send,
    ) -> Result<Recorded, RunError> {
        let store = self.need_store()?;
        let input = input.into();
        let Some(run_id) = store.session(name).await.map_err(RunError::Store)? else {
            let session = Some(name.into());
            return (self.start_new(agent, new_run_id(), session, input, handle, on_event)).await;
        };
        let stored = store.load(&run_id).await.map_err(RunError::Store)?;
        match stored.summary.status {
            RunStatus::Finished => {}
            RunStatus::Paused => return Err(RunError::Durable(DurableError::Paused { run_id })),
            _ => {
                return Err(RunError::Durable(DurableError::Interrupted {
                    session: name.into(),
                    run_id,
                }));
            }
        }
        let team = self.team_summary();
        self.check_agents(&stored, agent, team.as_ref(), ResumeOptions::default())?;
        let lease = store.acquire(&run_id).await.map_err(RunError::Store)?;
        let approvals = approvals_of(&stored.checkpoint);
        // The session goes on with the agent it was handed to, under that agent's grants.
        let mut active = Active::stored(self, agent, stored.checkpoint.active_agent.as_ref())?;
        active.handoffs = 0;
        let mut controller = active.agent.restore(stored.checkpoint.snapshot)?;
        controller.continue_with(input)?;
        (self.drive_recorded(
            agent,
            active,
            controller,
            (store, lease, approvals, team),
            handle,
            &mut on_event,
        ))
        .await
    }

    /// Continues the interrupted run `run_id` from its last checkpoint (see the module
    /// docs for calls that were running when it stopped).
    pub async fn resume(
        &self,
        agent: &Agent,
        run_id: &str,
        options: &ResumeOptions,
        handle: &RunHandle,
        mut on_event: impl FnMut(RunEvent) + Send,
    ) -> Result<Recorded, RunError> {
        let store = self.need_store()?;
        let stored = store.load(run_id).await.map_err(RunError::Store)?;
        let run_id = stored.summary.run_id.clone();
        if stored.summary.status == RunStatus::Finished {
            let outcome = stored.summary.outcome.clone().unwrap_or_default();
            return Err(RunError::Durable(DurableError::Finished {
                run_id,
                outcome,
            }));
        }
        let team = self.team_summary();
        self.check_agents(&stored, agent, team.as_ref(), *options)?;
        let lease = store.acquire(&run_id).await.map_err(RunError::Store)?;
        let mut approvals = approvals_of(&stored.checkpoint);
        let pending = stored.checkpoint.approval.clone();
        let active = Active::stored(self, agent, stored.checkpoint.active_agent.as_ref())?;
        let mut controller = active.agent.restore(stored.checkpoint.snapshot)?;
        if let Some(pending) = pending {
            let decision = store.take_decision(&lease).await.map_err(RunError::Store)?;
            let Some(decision) = decision else {
                return Err(RunError::Durable(DurableError::Paused { run_id }));
            };
            if let Gate::Reject(outcome) = approvals.apply(&pending.call, decision) {
                controller.on_tool_results(vec![outcome])?;
            }
        }
        let started = store
            .started_calls(&run_id)
            .await
            .map_err(RunError::Store)?;
        let interrupted: Vec<ToolOutcome> = (controller.pending_calls().iter())
            .filter(|call| {
                started.contains(&call.call_id) && !active.agent.is_idempotent(&call.name)
            })
            .map(interrupted_outcome)
            .collect();
        if !interrupted.is_empty() {
            controller.on_tool_results(interrupted)?;
        }
        (self.drive_recorded(
            agent,
            active,
            controller,
            (store, lease, approvals, team),
            handle,
            &mut on_event,
        ))
        .await
    }

    async fn start_new(
        &self,
        agent: &Agent,
        run_id: String,
        session: Option<String>,
        input: String,
        handle: &RunHandle,
        mut on_event: impl FnMut(RunEvent) + Send,
    ) -> Result<Recorded, RunError> {
        let store = self.need_store()?;
        check_team(self, agent)?;
        let controller = agent.controller(input.clone())?;
        let mut checkpoint = RunCheckpoint::new(agent.summary(), controller.snapshot());
        let team = self.team_summary();
        checkpoint.team = team.clone();
        let run = NewRun {
            run_id,
            session,
            input,
            checkpoint,
        };
        let lease = store.create_run(run).await.map_err(RunError::Store)?;
        let approvals = Approvals::default();
        (self.drive_recorded(
            agent,
            Active::entry(agent),
            controller,
            (store, lease, approvals, team),
            handle,
            &mut on_event,
        ))
        .await
    }

    /// Drives a recorded run of entry agent `agent`, now run by `active`, through its
    /// handoffs.
    async fn drive_recorded(
        &self,
        agent: &Agent,
        mut active: Active,
        mut controller: Controller,
        (store, lease, approvals, team): (Arc<dyn Store>, Lease, Approvals, Option<TeamSummary>),
        handle: &RunHandle,
        on_event: &mut (dyn FnMut(RunEvent) + Send),
    ) -> Result<Recorded, RunError> {
        let run_id = lease.run_id.clone();
        let buffer: EventBuffer = Arc::new(Mutex::new((EventStamper::new(&run_id), Vec::new())));
        let approver = self.approver.clone();
        let summary = agent.summary();
        let mut recorder = Recorder::new(store, lease, summary, buffer.clone(), approver);
        recorder.approvals = approvals;
        recorder.set_team(team);
        let mut sink = buffering(&buffer, on_event);
        // The state as resumed (interrupted calls answered) is written before anything runs,
        // with the agent that runs it.
        recorder.set_agent(active.stored_form(), active.agent.handoff_tools());
        recorder.checkpoint(&controller).await?;
        let result = drive_handing_off(
            self,
            &mut active,
            &mut controller,
            handle,
            &mut sink,
            self.streaming,
            &mut recorder,
        )
        .await?;
        let paused = match result {
            Some(_) => None,
            None => recorder.pending().cloned(),
        };
        Ok(Recorded {
            run_id,
            result,
            paused,
        })
    }
}

/// The approvals kept in `checkpoint`.
fn approvals_of(checkpoint: &RunCheckpoint) -> Approvals {
    Approvals {
        calls: checkpoint.approved_calls.iter().cloned().collect(),
        tools: checkpoint.approved_tools.iter().cloned().collect(),
    }
}

/// The outcome fed for a call that may have run without a recorded result.
fn interrupted_outcome(call: &PlannedCall) -> ToolOutcome {
    ToolOutcome {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        result: Err(ToolFailure {
            kind: ToolFailureKind::Internal,
            message: INTERRUPTED.into(),
            transient: false,
        }),
        usage: ToolUsage::default(),
    }
}

impl Runner {
    /// What a checkpoint keeps of this runner's team, if it has one.
    fn team_summary(&self) -> Option<TeamSummary> {
        (self.team()).map(|team| team.summary(self.model().provider()))
    }

    /// Refuses to continue `stored` with a changed entry agent, or (when the run recorded
    /// its team) with any agent of `team` (this runner's) changed, added or removed, unless
    /// `options` accepts it. A checkpoint without a team (written before teams were
    /// recorded), or a runner without one, is checked on its entry agent only.
    fn check_agents(
        &self,
        stored: &StoredRun,
        agent: &Agent,
        team: Option<&TeamSummary>,
        options: ResumeOptions,
    ) -> Result<(), RunError> {
        if options.accept_agent_change {
            return Ok(());
        }
        let run_id = stored.summary.run_id.clone();
        // Without a team the run can only go on if it was never handed off, and then
        // `Active::stored` and the handoff checks name what is missing.
        if let (Some(then), Some(now)) = (&stored.checkpoint.team, team) {
            let changed = team_changes(then, now);
            if !changed.is_empty() {
                let lines: Vec<&str> = changed.iter().map(|(_, line)| line.as_str()).collect();
                let changes = lines.join("; ");
                let agents = changed.into_iter().map(|(agent, _)| agent).collect();
                return Err(RunError::Durable(DurableError::TeamChanged {
                    run_id,
                    agents,
                    changes,
                }));
            }
        }
        let then = &stored.checkpoint.agent;
        let now = agent.summary();
        if then.digest == now.digest {
            return Ok(());
        }
        Err(RunError::Durable(DurableError::AgentChanged {
            run_id,
            agent: then.name.clone(),
            changes: describe_changes(then, &now),
        }))
    }
}

/// What differs between two agent summaries, in one line.
pub(crate) fn describe_changes(then: &AgentSummary, now: &AgentSummary) -> String {
    let mut changes = Vec::new();
    for (what, then, now) in [
        ("tools", &then.tools, &now.tools),
        ("guardrails", &then.guardrails, &now.guardrails),
    ] {
        let removed: Vec<&str> = (then.iter())
            .filter(|t| !now.contains(t))
            .map(String::as_str)
            .collect();
        let added: Vec<&str> = (now.iter())
            .filter(|t| !then.contains(t))
            .map(String::as_str)
            .collect();
        if !removed.is_empty() {
            changes.push(format!("{what} removed: {}", removed.join(", ")));
        }
        if !added.is_empty() {
            changes.push(format!("{what} added: {}", added.join(", ")));
        }
    }
    if then.budget != now.budget {
        changes.push("its budget changed".into());
    }
    if changes.is_empty() {
        changes.push(
            "its settings, instructions, tool components or guardrails' checks changed".into(),
        );
    }
    changes.join("; ")
}
