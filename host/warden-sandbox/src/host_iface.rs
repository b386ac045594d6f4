//! The `warden:tool/host` import: bounded logging into the call's trace, read-only access
//! to the configuration values the operator granted, and the call's idempotency key.
//!
//! Invariant: nothing here can fail or trap; logs are truncated and counted, never refused.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bindings::{Host, LogLevel};

/// Longest log message kept, in bytes; longer ones are cut at a char boundary.
const MAX_LOG_MESSAGE_BYTES: usize = 2048;

/// One `host.log` call of the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The message, truncated to 2 KiB.
    pub message: String,
}

/// The reserved config key that carries a call's idempotency key into the sandbox (set by
/// the runner, replacing any operator value). `host.idempotency-key` returns it; guests
/// built against the WIT before that function read it through `get-config` (deprecated,
/// kept so they keep working).
pub const IDEMPOTENCY_KEY_CONFIG: &str = "warden.idempotency-key";

/// Per-call state behind the `host` import.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) logs: Vec<LogRecord>,
    pub(crate) max_logs: usize,
    pub(crate) dropped_logs: u64,
}

impl Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        if self.logs.len() >= self.max_logs {
            self.dropped_logs += 1;
            return;
        }
        let mut message = message;
        if message.len() > MAX_LOG_MESSAGE_BYTES {
            let mut cut = MAX_LOG_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let level = match level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        tracing::debug!(target: "warden::tool", level, %message, "guest log");
        self.logs.push(LogRecord { level, message });
    }

    fn get_config(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn config_keys(&mut self) -> Vec<String> {
        self.config.keys().cloned().collect()
    }

    fn idempotency_key(&mut self) -> Option<String> {
        self.config.get(IDEMPOTENCY_KEY_CONFIG).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_capped_and_truncated() {
        let mut host = HostState {
            max_logs: 2,
            ..HostState::default()
        };
        host.log(LogLevel::Info, "a".repeat(5000));
        host.log(LogLevel::Warn, "b".into());
        host.log(LogLevel::Error, "c".into());
        assert_eq!(host.logs.len(), 2);
        assert_eq!(host.dropped_logs, 1);
        assert!(host.logs[0].message.len() <= MAX_LOG_MESSAGE_BYTES + '…'.len_utf8());
        assert_eq!(host.logs[1].level, "warn");
    }

    #[test]
    fn the_idempotency_key_is_the_reserved_config_value_and_none_without_it() {
        let mut host = HostState::default();
        assert_eq!(host.idempotency_key(), None);
        host.config
            .insert(IDEMPOTENCY_KEY_CONFIG.into(), "run:3:call_1".into());
        assert_eq!(host.idempotency_key().as_deref(), Some("run:3:call_1"));
        // The deprecated path of older guests reads the same value.
        let old = host.get_config(IDEMPOTENCY_KEY_CONFIG.into());
        assert_eq!(old.as_deref(), Some("run:3:call_1"));
    }
}
