//! A pack's network rules and secret, end to end: the real `http_fetch` guest, installed as a
//! signed pack whose grant keeps the secret in a 0600 file, calls a loopback server. The
//! allowed path works and the server gets the secret in the header; another path or method is
//! denied before connecting; the guest's output and the call's usage never hold the secret.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use warden_pack::{
    Dirs, GrantInput, Mode, Narrowing, PackFiles, Preapproved, SecretSource, Store, sha256_hex,
};
use warden_sandbox::Executor;

const SECRET: &str = "sk-pack-secret-4242";

/// A loopback HTTP/1.1 server answering every request with its Authorization header echoed in
/// the body; it records the request heads it received.
async fn echo_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let auth = head
                .lines()
                .find_map(|l| l.strip_prefix("authorization: "))
                .unwrap_or("")
                .to_string();
            record.lock().unwrap().push(head);
            let body = format!("you sent {auth}");
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_secret_reaches_the_server_only_and_other_routes_are_denied() {
    let (port, seen) = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = Store::new(Dirs::new(root.join("config"), root.join("data")));
    let (key, public, _) = warden_pack::generate(&root.join("author")).unwrap();
    store.trust().add(&public).unwrap();

    let http = std::fs::read(warden::testing::guests::HTTP).unwrap();
    let src = root.join("fetch");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("http.wasm"), &http).unwrap();
    std::fs::write(
        src.join("pack.toml"),
        format!(
            "schema = 1\n[pack]\nname = \"fetch\"\nversion = \"1.0.0\"\ndescription = \"Fetches\"\nlicense = \"MIT\"\n\
             [[components]]\nfile = \"http.wasm\"\nsha256 = \"{}\"\ntools = [\"http_fetch\"]\n\
             [[capabilities.network]]\nscheme = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\npath_prefix = \"/v1/\"\nmethods = [\"GET\"]\nreason = \"the API\"\n\
             [capabilities.secrets.api_key]\nhosts = [\"127.0.0.1\"]\nheader = \"Authorization\"\ntemplate = \"Bearer {{}}\"\nreason = \"the API needs a key\"\n",
            sha256_hex(&http)
        ),
    )
    .unwrap();
    let mut files = PackFiles::from_dir(&src, 64 << 20).unwrap();
    files.signature = Some(
        warden_pack::SecretKey::read(&key)
            .unwrap()
            .sign(&files.manifest)
            .unwrap(),
    );

    let secret_file = root.join("api.key");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let grants = GrantInput {
        private_hosts: vec!["127.0.0.1".into()],
        secrets: [(
            "api_key".to_string(),
            SecretSource::File(secret_file.clone()),
        )]
        .into(),
        ..GrantInput::default()
    };
    let exec = Executor::new(warden_e2e::sandbox::config_with(
        root.join("cache"),
        root.join("state"),
    ))
    .unwrap();
    store
        .install(files, Mode::Install, &mut Preapproved(grants), &exec)
        .await
        .unwrap();
    let grant_text = std::fs::read_to_string(root.join("config/grants/fetch.toml")).unwrap();
    assert!(
        !grant_text.contains(SECRET),
        "the grant holds a reference, not the value"
    );

    let loaded = store.load("fetch@^1").unwrap();
    let policy = loaded.policy(&Narrowing::default()).unwrap();
    assert!(
        !format!("{policy:?}").contains(SECRET),
        "a policy's Debug never shows the secret"
    );
    let set = exec
        .load_bytes(&loaded.files.components["http.wasm"])
        .await
        .unwrap();
    let call = |path: &str, method: &str| {
        format!(r#"{{"url": "http://127.0.0.1:{port}{path}", "method": "{method}", "body": null}}"#)
    };

    let ok = exec
        .call(&set, "http_fetch", &call("/v1/forecast", "GET"), &policy)
        .await;
    let output = ok.result.clone().unwrap();
    assert!(output.contains("you sent Bearer [REDACTED]"), "{output}");
    assert!(!output.contains(SECRET));
    assert!(!serde_json::to_string(&ok.usage).unwrap().contains(SECRET));
    assert!(seen.lock().unwrap()[0].contains(&format!("authorization: Bearer {SECRET}")));
    let log = &ok.usage.http_log;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].method.as_str(), log[0].status, log[0].allowed),
        ("GET", Some(200), true)
    );
    assert_eq!(log[0].host, format!("127.0.0.1:{port}"));
    assert!(log[0].bytes_received > 0);

    for (path, method) in [
        ("/admin", "GET"),
        ("/v1/../admin", "GET"),
        ("/v1/forecast", "POST"),
    ] {
        let denied = exec
            .call(&set, "http_fetch", &call(path, method), &policy)
            .await;
        let text = format!("{:?}", denied.result);
        assert!(
            text.contains("denied") || text.contains("refused"),
            "{path} {method}: {text}"
        );
        assert_eq!(denied.usage.http_denied, 1, "{path} {method}");
        let record = &denied.usage.http_log[0];
        assert!(!record.allowed && record.status.is_none(), "{record:?}");
        assert!(
            record
                .reason
                .as_deref()
                .unwrap()
                .contains("no rule for this host"),
            "{record:?}"
        );
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "no denied request reached the server"
    );
}
