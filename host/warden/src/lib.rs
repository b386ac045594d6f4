//! warden: an agent runtime whose every tool call runs inside a fuel-limited,
//! deadline-enforced WebAssembly component defined by WIT.
//!
//! This crate is the runtime a program depends on. Its root holds what a program needs to
//! run an agent; the parts it is built from are crates of their own:
//!
//! ```text
//!   warden-cli ──▶ warden ──▶ warden-llm ──▶ warden-core
//!                    │                          ▲
//!                    ├──────────────────────────┘
//!                    └──▶ warden-sandbox        (knows no other warden crate)
//! ```
//!
//! `warden-core` holds the provider-neutral types and the sans-IO loop (context, parser,
//! budgets, state, controller), `warden-llm` the OpenAI and Anthropic adapters, and
//! `warden-sandbox` the Wasm executor. Data flows one way: the controller decides, the
//! [`Runner`] does what it decided with a [`Model`] and an [`Executor`].

#![deny(missing_docs)]

mod agent;
pub mod builtin;
mod guests;
mod outcome;
mod runner;
pub mod testing;

pub use agent::{
    AgentBuilder, AgentDef, AgentError, ContextSettings, ErrorPolicyName, ModelSettings, OutputDef,
    PolicyRef, Provider, RunSettings, ToolDef, ToolSettings,
};
pub use outcome::{tool_failure, tool_outcome, tool_usage};
pub use runner::{Agent, RunError, RunHandle, RunStream, Runner, Session, SetupError};
pub use warden_core::controller::LoopConfig;
pub use warden_core::events::RunEvent;
pub use warden_core::options::{ModelOptions, ReasoningEffort};
pub use warden_core::run::{RunResult, StopReason};
pub use warden_llm::{ApiKey, Model, ProviderConfig, ProviderKind, connect};
pub use warden_sandbox::{EngineConfig, Executor, ToolPolicy, run_compiler_child_if_requested};

/// warden's own test binary serves as its compiler child, before libtest's `main` runs (the
/// `warden` binary calls the same function first thing in its `main`).
#[cfg(all(test, target_os = "linux"))]
#[used]
#[unsafe(link_section = ".init_array")]
static SERVE_COMPILER_CHILD: extern "C" fn() = {
    extern "C" fn serve() {
        warden_sandbox::run_compiler_child_if_requested();
    }
    serve
};
