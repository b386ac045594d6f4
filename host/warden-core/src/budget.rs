//! One budget object for a run: turns, input/output/total tokens, tool calls, wall time and
//! cost in USD (priced from the model table unless overridden), with warnings at a ratio.
//!
//! The tracker is pure: the controller hands it the totals, the turn count and the elapsed
//! time. `check_before` runs before each model call with the estimated request size ("would
//! this call go over?"), `check_after` after each response ("did it go over?").
//! Invariant: each resource warns at most once per run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chat::Usage;
use crate::context::models::Price;
use crate::state::UsageTotals;

/// A limited resource. Serialised in snake case (`input_tokens`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetResource {
    /// Model turns ([`Budget::max_turns`]).
    Turns,
    /// Input tokens summed over the run's model calls ([`Budget::max_input_tokens`]).
    InputTokens,
    /// Output tokens summed over the run's model calls ([`Budget::max_output_tokens`]).
    OutputTokens,
    /// Input plus output tokens ([`Budget::max_total_tokens`]).
    TotalTokens,
    /// Executed tool calls ([`Budget::max_tool_calls`]).
    ToolCalls,
    /// Seconds since the run started ([`Budget::max_wall_time_secs`]).
    WallTime,
    /// Cost in USD ([`Budget::max_cost_usd`]).
    CostUsd,
}

impl std::fmt::Display for BudgetResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Turns => "turn limit",
            Self::InputTokens => "input-token budget",
            Self::OutputTokens => "output-token budget",
            Self::TotalTokens => "total-token budget",
            Self::ToolCalls => "tool-call budget",
            Self::WallTime => "wall-time budget",
            Self::CostUsd => "cost budget",
        })
    }
}

/// What happens when a budget runs out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhaustion {
    /// One last model call with tools disabled, asking for the best answer so far (marked forced).
    #[default]
    Answer,
    /// The run ends at once with the budget as its stop reason.
    Error,
}

/// Limits of a run; `None` means unlimited. Keys missing from a TOML file take the
/// [`Default`] values (20 turns, nothing else limited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Model turns (the forced final answer is not counted).
    pub max_turns: Option<u32>,
    /// Input tokens over all model calls, checked before each call with its estimated size.
    pub max_input_tokens: Option<u64>,
    /// Output tokens over all model calls.
    pub max_output_tokens: Option<u64>,
    /// Input plus output tokens over all model calls.
    pub max_total_tokens: Option<u64>,
    /// Executed tool calls (calls the parser rejected do not count).
    pub max_tool_calls: Option<u32>,
    /// Wall-clock time of the run, in seconds.
    pub max_wall_time_secs: Option<f64>,
    /// Cost of the model calls in USD, priced from the model table or the agent's override.
    pub max_cost_usd: Option<f64>,
    /// Warn when a resource reaches this share of its limit (0.0–1.0; default 0.8).
    pub warn_at: f64,
    /// What happens when a limit is reached (default: one forced answer).
    pub on_exhaustion: OnExhaustion,
}

fn default_warn_at() -> f64 {
    0.8
}

impl Default for Budget {
    /// Twenty turns and nothing else limited: a loop never runs without end by default.
    fn default() -> Self {
        Self {
            max_turns: Some(20),
            max_input_tokens: None,
            max_output_tokens: None,
            max_total_tokens: None,
            max_tool_calls: None,
            max_wall_time_secs: None,
            max_cost_usd: None,
            warn_at: default_warn_at(),
            on_exhaustion: OnExhaustion::Answer,
        }
    }
}

impl Budget {
    /// What is left of this budget once `totals` were used for `elapsed`: each set limit
    /// less its use (never below zero), for carving a nested run's budget out of its
    /// caller's. Turns are not carried (a nested run counts its own); the warning ratio and
    /// the exhaustion policy stay.
    pub fn remaining(&self, totals: &UsageTotals, elapsed: Duration) -> Budget {
        let tool_calls = totals.tool_calls;
        Budget {
            max_turns: None,
            max_input_tokens: self
                .max_input_tokens
                .map(|l| l.saturating_sub(totals.input_tokens)),
            max_output_tokens: (self.max_output_tokens)
                .map(|l| l.saturating_sub(totals.output_tokens)),
            max_total_tokens: (self.max_total_tokens)
                .map(|l| l.saturating_sub(totals.total_tokens())),
            max_tool_calls: self.max_tool_calls.map(|l| l.saturating_sub(tool_calls)),
            max_wall_time_secs: (self.max_wall_time_secs)
                .map(|l| (l - elapsed.as_secs_f64()).max(0.0)),
            max_cost_usd: self.max_cost_usd.map(|l| (l - totals.cost_usd).max(0.0)),
            warn_at: self.warn_at,
            on_exhaustion: self.on_exhaustion,
        }
    }

    /// This budget with every limit lowered to `cap`'s where `cap` is tighter (a limit
    /// `cap` sets and this one does not is taken as is). Warning ratio and exhaustion
    /// policy stay this budget's.
    pub fn capped_by(&self, cap: &Budget) -> Budget {
        fn min<T: PartialOrd + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(if b < a { b } else { a }),
                (a, b) => a.or(b),
            }
        }
        Budget {
            max_turns: min(self.max_turns, cap.max_turns),
            max_input_tokens: min(self.max_input_tokens, cap.max_input_tokens),
            max_output_tokens: min(self.max_output_tokens, cap.max_output_tokens),
            max_total_tokens: min(self.max_total_tokens, cap.max_total_tokens),
            max_tool_calls: min(self.max_tool_calls, cap.max_tool_calls),
            max_wall_time_secs: min(self.max_wall_time_secs, cap.max_wall_time_secs),
            max_cost_usd: min(self.max_cost_usd, cap.max_cost_usd),
            warn_at: self.warn_at,
            on_exhaustion: self.on_exhaustion,
        }
    }
}

/// A resource used up (or about to be), with its figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Exhausted {
    /// The resource.
    pub resource: BudgetResource,
    /// How much was used (with the next call's estimate, before a call), in the resource's
    /// unit: a count, tokens, seconds or USD.
    pub used: f64,
    /// The limit, in the same unit.
    pub limit: f64,
}

impl Exhausted {
    /// E.g. "turn limit (3 of 3)", "cost budget ($0.5120 of $0.5000)".
    pub fn describe(&self) -> String {
        let (used, limit) = match self.resource {
            BudgetResource::CostUsd => {
                (format!("${:.4}", self.used), format!("${:.4}", self.limit))
            }
            BudgetResource::WallTime => (
                format!("{:.1} s", self.used),
                format!("{:.1} s", self.limit),
            ),
            _ => (
                format!("{}", self.used.round()),
                format!("{}", self.limit.round()),
            ),
        };
        format!("{} ({used} of {limit})", self.resource)
    }
}

/// A resource past the warning ratio.
pub type BudgetWarning = Exhausted;

/// Where a run stands, as the tracker sees it.
#[derive(Debug, Clone, Copy)]
pub struct Consumption<'a> {
    /// Usage summed over the run so far.
    pub totals: &'a UsageTotals,
    /// Model turns so far (the forced final answer not counted).
    pub turns: u32,
    /// Wall-clock time since the run started.
    pub elapsed: Duration,
}

/// Checks a [`Budget`] against a run's consumption.
#[derive(Debug, Clone)]
pub struct BudgetTracker {
    budget: Budget,
    price: Option<Price>,
    warned: Vec<BudgetResource>,
}

impl BudgetTracker {
    /// A tracker for `budget`, pricing calls with `price` (no cost accounting without one).
    pub fn new(budget: Budget, price: Option<Price>) -> Self {
        Self {
            budget,
            price,
            warned: Vec::new(),
        }
    }

    /// Resources that have warned already (each warns once per run).
    pub fn warned(&self) -> &[BudgetResource] {
        &self.warned
    }

    /// Restores the resources that have warned (a run continued from a snapshot).
    pub fn set_warned(&mut self, warned: Vec<BudgetResource>) {
        self.warned = warned;
    }

    /// The budget.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Cost in USD of one call's usage (0 without a price).
    pub fn cost(&self, usage: &Usage) -> f64 {
        self.price.map_or(0.0, |p| p.cost(usage))
    }

    /// (resource, used, limit) for each limit that is set.
    fn measures(&self, c: Consumption<'_>) -> Vec<(BudgetResource, f64, f64)> {
        let b = &self.budget;
        let t = c.totals;
        let mut out = Vec::with_capacity(7);
        let mut add = |r, used: f64, limit: Option<f64>| {
            if let Some(limit) = limit {
                out.push((r, used, limit));
            }
        };
        add(
            BudgetResource::Turns,
            f64::from(c.turns),
            b.max_turns.map(f64::from),
        );
        add(
            BudgetResource::InputTokens,
            t.input_tokens as f64,
            b.max_input_tokens.map(|v| v as f64),
        );
        add(
            BudgetResource::OutputTokens,
            t.output_tokens as f64,
            b.max_output_tokens.map(|v| v as f64),
        );
        add(
            BudgetResource::TotalTokens,
            t.total_tokens() as f64,
            b.max_total_tokens.map(|v| v as f64),
        );
        add(
            BudgetResource::ToolCalls,
            f64::from(t.tool_calls),
            b.max_tool_calls.map(f64::from),
        );
        add(
            BudgetResource::WallTime,
            c.elapsed.as_secs_f64(),
            b.max_wall_time_secs,
        );
        add(BudgetResource::CostUsd, t.cost_usd, b.max_cost_usd);
        out
    }

    /// Before a model call whose input is estimated at `estimated_input` tokens: the first
    /// resource the call would use up or exceed.
    pub fn check_before(&self, c: Consumption<'_>, estimated_input: u64) -> Result<(), Exhausted> {
        let est = estimated_input as f64;
        let est_cost = self.cost(&Usage {
            input_tokens: estimated_input,
            ..Usage::default()
        });
        for (resource, used, limit) in self.measures(c) {
            let over = match resource {
                BudgetResource::InputTokens | BudgetResource::TotalTokens => used + est > limit,
                BudgetResource::CostUsd => used + est_cost > limit,
                // Turns, output tokens, tool calls and time: nothing left means no new call.
                _ => used >= limit,
            };
            if over {
                return Err(Exhausted {
                    resource,
                    used,
                    limit,
                });
            }
        }
        Ok(())
    }

    /// After a response has been counted: the first resource now exceeded (turns and tool
    /// calls only count as exceeded when over, since reaching them is checked before).
    pub fn check_after(&self, c: Consumption<'_>) -> Option<Exhausted> {
        self.measures(c)
            .into_iter()
            .find_map(|(resource, used, limit)| {
                let over = match resource {
                    BudgetResource::WallTime => used >= limit,
                    _ => used > limit,
                };
                over.then_some(Exhausted {
                    resource,
                    used,
                    limit,
                })
            })
    }

    /// Resources past the warning ratio that have not warned yet (each warns once).
    pub fn new_warnings(&mut self, c: Consumption<'_>) -> Vec<BudgetWarning> {
        let ratio = self.budget.warn_at;
        let mut out = Vec::new();
        for (resource, used, limit) in self.measures(c) {
            if limit > 0.0 && used >= limit * ratio && !self.warned.contains(&resource) {
                self.warned.push(resource);
                out.push(Exhausted {
                    resource,
                    used,
                    limit,
                });
            }
        }
        out
    }

    /// Tool calls still allowed, if limited.
    pub fn remaining_tool_calls(&self, totals: &UsageTotals) -> Option<u32> {
        self.budget
            .max_tool_calls
            .map(|m| m.saturating_sub(totals.tool_calls))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    #[test]
    fn what_is_left_is_each_limit_less_its_use_and_a_cap_only_lowers() {
        let budget = Budget {
            max_total_tokens: Some(1000),
            max_tool_calls: Some(3),
            max_cost_usd: Some(0.5),
            ..Budget::default()
        };
        let used = UsageTotals {
            input_tokens: 600,
            output_tokens: 100,
            tool_calls: 5,
            cost_usd: 0.2,
            ..UsageTotals::default()
        };
        let left = budget.remaining(&used, Duration::ZERO);
        assert_eq!(left.max_total_tokens, Some(300));
        assert_eq!(left.max_tool_calls, Some(0), "never below zero");
        assert!((left.max_cost_usd.unwrap_or_default() - 0.3).abs() < 1e-9);
        assert_eq!(left.max_turns, None, "turns are each loop's own");
        let own = Budget {
            max_total_tokens: Some(200),
            max_input_tokens: Some(50),
            ..Budget::default()
        };
        let capped = own.capped_by(&left);
        assert_eq!(capped.max_total_tokens, Some(200));
        assert_eq!(capped.max_input_tokens, Some(50));
        assert_eq!(capped.max_tool_calls, Some(0));
        assert_eq!(capped.max_turns, own.max_turns);
    }

    use super::*;

    fn consumption(totals: &UsageTotals, turns: u32) -> Consumption<'_> {
        Consumption {
            totals,
            turns,
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn before_check_counts_the_estimated_request() {
        let budget = Budget {
            max_total_tokens: Some(1000),
            ..Budget::default()
        };
        let tracker = BudgetTracker::new(budget, None);
        let totals = UsageTotals {
            input_tokens: 600,
            output_tokens: 100,
            ..Default::default()
        };
        assert!(tracker.check_before(consumption(&totals, 1), 200).is_ok());
        let err = tracker
            .check_before(consumption(&totals, 1), 400)
            .unwrap_err();
        assert_eq!(err.resource, BudgetResource::TotalTokens);
    }

    #[test]
    fn cost_is_priced_and_checked() {
        let price = Price {
            input_per_mtok: 1_000_000.0,
            output_per_mtok: 0.0,
            cached_input_per_mtok: 0.0,
        };
        let budget = Budget {
            max_cost_usd: Some(10.0),
            ..Budget::default()
        };
        let tracker = BudgetTracker::new(budget, Some(price));
        let totals = UsageTotals {
            cost_usd: 8.0,
            ..Default::default()
        };
        assert!(tracker.check_before(consumption(&totals, 0), 2).is_ok());
        assert_eq!(
            tracker
                .check_before(consumption(&totals, 0), 3)
                .unwrap_err()
                .resource,
            BudgetResource::CostUsd
        );
        let spent = UsageTotals {
            cost_usd: 10.5,
            ..Default::default()
        };
        assert_eq!(
            tracker
                .check_after(consumption(&spent, 0))
                .map(|e| e.resource),
            Some(BudgetResource::CostUsd)
        );
    }

    #[test]
    fn turn_limit_stops_the_next_call_not_the_current_one() {
        let tracker = BudgetTracker::new(
            Budget {
                max_turns: Some(2),
                ..Budget::default()
            },
            None,
        );
        let totals = UsageTotals::default();
        assert!(tracker.check_after(consumption(&totals, 2)).is_none());
        assert_eq!(
            tracker
                .check_before(consumption(&totals, 2), 0)
                .unwrap_err()
                .resource,
            BudgetResource::Turns
        );
    }

    #[test]
    fn exhaustion_reads_well() {
        let cost = Exhausted {
            resource: BudgetResource::CostUsd,
            used: 0.51234,
            limit: 0.5,
        };
        assert_eq!(cost.describe(), "cost budget ($0.5123 of $0.5000)");
        let turns = Exhausted {
            resource: BudgetResource::Turns,
            used: 3.0,
            limit: 3.0,
        };
        assert_eq!(turns.describe(), "turn limit (3 of 3)");
    }

    #[test]
    fn warns_once_per_resource() {
        let mut tracker = BudgetTracker::new(
            Budget {
                max_turns: Some(10),
                ..Budget::default()
            },
            None,
        );
        let totals = UsageTotals::default();
        assert!(tracker.new_warnings(consumption(&totals, 7)).is_empty());
        let warnings = tracker.new_warnings(consumption(&totals, 8));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].resource, BudgetResource::Turns);
        assert!(tracker.new_warnings(consumption(&totals, 9)).is_empty());
    }

    #[test]
    fn budget_parses_from_toml_and_rejects_unknown_keys() {
        let b: Budget =
            toml::from_str("max_turns = 3\nmax_cost_usd = 0.5\non_exhaustion = \"error\"").unwrap();
        assert_eq!(b.max_turns, Some(3));
        assert_eq!(b.on_exhaustion, OnExhaustion::Error);
        assert!(toml::from_str::<Budget>("max_turn = 3").is_err());
    }
}
