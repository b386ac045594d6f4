//! Configuration values the operator granted to this tool, through the host's `get-config`
//! and `config-keys` imports, and the call's idempotency key (`idempotency-key`).
//!
//! Invariant: these are never secrets (the host keeps secrets out of guests). Built for a
//! native target (unit tests of a tool's logic) there is no host and no value is granted.

/// The value of `key`, if the operator granted one to this tool.
pub fn config(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::warden::tool::host::get_config(key);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = key;
        None
    }
}

/// The keys of every configuration value granted to this tool.
pub fn config_keys() -> Vec<String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::warden::tool::host::config_keys();
    #[cfg(not(target_arch = "wasm32"))]
    Vec::new()
}

/// The config key under which the host also gives each call its idempotency key, for
/// components built before `host.idempotency-key` existed. Deprecated: use
/// [`idempotency_key`].
pub const IDEMPOTENCY_KEY_CONFIG: &str = "warden.idempotency-key";

/// The stable idempotency key of this call (`run:step:call`), when the run is recorded.
/// A tool with outside effects passes it on (as the `http` tool's `Idempotency-Key`
/// header) or deduplicates by it, so a call re-run after a crash has its effect once.
/// Through the host's `idempotency-key` import.
pub fn idempotency_key() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::warden::tool::host::idempotency_key();
    #[cfg(not(target_arch = "wasm32"))]
    None
}
