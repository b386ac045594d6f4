//! Bad agent files: each stops in `Runner::from_file` with one message naming the file and
//! key, before the first model call (the mock, which the agent points at, sees nothing).

use mock_llm::{MockConfig, MockHandle, MockServer, Turn};
use warden::{Runner, SetupError};

struct Case {
    mock: MockHandle,
    dir: tempfile::TempDir,
}

impl Case {
    async fn new() -> Self {
        let mock = MockServer::start(MockConfig {
            behaviour: mock_llm::Behaviour::Script {
                turns: vec![Turn::text("hi")],
            },
            ..MockConfig::default()
        })
        .await
        .unwrap();
        Case {
            mock,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A valid agent file pointing at the mock (openai-compatible: no key needed).
    fn good(&self) -> String {
        format!(
            "name = \"bad\"\n[model]\nprovider = \"openai-compatible\"\nname = \"llama3.1\"\nbase_url = \"{}\"\n",
            self.mock.openai_base_url()
        )
    }

    /// Writes `text` as `agent.toml`, builds the runner, and returns the error message.
    async fn error(&self, text: &str) -> String {
        let path = self.dir.path().join("agent.toml");
        std::fs::write(&path, text).unwrap();
        let executor = warden_e2e::sandbox::executor().clone();
        let def = warden::AgentDef::load(&path);
        let result = match def {
            Err(e) => Err(SetupError::Agent(Box::new(e))),
            Ok(def) => Runner::from_def_with(&def, executor).await.map(|_| ()),
        };
        let message = match result {
            Err(e) => e.to_string(),
            Ok(()) => panic!("the agent started:\n{text}"),
        };
        assert_eq!(
            self.mock.stats().requests,
            0,
            "no model call may happen: {message}"
        );
        message
    }
}

#[tokio::test]
async fn the_good_file_starts_and_answers() {
    let case = Case::new().await;
    let path = case.dir.path().join("agent.toml");
    std::fs::write(&path, case.good()).unwrap();
    let (runner, agent) = Runner::from_file(&path).await.unwrap();
    let result = runner.run(&agent, "hello").await.unwrap();
    assert_eq!(result.output.unwrap().text, "hi");
    assert_eq!(case.mock.stats().requests, 1);
}

#[tokio::test]
async fn a_toml_syntax_error_names_the_line() {
    let case = Case::new().await;
    let text = format!("{}\n[budget\nmax_turns = 2\n", case.good());
    let message = case.error(&text).await;
    assert!(message.contains("agent.toml:7:"), "{message}");
}

#[tokio::test]
async fn an_unknown_key_is_named() {
    let case = Case::new().await;
    let text = format!("{}\n[budget]\nmax_turn = 2\n", case.good());
    let message = case.error(&text).await;
    assert!(message.contains("max_turn"), "{message}");
    assert!(message.contains("agent.toml"), "{message}");
}

#[tokio::test]
async fn a_missing_model_says_what_to_add() {
    let case = Case::new().await;
    let message = case.error("name = \"no model\"\n").await;
    assert!(message.contains("model"), "{message}");
    assert!(message.contains("[model]"), "{message}");
}

#[tokio::test]
async fn a_missing_component_names_the_key_and_path() {
    let case = Case::new().await;
    let text = format!("{}\n[[tools]]\ncomponent = \"missing.wasm\"\n", case.good());
    let message = case.error(&text).await;
    assert!(message.contains("tools[0].component"), "{message}");
    assert!(message.contains("missing.wasm"), "{message}");
}

#[tokio::test]
async fn a_component_that_does_not_load_is_reported() {
    let case = Case::new().await;
    std::fs::write(case.dir.path().join("junk.wasm"), b"not wasm at all").unwrap();
    let text = format!("{}\n[[tools]]\ncomponent = \"junk.wasm\"\n", case.good());
    let message = case.error(&text).await;
    assert!(message.contains("tools[0].component"), "{message}");
    assert!(message.contains("does not load"), "{message}");
    assert!(message.contains("wasm"), "{message}");
}

#[tokio::test]
async fn a_policy_granting_a_missing_directory_is_reported() {
    let case = Case::new().await;
    let text = format!(
        "{}\n[[tools]]\ncomponent = {:?}\n[tools.policy.defaults]\ndirs = [{{ host = \"/no/such/dir\", guest = \"/data\", mode = \"ro\" }}]\n",
        case.good(),
        warden::testing::guests::FS
    );
    let message = case.error(&text).await;
    assert!(message.contains("tools[0].policy"), "{message}");
    assert!(message.contains("/no/such/dir"), "{message}");
}

#[tokio::test]
async fn a_missing_api_key_names_the_variable() {
    let case = Case::new().await;
    let text = format!(
        "name = \"k\"\n[model]\nprovider = \"openai\"\nname = \"gpt-4o-mini\"\nbase_url = \"{}\"\napi_key_env = \"WARDEN_E2E_SURELY_UNSET_KEY\"\n",
        case.mock.openai_base_url()
    );
    let message = case.error(&text).await;
    assert!(message.contains("WARDEN_E2E_SURELY_UNSET_KEY"), "{message}");
    assert!(message.contains("agent.toml"), "{message}");
}

#[tokio::test]
async fn an_unreachable_base_url_is_reported() {
    let case = Case::new().await;
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = format!(
        "name = \"u\"\n[model]\nprovider = \"openai-compatible\"\nname = \"llama3.1\"\nbase_url = \"http://{closed}/v1\"\n"
    );
    let message = case.error(&text).await;
    assert!(message.contains("model.base_url"), "{message}");
    assert!(message.contains(&closed.to_string()), "{message}");
}
