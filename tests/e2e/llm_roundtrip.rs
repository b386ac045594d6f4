//! Round trips through the real adapters against the mock: both wire formats, streaming
//! and not, a multi-turn tool loop whose history the mock validates strictly.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use futures::StreamExt;
use mock_llm::{Behaviour, MockConfig, MockServer, ScriptUsage, Turn};
use warden_core::chat::{FinishReason, Message, StreamEvent};
use warden_e2e::llm::{KEY, KINDS, provider, request};
use warden_llm::{Notices, collect_stream, connect};

fn script() -> Behaviour {
    Behaviour::Script {
        turns: vec![
            Turn {
                text: Some("Let me add.".into()),
                tool_calls: vec![
                    mock_llm::ScriptCall {
                        name: "add".into(),
                        arguments: r#"{"a": 1, "b": 2}"#.into(),
                    },
                    mock_llm::ScriptCall {
                        name: "add".into(),
                        arguments: r#"{"a": 3, "b": 4}"#.into(),
                    },
                ],
                usage: Some(ScriptUsage {
                    input_tokens: 120,
                    output_tokens: 30,
                    cached_tokens: 100,
                }),
                finish: None,
            },
            Turn::text("3 and 7, ünïcode ✓"),
        ],
    }
}

async fn mock() -> mock_llm::MockHandle {
    MockServer::start(MockConfig {
        behaviour: script(),
        api_key: Some(KEY.into()),
        record_requests: true,
        faults: vec![],
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn tool_loop_round_trip_non_streaming() {
    for kind in KINDS {
        let mock = mock().await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let mut req = request("add 1+2 and 3+4");
        let first = model.complete(&req, &Notices::none()).await.unwrap();
        assert_eq!(first.finish_reason, FinishReason::ToolCalls, "{kind:?}");
        assert_eq!(first.text.as_deref(), Some("Let me add."));
        assert_eq!(first.tool_calls.len(), 2);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&first.tool_calls[1].arguments).unwrap(),
            serde_json::json!({"a": 3, "b": 4})
        );
        assert_eq!(first.usage.input_tokens, 120);
        assert_eq!(first.usage.cached_tokens, 100);
        assert_eq!(first.model, "mock-model");
        // The second request carries the calls and results; the mock refuses it if unpaired.
        req.messages.push(first.to_message());
        req.messages
            .push(Message::tool_result(&first.tool_calls[0].id, "3", false));
        req.messages
            .push(Message::tool_result(&first.tool_calls[1].id, "7", false));
        let second = model.complete(&req, &Notices::none()).await.unwrap();
        assert_eq!(second.text.as_deref(), Some("3 and 7, ünïcode ✓"));
        assert_eq!(second.finish_reason, FinishReason::Stop);
        let stats = mock.stats();
        assert_eq!(
            (stats.requests, stats.ok_responses, stats.validation_errors),
            (2, 2, 0)
        );
    }
}

#[tokio::test]
async fn tool_loop_round_trip_streaming() {
    for kind in KINDS {
        let mock = mock().await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let mut req = request("add");
        let stream = model.stream(&req, &Notices::none()).await.unwrap();
        let first = collect_stream(stream, model.model_name()).await.unwrap();
        assert_eq!(first.finish_reason, FinishReason::ToolCalls, "{kind:?}");
        assert_eq!(first.text.as_deref(), Some("Let me add."));
        assert_eq!(&*first.tool_calls[0].arguments, r#"{"a": 1, "b": 2}"#);
        assert_eq!(first.usage.output_tokens, 30);
        assert_eq!(first.usage.input_tokens, 120, "{kind:?}");
        req.messages.push(first.to_message());
        for (call, result) in first.tool_calls.iter().zip(["3", "7"]) {
            req.messages
                .push(Message::tool_result(&call.id, result, false));
        }
        let mut stream = model.stream(&req, &Notices::none()).await.unwrap();
        let mut text = String::new();
        let mut finished = false;
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                StreamEvent::TextDelta { text: t } => text.push_str(&t),
                StreamEvent::Finish { reason } => finished = reason == FinishReason::Stop,
                _ => {}
            }
        }
        assert!(finished);
        assert_eq!(text, "3 and 7, ünïcode ✓");
        let stats = mock.stats();
        assert_eq!(
            (
                stats.streaming_requests,
                stats.streams_completed,
                stats.validation_errors
            ),
            (2, 2, 0)
        );
    }
}

#[tokio::test]
async fn requests_carry_the_documented_wire_fields() {
    for kind in KINDS {
        let mock = mock().await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let stream = model
            .stream(&request("hi"), &Notices::none())
            .await
            .unwrap();
        collect_stream(stream, "m").await.unwrap();
        let sent = &mock.requests()[0].body;
        assert_eq!(sent["stream"], true);
        match kind {
            warden_llm::ProviderKind::Openai => {
                assert_eq!(sent["stream_options"]["include_usage"], true);
                assert_eq!(sent["tool_choice"], "auto");
                assert_eq!(sent["parallel_tool_calls"], true);
                assert_eq!(sent["messages"][0]["role"], "system");
            }
            warden_llm::ProviderKind::Anthropic => {
                assert_eq!(sent["system"], "You are a test.");
                assert_eq!(sent["messages"][0]["role"], "user");
                assert_eq!(sent["tool_choice"]["type"], "auto");
            }
            other => panic!("no fixture for {}", other.as_str()),
        }
    }
}

#[tokio::test]
async fn invalid_history_gets_the_providers_400_message_without_retry() {
    for kind in KINDS {
        let mock = mock().await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let mut req = request("x");
        req.messages
            .push(Message::tool_result("call_nobody_made", "r", false));
        let err = model.complete(&req, &Notices::none()).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{kind:?}: {err}");
        assert!(err.to_string().contains("tool"), "{err}");
        assert_eq!(mock.stats().requests, 1);
    }
}

/// HTTP/2 with prior knowledge (h2c) to a plain-HTTP server: the client sends only the
/// HTTP/2 preface, so an answer proves both sides spoke HTTP/2; streaming included.
#[tokio::test]
async fn http2_prior_knowledge_round_trip_streaming_and_not() {
    for kind in KINDS {
        let mock = MockServer::start(MockConfig {
            behaviour: Behaviour::Echo,
            api_key: Some(KEY.into()),
            record_requests: false,
            faults: vec![],
        })
        .await
        .unwrap();
        let mut cfg = provider(kind, &mock);
        cfg.http2_prior_knowledge = true;
        let model = connect(&cfg).unwrap();
        let req = request("over h2c");
        let whole = model.complete(&req, &Notices::none()).await.unwrap();
        assert_eq!(whole.text.as_deref(), Some("over h2c"), "{kind:?}");
        let stream = model.stream(&req, &Notices::none()).await.unwrap();
        let streamed = collect_stream(stream, "mock-model").await.unwrap();
        assert_eq!(streamed.text.as_deref(), Some("over h2c"), "{kind:?}");
        assert_eq!(mock.stats().requests, 2, "{kind:?}");
    }
}
