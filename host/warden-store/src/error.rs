//! The store's errors. Each says what happened and what to do.

use std::path::PathBuf;

use crate::format::FormatError;

/// A store operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file is damaged or not a database. Nothing was changed.
    #[error(
        "the run store {path} is damaged or not a warden database ({detail}); move it aside \
         (e.g. to {path}.broken) to start a new one, or restore it from a copy"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// Another process holds the database locked for longer than the busy timeout.
    #[error(
        "the run store {path} is locked by another process (waited {waited_ms} ms); wait for \
         it to finish, or set WARDEN_DATA_DIR to use another store"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// How long the store waited.
        waited_ms: u64,
    },
    /// The disk (or the store's size limit) is full. The write was rolled back: what was
    /// recorded before stays.
    #[error(
        "the run store {path} is full (the disk or its size limit); the last checkpoint was \
         not written and the run stopped. Free space, then `warden runs resume`"
    )]
    Full {
        /// The database file.
        path: PathBuf,
    },
    /// Created by a newer warden (its schema version is higher than this one knows).
    #[error(
        "the run store {path} has schema version {found}; this warden knows up to {known}: \
         upgrade warden"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The schema version found.
        found: i64,
        /// The newest this crate knows.
        known: i64,
    },
    /// No run has this id (or none at all, for `last`).
    #[error("no run `{0}` in the store (see `warden runs list`)")]
    NotFound(String),
    /// A decision was given for a run that does not wait for one.
    #[error("run {run_id} is {status}, not paused for an approval: there is nothing to decide")]
    NotPaused {
        /// The run.
        run_id: String,
        /// Where it stands.
        status: String,
    },
    /// An id prefix matches several runs.
    #[error("`{0}` names more than one run; give more of its id")]
    Ambiguous(String),
    /// Another process took the run over (its lease has a newer fencing token): this
    /// writer must stop.
    #[error(
        "run {run_id} was taken over by another process (fencing token {current}, ours \
         {ours}); this process stopped writing to it"
    )]
    Fenced {
        /// The run.
        run_id: String,
        /// Our token.
        ours: u64,
        /// The token now in the store.
        current: u64,
    },
    /// A stored checkpoint cannot be read.
    #[error("run {run_id}: {source}")]
    Format {
        /// The run.
        run_id: String,
        /// Why.
        #[source]
        source: FormatError,
    },
    /// The data directory cannot be created or used.
    #[error("cannot use the data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Any other SQLite failure.
    #[error("run store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The store's worker thread failed.
    #[error("the run store's worker thread failed: {0}")]
    Worker(String),
}
