//! The LLM interface: provider-neutral types, the `Model` trait, and the OpenAI and
//! Anthropic adapters sharing one HTTP, retry, rate-limit and streaming core.

pub mod types;

pub use types::*;
