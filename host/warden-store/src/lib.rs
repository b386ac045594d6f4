//! warden-store: durable runs for warden.
//!
//! [`format`](mod@format) is the versioned, documented run-state serialisation (one checkpoint: the
//! controller's snapshot, the agent's digest, a pending approval); [`Store`] is what the
//! runtime asks of a store (runs, leases with fencing tokens, checkpoints written in one
//! transaction with their step's events, the tool-call journal, decisions, retention);
//! [`SqliteStore`] is the embedded default (one file in WAL mode, in the user's data
//! directory or `WARDEN_DATA_DIR`, or a path given).
//!
//! Why rusqlite on tokio's blocking pool rather than sqlx: the SQLite store is one file
//! opened by one process at a time, so a connection pool and an async driver buy nothing,
//! and rusqlite builds SQLite itself (no system library, no database needed at build time,
//! a fraction of sqlx's build). The query layer is the [`Store`] trait, not a SQL dialect:
//! a PostgreSQL store implements the same trait (with sqlx or tokio-postgres) and its
//! callers do not change; see [`store`] for how leases and fencing tokens map onto it.
//!
//! Invariant: nothing recorded is ever lost by a failed write — every write is one
//! transaction, and its failure is returned as a typed [`StoreError`] that stops the run.

#![deny(missing_docs)]

pub mod approval;
mod error;
pub mod format;
mod items;
mod sqlite;
pub mod store;

pub use approval::{Decision, PendingApproval};
pub use error::StoreError;
pub use format::{
    ActiveAgent, AgentSummary, FormatError, RunCheckpoint, TeamMember, TeamSummary, agent_digest,
};
pub use sqlite::{SqliteOptions, SqliteStore, Sync, default_path};
pub use store::{
    CheckpointWrite, IdempotencyKey, Lease, ListTails, NewRun, Retention, RunStatus, RunSummary,
    Store, StoredRun, Tail,
};
