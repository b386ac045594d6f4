//! Configuration values the operator granted to this tool, through the host's `get-config`
//! and `config-keys` imports.
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
