//! A callee's budget carved out of its caller's holds even when one response takes it over.

use std::sync::Arc;

use super::*;
use crate::testing::ScriptedLlm;
use crate::{Executor, LoopConfig, RunHandle, Runner};
use warden_core::budget::{Budget, BudgetResource};
use warden_core::chat::{ChatResponse, Usage};
use warden_core::events::RunEvent;
use warden_core::run::StopReason;
use warden_core::testing::ScriptedModel;
use warden_core::tool::ToolFailureKind;
use warden_sandbox::EngineConfig;

fn used(mut response: ChatResponse, input: u64, output: u64) -> ChatResponse {
    response.usage = Usage {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: 0,
    };
    response
}

#[tokio::test]
async fn a_callee_whose_one_response_passes_its_carve_out_stops_and_is_charged_exactly() {
    let mut config = LoopConfig::new("scripted");
    config.agent_name = "researcher".into();
    // One answer of 900 tokens: far past what the caller has left for it.
    let researcher = Agent::new(config).with_model(Arc::new(ScriptedLlm::new([used(
        ScriptedModel::text("a very long answer"),
        600,
        300,
    )])));
    let mut config = LoopConfig::new("scripted");
    config.agent_name = "lead".into();
    config.budget = Budget {
        max_total_tokens: Some(1000),
        ..Budget::default()
    };
    let lead = Agent::new(config)
        .with_model(Arc::new(ScriptedLlm::new([
            used(
                ScriptedModel::calls(&[("c1", "researcher", r#"{"input": "dig"}"#)]),
                700,
                50,
            ),
            used(ScriptedModel::text("done without it"), 10, 5),
        ])))
        .with_agent_tool(AgentTool::new(researcher, "Researches"))
        .unwrap();
    let executor = Executor::new(EngineConfig::default()).unwrap();
    let runner = Runner::new(Arc::new(ScriptedLlm::new([])), executor);
    let mut events = Vec::new();
    let result = runner
        .run_with(&lead, "go", &RunHandle::new(), |e| events.push(e))
        .await
        .unwrap();
    // The callee had 250 tokens (1000 - 750): its end is the typed budget stop.
    let callee_end = events.iter().find_map(|e| match e {
        RunEvent::Nested { event, .. } => match &**event {
            RunEvent::RunFinished {
                stop_reason,
                output,
                ..
            } => Some((stop_reason.clone(), output.clone())),
            _ => None,
        },
        _ => None,
    });
    let (stop, output) = callee_end.expect("the callee's run_finished");
    assert!(
        matches!(
            stop,
            StopReason::Budget { resource: BudgetResource::TotalTokens, used, limit }
                if used == 900.0 && limit == 250.0
        ),
        "{stop:?}"
    );
    assert!(output.is_none(), "no answer past the carve-out");
    let failure = events.iter().find_map(|e| match e {
        RunEvent::ToolCallFinished {
            name, error_kind, ..
        } if name == "researcher" => Some(*error_kind),
        _ => None,
    });
    assert_eq!(failure, Some(Some(ToolFailureKind::LimitExceeded)));
    // Charged exactly what the callee used, no more and no less.
    assert_eq!(result.usage.input_tokens, 700 + 600 + 10);
    assert_eq!(result.usage.output_tokens, 50 + 300 + 5);
}

#[test]
fn a_run_within_its_agents_budget_runs_that_agent_uncopied() {
    let mut config = LoopConfig::new("scripted");
    config.budget.max_turns = Some(4);
    let agent = Agent::new(config);
    let same = super::run::capped(&agent, &agent.config().budget);
    assert!(
        same.same_definition(&agent),
        "an unchanged budget copied the agent"
    );
    let narrower = Budget {
        max_turns: Some(2),
        ..agent.config().budget.clone()
    };
    let capped = super::run::capped(&agent, &narrower);
    assert!(!capped.same_definition(&agent));
    assert_eq!(capped.config().budget.max_turns, Some(2));
}
