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

const TEAM: &str = include_str!("../../tests/fixtures/team.jsonl");

fn team() -> Vec<Span> {
    SpanBuilder::build(
        &read_events(TEAM.as_bytes()).unwrap(),
        TraceOptions::default(),
    )
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans.iter().find(|s| s.name == name).unwrap()
}

#[test]
fn a_nested_agent_is_an_agent_span_under_the_callers_tool_call_with_its_own_calls() {
    let spans = team();
    let run = named(&spans, "invoke_agent triage");
    let tool = named(&spans, "execute_tool researcher");
    let nested = named(&spans, "invoke_agent researcher");
    assert_eq!(tool.parent_span_id.as_ref(), Some(&run.span_id));
    assert_eq!(nested.parent_span_id.as_ref(), Some(&tool.span_id));
    assert_eq!(nested.attr(keys::AGENT_NAME), Some(&"researcher".into()));
    let path = AttrValue::StrList(vec!["triage".into(), "researcher".into()]);
    assert_eq!(nested.attr(keys::AGENT_PATH), Some(&path));
    assert_eq!(nested.attr(keys::STOP_REASON), Some(&"completed".into()));
    let inner: Vec<&Span> = (spans.iter())
        .filter(|s| s.parent_span_id.as_ref() == Some(&nested.span_id))
        .collect();
    let names: Vec<&str> = inner.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["chat llama3.1", "execute_tool calc", "chat llama3.1"]
    );
    assert!(
        inner
            .iter()
            .all(|s| s.attr(keys::AGENT_PATH) == Some(&path))
    );
    // The run's totals cover the nested run: 3 model calls of triage and billing, 2 nested.
    assert_eq!(int(run, keys::MODEL_CALLS), 5);
    assert_eq!(int(nested, keys::MODEL_CALLS), 2);
    assert_eq!(int(run, keys::FUEL), 500);
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids.len(), spans.len(), "span ids are unique");
}

#[test]
fn a_handoff_is_an_event_then_an_agent_span_holding_the_new_agents_calls() {
    let spans = team();
    let run = named(&spans, "invoke_agent triage");
    let billing = named(&spans, "invoke_agent billing");
    assert_eq!(billing.parent_span_id.as_ref(), Some(&run.span_id));
    assert_eq!(billing.attr(keys::AGENT_NAME), Some(&"billing".into()));
    assert_eq!(billing.attr(keys::HANDOFF_FROM), Some(&"triage".into()));
    assert_eq!(billing.attr(keys::PROVIDER_NAME), Some(&"anthropic".into()));
    let chat = named(&spans, "chat claude-x");
    assert_eq!(chat.parent_span_id.as_ref(), Some(&billing.span_id));
    assert_eq!(chat.attr(keys::PROVIDER_NAME), Some(&"anthropic".into()));
    let handoff = run
        .events
        .iter()
        .find(|e| e.name == keys::EVENT_HANDOFF)
        .unwrap();
    assert_eq!(
        handoff.attributes.get("warden.handoff.to"),
        Some(&"billing".into())
    );
    assert_eq!(
        handoff.attributes.get("warden.reason"),
        Some(&"a refund".into())
    );
}

#[test]
fn a_nested_run_cut_off_is_closed_with_the_call_that_ran_it() {
    // The nested run's `run_finished` is lost; the caller's call still ends.
    let records: Vec<EventRecord> = read_events(TEAM.as_bytes())
        .unwrap()
        .into_iter()
        .filter(|r| !matches!(&r.event, RunEvent::Nested { event, .. } if matches!(**event, RunEvent::RunFinished { .. })))
        .collect();
    let spans = SpanBuilder::build(&records, TraceOptions::default());
    let nested = named(&spans, "invoke_agent researcher");
    let tool = named(&spans, "execute_tool researcher");
    assert_eq!(nested.attr(keys::INCOMPLETE), Some(&AttrValue::Bool(true)));
    assert_eq!(nested.end_unix_nano, tool.end_unix_nano);
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.name == "invoke_agent researcher")
            .count(),
        1
    );
}

#[test]
fn hostile_nested_paths_give_spans_and_no_panic() {
    let stamp = r#"{"schema":1,"run_id":"r","ts":"2026-12-06T06:00:00.000Z","step":0,"#;
    let lines = [
        r#""type":"nested","path":[],"event":{"type":"retry","attempt":1,"wait_ms":1,"reason":"x"}}"#,
        r#""type":"nested","path":["a"],"event":{"type":"retry","attempt":1,"wait_ms":1,"reason":"x"}}"#,
        r#""type":"nested","path":["a","b","c","d"],"event":{"type":"nested","path":["x","y"],"event":{"type":"retry","attempt":1,"wait_ms":1,"reason":"x"}}}"#,
        r#""type":"nested","path":["a","b","c","d"],"event":{"type":"tool_call_finished","call_id":"c","name":"n","ok":true,"error_kind":null,"preview":"","usage":{"fuel":0,"wall_ms":0,"peak_memory":0,"bytes_in":0,"bytes_out":0,"http_requests":0,"http_bytes_sent":0,"http_bytes_received":0}}}"#,
    ];
    let text: String = lines.iter().map(|l| format!("{stamp}{l}\n")).collect();
    let spans = SpanBuilder::build(
        &read_events(text.as_bytes()).unwrap(),
        TraceOptions::default(),
    );
    // The deep orphan finish opened a nested agent span (closed as incomplete) with its call.
    assert!(spans.iter().any(|s| s.name == "execute_tool n"));
    assert!(spans.iter().all(|s| s.end_unix_nano >= s.start_unix_nano));
}

/// The fixture run with the full messages of its second model call.
fn with_content(key: &str) -> Vec<EventRecord> {
    let mut records = records();
    let at = records
        .iter()
        .rposition(|r| matches!(r.event, RunEvent::ModelResponse { .. }))
        .unwrap();
    let messages = [
        warden_core::chat::Message::system("Be exact."),
        warden_core::chat::Message::user(format!("What is 17 * 23? my key is {key}")),
    ];
    let response = warden_core::chat::ChatResponse {
        text: Some("17 × 23 = 391.".into()),
        tool_calls: Vec::new(),
        finish_reason: warden_core::chat::FinishReason::Stop,
        usage: Default::default(),
        model: String::new(),
        refusal: None,
    };
    let mut record = records[at].clone();
    record.event = RunEvent::model_content(&messages, &response);
    records.insert(at, record);
    records
}

#[test]
fn a_model_call_carries_its_full_messages_when_content_is_on_with_keys_redacted() {
    let key = "wk-7f3a9c21e4b8d605aa";
    let options = TraceOptions {
        capture_content: true,
        redactor: Redactor::new().with_secret(key),
    };
    let spans = SpanBuilder::build(&with_content(key), options);
    let chat = by_op(&spans, keys::OP_CHAT)[1];
    let input = chat
        .attr(keys::INPUT_MESSAGES)
        .and_then(AttrValue::as_str)
        .unwrap();
    let input: serde_json::Value = serde_json::from_str(input).unwrap();
    assert_eq!(input[0]["role"], "system");
    assert_eq!(input[0]["parts"][0]["content"], "Be exact.");
    assert_eq!(
        input[1]["parts"][0]["content"],
        "What is 17 * 23? my key is [REDACTED]"
    );
    let output = chat
        .attr(keys::OUTPUT_MESSAGES)
        .and_then(AttrValue::as_str)
        .unwrap();
    let output: serde_json::Value = serde_json::from_str(output).unwrap();
    assert_eq!(output[0]["parts"][0]["content"], "17 × 23 = 391.");
    assert_eq!(output[0]["finish_reason"], "stop");
    let json = serde_json::to_string(&spans).unwrap();
    assert!(!json.contains(key), "{json}");

    // Off: the same records give no content at all.
    let off = SpanBuilder::build(&with_content(key), TraceOptions::default());
    for span in &off {
        for k in [
            keys::INPUT_MESSAGES,
            keys::OUTPUT_MESSAGES,
            keys::TOOL_CALL_ARGUMENTS,
            keys::TOOL_CALL_RESULT,
        ] {
            assert!(span.attr(k).is_none(), "{} has {k}", span.name);
        }
    }
    let json = serde_json::to_string(&off).unwrap();
    assert!(!json.contains("Be exact."), "{json}");
}

#[test]
fn recorded_content_is_capped_per_string() {
    let long = "y".repeat(MAX_CONTENT_CHARS * 3);
    let options = TraceOptions {
        capture_content: true,
        redactor: Redactor::new(),
    };
    let spans = SpanBuilder::build(&with_content(&long), options);
    let chat = by_op(&spans, keys::OP_CHAT)[1];
    let input = chat
        .attr(keys::INPUT_MESSAGES)
        .and_then(AttrValue::as_str)
        .unwrap();
    let input: serde_json::Value = serde_json::from_str(input).unwrap();
    let user = input[1]["parts"][0]["content"].as_str().unwrap();
    assert_eq!(user.chars().count(), MAX_CONTENT_CHARS + 1);
    assert!(user.ends_with('…'));
}
