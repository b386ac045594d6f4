//! Runs every example's logic against the in-process mock LLM server (never the network)
//! and the real guest tools, and the agent files through the real loader.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[expect(dead_code, reason = "tests use the logic, not `main`")]
#[path = "../crew_task.rs"]
mod crew_task;
#[expect(dead_code, reason = "tests use the logic, not `main`")]
#[path = "../graph_routing.rs"]
mod graph_routing;
#[expect(dead_code, reason = "tests use the logic, not `main`")]
#[path = "../minimal_loop.rs"]
mod minimal_loop;
#[expect(dead_code, reason = "tests use the logic, not `main`")]
#[path = "../runner.rs"]
mod runner;
#[expect(dead_code, reason = "tests use the logic, not `main`")]
#[path = "../step_loop.rs"]
mod step_loop;

use std::path::Path;

use warden::{AgentDef, Provider};
use warden_core::run::StopReason;
use warden_examples::mock_backend;

/// The texts of the tool results the mock received, in order.
fn tool_results(backend: &warden_examples::Backend) -> Vec<String> {
    let mock = backend.mock.as_ref().unwrap();
    mock.requests()
        .iter()
        .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn runner_example_answers_with_run_and_with_run_sync() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let backend = rt.block_on(mock_backend(runner::script())).unwrap();
    let (a, b) = runner::run_both(&rt, &backend).unwrap();
    for result in [&a, &b] {
        assert_eq!(result.stop_reason, StopReason::Completed);
        assert_eq!(result.usage.tool_calls, 2);
        assert!(result.output.as_ref().unwrap().text.contains("391"));
    }
    // The real calc and text tools computed what the model was given, in both runs.
    let results = tool_results(&backend);
    assert_eq!(
        results.iter().filter(|r| r.contains("391")).count(),
        2,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| r.contains("\"words\":4")).count(),
        2,
        "{results:?}"
    );
}

#[tokio::test]
async fn step_loop_example_routes_model_tools_model() {
    let backend = mock_backend(step_loop::script()).await.unwrap();
    let executor = warden_examples::executor().unwrap();
    let (result, route) = step_loop::run(backend.model.as_ref(), &backend.model_name, &executor)
        .await
        .unwrap();
    assert_eq!(route, ["model", "tools[regex_search,text_stats]", "model"]);
    assert_eq!(result.stop_reason, StopReason::Completed);
    let results = tool_results(&backend);
    assert!(results[0].contains("error: upload failed"), "{results:?}");
    assert!(results[1].contains("\"lines\":5"), "{results:?}");
}

#[tokio::test]
async fn crew_task_example_retries_until_the_output_matches_the_schema() {
    let backend = mock_backend(crew_task::script()).await.unwrap();
    let executor = warden_examples::executor().unwrap();
    let result = crew_task::kickoff(&backend, &executor).await.unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    let json = result.output.unwrap().json.unwrap();
    assert_eq!(json["word_count"], 22);
    // The first answer lacked word_count: the model was told so before its second try.
    let mock = backend.mock.as_ref().unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    let messages = requests[2].body["messages"].as_array().unwrap().clone();
    let feedback = messages.last().unwrap();
    assert_eq!(feedback["role"], "user", "{feedback}");
    assert!(
        feedback["content"].as_str().unwrap().contains("word_count"),
        "{feedback}"
    );
}

#[tokio::test]
async fn minimal_loop_example_answers_from_the_real_calc_result() {
    let backend = mock_backend(minimal_loop::script()).await.unwrap();
    let executor = warden_examples::executor().unwrap();
    let answer = minimal_loop::run(
        backend.model.as_ref(),
        &backend.model_name,
        &executor,
        minimal_loop::TASK,
    )
    .await
    .unwrap();
    assert_eq!(answer, "(2^10 + 6) / 10 = 103.");
    assert!(tool_results(&backend)[0].contains("\"text\":\"103\""));
}

#[test]
fn agent_files_parse_with_the_real_loader() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("agents");
    let expect = [
        ("openai.toml", Provider::OpenAi, Some("OPENAI_API_KEY")),
        (
            "anthropic.toml",
            Provider::Anthropic,
            Some("ANTHROPIC_API_KEY"),
        ),
        ("ollama.toml", Provider::OpenAiCompatible, None),
    ];
    for (file, provider, key) in expect {
        let def = AgentDef::load(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(def.model.provider, provider, "{file}");
        assert_eq!(def.model.api_key_env().as_deref(), key, "{file}");
        assert_eq!(def.tools.len(), 2, "{file}");
        assert_eq!(def.tools[0].component, Path::new("builtin:calc"), "{file}");
        assert_eq!(def.tools[1].component, Path::new("builtin:text"), "{file}");
    }
}

#[tokio::test]
async fn agent_files_tools_and_policies_load_and_run() {
    // The files' built-in tools load with their policies, and the agent runs against the
    // mock.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("agents");
    for file in ["openai.toml", "anthropic.toml", "ollama.toml"] {
        let def = AgentDef::load(dir.join(file)).unwrap();
        let executor = warden_examples::executor().unwrap();
        let agent = warden::Agent::load(&def, &executor).await.unwrap();
        let backend = mock_backend(vec![
            mock_llm::Turn::call("calc", r#"{"expression":"2^20 / 7"}"#),
            mock_llm::Turn::text("149796.571"),
        ])
        .await
        .unwrap();
        let runner = warden::Runner::new(backend.model.clone(), executor);
        let result = runner.run(&agent, "What is 2^20 / 7?").await.unwrap();
        assert_eq!(result.stop_reason, StopReason::Completed, "{file}");
        assert!(tool_results(&backend)[0].contains("149796.571"), "{file}");
    }
}

fn graph_runner(model: std::sync::Arc<warden::testing::ScriptedLlm>) -> warden::Runner {
    let executor = warden::Executor::new(warden::EngineConfig::default()).unwrap();
    warden::Runner::new(model, executor)
}

#[tokio::test]
async fn graph_example_routes_back_to_the_worker_until_the_reviewer_approves() {
    use graph_routing::Node::*;
    let (planner, worker, reviewer) = graph_routing::scripted();
    let agents = graph_routing::Agents::new(planner.clone(), worker.clone(), reviewer.clone());
    let runner = graph_runner(planner.clone());
    let state = graph_routing::run_graph(&runner, &agents, "Explain the sandbox.")
        .await
        .unwrap();
    assert_eq!(state.trail, [Planner, Worker, Reviewer, Worker, Reviewer]);
    assert!(state.approved);
    assert_eq!(state.rounds, 2);
    assert!(state.draft.contains("Fuel bounds"), "{}", state.draft);
    // The second draft was asked for with the reviewer's feedback: routing by state.
    let second = format!("{:?}", worker.requests()[1].messages);
    assert!(second.contains("say what bounds the work"), "{second}");
    for model in [&planner, &worker, &reviewer] {
        model.assert_all_used().unwrap();
    }
}

#[tokio::test]
async fn graph_example_stops_after_max_rounds_without_approval() {
    use warden::testing::{ScriptedLlm, ScriptedModel};
    let rounds = graph_routing::MAX_ROUNDS as usize;
    let planner = std::sync::Arc::new(ScriptedLlm::new([ScriptedModel::text("plan")]));
    let worker = std::sync::Arc::new(ScriptedLlm::new(
        (0..rounds).map(|i| ScriptedModel::text(&format!("draft {i}"))),
    ));
    let reviewer = std::sync::Arc::new(ScriptedLlm::new(
        (0..rounds).map(|_| ScriptedModel::text("REVISE: more")),
    ));
    let agents = graph_routing::Agents::new(planner.clone(), worker.clone(), reviewer.clone());
    let state = graph_routing::run_graph(&graph_runner(planner), &agents, "t")
        .await
        .unwrap();
    assert!(!state.approved);
    assert_eq!(state.rounds, graph_routing::MAX_ROUNDS);
    assert_eq!(state.trail.len(), 1 + 2 * rounds);
    worker.assert_all_used().unwrap();
    reviewer.assert_all_used().unwrap();
}
