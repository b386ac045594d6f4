//! Agents as tools over real HTTP to the mock LLM, in both wire formats: callees run in
//! parallel with their own tools, their events carry the agent path and the id of the call
//! that started them, their budgets come out of what the caller has left and their usage
//! is charged to it; cancelling the caller reaches a nested model call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use mock_llm::{Behaviour, Turn};
use warden::{Agent, AgentTool, RunEvent, RunHandle, StopReason, Team, ToolPolicy};
use warden_core::budget::{Budget, BudgetResource};
use warden_core::chat::{ChatRequest, ChatResponse, StreamEvent};
use warden_e2e::sandbox::executor;
use warden_llm::{LlmError, Model, Notices, ProviderKind};

use crate::agent_support::{assert_valid_histories, calls, tool_results};
use crate::multi_support::{agent, each_format, mock, other, run_team, runner, script};

each_format!(
    agents_called_as_tools_run_in_parallel_and_their_events_carry_the_path,
    parallel_callees_cannot_spend_more_than_the_caller_has_left,
    cancelling_the_caller_reaches_a_nested_model_call,
);

async fn calc(agent: Agent) -> Agent {
    let set = executor()
        .load_file(warden::testing::guests::CALC)
        .await
        .unwrap();
    agent.with_tools(set, ToolPolicy::default()).unwrap()
}

fn ask(tool: &str, input: &str) -> (String, String) {
    (tool.to_owned(), format!(r#"{{"input":"{input}"}}"#))
}

async fn agents_called_as_tools_run_in_parallel_and_their_events_carry_the_path(
    kind: ProviderKind,
) {
    let (r1, r2) = (ask("researcher", "find 6*7"), ask("writer", "write it up"));
    let a = script(vec![
        calls(&[(&r1.0, &r1.1), (&r2.0, &r2.1)]),
        Turn::text("All done."),
    ])
    .await;
    let r = script(vec![
        calls(&[("calc", r#"{"expression":"6*7"}"#)]),
        Turn::text("It is 42."),
    ])
    .await;
    let w = script(vec![Turn::text("Report written.")]).await;
    let researcher = calc(agent("researcher", "You research.", other(kind), &r)).await;
    let writer = agent("writer", "You write.", kind, &w);
    let triage = agent("triage", "You delegate.", kind, &a)
        .with_agent_tool(AgentTool::new(researcher, "Finds facts"))
        .unwrap()
        .with_agent_tool(AgentTool::new(writer, "Writes reports"))
        .unwrap();
    let team = Team::builder(triage).build().unwrap();
    let (result, events) = run_team(&team, "research and report").await;

    assert_eq!(result.output.unwrap().text, "All done.");
    let results = tool_results(&a.requests()[1]);
    assert!(
        results.iter().any(|t| t.contains("It is 42.")),
        "{results:?}"
    );
    assert!(
        results.iter().any(|t| t.contains("Report written.")),
        "{results:?}"
    );
    // Both calls started before either finished: they ran side by side.
    let top: Vec<&str> = (events.iter())
        .filter_map(|e| match e {
            RunEvent::ToolCallStarted { .. } => Some("start"),
            RunEvent::ToolCallFinished { .. } => Some("finish"),
            _ => None,
        })
        .collect();
    assert_eq!(top, vec!["start", "start", "finish", "finish"]);
    let nested_calc = events.iter().any(|e| match e {
        RunEvent::Nested { path, event, .. } => {
            path == &["triage", "researcher"]
                && matches!(&**event, RunEvent::ToolCallFinished { name, ok: true, .. } if name == "calc")
        }
        _ => false,
    });
    assert!(nested_calc, "{events:?}");
    // Each callee's events name the caller's call that started it (the provider's id).
    for callee in ["researcher", "writer"] {
        let id = events.iter().find_map(|e| match e {
            RunEvent::ToolCallStarted { call_id, name, .. } if name == callee => Some(call_id),
            _ => None,
        });
        let id = id.unwrap_or_else(|| panic!("no call of {callee}: {events:?}"));
        let calls: Vec<&Vec<String>> = (events.iter())
            .filter_map(|e| match e {
                RunEvent::Nested { path, calls, .. } if path[1] == callee => Some(calls),
                _ => None,
            })
            .collect();
        assert!(!calls.is_empty(), "{callee}");
        assert!(
            calls.iter().all(|c| c == &&vec![id.clone()]),
            "{callee}: {calls:?}"
        );
    }
    // The callees' model and tool calls are charged to the run.
    assert_eq!(result.usage.model_calls, 2 + 2 + 1);
    assert_eq!(result.usage.tool_calls, 2 + 1);
    assert_valid_histories(&a, 2);
    assert_valid_histories(&r, 2);
    assert_valid_histories(&w, 1);
}

async fn parallel_callees_cannot_spend_more_than_the_caller_has_left(kind: ProviderKind) {
    let (c1, c2) = (ask("one", "go"), ask("two", "go"));
    let a = script(vec![
        calls(&[(&c1.0, &c1.1), (&c2.0, &c2.1)]),
        Turn::text("Out of budget."),
    ])
    .await;
    let endless = || Behaviour::ToolLoop {
        tool: "calc".into(),
        arguments: r#"{"expression":"1+1"}"#.into(),
        times: 100,
        answer: "never".into(),
    };
    let (m1, m2) = (mock(endless()).await, mock(endless()).await);
    let own = |a: Agent| {
        let mut config = a.config().clone();
        config.budget.max_tool_calls = Some(3);
        a.with_config(config)
    };
    let one = own(calc(agent("one", "", kind, &m1)).await);
    let two = own(calc(agent("two", "", kind, &m2)).await);
    let caller = agent("triage", "", kind, &a)
        .with_agent_tool(AgentTool::new(one, "one"))
        .unwrap()
        .with_agent_tool(AgentTool::new(two, "two"))
        .unwrap();
    let mut config = caller.config().clone();
    config.budget = Budget {
        max_tool_calls: Some(4),
        ..Budget::default()
    };
    let caller = caller.with_config(config);
    let team = Team::builder(caller).build().unwrap();
    let (result, events) = run_team(&team, "go").await;

    let nested_calcs = (events.iter())
        .filter(|e| match e {
            RunEvent::Nested { event, .. } => {
                matches!(&**event, RunEvent::ToolCallFinished { name, .. } if name == "calc")
            }
            _ => false,
        })
        .count();
    // Each callee may make 3 calls of its own, but the caller had 4 left for both.
    assert_eq!(nested_calcs, 4, "{events:?}");
    // Charged to the caller: 4 nested calls and its own 2; its budget then ends the run.
    assert_eq!(result.usage.tool_calls, 6);
    assert!(matches!(
        result.stop_reason,
        StopReason::Budget {
            resource: BudgetResource::ToolCalls,
            ..
        }
    ));
}

/// A model that never answers and says when its call was dropped.
struct Stall {
    started: Arc<tokio::sync::Notify>,
    dropped: Arc<AtomicBool>,
}

struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Model for Stall {
    fn complete<'a>(
        &'a self,
        _: &'a ChatRequest,
        _: &'a Notices,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        let guard = OnDrop(self.dropped.clone());
        self.started.notify_one();
        Box::pin(async move {
            let _guard = guard;
            std::future::pending().await
        })
    }

    fn stream<'a>(
        &'a self,
        _: &'a ChatRequest,
        _: &'a Notices,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>> {
        let guard = OnDrop(self.dropped.clone());
        self.started.notify_one();
        Box::pin(async move {
            let _guard = guard;
            std::future::pending().await
        })
    }

    fn provider(&self) -> &str {
        "stall"
    }

    fn model_name(&self) -> &str {
        "stall"
    }
}

async fn cancelling_the_caller_reaches_a_nested_model_call(kind: ProviderKind) {
    let call = ask("slow", "think");
    let a = script(vec![calls(&[(&call.0, &call.1)])]).await;
    let stall = Stall {
        started: Arc::default(),
        dropped: Arc::default(),
    };
    let (started, dropped) = (stall.started.clone(), stall.dropped.clone());
    let slow = agent("slow", "", kind, &a).with_model(Arc::new(stall));
    let caller = agent("triage", "", kind, &a)
        .with_agent_tool(AgentTool::new(slow, "thinks forever"))
        .unwrap();
    let runner = runner(&caller);
    let handle = RunHandle::new();
    let run = {
        let (handle, caller) = (handle.clone(), caller.clone());
        tokio::spawn(async move { runner.run_with(&caller, "go", &handle, |_| {}).await })
    };
    started.notified().await;
    assert!(!dropped.load(Ordering::SeqCst));
    handle.cancel();
    let result = run.await.unwrap().unwrap();
    assert!(matches!(result.stop_reason, StopReason::Cancelled { .. }));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the nested model call outlived its run"
    );
    assert_valid_histories(&a, 1);
}
