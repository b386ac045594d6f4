//! One tool call: validate the arguments before any instance exists, run `invoke` (or, for a
//! typed component, the exported function) in the sandbox, and turn the guest's answer into
//! output or a typed error.
//!
//! Invariant: a call whose arguments fail validation, or whose policy grants a directory that
//! reaches warden's own state, never reaches wasm (no instance, no fuel, no queueing), and an
//! output is returned only if it is JSON within its size cap.

use std::borrow::Cow;
use std::time::Instant;

use serde_json::Value;

use super::Inner;
use super::bindings::GuestToolError;
use super::error::ToolCallError;
use super::loader::{Kind, ToolSet};
use super::policy::ToolPolicy;
use super::sandbox::{self, Action, Pre, Returned};
use super::state_dirs::find_overlap;
use super::typed;
use super::usage::{CallOutcome, CallUsage};

/// A call's arguments: JSON text, or a value the caller already parsed.
#[derive(Clone, Copy)]
pub(crate) enum Args<'a> {
    Json(&'a str),
    Value(&'a Value),
}

pub(crate) async fn call(
    inner: &Inner,
    tools: &ToolSet,
    name: &str,
    args: Args<'_>,
    policy: &ToolPolicy,
) -> CallOutcome {
    let started = Instant::now();
    // A call refused before any instance exists, with the bytes it brought.
    let refused = |bytes_in: u64, err: ToolCallError| {
        let usage = CallUsage {
            wall_time: started.elapsed(),
            bytes_in,
            ..CallUsage::default()
        };
        CallOutcome {
            result: Err(err),
            usage,
        }
    };
    // The text the guest gets, and the value when the caller parsed it already.
    let (args_json, parsed): (Cow<'_, str>, Option<&Value>) = match args {
        Args::Json(text) => (Cow::Borrowed(text), None),
        Args::Value(value) => match serde_json::to_string(value) {
            Ok(text) => (Cow::Owned(text), Some(value)),
            // A value always encodes (its keys are strings); should one not, it is refused.
            Err(e) => {
                let err = ToolCallError::InvalidArguments {
                    path: String::new(),
                    message: format!("the arguments cannot be encoded as JSON ({e})"),
                };
                return refused(name.len() as u64, err);
            }
        },
    };
    let bytes_in = (name.len() + args_json.len()) as u64;
    let rejected = |err| refused(bytes_in, err);
    if let Err(err) = check_grants(policy) {
        return rejected(err);
    }
    let (result, mut usage, denial) = match &tools.kind {
        Kind::Toolbox(pre) => {
            let (info, compiled) = match tools
                .compiled(name)
                .and_then(|(info, c)| c.check_args(info, &args_json, parsed).map(|()| (info, c)))
            {
                Ok(checked) => checked,
                Err(err) => return rejected(err),
            };
            let action = Action::Invoke {
                name,
                args: &args_json,
            };
            let (returned, mut usage, denial) =
                sandbox::run(inner, Pre::Toolbox(pre), policy, action).await;
            let result = match returned {
                Ok(Returned::Invoked(Ok(output))) => {
                    usage.bytes_out = output.len() as u64;
                    capped(output, policy)
                        .and_then(|output| compiled.check_output(info, &output).map(|()| output))
                }
                Ok(Returned::Invoked(Err(guest_error))) => {
                    Err(guest_error_to_call(guest_error, tools))
                }
                Ok(Returned::Tools(_) | Returned::Typed(_)) => Err(ToolCallError::Internal {
                    message: "describe answered an invoke".into(),
                }),
                Err(err) => Err(err),
            };
            (result, usage, denial)
        }
        Kind::Typed(set) => {
            // Arguments are read (with the failing path) before any instance exists.
            let (func, params) = match set.prepare(name, &args_json, parsed) {
                Ok(prepared) => prepared,
                Err(err) => return rejected(err),
            };
            let action = Action::Typed {
                export: &func.export,
                params,
                results: func.results(),
            };
            let (returned, mut usage, denial) =
                sandbox::run(inner, Pre::Typed(&set.pre), policy, action).await;
            let result = match returned {
                Ok(Returned::Typed(results)) => typed::finish(func, &results).and_then(|output| {
                    usage.bytes_out = output.len() as u64;
                    capped(output, policy)
                }),
                Ok(_) => Err(ToolCallError::Internal {
                    message: "a typed call returned another kind of answer".into(),
                }),
                Err(err) => Err(err),
            };
            (result, usage, denial)
        }
    };
    usage.bytes_in = bytes_in;
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

/// `output` if it is within the policy's output cap.
fn capped(output: String, policy: &ToolPolicy) -> Result<String, ToolCallError> {
    if output.len() as u64 > policy.max_output_bytes {
        return Err(ToolCallError::OutputTooLarge {
            limit_bytes: policy.max_output_bytes,
        });
    }
    Ok(output)
}

/// A `warden:tool` guest's own error, as the call's error.
fn guest_error_to_call(error: GuestToolError, tools: &ToolSet) -> ToolCallError {
    match error {
        GuestToolError::InvalidArgs(message) => ToolCallError::InvalidArguments {
            path: String::new(),
            message,
        },
        GuestToolError::UnknownTool(name) => ToolCallError::UnknownTool {
            name,
            available: tools.tools().iter().map(|t| t.name.clone()).collect(),
        },
        GuestToolError::Failed(message) => ToolCallError::ToolFailed { message },
    }
}
