//! A guardrail that is another agent: it runs to a final answer on the subject's text, and
//! that answer is read as a typed verdict.
//!
//! Invariant: only a completed run whose answer is a verdict object passes or trips as it
//! says; every other end (a budget, a refusal, an answer that is not a verdict, an error)
//! trips with a message naming what happened.

use serde_json::Value;

use super::{Subject, Verdict};
use crate::{Agent, Runner};
use warden_core::budget::Budget;
use warden_core::run::{RunResult, StopReason};
use warden_core::state::UsageTotals;

/// Longest part of an unreadable answer quoted in the trip message, in characters.
const QUOTE_CHARS: usize = 200;

/// Runs `agent` with `runner` on `subject` and reads its verdict; its budget is capped by
/// `cap` (what the guarded run has left), and its usage is returned to be charged.
pub(super) async fn check(
    runner: &Runner,
    agent: &Agent,
    subject: &Subject<'_>,
    cap: Option<&Budget>,
) -> (Verdict, UsageTotals) {
    let agent = match cap {
        Some(cap) => {
            let mut config = agent.config().clone();
            config.budget = config.budget.capped_by(cap);
            agent.clone().with_config(config)
        }
        None => agent.clone(),
    };
    match runner.run(&agent, subject.text().into_owned()).await {
        Ok(result) => (verdict_of_run(&result), result.usage),
        Err(e) => (
            Verdict::trip(format!("the guardrail agent could not run: {e}")),
            UsageTotals::default(),
        ),
    }
}

/// The verdict in a guardrail agent's result.
pub(super) fn verdict_of_run(result: &RunResult) -> Verdict {
    if result.stop_reason != StopReason::Completed {
        return Verdict::trip(format!(
            "the guardrail agent gave no verdict: {}",
            result.stop_reason.describe()
        ));
    }
    let Some(output) = &result.output else {
        return Verdict::trip("the guardrail agent gave no verdict: its answer is empty");
    };
    let json = match &output.json {
        Some(json) => Ok(json.clone()),
        None => serde_json::from_str::<Value>(unfenced(&output.text)),
    };
    match json.map(serde_json::from_value::<Verdict>) {
        Ok(Ok(verdict)) if verdict.tripped => Verdict::trip(verdict.message),
        Ok(Ok(_)) => Verdict::pass(),
        _ => {
            let quote: String = output.text.chars().take(QUOTE_CHARS).collect();
            Verdict::trip(format!(
                "the guardrail agent's answer is not a verdict \
                 ({{\"tripped\": bool, \"message\": string}}): {quote}"
            ))
        }
    }
}

/// `text` without a Markdown code fence around it (models add one to JSON answers).
fn unfenced(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(inner) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.strip_suffix("```").unwrap_or(inner).trim()
}
