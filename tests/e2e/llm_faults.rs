//! Every fault the mock injects produces the documented client behaviour: what is retried
//! (seen in the mock's stats and the Retry notices with their delays), what is not, and
//! that nothing is replayed once part of a stream reached the caller.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::Duration;

use futures::StreamExt;
use mock_llm::{Behaviour, Fault, MockConfig, MockHandle, MockServer, Turn};
use warden_core::chat::{ChatResponse, StreamEvent};
use warden_e2e::llm::{KEY, KINDS, drain, provider, request, retry_delays};
use warden_llm::{
    LlmError, LlmNotice, Model, Notices, ProviderKind, TimeoutPhase, collect_stream, connect,
};

const LONG: &str =
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";

async fn mock(faults: &[&str]) -> MockHandle {
    MockServer::start(MockConfig {
        behaviour: Behaviour::Script {
            turns: vec![Turn::text(LONG)],
        },
        api_key: Some(KEY.into()),
        record_requests: false,
        faults: faults.iter().map(|f| f.parse::<Fault>().unwrap()).collect(),
    })
    .await
    .unwrap()
}

/// Streams the answer to "hi" (opening the stream must succeed) and collects it.
async fn stream_hi(model: &dyn Model) -> Result<ChatResponse, LlmError> {
    let stream = model
        .stream(&request("hi"), &Notices::none())
        .await
        .unwrap();
    collect_stream(stream, "m").await
}

fn notices() -> (Notices, tokio::sync::mpsc::UnboundedReceiver<LlmNotice>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (Notices::new(tx), rx)
}

#[tokio::test]
async fn status_429_is_retried_after_retry_after_ms() {
    for kind in KINDS {
        let mock = mock(&["status:429:retry-after-ms=40"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let (n, mut rx) = notices();
        let r = model.complete(&request("hi"), &n).await.unwrap();
        assert_eq!(r.text.as_deref(), Some(LONG));
        let stats = mock.stats();
        assert_eq!(stats.requests, 2, "{kind:?}");
        assert_eq!(stats.faults["status:429"], 1);
        assert_eq!(
            retry_delays(&drain(&mut rx)),
            vec![Duration::from_millis(40)]
        );
    }
}

#[tokio::test]
async fn retry_after_seconds_and_http_date_are_honoured() {
    let mock = mock(&["status:503:retry-after=1", "status:529:retry-after-date=2"]).await;
    let model = connect(&provider(ProviderKind::Anthropic, &mock)).unwrap();
    let (n, mut rx) = notices();
    let mut cfg = provider(ProviderKind::Anthropic, &mock);
    cfg.retry.max_attempts = 3;
    model.complete(&request("hi"), &n).await.unwrap();
    let delays = retry_delays(&drain(&mut rx));
    assert_eq!(delays.len(), 2);
    assert_eq!(delays[0], Duration::from_secs(1));
    // An HTTP date has whole seconds: the wait is what remains until it, at most 2 s.
    assert!(
        delays[1] > Duration::ZERO && delays[1] <= Duration::from_secs(2),
        "{:?}",
        delays[1]
    );
    assert_eq!(mock.stats().requests, 3);
}

#[tokio::test]
async fn every_retryable_status_is_retried_and_exhaustion_reports_attempts() {
    for status in [408, 409, 500, 502, 503, 504, 529] {
        let f = format!("status:{status}");
        let mock = mock(&[&f, &f, &f]).await;
        let model = connect(&provider(ProviderKind::Openai, &mock)).unwrap();
        let err = model
            .complete(&request("hi"), &Notices::none())
            .await
            .unwrap_err();
        assert!(
            matches!(err, LlmError::Server { attempts: 3, .. }),
            "{status}: {err:?}"
        );
        assert_eq!(mock.stats().requests, 3, "{status}");
    }
    let limited = mock(&["status:429", "status:429", "status:429"]).await;
    let err = connect(&provider(ProviderKind::Openai, &limited))
        .unwrap()
        .complete(&request("hi"), &Notices::none())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400, 401, 403, 404, 422] {
        let f = format!("status:{status}");
        let mock = mock(&[&f]).await;
        let model = connect(&provider(ProviderKind::Anthropic, &mock)).unwrap();
        let err = model
            .complete(&request("hi"), &Notices::none())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err}");
        assert!(!err.is_retryable());
        assert_eq!(mock.stats().requests, 1, "{status}");
    }
}

#[tokio::test]
async fn a_wrong_key_fails_at_once_with_a_clear_message() {
    let mock = mock(&[]).await;
    let mut cfg = provider(ProviderKind::Openai, &mock);
    cfg.api_key = Some(warden_llm::ApiKey::new("sk-wrong-key-987654"));
    let err = connect(&cfg)
        .unwrap()
        .complete(&request("hi"), &Notices::none())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "401 from {}/chat/completions: the API key was rejected; set OPENAI_API_KEY",
            mock.openai_base_url()
        )),
        "{text}"
    );
    // The mock quotes the wrong key back; the error must not.
    assert!(
        !text.contains("sk-wrong-key-987654")
            && !format!("{err:?}").contains("sk-wrong-key-987654"),
        "{text}"
    );
    assert_eq!((mock.stats().requests, mock.stats().auth_failures), (1, 1));
}

#[tokio::test]
async fn streaming_request_answered_with_a_json_error_is_retried() {
    for kind in KINDS {
        let mock = mock(&["status:503"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let r = stream_hi(model.as_ref()).await.unwrap();
        assert_eq!(r.text.as_deref(), Some(LONG));
        assert_eq!(mock.stats().requests, 2);
    }
}

#[tokio::test]
async fn a_stream_cut_before_any_content_is_retried() {
    for kind in KINDS {
        // One event: OpenAI's role chunk / Anthropic's message_start carry no content.
        let mock = mock(&["cut:1"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let (n, mut rx) = notices();
        let r = collect_stream(model.stream(&request("hi"), &n).await.unwrap(), "m")
            .await
            .unwrap();
        assert_eq!(r.text.as_deref(), Some(LONG), "{kind:?}");
        assert_eq!(mock.stats().requests, 2);
        assert_eq!(mock.stats().faults["cut"], 1);
        assert_eq!(retry_delays(&drain(&mut rx)).len(), 1);
    }
}

#[tokio::test]
async fn a_stream_cut_after_content_is_reported_never_replayed() {
    for kind in KINDS {
        let mock = mock(&["cut:5"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let mut stream = model
            .stream(&request("hi"), &Notices::none())
            .await
            .unwrap();
        let mut texts = 0;
        let mut error = None;
        while let Some(e) = stream.next().await {
            match e {
                Ok(StreamEvent::TextDelta { .. }) => texts += 1,
                Ok(_) => {}
                Err(e) => error = Some(e),
            }
        }
        assert!(texts > 0, "{kind:?}");
        assert!(
            matches!(error, Some(LlmError::StreamCut { .. })),
            "{kind:?}: {error:?}"
        );
        assert_eq!(mock.stats().requests, 1, "no replay after partial delivery");
    }
}

#[tokio::test]
async fn an_error_event_before_content_is_retried_after_content_is_delivered() {
    // Anthropic: the error follows message_start and content_block_start (no content yet).
    let anthropic = mock(&["error-event:overloaded_error"]).await;
    let model = connect(&provider(ProviderKind::Anthropic, &anthropic)).unwrap();
    let r = stream_hi(model.as_ref()).await.unwrap();
    assert_eq!(r.text.as_deref(), Some(LONG));
    assert_eq!(anthropic.stats().requests, 2);
    // OpenAI: the error follows the first text chunk, which already reached the caller.
    let openai = mock(&["error-event:server_error"]).await;
    let model = connect(&provider(ProviderKind::Openai, &openai)).unwrap();
    let err = stream_hi(model.as_ref()).await.unwrap_err();
    assert!(matches!(err, LlmError::InBand { .. }), "{err:?}");
    assert_eq!(openai.stats().requests, 1);
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response_and_not_retried() {
    for kind in KINDS {
        let mock = mock(&["malformed", "malformed"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let err = model
            .complete(&request("hi"), &Notices::none())
            .await
            .unwrap_err();
        assert!(matches!(err, LlmError::InvalidResponse { .. }), "{err:?}");
        // The malformed chunk comes before any content, so it fails the stream call itself.
        let err = model.stream(&request("hi"), &Notices::none()).await.err();
        assert!(
            matches!(err, Some(LlmError::InvalidResponse { .. })),
            "{kind:?}: {err:?}"
        );
        assert_eq!(mock.stats().requests, 2);
    }
}

#[tokio::test]
async fn empty_choices_are_refused() {
    let mock = mock(&["empty-choices", "empty-choices"]).await;
    let model = connect(&provider(ProviderKind::Openai, &mock)).unwrap();
    let err = model
        .complete(&request("hi"), &Notices::none())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no choices"), "{err}");
    let err = stream_hi(model.as_ref()).await.unwrap_err();
    assert!(matches!(err, LlmError::Truncated { .. }), "{err:?}");
}

#[tokio::test]
async fn truncated_tool_arguments_are_never_passed_on() {
    for kind in KINDS {
        let mock = mock(&["truncated-args", "truncated-args"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        let err = model
            .complete(&request("hi"), &Notices::none())
            .await
            .unwrap_err();
        assert!(
            matches!(err, LlmError::Truncated { .. }),
            "{kind:?}: {err:?}"
        );
        let err = stream_hi(model.as_ref()).await.unwrap_err();
        assert!(
            matches!(err, LlmError::Truncated { .. }),
            "{kind:?}: {err:?}"
        );
        assert_eq!(mock.stats().requests, 2);
    }
}

#[tokio::test]
async fn slow_trickle_gives_the_same_response() {
    for kind in KINDS {
        let mock = mock(&["trickle:5", "trickle:5"]).await;
        let model = connect(&provider(kind, &mock)).unwrap();
        assert_eq!(
            model
                .complete(&request("hi"), &Notices::none())
                .await
                .unwrap()
                .text
                .as_deref(),
            Some(LONG)
        );
        let r = stream_hi(model.as_ref()).await.unwrap();
        assert_eq!(r.text.as_deref(), Some(LONG));
        assert_eq!(mock.stats().faults["trickle"], 2);
    }
}

#[tokio::test]
async fn latency_beyond_the_request_timeout_is_a_retried_timeout() {
    let mock = mock(&["latency:3000"]).await;
    let mut cfg = provider(ProviderKind::Openai, &mock);
    cfg.timeouts.request_ms = 150;
    let (n, mut rx) = notices();
    connect(&cfg)
        .unwrap()
        .complete(&request("hi"), &n)
        .await
        .unwrap();
    let notices = drain(&mut rx);
    assert!(
        matches!(&notices[..], [LlmNotice::Retry { attempt: 1, cause, .. }] if cause.contains("request timeout")),
        "{notices:?}"
    );
    assert_eq!(mock.stats().requests, 2);
}

#[tokio::test]
async fn a_stall_mid_stream_hits_the_idle_timeout() {
    let mock = mock(&["stall:4:ms=5000"]).await;
    let mut cfg = provider(ProviderKind::Anthropic, &mock);
    cfg.timeouts.idle_ms = 150;
    let err = stream_hi(connect(&cfg).unwrap().as_ref())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Timeout {
                phase: TimeoutPhase::Idle,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.stats().requests, 1);
}

/// The idle timeout is the longest gap between events, not the length of the stream: a
/// stream whose events come every 30 ms and lasts well over the 300 ms limit completes.
#[tokio::test]
async fn a_steady_stream_longer_than_the_idle_timeout_completes() {
    for kind in KINDS {
        let mock = mock(&["trickle:30"]).await;
        let mut cfg = provider(kind, &mock);
        cfg.timeouts.idle_ms = 300;
        let started = std::time::Instant::now();
        let r = stream_hi(connect(&cfg).unwrap().as_ref()).await.unwrap();
        assert_eq!(r.text.as_deref(), Some(LONG), "{kind:?}");
        // The premise, not a speed check: the stream outlasted the idle limit.
        assert!(started.elapsed() > Duration::from_millis(300), "{kind:?}");
    }
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mock = mock(&[]).await;
    let mut cfg = provider(ProviderKind::Openai, &mock);
    cfg.base_url = Some(format!("http://127.0.0.1:{port}/v1"));
    let (n, mut rx) = notices();
    let err = connect(&cfg)
        .unwrap()
        .complete(&request("hi"), &n)
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Connection { .. }), "{err:?}");
    assert_eq!(
        retry_delays(&drain(&mut rx)).len(),
        2,
        "3 attempts, 2 retries"
    );
}

#[tokio::test]
async fn dropping_a_stream_closes_the_connection() {
    let mock = mock(&["trickle:20"]).await;
    let model = connect(&provider(ProviderKind::Openai, &mock)).unwrap();
    let mut stream = model
        .stream(&request("hi"), &Notices::none())
        .await
        .unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    warden_e2e::llm::eventually("the mock sees the stream aborted", || {
        mock.stats().streams_aborted == 1
    })
    .await;
    assert_eq!(mock.stats().streams_completed, 0);
}

#[tokio::test]
async fn dropping_a_request_future_cancels_it() {
    let mock = mock(&["latency:5000"]).await;
    let model = connect(&provider(ProviderKind::Anthropic, &mock)).unwrap();
    let req = request("hi");
    let n = Notices::none();
    let call = model.complete(&req, &n);
    // Give the request time to reach the mock, then drop it.
    let _ = tokio::time::timeout(Duration::from_millis(300), call).await;
    warden_e2e::llm::eventually("the mock sees the request cancelled", || {
        mock.stats().requests_cancelled == 1
    })
    .await;
    assert_eq!(mock.stats().requests, 1);
}
