//! What one tool call did on the network: counters and the reasons for each denial, shared
//! between the hooks (which write) and the executor (which reads after the call).
//!
//! Invariant: memory stays bounded whatever the guest does: counters are integers and at most
//! [`MAX_RECORDED_DENIALS`] denials are kept (the count goes on). The first size limit a
//! request goes over is kept and cancels [`EgressStats::stop_token`], which ends the call.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio_util::sync::CancellationToken;

/// How many denial records a call keeps; later denials are only counted.
pub const MAX_RECORDED_DENIALS: usize = 32;
/// How many request records a call keeps; later requests are only counted.
pub const MAX_RECORDED_REQUESTS: usize = 64;

/// One request a call made (or tried), as its usage reports it. Never holds header values, so
/// never a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestRecord {
    /// The method.
    pub method: String,
    /// The destination, `host` or `host:port`.
    pub host: String,
    /// The response status, if a response came.
    pub status: Option<u16>,
    /// Response body bytes the guest was given from this request.
    pub bytes_received: u64,
    /// Whether the policy let it through.
    pub allowed: bool,
    /// Why it was denied, or why it failed (DNS, connection), if it did.
    pub reason: Option<String>,
}

/// Why the policy refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DenialReason {
    /// The URL's scheme is neither http nor https.
    #[error("scheme {scheme:?} is not allowed; only http and https are")]
    Scheme {
        /// The scheme the guest used.
        scheme: String,
    },
    /// No `allowed_hosts` rule covers this host and port.
    #[error("host not in the allow-list; ask the operator to add it to allowed_hosts")]
    HostNotAllowed,
    /// The host resolved to an internal address and its rule does not allow that.
    #[error(
        "it resolves to the internal address {ip}; ask the operator to set allow_private on \
         this host's allowed_hosts entry if that is intended"
    )]
    InternalAddress {
        /// The first internal address found.
        ip: IpAddr,
    },
    /// A rule names the host, but none allows this scheme.
    #[error("no rule for this host allows scheme {scheme:?}")]
    SchemeNotAllowed {
        /// The scheme used.
        scheme: String,
    },
    /// A rule names the host, but none allows this path.
    #[error(
        "no rule for this host allows the path {path:?} (paths with '.', '..', '%' or '\\' never match a path prefix)"
    )]
    PathNotAllowed {
        /// The path (cut to 256 characters).
        path: String,
    },
    /// A rule names the host and path, but none allows this method.
    #[error("no rule for this host and path allows method {method}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
    },
    /// The call already attempted `max_requests` requests.
    #[error("the call already made its {limit} requests; ask the operator to raise max_requests")]
    TooManyRequests {
        /// The policy's `max_requests`.
        limit: u32,
    },
}

/// A size limit of the egress policy that a request went over. Hitting one ends the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EgressLimit {
    /// A request body (declared or sent) was larger than `max_request_bytes`.
    RequestBody {
        /// The policy's `max_request_bytes`.
        limit: u64,
    },
    /// A response body was larger than `max_response_bytes`.
    ResponseBody {
        /// The policy's `max_response_bytes`.
        limit: u64,
    },
}

/// One refused request: where it was going and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP to {host} was denied: {reason}")]
pub struct Denial {
    /// The destination as `host` or `host:port` (port shown when not the scheme's default).
    pub host: String,
    /// Why it was refused.
    pub reason: DenialReason,
}

/// A snapshot of a call's network activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressReport {
    /// Requests that passed the policy and were sent (or a connection was attempted).
    pub requests_sent: u32,
    /// Requests the policy refused before any connection.
    pub requests_denied: u32,
    /// Response body bytes received from all requests.
    pub bytes_received: u64,
    /// Request body bytes handed to the connection, over all requests.
    pub bytes_sent: u64,
    /// The first size limit a request went over, if any (the call ends with it).
    pub limit_hit: Option<EgressLimit>,
    /// The first [`MAX_RECORDED_DENIALS`] denials, in order.
    pub denials: Vec<Denial>,
    /// The first [`MAX_RECORDED_REQUESTS`] requests, allowed or not, in order.
    pub requests: Vec<RequestRecord>,
}

/// Live counters for one call. Held in an `Arc` by the hooks and by the executor.
#[derive(Debug, Default)]
pub struct EgressStats {
    attempts: AtomicU32,
    sent: AtomicU32,
    denied: AtomicU32,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    limit_hit: OnceLock<EgressLimit>,
    stop: CancellationToken,
    denials: Mutex<Vec<Denial>>,
    requests: Mutex<Vec<(RequestRecord, std::sync::Arc<AtomicU64>)>>,
}

impl EgressStats {
    /// A snapshot of the counters and recorded denials.
    pub fn report(&self) -> EgressReport {
        EgressReport {
            requests_sent: self.sent.load(Ordering::SeqCst),
            requests_denied: self.denied.load(Ordering::SeqCst),
            bytes_received: self.bytes_received.load(Ordering::SeqCst),
            bytes_sent: self.bytes_sent.load(Ordering::SeqCst),
            limit_hit: self.limit_hit.get().copied(),
            denials: self
                .denials
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            requests: self
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(r, bytes)| RequestRecord {
                    bytes_received: bytes.load(Ordering::SeqCst),
                    ..r.clone()
                })
                .collect(),
        }
    }

    /// Records a request; returns the counter its response bytes go into.
    pub(crate) fn record_request(&self, record: RequestRecord) -> std::sync::Arc<AtomicU64> {
        let bytes = std::sync::Arc::new(AtomicU64::new(0));
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if requests.len() < MAX_RECORDED_REQUESTS {
            requests.push((record, bytes.clone()));
        }
        bytes
    }

    /// Counts an attempt and returns how many were made, this one included.
    pub(crate) fn next_attempt(&self) -> u32 {
        self.attempts
            .fetch_add(1, Ordering::SeqCst)
            .saturating_add(1)
    }

    pub(crate) fn record_sent(&self) {
        self.sent.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn record_bytes(&self, n: u64) {
        self.bytes_received.fetch_add(n, Ordering::SeqCst);
    }

    pub(crate) fn record_sent_bytes(&self, n: u64) {
        self.bytes_sent.fetch_add(n, Ordering::SeqCst);
    }

    /// Records that a request went over `limit` (the first one is kept) and asks the executor
    /// to end the call.
    pub(crate) fn record_limit(&self, limit: EgressLimit) {
        tracing::info!(
            ?limit,
            "outgoing HTTP went over a size limit; ending the call"
        );
        let _first = self.limit_hit.set(limit);
        self.stop.cancel();
    }

    /// The first size limit a request went over, if any.
    pub(crate) fn limit_hit(&self) -> Option<EgressLimit> {
        self.limit_hit.get().copied()
    }

    /// Cancelled once a request went over a size limit: the executor ends the call then.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    pub(crate) fn record_denial(&self, denial: Denial) {
        tracing::info!(host = %denial.host, reason = %denial.reason, "outgoing HTTP denied");
        self.denied.fetch_add(1, Ordering::SeqCst);
        let mut denials = self.denials.lock().unwrap_or_else(PoisonError::into_inner);
        if denials.len() < MAX_RECORDED_DENIALS {
            denials.push(denial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_message_names_host_reason_and_remedy() {
        let denial = Denial {
            host: "evil.example".to_string(),
            reason: DenialReason::HostNotAllowed,
        };
        assert_eq!(
            denial.to_string(),
            "HTTP to evil.example was denied: host not in the allow-list; \
             ask the operator to add it to allowed_hosts"
        );
    }

    #[test]
    fn recorded_denials_are_bounded_but_all_are_counted() {
        let stats = EgressStats::default();
        for _ in 0..MAX_RECORDED_DENIALS + 5 {
            stats.record_denial(Denial {
                host: "a.example".to_string(),
                reason: DenialReason::HostNotAllowed,
            });
        }
        let report = stats.report();
        assert_eq!(report.denials.len(), MAX_RECORDED_DENIALS);
        assert_eq!(report.requests_denied as usize, MAX_RECORDED_DENIALS + 5);
    }

    #[test]
    fn the_first_limit_hit_is_kept_and_stops_the_call() {
        let stats = EgressStats::default();
        let stop = stats.stop_token();
        assert!(!stop.is_cancelled());
        stats.record_limit(EgressLimit::RequestBody { limit: 10 });
        stats.record_limit(EgressLimit::ResponseBody { limit: 20 });
        assert!(stop.is_cancelled());
        assert_eq!(
            stats.report().limit_hit,
            Some(EgressLimit::RequestBody { limit: 10 })
        );
    }
}
