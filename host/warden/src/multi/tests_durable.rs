//! Handoffs in sessions and durable runs: the agent handed to stays active across turns,
//! store re-opens and a crash, with its own tools.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::sync::Notify;

use super::*;
use crate::store::{RunStatus, SqliteStore, Store};
use crate::testing::ScriptedLlm;
use crate::{Executor, LoopConfig, RunHandle, Runner};
use warden_core::chat::{ChatRequest, ChatResponse, StreamEvent};
use warden_core::run::StopReason;
use warden_core::testing::ScriptedModel;
use warden_llm::{LlmError, Model, Notices};
use warden_sandbox::EngineConfig;

pub(super) fn executor() -> Executor {
    static EXECUTOR: std::sync::OnceLock<Executor> = std::sync::OnceLock::new();
    EXECUTOR
        .get_or_init(|| Executor::new(EngineConfig::default()).unwrap())
        .clone()
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Refund {
    /// The order number.
    order: u32,
}

/// Triage (hands off to billing) and billing (with a `refund` host tool of its own), each
/// on its own model.
fn team(triage_model: Arc<dyn Model>, billing_model: Arc<dyn Model>) -> Team {
    let named = |name: &str| {
        let mut config = LoopConfig::new("scripted");
        config.agent_name = name.into();
        Agent::new(config)
    };
    let refund = HostTool::new("refund", "Refunds an order", |r: Refund| async move {
        Ok(format!("order {} refunded", r.order))
    });
    let triage = (named("triage").with_model(triage_model))
        .with_handoff(Handoff::to("billing", "refunds"))
        .unwrap();
    let billing = named("billing").with_model(billing_model);
    let billing = billing.with_host_tool(refund).unwrap();
    Team::builder(triage).agent(billing).build().unwrap()
}

fn hand_off() -> ChatResponse {
    ScriptedModel::calls(&[("h1", "transfer_to_billing", r#"{"reason": "refund"}"#)])
}

fn runner(team: &Team, store: Option<Arc<dyn Store>>) -> Runner {
    let runner = Runner::new(Arc::new(ScriptedLlm::new([])), executor()).with_team(team.clone());
    match store {
        Some(store) => runner.with_store(store),
        None => runner,
    }
}

pub(super) fn open(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.path().join("runs.db")).unwrap())
}

fn tool_names(request: &ChatRequest) -> Vec<String> {
    request.tools.iter().map(|t| t.name.clone()).collect()
}

#[tokio::test]
async fn a_session_handed_off_in_turn_one_answers_turn_two_with_the_target() {
    let triage = Arc::new(ScriptedLlm::new([hand_off()]));
    let billing = Arc::new(ScriptedLlm::new([
        ScriptedModel::text("Which order?"),
        ScriptedModel::calls(&[("r1", "refund", r#"{"order": 7}"#)]),
        ScriptedModel::text("Refunded order 7."),
    ]));
    let team = team(triage.clone(), billing.clone());
    let mut session = runner(&team, None).session(team.entry());
    let handle = RunHandle::new();
    let first = session
        .send("refund please", &handle, |_| {})
        .await
        .unwrap();
    assert_eq!(first.stop_reason, StopReason::Completed);
    assert_eq!(session.active_agent(), "billing");
    let second = session.send("order 7", &handle, |_| {}).await.unwrap();
    assert_eq!(
        second.output.map(|o| o.text).as_deref(),
        Some("Refunded order 7.")
    );
    assert_eq!(triage.requests().len(), 1, "triage is not asked again");
    let turn_two = &billing.requests()[1];
    assert_eq!(
        tool_names(turn_two),
        ["refund"],
        "billing's tools, not triage's"
    );
}

#[tokio::test]
async fn a_durable_session_continues_with_the_target_after_the_store_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let handle = RunHandle::new();
    let run_id = {
        let triage = Arc::new(ScriptedLlm::new([hand_off()]));
        let billing = Arc::new(ScriptedLlm::new([ScriptedModel::text("Which order?")]));
        let team = team(triage, billing);
        let runner = runner(&team, Some(open(&dir)));
        let recorded = (runner.run_session(team.entry(), "desk", "refund please", &handle, |_| {}))
            .await
            .unwrap();
        let text = recorded.result.unwrap().output.map(|o| o.text);
        assert_eq!(text.as_deref(), Some("Which order?"));
        recorded.run_id
    };
    // A new process: new agents, models and store handle on the same file.
    let store = open(&dir);
    let stored = store.load(&run_id).await.unwrap();
    let active = stored.checkpoint.active_agent.clone().unwrap();
    assert_eq!(
        (active.name.as_str(), stored.summary.status),
        ("billing", RunStatus::Finished)
    );
    let triage = Arc::new(ScriptedLlm::new([]));
    let billing = Arc::new(ScriptedLlm::new([
        ScriptedModel::calls(&[("r1", "refund", r#"{"order": 7}"#)]),
        ScriptedModel::text("Refunded order 7."),
    ]));
    let team = team(triage.clone(), billing.clone());
    let runner = runner(&team, Some(store));
    let recorded = (runner.run_session(team.entry(), "desk", "order 7", &handle, |_| {}))
        .await
        .unwrap();
    assert_eq!(recorded.run_id, run_id);
    let result = recorded.result.unwrap();
    assert_eq!(
        result.output.map(|o| o.text).as_deref(),
        Some("Refunded order 7.")
    );
    assert!(triage.requests().is_empty(), "the entry agent is not asked");
    assert_eq!(tool_names(&billing.requests()[0]), ["refund"]);
}

/// A model that never answers; says when it was asked (the run is then "killed").
pub(super) struct Stall(pub(super) Arc<Notify>);

impl Model for Stall {
    fn complete<'a>(
        &'a self,
        _: &'a ChatRequest,
        _: &'a Notices,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        self.0.notify_one();
        Box::pin(std::future::pending())
    }

    fn stream<'a>(
        &'a self,
        _: &'a ChatRequest,
        _: &'a Notices,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>> {
        self.0.notify_one();
        Box::pin(std::future::pending())
    }

    /// The scripted model's provider: a run resumed with a scripted model in its place
    /// is no change of its team.
    fn provider(&self) -> &str {
        "scripted"
    }

    fn model_name(&self) -> &str {
        "stall"
    }
}

#[tokio::test]
async fn a_durable_run_killed_after_the_handoff_resumes_with_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let asked = Arc::new(Notify::new());
    let run_id = "run-handed-off".to_string();
    {
        let triage = Arc::new(ScriptedLlm::new([hand_off()]));
        let team = team(triage, Arc::new(Stall(asked.clone())));
        let runner = runner(&team, Some(open(&dir)));
        let handle = RunHandle::new();
        let run = runner.run_recorded_as(team.entry(), run_id.clone(), "refund 7", &handle, |_| {});
        // Billing's model was asked, so the switch is stored: the run dies there.
        tokio::select! {
            _ = run => panic!("the stalled run cannot end"),
            () = asked.notified() => {}
        }
    }
    let store = open(&dir);
    let stored = store.load(&run_id).await.unwrap();
    assert_eq!(stored.summary.status, RunStatus::Running);
    assert_eq!(stored.checkpoint.active_agent.unwrap().name, "billing");
    let triage = Arc::new(ScriptedLlm::new([]));
    let billing = Arc::new(ScriptedLlm::new([
        ScriptedModel::calls(&[("r1", "refund", r#"{"order": 7}"#)]),
        ScriptedModel::text("Refunded order 7."),
    ]));
    let team = team(triage.clone(), billing.clone());
    let mut handoffs = 0;
    let recorded = runner(&team, Some(store.clone()))
        .resume(
            team.entry(),
            &run_id,
            &Default::default(),
            &RunHandle::new(),
            |e| {
                handoffs += usize::from(matches!(e, warden_core::events::RunEvent::Handoff { .. }));
            },
        )
        .await
        .unwrap();
    let result = recorded.result.unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(
        result.output.map(|o| o.text).as_deref(),
        Some("Refunded order 7.")
    );
    assert_eq!(
        handoffs, 0,
        "resumed past the handoff, not through it again"
    );
    assert!(triage.requests().is_empty());
    assert_eq!(tool_names(&billing.requests()[0]), ["refund"]);
    let done = store.load(&run_id).await.unwrap();
    assert_eq!(done.summary.status, RunStatus::Finished);
}

#[tokio::test]
async fn a_stored_handed_off_run_without_its_team_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let triage = Arc::new(ScriptedLlm::new([hand_off()]));
    let billing = Arc::new(ScriptedLlm::new([ScriptedModel::text("Which order?")]));
    let team = team(triage, billing);
    let store = open(&dir);
    let handle = RunHandle::new();
    (runner(&team, Some(store.clone())).run_session(team.entry(), "desk", "hi", &handle, |_| {}))
        .await
        .unwrap();
    let alone = Runner::new(Arc::new(ScriptedLlm::new([])), executor()).with_store(store);
    let err = (alone.run_session(team.entry(), "desk", "again", &handle, |_| {}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("handed off to agent `billing`"),
        "{err}"
    );
}
