//! warden: an agent runtime whose every tool call runs inside a fuel-limited,
//! deadline-enforced WebAssembly component defined by WIT.
//!
//! Data flows one way: `context` assembles a request, `llm` talks to the provider,
//! `parser` validates the reply, `executor` runs tool calls in sandboxes, `controller`
//! decides the next step and `state` keeps the run. The sandbox knows nothing of LLMs.

pub mod agent;
pub mod budget;
pub mod builtin;
pub mod context;
pub mod controller;
pub mod demo;
pub mod events;
pub mod executor;
pub mod guests;
pub mod llm;
pub mod parser;
pub mod runner;
pub mod state;

/// warden's own test binary serves as its compiler child, before libtest's `main` runs (the
/// `warden` binary calls the same function first thing in its `main`).
#[cfg(all(test, target_os = "linux"))]
#[used]
#[unsafe(link_section = ".init_array")]
static SERVE_COMPILER_CHILD: extern "C" fn() = {
    extern "C" fn serve() {
        executor::run_compiler_child_if_requested();
    }
    serve
};
