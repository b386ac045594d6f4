//! Unit tests of the OpenAI mapping against fixtures written from the API reference.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::{Value, json};

use super::*;
use crate::config::ProviderKind;
use crate::sse::decode_recorded;
use warden_core::chat::{FinishReason, RequestSettings, ToolSpec};

fn ep() -> Endpoint {
    Endpoint {
        url: "http://127.0.0.1/v1/chat/completions".into(),
        env_var: "OPENAI_API_KEY".into(),
        key: ApiKey::new("sk-test-secret"),
    }
}

fn request(tools: bool) -> ChatRequest {
    ChatRequest {
        cache: Default::default(),
        settings: RequestSettings {
            model: "gpt-test".into(),
            max_tokens: 256,
            temperature: Some(0.5),
            tool_choice: ToolChoice::Tool("add".into()),
            parallel_tool_calls: false,
            options: Default::default(),
        },
        messages: vec![
            Message::system("be brief"),
            Message::user("1+2?"),
            Message::Assistant {
                content: None,
                tool_calls: vec![ToolCall::new("call_1", "add", "{\"a\":1,\"b\":2}")].into(),
            },
            Message::tool_result("call_1", "boom", true),
        ],
        tools: if tools {
            vec![ToolSpec {
                name: "add".into(),
                description: "adds".into(),
                parameters: json!({"type": "object"}),
            }]
            .into()
        } else {
            Vec::new().into()
        },
    }
}

#[test]
fn request_body_maps_every_field() {
    let body: Value = serde_json::from_slice(
        &OpenAi { official: false }
            .body(&request(true), "gpt-test", true)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["max_tokens"], 256);
    assert!(body.get("max_completion_tokens").is_none());
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "add"}})
    );
    assert_eq!(
        body["tools"][0]["function"]["parameters"],
        json!({"type": "object"})
    );
    let m = &body["messages"];
    assert_eq!(m[0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(m[2]["content"], Value::Null);
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1,\"b\":2}"
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "Error: boom"})
    );
}

#[test]
fn official_endpoint_gets_max_completion_tokens_and_no_tools_means_no_tool_fields() {
    let body: Value = serde_json::from_slice(
        &OpenAi { official: true }
            .body(&request(false), "gpt", false)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["max_completion_tokens"], 256);
    assert!(body.get("max_tokens").is_none());
    assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
    assert!(
        body.get("parallel_tool_calls").is_none(),
        "OpenAI rejects it without tools"
    );
    assert!(body.get("stream").is_none());
}

#[test]
fn response_with_null_content_beside_tool_calls_and_unknown_fields() {
    let body = br#"{"id":"chatcmpl-9","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",
      "system_fingerprint":"fp","service_tier":"default",
      "choices":[{"index":0,"logprobs":null,"finish_reason":"tool_calls",
        "message":{"role":"assistant","content":null,"refusal":null,"annotations":[],
          "tool_calls":[{"id":"call_x","type":"function","function":{"name":"add","arguments":"{\"a\":1}"}}]}}],
      "usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,
        "prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;
    let r = OpenAi { official: false }
        .parse_response(body, &ep())
        .unwrap();
    assert_eq!(r.text, None);
    assert_eq!(
        r.tool_calls,
        vec![ToolCall::new("call_x", "add", "{\"a\":1}")]
    );
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 82,
            output_tokens: 17,
            cached_tokens: 64
        }
    );
    assert_eq!(r.model, "gpt-4o-2024-08-06");
}

#[test]
fn refusal_is_kept() {
    let body = br#"{"choices":[{"finish_reason":"stop","message":{"content":null,"refusal":"I can't help with that."}}]}"#;
    let r = OpenAi { official: false }
        .parse_response(body, &ep())
        .unwrap();
    assert_eq!(r.refusal.as_deref(), Some("I can't help with that."));
}

#[test]
fn empty_choices_and_malformed_json_are_invalid_responses() {
    let e = OpenAi { official: false }
        .parse_response(br#"{"choices":[]}"#, &ep())
        .unwrap_err();
    assert!(
        matches!(e, LlmError::InvalidResponse { .. }) && e.to_string().contains("no choices"),
        "{e}"
    );
    let e = OpenAi { official: false }
        .parse_response(br#"{"choices":[{"mess"#, &ep())
        .unwrap_err();
    assert!(e.to_string().contains("chat completion body"), "{e}");
}

#[test]
fn error_body_prefers_code_over_type() {
    let body = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
    assert_eq!(
        OpenAi { official: false }.error_body(body),
        Some((
            "invalid_api_key".into(),
            "Incorrect API key provided".into()
        ))
    );
    assert_eq!(
        OpenAi { official: false }.error_body(b"<html>bad gateway</html>"),
        None
    );
}

#[test]
fn text_stream_with_usage_only_final_chunk() {
    let events = decode_recorded(
        ProviderKind::Openai,
        [include_bytes!("fixtures/openai_text.sse").as_slice()],
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            StreamEvent::TextDelta {
                text: "Hello".into()
            },
            StreamEvent::TextDelta {
                text: ", wörld ✓".into()
            },
            StreamEvent::Finish {
                reason: FinishReason::Stop
            },
            StreamEvent::Usage {
                usage: Usage {
                    input_tokens: 19,
                    output_tokens: 4,
                    cached_tokens: 8
                }
            },
        ]
    );
}

#[test]
fn parallel_tool_call_stream_interleaves_by_index() {
    let events = decode_recorded(
        ProviderKind::Openai,
        [include_bytes!("fixtures/openai_tools.sse").as_slice()],
    )
    .unwrap();
    let mut acc = crate::StreamAccumulator::new("m");
    events.iter().for_each(|e| acc.push(e));
    let r = acc.finish().unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(&*r.tool_calls[0].arguments, "{\"a\": 1, \"b\": 2}");
    assert_eq!(
        r.tool_calls[1],
        ToolCall::new("call_b", "mul", "{\"a\":3, \"b\": 4}")
    );
    assert_eq!(r.usage.total(), 80);
    assert!(events.contains(&StreamEvent::ToolCallEnd { index: 1 }));
}

#[test]
fn truncated_tool_arguments_are_reported() {
    let events = decode_recorded(
        ProviderKind::Openai,
        [include_bytes!("fixtures/openai_truncated.sse").as_slice()],
    )
    .unwrap();
    let mut acc = crate::StreamAccumulator::new("m");
    events.iter().for_each(|e| acc.push(e));
    assert!(matches!(acc.finish(), Err(LlmError::Truncated { .. })));
}

#[test]
fn error_chunk_mid_stream_reports_its_type_and_message() {
    let e = decode_recorded(
        ProviderKind::Openai,
        [include_bytes!("fixtures/openai_error.sse").as_slice()],
    )
    .unwrap_err();
    assert!(
        matches!(&e, LlmError::InBand { error_type, .. } if error_type == "server_error"),
        "{e:?}"
    );
    assert_eq!(e.status(), None, "no status is made up");
    assert!(
        e.to_string()
            .contains("(server_error): The server had an error"),
        "{e}"
    );
    assert!(e.is_retryable());
}

#[test]
fn malformed_chunk_is_an_invalid_response_naming_the_chunk() {
    let e = decode_recorded(
        ProviderKind::Openai,
        [b"data: {\"choices\":[{\"delta\":\n\n".as_slice()],
    )
    .unwrap_err();
    assert!(
        matches!(e, LlmError::InvalidResponse { .. }) && e.to_string().contains("stream chunk"),
        "{e}"
    );
}

#[test]
fn a_stream_without_done_or_finish_is_cut() {
    let e = decode_recorded(
        ProviderKind::Openai,
        [b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n".as_slice()],
    )
    .unwrap_err();
    assert!(matches!(e, LlmError::StreamCut { .. }), "{e:?}");
}
