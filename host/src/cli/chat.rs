//! `warden chat <agent.toml>`: an interactive multi-turn session. Each line read from stdin
//! is one user message; the answer streams to stdout, tool calls and usage to stderr (as in
//! `warden run`). The history is kept across turns; `/exit` (or end of input) ends the
//! session.
//!
//! Exit codes: 0 after a normal end, 1 if the agent could not start or a turn failed to run.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use warden::runner::{RunHandle, Runner};

use super::run::Renderer;

/// `warden chat <agent>`
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The agent file (TOML).
    agent: PathBuf,
    /// Do not use the provider's streaming API.
    #[arg(long)]
    no_stream: bool,
}

pub async fn run(
    args: ChatArgs,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    let prompt = std::io::stdin().is_terminal();
    let mut view = Renderer::new(out, err, false);
    let (runner, agent) = match Runner::from_file(&args.agent).await {
        Ok(built) => built,
        Err(e) => return view.setup_error(&e),
    };
    view.stream_text(agent.config().output_schema.is_none());
    let mut session = runner.streaming(!args.no_stream).session(&agent);
    let mut line = String::new();
    loop {
        if prompt {
            eprint!("you> ");
            let _ = std::io::stderr().flush();
        }
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) => {}
            Err(e) => return view.error(&format!("cannot read the input: {e}")),
        }
        let message = line.trim();
        if message.is_empty() {
            continue;
        }
        if message == "/exit" || message == "/quit" {
            return ExitCode::SUCCESS;
        }
        let handle = RunHandle::new();
        let result = session
            .send(message, &handle, |event| view.event(&event))
            .await;
        match result {
            // A stopped turn (budget, model error) is reported; the session goes on.
            Ok(result) => {
                view.finish(&result);
            }
            Err(e) => return view.error(&e.to_string()),
        }
    }
}
