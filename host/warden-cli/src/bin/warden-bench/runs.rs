//! What a measured run must have been for its figures to mean what they say, and the
//! figures derived from samples.
//!
//! Invariant: the length of a run comes from the agent's turn budget, never from the server
//! stopping on cue: the server is asked (where it can be) to call `calc` on every turn, and
//! a run of `times` turns ends when its turn budget runs out, after `times` model calls each
//! followed by its sandboxed call. Every run measured is checked to have made exactly those
//! calls, so a server that does something else stops the bench with an error instead of
//! skewing a figure. A figure whose samples are missing is `None` (JSON `null`), never zero.

use warden_core::budget::BudgetResource;
use warden_core::run::{RunResult, StopReason};

/// More tool turns than any run of the bench lasts: the server never ends a run itself.
pub const FOREVER: usize = 1_000_000;

/// The arguments of every `calc` call the server is asked to make.
pub const ARGS: &str = r#"{"expression":"1+1"}"#;

/// The behaviour asked of the server: call `calc` with [`ARGS`] on every turn.
pub fn calc_forever() -> mock_llm::Behaviour {
    mock_llm::Behaviour::ToolLoop {
        tool: "calc".into(),
        arguments: ARGS.into(),
        times: FOREVER,
        answer: "done".into(),
    }
}

/// A run that did not make the calls the bench measures.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RunMismatch {
    #[error(
        "a run made {model_calls} model calls and {tool_calls} sandboxed tool calls \
         ({invalid} invalid), where the bench needs {expected} of each"
    )]
    Calls {
        model_calls: u32,
        tool_calls: u32,
        invalid: u32,
        expected: usize,
    },
    #[error("a run ended with {0}, where the bench ends it with its turn budget")]
    Stopped(String),
}

/// Checks that `result` is a run of exactly `times` model calls, each followed by its
/// sandboxed tool call, ended by the turn budget.
pub fn check_run(result: &RunResult, times: usize) -> Result<(), RunMismatch> {
    let u = &result.usage;
    if u.tool_calls as usize != times
        || u.model_calls as usize != times
        || u.invalid_tool_calls != 0
    {
        return Err(RunMismatch::Calls {
            model_calls: u.model_calls,
            tool_calls: u.tool_calls,
            invalid: u.invalid_tool_calls,
            expected: times,
        });
    }
    let by_turns = matches!(
        result.stop_reason,
        StopReason::Budget {
            resource: BudgetResource::Turns,
            ..
        }
    );
    if !by_turns {
        return Err(RunMismatch::Stopped(format!("{:?}", result.stop_reason)));
    }
    Ok(())
}

/// What the server must do, for the error that stops the bench.
pub fn server_requirement(base_url: &str) -> String {
    format!(
        "the server at {base_url} must answer every chat request with one call to the tool \
         `calc` (arguments such as {ARGS}); warden-bench ends each run with its turn budget. \
         The in-repo mock does so when warden-bench can set its behaviour (the mock's \
         /admin/behaviour route), or when started with \
         `mock-llm --script scripts/bench/calc-loop.json`"
    )
}

/// The marginal RSS per run in KiB between holding `n_few` and `n_all` runs; `None` unless
/// both samples were taken with the runs held, and `n_all > n_few`. Negative when the
/// second sample was the smaller (noise), which is a figure too.
pub fn marginal_kib(few: Option<u64>, all: Option<u64>, n_few: usize, n_all: usize) -> Option<f64> {
    let (few, all) = (few?, all?);
    if n_all <= n_few {
        return None;
    }
    let diff = all as f64 - few as f64;
    Some(diff / 1024.0 / (n_all - n_few) as f64)
}

/// `a / b`, `None` if either is missing or `b` is not positive.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (b > 0.0).then(|| a / b)
}

/// `a - b`, `None` if either is missing.
pub fn minus(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use warden_core::state::UsageTotals;

    fn result(stop_reason: StopReason, model_calls: u32, tool_calls: u32) -> RunResult {
        RunResult {
            stop_reason,
            output: None,
            forced: false,
            usage: UsageTotals {
                model_calls,
                tool_calls,
                ..UsageTotals::default()
            },
            steps: Vec::new(),
            compactions: 0,
        }
    }

    fn turns_out(limit: f64) -> StopReason {
        StopReason::Budget {
            resource: BudgetResource::Turns,
            used: limit,
            limit,
        }
    }

    #[test]
    fn a_run_cut_by_its_turn_budget_after_k_calls_counts() {
        assert_eq!(check_run(&result(turns_out(10.0), 10, 10), 10), Ok(()));
    }

    #[test]
    fn a_server_that_answers_without_calling_tools_is_refused() {
        let err = check_run(&result(StopReason::Completed, 1, 0), 10).unwrap_err();
        assert!(
            matches!(err, RunMismatch::Calls { tool_calls: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("needs 10 of each"), "{err}");
    }

    #[test]
    fn a_server_that_answers_early_is_refused() {
        let err = check_run(&result(StopReason::Completed, 10, 9), 10).unwrap_err();
        assert!(
            matches!(err, RunMismatch::Calls { tool_calls: 9, .. }),
            "{err}"
        );
    }

    #[test]
    fn invalid_calls_are_refused_even_with_the_right_counts() {
        let mut r = result(turns_out(10.0), 10, 10);
        r.usage.invalid_tool_calls = 1;
        assert!(matches!(
            check_run(&r, 10),
            Err(RunMismatch::Calls { invalid: 1, .. })
        ));
    }

    #[test]
    fn two_calls_per_turn_are_refused() {
        let err = check_run(&result(turns_out(10.0), 10, 20), 10).unwrap_err();
        assert!(matches!(err, RunMismatch::Calls { tool_calls: 20, .. }));
    }

    #[test]
    fn a_run_ended_otherwise_is_refused_even_with_the_right_counts() {
        let tokens = StopReason::Budget {
            resource: BudgetResource::TotalTokens,
            used: 1.0,
            limit: 1.0,
        };
        assert!(matches!(
            check_run(&result(tokens, 10, 10), 10),
            Err(RunMismatch::Stopped(_))
        ));
        let failed = StopReason::ModelError {
            failure: warden_core::run::ModelFailure::new(
                warden_core::run::ModelFailureKind::Auth,
                "401",
            ),
        };
        assert!(matches!(
            check_run(&result(failed, 10, 10), 10),
            Err(RunMismatch::Stopped(_))
        ));
    }

    #[test]
    fn the_per_run_memory_is_null_without_a_held_sample() {
        assert_eq!(marginal_kib(Some(1 << 20), None, 50, 200), None);
        assert_eq!(marginal_kib(None, Some(1 << 20), 50, 200), None);
    }

    #[test]
    fn the_per_run_memory_is_null_without_more_runs_in_the_second_sample() {
        assert_eq!(marginal_kib(Some(0), Some(1 << 20), 4, 4), None);
    }

    #[test]
    fn the_per_run_memory_is_the_marginal_and_keeps_its_sign() {
        assert_eq!(
            marginal_kib(Some(0), Some(150 * 1024 * 10), 50, 200),
            Some(10.0)
        );
        assert_eq!(marginal_kib(Some(150 * 1024), Some(0), 50, 200), Some(-1.0));
    }

    #[test]
    fn ratios_need_both_figures_and_a_positive_reference() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(minus(Some(3.0), None), None);
    }
}
