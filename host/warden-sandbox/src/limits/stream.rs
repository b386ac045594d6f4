//! [`ChargedOutput`]: an output stream into a granted file that charges every byte to the
//! call's [`CallLedger`] before passing it on.
//!
//! Invariant: no byte reaches the inner stream without being charged; a write past the cap
//! traps the guest (`StreamError::Trap`) and writes nothing.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime_wasi::p2::{DynOutputStream, OutputStream, Pollable, StreamError, StreamResult};

use super::CallLedger;

/// Wraps a file's output stream (from `write-via-stream` or `append-via-stream`).
pub(crate) struct ChargedOutput {
    inner: DynOutputStream,
    ledger: Arc<CallLedger>,
}

impl ChargedOutput {
    pub(crate) fn new(inner: DynOutputStream, ledger: Arc<CallLedger>) -> Self {
        Self { inner, ledger }
    }

    fn charge(&self, bytes: usize) -> StreamResult<()> {
        self.ledger
            .charge_write(bytes as u64)
            .map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ChargedOutput {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for ChargedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        self.charge(nelem)?;
        self.inner.write_zeroes(nelem)
    }

    async fn write_ready(&mut self) -> StreamResult<usize> {
        self.inner.write_ready().await
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use crate::ToolPolicy;
    use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

    #[tokio::test]
    async fn bytes_are_charged_and_a_write_past_the_cap_traps_without_writing() {
        let ledger = CallLedger::new(&ToolPolicy {
            max_write_bytes: 10,
            ..ToolPolicy::default()
        });
        let pipe = MemoryOutputPipe::new(1024);
        let mut out = ChargedOutput::new(Box::new(pipe.clone()), ledger.clone());
        out.write(Bytes::from_static(b"12345678")).unwrap();
        out.write_zeroes(2).unwrap();
        assert!(matches!(
            out.write(Bytes::from_static(b"x")),
            Err(StreamError::Trap(_))
        ));
        assert_eq!(pipe.contents().as_ref(), b"12345678\0\0");
        assert_eq!(ledger.report().bytes_written, 10);
    }
}
