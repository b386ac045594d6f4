//! Helpers of the CLI tests: a mock server and a folder per test, agent files written into
//! it, the `warden` command with a clean environment, and readers of what came out.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use mock_llm::{Behaviour, MockConfig, MockHandle, MockServer, RecordedRequest, ScriptUsage, Turn};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The API-key variable the test agents read (set for the child unless a test removes it).
pub const KEY_VAR: &str = "WARDEN_CLI_TEST_KEY";

/// A mock server and a folder for agent files, caches and data.
pub struct Fixture {
    pub mock: MockHandle,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A mock answering with `turns` (and recording what it receives).
    pub async fn new(turns: Vec<Turn>) -> Self {
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
    pub fn openai(&self) -> String {
        format!(
            "[model]\nprovider = \"openai\"\nname = \"gpt-4o-mini\"\nbase_url = \"{}\"\napi_key_env = \"{KEY_VAR}\"\n",
            self.mock.openai_base_url()
        )
    }

    /// `[model]` for the Anthropic wire format at the mock.
    pub fn anthropic(&self) -> String {
        format!(
            "[model]\nprovider = \"anthropic\"\nname = \"claude-sonnet-4-5\"\nbase_url = \"{}\"\napi_key_env = \"{KEY_VAR}\"\n",
            self.mock.base_url()
        )
    }

    /// Writes an agent file named `name` (in the fixture's folder, or a sub-folder of it)
    /// whose body follows the name and instructions.
    pub fn agent_at(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = format!("name = \"cli\"\ninstructions = \"You are a test agent.\"\n{body}");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes `agent.toml`.
    pub fn agent(&self, body: &str) -> PathBuf {
        self.agent_at("agent.toml", body)
    }

    /// `warden <args>` run in the fixture's folder with a private tool cache (and cache key), the test key
    /// set and no colour preference inherited.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("WARDEN_CACHE_DIR", self.dir.path().join("cache"))
            .env("WARDEN_STATE_DIR", self.dir.path().join("state"))
            .env("WARDEN_CONFIG_DIR", self.dir.path().join("config"))
            .env("WARDEN_DATA_DIR", self.dir.path().join("data"))
            .env(KEY_VAR, "test-key")
            .env_remove("NO_COLOR")
            .env_remove("WARDEN_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `warden <args>` to the end.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// The chat requests the mock received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.mock.requests()
    }
}

/// `[[tools]]` for the calc component.
pub fn calc_tool() -> String {
    format!(
        "[[tools]]\ncomponent = {:?}\n",
        warden::testing::guests::CALC
    )
}

/// A captured stream as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Asserts the exit code, showing the streams when it is wrong.
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Asserts neither stream holds an escape code (colours, cursor moves of a spinner).
pub fn no_escape_codes(out: &Output) {
    assert!(!out.stdout.contains(&0x1b), "{:?}", text(&out.stdout));
    assert!(!out.stderr.contains(&0x1b), "{:?}", text(&out.stderr));
}

/// `turn` reporting this token usage.
pub fn with_usage(mut turn: Turn, input_tokens: u64, output_tokens: u64) -> Turn {
    turn.usage = Some(ScriptUsage {
        input_tokens,
        output_tokens,
        cached_tokens: 0,
    });
    turn
}

/// The messages of a recorded request as (role, text) pairs: text blocks joined, other
/// blocks (tool calls and results) as their JSON.
pub fn messages(request: &RecordedRequest) -> Vec<(String, String)> {
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

/// One calc call, then the answer.
pub fn multiply_script() -> Vec<Turn> {
    vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("The answer is 42."),
    ]
}

/// `warden run --json` of an OpenAI agent with `calc` on "What is 6*7?", answered by
/// [`multiply_script`]; the run must succeed. Returns the fixture (its store and mock) too.
pub async fn multiply_json_run() -> (Fixture, Output) {
    let fx = Fixture::new(multiply_script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx
        .run(&["run", "--json", agent.to_str().unwrap(), "What is 6*7?"])
        .await;
    assert_code(&out, 0);
    (fx, out)
}

/// Runs `warden run` on an agent file that must be refused: exit code 1, nothing on stdout,
/// no model call; returns stderr.
pub async fn refused(fx: &Fixture, agent: &Path, setup: impl FnOnce(&mut Command)) -> String {
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

/// A script of one text answer.
pub fn hello() -> Vec<Turn> {
    vec![Turn::text("hello")]
}

/// Runs `warden chat` with `input` on stdin.
pub async fn chat(fx: &Fixture, agent: &Path, input: &str) -> Output {
    let mut child = fx
        .command(&["chat", agent.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A chat that refuses to start exits before reading: its stdin is closed then.
    if let Err(e) = stdin.write_all(input.as_bytes()).await {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(stdin);
    child.wait_with_output().await.unwrap()
}
