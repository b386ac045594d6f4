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
    AgentSummary, CheckpointWrite, IdempotencyKey, Lease, PendingApproval, RunCheckpoint,
    RunStatus, Store,
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
}

struct Active {
    store: Arc<dyn Store>,
    lease: Lease,
    agent: AgentSummary,
    buffer: EventBuffer,
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
                buffer,
            }),
            ..Self::unrecorded(approver)
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
                (None, Some(_)) => RunStatus::Finished,
                (None, None) => RunStatus::Running,
            };
            let mut checkpoint = RunCheckpoint::new(active.agent.clone(), controller.snapshot());
            checkpoint.approval = approval;
            checkpoint.approved_calls = self.approvals.calls.iter().cloned().collect();
            checkpoint.approved_tools = self.approvals.tools.iter().cloned().collect();
            let events = match active.buffer.lock() {
                Ok(mut buffer) => std::mem::take(&mut buffer.1),
                Err(_) => Vec::new(),
            };
            CheckpointWrite {
                checkpoint,
                status,
                events,
                responses,
            }
        });
        async move {
            let (Some(active), Some(write)) = (&self.active, prepared) else {
                return Ok(());
            };
            active
                .store
                .checkpoint(&active.lease, write)
                .await
                .map_err(RunError::Store)?;
            hit(Failpoint::AfterCheckpoint);
            Ok(())
        }
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
