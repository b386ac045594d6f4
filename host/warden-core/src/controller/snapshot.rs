//! Snapshots of a controller between steps, and restoring one: what a durable store keeps
//! so a run can continue in another process.
//!
//! A snapshot holds everything the controller decides from — the run state (history,
//! transcript, steps, compactions, usage), the turn and retry counters, the budget warnings
//! already given, the wall time consumed, a partial answer held for a paused turn, and the
//! phase: between steps, waiting for tool results (each call's result, or the call still to
//! run), or finished with its result. It holds no settings: those come from the agent
//! definition again when the run is restored (a store checks the agent's digest).
//!
//! Invariant: `Controller::restore(config, schemas, c.snapshot())` behaves like `c` from
//! then on, except that a model call awaited when the snapshot was taken is planned again
//! (a snapshot never holds an unanswered request: a store writes one after a response), and
//! the token counter's calibration starts afresh (an estimate; it re-calibrates on the next
//! response). Serialisation is plain serde; the versioned envelope is the store's.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::tools::{PendingTurn, Slot};
use super::{Controller, Phase, Schemas};
use crate::budget::{BudgetResource, Exhausted};
use crate::chat::Message;
use crate::run::RunResult;
use crate::state::RunState;
use crate::tool::{ErrorPolicy, PlannedCall};

use super::LoopConfig;

/// A controller's state between steps. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControllerSnapshot {
    /// History, transcript, step records, compactions and usage.
    pub state: RunState,
    /// Where the run stands.
    pub phase: SnapshotPhase,
    /// Turns taken since the last user message.
    pub turns: u32,
    /// Invalid turns in a row.
    pub invalid_turns: u32,
    /// Output-schema retries used.
    pub output_retries: u32,
    /// The budget that ran out, when the forced final answer is next.
    pub exhausted: Option<Exhausted>,
    /// A cancellation after the current turn was asked for.
    pub cancel_after_turn: bool,
    /// A summary failed (no more summaries this run).
    pub summary_failed: bool,
    /// A summary was made since the last turn.
    pub summarized_since_turn: bool,
    /// Every tool-call id used so far (ids stay unique across the run).
    pub call_ids: Vec<String>,
    /// The partial answer of a paused turn, to be continued.
    pub paused: Option<String>,
    /// Pauses in a row.
    pub pauses: u32,
    /// Budget resources that have already warned.
    pub warned: Vec<BudgetResource>,
    /// Wall time the run had used, in milliseconds (the time budget continues from it).
    pub elapsed_ms: u64,
}

/// Where a snapshotted run stands.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum SnapshotPhase {
    /// Between steps (also: a model call was awaited; it is planned again).
    Ready,
    /// A turn's tool calls, some possibly done.
    AwaitingTools {
        /// One slot per call of the assistant message, in call order.
        slots: Vec<SnapshotSlot>,
        /// At most this many calls at a time.
        max_concurrency: usize,
        /// The first successful stop tool: slot index, name, output.
        stop: Option<(usize, String, String)>,
    },
    /// The run is over.
    Finished {
        /// Its result.
        result: Box<RunResult>,
    },
}

/// One call of a snapshotted turn.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "slot", rename_all = "snake_case")]
pub enum SnapshotSlot {
    /// Its result message (persisted before it joins the history).
    Done {
        /// The tool-result message.
        message: Message,
    },
    /// Still to run (or started, without a recorded result).
    Pending {
        /// The call.
        call: PlannedCall,
        /// Its tool's error policy.
        policy: ErrorPolicy,
    },
}

impl Controller {
    /// The controller's state now. See the module docs.
    pub fn snapshot(&self) -> ControllerSnapshot {
        let mut call_ids = self.call_order.clone();
        call_ids.sort();
        self.snapshot_with(self.state.clone(), call_ids)
    }

    /// [`Controller::snapshot`] without the lists that grow with the run (live history,
    /// transcript, step records, compactions, call ids): the small rest a durable writer
    /// stores with each step, next to the lists' new ends (see [`RunState::lineage`] and
    /// [`Controller::call_ids_in_order`]). Its state keeps only the usage.
    pub fn snapshot_head(&self) -> ControllerSnapshot {
        let usage = *self.state.usage();
        let state = RunState::from_parts(crate::state::RunStateParts {
            usage,
            ..Default::default()
        });
        self.snapshot_with(state, Vec::new())
    }

    /// Every tool-call id used so far, in the order they were first used (a restored
    /// controller starts with the snapshot's, sorted). Only ever appended to.
    pub fn call_ids_in_order(&self) -> &[String] {
        &self.call_order
    }

    fn snapshot_with(&self, state: RunState, call_ids: Vec<String>) -> ControllerSnapshot {
        let phase = match &self.phase {
            Phase::Ready | Phase::AwaitingModel { .. } => SnapshotPhase::Ready,
            Phase::AwaitingTools(turn) => SnapshotPhase::AwaitingTools {
                slots: (turn.slots.iter())
                    .map(|slot| match slot {
                        Slot::Done(message) => SnapshotSlot::Done {
                            message: message.clone(),
                        },
                        Slot::Pending { call, policy } => SnapshotSlot::Pending {
                            call: call.clone(),
                            policy: *policy,
                        },
                    })
                    .collect(),
                max_concurrency: turn.max_concurrency,
                stop: turn.stop.clone(),
            },
            Phase::Finished(result) => SnapshotPhase::Finished {
                result: result.clone(),
            },
        };
        ControllerSnapshot {
            state,
            phase,
            turns: self.turns,
            invalid_turns: self.invalid_turns,
            output_retries: self.output_retries,
            exhausted: self.exhausted,
            cancel_after_turn: self.cancel_after_turn,
            summary_failed: self.summary_failed,
            summarized_since_turn: self.summarized_since_turn,
            call_ids,
            paused: self.paused.clone(),
            pauses: self.pauses,
            warned: self.budget.warned().to_vec(),
            elapsed_ms: u64::try_from((self.clock)().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// A controller continuing `snapshot` under `config` and `schemas` (the agent's, as
    /// they are now). Its clock starts at the snapshot's elapsed time. No `RunStarted`
    /// event is queued: the run started before.
    pub fn restore(config: LoopConfig, schemas: &Schemas, snapshot: ControllerSnapshot) -> Self {
        let mut controller = Self::with_schemas(config, schemas, "");
        controller.events.clear();
        let offset = Duration::from_millis(snapshot.elapsed_ms);
        let started = Instant::now();
        controller.clock = Box::new(move || offset + started.elapsed());
        controller.state = snapshot.state;
        controller.phase = match snapshot.phase {
            SnapshotPhase::Ready => Phase::Ready,
            SnapshotPhase::AwaitingTools {
                slots,
                max_concurrency,
                stop,
            } => {
                let slots = (slots.into_iter())
                    .map(|slot| match slot {
                        SnapshotSlot::Done { message } => Slot::Done(message),
                        SnapshotSlot::Pending { call, policy } => Slot::Pending { call, policy },
                    })
                    .collect();
                let mut turn = PendingTurn::new(slots, max_concurrency);
                turn.stop = stop;
                Phase::AwaitingTools(turn)
            }
            SnapshotPhase::Finished { result } => Phase::Finished(result),
        };
        controller.turns = snapshot.turns;
        controller.invalid_turns = snapshot.invalid_turns;
        controller.output_retries = snapshot.output_retries;
        controller.exhausted = snapshot.exhausted;
        controller.cancel_after_turn = snapshot.cancel_after_turn;
        controller.summary_failed = snapshot.summary_failed;
        controller.summarized_since_turn = snapshot.summarized_since_turn;
        controller.call_ids = snapshot.call_ids.iter().cloned().collect::<HashSet<_>>();
        controller.call_order = snapshot.call_ids;
        controller.paused = snapshot.paused;
        controller.pauses = snapshot.pauses;
        controller.budget.set_warned(snapshot.warned);
        controller
    }

    /// The calls of the pending turn that have no result yet (empty between steps).
    pub fn pending_calls(&self) -> Vec<PlannedCall> {
        match &self.phase {
            Phase::AwaitingTools(turn) => turn.plan().calls,
            _ => Vec::new(),
        }
    }
}
