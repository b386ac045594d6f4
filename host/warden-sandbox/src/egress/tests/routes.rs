//! Rules narrowed to a scheme, path prefix and methods, and host-side secrets, against the
//! loopback test server: what does not fit is denied before any connection, and a secret
//! reaches the server but never the guest.

use super::*;

/// A policy allowing GET under `/v1/` on the server's port only, with a secret for it.
fn narrow_policy(port: u16) -> EgressPolicy {
    let rule = HostRule::parse(&format!("127.0.0.1:{port}"))
        .unwrap()
        .allow_private(true)
        .scheme("http")
        .unwrap()
        .path_prefix("/v1/")
        .unwrap()
        .methods(&["GET"])
        .unwrap();
    let secret = SecretHeader::new(
        &["127.0.0.1"],
        "Authorization",
        "Bearer {}",
        "sk-live-0123456789",
    )
    .unwrap();
    EgressPolicy::default().allow(rule).with_secret(secret)
}

#[tokio::test]
async fn only_the_allowed_scheme_path_and_method_connect() {
    let server = TestServer::start().await;
    let port = server.port();
    let mut hooks = hooks(narrow_policy(port), Arc::new(StaticResolver::new()));
    let ok = send(
        &mut hooks,
        get(&format!("http://127.0.0.1:{port}/v1/echo-auth")),
        None,
    )
    .await;
    assert_eq!(ok.unwrap().status(), 200);
    assert_eq!(server.accepts(), 1);

    let post = http::Request::post(format!("http://127.0.0.1:{port}/v1/echo-auth"))
        .body(full(b"x"))
        .unwrap();
    let denied = [
        (get(&format!("http://127.0.0.1:{port}/admin")), "path"),
        (get(&format!("http://127.0.0.1:{port}/v1/../admin")), "path"),
        (
            get(&format!("http://127.0.0.1:{port}/v1/%2e%2e/admin")),
            "path",
        ),
        (post, "method"),
        (
            get(&format!("http://127.0.0.1:{}/v1/x", port.wrapping_add(1))),
            "host",
        ),
    ];
    for (request, why) in denied {
        let err = send(&mut hooks, request, None).await.unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{why}: {err:?}");
    }
    assert_eq!(server.accepts(), 1, "no denied request connected");
    let reasons: Vec<String> = hooks
        .stats()
        .report()
        .denials
        .iter()
        .map(|d| d.reason.to_string())
        .collect();
    assert!(
        reasons[0].contains("allows the path \"/admin\""),
        "{reasons:?}"
    );
    assert!(reasons[3].contains("allows method POST"), "{reasons:?}");
    assert!(reasons[4].contains("not in the allow-list"), "{reasons:?}");
}

#[tokio::test]
async fn secret_reaches_the_server_and_is_redacted_from_what_the_guest_reads() {
    let server = TestServer::start().await;
    let port = server.port();
    let mut hooks = hooks(narrow_policy(port), Arc::new(StaticResolver::new()));
    // The guest tries to set its own Authorization: the host's replaces it.
    let request = http::Request::get(format!("http://127.0.0.1:{port}/v1/echo-auth"))
        .header("authorization", "Bearer guest-chosen")
        .body(full(b""))
        .unwrap();
    let response = send(&mut hooks, request, None).await.unwrap();
    assert_eq!(
        server.seen()[0].authorization.as_deref(),
        Some("Bearer sk-live-0123456789")
    );
    assert_eq!(response.headers()["x-echo"], REDACTED);
    let body = body_of(response).await.unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(body, format!("you sent: Bearer {REDACTED}."));
}

#[tokio::test]
async fn secret_is_not_sent_to_other_hosts_and_guest_copies_are_removed() {
    let server = TestServer::start().await;
    let port = server.port();
    // `localhost` resolves (through the test resolver) to the same server, but the secret
    // is for 127.0.0.1 only.
    let rule = HostRule::parse(&format!("localhost:{port}"))
        .unwrap()
        .allow_private(true);
    let secret = SecretHeader::new(&["127.0.0.1"], "Authorization", "{}", "sk-live-0123456789");
    let policy = EgressPolicy::default()
        .allow(rule)
        .with_secret(secret.unwrap());
    let resolver = StaticResolver::new().with("localhost", vec![ip("127.0.0.1")]);
    let mut hooks = hooks(policy, Arc::new(resolver));
    let request = http::Request::get(format!("http://localhost:{port}/hello"))
        .header("authorization", "guest-forged")
        .body(full(b""))
        .unwrap();
    send(&mut hooks, request, None).await.unwrap();
    assert_eq!(server.seen()[0].authorization, None);
}
