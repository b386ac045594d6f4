//! The cost of one isolated tool call, side by side in one run, on the hostile component's
//! trivial `echo` tool (parse `{"text": ...}`, return `{"text": ...}`):
//!
//! - `a_warden_call`: warden's full path — argument validation, queueing, a fresh Store and
//!   WASI context from a policy, fuel, epoch deadline, memory limiter, hostcall fuel, capped
//!   stdio, timeout, typed result and usage;
//! - `b_wasmtime_floor`: the same component on an engine with the same settings (so the same
//!   machine code), bare `InstancePre` instantiate + call in a minimal store, pooling allocator;
//! - `c_native_fn`: a Rust function doing the same JSON work;
//! - `d_subprocess`: spawning `/bin/cat` per call to echo the same bytes;
//!
//! plus loading the component from the precompiled cache vs compiling it.
//!
//! Run: `cargo bench -p warden --bench executor -- --warm-up-time 1 --measurement-time 3`

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use warden_sandbox::{CacheDir, EngineConfig, Executor, ToolPolicy};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// The floor's own bindings (warden's are private to the crate).
mod floor {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "warden:tool/toolbox",
        exports: { default: async },
    });
}
use floor::{Toolbox, ToolboxPre};

const ARGS: &str = r#"{"text":"hello, sandbox"}"#;
const EXPECTED: &str = r#"{"text":"hello, sandbox"}"#;

/// The bare store of the floor: what the component's imports need and nothing else.
struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: NoHttp,
}

struct NoHttp;

impl WasiHttpHooks for NoHttp {
    fn send_request(
        &mut self,
        _: http::Request<wasmtime_wasi_http::WasiBody>,
        _: Option<wasmtime_wasi_http::RequestOptions>,
        _: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                )>,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Bare {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl floor::warden::tool::host::Host for Bare {
    fn log(&mut self, _: floor::warden::tool::host::LogLevel, _: String) {}
    fn get_config(&mut self, _: String) -> Option<String> {
        None
    }
    fn config_keys(&mut self) -> Vec<String> {
        Vec::new()
    }
    fn idempotency_key(&mut self) -> Option<String> {
        None
    }
}

/// Same code-generation settings as warden's engine (fuel and epoch checks compiled in),
/// pooling allocator.
fn floor_engine() -> Engine {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(16)
        .total_core_instances(256)
        .total_memories(64)
        .total_tables(128)
        .total_stacks(16)
        .max_memories_per_component(4)
        .max_memory_size(256 << 20)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(512 << 10)
        .wasm_backtrace_max_frames(None)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("pooling engine")
}

fn native_echo(args: &str) -> String {
    let v: Value = serde_json::from_str(args).expect("json");
    json!({ "text": v["text"].as_str().expect("text") }).to_string()
}

fn subprocess_echo(args: &str) -> String {
    let mut child = Command::new("/bin/cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(args.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    String::from_utf8(out.stdout).expect("utf8")
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let cache = tempfile::tempdir().expect("tempdir");
    let exec = Executor::new(EngineConfig {
        cache_dir: CacheDir::Path(cache.path().to_path_buf()),
        ..EngineConfig::default()
    })
    .expect("executor");
    assert!(
        exec.uses_pooling(),
        "the pooling allocator is not available here"
    );
    let set = rt
        .block_on(exec.load_file(warden::testing::guests::HOSTILE))
        .expect("load");
    let policy = ToolPolicy::default();

    let engine = floor_engine();
    let component =
        Component::from_file(&engine, warden::testing::guests::HOSTILE).expect("compile");
    let mut linker: Linker<Bare> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("http");
    Toolbox::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).expect("host");
    let pre = ToolboxPre::new(linker.instantiate_pre(&component).expect("pre")).expect("pre");
    let floor_call = || async {
        let mut store = Store::new(
            &engine,
            Bare {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                http: WasiHttpCtx::new(),
                hooks: NoHttp,
            },
        );
        store.set_fuel(u64::MAX).expect("fuel");
        store.set_epoch_deadline(u64::MAX);
        let toolbox = pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiate");
        toolbox
            .warden_tool_tool()
            .call_invoke(&mut store, "echo", ARGS)
            .await
            .expect("call")
            .expect("echo")
    };

    // Sanity: all four do the same work.
    let warden_out = rt
        .block_on(exec.call(&set, "echo", ARGS, &policy))
        .result
        .expect("warden");
    assert_eq!(warden_out, EXPECTED);
    assert_eq!(rt.block_on(floor_call()), EXPECTED);
    assert_eq!(native_echo(ARGS), EXPECTED);
    assert_eq!(subprocess_echo(ARGS), ARGS);

    let mut group = c.benchmark_group("call_echo");
    group.bench_function("a_warden_call", |b| {
        b.iter(|| rt.block_on(exec.call(&set, "echo", ARGS, &policy)))
    });
    group.bench_function("b_wasmtime_floor", |b| b.iter(|| rt.block_on(floor_call())));
    group.bench_function("c_native_fn", |b| {
        b.iter(|| native_echo(std::hint::black_box(ARGS)))
    });
    group.bench_function("d_subprocess", |b| b.iter(|| subprocess_echo(ARGS)));
    group.finish();

    let bytes = std::fs::read(warden::testing::guests::HOSTILE).expect("read component");
    let mut group = c.benchmark_group("load");
    group.bench_function("cached", |b| {
        b.iter(|| {
            let set = rt.block_on(exec.load_bytes(&bytes)).expect("load");
            assert!(set.loaded_from_cache());
        })
    });
    let uncached = Executor::new(EngineConfig {
        cache_dir: CacheDir::Disabled,
        max_concurrent_calls: 2,
        ..EngineConfig::default()
    })
    .expect("executor");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("compile", |b| {
        b.iter(|| rt.block_on(uncached.load_bytes(&bytes)).expect("load"))
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
