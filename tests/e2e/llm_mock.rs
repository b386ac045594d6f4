//! The mock's own HTTP surface: the fault header, the admin queue, the stats endpoint and
//! the header checks of the Anthropic API, spoken to with a plain HTTP client.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use mock_llm::{MockConfig, MockServer};
use serde_json::{Value, json};

fn chat() -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]})
}

#[tokio::test]
async fn fault_header_admin_queue_and_stats() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.openai_base_url());

    let r = http
        .post(&url)
        .header("x-mock-fault", "status:429:retry-after=7")
        .json(&chat())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    let r = http
        .post(format!("{}/admin/faults", mock.base_url()))
        .json(&json!({"faults": ["explode"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown fault name"));
    let r = http
        .post(format!("{}/admin/faults", mock.base_url()))
        .json(&json!({"faults": ["status:503"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        http.post(&url).json(&chat()).send().await.unwrap().status(),
        503
    );

    // Echo behaviour by default.
    let body: Value = http
        .post(&url)
        .json(&chat())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "hello");

    let stats: Value = http
        .get(format!("{}/stats", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["ok_responses"], 1);
    assert_eq!(stats["faults"], json!({"status:429": 1, "status:503": 1}));
}

#[tokio::test]
async fn anthropic_headers_are_required() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/messages", mock.base_url());
    let body =
        json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let r = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&url)
        .header("x-api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(
        err["error"]["message"],
        "anthropic-version: header is required"
    );
    let r = http
        .post(&url)
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(mock.stats().auth_failures, 1);
}
