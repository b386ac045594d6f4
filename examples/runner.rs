//! The Runner, async and blocking: an agent with the calc and text tools answers a question
//! once with `Runner::run` (inside tokio) and once with `Runner::run_sync` (plain code).
//!
//! `cargo run -p warden-examples --example runner` (mock LLM server; set OPENAI_API_KEY or
//! ANTHROPIC_API_KEY to use a real model).

use mock_llm::Turn;
use tokio::runtime::Runtime;
use warden::{Agent, Executor, LoopConfig, RunResult, Runner, ToolPolicy};
use warden_examples::{Backend, calls};

pub const TASK: &str = "What is 17 * 23, and how many words are in 'the quick brown fox'?";

/// What the mock model answers.
pub fn script() -> Vec<Turn> {
    vec![
        calls(&[
            ("calc", r#"{"expression":"17 * 23"}"#),
            ("text_stats", r#"{"text":"the quick brown fox"}"#),
        ]),
        Turn::text("17 × 23 = 391, and 'the quick brown fox' has 4 words."),
    ]
}

/// An agent with calc and text, each call limited to 100M fuel, 2 s and 32 MiB.
pub async fn agent(executor: &Executor, model: &str) -> anyhow::Result<Agent> {
    let mut config = LoopConfig::new(model);
    config.instructions = "Use calc for arithmetic and text_stats to count words.".into();
    let policy = ToolPolicy {
        fuel: Some(100_000_000),
        timeout: std::time::Duration::from_secs(2),
        max_memory_bytes: 32 << 20,
        ..ToolPolicy::default()
    };
    let calc = warden::builtin::load_named(executor, "calc").await?;
    let text = warden::builtin::load_named(executor, "text").await?;
    Ok(Agent::new(config)
        .with_tools(calc, policy.clone())?
        .with_tools(text, policy)?)
}

/// Runs the task with `run` on `rt`, then with `run_sync` on this (runtime-free) thread.
pub fn run_both(rt: &Runtime, backend: &Backend) -> anyhow::Result<(RunResult, RunResult)> {
    let executor = warden_examples::executor()?;
    let agent = rt.block_on(agent(&executor, &backend.model_name))?;
    let runner = Runner::new(backend.model.clone(), executor);
    let with_async = rt.block_on(runner.run(&agent, TASK))?;
    let with_sync = runner.run_sync(&agent, TASK)?;
    Ok((with_async, with_sync))
}

fn main() -> anyhow::Result<()> {
    let rt = Runtime::new()?;
    let backend = rt.block_on(warden_examples::backend(script()))?;
    let (a, b) = run_both(&rt, &backend)?;
    for (how, result) in [("run", a), ("run_sync", b)] {
        let answer = result.output.map(|o| o.text).unwrap_or_default();
        println!("{how}: {answer}");
        println!(
            "  {} · {} tool calls · fuel {}",
            result.stop_reason.describe(),
            result.usage.tool_calls,
            result.usage.fuel
        );
    }
    Ok(())
}
