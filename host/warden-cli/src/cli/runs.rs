//! `warden runs list | show | resume | prune`: the recorded runs in the run store. `last`
//! names the most recent run wherever an id goes; a unique prefix of an id works too.
//!
//! `show` prints the run's header (id, agent, status, task, session), the tree of its stored
//! events that `warden trace` draws (model calls, the tool calls each asked for, timings,
//! tokens, cost, errors), then the answer; `show --json` prints the stored events as the
//! JSON lines `warden run --json` printed (same fields and timestamps; no text deltas).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use warden::store::{Decision, Retention, Store, StoredRun};
use warden::{RunEvent, RunHandle, Runner};
use warden_core::events::EventRecord;

use super::console::Console;
use super::render::Renderer;

/// `warden runs ...`
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List the recorded runs, most recent first.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show a run step by step (`last` for the most recent).
    Show {
        /// The run's id, a unique prefix of it, or `last`.
        id: String,
        /// Print the run's stored events as JSON lines instead (as `warden run --json`
        /// printed them, timestamps included; text deltas are not stored).
        #[arg(long)]
        json: bool,
    },
    /// Continue an interrupted run from its last checkpoint.
    Resume(ResumeArgs),
    /// Approve the call a paused run waits on, and resume the run.
    Approve(DecideArgs),
    /// Reject the call a paused run waits on (the model is told, with the reason), and
    /// resume the run.
    Reject {
        #[command(flatten)]
        args: DecideArgs,
        /// Why: the model gets it as the call's result.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove finished runs by age and count (running and paused runs are kept).
    Prune {
        /// Remove finished runs last written longer ago than this (e.g. 30d, 12h).
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Always keep this many of the most recent runs.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
    },
}

/// `warden runs approve|reject <id>`
#[derive(Debug, Args)]
pub struct DecideArgs {
    #[command(flatten)]
    resume: ResumeArgs,
}

/// `warden runs resume <id>`
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run's id, a unique prefix of it, or `last`.
    id: String,
    /// The agent file (default: the file the run was started with).
    #[arg(long)]
    agent: Option<PathBuf>,
    /// Resume even though the agent file changed since the run started.
    #[arg(long)]
    accept_agent_change: bool,
}

pub async fn run(cmd: RunsCommand, console: Console) -> ExitCode {
    let mut view = Renderer::new(console.clone());
    let store = match super::store::open() {
        Ok(store) => store,
        Err(message) => return view.error(&message),
    };
    let done = match cmd {
        RunsCommand::List { limit } => list(&*store, limit, &console).await,
        RunsCommand::Show { id, json } => show(&*store, &id, json, &console).await,
        RunsCommand::Prune { older_than, keep } => prune(&*store, older_than, keep, &console).await,
        RunsCommand::Resume(args) => return resume(store, args, None, view, console).await,
        RunsCommand::Approve(args) => {
            return resume(store, args.resume, Some(Decision::Approve), view, console).await;
        }
        RunsCommand::Reject { args, reason } => {
            let decision = Decision::Reject { reason };
            return resume(store, args.resume, Some(decision), view, console).await;
        }
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => view.error(&message),
    }
}

async fn list(store: &dyn Store, limit: usize, console: &Console) -> Result<(), String> {
    let runs = store.list(limit).await.map_err(|e| e.to_string())?;
    if runs.is_empty() {
        console.err_line("no recorded runs");
    }
    for run in runs {
        let when = time(run.updated_ms);
        let outcome = run
            .outcome
            .unwrap_or_else(|| run.status.as_str().to_string());
        let session = run.session.map(|s| format!(" [{s}]")).unwrap_or_default();
        console.out_text(&format!(
            "{}  {when}  {:<8}  {}{session}  {} steps  {}  {}\n",
            &run.run_id[..run.run_id.len().min(12)],
            run.status.as_str(),
            run.agent,
            run.steps,
            outcome,
            one_line(&run.input, 60),
        ));
    }
    Ok(())
}

async fn show(store: &dyn Store, id: &str, json: bool, console: &Console) -> Result<(), String> {
    let id = store.resolve(id).await.map_err(|e| e.to_string())?;
    let run = store.load(&id).await.map_err(|e| e.to_string())?;
    let events = store.events(&id).await.map_err(|e| e.to_string())?;
    if json {
        for record in &events {
            let line = serde_json::to_string(record).map_err(|e| e.to_string())?;
            console.out_text(&format!("{line}\n"));
        }
        return Ok(());
    }
    for line in render(&run, &events) {
        console.out_text(&format!("{line}\n"));
    }
    Ok(())
}

/// The lines of `show`.
fn render(run: &StoredRun, events: &[EventRecord]) -> Vec<String> {
    let s = &run.summary;
    let mut lines = vec![
        format!("run {}  agent {}  {}", s.run_id, s.agent, s.status.as_str()),
        format!("task: {}", one_line(&s.input, 200)),
    ];
    if let Some(session) = &s.session {
        lines.push(format!("session: {session}"));
    }
    if events.is_empty() {
        lines.push("(no events recorded)".into());
    } else {
        lines.extend(warden_trace::render_tree(events).lines().map(str::to_owned));
    }
    // How the run ended, in words: a budget or a handoff loop stopped by its limit shows
    // here, not only in the exit code of the process that ran it.
    let stopped = events.iter().rev().find_map(|record| match &record.event {
        RunEvent::RunFinished { stop_reason, .. } => Some(stop_reason.describe()),
        _ => None,
    });
    if let Some(stopped) = stopped {
        lines.push(format!("stopped: {stopped}"));
    }
    let answer = events.iter().rev().find_map(|record| match &record.event {
        RunEvent::RunFinished {
            output: Some(output),
            ..
        } => Some(output.text.clone()),
        _ => None,
    });
    if let Some(answer) = answer {
        lines.push(format!("answer: {}", one_line(&answer, 400)));
    }
    lines
}

async fn prune(
    store: &dyn Store,
    older_than: Option<String>,
    keep: Option<usize>,
    console: &Console,
) -> Result<(), String> {
    if older_than.is_none() && keep.is_none() {
        return Err("say what to remove: --older-than AGE, --keep N, or both".into());
    }
    let older_than = match older_than {
        Some(age) => Some(
            humantime::parse_duration(&age)
                .map_err(|e| format!("--older-than `{age}`: {e} (e.g. 30d, 12h)"))?,
        ),
        None => None,
    };
    let removed = (store.prune(Retention { older_than, keep }).await).map_err(|e| e.to_string())?;
    console.err_line(&format!("removed {removed} run(s)"));
    Ok(())
}

/// Resumes a run, recording `decision` on it first (refused unless it is paused).
async fn resume(
    store: Arc<dyn Store>,
    args: ResumeArgs,
    decision: Option<Decision>,
    mut view: Renderer,
    console: Console,
) -> ExitCode {
    let loaded = async {
        let id = store.resolve(&args.id).await.map_err(|e| e.to_string())?;
        if let Some(decision) = decision {
            store
                .decide(&id, decision)
                .await
                .map_err(|e| e.to_string())?;
        }
        let run = store.load(&id).await.map_err(|e| e.to_string())?;
        let file = match (args.agent.clone(), run.checkpoint.agent.file.clone()) {
            (Some(path), _) => path,
            (None, Some(path)) => PathBuf::from(path),
            (None, None) => {
                return Err(format!(
                    "run {id} has no agent file recorded: pass --agent FILE"
                ));
            }
        };
        Ok((id, file))
    };
    let (id, file) = match loaded.await {
        Ok(found) => found,
        Err(message) => return view.error(&message),
    };
    let (runner, agent) = match Runner::from_file(&file).await {
        Ok(built) => built,
        Err(e) => return view.error(&e.to_string()),
    };
    view.checked_answer(agent.config().output_schema.is_some());
    let options = warden::ResumeOptions {
        accept_agent_change: args.accept_agent_change,
    };
    let runner = runner.with_store(store);
    let handle = RunHandle::new();
    let watcher = tokio::spawn(super::run::interrupt_watcher(
        super::interrupt::interrupts(),
        handle.clone(),
        console.clone(),
    ));
    let result = runner
        .resume(&agent, &id, &options, &handle, |event| view.event(&event))
        .await;
    watcher.abort();
    match result {
        Ok(recorded) => super::approve::report(&mut view, &console, recorded),
        Err(e) => view.error(&e.to_string()),
    }
}

/// `ms` since the epoch as RFC 3339 seconds.
fn time(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `text` on one line, cut to `chars` characters.
fn one_line(text: &str, chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}
