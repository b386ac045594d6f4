//! Two calls of one agent in one turn, running side by side: triage calls worker twice
//! (`t_1` with task A, `t_2` with task B), each worker calls a helper agent by the same id
//! (`w_1`). The models are gated so the two worker runs interleave both ways (A's first
//! model call answers only after B's has, B's second waits for A's first). Every nested
//! event names the calls that started it; the live export, the spans rebuilt from the
//! store and `warden runs show` put each worker (and its helper) under its own call.
//!
//! Which run is which is told by the tokens its model calls report: worker A 100, worker
//! B 200, helper of A 10, helper of B 20.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::sync::Notify;
use warden::testing::{ScriptedLlm, ScriptedModel};
use warden::{AgentTool, LoopConfig, RunEvent, Team};
use warden_core::chat::{ChatRequest, ChatResponse, Message, StreamEvent};
use warden_core::events::{EventRecord, new_run_id};
use warden_llm::{LlmError, Model, Notices};
use warden_trace::testing::Collector;
use warden_trace::testing::proto::tonic::trace::v1::Span;
use warden_trace::{SpanBuilder, TraceOptions};

use crate::support::{Fixture, assert_code, text};
use crate::trace_team::{hex, spans, store_run, traced_run};

/// One model call of a task: wait for `wait` (when set), then signal `then`, then answer.
struct Gate {
    wait: Option<Arc<Notify>>,
    then: Option<Arc<Notify>>,
}

/// A model that answers each run from the script of its task (its first user message),
/// each call passing its gate first: the test decides how runs interleave.
struct ByTask {
    name: String,
    scripts: HashMap<String, (ScriptedLlm, Vec<Gate>)>,
    calls: Mutex<HashMap<String, usize>>,
}

impl ByTask {
    fn new(name: &str) -> Self {
        ByTask {
            name: name.into(),
            scripts: HashMap::new(),
            calls: Mutex::default(),
        }
    }

    fn task(mut self, task: &str, script: Vec<(ChatResponse, Gate)>) -> Self {
        let (responses, gates): (Vec<_>, Vec<_>) = script.into_iter().unzip();
        let entry = (ScriptedLlm::new(responses), gates);
        self.scripts.insert(task.into(), entry);
        self
    }

    /// The script of `request`'s task, after its gate for this call.
    async fn gated(&self, request: &ChatRequest) -> Result<&ScriptedLlm, LlmError> {
        let task = (request.messages.iter())
            .find_map(|m| match m {
                Message::User { content } => Some(content.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let Some((script, gates)) = self.scripts.get(&task) else {
            return Err(LlmError::InvalidResponse {
                url: "scripted://model".into(),
                context: self.name.clone(),
                detail: format!("no script for task {task:?}"),
            });
        };
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(task).or_default();
            *n += 1;
            *n - 1
        };
        if let Some(gate) = gates.get(n) {
            if let Some(wait) = &gate.wait {
                wait.notified().await;
            }
            if let Some(then) = &gate.then {
                then.notify_one();
            }
        }
        Ok(script)
    }
}

impl Model for ByTask {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        notices: &'a Notices,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move { self.gated(request).await?.complete(request, notices).await })
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        notices: &'a Notices,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>> {
        Box::pin(async move { self.gated(request).await?.stream(request, notices).await })
    }

    fn provider(&self) -> &str {
        "scripted"
    }

    fn model_name(&self) -> &str {
        &self.name
    }
}

/// `response` reporting `tokens` input tokens.
fn used(mut response: ChatResponse, tokens: u64) -> ChatResponse {
    response.usage.input_tokens = tokens;
    response
}

fn open() -> Gate {
    Gate {
        wait: None,
        then: None,
    }
}

fn agent(name: &str, model: Arc<dyn Model>) -> warden::Agent {
    let mut config = LoopConfig::new(format!("{name}-model"));
    config.agent_name = name.into();
    warden::Agent::new(config).with_model(model)
}

fn team() -> Team {
    let helper = ByTask::new("helper-model")
        .task(
            "A-detail",
            vec![(used(ScriptedModel::text("a"), 10), open())],
        )
        .task(
            "B-detail",
            vec![(used(ScriptedModel::text("b"), 20), open())],
        );
    let (b_started, a_going) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let worker_script = |task: &str, tokens, first: Gate, second: Gate| {
        let args = format!(r#"{{"input":"{task}-detail"}}"#);
        vec![
            (
                used(ScriptedModel::calls(&[("w_1", "helper", &args)]), tokens),
                first,
            ),
            (
                used(ScriptedModel::text(&format!("worker {task}")), tokens),
                second,
            ),
        ]
    };
    let a_first = Gate {
        wait: Some(b_started.clone()),
        then: Some(a_going.clone()),
    };
    let b_first = Gate {
        wait: None,
        then: Some(b_started),
    };
    let b_second = Gate {
        wait: Some(a_going),
        then: None,
    };
    let worker = ByTask::new("worker-model")
        .task("A", worker_script("A", 100, a_first, open()))
        .task("B", worker_script("B", 200, b_first, b_second));
    let helper = agent("helper", Arc::new(helper));
    let worker = agent("worker", Arc::new(worker))
        .with_agent_tool(AgentTool::new(helper, "Finds details"))
        .unwrap();
    let triage = ScriptedLlm::new([
        used(
            ScriptedModel::calls(&[
                ("t_1", "worker", r#"{"input":"A"}"#),
                ("t_2", "worker", r#"{"input":"B"}"#),
            ]),
            1,
        ),
        used(ScriptedModel::text("Both done."), 1),
    ]);
    let triage = agent("triage", Arc::new(triage))
        .with_agent_tool(AgentTool::new(worker, "Works"))
        .unwrap();
    Team::builder(triage).build().unwrap()
}

/// The tokens a nested event's model call reported, if it is a model response.
fn tokens(event: &RunEvent) -> Option<u64> {
    match event {
        RunEvent::ModelResponse { usage, .. } => Some(usage.input_tokens),
        _ => None,
    }
}

/// Every nested event names its calls, and each call's events are its own run's.
fn assert_calls(records: &[EventRecord]) {
    let mut order = Vec::new();
    for record in records {
        let RunEvent::Nested { path, calls, event } = &record.event else {
            continue;
        };
        let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
        let (worker, helper) = match calls.as_slice() {
            ["t_1"] | ["t_1", "w_1"] => (100, 10),
            ["t_2"] | ["t_2", "w_1"] => (200, 20),
            other => panic!("{path:?}: calls {other:?}"),
        };
        assert_eq!(path.len(), calls.len() + 1, "{path:?} {calls:?}");
        let expected = if calls.len() == 1 { worker } else { helper };
        if let Some(tokens) = tokens(event) {
            assert_eq!(tokens, expected, "{path:?} {calls:?}");
        }
        if let RunEvent::RunStarted { input, .. } = &**event {
            let task = if worker == 100 { "A" } else { "B" };
            let task = if calls.len() == 1 {
                task.to_owned()
            } else {
                format!("{task}-detail")
            };
            assert_eq!(*input, task, "{calls:?}");
        }
        order.push(calls[0]);
    }
    // The gates made the runs interleave: neither call's events all come before the
    // other's (B's model call started before A's answered; B's second waited for it).
    let range = |call| {
        let first = order.iter().position(|c| *c == call).unwrap();
        let last = order.iter().rposition(|c| *c == call).unwrap();
        (first, last)
    };
    let ((a0, a1), (b0, b1)) = (range("t_1"), range("t_2"));
    assert!(a0 < b1 && b0 < a1, "the runs did not overlap: {order:?}");
}

/// The spans under `parent`, by name.
fn under<'a>(all: &'a [Span], parent: &Span, name: &str) -> Vec<&'a Span> {
    (all.iter())
        .filter(|s| s.parent_span_id == parent.span_id && s.name == name)
        .collect()
}

fn input_tokens(span: &Span) -> i64 {
    use warden_trace::testing::proto::tonic::common::v1::any_value::Value;
    let value = (span.attributes.iter())
        .find(|kv| kv.key == warden_trace::keys::USAGE_INPUT_TOKENS)
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    match value {
        Some(Value::IntValue(n)) => n,
        other => panic!("{}: input tokens {other:?}", span.name),
    }
}

fn call_id(span: &Span) -> String {
    use warden_trace::testing::proto::tonic::common::v1::any_value::Value;
    let value = (span.attributes.iter())
        .find(|kv| kv.key == warden_trace::keys::TOOL_CALL_ID)
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    match value {
        Some(Value::StringValue(s)) => s,
        other => panic!("{}: call id {other:?}", span.name),
    }
}

/// The one span under `parent` named `name`.
fn one<'a>(all: &'a [Span], parent: &Span, name: &str) -> &'a Span {
    let found = under(all, parent, name);
    assert_eq!(found.len(), 1, "{name} under {}", parent.name);
    found[0]
}

/// The export: two worker subtrees, each under its own call, each helper under its
/// worker's call of it.
fn assert_exported(exported: &[Span]) {
    let run = (exported.iter())
        .find(|s| s.name == "invoke_agent triage")
        .unwrap();
    let calls = under(exported, run, "execute_tool worker");
    let ids: BTreeSet<String> = calls.iter().map(|s| call_id(s)).collect();
    assert_eq!(ids, BTreeSet::from(["t_1".into(), "t_2".into()]));
    for call in calls {
        let (worker_tokens, helper_tokens) = match call_id(call).as_str() {
            "t_1" => (100, 10),
            _ => (200, 20),
        };
        let worker = one(exported, call, "invoke_agent worker");
        let chats: Vec<i64> = (under(exported, worker, "chat worker-model").into_iter())
            .map(input_tokens)
            .collect();
        assert_eq!(chats, [worker_tokens, worker_tokens], "{}", call_id(call));
        let helper_call = one(exported, worker, "execute_tool helper");
        let helper = one(exported, helper_call, "invoke_agent helper");
        let chat = one(exported, helper, "chat helper-model");
        assert_eq!(input_tokens(chat), helper_tokens, "{}", call_id(call));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_of_one_agent_are_told_apart_in_events_export_store_and_runs_show() {
    let fx = Fixture::new(Vec::new()).await;
    let collector = Collector::start().await;
    let run_id = new_run_id();
    let records = traced_run(&run_id, &collector, team(), "work", "Both done.").await;
    assert_calls(&records);
    let exported = spans(&collector);
    assert_exported(&exported);

    // The store keeps the events; the spans rebuilt from them are the exported ones.
    let db = fx.dir.path().join("data/runs.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    store_run(&db, &run_id, "work", records).await;
    let store = warden::store::SqliteStore::open(&db).unwrap();
    let stored = warden::store::Store::events(&store, &run_id).await.unwrap();
    let rebuilt: BTreeSet<(String, String, String)> =
        (SpanBuilder::build(&stored, TraceOptions::default()).into_iter())
            .map(|s| (s.span_id, s.parent_span_id.unwrap_or_default(), s.name))
            .collect();
    let live: BTreeSet<(String, String, String)> = (exported.iter())
        .map(|s| (hex(&s.span_id), hex(&s.parent_span_id), s.name.clone()))
        .collect();
    assert_eq!(rebuilt, live);

    // `warden runs show` draws two worker subtrees, each with its own calls.
    let out = fx.run(&["runs", "show", "last"]).await;
    assert_code(&out, 0);
    let tree = text(&out.stdout);
    let lines: Vec<&str> = tree.lines().collect();
    let at = |needle: &str| {
        (lines.iter())
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in\n{tree}"))
    };
    let (first, second) = (at("worker t_1"), at("worker t_2"));
    // triage's second model call, after both calls: the last line of the tree.
    let end = (lines.iter())
        .position(|l| l.starts_with("└─ chat #2 turn"))
        .unwrap_or_else(|| panic!("no last model call in\n{tree}"));
    let (a, b) = if first < second {
        (&lines[first..second], &lines[second..end])
    } else {
        (&lines[first..end], &lines[second..first])
    };
    for (subtree, tokens, helper) in [
        (a, "  100 in /", "  10 in /"),
        (b, "  200 in /", "  20 in /"),
    ] {
        let count = |needle: &str| subtree.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(count("agent worker (triage › worker)"), 1, "{tree}");
        assert_eq!(
            count("agent helper (triage › worker › helper)"),
            1,
            "{tree}"
        );
        assert_eq!((count(tokens), count(helper)), (2, 1), "{tree}");
    }
}
