//! The `Runner` example as a user's program builds it: a dependency on `warden` alone. A
//! scripted model asks for the built-in calc tool once, then answers; the calc call runs in
//! its sandbox. Exits non-zero unless the run answered and the tool's result reached the model.

use std::sync::Arc;

use warden::testing::{ScriptedLlm, ScriptedModel};
use warden::{Agent, EngineConfig, Executor, LoopConfig, Runner, StopReason, ToolPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Compiles components in a limited child process when this binary is that child.
    warden::run_compiler_child_if_requested();

    let executor = Executor::new(EngineConfig::default())?;
    let model = Arc::new(ScriptedLlm::new([
        ScriptedModel::calls(&[("call_1", "calc", r#"{"expression":"17 * 23"}"#)]),
        ScriptedModel::text("17 × 23 = 391."),
    ]));
    let calc = warden::builtin::load_named(&executor, "calc").await?;
    let agent = Agent::new(LoopConfig::new("scripted")).with_tools(calc, ToolPolicy::default())?;
    let runner = Runner::new(model.clone(), executor);
    let result = runner.run(&agent, "What is 17 * 23?").await?;

    let answer = result.output.map(|o| o.text).unwrap_or_default();
    println!("{answer}");
    let tool_result_seen = model
        .requests()
        .last()
        .is_some_and(|request| format!("{:?}", request.messages).contains("391"));
    if result.stop_reason != StopReason::Completed || !tool_result_seen {
        return Err(format!(
            "expected an answer after the calc result 391; got {:?} (calc result seen: {tool_result_seen})",
            result.stop_reason
        )
        .into());
    }
    Ok(())
}
