//! Figures measured in a child process of this binary (the mock, when in-process, would
//! count too): its RSS after start-up, its RSS while holding runs at the server, and the
//! time from spawning it to the server seeing its first request.
//!
//! Invariant: a figure comes back `None` unless it was measured as described: the held RSS
//! only when the server confirmed (`/stats`) that all the runs' first requests arrived while
//! it delayed them (`/admin/faults`), with the child still running; start-up only when the
//! server can count requests. `why` says what was missing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::Args;
use crate::measure::{median, ms, rss_of};
use crate::server::Server;

/// How long the server holds each first request of the memory child.
const HOLD_MS: u64 = 1500;
/// How long the parent waits for all held requests to arrive (well inside [`HOLD_MS`], so
/// none has been answered when the RSS is read).
const ARRIVAL_DEADLINE: Duration = Duration::from_millis(1200);

/// The arguments of a child run against `base_url` with this run's settings.
pub fn child_args(args: &Args, base_url: &str) -> Vec<String> {
    let mut out = vec!["--child".into(), "--base-url".into(), base_url.into()];
    out.extend(["--format".into(), args.format.as_str().into()]);
    if args.http2 {
        out.push("--http2".into());
    }
    out
}

/// The memory child's figures.
pub struct Held {
    /// RSS after start-up (engine, cached component, model client).
    pub start: Option<u64>,
    /// RSS with all the runs in flight.
    pub held: Option<u64>,
    /// Why `held` is missing.
    pub why: Option<&'static str>,
}

/// Spawns a child holding `n` runs at the server (each first request delayed by a latency
/// fault, where the server takes faults); returns its RSS after start-up and, once the
/// server saw all `n` first requests, with them in flight.
pub async fn held_rss(
    server: &Arc<Server>,
    args: &Args,
    base_url: &str,
    n: usize,
) -> anyhow::Result<Held> {
    use tokio::io::AsyncBufReadExt;

    let before = server.requests_seen().await;
    let queued = server.push_faults(&format!("latency:{HOLD_MS}"), n).await?;
    // Without a hold the runs would finish at once: one is enough for the start-up RSS.
    let runs = if queued { n } else { 1 };
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(child_args(args, base_url))
        .args(["--hold", &runs.to_string()])
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
    // The child prints `-` where it cannot read its own RSS.
    let start: Option<u64> = line.trim().parse().ok();
    let mut why = None;
    let arrived = if !queued {
        why = Some("the server takes no faults (/admin/faults), so runs cannot be held");
        false
    } else if before.is_none() {
        why = Some("the server cannot count requests (/stats): the hold is unconfirmed");
        false
    } else {
        let deadline = Instant::now() + ARRIVAL_DEADLINE;
        loop {
            match (before, server.requests_seen().await) {
                (Some(a), Some(b)) if b >= a + n as u64 => break true,
                _ if Instant::now() >= deadline => break false,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    let held = if arrived {
        let rss = rss_of(pid);
        if rss.is_none() {
            why = Some("the memory child's RSS could not be read");
        }
        rss
    } else {
        if why.is_none() {
            why = Some("not all held requests reached the server in time");
        }
        None
    };
    let status = child.wait().await?;
    anyhow::ensure!(status.success(), "the memory child failed: {status}");
    Ok(Held { start, held, why })
}

/// Median ms from spawning this binary as a child to the server's first request from it;
/// `None` when the server cannot report its request count.
pub async fn startup(
    server: &Arc<Server>,
    args: &Args,
    base_url: &str,
) -> anyhow::Result<Option<f64>> {
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
    Ok(median(samples))
}
