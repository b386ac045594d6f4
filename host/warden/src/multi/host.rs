//! Trusted host tools: plain Rust functions of the host program offered to the model as
//! tools. They run in the host process, unsandboxed, so they can reach the application's own
//! state; that is why they can only be registered in Rust ([`Agent::with_host_tool`]), never
//! from an agent file, and why every event, trace span and summary marks them `trusted`.
//!
//! Invariant: a host function only ever sees arguments that passed its schema (derived from
//! its argument type with `schemars`, checked by the controller with `jsonschema` like any
//! tool's) and then deserialised into that type; a call that runs past its timeout is
//! dropped and reported as a `timeout` failure; every call is counted against the run's
//! tool-call budget like a sandboxed one.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::HostBinding;
use crate::runner::{Agent, SetupError};
use warden_core::tool::{PlannedCall, ToolCatalogEntry, ToolFailure, ToolFailureKind};
use warden_core::tool::{ToolOutcome, ToolUsage};

/// How long a host tool's call may run unless [`HostTool::timeout`] says otherwise.
pub const DEFAULT_HOST_TOOL_TIMEOUT: Duration = Duration::from_secs(30);

type HostFn =
    dyn Fn(serde_json::Value) -> BoxFuture<'static, Result<String, ToolFailure>> + Send + Sync;

/// A trusted host tool: a Rust function offered to the model. See the module docs.
#[derive(Clone)]
pub struct HostTool {
    name: String,
    description: String,
    schema: serde_json::Value,
    timeout: Duration,
    sequential: bool,
    call: Arc<HostFn>,
}

impl fmt::Debug for HostTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostTool")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("sequential", &self.sequential)
            .finish_non_exhaustive()
    }
}

impl HostTool {
    /// A tool called `name` that runs `function` on its arguments, typed `A`: the schema the
    /// model sees is `A`'s JSON Schema, and `function` gets the arguments deserialised into
    /// `A`. `Ok(text)` is the tool's output; `Err(message)` a `tool_failed` result the model
    /// is told. Runs at most [`DEFAULT_HOST_TOOL_TIMEOUT`] unless [`HostTool::timeout`].
    pub fn new<A, F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        function: F,
    ) -> Self
    where
        A: JsonSchema + DeserializeOwned + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        let function = Arc::new(function);
        let call = move |args| -> BoxFuture<'static, Result<String, ToolFailure>> {
            let function = Arc::clone(&function);
            Box::pin(async move {
                // The schema was checked already; this catches what a schema cannot say.
                let typed: A = serde_json::from_value(args).map_err(|e| {
                    let message = format!("the arguments do not fit the tool's type: {e}");
                    failure(ToolFailureKind::InvalidArguments, message)
                })?;
                function(typed)
                    .await
                    .map_err(|message| failure(ToolFailureKind::ToolFailed, message))
            })
        };
        Self {
            name: name.into(),
            description: description.into(),
            schema: schema_of::<A>(),
            timeout: DEFAULT_HOST_TOOL_TIMEOUT,
            sequential: false,
            call: Arc::new(call),
        }
    }

    /// The longest a call may run; past it the call is dropped and the model is told it
    /// timed out.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Run this tool's calls one at a time, never beside other calls.
    pub fn sequential(mut self, on: bool) -> Self {
        self.sequential = on;
        self
    }

    /// The name the model calls it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JSON Schema of its arguments, as the model sees it.
    pub fn schema(&self) -> &serde_json::Value {
        &self.schema
    }

    fn entry(&self) -> ToolCatalogEntry {
        let mut entry = ToolCatalogEntry::new(&self.name, &self.description, self.schema.clone());
        entry.sequential = self.sequential;
        entry
    }

    /// Runs one call: bounded by the timeout, its usage measured.
    pub(crate) async fn run(&self, call: &PlannedCall) -> ToolOutcome {
        let started = Instant::now();
        let bytes_in = call.arguments.to_string().len() as u64;
        let result = tokio::time::timeout(self.timeout, (self.call)(call.arguments.clone())).await;
        let result = match result {
            Err(_) => Err(ToolFailure {
                kind: ToolFailureKind::Timeout,
                message: format!(
                    "the host tool `{}` ran past its timeout of {} ms and was stopped",
                    self.name,
                    self.timeout.as_millis()
                ),
                transient: true,
            }),
            Ok(result) => result,
        };
        let bytes_out = match &result {
            Ok(text) => text.len() as u64,
            Err(_) => 0,
        };
        ToolOutcome {
            call_id: call.call_id.clone(),
            name: call.name.clone(),
            result,
            usage: ToolUsage {
                wall_ms: crate::runner::duration_ms(started.elapsed()),
                bytes_in,
                bytes_out,
                ..ToolUsage::default()
            },
        }
    }
}

fn failure(kind: ToolFailureKind, message: String) -> ToolFailure {
    ToolFailure {
        kind,
        message,
        transient: false,
    }
}

/// `A`'s JSON Schema as a tool's argument schema: an object schema, without the `$schema`
/// and `title` keys providers do not want in a tool definition.
pub(crate) fn schema_of<A: JsonSchema>() -> serde_json::Value {
    let mut schema = schemars::schema_for!(A).to_value();
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
        map.remove("title");
    }
    schema
}

impl Agent {
    /// Offers `tool`, a trusted host function, to this agent's model. It runs in this
    /// process, unsandboxed, and is marked `trusted` wherever it shows (events, traces,
    /// summaries). Fails if the name is taken or its schema does not compile.
    pub fn with_host_tool(self, tool: HostTool) -> Result<Self, SetupError> {
        let entry = tool.entry();
        self.with_host_binding(entry, HostBinding::Function(Arc::new(tool)))
    }
}
