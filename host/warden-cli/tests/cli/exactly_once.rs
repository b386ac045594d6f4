//! Exactly-once tool effects across crashes: a scripted run whose `http` tool (declared
//! idempotent) posts two lines to a ledger on loopback, which appends each new
//! `Idempotency-Key`'s line to a file (as a payments-style API deduplicates). The `warden
//! run` process is killed with SIGKILL at every crash point in turn, resumed, and each
//! line must be in the file exactly once, with the answer of an uninterrupted run.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use mock_llm::Turn;

use crate::support::{Fixture, assert_code, text};

#[derive(Clone)]
struct Ledger {
    file: PathBuf,
    seen: Arc<Mutex<HashSet<String>>>,
    requests: Arc<Mutex<Vec<Option<String>>>>,
}

async fn post(State(ledger): State<Ledger>, headers: HeaderMap, body: String) -> &'static str {
    let key = (headers.get("idempotency-key")).and_then(|v| v.to_str().ok().map(String::from));
    ledger.requests.lock().unwrap().push(key.clone());
    let fresh = match &key {
        Some(key) => ledger.seen.lock().unwrap().insert(key.clone()),
        None => true,
    };
    if fresh {
        let mut file = (std::fs::OpenOptions::new().append(true).create(true))
            .open(&ledger.file)
            .unwrap();
        writeln!(file, "{body}").unwrap();
    }
    "recorded"
}

/// A ledger on a loopback port: (address, ledger).
async fn ledger(file: PathBuf) -> (String, Ledger) {
    let ledger = Ledger {
        file,
        seen: Arc::default(),
        requests: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/ledger", axum::routing::post(post))
        .with_state(ledger.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, ledger)
}

fn script(addr: &str) -> Vec<Turn> {
    let call =
        |line: &str| format!(r#"{{"url":"http://{addr}/ledger","method":"POST","body":"{line}"}}"#);
    vec![
        Turn::call("http_fetch", call("line one")),
        Turn::call("http_fetch", call("line two")),
        Turn::text("both lines recorded"),
    ]
}

fn agent(fx: &Fixture, addr: &str) -> PathBuf {
    fx.agent(&format!(
        "{}[[tools]]\ncomponent = \"builtin:http\"\nidempotent = true\n\
         policy = {{ defaults = {{ egress = {{ allowed_hosts = [{{ host = \"{addr}\", allow_private = true }}] }} }} }}\n",
        fx.openai()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_effect_happens_once_whatever_the_crash_point() {
    let points = [
        None,
        Some("before_tool:1"),
        Some("after_tool:1"),
        Some("before_tool:2"),
        Some("after_tool:2"),
        Some("after_checkpoint:1"),
        Some("after_checkpoint:2"),
        Some("after_checkpoint:3"),
        Some("after_checkpoint:4"),
        Some("after_checkpoint:5"),
    ];
    let mut uninterrupted = None;
    for point in points {
        let dir = tempfile::tempdir().unwrap();
        let (addr, ledger) = ledger(dir.path().join("ledger.txt")).await;
        let fx = Fixture::new(script(&addr)).await;
        let agent = agent(&fx, &addr);
        let mut cmd = fx.command(&["run", agent.to_str().unwrap(), "record both lines"]);
        let answer = match point {
            None => {
                let out = cmd.output().await.unwrap();
                assert_code(&out, 0);
                text(&out.stdout)
            }
            Some(point) => {
                let killed = cmd.env("WARDEN_FAILPOINT", point).output().await.unwrap();
                assert_eq!(
                    killed.status.signal(),
                    Some(9),
                    "{point}: {}",
                    text(&killed.stderr)
                );
                let resumed = fx.run(&["runs", "resume", "last"]).await;
                assert_code(&resumed, 0);
                text(&resumed.stdout)
            }
        };
        let expected = uninterrupted.get_or_insert_with(|| answer.clone());
        assert_eq!(&answer, expected, "{point:?}");
        let lines = std::fs::read_to_string(dir.path().join("ledger.txt")).unwrap();
        assert_eq!(lines, "line one\nline two\n", "{point:?}");
        let keys = ledger.requests.lock().unwrap().clone();
        assert!(
            keys.iter().all(Option::is_some),
            "{point:?}: every request had a key: {keys:?}"
        );
    }
}
