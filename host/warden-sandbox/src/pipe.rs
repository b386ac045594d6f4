//! [`CappedPipe`]: captured guest stdout/stderr that keeps the first `cap` bytes and drops the
//! rest silently. wasmtime's `MemoryOutputPipe` fails writes past its capacity, which makes
//! Rust's `print!` panic in the guest; a tool flooding stdout should not crash for that.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A shared, capped in-memory sink; clones write to the same buffer.
#[derive(Clone, Debug)]
pub(crate) struct CappedPipe {
    cap: usize,
    inner: Arc<Mutex<Captured>>,
}

#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: u64,
}

impl CappedPipe {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            inner: Arc::new(Mutex::new(Captured::default())),
        }
    }

    /// The kept bytes (lossy UTF-8) and how many bytes were dropped.
    pub(crate) fn contents(&self) -> (String, u64) {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (
            String::from_utf8_lossy(&guard.bytes).into_owned(),
            guard.dropped,
        )
    }

    fn push(&self, buf: &[u8]) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let room = self.cap.saturating_sub(guard.bytes.len());
        let keep = room.min(buf.len());
        guard.bytes.extend_from_slice(&buf[..keep]);
        guard.dropped += (buf.len() - keep) as u64;
    }
}

impl AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // Always accept everything: the guest must not see its writes fail.
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_bytes_and_counts_the_rest() {
        let pipe = CappedPipe::new(4);
        pipe.push(b"abc");
        pipe.push(b"defgh");
        assert_eq!(pipe.contents(), ("abcd".to_string(), 4));
    }
}
