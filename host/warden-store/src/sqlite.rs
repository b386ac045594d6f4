//! [`SqliteStore`]: the embedded default [`Store`], one SQLite file in WAL mode.
//!
//! Tables: `runs` (one row per run: listing columns, the fencing token, the latest
//! checkpoint's head, a pending decision), `run_items` (the elements of the checkpoint's
//! growing lists, see `items`), `events` (the stamped events of every step, in order),
//! `tool_calls` (the calls started, for exactly-once resumes). `PRAGMA user_version` is the
//! schema version; a newer one is refused. Schema 1 (before `run_items`) is upgraded in
//! place by creating the table: its runs keep their whole version-1 checkpoints, which
//! load as they are, and are split on their next checkpoint.
//!
//! Invariant: every write is one transaction (`BEGIN IMMEDIATE`, so two writers queue on
//! the busy timeout instead of failing mid-way); SQLite's errors are mapped to
//! [`StoreError`] variants that say what to do (damaged, locked, full).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use warden_core::chat::ChatResponse;
use warden_core::events::EventRecord;

use crate::approval::Decision;
use crate::error::StoreError;
use crate::format::{self, RunCheckpoint};
use crate::items::{self, Lists, Written};
use crate::store::*;

/// The schema version this crate writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    session TEXT,
    agent TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    steps INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 1,
    next_event INTEGER NOT NULL DEFAULT 0,
    decision TEXT,
    state BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_updated ON runs(updated_ms);
CREATE UNIQUE INDEX IF NOT EXISTS runs_session ON runs(session) WHERE session IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    step INTEGER NOT NULL,
    ts TEXT NOT NULL,
    schema INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS run_items (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    list INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (run_id, list, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS responses (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS tool_calls (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    call_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, call_id)
);
";

/// How durable each commit is (SQLite's `synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sync {
    /// `NORMAL`: a commit survives a crash of the process; a power loss may lose the
    /// last commits (never corrupts). The default.
    #[default]
    Normal,
    /// `FULL`: every commit is on disk before it returns.
    Full,
}

/// Settings of a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability of each commit.
    pub sync: Sync,
    /// How long to wait for another process's lock before failing with `Locked`.
    pub busy_timeout: Duration,
    /// Caps the file at this many pages (4 KiB each); writes past it fail with `Full`.
    /// `None`: no cap but the disk.
    pub max_pages: Option<u64>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            sync: Sync::Normal,
            busy_timeout: Duration::from_secs(5),
            max_pages: None,
        }
    }
}

/// The SQLite store. Cheap to clone; calls run on tokio's blocking pool, except a run's
/// step writes under `NORMAL`, which run on the caller's thread when the database is free
/// (the hop to the pool and back cost more than the write itself).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    db: Mutex<Db>,
    busy_ms: u64,
    busy_timeout: Duration,
    /// Step writes may run on the caller's thread (`NORMAL`: no wait for the disk).
    inline: bool,
}

/// Runs whose committed lists are remembered, at most (a long-lived process records many).
const REMEMBERED_RUNS: usize = 64;

/// The connection, and what was last committed for the runs being written (see `items`).
struct Db {
    conn: Connection,
    written: HashMap<String, Written>,
}

/// Remembers what was committed for a run that goes on; forgets a finished one.
fn remember(
    remembered: &mut HashMap<String, Written>,
    run_id: String,
    status: RunStatus,
    written: Written,
) {
    if status == RunStatus::Finished {
        remembered.remove(&run_id);
        return;
    }
    if remembered.len() >= REMEMBERED_RUNS && !remembered.contains_key(&run_id) {
        let any = remembered.keys().next().cloned();
        any.map(|k| remembered.remove(&k));
    }
    remembered.insert(run_id, written);
}

/// The default database file: `$WARDEN_DATA_DIR/runs.db`, else `runs.db` in the user's
/// data directory (`$XDG_DATA_HOME/warden`, else `~/.local/share/warden`).
pub fn default_path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let dir = match var("WARDEN_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => match var("XDG_DATA_HOME") {
            Some(dir) => PathBuf::from(dir).join("warden"),
            None => PathBuf::from(var("HOME")?).join(".local/share/warden"),
        },
    };
    Some(dir.join("runs.db"))
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating if needed) the store at `path`: creates its directory, sets WAL
    /// mode, checks the schema version and creates the tables.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let busy_ms = u64::try_from(options.busy_timeout.as_millis()).unwrap_or(u64::MAX);
        let err = |e| map_err(&path, busy_ms, e);
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(options.busy_timeout).map_err(err)?;
        // The first read of the file: a damaged header or another file type fails here.
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path,
                found,
                known: SCHEMA_VERSION,
            });
        }
        let sync = match options.sync {
            Sync::Normal => "NORMAL",
            Sync::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
        ))
        .map_err(err)?;
        if let Some(pages) = options.max_pages {
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .map_err(err)?;
        }
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))
        .map_err(err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                db: Mutex::new(Db {
                    conn,
                    written: HashMap::new(),
                }),
                busy_ms,
                busy_timeout: options.busy_timeout,
                inline: options.sync == Sync::Normal,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.with_db(move |db| f(&mut db.conn)).await
    }

    /// Runs `f` on the connection and the remembered writes on the blocking pool.
    async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> rusqlite::Result<Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut db = inner
                .db
                .lock()
                .map_err(|_| StoreError::Worker("a store call panicked earlier".into()))?;
            f(&mut db).map_err(|e| map_err(&inner.path, inner.busy_ms, e))?
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }
}

impl SqliteStore {
    /// Runs `f`, a run's step write, in one `BEGIN IMMEDIATE` transaction that `f` commits.
    ///
    /// Under `NORMAL` such a write is CPU work and a `write` into the page cache, tens of
    /// microseconds: less than the hop to the blocking pool and back, which under load
    /// costs milliseconds of waiting for a thread (three hops per model call made durable
    /// runs several times slower than plain ones). So it runs on the caller's thread when
    /// the connection is free and the write lock is had without waiting. Otherwise (another
    /// run or process is writing, or `FULL` waits for the disk) it goes to the blocking pool
    /// and waits up to the busy timeout there, never on an async worker.
    async fn step_write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Transaction<'_>, &mut Remembered) -> rusqlite::Result<Result<T, StoreError>>
            + Send
            + 'static,
    {
        let f = match self.inline_write(f) {
            Ok(done) => return done,
            Err(f) => f,
        };
        self.with_db(move |db| {
            let Db { conn, written } = db;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            f(tx, written)
        })
        .await
    }

    /// [`SqliteStore::step_write`] on this thread, or `f` back when it must wait.
    fn inline_write<T, F>(&self, f: F) -> Result<Result<T, StoreError>, F>
    where
        F: FnOnce(Transaction<'_>, &mut Remembered) -> rusqlite::Result<Result<T, StoreError>>,
    {
        let inner = &self.inner;
        let err = |e| map_err(&inner.path, inner.busy_ms, e);
        if !inner.inline {
            return Err(f);
        }
        let Ok(mut db) = inner.db.try_lock() else {
            return Err(f);
        };
        let Db { conn, written } = &mut *db;
        if let Err(e) = conn.busy_timeout(Duration::ZERO) {
            return Ok(Err(err(e)));
        }
        let done = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => Ok(f(tx, written)),
            Err(e) => Err((e, f)),
        };
        if let Err(e) = conn.busy_timeout(inner.busy_timeout) {
            return Ok(Err(err(e)));
        }
        match done {
            Ok(result) => Ok(result.map_err(err).and_then(|r| r)),
            // Another writer holds the lock: wait for it on the blocking pool.
            Err((e, f))
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) =>
            {
                Err(f)
            }
            Err((e, _)) => Ok(Err(err(e))),
        }
    }
}

/// What was last committed per run (see `items`).
type Remembered = HashMap<String, Written>;

/// Maps SQLite's error codes to what a person can act on.
fn map_err(path: &Path, busy_ms: u64, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
            path,
            waited_ms: busy_ms,
        },
        Some(ErrorCode::DiskFull) => StoreError::Full { path },
        _ => StoreError::Sqlite { path, source: e },
    }
}

pub(crate) fn now_ms() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The listing columns a checkpoint sets.
fn listing(cp: &RunCheckpoint) -> (i64, Option<String>) {
    let steps = i64::try_from(cp.snapshot.state.steps().len()).unwrap_or(i64::MAX);
    let outcome = match &cp.snapshot.phase {
        warden_core::controller::SnapshotPhase::Finished { result } => {
            Some(result.stop_reason.describe())
        }
        _ => None,
    };
    (steps, outcome)
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

const SUMMARY_COLUMNS: &str =
    "id, session, agent, status, input, steps, outcome, created_ms, updated_ms";

fn summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunSummary> {
    let status: String = row.get(3)?;
    Ok(RunSummary {
        run_id: row.get(0)?,
        session: row.get(1)?,
        agent: row.get(2)?,
        // An unknown status (a damaged row) lists as running: resume then says what is wrong.
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Running),
        input: row.get(4)?,
        steps: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
        outcome: row.get(6)?,
        created_ms: row.get(7)?,
        updated_ms: row.get(8)?,
    })
}

/// Fails with `Fenced` unless `lease` holds the run's current token.
fn check_lease(
    tx: &rusqlite::Transaction<'_>,
    lease: &Lease,
) -> rusqlite::Result<Result<(), StoreError>> {
    Ok(check_lease_for_events(tx, lease)?.map(|_| ()))
}

/// [`check_lease`], giving the run's next event number too (one read for both).
fn check_lease_for_events(
    tx: &rusqlite::Transaction<'_>,
    lease: &Lease,
) -> rusqlite::Result<Result<i64, StoreError>> {
    let current: Option<(i64, i64)> = tx
        .prepare_cached("SELECT token, next_event FROM runs WHERE id = ?1")?
        .query_row([&lease.run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match current {
        None => Err(StoreError::NotFound(lease.run_id.clone())),
        Some((t, next)) if u64::try_from(t).ok() == Some(lease.token) => Ok(next),
        Some((t, _)) => Err(StoreError::Fenced {
            run_id: lease.run_id.clone(),
            ours: lease.token,
            current: u64::try_from(t).unwrap_or(0),
        }),
    })
}

/// Appends a step's events after the run's earlier ones (numbered from `seq`, the run's
/// `next_event`); returns the next sequence number.
fn insert_events(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    mut seq: i64,
    events: &[EventRecord],
) -> rusqlite::Result<i64> {
    // The event alone, its stamp in columns: a record's `step` and an event's own `step`
    // field would collide in one JSON object.
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (run_id, seq, step, ts, schema, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for record in events {
        let json = serde_json::to_string(&record.event).unwrap_or_default();
        let step = i64::try_from(record.step).unwrap_or(i64::MAX);
        insert.execute(params![run_id, seq, step, record.ts, record.schema, json])?;
        seq += 1;
    }
    Ok(seq)
}

/// Appends a step's model responses after the run's earlier ones.
fn insert_responses(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    responses: &[ChatResponse],
) -> rusqlite::Result<()> {
    if responses.is_empty() {
        return Ok(());
    }
    let first: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq) + 1, 0) FROM responses WHERE run_id = ?1")?
        .query_row([run_id], |r| r.get(0))?;
    let mut insert =
        tx.prepare_cached("INSERT INTO responses (run_id, seq, response) VALUES (?1, ?2, ?3)")?;
    for (i, response) in (0i64..).zip(responses) {
        let json = serde_json::to_string(response).unwrap_or_default();
        insert.execute(params![run_id, first + i, json])?;
    }
    Ok(())
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        }
    };
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_run(&self, run: NewRun) -> Result<Lease, StoreError> {
        self.with_db(move |db| {
            let NewRun {
                run_id,
                session,
                input,
                mut checkpoint,
            } = run;
            db.written.remove(&run_id);
            let (steps, outcome) = listing(&checkpoint);
            let lists = Lists::take(&mut checkpoint);
            let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO runs (id, session, agent, status, input, steps, outcome, created_ms, \
                 updated_ms, token, state) VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?7, 1, ?8)",
                params![
                    run_id,
                    session,
                    checkpoint.agent.name,
                    cut(&input, 200),
                    steps,
                    outcome,
                    now,
                    format::encode_head(&checkpoint, lists.items())
                ],
            )?;
            items::write(&tx, &run_id, Some(&Lists::default()), &lists)?;
            tx.commit()?;
            let written = Written { token: 1, lists };
            remember(&mut db.written, run_id.clone(), RunStatus::Running, written);
            Ok(Ok(Lease { run_id, token: 1 }))
        })
        .await
    }

    async fn acquire(&self, run_id: &str) -> Result<Lease, StoreError> {
        let run_id = run_id.to_string();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let token: Option<i64> = tx
                .query_row(
                    "UPDATE runs SET token = token + 1 WHERE id = ?1 RETURNING token",
                    [&run_id],
                    |r| r.get(0),
                )
                .optional()?;
            tx.commit()?;
            Ok(match token {
                None => Err(StoreError::NotFound(run_id)),
                Some(token) => Ok(Lease {
                    run_id,
                    token: u64::try_from(token).unwrap_or(0),
                }),
            })
        })
        .await
    }

    async fn checkpoint(&self, lease: &Lease, write: CheckpointWrite) -> Result<(), StoreError> {
        let lease = lease.clone();
        self.step_write(move |tx, remembered| {
            // Taken out: on any failure below the rows are rewritten next time.
            let old = (remembered.remove(&lease.run_id)).filter(|w| w.token == lease.token);
            let CheckpointWrite {
                mut checkpoint,
                status,
                events,
                responses,
                tails,
            } = write;
            let (mut steps, outcome) = listing(&checkpoint);
            let first = tri!(check_lease_for_events(&tx, &lease)?);
            let seq = insert_events(&tx, &lease.run_id, first, &events)?;
            insert_responses(&tx, &lease.run_id, &responses)?;
            let (lists, counts) = match &tails {
                // The writer sends only what is new: nothing to remember or compare.
                Some(tails) => {
                    steps = i64::try_from(tails.steps.len()).unwrap_or(i64::MAX);
                    (None, items::write_tails(&tx, &lease.run_id, tails)?)
                }
                None => {
                    let lists = Lists::take(&mut checkpoint);
                    items::write(&tx, &lease.run_id, old.as_ref().map(|w| &w.lists), &lists)?;
                    let counts = lists.items();
                    (Some(lists), counts)
                }
            };
            tx.prepare_cached(
                "UPDATE runs SET status = ?2, steps = ?3, outcome = ?4, updated_ms = ?5, \
                 next_event = ?6, state = ?7 WHERE id = ?1",
            )?
            .execute(params![
                lease.run_id,
                status.as_str(),
                steps,
                outcome,
                now_ms(),
                seq,
                format::encode_head(&checkpoint, counts)
            ])?;
            tx.commit()?;
            if let Some(lists) = lists {
                let written = Written {
                    token: lease.token,
                    lists,
                };
                remember(remembered, lease.run_id, status, written);
            }
            Ok(Ok(()))
        })
        .await
    }

    async fn tool_started(&self, lease: &Lease, key: &IdempotencyKey) -> Result<(), StoreError> {
        let (lease, key) = (lease.clone(), key.clone());
        self.step_write(move |tx, _| {
            tri!(check_lease(&tx, &lease)?);
            tx.prepare_cached(
                "INSERT OR IGNORE INTO tool_calls (run_id, call_id, step, started_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key.run_id, key.call_id, i64::try_from(key.step).unwrap_or(i64::MAX), now_ms()])?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }

    async fn started_calls(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        let run_id = run_id.to_string();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare("SELECT call_id FROM tool_calls WHERE run_id = ?1 ORDER BY started_ms")?;
            let ids = stmt
                .query_map([&run_id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(Ok(ids))
        })
        .await
    }

    async fn decide(&self, run_id: &str, decision: Decision) -> Result<(), StoreError> {
        let run_id = run_id.to_string();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let status: Option<String> = tx
                .query_row("SELECT status FROM runs WHERE id = ?1", [&run_id], |r| {
                    r.get(0)
                })
                .optional()?;
            match status.as_deref() {
                None => return Ok(Err(StoreError::NotFound(run_id))),
                Some("paused") => {}
                Some(other) => {
                    return Ok(Err(StoreError::NotPaused {
                        run_id,
                        status: other.to_string(),
                    }));
                }
            }
            let json = serde_json::to_string(&decision).unwrap_or_default();
            tx.execute(
                "UPDATE runs SET decision = ?2 WHERE id = ?1",
                params![run_id, json],
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }

    async fn take_decision(&self, lease: &Lease) -> Result<Option<Decision>, StoreError> {
        let lease = lease.clone();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tri!(check_lease(&tx, &lease)?);
            let json: Option<String> = tx.query_row(
                "SELECT decision FROM runs WHERE id = ?1",
                [&lease.run_id],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE runs SET decision = NULL WHERE id = ?1",
                [&lease.run_id],
            )?;
            tx.commit()?;
            // A damaged decision reads as none: the run stays paused and can be decided again.
            Ok(Ok(json.and_then(|j| serde_json::from_str(&j).ok())))
        })
        .await
    }

    async fn load(&self, run_id: &str) -> Result<StoredRun, StoreError> {
        let run_id = run_id.to_string();
        self.with(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {SUMMARY_COLUMNS}, state FROM runs WHERE id = ?1"),
                    [&run_id],
                    |r| Ok((summary(r)?, r.get::<_, Vec<u8>>(9)?)),
                )
                .optional()?;
            let Some((summary, state)) = row else {
                return Ok(Err(StoreError::NotFound(run_id)));
            };
            let format = |source| StoreError::Format {
                run_id: run_id.clone(),
                source,
            };
            let (mut checkpoint, split) = tri!(format::decode_head(&state).map_err(format));
            if let Some(counts) = split {
                tri!(items::read(conn, &run_id, counts)?.map_err(format)).put(&mut checkpoint);
            }
            Ok(Ok(StoredRun {
                summary,
                checkpoint,
            }))
        })
        .await
    }

    async fn events(&self, run_id: &str) -> Result<Vec<EventRecord>, StoreError> {
        let run_id = run_id.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT step, ts, schema, event FROM events WHERE run_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([&run_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            let mut events = Vec::new();
            for row in rows {
                let (step, ts, schema, json) = row?;
                // An event this version cannot read (a newer event type) is skipped.
                if let Ok(event) = serde_json::from_str(&json) {
                    events.push(EventRecord {
                        schema,
                        run_id: run_id.clone(),
                        ts,
                        step: usize::try_from(step).unwrap_or(0),
                        event,
                    });
                }
            }
            Ok(Ok(events))
        })
        .await
    }

    async fn responses(&self, run_id: &str) -> Result<Vec<ChatResponse>, StoreError> {
        let run_id = run_id.to_string();
        self.with(move |conn| {
            let mut stmt =
                conn.prepare("SELECT response FROM responses WHERE run_id = ?1 ORDER BY seq")?;
            let rows = stmt.query_map([&run_id], |r| r.get::<_, String>(0))?;
            let mut responses = Vec::new();
            for row in rows {
                match serde_json::from_str(&row?) {
                    Ok(response) => responses.push(response),
                    Err(e) => {
                        let detail = format!("a stored model response does not parse: {e}");
                        let source = crate::format::FormatError::Corrupt { detail };
                        return Ok(Err(StoreError::Format { run_id, source }));
                    }
                }
            }
            Ok(Ok(responses))
        })
        .await
    }

    async fn list(&self, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs ORDER BY updated_ms DESC, rowid DESC LIMIT ?1"
            ))?;
            let runs = stmt
                .query_map([limit], summary)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Ok(runs))
        })
        .await
    }

    async fn resolve(&self, id: &str) -> Result<String, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            if id == "last" {
                let last: Option<String> = conn
                    .query_row(
                        "SELECT id FROM runs ORDER BY created_ms DESC, rowid DESC LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                return Ok(last.ok_or(StoreError::NotFound(id)));
            }
            // Ids are hex: anything else cannot match (and cannot carry LIKE wildcards).
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Ok(Err(StoreError::NotFound(id)));
            }
            let mut stmt = conn.prepare("SELECT id FROM runs WHERE id LIKE ?1 || '%' LIMIT 2")?;
            let ids = stmt
                .query_map([&id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(match ids.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(StoreError::NotFound(id)),
                _ if ids.contains(&id) => Ok(id),
                _ => Err(StoreError::Ambiguous(id)),
            })
        })
        .await
    }

    async fn session(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.with(move |conn| {
            let id = conn
                .query_row("SELECT id FROM runs WHERE session = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(Ok(id))
        })
        .await
    }

    async fn prune(&self, retention: Retention) -> Result<usize, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let cutoff = match retention.older_than {
                Some(age) => {
                    now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
                }
                None => i64::MAX,
            };
            let keep = i64::try_from(retention.keep.unwrap_or(0)).unwrap_or(i64::MAX);
            let removed = tx.execute(
                "DELETE FROM runs WHERE status = 'finished' AND updated_ms < ?1 AND id NOT IN \
                 (SELECT id FROM runs ORDER BY updated_ms DESC, rowid DESC LIMIT ?2)",
                params![cutoff, keep],
            )?;
            tx.commit()?;
            Ok(Ok(removed))
        })
        .await
    }
}
