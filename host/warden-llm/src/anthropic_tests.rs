//! Unit tests of the Anthropic mapping against fixtures written from the API reference.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::{Value, json};

use super::*;
use crate::config::ProviderKind;
use crate::sse::decode_recorded;
use warden_core::chat::{FinishReason, RequestSettings, ToolSpec};

fn ep() -> Endpoint {
    Endpoint {
        url: "http://127.0.0.1/v1/messages".into(),
        env_var: "ANTHROPIC_API_KEY".into(),
        key: ApiKey::new("sk-ant-secret"),
    }
}

fn settings(choice: ToolChoice, parallel: bool) -> RequestSettings {
    RequestSettings {
        model: "claude".into(),
        max_tokens: 512,
        temperature: None,
        tool_choice: choice,
        parallel_tool_calls: parallel,
        options: Default::default(),
    }
}

fn history() -> Vec<Message> {
    vec![
        Message::system("rule one"),
        Message::user("do two things"),
        Message::Assistant {
            content: Some("on it".into()),
            tool_calls: vec![
                ToolCall::new("toolu_a", "add", "{\"a\":1}"),
                ToolCall::new("toolu_b", "now", String::new()),
            ]
            .into(),
        },
        Message::tool_result("toolu_a", "2", false),
        Message::tool_result("toolu_b", "no clock", true),
        Message::user("thanks"),
        Message::system("rule two"),
    ]
}

#[test]
fn history_folds_into_alternating_turns_with_system_lifted() {
    let req = ChatRequest {
        cache: Default::default(),
        settings: settings(ToolChoice::Required, false),
        messages: history(),
        tools: vec![ToolSpec {
            name: "add".into(),
            description: "adds".into(),
            parameters: json!({"type": "object"}),
        }]
        .into(),
    };
    let body: Value =
        serde_json::from_slice(&Anthropic.body(&req, "claude", true).unwrap()).unwrap();
    assert_eq!(body["system"], "rule one\n\nrule two");
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
    let m = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|t| t["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(m[1]["content"][0], json!({"type": "text", "text": "on it"}));
    assert_eq!(
        m[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_a", "name": "add", "input": {"a": 1}})
    );
    assert_eq!(m[1]["content"][2]["input"], json!({}));
    // Tool results first, then the user's text, in one user turn.
    assert_eq!(
        m[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_a", "content": "2"})
    );
    assert_eq!(m[2]["content"][1]["is_error"], true);
    assert_eq!(
        m[2]["content"][2],
        json!({"type": "text", "text": "thanks"})
    );
}

#[test]
fn tool_choice_none_and_no_tools() {
    let mut req = ChatRequest {
        cache: Default::default(),
        settings: settings(ToolChoice::None, true),
        messages: vec![Message::user("hi")],
        tools: vec![].into(),
    };
    let body: Value = serde_json::from_slice(&Anthropic.body(&req, "c", false).unwrap()).unwrap();
    assert!(
        body.get("tool_choice").is_none()
            && body.get("tools").is_none()
            && body.get("system").is_none()
    );
    req.tools = vec![ToolSpec {
        name: "t".into(),
        description: "d".into(),
        parameters: json!({}),
    }]
    .into();
    let body: Value = serde_json::from_slice(&Anthropic.body(&req, "c", false).unwrap()).unwrap();
    assert_eq!(body["tool_choice"], json!({"type": "none"}));
}

#[test]
fn headers_carry_version_and_a_sensitive_key() {
    let h = Anthropic.headers(&ApiKey::new("sk-ant-secret")).unwrap();
    assert_eq!(h["anthropic-version"], "2023-06-01");
    assert!(h["x-api-key"].is_sensitive());
    assert!(!format!("{h:?}").contains("sk-ant-secret"));
}

#[test]
fn response_with_thinking_text_and_tool_use() {
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
      "content":[{"type":"thinking","thinking":"hmm","signature":"sig"},
                 {"type":"text","text":"Adding."},
                 {"type":"tool_use","id":"toolu_1","name":"add","input":{"a":1,"b":2}},
                 {"type":"server_tool_use","id":"srv","name":"web_search","input":{}}],
      "stop_reason":"tool_use","stop_sequence":null,"container":null,
      "usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":30,"service_tier":"standard"}}"#;
    let r = Anthropic.parse_response(body, &ep()).unwrap();
    assert_eq!(r.text.as_deref(), Some("Adding."));
    assert_eq!(
        r.tool_calls,
        vec![ToolCall::new("toolu_1", "add", "{\"a\":1,\"b\":2}")]
    );
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 115,
            output_tokens: 30,
            cached_tokens: 100
        }
    );
}

#[test]
fn stop_reasons_map() {
    for (wire, neutral) in [
        ("end_turn", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("refusal", FinishReason::ContentFilter),
        ("pause_turn", FinishReason::Paused),
        ("brand_new", FinishReason::Other("brand_new".into())),
    ] {
        let body = format!(r#"{{"content":[],"stop_reason":"{wire}"}}"#);
        assert_eq!(
            Anthropic
                .parse_response(body.as_bytes(), &ep())
                .unwrap()
                .finish_reason,
            neutral
        );
    }
}

#[test]
fn error_body_shape() {
    let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: roles must alternate"},"request_id":"req_1"}"#;
    assert_eq!(
        Anthropic.error_body(body),
        Some((
            "invalid_request_error".into(),
            "messages: roles must alternate".into()
        ))
    );
}

#[test]
fn text_stream_with_ping_and_cached_usage() {
    let events = decode_recorded(
        ProviderKind::Anthropic,
        [include_bytes!("fixtures/anthropic_text.sse").as_slice()],
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            StreamEvent::Usage {
                usage: Usage {
                    input_tokens: 35,
                    output_tokens: 1,
                    cached_tokens: 10
                }
            },
            StreamEvent::TextDelta {
                text: "Hello".into()
            },
            StreamEvent::TextDelta {
                text: ", wörld ✓".into()
            },
            StreamEvent::Usage {
                usage: Usage {
                    input_tokens: 0,
                    output_tokens: 15,
                    cached_tokens: 0
                }
            },
            StreamEvent::Finish {
                reason: FinishReason::Stop
            },
        ]
    );
}

#[test]
fn tool_stream_skips_thinking_and_assembles_json_deltas() {
    let events = decode_recorded(
        ProviderKind::Anthropic,
        [include_bytes!("fixtures/anthropic_tools.sse").as_slice()],
    )
    .unwrap();
    let mut acc = crate::StreamAccumulator::new("m");
    events.iter().for_each(|e| acc.push(e));
    let r = acc.finish().unwrap();
    assert_eq!(r.text.as_deref(), Some("Let me add."));
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall::new("toolu_01", "add", "{\"a\": 1, \"b\": 2}"),
            ToolCall::new("toolu_02", "now", "{}"),
        ]
    );
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.usage.output_tokens, 89);
}

#[test]
fn error_event_mid_stream_reports_its_type_and_message() {
    let e = decode_recorded(
        ProviderKind::Anthropic,
        [include_bytes!("fixtures/anthropic_error.sse").as_slice()],
    )
    .unwrap_err();
    assert!(
        matches!(&e, LlmError::InBand { error_type, message, .. }
            if error_type == "overloaded_error" && message == "Overloaded"),
        "{e:?}"
    );
    assert_eq!(e.status(), None, "no status is made up");
    assert_eq!(
        e.to_string(),
        "the response from recorded reported an error (overloaded_error): Overloaded"
    );
    assert!(e.is_retryable());
}

#[test]
fn a_client_error_event_is_not_retryable() {
    let stream = r#"event: error
data: {"type":"error","error":{"type":"invalid_request_error","message":"bad \u001b[1mthing"}}

"#;
    let e = decode_recorded(ProviderKind::Anthropic, [stream.as_bytes()]).unwrap_err();
    assert!(
        matches!(&e, LlmError::InBand { error_type, message, .. }
            if error_type == "invalid_request_error" && message == "bad [1mthing"),
        "{e:?}"
    );
    assert!(!e.is_retryable());
}

#[test]
fn unknown_event_types_are_ignored() {
    let stream = "event: brand_new\ndata: {\"type\":\"brand_new\",\"x\":1}\n\n\
        data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n\
        data: {\"type\":\"message_stop\"}\n\n";
    let events = decode_recorded(ProviderKind::Anthropic, [stream.as_bytes()]).unwrap();
    assert_eq!(
        events,
        vec![StreamEvent::Finish {
            reason: FinishReason::Stop
        }]
    );
}
