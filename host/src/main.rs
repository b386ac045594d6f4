//! The `warden` command line. Subcommands live in `cli/`, one file each.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let code = runtime.block_on(cli::run(args, &mut stdout, &mut stderr));
    // Host work a tool call started and that outlived it (e.g. a slow filesystem call left on
    // the blocking pool) must not keep the process from exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}
