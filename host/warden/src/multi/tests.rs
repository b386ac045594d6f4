//! Multi-agent runs with scripted models: host tools, handoffs, agents as tools.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::testing::ScriptedLlm;
use crate::{Executor, LoopConfig, Runner};
use warden_core::chat::Message;
use warden_core::events::RunEvent;
use warden_core::run::StopReason;
use warden_core::testing::ScriptedModel;
use warden_core::tool::ToolFailureKind;
use warden_sandbox::EngineConfig;

fn executor() -> Executor {
    static EXECUTOR: std::sync::OnceLock<Executor> = std::sync::OnceLock::new();
    EXECUTOR
        .get_or_init(|| Executor::new(EngineConfig::default()).unwrap())
        .clone()
}

fn agent(name: &str) -> Agent {
    let mut config = LoopConfig::new("scripted");
    config.agent_name = name.into();
    Agent::new(config)
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Lookup {
    /// The order number.
    order: u32,
}

fn lookup(calls: Arc<AtomicU32>) -> HostTool {
    HostTool::new("lookup", "Looks an order up", move |args: Lookup| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(format!("order {} shipped", args.order))
        }
    })
}

async fn run(model: ScriptedLlm, agent: &Agent) -> (crate::RunResult, Vec<RunEvent>) {
    let runner = Runner::new(Arc::new(model), executor());
    let mut events = Vec::new();
    let handle = crate::RunHandle::new();
    let result = runner
        .run_with(agent, "go", &handle, |e| events.push(e))
        .await
        .unwrap();
    (result, events)
}

#[test]
fn a_host_tools_schema_comes_from_its_argument_type() {
    let tool = lookup(Arc::default());
    let schema = tool.schema();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["order"]["type"], "integer");
    assert_eq!(schema["required"], serde_json::json!(["order"]));
    assert!(schema.get("$schema").is_none(), "{schema}");
}

#[tokio::test]
async fn a_host_tool_runs_with_typed_arguments_and_is_marked_trusted() {
    let calls = Arc::new(AtomicU32::new(0));
    let agent = agent("desk").with_host_tool(lookup(calls.clone())).unwrap();
    let model = ScriptedLlm::new([
        ScriptedModel::calls(&[("c1", "lookup", r#"{"order": 7}"#)]),
        ScriptedModel::text("shipped"),
    ]);
    let (result, events) = run(model, &agent).await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(result.usage.tool_calls, 1, "counted like any tool call");
    let finished = events.iter().find_map(|e| match e {
        RunEvent::ToolCallFinished {
            preview, trusted, ..
        } => Some((preview.clone(), *trusted)),
        _ => None,
    });
    assert_eq!(finished, Some(("order 7 shipped".into(), true)));
    let started = events
        .iter()
        .any(|e| matches!(e, RunEvent::ToolCallStarted { trusted: true, .. }));
    assert!(started);
    assert!(agent.is_trusted("lookup"));
}

#[tokio::test]
async fn arguments_against_the_schema_never_reach_the_host_function() {
    let calls = Arc::new(AtomicU32::new(0));
    let agent = agent("desk").with_host_tool(lookup(calls.clone())).unwrap();
    let model = ScriptedLlm::new([
        ScriptedModel::calls(&[("c1", "lookup", r#"{"order": "seven"}"#)]),
        ScriptedModel::text("could not"),
    ]);
    let (result, events) = run(model, &agent).await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::ToolCallRejected { name, .. } if name == "lookup")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_host_tool_past_its_timeout_is_stopped_and_reported() {
    let slow = HostTool::new("slow", "Never ends", |_: Lookup| async {
        std::future::pending::<()>().await;
        Ok(String::new())
    })
    .timeout(Duration::from_millis(50));
    let agent = agent("desk").with_host_tool(slow).unwrap();
    let model = ScriptedLlm::new([
        ScriptedModel::calls(&[("c1", "slow", r#"{"order": 1}"#)]),
        ScriptedModel::text("gave up"),
    ]);
    let (result, _) = run(model, &agent).await;
    let kinds: Vec<_> = (result.steps.iter())
        .flat_map(|s| s.tool_calls.iter().map(|c| c.error_kind))
        .collect();
    assert_eq!(kinds, vec![Some(ToolFailureKind::Timeout)]);
}

#[test]
fn a_host_tool_cannot_take_a_name_already_used() {
    let agent = agent("desk")
        .with_host_tool(lookup(Arc::default()))
        .unwrap();
    let err = agent.with_host_tool(lookup(Arc::default())).err();
    assert!(err.is_some_and(|e| e.to_string().contains("lookup")));
}

#[test]
fn a_team_refuses_a_handoff_to_an_agent_it_does_not_have() {
    let triage = agent("triage")
        .with_handoff(Handoff::to("billing", "money questions"))
        .unwrap();
    let err = Team::builder(triage).build().err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("`billing`")));
}

#[tokio::test]
async fn an_agent_with_handoffs_run_without_its_team_is_refused() {
    let triage = agent("triage")
        .with_handoff(Handoff::to("billing", "money questions"))
        .unwrap();
    let runner = Runner::new(Arc::new(ScriptedLlm::new([])), executor());
    let err = runner.run(&triage, "hi").await.err();
    assert!(matches!(
        err,
        Some(crate::RunError::Team(TeamError::NoTeam { .. }))
    ));
}

#[test]
fn history_filters_keep_a_history_a_provider_accepts() {
    let call = warden_core::chat::ToolCall::new("c1", "lookup", "{}");
    let live = vec![
        Message::user("where is my order?"),
        Message::Assistant {
            content: Some("Let me look.".into()),
            tool_calls: vec![call].into(),
        },
        Message::tool_result("c1", "shipped", false),
        Message::assistant_text("It shipped."),
    ];
    let h = Handoff::to("billing", "");
    let dropped = h
        .clone()
        .filter(HistoryFilter::DropToolCalls)
        .pass_on("triage", "refund", &live);
    assert!(!dropped.iter().any(|m| matches!(m, Message::Tool { .. })));
    assert!(
        matches!(dropped.last(), Some(Message::User { content }) if content.contains("refund"))
    );
    let last = h
        .clone()
        .filter(HistoryFilter::LastMessages(2))
        .pass_on("triage", "", &live);
    // The cut dropped the call, so its result goes too; the user's question leads.
    assert!(matches!(&last[0], Message::User { content } if &**content == "where is my order?"));
    assert!(!last.iter().any(|m| matches!(m, Message::Tool { .. })));
    let summary = h
        .filter(HistoryFilter::Summary)
        .pass_on("triage", "", &live);
    assert_eq!(summary.len(), 1);
    assert!(matches!(&summary[0], Message::User { content } if content.contains("It shipped.")));
}
