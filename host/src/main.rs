//! The `warden` command line. Subcommands live in `cli/`, one file each.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // In a compiler child this compiles one component and exits; otherwise it lets the
    // executor compile in such a child of this binary, under the compile limits.
    warden::executor::run_compiler_child_if_requested();
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
    runtime.block_on(cli::run(args, &mut stdout, &mut stderr))
}
