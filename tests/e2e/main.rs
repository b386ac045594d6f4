//! warden's end-to-end tests: one integration test binary.
#![allow(clippy::unwrap_used)]

mod demo;
mod sandbox_concurrency;
mod sandbox_hostile;
mod sandbox_load;
mod sandbox_policy;
