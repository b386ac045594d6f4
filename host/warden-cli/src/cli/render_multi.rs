//! How `warden run` shows what only multi-agent runs have: the active agent (at the start
//! and at each handoff), the events of agents called as tools (indented under their agent
//! path and the id of the call that runs them), and the `trusted` mark of host tools.
//!
//! Invariant: one line per shown event, no line for what a person does not need (a nested
//! run's text deltas and model requests).

use super::console::Console;
use warden::RunEvent;

/// The mark after a trusted host tool's name (empty for sandboxed tools).
pub(super) fn trusted_mark(trusted: bool, console: &Console) -> String {
    if trusted {
        format!(" {}", console.paint("35", "[trusted, unsandboxed]"))
    } else {
        String::new()
    }
}

/// The line for a run start, a handoff or a nested event; `None` for nothing to show.
pub(super) fn line(event: &RunEvent, console: &Console) -> Option<String> {
    Some(match event {
        RunEvent::RunStarted {
            agent,
            model,
            provider,
            ..
        } => {
            let via = provider
                .as_deref()
                .map(|p| format!(" via {p}"))
                .unwrap_or_default();
            console.paint("2", &format!("agent {agent} ({model}{via})"))
        }
        RunEvent::Handoff {
            from,
            to,
            reason,
            model,
            provider,
            messages,
        } => {
            let via = provider
                .as_deref()
                .map(|p| format!(" via {p}"))
                .unwrap_or_default();
            let why = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            let arrow = console.paint("36", "⇒");
            let passed = match messages {
                1 => "1 message".to_owned(),
                n => format!("{n} messages"),
            };
            format!(
                "{arrow} handoff {from} → {to}{why} (now agent {to}, {model}{via}; {passed} passed on)"
            )
        }
        RunEvent::Nested { path, calls, event } => {
            let who = console.paint("2", &format!("  [{}]", who(path, calls)));
            format!("{who} {}", nested(event)?)
        }
        _ => return None,
    })
}

/// A nested run's agent path, and the (short) id of the call that started it: two calls
/// of one agent in a turn run side by side, and their lines interleave.
fn who(path: &[String], calls: &[String]) -> String {
    let path = path.join(" › ");
    let Some(id) = calls.last() else {
        return path;
    };
    // Providers' ids are long and differ at the end: the last characters tell them apart.
    let n = id.chars().count();
    if n > 10 {
        let tail: String = id.chars().skip(n - 8).collect();
        format!("{path} #…{tail}")
    } else {
        format!("{path} #{id}")
    }
}

/// A nested run's event, briefly.
fn nested(event: &RunEvent) -> Option<String> {
    Some(match event {
        RunEvent::ToolCallStarted { name, trusted, .. } => {
            let mark = if *trusted { " [trusted]" } else { "" };
            format!("→ {name}{mark}")
        }
        RunEvent::ToolCallFinished {
            name,
            ok,
            error_kind,
            ..
        } => match (ok, error_kind) {
            (true, _) => format!("✓ {name}"),
            (false, kind) => {
                let kind = kind.map_or("error", |k| k.as_str());
                format!("✗ {name} {kind}")
            }
        },
        RunEvent::Handoff { from, to, .. } => format!("handoff {from} → {to}"),
        RunEvent::RunFinished { stop_reason, .. } => format!("done: {}", stop_reason.describe()),
        RunEvent::Nested { path, calls, event } => {
            format!("[{}] {}", who(path, calls), nested(event)?)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::who;

    #[test]
    fn a_nested_line_names_the_call_that_runs_the_agent() {
        let path = ["triage".to_owned(), "worker".to_owned()];
        assert_eq!(who(&path, &["c1".into()]), "triage › worker #c1");
        let long = "call_0123456789abcdefXYZ".to_owned();
        assert_eq!(who(&path, &[long]), "triage › worker #…bcdefXYZ");
        // Logs written before call ids: the path alone.
        assert_eq!(who(&path, &[]), "triage › worker");
    }
}
