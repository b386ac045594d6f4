//! Paths of the guest components built from `guest-tools/` by `build.rs`.
//!
//! The components are compiled for `wasm32-wasip2` in release mode during the host's build,
//! so tests, benchmarks and the demo always run the real tools of this checkout.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
