//! Shared helpers for warden's end-to-end tests.

pub mod sandbox;
