//! Outgoing HTTP from sandboxed tools: the operator's deny-by-default egress policy, enforced in
//! wasi-http's `send_request` hook.
//!
//! Invariant: no socket exists until the request passed every check, in this order: request
//! budget, scheme, host (and port) against the allow-list, name resolution through the
//! pluggable [`Resolver`], and every resolved address against the internal ranges. The socket
//! then goes to one of exactly those checked addresses (the name is never resolved again);
//! redirects reach the guest as responses and a follow-up request is checked anew. Every
//! request ends by the policy's total deadline and its response body is capped.
//!
//! Wiring: the executor builds one [`EgressHooks`] per tool call, keeps it in the store data
//! and hands it out as `WasiHttpCtxView { ctx, table, hooks: &mut self.egress }`; after the
//! call it reads [`EgressHooks::stats`] (an `Arc`, so it can be cloned before the store goes).

mod addr;
mod body;
mod policy;
mod resolver;
mod stats;
mod transport;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::Scheme;
use http_body_util::{BodyExt, Empty};
use rustls::pki_types::ServerName;
use tokio::time::Instant;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use addr::is_internal;
pub use policy::{EgressPolicy, HostRule, PolicyError};
pub use resolver::{ResolveError, Resolver, StaticResolver, SystemResolver};
pub use stats::{Denial, DenialReason, EgressReport, EgressStats, MAX_RECORDED_DENIALS};

use policy::RequestHost;
use transport::{Driver, Target};

/// The `send_request` future wasi-http expects.
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, Driver), Error>> + Send>;

/// wasi-http hooks that enforce an [`EgressPolicy`] for one tool call.
#[derive(Debug, Clone)]
pub struct EgressHooks {
    policy: Arc<EgressPolicy>,
    resolver: Arc<dyn Resolver>,
    stats: Arc<EgressStats>,
}

impl EgressHooks {
    /// Hooks for one call, with fresh counters.
    pub fn new(policy: Arc<EgressPolicy>, resolver: Arc<dyn Resolver>) -> Self {
        EgressHooks {
            policy,
            resolver,
            stats: Arc::new(EgressStats::default()),
        }
    }

    /// The call's counters and denials; read them after the call with [`EgressStats::report`].
    pub fn stats(&self) -> Arc<EgressStats> {
        self.stats.clone()
    }
}

impl WasiHttpHooks for EgressHooks {
    /// Every scheme reaches `send_request`, so a refused one is recorded as a denial with its
    /// reason instead of failing earlier with a bare protocol error.
    fn is_supported_scheme(&mut self, _scheme: &Scheme) -> bool {
        true
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let hooks = self.clone();
        Box::new(async move { hooks.send(request, options).await })
    }
}

/// The timeouts in force for one request: the policy's, shortened by the guest's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    connect: Duration,
    first_byte: Option<Duration>,
    between_bytes: Option<Duration>,
    total: Duration,
}

impl Timeouts {
    /// A guest may shorten the policy's limits, never lengthen them.
    fn effective(policy: &EgressPolicy, options: Option<&RequestOptions>) -> Self {
        let total = policy.total_timeout;
        let shorter = |guest: Option<Duration>| guest.filter(|d| *d < total);
        Timeouts {
            connect: options
                .and_then(|o| o.connect_timeout)
                .map_or(policy.connect_timeout, |d| d.min(policy.connect_timeout)),
            first_byte: shorter(options.and_then(|o| o.first_byte_timeout)),
            between_bytes: shorter(options.and_then(|o| o.between_bytes_timeout)),
            total,
        }
    }
}

impl EgressHooks {
    /// Refuses a request: records why, keeps the guest's body writable, returns the error code.
    fn deny(&self, host: String, reason: DenialReason, body: WasiBody) -> Error {
        let code = match reason {
            DenialReason::Scheme { .. } | DenialReason::HostNotAllowed => Error::HttpRequestDenied,
            DenialReason::InternalAddress { .. } => Error::DestinationIpProhibited,
            DenialReason::TooManyRequests { .. } => Error::ConnectionLimitReached,
        };
        self.stats.record_denial(Denial { host, reason });
        body::drain_in_background(body);
        code
    }

    async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, Driver), Error> {
        let started = Instant::now();
        let timeouts = Timeouts::effective(&self.policy, options.as_ref());
        let deadline = started + timeouts.total;
        let (mut parts, body) = request.into_parts();
        let uri = parts.uri.clone();
        let host_text = uri.host().unwrap_or_default();
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let default_port: u16 = if scheme == "https" { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let shown = shown_host(host_text, port, default_port);

        // 1. The call's request budget.
        if self.stats.next_attempt() > self.policy.max_requests {
            let limit = self.policy.max_requests;
            return Err(self.deny(shown, DenialReason::TooManyRequests { limit }, body));
        }
        // 2. Scheme.
        if scheme != "http" && scheme != "https" {
            return Err(self.deny(shown, DenialReason::Scheme { scheme }, body));
        }
        if host_text.is_empty() {
            return Err(fail(body, Error::HttpRequestUriInvalid));
        }
        // 3. Host and port against the allow-list.
        let host = RequestHost::parse(host_text);
        let Some(allow_private) = self.policy.lookup(&host, port, default_port) else {
            return Err(self.deny(shown, DenialReason::HostNotAllowed, body));
        };
        // 4. Resolve (IP literals are their own address).
        let connect_deadline = started + timeouts.connect;
        let ips = match &host {
            RequestHost::Ip(ip) => vec![*ip],
            RequestHost::Name(name) => {
                let lookup = self.resolver.resolve(name, port);
                match tokio::time::timeout_at(connect_deadline, lookup).await {
                    Err(_) => return Err(fail(body, Error::DnsTimeout)),
                    Ok(Err(err)) => {
                        let code = Error::DnsError {
                            rcode: Some(err.to_string()),
                            info_code: None,
                        };
                        return Err(fail(body, code));
                    }
                    Ok(Ok(ips)) => ips,
                }
            }
        };
        // 5. Every address must be public unless the host's rule allows internal ones.
        if !allow_private && let Some(ip) = ips.iter().copied().find(|ip| is_internal(*ip)) {
            return Err(self.deny(shown, DenialReason::InternalAddress { ip }, body));
        }
        let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();

        let tls_name = match (scheme.as_str(), &host) {
            ("https", RequestHost::Ip(ip)) => Some(ServerName::from(*ip)),
            ("https", RequestHost::Name(name)) => match ServerName::try_from(name.clone()) {
                Ok(name) => Some(name),
                Err(_) => return Err(fail(body, Error::HttpRequestUriInvalid)),
            },
            _ => None,
        };

        // hyper wants the origin form on the wire; the Host header carries the authority.
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = match http::Uri::try_from(path) {
            Ok(origin) => origin,
            Err(_) => return Err(fail(body, Error::HttpRequestUriInvalid)),
        };
        if !parts.headers.contains_key(http::header::HOST)
            && let Some(authority) = uri.authority()
            && let Ok(value) = http::HeaderValue::from_str(authority.as_str())
        {
            parts.headers.insert(http::header::HOST, value);
        }
        let body = body_for_hyper(&parts, body);
        let request = http::Request::from_parts(parts, body);

        self.stats.record_sent();
        let head_deadline = match timeouts.first_byte {
            Some(first_byte) => (started + first_byte).min(deadline),
            None => deadline,
        };
        let target = Target {
            addrs: &addrs,
            tls_name,
            connect_deadline: connect_deadline.min(deadline),
            head_deadline,
            head_deadline_is_first_byte: head_deadline < deadline,
            deadline,
        };
        let (response, driver) = transport::send(target, request).await?;
        let stats = self.stats.clone();
        let limit = self.policy.max_response_bytes;
        let response = response.map(|incoming| {
            body::GuardedBody::new(incoming, deadline, timeouts.between_bytes, limit, stats)
                .boxed_unsync()
        });
        Ok((response, driver))
    }
}

/// Fails a request that is not a policy denial, keeping the guest's body writable meanwhile.
fn fail(body: WasiBody, code: Error) -> Error {
    body::drain_in_background(body);
    code
}

/// The request body to give hyper. For a GET or HEAD without `Content-Length` hyper drops the
/// body at once, and the guest's pending write would fail as a "connection reset"; so hyper gets
/// an empty body and the guest's is drained in the background.
fn body_for_hyper(parts: &http::request::Parts, body: WasiBody) -> WasiBody {
    let bodiless = parts.method == http::Method::GET || parts.method == http::Method::HEAD;
    if bodiless && !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
        body::drain_in_background(body);
        Empty::new().map_err(|never| match never {}).boxed_unsync()
    } else {
        body
    }
}

/// The destination as shown in denials: `host`, or `host:port` for a non-default port. Cut to
/// a bounded length because it comes from the guest.
fn shown_host(host: &str, port: u16, default_port: u16) -> String {
    let host: String = host.chars().take(253).collect();
    if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    }
}
