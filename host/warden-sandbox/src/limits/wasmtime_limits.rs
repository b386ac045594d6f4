//! The two per-call limits that wasmtime enforces for the host without a public error type:
//! hostcall fuel (`max_hostcall_bytes`, the bytes one transfer out of the guest may copy) and
//! the store's component-model handles (twice `max_host_resources`). Their errors cannot be
//! downcast and their messages are wasmtime's private text, so each is recognised from what
//! the host controls instead:
//! - handles, by the limit the host set: after the call failed, the store is asked for one more
//!   host handle. Refused at the limit but granted one above it means the live handles stood
//!   exactly at the host's limit.
//! - hostcall fuel, by the error's type: wasmtime raises it as a private unit struct, so the
//!   crate provokes the same error once from the linked wasmtime (a one-byte string lifted
//!   under zero hostcall fuel) and compares root causes by their derived `Debug`, which for a
//!   unit struct is the type's name. No message text is written here, and a change in
//!   wasmtime changes the sample with it.
//!
//! Invariant: neither check names a limit the call did not reach. The probe is differential
//! (it needs both answers), and an error matches the sample only if its root cause has the
//! sample's type name, which no message error has.

use std::sync::OnceLock;

use wasmtime::component::{Component, Linker, Resource, ResourceAny};
use wasmtime::{Engine, Store};

/// Whether the live component-model handles of `store` stand at the limit the host set
/// ([`Store::max_component_handles`]). Leaves the limit as it was; may leave one probe handle
/// in the store, so call it only on a store that runs no more guest code.
pub(crate) fn handle_limit_reached<T: 'static>(store: &mut Store<T>) -> bool {
    /// The probe's resource type: the host's own, known to no guest.
    struct Probe;
    let one_more =
        |store: &mut Store<T>| ResourceAny::try_from_resource(Resource::<Probe>::new_own(0), store);
    if one_more(store).is_ok() {
        return false;
    }
    let limit = store.max_component_handles();
    store.set_max_component_handles(limit.saturating_add(1));
    let granted_above = one_more(store).is_ok();
    store.set_max_component_handles(limit);
    granted_above
}

/// Whether `err` is wasmtime's hostcall-fuel exhaustion: a transfer out of the guest larger
/// than the store's hostcall fuel.
pub(crate) fn is_hostcall_fuel_exhausted(err: &wasmtime::Error) -> bool {
    hostcall_fuel_sample().is_some_and(|sample| format!("{:?}", err.root_cause()) == sample)
}

/// The `Debug` form of the root cause of a hostcall-fuel error from the linked wasmtime, or
/// `None` if it could not be provoked (then nothing is taken for one).
fn hostcall_fuel_sample() -> Option<&'static str> {
    static SAMPLE: OnceLock<Option<String>> = OnceLock::new();
    SAMPLE
        .get_or_init(|| match provoke_hostcall_fuel_error() {
            Ok(sample) => Some(sample),
            Err(e) => {
                tracing::error!(error = %e, "cannot provoke wasmtime's hostcall-fuel error; transfers over max_hostcall_bytes will be reported as crashes");
                None
            }
        })
        .as_deref()
}

/// A component whose export `f` returns the one-byte string "x".
const ONE_BYTE_STRING: &str = r#"(component
    (core module $m
        (memory (export "memory") 1)
        (data (i32.const 16) "\20\00\00\00\01\00\00\00")
        (data (i32.const 32) "x")
        (func (export "f") (result i32) (i32.const 16)))
    (core instance $i (instantiate $m))
    (func (export "f") (result string)
        (canon lift (core func $i "f") (memory (core memory $i "memory")))))"#;

fn provoke_hostcall_fuel_error() -> wasmtime::Result<String> {
    let engine = Engine::default();
    let component = Component::new(&engine, ONE_BYTE_STRING)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::<()>::new(&engine).instantiate(&mut store, &component)?;
    let f = instance.get_typed_func::<(), (String,)>(&mut store, "f")?;
    store.set_hostcall_fuel(0);
    let Err(err) = f.call(&mut store, ()) else {
        wasmtime::bail!("a one-byte string was lifted under zero hostcall fuel");
    };
    // A message error (`bail!("...")`) would make every such message match; only a distinct
    // error type is a usable sample.
    let root = err.root_cause();
    let debug = format!("{root:?}");
    if debug == format!("{:?}", root.to_string()) {
        wasmtime::bail!("wasmtime's hostcall-fuel error is a plain message");
    }
    Ok(debug)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    /// A component with its own resource type: `hoard` makes handles until something stops
    /// it; `two` makes two handles and then traps.
    const HOARDER: &str = r#"(component
        (type $r (resource (rep i32)))
        (core func $new (canon resource.new $r))
        (core module $m
            (import "" "new" (func $new (param i32) (result i32)))
            (func (export "hoard") (loop $again (drop (call $new (i32.const 0))) (br $again)))
            (func (export "two")
                (drop (call $new (i32.const 0)))
                (drop (call $new (i32.const 0)))
                unreachable))
        (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
        (func (export "hoard") (canon lift (core func $i "hoard")))
        (func (export "two") (canon lift (core func $i "two"))))"#;

    /// Runs export `name` of [`HOARDER`] in a store allowing `limit` handles.
    fn hoard(name: &str, limit: usize) -> (Store<()>, wasmtime::Error) {
        let engine = Engine::default();
        let component = Component::new(&engine, HOARDER).unwrap();
        let mut store = Store::new(&engine, ());
        store.set_max_component_handles(limit);
        let instance = Linker::<()>::new(&engine)
            .instantiate(&mut store, &component)
            .unwrap();
        let f = instance.get_typed_func::<(), ()>(&mut store, name).unwrap();
        let err = f.call(&mut store, ()).unwrap_err();
        (store, err)
    }

    #[test]
    fn a_store_whose_guest_ran_out_of_handles_is_at_its_limit() {
        let (mut store, err) = hoard("hoard", 8);
        assert!(err.downcast_ref::<wasmtime::Trap>().is_none(), "{err:?}");
        assert!(handle_limit_reached(&mut store));
        assert_eq!(store.max_component_handles(), 8);
    }

    #[test]
    fn a_store_below_its_handle_limit_is_not() {
        let (mut store, err) = hoard("two", 8);
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::UnreachableCodeReached)
        );
        assert!(!handle_limit_reached(&mut store));
    }

    /// Lifts [`ONE_BYTE_STRING`]'s one-byte string under `fuel` bytes of hostcall fuel.
    fn lift_one_byte(fuel: usize) -> wasmtime::Result<String> {
        let engine = Engine::default();
        let component = Component::new(&engine, ONE_BYTE_STRING).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine)
            .instantiate(&mut store, &component)
            .unwrap();
        let f = instance
            .get_typed_func::<(), (String,)>(&mut store, "f")
            .unwrap();
        store.set_hostcall_fuel(fuel);
        f.call(&mut store, ()).map(|(s,)| s)
    }

    #[test]
    fn the_hostcall_fuel_error_is_recognised_and_nothing_else_is() {
        let sample = hostcall_fuel_sample();
        assert!(sample.is_some());
        // A second provocation, as a guest's transfer would cause it; with one byte of fuel
        // the same lift succeeds, so the limit was the cause.
        assert!(is_hostcall_fuel_exhausted(&lift_one_byte(0).unwrap_err()));
        assert_eq!(lift_one_byte(1).unwrap(), "x");

        let (_, handles) = hoard("hoard", 8);
        assert!(!is_hostcall_fuel_exhausted(&handles));
        let (_, trap) = hoard("two", 8);
        assert!(!is_hostcall_fuel_exhausted(&trap));
        let message = wasmtime::format_err!("{}", sample.unwrap());
        assert!(!is_hostcall_fuel_exhausted(&message));
    }
}
