//! A guardrail that calls one tool of a sandboxed component, under a policy of its own.
//!
//! The convention (a component written as a guardrail, or an existing tool used as one):
//!
//! - **Arguments**: the fixed arguments given with [`ComponentCheck::arg`], plus the
//!   subject's text ([`Subject::text`]) under [`ComponentCheck::text_arg`] (`"text"` unless
//!   set): the input, the output, or a tool call as `{"tool": .., "arguments": ..}`.
//! - **Verdict**: a call that fails in any way (the tool's own error, fuel, time, memory, a
//!   denied capability, a trap) trips, with the failure's message. A call that succeeds with
//!   a JSON object holding a boolean `tripped` is that verdict (`message`, a string, says
//!   why). Any other successful output passes.
//!
//! So a validator passes by succeeding and trips by failing, and a classifier answers with a
//! verdict object; both fail closed.
//!
//! Invariant: the subject reaches the component only as a JSON argument value, never
//! spliced into other text, and the component runs under its own validated policy.

use std::sync::Arc;

use serde_json::{Map, Value};
use warden_sandbox::{Executor, ToolPolicy, ToolSet};

use super::{Subject, Verdict};
use warden_core::state::UsageTotals;

/// Why a [`ComponentCheck`] cannot be built.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ComponentCheckError {
    /// The component has no tool of that name.
    #[error("the component has no tool `{tool}` (it has: {available}); name one of those")]
    UnknownTool {
        /// The name asked for.
        tool: String,
        /// The component's tools.
        available: String,
    },
    /// The policy is invalid.
    #[error("the guardrail's policy is invalid")]
    Policy(#[source] Box<warden_sandbox::PolicyError>),
}

/// How a component guardrail calls its tool. See the module docs for the convention.
#[derive(Clone)]
pub struct ComponentCheck {
    executor: Executor,
    set: Arc<ToolSet>,
    tool: String,
    policy: Arc<ToolPolicy>,
    text_arg: String,
    args: Map<String, Value>,
}

impl ComponentCheck {
    /// Calls `tool` of `set` in `executor`, under `policy`. Fails if the component has no
    /// such tool or the policy is invalid.
    pub fn new(
        executor: &Executor,
        set: Arc<ToolSet>,
        tool: impl Into<String>,
        policy: ToolPolicy,
    ) -> Result<Self, ComponentCheckError> {
        let tool = tool.into();
        if !set.tools().iter().any(|t| t.name == tool) {
            let names: Vec<&str> = set.tools().iter().map(|t| t.name.as_str()).collect();
            return Err(ComponentCheckError::UnknownTool {
                tool,
                available: names.join(", "),
            });
        }
        policy
            .validate(&format!("guardrail tool {tool}"))
            .map_err(|e| ComponentCheckError::Policy(Box::new(e)))?;
        Ok(ComponentCheck {
            executor: executor.clone(),
            set,
            tool,
            policy: Arc::new(policy),
            text_arg: "text".into(),
            args: Map::new(),
        })
    }

    /// The argument that carries the subject's text (`"text"` by default).
    pub fn text_arg(mut self, name: impl Into<String>) -> Self {
        self.text_arg = name.into();
        self
    }

    /// A fixed argument passed with every call (e.g. a pattern or a query).
    pub fn arg(mut self, name: impl Into<String>, value: Value) -> Self {
        self.args.insert(name.into(), value);
        self
    }

    /// What a durable run's agent digest records of this check: the component's digest,
    /// the tool, its policy and its arguments.
    pub(super) fn fingerprint(&self) -> String {
        format!(
            "{} {} {:?} {} {:?}",
            self.set.digest(),
            self.tool,
            self.policy,
            self.text_arg,
            self.args
        )
    }

    /// Calls the tool on `subject` and reads the verdict; the call's usage is returned to
    /// be charged to the guarded run.
    pub(super) async fn check(&self, subject: &Subject<'_>) -> (Verdict, UsageTotals) {
        let mut args = self.args.clone();
        args.insert(
            self.text_arg.clone(),
            Value::String(subject.text().into_owned()),
        );
        let args = Value::Object(args).to_string();
        let outcome = (self.executor)
            .call(&self.set, &self.tool, &args, &self.policy)
            .await;
        let mut usage = UsageTotals::default();
        usage.add_tool(&crate::tool_usage(&outcome.usage));
        let verdict = match outcome.result {
            Ok(output) => verdict_of_output(&output),
            Err(e) => Verdict::trip(format!(
                "`{}` failed ({}): {}",
                self.tool,
                e.kind(),
                e.message_for_model()
            )),
        };
        (verdict, usage)
    }
}

/// The verdict of a successful call's `output`: a verdict object is that verdict, anything
/// else passes.
pub(super) fn verdict_of_output(output: &str) -> Verdict {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(output) else {
        return Verdict::pass();
    };
    match object.get("tripped") {
        Some(Value::Bool(true)) => Verdict::trip(
            object
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        _ => Verdict::pass(),
    }
}
