//! `warden-bench`: the agent-loop benchmark against an LLM server at zero latency (the
//! in-repo mock, started in this process, unless `--base-url` points elsewhere). Prints one
//! JSON line:
//! - overhead: one run of 10 sequential `calc` calls (11 model calls), CPU and wall ms per
//!   model call (median of `--repeats` runs), next to the same requests sent raw;
//! - throughput: `--runs` runs of 5 tool calls started at once → runs/s, next to the
//!   server's capacity for the same requests sent raw at the same concurrency → ratio;
//! - memory, in a child process without the mock: RSS after start-up, and the marginal RSS
//!   per in-flight run (runs held at the server by a latency fault);
//! - start-up: this binary spawned as a child, from spawn to the server seeing its first
//!   request, with the tool component already in the cache.
//!
//! Invariant: only loopback or the given base URL is contacted; every figure is measured in
//! this process run, side by side with its reference.

mod measure;
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use mock_llm::{Behaviour, MockConfig, MockServer};
use serde_json::{Value, json};
use warden::{Agent, Runner};
use warden_core::budget::{Budget, OnExhaustion};
use warden_core::controller::LoopConfig;
use warden_llm::Model;
use warden_sandbox::{EngineConfig, Executor, ToolPolicy};

use measure::{cpu_time, median, ms, r3, rss_bytes, rss_of};
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
    /// Runs started at once for throughput and memory.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Start-up samples (median).
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// Internal: be the start-up child (one run against --base-url, then exit).
    #[arg(long, hide = true)]
    child: bool,
    /// Speak HTTP/2 with prior knowledge (h2c) to the server, warden and the raw reference
    /// alike: concurrent runs share one connection, as with a provider negotiating HTTP/2.
    #[arg(long)]
    http2: bool,
    /// Internal, with --child: print the RSS after start-up, then hold this many runs at once.
    #[arg(long, hide = true)]
    hold: Option<usize>,
}

const ARGS: &str = r#"{"expression":"1+1"}"#;

fn tool_loop(times: usize) -> Behaviour {
    Behaviour::ToolLoop {
        tool: "calc".into(),
        arguments: ARGS.into(),
        times,
        answer: "done".into(),
    }
}

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
    let line = runtime.block_on(bench(&args))?;
    println!("{line}");
    Ok(())
}

/// An agent with `calc`, whose runs stop after `times` tool turns plus the answer (so a
/// server that never stops calling tools still gives runs of the intended length).
async fn agent(executor: &Executor, format: Format, times: usize) -> anyhow::Result<Agent> {
    let set = executor
        .load_file(warden::testing::guests::CALC)
        .await
        .context("loading the calc component")?;
    let mut config = LoopConfig::new(format.model());
    config.budget = Budget {
        max_turns: Some(u32::try_from(times + 1)?),
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
    let agent = agent(&executor, args.format, 5).await?;
    let runner = runner(&executor, args, &base_url)?;
    let Some(n) = args.hold else {
        runner.run(&agent, "go").await?;
        return Ok(());
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", rss_bytes())?;
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
    let executor = Executor::new(EngineConfig::default())?;
    let short = agent(&executor, args.format, 5).await?;
    let long = agent(&executor, args.format, 10).await?;
    let runner = runner(&executor, args, &base_url)?;
    let startup_ms_in_process = ms(started.elapsed());

    // The exact requests of the runs measured, for the raw reference figures: a 10-call
    // run's for the overhead (its later requests carry longer histories, which cost the
    // server more too), a 5-call run's for throughput.
    let long_bodies = capture(&executor, args, 10).await?;
    let bodies = capture(&executor, args, 5).await?;
    let client = if args.http2 {
        reqwest::Client::builder().http2_prior_knowledge().build()?
    } else {
        reqwest::Client::new()
    };

    // (a) Overhead per model call.
    server.set_behaviour(tool_loop(10)).await;
    let (mut cpu, mut wall, mut calls) = (Vec::new(), Vec::new(), 0);
    for i in 0..=args.repeats {
        let (c0, t0) = (cpu_time(), Instant::now());
        let result = runner.run(&long, "go").await?;
        let (c, t) = (cpu_time() - c0, t0.elapsed());
        calls = result.usage.model_calls.max(1);
        if i > 0 {
            cpu.push(ms(c) / f64::from(calls));
            wall.push(ms(t) / f64::from(calls));
        }
    }
    let (mut raw_cpu, mut raw_wall) = (Vec::new(), Vec::new());
    for _ in 0..=args.repeats {
        let (c0, t0) = (cpu_time(), Instant::now());
        for body in long_bodies.iter().cycle().take(calls as usize) {
            send_raw(&client, args.format, &base_url, body).await?;
        }
        raw_cpu.push(ms(cpu_time() - c0) / f64::from(calls));
        raw_wall.push(ms(t0.elapsed()) / f64::from(calls));
    }
    let (cpu, wall) = (median(cpu), median(wall));
    let (raw_cpu, raw_wall) = (median(raw_cpu), median(raw_wall));

    // (c) Memory, in a child process of its own (the in-process mock would count too): its
    // RSS after start-up, and the marginal RSS per in-flight run between holding a quarter
    // of the runs and all of them (one-off growth, such as allocator arenas, cancels out).
    server.set_behaviour(tool_loop(5)).await;
    let quarter = (args.runs / 4).max(1);
    let (rss_start, rss_few) = held_rss(&server, args, &base_url, quarter).await?;
    let (_, rss_all) = held_rss(&server, args, &base_url, args.runs).await?;
    let per_run_kb = rss_all.saturating_sub(rss_few) as f64
        / 1024.0
        / (args.runs.saturating_sub(quarter)).max(1) as f64;

    // (b) Throughput, warden and raw rounds alternating; the first of each is a warm-up.
    let (mut ours, mut theirs, mut requests_per_run) = (Vec::new(), Vec::new(), 0.0);
    for round in 0..4 {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..args.runs {
            let (runner, agent) = (runner.clone(), short.clone());
            set.spawn(async move { runner.run(&agent, "go").await });
        }
        let mut model_calls = 0u64;
        while let Some(joined) = set.join_next().await {
            model_calls += u64::from(joined??.usage.model_calls);
        }
        let elapsed = t0.elapsed().as_secs_f64();
        requests_per_run = model_calls as f64 / args.runs as f64;
        let raw = raw_round(&client, args.format, &base_url, &bodies, args.runs).await?;
        if round > 0 {
            ours.push(args.runs as f64 / elapsed);
            theirs.push(args.runs as f64 / raw);
        }
    }
    let (ours, theirs) = (median(ours), median(theirs));

    // (d) Start-up of a child process with the component cached (first spawn is a warm-up).
    let startup = startup(&server, args, &base_url).await?;

    let mib = |b: u64| r3(b as f64 / f64::from(1 << 20));
    Ok(json!({
        "format": args.format.as_str(),
        "http": if args.http2 { "HTTP/2 (h2c)" } else { "HTTP/1.1" },
        "server": if args.base_url.is_some() { base_url.as_str() } else { "in-process mock" },
        "overhead": {
            "model_calls_per_run": calls,
            "wall_ms_per_model_call": r3(wall),
            "cpu_ms_per_model_call": r3(cpu),
            "raw_wall_ms_per_request": r3(raw_wall),
            "raw_cpu_ms_per_request": r3(raw_cpu),
            "net_wall_ms_per_model_call": r3(wall - raw_wall),
            "net_cpu_ms_per_model_call": r3(cpu - raw_cpu),
        },
        "throughput": {
            "runs": args.runs,
            "model_requests_per_run": r3(requests_per_run),
            "runs_per_s": r3(ours),
            "raw_runs_per_s": r3(theirs),
            "ratio": r3(ours / theirs.max(f64::MIN_POSITIVE)),
        },
        "memory": {
            "child_rss_start_mib": mib(rss_start),
            "child_rss_per_in_flight_run_kib": r3(per_run_kb),
            "runs_held": [quarter, args.runs],
        },
        "startup": {
            "child_ms_median": startup.map(r3),
            "in_process_setup_ms": r3(startup_ms_in_process),
        },
        "targets": {
            "net_cpu_ms_per_model_call_max": 0.25,
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
        behaviour: tool_loop(times),
        record_requests: true,
        ..MockConfig::default()
    })
    .await?;
    let url = match args.format {
        Format::Openai => recorder.openai_base_url(),
        Format::Anthropic => recorder.base_url(),
    };
    runner(executor, args, &url)?
        .run(&agent(executor, args.format, times).await?, "go")
        .await?;
    Ok(recorder.requests().into_iter().map(|r| r.body).collect())
}

async fn send_raw(
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

/// The arguments of a child run against `base_url` with this run's settings.
fn child_args(args: &Args, base_url: &str) -> Vec<String> {
    let mut out = vec!["--child".into(), "--base-url".into(), base_url.into()];
    out.extend(["--format".into(), args.format.as_str().into()]);
    if args.http2 {
        out.push("--http2".into());
    }
    out
}

/// Spawns a child holding `n` runs at the server (each first request delayed by a latency
/// fault); returns its RSS after start-up and once all `n` first requests arrived.
async fn held_rss(
    server: &Arc<Server>,
    args: &Args,
    base_url: &str,
    n: usize,
) -> anyhow::Result<(u64, u64)> {
    use tokio::io::AsyncBufReadExt;

    server.push_faults("latency:1500", n).await?;
    let before = server.requests_seen().await;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(child_args(args, base_url))
        .args(["--hold", &n.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().context("the memory child has no pid")?;
    let stdout = child
        .stdout
        .take()
        .context("the memory child has no stdout")?;
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await?;
    let start: u64 = line
        .trim()
        .parse()
        .context("the memory child printed no RSS")?;
    let deadline = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < deadline {
        match (before, server.requests_seen().await) {
            (Some(a), Some(b)) if b >= a + n as u64 => break,
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    let held = rss_of(pid);
    let status = child.wait().await?;
    anyhow::ensure!(status.success(), "the memory child failed: {status}");
    Ok((start, held))
}

/// Median ms from spawning this binary as a child to the server's first request from it;
/// `None` when the server cannot report its request count.
async fn startup(server: &Arc<Server>, args: &Args, base_url: &str) -> anyhow::Result<Option<f64>> {
    let exe = std::env::current_exe()?;
    let mut samples = Vec::new();
    for i in 0..=args.startups {
        let Some(before) = server.requests_seen().await else {
            return Ok(None);
        };
        let t0 = Instant::now();
        let mut child = tokio::process::Command::new(&exe)
            .args(child_args(args, base_url))
            .kill_on_drop(true)
            .spawn()?;
        let seen = loop {
            if server.requests_seen().await.is_some_and(|n| n > before) {
                break Some(t0.elapsed());
            }
            if t0.elapsed() > Duration::from_secs(30) {
                break None;
            }
            // Blocks this worker briefly (the mock is served by the others): ±0.2 ms.
            std::thread::sleep(Duration::from_micros(200));
        };
        let status = child.wait().await?;
        anyhow::ensure!(status.success(), "the start-up child failed: {status}");
        let seen = seen.context("the start-up child made no request within 30 s")?;
        if i > 0 {
            samples.push(ms(seen));
        }
    }
    Ok(Some(median(samples)))
}
