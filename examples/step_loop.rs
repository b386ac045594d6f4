//! A caller-driven step loop on warden's sans-IO controller, in the compiled-graph style:
//! the controller says what comes next, and *your* code owns the routing between the
//! "model" node and the "tools" node (here: logging each hop, running the calls of a turn
//! concurrently in the sandbox, and refusing to run more than one tools step per model step).
//!
//! `cargo run -p warden-examples --example step_loop` (mock LLM server; set OPENAI_API_KEY
//! or ANTHROPIC_API_KEY to use a real model).

use futures::future::join_all;
use mock_llm::Turn;
use warden_core::controller::{Controller, LoopConfig, Step};
use warden_core::run::RunResult;
use warden_core::tool::{PlannedCall, ToolCatalogEntry, ToolOutcome};
use warden_examples::calls;
use warden_llm::{Model, Notices};
use warden_sandbox::{Executor, ToolPolicy, ToolSet};

pub const LOG: &str = "boot ok\nerror: disk quota exceeded on /var\nretrying upload\n\
error: upload failed after 3 attempts\nshutdown";

pub fn task() -> String {
    format!("Which lines of this log are errors, and how many lines does it have?\n\n{LOG}")
}

/// What the mock model answers.
pub fn script() -> Vec<Turn> {
    let text = serde_json::to_string(LOG).unwrap_or_default();
    vec![
        calls(&[
            (
                "regex_search",
                &format!(r#"{{"pattern":"error: (.*)","text":{text}}}"#),
            ),
            ("text_stats", &format!(r#"{{"text":{text}}}"#)),
        ]),
        Turn::text(
            "2 of the 5 lines are errors: the disk quota (line 2) and the failed upload (line 4).",
        ),
    ]
}

/// One tool call in its sandbox, as the controller wants it back.
async fn run_call(
    executor: &Executor,
    set: &ToolSet,
    policy: &ToolPolicy,
    call: &PlannedCall,
) -> ToolOutcome {
    let outcome = executor
        .call(set, &call.name, &call.arguments.to_string(), policy)
        .await;
    warden::tool_outcome(call, outcome)
}

/// Drives the controller to the end; returns the result and the route taken.
pub async fn run(
    model: &dyn Model,
    name: &str,
    executor: &Executor,
) -> anyhow::Result<(RunResult, Vec<String>)> {
    let set = warden::builtin::load_named(executor, "text").await?;
    let policy = ToolPolicy::default();
    let catalog: Vec<ToolCatalogEntry> = (set.tools().iter())
        .map(|t| ToolCatalogEntry::new(&t.name, &t.description, t.args_schema.clone()))
        .collect();
    let mut controller = Controller::new(LoopConfig::new(name), catalog, task())?;
    let mut route = Vec::new();
    loop {
        match controller.next_step() {
            // Node "model": send what the controller assembled (already budget-checked).
            Step::CallModel(request) | Step::Summarize(request) => {
                route.push("model".to_string());
                match model.complete(&request, &Notices::none()).await {
                    Ok(response) => controller.on_model_response(response)?,
                    Err(e) => controller.on_model_error(e.failure())?,
                }
            }
            // Node "tools": the calls of one turn, concurrently; results in any order.
            Step::RunTools(plan) => {
                anyhow::ensure!(
                    route.last().map(String::as_str) == Some("model"),
                    "two tools steps in a row"
                );
                let names: Vec<&str> = plan.calls.iter().map(|c| c.name.as_str()).collect();
                route.push(format!("tools[{}]", names.join(",")));
                let outcomes = join_all(
                    plan.calls
                        .iter()
                        .map(|c| run_call(executor, &set, &policy, c)),
                )
                .await;
                controller.on_tool_results(outcomes)?;
            }
            Step::Done(result) => return Ok((result, route)),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = warden_examples::backend(script()).await?;
    let executor = warden_examples::executor()?;
    let (result, route) = run(backend.model.as_ref(), &backend.model_name, &executor).await?;
    println!("route: {}", route.join(" → "));
    println!("{}", result.output.map(|o| o.text).unwrap_or_default());
    println!(
        "{} · {} tool calls",
        result.stop_reason.describe(),
        result.usage.tool_calls
    );
    Ok(())
}
