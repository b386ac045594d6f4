//! Runner tests with the scripted model and the real calc component (no network).

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::*;
use crate::testing::{ScriptedLlm, stream_events};
use warden_core::chat::StreamEvent;
use warden_core::controller::LoopConfig;
use warden_core::run::{ModelFailureKind, StopReason};
use warden_core::testing::ScriptedModel;
use warden_sandbox::{ToolPolicy, ToolSet};

fn executor() -> &'static Executor {
    static EXECUTOR: std::sync::OnceLock<Executor> = std::sync::OnceLock::new();
    EXECUTOR.get_or_init(|| Executor::new(EngineConfig::default()).unwrap())
}

async fn calc() -> Arc<ToolSet> {
    static SET: OnceCell<Arc<ToolSet>> = OnceCell::const_new();
    SET.get_or_init(|| async { executor().load_file(crate::guests::CALC).await.unwrap() })
        .await
        .clone()
}

async fn calc_agent() -> Agent {
    Agent::new(LoopConfig::new("scripted"))
        .with_tools(calc().await, ToolPolicy::default())
        .unwrap()
}

fn script() -> Vec<warden_core::chat::ChatResponse> {
    vec![
        ScriptedModel::calls(&[("c1", "calc", r#"{"expression":"20+22"}"#)]),
        ScriptedModel::text("It is forty-two."),
    ]
}

#[tokio::test]
async fn a_scripted_run_uses_every_response_and_records_requests() {
    let model = Arc::new(ScriptedLlm::new(script()));
    let runner = Runner::new(model.clone(), executor().clone());
    let result = runner.run(&calc_agent().await, "20+22?").await.unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "It is forty-two.");
    model.assert_all_used().unwrap();
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    let last = requests[1].messages.last().unwrap();
    assert!(format!("{last:?}").contains("42"), "{last:?}");
    assert_eq!(requests[0].tools.len(), 1);
}

#[tokio::test]
async fn streaming_splits_the_answer_into_deltas() {
    let model = Arc::new(ScriptedLlm::new(script()));
    let runner = Runner::new(model, executor().clone()).streaming(true);
    let mut deltas = Vec::new();
    let result = runner
        .run_with(&calc_agent().await, "x", &RunHandle::new(), |e| {
            if let RunEvent::TextDelta { text } = e {
                deltas.push(text);
            }
        })
        .await
        .unwrap();
    assert!(deltas.len() > 1, "{deltas:?}");
    assert_eq!(deltas.concat(), result.output.unwrap().text);
}

#[tokio::test]
async fn a_request_past_the_script_ends_the_run_with_a_model_error() {
    let model = Arc::new(ScriptedLlm::new(vec![ScriptedModel::calls(&[(
        "c1",
        "calc",
        r#"{"expression":"1"}"#,
    )])]));
    let runner = Runner::new(model.clone(), executor().clone());
    let result = runner.run(&calc_agent().await, "x").await.unwrap();
    let StopReason::ModelError { failure } = &result.stop_reason else {
        panic!("{:?}", result.stop_reason);
    };
    assert_eq!(
        failure.kind,
        ModelFailureKind::InvalidResponse,
        "{failure:?}"
    );
    assert!(failure.message.contains("no response left"), "{failure:?}");
    assert_eq!(model.remaining(), 0);
}

#[tokio::test]
async fn unused_responses_are_reported() {
    let model = ScriptedLlm::new(script());
    assert!(
        model
            .assert_all_used()
            .unwrap_err()
            .to_string()
            .contains("2")
    );
}

#[tokio::test]
async fn a_cancelled_handle_stops_before_the_first_model_call() {
    let model = Arc::new(ScriptedLlm::new(script()));
    let runner = Runner::new(model.clone(), executor().clone());
    let handle = RunHandle::new();
    handle.cancel();
    let result = runner
        .run_with(&calc_agent().await, "x", &handle, |_| {})
        .await
        .unwrap();
    assert!(matches!(result.stop_reason, StopReason::Cancelled { .. }));
    assert!(model.requests().is_empty());
}

#[test]
fn stream_events_cut_text_and_arguments_into_pieces() {
    let events = stream_events(&ScriptedModel::calls(&[(
        "c1",
        "calc",
        r#"{"expression":"1+2"}"#,
    )]));
    let args: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallDelta { arguments, .. } => Some(arguments.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(args, r#"{"expression":"1+2"}"#);
    let pieces = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
        .count();
    assert!(pieces > 1);
    assert!(matches!(events.last(), Some(StreamEvent::Finish { .. })));
}

fn probe_config(base_url: String) -> warden_llm::ProviderConfig {
    let mut config = warden_llm::ProviderConfig::new(warden_llm::ProviderKind::Openai, "m");
    config.base_url = Some(base_url);
    config
}

#[tokio::test]
async fn the_probe_fails_on_a_closed_loopback_port_and_passes_on_any_http_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = setup::probe(&probe_config(format!("http://{closed}/v1")))
        .await
        .unwrap_err();
    assert!(err.contains("onnect"), "{err}");
    let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", open.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = open.accept().await.unwrap();
        let mut head = vec![0; 1024];
        let n = socket.read(&mut head).await.unwrap();
        socket
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&head[..n]).into_owned()
    });
    setup::probe(&probe_config(url)).await.unwrap();
    let head = server.await.unwrap();
    assert!(head.starts_with("HEAD /v1 HTTP/1.1\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "{head}"
    );
}

#[test]
fn run_sync_refuses_inside_a_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let runner = Runner::new(Arc::new(ScriptedLlm::new(script())), executor().clone());
    let agent = Agent::new(LoopConfig::new("scripted"));
    let inside = runtime.block_on(async { runner.run_sync(&agent, "x") });
    assert!(matches!(inside, Err(RunError::InsideRuntime)));
    let outside = runner.run_sync(&agent, "x").unwrap();
    // No tools in this agent: the scripted call is rejected, then the text answers.
    assert_eq!(outside.output.unwrap().text, "It is forty-two.");
}

#[tokio::test]
async fn an_inline_policy_grants_directories_relative_to_the_agent_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let path = dir.path().join("agent.toml");
    let text = format!(
        "name = \"rel\"\n[model]\nprovider = \"openai-compatible\"\nname = \"m\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
         [[tools]]\ncomponent = {:?}\n[tools.policy.defaults]\ndirs = [{{ host = \"./data\", guest = \"/data\", mode = \"ro\" }}]\n",
        crate::guests::FS
    );
    std::fs::write(&path, text).unwrap();
    // The test's current directory (the crate's folder) has no `data`: only the agent
    // file's folder does.
    assert!(!std::path::Path::new("data").exists());
    let def = AgentDef::load(&path).unwrap();
    let agent = Agent::load(&def, executor()).await.unwrap();
    let granted = &agent.binding("fs_read").unwrap().policy.dirs[0];
    assert_eq!(granted.host, dir.path().join("./data"));
    assert!(granted.host.is_dir());
}

#[tokio::test]
async fn schemas_are_compiled_again_after_the_config_changes() {
    let agent = calc_agent().await;
    assert!(agent.controller("first".into()).is_ok());
    // The cached schemas must not outlive the config they were compiled for.
    let mut config = agent.config().clone();
    config.stop_on_tools = vec!["no_such_tool".into()];
    let changed = agent.with_config(config);
    let err = changed
        .controller("second".into())
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("no_such_tool")),
        "{err:?}"
    );
}

#[tokio::test]
async fn schemas_are_kept_when_only_the_budget_changes() {
    let agent = calc_agent().await;
    assert!(agent.controller("first".into()).is_ok());
    assert!(agent.schemas_compiled());
    // Every run caps its agent's budget: that must not compile the schemas again.
    let mut config = agent.config().clone();
    config.budget.max_turns = Some(3);
    let capped = agent.clone().with_config(config);
    assert!(
        capped.schemas_compiled(),
        "a budget change dropped the schemas"
    );
    let mut config = agent.config().clone();
    config.output_schema = Some(serde_json::json!({"type": "object"}));
    assert!(!agent.with_config(config).schemas_compiled());
}

/// A run spends most of its life waiting on the model; the tool step's state (sandbox
/// call, task set) is boxed while it runs, so the run's own future, held for the whole
/// run, does not carry it (every in-flight run would hold those bytes for nothing).
#[tokio::test]
async fn a_run_future_does_not_carry_the_tool_steps_state() {
    let agent = calc_agent().await;
    let runner = Runner::new(Arc::new(ScriptedLlm::new(script())), executor().clone());
    let mut controller = agent.controller("x".into()).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut sink = |_: RunEvent| {};
    let plan = warden_core::controller::ToolPlan {
        calls: Vec::new(),
        max_concurrency: 1,
    };
    let mut recorder = super::record::Recorder::off();
    let step = tools::run_tools(
        &runner,
        &agent,
        plan,
        &mut controller,
        &cancel,
        &mut sink,
        &mut recorder,
    );
    let step_size = std::mem::size_of_val(&step);
    drop(step);
    let run = runner.run(&agent, "x");
    let run_size = std::mem::size_of_val(&run);
    assert!(
        run_size < step_size,
        "the run future ({run_size} B) holds the tool step ({step_size} B) inline"
    );
}

/// A caller that never reads the events still gets the whole result, and once it has taken
/// the result nothing is kept for it: the channel is closed.
#[tokio::test]
async fn a_streamed_run_whose_events_are_never_read_still_gives_its_result() {
    let model = Arc::new(ScriptedLlm::new(script()));
    let runner = Runner::new(model.clone(), executor().clone());
    let (stream, _handle) = runner.run_streamed(&calc_agent().await, "20+22?");
    let result = stream.result().await.unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "It is forty-two.");
    model.assert_all_used().unwrap();
}

/// Dropping the stream closes it: the run goes on to its end without a reader.
#[tokio::test]
async fn a_dropped_stream_does_not_stop_the_run() {
    let model = Arc::new(ScriptedLlm::new(script()));
    let runner = Runner::new(model.clone(), executor().clone());
    let (stream, handle) = runner.run_streamed(&calc_agent().await, "20+22?");
    drop(stream);
    for _ in 0..200 {
        if model.remaining() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(model.remaining(), 0, "the run stopped without its reader");
    assert!(!handle.is_cancelled());
}

/// A server spawns runs on a multi-threaded runtime, and the CLI runs its command on a
/// worker: every run future is `Send` when its event callback is. (The durable ones were
/// not: they kept the callback as a `dyn FnMut` without `Send`.)
#[tokio::test]
async fn every_run_future_is_send() {
    fn send<F: std::future::Future + Send>(_: F) {}
    let runner = Runner::new(Arc::new(ScriptedLlm::new([])), executor().clone());
    let (agent, handle) = (calc_agent().await, RunHandle::new());
    send(runner.run(&agent, "x"));
    send(runner.run_with(&agent, "x", &handle, |_| {}));
    send(runner.run_recorded(&agent, "x", &handle, |_| {}));
    send(runner.run_recorded_as(&agent, "id".into(), "x", &handle, |_| {}));
    send(runner.run_session(&agent, "s", "x", &handle, |_| {}));
    send(runner.resume(&agent, "id", &ResumeOptions::default(), &handle, |_| {}));
    let mut session = runner.session(&agent);
    send(session.send("x", &handle, |_| {}));
}
