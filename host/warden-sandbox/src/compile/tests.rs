//! The compile limits, enforced on a real child process (this test binary, re-run).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::{Duration, Instant};

use super::*;
use crate::cache::engine_hash;
use crate::engine::compiler_engine;
use crate::{CacheDir, EngineConfig, Executor};

/// This test binary re-run as the compiler child (it serves before `main`, see `lib.rs`).
fn child() -> Compiler {
    let child = Compiler::Auto.resolve();
    assert!(matches!(child, Compiler::Child { .. }), "{child:?}");
    child
}

/// A component that Cranelift takes minutes to compile: `locals` values live across
/// `blocks` conditional blocks that each redefine one of them.
pub(crate) fn slow_to_compile(locals: usize, blocks: usize) -> Vec<u8> {
    let mut body = String::from("(local");
    body.push_str(&" i64".repeat(locals));
    body.push_str(")\n");
    for i in 0..locals {
        body.push_str(&format!("i64.const {i} local.set {i}\n"));
    }
    for j in 0..blocks {
        body.push_str(&format!(
            "(block (br_if 0 (i32.const {j})) (local.set {} (i64.const 1)))\n",
            j % locals
        ));
    }
    body.push_str("i64.const 0\n");
    for i in 0..locals {
        body.push_str(&format!("local.get {i} i64.add\n"));
    }
    body.push_str("drop\n");
    wat::parse_str(format!(
        "(component (core module (func (export \"f\") {body})))"
    ))
    .unwrap()
}

fn settings() -> (CodegenSettings, Engine) {
    let settings = CodegenSettings::of(&EngineConfig::default());
    let engine = compiler_engine(&settings).unwrap();
    (settings, engine)
}

#[test]
fn the_child_compiles_a_component_this_engine_loads() {
    let (settings, engine) = settings();
    let bytes = wat::parse_str("(component)").unwrap();
    let limits = Limits {
        timeout: Duration::from_secs(60),
        max_memory_bytes: 2 << 30,
    };
    let artifact = compile(
        &child(),
        &settings,
        &engine,
        &engine_hash(&engine),
        &bytes,
        limits,
    )
    .unwrap();
    // SAFETY: made by our own compiler child just now, for this engine.
    assert!(unsafe { wasmtime::component::Component::deserialize(&engine, &artifact) }.is_ok());
}

#[test]
fn an_invalid_component_is_a_compile_error_from_the_child() {
    let (settings, engine) = settings();
    let bytes = wat::parse_str("(component (core module (func (result i32))))").unwrap();
    let limits = Limits {
        timeout: Duration::from_secs(60),
        max_memory_bytes: 2 << 30,
    };
    let err = compile(
        &child(),
        &settings,
        &engine,
        &engine_hash(&engine),
        &bytes,
        limits,
    )
    .unwrap_err();
    assert!(
        matches!(&err, LoadError::Compile(m) if m.contains("type mismatch")),
        "{err:?}"
    );
}

#[test]
fn a_slow_to_compile_component_is_stopped_at_the_compile_timeout() {
    let (settings, engine) = settings();
    let bomb = slow_to_compile(2000, 20_000);
    let limits = Limits {
        timeout: Duration::from_secs(2),
        max_memory_bytes: 2 << 30,
    };
    let started = Instant::now();
    let err = compile(
        &child(),
        &settings,
        &engine,
        &engine_hash(&engine),
        &bomb,
        limits,
    )
    .unwrap_err();
    assert!(
        matches!(err, LoadError::CompileTimeout { limit } if limit == Duration::from_secs(2)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("compile_timeout"), "{err}");
}

#[test]
fn a_compile_over_the_memory_limit_is_stopped() {
    let (settings, engine) = settings();
    let limits = Limits {
        timeout: Duration::from_secs(120),
        max_memory_bytes: 96 << 20,
    };
    // The limit leaves room for a small component: it is the big one that hits it.
    let small = slow_to_compile(10, 10);
    compile(
        &child(),
        &settings,
        &engine,
        &engine_hash(&engine),
        &small,
        limits,
    )
    .unwrap();
    let bomb = slow_to_compile(1000, 4000);
    let err = compile(
        &child(),
        &settings,
        &engine,
        &engine_hash(&engine),
        &bomb,
        limits,
    )
    .unwrap_err();
    assert!(
        matches!(err, LoadError::CompileMemoryLimit { limit_bytes } if limit_bytes == 96 << 20),
        "{err:?}"
    );
}

#[test]
fn a_component_over_the_size_cap_is_refused_before_compiling() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let exec = Executor::new(EngineConfig {
        cache_dir: CacheDir::Disabled,
        max_component_bytes: 1000,
        compiler: child(),
        pooling: false,
        ..EngineConfig::default()
    })
    .unwrap();
    let big = slow_to_compile(10, 100);
    assert!(big.len() > 1000);
    let err = runtime.block_on(exec.load_bytes(&big)).unwrap_err();
    assert!(
        matches!(err, LoadError::ComponentTooLarge { size, limit_bytes: 1000 } if size == big.len() as u64),
        "{err:?}"
    );
}

#[test]
fn the_compile_gate_lets_no_more_than_its_slots_in_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let gate = super::Gate::new(2);
    let inside = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let _slot = gate.enter();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                inside.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "never more than two at once"
    );
}
