//! The run loop of several agents: drive the active agent's controller to its end; when it
//! ended by a handoff, go on with the target on the same history (filtered), usage and
//! clock — and run the calls the host runs itself (host functions, agents as tools,
//! handoffs).
//!
//! The loop itself is the runner's (`runner::team`: one loop for plain, session and
//! durable runs); this module decides where a run goes after a handoff ([`next_agent`]).
//!
//! Invariants: a run makes at most `Team::max_handoffs` handoffs (one more ends it with
//! `StopReason::HandoffLimit`); each agent after a handoff runs under its own budget capped
//! by the run's (the entry agent's), counted from the usage so far; only the last
//! `RunFinished` is forwarded, so a run has exactly one whatever its handoffs.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::agent_tool::{AgentToolArgs, answer_of};
use super::handoff::reason_of;
use super::pool::BudgetPool;
use super::{Handoff, HostBinding, Team, TeamError};
use crate::runner::{Agent, RunError, RunHandle, Runner, drive_to_end};
use warden_core::budget::{Budget, BudgetTracker, Consumption};
use warden_core::controller::{Controller, SnapshotPhase};
use warden_core::events::RunEvent;
use warden_core::run::{RunResult, StopReason};
use warden_core::state::UsageTotals;
use warden_core::tool::{PlannedCall, ToolFailure, ToolFailureKind, ToolOutcome, ToolUsage};
use warden_store::ActiveAgent;

/// Runs `entry` on `input` to the end, following its handoffs within the runner's team.
pub(crate) async fn run_agents<S: FnMut(RunEvent) + ?Sized>(
    runner: &Runner,
    entry: &Agent,
    input: String,
    handle: &RunHandle,
    sink: &mut S,
    streaming: bool,
) -> Result<RunResult, RunError> {
    check_team(runner, entry)?;
    let mut controller = entry.controller(input)?;
    let mut active = Active::entry(entry);
    // Boxed, as the tool step is: a run's future stays small while it waits.
    let drive = drive_to_end(
        runner,
        &mut active,
        &mut controller,
        handle,
        sink,
        streaming,
    );
    Box::pin(drive).await
}

/// Fails when `agent` has handoffs but the runner no team to resolve them in.
pub(crate) fn check_team(runner: &Runner, agent: &Agent) -> Result<(), RunError> {
    if runner.team().is_none() && agent.has_handoffs() {
        return Err(RunError::Team(TeamError::NoTeam {
            agent: agent.name().to_owned(),
        }));
    }
    Ok(())
}

/// The agent running a run's current part, and what a handoff needs to go on from it.
#[derive(Clone)]
pub(crate) struct Active {
    /// The run's entry agent's name.
    entry: String,
    /// The agent running now.
    pub(crate) agent: Agent,
    /// The run's budget (its entry agent's): every agent handed to runs capped by it.
    pub(crate) run_budget: Budget,
    /// Handoffs made so far in this turn.
    pub(crate) handoffs: u32,
}

impl Active {
    /// A run (or turn) starting with `entry`.
    pub(crate) fn entry(entry: &Agent) -> Self {
        Self {
            entry: entry.name().to_owned(),
            agent: entry.clone(),
            run_budget: entry.config().budget.clone(),
            handoffs: 0,
        }
    }

    /// A stored run of `entry` whose active agent is `stored` (`None`: the entry agent):
    /// the team's agent of that name, capped by the entry's budget as it was at the handoff.
    pub(crate) fn stored(
        runner: &Runner,
        entry: &Agent,
        stored: Option<&ActiveAgent>,
    ) -> Result<Self, RunError> {
        let mut active = Self::entry(entry);
        let Some(stored) = stored else {
            return Ok(active);
        };
        active.handoffs = stored.handoffs;
        if stored.name == entry.name() {
            return Ok(active);
        }
        let Some(team) = runner.team() else {
            return Err(RunError::Team(TeamError::NoTeamForStored {
                entry: entry.name().to_owned(),
                active: stored.name.clone(),
            }));
        };
        let Some(agent) = team.agent(&stored.name) else {
            let known = team.names().collect::<Vec<_>>().join(", ");
            return Err(RunError::Team(TeamError::UnknownAgent {
                from: entry.name().to_owned(),
                to: stored.name.clone(),
                known,
            }));
        };
        active.agent = capped(agent, &active.run_budget);
        Ok(active)
    }

    /// What a checkpoint keeps of it: `None` while the entry agent runs, not handed to.
    pub(crate) fn stored_form(&self) -> Option<ActiveAgent> {
        (self.agent.name() != self.entry || self.handoffs > 0).then(|| ActiveAgent {
            name: self.agent.name().to_owned(),
            handoffs: self.handoffs,
        })
    }

    /// Whether `event` is the end of this agent's part by a handoff (not the run's end).
    pub(crate) fn hands_off(&self, runner: &Runner, event: &RunEvent) -> bool {
        match event {
            RunEvent::RunFinished {
                stop_reason: StopReason::StopTool { name },
                ..
            } => runner.team().is_some() && self.agent.handoff(name).is_some(),
            _ => false,
        }
    }
}

/// `agent` with its budget capped by `run_budget`.
pub(super) fn capped(agent: &Agent, run_budget: &Budget) -> Agent {
    let budget = agent.config().budget.capped_by(run_budget);
    if budget == agent.config().budget {
        // The usual case (a run's budget is its entry agent's): no copy of the agent.
        return agent.clone();
    }
    let mut config = agent.config().clone();
    config.budget = budget;
    agent.clone().with_config(config)
}

/// Where a run goes once its active agent's part ended with `result`.
pub(crate) enum Next {
    /// Nowhere: `result` is the run's (or turn's) result.
    Done,
    /// One handoff too many: the run ends with this stop reason.
    Limit(StopReason),
    /// On with another agent (`active` is switched): its controller, and the `handoff`
    /// event to send.
    To(Box<(Controller, RunEvent)>),
}

/// Follows the handoff that ended `active`'s part with `result`, if it did: the target's
/// controller starts from the history passed on, the usage and clock so far.
pub(crate) fn next_agent(
    runner: &Runner,
    active: &mut Active,
    controller: &Controller,
    result: &RunResult,
) -> Result<Next, RunError> {
    let handoff = match &result.stop_reason {
        StopReason::StopTool { name } => active.agent.handoff(name).cloned(),
        _ => None,
    };
    let Some(team) = runner.team() else {
        return Ok(Next::Done);
    };
    switch(team, active, controller, handoff, runner.model().provider())
}

/// [`next_agent`] within `team`; `provider` is the one of agents without a model of their own.
fn switch(
    team: &Team,
    active: &mut Active,
    controller: &Controller,
    handoff: Option<Arc<Handoff>>,
    provider: &str,
) -> Result<Next, RunError> {
    let Some(handoff) = handoff else {
        return Ok(Next::Done);
    };
    let from = active.agent.name().to_owned();
    let to = handoff.target().to_owned();
    let Some(target) = team.agent(&to) else {
        let known = team.names().collect::<Vec<_>>().join(", ");
        return Err(RunError::Team(TeamError::UnknownAgent { from, to, known }));
    };
    if active.handoffs >= team.max_handoffs() {
        let limit = team.max_handoffs();
        return Ok(Next::Limit(StopReason::HandoffLimit { limit, from, to }));
    }
    let live = controller.state().live();
    let reason = reason_of(live, &handoff.tool_name());
    let passed = handoff.pass_on(&from, &reason, live);
    let messages = passed.len();
    let mut snapshot = controller.snapshot();
    snapshot.state.replace_live(passed);
    snapshot.phase = SnapshotPhase::Ready;
    (snapshot.exhausted, snapshot.paused) = (None, None);
    (
        snapshot.invalid_turns,
        snapshot.output_retries,
        snapshot.pauses,
    ) = (0, 0, 0);
    active.agent = capped(target, &active.run_budget);
    active.handoffs += 1;
    let controller = active.agent.restore(snapshot)?;
    let provider = active.agent.model().map_or(provider, |m| m.provider());
    let event = RunEvent::Handoff {
        from,
        to,
        reason,
        model: active.agent.config().model.clone(),
        provider: Some(provider.to_owned()),
        messages,
    };
    Ok(Next::To(Box::new((controller, event))))
}

impl Team {
    /// For drivers that step an agent's [`Controller`] by hand (a replay, a custom loop):
    /// when `agent`'s part of a run of this team ended, finished in `controller`, by a
    /// handoff, the agent handed to (its budget capped by the entry agent's) and its
    /// controller, started from the history passed on and the usage so far; `None` when
    /// it did not end by a handoff. `max_handoffs` is the caller's to count.
    pub fn follow_handoff(
        &self,
        agent: &Agent,
        controller: &Controller,
    ) -> Result<Option<(Agent, Controller)>, RunError> {
        let handoff = match controller.result().map(|r| &r.stop_reason) {
            Some(StopReason::StopTool { name }) => agent.handoff(name).cloned(),
            _ => None,
        };
        let mut active = Active {
            agent: agent.clone(),
            ..Active::entry(self.entry())
        };
        Ok(match switch(self, &mut active, controller, handoff, "")? {
            Next::To(next) => Some((active.agent, next.0)),
            Next::Done | Next::Limit(_) => None,
        })
    }
}

/// What a call the host ran gave back: its outcome, and a nested run's usage to charge to
/// the caller.
pub(crate) struct HostRun {
    pub(crate) outcome: ToolOutcome,
    pub(crate) nested: Option<UsageTotals>,
}

/// What the calls of one tool step need from their run to run in the host.
#[derive(Clone)]
pub(crate) struct HostCtx {
    pub(crate) runner: Runner,
    /// The calling agent's name (the first element of its callees' event paths).
    pub(crate) caller: String,
    pub(crate) cancel: CancellationToken,
    /// Where nested runs send their events; the tool step forwards them to the run's sink.
    pub(crate) events: UnboundedSender<RunEvent>,
    pub(crate) pool: BudgetPool,
}

/// Runs one call of a tool the host runs itself. Boxed: an agent tool runs a whole nested
/// run, whose tool steps come back here.
pub(crate) fn execute_host(
    binding: HostBinding,
    call: PlannedCall,
    ctx: HostCtx,
) -> BoxFuture<'static, HostRun> {
    Box::pin(async move {
        match binding {
            HostBinding::Function(tool) => HostRun {
                outcome: tool.run(&call).await,
                nested: None,
            },
            HostBinding::Handoff(handoff) => HostRun {
                outcome: outcome(&call, Ok(format!("Transferred to `{}`.", handoff.target()))),
                nested: None,
            },
            HostBinding::Agent(tool) => {
                let started = Instant::now();
                let args = match serde_json::from_value::<AgentToolArgs>(call.arguments.clone()) {
                    Ok(args) => args,
                    Err(e) => {
                        let failure = ToolFailure {
                            kind: ToolFailureKind::InvalidArguments,
                            message: format!("an agent tool takes {{\"input\": \"…\"}}: {e}"),
                            transient: false,
                        };
                        return HostRun {
                            outcome: outcome(&call, Err(failure)),
                            nested: None,
                        };
                    }
                };
                let callee = tool.agent();
                let own = &callee.config().budget;
                let grant = ctx.pool.reserve(own);
                let callee = if grant == *own {
                    callee.clone()
                } else {
                    // Carved out of the caller's budget: no forced answer past it.
                    let mut config = callee.config().clone();
                    config.budget = warden_core::budget::Budget {
                        on_exhaustion: warden_core::budget::OnExhaustion::Error,
                        ..grant.clone()
                    };
                    callee.clone().with_config(config)
                };
                let handle = RunHandle::child_of(&ctx.cancel);
                let (caller, name) = (ctx.caller.clone(), callee.name().to_owned());
                let call_id = call.call_id.clone();
                let events = ctx.events.clone();
                // Its end is held: a response past the carve-out changes it (below).
                let mut finished = None;
                let mut sink = |event: RunEvent| match event {
                    RunEvent::RunFinished { .. } => finished = Some(event),
                    // A closed channel means the caller's step is gone: nobody listens.
                    other => drop(events.send(other.nested_in(&caller, &name, &call_id))),
                };
                let bytes_in = args.input.len() as u64;
                let streaming = ctx.runner.is_streaming();
                let run = run_agents(
                    &ctx.runner,
                    &callee,
                    args.input,
                    &handle,
                    &mut sink,
                    streaming,
                );
                let (result, used) = match Box::pin(run).await {
                    Ok(mut result) => {
                        if grant != *own {
                            over_carve_out(&grant, &mut result, &mut finished);
                        }
                        (answer_of(callee.name(), &result), result.usage)
                    }
                    Err(e) => {
                        let failure = ToolFailure {
                            kind: ToolFailureKind::Internal,
                            message: format!("agent `{}` could not run: {e}", callee.name()),
                            transient: false,
                        };
                        (Err(failure), UsageTotals::default())
                    }
                };
                if let Some(event) = finished {
                    let _ = ctx
                        .events
                        .send(event.nested_in(&ctx.caller, &name, &call.call_id));
                }
                ctx.pool.settle(&grant, &used);
                let mut outcome = outcome(&call, result);
                outcome.usage = ToolUsage {
                    wall_ms: crate::runner::duration_ms(started.elapsed()),
                    bytes_in,
                    bytes_out: outcome.result.as_ref().map_or(0, |t| t.len() as u64),
                    ..ToolUsage::default()
                };
                HostRun {
                    outcome,
                    nested: Some(used),
                }
            }
        }
    })
}

/// Stops a callee whose usage went past its carved-out `grant` (one response can: limits
/// are checked before each request) with the typed budget stop, and no answer, as if the
/// limit had been seen in time; its `finished` event says so too. Turns and wall time are
/// the controller's own to stop on.
fn over_carve_out(grant: &Budget, result: &mut RunResult, finished: &mut Option<RunEvent>) {
    if !matches!(
        result.stop_reason,
        StopReason::Completed | StopReason::StopTool { .. }
    ) {
        return;
    }
    let limits = Budget {
        max_turns: None,
        max_wall_time_secs: None,
        ..grant.clone()
    };
    let consumption = Consumption {
        totals: &result.usage,
        turns: 0,
        elapsed: std::time::Duration::ZERO,
    };
    let Some(over) = BudgetTracker::new(limits, None).check_after(consumption) else {
        return;
    };
    result.stop_reason = StopReason::Budget {
        resource: over.resource,
        used: over.used,
        limit: over.limit,
    };
    (result.output, result.forced) = (None, false);
    if let Some(RunEvent::RunFinished {
        stop_reason,
        output,
        forced,
        ..
    }) = finished
    {
        *stop_reason = result.stop_reason.clone();
        (*output, *forced) = (None, false);
    }
}

fn outcome(call: &PlannedCall, result: Result<String, ToolFailure>) -> ToolOutcome {
    ToolOutcome {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        result,
        usage: ToolUsage::default(),
    }
}
