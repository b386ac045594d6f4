//! Helpers for the agent-loop tests: a mock LLM server per test, an agent file built from
//! TOML text with the real guest components, a runner for either wire format, streaming or
//! not, and readers for what the mock received.

use mock_llm::{
    Behaviour, MockConfig, MockHandle, MockServer, RecordedRequest, ScriptCall, ScriptUsage, Turn,
};
use serde_json::Value;
use warden::AgentDef;
use warden::{Agent, RunHandle, Runner};
use warden_core::events::RunEvent;
use warden_core::run::RunResult;
use warden_e2e::sandbox::executor;
use warden_llm::{ApiKey, ProviderConfig, ProviderKind};

/// One of the four ways of talking to the model.
#[derive(Debug, Clone, Copy)]
pub struct Wire {
    pub kind: ProviderKind,
    pub streaming: bool,
}

/// Generates one test per wire format and streaming mode for `async fn $name(w: Wire)`.
macro_rules! each_wire {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use warden_llm::ProviderKind;
            use $crate::agent_support::Wire;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn openai() {
                super::$name(Wire { kind: ProviderKind::Openai, streaming: false }).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn openai_streamed() {
                super::$name(Wire { kind: ProviderKind::Openai, streaming: true }).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn anthropic() {
                super::$name(Wire { kind: ProviderKind::Anthropic, streaming: false }).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn anthropic_streamed() {
                super::$name(Wire { kind: ProviderKind::Anthropic, streaming: true }).await
            }
        }
    )*};
}
pub(crate) use each_wire;

/// `[[tools]]` section for the calc component.
pub fn calc_tool() -> String {
    format!(
        "[[tools]]\ncomponent = {:?}\n",
        warden::testing::guests::CALC
    )
}

/// `[[tools]]` section for the hostile component with `extra` lines (error policy, an
/// inline `[tools.policy.defaults]` table...).
pub fn hostile_tool(extra: &str) -> String {
    format!(
        "[[tools]]\ncomponent = {:?}\n{extra}\n",
        warden::testing::guests::HOSTILE
    )
}

/// A running mock, and a runner and agent pointed at it.
pub struct Env {
    pub mock: MockHandle,
    pub runner: Runner,
    pub agent: Agent,
}

/// The model name used for `kind`.
pub fn model_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai => "gpt-4o-mini",
        ProviderKind::Anthropic => "claude-sonnet-4-5",
        other => panic!("no fixture for {}", other.as_str()),
    }
}

/// Starts a mock answering with `turns` and loads an agent whose file ends with `tail`
/// (tools, budget...). The model is built directly (with a key), not from the file.
pub async fn start(w: Wire, turns: Vec<Turn>, tail: &str) -> Env {
    let mock = MockServer::start(MockConfig {
        behaviour: Behaviour::Script { turns },
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let provider = w.kind.as_str();
    let text = format!(
        "name = \"e2e\"\ninstructions = \"You are a test agent.\"\n[model]\nprovider = \"{provider}\"\nname = \"{}\"\n{tail}",
        model_name(w.kind)
    );
    let def = AgentDef::from_toml_str(&text, "e2e.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let agent = Agent::load(&def, executor())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let runner = runner_for(w, &mock);
    Env {
        mock,
        runner,
        agent,
    }
}

/// A runner talking to `mock` in `w`'s wire format and streaming mode.
pub fn runner_for(w: Wire, mock: &MockHandle) -> Runner {
    let mut config = ProviderConfig::new(w.kind, model_name(w.kind));
    config.base_url = Some(match w.kind {
        ProviderKind::Openai => mock.openai_base_url(),
        ProviderKind::Anthropic => mock.base_url(),
        other => panic!("no fixture for {}", other.as_str()),
    });
    config.api_key = Some(ApiKey::new("test-key"));
    config.retry.initial_backoff_ms = 10;
    let model = warden_llm::connect(&config).unwrap();
    Runner::new(model, executor().clone()).streaming(w.streaming)
}

/// A turn making several calls at once.
pub fn calls(calls: &[(&str, &str)]) -> Turn {
    Turn {
        tool_calls: calls
            .iter()
            .map(|(name, args)| ScriptCall {
                name: (*name).into(),
                arguments: (*args).into(),
            })
            .collect(),
        ..Turn::default()
    }
}

/// `turn` reporting this usage.
pub fn with_usage(mut turn: Turn, input_tokens: u64, output_tokens: u64) -> Turn {
    turn.usage = Some(ScriptUsage {
        input_tokens,
        output_tokens,
        cached_tokens: 0,
    });
    turn
}

/// The tool results of the last turn in `request`, in the order they were sent.
pub fn tool_results(request: &RecordedRequest) -> Vec<String> {
    let messages = request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if request.format == "openai" {
        let tail: Vec<&Value> = messages
            .iter()
            .rev()
            .take_while(|m| m["role"] == "tool")
            .collect();
        return tail
            .into_iter()
            .rev()
            .map(|m| text_of(&m["content"]))
            .collect();
    }
    let Some(last) = messages.last() else {
        return Vec::new();
    };
    last["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| text_of(&b["content"]))
        .collect()
}

/// Text of a content value (a string or an array of text blocks).
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect(),
        other => other.to_string(),
    }
}

/// Asserts the mock refused nothing: every history it saw was valid for its format.
pub fn assert_valid_histories(mock: &MockHandle, expected_requests: u64) {
    let stats = mock.stats();
    assert_eq!(
        stats.validation_errors, 0,
        "the mock refused a request: {stats:?}"
    );
    assert_eq!(stats.requests, expected_requests, "{stats:?}");
}

/// The events' type tags, with consecutive text deltas collapsed into one.
pub fn event_types(events: &[RunEvent]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for event in events {
        let line: Value = serde_json::from_str(&event.to_json_line()).unwrap();
        let t = line["type"].as_str().unwrap().to_string();
        if t == "text_delta" && types.last().is_some_and(|l| l == "text_delta") {
            continue;
        }
        types.push(t);
    }
    types
}

/// Runs to the end with the runner's own streaming mode, collecting the events.
pub async fn run_events(env: &Env, input: &str) -> (RunResult, Vec<RunEvent>) {
    let mut events = Vec::new();
    let result = env
        .runner
        .run_with(&env.agent, input, &RunHandle::new(), |e| events.push(e))
        .await
        .unwrap();
    (result, events)
}
