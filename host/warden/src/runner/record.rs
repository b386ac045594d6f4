//! The recorder of a durable run: after every model response and every tool result it
//! writes the controller's snapshot and the events since the last write, in one store
//! transaction; before a tool call starts it journals the call.
//!
//! Invariant: a failed write stops the run (the error is returned, never logged and
//! skipped). A recorder that is off does nothing, so the drive loop has one shape.

use std::sync::{Arc, Mutex};

use warden_core::chat::ChatResponse;
use warden_core::controller::Controller;
use warden_core::events::{EventRecord, EventStamper, RunEvent, at_event_time};
use warden_core::tool::PlannedCall;
use warden_store::{
    ActiveAgent, AgentSummary, CheckpointWrite, IdempotencyKey, Lease, ListTails, PendingApproval,
    RunCheckpoint, RunStatus, Store, Tail, TeamSummary,
};

use super::RunError;
use super::approval::{Approvals, Approver};
use super::failpoint::{Failpoint, hit};

/// Stamped events waiting for the next checkpoint (shared with the event sink).
pub(super) type EventBuffer = Arc<Mutex<(EventStamper, Vec<EventRecord>)>>;

/// Records one run, or nothing. See the module docs.
pub(crate) struct Recorder {
    active: Option<Active>,
    /// Approvals collected so far (kept in each checkpoint).
    pub(super) approvals: Approvals,
    /// Decides on calls needing approval in-process.
    pub(super) approver: Option<Arc<dyn Approver>>,
    /// Model responses received since the last checkpoint (kept for replay).
    responses: Vec<ChatResponse>,
    /// The call the run paused on: the drive loop ends.
    paused: Option<PendingApproval>,
    /// The team agent the run was handed to, kept in each checkpoint (see `team`).
    active_agent: Option<ActiveAgent>,
    /// Stop tools of the active agent that hand off: a result ending in one is not the
    /// run's end, so the run stays `Running` in the store until the switch is written.
    handoff_tools: Vec<String>,
}

struct Active {
    store: Arc<dyn Store>,
    lease: Lease,
    agent: AgentSummary,
    /// The run's team, kept in each checkpoint (compared on resume).
    team: Option<TeamSummary>,
    buffer: EventBuffer,
    /// What the last checkpoint wrote of the growing lists; `None` before the first one
    /// (which writes them whole).
    marks: Option<Marks>,
}

/// The lengths of the lists a checkpoint wrote, and the line of appends they were on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Marks {
    lineage: u64,
    live: usize,
    transcript: usize,
    steps: usize,
    compactions: usize,
    call_ids: usize,
}

impl Marks {
    fn of(controller: &Controller) -> Self {
        let state = controller.state();
        Self {
            lineage: state.lineage(),
            live: state.live().len(),
            transcript: state.transcript().len(),
            steps: state.steps().len(),
            compactions: state.compactions().len(),
            call_ids: controller.call_ids_in_order().len(),
        }
    }
}

/// The ends of `controller`'s lists after `marks` (all of them without marks, or when
/// the lists are on another line of appends: a compaction or a restore). The last step
/// record is written again: its tool calls join it after it was first written.
fn tails(controller: &Controller, marks: Option<Marks>) -> ListTails {
    let state = controller.state();
    let marks = marks.filter(|m| m.lineage == state.lineage());
    let from = |mark: fn(&Marks) -> usize| marks.as_ref().map_or(0, mark);
    ListTails {
        live: Tail::of(state.live(), from(|m| m.live)),
        transcript: Tail::of(state.transcript(), from(|m| m.transcript)),
        steps: Tail::of(state.steps(), from(|m| m.steps.saturating_sub(1))),
        compactions: Tail::of(state.compactions(), from(|m| m.compactions)),
        call_ids: Tail::of(controller.call_ids_in_order(), from(|m| m.call_ids)),
    }
}

impl Recorder {
    /// A recorder that records nothing.
    #[cfg(test)]
    pub(crate) fn off() -> Self {
        Self::unrecorded(None)
    }

    /// A recorder that records nothing but asks `approver` about approvals.
    pub(crate) fn unrecorded(approver: Option<Arc<dyn Approver>>) -> Self {
        Self {
            active: None,
            approvals: Approvals::default(),
            approver,
            responses: Vec::new(),
            paused: None,
            active_agent: None,
            handoff_tools: Vec::new(),
        }
    }

    /// Keeps a model response for the next checkpoint (recorded runs only).
    pub(super) fn note_response(&mut self, response: &ChatResponse) {
        if self.active.is_some() {
            self.responses.push(response.clone());
        }
    }

    /// The run's id, when recording.
    pub(super) fn run_id(&self) -> Option<&str> {
        self.active.as_ref().map(|a| a.lease.run_id.as_str())
    }

    /// Whether the run paused for an approval.
    pub(super) fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// The call the run paused on.
    pub(super) fn pending(&self) -> Option<&PendingApproval> {
        self.paused.as_ref()
    }

    /// Which team agent runs now (`None`: the entry agent) and which of its stop tools hand
    /// off; written with the next checkpoint.
    pub(super) fn set_agent(&mut self, active: Option<ActiveAgent>, handoff_tools: Vec<String>) {
        self.active_agent = active;
        self.handoff_tools = handoff_tools;
    }

    /// Writes the controller's state paused on `approval`; the run then ends.
    pub(super) fn pause(
        &mut self,
        controller: &Controller,
        approval: PendingApproval,
    ) -> impl Future<Output = Result<(), RunError>> + Send + '_ {
        self.paused = Some(approval.clone());
        self.write(controller, Some(approval))
    }

    pub(super) fn new(
        store: Arc<dyn Store>,
        lease: Lease,
        agent: AgentSummary,
        buffer: EventBuffer,
        approver: Option<Arc<dyn Approver>>,
    ) -> Self {
        Self {
            active: Some(Active {
                store,
                lease,
                agent,
                team: None,
                buffer,
                marks: None,
            }),
            ..Self::unrecorded(approver)
        }
    }

    /// Keeps `team` (what the run's team is) in every checkpoint from now on.
    pub(super) fn set_team(&mut self, team: Option<TeamSummary>) {
        if let Some(active) = &mut self.active {
            active.team = team;
        }
    }

    /// Writes the controller's state and the buffered events. (The snapshot is taken
    /// before the returned future runs: the controller is not `Sync`, and a run's future
    /// must stay `Send`.)
    pub(crate) fn checkpoint(
        &mut self,
        controller: &Controller,
    ) -> impl Future<Output = Result<(), RunError>> + Send + '_ {
        self.write(controller, None)
    }

    fn write(
        &mut self,
        controller: &Controller,
        approval: Option<PendingApproval>,
    ) -> impl Future<Output = Result<(), RunError>> + Send + '_ {
        let responses = std::mem::take(&mut self.responses);
        let prepared = self.active.as_ref().map(|active| {
            let status = match (&approval, controller.result()) {
                (Some(_), _) => RunStatus::Paused,
                (None, Some(r)) if self.hands_off(r) => RunStatus::Running,
                (None, Some(_)) => RunStatus::Finished,
                (None, None) => RunStatus::Running,
            };
            // Only what is new since the last write: copying the whole history each step
            // made a checkpoint's cost grow with the run.
            let mut checkpoint =
                RunCheckpoint::new(active.agent.clone(), controller.snapshot_head());
            checkpoint.active_agent = self.active_agent.clone();
            checkpoint.team = active.team.clone();
            checkpoint.approval = approval;
            checkpoint.approved_calls = self.approvals.calls.iter().cloned().collect();
            checkpoint.approved_tools = self.approvals.tools.iter().cloned().collect();
            let events = match active.buffer.lock() {
                Ok(mut buffer) => std::mem::take(&mut buffer.1),
                Err(_) => Vec::new(),
            };
            let write = CheckpointWrite {
                checkpoint,
                status,
                events,
                responses,
                tails: Some(tails(controller, active.marks)),
            };
            (write, Marks::of(controller))
        });
        async move {
            let (Some(active), Some((write, marks))) = (&mut self.active, prepared) else {
                return Ok(());
            };
            active
                .store
                .checkpoint(&active.lease, write)
                .await
                .map_err(RunError::Store)?;
            active.marks = Some(marks);
            hit(Failpoint::AfterCheckpoint);
            Ok(())
        }
    }

    fn hands_off(&self, result: &warden_core::run::RunResult) -> bool {
        matches!(&result.stop_reason, warden_core::run::StopReason::StopTool { name }
            if self.handoff_tools.contains(name))
    }

    /// Journals `call` as started (before it can have any effect); returns its
    /// idempotency key when recording.
    pub(crate) fn tool_started(
        &mut self,
        controller: &Controller,
        call: &PlannedCall,
    ) -> impl Future<Output = Result<Option<String>, RunError>> + Send + '_ {
        let key =
            (self.active.as_ref()).map(|a| idempotency_key(&a.lease.run_id, controller, call));
        async move {
            let (Some(active), Some(key)) = (&self.active, key) else {
                return Ok(None);
            };
            active
                .store
                .tool_started(&active.lease, &key)
                .await
                .map_err(RunError::Store)?;
            hit(Failpoint::BeforeTool);
            Ok(Some(key.to_string()))
        }
    }
}

/// The stable key of `call`: the run, the step that made the call, the call id.
pub(crate) fn idempotency_key(
    run_id: &str,
    controller: &Controller,
    call: &PlannedCall,
) -> IdempotencyKey {
    let step = controller.state().steps().len().saturating_sub(1);
    IdempotencyKey {
        run_id: run_id.to_string(),
        step: step as u64,
        call_id: call.call_id.clone(),
    }
}

/// A sink that stamps and buffers every event but text deltas (the text is in the
/// response the checkpoint holds) before handing it on.
pub(super) fn buffering<'a, S: FnMut(RunEvent) + ?Sized>(
    buffer: &'a EventBuffer,
    sink: &'a mut S,
) -> impl FnMut(RunEvent) + 'a {
    move |event| {
        // One time for the stored record and whatever the sink stamps (`--json`, traces).
        at_event_time(|| {
            if !matches!(event, RunEvent::TextDelta { .. })
                && let Ok(mut buffer) = buffer.lock()
            {
                let record = buffer.0.record(event.clone());
                buffer.1.push(record);
            }
            sink(event);
        })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use warden_core::budget::Budget;
    use warden_core::controller::{LoopConfig, Schemas, SnapshotPhase, Step};
    use warden_core::testing::ScriptedModel;
    use warden_core::tool::{ToolCatalogEntry, ToolOutcome, ToolUsage};
    use warden_store::{NewRun, SqliteStore};

    fn agent() -> AgentSummary {
        AgentSummary {
            digest: "d".into(),
            name: "a".into(),
            tools: vec!["echo".into()],
            budget: Budget::default(),
            file: None,
            guardrails: vec![],
        }
    }

    /// A checkpoint writes only the lists' new ends, yet the store holds the whole state
    /// after every step: through a run's growth, and after the controller is replaced by
    /// one restored with a shorter live history (what a handoff does: a new lineage).
    #[tokio::test]
    async fn each_checkpoint_stores_the_whole_state_though_it_writes_only_the_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("r.db")).unwrap());
        let echo = ToolCatalogEntry::new("echo", "echoes", serde_json::json!({"type": "object"}));
        let config = LoopConfig::new("scripted");
        let mut c = Controller::new(config.clone(), vec![echo.clone()], "go").unwrap();
        let new = NewRun {
            run_id: "rt1".into(),
            session: None,
            input: "go".into(),
            checkpoint: RunCheckpoint::new(agent(), c.snapshot()),
        };
        let lease = store.create_run(new).await.unwrap();
        let buffer: EventBuffer = Arc::new(Mutex::new((EventStamper::new("rt1"), Vec::new())));
        let mut rec = Recorder::new(store.clone(), lease, agent(), buffer, None);
        let calls = |i: usize| ScriptedModel::calls(&[(&format!("c{i}"), "echo", "{}")]);
        let mut turns = 0;
        loop {
            match c.next_step() {
                Step::CallModel(_) | Step::Summarize(_) => {
                    turns += 1;
                    let response = match turns {
                        6 => ScriptedModel::text("done"),
                        n => calls(n),
                    };
                    c.on_model_response(response).unwrap();
                }
                Step::RunTools(plan) => {
                    let call = plan.calls.first().unwrap();
                    let outcome = ToolOutcome {
                        call_id: call.call_id.clone(),
                        name: call.name.clone(),
                        result: Ok(format!("out {turns}")),
                        usage: ToolUsage::default(),
                    };
                    c.on_tool_results(vec![outcome]).unwrap();
                }
                Step::Done(_) => break,
            }
            rec.checkpoint(&c).await.unwrap();
            let mut stored = store.load("rt1").await.unwrap().checkpoint.snapshot;
            let mut expected = c.snapshot();
            // The clock moved between the write and now.
            (stored.elapsed_ms, expected.elapsed_ms) = (0, 0);
            assert_eq!(stored, expected, "after model turn {turns}");
            if turns == 3 && matches!(stored.phase, SnapshotPhase::Ready) {
                // A handoff-like replacement: the live history shrinks to one message.
                let mut snapshot = c.snapshot();
                let handed = warden_core::chat::Message::user("go on");
                snapshot.state.replace_live(vec![handed]);
                c = Controller::restore(
                    config.clone(),
                    &Schemas::compile(&config, vec![echo.clone()]).unwrap(),
                    snapshot,
                );
            }
        }
        assert_eq!(turns, 6);
        let stored = store.load("rt1").await.unwrap().checkpoint.snapshot;
        assert_eq!(stored.state.live().len(), c.state().live().len());
        assert!(stored.state.transcript().len() > stored.state.live().len());
    }
}
