//! `warden run --json` on an agent that calls one agent as a tool twice in one turn: every
//! `nested` line carries the id of the call that started its run (`calls`), so a consumer
//! of the lines tells the two runs apart.

use std::collections::HashMap;

use mock_llm::{Behaviour, MockConfig, MockServer, ScriptCall, Turn};
use serde_json::Value;

use crate::support::{Fixture, KEY_VAR, assert_code, text};

fn ask(task: &str) -> ScriptCall {
    ScriptCall {
        name: "worker".into(),
        arguments: format!(r#"{{"input":"{task}"}}"#),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nested_lines_carry_the_call_that_started_their_run() {
    let both = Turn {
        tool_calls: vec![ask("task A"), ask("task B")],
        ..Turn::default()
    };
    let fx = Fixture::new(vec![both, Turn::text("Both done.")]).await;
    // The worker echoes its task: each run's answer says which call it was.
    let echo = MockServer::start(MockConfig {
        behaviour: Behaviour::Echo,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let worker = format!(
        "name = \"worker\"\ninstructions = \"You echo.\"\n[model]\nprovider = \"openai\"\n\
         name = \"gpt-4o-mini\"\nbase_url = \"{}\"\napi_key_env = \"{KEY_VAR}\"\n",
        echo.openai_base_url()
    );
    let triage = fx.agent_at(
        "triage.toml",
        &format!(
            "agent_tools = [{{ agent = \"worker.toml\", description = \"Echoes\" }}]\n{}",
            fx.openai()
        ),
    );
    std::fs::write(triage.parent().unwrap().join("worker.toml"), worker).unwrap();
    let out = fx
        .run(&["run", "--json", triage.to_str().unwrap(), "do both"])
        .await;
    assert_code(&out, 0);
    let lines: Vec<Value> = (text(&out.stdout).lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    // The caller's calls: id → task.
    let tasks: HashMap<String, String> = (lines.iter())
        .filter(|e| e["type"] == "tool_call_started" && e["name"] == "worker")
        .map(|e| {
            let id = e["call_id"].as_str().unwrap().to_owned();
            (id, e["arguments"]["input"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(tasks.len(), 2, "{lines:?}");
    // Each nested line: one call id, one of the caller's; its run's task and answer.
    let mut seen: HashMap<String, (String, String)> = HashMap::new();
    for e in lines.iter().filter(|e| e["type"] == "nested") {
        let calls = e["calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1, "{e}");
        let id = calls[0].as_str().unwrap();
        assert!(tasks.contains_key(id), "{e}");
        let entry = seen.entry(id.to_owned()).or_default();
        match e["event"]["type"].as_str() {
            Some("run_started") => entry.0 = e["event"]["input"].as_str().unwrap().to_owned(),
            Some("run_finished") => {
                entry.1 = e["event"]["output"]["text"].as_str().unwrap().to_owned();
            }
            _ => {}
        }
    }
    for (id, task) in &tasks {
        let (input, answer) = &seen[id];
        assert_eq!((input, answer), (task, task), "call {id}");
    }
}
