//! Approvals in the CLI: [`TerminalApprover`] asks the person at the terminal about a call
//! that needs approval; without a terminal the run ends paused (exit code
//! [`EXIT_PAUSED`]) and `warden runs approve|reject <id>` decides later, from any process.
//!
//! Invariant: only an explicit `y`/`yes` approves; anything else rejects (its text, unless
//! it is `n`/`no` or empty, is the reason the model is told).

use std::io::BufRead;

use async_trait::async_trait;
use warden::store::{Decision, PendingApproval};
use warden::{ApprovalRequest, Approver};

use std::process::ExitCode;

use warden::Recorded;

use super::console::Console;
use super::render::Renderer;

/// Exit code of a run that paused for an approval.
pub const EXIT_PAUSED: i32 = 4;

/// Asks on the terminal.
pub struct TerminalApprover {
    pub console: Console,
}

#[async_trait]
impl Approver for TerminalApprover {
    async fn decide(&self, request: &ApprovalRequest) -> Option<Decision> {
        self.console.stop_spinner();
        self.console.err_line(&describe(
            &request.call.name,
            &request.call.arguments,
            &request.grants,
        ));
        self.console
            .prompt("approve? [y/N, or a reason to reject] ");
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().lock().take_line(&mut line).map(|_| line)
        })
        .await
        .ok()?
        .ok()?;
        Some(decision(&line))
    }
}

/// Reads one line of at most 4 KiB.
trait TakeLine {
    fn take_line(&mut self, line: &mut String) -> std::io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    fn take_line(&mut self, line: &mut String) -> std::io::Result<usize> {
        use std::io::Read;
        let mut bytes = Vec::new();
        let n = self.take(4096).read_until(b'\n', &mut bytes)?;
        line.push_str(&String::from_utf8_lossy(&bytes));
        Ok(n)
    }
}

/// The decision an answer gives.
pub fn decision(answer: &str) -> Decision {
    let answer = answer.trim();
    match answer.to_ascii_lowercase().as_str() {
        "y" | "yes" => Decision::Approve,
        "" | "n" | "no" => Decision::Reject { reason: None },
        _ => Decision::Reject {
            reason: Some(answer.to_string()),
        },
    }
}

/// The call in a few lines for a person.
pub fn describe(name: &str, arguments: &serde_json::Value, grants: &[String]) -> String {
    let mut text = format!("approval needed: {name} {arguments}");
    if grants.is_empty() {
        text.push_str("\n  it is granted no directories or hosts");
    }
    for grant in grants {
        text.push_str(&format!("\n  it may use: {grant}"));
    }
    text
}

/// Reports a recorded run: its result as `warden run` does, or how to decide on it when it
/// paused (exit code [`EXIT_PAUSED`]).
pub fn report(view: &mut Renderer, console: &Console, recorded: Recorded) -> ExitCode {
    match (recorded.result, recorded.paused) {
        (Some(result), _) => view.finish(&result),
        (None, Some(pending)) => {
            paused(console, &recorded.run_id, &pending);
            ExitCode::from(EXIT_PAUSED as u8)
        }
        (None, None) => view.error("the run ended without a result"),
    }
}

/// Tells how to decide on a paused run.
pub fn paused(console: &Console, run_id: &str, pending: &PendingApproval) {
    console.stop_spinner();
    console.err_line(&describe(
        &pending.call.name,
        &pending.call.arguments,
        &pending.grants,
    ));
    console.err_line(&format!(
        "run {run_id} is paused for this approval: `warden runs approve {run_id}` or \
         `warden runs reject {run_id} --reason …`"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_approves_and_other_text_is_the_reason() {
        assert_eq!(decision("y\n"), Decision::Approve);
        assert_eq!(decision(" YES "), Decision::Approve);
        assert_eq!(decision("\n"), Decision::Reject { reason: None });
        assert_eq!(decision("no"), Decision::Reject { reason: None });
        assert_eq!(
            decision("not on prod\n"),
            Decision::Reject {
                reason: Some("not on prod".into())
            }
        );
    }
}
