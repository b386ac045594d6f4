//! warden-sandbox: the sandboxed tool executor. It loads tool components and runs one tool
//! call in a fresh, fuel-limited, deadline-enforced instance, reporting exactly what
//! happened. It depends on no other warden crate: the runtime (`warden`) maps its outcomes
//! into the agent loop's.
//!
//! ```text
//! Executor::new(EngineConfig)           one Engine, epoch ticker, Linker, instance semaphore
//!   .load_file(path) / .load_bytes(..)  -> Arc<ToolSet>   (cache, link, describe, validate)
//!   .call(&set, tool, args, &policy)    -> CallOutcome    (validate, sandbox, typed result)
//! ```
//!
//! Invariant: every call runs in its own Store and WASI context built from the operator's
//! [`ToolPolicy`] alone; nothing is inherited from the host or from earlier calls, and at
//! most `max_concurrent_calls` instances exist at once (further calls queue).
//!
//! Every public item has one path: the crate root, except outgoing HTTP, which lives in
//! [`egress`], and the policy's quantity parsers in [`units`].

#![deny(missing_docs)]

mod bindings;
mod cache;
mod call;
mod compile;
mod config;
pub mod egress;
mod engine;
mod error;
mod host_iface;
mod limits;
mod loader;
mod pipe;
mod policy;
mod sandbox;
mod state_dirs;
mod store;
mod tools;
mod typed;
mod usage;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use compile::{Compiler, run_compiler_child_if_requested};
pub use config::{CacheDir, EngineConfig, StateDir};
pub use error::{CallLimit, ExecutorError, LoadError, ToolCallError};
pub use host_iface::{IDEMPOTENCY_KEY_CONFIG, LogRecord};
pub use limits::HostLimit;
pub use loader::ToolSet;
pub use policy::{
    ApprovalSetting, DirMode, GrantedDir, PolicyError, PolicyFile, PolicyOverride, Quantity,
    ToolPolicy, units,
};
pub use tools::{ToolInfo, is_valid_tool_name};
pub use usage::{CallOutcome, CallUsage};
pub use warden_wit::Skipped;

use cache::ArtifactCache;
use engine::CodegenSettings;
use state_dirs::Registration;
use store::StoreState;

/// Runs tool calls in sandboxes. Cheap to clone (one shared engine); `Send + Sync`, so
/// calls may come from many tasks at once.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    engine: Engine,
    linker: Linker<StoreState>,
    permits: Semaphore,
    cache: ArtifactCache,
    /// `config.compiler` with `Auto` resolved.
    compiler: Compiler,
    codegen: CodegenSettings,
    config: EngineConfig,
    pooling: bool,
    /// Keeps the cache and key directories out of every grant while the executor lives.
    _state_dirs: Registration,
}

impl Executor {
    /// Builds the engine (pooling allocator if possible), starts its epoch ticker, and links
    /// the host interfaces.
    pub fn new(config: EngineConfig) -> Result<Self, ExecutorError> {
        let (engine, pooling) = engine::build_engine(&config)?;
        engine::start_epoch_ticker(&engine, config.epoch_tick);
        let linker = engine::build_linker(&engine)?;
        // Protected before they are created, so no grant can race the cache into existence.
        let state_dirs = state_dirs::register(
            &[config.cache_dir.resolve(), config.state_dir.resolve()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        );
        let cache = ArtifactCache::open(
            &engine,
            &config.cache_dir,
            &config.state_dir,
            config.compile_max_memory_bytes,
        );
        let permits = Semaphore::new(config.max_concurrent_calls.max(1) as usize);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                permits,
                cache,
                compiler: config.compiler.resolve(),
                codegen: CodegenSettings::of(&config),
                config,
                pooling,
                _state_dirs: state_dirs,
            }),
        })
    }

    /// Loads the component at `path` (see [`Executor::load_bytes`]).
    pub async fn load_file(&self, path: impl AsRef<Path>) -> Result<Arc<ToolSet>, LoadError> {
        loader::load_file(&self.inner, path.as_ref()).await
    }

    /// Loads a component: compiles it (or deserializes the cached artifact), links it, runs
    /// `describe()` once in a strict sandbox and validates the tools it lists.
    pub async fn load_bytes(&self, bytes: &[u8]) -> Result<Arc<ToolSet>, LoadError> {
        loader::load_bytes(&self.inner, bytes).await
    }

    /// Runs tool `name` of `tools` with `args_json` under `policy`. Never panics and never
    /// fails as a whole: the outcome holds the output or a typed error, plus usage.
    pub async fn call(
        &self,
        tools: &ToolSet,
        name: &str,
        args_json: &str,
        policy: &ToolPolicy,
    ) -> CallOutcome {
        call::call(
            &self.inner,
            tools,
            name,
            call::Args::Json(args_json),
            policy,
        )
        .await
    }

    /// [`Executor::call`] with arguments the caller has parsed already (as a loop that
    /// checked them has): they are checked against the tool's schema here all the same, and
    /// encoded once, for the guest.
    pub async fn call_value(
        &self,
        tools: &ToolSet,
        name: &str,
        args: &serde_json::Value,
        policy: &ToolPolicy,
    ) -> CallOutcome {
        call::call(&self.inner, tools, name, call::Args::Value(args), policy).await
    }

    /// Whether the pooling allocator is in use (false after a fallback to on-demand).
    pub fn uses_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The precompiled-artifact cache directory, if caching is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache.dir()
    }

    /// The directory of the cache's key, if caching is on.
    pub fn state_dir(&self) -> Option<&Path> {
        self.inner.cache.state_dir()
    }

    /// The engine settings this executor was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }
}

/// This crate's own test binary serves as its compiler child, before libtest's `main` runs.
#[cfg(all(test, target_os = "linux"))]
#[used]
#[unsafe(link_section = ".init_array")]
static SERVE_COMPILER_CHILD: extern "C" fn() = {
    extern "C" fn serve() {
        run_compiler_child_if_requested();
    }
    serve
};

#[cfg(test)]
mod tests {
    /// Calls come from many tasks: the executor and what it hands out must be shareable.
    #[test]
    fn executor_and_tool_sets_are_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<super::Executor>();
        shareable::<super::ToolSet>();
        shareable::<super::CallOutcome>();
    }
}
