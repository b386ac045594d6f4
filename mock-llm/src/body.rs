//! Response bodies sent piece by piece, with the timing and breakage faults need, and a
//! guard that tells a completed stream from one the client walked away from.
//!
//! Invariant: every streamed body ends in exactly one of three counted ways: completed
//! (last byte handed to hyper), cut on purpose (a fault; the connection is broken by
//! yielding an error), or aborted (dropped before the end: the client went away).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;

use crate::server::Shared;

/// How a body ends after its last piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Normally.
    Complete,
    /// By breaking the connection (hyper aborts it when the body yields an error).
    Break,
}

/// The plan for one body.
pub struct Plan {
    pub pieces: VecDeque<Bytes>,
    /// Gap before every piece but the first.
    pub gap: Option<Duration>,
    /// Silence before piece number `.0` (0-based).
    pub stall: Option<(usize, Duration)>,
    pub ending: Ending,
    /// Count it in the stream counters (SSE bodies only).
    pub is_stream: bool,
}

struct Guard {
    shared: Arc<Shared>,
    is_stream: bool,
    ended: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.is_stream && !self.ended {
            self.shared.stats.streams_aborted.fetch_add(1, Relaxed);
        }
    }
}

struct State {
    plan: Plan,
    sent: usize,
    guard: Guard,
}

/// A body that follows the plan.
pub fn body(plan: Plan, shared: Arc<Shared>) -> Body {
    let is_stream = plan.is_stream;
    let state = State {
        plan,
        sent: 0,
        guard: Guard {
            shared,
            is_stream,
            ended: false,
        },
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        if s.guard.ended {
            return None;
        }
        let Some(piece) = s.plan.pieces.pop_front() else {
            s.guard.ended = true;
            return match s.plan.ending {
                Ending::Complete => {
                    if s.guard.is_stream {
                        s.guard.shared.stats.streams_completed.fetch_add(1, Relaxed);
                    }
                    None
                }
                Ending::Break => {
                    // hyper drops its unflushed write buffer when a body fails: pause first so
                    // the pieces before the cut really reach the client.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Some((Err(std::io::Error::other("mock-llm cut the connection")), s))
                }
            };
        };
        if let Some((at, pause)) = s.plan.stall
            && at == s.sent
        {
            tokio::time::sleep(pause).await;
        }
        if let Some(gap) = s.plan.gap.filter(|_| s.sent > 0) {
            tokio::time::sleep(gap).await;
        }
        s.sent += 1;
        Some((Ok::<Bytes, std::io::Error>(piece), s))
    });
    Body::from_stream(stream)
}
