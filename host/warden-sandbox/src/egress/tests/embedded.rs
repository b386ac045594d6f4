//! IPv6 addresses that carry an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64) are judged by
//! the IPv4 address they carry, on both paths to an address: a name's resolution and an IP
//! literal in the URL. Nothing here connects anywhere but the loopback test server, and the
//! tests prove that no request reached even that. Each test first asserts the refusal it
//! relies on at the classifier or policy, so a regression fails there before any socket.

use super::*;

/// Addresses that carry 127.0.0.1, 10.0.0.1 or 169.254.169.254 in each embedding form.
const CARRYING_INTERNAL_V4: [&str; 6] = [
    "::ffff:127.0.0.1",
    "2002:7f00:1::",
    "64:ff9b::a00:1",
    "2002:a9fe:a9fe::1",
    // Teredo, server 8.8.8.8, client 127.0.0.1.
    "2001:0:808:808:0:0:80ff:fffe",
    // Teredo, server 10.0.0.1, client 8.8.8.8.
    "2001:0:a00:1:0:0:f7f7:f7f7",
];

#[tokio::test]
async fn a_name_resolving_to_an_embedded_internal_v4_is_refused_before_connecting() {
    let server = TestServer::start().await;
    let rule = format!("svc.test:{}", server.port());
    let url = format!("http://svc.test:{}/hello", server.port());
    for carried in CARRYING_INTERNAL_V4 {
        assert!(is_internal(ip(carried)), "{carried}");
        let resolver = Arc::new(StaticResolver::new().with("svc.test", [ip(carried)]));
        let mut hooks = hooks(policy(&[(&rule, false)]), resolver.clone());
        let err = send(&mut hooks, get(&url), None).await.unwrap_err();
        assert!(
            matches!(err, Error::DestinationIpProhibited),
            "{carried}: {err:?}"
        );
        assert_eq!(resolver.lookups(), 1, "{carried}");
        let report = hooks.stats().report();
        assert_eq!((report.requests_sent, report.requests_denied), (0, 1));
        assert_eq!(
            report.denials[0].reason,
            DenialReason::InternalAddress { ip: ip(carried) },
            "{carried}"
        );
    }
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn an_embedded_internal_v4_literal_allowed_without_allow_private_is_refused() {
    // A rule written in code for the literal itself (the TOML form refuses such a rule).
    let server = TestServer::start().await;
    for carried in CARRYING_INTERNAL_V4 {
        assert!(is_internal(ip(carried)), "{carried}");
        let rule = format!("[{carried}]:{}", server.port());
        let mut hooks = hooks(policy(&[(&rule, false)]), Arc::new(StaticResolver::new()));
        let url = format!("http://[{carried}]:{}/hello", server.port());
        let err = send(&mut hooks, get(&url), None).await.unwrap_err();
        assert!(
            matches!(err, Error::DestinationIpProhibited),
            "{carried}: {err:?}"
        );
    }
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn an_allowed_loopback_rule_does_not_extend_to_forms_routed_elsewhere() {
    // `[::ffff:127.0.0.1]` is 127.0.0.1 itself and matches the rule; 6to4, NAT64 and Teredo
    // forms go to a relay or translator, so they are other hosts, not in the allow-list.
    let server = TestServer::start().await;
    let rule = format!("127.0.0.1:{}", server.port());
    let p = policy(&[(&rule, true)]);
    let port = server.port();
    assert_eq!(
        p.lookup(&RequestHost::parse("[::ffff:127.0.0.1]"), port, 80),
        Some(true)
    );
    for other in [
        "2002:7f00:1::",
        "64:ff9b::7f00:1",
        "2001:0:808:808:0:0:80ff:fffe",
    ] {
        let mut hooks = hooks(p.clone(), Arc::new(StaticResolver::new()));
        let url = format!("http://[{other}]:{port}/hello");
        let err = send(&mut hooks, get(&url), None).await.unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{other}: {err:?}");
    }
    assert_eq!(server.accepts(), 0);
}

#[test]
fn a_policy_file_refuses_an_embedded_internal_v4_rule_without_allow_private() {
    for carried in CARRYING_INTERNAL_V4 {
        let text = format!("allowed_hosts = [\"[{carried}]:8080\"]");
        let err = EgressPolicy::from_toml(&text).unwrap_err();
        assert!(
            err.to_string().contains("allow_private"),
            "{carried}: {err}"
        );
        let allowed =
            format!("allowed_hosts = [{{ host = \"[{carried}]:8080\", allow_private = true }}]");
        assert!(EgressPolicy::from_toml(&allowed).is_ok(), "{carried}");
    }
    // The same forms around a public IPv4 address are ordinary public hosts.
    for public in [
        "2002:808:808::1",
        "64:ff9b::808:808",
        "2001:0:808:808:0:0:fefe:fefe",
    ] {
        let text = format!("allowed_hosts = [\"[{public}]:8080\"]");
        assert!(EgressPolicy::from_toml(&text).is_ok(), "{public}");
    }
}
