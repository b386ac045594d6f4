//! Running one `RunTools` step: the calls of a turn run concurrently as tokio tasks (at
//! most `max_concurrency` sandboxes at a time, a `sequential` call alone), each outcome fed
//! to the controller as it completes. The only call of a turn runs in the run's own task.
//!
//! Invariant: a call is started (its `ToolCallStarted` sent and its task spawned) only when
//! it may run at once — fewer than `max_concurrency` calls in flight, and none at all for a
//! `sequential` call or while one runs — so the events show exactly the calls in flight.
//! Every started call gets a `ToolCallFinished` event and its outcome is fed, unless the run
//! is cancelled or aborted first — then the tasks still running are aborted (their stores
//! dropped) before this returns, and the controller closes their slots. The controller
//! appends results in call order whatever the completion order.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

use super::agent::Binding;
use super::approval::Gate;
use super::drive::forward;
use super::failpoint::{Failpoint, hit};
use super::record::Recorder;
use super::{Agent, RunError, Runner};
use crate::multi::execute_host;
use crate::multi::{BudgetPool, HostCtx, HostRun};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use warden_core::controller::{Controller, ToolPlan};
use warden_core::events::RunEvent;
use warden_core::tool::{PlannedCall, ToolFailure, ToolFailureKind, ToolOutcome, ToolUsage};
use warden_sandbox::Executor;

/// The config key carrying a call's idempotency key into the sandbox, which returns it from
/// `host.idempotency-key` (and, for guests built before that, `get-config`).
pub const IDEMPOTENCY_KEY_CONFIG: &str = warden_sandbox::IDEMPOTENCY_KEY_CONFIG;

/// Whether to go on with the turn.
enum Flow {
    Continue,
    /// Cancelled, or the controller finished the run (an `abort` policy).
    Stop,
}

struct Batch<'a, S: FnMut(RunEvent) + ?Sized> {
    set: JoinSet<HostRun>,
    running: HashMap<Id, (String, String)>,
    agent: &'a Agent,
    nested: Option<Nested>,
    controller: &'a mut Controller,
    sink: &'a mut S,
    cancel: &'a CancellationToken,
    rec: &'a mut Recorder,
}

/// Runs `plan` and feeds every outcome to `controller`.
pub(super) async fn run_tools<S: FnMut(RunEvent) + ?Sized>(
    runner: &Runner,
    agent: &Agent,
    mut plan: ToolPlan,
    controller: &mut Controller,
    cancel: &CancellationToken,
    sink: &mut S,
    rec: &mut Recorder,
) -> Result<(), RunError> {
    // Approvals first: no call of the turn starts while one of them waits for a person.
    let run_id = rec.run_id().map(String::from);
    let (recording, approver) = (run_id.is_some(), rec.approver.clone());
    let mut rejected = Vec::new();
    let mut approved = Vec::new();
    let mut paused = None;
    // Tool guardrails before approvals: a person is not asked about a vetoed call.
    let calls = std::mem::take(&mut plan.calls);
    let Some((calls, vetoed)) = super::guard::veto(agent, calls, controller, cancel, sink).await
    else {
        return Ok(());
    };
    rejected.extend(vetoed);
    for call in calls {
        let approver = approver.as_deref();
        let gate = rec
            .approvals
            .gate(agent, approver, run_id.as_deref(), recording, &call, sink);
        match gate.await {
            Gate::Run => approved.push(call),
            Gate::Reject(outcome) => rejected.push(outcome),
            Gate::Pause(pending) => {
                paused = Some(pending);
                break;
            }
        }
    }
    if !rejected.is_empty() {
        controller.on_tool_results(rejected)?;
        forward(controller, sink);
    }
    if let Some(pending) = paused {
        return rec.pause(controller, pending).await;
    }
    if controller.result().is_some() {
        return rec.checkpoint(controller).await;
    }
    plan.calls = approved;
    if plan.calls.is_empty() {
        return rec.checkpoint(controller).await;
    }
    let executor = &runner.executor;
    let nested = Nested::for_plan(runner, agent, &plan, controller, cancel);
    if plan.calls.len() == 1
        && let Some(call) = plan.calls.pop()
    {
        let step = (controller, cancel, sink, rec);
        return run_alone(executor, agent, call, nested, step).await;
    }
    let cap = plan.max_concurrency.max(1);
    let mut batch = Batch {
        set: JoinSet::new(),
        running: HashMap::new(),
        agent,
        nested,
        controller,
        sink,
        cancel,
        rec,
    };
    for call in plan.calls {
        // The cap is held here, not inside the tasks, so a call that has to wait has not
        // "started" yet in the events; a sequential call waits for every call before it.
        let room = if call.sequential { 1 } else { cap };
        if matches!(batch.wait_below(room).await?, Flow::Stop) || batch.cancel.is_cancelled() {
            return Ok(());
        }
        let sequential = call.sequential;
        batch.start(executor, agent, call).await?;
        if sequential && matches!(batch.wait_below(1).await?, Flow::Stop) {
            return Ok(());
        }
    }
    batch.wait_below(1).await?;
    Ok(())
}

/// The only call of a turn runs in the run's own task: spawning it would only add a task
/// and a cross-thread wake-up per call. A panic in the host is still contained.
async fn run_alone<S: FnMut(RunEvent) + ?Sized>(
    executor: &Executor,
    agent: &Agent,
    call: PlannedCall,
    mut nested: Option<Nested>,
    (controller, cancel, sink, rec): Step<'_, S>,
) -> Result<(), RunError> {
    // As in a batch: a call is not started once the run is cancelled.
    if cancel.is_cancelled() {
        return Ok(());
    }
    let key = rec.tool_started(controller, &call).await?;
    let trusted = agent.is_trusted(&call.name);
    sink(mark(RunEvent::tool_started(&call), trusted));
    let (call_id, name) = (call.call_id.clone(), call.name.clone());
    let execution = start(executor, agent, call, key, nested.as_ref());
    let execution = AssertUnwindSafe(execution).catch_unwind();
    tokio::pin!(execution);
    let run = loop {
        tokio::select! {
            biased;
            // Dropping the call drops its store (the sandbox stops at once) or its nested run.
            _ = cancel.cancelled() => return Ok(()),
            Some(event) = next_nested(&mut nested) => sink(event),
            run = &mut execution => break run.unwrap_or_else(|_| host_failure(call_id, name)),
        }
    };
    drain_nested(&mut nested, sink);
    hit(Failpoint::AfterTool);
    sink(mark(RunEvent::tool_finished(&run.outcome), trusted));
    feed(controller, run)?;
    forward(controller, sink);
    rec.checkpoint(controller).await
}

/// What a tool step works on: the run's controller, cancellation, sink and recorder.
type Step<'a, S> = (
    &'a mut Controller,
    &'a CancellationToken,
    &'a mut S,
    &'a mut Recorder,
);

/// The nested runs of a tool step: where their events arrive, and what their calls share.
struct Nested {
    events: UnboundedReceiver<RunEvent>,
    ctx: HostCtx,
}

impl Nested {
    /// The nested-run context of `plan`, when one of its calls runs in the host.
    fn for_plan(
        runner: &Runner,
        agent: &Agent,
        plan: &ToolPlan,
        controller: &Controller,
        cancel: &CancellationToken,
    ) -> Option<Nested> {
        let any = (plan.calls.iter()).any(|c| agent.host_binding(&c.name).is_some());
        any.then(|| {
            let (tx, events) = unbounded_channel();
            let ctx = HostCtx {
                runner: runner.clone(),
                caller: agent.name().to_owned(),
                cancel: cancel.clone(),
                events: tx,
                pool: BudgetPool::new(controller.remaining_budget()),
            };
            Nested { events, ctx }
        })
    }
}

/// The next event of a nested run; never, without nested runs.
async fn next_nested(nested: &mut Option<Nested>) -> Option<RunEvent> {
    match nested {
        Some(n) => n.events.recv().await,
        None => std::future::pending().await,
    }
}

/// Forwards the nested events already sent (a nested run sends all its events before its
/// call returns, so they all precede the call's `ToolCallFinished`).
fn drain_nested<S: FnMut(RunEvent) + ?Sized>(nested: &mut Option<Nested>, sink: &mut S) {
    if let Some(n) = nested {
        while let Ok(event) = n.events.try_recv() {
            sink(event);
        }
    }
}

/// `event` marked as a trusted host tool's when `trusted`.
fn mark(event: RunEvent, trusted: bool) -> RunEvent {
    if trusted { event.trusted() } else { event }
}

/// Feeds one call's outcome, charging a nested run's usage to this run first.
fn feed(controller: &mut Controller, run: HostRun) -> Result<(), RunError> {
    if let Some(usage) = &run.nested {
        controller.charge(usage);
    }
    controller.on_tool_results(vec![run.outcome])?;
    Ok(())
}

/// The future of one call: in a sandbox, or in the host (a host function, an agent, a
/// handoff).
fn start(
    executor: &Executor,
    agent: &Agent,
    call: PlannedCall,
    key: Option<String>,
    nested: Option<&Nested>,
) -> futures::future::BoxFuture<'static, HostRun> {
    let host = agent.host_binding(&call.name).cloned();
    match (host, nested) {
        (Some(binding), Some(n)) => execute_host(binding, call, n.ctx.clone()),
        _ => {
            let binding = agent.binding(&call.name).cloned();
            let execution = execute(executor.clone(), binding, call, key);
            Box::pin(execution.map(|outcome| HostRun {
                outcome,
                nested: None,
            }))
        }
    }
}

/// One call through the executor, as the controller sees its outcome. A recorded call's
/// idempotency key reaches the guest through `host.idempotency-key` (carried by the
/// reserved config value `warden.idempotency-key`, which older guests read instead).
async fn execute(
    executor: Executor,
    binding: Option<Binding>,
    call: PlannedCall,
    key: Option<String>,
) -> ToolOutcome {
    let Some(binding) = binding else {
        return failed(
            &call,
            ToolFailureKind::UnknownTool,
            format!("no tool named `{}` is loaded", call.name),
        );
    };
    let mut policy = binding.policy;
    if let Some(key) = key {
        let config = &mut std::sync::Arc::make_mut(&mut policy).config;
        config.insert(IDEMPOTENCY_KEY_CONFIG.into(), key);
    }
    let outcome = executor
        .call_value(&binding.set, &call.name, &call.arguments, &policy)
        .await;
    crate::tool_outcome(&call, outcome)
}

/// The outcome of a call whose host-side task failed (a panic).
fn host_failure(call_id: String, name: String) -> HostRun {
    let outcome = ToolOutcome {
        call_id,
        name,
        result: Err(ToolFailure {
            kind: ToolFailureKind::Internal,
            message: "the tool call's task failed in the host".into(),
            transient: false,
        }),
        usage: ToolUsage::default(),
    };
    HostRun {
        outcome,
        nested: None,
    }
}

impl<S: FnMut(RunEvent) + ?Sized> Batch<'_, S> {
    async fn start(
        &mut self,
        executor: &Executor,
        agent: &Agent,
        call: PlannedCall,
    ) -> Result<(), RunError> {
        let key = self.rec.tool_started(self.controller, &call).await?;
        let trusted = agent.is_trusted(&call.name);
        (self.sink)(mark(RunEvent::tool_started(&call), trusted));
        let ids = (call.call_id.clone(), call.name.clone());
        let execution = start(executor, agent, call, key, self.nested.as_ref());
        let handle = self.set.spawn(execution);
        self.running.insert(handle.id(), ids);
        Ok(())
    }

    /// Waits until fewer than `n` calls are in flight, feeding each outcome as it comes
    /// (`n = 1`: until every started call has finished).
    async fn wait_below(&mut self, n: usize) -> Result<Flow, RunError> {
        while self.set.len() >= n.max(1) {
            let joined = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => {
                    self.set.abort_all();
                    return Ok(Flow::Stop);
                }
                Some(event) = next_nested(&mut self.nested) => {
                    (self.sink)(event);
                    continue;
                }
                joined = self.set.join_next_with_id() => joined,
            };
            drain_nested(&mut self.nested, &mut *self.sink);
            let run = match joined {
                None => return Ok(Flow::Continue),
                Some(Ok((id, outcome))) => {
                    self.running.remove(&id);
                    outcome
                }
                Some(Err(e)) => {
                    let Some((call_id, name)) = self.running.remove(&e.id()) else {
                        continue;
                    };
                    host_failure(call_id, name)
                }
            };
            hit(Failpoint::AfterTool);
            let trusted = self.agent.is_trusted(&run.outcome.name);
            (self.sink)(mark(RunEvent::tool_finished(&run.outcome), trusted));
            feed(self.controller, run)?;
            forward(&mut *self.controller, &mut *self.sink);
            self.rec.checkpoint(self.controller).await?;
            if self.controller.result().is_some() {
                self.set.abort_all();
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}

fn failed(call: &PlannedCall, kind: ToolFailureKind, message: String) -> ToolOutcome {
    ToolOutcome {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        result: Err(ToolFailure {
            kind,
            message,
            transient: false,
        }),
        usage: ToolUsage::default(),
    }
}
