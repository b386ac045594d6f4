//! The budget a turn's agent calls share: what the caller had left when the turn's tools
//! started, from which each callee reserves its budget as it starts and to which it
//! returns what it did not use when it ends.
//!
//! Invariant: the budgets granted to callees running at the same time, plus what finished
//! callees used, never exceed what the caller had left — so callees in parallel cannot
//! together overspend their caller, and one callee never gets more than is left.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use warden_core::budget::Budget;
use warden_core::state::UsageTotals;

/// See the module docs. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub(crate) struct BudgetPool {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    /// What the caller had left when the pool was made.
    left: Budget,
    started: Instant,
    /// Budgets granted to callees still running, as amounts.
    reserved: UsageTotals,
    /// What finished callees used.
    spent: UsageTotals,
}

impl BudgetPool {
    /// A pool of what the caller has `left`.
    pub(crate) fn new(left: Budget) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                left,
                started: Instant::now(),
                reserved: UsageTotals::default(),
                spent: UsageTotals::default(),
            })),
        }
    }

    /// The callee's `own` budget lowered to what is free in the pool, reserved until
    /// [`BudgetPool::settle`].
    pub(crate) fn reserve(&self, own: &Budget) -> Budget {
        let mut inner = self.lock();
        let mut taken = inner.reserved;
        taken.add_totals(&inner.spent);
        let free = inner.left.remaining(&taken, inner.started.elapsed());
        let grant = own.capped_by(&free);
        let amount = amount_of(&grant, &inner.left);
        inner.reserved.add_totals(&amount);
        grant
    }

    /// Ends the reservation of `grant`; the callee `used` this much.
    pub(crate) fn settle(&self, grant: &Budget, used: &UsageTotals) {
        let mut inner = self.lock();
        let amount = amount_of(grant, &inner.left);
        inner.reserved = minus(&inner.reserved, &amount);
        inner.spent.add_totals(used);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The pool's state stays consistent at every await-free step: a poisoned lock
        // still holds usable figures.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How much of each resource the caller limits that `grant` may use (resources the caller
/// does not limit are not counted: nothing is shared there).
fn amount_of(grant: &Budget, left: &Budget) -> UsageTotals {
    // A resource the caller does not limit is not shared: nothing to reserve.
    let pick = |limit: Option<u64>, shared: bool| if shared { limit.unwrap_or(0) } else { 0 };
    let mut amount = UsageTotals {
        input_tokens: pick(grant.max_input_tokens, left.max_input_tokens.is_some()),
        output_tokens: pick(grant.max_output_tokens, left.max_output_tokens.is_some()),
        tool_calls: match left.max_tool_calls {
            Some(_) => grant.max_tool_calls.unwrap_or(0),
            None => 0,
        },
        cost_usd: match left.max_cost_usd {
            Some(_) => grant.max_cost_usd.unwrap_or(0.0),
            None => 0.0,
        },
        ..UsageTotals::default()
    };
    // Total tokens have no field of their own: reserve them as input tokens unless the
    // input limit already covers them.
    if left.max_total_tokens.is_some() && left.max_input_tokens.is_none() {
        let total = grant.max_total_tokens.unwrap_or(0);
        amount.input_tokens = total.saturating_sub(amount.output_tokens);
    }
    amount
}

fn minus(a: &UsageTotals, b: &UsageTotals) -> UsageTotals {
    UsageTotals {
        input_tokens: a.input_tokens.saturating_sub(b.input_tokens),
        output_tokens: a.output_tokens.saturating_sub(b.output_tokens),
        tool_calls: a.tool_calls.saturating_sub(b.tool_calls),
        cost_usd: (a.cost_usd - b.cost_usd).max(0.0),
        ..UsageTotals::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(n: u64) -> Budget {
        Budget {
            max_total_tokens: Some(n),
            ..Budget::default()
        }
    }

    #[test]
    fn parallel_callees_share_what_is_left_and_never_get_more() {
        let pool = BudgetPool::new(tokens(1000));
        let first = pool.reserve(&tokens(600));
        let second = pool.reserve(&tokens(600));
        assert_eq!(first.max_total_tokens, Some(600));
        // Only 400 are free while the first callee runs.
        assert_eq!(second.max_total_tokens, Some(400));
        let third = pool.reserve(&tokens(600));
        assert_eq!(third.max_total_tokens, Some(0));
    }

    #[test]
    fn a_finished_callee_returns_what_it_did_not_use() {
        let pool = BudgetPool::new(tokens(1000));
        let grant = pool.reserve(&tokens(600));
        let used = UsageTotals {
            input_tokens: 100,
            output_tokens: 50,
            ..UsageTotals::default()
        };
        pool.settle(&grant, &used);
        // 1000 - 150 used.
        assert_eq!(pool.reserve(&Budget::default()).max_total_tokens, Some(850));
    }

    #[test]
    fn a_callee_without_limits_of_its_own_gets_what_the_caller_has_left() {
        let left = Budget {
            max_tool_calls: Some(3),
            max_cost_usd: Some(0.5),
            ..Budget::default()
        };
        let grant = BudgetPool::new(left).reserve(&Budget::default());
        assert_eq!(grant.max_tool_calls, Some(3));
        assert_eq!(grant.max_cost_usd, Some(0.5));
        // The callee's own turn limit stays its own.
        assert_eq!(grant.max_turns, Budget::default().max_turns);
    }
}
