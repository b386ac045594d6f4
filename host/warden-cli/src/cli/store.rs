//! Where the CLI's durable runs live, and the flags that choose recording: one SQLite file,
//! `$WARDEN_DATA_DIR/runs.db`, else in the user's data directory (see
//! [`warden::store::default_path`]).
//!
//! Invariant: a run that is to be recorded never starts without its store: a store that
//! cannot be opened is an error that names the file and the way out (`--no-record`).

use std::sync::Arc;

use clap::Args;
use warden::store::{SqliteStore, Store, default_path};

/// Recording flags of `warden run` and `warden chat`.
#[derive(Debug, Default, Args)]
pub struct RecordFlags {
    /// Continue (or start) the stored conversation NAME: its history carries over across
    /// runs and restarts.
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// Do not record the run in the run store.
    #[arg(long, conflicts_with = "session")]
    pub no_record: bool,
}

/// Opens the run store.
pub fn open() -> Result<Arc<dyn Store>, String> {
    let path = default_path()
        .ok_or("no place for the run store: set WARDEN_DATA_DIR (or HOME), or pass --no-record")?;
    SqliteStore::open(&path)
        .map(|store| Arc::new(store) as Arc<dyn Store>)
        .map_err(|e| format!("{e} (pass --no-record to run without recording)"))
}

/// Checks a session name: printable, short, no path or shell surprises.
pub fn check_session(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "session name `{}` is not allowed: use 1 to 128 letters, digits or -_.:@",
            name.escape_debug()
        ))
    }
}
