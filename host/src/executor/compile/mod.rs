//! Compiling a component to machine code under the operator's limits. Cranelift cannot be
//! interrupted in-process, so by default a child process compiles ([`child`]): it runs with
//! a memory limit (`RLIMIT_DATA`) and is killed at the wall-clock limit, and the parent
//! checks that what comes back was made for its own engine.
//!
//! Invariant: with a child compiler, no component can keep compiling past
//! `compile_timeout` or grow the compiler past `compile_max_memory_bytes`; the in-process
//! compiler (only where no child can be run) enforces neither, and says so once.

mod child;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use wasmtime::Engine;

use super::engine::CodegenSettings;
use super::error::LoadError;

pub use child::run_compiler_child_if_requested;

/// Where components are compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Compiles `bytes` for `engine` (whose settings are `settings` and hash `engine_hash`) and
/// returns the serialized artifact. Blocks: call it on the blocking pool.
pub(crate) fn compile(
    compiler: &Compiler,
    settings: &CodegenSettings,
    engine: &Engine,
    engine_hash: &[u8; 32],
    bytes: &[u8],
    limits: Limits,
) -> Result<Vec<u8>, LoadError> {
    match compiler {
        Compiler::Child { program, args } => {
            child::compile(program, args, settings, engine_hash, bytes, limits)
        }
        Compiler::Auto | Compiler::InProcess => {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "compiling components in-process: the compile time and memory limits cannot \
                     be enforced (no compiler child: call warden::executor::run_compiler_child_if_requested \
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
