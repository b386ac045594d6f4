//! The [`Store`] trait: what the runtime asks of a durable run store, and the types it
//! speaks in.
//!
//! Ownership of a run is a [`Lease`] carrying a fencing token. Creating or acquiring a run
//! raises its token; every write names the lease, and a write whose token is not the
//! run's current one fails with [`StoreError::Fenced`] without changing anything. With one
//! process (SQLite) this stops a stale resumer from overwriting a newer one; with N
//! workers on PostgreSQL the same calls carry the same meaning: `acquire` becomes
//! `UPDATE runs SET token = token + 1, owner = $w, expires = now() + $ttl WHERE id = $1
//! AND (expires < now() OR owner = $w) RETURNING token`, `checkpoint` adds
//! `AND token = $lease` to its `UPDATE` in the same transaction as the event inserts, and
//! a `renew` extends `expires`. Callers do not change: they already hold a lease and stop
//! on `Fenced`.
//!
//! Invariant: a checkpoint and the events of its step are written in one transaction, or
//! not at all.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use warden_core::chat::{ChatResponse, Message};
use warden_core::events::EventRecord;
use warden_core::state::{CompactionRecord, StepRecord};

use crate::approval::Decision;
use crate::error::StoreError;
use crate::format::RunCheckpoint;

/// Ownership of a run for writing. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The run.
    pub run_id: String,
    /// The fencing token: writes with an older one fail.
    pub token: u64,
}

/// Where a run stands, as listed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Running, or interrupted (the process died): `warden runs resume` continues it.
    Running,
    /// Waiting for a person to approve or reject a tool call.
    Paused,
    /// Over; a session continues it with a new message.
    Finished,
}

impl RunStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Finished => "finished",
        }
    }

    /// Parses [`RunStatus::as_str`]'s names.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "running" => Self::Running,
            "paused" => Self::Paused,
            "finished" => Self::Finished,
            _ => return None,
        })
    }
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Its id (see `warden_core::events::new_run_id`).
    pub run_id: String,
    /// The session it continues, if named.
    pub session: Option<String>,
    /// The first task, for listings.
    pub input: String,
    /// Its first checkpoint.
    pub checkpoint: RunCheckpoint,
}

/// One step's durable write.
#[derive(Debug, Clone)]
pub struct CheckpointWrite {
    /// The state after the step.
    pub checkpoint: RunCheckpoint,
    /// Where the run stands now.
    pub status: RunStatus,
    /// The step's events, in order (appended after the run's earlier ones).
    pub events: Vec<EventRecord>,
    /// The model responses of the step, as received (kept for replay).
    pub responses: Vec<ChatResponse>,
    /// Only the ends of the growing lists, when the writer knows what it wrote before:
    /// `checkpoint`'s lists are then empty (see `Controller::snapshot_head`), and each
    /// stored list keeps its elements before the tail's `from` (see [`ListTails`]).
    /// `None`: the lists are in `checkpoint` in full.
    pub tails: Option<ListTails>,
}

/// The new ends of a run's growing lists since its previous checkpoint under the same
/// lease (see `RunState::lineage`). Each list keeps its stored elements before `from` and
/// continues with `items`; `from` is at most the length the previous checkpoint wrote, and
/// a list that is not longer than it was (other than by replacing its last elements) is
/// sent whole, from 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListTails {
    /// The live history.
    pub live: Tail<Message>,
    /// The transcript.
    pub transcript: Tail<Message>,
    /// The step records (the last one changes as its tool calls finish).
    pub steps: Tail<StepRecord>,
    /// The compactions.
    pub compactions: Tail<CompactionRecord>,
    /// The tool-call ids, in the order of first use.
    pub call_ids: Tail<String>,
}

/// The end of one list: its elements from index `from` on.
#[derive(Debug, Clone, PartialEq)]
pub struct Tail<T> {
    /// Index of the first element of `items` in the whole list.
    pub from: u64,
    /// The elements from `from` to the end.
    pub items: Vec<T>,
}

impl<T> Default for Tail<T> {
    fn default() -> Self {
        Self {
            from: 0,
            items: Vec::new(),
        }
    }
}

impl<T: Clone> Tail<T> {
    /// The end of `list` from `from` (clamped to its length) on.
    pub fn of(list: &[T], from: usize) -> Self {
        let from = from.min(list.len());
        Self {
            from: from as u64,
            items: list[from..].to_vec(),
        }
    }

    /// The length of the whole list.
    pub fn len(&self) -> u64 {
        self.from.saturating_add(self.items.len() as u64)
    }

    /// Whether the whole list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Its id.
    pub run_id: String,
    /// Its session name, if any.
    pub session: Option<String>,
    /// The agent's name.
    pub agent: String,
    /// Where it stands.
    pub status: RunStatus,
    /// The first task (cut to 200 characters).
    pub input: String,
    /// Model calls made.
    pub steps: u64,
    /// How it ended, in one line (finished runs).
    pub outcome: Option<String>,
    /// Created, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Last written, milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

/// A run as loaded to continue or show.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// Its listing.
    pub summary: RunSummary,
    /// Its latest checkpoint.
    pub checkpoint: RunCheckpoint,
}

/// A tool call's stable idempotency key: run, step and call id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// The run.
    pub run_id: String,
    /// The step (model call index) that made the call.
    pub step: u64,
    /// The model's call id.
    pub call_id: String,
}

impl std::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.run_id, self.step, self.call_id)
    }
}

/// Which runs `prune` removes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retention {
    /// Remove finished runs last written longer ago than this.
    pub older_than: Option<Duration>,
    /// Always keep this many of the most recent runs.
    pub keep: Option<usize>,
}

/// A durable run store. See the module docs for leases and fencing.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a run with its first checkpoint; returns its lease.
    async fn create_run(&self, run: NewRun) -> Result<Lease, StoreError>;

    /// Takes over a run for writing (raises its fencing token).
    async fn acquire(&self, run_id: &str) -> Result<Lease, StoreError>;

    /// Writes a checkpoint and its step's events in one transaction.
    async fn checkpoint(&self, lease: &Lease, write: CheckpointWrite) -> Result<(), StoreError>;

    /// Records that a tool call is about to start (before any effect), so a resume knows
    /// which calls may have had effects without a recorded result.
    async fn tool_started(&self, lease: &Lease, key: &IdempotencyKey) -> Result<(), StoreError>;

    /// The call ids of `run_id` recorded as started.
    async fn started_calls(&self, run_id: &str) -> Result<Vec<String>, StoreError>;

    /// Records a person's decision on a paused run (refused unless it is paused).
    async fn decide(&self, run_id: &str, decision: Decision) -> Result<(), StoreError>;

    /// Takes the recorded decision on a paused run, if one was made.
    async fn take_decision(&self, lease: &Lease) -> Result<Option<Decision>, StoreError>;

    /// The run's latest checkpoint and listing.
    async fn load(&self, run_id: &str) -> Result<StoredRun, StoreError>;

    /// The run's stored events, in order.
    async fn events(&self, run_id: &str) -> Result<Vec<EventRecord>, StoreError>;

    /// The run's model responses as received, in order (what a replay answers with).
    async fn responses(&self, run_id: &str) -> Result<Vec<ChatResponse>, StoreError>;

    /// The most recent runs first, at most `limit`.
    async fn list(&self, limit: usize) -> Result<Vec<RunSummary>, StoreError>;

    /// The full id of `id`: `last` (the most recent run), a full id, or a unique prefix.
    async fn resolve(&self, id: &str) -> Result<String, StoreError>;

    /// The run of session `name`, if there is one.
    async fn session(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Removes finished runs by `retention`; returns how many.
    async fn prune(&self, retention: Retention) -> Result<usize, StoreError>;
}
