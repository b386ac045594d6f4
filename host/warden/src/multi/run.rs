//! The run loop of several agents: drive the active agent's controller to its end; when it
//! ended by a handoff, go on with the target on the same history (filtered), usage and
//! clock — and run the calls the host runs itself (host functions, agents as tools,
//! handoffs).
//!
//! Invariants: a run makes at most `Team::max_handoffs` handoffs (one more ends it with
//! `StopReason::HandoffLimit`); each agent after a handoff runs under its own budget capped
//! by the run's (the entry agent's), counted from the usage so far; only the last
//! `RunFinished` is forwarded, so a run has exactly one whatever its handoffs.

use std::time::Instant;

use futures::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::agent_tool::{AgentToolArgs, answer_of};
use super::handoff::reason_of;
use super::pool::BudgetPool;
use super::{HostBinding, TeamError};
use crate::runner::{Agent, RunError, RunHandle, Runner, drive_to_end};
use warden_core::controller::SnapshotPhase;
use warden_core::events::RunEvent;
use warden_core::run::{RunResult, StopReason};
use warden_core::state::UsageTotals;
use warden_core::tool::{PlannedCall, ToolFailure, ToolFailureKind, ToolOutcome, ToolUsage};

/// Runs `entry` on `input` to the end, following its handoffs within the runner's team.
pub(crate) async fn run_agents<S: FnMut(RunEvent) + ?Sized>(
    runner: &Runner,
    entry: &Agent,
    input: String,
    handle: &RunHandle,
    sink: &mut S,
    streaming: bool,
) -> Result<RunResult, RunError> {
    let team = runner.team();
    if team.is_none() && entry.has_handoffs() {
        return Err(RunError::Team(TeamError::NoTeam {
            agent: entry.name().to_owned(),
        }));
    }
    let run_budget = entry.config().budget.clone();
    let mut agent = entry.clone();
    let mut controller = agent.controller(input)?;
    let mut handoffs = 0;
    loop {
        let mut finished = None;
        let result = {
            let mut hold = |event: RunEvent| match event {
                RunEvent::RunFinished { .. } => finished = Some(event),
                other => sink(other),
            };
            // Boxed, as the tool step is: a run's future stays small while it waits.
            let drive = drive_to_end(
                runner,
                &agent,
                &mut controller,
                handle,
                &mut hold,
                streaming,
            );
            Box::pin(drive).await?
        };
        let handoff = match &result.stop_reason {
            StopReason::StopTool { name } => agent.handoff(name).cloned(),
            _ => None,
        };
        let (Some(handoff), Some(team)) = (handoff, team) else {
            if let Some(event) = finished {
                sink(event);
            }
            return Ok(result);
        };
        let from = agent.name().to_owned();
        let to = handoff.target().to_owned();
        let Some(target) = team.agent(&to) else {
            let known = team.names().collect::<Vec<_>>().join(", ");
            return Err(RunError::Team(TeamError::UnknownAgent { from, to, known }));
        };
        if handoffs >= team.max_handoffs() {
            let stop_reason = StopReason::HandoffLimit {
                limit: team.max_handoffs(),
                from,
                to,
            };
            sink(RunEvent::RunFinished {
                stop_reason: stop_reason.clone(),
                forced: false,
                output: None,
                usage: result.usage,
            });
            return Ok(RunResult {
                stop_reason,
                output: None,
                ..result
            });
        }
        handoffs += 1;
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
        let mut config = target.config().clone();
        config.budget = config.budget.capped_by(&run_budget);
        agent = target.clone().with_config(config);
        controller = agent.restore(snapshot)?;
        let model = agent.model().unwrap_or(runner.model());
        sink(RunEvent::Handoff {
            from,
            to,
            reason,
            model: agent.config().model.clone(),
            provider: Some(model.provider().to_owned()),
            messages,
        });
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
                let mut config = callee.config().clone();
                if grant != *own {
                    // Carved out of the caller's budget: no forced answer past it.
                    config.budget = warden_core::budget::Budget {
                        on_exhaustion: warden_core::budget::OnExhaustion::Error,
                        ..grant.clone()
                    };
                }
                let callee = callee.clone().with_config(config);
                let handle = RunHandle::child_of(&ctx.cancel);
                let (caller, name) = (ctx.caller.clone(), callee.name().to_owned());
                let events = ctx.events.clone();
                let mut sink = move |event: RunEvent| {
                    // A closed channel means the caller's step is gone: nobody listens.
                    let _ = events.send(event.nested_in(&caller, &name));
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
                    Ok(result) => (answer_of(callee.name(), &result), result.usage),
                    Err(e) => {
                        let failure = ToolFailure {
                            kind: ToolFailureKind::Internal,
                            message: format!("agent `{}` could not run: {e}", callee.name()),
                            transient: false,
                        };
                        (Err(failure), UsageTotals::default())
                    }
                };
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

fn outcome(call: &PlannedCall, result: Result<String, ToolFailure>) -> ToolOutcome {
    ToolOutcome {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        result,
        usage: ToolUsage::default(),
    }
}
