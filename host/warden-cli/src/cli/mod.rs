//! The `warden` command line: argument types (clap derive) and dispatch. Each subcommand
//! family has its own file exposing a clap `Subcommand`/`Args` type and an async `run`.
//! Every command writes through one [`Console`] (see `console.rs` for why).

mod approve;
mod cargo_wasm;
mod chat;
mod console;
mod demo;
mod flags;
mod interrupt;
mod keys;
mod logging;
mod mcp;
mod otel;
mod pack;
mod pack_build;
mod render;
mod render_multi;
mod replay;
mod run;
mod runs;
mod scaffold;
mod sdk_files;
mod store;
mod tool;
mod tool_wit;
mod trace;
mod tty;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use console::{Console, Style};

/// The exit codes, as `--help` lists them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    answered (or the command succeeded)
  1    error: the agent could not start, the model or a tool failed the run
  2    usage error (bad arguments)
  3    stopped by a budget or the turn limit (after a forced final answer, if one was asked)
  4    paused: a tool call waits for approval (`warden runs approve|reject <id>`)
  130  interrupted by Ctrl-C (the partial summary is still printed)

Environment:
  NO_COLOR           no colour, even on a terminal
  WARDEN_LOG         log filter, e.g. `debug` or `warden=trace` (default `warn`)
  WARDEN_LOG_FORMAT  `json` for JSON log lines on stderr
  WARDEN_CACHE_DIR   where compiled components are cached
  WARDEN_CONFIG_DIR  trusted keys and pack grants (default ~/.config/warden)
  WARDEN_DATA_DIR    the run store (runs.db) and installed packs (default ~/.local/share/warden)
  OTEL_EXPORTER_OTLP_ENDPOINT  send traces of runs there (OTLP/HTTP, e.g. http://127.0.0.1:4318)
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT  `true` records messages in traces";

/// warden: an agent runtime whose tools run in fuel-limited, deadline-enforced WebAssembly
/// components.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and run tool components.
    #[command(subcommand)]
    Tool(tool::ToolCommand),
    /// Run an agent on one task: the answer on stdout, progress on stderr.
    #[command(after_help = EXIT_CODES)]
    Run(run::RunArgs),
    /// Talk with an agent, one message per line (Ctrl-C stops a turn, Ctrl-D leaves).
    #[command(after_help = EXIT_CODES)]
    Chat(chat::ChatArgs),
    /// Run the offline demo: a scripted model, the real sandboxed tools, a summary.
    Demo(demo::DemoArgs),
    /// Show a run's events (a recorded run, or `warden run --json` output) as a tree with
    /// timings and tokens.
    Trace(trace::TraceArgs),
    /// Re-run a recorded run offline (model answers from the record) and report the first
    /// step where it diverges (exit code 1 then).
    Replay(replay::ReplayArgs),
    /// The recorded runs: list, show, resume, prune.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Signing keys for tool packs.
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// The keys whose packs you trust.
    #[command(subcommand)]
    Trust(keys::TrustCommand),
    /// Signed tool packs: sign, verify, install with consent, upgrade, list, remove.
    #[command(subcommand)]
    Pack(pack::PackCommand),
    /// Serve tools to MCP clients (Claude Desktop, IDEs, agent SDKs).
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
}

impl Cli {
    /// Whether the command prints `--json` events (log lines then become events too).
    pub fn json_events(&self) -> bool {
        match &self.command {
            Command::Run(args) => args.json(),
            Command::Demo(args) => args.json(),
            // `tool --json` prints one result object, not events: logs stay on stderr.
            Command::Tool(_)
            | Command::Chat(_)
            | Command::Trace(_)
            | Command::Runs(_)
            | Command::Replay(_)
            | Command::Mcp(_) => false,
            Command::Key(_) | Command::Trust(_) | Command::Pack(_) => false,
        }
    }
}

/// Installs logging on `console` (see `logging.rs`).
pub fn init_logging(console: &Console, json_events: bool) {
    logging::init(console, json_events);
}

/// Runs the parsed command on `console`; returns the exit code.
pub async fn run(cli: Cli, console: Console) -> ExitCode {
    let _echo = tty::ControlEcho::quiet();
    match cli.command {
        Command::Tool(cmd) => tool::run(cmd, console).await,
        Command::Run(args) => run::run(args, console).await,
        Command::Chat(args) => chat::run(args, console).await,
        Command::Demo(args) => demo::run(args, console).await,
        Command::Trace(args) => trace::run(args, console).await,
        Command::Runs(cmd) => runs::run(cmd, console).await,
        Command::Replay(args) => replay::run(args, console).await,
        Command::Key(cmd) => keys::run_key(cmd, console),
        Command::Trust(cmd) => keys::run_trust(cmd, console),
        Command::Pack(cmd) => pack::run(cmd, console).await,
        Command::Mcp(cmd) => mcp::run(cmd, console).await,
    }
}
