//! Durability costs of the SQLite store, measured on the real write path: a run of the
//! sans-IO controller (scripted model, one tool call per step with a ~200-byte result) is
//! checkpointed after every model response and every tool result, with that step's
//! events, as the runtime does. Prints the mean checkpoint time per model call with
//! `synchronous=NORMAL` and `FULL`, the database size per 1,000 steps, and the time to
//! load and restore a 100-step run (what `resume` does before its next model call).
//!
//! `cargo run --release -p warden-store --example store_bench`
#![expect(clippy::unwrap_used, reason = "a benchmark program: fail loudly")]

use std::time::{Duration, Instant};

use warden_core::budget::Budget;
use warden_core::controller::{Controller, LoopConfig, Schemas, Step};
use warden_core::events::{EventStamper, RunEvent};
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

fn config() -> LoopConfig {
    let mut config = LoopConfig::new("gpt-4o-mini");
    config.budget = Budget {
        max_turns: Some(100_000),
        ..Budget::default()
    };
    config.context_window = Some(10_000_000);
    config
}

fn summary() -> AgentSummary {
    AgentSummary {
        digest: "bench".into(),
        name: "bench".into(),
        tools: vec!["calc".into()],
        budget: Budget::default(),
        file: None,
        guardrails: vec![],
    }
}

/// Runs `steps` model calls, checkpointing as the runtime does; returns (run id, time spent
/// in checkpoints).
async fn run(store: &SqliteStore, steps: usize) -> (String, Duration) {
    let schemas = Schemas::compile(&config(), catalog()).unwrap();
    let mut controller = Controller::with_schemas(config(), &schemas, "bench task");
    let mut responses: Vec<_> = (0..steps - 1)
        .map(|i| {
            let args = format!(r#"{{"expression": "{i} * 7 + 1"}}"#);
            ScriptedModel::calls(&[(&format!("c{i}"), "calc", &args)])
        })
        .collect();
    responses.push(ScriptedModel::text("done"));
    let mut model = ScriptedModel::new(responses);
    let run_id = warden_core::events::new_run_id();
    let mut stamper = EventStamper::new(&run_id);
    let new = NewRun {
        run_id: run_id.clone(),
        session: None,
        input: "bench task".into(),
        checkpoint: RunCheckpoint::new(summary(), controller.snapshot()),
    };
    let lease = store.create_run(new).await.unwrap();
    let mut spent = Duration::ZERO;
    loop {
        let response = match controller.next_step() {
            Step::CallModel(request) | Step::Summarize(request) => {
                let response = model.respond(&request).unwrap();
                controller.on_model_response(response.clone()).unwrap();
                Some(response)
            }
            Step::RunTools(plan) => {
                let outcomes = (plan.calls.iter())
                    .map(|call| ToolOutcome {
                        call_id: call.call_id.clone(),
                        name: call.name.clone(),
                        result: Ok(format!(r#"{{"value": 42, "text": "{}"}}"#, "x".repeat(170))),
                        usage: ToolUsage::default(),
                    })
                    .collect();
                controller.on_tool_results(outcomes).unwrap();
                None
            }
            Step::Done(_) => return (run_id, spent),
        };
        let events: Vec<_> = (controller.take_events().into_iter())
            .filter(|e| !matches!(e, RunEvent::TextDelta { .. }))
            .map(|e| stamper.record(e))
            .collect();
        let status = match controller.result() {
            Some(_) => RunStatus::Finished,
            None => RunStatus::Running,
        };
        let started = Instant::now();
        let write = CheckpointWrite {
            checkpoint: RunCheckpoint::new(summary(), controller.snapshot()),
            status,
            events,
            responses: response.into_iter().collect(),
            tails: None,
        };
        store.checkpoint(&lease, write).await.unwrap();
        spent += started.elapsed();
    }
}

fn size(dir: &std::path::Path) -> u64 {
    (std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[tokio::main]
async fn main() {
    for (name, sync) in [("NORMAL", Sync::Normal), ("FULL", Sync::Full)] {
        for steps in [10, 100] {
            let dir = tempfile::tempdir().unwrap();
            let options = SqliteOptions {
                sync,
                ..SqliteOptions::default()
            };
            let store = SqliteStore::open_with(dir.path().join("runs.db"), options).unwrap();
            let runs = 1000 / steps;
            let mut spent = Duration::ZERO;
            for _ in 0..runs {
                spent += run(&store, steps).await.1;
            }
            let per_call = spent / u32::try_from(runs * steps).unwrap();
            println!(
                "synchronous={name:<6} {runs:>3} runs of {steps:>3} steps: checkpoints {per_call:>9.1?} per model call (response + tool result); database {} KiB per 1000 steps",
                size(dir.path()) / 1024
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("runs.db")).unwrap();
    let (run_id, _) = run(&store, 100).await;
    let schemas = Schemas::compile(&config(), catalog()).unwrap();
    let rounds = 50;
    let started = Instant::now();
    for _ in 0..rounds {
        let loaded = store.load(&run_id).await.unwrap();
        let restored = Controller::restore(config(), &schemas, loaded.checkpoint.snapshot);
        assert!(restored.result().is_some());
    }
    let bytes = store.load(&run_id).await.unwrap().checkpoint.encode().len();
    println!(
        "resume of a 100-step run (load, decode {} KiB of state, restore): {:.1?}",
        bytes / 1024,
        started.elapsed() / rounds
    );
}
