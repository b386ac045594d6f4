//! Linker shims: the few WASI functions through which a guest makes the host open, create,
//! write or generate data of a size it chooses are redefined (shadowing wasmtime-wasi's
//! definitions) to charge the call's [`CallLedger`](super::CallLedger) first and then run
//! wasmtime-wasi's own implementation (except `open-at`, see `open.rs`).
//!
//! Invariant: each shim has exactly the signature of the function it replaces, so a
//! component links the same way with or without it, and failures map to the same WASI error
//! codes; only a breached limit is new, and it traps.

use wasmtime::component::{Linker, LinkerInstance, Resource};
use wasmtime::{Result, StoreContextMut};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, HostDescriptor, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::bindings::random::{insecure, random};
use wasmtime_wasi::p2::{DynOutputStream, FsResult};
use wasmtime_wasi::random::WasiRandomView;
use wasmtime_wasi::{FsPerms, WasiView};

use super::open;
use super::stream::ChargedOutput;
use crate::store::StoreState;

/// The WASI versions wasmtime-wasi 48 defines (guests importing older 0.2.x link to them).
const FS_TYPES: &str = "wasi:filesystem/types@0.2.12";
const RANDOM: &str = "wasi:random/random@0.2.12";
const INSECURE: &str = "wasi:random/insecure@0.2.12";

type Store<'a> = StoreContextMut<'a, StoreState>;
type FsAnswer<T> = Result<(Result<T, ErrorCode>,)>;

/// Redefines the limited functions; call after wasmtime-wasi's `add_to_linker_async`.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> Result<()> {
    linker.allow_shadowing(true);
    filesystem(&mut linker.instance(FS_TYPES)?)?;
    linker.instance(RANDOM)?.func_wrap(
        "get-random-bytes",
        |mut store: Store<'_>, (len,): (u64,)| {
            charge_random(&mut store, len)?;
            random::Host::get_random_bytes(store.data_mut().random(), len).map(|b| (b,))
        },
    )?;
    linker.instance(INSECURE)?.func_wrap(
        "get-insecure-random-bytes",
        |mut store: Store<'_>, (len,): (u64,)| {
            charge_random(&mut store, len)?;
            insecure::Host::get_insecure_random_bytes(store.data_mut().random(), len).map(|b| (b,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn charge_random(store: &mut Store<'_>, len: u64) -> Result<()> {
    store
        .data()
        .ledger
        .charge_random(len)
        .map_err(wasmtime::Error::new)
}

/// An [`FsResult`] as the component model wants it: an error code for the guest, or a trap.
fn answer<T>(result: FsResult<T>) -> FsAnswer<T> {
    match result {
        Ok(value) => Ok((Ok(value),)),
        Err(err) => err.downcast().map(|code| (Err(code),)),
    }
}

/// Whether `fd` is a descriptor the guest may write through (so a write is worth charging;
/// on a read-only grant wasmtime-wasi refuses it anyway).
fn writable(state: &mut StoreState, fd: &Resource<Descriptor>) -> bool {
    let perms = match state.ctx().table.get(fd) {
        Ok(Descriptor::File(f)) => f.perms,
        Ok(Descriptor::Dir(d)) => d.perms,
        Err(_) => return false,
    };
    perms == FsPerms::ReadWrite
}

fn filesystem(fs: &mut LinkerInstance<'_, StoreState>) -> Result<()> {
    fs.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: Store<'_>,
         (fd, path_flags, path, oflags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                let ledger = state.ledger.clone();
                let table = state.ctx().table;
                answer(open::open_at(table, &ledger, fd, path_flags, path, oflags, flags).await)
            })
        },
    )?;
    fs.func_wrap_async(
        "[method]descriptor.write",
        |mut store: Store<'_>, (fd, buf, offset): (Resource<Descriptor>, Vec<u8>, u64)| {
            Box::new(async move {
                let state = store.data_mut();
                if writable(state, &fd) {
                    state
                        .ledger
                        .charge_write(buf.len() as u64)
                        .map_err(wasmtime::Error::new)?;
                }
                answer(HostDescriptor::write(&mut state.filesystem(), fd, buf, offset).await)
            })
        },
    )?;
    fs.func_wrap(
        "[method]descriptor.write-via-stream",
        |mut store: Store<'_>, (fd, offset): (Resource<Descriptor>, u64)| {
            let state = store.data_mut();
            let opened = HostDescriptor::write_via_stream(&mut state.filesystem(), fd, offset);
            answer(opened.and_then(|stream| charged(state, stream)))
        },
    )?;
    fs.func_wrap(
        "[method]descriptor.append-via-stream",
        |mut store: Store<'_>, (fd,): (Resource<Descriptor>,)| {
            let state = store.data_mut();
            let opened = HostDescriptor::append_via_stream(&mut state.filesystem(), fd);
            answer(opened.and_then(|stream| charged(state, stream)))
        },
    )?;
    fs.func_wrap_async(
        "[method]descriptor.create-directory-at",
        |mut store: Store<'_>, (fd, path): (Resource<Descriptor>, String)| {
            Box::new(async move {
                let state = store.data_mut();
                let counted = admit_create(state, &fd)?;
                let made =
                    HostDescriptor::create_directory_at(&mut state.filesystem(), fd, path).await;
                answer(record_create(state, counted, made))
            })
        },
    )?;
    fs.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store: Store<'_>, (fd, old, new): (Resource<Descriptor>, String, String)| {
            Box::new(async move {
                let state = store.data_mut();
                let counted = admit_create(state, &fd)?;
                let made = HostDescriptor::symlink_at(&mut state.filesystem(), fd, old, new).await;
                answer(record_create(state, counted, made))
            })
        },
    )?;
    fs.func_wrap_async(
        "[method]descriptor.link-at",
        |mut store: Store<'_>,
         (fd, flags, old, new_fd, new): (
            Resource<Descriptor>,
            PathFlags,
            String,
            Resource<Descriptor>,
            String,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                let counted = admit_create(state, &new_fd)?;
                let made =
                    HostDescriptor::link_at(&mut state.filesystem(), fd, flags, old, new_fd, new)
                        .await;
                answer(record_create(state, counted, made))
            })
        },
    )?;
    Ok(())
}

/// Replaces the file stream wasmtime-wasi just made with one that charges every byte.
fn charged(
    state: &mut StoreState,
    stream: Resource<DynOutputStream>,
) -> FsResult<Resource<DynOutputStream>> {
    let ledger = state.ledger.clone();
    let table = state.ctx().table;
    let inner: DynOutputStream = table.delete(stream)?;
    let wrapped: DynOutputStream = Box::new(ChargedOutput::new(inner, ledger));
    Ok(table.push(wrapped)?)
}

/// Before a creation in directory `fd`: traps at the cap; says whether it will be counted.
fn admit_create(state: &mut StoreState, fd: &Resource<Descriptor>) -> Result<bool> {
    if !writable(state, fd) {
        return Ok(false);
    }
    state.ledger.admit_create().map_err(wasmtime::Error::new)?;
    Ok(true)
}

fn record_create(state: &StoreState, counted: bool, made: FsResult<()>) -> FsResult<()> {
    if counted && made.is_ok() {
        state.ledger.created();
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shims must shadow wasmtime-wasi's definitions, not sit beside them under a name
    /// no component imports: wasmtime-wasi's own definitions use these versions.
    #[test]
    fn the_shimmed_interfaces_are_the_ones_wasmtime_wasi_defines() {
        let engine = wasmtime::Engine::default();
        let mut linker: Linker<StoreState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap_or_else(|e| panic!("{e}"));
        // Without shadowing, redefining an existing function is an error: so the names exist.
        for (instance, func) in [
            (FS_TYPES, "[method]descriptor.open-at"),
            (RANDOM, "get-random-bytes"),
            (INSECURE, "get-insecure-random-bytes"),
        ] {
            let mut inst = linker.instance(instance).unwrap_or_else(|e| panic!("{e}"));
            let redefined = inst.func_wrap(func, |_: Store<'_>, (): ()| Ok(()));
            assert!(redefined.is_err(), "{instance} {func} is not defined");
        }
        add_to_linker(&mut linker).unwrap_or_else(|e| panic!("{e}"));
    }
}
