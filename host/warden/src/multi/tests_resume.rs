//! Resuming a team's durable run checks every agent of the team, not only the entry agent:
//! a changed, added or removed agent is refused by name unless the change is accepted; a
//! checkpoint written before teams were recorded still resumes.

use std::sync::Arc;

use tokio::sync::Notify;

use super::tests_durable::{Stall, executor, open};
use super::*;
use crate::store::{NewRun, RunCheckpoint, RunStatus, Store};
use crate::testing::ScriptedLlm;
use crate::{DurableError, LoopConfig, ResumeOptions, RunError, RunHandle, Runner};
use warden_core::run::StopReason;
use warden_core::testing::ScriptedModel;
use warden_llm::Model;

/// Triage (hands off to billing) and billing (its instructions given), plus an `audit`
/// agent when `audit` is set; triage answers with `triage_model`.
fn team(triage_model: Arc<dyn Model>, billing: &str, audit: bool) -> Team {
    let named = |name: &str, instructions: &str| {
        let mut config = LoopConfig::new("scripted");
        config.agent_name = name.into();
        config.instructions = instructions.into();
        Agent::new(config).with_model(Arc::new(ScriptedLlm::new([])))
    };
    let triage = (named("triage", "You route.").with_model(triage_model))
        .with_handoff(Handoff::to("billing", "refunds"))
        .unwrap();
    let mut builder = Team::builder(triage).agent(named("billing", billing));
    if audit {
        builder = builder.agent(named("audit", "You audit."));
    }
    builder.build().unwrap()
}

fn runner(team: &Team, store: Arc<dyn Store>) -> Runner {
    let runner = Runner::new(Arc::new(ScriptedLlm::new([])), executor());
    runner.with_team(team.clone()).with_store(store)
}

/// A run of the team (`audit` or not) stopped while triage waits on its model: stored as
/// running, with its team.
async fn interrupted(dir: &tempfile::TempDir, audit: bool) -> (Arc<dyn Store>, String) {
    let asked = Arc::new(Notify::new());
    let run_id = "run-team".to_string();
    let team = team(Arc::new(Stall(asked.clone())), "You are billing.", audit);
    let store = open(dir);
    let runner = runner(&team, store.clone());
    let handle = RunHandle::new();
    let run = runner.run_recorded_as(team.entry(), run_id.clone(), "refund 7", &handle, |_| {});
    tokio::select! {
        _ = run => panic!("the stalled run cannot end"),
        () = asked.notified() => {}
    }
    let stored = store.load(&run_id).await.unwrap();
    assert_eq!(stored.summary.status, RunStatus::Running);
    (store, run_id)
}

/// Resumes `run_id` with `team`'s new version (triage answering at once).
async fn resume(
    store: &Arc<dyn Store>,
    run_id: &str,
    billing: &str,
    audit: bool,
    accept: bool,
) -> Result<StopReason, RunError> {
    let triage = Arc::new(ScriptedLlm::new([ScriptedModel::text("Done.")]));
    let team = team(triage, billing, audit);
    let options = ResumeOptions {
        accept_agent_change: accept,
    };
    let recorded = runner(&team, store.clone())
        .resume(team.entry(), run_id, &options, &RunHandle::new(), |_| {})
        .await?;
    Ok(recorded.result.unwrap().stop_reason)
}

/// The agents a refusal names.
/// A resume with `billing` (and `audit` if set) that is refused for a team change, then
/// completes once the change is accepted; the refusal's agents and message.
async fn refused_until_accepted(
    store: &Arc<dyn Store>,
    run_id: &str,
    billing: &str,
    audit: bool,
) -> (Vec<String>, String) {
    let err = resume(store, run_id, billing, audit, false)
        .await
        .unwrap_err();
    let refused = refused_agents(err);
    let resumed = resume(store, run_id, billing, audit, true).await;
    assert_eq!(resumed.unwrap(), StopReason::Completed);
    refused
}

fn refused_agents(err: RunError) -> (Vec<String>, String) {
    let message = err.to_string();
    match err {
        RunError::Durable(DurableError::TeamChanged { agents, .. }) => (agents, message),
        other => panic!("not a team change: {other}"),
    }
}

#[tokio::test]
async fn an_unchanged_team_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run_id) = interrupted(&dir, false).await;
    let stored = store.load(&run_id).await.unwrap();
    let names: Vec<String> = (stored.checkpoint.team.unwrap().agents.into_iter())
        .map(|m| m.agent.name)
        .collect();
    assert_eq!(names, ["billing", "triage"], "every agent is recorded");
    let resumed = resume(&store, &run_id, "You are billing.", false, false).await;
    assert_eq!(resumed.unwrap(), StopReason::Completed);
}

#[tokio::test]
async fn a_changed_non_entry_agent_is_refused_by_name_unless_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run_id) = interrupted(&dir, false).await;
    let (agents, message) =
        refused_until_accepted(&store, &run_id, "You refund everything.", false).await;
    assert_eq!(agents, ["billing"]);
    assert!(message.contains("agent `billing`"), "{message}");
    assert!(message.contains("--accept-agent-change"), "{message}");
}

#[tokio::test]
async fn an_added_agent_is_refused_by_name_unless_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run_id) = interrupted(&dir, false).await;
    let (agents, message) = refused_until_accepted(&store, &run_id, "You are billing.", true).await;
    assert_eq!(agents, ["audit"]);
    assert!(message.contains("`audit`: added to the team"), "{message}");
}

#[tokio::test]
async fn a_removed_agent_is_refused_by_name_unless_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run_id) = interrupted(&dir, true).await;
    let (agents, message) =
        refused_until_accepted(&store, &run_id, "You are billing.", false).await;
    assert_eq!(agents, ["audit"]);
    assert!(
        message.contains("`audit`: removed from the team"),
        "{message}"
    );
}

#[tokio::test]
async fn an_accepted_change_is_the_new_reference_for_the_next_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run_id) = interrupted(&dir, false).await;
    // Accepted, then interrupted again at once: the next resume compares with the new team.
    let asked = Arc::new(Notify::new());
    let team = team(Arc::new(Stall(asked.clone())), "You refund.", false);
    let options = ResumeOptions {
        accept_agent_change: true,
    };
    let runner = runner(&team, store.clone());
    let handle = RunHandle::new();
    let run = runner.resume(team.entry(), &run_id, &options, &handle, |_| {});
    tokio::select! {
        _ = run => panic!("the stalled run cannot end"),
        () = asked.notified() => {}
    }
    let resumed = resume(&store, &run_id, "You refund.", false, false).await;
    assert_eq!(resumed.unwrap(), StopReason::Completed);
}

#[tokio::test]
async fn a_checkpoint_written_before_teams_were_recorded_still_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let old = team(Arc::new(ScriptedLlm::new([])), "You are billing.", false);
    let controller = old.entry().controller("refund 7".into()).unwrap();
    // The previous version's shape: the entry agent's summary, no `team`.
    let checkpoint = RunCheckpoint::new(old.entry().summary(), controller.snapshot());
    let json = String::from_utf8(checkpoint.encode()).unwrap();
    assert!(!json.contains("\"team\""), "{json}");
    let run = NewRun {
        run_id: "run-old".into(),
        session: None,
        input: "refund 7".into(),
        checkpoint,
    };
    drop(store.create_run(run).await.unwrap());
    // Only the entry agent can be compared: a changed billing is not noticed.
    let resumed = resume(&store, "run-old", "You refund everything.", false, false).await;
    assert_eq!(resumed.unwrap(), StopReason::Completed);
    let stored = store.load("run-old").await.unwrap();
    assert!(
        stored.checkpoint.team.is_some(),
        "recorded from the resume on"
    );
}

#[tokio::test]
async fn an_old_checkpoint_with_a_changed_entry_agent_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let old = team(Arc::new(ScriptedLlm::new([])), "You are billing.", false);
    let controller = old.entry().controller("refund 7".into()).unwrap();
    let mut summary = old.entry().summary();
    summary.digest = "an older triage".into();
    let run = NewRun {
        run_id: "run-old".into(),
        session: None,
        input: "refund 7".into(),
        checkpoint: RunCheckpoint::new(summary, controller.snapshot()),
    };
    drop(store.create_run(run).await.unwrap());
    let err = resume(&store, "run-old", "You are billing.", false, false)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RunError::Durable(DurableError::AgentChanged { agent, .. }) if agent == "triage"),
        "{err}"
    );
}

#[test]
fn a_changed_handoff_limit_or_billing_tools_are_named() {
    let base = team(Arc::new(ScriptedLlm::new([])), "You are billing.", false);
    let then = base.summary("scripted");
    assert!(team_changes(&then, &base.summary("scripted")).is_empty());
    let entry = base.entry().clone();
    let billing = base.agent("billing").unwrap().clone();
    let lower = Team::builder(entry.clone()).agent(billing.clone());
    let changed = team_changes(
        &then,
        &lower.max_handoffs(2).build().unwrap().summary("scripted"),
    );
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].1, "max_handoffs changed from 8 to 2");
    let lookup = HostTool::new("lookup", "Looks up", |_: serde_json::Value| async {
        Ok(String::new())
    });
    let billing = billing.with_host_tool(lookup).unwrap();
    let now = Team::builder(entry).agent(billing).build().unwrap();
    let changed = team_changes(&then, &now.summary("scripted"));
    assert_eq!(
        changed,
        [(
            "billing".to_owned(),
            "agent `billing`: tools added: lookup".to_owned()
        )]
    );
}
