//! `--durability`: what recording a run costs, side by side in one process run. Each repeat
//! makes the same run (model calls each followed by a sandboxed `calc` call, against the
//! same server) four ways, interleaved: durability off (`Runner::run`), recorded in a
//! SQLite store with `synchronous=NORMAL`, with `FULL`, and with `NORMAL` plus its spans
//! exported over OTLP/HTTP to a receiver on loopback. Then: the store's size per 1,000
//! model calls, and the time to resume a 100-call run from a store opened afresh (open,
//! load, restore: what `warden runs resume` does before its next model call).
//!
//! Invariant: every run measured is checked (its model and tool calls, its stop); the
//! stores live in a temporary directory removed at the end; the OTLP receiver binds
//! 127.0.0.1 only.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden::store::{SqliteOptions, SqliteStore, Store, Sync};
use warden::{Agent, RunHandle, Runner};
use warden_trace::{ExportConfig, OtlpExporter, TraceOptions, TraceRecorder};

use crate::measure::{median, ms, r3, r3o};
use crate::runs::check_run;

/// The ways a run is made, in the order of each repeat.
const WAYS: [&str; 4] = ["off", "normal", "full", "normal_otlp"];

/// What the durability figures are measured with.
pub struct Setup<'a> {
    pub runner: &'a Runner,
    /// Agents whose runs are `calls[i]` model calls long.
    pub agents: &'a [(usize, Agent)],
    pub repeats: usize,
}

fn store(dir: &Path, name: &str, sync: Sync) -> anyhow::Result<Arc<SqliteStore>> {
    let options = SqliteOptions {
        sync,
        ..SqliteOptions::default()
    };
    Ok(Arc::new(SqliteStore::open_with(dir.join(name), options)?))
}

/// A directory of this process's own under the temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("warden-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes of a database and its WAL.
fn size(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

/// One run of `agent` made `way`; its wall time.
async fn one(
    way: &str,
    runners: &[Runner; 3],
    agent: &Agent,
    calls: usize,
    otlp: &str,
) -> anyhow::Result<Duration> {
    let handle = RunHandle::new();
    let started = Instant::now();
    let result = match way {
        "off" => runners[0].run(agent, "go").await?,
        "normal" | "full" => {
            let runner = &runners[if way == "normal" { 1 } else { 2 }];
            let recorded = runner.run_recorded(agent, "go", &handle, |_| {}).await?;
            recorded.result.context("a recorded run paused")?
        }
        _ => {
            // As `warden run` does with OTEL_EXPORTER_OTLP_ENDPOINT set: a recorder fed
            // every event, spans exported as they end, the exporter drained at the end.
            let exporter = OtlpExporter::start(ExportConfig::new(otlp))?;
            let mut recorder =
                TraceRecorder::new(warden_core::events::new_run_id(), TraceOptions::default())
                    .exporting_to(&exporter);
            let recorded = runners[1]
                .run_recorded(agent, "go", &handle, |e| recorder.observe(&e))
                .await?;
            drop(recorder.finish());
            let report = exporter.shutdown(Duration::from_secs(10)).await;
            anyhow::ensure!(
                report.exported > 0 && report.failed == 0 && report.dropped == 0,
                "the OTLP export failed: {report:?}"
            );
            recorded.result.context("a recorded run paused")?
        }
    };
    let took = started.elapsed();
    check_run(&result, calls)?;
    Ok(took)
}

/// Measures the durability figures (see the module docs).
pub async fn measure(s: &Setup<'_>) -> anyhow::Result<Value> {
    let dir = TempDir::new()?;
    let (normal, full) = (
        store(dir.path(), "normal.db", Sync::Normal)?,
        store(dir.path(), "full.db", Sync::Full)?,
    );
    let runners = [
        s.runner.clone(),
        s.runner.clone().with_store(normal.clone()),
        s.runner.clone().with_store(full.clone()),
    ];
    let receiver = Receiver::start().await?;
    let otlp = receiver.url();
    let mut by_length = serde_json::Map::new();
    for (calls, agent) in s.agents {
        let per = *calls as f64;
        let mut walls: [Vec<f64>; 4] = Default::default();
        let mut overheads: [Vec<f64>; 3] = Default::default();
        let (mut floor, mut floor_percent) = (Vec::new(), Vec::new());
        let mut bare = Floor::open(&dir.path().join(format!("floor-{calls}.db")))?;
        for i in 0..=s.repeats {
            let mut sample = [0.0; 4];
            for (w, way) in WAYS.iter().enumerate() {
                sample[w] = ms(one(way, &runners, agent, *calls, &otlp).await?) / per;
            }
            let floor_ms = ms(bare.run(*calls)?) / per;
            if i == 0 {
                continue; // warm-up
            }
            floor.push(floor_ms);
            floor_percent.push(100.0 * floor_ms / sample[0]);
            for w in 0..4 {
                walls[w].push(sample[w]);
            }
            for w in 1..4 {
                overheads[w - 1].push(100.0 * (sample[w] / sample[0] - 1.0));
            }
        }
        let [off, normal_w, full_w, otlp_w] = walls.map(median);
        let [o_normal, o_full, o_otlp] = overheads.map(median);
        by_length.insert(
            format!("{calls}_model_calls"),
            json!({
                "wall_ms_per_model_call": {
                    "durability_off": r3o(off),
                    "sqlite_normal": r3o(normal_w),
                    "sqlite_full": r3o(full_w),
                    "sqlite_normal_and_otlp_export": r3o(otlp_w),
                },
                // Medians of per-repeat ratios against the run made without durability.
                "added_percent": {
                    "sqlite_normal": r3o(o_normal),
                    "sqlite_full": r3o(o_full),
                    "sqlite_normal_and_otlp_export": r3o(o_otlp),
                },
                // Three bare commits per model call (see `Floor`): what any store that commits
                // each step costs here, and that cost against the model call.
                "sqlite_floor_ms_per_model_call": r3o(median(floor)),
                "sqlite_floor_percent": r3o(median(floor_percent)),
                "added_ms_per_model_call": {
                    "sqlite_normal": r3o(normal_w.zip(off).map(|(a, b)| a - b)),
                    "sqlite_full": r3o(full_w.zip(off).map(|(a, b)| a - b)),
                    "otlp_export_over_sqlite_normal": r3o(otlp_w.zip(normal_w).map(|(a, b)| a - b)),
                },
            }),
        );
    }
    // Size: what the NORMAL store holds after every recorded run above, closed (its WAL
    // folded in), per 1,000 model calls.
    let model_calls: usize = s.agents.iter().map(|(c, _)| c * 2 * (s.repeats + 1)).sum();
    let resume = resume_ms(s, dir.path()).await?;
    drop(runners);
    drop((normal, full));
    let bytes = size(&dir.path().join("normal.db"));
    Ok(json!({
        "ways": WAYS,
        "repeats": s.repeats,
        "per_run_length": by_length,
        "database_kib_per_1000_model_calls": r3(bytes as f64 / 1024.0 * 1000.0 / model_calls as f64),
        "database_model_calls": model_calls,
        "resume_100_call_run_ms": resume,
        "target_added_percent_max": 10,
    }))
}

/// The floor of a store that commits every step: a bare SQLite connection (WAL,
/// `synchronous=NORMAL`, on this thread) making per model call the three commits a durable
/// run makes, each as small as it can be: the response's checkpoint (one event row, one
/// history row, the run's head updated), the journal entry before the tool runs (one row),
/// and the result's checkpoint (as the first). No serialisation, no hop, no run state.
struct Floor {
    conn: rusqlite::Connection,
    seq: i64,
}

impl Floor {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE runs (id TEXT PRIMARY KEY, updated INTEGER, state BLOB);
             CREATE TABLE events (run TEXT, seq INTEGER, event TEXT, PRIMARY KEY (run, seq));
             CREATE TABLE items (run TEXT, idx INTEGER, item TEXT, PRIMARY KEY (run, idx)) WITHOUT ROWID;
             CREATE TABLE calls (run TEXT, call TEXT, PRIMARY KEY (run, call));
             INSERT INTO runs VALUES ('r', 0, x'');",
        )?;
        Ok(Self { conn, seq: 0 })
    }

    /// `calls` model calls' commits; their time.
    fn run(&mut self, calls: usize) -> anyhow::Result<Duration> {
        let (event, item, head) = ("e".repeat(300), "m".repeat(200), vec![7u8; 600]);
        let started = Instant::now();
        for _ in 0..calls {
            self.step(&event, &item, &head)?;
            let tx = self.conn.transaction()?;
            tx.prepare_cached("INSERT INTO calls VALUES ('r', ?1)")?
                .execute([self.seq])?;
            tx.commit()?;
            self.step(&event, &item, &head)?;
        }
        Ok(started.elapsed())
    }

    fn step(&mut self, event: &str, item: &str, head: &[u8]) -> anyhow::Result<()> {
        self.seq += 1;
        let tx = self.conn.transaction()?;
        tx.prepare_cached("INSERT INTO events VALUES ('r', ?1, ?2)")?
            .execute(rusqlite::params![self.seq, event])?;
        tx.prepare_cached("INSERT INTO items VALUES ('r', ?1, ?2)")?
            .execute(rusqlite::params![self.seq, item])?;
        tx.prepare_cached("UPDATE runs SET updated = ?1, state = ?2 WHERE id = 'r'")?
            .execute(rusqlite::params![self.seq, head])?;
        tx.commit()?;
        Ok(())
    }
}

/// Resume time of a 100-call run: a store opened afresh, the run loaded and its controller
/// restored (median of 20).
async fn resume_ms(s: &Setup<'_>, dir: &Path) -> anyhow::Result<Value> {
    let Some((calls, agent)) = s.agents.iter().find(|(c, _)| *c == 100) else {
        return Ok(Value::Null);
    };
    let path = dir.join("resume.db");
    let runner = s
        .runner
        .clone()
        .with_store(store(dir, "resume.db", Sync::Normal)?);
    let recorded = (runner.run_recorded(agent, "go", &RunHandle::new(), |_| {})).await?;
    check_run(recorded.result.as_ref().context("paused")?, *calls)?;
    drop(runner);
    let mut samples = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let store = SqliteStore::open(&path)?;
        let loaded = store.load(&recorded.run_id).await?;
        let controller = agent.restore(loaded.checkpoint.snapshot)?;
        std::hint::black_box(controller);
        samples.push(ms(started.elapsed()));
    }
    Ok(json!(r3o(median(samples))))
}

/// An OTLP/HTTP receiver on loopback: reads each request whole and answers `200` with an
/// empty `ExportTraceServiceResponse` (zero bytes of protobuf), as a collector does.
struct Receiver {
    addr: std::net::SocketAddr,
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        });
        Ok(Self { addr })
    }

    fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }
}

/// Serves requests on one connection until it closes.
async fn serve(mut stream: tokio::net::TcpStream) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            anyhow::ensure!(buf.len() < 64 << 10, "request head too large");
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = (head.lines())
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 65536];
            let n = stream.read(&mut chunk).await?;
            anyhow::ensure!(n > 0, "request body cut short");
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.drain(..head_end + length);
        stream
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
            )
            .await?;
    }
}
