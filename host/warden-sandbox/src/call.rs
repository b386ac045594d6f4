//! One tool call: validate the arguments before any instance exists, run `invoke` in the
//! sandbox, and turn the guest's answer into output or a typed error.
//!
//! Invariant: a call whose arguments fail validation, or whose policy grants a directory that
//! reaches warden's own state, never reaches wasm (no instance, no fuel, no queueing), and an
//! output is returned only if it is JSON within its size cap.

use std::time::Instant;

use super::Inner;
use super::bindings::GuestToolError;
use super::error::ToolCallError;
use super::loader::ToolSet;
use super::policy::ToolPolicy;
use super::sandbox::{self, Action, Returned};
use super::state_dirs::find_overlap;
use super::usage::{CallOutcome, CallUsage};

pub(crate) async fn call(
    inner: &Inner,
    tools: &ToolSet,
    name: &str,
    args_json: &str,
    policy: &ToolPolicy,
) -> CallOutcome {
    let started = Instant::now();
    let bytes_in = (name.len() + args_json.len()) as u64;
    let checked = check_grants(policy).and_then(|()| {
        tools
            .compiled(name)
            .and_then(|(info, c)| c.check_args(info, args_json).map(|()| (info, c)))
    });
    let (info, compiled) = match checked {
        Ok(compiled) => compiled,
        Err(err) => {
            let usage = CallUsage {
                wall_time: started.elapsed(),
                bytes_in,
                ..CallUsage::default()
            };
            return CallOutcome {
                result: Err(err),
                usage,
            };
        }
    };
    let (returned, mut usage, denial) = sandbox::run(
        inner,
        &tools.pre,
        policy,
        Action::Invoke {
            name,
            args: args_json,
        },
    )
    .await;
    usage.bytes_in = bytes_in;
    let result = match returned {
        Ok(Returned::Invoked(Ok(output))) => {
            usage.bytes_out = output.len() as u64;
            if usage.bytes_out > policy.max_output_bytes {
                Err(ToolCallError::OutputTooLarge {
                    limit_bytes: policy.max_output_bytes,
                })
            } else {
                compiled.check_output(info, &output).map(|()| output)
            }
        }
        Ok(Returned::Invoked(Err(guest_error))) => Err(match guest_error {
            GuestToolError::InvalidArgs(message) => ToolCallError::InvalidArguments {
                path: String::new(),
                message,
            },
            GuestToolError::UnknownTool(name) => ToolCallError::UnknownTool {
                name,
                available: tools.tools().iter().map(|t| t.name.clone()).collect(),
            },
            GuestToolError::Failed(message) => ToolCallError::ToolFailed { message },
        }),
        Ok(Returned::Tools(_)) => Err(ToolCallError::Internal {
            message: "describe answered an invoke".into(),
        }),
        Err(err) => Err(err),
    };
    // A tool that failed after the policy denied it something failed *because* of that
    // denial: report the denial, which tells the model not to retry.
    let result = match (result, denial) {
        (Err(ToolCallError::ToolFailed { .. } | ToolCallError::Trap { .. }), Some(detail)) => {
            Err(ToolCallError::CapabilityDenied {
                capability: "outgoing HTTP".into(),
                detail,
            })
        }
        (result, _) => result,
    };
    CallOutcome { result, usage }
}

/// Refuses a policy that grants warden's own state (cache or key), even one built in code
/// without [`ToolPolicy::validate`]. The message names guest paths only.
fn check_grants(policy: &ToolPolicy) -> Result<(), ToolCallError> {
    match policy.dirs.iter().find(|d| find_overlap(&d.host).is_some()) {
        None => Ok(()),
        Some(dir) => Err(ToolCallError::CapabilityDenied {
            capability: "a directory grant".into(),
            detail: format!(
                "the directory granted at {} reaches warden's own state directory; the operator \
                 must grant another directory",
                dir.guest
            ),
        }),
    }
}
