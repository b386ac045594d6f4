//! warden: an agent runtime whose every tool call runs inside a fuel-limited,
//! deadline-enforced WebAssembly component defined by WIT.
//!
//! # Quickstart
//!
//! An agent with the built-in `calc` tool, each call in its own sandbox. The model here is a
//! [`testing::ScriptedLlm`], so the example runs offline; a program talks to a provider with
//! [`connect`] instead (commented below).
//!
//! ```rust,standalone_crate
//! use std::sync::Arc;
//!
//! use warden::testing::{ScriptedLlm, ScriptedModel};
//! use warden::{Agent, EngineConfig, Executor, LoopConfig, Runner, StopReason, ToolPolicy};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // First thing in `main`: this process also serves as the sandbox's compiler child.
//!     warden::run_compiler_child_if_requested();
//!
//!     let executor = Executor::new(EngineConfig::default())?;
//!     // let config = warden::ProviderConfig::new(warden::ProviderKind::Openai, "gpt-4o-mini");
//!     // let model = warden::connect(&config)?; // the key from OPENAI_API_KEY
//!     let model = Arc::new(ScriptedLlm::new([
//!         ScriptedModel::calls(&[("call_1", "calc", r#"{"expression":"17 * 23"}"#)]),
//!         ScriptedModel::text("17 × 23 = 391."),
//!     ]));
//!
//!     let calc = warden::builtin::load_named(&executor, "calc").await?;
//!     let policy = ToolPolicy::default(); // fuel, memory, time; no files, no network
//!     let agent = Agent::new(LoopConfig::new("gpt-4o-mini")).with_tools(calc, policy)?;
//!     let result = Runner::new(model, executor).run(&agent, "What is 17 * 23?").await?;
//!
//!     assert_eq!(result.stop_reason, StopReason::Completed);
//!     println!("{}", result.output.map(|o| o.text).unwrap_or_default());
//!     Ok(())
//! }
//! ```
//!
//! # How it is built
//!
//! This crate is the runtime a program depends on. Its root holds what a program needs to
//! run an agent; the parts it is built from are crates of their own:
//!
//! ```text
//!   warden ──▶ warden-llm ─────▶ warden-core
//!     │  ├───▶ warden-store ───▶ warden-core
//!     │  ├───▶ warden-pack ────▶ warden-sandbox
//!     │  └───▶ warden-core
//!     └──────▶ warden-sandbox ─▶ warden-wit
//! ```
//!
//! `warden-core` holds the provider-neutral types and the sans-IO loop (context, parser,
//! budgets, state, controller), `warden-llm` the OpenAI and Anthropic adapters,
//! `warden-sandbox` the Wasm executor (with `warden-wit` for typed WIT components),
//! `warden-store` the run store behind durable runs, and `warden-pack` signed tool packs.
//! Beside this crate, `warden-trace` turns run events into OpenTelemetry spans and
//! `warden-mcp` serves sandboxed tools to MCP clients. Data flows one way: the controller
//! decides, the [`Runner`] does what it decided with a [`Model`] and an [`Executor`].

#![deny(missing_docs)]

mod agent;
pub mod builtin;
pub mod guardrail;
mod guests;
pub mod multi;
mod outcome;
mod runner;
pub mod team_file;
pub mod testing;

pub use agent::{
    AgentBuilder, AgentDef, AgentError, Approval, ContextSettings, ErrorPolicyName, ModelSettings,
    OutputDef, PolicyRef, Provider, RunSettings, ToolDef, ToolSettings,
};
pub use guardrail::{Guardrail, GuardrailStage, Verdict};
pub use multi::{AgentTool, Handoff, HistoryFilter, HostTool, Team, TeamBuilder, TeamError};
pub use outcome::{tool_failure, tool_outcome, tool_usage};
pub use runner::load_pack;
pub use runner::{
    Agent, ApprovalRequest, Approver, DurableError, INTERRUPTED, Recorded, ResumeOptions, RunError,
    RunHandle, RunStream, Runner, Session, SetupError,
};
/// `schemars` (re-exported), to derive the schema of a [`HostTool`]'s arguments.
pub use schemars;
pub use warden_core::controller::LoopConfig;
pub use warden_core::events::RunEvent;
pub use warden_core::options::{ModelOptions, ReasoningEffort};
pub use warden_core::run::{RunResult, StopReason};
pub use warden_llm::{ApiKey, Model, ProviderConfig, ProviderKind, connect};
pub use warden_sandbox::{EngineConfig, Executor, ToolPolicy, run_compiler_child_if_requested};
/// The durable run store (re-exported): [`store::SqliteStore`], the [`store::Store`] trait.
pub use warden_store as store;

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
