//! Request-body caps at the hook: a declared or streamed body over `max_request_bytes` fails
//! with `HttpRequestBodySize`, records the limit (which ends the call) and never hands the
//! excess to the connection; bytes sent are counted.

use super::*;

/// A POST to the loopback test server's `/echo` route with `limit` as the request cap.
fn upload_hooks(server: &TestServer, limit: u64) -> (EgressHooks, String) {
    let rule = format!("127.0.0.1:{}", server.port());
    let mut policy = policy(&[(&rule, true)]);
    policy.max_request_bytes = limit;
    let hooks = hooks(policy, Arc::new(StaticResolver::new()));
    (hooks, format!("http://127.0.0.1:{}/echo", server.port()))
}

/// `n` chunks of 64 KiB, streamed (no `Content-Length`), as a guest writing its body.
fn streamed(n: usize) -> WasiBody {
    let chunk = Bytes::from(vec![b'u'; 64 * 1024]);
    let frames = futures::stream::iter((0..n).map(move |_| Ok(Frame::data(chunk.clone()))));
    StreamBody::new(frames).boxed_unsync()
}

#[tokio::test]
async fn a_body_within_the_cap_is_sent_and_counted() {
    let server = TestServer::start().await;
    let (mut hooks, url) = upload_hooks(&server, 256 * 1024);
    let request = http::Request::post(url).body(streamed(2)).unwrap();
    let response = send(&mut hooks, request, None).await.unwrap();
    assert_eq!(body_of(response).await.unwrap().len(), 128 * 1024);
    let report = hooks.stats().report();
    assert_eq!(report.bytes_sent, 128 * 1024);
    assert_eq!(report.bytes_received, 128 * 1024);
    assert_eq!(report.limit_hit, None);
    assert_eq!(server.seen()[0].body.len(), 128 * 1024);
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_connecting() {
    let server = TestServer::start().await;
    let (mut hooks, url) = upload_hooks(&server, 1024);
    let request = http::Request::post(url)
        .header("content-length", (1u64 << 30).to_string())
        .body(streamed(1))
        .unwrap();
    let err = send(&mut hooks, request, None).await.unwrap_err();
    assert!(
        matches!(err, Error::HttpRequestBodySize(Some(1024))),
        "{err:?}"
    );
    assert_eq!(server.accepts(), 0);
    let report = hooks.stats().report();
    assert_eq!(
        report.limit_hit,
        Some(EgressLimit::RequestBody { limit: 1024 })
    );
    assert_eq!(report.bytes_sent, 0);
    assert!(hooks.stats().stop_token().is_cancelled());
}

#[tokio::test]
async fn a_streamed_body_over_the_cap_fails_without_sending_the_excess() {
    let server = TestServer::start().await;
    let limit = 100_000;
    let (mut hooks, url) = upload_hooks(&server, limit);
    let request = http::Request::post(url).body(streamed(16)).unwrap();
    let err = send(&mut hooks, request, None).await.unwrap_err();
    assert!(
        matches!(err, Error::HttpRequestBodySize(Some(n)) if n == limit),
        "{err:?}"
    );
    let report = hooks.stats().report();
    assert_eq!(report.limit_hit, Some(EgressLimit::RequestBody { limit }));
    // One 64 KiB chunk fits, the second would not: it is never handed to hyper.
    assert_eq!(report.bytes_sent, 64 * 1024);
    assert!(server.seen().iter().all(|s| s.body.len() as u64 <= limit));
}

#[tokio::test]
async fn a_guest_write_is_no_larger_than_the_cap() {
    let server = TestServer::start().await;
    let (mut small, _) = upload_hooks(&server, 4096);
    assert_eq!(small.p2_outgoing_body_chunk_size(), 4096);
    let (mut large, _) = upload_hooks(&server, 1 << 30);
    // Never wasmtime's 1 MiB default: an unsent body holds two chunks of host memory.
    assert_eq!(large.p2_outgoing_body_chunk_size(), 64 << 10);
}
