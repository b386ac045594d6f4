//! warden's end-to-end tests: one integration test binary.

mod llm_faults;
mod llm_limits;
mod llm_mock;
mod llm_roundtrip;
mod llm_secrets;
