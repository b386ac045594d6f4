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
}

impl RunArgs {
    /// Whether the command prints `--json` events.
    pub fn json(&self) -> bool {
        self.json
    }
}

pub async fn run(args: RunArgs, console: Console) -> ExitCode {
    let run_id = args.json.then(|| console.start_json_run());
    let mut view = Renderer::new(console.clone());
    let task = if args.task == "-" {
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
    let runner = runner.streaming(!args.no_stream);
    let handle = RunHandle::new();
    let watcher = tokio::spawn(interrupt_watcher(
        interrupts(),
        handle.clone(),
        console.clone(),
    ));
    let mut traces = Traces::start(run_id);
    let result = runner
        .run_with(&agent, task, &handle, |event| {
            traces.observe(&event);
            view.event(&event);
        })
        .await;
    watcher.abort();
    traces.finish().await;
    match result {
        Ok(result) => view.finish(&result),
        Err(e) => view.error(&e.to_string()),
    }
}

/// The first Ctrl-C cancels the run (its partial result and usage are still reported, exit
/// code 130); a second one ends the process at once.
async fn interrupt_watcher(
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
