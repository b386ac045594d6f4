//! warden's end-to-end tests: one integration test binary.
#![allow(clippy::unwrap_used)]
mod agent_budget;
mod agent_concurrency;
mod agent_loop;
mod agent_setup;
mod agent_stream;
mod agent_support;
mod agent_tool_args;
mod demo;
mod guest_tools;
mod llm_faults;
mod llm_hostile;
mod llm_limits;
mod llm_mock;
mod llm_roundtrip;
mod llm_secrets;
mod sandbox_concurrency;
mod sandbox_hostile;
mod sandbox_http_limits;
mod sandbox_load;
mod sandbox_output;
mod sandbox_policy;
mod sandbox_resources;
