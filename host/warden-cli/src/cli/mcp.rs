//! `warden mcp serve`: warden's sandboxed tools for any MCP client, over stdio (the default)
//! or Streamable HTTP (`--http ADDR`, loopback unless `--allow-remote` with a bearer token).
//! The tools and every limit and grant come from the command line and the policy file —
//! or, for an installed pack (`--pack name@req`), from the operator's grant made at install,
//! re-verified at start (signature, every component digest); nothing a client sends changes
//! them, and the policy flags do not reach a pack's tools (they cannot widen its grant).
//! `--narrow PACK=FILE` takes away from a pack's grant for this server (as an agent file's
//! `narrow` does); a narrowing that would widen it stops the server before it serves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;
use warden_mcp::http::HttpOptions;
use warden_mcp::{McpServer, ServedComponent};
use warden_pack::Narrowing;
use warden_sandbox::{EngineConfig, Executor, ToolPolicy};

use super::flags::PolicyFlags;

/// How to register warden in an MCP client, shown by `warden mcp serve --help`.
const REGISTER: &str = "\
Register warden in an MCP client (Claude Desktop's claude_desktop_config.json, an IDE's
mcp.json, ...):

  {
    \"mcpServers\": {
      \"warden\": {
        \"command\": \"warden\",
        \"args\": [\"mcp\", \"serve\", \"builtin:calc\", \"builtin:text\",
                 \"--policy\", \"/path/to/policy.toml\"]
      }
    }
  }

An installed tool pack is served with its operator's grant: `--pack weather@^1` (see `warden
pack install`); --policy and the limit flags apply to the loose components only. To serve it
with less, `--narrow weather=narrow.toml`, where narrow.toml holds the keys of an agent file's
`narrow` table, e.g. `hosts = [\"api.example.com\"]`, `dirs = []`, `read_only = [\"data\"]`,
`fuel = 1000000`, `timeout = \"2s\"`.

Over HTTP: `warden mcp serve builtin:calc --http 127.0.0.1:8931`, then point the client at
http://127.0.0.1:8931/mcp. Binding beyond loopback needs --allow-remote and a bearer token in
WARDEN_MCP_TOKEN (clients send `Authorization: Bearer <token>`).";

/// `warden mcp ...`
#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve tools to MCP clients (stdio by default).
    #[command(after_help = REGISTER)]
    Serve(Box<ServeArgs>),
}

/// `warden mcp serve [components] [--pack name@req]... [--http ADDR] [policy flags]`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Components to serve: .wasm files (warden:tool or plain typed WIT components) or
    /// `builtin:<name>` (calc, text, fs, http). Default (no components and no --pack): every
    /// built-in component.
    components: Vec<PathBuf>,
    /// An installed tool pack to serve, `name` or `name@<semver req>` (e.g. `weather@^1`),
    /// under the grant made when it was installed. Repeatable.
    #[arg(long = "pack", value_name = "NAME[@REQ]")]
    packs: Vec<String>,
    /// Serve pack NAME with less than its grant: FILE is TOML with the keys of an agent
    /// file's `narrow` table (dirs, read_only, hosts, env, config, fuel, timeout, memory,
    /// output). It can only take away; anything the grant lacks, or a limit above its
    /// maximum, is refused. Repeatable (one per pack).
    #[arg(long = "narrow", value_name = "NAME=FILE", requires = "packs")]
    narrow: Vec<String>,
    /// Serve Streamable HTTP at ADDR (e.g. 127.0.0.1:8931) on /mcp instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Allow --http to bind a non-loopback address (also needs WARDEN_MCP_TOKEN).
    #[arg(long, requires = "http")]
    allow_remote: bool,
    /// Most tool calls running at once (further calls queue).
    #[arg(long, default_value_t = 16)]
    max_concurrent_calls: u32,
    #[command(flatten)]
    policy: PolicyFlags,
}

/// Runs an `mcp` command until the client disconnects (stdio) or Ctrl-C (HTTP).
pub async fn run(cmd: McpCommand, console: super::Console) -> ExitCode {
    let McpCommand::Serve(args) = cmd;
    match serve(*args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut err = console.err_writer();
            let _ = writeln!(err, "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

use std::io::Write as _;

async fn serve(args: ServeArgs) -> Result<()> {
    let executor = Executor::new(EngineConfig {
        max_concurrent_calls: args.max_concurrent_calls.max(1),
        ..EngineConfig::default()
    })?;
    let names: Vec<PathBuf> = if args.components.is_empty() && args.packs.is_empty() {
        warden::builtin::names()
            .map(|n| PathBuf::from(format!("{}{n}", warden::builtin::SCHEME)))
            .collect()
    } else {
        args.components.clone()
    };
    let mut components = Vec::new();
    for name in &names {
        // Compiled (or loaded from the cache) here, never inside a client's call.
        let set = warden::builtin::load(&executor, name)
            .await
            .with_context(|| format!("loading {}", name.display()))?;
        components.push(ServedComponent {
            label: name.display().to_string(),
            set,
        });
    }
    let narrowings = narrowings(&args.narrow, &args.packs)?;
    let granted = load_packs(&executor, &args.packs, &narrowings, &mut components).await?;
    let server = McpServer::new(executor, components, |tool| match granted.get(tool) {
        Some(policy) => Ok(policy.clone()),
        None => args.policy.resolve(tool),
    })?;
    let Some(addr) = args.http else {
        server.serve_stdio().await?;
        return Ok(());
    };
    let options = HttpOptions {
        bearer_token: std::env::var("WARDEN_MCP_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        allow_remote: args.allow_remote,
    };
    warden_mcp::http::check_bind(addr, &options)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    // The address goes to stderr: stdout stays free for machine use.
    eprintln!("warden: serving MCP on http://{local}/mcp");
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    warden_mcp::http::serve(server, listener, options, stop).await?;
    Ok(())
}

/// The pack name of a `--pack` spec (`weather@^1` -> `weather`).
fn pack_name(spec: &str) -> &str {
    spec.split_once('@').map_or(spec, |(name, _)| name)
}

/// The `--narrow NAME=FILE` flags, read, by pack name; each must name a served pack, once.
fn narrowings(flags: &[String], specs: &[String]) -> Result<HashMap<String, Narrowing>> {
    let mut by_pack = HashMap::new();
    for flag in flags {
        let Some((name, file)) = flag
            .split_once('=')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty())
        else {
            bail!("--narrow {flag:?}: write it as NAME=FILE (e.g. --narrow weather=narrow.toml)");
        };
        if !specs.iter().any(|s| pack_name(s) == name) {
            bail!("--narrow {name}=..: no --pack {name} is served, so there is nothing to narrow");
        }
        let narrowing = Narrowing::read(Path::new(file))?;
        if by_pack.insert(name.to_string(), narrowing).is_some() {
            bail!("--narrow {name}= is given twice; put everything for {name} in one file");
        }
    }
    Ok(by_pack)
}

/// Loads each installed pack in `specs` (re-verified) into `components`; returns every pack
/// tool's policy: its pack's grant, narrowed by its `--narrow` file if it has one (tool-name
/// clashes are refused by the server).
async fn load_packs(
    executor: &Executor,
    specs: &[String],
    narrowings: &HashMap<String, Narrowing>,
    components: &mut Vec<ServedComponent>,
) -> Result<HashMap<String, ToolPolicy>> {
    let mut granted = HashMap::new();
    for spec in specs {
        let (sets, policy) = warden::load_pack(executor, spec, narrowings.get(pack_name(spec)))
            .await
            .with_context(|| format!("loading pack {spec}"))?;
        for set in sets {
            for tool in set.tools() {
                granted.insert(tool.name.clone(), policy.clone());
            }
            components.push(ServedComponent {
                label: format!("pack {spec}"),
                set,
            });
        }
    }
    Ok(granted)
}
