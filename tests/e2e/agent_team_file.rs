//! A multi-agent file end to end: `Runner::from_team_file` builds a team whose agents talk
//! to models of their own (three mock servers), and a run goes through an agent called as a
//! tool, a handoff with a summary filter, and the target's answer — in both wire formats,
//! streamed and not.

use mock_llm::{Behaviour, MockConfig, MockHandle, MockServer, Turn};
use warden::{RunHandle, Runner};
use warden_core::events::RunEvent;
use warden_core::run::StopReason;
use warden_llm::ProviderKind;

use crate::agent_support::{Wire, each_wire, model_name};

async fn mock(turns: Vec<Turn>) -> MockHandle {
    MockServer::start(MockConfig {
        behaviour: Behaviour::Script { turns },
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// The `model` key of an agent talking to `mock` in `w`'s wire format.
fn model(w: Wire, mock: &MockHandle) -> String {
    match w.kind {
        ProviderKind::Openai => format!(
            "model = {{ provider = \"openai-compatible\", name = \"llama3.1\", base_url = \"{}\" }}",
            mock.openai_base_url()
        ),
        // The mock checks no key, but an Anthropic model needs a variable that is set:
        // PATH is, in any process that runs tests.
        kind => format!(
            "model = {{ provider = \"{}\", name = \"{}\", base_url = \"{}\", api_key_env = \"PATH\" }}",
            kind.as_str(),
            model_name(kind),
            mock.base_url()
        ),
    }
}

each_wire!(a_team_file_runs_an_agent_tool_then_a_handoff);

async fn a_team_file_runs_an_agent_tool_then_a_handoff(w: Wire) {
    let triage = mock(vec![
        Turn::call("researcher", r#"{"input":"refund policy?"}"#),
        Turn::call("transfer_to_billing", r#"{"reason":"a refund"}"#),
    ])
    .await;
    let researcher = mock(vec![Turn::text("Refunds within 30 days.")]).await;
    let billing = mock(vec![Turn::text("Refunded: 30-day policy applies.")]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("team.toml"),
        format!(
            "entry = \"triage\"\ninclude = [\"billing.toml\"]\n\n[agents.triage]\n{}\nagent_tools = [{{ agent = \"researcher\", description = \"Knows the policies\" }}]\nhandoffs = [{{ agent = \"billing\", description = \"Refunds\", filter = \"summary\" }}]\n\n[agents.researcher]\n{}\n",
            model(w, &triage),
            model(w, &researcher)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("billing.toml"),
        format!("[agents.billing]\n{}\n", model(w, &billing)),
    )
    .unwrap();
    let (runner, team) = Runner::from_team_file(dir.path().join("team.toml"))
        .await
        .unwrap();
    let mut events = Vec::new();
    let result = runner
        .clone()
        .streaming(w.streaming)
        .with_team(team.clone())
        .run_with(team.entry(), "I want a refund", &RunHandle::new(), |e| {
            events.push(e)
        })
        .await
        .unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(
        result.output.unwrap().text,
        "Refunded: 30-day policy applies."
    );
    assert!(events.iter().any(|e| matches!(
        e,
        RunEvent::Handoff { from, to, .. } if from == "triage" && to == "billing"
    )));
    // Each agent talked to its own model, once each but the entry (twice).
    let counts = [&triage, &researcher, &billing].map(|m| m.stats().requests);
    assert_eq!(counts, [2, 1, 1]);
    // The researcher's answer came back to triage as a tool result.
    assert!(
        triage.requests()[1]
            .body
            .to_string()
            .contains("Refunds within 30 days.")
    );
}

/// `name`'s agent file in `dir` with `links` (handoffs, agent tools, guardrails).
fn agent_file(dir: &std::path::Path, name: &str, mock: &MockHandle, links: &str) {
    let w = Wire {
        kind: ProviderKind::Openai,
        streaming: false,
    };
    let text = format!("name = \"{name}\"\n{}\n{links}\n", model(w, mock));
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_agent_file_declares_a_guardrail_an_agent_tool_and_a_handoff() {
    let triage = mock(vec![
        Turn::call("researcher", r#"{"input":"refund policy?"}"#),
        Turn::call("transfer_to_billing", r#"{"reason":"a refund"}"#),
    ])
    .await;
    let researcher = mock(vec![Turn::text("Refunds within 30 days.")]).await;
    let billing = mock(vec![Turn::text("Refunded.")]).await;
    let judge = mock(vec![Turn::text(
        r#"{"tripped": false, "message": "on topic"}"#,
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let links = "agent_tools = [{ agent = \"researcher.toml\", description = \"Knows the policies\" }]\n\
                 handoffs = [{ agent = \"billing.toml\", description = \"Refunds\", filter = \"summary\" }]\n\
                 guardrails = [{ stage = \"input\", agent = \"judge.toml\", before_model = true }]";
    agent_file(dir.path(), "triage", &triage, links);
    agent_file(dir.path(), "researcher", &researcher, "");
    agent_file(dir.path(), "billing", &billing, "");
    agent_file(dir.path(), "judge", &judge, "");
    let (runner, agent) = Runner::from_file(dir.path().join("triage.toml"))
        .await
        .unwrap();
    assert_eq!(agent.name(), "triage");
    let mut events = Vec::new();
    let result = runner
        .run_with(&agent, "I want a refund", &RunHandle::new(), |e| {
            events.push(e)
        })
        .await
        .unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "Refunded.");
    assert!(events.iter().any(|e| matches!(
        e,
        RunEvent::GuardrailChecked { guardrail, tripped: false, .. } if guardrail == "judge"
    )));
    let counts = [&triage, &researcher, &billing, &judge].map(|m| m.stats().requests);
    assert_eq!(counts, [2, 1, 1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_agent_files_handoff_to_a_missing_file_fails_before_any_model_call() {
    let triage = mock(vec![Turn::text("never asked")]).await;
    let dir = tempfile::tempdir().unwrap();
    let links = "handoffs = [{ agent = \"billing.toml\", description = \"Refunds\" }]";
    agent_file(dir.path(), "triage", &triage, links);
    let err = Runner::from_file(dir.path().join("triage.toml"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("triage.toml:3:"), "{err}");
    assert!(err.contains("`handoffs[0].agent`: no agent file"), "{err}");
    assert_eq!(triage.stats().requests, 0);
}
