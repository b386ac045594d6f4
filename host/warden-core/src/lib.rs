//! warden-core: the provider-neutral types and the sans-IO agent loop of warden.
//!
//! [`chat`] holds what a model call is made of (messages, tool specs, tool calls, usage,
//! finish reasons); [`tool`] what a tool call is to the loop (catalog entry, planned call,
//! outcome, typed failure); [`run`] how a run ends (stop reason, result); [`options`] the
//! optional request settings (`top_p`, `seed`, stop sequences, ...). [`context`]
//! assembles each request within the context window; [`parser`] validates a reply;
//! [`guardrail`] names a guardrail's stage and verdict; [`report`] puts an error and its sources
//! in one line;
//! [`budget`] and [`state`] keep what a run has spent and said; [`events`] describes a run to
//! its observers; [`controller`] decides every next step. [`testing`] scripts a model for
//! tests of the loop.
//!
//! Invariant: nothing here does IO. There is no async runtime, HTTP client or Wasm engine in
//! this crate's dependency tree, so the whole loop runs in a plain unit test; `warden-llm`
//! and `warden-sandbox` do the talking and the running, and `warden` drives this loop with
//! them.

#![deny(missing_docs)]

pub mod budget;
pub mod chat;
pub mod context;
pub mod controller;
pub mod events;
pub mod guardrail;
pub mod options;
pub mod parser;
pub mod report;
pub mod run;
pub mod state;
pub mod testing;
pub mod tool;
mod wire_cache;
