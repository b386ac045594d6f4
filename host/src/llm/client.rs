//! The process-wide HTTP client: one connection pool for every adapter.
//!
//! Invariant: exactly one `reqwest::Client` exists per connect timeout (a client-level
//! setting), so every run talking to the same provider reuses warm connections. The ring
//! rustls provider is installed once before the first client is built.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::error::LlmError;

/// The shared client for this connect timeout.
pub(crate) fn shared_client(connect_timeout: Duration) -> Result<reqwest::Client, LlmError> {
    static CLIENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = clients.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(client) = map.get(&connect_timeout) {
        return Ok(client.clone());
    }
    // Another part of the process may have installed a provider already: either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
    map.insert(connect_timeout, client.clone());
    Ok(client)
}
