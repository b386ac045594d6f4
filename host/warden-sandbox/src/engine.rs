//! Builds the one shared wasmtime [`Engine`] (component model, fuel, epochs, stack limit,
//! no wasm backtraces, pooling allocator with on-demand fallback), the ticker that advances
//! its epoch, and the [`Linker`] with every interface a tool may import.
//!
//! Invariant: the linker holds WASI p2 (a few functions shimmed to charge the call's limits,
//! see `limits/shims.rs`), wasi-http and `warden:tool/host` only; what each of them may
//! actually do is decided per call by the store built in `store.rs`. Every engine setting
//! that affects code generation comes from [`CodegenSettings`], which the compiler child
//! receives, so it builds machine code this engine accepts.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::Toolbox;
use super::config::EngineConfig;
use super::error::ExecutorError;
use super::store::StoreState;

/// The engine settings that decide the machine code (and its compatibility hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CodegenSettings {
    max_wasm_stack: usize,
}

impl CodegenSettings {
    pub(crate) fn of(cfg: &EngineConfig) -> Self {
        Self {
            max_wasm_stack: cfg.max_wasm_stack,
        }
    }
}

/// Creates the engine; the bool says whether the pooling allocator is in use.
pub(crate) fn build_engine(cfg: &EngineConfig) -> Result<(Engine, bool), ExecutorError> {
    let settings = CodegenSettings::of(cfg);
    if cfg.pooling {
        let mut config = base_config(&settings);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(cfg)));
        match Engine::new(&config) {
            Ok(engine) => return Ok((engine, true)),
            Err(e) => tracing::warn!(
                error = %e,
                "cannot reserve address space for the pooling allocator; using on-demand allocation (slower instantiation)"
            ),
        }
    }
    let engine =
        Engine::new(&base_config(&settings)).map_err(|e| ExecutorError::Engine(e.to_string()))?;
    Ok((engine, false))
}

/// An engine that only compiles (the compiler child's): the same code generation as the
/// executor's, without the pooling allocator's address-space reservation.
pub(crate) fn compiler_engine(settings: &CodegenSettings) -> wasmtime::Result<Engine> {
    Engine::new(&base_config(settings))
}

fn base_config(cfg: &CodegenSettings) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(cfg.max_wasm_stack)
        // Backtraces would carry frame names into error messages; the model sees traps.
        .wasm_backtrace_max_frames(None)
        .parallel_compilation(true);
    config
}

fn pooling(cfg: &EngineConfig) -> PoolingAllocationConfig {
    let slots = cfg.max_concurrent_calls.max(1);
    let mut pool = PoolingAllocationConfig::new();
    // Rust wasip2 components hold a handful of core instances (main module plus shims)
    // and one or two memories; leave headroom for tool packs built with other toolchains.
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(16))
        .total_memories(slots.saturating_mul(4))
        .total_tables(slots.saturating_mul(8))
        .total_stacks(slots)
        .max_memories_per_component(4)
        .max_memory_size(usize::try_from(cfg.max_memory_bytes).unwrap_or(usize::MAX))
        // Keeping memory resident avoids page faults on every fresh instance; with
        // PAGEMAP_SCAN (Linux 6.7+) only the pages a call dirtied are reset, instead of a
        // memset of the whole resident part (a quarter of a small call's cost).
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Advances the engine's epoch every `tick` on a thread of its own. The thread holds only a
/// weak reference and ends once the engine is dropped.
pub(crate) fn start_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("warden-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(e) = spawned {
        // Without the ticker a guest that never yields could only be stopped by fuel.
        tracing::error!(error = %e, "cannot start the epoch ticker thread; deadlines will not interrupt running guests");
    }
}

/// The linker shared by every call: WASI p2, wasi-http, and the `warden:tool/host` import.
pub(crate) fn build_linker(engine: &Engine) -> Result<Linker<StoreState>, ExecutorError> {
    let mut linker = Linker::new(engine);
    let err = |e: wasmtime::Error| ExecutorError::Linker(e.to_string());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(err)?;
    // Shadows the WASI functions whose cost the guest chooses (open, create, write, random).
    super::limits::shims::add_to_linker(&mut linker).map_err(err)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(err)?;
    Toolbox::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut StoreState| &mut s.host)
        .map_err(err)?;
    Ok(linker)
}
