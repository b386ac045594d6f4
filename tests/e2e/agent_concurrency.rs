//! How many tool calls of a turn run at once, observed from the `ToolCallStarted` /
//! `ToolCallFinished` events of `run_streamed` (the runner sends `ToolCallStarted` only when
//! a call may really start): a `sequential` tool never overlaps another call, the per-run
//! cap (`run.max_parallel_tools`) bounds the calls in flight, and without either the calls
//! of a turn overlap. The hostile component's `sleep` makes the calls last long enough to
//! overlap; no assertion is about time.

use futures::StreamExt;
use mock_llm::Turn;
use warden_core::events::RunEvent;
use warden_core::run::StopReason;
use warden_llm::ProviderKind;

use crate::agent_support::{Wire, assert_valid_histories, calls, hostile_tool, start};

/// A start or an end of a call, by call id, in event order.
#[derive(Debug, Clone, PartialEq)]
enum Edge {
    Start(String),
    End(String),
}

/// Runs `turn` (then a text answer) with the hostile component configured by `extra`, and
/// returns the start and end edges of the tool calls in event order.
async fn run_edges(turn: Turn, extra: &str) -> Vec<Edge> {
    let w = Wire {
        kind: ProviderKind::Openai,
        streaming: true,
    };
    let env = start(w, vec![turn, Turn::text("done")], &hostile_tool(extra)).await;
    let (mut stream, _handle) = env.runner.run_streamed(&env.agent, "go");
    let mut edges = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            RunEvent::ToolCallStarted { call_id, .. } => edges.push(Edge::Start(call_id)),
            RunEvent::ToolCallFinished { call_id, ok, .. } => {
                assert!(ok, "call {call_id} failed");
                edges.push(Edge::End(call_id));
            }
            _ => {}
        }
    }
    let result = stream.result().await.unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_valid_histories(&env.mock, 2);
    edges
}

/// The largest number of calls in flight at any point.
fn max_in_flight(edges: &[Edge]) -> usize {
    let mut now = 0usize;
    let mut max = 0;
    for edge in edges {
        match edge {
            Edge::Start(_) => now += 1,
            Edge::End(_) => now -= 1,
        }
        max = max.max(now);
    }
    max
}

/// Call ids in the order the calls started (or finished).
fn order(edges: &[Edge], starts: bool) -> Vec<String> {
    edges
        .iter()
        .filter_map(|e| match (e, starts) {
            (Edge::Start(id), true) | (Edge::End(id), false) => Some(id.clone()),
            _ => None,
        })
        .collect()
}

fn sleeps_and_echo() -> Turn {
    calls(&[
        ("sleep", r#"{"ms":300}"#),
        ("sleep", r#"{"ms":300}"#),
        ("sleep", r#"{"ms":300}"#),
        ("echo", r#"{"text":"quick"}"#),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_limits_the_calls_of_a_turn_overlap() {
    let edges = run_edges(sleeps_and_echo(), "").await;
    assert_eq!(max_in_flight(&edges), 4, "{edges:?}");
    // The echo, made last, finishes first: the sleeps were really running beside it.
    let started = order(&edges, true);
    assert_eq!(order(&edges, false)[0], started[3], "{edges:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_component_runs_one_call_at_a_time_in_call_order() {
    let edges = run_edges(sleeps_and_echo(), "sequential = true").await;
    assert_eq!(max_in_flight(&edges), 1, "{edges:?}");
    // Each call starts only after the previous one finished, in call order.
    for pair in edges.chunks(2) {
        let [Edge::Start(a), Edge::End(b)] = pair else {
            panic!("{edges:?}");
        };
        assert_eq!(a, b, "{edges:?}");
    }
    assert_eq!(order(&edges, true), order(&edges, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_tool_waits_for_earlier_calls_and_holds_back_later_ones() {
    // Only `sleep` is sequential; the echoes around it may not overlap it.
    let turn = calls(&[
        ("echo", r#"{"text":"before"}"#),
        ("echo", r#"{"text":"before too"}"#),
        ("sleep", r#"{"ms":300}"#),
        ("echo", r#"{"text":"after"}"#),
        ("echo", r#"{"text":"after too"}"#),
    ]);
    let edges = run_edges(turn, "[tools.tools.sleep]\nsequential = true").await;
    let ids = order(&edges, true);
    let sleep = &ids[2];
    let at = |e: Edge| edges.iter().position(|x| *x == e).unwrap();
    let (sleep_start, sleep_end) = (at(Edge::Start(sleep.clone())), at(Edge::End(sleep.clone())));
    assert_eq!(sleep_end, sleep_start + 1, "nothing overlaps it: {edges:?}");
    for id in &ids[..2] {
        assert!(at(Edge::End(id.clone())) < sleep_start, "{edges:?}");
    }
    for id in &ids[3..] {
        assert!(at(Edge::Start(id.clone())) > sleep_end, "{edges:?}");
    }
    // The non-sequential calls still overlap one another.
    assert_eq!(max_in_flight(&edges), 2, "{edges:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_run_cap_bounds_the_calls_in_flight() {
    // Four slow calls, then a quick one made last.
    let turn = || {
        calls(&[
            ("sleep", r#"{"ms":300}"#),
            ("sleep", r#"{"ms":300}"#),
            ("sleep", r#"{"ms":300}"#),
            ("sleep", r#"{"ms":300}"#),
            ("echo", r#"{"text":"last"}"#),
        ])
    };
    let edges = run_edges(turn(), "").await;
    assert_eq!(max_in_flight(&edges), 5, "uncapped: {edges:?}");

    // `[run]` follows the `[[tools]]` entry: it is a top-level table of the agent file.
    let edges = run_edges(turn(), "\n[run]\nmax_parallel_tools = 2").await;
    assert_eq!(max_in_flight(&edges), 2, "capped at 2: {edges:?}");
    assert_eq!(order(&edges, true).len(), 5, "every call ran: {edges:?}");
    // The echo, made last, could start only when a slot was free.
    let echo = &order(&edges, true)[4];
    let echo_start = edges
        .iter()
        .position(|e| *e == Edge::Start(echo.clone()))
        .unwrap();
    let ended_before = edges[..echo_start]
        .iter()
        .filter(|e| matches!(e, Edge::End(_)))
        .count();
    assert!(ended_before >= 3, "{edges:?}");
}
