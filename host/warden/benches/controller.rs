//! The sans-IO loop core per model call: the controller plans each request (context
//! assembly included), parses and validates each response, plans the tool calls and takes
//! their outcomes — everything warden adds per step besides HTTP and the sandbox.
//!
//! One run is the agent-loop bench's: 10 sequential tool turns of a `calc`-like tool, then
//! the answer (11 model calls). Responses and tool outcomes are prepared; building the
//! controller (which compiles the tool schemas, once per agent in real runs) is not timed.
//! A second group runs the same script through the `Runner` (async driver, events, a real
//! sandboxed `calc` call per turn) with a scripted model: the run minus HTTP.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use warden::testing::ScriptedLlm;
use warden::{Agent, Runner};
use warden_core::chat::ChatResponse;
use warden_core::controller::{Controller, LoopConfig, Step};
use warden_core::run::RunResult;
use warden_core::testing::ScriptedModel;
use warden_core::tool::{ToolCatalogEntry, ToolOutcome, ToolUsage};
use warden_sandbox::{EngineConfig, Executor, ToolPolicy};

const TURNS: usize = 10;

fn calc() -> ToolCatalogEntry {
    ToolCatalogEntry::new(
        "calc",
        "Evaluates an arithmetic expression",
        serde_json::json!({
            "type": "object",
            "properties": {"expression": {"type": "string", "maxLength": 1000}},
            "required": ["expression"],
            "additionalProperties": false
        }),
    )
}

fn responses() -> Vec<ChatResponse> {
    let mut out: Vec<ChatResponse> = (0..TURNS)
        .map(|i| ScriptedModel::calls(&[(&format!("call_{i}"), "calc", r#"{"expression":"1+1"}"#)]))
        .collect();
    out.push(ScriptedModel::text("done"));
    out
}

/// Drives one run to its end with the prepared responses and a fixed tool result. (Not
/// `controller::scripted::drive`: its model keeps a copy of every request, which would be
/// measured too.)
fn run(controller: &mut Controller, responses: &[ChatResponse]) -> RunResult {
    let mut next = responses.iter();
    loop {
        match controller.next_step() {
            Step::CallModel(_) | Step::Summarize(_) => {
                controller
                    .on_model_response(next.next().unwrap().clone())
                    .unwrap();
            }
            Step::RunTools(plan) => {
                let outcomes = plan
                    .calls
                    .iter()
                    .map(|call| ToolOutcome {
                        call_id: call.call_id.clone(),
                        name: call.name.clone(),
                        result: Ok(r#"{"text":"2","value":2.0}"#.into()),
                        usage: ToolUsage::default(),
                    })
                    .collect();
                controller.on_tool_results(outcomes).unwrap();
            }
            Step::Done(result) => return result,
        }
    }
}

fn loop_core(c: &mut Criterion) {
    let responses = responses();
    let mut group = c.benchmark_group("loop_core_run_of_11_model_calls");
    for model in ["gpt-4o-mini", "claude-haiku-4-5"] {
        group.bench_function(model, |b| {
            b.iter_batched(
                || Controller::new(LoopConfig::new(model), vec![calc()], "go").unwrap(),
                |mut controller| {
                    let result = run(&mut controller, &responses);
                    assert_eq!(result.usage.model_calls as usize, TURNS + 1);
                    black_box(result)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn runner_without_http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = Executor::new(EngineConfig::default()).unwrap();
    let set = rt
        .block_on(warden::builtin::load_named(&executor, "calc"))
        .unwrap();
    let mut group = c.benchmark_group("runner_scripted_run_of_11_model_calls");
    for model in ["gpt-4o-mini", "claude-haiku-4-5"] {
        let agent = Agent::new(LoopConfig::new(model))
            .with_tools(set.clone(), ToolPolicy::default())
            .unwrap();
        group.bench_function(model, |b| {
            b.iter_batched(
                || {
                    let llm = Arc::new(ScriptedLlm::new(responses()));
                    Runner::new(llm, executor.clone()).streaming(false)
                },
                |runner| {
                    let result = rt.block_on(runner.run(&agent, "go")).unwrap();
                    assert_eq!(result.usage.tool_calls as usize, TURNS);
                    black_box(result)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = loop_core, runner_without_http }
criterion_main!(benches);
