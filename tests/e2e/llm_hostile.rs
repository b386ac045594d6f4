//! Hostile model servers (and proxies) on loopback: what a server says can neither crash
//! the host nor hold it. Huge waits, endless bodies, lines, events and error pages,
//! silence and endless pings each end the call with a typed error naming the limit and what
//! to change, memory stays bounded (the server sees the client stop reading), and the next
//! benign call on the same model is fine.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::Duration;

use futures::StreamExt;
use warden_core::chat::ChatResponse;
use warden_e2e::hostile_http::{Body, HostileServer, Reply};
use warden_e2e::llm::{KINDS, request};
use warden_llm::{
    ApiKey, LlmError, Model, Notices, ProviderConfig, ProviderKind, RetryPolicy, SizeCap,
    TimeoutPhase, collect_stream, connect,
};

/// Slack for what sits in the loopback socket buffers when the client stops reading.
const SOCKET_SLACK: u64 = 16 << 20;
/// A test that would hang (or read without end) before the fix fails at this bound.
const BOUND: Duration = Duration::from_secs(30);

/// A config for `server` with quick retries (3 attempts) and small size caps.
fn provider(kind: ProviderKind, server: &HostileServer) -> ProviderConfig {
    let mut cfg = ProviderConfig::new(kind, "hostile-model");
    cfg.base_url = Some(match kind {
        ProviderKind::Openai => format!("{}/v1", server.url()),
        ProviderKind::Anthropic => server.url(),
        other => panic!("no fixture for {}", other.as_str()),
    });
    cfg.api_key = Some(ApiKey::new("sk-hostile-test-key"));
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff_ms: 1,
        max_backoff_ms: 5,
        ..RetryPolicy::default()
    };
    cfg.response_limits.max_body_bytes = 1 << 20;
    cfg.response_limits.max_event_bytes = 64 << 10;
    cfg.response_limits.max_stream_bytes = 1 << 20;
    cfg
}

/// A complete, benign answer in the provider's format.
fn benign(kind: ProviderKind) -> Reply {
    Reply::json(
        200,
        match kind {
            ProviderKind::Openai => {
                r#"{"model":"m","choices":[{"message":{"content":"fine"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#
            }
            ProviderKind::Anthropic => {
                r#"{"model":"m","content":[{"type":"text","text":"fine"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}"#
            }
            other => panic!("no fixture for {}", other.as_str()),
        },
    )
}

fn sse(prefix: &str, chunk: &str, every: Duration) -> Body {
    Body::Repeat {
        prefix: prefix.as_bytes().to_vec(),
        chunk: chunk.as_bytes().to_vec(),
        every,
        max: 256 << 20,
    }
}

fn event_stream(body: Body) -> Reply {
    Reply::new(200, body).header("content-type", "text/event-stream")
}

async fn complete(model: &dyn Model) -> Result<ChatResponse, LlmError> {
    tokio::time::timeout(BOUND, model.complete(&request("hi"), &Notices::none()))
        .await
        .expect("the call ended within the bound")
}

/// Opens a stream and collects it: the error of whichever step fails.
async fn stream(model: &dyn Model) -> Result<ChatResponse, LlmError> {
    let call = async {
        let events = model.stream(&request("hi"), &Notices::none()).await?;
        collect_stream(events, "m").await
    };
    tokio::time::timeout(BOUND, call)
        .await
        .expect("the call ended within the bound")
}

/// The next call on the same model is fine (the server answers benignly from now on).
async fn next_call_is_fine(model: &dyn Model) {
    assert_eq!(complete(model).await.unwrap().text.as_deref(), Some("fine"));
}

#[tokio::test]
async fn a_retry_after_beyond_any_duration_fails_the_call_instead_of_the_process() {
    for kind in KINDS {
        for (header, value) in [
            ("retry-after", "1e20"),
            ("retry-after", "inf"),
            ("retry-after-ms", "1e300"),
            ("retry-after", "61"),
        ] {
            let limited = Reply::json(429, "{}").header(header, value);
            let server = HostileServer::start(vec![limited, benign(kind)]).await;
            let model = connect(&provider(kind, &server)).unwrap();
            let err = complete(model.as_ref()).await.unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(&err, LlmError::RetryAfterTooLong { status: 429, value: v, cap, .. }
                    if v == value && *cap == Duration::from_secs(60)),
                "{kind:?} {header}: {err:?}"
            );
            assert!(text.contains("raise retry.max_retry_after_ms"), "{text}");
            assert!(text.contains(value), "{text}");
            assert_eq!(server.requests(), 1, "a wait that long is not retried");
            next_call_is_fine(model.as_ref()).await;
        }
    }
}

#[tokio::test]
async fn a_streaming_call_told_to_wait_forever_fails_the_same_way() {
    let limited = Reply::json(503, "{}").header("retry-after", "1e20");
    let server = HostileServer::start(vec![limited, benign(ProviderKind::Anthropic)]).await;
    let model = connect(&provider(ProviderKind::Anthropic, &server)).unwrap();
    let err = stream(model.as_ref()).await.unwrap_err();
    assert!(
        matches!(err, LlmError::RetryAfterTooLong { status: 503, .. }),
        "{err:?}"
    );
    next_call_is_fine(model.as_ref()).await;
}

#[tokio::test]
async fn an_endless_body_fails_at_the_body_cap() {
    for kind in KINDS {
        let endless = Reply::new(200, sse("{\"choices\":[", "{},", Duration::ZERO))
            .header("content-type", "application/json");
        let server = HostileServer::start(vec![endless, benign(kind)]).await;
        let model = connect(&provider(kind, &server)).unwrap();
        let err = complete(model.as_ref()).await.unwrap_err();
        assert!(
            matches!(err, LlmError::ResponseTooLarge { what: SizeCap::Body, limit, .. } if limit == 1 << 20),
            "{kind:?}: {err:?}"
        );
        assert!(err.to_string().contains("response_limits.max_body_bytes"));
        assert_eq!(server.requests(), 1, "not retried");
        assert!(server.body_bytes_sent() < (1 << 20) + SOCKET_SLACK);
        next_call_is_fine(model.as_ref()).await;
    }
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    // 10 GiB announced, then one byte a second: only the announcement is needed to refuse.
    let announced = Reply::new(200, sse("{", " ", Duration::from_secs(1)))
        .header("content-type", "application/json")
        .header("content-length", "10737418240");
    let server = HostileServer::start(vec![announced, benign(ProviderKind::Openai)]).await;
    let model = connect(&provider(ProviderKind::Openai, &server)).unwrap();
    let err = complete(model.as_ref()).await.unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::ResponseTooLarge {
                what: SizeCap::Body,
                ..
            }
        ),
        "{err:?}"
    );
    next_call_is_fine(model.as_ref()).await;
}

#[tokio::test]
async fn one_endless_sse_line_fails_at_the_event_cap() {
    for kind in KINDS {
        let endless = event_stream(sse("data: ", "xxxxxxxxxxxxxxxx", Duration::ZERO));
        let server = HostileServer::start(vec![endless, benign(kind)]).await;
        let model = connect(&provider(kind, &server)).unwrap();
        let err = stream(model.as_ref()).await.unwrap_err();
        assert!(
            matches!(err, LlmError::ResponseTooLarge { what: SizeCap::Event, limit, .. } if limit == 64 << 10),
            "{kind:?}: {err:?}"
        );
        assert!(err.to_string().contains("one stream event"), "{err}");
        assert_eq!(server.requests(), 1, "not retried");
        assert!(server.body_bytes_sent() < (64 << 10) + SOCKET_SLACK);
        next_call_is_fine(model.as_ref()).await;
    }
}

#[tokio::test]
async fn endless_small_events_fail_at_the_stream_cap() {
    let chunk = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"more \"}}]}\n\n";
    let endless = event_stream(sse("", chunk, Duration::ZERO));
    let server = HostileServer::start(vec![endless, benign(ProviderKind::Openai)]).await;
    let model = connect(&provider(ProviderKind::Openai, &server)).unwrap();
    let mut events = model
        .stream(&request("hi"), &Notices::none())
        .await
        .unwrap();
    let mut texts = 0;
    let err = tokio::time::timeout(BOUND, async {
        loop {
            match events.next().await {
                Some(Ok(_)) => texts += 1,
                Some(Err(e)) => break e,
                None => panic!("an endless stream ended"),
            }
        }
    })
    .await
    .unwrap();
    assert!(
        texts > 1000,
        "the content before the cap was delivered: {texts}"
    );
    assert!(
        matches!(err, LlmError::ResponseTooLarge { what: SizeCap::Stream, limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert!(events.next().await.is_none(), "nothing after the error");
    drop(events);
    assert!(server.body_bytes_sent() < (1 << 20) + SOCKET_SLACK);
    next_call_is_fine(model.as_ref()).await;
}

#[tokio::test]
async fn an_endless_error_page_is_read_only_in_part() {
    let page = Reply::new(500, sse("<html>", "<p>oops</p>", Duration::ZERO))
        .header("content-type", "text/html");
    let server = HostileServer::start(vec![page.clone(), page.clone(), page]).await;
    let model = connect(&provider(ProviderKind::Openai, &server)).unwrap();
    let err = complete(model.as_ref()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::NonJson { status: 500, attempts: 3, excerpt, .. }
            if excerpt.starts_with("oops oops") && excerpt.chars().count() <= 201),
        "{err:?}"
    );
    assert!(server.body_bytes_sent() < 3 * ((64 << 10) + SOCKET_SLACK));
}

#[tokio::test]
async fn headers_then_silence_end_in_a_timeout() {
    for kind in KINDS {
        let silent = event_stream(Body::Silent);
        let server = HostileServer::start(vec![silent]).await;
        let mut cfg = provider(kind, &server);
        cfg.timeouts.idle_ms = 200;
        cfg.timeouts.request_ms = 200;
        let model = connect(&cfg).unwrap();
        let err = stream(model.as_ref()).await.unwrap_err();
        assert!(
            matches!(
                err,
                LlmError::Timeout {
                    phase: TimeoutPhase::Idle,
                    ..
                }
            ),
            "{kind:?}: {err:?}"
        );
        let err = complete(model.as_ref()).await.unwrap_err();
        assert!(
            matches!(
                err,
                LlmError::Timeout {
                    phase: TimeoutPhase::Request,
                    ..
                }
            ),
            "{kind:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn pings_forever_end_at_the_stream_deadline() {
    let ping = "event: ping\ndata: {\"type\":\"ping\"}\n\n";
    let pings = event_stream(sse("", ping, Duration::from_millis(10)));
    let server = HostileServer::start(vec![pings, benign(ProviderKind::Anthropic)]).await;
    let mut cfg = provider(ProviderKind::Anthropic, &server);
    cfg.retry.max_attempts = 1;
    cfg.timeouts.idle_ms = 1_000;
    cfg.timeouts.stream_ms = 300;
    let model = connect(&cfg).unwrap();
    let err = stream(model.as_ref()).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Timeout { phase: TimeoutPhase::Stream, after, .. }
            if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("stream timeout"), "{err}");
    next_call_is_fine(model.as_ref()).await;
}

#[tokio::test]
async fn absurd_usage_counts_saturate() {
    let openai = r#"{"choices":[{"message":{"content":"fine"},"finish_reason":"stop"}],"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":9}}"#;
    let anthropic = r#"{"content":[{"type":"text","text":"fine"}],"stop_reason":"end_turn","usage":{"input_tokens":18446744073709551615,"cache_read_input_tokens":18446744073709551615,"output_tokens":9}}"#;
    for (kind, body) in [
        (ProviderKind::Openai, openai),
        (ProviderKind::Anthropic, anthropic),
    ] {
        let server = HostileServer::start(vec![Reply::json(200, body)]).await;
        let model = connect(&provider(kind, &server)).unwrap();
        let r = complete(model.as_ref()).await.unwrap();
        assert_eq!(r.usage.input_tokens, u64::MAX, "{kind:?}");
        assert_eq!(r.usage.total(), u64::MAX, "{kind:?}");
        // The next call goes as well.
        complete(model.as_ref()).await.unwrap();
    }
}
