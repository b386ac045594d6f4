//! Model servers' responses as they really come: a response that is not what was asked for
//! (a proxy's HTML page, a body encoded without being asked, an error object inside a 200
//! stream) says so in a typed error with a short excerpt, and OpenAI-compatible servers'
//! habits (object arguments, calls without ids or indexes, no final finish reason, streamed
//! refusals) and Anthropic's paused turns give the response a user expects. Through the
//! mock (faults `html:<status>`, `gzip`, `error-event:<type>`) and, for exact wire bytes, a
//! loopback server.

#![allow(clippy::unwrap_used)]

use mock_llm::{Behaviour, Fault, MockConfig, MockHandle, MockServer, Turn};
use warden_core::chat::{ChatResponse, FinishReason, ToolCall};
use warden_e2e::hostile_http::{HostileServer, Reply};
use warden_e2e::llm::{KEY, KINDS, provider, request};
use warden_llm::{
    ApiKey, LlmError, Model, Notices, ProviderConfig, ProviderKind, collect_stream, connect,
};

async fn mock(faults: &[&str]) -> MockHandle {
    MockServer::start(MockConfig {
        behaviour: Behaviour::Script {
            turns: vec![Turn::text("fine")],
        },
        api_key: Some(KEY.into()),
        record_requests: true,
        faults: faults.iter().map(|f| f.parse::<Fault>().unwrap()).collect(),
    })
    .await
    .unwrap()
}

async fn complete(model: &dyn Model) -> Result<ChatResponse, LlmError> {
    model.complete(&request("hi"), &Notices::none()).await
}

/// Opens a stream and collects it: the error of whichever step fails.
async fn stream(model: &dyn Model) -> Result<ChatResponse, LlmError> {
    let events = model.stream(&request("hi"), &Notices::none()).await?;
    collect_stream(events, "m").await
}

/// Both ways of asking: not streamed, streamed.
async fn both(model: &dyn Model) -> [Result<ChatResponse, LlmError>; 2] {
    [complete(model).await, stream(model).await]
}

/// The error reads as a non-JSON response, bounded, never as a parse error or a cut stream.
fn assert_reads_as_non_json(err: &LlmError, status: u16) {
    let text = err.to_string();
    assert!(
        text.starts_with("non-JSON response from http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains(&format!("status {status})")), "{text}");
    assert!(text.len() < 400, "the page is not pasted: {text}");
    for wrong in [
        "was cut",
        "SSE framing",
        "invalid response",
        "<html",
        "<!DOCTYPE",
    ] {
        assert!(!text.contains(wrong), "{text}");
    }
}

#[tokio::test]
async fn a_gateway_error_page_is_named_with_its_title_and_retried() {
    for kind in KINDS {
        let faults = ["html:502"; 6];
        let mock = mock(&faults).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        for err in both(model.as_ref()).await.map(Result::unwrap_err) {
            assert!(
                matches!(&err, LlmError::NonJson { status: 502, content_type: Some(t), excerpt, attempts: 3, content_encoding: None, .. }
                    if t == "text/html" && excerpt == "502 Bad Gateway"),
                "{kind:?}: {err:?}"
            );
            assert_reads_as_non_json(&err, 502);
            assert!(
                err.to_string()
                    .contains("after 3 attempts: 502 Bad Gateway"),
                "{err}"
            );
            assert!(err.is_retryable());
        }
        assert_eq!(mock.stats().requests, 6, "{kind:?}: three attempts each");
    }
}

#[tokio::test]
async fn an_html_page_with_status_200_is_not_taken_for_json_nor_for_a_stream() {
    for kind in KINDS {
        let mock = mock(&["html:200", "html:200"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        for err in both(model.as_ref()).await.map(Result::unwrap_err) {
            assert!(
                matches!(
                    &err,
                    LlmError::NonJson {
                        status: 200,
                        attempts: 1,
                        ..
                    }
                ),
                "{kind:?}: {err:?}"
            );
            assert_reads_as_non_json(&err, 200);
            assert!(err.to_string().ends_with("status 200): 200 OK"), "{err}");
            assert!(!err.is_retryable());
        }
        assert_eq!(
            mock.stats().requests,
            2,
            "{kind:?}: a 200 page is not retried"
        );
        // The next call is answered normally.
        assert_eq!(
            complete(model.as_ref()).await.unwrap().text.as_deref(),
            Some("fine")
        );
    }
}

#[tokio::test]
async fn a_body_encoded_without_being_asked_names_its_encoding() {
    for kind in KINDS {
        let mock = mock(&["gzip", "gzip"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        for err in both(model.as_ref()).await.map(Result::unwrap_err) {
            assert!(
                matches!(&err, LlmError::NonJson { status: 200, content_encoding: Some(e), excerpt, .. }
                    if e == "gzip" && excerpt.is_empty()),
                "{kind:?}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains("content-encoding gzip, status 200)"),
                "{text}"
            );
            assert!(
                text.contains("encoded with gzip, which warden did not ask for and cannot decode"),
                "{text}"
            );
        }
        assert_eq!(mock.stats().requests, 2, "{kind:?}: not retried");
    }
}

#[tokio::test]
async fn an_error_object_in_a_200_stream_is_reported_as_sent() {
    for kind in KINDS {
        // A client error type: reported with its type and message, not retried.
        let mock = mock(&["error-event:invalid_request_error"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let err = stream(model.as_ref()).await.unwrap_err();
        assert!(
            matches!(&err, LlmError::InBand { error_type, message, .. }
                if error_type == "invalid_request_error" && message == "mock-llm injected invalid_request_error"),
            "{kind:?}: {err:?}"
        );
        assert_eq!(err.status(), None, "no HTTP status is made up");
        let text = err.to_string();
        assert!(
            text.ends_with(
                "reported an error (invalid_request_error): mock-llm injected invalid_request_error"
            ),
            "{text}"
        );
        // The URL's port may hold any digits; only the rest of the message must not name a status.
        let said = text.replace(&mock.base_url(), "");
        assert!(!said.contains("400") && !said.contains("500"), "{text}");
        assert_eq!(mock.stats().requests, 1, "{kind:?}");
    }
}

#[tokio::test]
async fn a_server_error_object_after_content_is_reported_not_replayed() {
    // OpenAI: the error follows the first text chunk, which already reached the caller.
    let openai = mock(&["error-event:server_error"]).await;
    let model = connect(&provider(ProviderKind::Openai, &openai)).unwrap();
    let err = stream(model.as_ref()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::InBand { error_type, .. } if error_type == "server_error"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(openai.stats().requests, 1, "not replayed after content");
}

/// A config for a loopback server speaking `kind`.
fn loopback(kind: ProviderKind, server: &HostileServer) -> ProviderConfig {
    let mut cfg = ProviderConfig::new(kind, "compat-model");
    cfg.base_url = Some(match kind {
        ProviderKind::Openai => format!("{}/v1", server.url()),
        ProviderKind::Anthropic => server.url(),
        other => panic!("no fixture for {}", other.as_str()),
    });
    cfg.api_key = Some(ApiKey::new("sk-compat"));
    cfg.retry.max_attempts = 1;
    cfg
}

fn event_stream(chunks: &[&str]) -> Reply {
    let mut body = String::new();
    for chunk in chunks {
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    Reply::new(
        200,
        warden_e2e::hostile_http::Body::Fixed(body.into_bytes()),
    )
    .header("content-type", "text/event-stream")
}

#[tokio::test]
async fn a_compatible_server_s_object_arguments_and_missing_ids_are_taken() {
    let body = r#"{"model":"llama3","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"",
        "tool_calls":[{"function":{"name":"add","arguments":{"a":1,"b":2}}},{"function":{"name":"add","arguments":{"a":3,"b":4}}}]}}],
        "usage":{"prompt_tokens":5,"completion_tokens":3}}"#;
    let server = HostileServer::start(vec![Reply::json(200, body)]).await;
    let model = connect(&loopback(ProviderKind::Openai, &server)).unwrap();
    let r = complete(model.as_ref()).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    let args: Vec<&str> = r.tool_calls.iter().map(|c| &*c.arguments).collect();
    assert_eq!(args, [r#"{"a":1,"b":2}"#, r#"{"a":3,"b":4}"#]);
    let (a, b) = (&r.tool_calls[0].id, &r.tool_calls[1].id);
    assert!(!a.is_empty() && !b.is_empty() && a != b, "{a:?} {b:?}");
}

#[tokio::test]
async fn a_compatible_server_s_stream_without_indexes_or_final_finish_reason_is_complete() {
    let server = HostileServer::start(vec![event_stream(&[
        r#"{"choices":[{"delta":{"role":"assistant","content":"Adding."},"finish_reason":null}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"call_a","type":"function","function":{"name":"add","arguments":"{\"a\":"}}]},"finish_reason":null}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"1,\"b\":2}"}}]},"finish_reason":null}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"call_b","type":"function","function":{"name":"add","arguments":{"a":3,"b":4}}}]},"finish_reason":null}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":null}]}"#,
        "[DONE]",
    ])])
    .await;
    let model = connect(&loopback(ProviderKind::Openai, &server)).unwrap();
    let r = stream(model.as_ref()).await.unwrap();
    assert_eq!(r.text.as_deref(), Some("Adding."));
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall::new("call_a", "add", r#"{"a":1,"b":2}"#),
            ToolCall::new("call_b", "add", r#"{"a":3,"b":4}"#),
        ]
    );
}

#[tokio::test]
async fn a_streamed_refusal_ends_as_the_non_streamed_refusal_does() {
    let whole = Reply::json(
        200,
        r#"{"model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}]}"#,
    );
    let streamed = event_stream(&[
        r#"{"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}"#,
        r#"{"model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":"I can't "},"finish_reason":null}]}"#,
        r#"{"model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":"help with that."},"finish_reason":null}]}"#,
        r#"{"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    let server = HostileServer::start(vec![whole, streamed]).await;
    let model = connect(&loopback(ProviderKind::Openai, &server)).unwrap();
    let mut expected = complete(model.as_ref()).await.unwrap();
    let events = model
        .stream(&request("hi"), &Notices::none())
        .await
        .unwrap();
    let got = collect_stream(events, "gpt-4o").await.unwrap();
    expected.model = got.model.clone();
    assert_eq!(got, expected);
    assert_eq!(got.refusal.as_deref(), Some("I can't help with that."));
    assert_eq!(got.text, None);
}

#[tokio::test]
async fn an_anthropic_pause_turn_is_a_paused_answer_not_a_final_one() {
    let mock = MockServer::start(MockConfig {
        behaviour: Behaviour::Script {
            turns: vec![Turn {
                finish: Some("pause_turn".into()),
                ..Turn::text("Searching")
            }],
        },
        api_key: Some(KEY.into()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let model = connect(&provider(ProviderKind::Anthropic, &mock)).unwrap();
    for r in both(model.as_ref()).await.map(Result::unwrap) {
        assert_eq!(r.finish_reason, FinishReason::Paused);
        assert_eq!(r.text.as_deref(), Some("Searching"));
    }
}

#[tokio::test]
async fn an_error_object_in_a_200_json_body_is_reported_and_retried_if_transient() {
    for kind in KINDS {
        let (overloaded, invalid, fine) = match kind {
            ProviderKind::Openai => (
                r#"{"error":{"message":"Overloaded","type":"server_error","code":null}}"#,
                r#"{"error":{"message":"Bad model","type":"invalid_request_error","code":null}}"#,
                r#"{"choices":[{"message":{"content":"fine"},"finish_reason":"stop"}]}"#,
            ),
            ProviderKind::Anthropic => (
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"Bad model"}}"#,
                r#"{"content":[{"type":"text","text":"fine"}],"stop_reason":"end_turn"}"#,
            ),
            other => panic!("no fixture for {}", other.as_str()),
        };
        let replies = [overloaded, fine, invalid].map(|b| Reply::json(200, b));
        let server = HostileServer::start(replies.to_vec()).await;
        let mut cfg = loopback(kind, &server);
        cfg.retry.max_attempts = 3;
        cfg.retry.initial_backoff_ms = 1;
        let model = connect(&cfg).unwrap();
        let r = complete(model.as_ref()).await.unwrap();
        assert_eq!(
            r.text.as_deref(),
            Some("fine"),
            "{kind:?}: the overload was retried"
        );
        assert_eq!(server.requests(), 2);
        let err = complete(model.as_ref()).await.unwrap_err();
        assert!(
            matches!(&err, LlmError::InBand { error_type, message, .. }
                if error_type == "invalid_request_error" && message == "Bad model"),
            "{kind:?}: {err:?}"
        );
        assert_eq!(
            server.requests(),
            3,
            "{kind:?}: a client error is not retried"
        );
    }
}
