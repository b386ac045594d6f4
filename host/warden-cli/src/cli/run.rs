//! `warden run <agent.toml> <task>`: runs an agent once (`-` reads the task from stdin).
//! How the output is laid out is [`super::render`]'s; the exit codes are in the crate's
//! `--help` (see [`super::EXIT_CODES`]).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tokio::sync::mpsc;
use warden::{RunHandle, Runner};

use super::console::Console;
use super::interrupt::interrupts;
use super::otel::Traces;
use super::render::Renderer;

/// Largest task read from stdin.
const MAX_STDIN_TASK: u64 = 4 << 20;

/// `warden run <agent> <task>`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent file (TOML).
    agent: PathBuf,
    /// The task for the agent; `-` reads it from stdin (up to 4 MiB).
    task: String,
    /// Print the run's events as JSON lines on stdout (stderr stays empty).
    #[arg(long)]
    json: bool,
    /// Do not use the provider's streaming API (the answer is printed when complete).
    #[arg(long)]
    no_stream: bool,
    #[command(flatten)]
    record: super::store::RecordFlags,
}

impl RunArgs {
    /// Whether the command prints `--json` events.
    pub fn json(&self) -> bool {
        self.json
    }
}

pub async fn run(args: RunArgs, console: Console) -> ExitCode {
    let json_id = args.json.then(|| console.start_json_run());
    let mut view = Renderer::new(console.clone());
    if let Some(name) = &args.record.session
        && let Err(message) = super::store::check_session(name)
    {
        return view.error(&message);
    }
    let stdin_task = args.task == "-";
    let task = if stdin_task {
        let reader = console.clone();
        match tokio::task::spawn_blocking(move || read_task(&reader)).await {
            Ok(Ok(task)) => task,
            Ok(Err(message)) => return view.error(&message),
            Err(e) => return view.error(&format!("cannot read the task from stdin: {e}")),
        }
    } else {
        args.task
    };
    let (runner, agent) = match Runner::from_file(&args.agent).await {
        Ok(built) => built,
        Err(e) => return view.error(&e.to_string()),
    };
    view.checked_answer(agent.config().output_schema.is_some());
    let mut runner =
        (runner.streaming(!args.no_stream)).capture_content(super::otel::capture_content());
    // A person at the terminal decides on approvals as they come; otherwise the run pauses.
    if std::io::stdin().is_terminal() && !args.json && !stdin_task {
        let console = console.clone();
        runner = runner.with_approver(std::sync::Arc::new(super::approve::TerminalApprover {
            console,
        }));
    }
    let handle = RunHandle::new();
    let watcher = tokio::spawn(interrupt_watcher(
        interrupts(),
        handle.clone(),
        console.clone(),
    ));
    // One id for the `--json` stamps, the stored run and the trace (a session's turn is
    // stored under the id the store gives it).
    let run_id = json_id.unwrap_or_else(warden_core::events::new_run_id);
    let mut traces = Traces::start(Some(run_id.clone()));
    let on_event = |event: warden::RunEvent| {
        // One time for the stored record, the `--json` line and the trace (see
        // `at_event_time`).
        warden_core::events::at_event_time(|| {
            traces.observe(&event);
            view.event(&event);
        });
    };
    let result = if args.record.no_record {
        let result = runner.run_with(&agent, task, &handle, on_event).await;
        result
            .map_err(|e| e.to_string())
            .map(|result| warden::Recorded {
                run_id: String::new(),
                result: Some(result),
                paused: None,
            })
    } else {
        match super::store::open() {
            Err(message) => Err(message),
            Ok(store) => {
                let runner = runner.with_store(store);
                let recorded = match &args.record.session {
                    Some(name) => {
                        runner
                            .run_session(&agent, name, task, &handle, on_event)
                            .await
                    }
                    None => (runner.run_recorded_as(&agent, run_id, task, &handle, on_event)).await,
                };
                recorded.map_err(|e| e.to_string())
            }
        }
    };
    watcher.abort();
    traces.finish().await;
    match result {
        Ok(recorded) => super::approve::report(&mut view, &console, recorded),
        Err(e) => view.error(&e),
    }
}

/// The first Ctrl-C cancels the run (its partial result and usage are still reported, exit
/// code 130); a second one ends the process at once.
pub(super) async fn interrupt_watcher(
    mut interrupts: mpsc::Receiver<()>,
    handle: RunHandle,
    console: Console,
) {
    if interrupts.recv().await.is_none() {
        return;
    }
    // Said before cancelling: the run may end (and the process exit) right after.
    console.stop_spinner();
    if !console.json() {
        console.err_line("interrupted: stopping the run (Ctrl-C again to quit at once)");
    }
    handle.cancel();
    if interrupts.recv().await.is_some() {
        super::tty::restore();
        std::process::exit(warden_core::run::EXIT_CANCELLED);
    }
}

/// Reads the whole task from stdin, refusing more than [`MAX_STDIN_TASK`] bytes.
fn read_task(console: &Console) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() && !console.json() {
        console.err_line("reading the task from stdin; end it with Ctrl-D");
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_STDIN_TASK + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the task from stdin: {e}"))?;
    if bytes.len() as u64 > MAX_STDIN_TASK {
        return Err(format!(
            "the task on stdin is over {} MiB; put the material in a file a tool can read",
            MAX_STDIN_TASK >> 20
        ));
    }
    let task = String::from_utf8(bytes).map_err(|e| {
        format!(
            "the task on stdin is not UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    if task.trim().is_empty() {
        return Err("the task on stdin is empty".into());
    }
    Ok(task)
}
