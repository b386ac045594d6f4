//! `warden demo`: the offline demo (see `warden::demo`). The run streams like `warden run`
//! (answer on stdout, tool calls on stderr); the sandbox summary follows on stdout.
//!
//! Exit code 0 when the demo showed what it is meant to (parallel calls, a refusal the model
//! recovered from, a budget stop with a forced answer), 1 otherwise.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;
use warden::events::RunEvent;
use warden::executor::{EngineConfig, Executor};

use super::run::Renderer;

/// `warden demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the run's events as JSON lines on stdout instead.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: DemoArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let executor = match Executor::new(EngineConfig::default()) {
        Ok(executor) => executor,
        Err(e) => {
            let _ = writeln!(err, "error: cannot build the wasm engine: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = writeln!(
        err,
        "warden demo: a scripted model (offline) drives the real sandboxed tools\ntask: {}\n",
        warden::demo::TASK
    );
    let mut view = Renderer::new(out, err, args.json);
    let report = match warden::demo::run(&executor, |event| view.event(&shorten(event))).await {
        Ok(report) => report,
        Err(e) => return view.error(&e.to_string()),
    };
    // The renderer's own exit code says "budget reached" (2); the demo expects exactly that.
    let _ = view.finish(&report.result);
    drop(view);
    let shown = report.max_parallel > 1 && report.recovered() && report.result.forced;
    if !args.json {
        let _ = writeln!(out, "\n{report}");
    }
    if shown {
        ExitCode::SUCCESS
    } else {
        let _ = writeln!(
            err,
            "error: the demo did not show parallel calls, a recovered refusal and a forced answer"
        );
        ExitCode::FAILURE
    }
}

/// Longest string argument shown in a tool-call line (the demo passes whole files around).
const SHOWN_CHARS: usize = 48;

/// `event` for display: long string arguments of a tool call cut to [`SHOWN_CHARS`].
fn shorten(event: &RunEvent) -> RunEvent {
    let mut event = event.clone();
    if let RunEvent::ToolCallStarted { arguments, .. } = &mut event
        && let Some(map) = arguments.as_object_mut()
    {
        for value in map.values_mut() {
            if let Value::String(text) = value
                && text.chars().count() > SHOWN_CHARS
            {
                let cut: String = text.chars().take(SHOWN_CHARS).collect();
                *value = Value::String(format!("{cut}… ({} chars)", text.chars().count()));
            }
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_string_arguments_are_cut_for_display_only() {
        let long = "x".repeat(100);
        let event = RunEvent::ToolCallStarted {
            call_id: "c".into(),
            name: "text_stats".into(),
            arguments: serde_json::json!({ "text": long, "max": 3 }),
            attempt: 1,
        };
        let RunEvent::ToolCallStarted { arguments, .. } = shorten(&event) else {
            panic!("wrong variant");
        };
        let shown = arguments["text"].as_str().unwrap_or_default();
        assert!(shown.ends_with("… (100 chars)"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'x').count(), SHOWN_CHARS);
        assert_eq!(arguments["max"], 3);
    }
}
