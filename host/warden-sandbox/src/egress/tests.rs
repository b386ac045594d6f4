//! `send_request` driven directly, as wasi-http would, against a loopback server. Internal
//! addresses other than 127.0.0.1 only ever appear in a [`StaticResolver`] map: the tests prove
//! the request is refused before any socket exists.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod embedded;
mod limits;
mod routes;
mod server;

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::*;
use server::TestServer;

/// Guards against a hang if a limit were not enforced (never an assertion on speed).
const HANG_GUARD: Duration = Duration::from_secs(20);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn full(bytes: &'static [u8]) -> WasiBody {
    Full::new(Bytes::from_static(bytes))
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn get(url: &str) -> http::Request<WasiBody> {
    http::Request::get(url).body(full(b"")).unwrap()
}

/// A policy that allows exactly `rules` (each `(entry, allow_private)`) with other limits given.
fn policy(rules: &[(&str, bool)]) -> EgressPolicy {
    rules
        .iter()
        .fold(EgressPolicy::default(), |p, (entry, private)| {
            p.allow(HostRule::parse(entry).unwrap().allow_private(*private))
        })
}

fn hooks(policy: EgressPolicy, resolver: Arc<dyn Resolver>) -> EgressHooks {
    EgressHooks::new(Arc::new(policy), resolver)
}

/// Calls the hook as wasi-http does and spawns the connection driver.
async fn send(
    hooks: &mut EgressHooks,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<http::Response<WasiBody>, Error> {
    let future = hooks.send_request(request, options, Box::new(async { Ok(()) }));
    let (response, driver) = tokio::time::timeout(HANG_GUARD, Pin::from(future))
        .await
        .unwrap()?;
    tokio::spawn(Pin::from(driver));
    Ok(response)
}

async fn body_of(response: http::Response<WasiBody>) -> Result<Bytes, Error> {
    let collect = response.into_body().collect();
    let collected = tokio::time::timeout(HANG_GUARD, collect).await.unwrap()?;
    Ok(collected.to_bytes())
}

#[tokio::test]
async fn allowed_loopback_host_round_trips_status_headers_and_body() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), Arc::new(StaticResolver::new()));
    let url = format!("http://127.0.0.1:{}/hello", server.port());
    let response = send(&mut hooks, get(&url), None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-test"], "round-trip");
    assert_eq!(&body_of(response).await.unwrap()[..], b"hello world");
    let report = hooks.stats().report();
    assert_eq!(report.requests_sent, 1);
    assert_eq!(report.requests_denied, 0);
    assert_eq!(report.bytes_received, 11);
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn host_not_in_allow_list_is_denied_without_lookup_or_connection() {
    let server = TestServer::start().await;
    let resolver = Arc::new(StaticResolver::new().with("evil.example", [ip("127.0.0.1")]));
    let rule = format!("127.0.0.1:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), resolver.clone());
    let url = format!("http://evil.example:{}/hello", server.port());
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert_eq!(resolver.lookups(), 0);
    assert_eq!(server.accepts(), 0);
    let report = hooks.stats().report();
    assert_eq!((report.requests_sent, report.requests_denied), (0, 1));
    assert_eq!(
        report.denials[0].to_string(),
        format!(
            "HTTP to evil.example:{} was denied: host not in the allow-list; \
             ask the operator to add it to allowed_hosts",
            server.port()
        )
    );
}

#[tokio::test]
async fn names_resolving_to_internal_addresses_are_prohibited_before_connecting() {
    let server = TestServer::start().await;
    let rule = format!("svc.test:{}", server.port());
    let url = format!("http://svc.test:{}/hello", server.port());
    for internal in [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "::ffff:192.168.1.1",
    ] {
        let resolver = Arc::new(StaticResolver::new().with("svc.test", [ip(internal)]));
        let mut hooks = hooks(policy(&[(&rule, false)]), resolver.clone());
        let err = send(&mut hooks, get(&url), None).await.unwrap_err();
        assert!(
            matches!(err, Error::DestinationIpProhibited),
            "{internal}: {err:?}"
        );
        assert_eq!(resolver.lookups(), 1, "{internal}");
        let denial = &hooks.stats().report().denials[0];
        assert_eq!(
            denial.reason,
            DenialReason::InternalAddress { ip: ip(internal) },
            "{internal}"
        );
    }
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn one_internal_address_among_several_is_enough_to_prohibit() {
    let server = TestServer::start().await;
    // Loopback first: if only the last address were checked, the server would see a connection.
    let resolver =
        Arc::new(StaticResolver::new().with("mixed.test", [ip("127.0.0.1"), ip("203.0.113.9")]));
    let rule = format!("mixed.test:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, false)]), resolver);
    let url = format!("http://mixed.test:{}/hello", server.port());
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::DestinationIpProhibited), "{err:?}");
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn decimal_and_short_ip_forms_are_caught_after_resolution() {
    let server = TestServer::start().await;
    let port = server.port();
    for host in ["127.1", "2130706433"] {
        let rule = format!("{host}:{port}");
        let mut hooks = hooks(policy(&[(&rule, false)]), Arc::new(SystemResolver));
        let url = format!("http://{host}:{port}/hello");
        let err = send(&mut hooks, get(&url), None).await.unwrap_err();
        assert!(
            matches!(err, Error::DestinationIpProhibited),
            "{host}: {err:?}"
        );
    }
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn wildcard_rule_allows_subdomains_but_not_the_bare_domain() {
    let server = TestServer::start().await;
    let loopback = [ip("127.0.0.1")];
    let resolver = Arc::new(
        StaticResolver::new()
            .with("api.svc.test", loopback)
            .with("svc.test", loopback),
    );
    let rule = format!("*.svc.test:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), resolver);
    let ok = format!("http://API.svc.test.:{}/hello", server.port());
    assert_eq!(
        send(&mut hooks, get(&ok), None).await.unwrap().status(),
        200
    );
    let bare = format!("http://svc.test:{}/hello", server.port());
    let err = send(&mut hooks, get(&bare), None).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn redirect_is_returned_to_the_guest_not_followed() {
    let server = TestServer::start().await;
    let resolver = Arc::new(StaticResolver::new().with("evil.example", [ip("127.0.0.1")]));
    let rule = format!("127.0.0.1:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), resolver.clone());
    let url = format!("http://127.0.0.1:{}/redirect", server.port());
    let response = send(&mut hooks, get(&url), None).await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "http://evil.example/stolen");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/redirect");
    assert_eq!(resolver.lookups(), 0);
}

#[tokio::test]
async fn trickling_body_is_cut_at_the_total_deadline() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let mut p = policy(&[(&rule, true)]);
    p.total_timeout = Duration::from_millis(300);
    let mut hooks = hooks(p, Arc::new(StaticResolver::new()));
    let url = format!("http://127.0.0.1:{}/trickle", server.port());
    let response = send(&mut hooks, get(&url), None).await.unwrap();
    assert_eq!(response.status(), 200);
    let err = body_of(response).await.unwrap_err();
    assert!(matches!(err, Error::HttpResponseTimeout), "{err:?}");
}

#[tokio::test]
async fn oversize_body_is_cut_with_body_size_error() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let mut p = policy(&[(&rule, true)]);
    p.max_response_bytes = 100_000;
    let mut hooks = hooks(p, Arc::new(StaticResolver::new()));
    let url = format!("http://127.0.0.1:{}/big", server.port());
    let response = send(&mut hooks, get(&url), None).await.unwrap();
    let err = body_of(response).await.unwrap_err();
    assert!(
        matches!(err, Error::HttpResponseBodySize(Some(n)) if n > 100_000),
        "{err:?}"
    );
    let received = hooks.stats().report().bytes_received;
    assert!(
        received > 100_000 && received < 2 * 1024 * 1024,
        "{received}"
    );
}

#[tokio::test]
async fn response_head_that_never_comes_times_out() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let url = format!("http://127.0.0.1:{}/hang", server.port());
    let mut p = policy(&[(&rule, true)]);
    p.total_timeout = Duration::from_millis(300);
    let mut hooks = hooks(p, Arc::new(StaticResolver::new()));
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::HttpResponseTimeout), "{err:?}");
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn guest_may_shorten_the_first_byte_timeout() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let url = format!("http://127.0.0.1:{}/hang", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), Arc::new(StaticResolver::new()));
    let options = RequestOptions {
        first_byte_timeout: Some(Duration::from_millis(100)),
        ..RequestOptions::default()
    };
    let err = send(&mut hooks, get(&url), Some(options))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConnectionReadTimeout), "{err:?}");
}

#[tokio::test]
async fn guest_cannot_lengthen_the_timeouts() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let url = format!("http://127.0.0.1:{}/hang", server.port());
    let mut p = policy(&[(&rule, true)]);
    p.total_timeout = Duration::from_millis(300);
    let mut hooks = hooks(p, Arc::new(StaticResolver::new()));
    let long = Some(Duration::from_secs(600));
    let options = RequestOptions {
        connect_timeout: long,
        first_byte_timeout: long,
        between_bytes_timeout: long,
    };
    let err = send(&mut hooks, get(&url), Some(options))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpResponseTimeout), "{err:?}");
}

#[test]
fn effective_timeouts_take_the_shorter_of_policy_and_guest() {
    let policy = EgressPolicy::default();
    let none = Timeouts::effective(&policy, None);
    assert_eq!(none.connect, Duration::from_secs(5));
    assert_eq!(none.total, Duration::from_secs(30));
    assert_eq!((none.first_byte, none.between_bytes), (None, None));
    let options = RequestOptions {
        connect_timeout: Some(Duration::from_secs(1)),
        first_byte_timeout: Some(Duration::from_secs(600)),
        between_bytes_timeout: Some(Duration::from_secs(2)),
    };
    let guest = Timeouts::effective(&policy, Some(&options));
    assert_eq!(guest.connect, Duration::from_secs(1));
    assert_eq!(guest.first_byte, None);
    assert_eq!(guest.between_bytes, Some(Duration::from_secs(2)));
    assert_eq!(guest.total, Duration::from_secs(30));
}

#[tokio::test]
async fn max_requests_per_call_is_enforced() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let mut p = policy(&[(&rule, true)]);
    p.max_requests = 2;
    let mut hooks = hooks(p, Arc::new(StaticResolver::new()));
    let url = format!("http://127.0.0.1:{}/hello", server.port());
    for _ in 0..2 {
        let response = send(&mut hooks, get(&url), None).await.unwrap();
        body_of(response).await.unwrap();
    }
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::ConnectionLimitReached), "{err:?}");
    let report = hooks.stats().report();
    assert_eq!((report.requests_sent, report.requests_denied), (2, 1));
    assert_eq!(
        report.denials[0].reason,
        DenialReason::TooManyRequests { limit: 2 }
    );
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn post_body_reaches_the_server() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), Arc::new(StaticResolver::new()));
    let url = format!("http://127.0.0.1:{}/echo", server.port());
    let request = http::Request::post(url)
        .header("content-length", "4")
        .body(full(b"ping"))
        .unwrap();
    let response = send(&mut hooks, request, None).await.unwrap();
    assert_eq!(&body_of(response).await.unwrap()[..], b"ping");
    let seen = server.seen();
    assert_eq!(seen[0].method, http::Method::POST);
    assert_eq!(&seen[0].body[..], b"ping");
}

/// A request body fed by a channel, like a guest writing its outgoing body.
fn channel_body() -> (futures::channel::mpsc::Sender<Bytes>, WasiBody) {
    let (tx, rx) = futures::channel::mpsc::channel::<Bytes>(1);
    let frames = futures::StreamExt::map(rx, |b| Ok::<_, Error>(Frame::data(b)));
    (tx, StreamBody::new(frames).boxed_unsync())
}

#[tokio::test]
async fn guest_body_stays_writable_for_a_get_and_for_a_denial() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), Arc::new(StaticResolver::new()));

    let (mut tx, body) = channel_body();
    let url = format!("http://127.0.0.1:{}/hello", server.port());
    let request = http::Request::get(url).body(body).unwrap();
    let response = send(&mut hooks, request, None).await.unwrap();
    assert_eq!(response.status(), 200);
    tx.send(Bytes::from_static(b"late write")).await.unwrap();
    assert_eq!(&server.seen()[0].body[..], b"");

    let (mut tx, body) = channel_body();
    let request = http::Request::get("http://evil.example/")
        .body(body)
        .unwrap();
    let err = send(&mut hooks, request, None).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    tx.send(Bytes::from_static(b"late write")).await.unwrap();
}

#[tokio::test]
async fn other_schemes_are_denied_with_a_reason() {
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), Arc::new(StaticResolver::new()));
    assert!(hooks.is_supported_scheme(&"ftp".parse().unwrap()));
    let url = format!("ftp://127.0.0.1:{}/hello", server.port());
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    let denial = &hooks.stats().report().denials[0];
    assert_eq!(
        denial.reason,
        DenialReason::Scheme {
            scheme: "ftp".into()
        }
    );
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn unknown_name_is_a_dns_error() {
    let mut hooks = hooks(
        policy(&[("missing.test", false)]),
        Arc::new(StaticResolver::new()),
    );
    let err = send(&mut hooks, get("http://missing.test/"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DnsError { .. }), "{err:?}");
    assert_eq!(hooks.stats().report().requests_denied, 0);
}

#[tokio::test]
async fn closed_port_is_connection_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let rule = format!("127.0.0.1:{port}");
    let mut hooks = hooks(policy(&[(&rule, true)]), Arc::new(StaticResolver::new()));
    let err = send(&mut hooks, get(&format!("http://127.0.0.1:{port}/")), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused), "{err:?}");
}

fn trusting_test_ca() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(server::TEST_CA))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn https_checks_the_certificate_for_the_name_while_dialling_the_pinned_address() {
    let server = TestServer::start_tls().await;
    let resolver = Arc::new(StaticResolver::new().with("tls.test", [ip("127.0.0.1")]));
    let rule = format!("tls.test:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), resolver).with_tls_config(trusting_test_ca());
    let url = format!("https://tls.test:{}/hello", server.port());
    let response = send(&mut hooks, get(&url), None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(&body_of(response).await.unwrap()[..], b"hello world");
    assert_eq!(server.sni(), vec!["tls.test".to_string()]);
}

#[tokio::test]
async fn https_certificate_for_another_name_is_refused() {
    let server = TestServer::start_tls().await;
    let resolver = Arc::new(StaticResolver::new().with("other.test", [ip("127.0.0.1")]));
    let rule = format!("other.test:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), resolver).with_tls_config(trusting_test_ca());
    let url = format!("https://other.test:{}/hello", server.port());
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::TlsCertificateError), "{err:?}");
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn default_tls_config_does_not_trust_the_test_ca() {
    let server = TestServer::start_tls().await;
    let resolver = Arc::new(StaticResolver::new().with("tls.test", [ip("127.0.0.1")]));
    let rule = format!("tls.test:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), resolver);
    let url = format!("https://tls.test:{}/hello", server.port());
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::TlsCertificateError), "{err:?}");
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_protocol_error() {
    // The loopback server speaks plain HTTP, so the TLS handshake must fail after connecting
    // to the address the resolver gave for the name.
    let server = TestServer::start().await;
    let resolver = Arc::new(StaticResolver::new().with("tls.test", [ip("127.0.0.1")]));
    let rule = format!("tls.test:{}", server.port());
    let mut hooks = hooks(policy(&[(&rule, true)]), resolver);
    let url = format!("https://tls.test:{}/hello", server.port());
    let err = send(&mut hooks, get(&url), None).await.unwrap_err();
    assert!(matches!(err, Error::TlsProtocolError), "{err:?}");
    assert_eq!(server.accepts(), 1);
    assert!(server.seen().is_empty());
}

/// The executor's store data reduced to what wasi-http needs: this is how the hooks are wired.
struct StoreData {
    table: wasmtime::component::ResourceTable,
    http: wasmtime_wasi_http::WasiHttpCtx,
    egress: EgressHooks,
}

impl wasmtime_wasi_http::WasiHttpView for StoreData {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

#[tokio::test]
async fn hooks_in_the_store_view_report_after_the_store_is_gone() {
    use wasmtime_wasi_http::WasiHttpView;
    let mut data = StoreData {
        table: wasmtime::component::ResourceTable::new(),
        http: wasmtime_wasi_http::WasiHttpCtx::new(),
        egress: hooks(EgressPolicy::default(), Arc::new(StaticResolver::new())),
    };
    let stats = data.egress.stats();
    let view = data.http();
    let future = view.hooks.send_request(
        get("http://evil.example/"),
        None,
        Box::new(async { Ok(()) }),
    );
    let err = Pin::from(future).await.err().unwrap();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    drop(data);
    let report = stats.report();
    assert_eq!(report.requests_denied, 1);
    assert_eq!(report.denials[0].host, "evil.example");
    assert_eq!(report.denials[0].reason, DenialReason::HostNotAllowed);
}
