//! Unit tests of the OpenAI mapping against what compatible servers (Ollama, vLLM,
//! llama.cpp, LiteLLM...) really send: each gives the response a user would expect.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use super::*;
use crate::StreamAccumulator;
use crate::config::ProviderKind;
use crate::sse::decode_recorded;

fn ep() -> Endpoint {
    Endpoint {
        url: "http://127.0.0.1/v1/chat/completions".into(),
        env_var: "OPENAI_API_KEY".into(),
        key: ApiKey::new("sk-test-secret"),
    }
}

fn parse(body: &str) -> ChatResponse {
    OpenAi { official: false }
        .parse_response(body.as_bytes(), &ep())
        .unwrap()
}

/// The response a recorded stream (one `data:` line per chunk, `[DONE]` added) folds into.
fn stream(chunks: &[&str]) -> Result<ChatResponse, LlmError> {
    let mut body = String::new();
    for chunk in chunks.iter().chain(&["[DONE]"]) {
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    let mut acc = StreamAccumulator::new("m");
    for event in decode_recorded(ProviderKind::Openai, [body.as_bytes()])? {
        acc.push(&event);
    }
    acc.finish()
}

#[test]
fn arguments_sent_as_an_object_are_taken_as_their_json_text() {
    let r = parse(
        r#"{"choices":[{"finish_reason":"tool_calls","message":{"tool_calls":[
            {"id":"c1","function":{"name":"add","arguments":{"a":1,"b":[2,3]}}},
            {"id":"c2","function":{"name":"now","arguments":null}},
            {"id":"c3","function":{"name":"add","arguments":"{\"a\":1}"}}]}}]}"#,
    );
    let args: Vec<&str> = r.tool_calls.iter().map(|c| &*c.arguments).collect();
    assert_eq!(args, [r#"{"a":1,"b":[2,3]}"#, "", r#"{"a":1}"#]);
}

#[test]
fn streamed_arguments_sent_as_an_object_are_taken_too() {
    let r = stream(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"c1","function":{"name":"add","arguments":{"a":1}}}]},"finish_reason":"tool_calls"}]}"#,
    ])
    .unwrap();
    assert_eq!(r.tool_calls, vec![ToolCall::new("c1", "add", r#"{"a":1}"#)]);
}

#[test]
fn calls_without_an_id_get_one_unique_in_the_response() {
    let mut r = parse(
        r#"{"choices":[{"finish_reason":"tool_calls","message":{"tool_calls":[
            {"function":{"name":"add","arguments":"{}"}},
            {"id":"call_0","function":{"name":"add","arguments":"{}"}},
            {"id":"","function":{"name":"add","arguments":"{}"}}]}}]}"#,
    );
    assert_eq!(
        r.tool_calls[0].id, "",
        "the adapter leaves the gap to the core"
    );
    r.fill_missing_call_ids();
    let ids: Vec<&str> = r.tool_calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids[1], "call_0", "a sent id is kept");
    assert!(!ids[0].is_empty() && !ids[2].is_empty());
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 3, "{ids:?}");
}

#[test]
fn streamed_calls_without_an_id_get_one_too() {
    let r = stream(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"add","arguments":"{}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"add","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
    ])
    .unwrap();
    assert!(r.tool_calls.iter().all(|c| !c.id.is_empty()));
    assert_ne!(r.tool_calls[0].id, r.tool_calls[1].id);
}

#[test]
fn streamed_calls_without_index_are_split_by_id() {
    let r = stream(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"add","arguments":"{\"x\":"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"1}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"mul","arguments":""}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"arguments":"{\"y\":"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"2}"}}]}}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
    ])
    .unwrap();
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall::new("a", "add", r#"{"x":1}"#),
            ToolCall::new("b", "mul", r#"{"y":2}"#),
        ]
    );
}

#[test]
fn several_calls_in_one_delta_without_index_or_id_are_distinct() {
    let r = stream(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"add","arguments":"{}"}},{"function":{"name":"mul","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
    ])
    .unwrap();
    let names: Vec<&str> = r.tool_calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["add", "mul"]);
}

#[test]
fn indexed_calls_still_interleave_with_index_less_continuations() {
    let r = stream(&[
        r#"{"choices":[{"delta":{"tool_calls":[{"index":3,"id":"a","function":{"name":"add","arguments":"{"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"mul","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
    ])
    .unwrap();
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall::new("a", "add", "{}"),
            ToolCall::new("b", "mul", "{}")
        ]
    );
}

#[test]
fn a_null_finish_reason_before_done_is_a_complete_answer() {
    let text = stream(&[
        r#"{"choices":[{"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":null}]}"#,
    ])
    .unwrap();
    assert_eq!(text.text.as_deref(), Some("Hello"));
    assert_eq!(text.finish_reason, FinishReason::Stop);
    let calls = stream(&[
        r#"{"choices":[{"delta":{"content":"Let me add."}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"add","arguments":"{}"}}]},"finish_reason":null}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
    ])
    .unwrap();
    assert_eq!(calls.finish_reason, FinishReason::ToolCalls);
    assert_eq!(calls.tool_calls, vec![ToolCall::new("a", "add", "{}")]);
    assert_eq!(calls.usage.output_tokens, 2);
}

#[test]
fn done_without_any_content_or_finish_is_still_not_an_answer() {
    let err = stream(&[r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":0}}"#])
        .unwrap_err();
    assert!(matches!(err, LlmError::Truncated { .. }), "{err:?}");
}

#[test]
fn a_streamed_refusal_is_the_response_a_non_streamed_one_is() {
    let whole = parse(
        r#"{"choices":[{"finish_reason":"stop","message":{"content":null,"refusal":"I can't help with that."}}]}"#,
    );
    let mut streamed = stream(&[
        r#"{"choices":[{"delta":{"role":"assistant","content":"","refusal":""}}]}"#,
        r#"{"choices":[{"delta":{"refusal":"I can't "}}]}"#,
        r#"{"choices":[{"delta":{"refusal":"help with that."}}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
    ])
    .unwrap();
    streamed.model = whole.model.clone();
    assert_eq!(streamed, whole);
    assert_eq!(streamed.refusal.as_deref(), Some("I can't help with that."));
    assert_eq!(streamed.text, None, "a refusal is not answer text");
}
