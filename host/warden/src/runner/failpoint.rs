//! Crash points for the crash-recovery tests: `WARDEN_FAILPOINT=<point>:<n>` kills the
//! process with SIGKILL (as `kill -9` would) the `n`-th time (from 1) the run passes
//! `<point>`. Points: `before_tool` (a call is journaled as started, nothing run yet),
//! `after_tool` (a call ran, its result not yet recorded), `after_checkpoint` (a
//! checkpoint was committed).
//!
//! Invariant: without the variable (every normal run) a point costs one atomic load.
//! A malformed value is ignored: a test that sets it checks that the process died.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A place a run can be killed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failpoint {
    BeforeTool,
    AfterTool,
    AfterCheckpoint,
}

impl Failpoint {
    fn name(self) -> &'static str {
        match self {
            Self::BeforeTool => "before_tool",
            Self::AfterTool => "after_tool",
            Self::AfterCheckpoint => "after_checkpoint",
        }
    }
}

static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

/// Kills the process if `point` is the armed one and this is its `n`-th pass.
pub(crate) fn hit(point: Failpoint) {
    let armed = ARMED.get_or_init(|| {
        let value = std::env::var("WARDEN_FAILPOINT").ok()?;
        let (name, n) = value.split_once(':')?;
        Some((name.to_string(), n.parse().ok()?))
    });
    let Some((name, n)) = armed else { return };
    if name != point.name() {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}
