//! The per-call sandbox: [`StoreState`] (WASI context, resource table, wasi-http context and
//! hooks, memory limiter, `host` import state) and [`new_store`], which builds a fresh
//! [`Store`] from a [`ToolPolicy`].
//!
//! Invariant: a store starts with nothing from the host — no env, args, stdin, preopens,
//! sockets or name lookups — and gets only what the policy grants. Stores are never reused.

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use std::sync::Arc;

use super::egress::{EgressHooks, Resolver};
use super::host_iface::HostState;
use super::limits::CallLedger;
use super::pipe::CappedPipe;
use super::policy::{DirMode, ToolPolicy};

/// Everything one call's store holds.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    pub(crate) egress: EgressHooks,
    pub(crate) limiter: CallLimiter,
    /// Open files, creations, writes and random bytes, charged by the linker shims.
    pub(crate) ledger: Arc<CallLedger>,
    pub(crate) host: HostState,
    pub(crate) stdout: CappedPipe,
    pub(crate) stderr: CappedPipe,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

/// Caps linear memory growth (growth past the cap traps) and remembers the peak.
#[derive(Debug)]
pub(crate) struct CallLimiter {
    max_memory: usize,
    pub(crate) peak_memory: usize,
    pub(crate) memory_exceeded: bool,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_exceeded = true;
            // An error (rather than `Ok(false)`) traps at once: a guest allocator that sees
            // a failed grow would abort with a generic `unreachable` instead.
            wasmtime::bail!("memory limit of {} bytes exceeded", self.max_memory);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Builds a fresh store for one call (or for `describe` at load time).
pub(crate) fn new_store(
    engine: &Engine,
    policy: &ToolPolicy,
    max_memory: u64,
    resolver: &Arc<dyn Resolver>,
) -> Result<Store<StoreState>, String> {
    let stdio_cap = usize::try_from(policy.max_stdio_bytes).unwrap_or(usize::MAX);
    let stdout = CappedPipe::new(stdio_cap);
    let stderr = CappedPipe::new(stdio_cap);
    let mut wasi = WasiCtxBuilder::new();
    // The builder starts empty (no inherited env, args, stdio or preopens); spell out the
    // network denials so a future default change cannot open them.
    wasi.stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        // The ledger charges random bytes per call; this also caps a single request.
        .max_random_size(policy.max_random_bytes);
    for (k, v) in &policy.env {
        wasi.env(k, v);
    }
    for dir in &policy.dirs {
        let perms = match dir.mode {
            DirMode::ReadOnly => FsPerms::ReadOnly,
            DirMode::ReadWrite => FsPerms::ReadWrite,
        };
        wasi.preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|e| format!("cannot open the granted directory for {}: {e}", dir.guest))?;
    }
    // Every host object a guest can make (and pin host memory with) is a table entry, and
    // every header object is capped in bytes: together they bound that memory.
    let max_resources = usize::try_from(policy.max_host_resources).unwrap_or(usize::MAX);
    let mut table = ResourceTable::new();
    table.set_max_capacity(max_resources);
    let mut http = WasiHttpCtx::new();
    http.set_field_size_limit(usize::try_from(policy.max_http_fields_bytes).unwrap_or(usize::MAX));
    let state = StoreState {
        wasi: wasi.build(),
        table,
        http,
        egress: EgressHooks::new(Arc::new(policy.egress.clone()), resolver.clone()),
        limiter: CallLimiter {
            max_memory: usize::try_from(max_memory).unwrap_or(usize::MAX),
            peak_memory: 0,
            memory_exceeded: false,
        },
        ledger: CallLedger::new(policy),
        host: HostState {
            config: policy.config.clone(),
            logs: Vec::new(),
            max_logs: usize::try_from(policy.max_log_messages).unwrap_or(usize::MAX),
            dropped_logs: 0,
        },
        stdout,
        stderr,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    // Component-model handles (the guest's side of host objects, plus resources a component
    // defines itself) live in host memory too; each host object may need two (own + borrow).
    store.set_max_component_handles(max_resources.saturating_mul(2));
    // Fuel is always on in the engine; "no fuel" is an unreachable budget.
    store
        .set_fuel(policy.fuel.unwrap_or(u64::MAX))
        .map_err(|e| e.to_string())?;
    store.set_epoch_deadline(1);
    // Yield to the executor at every tick so the outer timeout can fire even while the guest
    // computes without calling the host.
    store.epoch_deadline_async_yield_and_update(1);
    store.set_hostcall_fuel(usize::try_from(policy.max_hostcall_bytes).unwrap_or(usize::MAX));
    Ok(store)
}
