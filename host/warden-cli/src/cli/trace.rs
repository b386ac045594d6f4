//! `warden trace <run | events.jsonl>`: a run's events drawn as a tree: the run, its model
//! calls, the tool calls each asked for, with timings, tokens, cost (when a price is known)
//! and errors. The events come from the run store (a run id, a unique prefix, or `last`), or
//! from a file `warden run --json` wrote (`-` reads stdin). An existing file wins over a run
//! id of the same name.
//!
//! Exit codes: 0 when the tree was printed, 1 when the events could not be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use warden_core::events::EventRecord;

use super::console::Console;
use warden_core::report::error_chain;

/// `warden trace <events>`
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// A recorded run (its id, a unique prefix, or `last`), or an events file
    /// (`warden run --json > events.jsonl`); `-` reads stdin.
    events: PathBuf,
}

pub async fn run(args: TraceArgs, console: Console) -> ExitCode {
    let from_file = args.events.as_os_str() == "-" || args.events.exists();
    let records = if from_file {
        from_events_file(args.events).await
    } else {
        from_store(&args.events.to_string_lossy()).await
    };
    let records = match records {
        Ok(records) => records,
        Err(message) => return fail(&console, &message),
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

/// The stored events of a recorded run.
async fn from_store(id: &str) -> Result<Vec<EventRecord>, String> {
    let store = super::store::open()?;
    let run_id = store.resolve(id).await.map_err(|e| {
        format!("{e} (`warden trace` takes a recorded run's id, `last`, or an events file)")
    })?;
    store.events(&run_id).await.map_err(|e| e.to_string())
}

/// The events of a `--json` stream in a file, or on stdin for `-`.
async fn from_events_file(events: PathBuf) -> Result<Vec<EventRecord>, String> {
    let read = tokio::task::spawn_blocking(move || {
        if events.as_os_str() == "-" {
            warden_trace::read_events(std::io::stdin().lock())
        } else {
            warden_trace::read_events_file(&events)
        }
    })
    .await;
    match read {
        Ok(Ok(records)) => Ok(records),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(e) => Err(format!("cannot read the events: {e}")),
    }
}

fn fail(console: &Console, message: &str) -> ExitCode {
    console.err_line(&format!("error: {message}"));
    ExitCode::FAILURE
}
