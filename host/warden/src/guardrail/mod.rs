//! Guardrails: checks on a run's input, its final output, and each tool call, as users of
//! the Agents SDK know them. A guardrail is a Rust function, a sandboxed tool component
//! ([`ComponentCheck`]) or another agent answering with a verdict; add them to an agent with
//! [`crate::Agent::with_input_guardrail`], [`crate::Agent::with_output_guardrail`] and
//! [`crate::Agent::with_tool_guardrail`].
//!
//! ```text
//! input guardrails    the user's input, while the first model call runs (or before it,
//!                     `Guardrail::before_model`); a trip ends the run, the response unused
//! output guardrails   the final output (an answer, a stop tool's output); a trip ends the
//!                     run without output
//! tool guardrails     each tool call before it runs (before any approval); a trip vetoes
//!                     that call only: the model gets "not run: vetoed by guardrail ..."
//! ```
//!
//! A trip ends the run with [`StopReason::GuardrailTripped`] carrying the guardrail's name,
//! the stage and its message; every check is a `guardrail_checked` event.
//!
//! Invariant: a guardrail fails closed. A component that fails, an agent that does not
//! answer with a verdict, a function that panics: each trips, its message saying what went
//! wrong, so no broken check ever lets a run through.

mod agent;
mod component;

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::join_all;

pub use component::{ComponentCheck, ComponentCheckError};
use warden_core::budget::Budget;
use warden_core::events::RunEvent;
pub use warden_core::guardrail::{GuardrailStage, Verdict};
use warden_core::run::StopReason;
use warden_core::state::UsageTotals;

use crate::{Agent, Runner};

/// What a guardrail is shown.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// The user's input.
    Input(&'a str),
    /// The final output's text.
    Output(&'a str),
    /// A tool call the model asked for, before it runs.
    ToolCall {
        /// The tool's name.
        name: &'a str,
        /// The validated arguments.
        arguments: &'a serde_json::Value,
    },
}

impl Subject<'_> {
    /// The stage this subject belongs to.
    pub fn stage(&self) -> GuardrailStage {
        match self {
            Subject::Input(_) => GuardrailStage::Input,
            Subject::Output(_) => GuardrailStage::Output,
            Subject::ToolCall { .. } => GuardrailStage::ToolCall,
        }
    }

    /// The text a component or agent guardrail is given: the input or output as it is, a
    /// tool call as `{"tool": <name>, "arguments": <arguments>}`.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Subject::Input(text) | Subject::Output(text) => Cow::Borrowed(text),
            Subject::ToolCall { name, arguments } => {
                Cow::Owned(serde_json::json!({ "tool": name, "arguments": arguments }).to_string())
            }
        }
    }
}

/// The signature of a guardrail written in Rust.
type CheckFn = dyn Fn(&Subject<'_>) -> Verdict + Send + Sync;

/// One named check. Cheap to clone.
#[derive(Clone)]
pub struct Guardrail {
    name: Arc<str>,
    check: Check,
    before_model: bool,
}

#[derive(Clone)]
enum Check {
    Function(Arc<CheckFn>),
    Component(Arc<ComponentCheck>),
    Agent(Box<(Runner, Agent)>),
}

impl std::fmt::Debug for Guardrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.check {
            Check::Function(_) => "function",
            Check::Component(_) => "component",
            Check::Agent(_) => "agent",
        };
        f.debug_struct("Guardrail")
            .field("name", &self.name)
            .field("kind", &kind)
            .field("before_model", &self.before_model)
            .finish()
    }
}

impl Guardrail {
    /// A guardrail written in Rust: `check` sees the subject and returns a [`Verdict`]. It
    /// runs on the run's task, so it must be quick (a panic trips it).
    pub fn function(
        name: impl Into<String>,
        check: impl Fn(&Subject<'_>) -> Verdict + Send + Sync + 'static,
    ) -> Self {
        Self::with(name, Check::Function(Arc::new(check)))
    }

    /// A guardrail that calls a tool of a sandboxed component (see [`ComponentCheck`] for
    /// the convention: how the subject is passed and how the result becomes a verdict).
    pub fn component(name: impl Into<String>, check: ComponentCheck) -> Self {
        Self::with(name, Check::Component(Arc::new(check)))
    }

    /// A guardrail that is another agent: `agent` runs with `runner` (its own model, tools
    /// and budget) on the subject's [`Subject::text`] to a final answer, which must be a
    /// verdict object `{"tripped": bool, "message": string}` (its output JSON when it has an
    /// output schema, else its text parsed as JSON). A run that ends any other way, or an
    /// answer that is not a verdict, trips.
    pub fn agent(name: impl Into<String>, runner: Runner, agent: Agent) -> Self {
        Self::with(name, Check::Agent(Box::new((runner, agent))))
    }

    /// For an input guardrail: the first model call waits until it passed (by default it
    /// runs at the same time, and a trip discards the model's response). Use it when even
    /// sending the input to the model is not acceptable.
    pub fn before_model(mut self) -> Self {
        self.before_model = true;
        self
    }

    /// The guardrail's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the first model call waits for this (input) guardrail.
    pub fn is_before_model(&self) -> bool {
        self.before_model
    }

    /// Checks `subject`. Never fails: a check that cannot decide trips (see the module docs).
    pub async fn check(&self, subject: &Subject<'_>) -> Verdict {
        self.check_within(subject, None).await.0
    }

    /// [`Guardrail::check`] within what a run has left (`cap`, for an agent's budget), with
    /// what the check used (an agent's model calls, a component's call) to charge to it.
    pub(crate) async fn check_within(
        &self,
        subject: &Subject<'_>,
        cap: Option<&Budget>,
    ) -> (Verdict, UsageTotals) {
        let checked = match &self.check {
            Check::Function(f) => {
                let f = AssertUnwindSafe(|| f(subject));
                let verdict = std::panic::catch_unwind(f)
                    .unwrap_or_else(|_| Verdict::trip("the guardrail function panicked"));
                return (verdict, UsageTotals::default());
            }
            Check::Component(c) => AssertUnwindSafe(c.check(subject)).catch_unwind().await,
            Check::Agent(pair) => {
                let (runner, agent) = &**pair;
                AssertUnwindSafe(agent::check(runner, agent, subject, cap))
                    .catch_unwind()
                    .await
            }
        };
        checked.unwrap_or_else(|_| {
            let verdict = Verdict::trip("the guardrail's check failed in the host");
            (verdict, UsageTotals::default())
        })
    }

    /// What a durable run's agent digest records of this guardrail: its name, whether it
    /// runs before the model, and its check (a component's digest, tool, policy and
    /// arguments; an agent's own digest). A Rust function's code cannot be seen: only its
    /// name counts.
    pub(crate) fn fingerprint(&self) -> String {
        let check = match &self.check {
            Check::Function(_) => "function".to_owned(),
            Check::Component(c) => format!("component {}", c.fingerprint()),
            Check::Agent(pair) => format!("agent {}", pair.1.summary().digest),
        };
        format!("{} {} {check}", self.name, self.before_model)
    }

    fn with(name: impl Into<String>, check: Check) -> Self {
        Guardrail {
            name: name.into().into(),
            check,
            before_model: false,
        }
    }
}

/// An agent's guardrails, by stage.
#[derive(Clone, Debug, Default)]
pub(crate) struct Guardrails {
    pub(crate) input: Vec<Guardrail>,
    pub(crate) output: Vec<Guardrail>,
    pub(crate) tool_call: Vec<Guardrail>,
}

impl Guardrails {
    /// Each guardrail as `stage name`, in order: what a durable run keeps to name the
    /// guardrails that changed.
    pub(crate) fn names(&self) -> Vec<String> {
        self.staged()
            .map(|(stage, g)| format!("{stage} {}", g.name()))
            .collect()
    }

    /// Each guardrail's [`Guardrail::fingerprint`] with its stage, in order (none for an
    /// agent without guardrails, whose digest is then what it was before guardrails
    /// counted).
    pub(crate) fn fingerprints(&self) -> Vec<String> {
        (self.staged())
            .map(|(stage, g)| format!("guardrail {stage} {}", g.fingerprint()))
            .collect()
    }

    fn staged(&self) -> impl Iterator<Item = (&'static str, &Guardrail)> {
        [
            ("input", &self.input),
            ("output", &self.output),
            ("tool-call", &self.tool_call),
        ]
        .into_iter()
        .flat_map(|(stage, list)| list.iter().map(move |g| (stage, g)))
    }
}

/// The outcome of checking one subject with several guardrails.
pub(crate) struct Checked {
    /// One `GuardrailChecked` per guardrail, in the order they were added.
    pub(crate) events: Vec<RunEvent>,
    /// The first guardrail (in that order) that tripped, and why.
    pub(crate) tripped: Option<(String, String)>,
    /// What the checks used (agents' model calls, components' calls), for the run's budget.
    pub(crate) usage: UsageTotals,
}

impl Checked {
    /// The run's stop reason when a guardrail tripped.
    pub(crate) fn stop_reason(&self, stage: GuardrailStage) -> Option<StopReason> {
        let (guardrail, message) = self.tripped.clone()?;
        Some(StopReason::GuardrailTripped {
            guardrail,
            stage,
            message,
        })
    }
}

/// Runs `guards` on `subject` at the same time, within `cap`; `call_id` tags the events of
/// a tool call.
pub(crate) async fn check_all(
    guards: &[&Guardrail],
    subject: &Subject<'_>,
    call_id: Option<&str>,
    cap: Option<&Budget>,
) -> Checked {
    let verdicts = join_all(guards.iter().map(|g| g.check_within(subject, cap))).await;
    let stage = subject.stage();
    let mut tripped = None;
    let mut usage = UsageTotals::default();
    let events = guards
        .iter()
        .zip(verdicts)
        .map(|(guard, (verdict, used))| {
            usage.add_totals(&used);
            if verdict.tripped && tripped.is_none() {
                tripped = Some((guard.name().to_owned(), verdict.message.clone()));
            }
            RunEvent::GuardrailChecked {
                guardrail: guard.name().to_owned(),
                stage,
                call_id: call_id.map(str::to_owned),
                tripped: verdict.tripped,
                message: verdict.message,
            }
        })
        .collect();
    Checked {
        events,
        tripped,
        usage,
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests;
