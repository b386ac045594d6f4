//! The split layout (run-state version 2, schema 2): a checkpoint writes only what its step
//! added, yet every load equals what was written; runs stored by the version-1 code load
//! and continue; a write that fails half-way leaves the previous checkpoint intact.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use warden_core::budget::Budget;
use warden_core::chat::{ChatResponse, Message};
use warden_core::controller::{Controller, ControllerSnapshot, LoopConfig, Schemas, Step};
use warden_core::events::{EventStamper, RunEvent};
use warden_core::state::{ModelCallKind, RunState};
use warden_core::testing::ScriptedModel;
use warden_core::tool::{ToolCatalogEntry, ToolOutcome, ToolUsage};
use warden_store::*;

fn catalog() -> Vec<ToolCatalogEntry> {
    vec![ToolCatalogEntry::new(
        "calc",
        "Evaluates an expression",
        serde_json::json!({"type": "object", "properties": {"expression": {"type": "string"}}}),
    )]
}

fn config(max_turns: u32) -> LoopConfig {
    let mut config = LoopConfig::new("gpt-4o-mini");
    config.budget = Budget {
        max_turns: Some(max_turns),
        ..Budget::default()
    };
    config.context_window = Some(10_000_000);
    config
}

fn agent(name: &str) -> AgentSummary {
    AgentSummary {
        digest: name.into(),
        name: name.into(),
        tools: vec!["calc".into()],
        budget: Budget::default(),
        file: None,
        guardrails: vec![],
    }
}

/// `calls` model calls that each call `calc`, then a text answer.
fn script(calls: usize) -> Vec<ChatResponse> {
    let mut responses: Vec<_> = (0..calls)
        .map(|i| {
            let args = format!(r#"{{"expression": "{i} * 7 + 1"}}"#);
            ScriptedModel::calls(&[(&format!("c{i}"), "calc", &args)])
        })
        .collect();
    responses.push(ScriptedModel::text("done"));
    responses
}

/// Drives `controller` as the runtime does, a checkpoint after every model response and
/// every tool result, for at most `writes` checkpoints; checks after each that the store
/// loads exactly what was written. Returns whether the run finished.
async fn drive(
    store: &SqliteStore,
    lease: &Lease,
    controller: &mut Controller,
    script: &[ChatResponse],
    writes: usize,
) -> bool {
    let name = store.load(&lease.run_id).await.unwrap().checkpoint.agent;
    let mut stamper = EventStamper::new(&lease.run_id);
    for _ in 0..writes {
        let response = match controller.next_step() {
            Step::CallModel(_) | Step::Summarize(_) => {
                let made = controller.snapshot().state.usage().model_calls;
                let response = script[usize::try_from(made).unwrap()].clone();
                controller.on_model_response(response.clone()).unwrap();
                Some(response)
            }
            Step::RunTools(plan) => {
                let outcomes = (plan.calls.iter())
                    .map(|call| ToolOutcome {
                        call_id: call.call_id.clone(),
                        name: call.name.clone(),
                        result: Ok(format!(r#"{{"value": "{}"}}"#, call.call_id)),
                        usage: ToolUsage::default(),
                    })
                    .collect();
                controller.on_tool_results(outcomes).unwrap();
                None
            }
            Step::Done(_) => return true,
        };
        let events: Vec<_> = (controller.take_events().into_iter())
            .filter(|e| !matches!(e, RunEvent::TextDelta { .. }))
            .map(|e| stamper.record(e))
            .collect();
        let status = match controller.result() {
            Some(_) => RunStatus::Finished,
            None => RunStatus::Running,
        };
        let checkpoint = RunCheckpoint::new(name.clone(), controller.snapshot());
        let write = CheckpointWrite {
            checkpoint: checkpoint.clone(),
            status,
            events,
            responses: response.into_iter().collect(),
            tails: None,
        };
        store.checkpoint(lease, write).await.unwrap();
        assert_eq!(
            store.load(&lease.run_id).await.unwrap().checkpoint,
            checkpoint
        );
    }
    matches!(controller.next_step(), Step::Done(_))
}

/// What must match between two runs of one script: not the wall clock, and not the
/// requests' token estimates (a restored controller calibrates its counter afresh, as
/// `ControllerSnapshot` documents).
fn essence(snapshot: &ControllerSnapshot) -> serde_json::Value {
    fn zero(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if key == "estimated_input_tokens" {
                        *v = 0.into();
                    } else {
                        zero(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(zero),
            _ => {}
        }
    }
    let mut value = serde_json::to_value((&snapshot.state, &snapshot.call_ids, &snapshot.phase));
    let value = value.as_mut().unwrap();
    zero(value);
    value.take()
}

async fn start(store: &SqliteStore, id: &str, controller: &Controller) -> Lease {
    let run = NewRun {
        run_id: id.into(),
        session: None,
        input: "task".into(),
        checkpoint: RunCheckpoint::new(agent("split"), controller.snapshot()),
    };
    store.create_run(run).await.unwrap()
}

#[tokio::test]
async fn a_run_resumed_twice_in_new_processes_ends_as_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let (calls, schemas) = (120, Schemas::compile(&config(500), catalog()).unwrap());
    let script = script(calls);

    let store = SqliteStore::open(&path).unwrap();
    let mut whole = Controller::with_schemas(config(500), &schemas, "task");
    let lease = start(&store, "aaaa0001", &whole).await;
    assert!(drive(&store, &lease, &mut whole, &script, usize::MAX).await);

    let lease = start(
        &store,
        "bbbb0002",
        &Controller::with_schemas(config(500), &schemas, "task"),
    )
    .await;
    drop(store);
    // Interrupted after an odd number of writes (a model response with its tool unrun),
    // then after an even one; each resume is a new store, as a new process would open.
    let mut lease = lease;
    for writes in [77, 100, usize::MAX] {
        let store = SqliteStore::open(&path).unwrap();
        let loaded = store.load("bbbb0002").await.unwrap().checkpoint;
        let mut resumed = Controller::restore(config(500), &schemas, loaded.snapshot);
        let next = store.acquire("bbbb0002").await.unwrap();
        assert!(next.token > lease.token);
        lease = next;
        let finished = drive(&store, &lease, &mut resumed, &script, writes).await;
        assert_eq!(finished, writes == usize::MAX);
    }
    let store = SqliteStore::open(&path).unwrap();
    let a = store.load("aaaa0001").await.unwrap().checkpoint.snapshot;
    let b = store.load("bbbb0002").await.unwrap().checkpoint.snapshot;
    assert_eq!(b.state.steps().len(), calls + 1);
    assert_eq!(essence(&a), essence(&b));
}

/// Copies the version-1 fixture (see `fixtures/README.md`) to `dir`.
fn v1_database(dir: &Path) -> std::path::PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let path = dir.join("runs.db");
    std::fs::copy(fixtures.join("v1-runs.db"), &path).unwrap();
    path
}

fn v1_checkpoint() -> RunCheckpoint {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let bytes = std::fs::read(fixtures.join("v1-runs.checkpoint.json")).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["version"], 1, "the fixture is a version-1 checkpoint");
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_run_stored_by_the_version_1_code_loads_and_continues_in_the_split_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_database(dir.path());
    let schema = |path: &Path| -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(schema(&path), 1);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(schema(&path), 2, "opening upgrades the schema in place");
    let run = store.resolve("last").await.unwrap();
    let loaded = store.load(&run).await.unwrap();
    assert_eq!(loaded.checkpoint, v1_checkpoint());
    assert_eq!(loaded.summary.steps, 6);
    assert_eq!(store.events(&run).await.unwrap().len(), 13);
    assert_eq!(store.responses(&run).await.unwrap().len(), 6);

    // Resumed: the fixture's run is 11 `calc` calls and an answer, stopped after 6 calls.
    let (config, script) = (config(1000), script(11));
    let schemas = Schemas::compile(&config, catalog()).unwrap();
    let mut controller = Controller::restore(config, &schemas, loaded.checkpoint.snapshot);
    let lease = store.acquire(&run).await.unwrap();
    assert!(drive(&store, &lease, &mut controller, &script, usize::MAX).await);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let done = store.load(&run).await.unwrap().checkpoint;
    assert_eq!(done.version, 2);
    assert_eq!(essence(&done.snapshot), essence(&controller.snapshot()));
    assert_eq!(store.responses(&run).await.unwrap().len(), 12);
}

/// A checkpoint of `state` with `call_ids`.
fn with_state(state: &RunState, call_ids: &[&str]) -> RunCheckpoint {
    let controller = Controller::new(config(5), vec![], "task").unwrap();
    let mut checkpoint = RunCheckpoint::new(agent("edits"), controller.snapshot());
    checkpoint.snapshot.state = state.clone();
    checkpoint.snapshot.call_ids = call_ids.iter().map(|s| s.to_string()).collect();
    checkpoint
}

#[tokio::test]
async fn every_kind_of_change_to_the_lists_loads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("runs.db")).unwrap();
    let mut state = RunState::new();
    state.push(Message::user("task"));
    let lease = {
        let run = NewRun {
            run_id: "cccc0003".into(),
            session: None,
            input: "task".into(),
            checkpoint: with_state(&state, &[]),
        };
        store.create_run(run).await.unwrap()
    };
    let mut ids: Vec<&str> = Vec::new();
    for round in 0..12 {
        // Appends; a change to the current step's record; new call ids that sort before
        // old ones; every fourth round a compaction of the live history's middle.
        state.begin_step(ModelCallKind::Turn, round);
        state.push(Message::assistant_text(format!("answer {round}")));
        state.push(Message::user(format!("more {round}")));
        state.current_step_mut().unwrap().cost_usd = f64::from(u32::try_from(round).unwrap());
        ids.push(["m", "b", "z", "a"][usize::try_from(round % 4).unwrap()]);
        ids.sort();
        ids.dedup();
        if round % 4 == 3 {
            state.compact(1..3, format!("summary {round}"));
        }
        let checkpoint = with_state(&state, &ids);
        let write = CheckpointWrite {
            checkpoint: checkpoint.clone(),
            status: RunStatus::Running,
            events: Vec::new(),
            responses: Vec::new(),
            tails: None,
        };
        store.checkpoint(&lease, write).await.unwrap();
        assert_eq!(
            store.load("cccc0003").await.unwrap().checkpoint,
            checkpoint,
            "round {round}"
        );
    }
    // A call id removed (the controller never does) still loads back exactly.
    let checkpoint = with_state(&state, &["b", "z"]);
    let write = CheckpointWrite {
        checkpoint: checkpoint.clone(),
        status: RunStatus::Running,
        events: Vec::new(),
        responses: Vec::new(),
        tails: None,
    };
    store.checkpoint(&lease, write).await.unwrap();
    assert_eq!(store.load("cccc0003").await.unwrap().checkpoint, checkpoint);
}

/// A write that runs out of space after some of its rows went in: none of it is visible,
/// the previous checkpoint loads, and the next write that fits is whole.
#[tokio::test]
async fn a_partially_written_step_never_becomes_visible() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        max_pages: Some(60),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(dir.path().join("runs.db"), options).unwrap();
    let mut state = RunState::new();
    state.push(Message::user("task"));
    let run = NewRun {
        run_id: "dddd0004".into(),
        session: None,
        input: "task".into(),
        checkpoint: with_state(&state, &[]),
    };
    let lease = store.create_run(run).await.unwrap();
    let write = |state: &RunState| CheckpointWrite {
        checkpoint: with_state(state, &[]),
        status: RunStatus::Running,
        events: Vec::new(),
        responses: Vec::new(),
        tails: None,
    };
    state.push(Message::user("small"));
    store.checkpoint(&lease, write(&state)).await.unwrap();
    let before = store.load("dddd0004").await.unwrap().checkpoint;
    // Small rows first (they fit), then one that does not: the transaction has written
    // rows when it fails.
    let mut too_big = state.clone();
    for i in 0..20 {
        too_big.push(Message::user(format!("row {i}")));
    }
    too_big.push(Message::user("z".repeat(400_000)));
    let err = store.checkpoint(&lease, write(&too_big)).await.unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert_eq!(store.load("dddd0004").await.unwrap().checkpoint, before);
    let reopened = SqliteStore::open(dir.path().join("runs.db")).unwrap();
    assert_eq!(reopened.load("dddd0004").await.unwrap().checkpoint, before);
    state.push(Message::user("fits"));
    store.checkpoint(&lease, write(&state)).await.unwrap();
    let after = store.load("dddd0004").await.unwrap().checkpoint;
    assert_eq!(after, with_state(&state, &[]));
}

#[tokio::test]
async fn a_missing_history_row_is_reported_as_damage_not_loaded_short() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut state = RunState::new();
    for text in ["a", "b", "c"] {
        state.push(Message::user(text));
    }
    let run = NewRun {
        run_id: "eeee0005".into(),
        session: None,
        input: "task".into(),
        checkpoint: with_state(&state, &[]),
    };
    store.create_run(run).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM run_items WHERE list = 1 AND idx = 2", [])
        .unwrap();
    let err = store.load("eeee0005").await.unwrap_err();
    assert!(matches!(err, StoreError::Format { .. }), "{err}");
    assert!(
        err.to_string().contains("transcript has 2 stored elements"),
        "{err}"
    );
}
