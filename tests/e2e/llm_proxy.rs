//! The start-up probe of the model's base URL goes the way the model's requests go:
//! through `HTTP_PROXY` / `HTTPS_PROXY`, or direct when `NO_PROXY` matches the host.
//!
//! Proxy variables are process-global and read when the shared HTTP client is built, so
//! each probe runs in a child process (this test binary, running the ignored
//! `probe_child`) with exactly the variables the case sets. Only loopback listeners owned
//! by the test are contacted: a proxied base URL names a host that resolves nowhere
//! (`model.invalid`), which the client hands to the proxy without resolving it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Every variable that can route the client through a proxy (or stop it doing so).
const PROXY_VARS: [&str; 9] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    // Set, it makes the client ignore HTTP_PROXY (the CGI rule).
    "REQUEST_METHOD",
];

/// The base URL the child probes.
const URL_VAR: &str = "WARDEN_E2E_PROBE_URL";

/// What one child reports on stdout.
const RESULT_PREFIX: &str = "PROBE-RESULT: ";

/// A loopback listener recording the request head of each connection. A `CONNECT` is
/// refused (403): no tunnel is ever opened; any other request is answered 204.
struct Recorder {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let head = read_head(&mut socket).await;
                    let answer: &[u8] = if head.starts_with("CONNECT ") {
                        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"
                    } else {
                        b"HTTP/1.1 204 No Content\r\n\r\n"
                    };
                    seen.lock().unwrap().push(head);
                    let _ = socket.write_all(answer).await;
                });
            }
        });
        Recorder { addr, heads, task }
    }

    /// The first line of each request received.
    fn request_lines(&self) -> Vec<String> {
        let heads = self.heads.lock().unwrap();
        heads
            .iter()
            .map(|h| h.lines().next().unwrap_or("").to_string())
            .collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The request head (up to the blank line, at most 8 KiB, within 10 s).
async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&head).into_owned()
}

/// Probes `base_url` in a child process whose only proxy variables are `vars`; returns
/// what the child reported (`ok`, or `err` and the setup error).
async fn probe_in_child(base_url: &str, vars: &[(&str, String)]) -> String {
    let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "llm_proxy::probe_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.env(URL_VAR, base_url).envs(vars.iter().cloned());
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the child probe did not finish")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once(RESULT_PREFIX).map(|(_, result)| result))
        .unwrap_or_else(|| {
            panic!(
                "no result from the child:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string()
}

/// Run by `probe_in_child` only: starts an agent whose model is at `$WARDEN_E2E_PROBE_URL`
/// (which probes it) and prints the outcome.
#[tokio::test]
#[ignore = "run in a child process by the proxy tests"]
async fn probe_child() {
    let url = std::env::var(URL_VAR).unwrap();
    let text = format!(
        "name = \"probe\"\n[model]\nprovider = \"openai-compatible\"\nname = \"m\"\n\
         base_url = \"{url}\"\ntimeouts = {{ connect_ms = 5000 }}\n"
    );
    let def = warden::AgentDef::from_toml_str(&text, "probe.toml").unwrap();
    let executor = warden_e2e::sandbox::executor().clone();
    match warden::Runner::from_def_with(&def, executor).await {
        Ok(_) => println!("\n{RESULT_PREFIX}ok"),
        Err(e) => println!("\n{RESULT_PREFIX}err {e}"),
    }
}

#[tokio::test]
async fn an_http_base_url_is_probed_through_http_proxy() {
    let proxy = Recorder::start().await;
    let vars = [("HTTP_PROXY", format!("http://{}", proxy.addr))];
    let result = probe_in_child("http://model.invalid/v1", &vars).await;
    assert_eq!(result, "ok", "the proxy's answer counts as reachable");
    assert_eq!(
        proxy.request_lines(),
        ["HEAD http://model.invalid/v1 HTTP/1.1"]
    );
}

#[tokio::test]
async fn an_https_base_url_is_probed_through_a_connect_to_https_proxy() {
    let proxy = Recorder::start().await;
    let vars = [("HTTPS_PROXY", format!("http://{}", proxy.addr))];
    let result = probe_in_child("https://model.invalid/v1", &vars).await;
    assert_eq!(
        proxy.request_lines(),
        ["CONNECT model.invalid:443 HTTP/1.1"]
    );
    // The proxy refused the tunnel: the agent does not start, naming the base URL.
    assert!(result.starts_with("err "), "{result}");
    assert!(result.contains("`model.base_url`"), "{result}");
}

#[tokio::test]
async fn no_proxy_matching_the_host_makes_the_probe_go_direct() {
    let proxy = Recorder::start().await;
    let direct = Recorder::start().await;
    let url = format!("http://{}/v1", direct.addr);
    let via_proxy = [("HTTP_PROXY", format!("http://{}", proxy.addr))];
    assert_eq!(probe_in_child(&url, &via_proxy).await, "ok");
    assert_eq!(proxy.request_lines(), [format!("HEAD {url} HTTP/1.1")]);
    assert!(direct.request_lines().is_empty());

    let bypass = [via_proxy[0].clone(), ("NO_PROXY", "127.0.0.1".to_string())];
    assert_eq!(probe_in_child(&url, &bypass).await, "ok");
    assert_eq!(direct.request_lines(), ["HEAD /v1 HTTP/1.1"]);
    assert_eq!(
        proxy.request_lines().len(),
        1,
        "the proxy saw a second probe"
    );
}
