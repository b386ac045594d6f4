//! Helpers for the multi-agent tests: one mock LLM server per agent (so each agent's
//! requests are recorded apart, each in its own wire format), agents built in Rust with the
//! real fs component under a grant of their own, and readers for the events.

use std::path::Path;
use std::sync::Arc;

use mock_llm::{Behaviour, MockConfig, MockHandle, MockServer, Turn};
use warden::{Agent, LoopConfig, Model, RunEvent, RunHandle, RunResult, Runner, Team};
use warden_e2e::sandbox::executor;
use warden_llm::{ApiKey, ProviderConfig, ProviderKind};
use warden_sandbox::{DirMode, GrantedDir, ToolPolicy};

/// Generates one test per wire format for `async fn $name(kind: ProviderKind)`.
macro_rules! each_format {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use warden_llm::ProviderKind;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn openai() {
                super::$name(ProviderKind::Openai).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn anthropic() {
                super::$name(ProviderKind::Anthropic).await
            }
        }
    )*};
}
pub(crate) use each_format;

/// The other wire format.
pub fn other(kind: ProviderKind) -> ProviderKind {
    match kind {
        ProviderKind::Openai => ProviderKind::Anthropic,
        _ => ProviderKind::Openai,
    }
}

/// A mock answering with `behaviour`, recording requests.
pub async fn mock(behaviour: Behaviour) -> MockHandle {
    MockServer::start(MockConfig {
        behaviour,
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// A mock answering with `turns`.
pub async fn script(turns: Vec<Turn>) -> MockHandle {
    mock(Behaviour::Script { turns }).await
}

/// A model of `kind` talking to `mock`.
pub fn model(kind: ProviderKind, mock: &MockHandle) -> Arc<dyn Model> {
    let name = crate::agent_support::model_name(kind);
    let mut config = ProviderConfig::new(kind, name);
    config.base_url = Some(match kind {
        ProviderKind::Openai => mock.openai_base_url(),
        _ => mock.base_url(),
    });
    config.api_key = Some(ApiKey::new("test-key"));
    config.retry.initial_backoff_ms = 10;
    warden_llm::connect(&config).unwrap()
}

/// An agent called `name` with `instructions`, talking to `mock` in `kind`'s format.
pub fn agent(name: &str, instructions: &str, kind: ProviderKind, mock: &MockHandle) -> Agent {
    let mut config = LoopConfig::new(crate::agent_support::model_name(kind));
    config.agent_name = name.into();
    config.instructions = instructions.into();
    Agent::new(config).with_model(model(kind, mock))
}

/// `agent` with the fs component, its calls granted `host` read-only at `guest` — and
/// nothing else.
pub async fn with_fs(agent: Agent, host: &Path, guest: &str) -> Agent {
    let set = executor()
        .load_file(warden::testing::guests::FS)
        .await
        .unwrap();
    let policy = ToolPolicy {
        dirs: vec![GrantedDir {
            host: host.to_path_buf(),
            guest: guest.into(),
            mode: DirMode::ReadOnly,
        }],
        ..ToolPolicy::default()
    };
    agent.with_tools(set, policy).unwrap()
}

/// A runner whose default model is `entry`'s own (every agent here has one).
pub fn runner(entry: &Agent) -> Runner {
    let model = entry.model().cloned().unwrap();
    Runner::new(model, executor().clone())
}

/// Runs `team` on `input`, collecting the events.
pub async fn run_team(team: &Team, input: &str) -> (RunResult, Vec<RunEvent>) {
    let runner = runner(team.entry()).with_team(team.clone());
    let mut events = Vec::new();
    let result = runner
        .run_with(team.entry(), input, &RunHandle::new(), |e| events.push(e))
        .await
        .unwrap();
    (result, events)
}

/// The handoffs of `events`: (from, to, reason).
pub fn handoffs(events: &[RunEvent]) -> Vec<(String, String, String)> {
    (events.iter())
        .filter_map(|e| match e {
            RunEvent::Handoff {
                from, to, reason, ..
            } => Some((from.clone(), to.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

/// (ok, error kind) of each finished call of `tool` at the top level of `events`.
pub fn finished(events: &[RunEvent], tool: &str) -> Vec<(bool, Option<String>)> {
    (events.iter())
        .filter_map(|e| match e {
            RunEvent::ToolCallFinished {
                name,
                ok,
                error_kind,
                ..
            } if name == tool => Some((*ok, error_kind.map(|k| k.as_str().to_owned()))),
            _ => None,
        })
        .collect()
}

/// The system prompt and the text of every message `mock` was last sent, as JSON text.
pub fn last_request(mock: &MockHandle) -> String {
    let requests = mock.requests();
    requests
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default()
}
