//! The client-side rate limiter, shared by every caller of one model: token budget waits,
//! and a 429 that pauses other callers.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use mock_llm::{Behaviour, Fault, MockConfig, MockServer, Turn};
use warden_e2e::llm::{KEY, drain, provider, request};
use warden_llm::{LlmNotice, Notices, ProviderKind, connect};

#[tokio::test]
async fn a_token_budget_held_by_one_request_makes_the_next_wait() {
    let mock = MockServer::start(MockConfig {
        behaviour: Behaviour::Script {
            turns: vec![Turn::text("ok")],
        },
        api_key: Some(KEY.into()),
        record_requests: false,
        faults: vec!["latency:300".parse::<Fault>().unwrap()],
    })
    .await
    .unwrap();
    let mut cfg = provider(ProviderKind::Openai, &mock);
    cfg.rate_limits.tpm = 3000;
    let mut req = request("hi");
    req.settings.max_tokens = 2000;
    let model = connect(&cfg).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let first = Notices::new(tx.clone());
    let second = Notices::new(tx);
    let (a, b) = tokio::join!(model.complete(&req, &first), async {
        // Start once the first request holds its reservation (it is in the mock's latency).
        warden_e2e::llm::eventually("the first request reached the mock", || {
            mock.stats().requests == 1
        })
        .await;
        model.complete(&req, &second).await
    });
    a.unwrap();
    b.unwrap();
    let waits: Vec<_> = drain(&mut rx)
        .into_iter()
        .filter(|n| matches!(n, LlmNotice::RateLimitWait { .. }))
        .collect();
    assert!(
        matches!(&waits[..], [LlmNotice::RateLimitWait { reason, .. }] if reason.contains("3000 tokens per minute")),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_429_pauses_other_callers_of_the_same_model() {
    let mock = MockServer::start(MockConfig {
        behaviour: Behaviour::Script {
            turns: vec![Turn::text("ok")],
        },
        api_key: Some(KEY.into()),
        record_requests: false,
        faults: vec!["status:429:retry-after-ms=300".parse::<Fault>().unwrap()],
    })
    .await
    .unwrap();
    let model = connect(&provider(ProviderKind::Anthropic, &mock)).unwrap();
    let req = request("hi");
    let (tx_a, mut rx_a) = tokio::sync::mpsc::unbounded_channel();
    let (tx_b, mut rx_b) = tokio::sync::mpsc::unbounded_channel();
    let (na, nb) = (Notices::new(tx_a), Notices::new(tx_b));
    let (a, b) = tokio::join!(model.complete(&req, &na), async {
        // B starts once A has been told to retry, i.e. after the 429 tightened the limiter.
        let first = rx_a.recv().await;
        assert!(matches!(first, Some(LlmNotice::Retry { .. })), "{first:?}");
        model.complete(&req, &nb).await
    });
    a.unwrap();
    b.unwrap();
    let waits = drain(&mut rx_b);
    assert!(
        matches!(&waits[..], [LlmNotice::RateLimitWait { reason, .. }] if reason.contains("429")),
        "{waits:?}"
    );
    assert_eq!(mock.stats().requests, 3);
}
