//! Validation against the providers' documented rules.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::json;

use super::*;

#[test]
fn openai_tool_results_must_answer_the_previous_assistant_calls() {
    let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
    let ok = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}, call, {"role": "tool", "tool_call_id": "c1", "content": "r"}]});
    assert_eq!(openai(&ok).unwrap().conversation.assistant_turns, 1);
    let unknown = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}, call, {"role": "tool", "tool_call_id": "zz", "content": "r"}]});
    assert!(
        openai(&unknown)
            .err()
            .unwrap()
            .message
            .contains("must be a response to a preceeding message")
    );
    let missing = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}, call, {"role": "user", "content": "?"}]});
    assert!(
        openai(&missing)
            .err()
            .unwrap()
            .message
            .contains("did not have response messages: c1")
    );
}

#[test]
fn openai_tool_options_need_tools_and_stream_options_need_stream() {
    let base = |extra: serde_json::Value| {
        let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    assert!(openai(&base(json!({"parallel_tool_calls": true}))).is_err());
    assert!(openai(&base(json!({"tool_choice": "auto"}))).is_err());
    assert!(openai(&base(json!({"stream_options": {"include_usage": true}}))).is_err());
    assert!(
        openai(&base(
            json!({"stream": true, "stream_options": {"include_usage": true}})
        ))
        .unwrap()
        .include_usage
    );
    assert!(openai(&base(json!({"max_tokens": 0}))).is_err());
    assert!(
        openai(&base(
            json!({"tools": [{"type": "function", "function": {"name": "bad name"}}]})
        ))
        .is_err()
    );
}

#[test]
fn anthropic_alternation_system_role_and_tool_pairing() {
    let m =
        |messages: serde_json::Value| json!({"model": "c", "max_tokens": 10, "messages": messages});
    assert!(
        anthropic(&m(
            json!([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
        ))
        .err()
        .unwrap()
        .message
        .contains("alternate")
    );
    assert!(
        anthropic(&m(json!([{"role": "system", "content": "a"}])))
            .err()
            .unwrap()
            .message
            .contains("top-level `system`")
    );
    assert!(
        anthropic(&m(json!([{"role": "assistant", "content": "a"}])))
            .err()
            .unwrap()
            .message
            .contains("first message")
    );
    let tool_use = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]});
    let missing =
        m(json!([{"role": "user", "content": "a"}, tool_use, {"role": "user", "content": "b"}]));
    assert!(
        anthropic(&missing)
            .err()
            .unwrap()
            .message
            .contains("without `tool_result` blocks immediately after: t1")
    );
    let wrong = m(
        json!([{"role": "user", "content": "a"}, tool_use, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "content": "r"}]}]),
    );
    assert!(
        anthropic(&wrong)
            .err()
            .unwrap()
            .message
            .contains("unexpected `tool_use_id`")
    );
    let ok = m(
        json!([{"role": "user", "content": "a"}, tool_use, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}, {"type": "text", "text": "go on"}]}]),
    );
    let parsed = anthropic(&ok).unwrap();
    assert_eq!(parsed.conversation.assistant_turns, 1);
    assert_eq!(parsed.conversation.last_input, "go on");
    let text_first = m(
        json!([{"role": "user", "content": "a"}, tool_use, {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "tool_result", "tool_use_id": "t1", "content": "r"}]}]),
    );
    assert!(
        anthropic(&text_first)
            .err()
            .unwrap()
            .message
            .contains("must come first")
    );
}

#[test]
fn anthropic_requires_max_tokens() {
    assert!(
        anthropic(&json!({"model": "c", "messages": [{"role": "user", "content": "a"}]}))
            .err()
            .unwrap()
            .message
            .contains("max_tokens")
    );
}

#[test]
fn anthropic_final_assistant_content_may_not_end_with_whitespace() {
    let with_last = |content: serde_json::Value| {
        json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": "hi"}, {"role": "assistant", "content": content}]})
    };
    for bad in [
        json!("Part one "),
        json!([{"type": "text", "text": "Part one\n"}]),
    ] {
        let err = anthropic(&with_last(bad)).err().unwrap();
        assert!(
            err.message.contains("trailing whitespace"),
            "{}",
            err.message
        );
    }
    for good in [
        json!("Part one"),
        json!([{"type": "text", "text": "Part one"}]),
    ] {
        assert!(anthropic(&with_last(good)).is_ok());
    }
    // Only the final message: earlier assistant text may end as it likes.
    let earlier = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "a "},
        {"role": "user", "content": "go on"}]});
    assert!(anthropic(&earlier).is_ok());
}
