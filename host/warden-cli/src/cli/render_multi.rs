//! How `warden run` shows what only multi-agent runs have: the active agent (at the start
//! and at each handoff), the events of agents called as tools (indented under their agent
//! path), and the `trusted` mark of host tools.
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
        RunEvent::Nested { path, event } => {
            let who = console.paint("2", &format!("  [{}]", path.join(" › ")));
            format!("{who} {}", nested(event)?)
        }
        _ => return None,
    })
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
        RunEvent::Nested { path, event } => format!("[{}] {}", path.join(" › "), nested(event)?),
        _ => return None,
    })
}
