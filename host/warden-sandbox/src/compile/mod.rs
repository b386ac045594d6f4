//! Compiling a component to machine code under the operator's limits. Cranelift cannot be
//! interrupted in-process, so by default a child process compiles ([`child`]): it runs with
//! a memory limit (`RLIMIT_DATA`) and is killed at the wall-clock limit, and the parent
//! checks that what comes back was made for its own engine.
//!
//! Invariant: with a child compiler, no component can keep compiling past
//! `compile_timeout` or grow the compiler past `compile_max_memory_bytes`; the in-process
//! compiler (only where no child can be run) enforces neither, and says so once. At most one
//! compilation per core runs at a time in the process (others wait for a slot), so many cold
//! loads at once cannot multiply the memory limit by their number.

mod child;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Condvar, LazyLock, Mutex, Once, PoisonError};
use std::time::Duration;

use wasmtime::Engine;

use super::engine::CodegenSettings;
use super::error::LoadError;

pub use child::run_compiler_child_if_requested;

/// Where components are compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compiler {
    /// A child process running this executable, if the process called
    /// [`run_compiler_child_if_requested`] first thing in `main` (the `warden` binary does;
    /// warden's test binaries do it before `main`); otherwise in-process, with a warning that
    /// the compile limits do not apply.
    Auto,
    /// A child process: `program` with `args`, which must call
    /// [`run_compiler_child_if_requested`] before anything else.
    Child {
        /// The executable.
        program: PathBuf,
        /// Its arguments.
        args: Vec<OsString>,
    },
    /// This process. Cranelift cannot be interrupted, so a component built to be slow to
    /// compile holds a blocking thread for as long as it takes, with no memory limit.
    InProcess,
}

impl Compiler {
    /// What `Auto` means in this process.
    pub(crate) fn resolve(&self) -> Self {
        match self {
            Self::Auto if child::served_here() => match std::env::current_exe() {
                Ok(program) => Self::Child {
                    program,
                    args: Vec::new(),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot find this executable to run the compiler child; compiling in-process without time or memory limits");
                    Self::InProcess
                }
            },
            Self::Auto => Self::InProcess,
            other => other.clone(),
        }
    }
}

/// The limits of one compilation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) max_memory_bytes: u64,
}

/// A counting gate: at most `slots` holders at once; the others block until one leaves.
pub(crate) struct Gate {
    slots: usize,
    taken: Mutex<usize>,
    freed: Condvar,
}

/// One holder of a [`Gate`] slot; the slot is given back on drop.
pub(crate) struct Slot<'a>(&'a Gate);

impl Gate {
    pub(crate) fn new(slots: usize) -> Self {
        Gate {
            slots: slots.max(1),
            taken: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot.
    pub(crate) fn enter(&self) -> Slot<'_> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        while *taken >= self.slots {
            taken = self
                .freed
                .wait(taken)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *taken += 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut taken = self.0.taken.lock().unwrap_or_else(PoisonError::into_inner);
        *taken -= 1;
        self.0.freed.notify_one();
    }
}

/// The process's compilations: one per core at a time.
static COMPILING: LazyLock<Gate> =
    LazyLock::new(|| Gate::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// Compiles `bytes` for `engine` (whose settings are `settings` and hash `engine_hash`) and
/// returns the serialized artifact, once a compile slot is free (the time limit counts from
/// then). Blocks: call it on the blocking pool.
pub(crate) fn compile(
    compiler: &Compiler,
    settings: &CodegenSettings,
    engine: &Engine,
    engine_hash: &[u8; 32],
    bytes: &[u8],
    limits: Limits,
) -> Result<Vec<u8>, LoadError> {
    let _slot = COMPILING.enter();
    match compiler {
        Compiler::Child { program, args } => {
            child::compile(program, args, settings, engine_hash, bytes, limits)
        }
        Compiler::Auto | Compiler::InProcess => {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "compiling components in-process: the compile time and memory limits cannot \
                     be enforced (no compiler child: call warden_sandbox::run_compiler_child_if_requested \
                     first in main, or set EngineConfig::compiler)"
                );
            });
            engine
                .precompile_component(bytes)
                .map_err(|e| LoadError::Compile(format!("{e:#}")))
        }
    }
}

#[cfg(test)]
mod tests;
