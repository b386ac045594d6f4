//! warden's end-to-end tests: one integration test binary.
