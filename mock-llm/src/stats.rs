//! Counters of what the mock served, readable as JSON at `GET /stats`.
//!
//! Invariant: counters only grow (until `reset`); they are plain atomics so counting
//! never slows the hot path.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// Live counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub requests: AtomicU64,
    pub openai: AtomicU64,
    pub anthropic: AtomicU64,
    pub streaming: AtomicU64,
    pub ok: AtomicU64,
    pub invalid: AtomicU64,
    pub unauthorized: AtomicU64,
    pub streams_completed: AtomicU64,
    pub streams_aborted: AtomicU64,
    pub cancelled: AtomicU64,
    pub faults: Mutex<BTreeMap<String, u64>>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Chat requests received (both formats, every outcome).
    pub requests: u64,
    pub openai_requests: u64,
    pub anthropic_requests: u64,
    pub streaming_requests: u64,
    /// Requests answered with a normal (possibly faulted) 200 response.
    pub ok_responses: u64,
    /// Requests refused with 400 by validation.
    pub validation_errors: u64,
    /// Requests refused with 401 (missing or wrong key).
    pub auth_failures: u64,
    /// Faults served, by name (e.g. `status:429`, `cut`).
    pub faults: BTreeMap<String, u64>,
    /// Streams whose every byte was written.
    pub streams_completed: u64,
    /// Streams the client dropped before their end (the connection went away).
    pub streams_aborted: u64,
    /// Non-streaming requests whose handler was dropped before answering.
    pub requests_cancelled: u64,
}

impl Stats {
    pub fn fault(&self, name: String) {
        *self
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Relaxed),
            openai_requests: self.openai.load(Relaxed),
            anthropic_requests: self.anthropic.load(Relaxed),
            streaming_requests: self.streaming.load(Relaxed),
            ok_responses: self.ok.load(Relaxed),
            validation_errors: self.invalid.load(Relaxed),
            auth_failures: self.unauthorized.load(Relaxed),
            faults: self
                .faults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            streams_completed: self.streams_completed.load(Relaxed),
            streams_aborted: self.streams_aborted.load(Relaxed),
            requests_cancelled: self.cancelled.load(Relaxed),
        }
    }

    pub fn reset(&self) {
        for c in [
            &self.requests,
            &self.openai,
            &self.anthropic,
            &self.streaming,
            &self.ok,
            &self.invalid,
            &self.unauthorized,
            &self.streams_completed,
            &self.streams_aborted,
            &self.cancelled,
        ] {
            c.store(0, Relaxed);
        }
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
