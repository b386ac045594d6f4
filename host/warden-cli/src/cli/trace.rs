//! `warden trace <events.jsonl>`: a run's events (as `warden run --json` writes them) drawn
//! as a tree: the run, its model calls, the tool calls each asked for, with timings, tokens,
//! cost (when a price is known) and errors. `-` reads the events from stdin.
//!
//! Exit codes: 0 when the tree was printed, 1 when the events could not be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::console::Console;
use super::otel::error_chain;

/// `warden trace <events>`
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The events file (`warden run --json > events.jsonl`); `-` reads stdin.
    events: PathBuf,
}

pub async fn run(args: TraceArgs, console: Console) -> ExitCode {
    let read = tokio::task::spawn_blocking(move || {
        if args.events.as_os_str() == "-" {
            warden_trace::read_events(std::io::stdin().lock())
        } else {
            warden_trace::read_events_file(&args.events)
        }
    })
    .await;
    let records = match read {
        Ok(Ok(records)) => records,
        Ok(Err(e)) => return fail(&console, &error_chain(&e)),
        Err(e) => return fail(&console, &format!("cannot read the events: {e}")),
    };
    if records.is_empty() {
        return fail(
            &console,
            "no warden events in the input; give it the output of `warden run --json`",
        );
    }
    console.out_text(&warden_trace::render_tree(&records));
    ExitCode::SUCCESS
}

fn fail(console: &Console, message: &str) -> ExitCode {
    console.err_line(&format!("error: {message}"));
    ExitCode::FAILURE
}
