//! Shared helpers for warden's end-to-end tests.

pub mod hostile_http;
pub mod sandbox;

/// The first of `candidates` that runs (`--version` succeeds), unless the environment
/// variable `var` names the tool: how the language-example tests find componentize-py and
/// componentize-js (on `PATH`, or where `.ci/run` installs them).
pub fn find_tool(var: &str, candidates: &[std::path::PathBuf]) -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(path.into());
    }
    let works = |p: &std::path::Path| {
        std::process::Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    candidates.iter().find(|p| works(p)).cloned()
}

/// Helpers for the LLM interface tests (`e2e/llm*.rs`).
pub mod llm {
    use std::time::Duration;

    use mock_llm::MockHandle;
    use warden_core::chat::{ChatRequest, Message, RequestSettings, ToolChoice, ToolSpec};
    use warden_llm::{ApiKey, LlmNotice, ProviderConfig, ProviderKind, RetryPolicy, Timeouts};

    /// The key the mock is started with.
    pub const KEY: &str = "sk-e2e-0123456789-secret";

    /// Both wire formats, for tests that run against each.
    pub const KINDS: [ProviderKind; 2] = [ProviderKind::Openai, ProviderKind::Anthropic];

    /// A provider config pointing at the mock, with fast retries and the right key.
    pub fn provider(kind: ProviderKind, mock: &MockHandle) -> ProviderConfig {
        let mut cfg = ProviderConfig::new(kind, "mock-model");
        cfg.base_url = Some(match kind {
            ProviderKind::Openai => mock.openai_base_url(),
            ProviderKind::Anthropic => mock.base_url(),
            other => panic!("mock-llm does not speak {}", other.as_str()),
        });
        cfg.api_key = Some(ApiKey::new(KEY));
        cfg.retry = RetryPolicy {
            max_attempts: 3,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            multiplier: 2.0,
            max_total_ms: 30_000,
            ..RetryPolicy::default()
        };
        cfg.timeouts = Timeouts {
            connect_ms: 2_000,
            request_ms: 10_000,
            idle_ms: 10_000,
            ..Timeouts::default()
        };
        cfg
    }

    /// A first-turn request with one tool offered.
    pub fn request(text: &str) -> ChatRequest {
        ChatRequest {
            cache: Default::default(),
            settings: RequestSettings {
                model: String::new(),
                max_tokens: 256,
                temperature: Some(0.0),
                tool_choice: ToolChoice::Auto,
                parallel_tool_calls: true,
                options: Default::default(),
            },
            messages: vec![Message::system("You are a test."), Message::user(text)],
            tools: vec![ToolSpec {
                name: "add".into(),
                description: "Adds two numbers".into(),
                parameters: serde_json::json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}),
            }].into(),
        }
    }

    /// Every notice received so far.
    pub fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<LlmNotice>) -> Vec<LlmNotice> {
        let mut out = Vec::new();
        while let Ok(n) = rx.try_recv() {
            out.push(n);
        }
        out
    }

    /// The retry delays announced, in order.
    pub fn retry_delays(notices: &[LlmNotice]) -> Vec<Duration> {
        notices
            .iter()
            .filter_map(|n| {
                if let LlmNotice::Retry { delay, .. } = n {
                    Some(*delay)
                } else {
                    None
                }
            })
            .collect()
    }

    /// Polls `check` until it holds (the mock counts asynchronously), failing after 10 s.
    pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
        for _ in 0..1000 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never happened: {what}");
    }
}
