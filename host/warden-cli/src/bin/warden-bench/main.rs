//! `warden-bench`: the agent-loop benchmark against an LLM server at zero latency (the
//! in-repo mock, started in this process, unless `--base-url` points elsewhere). Prints one
//! JSON line:
//! - overhead: one run of 10 model calls, each followed by a sandboxed `calc` call, CPU and
//!   wall ms per model call (median of `--repeats` runs), next to the same requests sent raw
//!   and to one sandboxed `calc` call on its own;
//! - throughput: `--runs` runs of 5 tool calls started at once → runs/s, next to the
//!   server's capacity for the same requests sent raw at the same concurrency → ratio;
//! - memory, in a child process without the mock: RSS after start-up, and the marginal RSS
//!   per in-flight run (runs held at the server by a latency fault);
//! - start-up: this binary spawned as a child, from spawn to the server seeing its first
//!   request, with the tool component already in the cache.
//!
//! Any OpenAI- or Anthropic-compatible server that answers every request with a `calc` call
//! will do: the runs' lengths come from the agents' turn budgets, and every run is checked
//! (see `runs`). The in-repo mock's admin routes are used where offered; the figures that
//! need them (memory per in-flight run, start-up) are `null` without them.
//!
//! Invariant: only loopback or the given base URL is contacted; every figure is measured in
//! this process run, side by side with its reference; a figure not measured is `null`.

mod child;
mod durability;
mod measure;
mod multi;
mod runs;
mod sequential;
mod server;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use mock_llm::{MockConfig, MockServer};
use serde_json::{Value, json};
use warden::{Agent, Runner};
use warden_core::budget::{Budget, OnExhaustion};
use warden_core::controller::LoopConfig;
use warden_llm::Model;
use warden_sandbox::{EngineConfig, Executor, ToolPolicy};

use child::{Held, held_rss, startup};
use measure::{median, ms, r3, r3o, rss_bytes};
use runs::{calc_forever, check_run, marginal_kib, minus, ratio, server_requirement};
use sequential::Side;
use server::{Format, Server, provider, raw_request};

/// Agent-loop benchmark; prints one JSON line.
#[derive(Debug, Parser)]
struct Args {
    /// Base URL of a compatible server (default: start the in-repo mock in this process).
    #[arg(long)]
    base_url: Option<String>,
    /// Wire format.
    #[arg(long, value_enum, default_value = "openai")]
    format: Format,
    /// Runs measured for the per-call overhead (median).
    #[arg(long, default_value_t = 7)]
    repeats: usize,
    /// Model calls (each followed by its sandboxed call) per run measured for the per-call
    /// overhead: longer runs carry longer histories.
    #[arg(long, default_value_t = LONG as u64, value_parser = clap::value_parser!(u64).range(1..=1000))]
    calls: u64,
    /// Runs started at once for throughput and memory.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Start-up samples (median).
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// Measure only the sequential overhead (the other figures print as `null`).
    #[arg(long)]
    sequential_only: bool,
    /// For a profiler: measure only this side of the sequential overhead, `--repeats`
    /// times (implies --sequential-only).
    #[arg(long, value_enum)]
    profile_side: Option<Side>,
    /// Make the sequential runs (and their references) on the thread blocking on the
    /// runtime instead of in a spawned task on a runtime worker (the default: the `warden`
    /// CLI runs its command so since 2026-12-07; before, it blocked on the run).
    #[arg(long, conflicts_with = "on_worker")]
    on_main_thread: bool,
    /// The default placement, a runtime worker; accepted so that the commands written with it
    /// in BENCHMARKS.md run as they were.
    #[arg(long)]
    on_worker: bool,
    /// Measure only a run with one handoff and one nested agent beside a single-agent run
    /// of as many model calls (see `multi`); prints `{"multi": {...}}`.
    #[arg(long)]
    multi: bool,
    /// Internal: be the start-up child (one run against --base-url, then exit).
    #[arg(long, hide = true)]
    child: bool,
    /// Speak HTTP/2 with prior knowledge (h2c) to the server, warden and the raw reference
    /// alike: concurrent runs share one connection, as with a provider negotiating HTTP/2.
    #[arg(long)]
    http2: bool,
    /// Measure what recording runs costs instead (see `durability`): the loop with
    /// durability off, on with `synchronous=NORMAL` and `FULL`, and with OTLP export.
    #[arg(long)]
    durability: bool,
    /// Internal, with --child: print the RSS after start-up, then hold this many runs at once.
    #[arg(long, hide = true)]
    hold: Option<usize>,
}

/// Tool calls of a run measured for the overhead, and of a throughput run.
const LONG: usize = 10;
const SHORT: usize = 5;

/// mimalloc, as in the `warden` binary: small allocations, of which a model call makes many,
/// cost less than with glibc's allocator (BENCHMARKS.md, "Agent loop").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // Compile tool components in a child of this binary, under the compile limits.
    warden_sandbox::run_compiler_child_if_requested();
    let args = Args::parse();
    // reqwest is built without a default TLS provider; the raw client needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.child {
        return runtime.block_on(child(&args));
    }
    if args.multi {
        let executor = Executor::new(EngineConfig::default())?;
        let figures = runtime.block_on(multi::measure(&executor, args.format, args.repeats))?;
        println!("{}", json!({ "multi": figures }));
        return Ok(());
    }
    let line = runtime.block_on(bench(&args))?;
    println!("{line}");
    Ok(())
}

/// An agent with `calc` whose runs end after `times` turns (the turn budget): `times` model
/// calls, each followed by its sandboxed `calc` call when the server calls it every turn.
async fn agent(executor: &Executor, format: Format, times: usize) -> anyhow::Result<Agent> {
    let set = executor
        .load_file(warden::testing::guests::CALC)
        .await
        .context("loading the calc component")?;
    let mut config = LoopConfig::new(format.model());
    config.budget = Budget {
        max_turns: Some(u32::try_from(times)?),
        on_exhaustion: OnExhaustion::Error,
        ..Budget::default()
    };
    Ok(Agent::new(config).with_tools(set, ToolPolicy::default())?)
}

fn runner(executor: &Executor, args: &Args, base_url: &str) -> anyhow::Result<Runner> {
    let mut config = provider(args.format, base_url);
    config.http2_prior_knowledge = args.http2;
    let model: Arc<dyn Model> = warden_llm::connect(&config)?;
    Ok(Runner::new(model, executor.clone()))
}

/// The start-up child: engine, cached component, model, one run.
async fn child(args: &Args) -> anyhow::Result<()> {
    let base_url = args
        .base_url
        .clone()
        .context("the child needs --base-url")?;
    let executor = Executor::new(EngineConfig::default())?;
    let agent = agent(&executor, args.format, SHORT).await?;
    let runner = runner(&executor, args, &base_url)?;
    let Some(n) = args.hold else {
        runner.run(&agent, "go").await?;
        return Ok(());
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        match rss_bytes() {
            Some(rss) => writeln!(out, "{rss}")?,
            None => writeln!(out, "-")?,
        }
        out.flush()?;
    }
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (runner, agent) = (runner.clone(), agent.clone());
        set.spawn(async move { runner.run(&agent, "go").await });
    }
    while let Some(joined) = set.join_next().await {
        joined??;
    }
    Ok(())
}

async fn bench(args: &Args) -> anyhow::Result<Value> {
    let started = Instant::now();
    let server = Arc::new(Server::start(args.base_url.clone()).await?);
    let base_url = server.base_url(args.format);
    // The server calls `calc` on every turn where it can be told to; where it cannot, it
    // must do so on its own. Either way the agents' turn budgets decide the runs' lengths,
    // and every run measured is checked.
    let behaviour_set = server.set_behaviour(&calc_forever()).await;
    let requirement = || server_requirement(&base_url);
    let executor = Executor::new(EngineConfig::default())?;
    if args.durability {
        let mut agents = Vec::new();
        for calls in [LONG, 100] {
            agents.push((calls, agent(&executor, args.format, calls).await?));
        }
        let setup = durability::Setup {
            runner: &runner(&executor, args, &base_url)?,
            agents: &agents,
            repeats: args.repeats,
        };
        let figures = durability::measure(&setup)
            .await
            .with_context(requirement)?;
        return Ok(json!({
            "format": args.format.as_str(),
            "server": if args.base_url.is_some() { base_url.as_str() } else { "in-process mock" },
            "durability": figures,
        }));
    }
    let short = agent(&executor, args.format, SHORT).await?;
    let calls = usize::try_from(args.calls)?;
    let long = agent(&executor, args.format, calls).await?;
    let runner = runner(&executor, args, &base_url)?;
    let startup_ms_in_process = ms(started.elapsed());

    // The exact requests of the runs measured, for the raw reference figures: a `--calls`
    // run's for the overhead (its later requests carry longer histories, which cost the
    // server more too), a 5-call run's for throughput.
    let long_bodies = capture(&executor, args, calls).await?;
    let bodies = capture(&executor, args, SHORT).await?;
    let client = if args.http2 {
        reqwest::Client::builder().http2_prior_knowledge().build()?
    } else {
        reqwest::Client::new()
    };

    // (a) Overhead per model call, each followed by its sandboxed call.
    let tools = executor
        .load_file(warden::testing::guests::CALC)
        .await
        .context("loading the calc component")?;
    let seq = if !args.on_main_thread {
        let owned = sequential::Owned {
            runner: runner.clone(),
            agent: long.clone(),
            calls,
            client: client.clone(),
            format: args.format,
            base_url: base_url.clone(),
            bodies: long_bodies.clone(),
            executor: executor.clone(),
            tools: tools.clone(),
            requirement: requirement(),
        };
        sequential::measure_on_worker(owned, args.repeats, args.profile_side).await?
    } else {
        let setup = sequential::Setup {
            runner: &runner,
            agent: &long,
            calls,
            client: &client,
            format: args.format,
            base_url: &base_url,
            bodies: &long_bodies,
            executor: &executor,
            tools: &tools,
            requirement: &requirement,
        };
        sequential::measure(&setup, args.repeats, args.profile_side).await?
    };
    let sequential_only = args.sequential_only || args.profile_side.is_some();

    // (c) Memory, in a child process of its own (the in-process mock would count too): its
    // RSS after start-up, and the marginal RSS per in-flight run between holding a quarter
    // of the runs and all of them (one-off growth, such as allocator arenas, cancels out).
    let quarter = (args.runs / 4).max(1);
    let skipped = Held {
        start: None,
        held: None,
        why: Some("--sequential-only"),
    };
    let few = if sequential_only {
        skipped
    } else {
        held_rss(&server, args, &base_url, quarter).await?
    };
    let all = if few.held.is_some() {
        held_rss(&server, args, &base_url, args.runs).await?
    } else {
        Held {
            start: None,
            held: None,
            why: few.why,
        }
    };
    let per_run_kib = marginal_kib(few.held, all.held, quarter, args.runs);

    // (b) Throughput, warden and raw rounds alternating; the first of each is a warm-up.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let rounds = if sequential_only { 0 } else { 4 };
    for round in 0..rounds {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..args.runs {
            let (runner, agent) = (runner.clone(), short.clone());
            set.spawn(async move { runner.run(&agent, "go").await });
        }
        while let Some(joined) = set.join_next().await {
            check_run(&joined??, SHORT).with_context(requirement)?;
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let raw = raw_round(&client, args.format, &base_url, &bodies, args.runs).await?;
        if round > 0 {
            ours.push(args.runs as f64 / elapsed);
            theirs.push(args.runs as f64 / raw);
        }
    }
    let (ours, theirs) = (median(ours), median(theirs));

    // (d) Start-up of a child process with the component cached (first spawn is a warm-up).
    let startup = if sequential_only {
        None
    } else {
        startup(&server, args, &base_url).await?
    };

    let mib = |b: Option<u64>| b.map(|b| r3(b as f64 / f64::from(1 << 20)));
    Ok(json!({
        "format": args.format.as_str(),
        "http": if args.http2 { "HTTP/2 (h2c)" } else { "HTTP/1.1" },
        "server": if args.base_url.is_some() { base_url.as_str() } else { "in-process mock" },
        "server_behaviour_set_by_bench": behaviour_set,
        "sequential_runs_on": if args.on_main_thread { "main thread" } else { "worker" },
        "overhead": {
            "model_calls_per_run": calls,
            "tool_calls_per_run": calls,
            "wall_ms_per_model_call": r3o(seq.wall),
            "cpu_ms_per_model_call": r3o(seq.cpu),
            "raw_wall_ms_per_request": r3o(seq.raw_wall),
            "raw_cpu_ms_per_request": r3o(seq.raw_cpu),
            "net_wall_ms_per_model_call": r3o(minus(seq.wall, seq.raw_wall)),
            "net_cpu_ms_per_model_call": r3o(minus(seq.cpu, seq.raw_cpu)),
            "sandbox_cpu_ms_per_call": r3o(seq.sandbox_cpu),
            "sandbox_wall_ms_per_call": r3o(seq.sandbox_wall),
            // The targets for sequential runs: wall ≤ 1.45 × the raw request's, CPU
            // ≤ 1.5 × (the raw request's + one sandboxed call's); medians of per-repeat ratios.
            "wall_ratio_to_raw": r3o(seq.wall_ratio),
            "cpu_ratio_to_raw_plus_sandbox_call": r3o(seq.cpu_ratio),
            // The floor: each raw request, its answer parsed, then one sandboxed call (no
            // loop of warden's); its ratios are the least warden's can be.
            "floor_wall_ms_per_model_call": r3o(seq.floor_wall),
            "floor_cpu_ms_per_model_call": r3o(seq.floor_cpu),
            "floor_wall_ratio_to_raw": r3o(seq.floor_wall_ratio),
            "floor_cpu_ratio_to_raw_plus_sandbox_call": r3o(seq.floor_cpu_ratio),
        },
        "throughput": {
            "runs": args.runs,
            "model_requests_per_run": SHORT,
            "runs_per_s": r3o(ours),
            "raw_runs_per_s": r3o(theirs),
            "ratio": r3o(ratio(ours, theirs)),
        },
        "memory": {
            "child_rss_start_mib": mib(few.start),
            "child_rss_per_in_flight_run_kib": r3o(per_run_kib),
            "runs_held": [quarter, args.runs],
            "not_measured": if per_run_kib.is_none() { all.why.or(few.why) } else { None },
        },
        "startup": {
            "child_ms_median": r3o(startup),
            "in_process_setup_ms": r3(startup_ms_in_process),
        },
        "targets": {
            "net_cpu_ms_per_model_call_max": 0.25,
            "wall_ratio_to_raw_max": 1.45,
            "cpu_ratio_to_raw_plus_sandbox_call_max": 1.5,
            "throughput_ratio_min": 0.9,
            "rss_start_mib_max": 20,
            "rss_per_in_flight_run_kib_max": 30,
            "startup_ms_max": 30,
        },
    }))
}

/// The request bodies of one `times`-call run, recorded by a second in-process mock.
async fn capture(executor: &Executor, args: &Args, times: usize) -> anyhow::Result<Vec<Value>> {
    let recorder = MockServer::start(MockConfig {
        behaviour: calc_forever(),
        record_requests: true,
        ..MockConfig::default()
    })
    .await?;
    let url = match args.format {
        Format::Openai => recorder.openai_base_url(),
        Format::Anthropic => recorder.base_url(),
    };
    let result = runner(executor, args, &url)?
        .run(&agent(executor, args.format, times).await?, "go")
        .await?;
    check_run(&result, times)?;
    let bodies: Vec<Value> = recorder.requests().into_iter().map(|r| r.body).collect();
    anyhow::ensure!(bodies.len() == times, "recorded {} requests", bodies.len());
    Ok(bodies)
}

/// One raw request; fails unless the server answers with a success status.
pub(crate) async fn send_raw(
    client: &reqwest::Client,
    format: Format,
    base_url: &str,
    body: &Value,
) -> anyhow::Result<()> {
    let response = raw_request(client, format, base_url, body).send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    anyhow::ensure!(
        status.is_success(),
        "raw request failed: {status}: {bytes:?}"
    );
    Ok(())
}

/// [`send_raw`], the answer parsed as JSON (what any loop must do with it).
pub(crate) async fn send_raw_parsed(
    client: &reqwest::Client,
    format: Format,
    base_url: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let response = raw_request(client, format, base_url, body).send().await?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "raw request failed: {status}");
    Ok(response.json().await?)
}

/// `runs` clients at once, each sending `bodies` in turn; seconds taken.
async fn raw_round(
    client: &reqwest::Client,
    format: Format,
    base_url: &str,
    bodies: &[Value],
    runs: usize,
) -> anyhow::Result<f64> {
    let bodies = Arc::new(bodies.to_vec());
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..runs {
        let (client, bodies, base_url) = (client.clone(), bodies.clone(), base_url.to_string());
        set.spawn(async move {
            for body in bodies.iter() {
                send_raw(&client, format, &base_url, body).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = set.join_next().await {
        joined??;
    }
    Ok(t0.elapsed().as_secs_f64())
}
