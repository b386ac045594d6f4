//! Traces from the command line: `warden run` exporting over OTLP to a collector on loopback
//! (decoding the real protobuf), message content only when asked and the key (the value of
//! `KEY_VAR`) redacted, a
//! collector that is down costing a warning and not the run, and `warden trace` drawing the
//! `--json` events as a tree.

use std::process::Output;

use warden_trace::testing::proto::tonic::common::v1::any_value::Value;
use warden_trace::testing::proto::tonic::trace::v1::Span;
use warden_trace::testing::{Collector, closed_port};

use mock_llm::Turn;

use crate::support::{Fixture, assert_code, calc_tool, multiply_script, text};

/// `warden run --json` of the calc script with `env` set; the task carries the test key.
async fn run_with(fx: &Fixture, env: &[(&str, String)]) -> Output {
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let mut cmd = fx.command(&[
        "run",
        "--json",
        agent.to_str().unwrap(),
        "What is 6*7? test-key",
    ]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.env_remove("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT");
    cmd.output().await.unwrap()
}

fn spans(collector: &Collector) -> Vec<Span> {
    collector
        .requests()
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_exports_the_span_tree_of_its_run_without_content_by_default() {
    let fx = Fixture::new(multiply_script()).await;
    let collector = Collector::start().await;
    let out = run_with(
        &fx,
        &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.url())],
    )
    .await;
    assert_code(&out, 0);
    let spans = spans(&collector);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(spans.len(), 4, "{names:?}");
    assert!(
        names.contains(&"invoke_agent cli") && names.contains(&"execute_tool calc"),
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "chat gpt-4o-mini").count(),
        2
    );
    let run = spans.iter().find(|s| s.parent_span_id.is_empty()).unwrap();
    assert!(
        matches!(attr(run, "gen_ai.provider.name"), Some(Value::StringValue(p)) if p == "openai")
    );
    // The trace id is the run id the --json events carry.
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(hex(&run.trace_id), first["run_id"].as_str().unwrap());
    for span in &spans {
        for key in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
        ] {
            assert!(
                attr(span, key).is_none(),
                "content is off by default: {key}"
            );
        }
    }
    // Nor do the events carry the calls' messages.
    assert!(!text(&out.stdout).contains("model_content"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_recorded_when_asked_and_the_api_key_never_is() {
    let fx = Fixture::new(multiply_script()).await;
    let collector = Collector::start().await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx
        .command(&["run", agent.to_str().unwrap(), "What is 6*7? test-key"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            collector.url().trim_end_matches("/v1/traces"),
        )
        .env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    // `test-key` is the value of the fixture's key variable (KEY_VAR), and the task quotes it.
    for body in collector.raw_bodies() {
        assert!(
            !String::from_utf8_lossy(&body).contains("test-key"),
            "the key was exported"
        );
    }
    let spans = spans(&collector);
    let run = spans.iter().find(|s| s.parent_span_id.is_empty()).unwrap();
    match attr(run, "gen_ai.input.messages") {
        Some(Value::StringValue(input)) => {
            assert!(
                input.contains("What is 6*7?") && input.contains("[REDACTED]"),
                "{input}"
            );
        }
        other => panic!("input messages: {other:?}"),
    }
    let tool = spans
        .iter()
        .find(|s| s.name == "execute_tool calc")
        .unwrap();
    assert!(
        matches!(attr(tool, "gen_ai.tool.call.arguments"), Some(Value::StringValue(a)) if a.contains("6*7"))
    );
    // Each model call carries its full request and its answer as GenAI message JSON.
    let mut chats: Vec<&Span> = (spans.iter())
        .filter(|s| s.name == "chat gpt-4o-mini")
        .collect();
    chats.sort_by_key(|s| s.start_time_unix_nano);
    let json = |span: &Span, key: &str| match attr(span, key) {
        Some(Value::StringValue(text)) => serde_json::from_str::<serde_json::Value>(text).unwrap(),
        other => panic!("{key}: {other:?}"),
    };
    let input = json(chats[1], "gen_ai.input.messages");
    let roles: Vec<&str> = (input.as_array().unwrap().iter())
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"], "{input}");
    assert_eq!(input[0]["parts"][0]["content"], "You are a test agent.");
    let user = input[1]["parts"][0]["content"].as_str().unwrap();
    assert!(user.contains("What is 6*7? [REDACTED]"), "{user}");
    assert_eq!(input[2]["parts"][0]["type"], "tool_call");
    assert_eq!(input[2]["parts"][0]["name"], "calc");
    assert_eq!(input[3]["parts"][0]["type"], "tool_call_response");
    let result = input[3]["parts"][0]["response"].as_str().unwrap();
    assert!(result.contains("\"text\":\"42\""), "{result}");
    let output = json(chats[1], "gen_ai.output.messages");
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["parts"][0]["content"], "The answer is 42.");
    assert_eq!(output[0]["finish_reason"], "stop");
    let first = json(chats[0], "gen_ai.output.messages");
    assert_eq!(first[0]["parts"][0]["type"], "tool_call", "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_is_a_warning_and_the_run_still_answers() {
    let fx = Fixture::new(multiply_script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx
        .command(&["run", agent.to_str().unwrap(), "What is 6*7?"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", closed_port()),
        )
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "The answer is 42.\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("WARN") && err.contains("traces could not be sent"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_trace_draws_the_json_events_of_a_run_as_a_tree() {
    let fx = Fixture::new(multiply_script()).await;
    let out = run_with(&fx, &[]).await;
    assert_code(&out, 0);
    let events = fx.dir.path().join("events.jsonl");
    std::fs::write(&events, &out.stdout).unwrap();
    let shown = fx.run(&["trace", events.to_str().unwrap()]).await;
    assert_code(&shown, 0);
    let tree = text(&shown.stdout);
    let lines: Vec<&str> = tree.lines().collect();
    assert!(
        lines[0].starts_with("run ") && lines[0].contains("model gpt-4o-mini (openai)"),
        "{tree}"
    );
    assert!(lines[0].ends_with("answered"), "{tree}");
    assert!(lines[1].starts_with("├─ chat #1 turn"), "{tree}");
    assert!(lines[2].starts_with("│  └─ calc call_"), "{tree}");
    assert!(
        lines[2].contains("fuel") && lines[2].ends_with("ok"),
        "{tree}"
    );
    assert!(lines[3].starts_with("└─ chat #2 turn"), "{tree}");
    assert!(lines[4].starts_with("total  2 model calls"), "{tree}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_trace_refuses_a_file_that_is_not_events_naming_the_line() {
    let fx = Fixture::new(multiply_script()).await;
    let file = fx.dir.path().join("notes.txt");
    std::fs::write(&file, "{\"schema\":1,\"type\":\"run_started\"}\nhello\n").unwrap();
    let out = fx.run(&["trace", file.to_str().unwrap()]).await;
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(err.starts_with("error: line 1:"), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_session_is_one_trace_with_a_span_per_turn() {
    let turns = vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("first answer"),
        Turn::text("second answer"),
    ];
    let fx = Fixture::new(turns).await;
    let collector = Collector::start().await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    // Spawned here rather than with `support::chat`, to point it at the collector.
    let mut cmd = fx.command(&["chat", agent.to_str().unwrap()]);
    cmd.env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"what is 6*7?\nand again?\n")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_code(&out, 0);
    let spans = spans(&collector);
    let turns: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(turns.len(), 2, "a span per turn");
    assert_ne!(turns[0].span_id, turns[1].span_id);
    assert!(
        spans.iter().all(|s| s.trace_id == turns[0].trace_id),
        "one trace"
    );
    let chats = spans.iter().filter(|s| s.name.starts_with("chat ")).count();
    assert_eq!(chats, 3);
}
