//! The minimal agent loop, written directly on warden's LLM interface (`Model`) and its
//! sandboxed executor: no controller, no budgets beyond a turn cap, about 40 lines.
//!
//! `cargo run -p warden-examples --example minimal_loop` (mock LLM server; set
//! OPENAI_API_KEY or ANTHROPIC_API_KEY to use a real model).

use mock_llm::Turn;
use warden_core::chat::{ChatRequest, Message, RequestSettings, ToolChoice, ToolSpec, WireCache};
use warden_llm::{Model, Notices};
use warden_sandbox::{Executor, ToolPolicy};

pub const TASK: &str = "What is (2^10 + 6) / 10?";

/// What the mock model answers.
pub fn script() -> Vec<Turn> {
    vec![
        Turn::call("calc", r#"{"expression":"(2^10 + 6) / 10"}"#),
        Turn::text("(2^10 + 6) / 10 = 103."),
    ]
}

/// Asks `model` about `task` with the calc tool until it answers (at most 8 turns).
pub async fn run(
    model: &dyn Model,
    name: &str,
    executor: &Executor,
    task: &str,
) -> anyhow::Result<String> {
    let tools = warden::builtin::load_named(executor, "calc").await?;
    let policy = ToolPolicy::default();
    let specs: std::sync::Arc<[ToolSpec]> = (tools.tools().iter())
        .map(|t| ToolSpec {
            name: t.name.clone(),
            description: t.description.clone(),
            parameters: t.args_schema.clone(),
        })
        .collect();
    let mut messages = vec![
        Message::system("Use calc for arithmetic."),
        Message::user(task),
    ];
    // One cache for the run's requests: each encodes only the messages the last one lacked.
    let cache = WireCache::default();
    for _turn in 0..8 {
        let settings = RequestSettings {
            model: name.into(),
            max_tokens: 512,
            temperature: None,
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: true,
            options: Default::default(),
        };
        let request = ChatRequest {
            settings,
            messages: messages.clone(),
            tools: specs.clone(),
            cache: cache.clone(),
        };
        let response = model.complete(&request, &Notices::none()).await?;
        if response.tool_calls.is_empty() {
            return Ok(response.text.unwrap_or_default());
        }
        messages.push(response.to_message());
        for call in response.tool_calls {
            // Each call runs in a fresh sandbox; errors go back to the model as text.
            let outcome = executor
                .call(&tools, &call.name, &call.arguments, &policy)
                .await;
            let (content, is_error) = match outcome.result {
                Ok(output) => (output, false),
                Err(e) => (e.message_for_model(), true),
            };
            messages.push(Message::tool_result(call.id, content, is_error));
        }
    }
    anyhow::bail!("no answer after 8 turns")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = warden_examples::backend(script()).await?;
    let executor = warden_examples::executor()?;
    let answer = run(backend.model.as_ref(), &backend.model_name, &executor, TASK).await?;
    println!("{answer}");
    Ok(())
}
