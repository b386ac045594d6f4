//! The one loop of a run whose agent may hand off: drive the active agent to its end; when
//! it ended by a handoff, go on with the target (`multi::next_agent` decides) — for plain
//! runs, sessions and durable runs alike.
//!
//! Invariants: a handoff's own `RunFinished` never leaves the loop (a run or turn has one,
//! its last agent's); a recorded run checkpoints right after each switch, with the agent now
//! active, so a resumed or continued run goes on with that agent and its grants; while a
//! handoff is pending (its agent's part done, the switch not yet written) the stored status
//! stays running, so a crash there resumes into the handoff instead of ending the run.

use warden_core::controller::Controller;
use warden_core::events::RunEvent;
use warden_core::run::RunResult;

use super::record::Recorder;
use super::{RunError, RunHandle, Runner, drive};
use crate::multi::{Active, Next, next_agent};

/// Drives `controller` of `active` to the end of the run (or turn) through its handoffs,
/// unrecorded.
pub(crate) async fn drive_to_end<S: FnMut(RunEvent) + ?Sized>(
    runner: &Runner,
    active: &mut Active,
    controller: &mut Controller,
    handle: &RunHandle,
    sink: &mut S,
    streaming: bool,
) -> Result<RunResult, RunError> {
    let mut rec = Recorder::unrecorded(runner.approver.clone());
    drive_handing_off(
        runner, active, controller, handle, sink, streaming, &mut rec,
    )
    .await
    .and_then(drive::finished)
}

/// Drives `controller` of `active` through its handoffs, recording with `rec`; `None`
/// when the run paused for an approval. `active` and `controller` end as the last agent's.
pub(super) async fn drive_handing_off<S: FnMut(RunEvent) + ?Sized>(
    runner: &Runner,
    active: &mut Active,
    controller: &mut Controller,
    handle: &RunHandle,
    sink: &mut S,
    streaming: bool,
    rec: &mut Recorder,
) -> Result<Option<RunResult>, RunError> {
    loop {
        follow(rec, active, true);
        let driven = {
            let current = active.clone();
            let mut hold = |event: RunEvent| {
                if !current.hands_off(runner, &event) {
                    sink(event);
                }
            };
            let agent = &current.agent;
            drive::drive(runner, agent, controller, handle, &mut hold, streaming, rec).await?
        };
        let Some(result) = driven else {
            return Ok(None);
        };
        match next_agent(runner, active, controller, &result)? {
            Next::Done => return Ok(Some(result)),
            Next::Limit(stop_reason) => {
                // The run ends here: its result, event and stored status say so.
                controller.stop(stop_reason);
                drive::forward(controller, sink);
                follow(rec, active, false);
                rec.checkpoint(controller).await?;
                return Ok(controller.result().cloned());
            }
            Next::To(next) => {
                let (next, event) = *next;
                *controller = next;
                sink(event);
                follow(rec, active, true);
                rec.checkpoint(controller).await?;
            }
        }
    }
}

/// Tells a recording `rec` which agent runs now and, if `may_hand_off`, which of its stop
/// tools hand off (a result ending in one is not the run's end).
fn follow(rec: &mut Recorder, active: &Active, may_hand_off: bool) {
    if rec.run_id().is_none() {
        return;
    }
    let tools = match may_hand_off {
        true => active.agent.handoff_tools(),
        false => Vec::new(),
    };
    rec.set_agent(active.stored_form(), tools);
}
