//! Two calls of one agent in one turn, their nested events interleaved: each nested run goes
//! under the `execute_tool` span of the call that started it (by call id, not agent name),
//! and so does a run nested in each of them.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use warden_core::chat::{FinishReason, Usage};
use warden_core::events::EventStamper;
use warden_core::run::StopReason;
use warden_core::state::{ModelCallKind, UsageTotals};
use warden_core::tool::ToolUsage;

use super::*;
use crate::span::AttrValue;

fn request() -> RunEvent {
    RunEvent::ModelRequest {
        step: 0,
        kind: ModelCallKind::Turn,
        messages: 2,
        tools: 1,
        estimated_input_tokens: 10,
    }
}

/// A model call's answer; `tokens` marks whose it is.
fn response(tokens: u64, tool_calls: usize) -> RunEvent {
    RunEvent::ModelResponse {
        step: 0,
        kind: ModelCallKind::Turn,
        finish_reason: FinishReason::Stop,
        tool_calls,
        usage: Usage {
            input_tokens: tokens,
            ..Usage::default()
        },
        usage_estimated: false,
        cost_usd: 0.0,
    }
}

fn started(call_id: &str, name: &str) -> RunEvent {
    RunEvent::ToolCallStarted {
        call_id: call_id.into(),
        name: name.into(),
        arguments: serde_json::json!({}),
        attempt: 1,
        trusted: false,
    }
}

/// A call's end; `fuel` marks whose it is.
fn finished(call_id: &str, name: &str, fuel: u64) -> RunEvent {
    RunEvent::ToolCallFinished {
        call_id: call_id.into(),
        name: name.into(),
        ok: true,
        error_kind: None,
        preview: String::new(),
        usage: ToolUsage {
            fuel,
            ..ToolUsage::default()
        },
        trusted: false,
    }
}

fn run_started(agent: &str) -> RunEvent {
    RunEvent::RunStarted {
        agent: agent.into(),
        model: format!("{agent}-model"),
        input: String::new(),
        provider: None,
        priced: false,
    }
}

fn run_finished() -> RunEvent {
    RunEvent::RunFinished {
        stop_reason: StopReason::Completed,
        forced: false,
        output: None,
        usage: UsageTotals::default(),
    }
}

/// `event` of the worker run by the call `outer` (`inner`: of the helper that worker ran
/// by its call `inner`), as the runtime wraps it.
fn nested(event: RunEvent, outer: &str, inner: Option<&str>) -> RunEvent {
    let event = match inner {
        Some(inner) => event.nested_in("worker", "helper", inner),
        None => event,
    };
    event.nested_in("triage", "worker", outer)
}

/// triage calls worker twice (`c1`, `c2`); each worker calls the tool `calc` and the agent
/// helper, both by the same ids in both runs (`k1`, `h1`), and the two runs' events
/// interleave, the second started finishing first. Worker `cN`'s model calls report `N00`
/// input tokens and its calc `N` fuel; its helper's model call `N0` tokens.
fn interleaved() -> Vec<EventRecord> {
    let mut events = vec![
        run_started("triage"),
        request(),
        response(1, 2),
        started("c1", "worker"),
        started("c2", "worker"),
    ];
    let w = |event, outer| nested(event, outer, None);
    let h = |event, outer| nested(event, outer, Some("h1"));
    for outer in ["c1", "c2"] {
        events.extend([w(run_started("worker"), outer), w(request(), outer)]);
    }
    events.extend([
        w(response(200, 2), "c2"),
        w(response(100, 2), "c1"),
        w(started("k1", "calc"), "c2"),
        w(started("k1", "calc"), "c1"),
        w(started("h1", "helper"), "c1"),
        w(started("h1", "helper"), "c2"),
        h(run_started("helper"), "c2"),
        h(run_started("helper"), "c1"),
        h(request(), "c1"),
        h(request(), "c2"),
        h(response(20, 0), "c2"),
        h(response(10, 0), "c1"),
        w(finished("k1", "calc", 1), "c1"),
        w(finished("k1", "calc", 2), "c2"),
        h(run_finished(), "c1"),
        h(run_finished(), "c2"),
        w(finished("h1", "helper", 0), "c2"),
        w(finished("h1", "helper", 0), "c1"),
    ]);
    for (outer, tokens) in [("c2", 200), ("c1", 100)] {
        events.extend([
            w(request(), outer),
            w(response(tokens, 0), outer),
            w(run_finished(), outer),
        ]);
    }
    events.extend([
        finished("c2", "worker", 0),
        finished("c1", "worker", 0),
        request(),
        response(1, 0),
        run_finished(),
    ]);
    let mut stamper = EventStamper::new("parallel-run");
    events.into_iter().map(|e| stamper.record(e)).collect()
}

fn call_id(span: &Span) -> &str {
    span.attr(keys::TOOL_CALL_ID)
        .and_then(AttrValue::as_str)
        .unwrap()
}

fn children<'a>(spans: &'a [Span], parent: &Span) -> Vec<&'a Span> {
    (spans.iter())
        .filter(|s| s.parent_span_id.as_deref() == Some(&parent.span_id))
        .collect()
}

/// The one child of `parent` named `name`.
fn only<'a>(spans: &'a [Span], parent: &Span, name: &str) -> &'a Span {
    let found: Vec<&Span> = (children(spans, parent).into_iter())
        .filter(|s| s.name == name)
        .collect();
    assert_eq!(found.len(), 1, "{name} under {}: {found:?}", parent.name);
    found[0]
}

fn tokens(span: &Span) -> i64 {
    span.attr(keys::USAGE_INPUT_TOKENS)
        .and_then(AttrValue::as_int)
        .unwrap()
}

#[test]
fn two_calls_of_one_agent_are_two_subtrees_each_under_its_own_call() {
    let spans = SpanBuilder::build(&interleaved(), TraceOptions::default());
    let run = spans
        .iter()
        .find(|s| s.name == "invoke_agent triage")
        .unwrap();
    let calls: Vec<&Span> = (children(&spans, run).into_iter())
        .filter(|s| s.name == "execute_tool worker")
        .collect();
    assert_eq!(calls.len(), 2);
    for call in calls {
        let n: i64 = call_id(call)[1..].parse().unwrap();
        let worker = only(&spans, call, "invoke_agent worker");
        assert_eq!(worker.attr(keys::INCOMPLETE), None, "{}", call_id(call));
        let chats = children(&spans, worker);
        let chats: Vec<i64> = (chats.iter())
            .filter(|s| s.name == "chat worker-model")
            .map(|s| tokens(s))
            .collect();
        assert_eq!(chats, [n * 100, n * 100], "{}", call_id(call));
        let calc = only(&spans, worker, "execute_tool calc");
        assert_eq!(calc.attr(keys::FUEL), Some(&AttrValue::Int(n)));
        // Nested in nested: the helper this worker ran, under this worker's own call.
        let helper_call = only(&spans, worker, "execute_tool helper");
        let helper = only(&spans, helper_call, "invoke_agent helper");
        let chat = only(&spans, helper, "chat helper-model");
        assert_eq!(tokens(chat), n * 10);
        assert_eq!(helper.attr(keys::INCOMPLETE), None);
        // The worker's totals cover its own two calls and its helper's one.
        assert_eq!(worker.attr(keys::MODEL_CALLS), Some(&AttrValue::Int(3)));
    }
    assert_eq!(
        run.attr(keys::MODEL_CALLS),
        Some(&AttrValue::Int(2 + 2 * 3))
    );
    assert!(spans.iter().all(|s| s.attr(keys::INCOMPLETE).is_none()));
}

#[test]
fn a_nested_run_whose_call_was_not_seen_goes_under_its_callers_agent_not_another_call() {
    // The start of `c1` is lost: its worker must not take `c2`'s span.
    let records: Vec<EventRecord> = (interleaved().into_iter())
        .filter(
            |r| !matches!(&r.event, RunEvent::ToolCallStarted { call_id, .. } if call_id == "c1"),
        )
        .collect();
    let spans = SpanBuilder::build(&records, TraceOptions::default());
    let run = spans
        .iter()
        .find(|s| s.name == "invoke_agent triage")
        .unwrap();
    let c2 = (spans.iter())
        .find(|s| s.name == "execute_tool worker" && call_id(s) == "c2")
        .unwrap();
    // Worker `cN`'s model calls report `N00` tokens: each worker is told by its own.
    for (tokens_of, parent) in [(100, run), (200, c2)] {
        let worker = (spans.iter())
            .filter(|s| s.name == "invoke_agent worker")
            .find(|w| {
                let chat = children(&spans, w)
                    .into_iter()
                    .find(|s| s.name == "chat worker-model");
                chat.is_some_and(|c| tokens(c) == tokens_of)
            })
            .unwrap();
        assert_eq!(
            worker.parent_span_id.as_ref(),
            Some(&parent.span_id),
            "{tokens_of}"
        );
    }
}
