//! A hostile model server for the LLM tests: raw HTTP/1.1 on loopback that answers each
//! request with a scripted reply (a status and headers, then a body that may be endless,
//! silent, or paced), and counts the bytes it managed to send before the client left.
//!
//! Invariant: it listens on 127.0.0.1 only, and every body it sends stops at its `max`, so
//! a client that never stops reading still ends the test rather than the machine's memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What follows the headers.
#[derive(Debug, Clone)]
pub enum Body {
    /// Exactly these bytes (with a `Content-Length`).
    Fixed(Vec<u8>),
    /// `prefix`, then `chunk` again and again until the client leaves or `max` bytes went,
    /// one `chunk` every `every` (as fast as possible when zero); delimited by the close.
    Repeat {
        prefix: Vec<u8>,
        chunk: Vec<u8>,
        every: Duration,
        max: u64,
    },
    /// Nothing: the connection stays open and silent until the client leaves.
    Silent,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Extra header lines, e.g. `("retry-after", "1e20")`.
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Reply {
    /// A reply with no extra headers.
    pub fn new(status: u16, body: Body) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A JSON body of exactly these bytes.
    pub fn json(status: u16, json: &str) -> Self {
        Reply::new(status, Body::Fixed(json.as_bytes().to_vec()))
            .header("content-type", "application/json")
    }
}

/// A running hostile server; stops when dropped.
pub struct HostileServer {
    addr: std::net::SocketAddr,
    sent: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl HostileServer {
    /// Serves `replies` in order, one per request; the last one answers every later request.
    pub async fn start(replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty(), "a hostile server needs a reply");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the hostile server");
        let addr = listener.local_addr().expect("the bound address");
        let sent = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (s, r) = (sent.clone(), requests.clone());
        let replies = Arc::new(replies);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let n = r.fetch_add(1, Ordering::SeqCst) as usize;
                let reply = replies[n.min(replies.len() - 1)].clone();
                tokio::spawn(serve(conn, reply, s.clone()));
            }
        });
        HostileServer {
            addr,
            sent,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:port` (append `/v1` for an OpenAI base URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Body bytes written so far, over all requests.
    pub fn body_bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Connections accepted (one request each: every reply closes its connection).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request (headers and a `Content-Length` body), then writes `reply`.
async fn serve(mut conn: TcpStream, reply: Reply, sent: Arc<AtomicU64>) {
    if read_request(&mut conn).await.is_none() {
        return;
    }
    let mut head = format!("HTTP/1.1 {} Hostile\r\nconnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Body::Fixed(bytes) = &reply.body {
        head.push_str(&format!("content-length: {}\r\n", bytes.len()));
    }
    head.push_str("\r\n");
    if conn.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    match reply.body {
        Body::Fixed(bytes) => {
            if conn.write_all(&bytes).await.is_ok() {
                sent.fetch_add(bytes.len() as u64, Ordering::SeqCst);
            }
        }
        Body::Repeat {
            prefix,
            chunk,
            every,
            max,
        } => {
            let mut total = 0u64;
            let mut next: &[u8] = &prefix;
            while total < max && conn.write_all(next).await.is_ok() {
                total += next.len() as u64;
                sent.fetch_add(next.len() as u64, Ordering::SeqCst);
                next = &chunk;
                if !every.is_zero() {
                    tokio::time::sleep(every).await;
                }
            }
        }
        Body::Silent => {
            // Wait for the client to leave (EOF or error), sending nothing.
            let mut buf = [0u8; 1024];
            while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    }
    let _ = conn.shutdown().await;
}

/// The request's bytes are not needed, only consumed: `None` if it never completes.
async fn read_request(conn: &mut TcpStream) -> Option<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        have += n;
    }
    Some(())
}
