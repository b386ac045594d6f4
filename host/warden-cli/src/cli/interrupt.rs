//! Ctrl-C (SIGINT) as a stream of messages, so a command decides what an interrupt means
//! (`run`: cancel the run; `chat`: cancel the turn, keep the session).
//!
//! Invariant: the handler is installed before [`interrupts`] returns, so from then on an
//! interrupt never kills the process by default; it is delivered to the receiver.

use tokio::sync::mpsc;

/// One message per Ctrl-C for as long as the receiver lives. Call inside the runtime.
pub fn interrupts() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(4);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::interrupt()) {
            Ok(mut sigint) => {
                tokio::spawn(async move {
                    while sigint.recv().await.is_some() {
                        if tx.send(()).await.is_err() {
                            return;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("cannot handle Ctrl-C ({e}): it ends the process"),
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).await.is_err() {
                return;
            }
        }
    });
    rx
}
