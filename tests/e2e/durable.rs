//! Durable runs through the Runner API against the mock LLM and a real SQLite store: the
//! in-process approver, sessions across runners, resuming with a changed agent or a
//! finished run, and a store that fills up mid-run.

use std::sync::Arc;

use async_trait::async_trait;
use mock_llm::Turn;
use warden::store::{Decision, SqliteOptions, SqliteStore, Store};
use warden::{Approval, ApprovalRequest, Approver, DurableError, RunError, RunHandle};
use warden_core::events::RunEvent;
use warden_llm::ProviderKind;

use crate::agent_support::{Env, Wire, calc_tool, start, tool_results};

const WIRE: Wire = Wire {
    kind: ProviderKind::Openai,
    streaming: false,
};

fn turns() -> Vec<Turn> {
    vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("the answer"),
        Turn::text("second answer"),
    ]
}

fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.path().join("runs.db")).unwrap())
}

struct Fixed(Option<Decision>);

#[async_trait]
impl Approver for Fixed {
    async fn decide(&self, _: &ApprovalRequest) -> Option<Decision> {
        self.0.clone()
    }
}

async fn approved_env(decision: Option<Decision>) -> Env {
    let mut env = start(WIRE, turns(), &calc_tool()).await;
    env.agent = env.agent.clone().with_approval("calc", Approval::Always);
    env.runner = env.runner.clone().with_approver(Arc::new(Fixed(decision)));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_approval_runs_the_call_after_the_request_event() {
    let env = approved_env(Some(Decision::Approve)).await;
    let mut events = Vec::new();
    let result = (env
        .runner
        .run_with(&env.agent, "6*7?", &RunHandle::new(), |e| events.push(e)))
    .await
    .unwrap();
    assert_eq!(result.output.unwrap().text, "the answer");
    let requested = events
        .iter()
        .position(|e| matches!(e, RunEvent::ApprovalRequested { name, .. } if name == "calc"));
    let started = events
        .iter()
        .position(|e| matches!(e, RunEvent::ToolCallStarted { .. }));
    assert!(requested.unwrap() < started.unwrap(), "{events:?}");
    assert!(tool_results(&env.mock.requests()[1])[0].contains("42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_rejection_reaches_the_model_and_the_call_never_runs() {
    let reason = Some("too risky".to_string());
    let env = approved_env(Some(Decision::Reject { reason })).await;
    let mut events = Vec::new();
    let result = (env
        .runner
        .run_with(&env.agent, "6*7?", &RunHandle::new(), |e| events.push(e)))
    .await
    .unwrap();
    assert_eq!(
        result.usage.tool_calls, 1,
        "the rejection is the call's result"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::ToolCallStarted { .. }))
    );
    let results = tool_results(&env.mock.requests()[1]);
    assert!(
        results[0].contains("rejected this call: too risky"),
        "{results:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_run_pauses_then_resumes_in_another_runner_once_decided() {
    let env = approved_env(None).await;
    let dir = tempfile::tempdir().unwrap();
    let runner = env.runner.clone().with_store(store(&dir));
    let paused = (runner.run_recorded(&env.agent, "6*7?", &RunHandle::new(), |_| {}))
        .await
        .unwrap();
    assert!(paused.result.is_none());
    assert_eq!(paused.paused.unwrap().call.name, "calc");
    // Another runner on the same file, as another process would be.
    let other = store(&dir);
    let options = warden::ResumeOptions::default();
    let early = (env.runner.clone().with_store(other.clone()))
        .resume(
            &env.agent,
            &paused.run_id,
            &options,
            &RunHandle::new(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(early, RunError::Durable(DurableError::Paused { .. })),
        "{early}"
    );
    other
        .decide(&paused.run_id, Decision::Approve)
        .await
        .unwrap();
    let done = (env.runner.clone().with_store(other))
        .resume(
            &env.agent,
            &paused.run_id,
            &options,
            &RunHandle::new(),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(done.result.unwrap().output.unwrap().text, "the answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_continues_in_a_new_runner_and_store_handle() {
    let env = start(WIRE, turns(), &calc_tool()).await;
    let dir = tempfile::tempdir().unwrap();
    let first = (env.runner.clone().with_store(store(&dir)))
        .run_session(&env.agent, "s", "6*7?", &RunHandle::new(), |_| {})
        .await
        .unwrap();
    let second = (env.runner.clone().with_store(store(&dir)))
        .run_session(&env.agent, "s", "and again?", &RunHandle::new(), |_| {})
        .await
        .unwrap();
    assert_eq!(first.run_id, second.run_id);
    assert_eq!(second.result.unwrap().output.unwrap().text, "second answer");
    assert_eq!(
        env.mock.requests()[2].body["messages"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_refuses_a_finished_run_and_a_changed_agent() {
    let env = approved_env(None).await;
    let dir = tempfile::tempdir().unwrap();
    let runner = env.runner.clone().with_store(store(&dir));
    let paused = (runner.run_recorded(&env.agent, "6*7?", &RunHandle::new(), |_| {}))
        .await
        .unwrap();
    let options = warden::ResumeOptions::default();
    // Resuming with `agent` is refused with a message that contains `says`.
    let refused = async |agent: &warden::Agent, says: &str| {
        let handle = RunHandle::new();
        let resumed = runner.resume(agent, &paused.run_id, &options, &handle, |_| {});
        let err = resumed.await.unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    };
    let mut lowered = env.agent.config().clone();
    lowered.budget.max_turns = Some(1);
    refused(
        &env.agent.clone().with_config(lowered),
        "its budget changed",
    )
    .await;
    let toolless = warden::Agent::new(env.agent.config().clone());
    refused(&toolless, "tools removed: calc").await;
    // Guardrails count too: one added is named, and one that now runs before the model
    // (same name, another check) is a change as well.
    let pass = || warden::Guardrail::function("no-secrets", |_| warden::Verdict::pass());
    let guarded = env.agent.clone().with_input_guardrail(pass());
    refused(&guarded, "guardrails added: input no-secrets").await;
    let early = env
        .agent
        .clone()
        .with_input_guardrail(pass().before_model());
    assert_ne!(guarded.summary().digest, early.summary().digest);
    assert_eq!(
        guarded.summary().digest,
        env.agent
            .clone()
            .with_input_guardrail(pass())
            .summary()
            .digest
    );
    // Nothing was lost: the original agent still resumes it, and then it is finished.
    runner
        .store()
        .unwrap()
        .decide(&paused.run_id, Decision::Approve)
        .await
        .unwrap();
    let done = (runner.resume(
        &env.agent,
        &paused.run_id,
        &options,
        &RunHandle::new(),
        |_| {},
    ))
    .await
    .unwrap();
    assert!(done.result.is_some());
    let err = (runner.resume(
        &env.agent,
        &paused.run_id,
        &options,
        &RunHandle::new(),
        |_| {},
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(err, RunError::Durable(DurableError::Finished { .. })),
        "{err}"
    );
}

/// A store that fills up mid-run (SQLite's `max_page_count`, standing in for a full
/// disk): the run stops with the store's error, and the checkpoints before it still load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fills_mid_run_stops_it_and_keeps_what_was_written() {
    let env = start(WIRE, turns(), &calc_tool()).await;
    for pages in 8..200 {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions {
            max_pages: Some(pages),
            ..SqliteOptions::default()
        };
        let Ok(store) = SqliteStore::open_with(dir.path().join("runs.db"), options) else {
            continue;
        };
        let store: Arc<dyn Store> = Arc::new(store);
        let before = env.mock.requests().len();
        let runner = env.runner.clone().with_store(store.clone());
        let outcome =
            (runner.run_recorded(&env.agent, &"x".repeat(3000), &RunHandle::new(), |_| {})).await;
        let calls = env.mock.requests().len() - before;
        match outcome {
            Err(RunError::Store(e)) if calls > 0 => {
                assert!(e.to_string().contains("is full"), "{e}");
                let run = &store.list(1).await.unwrap()[0];
                let loaded = store.load(&run.run_id).await.unwrap();
                assert!(!loaded.checkpoint.snapshot.state.live().is_empty());
                return;
            }
            Err(RunError::Store(_)) => continue,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("no page limit between 8 and {pages} stopped the run mid-way"),
        }
    }
    panic!("the store never filled");
}

/// `warden::testing` turns a stored run into a scripted model: the same agent answers the
/// same without the model server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_run_loads_as_a_scripted_model() {
    let env = start(WIRE, turns(), &calc_tool()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let recorded = (env.runner.clone().with_store(store.clone()))
        .run_recorded(&env.agent, "6*7?", &RunHandle::new(), |_| {})
        .await
        .unwrap();
    let model = warden::testing::ScriptedLlm::from_store(&*store, &recorded.run_id)
        .await
        .unwrap();
    assert_eq!(model.remaining(), 2);
    let model = Arc::new(model);
    let offline = warden::Runner::new(model.clone(), env.runner.executor().clone());
    let result = offline.run(&env.agent, "6*7?").await.unwrap();
    assert_eq!(result.output, recorded.result.unwrap().output);
    model.assert_all_used().unwrap();
}
