//! Benchmark of installed packs (BENCHMARKS.md, "Tool packs"): the time to install a pack
//! (verify the signature and digests, precompile into an empty cache, record the grant), and the
//! warm start of an installed pack to a callable tool — `Store::load` (signature, digests,
//! grant) plus the cached component load — beside a plain cached load of the same component,
//! all in one process and one run.
//!
//! ```sh
//! cargo build --release -p warden-pack --example pack_bench
//! target/release/examples/pack_bench <component.wasm> <tool> '<args json>' [iterations]
//! ```

use std::time::{Duration, Instant};

use warden_pack::{Dirs, GrantInput, Manifest, Mode, PackFiles, Preapproved, SecretKey, Store};
use warden_sandbox::{CacheDir, EngineConfig, Executor, StateDir, ToolPolicy};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn executor(root: &std::path::Path) -> Result<Executor, Box<dyn std::error::Error>> {
    Ok(Executor::new(EngineConfig {
        cache_dir: CacheDir::Path(root.join("cache")),
        state_dir: StateDir::Path(root.join("state")),
        ..EngineConfig::default()
    })?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Compiles run in a child of this binary, under the compile limits, as in `warden`.
    warden_sandbox::run_compiler_child_if_requested();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, component, tool, call_args, rest @ ..] = args.as_slice() else {
        return Err("usage: pack_bench <component.wasm> <tool> '<args json>' [iterations]".into());
    };
    let iterations: usize = rest.first().map_or(Ok(50), |n| n.parse())?;
    let bytes = std::fs::read(component)?;
    let base = tempfile::tempdir()?;
    let (key, public, _) = warden_pack::generate(&base.path().join("author"))?;
    let manifest = Manifest::parse(&format!(
        "schema = 1\n[pack]\nname = \"bench\"\nversion = \"1.0.0\"\ndescription = \"bench\"\nlicense = \"MIT\"\n\
         [[components]]\nfile = \"tool.wasm\"\nsha256 = \"{}\"\ntools = [{tool:?}]\n",
        warden_pack::sha256_hex(&bytes)
    ))?;
    let signature = Some(SecretKey::read(&key)?.sign(&manifest)?);
    let files = PackFiles {
        manifest,
        signature,
        components: [("tool.wasm".to_string(), bytes.clone())].into(),
    };

    // Install: each time into fresh state and an empty cache (so it includes the compile).
    let mut install = Vec::new();
    let install_runs = 5;
    let mut last_root = None;
    for _ in 0..install_runs {
        let root = tempfile::tempdir()?;
        let store = Store::new(Dirs::new(
            root.path().join("config"),
            root.path().join("data"),
        ));
        store.trust().add(&public)?;
        let exec = executor(root.path())?;
        let started = Instant::now();
        store
            .install(
                files.clone(),
                Mode::Install,
                &mut Preapproved(GrantInput::default()),
                &exec,
            )
            .await?;
        install.push(started.elapsed());
        last_root = Some(root);
    }
    let root = last_root.ok_or("no install ran")?;
    let store = Store::new(Dirs::new(
        root.path().join("config"),
        root.path().join("data"),
    ));
    let installed_file = root.path().join("data/packs/bench/tool.wasm");
    // A fresh executor on the same cache: what a new `warden run` process starts with.
    let exec = executor(root.path())?;
    let policy = ToolPolicy::default();

    let mut pack_start = Vec::new();
    let mut plain = Vec::new();
    let mut pack_first_call = Vec::new();
    let mut verify_only = Vec::new();
    for _ in 0..iterations {
        // Interleaved, so drift on a busy machine hits both alike.
        let started = Instant::now();
        let set = exec.load_file(&installed_file).await?;
        plain.push(started.elapsed());
        assert!(
            set.loaded_from_cache(),
            "the plain load must come from the cache"
        );

        let started = Instant::now();
        let loaded = store.load("bench@^1")?;
        verify_only.push(started.elapsed());
        let set = exec
            .load_bytes(&loaded.files.components["tool.wasm"])
            .await?;
        pack_start.push(started.elapsed());
        assert!(set.loaded_from_cache() && set.tool(tool).is_some());
        let outcome = exec.call(&set, tool, call_args, &policy).await;
        pack_first_call.push(started.elapsed());
        outcome
            .result
            .map_err(|e| format!("the call failed: {e:?}"))?;
    }

    println!(
        "component: {component} ({} bytes), tool {tool}",
        bytes.len()
    );
    println!(
        "install (verify + precompile into an empty cache + grant), median of {install_runs}: {}",
        ms(median(install))
    );
    println!("warm start, median of {iterations}:");
    println!(
        "  plain cached component load (load_file):           {}",
        ms(median(plain))
    );
    println!(
        "  installed pack: Store::load (signature, digests, grant): {}",
        ms(median(verify_only))
    );
    println!(
        "  installed pack to a callable tool (load + cached load): {}",
        ms(median(pack_start))
    );
    println!(
        "  installed pack to the first call's result:          {}",
        ms(median(pack_first_call))
    );
    Ok(())
}
