//! What a call reports besides its output: [`CallOutcome`] and [`CallUsage`].

use std::time::Duration;

use serde::Serialize;

use super::error::ToolCallError;
use super::host_iface::LogRecord;

/// The result of one tool call plus what it used. Always returned, success or not.
#[derive(Debug, Clone, Serialize)]
pub struct CallOutcome {
    /// The output JSON text, or why there is none.
    pub result: Result<String, ToolCallError>,
    /// Resources used and messages captured.
    pub usage: CallUsage,
}

/// Resources used by one call and what the guest wrote on the side.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallUsage {
    /// Fuel units burned (instantiation included).
    pub fuel_consumed: u64,
    /// Wall-clock time from the start of the call (after validation and queueing) to its end.
    #[serde(rename = "wall_time_us", serialize_with = "micros")]
    pub wall_time: Duration,
    /// Time spent waiting for a free instance slot.
    #[serde(rename = "queue_time_us", serialize_with = "micros")]
    pub queue_time: Duration,
    /// Largest linear memory the guest had.
    pub peak_memory_bytes: u64,
    /// Bytes sent into the guest (tool name and arguments).
    pub bytes_in: u64,
    /// Bytes of output returned.
    pub bytes_out: u64,
    /// Outgoing HTTP requests the guest attempted (allowed or not).
    pub http_requests: u32,
    /// Of those, how many the policy denied (before any connection).
    pub http_denied: u32,
    /// Response body bytes received over HTTP.
    pub http_bytes_received: u64,
    /// Request body bytes sent over HTTP (at most `egress.max_request_bytes` per request).
    pub http_bytes_sent: u64,
    /// Each HTTP request (the first 64): method, host, status, bytes, allowed or denied and
    /// why. Never header values, so never a secret.
    pub http_log: Vec<crate::egress::RequestRecord>,
    /// `host.log` messages, in order (capped by the policy).
    pub logs: Vec<LogRecord>,
    /// Log messages dropped past the cap.
    pub dropped_logs: u64,
    /// Captured stdout (capped, lossy UTF-8).
    pub stdout: String,
    /// Captured stderr (capped, lossy UTF-8).
    pub stderr: String,
    /// Bytes of stdout and stderr dropped past the cap.
    pub dropped_stdio_bytes: u64,
    /// Most files the call held open at once (granted directories not counted).
    pub peak_open_files: u32,
    /// Files, directories and links created in read-write grants.
    pub files_created: u32,
    /// Bytes written into read-write grants.
    pub bytes_written: u64,
    /// Random bytes the host generated for the call.
    pub random_bytes: u64,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_micros())
}
