//! `warden chat <agent.toml>`: an interactive multi-turn session. Each line read from stdin
//! is one user message; the answer and progress are shown as in `warden run`. The history
//! is kept across turns.
//!
//! Keys: Ctrl-C during a turn cancels that turn and keeps the session (the turn's partial
//! usage is reported); Ctrl-C at the prompt says how to leave; Ctrl-D (end of input) or
//! `/exit` ends the session.
//!
//! stdin is read by a thread of its own (a blocked read must never hold an async worker nor
//! keep the process from exiting), one line at a time, up to [`MAX_LINE`] bytes.
//!
//! Exit codes: 0 after a normal end, 1 if the agent could not start or a turn failed to run.

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tokio::sync::mpsc;
use warden::{RunHandle, Runner};
use warden_core::run::StopReason;

use super::console::Console;
use super::interrupt::interrupts;
use super::otel::Traces;
use super::render::Renderer;

/// Longest message line read from stdin.
const MAX_LINE: u64 = 1 << 20;

/// `warden chat <agent>`
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The agent file (TOML).
    agent: PathBuf,
    /// Do not use the provider's streaming API.
    #[arg(long)]
    no_stream: bool,
    /// Record the conversation as the stored session NAME, and continue it if it exists
    /// (also after a restart, and from `warden run --session NAME`).
    #[arg(long, value_name = "NAME")]
    session: Option<String>,
}

/// What the stdin thread read.
enum Input {
    Line(String),
    End,
    Failed(String),
}

/// The session, traced as one run (one trace, a span per turn) when export is on.
pub async fn run(args: ChatArgs, console: Console) -> ExitCode {
    let mut traces = Traces::start(None);
    let code = session(args, console, &mut traces).await;
    traces.finish().await;
    code
}

async fn session(args: ChatArgs, console: Console, traces: &mut Traces) -> ExitCode {
    let interactive = std::io::stdin().is_terminal();
    let mut view = Renderer::new(console.clone());
    let (runner, agent) = match Runner::from_file(&args.agent).await {
        Ok(built) => built,
        Err(e) => return view.error(&e.to_string()),
    };
    view.checked_answer(agent.config().output_schema.is_some());
    let mut runner =
        (runner.streaming(!args.no_stream)).capture_content(super::otel::capture_content());
    if interactive {
        let console = console.clone();
        runner = runner.with_approver(std::sync::Arc::new(super::approve::TerminalApprover {
            console,
        }));
    }
    if let Some(name) = &args.session {
        if let Err(message) = super::store::check_session(name) {
            return view.error(&message);
        }
        match super::store::open() {
            Ok(store) => runner = runner.with_store(store),
            Err(message) => return view.error(&message),
        }
    }
    let mut session = runner.session(&agent);
    let mut lines = read_lines();
    let mut interrupts = interrupts();
    if interactive {
        console.err_line("Type a message and press Enter; Ctrl-C stops a turn, Ctrl-D leaves.");
    }
    loop {
        if interactive {
            console.prompt("you> ");
        }
        let input = tokio::select! {
            input = lines.recv() => input.unwrap_or(Input::End),
            Some(()) = interrupts.recv() => {
                console.err_line("");
                console.err_line("(no turn is running: Ctrl-D or /exit leaves the chat)");
                continue;
            }
        };
        let message = match input {
            Input::Line(line) => line,
            Input::End => {
                if interactive {
                    console.err_line("");
                }
                return ExitCode::SUCCESS;
            }
            Input::Failed(why) => return view.error(&why),
        };
        let message = message.trim();
        if message.is_empty() {
            continue;
        }
        if message == "/exit" || message == "/quit" {
            return ExitCode::SUCCESS;
        }
        let handle = RunHandle::new();
        let result = {
            let on_event = |event: warden::RunEvent| {
                // One time for the stored record, the `--json` line and the trace (see
                // `at_event_time`).
                warden_core::events::at_event_time(|| {
                    traces.observe(&event);
                    view.event(&event);
                });
            };
            let turn = async {
                match &args.session {
                    Some(name) => (runner.run_session(&agent, name, message, &handle, on_event))
                        .await
                        .and_then(|recorded| {
                            let run_id = recorded.run_id;
                            let paused = warden::DurableError::Paused { run_id };
                            recorded.result.ok_or(warden::RunError::Durable(paused))
                        }),
                    None => session.send(message, &handle, on_event).await,
                }
            };
            tokio::pin!(turn);
            loop {
                tokio::select! {
                    result = &mut turn => break result,
                    Some(()) = interrupts.recv() => {
                        handle.cancel();
                        console.stop_spinner();
                    }
                }
            }
        };
        match result {
            // A stopped turn (budget, model error, Ctrl-C) is reported; the session goes on.
            Ok(result) => {
                let _ = view.finish(&result);
                if matches!(result.stop_reason, StopReason::Cancelled { .. }) {
                    console.err_line("turn cancelled; the session goes on");
                }
            }
            Err(e) => return view.error(&e.to_string()),
        }
    }
}

/// Lines of stdin, read on a thread of its own (not the blocking pool, whose threads the
/// runtime waits for on shutdown).
fn read_lines() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(1);
    let spawned = std::thread::Builder::new()
        .name("warden-stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            loop {
                let mut line = Vec::new();
                let read = stdin.lock().take(MAX_LINE + 1).read_until(b'\n', &mut line);
                let input = match read {
                    Ok(0) => Input::End,
                    Ok(_) if line.len() as u64 > MAX_LINE && !line.ends_with(b"\n") => {
                        Input::Failed(format!(
                            "an input line is over {} MiB; send shorter messages",
                            MAX_LINE >> 20
                        ))
                    }
                    Ok(_) => match String::from_utf8(line) {
                        Ok(text) => Input::Line(text),
                        Err(_) => Input::Failed("an input line is not UTF-8".into()),
                    },
                    Err(e) => Input::Failed(format!("cannot read the input: {e}")),
                };
                let last = !matches!(input, Input::Line(_));
                if tx.blocking_send(input).is_err() || last {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.try_send(Input::Failed(format!("cannot start the input reader: {e}")));
        return rx;
    }
    rx
}
