//! warden's end-to-end tests: one integration test binary.
#![allow(clippy::unwrap_used)]

mod llm_faults;
mod llm_limits;
mod llm_mock;
mod llm_roundtrip;
mod llm_secrets;
mod sandbox_concurrency;
mod sandbox_hostile;
mod sandbox_load;
mod sandbox_policy;
