//! `run_streamed`: the run in its own task, its events through a channel.
//!
//! Invariant: the stream yields the events in the order the run produced them and ends
//! after the last one (`RunFinished`, unless the driver failed); dropping the stream does
//! not stop the run — cancel it with its [`RunHandle`].

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::channel::mpsc;
use tokio::task::JoinHandle;

use super::{Agent, RunError, RunHandle, Runner};
use warden_core::events::RunEvent;
use warden_core::run::RunResult;

/// The events of a streamed run; also gives its result once it is over.
pub struct RunStream {
    events: mpsc::UnboundedReceiver<RunEvent>,
    task: JoinHandle<Result<RunResult, RunError>>,
}

impl RunStream {
    /// Waits for the run to end and returns its result. Events not read yet are dropped.
    pub async fn result(self) -> Result<RunResult, RunError> {
        self.task.await.map_err(RunError::Task)?
    }
}

impl Stream for RunStream {
    type Item = RunEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RunEvent>> {
        Pin::new(&mut self.events).poll_next(cx)
    }
}

/// Spawns the run.
pub(super) fn start(runner: Runner, agent: Agent, input: String) -> (RunStream, RunHandle) {
    let handle = RunHandle::new();
    let (tx, rx) = mpsc::unbounded();
    let run_handle = handle.clone();
    let task = tokio::spawn(async move {
        // A dropped receiver only means nobody is watching: the run goes on, and its events
        // are not kept.
        let mut sink = move |event: RunEvent| {
            if !tx.is_closed() {
                let _ = tx.unbounded_send(event);
            }
        };
        crate::multi::run_agents(&runner, &agent, input, &run_handle, &mut sink, true).await
    });
    (RunStream { events: rx, task }, handle)
}
