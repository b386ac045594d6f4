//! The API key never appears in logs, traces, errors or debug output, even when the
//! provider quotes it back.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use mock_llm::{Behaviour, Fault, MockConfig, MockServer, Turn};
use warden_e2e::llm::{KEY, KINDS, provider, request};
use warden_llm::{ApiKey, Notices, collect_stream, connect};

const WRONG: &str = "sk-wrong-key-5555-secret";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_key_is_in_no_log_error_or_debug_output() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread test runtime: every task (hyper's too) logs through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut seen = String::new();
    for kind in KINDS {
        let mock = MockServer::start(MockConfig {
            behaviour: Behaviour::Script {
                turns: vec![Turn::text("fine")],
            },
            api_key: Some(KEY.into()),
            record_requests: false,
            faults: vec![
                "status:500".parse::<Fault>().unwrap(),
                "status:503".parse::<Fault>().unwrap(),
            ],
        })
        .await
        .unwrap();
        let mut cfg = provider(kind, &mock);
        seen.push_str(&format!("{cfg:?}"));
        // Two retried server errors (logged with their cause), then success.
        let model = connect(&cfg).unwrap();
        let ok = model
            .complete(&request("hi"), &Notices::none())
            .await
            .unwrap();
        seen.push_str(&format!("{ok:?}"));
        // A wrong key, which the mock quotes back in full in its 401 body.
        cfg.api_key = Some(ApiKey::new(WRONG));
        seen.push_str(&format!("{cfg:?}"));
        let model = connect(&cfg).unwrap();
        let err = model
            .complete(&request("hi"), &Notices::none())
            .await
            .unwrap_err();
        seen.push_str(&format!("{err} {err:?}"));
        let err = collect_stream(
            model
                .stream(&request("hi"), &Notices::none())
                .await
                .map_err(|e| {
                    seen.push_str(&format!("{e} {e:?}"));
                    e
                })
                .unwrap_or_else(|_| Box::pin(futures::stream::empty())),
            "m",
        )
        .await
        .unwrap_err();
        seen.push_str(&format!("{err:?}"));
    }
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the capture works: {logs}");
    assert!(seen.contains("401 from"), "{seen}");
    for key in [KEY, WRONG] {
        assert!(!logs.contains(key), "key in logs");
        assert!(!seen.contains(key), "key in errors or debug output: {seen}");
    }
    assert!(!format!("{:?} {}", ApiKey::new(KEY), ApiKey::new(KEY)).contains(KEY));
}
