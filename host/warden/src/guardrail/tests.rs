//! Guardrails in runs with scripted models and real components: each stage trips and
//! passes, each kind of guardrail (function, sandboxed component, agent) decides, and a
//! broken check fails closed.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::component::verdict_of_output;
use super::*;
use crate::testing::ScriptedLlm;
use crate::{Agent, EngineConfig, Executor, LoopConfig, RunHandle, Runner, ToolPolicy};
use warden_core::chat::Message;
use warden_core::run::{RunResult, StopReason};
use warden_core::testing::ScriptedModel;
use warden_sandbox::ToolSet;

fn executor() -> &'static Executor {
    static EXECUTOR: std::sync::OnceLock<Executor> = std::sync::OnceLock::new();
    EXECUTOR.get_or_init(|| Executor::new(EngineConfig::default()).unwrap())
}

async fn set(name: &'static str) -> Arc<ToolSet> {
    static CALC: OnceCell<Arc<ToolSet>> = OnceCell::const_new();
    static TEXT: OnceCell<Arc<ToolSet>> = OnceCell::const_new();
    let cell = if name == "calc" { &CALC } else { &TEXT };
    cell.get_or_init(|| async { crate::builtin::load_named(executor(), name).await.unwrap() })
        .await
        .clone()
}

async fn calc_agent() -> Agent {
    Agent::new(LoopConfig::new("scripted"))
        .with_tools(set("calc").await, ToolPolicy::default())
        .unwrap()
}

fn runner(responses: Vec<warden_core::chat::ChatResponse>) -> (Arc<ScriptedLlm>, Runner) {
    let model = Arc::new(ScriptedLlm::new(responses));
    (model.clone(), Runner::new(model, executor().clone()))
}

async fn run(runner: &Runner, agent: &Agent, input: &str) -> (RunResult, Vec<RunEvent>) {
    let mut events = Vec::new();
    let result = runner
        .run_with(agent, input, &RunHandle::new(), |e| events.push(e))
        .await
        .unwrap();
    (result, events)
}

/// Trips when the text contains `word`.
fn deny(word: &'static str) -> Guardrail {
    Guardrail::function(format!("no-{word}"), move |s: &Subject<'_>| {
        if s.text().contains(word) {
            Verdict::trip(format!("mentions {word}"))
        } else {
            Verdict::pass()
        }
    })
}

fn tripped(guardrail: &str, stage: GuardrailStage, message: &str) -> StopReason {
    StopReason::GuardrailTripped {
        guardrail: guardrail.into(),
        stage,
        message: message.into(),
    }
}

fn checks(events: &[RunEvent]) -> Vec<(String, GuardrailStage, bool)> {
    (events.iter())
        .filter_map(|e| match e {
            RunEvent::GuardrailChecked {
                guardrail,
                stage,
                tripped,
                ..
            } => Some((guardrail.clone(), *stage, *tripped)),
            _ => None,
        })
        .collect()
}

fn finishes(events: &[RunEvent]) -> Vec<&RunEvent> {
    (events.iter())
        .filter(|e| matches!(e, RunEvent::RunFinished { .. }))
        .collect()
}

#[tokio::test]
async fn a_tripped_input_guardrail_ends_the_run_and_the_response_is_never_used() {
    let (model, runner) = runner(vec![ScriptedModel::calls(&[(
        "c1",
        "calc",
        r#"{"expression":"1+1"}"#,
    )])]);
    let agent = calc_agent().await.with_input_guardrail(deny("password"));
    let (result, events) = run(&runner, &agent, "my password is hunter2").await;
    let reason = tripped("no-password", GuardrailStage::Input, "mentions password");
    assert_eq!(result.stop_reason, reason);
    assert_eq!(result.output, None);
    assert_eq!(
        checks(&events),
        [("no-password".into(), GuardrailStage::Input, true)]
    );
    // The model's tool call was never run.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::ToolCallStarted { .. }))
    );
    assert!(
        matches!(finishes(&events).as_slice(), [RunEvent::RunFinished { stop_reason, .. }] if *stop_reason == reason)
    );
    assert!(model.requests().len() <= 1);
}

#[tokio::test]
async fn a_before_model_input_guardrail_keeps_the_input_from_the_model() {
    let (model, runner) = runner(vec![ScriptedModel::text("never")]);
    let agent = calc_agent()
        .await
        .with_input_guardrail(deny("password").before_model());
    let (result, _) = run(&runner, &agent, "my password is hunter2").await;
    assert!(matches!(
        result.stop_reason,
        StopReason::GuardrailTripped { .. }
    ));
    assert_eq!(model.requests().len(), 0, "the model saw the input");
}

#[tokio::test]
async fn a_passing_input_guardrail_lets_the_run_answer() {
    let (model, runner) = runner(vec![ScriptedModel::text("hello")]);
    let agent = calc_agent().await.with_input_guardrail(deny("password"));
    let (result, events) = run(&runner, &agent, "hi").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "hello");
    assert_eq!(
        checks(&events),
        [("no-password".into(), GuardrailStage::Input, false)]
    );
    model.assert_all_used().unwrap();
}

#[tokio::test]
async fn a_tripped_output_guardrail_withdraws_the_answer_with_one_run_finished() {
    let (_, runner) = runner(vec![ScriptedModel::text("the secret is 42")]);
    let agent = calc_agent().await.with_output_guardrail(deny("secret"));
    let (result, events) = run(&runner, &agent, "tell me").await;
    let reason = tripped("no-secret", GuardrailStage::Output, "mentions secret");
    assert_eq!(result.stop_reason, reason);
    assert_eq!(result.output, None);
    let finished = finishes(&events);
    assert!(
        matches!(finished.as_slice(), [RunEvent::RunFinished { stop_reason, output: None, .. }] if *stop_reason == reason),
        "{finished:?}"
    );
    // The check's event comes before the end.
    let last_two: Vec<_> = events.iter().rev().take(2).collect();
    assert!(matches!(
        last_two[1],
        RunEvent::GuardrailChecked { tripped: true, .. }
    ));
}

#[tokio::test]
async fn a_passing_output_guardrail_keeps_the_answer_and_its_run_finished() {
    let (_, runner) = runner(vec![ScriptedModel::text("all fine")]);
    let agent = calc_agent().await.with_output_guardrail(deny("secret"));
    let (result, events) = run(&runner, &agent, "tell me").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "all fine");
    assert!(matches!(
        finishes(&events).as_slice(),
        [RunEvent::RunFinished {
            stop_reason: StopReason::Completed,
            output: Some(_),
            ..
        }]
    ));
}

#[tokio::test]
async fn a_tool_guardrail_vetoes_one_call_and_the_model_is_told_why() {
    let (model, runner) = runner(vec![
        ScriptedModel::calls(&[
            ("c1", "calc", r#"{"expression":"6*7"}"#),
            ("c2", "calc", r#"{"expression":"666"}"#),
        ]),
        ScriptedModel::text("42, and the other was refused"),
    ]);
    let agent = calc_agent().await.with_tool_guardrail(deny("666"));
    let (result, events) = run(&runner, &agent, "compute").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    // Only the allowed call started a sandbox.
    let started: Vec<&str> = (events.iter())
        .filter_map(|e| match e {
            RunEvent::ToolCallStarted { call_id, .. } => Some(call_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(started, ["c1"]);
    let second = &model.requests()[1];
    let veto = second.messages.iter().find_map(|m| match m {
        Message::Tool {
            call_id,
            content,
            is_error: true,
        } if call_id == "c2" => Some(content.to_string()),
        _ => None,
    });
    let veto = veto.unwrap();
    assert!(
        veto.contains("vetoed by guardrail `no-666`: mentions 666"),
        "{veto}"
    );
    assert_eq!(
        checks(&events),
        [
            ("no-666".into(), GuardrailStage::ToolCall, false),
            ("no-666".into(), GuardrailStage::ToolCall, true)
        ]
    );
}

/// Output guardrail: the answer must be JSON, checked by the sandboxed `json_query` tool.
async fn json_guard() -> Guardrail {
    let check = ComponentCheck::new(
        executor(),
        set("text").await,
        "json_query",
        ToolPolicy::default(),
    )
    .unwrap()
    .text_arg("document")
    .arg("query", serde_json::json!("$"));
    Guardrail::component("answer-is-json", check)
}

#[tokio::test]
async fn a_sandboxed_component_guardrail_trips_when_its_tool_fails() {
    let (_, runner) = runner(vec![ScriptedModel::text("not json at all")]);
    let agent = calc_agent().await.with_output_guardrail(json_guard().await);
    let (result, _) = run(&runner, &agent, "answer in JSON").await;
    let StopReason::GuardrailTripped {
        guardrail, message, ..
    } = &result.stop_reason
    else {
        panic!("{:?}", result.stop_reason);
    };
    assert_eq!(guardrail, "answer-is-json");
    assert!(
        message.contains("`json_query` failed (invalid_arguments)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_sandboxed_component_guardrail_passes_when_its_tool_succeeds() {
    let (_, runner) = runner(vec![ScriptedModel::text(r#"{"answer": 42}"#)]);
    let agent = calc_agent().await.with_output_guardrail(json_guard().await);
    let (result, _) = run(&runner, &agent, "answer in JSON").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
}

#[tokio::test]
async fn a_component_check_names_a_missing_tool() {
    let err = ComponentCheck::new(executor(), set("text").await, "nope", ToolPolicy::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("no tool `nope`"), "{err}");
    assert!(err.to_string().contains("json_query"), "{err}");
}

#[test]
fn a_component_verdict_object_decides_and_other_output_passes() {
    assert_eq!(
        verdict_of_output(r#"{"tripped": true, "message": "pii"}"#),
        Verdict::trip("pii")
    );
    assert_eq!(verdict_of_output(r#"{"tripped": false}"#), Verdict::pass());
    assert_eq!(verdict_of_output(r#"{"matches": []}"#), Verdict::pass());
    assert_eq!(verdict_of_output("plain text"), Verdict::pass());
    // A trip without a message still says something.
    assert!(!verdict_of_output(r#"{"tripped": true}"#).message.is_empty());
}

/// A guardrail agent on its own scripted model, answering `answer`.
fn guard_agent(answer: &str) -> Guardrail {
    let (_, runner) = runner(vec![ScriptedModel::text(answer)]);
    let mut config = LoopConfig::new("scripted");
    config.instructions = "Judge the input.".into();
    let judge = Agent::new(config);
    Guardrail::agent("judge", runner, judge)
}

#[tokio::test]
async fn an_agent_guardrail_trips_with_its_typed_verdict() {
    let (model, runner) = runner(vec![ScriptedModel::text("never used")]);
    let guard = guard_agent("```json\n{\"tripped\": true, \"message\": \"homework\"}\n```");
    let agent = calc_agent()
        .await
        .with_input_guardrail(guard.before_model());
    let (result, _) = run(&runner, &agent, "do my homework").await;
    assert_eq!(
        result.stop_reason,
        tripped("judge", GuardrailStage::Input, "homework")
    );
    assert_eq!(model.requests().len(), 0);
}

#[tokio::test]
async fn an_agent_guardrail_that_passes_lets_the_run_answer() {
    let (_, runner) = runner(vec![ScriptedModel::text("hi there")]);
    let guard = guard_agent(r#"{"tripped": false, "message": ""}"#);
    let agent = calc_agent().await.with_input_guardrail(guard);
    let (result, _) = run(&runner, &agent, "hello").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
}

#[tokio::test]
async fn an_agent_guardrail_without_a_verdict_fails_closed() {
    let (_, runner) = runner(vec![ScriptedModel::text("hi there")]);
    let agent = calc_agent()
        .await
        .with_output_guardrail(guard_agent("Looks fine to me!"));
    let (result, _) = run(&runner, &agent, "hello").await;
    let StopReason::GuardrailTripped { message, .. } = &result.stop_reason else {
        panic!("{:?}", result.stop_reason);
    };
    assert!(message.contains("not a verdict"), "{message}");
    assert!(message.contains("Looks fine to me!"), "{message}");
}

#[tokio::test]
async fn a_panicking_guardrail_function_fails_closed() {
    let (_, runner) = runner(vec![ScriptedModel::text("hi")]);
    let boom = Guardrail::function("boom", |_: &Subject<'_>| -> Verdict { panic!("bug") });
    let agent = calc_agent().await.with_output_guardrail(boom);
    let (result, _) = run(&runner, &agent, "hello").await;
    assert_eq!(
        result.stop_reason,
        tripped(
            "boom",
            GuardrailStage::Output,
            "the guardrail function panicked"
        )
    );
}

#[tokio::test]
async fn an_output_guardrail_does_not_judge_a_handoff_but_the_answer_after_it() {
    use crate::{Handoff, Team};
    let triage_model = Arc::new(ScriptedLlm::new([ScriptedModel::calls(&[(
        "h1",
        "transfer_to_billing",
        r#"{"reason":"secret billing stuff"}"#,
    )])]));
    let billing_model = Arc::new(ScriptedLlm::new([ScriptedModel::text("the secret is out")]));
    let mut config = LoopConfig::new("scripted");
    config.agent_name = "triage".into();
    let triage = Agent::new(config.clone())
        .with_model(triage_model)
        .with_handoff(Handoff::to("billing", "billing"))
        .unwrap()
        .with_output_guardrail(deny("secret"));
    config.agent_name = "billing".into();
    let billing = Agent::new(config)
        .with_model(billing_model)
        .with_output_guardrail(deny("secret"));
    let team = Team::builder(triage).agent(billing).build().unwrap();
    let (_, runner) = runner(Vec::new());
    let mut events = Vec::new();
    let result = runner
        .with_team(team.clone())
        .run_with(team.entry(), "hi", &RunHandle::new(), |e| events.push(e))
        .await
        .unwrap();
    // The handoff's "secret" reason was not judged; billing's answer was, and tripped.
    assert_eq!(
        result.stop_reason,
        tripped("no-secret", GuardrailStage::Output, "mentions secret")
    );
    assert_eq!(checks(&events).len(), 1, "{:?}", checks(&events));
}

#[tokio::test]
async fn a_guard_agents_model_calls_are_charged_to_the_guarded_run() {
    let (_, runner) = runner(vec![ScriptedModel::text("hi there")]);
    let pass = r#"{"tripped": false}"#;
    let agent = calc_agent()
        .await
        .with_input_guardrail(guard_agent(pass).before_model())
        .with_output_guardrail(guard_agent(pass));
    let (result, events) = run(&runner, &agent, "hello").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    // One call of its own, one per guard agent: one budget covers them all.
    assert_eq!(result.usage.model_calls, 3);
    let Some(RunEvent::RunFinished { usage, .. }) = events.last() else {
        panic!("{:?}", events.last());
    };
    assert_eq!(usage.model_calls, 3);
}

#[tokio::test]
async fn a_guard_agent_gets_only_what_the_guarded_run_has_left() {
    let (model, runner) = runner(vec![ScriptedModel::text("never")]);
    let mut config = LoopConfig::new("scripted");
    // The guarded run may spend 1 token: the judge's first call (a tool call) spends more,
    // so its budget is out before it can answer, and the check fails closed. Uncapped, the
    // same judge would pass.
    config.budget.max_total_tokens = Some(1);
    let agent = Agent::new(config);
    let (_, judge_runner) = self::runner(vec![
        ScriptedModel::calls(&[("j1", "calc", r#"{"expression":"1+1"}"#)]),
        ScriptedModel::text(r#"{"tripped": false}"#),
    ]);
    let judge = calc_agent().await;
    let guard = Guardrail::agent("judge", judge_runner, judge).before_model();
    let (result, _) = run(&runner, &agent.with_input_guardrail(guard), "hello").await;
    let StopReason::GuardrailTripped { message, .. } = &result.stop_reason else {
        panic!("{:?}", result.stop_reason);
    };
    assert!(message.contains("gave no verdict"), "{message}");
    assert!(message.contains("token"), "{message}");
    assert_eq!(model.requests().len(), 0);
}

/// What a durable run's digest records of a component guardrail: a changed argument or
/// policy is a changed agent; the same check built again is not.
#[tokio::test]
async fn a_component_guardrails_check_is_in_its_agents_digest() {
    let agent = calc_agent().await;
    let digest = |guard: Guardrail| agent.clone().with_output_guardrail(guard).summary().digest;
    let base = digest(json_guard().await);
    assert_eq!(base, digest(json_guard().await));
    assert_ne!(base, agent.summary().digest);
    let text = set("text").await;
    let check = |query: &str, policy: ToolPolicy| {
        let check = ComponentCheck::new(executor(), text.clone(), "json_query", policy)
            .unwrap()
            .text_arg("document")
            .arg("query", serde_json::json!(query));
        Guardrail::component("answer-is-json", check)
    };
    assert_eq!(base, digest(check("$", ToolPolicy::default())));
    assert_ne!(base, digest(check("$.answer", ToolPolicy::default())));
    let slower = ToolPolicy {
        timeout: std::time::Duration::from_secs(9),
        ..ToolPolicy::default()
    };
    assert_ne!(base, digest(check("$", slower)));
}
