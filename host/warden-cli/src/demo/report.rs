//! What the demo's run showed: a [`Tally`] built from the run's events, finished into a
//! [`DemoReport`] that prints as the "what the sandbox enforced" summary.
//!
//! Invariant: every figure comes from the events and the result of the run itself (tool
//! usage as measured by the executor, refusals as reported by the sandbox), never from the
//! script.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;
use warden_core::tool::ToolFailureKind;

use super::{FUEL_PER_CALL, MEMORY_PER_CALL};
use warden_core::budget::BudgetResource;
use warden_core::events::RunEvent;
use warden_core::run::{RunResult, StopReason};

/// A tool call the sandbox or the tool refused.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedCall {
    /// The tool's name.
    pub tool: String,
    /// The path or URL the call asked for.
    pub target: String,
    /// The executor's error kind (`capability_denied`, `tool_failed`, ...).
    pub kind: ToolFailureKind,
    /// What the model was told (start of it).
    pub message: String,
}

/// The outcome of the demo.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The run's result (stop reason, forced flag, final output, usage, steps).
    pub result: RunResult,
    /// Tool calls that ran in the sandbox.
    pub tool_calls: u32,
    /// Distinct tools used.
    pub tools_used: Vec<String>,
    /// Most tool calls in flight at the same time.
    pub max_parallel: usize,
    /// Turns in which more than one call ran.
    pub parallel_turns: usize,
    /// Fuel burnt by all calls.
    pub fuel: u64,
    /// Largest linear memory any call reached, in bytes.
    pub peak_memory: u64,
    /// Calls that were refused, in order.
    pub refused: Vec<RefusedCall>,
    /// Successful tool calls made after the first refusal.
    pub calls_after_refusal: u32,
    /// The host folder that was granted (read-only) as `/notes`.
    pub granted_dir: String,
}

impl DemoReport {
    /// The model went on using tools after a refusal and the run produced an answer.
    pub fn recovered(&self) -> bool {
        !self.refused.is_empty() && self.calls_after_refusal > 0 && self.result.output.is_some()
    }

    /// The budget that stopped the run, if one did.
    pub fn budget_stop(&self) -> Option<(BudgetResource, f64, f64)> {
        match self.result.stop_reason {
            StopReason::Budget {
                resource,
                used,
                limit,
            } => Some((resource, used, limit)),
            _ => None,
        }
    }
}

/// Collects figures from events as they pass.
#[derive(Debug, Default)]
pub(super) struct Tally {
    started: HashMap<String, Value>,
    in_flight: usize,
    max_parallel: usize,
    batch: usize,
    parallel_turns: usize,
    tool_calls: u32,
    tools_used: Vec<String>,
    fuel: u64,
    peak_memory: u64,
    refused: Vec<RefusedCall>,
    calls_after_refusal: u32,
}

impl Tally {
    pub(super) fn observe(&mut self, event: &RunEvent) {
        match event {
            RunEvent::ModelRequest { .. } => self.end_batch(),
            RunEvent::ToolCallStarted {
                call_id, arguments, ..
            } => {
                self.started.insert(call_id.clone(), arguments.clone());
                self.in_flight += 1;
                self.batch += 1;
                self.max_parallel = self.max_parallel.max(self.in_flight);
            }
            RunEvent::ToolCallFinished {
                call_id,
                name,
                ok,
                error_kind,
                preview,
                usage,
                ..
            } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.tool_calls += 1;
                self.fuel += usage.fuel;
                self.peak_memory = self.peak_memory.max(usage.peak_memory);
                if !self.tools_used.contains(name) {
                    self.tools_used.push(name.clone());
                }
                if *ok {
                    if !self.refused.is_empty() {
                        self.calls_after_refusal += 1;
                    }
                } else {
                    let args = self.started.get(call_id);
                    let target = args
                        .and_then(|a| a.get("path").or_else(|| a.get("url")))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    self.refused.push(RefusedCall {
                        tool: name.clone(),
                        target,
                        kind: error_kind.unwrap_or(ToolFailureKind::Internal),
                        message: preview.clone(),
                    });
                }
            }
            RunEvent::RunFinished { .. } => self.end_batch(),
            _ => {}
        }
    }

    fn end_batch(&mut self) {
        if self.batch > 1 {
            self.parallel_turns += 1;
        }
        self.batch = 0;
    }

    pub(super) fn finish(mut self, result: RunResult, granted_dir: String) -> DemoReport {
        self.end_batch();
        DemoReport {
            result,
            tool_calls: self.tool_calls,
            tools_used: self.tools_used,
            max_parallel: self.max_parallel,
            parallel_turns: self.parallel_turns,
            fuel: self.fuel,
            peak_memory: self.peak_memory,
            refused: self.refused,
            calls_after_refusal: self.calls_after_refusal,
            granted_dir,
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

impl fmt::Display for DemoReport {
    /// The summary printed at the end of `warden demo`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "What the sandbox enforced")?;
        writeln!(
            f,
            "  tool calls   {} in fresh sandboxes ({}), up to {} at once, {} parallel turns",
            self.tool_calls,
            self.tools_used.join(", "),
            self.max_parallel,
            self.parallel_turns
        )?;
        writeln!(
            f,
            "  fuel         {} units in all (limit {} per call)",
            self.fuel, FUEL_PER_CALL
        )?;
        writeln!(
            f,
            "  memory peak  {} (limit {} per call)",
            mib(self.peak_memory),
            mib(MEMORY_PER_CALL)
        )?;
        writeln!(
            f,
            "  granted      {} as /notes, read-only; no network",
            self.granted_dir
        )?;
        for (i, r) in self.refused.iter().enumerate() {
            let label = if i == 0 { "refused" } else { "" };
            writeln!(f, "  {label:<12} {} {} → {}", r.tool, r.target, r.kind)?;
        }
        let recovered = if self.recovered() {
            format!(
                "yes: {} more tool calls after the first refusal, then an answer",
                self.calls_after_refusal
            )
        } else {
            "no".into()
        };
        writeln!(f, "  recovered    {recovered}")?;
        match self.budget_stop() {
            Some((resource, used, limit)) => write!(
                f,
                "  budget       {resource} reached ({used} of {limit}) → {}",
                if self.result.forced {
                    "one last model call with tools disabled (forced final answer)"
                } else {
                    "run stopped"
                }
            ),
            None => write!(f, "  budget       not reached"),
        }
    }
}
