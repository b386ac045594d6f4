//! Bad agent files: each makes `warden run` exit 1 with one clear line on stderr naming the
//! file and key, before the first model call (the mock counts no request).

use crate::support::{Fixture, assert_code, calc_tool, hello, refused, text};
use serde_json::Value;

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
        warden::testing::guests::FS
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
