//! warden's end-to-end tests: one integration test binary.
#![allow(clippy::unwrap_used)]

mod agent_budget;
mod agent_loop;
mod agent_setup;
mod agent_stream;
mod agent_support;
mod sandbox_concurrency;
mod sandbox_hostile;
mod sandbox_load;
mod sandbox_policy;
