//! `warden-bench --base-url` against a server that speaks only the chat wire formats: the
//! in-repo mock's routes with its admin and stats routes answered 404, as any other
//! compatible mock would answer them. The bench's runs must still make their sandboxed
//! calls, the figures that need the admin routes must be `null` (never `0.0`), and a server
//! that answers without calling tools must stop the bench with what it has to do.
//!
//! Bounded: `--repeats 1 --runs 4`, one bench process per server, each killed after 180 s.
//! Also `--multi`'s noise control (in-process mocks, 4 repeats).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use mock_llm::{Behaviour, MockConfig};
use serde_json::Value;

const RUNS: u64 = 4;

/// A mock serving only the chat routes, on a thread of its own until the process ends;
/// returns its address and its count of chat requests.
fn chat_only_mock(behaviour: Behaviour) -> (SocketAddr, Arc<AtomicU64>) {
    let chats = Arc::new(AtomicU64::new(0));
    let counted = chats.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let filter = move |request: Request, next: Next| {
                let counted = counted.clone();
                async move {
                    let path = request.uri().path();
                    if path.ends_with("/chat/completions") || path == "/v1/messages" {
                        counted.fetch_add(1, Ordering::Relaxed);
                        next.run(request).await
                    } else {
                        StatusCode::NOT_FOUND.into_response()
                    }
                }
            };
            let config = MockConfig {
                behaviour,
                ..MockConfig::default()
            };
            let app = mock_llm::router(config).layer(axum::middleware::from_fn(filter));
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), chats)
}

/// Runs the bench briefly against `base_url`; kills it after 180 s.
fn bench(base_url: &str, format: &str) -> Output {
    let runs = RUNS.to_string();
    bench_with(&[
        "--base-url",
        base_url,
        "--format",
        format,
        "--repeats",
        "1",
        "--runs",
        &runs,
        "--startups",
        "1",
    ])
}

/// Runs the bench with `args`; kills it after 180 s.
fn bench_with(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden-bench"))
        .args(args)
        .env("WARDEN_CACHE_DIR", cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("warden-bench ran for over 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// One bench run against a chat-only mock that calls `calc` on every turn: its JSON line
/// and the chat requests the mock saw.
fn calc_forever_run() -> &'static (Value, u64) {
    static RUN: OnceLock<(Value, u64)> = OnceLock::new();
    RUN.get_or_init(|| {
        let (addr, chats) = chat_only_mock(Behaviour::ToolLoop {
            tool: "calc".into(),
            arguments: r#"{"expression":"1+1"}"#.into(),
            times: 1_000_000,
            answer: "done".into(),
        });
        let out = bench(&format!("http://{addr}/v1"), "openai");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "warden-bench failed: {stderr}");
        let line: Value = serde_json::from_slice(&out.stdout).unwrap();
        (line, chats.load(Ordering::Relaxed))
    })
}

#[test]
fn runs_against_a_chat_only_server_make_their_sandboxed_calls() {
    let (line, chats) = calc_forever_run();
    assert_eq!(line["server_behaviour_set_by_bench"], false, "{line}");
    assert_eq!(line["overhead"]["tool_calls_per_run"], 10, "{line}");
    // What the server saw proves the runs' lengths: overhead, a warm-up and one measured
    // run of 10 model calls, each next to the same 10 requests sent raw and sent again for
    // the floor (each answer parsed, then a sandboxed call); the memory child,
    // one run of 5 (no hold without /admin/faults); throughput, 4 rounds of RUNS runs of 5
    // model calls, each next to the same requests sent raw. No start-up child (no /stats).
    let expected = 2 * 10 * 3 + 5 + 4 * RUNS * 5 * 2;
    assert_eq!(*chats, expected, "{line}");
    for figure in [
        "cpu_ms_per_model_call",
        "raw_cpu_ms_per_request",
        "sandbox_cpu_ms_per_call",
        "floor_cpu_ms_per_model_call",
        "floor_cpu_ratio_to_raw_plus_sandbox_call",
    ] {
        assert!(
            line["overhead"][figure].as_f64().unwrap() > 0.0,
            "{figure}: {line}"
        );
    }
}

#[test]
fn figures_that_need_the_admin_routes_are_null_not_zero() {
    let (line, _) = calc_forever_run();
    assert!(
        line["memory"]["child_rss_per_in_flight_run_kib"].is_null(),
        "{line}"
    );
    let why = line["memory"]["not_measured"].as_str().unwrap();
    assert!(why.contains("/admin/faults"), "{why}");
    assert!(line["startup"]["child_ms_median"].is_null(), "{line}");
    // What needs no admin route is still measured.
    assert!(
        line["memory"]["child_rss_start_mib"].as_f64().unwrap() > 0.0,
        "{line}"
    );
}

#[test]
fn a_server_that_answers_without_calling_tools_stops_the_bench() {
    let (addr, _) = chat_only_mock(Behaviour::Echo);
    let out = bench(&format!("http://{addr}"), "anthropic");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "warden-bench printed {:?}",
        out.stdout
    );
    assert!(out.stdout.is_empty(), "no figures: {:?}", out.stdout);
    assert!(
        stderr.contains("must answer every chat request with one call to the tool `calc`"),
        "{stderr}"
    );
    assert!(stderr.contains("0 sandboxed tool calls"), "{stderr}");
}

/// `--multi` measures the single agent twice, and judges the team against how far those
/// two differ (the noise), not against a fixed threshold.
#[test]
fn the_multi_bench_judges_the_team_against_its_own_noise() {
    let out = bench_with(&["--multi", "--repeats", "4", "--format", "anthropic"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "warden-bench --multi failed: {stderr}"
    );
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    let multi = &line["multi"];
    for side in ["single_agent", "one_handoff_one_nested_agent"] {
        assert!(
            multi[side]["wall_ms_per_call"].as_f64().unwrap() > 0.0,
            "{multi}"
        );
    }
    let band = multi["control"]["middle_half"].as_array().unwrap();
    let (lo, hi) = (band[0].as_f64().unwrap(), band[1].as_f64().unwrap());
    assert!(0.0 < lo && lo <= hi, "{multi}");
    let control = multi["control"]["wall_ratio"].as_f64().unwrap();
    assert!(lo <= control && control <= hi, "{multi}");
    let ratio = multi["wall_ratio"].as_f64().unwrap();
    let within = multi["within_noise"].as_bool().unwrap();
    assert_eq!(within, lo <= ratio && ratio <= hi, "{multi}");
}

/// `scripts/bench/py_mock.py` (Python's standard library, no admin routes), killed on drop.
struct PyMock {
    child: std::process::Child,
    url: String,
}

impl PyMock {
    fn start() -> Self {
        use std::io::BufRead;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/bench/py_mock.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the Python mock (CI installs it)");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("py-mock listening on ")
            .unwrap_or_else(|| panic!("the Python mock said {line:?}"))
            .to_string();
        Self { child, url }
    }
}

impl Drop for PyMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server that is not the in-repo mock at all (the Python one of `scripts/bench`) serves
/// the sequential figures on both wires: every run makes its sandboxed calls, 10 by default
/// or as many as `--calls` says, on a runtime worker by default (as the CLI runs) or on the
/// thread blocking on the runtime.
#[test]
fn the_sequential_figures_run_against_a_python_server_on_both_wires() {
    let mock = PyMock::start();
    for (format, base, calls, placement) in [
        ("openai", format!("{}/v1", mock.url), 10, "worker"),
        ("anthropic", mock.url.clone(), 3, "main thread"),
    ] {
        let calls_arg = calls.to_string();
        let mut args = vec![
            "--base-url",
            &base,
            "--format",
            format,
            "--sequential-only",
            "--repeats",
            "2",
        ];
        if calls != 10 {
            args.extend(["--calls", &calls_arg]);
        }
        if placement == "main thread" {
            args.push("--on-main-thread");
        }
        let out = bench_with(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{format}: warden-bench failed: {stderr}"
        );
        let line: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(line["sequential_runs_on"], placement, "{format}: {line}");
        let overhead = &line["overhead"];
        assert_eq!(overhead["tool_calls_per_run"], calls, "{format}: {line}");
        assert_eq!(overhead["model_calls_per_run"], calls, "{format}: {line}");
        for figure in ["cpu_ratio_to_raw_plus_sandbox_call", "wall_ratio_to_raw"] {
            assert!(
                overhead[figure].as_f64().unwrap() > 0.0,
                "{format} {figure}: {line}"
            );
        }
    }
}
