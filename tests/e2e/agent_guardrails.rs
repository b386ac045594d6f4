//! Guardrails end to end: the Runner against the mock LLM server (both wire formats,
//! streaming and not) with the real guest tools. An input and an output guardrail trip, a
//! tool guardrail vetoes one call (its result pairs with the call in either format), a
//! sandboxed component and another agent decide.

use mock_llm::{Behaviour, MockConfig, MockServer, Turn};
use warden::guardrail::{ComponentCheck, Guardrail, GuardrailStage, Subject, Verdict};
use warden::{Agent, LoopConfig, ToolPolicy};
use warden_core::events::RunEvent;
use warden_core::run::StopReason;
use warden_e2e::sandbox::executor;

use crate::agent_support::{
    Env, Wire, assert_valid_histories, calc_tool, calls, each_wire, model_name, run_events,
    runner_for, start, tool_results,
};

each_wire!(
    an_input_guardrail_trips_and_no_tool_runs,
    an_output_guardrail_trips_and_the_answer_is_withdrawn,
    a_tool_guardrail_vetoes_one_call_and_the_history_stays_valid,
    an_agent_guardrail_runs_on_its_own_model_before_the_model_call,
    a_sandboxed_component_guardrail_checks_the_output,
);

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

fn with(env: Env, f: impl FnOnce(Agent) -> Agent) -> Env {
    Env {
        agent: f(env.agent),
        ..env
    }
}

async fn an_input_guardrail_trips_and_no_tool_runs(w: Wire) {
    let turns = vec![Turn::call("calc", r#"{"expression":"1+1"}"#)];
    let env = start(w, turns, &calc_tool()).await;
    let env = with(env, |a| a.with_input_guardrail(deny("password")));
    let (result, events) = run_events(&env, "my password is hunter2").await;
    assert_eq!(
        result.stop_reason,
        StopReason::GuardrailTripped {
            guardrail: "no-password".into(),
            stage: GuardrailStage::Input,
            message: "mentions password".into(),
        }
    );
    assert_eq!(result.output, None);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::ToolCallStarted { .. }))
    );
    assert_eq!(env.mock.stats().validation_errors, 0);
}

async fn an_output_guardrail_trips_and_the_answer_is_withdrawn(w: Wire) {
    let env = start(w, vec![Turn::text("the secret is 42")], &calc_tool()).await;
    let env = with(env, |a| a.with_output_guardrail(deny("secret")));
    let (result, events) = run_events(&env, "tell me").await;
    assert!(
        matches!(&result.stop_reason, StopReason::GuardrailTripped { stage: GuardrailStage::Output, guardrail, .. } if guardrail == "no-secret"),
        "{:?}",
        result.stop_reason
    );
    assert_eq!(result.output, None);
    let finished: Vec<_> = (events.iter())
        .filter(|e| matches!(e, RunEvent::RunFinished { .. }))
        .collect();
    assert!(
        matches!(
            finished.as_slice(),
            [RunEvent::RunFinished { output: None, .. }]
        ),
        "{finished:?}"
    );
    assert_valid_histories(&env.mock, 1);
}

async fn a_tool_guardrail_vetoes_one_call_and_the_history_stays_valid(w: Wire) {
    let turns = vec![
        calls(&[
            ("calc", r#"{"expression":"6*7"}"#),
            ("calc", r#"{"expression":"666"}"#),
        ]),
        Turn::text("42; the other one was refused."),
    ];
    let env = start(w, turns, &calc_tool()).await;
    let env = with(env, |a| a.with_tool_guardrail(deny("666")));
    let (result, events) = run_events(&env, "compute both").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    let started = (events.iter())
        .filter(|e| matches!(e, RunEvent::ToolCallStarted { .. }))
        .count();
    assert_eq!(started, 1, "only the allowed call ran");
    let results = tool_results(&env.mock.requests()[1]);
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].contains("42"), "{results:?}");
    assert!(
        results[1].contains("vetoed by guardrail `no-666`: mentions 666"),
        "{results:?}"
    );
    let vetoes = (events.iter())
        .filter(|e| {
            matches!(
                e,
                RunEvent::GuardrailChecked {
                    tripped: true,
                    call_id: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(vetoes, 1);
    assert_valid_histories(&env.mock, 2);
}

async fn an_agent_guardrail_runs_on_its_own_model_before_the_model_call(w: Wire) {
    let env = start(w, vec![Turn::text("Hello!")], &calc_tool()).await;
    // The judge has a model of its own (here a second mock server, same wire format).
    let judge_mock = MockServer::start(MockConfig {
        behaviour: Behaviour::Script {
            turns: vec![Turn::text(r#"{"tripped": true, "message": "off topic"}"#)],
        },
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let judge = Agent::new(LoopConfig::new(model_name(w.kind)));
    let guard = Guardrail::agent("judge", runner_for(w, &judge_mock), judge).before_model();
    let env = with(env, |a| a.with_input_guardrail(guard));
    let (result, events) = run_events(&env, "tell me about football").await;
    assert_eq!(
        result.stop_reason,
        StopReason::GuardrailTripped {
            guardrail: "judge".into(),
            stage: GuardrailStage::Input,
            message: "off topic".into(),
        }
    );
    assert!(events.iter().any(|e| matches!(
        e,
        RunEvent::GuardrailChecked { guardrail, tripped: true, .. } if guardrail == "judge"
    )));
    // The judge saw the input; the agent's model was never called.
    let judged = judge_mock.requests();
    assert!(
        judged[0]
            .body
            .to_string()
            .contains("tell me about football")
    );
    assert_valid_histories(&judge_mock, 1);
    assert_valid_histories(&env.mock, 0);
}

async fn a_sandboxed_component_guardrail_checks_the_output(w: Wire) {
    let env = start(w, vec![Turn::text("not JSON")], &calc_tool()).await;
    let text = warden::builtin::load_named(executor(), "text")
        .await
        .unwrap();
    let check = ComponentCheck::new(executor(), text, "json_query", ToolPolicy::default())
        .unwrap()
        .text_arg("document")
        .arg("query", serde_json::json!("$"));
    let env = with(env, |a| {
        a.with_output_guardrail(Guardrail::component("answer-is-json", check))
    });
    let (result, _) = run_events(&env, "answer in JSON").await;
    let StopReason::GuardrailTripped {
        guardrail, message, ..
    } = &result.stop_reason
    else {
        panic!("{:?}", result.stop_reason);
    };
    assert_eq!(guardrail, "answer-is-json");
    assert!(message.contains("json_query"), "{message}");
    assert_valid_histories(&env.mock, 1);
}
