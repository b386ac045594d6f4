//! `warden run`: the answer on stdout, tool calls and usage on stderr, `--json` events, the
//! exit codes of answers, budgets and failures, Ctrl-C, and paths relative to the agent file.

use std::process::Stdio;

use mock_llm::{ScriptCall, Turn};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{
    Fixture, assert_code, calc_tool, hello, multiply_json_run, multiply_script, no_escape_codes,
    text, with_usage,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_streams_the_answer_to_stdout_and_tool_calls_and_usage_to_stderr() {
    let fx = Fixture::new(multiply_script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx
        .run(&["run", agent.to_str().unwrap(), "What is 6*7?"])
        .await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "The answer is 42.\n");
    let err = text(&out.stderr);
    assert!(err.contains("calc") && err.contains("6*7"), "{err}");
    assert!(err.contains("fuel"), "tool usage: {err}");
    assert!(err.contains("answered"), "{err}");
    assert!(err.contains("2 model calls"), "{err}");
    // Each model call's usage, as it comes.
    assert_eq!(err.matches("  model: ").count(), 2, "{err}");
    assert!(err.contains("1 tool calls"), "{err}");
    // Piped streams: no colour codes (and no spinner) even without NO_COLOR.
    no_escape_codes(&out);
    let requests = fx.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body["stream"], true, "streams by default");
    assert_eq!(fx.mock.stats().validation_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_without_streaming_speaks_anthropic_and_prints_the_answer_once() {
    let fx = Fixture::new(multiply_script()).await;
    let agent = fx.agent(&format!("{}{}", fx.anthropic(), calc_tool()));
    let out = fx
        .run(&["run", "--no-stream", agent.to_str().unwrap(), "6*7?"])
        .await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "The answer is 42.\n");
    let requests = fx.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].format, "anthropic");
    assert_ne!(requests[0].body["stream"], true);
    // The calc result went back to the model.
    assert!(requests[1].body.to_string().contains("42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_output_schema_only_the_accepted_answer_reaches_stdout() {
    // The first answer fails the schema and is sent back; the second one is accepted.
    let turns = vec![Turn::text("forty-two"), Turn::text(r#"{"n":42}"#)];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!(
        "{}[output]\nschema = {{ type = \"object\", required = [\"n\"], properties = {{ n = {{ type = \"number\" }} }} }}\n",
        fx.openai()
    ));
    let out = fx.run(&["run", agent.to_str().unwrap(), "n?"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "{\"n\":42}\n");
    assert_eq!(fx.requests().len(), 2);
    assert!(fx.requests()[1].body.to_string().contains("rejected"));
}

/// (stdout, stderr) of a run whose model writes text beside its tool call, then answers.
async fn text_beside_tool_calls(flags: &[&str]) -> (String, String) {
    let mut first = Turn::call("calc", r#"{"expression":"6*7"}"#);
    first.text = Some("Let me compute.".into());
    let fx = Fixture::new(vec![first, Turn::text("The answer is 42.")]).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend([agent.to_str().unwrap(), "6*7?"]);
    let out = fx.run(&args).await;
    assert_code(&out, 0);
    (text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_stdout_holds_only_the_answer_and_narration_goes_to_stderr() {
    let (stdout, stderr) = text_beside_tool_calls(&[]).await;
    assert_eq!(stdout, "The answer is 42.\n");
    let narration = stderr.find("  Let me compute.").expect(&stderr);
    let call = stderr.find("→ calc").expect(&stderr);
    assert!(
        narration < call,
        "narration comes before its tool call: {stderr}"
    );
    assert!(!stderr.contains("The answer is 42."), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_stdout_holds_only_the_answer_without_streaming_too() {
    let (stdout, stderr) = text_beside_tool_calls(&["--no-stream"]).await;
    assert_eq!(stdout, "The answer is 42.\n");
    assert!(stderr.contains("  Let me compute."), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dash_reads_the_task_from_stdin() {
    let fx = Fixture::new(vec![Turn::text("read you")]).await;
    let agent = fx.agent(&fx.openai());
    let mut child = fx
        .command(&["run", agent.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"a task\nover two lines\n").await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "read you\n");
    let sent = fx.requests()[0].body["messages"].to_string();
    assert!(sent.contains("a task\\nover two lines"), "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_task_on_stdin_is_refused_before_any_model_call() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&fx.openai());
    let out = fx.run(&["run", agent.to_str().unwrap(), "-"]).await;
    assert_code(&out, 1);
    assert!(text(&out.stderr).contains("the task on stdin is empty"));
    assert_eq!(fx.mock.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_the_exit_codes() {
    let fx = Fixture::new(hello()).await;
    for args in [&["--help"][..], &["run", "--help"]] {
        let out = fx.run(args).await;
        assert_code(&out, 0);
        let help = text(&out.stdout);
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("130  interrupted by Ctrl-C"), "{help}");
        assert!(help.contains("3    stopped by a budget"), "{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_prints_every_event_as_one_json_line_in_run_order() {
    let (_fx, out) = multiply_json_run().await;
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let mut kinds: Vec<&str> = Vec::new();
    for event in &events {
        let kind = event["type"].as_str().unwrap();
        if !(kind == "text_delta" && kinds.last() == Some(&"text_delta")) {
            kinds.push(kind);
        }
    }
    assert_eq!(
        kinds,
        [
            "run_started",
            "model_request",
            "model_response",
            "tool_call_started",
            "tool_call_finished",
            "model_request",
            "text_delta",
            "model_response",
            "run_finished"
        ]
    );
    assert_eq!(events[0]["input"], "What is 6*7?");
    assert_eq!(events[2]["finish_reason"], "tool_calls");
    assert!(events[2]["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(events[3]["name"], "calc");
    assert_eq!(events[4]["ok"], true);
    assert!(events[4]["usage"]["fuel"].as_u64().unwrap() > 0);
    let answer: String = events
        .iter()
        .filter(|e| e["type"] == "text_delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(answer, "The answer is 42.");
    let last = events.last().unwrap();
    assert_eq!(last["stop_reason"]["reason"], "completed");
    assert_eq!(last["usage"]["tool_calls"], 1);
    assert_eq!(last["output"]["text"], "The answer is 42.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_without_streaming_carries_the_answer_in_run_finished() {
    let fx = Fixture::new(multiply_script()).await;
    let agent = fx.agent(&format!("{}{}", fx.anthropic(), calc_tool()));
    let out = fx
        .run(&[
            "run",
            "--json",
            "--no-stream",
            agent.to_str().unwrap(),
            "6*7?",
        ])
        .await;
    assert_code(&out, 0);
    let stdout = text(&out.stdout);
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // Without streaming, each answering call's text arrives as one delta.
    let deltas: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "text_delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["The answer is 42."], "{stdout}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "run_finished");
    assert_eq!(last["output"]["text"], "The answer is 42.", "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_turn_limit_exits_with_3_after_a_forced_answer() {
    let turns = vec![
        Turn::call("calc", r#"{"expression":"1+1"}"#),
        Turn::text("best effort"),
    ];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!(
        "{}{}[budget]\nmax_turns = 1\n",
        fx.openai(),
        calc_tool()
    ));
    let out = fx.run(&["run", agent.to_str().unwrap(), "loop"]).await;
    assert_code(&out, 3);
    assert_eq!(text(&out.stdout), "best effort\n");
    let err = text(&out.stderr);
    assert!(err.contains("turn limit"), "{err}");
    assert!(err.contains("forced final answer"), "{err}");
    // The forced answer was asked for with tools disabled.
    let last = fx.requests().pop().unwrap();
    assert!(last.body["tool_choice"].to_string().contains("none"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_exits_with_3_and_says_so_in_json() {
    let turns = vec![
        with_usage(Turn::call("calc", r#"{"expression":"2*3"}"#), 800, 400),
        Turn::text("what I know"),
    ];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!(
        "{}{}[budget]\nmax_total_tokens = 1000\n",
        fx.openai(),
        calc_tool()
    ));
    let out = fx
        .run(&["run", "--json", agent.to_str().unwrap(), "x"])
        .await;
    assert_code(&out, 3);
    let stdout = text(&out.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "run_finished");
    assert_eq!(last["stop_reason"]["reason"], "budget");
    assert_eq!(last["stop_reason"]["resource"], "total_tokens");
    assert_eq!(last["forced"], true);
    assert_eq!(last["output"]["text"], "what I know");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_call_exits_with_1_and_says_why() {
    // The script has one turn: the mock refuses the second request with a 400.
    let fx = Fixture::new(vec![Turn::call("calc", r#"{"expression":"1+2"}"#)]).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx.run(&["run", agent.to_str().unwrap(), "x"]).await;
    assert_code(&out, 1);
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("the script has 1 turn(s)"), "{err}");
    assert_eq!(fx.mock.stats().requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_tool_call_stops_the_run_and_reports_it() {
    let turns = vec![
        Turn::call("sleep", r#"{"ms":60000}"#),
        Turn::text("never asked"),
    ];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!(
        "{}[[tools]]\ncomponent = {:?}\n[tools.policy.defaults]\ntimeout = \"120s\"\n",
        fx.openai(),
        warden::testing::guests::HOSTILE
    ));
    let mut child = fx
        .command(&["run", "--json", agent.to_str().unwrap(), "wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let event: Value = serde_json::from_str(&line).unwrap();
        let started = event["type"] == "tool_call_started";
        events.push(event);
        if started {
            // The sleep is running: interrupt the process as a terminal's Ctrl-C would.
            let pid = i32::try_from(child.id().unwrap()).unwrap();
            // SAFETY: sends a signal to our own child process; no memory is involved.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        }
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(130), "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "run_finished", "{events:?}");
    assert_eq!(last["stop_reason"]["reason"], "cancelled");
    assert_eq!(last["usage"]["model_calls"], 1);
    assert_eq!(fx.requests().len(), 1, "no model call after the interrupt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_and_inline_policy_directories_are_relative_to_the_agent_file() {
    let turns = vec![
        Turn {
            tool_calls: vec![ScriptCall {
                name: "fs_read".into(),
                arguments: r#"{"path":"/data/note.txt"}"#.into(),
            }],
            ..Turn::default()
        },
        Turn::text("read it"),
    ];
    let fx = Fixture::new(turns).await;
    let data = fx.dir.path().join("agents").join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("note.txt"), "a note beside the agent").unwrap();
    // The component too is named relative to the agent file.
    std::fs::copy(
        warden::testing::guests::FS,
        fx.dir.path().join("agents").join("fs.wasm"),
    )
    .unwrap();
    let agent = fx.agent_at(
        "agents/agent.toml",
        &format!(
            "{}[[tools]]\ncomponent = \"fs.wasm\"\n[tools.policy.defaults]\ndirs = [{{ host = \"./data\", guest = \"/data\", mode = \"ro\" }}]\n",
            fx.openai(),
        ),
    );
    // Run from another folder, naming the agent file by a relative path.
    let elsewhere = fx.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = fx
        .command(&["run", "../agents/agent.toml", "read the note"])
        .current_dir(&elsewhere)
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "read it\n");
    let requests = fx.requests();
    assert_eq!(requests.len(), 2);
    let sent = requests[1].body.to_string();
    assert!(sent.contains("a note beside the agent"), "{sent}");
    assert!(agent.is_file());
}
