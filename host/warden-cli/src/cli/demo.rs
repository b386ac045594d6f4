//! `warden demo`: the offline demo (see `warden_cli::demo`). The run streams like `warden run`
//! (answer on stdout, tool calls on stderr); the sandbox summary follows on stdout.
//!
//! Exit code 0 when the demo showed what it is meant to (parallel calls, a refusal the model
//! recovered from, a budget stop with a forced answer), 1 otherwise.

use std::process::ExitCode;

use clap::Args;
use serde_json::Value;
use warden_core::events::RunEvent;
use warden_sandbox::{EngineConfig, Executor};

use super::console::Console;
use super::otel::Traces;
use super::render::Renderer;

/// `warden demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the run's events as JSON lines on stdout instead (stderr stays empty).
    #[arg(long)]
    json: bool,
}

impl DemoArgs {
    /// Whether the command prints `--json` events.
    pub fn json(&self) -> bool {
        self.json
    }
}

pub async fn run(args: DemoArgs, console: Console) -> ExitCode {
    let run_id = args.json.then(|| console.start_json_run());
    let mut view = Renderer::new(console.clone());
    let executor = match Executor::new(EngineConfig::default()) {
        Ok(executor) => executor,
        Err(e) => return view.error(&format!("cannot build the wasm engine: {e}")),
    };
    if !args.json {
        console.err_line(&format!(
            "warden demo: a scripted model (offline) drives the real sandboxed tools\ntask: {}\n",
            warden_cli::demo::TASK
        ));
    }
    // The demo runs offline whatever happens: without a usable store it is not recorded.
    let store = match super::store::open() {
        Ok(store) => Some(store),
        Err(message) => {
            if !args.json {
                console.err_line(&format!("note: this demo run is not recorded: {message}"));
            }
            None
        }
    };
    let mut traces = Traces::start(run_id);
    let on_event = |event: &RunEvent| {
        traces.observe(event);
        view.event(&shorten(event));
    };
    let report = warden_cli::demo::run_recorded(&executor, store.clone(), on_event).await;
    traces.finish().await;
    let report = match report {
        Ok(report) => report,
        Err(e) => return view.error(&e.to_string()),
    };
    // The renderer's own exit code says "budget reached"; the demo expects exactly that.
    let _ = view.finish(&report.result);
    let shown = report.max_parallel > 1 && report.recovered() && report.result.forced;
    if !args.json {
        console.out_text(&format!("\n{report}\n"));
    }
    if !shown {
        return view.error(
            "the demo did not show parallel calls, a recovered refusal and a forced answer",
        );
    }
    // The second scene prints for people only: `--json` stays one run's events.
    if args.json {
        return ExitCode::SUCCESS;
    }
    match team_scene(&executor, store, &console).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => view.error(&message),
    }
}

/// The second scene: an agent called as a tool, then a handoff (see
/// `warden_cli::demo::run_team_scene`), shown like any `warden run` of a team: progress on
/// stderr, the answer on stdout. Recorded like the first scene when there is a store, so
/// `warden runs show last` and `warden replay last` show this one.
async fn team_scene(
    executor: &Executor,
    store: Option<std::sync::Arc<dyn warden::store::Store>>,
    console: &Console,
) -> Result<(), String> {
    console.err_line(&format!(
        "\nscene 2: several agents in one run (each with its own scripted model)\ntask: {}\n",
        warden_cli::demo::TEAM_TASK
    ));
    let mut view = Renderer::new(console.clone());
    let (mut handoffs, mut nested_calls) = (0, 0);
    let result = warden_cli::demo::run_team_scene_recorded(executor, store, |event| {
        match event {
            RunEvent::Handoff { .. } => handoffs += 1,
            RunEvent::Nested { event, .. }
                if matches!(**event, RunEvent::ToolCallFinished { ok: true, .. }) =>
            {
                nested_calls += 1
            }
            _ => {}
        }
        view.event(event);
    })
    .await
    .map_err(|e| e.to_string())?;
    let _ = view.finish(&result);
    if handoffs == 1 && nested_calls >= 1 && result.output.is_some() {
        Ok(())
    } else {
        Err("the second scene did not show an agent tool and a handoff".into())
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
            trusted: false,
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
