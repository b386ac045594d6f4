//! The sequential figures: one run of model calls each followed by its sandboxed `calc`
//! call, next to the same requests sent raw, to the same number of sandboxed calls made on
//! their own, and to the floor (each raw request, its response parsed, followed by one
//! sandboxed call: what any loop with a fresh instance per call must do), interleaved repeat
//! by repeat so that all four see the same machine.
//!
//! Invariant: every figure is a median over the measured repeats (the first is a warm-up);
//! a ratio is the median of the per-repeat ratios, each taken within one repeat; a side not
//! measured (`--profile-side`) leaves its figures and the ratios `None`.

use std::time::Instant;

use anyhow::Context;
use serde_json::Value;
use warden::{Agent, Runner};
use warden_sandbox::{Executor, ToolPolicy, ToolSet};

use crate::measure::{cpu_time, median, ms};
use crate::runs::{ARGS, check_run};
use crate::server::Format;
use crate::{send_raw, send_raw_parsed};

/// One side of the sequential measurement, for `--profile-side` (a profiler then sees only
/// that side's work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    /// warden's runs.
    Warden,
    /// The same requests sent by a bare client.
    Raw,
    /// The same number of sandboxed calls on their own.
    Sandbox,
    /// Each raw request, its response parsed, then one sandboxed call: the loop without
    /// warden's own work.
    Floor,
}

/// What the sequential runs are made of.
pub struct Setup<'a> {
    pub runner: &'a Runner,
    pub agent: &'a Agent,
    /// Model calls (and tool calls) per run.
    pub calls: usize,
    pub client: &'a reqwest::Client,
    pub format: Format,
    pub base_url: &'a str,
    /// The run's own requests, for the raw side.
    pub bodies: &'a [Value],
    pub executor: &'a Executor,
    pub tools: &'a ToolSet,
    /// What the server must do, for the error when a run is not the one measured.
    pub requirement: &'a (dyn Fn() -> String + Sync),
}

/// What [`Setup`] borrows, owned, to measure in a task of its own.
pub struct Owned {
    pub runner: Runner,
    pub agent: Agent,
    pub calls: usize,
    pub client: reqwest::Client,
    pub format: Format,
    pub base_url: String,
    pub bodies: Vec<Value>,
    pub executor: Executor,
    pub tools: std::sync::Arc<ToolSet>,
    pub requirement: String,
}

/// [`measure`] in a spawned task: on a runtime worker, beside the connections' tasks and
/// the IO driver (as the `warden` CLI and a server embedding warden run agents), instead of
/// the thread that blocks on the runtime.
pub async fn measure_on_worker(
    o: Owned,
    repeats: usize,
    only: Option<Side>,
) -> anyhow::Result<Figures> {
    tokio::spawn(async move {
        let requirement = || o.requirement.clone();
        let setup = Setup {
            runner: &o.runner,
            agent: &o.agent,
            calls: o.calls,
            client: &o.client,
            format: o.format,
            base_url: &o.base_url,
            bodies: &o.bodies,
            executor: &o.executor,
            tools: &o.tools,
            requirement: &requirement,
        };
        measure(&setup, repeats, only).await
    })
    .await?
}

/// Milliseconds per model call (warden, raw) or per sandboxed call; medians.
#[derive(Debug, Default)]
pub struct Figures {
    pub cpu: Option<f64>,
    pub wall: Option<f64>,
    pub raw_cpu: Option<f64>,
    pub raw_wall: Option<f64>,
    pub sandbox_cpu: Option<f64>,
    pub sandbox_wall: Option<f64>,
    pub floor_cpu: Option<f64>,
    pub floor_wall: Option<f64>,
    /// warden's wall over the raw requests' wall.
    pub wall_ratio: Option<f64>,
    /// warden's CPU over the raw requests' CPU plus one sandboxed call's.
    pub cpu_ratio: Option<f64>,
    /// The floor's wall over the raw requests' wall (the least the wall ratio can be).
    pub floor_wall_ratio: Option<f64>,
    /// The floor's CPU over the raw requests' CPU plus one sandboxed call's (the least the
    /// CPU ratio can be).
    pub floor_cpu_ratio: Option<f64>,
}

/// Samples of one side: CPU and wall ms per call.
#[derive(Default)]
struct Samples {
    cpu: Vec<f64>,
    wall: Vec<f64>,
}

/// Measures `repeats` repeats (after one warm-up) of the sides selected (`only`, or all).
pub async fn measure(s: &Setup<'_>, repeats: usize, only: Option<Side>) -> anyhow::Result<Figures> {
    let on = |side| only.is_none_or(|o| o == side);
    let per = s.calls as f64;
    let policy = ToolPolicy::default();
    let (mut ours, mut raw, mut sandbox, mut floor): (Samples, Samples, Samples, Samples) =
        Default::default();
    let (mut wall_ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    let (mut floor_wall_ratios, mut floor_cpu_ratios) = (Vec::new(), Vec::new());
    for i in 0..=repeats {
        let mut sample = [None; 4];
        if on(Side::Warden) {
            let (c0, t0) = (cpu_time(), Instant::now());
            let result = s.runner.run(s.agent, "go").await?;
            let (c, t) = (ms(cpu_time() - c0), ms(t0.elapsed()));
            check_run(&result, s.calls).with_context(s.requirement)?;
            sample[0] = Some((c / per, t / per));
        }
        if on(Side::Raw) {
            let (c0, t0) = (cpu_time(), Instant::now());
            for body in s.bodies {
                send_raw(s.client, s.format, s.base_url, body).await?;
            }
            let n = s.bodies.len() as f64;
            sample[1] = Some((ms(cpu_time() - c0) / n, ms(t0.elapsed()) / n));
        }
        if on(Side::Sandbox) {
            let (c0, t0) = (cpu_time(), Instant::now());
            for _ in 0..s.calls {
                let outcome = s.executor.call(s.tools, "calc", ARGS, &policy).await;
                outcome
                    .result
                    .map_err(|e| anyhow::anyhow!("the sandboxed calc call failed: {e}"))?;
            }
            sample[2] = Some((ms(cpu_time() - c0) / per, ms(t0.elapsed()) / per));
        }
        if on(Side::Floor) {
            let (c0, t0) = (cpu_time(), Instant::now());
            for body in s.bodies {
                let answer = send_raw_parsed(s.client, s.format, s.base_url, body).await?;
                std::hint::black_box(answer);
                let outcome = s.executor.call(s.tools, "calc", ARGS, &policy).await;
                outcome
                    .result
                    .map_err(|e| anyhow::anyhow!("the sandboxed calc call failed: {e}"))?;
            }
            let n = s.bodies.len() as f64;
            sample[3] = Some((ms(cpu_time() - c0) / n, ms(t0.elapsed()) / n));
        }
        if i == 0 {
            continue;
        }
        let all = [&mut ours, &mut raw, &mut sandbox, &mut floor];
        for (samples, side) in all.into_iter().zip(sample) {
            if let Some((cpu, wall)) = side {
                samples.cpu.push(cpu);
                samples.wall.push(wall);
            }
        }
        if let [Some(w), Some(r), Some(sb), _] = sample
            && r.1 > 0.0
            && r.0 + sb.0 > 0.0
        {
            wall_ratios.push(w.1 / r.1);
            cpu_ratios.push(w.0 / (r.0 + sb.0));
        }
        if let [_, Some(r), Some(sb), Some(f)] = sample
            && r.1 > 0.0
            && r.0 + sb.0 > 0.0
        {
            floor_wall_ratios.push(f.1 / r.1);
            floor_cpu_ratios.push(f.0 / (r.0 + sb.0));
        }
    }
    Ok(Figures {
        cpu: median(ours.cpu),
        wall: median(ours.wall),
        raw_cpu: median(raw.cpu),
        raw_wall: median(raw.wall),
        sandbox_cpu: median(sandbox.cpu),
        sandbox_wall: median(sandbox.wall),
        floor_cpu: median(floor.cpu),
        floor_wall: median(floor.wall),
        wall_ratio: median(wall_ratios),
        cpu_ratio: median(cpu_ratios),
        floor_wall_ratio: median(floor_wall_ratios),
        floor_cpu_ratio: median(floor_cpu_ratios),
    })
}
