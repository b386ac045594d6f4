//! Notices: things the LLM interface did on the caller's behalf that the run should show
//! (a wait for the rate limiter, a retry). The agent loop turns them into run events.
//!
//! Invariant: emitting never blocks and never fails; with no receiver it is a no-op.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;

/// Something the interface did while serving a request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LlmNotice {
    /// The client-side rate limiter held the request back.
    RateLimitWait {
        /// How long the request was held.
        waited: Duration,
        /// Which limit held it (requests or tokens per minute, or a server's 429).
        reason: String,
    },
    /// An attempt failed with a transient error; another starts after `delay`.
    /// `attempt` is the number of the attempt that failed (1-based).
    Retry {
        /// The attempt that failed (1-based).
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// The failure, as displayed.
        cause: String,
    },
}

/// Where notices go: nowhere, an unbounded channel, or a [`NoticeQueue`].
#[derive(Debug, Clone, Default)]
pub struct Notices {
    sink: Option<Sink>,
}

#[derive(Debug, Clone)]
enum Sink {
    Channel(UnboundedSender<LlmNotice>),
    Queue(Arc<NoticeQueue>),
}

impl Notices {
    /// Notices are dropped.
    pub fn none() -> Self {
        Notices { sink: None }
    }

    /// Notices are sent to `tx`.
    pub fn new(tx: UnboundedSender<LlmNotice>) -> Self {
        Notices {
            sink: Some(Sink::Channel(tx)),
        }
    }

    /// Notices are pushed to `queue`.
    pub fn queue(queue: Arc<NoticeQueue>) -> Self {
        Notices {
            sink: Some(Sink::Queue(queue)),
        }
    }

    /// Sends a notice; a closed receiver is ignored because notices are informational.
    pub fn emit(&self, notice: LlmNotice) {
        match &self.sink {
            Some(Sink::Channel(tx)) => {
                let _ = tx.send(notice);
            }
            Some(Sink::Queue(queue)) => queue.push(notice),
            None => {}
        }
    }
}

/// A notice queue for one reader that allocates nothing until a notice arrives (a tokio
/// channel allocates a 32-slot block up front: ~3 KiB per model call in flight).
#[derive(Debug, Default)]
pub struct NoticeQueue {
    items: Mutex<Vec<LlmNotice>>,
    notify: Notify,
}

impl NoticeQueue {
    fn push(&self, notice: LlmNotice) {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notice);
        self.notify.notify_one();
    }

    /// Takes every notice queued so far, oldest first.
    pub fn take(&self) -> Vec<LlmNotice> {
        std::mem::take(&mut *self.items.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Resolves once a notice was pushed since the last wake-up (at once if one is
    /// pending); then [`NoticeQueue::take`] them.
    pub async fn pushed(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_queue_wakes_its_reader_and_keeps_the_order() {
        let queue = Arc::new(NoticeQueue::default());
        let notices = Notices::queue(queue.clone());
        let wait = |ms| LlmNotice::RateLimitWait {
            waited: Duration::from_millis(ms),
            reason: "rpm".into(),
        };
        notices.emit(wait(1));
        notices.emit(wait(2));
        // The permit stored by the pushes makes a later wait return at once.
        tokio::time::timeout(Duration::from_secs(5), queue.pushed())
            .await
            .unwrap();
        assert_eq!(queue.take(), vec![wait(1), wait(2)]);
        assert!(queue.take().is_empty());
    }
}
