//! The `warden` command line. Subcommands live in `cli/`, one file each.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // One console for the whole process: no stream is locked beyond a single write, so the
    // spinner's thread and every line share stdout and stderr without waiting on each other.
    let console = cli::Console::stdio(cli::Style::detect());
    cli::init_logging(&console, args.json_events());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            console.err_line(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(cli::run(args, console));
    // Blocking work left behind (a stdin read, a tool's stuck host call) must not hold the
    // process: the answer is out, so do not wait for it.
    runtime.shutdown_background();
    code
}
