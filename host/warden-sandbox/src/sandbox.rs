//! Runs one action (`describe` or `invoke`) in a fresh, limited instance and turns whatever
//! stopped it into a typed [`ToolCallError`], collecting [`CallUsage`] on the way.
//!
//! Invariant: the instance slot (semaphore permit) is held exactly while a store exists, and
//! the store is dropped before the permit is released, so the pool is never oversubscribed.

use std::time::Instant;

use wasmtime::component::{ComponentExportIndex, InstancePre, ResourceTableError, Val};
use wasmtime::{Store, Trap};
use wasmtime_wasi_http::FieldMapError;

use super::Inner;
use super::bindings::{GuestToolError, GuestToolInfo, ToolboxPre};
use super::error::ToolCallError;
use super::limits::HostLimit;
use super::limits::wasmtime_limits::{handle_limit_reached, is_hostcall_fuel_exhausted};
use super::policy::ToolPolicy;
use super::store::{StoreState, new_store};
use super::usage::CallUsage;

/// What to run in the instance.
pub(crate) enum Action<'a> {
    /// `warden:tool`'s `describe()`.
    Describe,
    /// `warden:tool`'s `invoke(name, args)`.
    Invoke { name: &'a str, args: &'a str },
    /// A plain typed export, with its parameters already read from JSON.
    Typed {
        export: &'a ComponentExportIndex,
        params: Vec<Val>,
        results: usize,
    },
}

/// The pre-linked component an action runs in.
#[derive(Clone, Copy)]
pub(crate) enum Pre<'a> {
    /// A `warden:tool` component.
    Toolbox(&'a ToolboxPre<StoreState>),
    /// A component with plain typed exports.
    Typed(&'a InstancePre<StoreState>),
}

/// What the guest returned.
pub(crate) enum Returned {
    Tools(Vec<GuestToolInfo>),
    Invoked(Result<String, GuestToolError>),
    /// A typed export's results.
    Typed(Vec<Val>),
}

/// Runs `action` under `policy`; returns what the guest returned (or why it did not) and
/// the usage, with HTTP denials still to be interpreted by the caller.
pub(crate) async fn run(
    inner: &Inner,
    pre: Pre<'_>,
    policy: &ToolPolicy,
    action: Action<'_>,
) -> (Result<Returned, ToolCallError>, CallUsage, Option<String>) {
    let mut usage = CallUsage::default();
    let queued = Instant::now();
    let permit = match inner.permits.acquire().await {
        Ok(permit) => permit,
        Err(_) => {
            let err = ToolCallError::Internal {
                message: "the executor is shutting down".into(),
            };
            return (Err(err), usage, None);
        }
    };
    usage.queue_time = queued.elapsed();
    let started = Instant::now();
    let max_memory = policy.max_memory_bytes.min(inner.config.max_memory_bytes);
    let mut store = match new_store(&inner.engine, policy, max_memory, &inner.config.resolver) {
        Ok(store) => store,
        Err(message) => return (Err(ToolCallError::Internal { message }), usage, None),
    };
    let fuel_budget = policy.fuel.unwrap_or(u64::MAX);
    // Cancelled when outgoing HTTP goes over a size cap: the call ends at once.
    let stop = store.data().egress.stats().stop_token();

    let work = async {
        match (pre, action) {
            (Pre::Toolbox(pre), Action::Describe) => {
                let toolbox = pre.instantiate_async(&mut store).await?;
                let guest = toolbox.warden_tool_tool();
                guest.call_describe(&mut store).await.map(Returned::Tools)
            }
            (Pre::Toolbox(pre), Action::Invoke { name, args }) => {
                let toolbox = pre.instantiate_async(&mut store).await?;
                let guest = toolbox.warden_tool_tool();
                guest
                    .call_invoke(&mut store, name, args)
                    .await
                    .map(Returned::Invoked)
            }
            (
                Pre::Typed(pre),
                Action::Typed {
                    export,
                    params,
                    results,
                },
            ) => {
                let instance = pre.instantiate_async(&mut store).await?;
                let func = instance
                    .get_func(&mut store, export)
                    .ok_or_else(|| wasmtime::format_err!("the component lost its export"))?;
                let mut out = vec![Val::Bool(false); results];
                func.call_async(&mut store, &params, &mut out).await?;
                Ok(Returned::Typed(out))
            }
            _ => Err(wasmtime::format_err!(
                "the action does not fit the component's kind"
            )),
        }
    };
    let stoppable = async {
        tokio::select! {
            biased;
            () = stop.cancelled() => None,
            returned = work => Some(returned),
        }
    };
    let outcome = tokio::time::timeout(policy.timeout, stoppable).await;
    usage.wall_time = started.elapsed();

    let egress = store.data().egress.stats().report();
    let result = match (outcome, egress.limit_hit) {
        // Going over a cap ends the call with that limit, whatever the guest did after.
        (_, Some(limit)) => Err(ToolCallError::from(limit)),
        (Err(_elapsed), None) => Err(ToolCallError::Timeout {
            limit: policy.timeout,
        }),
        (Ok(None), None) => Err(ToolCallError::Internal {
            message: "the call was stopped without a recorded limit".into(),
        }),
        (Ok(Some(Ok(returned))), None) => Ok(returned),
        (Ok(Some(Err(err))), None) => Err(classify(&err, &mut store, policy, max_memory)),
    };
    usage.fuel_consumed = fuel_budget.saturating_sub(store.get_fuel().unwrap_or(0));
    let state = store.data_mut();
    usage.peak_memory_bytes = state.limiter.peak_memory as u64;
    usage.http_requests = egress.requests_sent + egress.requests_denied;
    usage.http_denied = egress.requests_denied;
    usage.http_bytes_received = egress.bytes_received;
    usage.http_bytes_sent = egress.bytes_sent;
    usage.http_log = egress.requests.clone();
    usage.logs = std::mem::take(&mut state.host.logs);
    usage.dropped_logs = state.host.dropped_logs;
    let (stdout, dropped_out) = state.stdout.contents();
    let (stderr, dropped_err) = state.stderr.contents();
    usage.stdout = stdout;
    usage.stderr = stderr;
    usage.dropped_stdio_bytes = dropped_out + dropped_err;
    let ledger = state.ledger.report();
    usage.peak_open_files = ledger.peak_open_files;
    usage.files_created = ledger.files_created;
    usage.bytes_written = ledger.bytes_written;
    usage.random_bytes = ledger.random_bytes;
    let denial = egress.denials.first().map(ToString::to_string);
    // Return the instance to the pool before letting the next call in.
    drop(store);
    drop(permit);
    (result, usage, denial)
}

/// Maps a wasmtime error (trap or host error) to the typed error a model sees: by the
/// records of the limits the host enforces itself, by the error's type, or (for the limits
/// wasmtime enforces with private errors) by the checks in `limits/wasmtime_limits.rs`.
/// Never by an error's text. `store` runs no more guest code afterwards.
fn classify(
    err: &wasmtime::Error,
    store: &mut Store<StoreState>,
    policy: &ToolPolicy,
    max_memory: u64,
) -> ToolCallError {
    let state = store.data();
    // A limit the shims enforced: recorded before the trap, so it names the limit exactly.
    if let Some(breach) = state.ledger.breach() {
        return breach;
    }
    if state.limiter.memory_exceeded {
        return ToolCallError::MemoryLimit {
            limit_bytes: max_memory,
        };
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => ToolCallError::OutOfFuel {
                limit: policy.fuel.unwrap_or(u64::MAX),
            },
            Trap::StackOverflow => ToolCallError::StackOverflow,
            Trap::Interrupt => ToolCallError::Timeout {
                limit: policy.timeout,
            },
            other => ToolCallError::Trap {
                message: with_stderr_hint(other.to_string(), state),
            },
        };
    }
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return ToolCallError::Trap {
            message: with_stderr_hint(format!("the tool exited with status {}", exit.0), state),
        };
    }
    if let Some(invalid) = invalid_string(err) {
        return invalid;
    }
    if is_hostcall_fuel_exhausted(err) {
        return ToolCallError::OutputTooLarge {
            limit_bytes: policy.max_hostcall_bytes,
        };
    }
    let host_resources = ToolCallError::ResourceLimit {
        resource: HostLimit::HostResources,
        limit: policy.max_host_resources.into(),
    };
    if matches!(
        err.downcast_ref::<ResourceTableError>(),
        Some(ResourceTableError::Full)
    ) {
        return host_resources;
    }
    if matches!(
        err.downcast_ref::<FieldMapError>(),
        Some(FieldMapError::TotalSizeTooBig | FieldMapError::TooManyFields)
    ) {
        return ToolCallError::ResourceLimit {
            resource: HostLimit::HttpFieldsBytes,
            limit: policy.max_http_fields_bytes,
        };
    }
    if err.downcast_ref::<ResourceTableError>().is_some() {
        return ToolCallError::Trap {
            message: "the tool used a host resource incorrectly".into(),
        };
    }
    // Last, as it probes the store: the guest's handles (its own resources included) stood
    // at the limit the host set.
    if handle_limit_reached(store) {
        return host_resources;
    }
    // Anything else is a host-side error (e.g. instantiation); keep only the first line of
    // the outermost message so no host detail beyond it leaks.
    let outer = err.to_string();
    let first = outer.lines().next().unwrap_or("unknown error");
    ToolCallError::Internal {
        message: truncate(first, 300),
    }
}

/// Lifting a string the guest hands over (its output, an error message, a log line)
/// validates it: invalid UTF-8, or a lone surrogate in a UTF-16 component, is the guest's
/// fault, reported as `invalid_output`.
fn invalid_string(err: &wasmtime::Error) -> Option<ToolCallError> {
    let message = if let Some(e) = err.downcast_ref::<std::str::Utf8Error>() {
        format!("the tool handed the host a string that is not valid UTF-8 ({e})")
    } else if let Some(e) = err.downcast_ref::<std::char::DecodeUtf16Error>() {
        format!(
            "the tool handed the host a string with a lone UTF-16 surrogate (0x{:04X})",
            e.unpaired_surrogate()
        )
    } else {
        return None;
    };
    Some(ToolCallError::InvalidOutput { message })
}

/// Adds the last line the guest wrote to stderr (e.g. its panic message) to a trap message.
fn with_stderr_hint(message: String, state: &StoreState) -> String {
    let (stderr, _) = state.stderr.contents();
    // Skip Rust's trailing "note: run with RUST_BACKTRACE=1" line to reach the message.
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("note: "));
    match last {
        Some(line) => format!(
            "{message}; the tool's last stderr line: {}",
            truncate(line.trim(), 300)
        ),
        None => message,
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use std::sync::Arc;
    use wasmtime::Engine;
    use wasmtime::component::{Component, Linker};

    use crate::config::EngineConfig;
    use crate::egress::{Resolver, StaticResolver};

    /// The error wasmtime gives when lifting the string a one-function component returns:
    /// `encoding` is its canonical ABI string encoding, `bytes` the string as it stores it.
    fn lift_error(encoding: &str, bytes: &str, units: u32) -> wasmtime::Error {
        let wat = format!(
            r#"(component
                (core module $m
                    (memory (export "memory") 1)
                    (data (i32.const 16) "\20\00\00\00{len}\00\00\00")
                    (data (i32.const 32) "{bytes}")
                    (func (export "f") (result i32) (i32.const 16)))
                (core instance $i (instantiate $m))
                (func (export "f") (result string)
                    (canon lift (core func $i "f") (memory (core memory $i "memory")) string-encoding={encoding})))"#,
            len = format_args!("\\{units:02x}"),
        );
        let engine = Engine::default();
        let component = Component::new(&engine, wat).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine)
            .instantiate(&mut store, &component)
            .unwrap();
        let f = instance
            .get_typed_func::<(), (String,)>(&mut store, "f")
            .unwrap();
        f.call(&mut store, ()).unwrap_err()
    }

    #[test]
    fn a_lone_utf16_surrogate_is_invalid_output() {
        let err = lift_error("utf16", "\\00\\d8", 1);
        match invalid_string(&err) {
            Some(ToolCallError::InvalidOutput { message }) => {
                assert!(
                    message.contains("lone UTF-16 surrogate (0xD800)"),
                    "{message}"
                );
            }
            other => panic!("{other:?} for {err:?}"),
        }
    }

    #[test]
    fn invalid_utf8_is_invalid_output() {
        let err = lift_error("utf8", "\\ff", 1);
        match invalid_string(&err) {
            Some(ToolCallError::InvalidOutput { message }) => {
                assert!(message.contains("not valid UTF-8"), "{message}");
            }
            other => panic!("{other:?} for {err:?}"),
        }
    }

    #[test]
    fn other_errors_are_not_taken_for_bad_strings() {
        assert!(invalid_string(&wasmtime::format_err!("instantiation failed")).is_none());
    }

    /// A component with `big` (returns a 64-byte string), `hoard` (makes handles of its own
    /// resource until stopped) and `crash` (traps at once).
    const LIMITED: &str = r#"(component
        (type $r (resource (rep i32)))
        (core func $new (canon resource.new $r))
        (core module $m
            (import "" "new" (func $new (param i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "\20\00\00\00\40\00\00\00")
            (func (export "big") (result i32) (i32.const 16))
            (func (export "hoard") (loop $again (drop (call $new (i32.const 0))) (br $again)))
            (func (export "crash") unreachable))
        (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
        (func (export "big") (result string)
            (canon lift (core func $i "big") (memory (core memory $i "memory"))))
        (func (export "hoard") (canon lift (core func $i "hoard")))
        (func (export "crash") (canon lift (core func $i "crash"))))"#;

    /// Calls `export` of [`LIMITED`] in a call's store under `policy`; classifies a failure.
    async fn classified(
        export: &str,
        results: usize,
        policy: &ToolPolicy,
    ) -> Option<ToolCallError> {
        let config = EngineConfig {
            pooling: false,
            ..EngineConfig::default()
        };
        let (engine, _) = crate::engine::build_engine(&config).unwrap();
        let resolver: Arc<dyn Resolver> = Arc::new(StaticResolver::new());
        let max_memory = policy.max_memory_bytes;
        let mut store = new_store(&engine, policy, max_memory, &resolver).unwrap();
        let component = Component::new(&engine, LIMITED).unwrap();
        let instance = Linker::new(&engine)
            .instantiate_async(&mut store, &component)
            .await
            .unwrap();
        let func = instance.get_func(&mut store, export).unwrap();
        let mut out = vec![wasmtime::component::Val::Bool(false); results];
        let err = func.call_async(&mut store, &[], &mut out).await.err()?;
        Some(classify(&err, &mut store, policy, max_memory))
    }

    #[tokio::test]
    async fn a_transfer_over_the_hostcall_limit_is_output_too_large() {
        let limited = ToolPolicy {
            max_hostcall_bytes: 16,
            ..ToolPolicy::default()
        };
        assert_eq!(
            classified("big", 1, &limited).await,
            Some(ToolCallError::OutputTooLarge { limit_bytes: 16 })
        );
        // The limit was the cause: at 64 bytes the same transfer goes through.
        let enough = ToolPolicy {
            max_hostcall_bytes: 64,
            ..ToolPolicy::default()
        };
        assert_eq!(classified("big", 1, &enough).await, None);
    }

    #[tokio::test]
    async fn handles_at_the_host_limit_are_a_host_resource_limit() {
        let policy = ToolPolicy {
            max_host_resources: 4,
            ..ToolPolicy::default()
        };
        assert_eq!(
            classified("hoard", 0, &policy).await,
            Some(ToolCallError::ResourceLimit {
                resource: HostLimit::HostResources,
                limit: 4
            })
        );
    }

    #[tokio::test]
    async fn a_crash_is_a_trap_not_a_limit() {
        let err = classified("crash", 0, &ToolPolicy::default()).await;
        assert!(matches!(err, Some(ToolCallError::Trap { .. })), "{err:?}");
    }
}
