//! Outgoing HTTP from sandboxed tools: the operator's deny-by-default egress policy, enforced in
//! wasi-http's `send_request` hook.
//!
//! Invariant: no socket exists until the request passed every check, in this order: request
//! budget, scheme, host (and port) against the allow-list, name resolution through the
//! pluggable [`Resolver`], and every resolved address against the internal ranges. The socket
//! then goes to one of exactly those checked addresses (the name is never resolved again);
//! redirects reach the guest as responses and a follow-up request is checked anew. Every
//! request ends by the policy's total deadline; its request body (declared and sent) and its
//! response body are capped, and going over either cap ends the call.
//!
//! Wiring: the executor builds one [`EgressHooks`] per tool call, keeps it in the store data
//! and hands it out as `WasiHttpCtxView { ctx, table, hooks: &mut self.egress }`; after the
//! call it reads [`EgressHooks::stats`] (an `Arc`, so it can be cloned before the store goes).

mod addr;
mod body;
mod policy;
mod redact;
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
pub use policy::{EgressPolicy, EgressPolicyError, HostRule};
pub use redact::{REDACTED, SecretHeader};
pub use resolver::{ResolveError, Resolver, StaticResolver, SystemResolver};
pub use stats::{
    Denial, DenialReason, EgressLimit, EgressReport, EgressStats, MAX_RECORDED_DENIALS,
    MAX_RECORDED_REQUESTS, RequestRecord,
};

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
    /// `None`: the process-wide config trusting the webpki (Mozilla) roots.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl EgressHooks {
    /// Hooks for one call, with fresh counters.
    pub fn new(policy: Arc<EgressPolicy>, resolver: Arc<dyn Resolver>) -> Self {
        EgressHooks {
            policy,
            resolver,
            stats: Arc::new(EgressStats::default()),
            tls: None,
        }
    }

    /// Uses `config` for HTTPS instead of the default (webpki roots, ring provider), e.g. to
    /// trust an operator's private CA. Certificates are still checked against the URL's host
    /// name while the socket goes to the checked address.
    #[must_use]
    pub fn with_tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
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

    /// A guest write is copied whole into the host, and an unsent request body buffers up
    /// to two chunks in host memory: wasmtime's 1 MiB chunks would let a guest pin 2 MiB per
    /// request object it holds, so a chunk is at most 64 KiB and never over the body cap.
    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        let cap = usize::try_from(self.policy.max_request_bytes).unwrap_or(usize::MAX);
        OUTGOING_BODY_CHUNK_BYTES.min(cap.max(1))
    }
}

/// The largest write into an outgoing request body (and half of what one unsent body holds).
const OUTGOING_BODY_CHUNK_BYTES: usize = 64 << 10;

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

/// Why a request did not get past the checks.
enum Refusal {
    /// The policy refused it: recorded as a denial for the executor's report.
    Denied { host: String, reason: DenialReason },
    /// It failed for another reason (bad URL, name not found...).
    Failed(Error),
}

/// A request that passed every check: where and how to connect.
struct Approved {
    addrs: Vec<SocketAddr>,
    tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
}

impl EgressHooks {
    async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, Driver), Error> {
        let started = Instant::now();
        let timeouts = Timeouts::effective(&self.policy, options.as_ref());
        let deadline = started + timeouts.total;
        let connect_deadline = (started + timeouts.connect).min(deadline);
        let (mut parts, body) = request.into_parts();
        let method = parts.method.clone();
        let shown = {
            let default_port = if parts.uri.scheme_str() == Some("https") {
                443
            } else {
                80
            };
            let port = parts.uri.port_u16().unwrap_or(default_port);
            shown_host(parts.uri.host().unwrap_or_default(), port, default_port)
        };

        let approved = match self
            .check(&parts.uri, &parts.method, connect_deadline)
            .await
        {
            Ok(approved) => approved,
            Err(refusal) => {
                // Keep the guest's body writable so it sees this error, not a reset.
                body::drain_in_background(body);
                return Err(self.refuse(refusal, &parts.method));
            }
        };

        // Secrets: the guest's own copies removed, the host's added for this host only.
        let secrets = self.policy.secrets();
        if !secrets.is_empty() {
            let host = RequestHost::parse(parts.uri.host().unwrap_or_default());
            SecretHeader::apply_all(secrets, &host, &mut parts.headers);
        }
        // hyper wants the origin form on the wire; the Host header carries the authority.
        let uri = std::mem::take(&mut parts.uri);
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
        // A body declared larger than the cap is refused before any connection.
        let max_body = self.policy.max_request_bytes;
        if declared_length(&parts.headers).is_some_and(|n| n > max_body) {
            self.stats
                .record_limit(EgressLimit::RequestBody { limit: max_body });
            return Err(fail(body, Error::HttpRequestBodySize(Some(max_body))));
        }
        let body = body_for_hyper(&parts, body);
        let body = body::SendBody::new(body, max_body, self.stats.clone()).boxed_unsync();
        let request = http::Request::from_parts(parts, body);

        self.stats.record_sent();
        let target = Target {
            addrs: &approved.addrs,
            tls: approved.tls,
            connect_deadline,
            first_byte: timeouts.first_byte,
            deadline,
        };
        let (response, driver) = match transport::send(target, request).await {
            Ok(sent) => sent,
            // hyper reports the body's failure as its own error: give the guest the cause.
            Err(err) => {
                return Err(match self.stats.limit_hit() {
                    Some(EgressLimit::RequestBody { limit }) => {
                        Error::HttpRequestBodySize(Some(limit))
                    }
                    _ => err,
                });
            }
        };
        let stats = self.stats.clone();
        let limit = self.policy.max_response_bytes;
        let counter = self.stats.record_request(RequestRecord {
            method: method.as_str().to_string(),
            host: shown,
            status: Some(response.status().as_u16()),
            bytes_received: 0,
            allowed: true,
            reason: None,
        });
        let mut response = response.map(|incoming| {
            body::GuardedBody::new(incoming, deadline, timeouts.between_bytes, limit, stats)
                .with_counter(counter)
                .boxed_unsync()
        });
        if !secrets.is_empty() {
            // A response echoing a secret never shows it to the guest.
            let values = SecretHeader::values(secrets);
            redact::redact_headers(response.headers_mut(), &values);
            response = response.map(|b| redact::RedactBody::new(b, values).boxed_unsync());
        }
        Ok((response, driver))
    }

    /// Every check, in order; no socket exists before they all pass.
    async fn check(
        &self,
        uri: &http::Uri,
        method: &http::Method,
        dns_deadline: Instant,
    ) -> Result<Approved, Refusal> {
        let host_text = uri.host().unwrap_or_default();
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let default_port: u16 = if scheme == "https" { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let denied = |reason| Refusal::Denied {
            host: shown_host(host_text, port, default_port),
            reason,
        };

        // 1. The call's request budget.
        if self.stats.next_attempt() > self.policy.max_requests {
            let limit = self.policy.max_requests;
            return Err(denied(DenialReason::TooManyRequests { limit }));
        }
        // 2. Scheme.
        if scheme != "http" && scheme != "https" {
            return Err(denied(DenialReason::Scheme { scheme }));
        }
        if host_text.is_empty() {
            return Err(Refusal::Failed(Error::HttpRequestUriInvalid));
        }
        // 3. Host and port against the allow-list; nothing is looked up for other names.
        let host = RequestHost::parse(host_text);
        if self.policy.lookup(&host, port, default_port).is_none() {
            return Err(denied(DenialReason::HostNotAllowed));
        }
        // 3b. Scheme, path and method against the rules for that host.
        let path = uri.path();
        let allow_private =
            match self
                .policy
                .route(&host, port, default_port, &scheme, method, path)
            {
                Ok(private) => private,
                Err(policy::RouteMismatch::Scheme) => {
                    return Err(denied(DenialReason::SchemeNotAllowed { scheme }));
                }
                Err(policy::RouteMismatch::Path) => {
                    let path = path.chars().take(256).collect();
                    return Err(denied(DenialReason::PathNotAllowed { path }));
                }
                Err(policy::RouteMismatch::Method) => {
                    let method = method.as_str().chars().take(32).collect();
                    return Err(denied(DenialReason::MethodNotAllowed { method }));
                }
            };
        // 4. Resolve (IP literals are their own address).
        let ips = match &host {
            RequestHost::Ip(ip) => vec![*ip],
            RequestHost::Name(name) => {
                let lookup = self.resolver.resolve(name, port);
                match tokio::time::timeout_at(dns_deadline, lookup).await {
                    Err(_) => return Err(Refusal::Failed(Error::DnsTimeout)),
                    Ok(Err(err)) => {
                        return Err(Refusal::Failed(Error::DnsError {
                            rcode: Some(err.to_string()),
                            info_code: None,
                        }));
                    }
                    Ok(Ok(ips)) => ips,
                }
            }
        };
        // 5. Every address must be public unless the host's rule allows internal ones.
        if !allow_private && let Some(ip) = ips.iter().copied().find(|ip| is_internal(*ip)) {
            return Err(denied(DenialReason::InternalAddress { ip }));
        }
        let tls = if scheme == "https" {
            let name = match &host {
                RequestHost::Ip(ip) => ServerName::from(*ip),
                RequestHost::Name(name) => ServerName::try_from(name.clone())
                    .map_err(|_| Refusal::Failed(Error::HttpRequestUriInvalid))?,
            };
            let config = match &self.tls {
                Some(config) => config.clone(),
                None => transport::default_tls_config().map_err(Refusal::Failed)?,
            };
            Some((name, config))
        } else {
            None
        };
        Ok(Approved {
            addrs: ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
            tls,
        })
    }

    /// Turns a refusal into the guest's error code, recording denials for the report.
    fn refuse(&self, refusal: Refusal, method: &http::Method) -> Error {
        let record = |host: String, allowed, reason: String| RequestRecord {
            method: method.as_str().chars().take(32).collect(),
            host,
            status: None,
            bytes_received: 0,
            allowed,
            reason: Some(reason),
        };
        match refusal {
            Refusal::Failed(code) => {
                self.stats
                    .record_request(record(String::new(), true, format!("failed: {code}")));
                code
            }
            Refusal::Denied { host, reason } => {
                self.stats
                    .record_request(record(host.clone(), false, reason.to_string()));
                let code = match reason {
                    DenialReason::Scheme { .. }
                    | DenialReason::HostNotAllowed
                    | DenialReason::SchemeNotAllowed { .. }
                    | DenialReason::PathNotAllowed { .. }
                    | DenialReason::MethodNotAllowed { .. } => Error::HttpRequestDenied,
                    DenialReason::InternalAddress { .. } => Error::DestinationIpProhibited,
                    DenialReason::TooManyRequests { .. } => Error::ConnectionLimitReached,
                };
                self.stats.record_denial(Denial { host, reason });
                code
            }
        }
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

/// The request's `Content-Length`, if it has a readable one (wasi-http checks that the body
/// written matches it).
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
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
