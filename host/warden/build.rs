//! Builds the guest components in `guest-tools/` for `wasm32-wasip2` and writes
//! `$OUT_DIR/guests.rs` with one path constant per component, and the bytes of the tools
//! users get (not the test-only ones) as warden's built-in components.
//!
//! Like wasmtime's `test-programs/artifacts`, the guests are compiled by a nested cargo into a
//! target directory of their own, so `cargo test` always runs the tools of this checkout.
//! If the `wasm32-wasip2` target is missing it is added with rustup (saying so); the build
//! fails with a clear message only when that is impossible.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (constant name, cargo package name, member directory) of every guest component.
const GUESTS: &[(&str, &str, &str)] = &[
    ("CALC", "tool-calc", "calc"),
    ("TEXT", "tool-text", "text"),
    ("FS", "tool-fs", "fs"),
    ("HTTP", "tool-http", "http"),
    ("HOSTILE", "tool-hostile", "hostile"),
    ("BAD_DESCRIBE", "tool-bad-describe", "bad-describe"),
    ("TYPED", "tool-typed", "typed"),
    ("PREV_WIT", "tool-prev-wit", "prev-wit"),
];

/// The guest tools compiled into warden, as `builtin:<member directory>`.
const BUILTINS: &[&str] = &["calc", "text", "fs", "http"];

const TARGET: &str = "wasm32-wasip2";

fn main() {
    if let Err(message) = run() {
        // A panic in a build script prints its message; keep it to the point.
        panic!("\n\nwarden build: {message}\n\n");
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let guest_ws = manifest_dir.join("../../guest-tools");
    let guest_ws = guest_ws.canonicalize().map_err(|e| {
        format!(
            "cannot find the guest workspace at {}: {e}",
            guest_ws.display()
        )
    })?;
    let wit_dir = manifest_dir.join("../../wit");

    println!(
        "cargo:rerun-if-changed={}",
        guest_ws.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        guest_ws.join("Cargo.lock").display()
    );
    for member in [
        "sdk",
        "macros",
        "calc",
        "text",
        "fs",
        "http",
        "hostile",
        "bad-describe",
        "typed",
        "prev-wit",
    ] {
        println!("cargo:rerun-if-changed={}", guest_ws.join(member).display());
    }
    println!("cargo:rerun-if-changed={}", wit_dir.display());
    println!("cargo:rerun-if-env-changed=WARDEN_GUEST_TARGET_DIR");

    let guests: Vec<_> = GUESTS
        .iter()
        .filter(|(_, _, dir)| guest_ws.join(dir).join("Cargo.toml").exists())
        .collect();
    let mut generated = String::new();
    let mut builtins = String::new();
    if guests.is_empty() {
        generated.push_str(BUILTINS_NONE);
        std::fs::write(out_dir.join("guests.rs"), generated)
            .map_err(|e| format!("cannot write guests.rs: {e}"))?;
        return Ok(());
    }
    ensure_target()?;

    let target_dir = guest_target_dir(&out_dir, &guest_ws);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(guest_ws.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package, _) in &guests {
        cmd.arg("-p").arg(package);
    }
    // The outer build's flags and wrappers (clippy, coverage) are for the host, not the guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("could not run cargo to build the guest tools: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the guest tools in {} for {TARGET} failed (see the cargo output above)",
            guest_ws.display()
        ));
    }

    for (constant, package, dir) in &guests {
        let file = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{}.wasm", package.replace('-', "_")));
        if !file.exists() {
            return Err(format!(
                "the guest build did not produce {}",
                file.display()
            ));
        }
        generated.push_str(&format!(
            "/// Path of the `{package}` component built from `guest-tools/`.\npub const {constant}: &str = {:?};\n",
            file.display().to_string()
        ));
        if BUILTINS.contains(dir) {
            builtins.push_str(&format!(
                "    ({dir:?}, include_bytes!({:?})),\n",
                file.display().to_string()
            ));
        }
    }
    generated.push_str(&format!(
        "/// The components compiled into warden: (name, bytes).\n\
         pub(crate) const BUILTINS: &[(&str, &[u8])] = &[\n{builtins}];\n"
    ));
    std::fs::write(out_dir.join("guests.rs"), generated)
        .map_err(|e| format!("cannot write guests.rs: {e}"))?;
    Ok(())
}

/// `guests.rs`'s built-ins when the guest workspace is not there (a packaged crate).
const BUILTINS_NONE: &str = "pub(crate) const BUILTINS: &[(&str, &[u8])] = &[];\n";

/// The guests get a target dir beside the host's (`<target>/wasm-guests-<id>`), so all host
/// profiles share one guest build; `<id>` keeps separate checkouts sharing a target dir apart.
fn guest_target_dir(out_dir: &Path, guest_ws: &Path) -> PathBuf {
    if let Ok(dir) = env::var("WARDEN_GUEST_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // OUT_DIR is <target>/<profile>/build/warden-<hash>/out (or one level deeper with --target).
    let target_root = out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("wasm-guests"));
    let id: u32 = guest_ws
        .to_string_lossy()
        .bytes()
        .fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        });
    target_root.join(format!("wasm-guests-{id:08x}"))
}

/// Makes sure the standard library for `wasm32-wasip2` is installed, adding it with rustup.
fn ensure_target() -> Result<(), String> {
    if target_installed() {
        return Ok(());
    }
    println!(
        "cargo:warning=the {TARGET} target is missing; adding it with `rustup target add {TARGET}`"
    );
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .map_err(|e| {
            format!(
                "the Rust target {TARGET} is not installed and rustup could not be run ({e}); \
                 install the target for your toolchain (`rustup target add {TARGET}`) and build again"
            )
        })?;
    if !status.success() || !target_installed() {
        return Err(format!(
            "the Rust target {TARGET} is not installed and `rustup target add {TARGET}` failed; \
             run it by hand (it needs network access to the Rust distribution server) and build again"
        ));
    }
    Ok(())
}

fn target_installed() -> bool {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}
