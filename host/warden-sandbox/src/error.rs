//! The executor's error types: [`ExecutorError`] (building an executor), [`LoadError`]
//! (loading a component) and [`ToolCallError`] (one tool call).
//!
//! Invariant: no message here carries a host backtrace, and [`ToolCallError`] messages (the
//! ones a model sees) never carry host file paths.

use std::time::Duration;

use serde::Serialize;

use super::limits::HostLimit;

/// Building an [`Executor`](super::Executor) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// wasmtime refused the engine configuration.
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    /// The host interfaces could not be added to the linker (a bug, not bad input).
    #[error("cannot link the host interfaces: {0}")]
    Linker(String),
}

/// Loading a tool component failed. Messages name what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The component file could not be read.
    #[error("cannot read the component file {path}: {message}")]
    Io {
        /// The file the operator named.
        path: String,
        /// The operating system's error.
        message: String,
    },
    /// A `builtin:` component this build of warden does not have.
    #[error("warden has no built-in component {name:?}; built in: {available}")]
    UnknownBuiltin {
        /// The name after `builtin:`.
        name: String,
        /// The built-in names, comma-separated (or a note that there are none).
        available: String,
    },
    /// The bytes are not a WebAssembly binary at all.
    #[error(
        "not a WebAssembly component: the file does not start with the wasm magic bytes \
         (expected a component built for wasm32-wasip2)"
    )]
    NotWasm,
    /// A core wasm module instead of a component.
    #[error(
        "this is a core WebAssembly module, not a component: build the tool for the \
         wasm32-wasip2 target (which emits a component) against wit/tool.wit"
    )]
    CoreModule,
    /// The component is larger than the engine's cap (checked before any parsing).
    #[error(
        "the component is {size} bytes, over the limit of {limit_bytes} bytes \
         (EngineConfig::max_component_bytes); build a smaller component or raise the limit"
    )]
    ComponentTooLarge {
        /// The component's size (at least this much, for a file still growing).
        size: u64,
        /// The cap.
        limit_bytes: u64,
    },
    /// wasmtime could not compile (or validate) the component.
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// Compiling took longer than the compile deadline; the compiler was stopped.
    #[error(
        "compiling the component did not finish within {} ms (EngineConfig::compile_timeout) \
         and was stopped; the component may be built to be slow to compile",
        limit.as_millis()
    )]
    CompileTimeout {
        /// The compile deadline.
        limit: Duration,
    },
    /// The compiler needed more memory than the compile memory limit; it was stopped.
    #[error(
        "compiling the component needed more than {limit_bytes} bytes of memory \
         (EngineConfig::compile_max_memory_bytes) and was stopped"
    )]
    CompileMemoryLimit {
        /// The compiler's memory limit.
        limit_bytes: u64,
    },
    /// The compiler process could not be run or failed for another reason than the
    /// component (it could not start, crashed, or answered for another engine).
    #[error("the compiler process failed: {0}")]
    CompilerFailed(String),
    /// The component imports interfaces warden does not provide.
    #[error(
        "the component imports something warden does not provide (only the warden:tool/host \
         interface and WASI 0.2 are linked): {0}"
    )]
    UnsupportedImports(String),
    /// The component exports neither `warden:tool/tool` nor any function usable as a tool
    /// (or a `warden:tool/tool` export does not fit the world).
    #[error(
        "the component offers no tools (it must export the warden:tool/tool@0.1.0 interface, \
         or plain functions whose types have a JSON form): {0}"
    )]
    MissingExports(String),
    /// `describe()` trapped or exceeded its load-time limits.
    #[error("the component's describe() failed at load time: {0}")]
    DescribeFailed(String),
    /// `describe()` returned no tools.
    #[error("the component's describe() returned no tools")]
    NoTools,
    /// A tool name is not valid for LLM providers.
    #[error("invalid tool name {name:?}: names must match ^[a-zA-Z0-9_-]{{1,64}}$")]
    InvalidToolName {
        /// The offending name.
        name: String,
    },
    /// Two tools share a name.
    #[error("the component declares the tool {name:?} twice: tool names must be unique")]
    DuplicateToolName {
        /// The duplicated name.
        name: String,
    },
    /// Two exported functions of a typed component map to one tool name.
    #[error(
        "the exports `{first}` and `{second}` would both be the tool {name:?}; tool names must be \
         unique within a component (rename one of the functions or interfaces)"
    )]
    ToolNameCollision {
        /// The shared tool name.
        name: String,
        /// One export (`interface#function` or `function`).
        first: String,
        /// The other.
        second: String,
    },
    /// A declared JSON Schema is not valid JSON or does not compile.
    #[error("tool {tool:?}: its {which} schema is invalid: {message}")]
    InvalidSchema {
        /// The tool whose schema is invalid.
        tool: String,
        /// `"args"` or `"output"`.
        which: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl LoadError {
    /// A stable snake_case name of the variant, for JSON output and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::UnknownBuiltin { .. } => "unknown_builtin",
            Self::NotWasm => "not_wasm",
            Self::CoreModule => "core_module",
            Self::ComponentTooLarge { .. } => "component_too_large",
            Self::Compile(_) => "compile",
            Self::CompileTimeout { .. } => "compile_timeout",
            Self::CompileMemoryLimit { .. } => "compile_memory_limit",
            Self::CompilerFailed(_) => "compiler_failed",
            Self::UnsupportedImports(_) => "unsupported_imports",
            Self::MissingExports(_) => "missing_exports",
            Self::DescribeFailed(_) => "describe_failed",
            Self::NoTools => "no_tools",
            Self::InvalidToolName { .. } => "invalid_tool_name",
            Self::DuplicateToolName { .. } => "duplicate_tool_name",
            Self::InvalidSchema { .. } => "invalid_schema",
            Self::ToolNameCollision { .. } => "tool_name_collision",
        }
    }
}

/// Why a tool call produced no output. Each variant's doc says whether retrying the same
/// call can help ([`ToolCallError::is_transient`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolCallError {
    /// The arguments are not JSON or do not match the tool's schema (not transient).
    #[error("invalid arguments at {path:?}: {message}")]
    InvalidArguments {
        /// JSON pointer of the failing value (`""` for the whole arguments object).
        path: String,
        /// What was expected there.
        message: String,
    },
    /// The component has no tool of that name (not transient).
    #[error("unknown tool {name:?}; available: {}", available.join(", "))]
    UnknownTool {
        /// The requested name.
        name: String,
        /// The tools the component does have.
        available: Vec<String>,
    },
    /// The call used up its fuel budget (not transient: the same input burns the same fuel).
    #[error("the tool ran out of fuel (limit {limit} units)")]
    OutOfFuel {
        /// The fuel budget of the call.
        limit: u64,
    },
    /// The call did not finish before its wall-clock deadline (transient).
    #[error("the tool did not finish within {} ms", limit.as_millis())]
    Timeout {
        /// The deadline of the call.
        #[serde(with = "millis")]
        limit: Duration,
    },
    /// The tool tried to grow its memory beyond the cap (not transient).
    #[error("the tool exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// The memory cap of the call.
        limit_bytes: u64,
    },
    /// The tool took more of a host resource than the policy allows: host objects, open
    /// files, bytes written, random bytes… (not transient).
    #[error("the tool exceeded its limit of {limit} {} (policy key `{}`)", resource.unit(), resource.policy_key())]
    ResourceLimit {
        /// Which limit.
        resource: HostLimit,
        /// Its value in the call's policy.
        limit: u64,
    },
    /// The tool recursed too deeply (not transient).
    #[error("the tool overflowed its stack")]
    StackOverflow,
    /// The output (or another transfer out of the guest) exceeded its cap (not transient).
    #[error("the tool's output is too large (limit {limit_bytes} bytes)")]
    OutputTooLarge {
        /// The cap that was exceeded.
        limit_bytes: u64,
    },
    /// The tool went over a per-call limit of the operator's policy and was stopped (not
    /// transient: the same call goes over it again).
    #[error("the tool went over its limit {} of {max} {}", limit.policy_key(), limit.unit())]
    LimitExceeded {
        /// Which limit.
        limit: CallLimit,
        /// The limit's value, in [`CallLimit::unit`]s.
        max: u64,
    },
    /// The tool tried to use a capability the operator did not grant (not transient).
    #[error("the tool was denied {capability}: {detail}")]
    CapabilityDenied {
        /// What was denied (e.g. `"outgoing HTTP"`).
        capability: String,
        /// Why, as recorded by the host.
        detail: String,
    },
    /// The tool crashed (panic, `unreachable`, bad memory access) (not transient).
    #[error("the tool crashed: {message}")]
    Trap {
        /// The trap, without host paths or backtraces.
        message: String,
    },
    /// The tool ran and reported a failure (not transient).
    #[error("the tool failed: {message}")]
    ToolFailed {
        /// The tool's own message.
        message: String,
    },
    /// The tool returned something that is not JSON or breaks its output schema (not transient).
    #[error("the tool returned an invalid output: {message}")]
    InvalidOutput {
        /// What is wrong with the output.
        message: String,
    },
    /// The host could not run the call (e.g. instantiation failed); not the model's fault
    /// (not transient).
    #[error("the host could not run the tool: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

impl ToolCallError {
    /// A stable snake_case name of the variant, for logs, JSON and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArguments { .. } => "invalid_arguments",
            Self::UnknownTool { .. } => "unknown_tool",
            Self::OutOfFuel { .. } => "out_of_fuel",
            Self::Timeout { .. } => "timeout",
            Self::MemoryLimit { .. } => "memory_limit",
            Self::ResourceLimit { .. } => "resource_limit",
            Self::StackOverflow => "stack_overflow",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::CapabilityDenied { .. } => "capability_denied",
            Self::Trap { .. } => "trap",
            Self::ToolFailed { .. } => "tool_failed",
            Self::InvalidOutput { .. } => "invalid_output",
            Self::Internal { .. } => "internal",
        }
    }

    /// Whether running the same call again may succeed: only a timeout (the machine may
    /// have been busy). Everything else fails the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// What happened and what to change, phrased for the model.
    pub fn message_for_model(&self) -> String {
        match self {
            Self::InvalidArguments { path, message } => {
                let at = if path.is_empty() { "the arguments".to_string() } else { format!("`{path}`") };
                format!("invalid arguments: at {at}: {message}; fix the arguments to match the tool's schema and call again")
            }
            Self::UnknownTool { name, available } => format!(
                "there is no tool named `{name}`; use one of: {}",
                available.join(", ")
            ),
            Self::OutOfFuel { limit } => format!(
                "the tool ran out of fuel (limit {limit} units); the computation is too large — try smaller input"
            ),
            Self::Timeout { limit } => format!(
                "the tool did not finish within {} ms and was stopped; try a smaller request, or retry if the work should be quick",
                limit.as_millis()
            ),
            Self::MemoryLimit { limit_bytes } => format!(
                "the tool needed more than its memory limit of {limit_bytes} bytes and was stopped; try smaller input"
            ),
            Self::ResourceLimit { resource, limit } => format!(
                "the tool used more than its limit of {limit} {} and was stopped (the operator's `{}`); do the work in smaller steps, or with fewer files or objects at once — the same call fails the same way",
                resource.unit(),
                resource.policy_key()
            ),
            Self::StackOverflow => {
                "the tool overflowed its stack (too deep recursion); try a smaller or less nested input".to_string()
            }
            Self::OutputTooLarge { limit_bytes } => format!(
                "the tool's output exceeded the limit of {limit_bytes} bytes; ask for less data (e.g. a smaller range or a filter)"
            ),
            Self::LimitExceeded { limit, max } => format!(
                "the tool was stopped: {} over the operator's limit of {max} {} (policy key `{}`); {}",
                limit.what(),
                limit.unit(),
                limit.policy_key(),
                limit.advice()
            ),
            Self::CapabilityDenied { capability, detail } => format!(
                "the tool was not allowed {capability} ({detail}); the operator's policy forbids it — do not retry, use another approach"
            ),
            Self::Trap { message } => format!(
                "the tool crashed ({message}); this is likely a bug in the tool or an input it cannot handle — try different input"
            ),
            Self::ToolFailed { message } => format!("the tool failed: {message}"),
            Self::InvalidOutput { message } => format!(
                "the tool returned an invalid output ({message}); this is a bug in the tool — try another approach"
            ),
            Self::Internal { message } => format!(
                "the host could not run the tool ({message}); this is not caused by your arguments"
            ),
        }
    }
}

/// A per-call limit of the operator's policy that a call can go over
/// ([`ToolCallError::LimitExceeded`]). Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallLimit {
    /// Bytes of one outgoing HTTP request body, declared or sent.
    HttpRequestBody,
    /// Bytes of one HTTP response body read by the tool.
    HttpResponseBody,
}

impl CallLimit {
    /// Where the operator sets it, in the policy file of the tool.
    pub fn policy_key(self) -> &'static str {
        match self {
            Self::HttpRequestBody => "egress.max_request_bytes",
            Self::HttpResponseBody => "egress.max_response_bytes",
        }
    }

    /// The unit of its value.
    pub fn unit(self) -> &'static str {
        "bytes"
    }

    /// What the tool did, for the model.
    fn what(self) -> &'static str {
        match self {
            Self::HttpRequestBody => "it tried to send an HTTP request body",
            Self::HttpResponseBody => "it read an HTTP response body",
        }
    }

    /// What the model can change.
    fn advice(self) -> &'static str {
        match self {
            Self::HttpRequestBody => "send less data; the same call would be stopped again",
            Self::HttpResponseBody => {
                "ask for a smaller resource (a range, a filter, a page); the same call would be stopped again"
            }
        }
    }
}

impl From<super::egress::EgressLimit> for ToolCallError {
    fn from(limit: super::egress::EgressLimit) -> Self {
        use super::egress::EgressLimit;
        let (limit, max) = match limit {
            EgressLimit::RequestBody { limit } => (CallLimit::HttpRequestBody, limit),
            EgressLimit::ResponseBody { limit } => (CallLimit::HttpResponseBody, limit),
        };
        ToolCallError::LimitExceeded { limit, max }
    }
}

/// Serialises a [`Duration`] as whole milliseconds (`limit_ms` reads better in JSON).
mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u128(d.as_millis())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn only_timeouts_are_transient() {
        let timeout = ToolCallError::Timeout {
            limit: Duration::from_millis(300),
        };
        assert!(timeout.is_transient());
        assert!(!ToolCallError::OutOfFuel { limit: 5 }.is_transient());
        assert!(!ToolCallError::StackOverflow.is_transient());
    }

    #[test]
    fn model_messages_say_what_happened_and_what_to_change() {
        let fuel = ToolCallError::OutOfFuel { limit: 1_000_000 }.message_for_model();
        assert!(
            fuel.contains("ran out of fuel (limit 1000000 units)"),
            "{fuel}"
        );
        assert!(fuel.contains("try smaller input"), "{fuel}");
        let unknown = ToolCallError::UnknownTool {
            name: "rm".into(),
            available: vec!["echo".into(), "calc".into()],
        };
        assert!(
            unknown
                .message_for_model()
                .contains("use one of: echo, calc")
        );
        let args = ToolCallError::InvalidArguments {
            path: "/n".into(),
            message: "wrong type".into(),
        };
        assert!(args.message_for_model().contains("at `/n`: wrong type"));
    }

    #[test]
    fn errors_serialize_with_their_kind() {
        let err = ToolCallError::Timeout {
            limit: Duration::from_millis(250),
        };
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "timeout", "limit": 250}));
        assert_eq!(err.kind(), "timeout");
        let json = serde_json::to_value(ToolCallError::StackOverflow).unwrap();
        assert_eq!(json["kind"], "stack_overflow");
        let err = ToolCallError::ResourceLimit {
            resource: HostLimit::OpenFiles,
            limit: 64,
        };
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "resource_limit", "resource": "open_files", "limit": 64})
        );
        assert!(err.to_string().contains("limit of 64 open files"), "{err}");
        assert!(err.message_for_model().contains("`max_open_files`"));
        assert!(!err.is_transient());
    }

    #[test]
    fn a_limit_error_names_the_limit_its_value_and_policy_key() {
        let err = ToolCallError::LimitExceeded {
            limit: CallLimit::HttpRequestBody,
            max: 4096,
        };
        assert_eq!(err.kind(), "limit_exceeded");
        assert!(!err.is_transient());
        assert_eq!(
            err.to_string(),
            "the tool went over its limit egress.max_request_bytes of 4096 bytes"
        );
        let text = err.message_for_model();
        assert!(text.contains("limit of 4096 bytes"), "{text}");
        assert!(text.contains("`egress.max_request_bytes`"), "{text}");
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({"kind": "limit_exceeded", "limit": "http_request_body", "max": 4096})
        );
    }
}
