//! The mock LLM server as a program: prints its address, then serves until killed.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use mock_llm::{Behaviour, Fault, MockConfig, MockServer};

/// A mock LLM server speaking the OpenAI and Anthropic wire formats.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Key clients must send; without it any key is accepted.
    #[arg(long, env = "MOCK_LLM_KEY")]
    key: Option<String>,
    /// A JSON behaviour file, e.g. {"kind":"script","turns":[{"text":"hi"}]}.
    #[arg(long, conflicts_with = "tool_loop")]
    script: Option<std::path::PathBuf>,
    /// Call a tool K times then answer: NAME:K[:ANSWER] (arguments are {}).
    #[arg(long)]
    tool_loop: Option<String>,
    /// Faults served to the first requests, in order (e.g. status:429:retry-after=1).
    #[arg(long)]
    fault: Vec<Fault>,
    /// Worker threads (1 keeps it on one core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn behaviour(args: &Args) -> anyhow::Result<Behaviour> {
    if let Some(path) = &args.script {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not a behaviour (see --help)", path.display()));
    }
    if let Some(spec) = &args.tool_loop {
        let mut parts = spec.splitn(3, ':');
        let tool = parts.next().unwrap_or_default().to_string();
        let times = parts
            .next()
            .context("--tool-loop wants NAME:K[:ANSWER]")?
            .parse()
            .context("K must be a number")?;
        let answer = parts.next().unwrap_or("done").to_string();
        return Ok(Behaviour::ToolLoop {
            tool,
            arguments: "{}".into(),
            times,
            answer,
        });
    }
    Ok(Behaviour::Echo)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = MockConfig {
        behaviour: behaviour(&args)?,
        api_key: args.key.clone(),
        record_requests: false,
        faults: args.fault.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mock = MockServer::start_on(args.listen, config)
            .await
            .context("binding the listen address")?;
        println!("mock-llm listening on {}", mock.base_url());
        println!("  OpenAI base URL:    {}", mock.openai_base_url());
        println!("  Anthropic base URL: {}", mock.base_url());
        tokio::signal::ctrl_c().await?;
        anyhow::Ok(())
    })
}
