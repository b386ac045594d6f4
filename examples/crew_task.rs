//! A task with an expected output, run to completion (the crew-kickoff style): the agent
//! must return JSON matching a schema. A first answer that does not match is sent back with
//! the reason, and the model tries again within the output-retry budget.
//!
//! `cargo run -p warden-examples --example crew_task` (mock LLM server; set OPENAI_API_KEY
//! or ANTHROPIC_API_KEY to use a real model).

use mock_llm::Turn;
use serde_json::{Value, json};
use warden::{Agent, Executor, LoopConfig, RunResult, Runner, ToolPolicy};
use warden_examples::Backend;

pub const ARTICLE: &str = "WebAssembly components give each tool its own sandbox. \
Fuel bounds the work a call may do, and a deadline bounds its time.";

/// The expected output of the task.
pub fn expected_output() -> Value {
    json!({
        "type": "object",
        "required": ["title", "word_count", "key_points"],
        "additionalProperties": false,
        "properties": {
            "title": { "type": "string" },
            "word_count": { "type": "integer" },
            "key_points": { "type": "array", "items": { "type": "string" }, "minItems": 1 }
        }
    })
}

pub fn task() -> String {
    format!(
        "Write a title, the word count and the key points of this article as JSON.\n\n{ARTICLE}"
    )
}

/// What the mock model answers: a measurement, an answer missing a field, the fixed answer.
pub fn script() -> Vec<Turn> {
    let text = serde_json::to_string(ARTICLE).unwrap_or_default();
    vec![
        Turn::call("text_stats", format!(r#"{{"text":{text}}}"#)),
        Turn::text(r#"{"title": "Sandboxed tools", "key_points": ["one sandbox per tool"]}"#),
        Turn::text(
            r#"{"title": "Sandboxed tools", "word_count": 22, "key_points": ["one sandbox per tool", "fuel bounds work", "deadlines bound time"]}"#,
        ),
    ]
}

/// Runs the task to completion.
pub async fn kickoff(backend: &Backend, executor: &Executor) -> anyhow::Result<RunResult> {
    let mut config = LoopConfig::new(&backend.model_name);
    config.agent_name = "summariser".into();
    config.instructions = "Measure texts with text_stats. Answer with JSON only.".into();
    config.output_schema = Some(expected_output());
    config.max_output_retries = 2;
    let text = warden::builtin::load_named(executor, "text").await?;
    let agent = Agent::new(config).with_tools(text, ToolPolicy::default())?;
    let runner = Runner::new(backend.model.clone(), executor.clone());
    Ok(runner.run(&agent, task()).await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = warden_examples::backend(script()).await?;
    let executor = warden_examples::executor()?;
    let result = kickoff(&backend, &executor).await?;
    match result.output.and_then(|o| o.json) {
        Some(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        None => println!("no valid output: {}", result.stop_reason.describe()),
    }
    Ok(())
}
