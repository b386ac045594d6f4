//! The `warden` command line: argument types (clap derive) and dispatch. Each subcommand
//! family has its own file (`tool.rs` today; `run`, `chat` and `demo` later) exposing a clap
//! `Subcommand`/`Args` type and an async `run` that writes to the given streams and returns
//! the exit code, so the commands are testable without spawning a process.

mod chat;
mod demo;
mod flags;
mod run;
mod tool;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// warden: an agent runtime whose tools run in fuel-limited, deadline-enforced WebAssembly
/// components.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and run tool components.
    #[command(subcommand)]
    Tool(tool::ToolCommand),
    /// Run an agent on one task: the answer on stdout, tool calls and usage on stderr.
    Run(run::RunArgs),
    /// Talk with an agent, one message per line (`/exit` to end).
    Chat(chat::ChatArgs),
    /// Run the offline demo: a scripted model, the real sandboxed tools, a summary.
    Demo(demo::DemoArgs),
}

/// Runs the parsed command, writing results to `out` and diagnostics to `err`.
pub async fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    match cli.command {
        Command::Tool(cmd) => tool::run(cmd, out, err).await,
        Command::Run(args) => run::run(args, out, err).await,
        Command::Chat(args) => chat::run(args, &mut std::io::stdin().lock(), out, err).await,
        Command::Demo(args) => demo::run(args, out, err).await,
    }
}

/// Logs to stderr, filtered by `WARDEN_LOG` (e.g. `debug`, `warden=trace`); warnings by default.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
