//! Handoffs over real HTTP to the mock LLM, in both wire formats: the target gets the
//! history (whole, or filtered), its own model — on the other provider too — its own tools
//! and grants; a handoff cycle ends at the limit; trusted host tools reach the wire.

use mock_llm::{Behaviour, Turn};
use serde_json::Value;
use warden::{Handoff, HistoryFilter, HostTool, RunEvent, StopReason, Team};
use warden_llm::ProviderKind;

use crate::agent_support::{assert_valid_histories, calls};
use crate::multi_support::{
    agent, each_format, finished, handoffs, last_request, mock, other, run_team, script, with_fs,
};

each_format!(
    a_handoff_to_an_agent_on_the_other_provider_passes_the_whole_history,
    a_filtered_handoff_passes_no_tool_traffic_and_host_tools_are_trusted,
    a_handoff_cycle_ends_at_the_limit,
    grants_never_flow_along_a_handoff,
);

fn transfer(to: &str, reason: &str) -> Turn {
    Turn::call(
        format!("transfer_to_{to}"),
        format!(r#"{{"reason":"{reason}"}}"#),
    )
}

async fn a_handoff_to_an_agent_on_the_other_provider_passes_the_whole_history(kind: ProviderKind) {
    let a = script(vec![transfer("billing", "a refund")]).await;
    // The whole history reaches billing: triage's one assistant turn picks turn 1.
    let b = script(vec![Turn::text("unused"), Turn::text("Refunded.")]).await;
    let triage = agent("triage", "You route.", kind, &a)
        .with_handoff(Handoff::to("billing", "refunds and invoices"))
        .unwrap();
    let billing = agent("billing", "You handle billing.", other(kind), &b);
    let team = Team::builder(triage).agent(billing).build().unwrap();
    let (result, events) = run_team(&team, "I want my money back").await;

    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "Refunded.");
    assert_eq!(
        handoffs(&events),
        vec![("triage".into(), "billing".into(), "a refund".into())]
    );
    let provider = events.iter().find_map(|e| match e {
        RunEvent::Handoff { provider, .. } => provider.clone(),
        _ => None,
    });
    assert_eq!(provider.as_deref(), Some(other(kind).as_str()));
    let finishes = (events.iter()).filter(|e| matches!(e, RunEvent::RunFinished { .. }));
    assert_eq!(finishes.count(), 1, "one run, one end");
    let sent = last_request(&b);
    for part in [
        "You handle billing.",
        "I want my money back",
        "transfer_to_billing",
    ] {
        assert!(sent.contains(part), "billing was not sent {part:?}: {sent}");
    }
    assert!(!sent.contains("You route."), "{sent}");
    assert_valid_histories(&a, 1);
    assert_valid_histories(&b, 1);
    // Both agents' usage is the run's.
    assert_eq!(result.usage.model_calls, 2);
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Order {
    /// The order number.
    order: u32,
}

async fn a_filtered_handoff_passes_no_tool_traffic_and_host_tools_are_trusted(kind: ProviderKind) {
    let a = script(vec![
        Turn::call("lookup", r#"{"order": 42}"#),
        transfer("billing", "paid twice"),
    ])
    .await;
    // No assistant turn survives the filter: billing starts at turn 0.
    let b = script(vec![Turn::text("Refunded.")]).await;
    let lookup = HostTool::new("lookup", "Looks an order up", |o: Order| async move {
        Ok(format!("order {} was paid twice", o.order))
    });
    let triage = agent("triage", "You route.", kind, &a)
        .with_host_tool(lookup)
        .unwrap()
        .with_handoff(Handoff::to("billing", "refunds").filter(HistoryFilter::DropToolCalls))
        .unwrap();
    let billing = agent("billing", "You handle billing.", kind, &b);
    let team = Team::builder(triage).agent(billing).build().unwrap();
    let (result, events) = run_team(&team, "charged twice for order 42").await;

    assert_eq!(result.output.unwrap().text, "Refunded.");
    let trusted = events.iter().any(|e| {
        matches!(e, RunEvent::ToolCallFinished { name, ok: true, trusted: true, .. } if name == "lookup")
    });
    assert!(trusted, "{events:?}");
    // The host tool's schema, from its Rust type, reached the wire.
    let first: Value = a.requests()[0].body.clone();
    assert!(first.to_string().contains("The order number."), "{first}");
    let sent = last_request(&b);
    assert!(sent.contains("charged twice for order 42"), "{sent}");
    assert!(
        sent.contains("handed over to you by `triage`: paid twice"),
        "{sent}"
    );
    for hidden in ["lookup", "transfer_to_billing", "was paid twice"] {
        assert!(
            !sent.contains(hidden),
            "{hidden:?} passed the filter: {sent}"
        );
    }
    assert_valid_histories(&a, 2);
    assert_valid_histories(&b, 1);
}

async fn a_handoff_cycle_ends_at_the_limit(kind: ProviderKind) {
    let bounce = |to: &str| Behaviour::ToolLoop {
        tool: format!("transfer_to_{to}"),
        arguments: r#"{"reason":"not mine"}"#.into(),
        times: 1000,
        answer: "never".into(),
    };
    let (a, b) = (mock(bounce("billing")).await, mock(bounce("triage")).await);
    let triage = agent("triage", "You route.", kind, &a)
        .with_handoff(Handoff::to("billing", "billing"))
        .unwrap();
    let billing = agent("billing", "You bill.", other(kind), &b)
        .with_handoff(Handoff::to("triage", "anything else"))
        .unwrap();
    let team = Team::builder(triage)
        .agent(billing)
        .max_handoffs(3)
        .build()
        .unwrap();
    let (result, events) = run_team(&team, "help").await;

    assert_eq!(
        result.stop_reason,
        StopReason::HandoffLimit {
            limit: 3,
            from: "billing".into(),
            to: "triage".into()
        }
    );
    assert_eq!(result.stop_reason.exit_code(), 3);
    assert_eq!(handoffs(&events).len(), 3);
    assert_eq!(result.usage.model_calls, 4);
    assert_valid_histories(&a, 2);
    assert_valid_histories(&b, 2);
}

async fn grants_never_flow_along_a_handoff(kind: ProviderKind) {
    let dirs = tempfile::tempdir().unwrap();
    let (da, db) = (dirs.path().join("a"), dirs.path().join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(da.join("a.txt"), "secret-a").unwrap();
    std::fs::write(db.join("b.txt"), "secret-b").unwrap();
    let read = |path: &str| calls(&[("fs_read", &format!(r#"{{"path":"{path}"}}"#))]);
    let a = script(vec![
        read("/a/a.txt"),
        read("/b/b.txt"),
        transfer("billing", "files"),
    ])
    .await;
    let filler = || Turn::text("unused");
    let b = script(vec![
        filler(),
        filler(),
        filler(),
        read("/b/b.txt"),
        read("/a/a.txt"),
        Turn::text("done"),
    ])
    .await;
    let triage = with_fs(agent("triage", "You route.", kind, &a), &da, "/a").await;
    let triage = triage
        .with_handoff(Handoff::to("billing", "files"))
        .unwrap();
    let billing = with_fs(agent("billing", "You bill.", kind, &b), &db, "/b").await;
    let team = Team::builder(triage).agent(billing).build().unwrap();
    let (result, events) = run_team(&team, "read the files").await;

    assert_eq!(result.stop_reason, StopReason::Completed);
    let oks: Vec<bool> = finished(&events, "fs_read").iter().map(|f| f.0).collect();
    // triage: its /a yes, billing's /b no; billing: its /b yes, triage's /a no.
    assert_eq!(oks, vec![true, false, true, false], "{events:?}");
    assert_valid_histories(&a, 3);
    assert_valid_histories(&b, 3);
}
