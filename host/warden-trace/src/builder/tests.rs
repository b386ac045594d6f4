#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use super::*;
use crate::read::read_events;
use crate::span::AttrValue;

const RUN: &str = include_str!("../../tests/fixtures/run.jsonl");

fn records() -> Vec<EventRecord> {
    read_events(RUN.as_bytes()).unwrap()
}

fn by_op<'a>(spans: &'a [Span], op: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.attr(keys::OPERATION_NAME).and_then(AttrValue::as_str) == Some(op))
        .collect()
}

fn int(span: &Span, key: &str) -> i64 {
    span.attr(key).and_then(AttrValue::as_int).unwrap()
}

#[test]
fn a_run_becomes_one_agent_span_with_its_model_and_tool_calls_as_children() {
    let spans = SpanBuilder::build(&records(), TraceOptions::default());
    let runs = by_op(&spans, keys::OP_INVOKE_AGENT);
    let chats = by_op(&spans, keys::OP_CHAT);
    let tools = by_op(&spans, keys::OP_EXECUTE_TOOL);
    assert_eq!((runs.len(), chats.len(), tools.len()), (1, 2, 2));
    assert_eq!(spans.len(), 5);
    let run = runs[0];
    assert_eq!(run.parent_span_id, None);
    assert_eq!(run.trace_id, "5f0c1d2e3a4b5c6d7e8f90a1b2c39a21");
    for child in chats.iter().chain(&tools) {
        assert_eq!(
            child.parent_span_id.as_ref(),
            Some(&run.span_id),
            "{}",
            child.name
        );
        assert_eq!(child.trace_id, run.trace_id);
    }
    assert_eq!(run.name, "invoke_agent demo");
    assert_eq!(chats[0].name, "chat gpt-4o-mini");
    assert_eq!(chats[0].kind, SpanKind::Client);
    assert_eq!(tools[0].name, "execute_tool calc");
    let ms = |s: &Span| s.duration_nanos() / 1_000_000;
    assert_eq!((ms(run), ms(chats[0]), ms(tools[0])), (2411, 812, 14));
}

#[test]
fn spans_carry_the_genai_and_warden_attributes() {
    let spans = SpanBuilder::build(&records(), TraceOptions::default());
    let chat = by_op(&spans, keys::OP_CHAT)[0];
    assert_eq!(chat.attr(keys::PROVIDER_NAME), Some(&"openai".into()));
    assert_eq!(chat.attr(keys::REQUEST_MODEL), Some(&"gpt-4o-mini".into()));
    assert_eq!(int(chat, keys::USAGE_INPUT_TOKENS), 120);
    assert_eq!(int(chat, keys::USAGE_OUTPUT_TOKENS), 35);
    assert_eq!(
        chat.attr(keys::RESPONSE_FINISH_REASONS),
        Some(&AttrValue::StrList(vec!["tool_calls".into()]))
    );
    assert_eq!(int(chat, keys::RETRIES), 1);
    assert_eq!(int(chat, keys::RETRY_WAIT_MS), 250);
    assert_eq!(chat.events[0].name, keys::EVENT_RETRY);
    assert_eq!(chat.attr(keys::COST_USD), Some(&AttrValue::Float(0.000039)));

    let tools = by_op(&spans, keys::OP_EXECUTE_TOOL);
    let calc = tools[0];
    assert_eq!(calc.attr(keys::TOOL_NAME), Some(&"calc".into()));
    assert_eq!(calc.attr(keys::TOOL_CALL_ID), Some(&"call_1".into()));
    assert_eq!(int(calc, keys::FUEL), 12345);
    assert_eq!(int(calc, keys::WALL_MS), 14);
    assert_eq!(int(calc, keys::PEAK_MEMORY), 1179648);
    assert_eq!(
        (int(calc, keys::BYTES_IN), int(calc, keys::BYTES_OUT)),
        (40, 3)
    );
    assert_eq!(calc.status, SpanStatus::Unset);

    let fs = tools[1];
    assert_eq!(fs.attr(keys::DENIED), Some(&AttrValue::Bool(true)));
    assert_eq!(fs.attr(keys::ERROR_TYPE), Some(&"capability_denied".into()));
    assert!(
        matches!(&fs.status, SpanStatus::Error { description } if description.contains("outside the granted"))
    );

    let run = by_op(&spans, keys::OP_INVOKE_AGENT)[0];
    assert_eq!(int(run, keys::USAGE_INPUT_TOKENS), 4132);
    assert_eq!(int(run, keys::DENIALS), 1);
    assert_eq!(int(run, keys::RETRIES), 1);
    assert_eq!(int(run, keys::COMPACTIONS), 1);
    assert_eq!(int(run, keys::FUEL), 14345);
    assert_eq!(run.attr(keys::STOP_REASON), Some(&"completed".into()));
    let events: Vec<&str> = run.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        events,
        [keys::EVENT_TOOL_CALL_REJECTED, keys::EVENT_COMPACTION]
    );
}

#[test]
fn the_same_records_give_the_same_spans_ids_included() {
    let a = SpanBuilder::build(&records(), TraceOptions::default());
    let b = SpanBuilder::build(&records(), TraceOptions::default());
    assert_eq!(a, b);
    let ids: std::collections::HashSet<&str> = a.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids.len(), a.len(), "span ids are unique");
}

#[test]
fn content_is_off_by_default_and_redacted_when_on() {
    let content_keys = [
        keys::INPUT_MESSAGES,
        keys::OUTPUT_MESSAGES,
        keys::TOOL_CALL_ARGUMENTS,
        keys::TOOL_CALL_RESULT,
    ];
    let off = SpanBuilder::build(&records(), TraceOptions::default());
    for span in &off {
        for key in content_keys {
            assert!(span.attr(key).is_none(), "{} has {key}", span.name);
        }
    }
    let options = TraceOptions {
        capture_content: true,
        redactor: Redactor::new(),
    };
    let on = SpanBuilder::build(&records(), options);
    let run = by_op(&on, keys::OP_INVOKE_AGENT)[0];
    let input = run
        .attr(keys::INPUT_MESSAGES)
        .and_then(AttrValue::as_str)
        .unwrap();
    assert!(input.contains("What is 17 * 23?"), "{input}");
    assert!(
        !input.contains("sk-proj-"),
        "the key in the task is redacted: {input}"
    );
    let chat = by_op(&on, keys::OP_CHAT)[1];
    let output = chat
        .attr(keys::OUTPUT_MESSAGES)
        .and_then(AttrValue::as_str)
        .unwrap();
    let parsed: serde_json::Value = serde_json::from_str(output).unwrap();
    assert_eq!(parsed[0]["parts"][0]["content"], "17 × 23 = 391.");
    let calc = by_op(&on, keys::OP_EXECUTE_TOOL)[0];
    assert_eq!(calc.attr(keys::TOOL_CALL_RESULT), Some(&"391".into()));
}

#[test]
fn known_secret_values_are_redacted_from_errors_even_without_content() {
    let text = RUN.replace("overloaded", "overloaded (key abcd-1234-efgh-5678)");
    let records = read_events(text.as_bytes()).unwrap();
    let options = TraceOptions {
        capture_content: false,
        redactor: Redactor::new().with_secret("abcd-1234-efgh-5678"),
    };
    let spans = SpanBuilder::build(&records, options);
    let json = serde_json::to_string(&spans).unwrap();
    assert!(!json.contains("abcd-1234-efgh-5678"), "{json}");
    assert!(json.contains("overloaded (key [REDACTED])"), "{json}");
}

#[test]
fn a_cut_log_closes_open_spans_as_incomplete() {
    let records: Vec<EventRecord> = records().into_iter().take(8).collect();
    let spans = SpanBuilder::build(&records, TraceOptions::default());
    let run = by_op(&spans, keys::OP_INVOKE_AGENT)[0];
    assert_eq!(run.attr(keys::INCOMPLETE), Some(&AttrValue::Bool(true)));
    assert!(matches!(run.status, SpanStatus::Error { .. }));
    let tools = by_op(&spans, keys::OP_EXECUTE_TOOL);
    assert_eq!(tools.len(), 2, "started calls are still spans");
    assert!(tools.iter().all(|t| t.attr(keys::INCOMPLETE).is_some()));
}

#[test]
fn a_failed_model_call_is_an_error_span_and_the_run_says_why() {
    let mut records: Vec<EventRecord> = records().into_iter().take(2).collect();
    let failed = r#"{"schema":1,"run_id":"5f0c1d2e3a4b5c6d7e8f90a1b2c39a21","ts":"2026-12-06T05:00:03.000Z","step":0,"type":"run_finished","stop_reason":{"reason":"model_error","kind":"auth","status":401,"message":"the key was refused"},"forced":false,"output":null,"usage":{"input_tokens":0,"output_tokens":0,"cached_tokens":0,"cost_usd":0.0,"model_calls":0,"tool_calls":0,"invalid_tool_calls":0,"fuel":0,"tool_wall_ms":0,"bytes_in":0,"bytes_out":0,"http_requests":0}}"#;
    records.extend(read_events(failed.as_bytes()).unwrap());
    let spans = SpanBuilder::build(&records, TraceOptions::default());
    let chat = by_op(&spans, keys::OP_CHAT)[0];
    assert!(
        matches!(&chat.status, SpanStatus::Error { description } if description.contains("the key was refused")),
        "{:?}",
        chat.status
    );
    let run = by_op(&spans, keys::OP_INVOKE_AGENT)[0];
    assert_eq!(run.attr(keys::ERROR_TYPE), Some(&"auth".into()));
    assert_eq!(run.attr(keys::STOP_REASON), Some(&"model_error".into()));
}

#[test]
fn a_chat_turn_without_run_started_gets_its_own_agent_span() {
    let mut records = records();
    let second_turn: Vec<EventRecord> = records[1..].to_vec();
    records.extend(second_turn);
    let spans = SpanBuilder::build(&records, TraceOptions::default());
    let runs = by_op(&spans, keys::OP_INVOKE_AGENT);
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0].span_id, runs[1].span_id);
    assert_eq!(runs[1].attr(keys::AGENT_NAME), Some(&"demo".into()));
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        spans.len(),
        "reused call ids still give distinct spans"
    );
}
