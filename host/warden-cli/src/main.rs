//! The `warden` command line. Subcommands live in `cli/`, one file each.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc for the CLI: small allocations, of which a model call makes many, cost less
/// than with glibc's allocator (BENCHMARKS.md, "Agent loop").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // In a compiler child this compiles one component and exits; otherwise it lets the
    // executor compile in such a child of this binary, under the compile limits.
    warden_sandbox::run_compiler_child_if_requested();
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
    // The command runs as a task on a runtime worker, not on this thread: a response that a
    // worker reads then wakes the run on that worker, instead of crossing to a thread parked
    // in `block_on` and back for every model call (BENCHMARKS.md, "The CLI's run on a
    // worker"). Blocking reads in commands (stdin, the terminal) leave the worker first.
    let code = runtime.block_on(async move {
        match tokio::spawn(cli::run(args, console)).await {
            Ok(code) => code,
            // The panic was already reported by the hook; end as an uncaught one does.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels the task, and nothing shuts it down here.
            Err(_) => ExitCode::FAILURE,
        }
    });
    // Host work a tool call started and that outlived it (e.g. a slow filesystem call left on
    // the blocking pool) must not keep the process from exiting; a cache write in flight
    // gets a moment to finish.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}
