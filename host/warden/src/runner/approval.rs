//! Human approval of tool calls: before a call of a tool marked `approval = "always"` (or
//! `"first"`, on its first call in the run) runs, the run asks its [`Approver`]; without
//! one, or when the approver defers, a recorded run pauses (checkpointed with the call
//! waiting) and ends; `Runner::resume` continues it once a decision is in the store.
//!
//! Invariants: a call needing approval never runs without an approval (in-process, or a
//! decision recorded in the store); a rejection reaches the model as the call's result,
//! with the reason; an unrecorded run with no approver rejects the call (it cannot wait).

use std::collections::BTreeSet;

use async_trait::async_trait;
use warden_core::events::RunEvent;
use warden_core::tool::{PlannedCall, ToolFailure, ToolFailureKind, ToolOutcome, ToolUsage};
use warden_sandbox::{DirMode, ToolPolicy};
use warden_store::{Decision, PendingApproval};

use super::Agent;
use crate::agent::Approval;

/// A call waiting for a decision, as an [`Approver`] sees it.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    /// The run's id, when it is recorded.
    pub run_id: Option<String>,
    /// The call.
    pub call: PlannedCall,
    /// What it would be allowed to use, one line each.
    pub grants: Vec<String>,
}

/// Decides on calls that need approval, in-process.
#[async_trait]
pub trait Approver: Send + Sync {
    /// The decision on `request`, or `None` to leave it to later (a recorded run pauses).
    async fn decide(&self, request: &ApprovalRequest) -> Option<Decision>;
}

/// The approvals a run has collected (kept in its checkpoint).
#[derive(Debug, Clone, Default)]
pub(crate) struct Approvals {
    pub(crate) calls: BTreeSet<String>,
    pub(crate) tools: BTreeSet<String>,
}

/// What to do with a call.
pub(super) enum Gate {
    Run,
    Reject(ToolOutcome),
    Pause(PendingApproval),
}

impl Approvals {
    /// Whether `call` may run now, asking `approver` if it needs approval.
    pub(super) async fn gate<S: FnMut(RunEvent) + ?Sized>(
        &mut self,
        agent: &Agent,
        approver: Option<&dyn Approver>,
        run_id: Option<&str>,
        recording: bool,
        call: &PlannedCall,
        sink: &mut S,
    ) -> Gate {
        let needed = match agent.approval(&call.name) {
            Approval::Always => true,
            Approval::First => !self.tools.contains(&call.name),
            _ => false,
        };
        if !needed || self.calls.contains(&call.call_id) {
            return Gate::Run;
        }
        let grants = agent
            .binding(&call.name)
            .map(|b| grants(&b.policy))
            .unwrap_or_default();
        sink(RunEvent::ApprovalRequested {
            call_id: call.call_id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            grants: grants.clone(),
        });
        let request = ApprovalRequest {
            run_id: run_id.map(String::from),
            call: call.clone(),
            grants,
        };
        let decision = match approver {
            Some(approver) => approver.decide(&request).await,
            None => None,
        };
        match decision {
            Some(decision) => self.apply(call, decision),
            None if recording => Gate::Pause(PendingApproval {
                call: request.call,
                grants: request.grants,
            }),
            None => Gate::Reject(rejected(
                call,
                "no one could approve it (the run is not recorded and has no approver)",
            )),
        }
    }

    /// Records `decision` on `call`: run it, or its rejection as its result.
    pub(super) fn apply(&mut self, call: &PlannedCall, decision: Decision) -> Gate {
        match decision {
            Decision::Reject { reason } => {
                let why = match reason {
                    Some(reason) => format!("a person rejected this call: {reason}"),
                    None => "a person rejected this call".into(),
                };
                Gate::Reject(rejected(call, &why))
            }
            _ => {
                self.calls.insert(call.call_id.clone());
                self.tools.insert(call.name.clone());
                Gate::Run
            }
        }
    }
}

/// The result the model gets for a call that will not run.
fn rejected(call: &PlannedCall, why: &str) -> ToolOutcome {
    ToolOutcome {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        result: Err(ToolFailure {
            kind: ToolFailureKind::CapabilityDenied,
            message: format!("not run: {why}"),
            transient: false,
        }),
        usage: ToolUsage::default(),
    }
}

/// What `policy` grants, one line each (directories, then hosts).
fn grants(policy: &ToolPolicy) -> Vec<String> {
    let dirs = policy.dirs.iter().map(|d| {
        let mode = match d.mode {
            DirMode::ReadWrite => "read-write",
            _ => "read-only",
        };
        format!("{mode} directory {} (as {})", d.host.display(), d.guest)
    });
    let hosts = (policy.egress.rules().iter()).map(|rule| format!("HTTP to {rule:?}"));
    dirs.chain(hosts).collect()
}
