//! The real `warden` binary end to end: `warden run` and `warden chat` spawned as processes
//! against the in-repo mock LLM server (started in this test process on a loopback port,
//! answering from a script) with the real guest components. Each test writes its agent file
//! into a temporary folder and checks the exit code, what went to stdout and stderr, and
//! what the mock received. Bad agent files must fail before the first model call: the mock's
//! request count stays 0.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use mock_llm::{
    Behaviour, MockConfig, MockHandle, MockServer, RecordedRequest, ScriptCall, ScriptUsage, Turn,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The API-key variable the test agents read (set for the child unless a test removes it).
const KEY_VAR: &str = "WARDEN_CLI_TEST_KEY";

/// A mock server and a folder for agent files, caches and data.
struct Fixture {
    mock: MockHandle,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A mock answering with `turns` (and recording what it receives).
    async fn new(turns: Vec<Turn>) -> Self {
        let mock = MockServer::start(MockConfig {
            behaviour: Behaviour::Script { turns },
            record_requests: true,
            ..MockConfig::default()
        })
        .await
        .unwrap();
        Fixture {
            mock,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `[model]` for the OpenAI wire format at the mock.
    fn openai(&self) -> String {
        format!(
            "[model]\nprovider = \"openai\"\nname = \"gpt-4o-mini\"\nbase_url = \"{}\"\napi_key_env = \"{KEY_VAR}\"\n",
            self.mock.openai_base_url()
        )
    }

    /// `[model]` for the Anthropic wire format at the mock.
    fn anthropic(&self) -> String {
        format!(
            "[model]\nprovider = \"anthropic\"\nname = \"claude-sonnet-4-5\"\nbase_url = \"{}\"\napi_key_env = \"{KEY_VAR}\"\n",
            self.mock.base_url()
        )
    }

    /// Writes an agent file named `name` (in the fixture's folder, or a sub-folder of it)
    /// whose body follows the name and instructions.
    fn agent_at(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = format!("name = \"cli\"\ninstructions = \"You are a test agent.\"\n{body}");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes `agent.toml`.
    fn agent(&self, body: &str) -> PathBuf {
        self.agent_at("agent.toml", body)
    }

    /// `warden <args>` run in the fixture's folder with a private tool cache, the test key
    /// set and no colour preference inherited.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("WARDEN_CACHE_DIR", self.dir.path().join("cache"))
            .env(KEY_VAR, "test-key")
            .env_remove("NO_COLOR")
            .env_remove("WARDEN_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    fn requests(&self) -> Vec<RecordedRequest> {
        self.mock.requests()
    }
}

fn calc_tool() -> String {
    format!("[[tools]]\ncomponent = {:?}\n", warden::guests::CALC)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Asserts the exit code, showing the streams when it is wrong.
fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn no_escape_codes(out: &Output) {
    assert!(!out.stdout.contains(&0x1b), "{:?}", text(&out.stdout));
    assert!(!out.stderr.contains(&0x1b), "{:?}", text(&out.stderr));
}

fn with_usage(mut turn: Turn, input_tokens: u64, output_tokens: u64) -> Turn {
    turn.usage = Some(ScriptUsage {
        input_tokens,
        output_tokens,
        cached_tokens: 0,
    });
    turn
}

/// The messages of a recorded request as (role, text) pairs: text blocks joined, other
/// blocks (tool calls and results) as their JSON.
fn messages(request: &RecordedRequest) -> Vec<(String, String)> {
    request.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let content = match &m["content"] {
                Value::String(s) => s.clone(),
                Value::Array(blocks) => blocks
                    .iter()
                    .map(|b| match b["text"].as_str() {
                        Some(t) => t.to_string(),
                        None => b.to_string(),
                    })
                    .collect(),
                other => other.to_string(),
            };
            (m["role"].as_str().unwrap().to_string(), content)
        })
        .collect()
}

fn multiply_script() -> Vec<Turn> {
    vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("The answer is 42."),
    ]
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_written_beside_tool_calls_stays_on_its_own_line() {
    let mut first = Turn::call("calc", r#"{"expression":"6*7"}"#);
    first.text = Some("Let me compute.".into());
    let fx = Fixture::new(vec![first, Turn::text("The answer is 42.")]).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx.run(&["run", agent.to_str().unwrap(), "6*7?"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "Let me compute.\nThe answer is 42.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_prints_every_event_as_one_json_line_in_run_order() {
    let fx = Fixture::new(multiply_script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx
        .run(&["run", "--json", agent.to_str().unwrap(), "What is 6*7?"])
        .await;
    assert_code(&out, 0);
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
            "tool_call_started",
            "tool_call_finished",
            "model_request",
            "text_delta",
            "run_finished"
        ]
    );
    assert_eq!(events[0]["input"], "What is 6*7?");
    assert_eq!(events[2]["name"], "calc");
    assert_eq!(events[3]["ok"], true);
    assert!(events[3]["usage"]["fuel"].as_u64().unwrap() > 0);
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
    assert!(events.iter().all(|e| e["type"] != "text_delta"), "{stdout}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "run_finished");
    assert_eq!(last["output"]["text"], "The answer is 42.", "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_turn_limit_exits_with_2_after_a_forced_answer() {
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
    assert_code(&out, 2);
    assert_eq!(text(&out.stdout), "best effort\n");
    let err = text(&out.stderr);
    assert!(err.contains("turn limit"), "{err}");
    assert!(err.contains("forced final answer"), "{err}");
    // The forced answer was asked for with tools disabled.
    let last = fx.requests().pop().unwrap();
    assert!(last.body["tool_choice"].to_string().contains("none"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_exits_with_2_and_says_so_in_json() {
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
    assert_code(&out, 2);
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
        warden::guests::HOSTILE
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
    assert_eq!(status.code(), Some(1), "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "run_finished", "{events:?}");
    assert_eq!(last["stop_reason"]["reason"], "cancelled");
    assert_eq!(last["usage"]["model_calls"], 1);
    assert_eq!(fx.requests().len(), 1, "no model call after the interrupt");
}

/// Runs `warden run` on an agent file that must be refused: exit code 1, nothing on stdout,
/// no model call; returns stderr.
async fn refused(fx: &Fixture, agent: &Path, setup: impl FnOnce(&mut Command)) -> String {
    let mut cmd = fx.command(&["run", agent.to_str().unwrap(), "hello"]);
    setup(&mut cmd);
    let out = cmd.output().await.unwrap();
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert_eq!(fx.mock.stats().requests, 0, "a model call was made: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one message: {err}");
    no_escape_codes(&out);
    err
}

fn hello() -> Vec<Turn> {
    vec![Turn::text("hello")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toml_syntax_error_names_the_file_and_line() {
    let fx = Fixture::new(hello()).await;
    // Line 8: two header lines, five [model] lines, then the broken header.
    let agent = fx.agent(&format!("{}[budget\nmax_turns = 2\n", fx.openai()));
    let err = refused(&fx, &agent, |_| {}).await;
    assert!(err.contains(&format!("{}:8:", agent.display())), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_named() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&format!("{}[budget]\nmax_turn = 2\n", fx.openai()));
    let err = refused(&fx, &agent, |_| {}).await;
    assert!(err.contains("max_turn"), "{err}");
    assert!(err.contains(&agent.display().to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_model_says_what_to_add() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&calc_tool());
    let err = refused(&fx, &agent, |_| {}).await;
    assert!(err.contains("[model]"), "{err}");
    assert!(err.contains(&agent.display().to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_component_is_named_with_its_key_and_path() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&format!(
        "{}[[tools]]\ncomponent = \"missing.wasm\"\n",
        fx.openai()
    ));
    let err = refused(&fx, &agent, |_| {}).await;
    assert!(err.contains("tools[0].component"), "{err}");
    assert!(err.contains("missing.wasm"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_granting_a_missing_directory_is_refused() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&format!(
        "{}[[tools]]\ncomponent = {:?}\n[tools.policy.defaults]\ndirs = [{{ host = \"./no-such-dir\", guest = \"/data\", mode = \"ro\" }}]\n",
        fx.openai(),
        warden::guests::FS
    ));
    let err = refused(&fx, &agent, |_| {}).await;
    assert!(err.contains("tools[0].policy"), "{err}");
    assert!(err.contains("no-such-dir"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_api_key_names_the_variable() {
    let fx = Fixture::new(hello()).await;
    // The provider's default variable, removed from the child's environment.
    let agent = fx.agent(&format!(
        "[model]\nprovider = \"openai\"\nname = \"gpt-4o-mini\"\nbase_url = \"{}\"\n",
        fx.mock.openai_base_url()
    ));
    let err = refused(&fx, &agent, |cmd| {
        cmd.env_remove("OPENAI_API_KEY");
    })
    .await;
    assert!(err.contains("OPENAI_API_KEY"), "{err}");
    assert!(err.contains(&agent.display().to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_base_url_is_refused() {
    let fx = Fixture::new(hello()).await;
    // A loopback port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let agent = fx.agent(&format!(
        "[model]\nprovider = \"openai-compatible\"\nname = \"llama3.1\"\nbase_url = \"http://{closed}/v1\"\n{}",
        calc_tool()
    ));
    let err = refused(&fx, &agent, |_| {}).await;
    assert!(err.contains("model.base_url"), "{err}");
    assert!(err.contains(&closed.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_errors_in_json_mode_are_one_json_line_on_stdout() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&format!("{}[budget]\nmax_turn = 2\n", fx.openai()));
    let out = fx
        .run(&["run", "--json", agent.to_str().unwrap(), "x"])
        .await;
    assert_code(&out, 1);
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["type"], "error");
    assert!(line["message"].as_str().unwrap().contains("max_turn"));
    assert_eq!(fx.mock.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_answers_each_line_and_carries_the_history() {
    // The mock picks its turn by the number of assistant messages in the history, so the
    // second user turn gets "second answer" only if the first turn's history was sent.
    let turns = vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("first answer"),
        Turn::text("second answer"),
    ];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!("{}{}", fx.anthropic(), calc_tool()));
    let input = "what is 6*7?\nwhat did I ask?\n/exit\nnot sent\n";
    let out = chat(&fx, &agent, input).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "first answer\nsecond answer\n");
    let err = text(&out.stderr);
    assert!(err.contains("calc"), "{err}");
    no_escape_codes(&out);

    let requests = fx.requests();
    assert_eq!(requests.len(), 3, "/exit ends the session");
    let second_turn = messages(&requests[2]);
    let roles: Vec<&str> = second_turn.iter().map(|(r, _)| r.as_str()).collect();
    // user, assistant (tool call), user (tool result), assistant, user.
    assert_eq!(
        roles,
        ["user", "assistant", "user", "assistant", "user"],
        "{second_turn:?}"
    );
    assert_eq!(second_turn[0].1, "what is 6*7?");
    assert!(second_turn[2].1.contains("42"), "{second_turn:?}");
    assert!(second_turn[3].1.contains("first answer"), "{second_turn:?}");
    assert!(
        second_turn[4].1.contains("what did I ask?"),
        "{second_turn:?}"
    );
    assert_eq!(fx.mock.stats().validation_errors, 0);
}

/// Runs `warden chat` with `input` on stdin.
async fn chat(fx: &Fixture, agent: &Path, input: &str) -> Output {
    let mut child = fx
        .command(&["chat", agent.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reports_a_failed_turn_and_goes_on() {
    let fx = Fixture::new(vec![Turn::text("recovered")]).await;
    // The first request is refused (not retried); the second is answered from the script.
    fx.mock.push_faults(["status:400".parse().unwrap()]);
    let agent = fx.agent(&fx.anthropic());
    let out = chat(&fx, &agent, "first\nsecond\n").await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "recovered\n");
    let err = text(&out.stderr);
    assert!(err.contains("model call failed"), "{err}");
    let requests = fx.requests();
    assert_eq!(requests.len(), 2);
    // Both user messages are in the history the mock accepted.
    let sent = requests[1].body["messages"].to_string();
    assert!(sent.contains("first") && sent.contains("second"), "{sent}");
    assert_eq!(fx.mock.stats().validation_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_refuses_a_bad_agent_file_before_reading_input() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&format!("{}[budget]\nmax_turn = 2\n", fx.openai()));
    let out = chat(&fx, &agent, "hello\n").await;
    assert_code(&out, 1);
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("max_turn"));
    assert_eq!(fx.mock.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_policy_directories_are_relative_to_the_agent_file_not_the_cwd() {
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
    let agent = fx.agent_at(
        "agents/agent.toml",
        &format!(
            "{}[[tools]]\ncomponent = {:?}\n[tools.policy.defaults]\ndirs = [{{ host = \"./data\", guest = \"/data\", mode = \"ro\" }}]\n",
            fx.openai(),
            warden::guests::FS
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
