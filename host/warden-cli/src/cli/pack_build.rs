//! `warden pack build [DIR]`: a tool crate to a pack folder (`pack.toml` plus components).
//!
//! The crate's own `pack.toml` is the author's part (who the pack is, what it asks for and
//! why); the build appends the `[[components]]` it produced, each with its digest and the
//! tools the component's `describe()` lists, run in the sandbox. Invariant: the written
//! manifest went through [`warden_pack::Manifest::parse`] (errors name lines of the author's
//! file, which is copied unchanged), and the output folder is replaced in one rename, so it
//! is always a whole pack. A previous signature is not carried over: it was over another
//! manifest.
//!
//! A typed component (one that does not export `warden:tool`) gets the doc comments of the
//! crate's `wit/` folder (its `deps/` included) embedded as its `package-docs` section,
//! which standard builds drop: the bytes written, their digest in `pack.toml` and the tools
//! recorded are all of the component with its docs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use warden_pack::{MANIFEST_FILE, Manifest};
use warden_wit::docs::{PackageDocs, embed};

use super::Console;
use super::cargo_wasm::{self, Built};
use super::tool_wit::read_capped;

/// The largest `pack.toml` read.
const MAX_MANIFEST_BYTES: u64 = 256 << 10;
/// The largest component read back from cargo's target folder.
const MAX_COMPONENT_BYTES: u64 = 256 << 20;

/// `warden pack build [DIR] [--out DIR]`
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The tool crate's folder (with Cargo.toml and pack.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where to write the pack (default: `<DIR>/pack`); replaced if it holds a pack.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Runs `warden pack build`.
pub async fn run(args: BuildArgs, console: &Console) -> Result<()> {
    let started = Instant::now();
    let template = read_template(&args.dir)?;
    let dir = args.dir.clone();
    let build_console = console.clone();
    let built = tokio::task::spawn_blocking(move || {
        cargo_wasm::ensure_target(&dir, &build_console)?;
        cargo_wasm::build(&dir, &build_console)
    })
    .await
    .context("the build task failed")??;
    let compiled = started.elapsed();

    let exec = warden_sandbox::Executor::new(warden_sandbox::EngineConfig {
        max_concurrent_calls: 1,
        ..warden_sandbox::EngineConfig::default()
    })?;
    let mut components = Vec::new();
    for built in &built {
        components.push(describe(&exec, built, &args.dir, console).await?);
    }
    let text = manifest_text(&template, &components);
    let manifest = Manifest::parse(&text).with_context(|| {
        format!(
            "{} is not a valid pack manifest (line numbers are the file's own)",
            args.dir.join(MANIFEST_FILE).display()
        )
    })?;
    let out = args.out.clone().unwrap_or_else(|| args.dir.join("pack"));
    write_pack(&out, &text, &components)?;
    let tools: Vec<&str> = manifest
        .components
        .iter()
        .flat_map(|c| c.tools.iter().map(String::as_str))
        .collect();
    let sizes: Vec<String> = components
        .iter()
        .map(|c| format!("{} {} KB", c.file, c.bytes.len().div_ceil(1024)))
        .collect();
    console.out_text(&format!(
        "built {} -> {} ({}; tools: {}) in {:.1}s (cargo {:.1}s)\nnext: warden pack sign {} --key <your.key>\n",
        manifest.id(),
        out.display(),
        sizes.join(", "),
        tools.join(", "),
        started.elapsed().as_secs_f64(),
        compiled.as_secs_f64(),
        out.display()
    ));
    Ok(())
}

/// One built component: its file name in the pack, bytes and tools.
struct Described {
    file: String,
    bytes: Vec<u8>,
    tools: Vec<String>,
}

/// The author's `pack.toml`, which must not list components itself.
fn read_template(dir: &Path) -> Result<String> {
    let path = dir.join(MANIFEST_FILE);
    if !path.is_file() {
        bail!(
            "{} is missing: it says who the pack is and what it may touch; \
             `warden tool new` writes one (copy it from a new crate)",
            path.display()
        );
    }
    let bytes = read_capped(&path, MAX_MANIFEST_BYTES)?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
    if let Some(line) = text
        .lines()
        .position(|l| l.trim_start().starts_with("[[components]]"))
    {
        bail!(
            "{}:{}: remove [[components]]: `warden pack build` writes them from what it built",
            path.display(),
            line + 1
        );
    }
    Ok(text)
}

/// Loads a built component in the sandbox and asks it for its tools; a typed one first
/// gets the docs of the crate's WIT source.
async fn describe(
    exec: &warden_sandbox::Executor,
    built: &Built,
    dir: &Path,
    console: &Console,
) -> Result<Described> {
    let mut bytes = read_capped(&built.path, MAX_COMPONENT_BYTES)?;
    let file = built
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| warden_pack::is_component_file(n))
        .with_context(|| {
            format!(
                "{} cannot be a file in a pack (a plain name ending in .wasm)",
                built.path.display()
            )
        })?
        .to_string();
    let load_error = || format!("{} (package {}) does not load", file, built.package);
    let mut set = exec.load_bytes(&bytes).await.with_context(load_error)?;
    if set.is_typed() {
        let wit = dir.join("wit");
        if wit.is_dir() {
            bytes = with_wit_docs(&bytes, &wit, &file)?;
            set = exec.load_bytes(&bytes).await.with_context(load_error)?;
        } else {
            console.err_line(&format!(
                "{file} is a typed component and {} has no wit/ folder: its tools' \
                 descriptions are generated from their signatures",
                dir.display()
            ));
        }
    }
    let tools: Vec<String> = set.tools().iter().map(|t| t.name.clone()).collect();
    if tools.is_empty() {
        bail!(
            "{file} (package {}) offers no tools: list them in warden_tool::export_tools!(..) \
             or export functions from its WIT world",
            built.package
        );
    }
    Ok(Described { file, bytes, tools })
}

/// `component` with the doc comments of the WIT source at `wit` as its `package-docs`.
fn with_wit_docs(component: &[u8], wit: &Path, file: &str) -> Result<Vec<u8>> {
    let docs = PackageDocs::from_wit(wit).with_context(|| {
        format!(
            "cannot read the doc comments {file} gets from {}: fix the WIT \
             (or move it out of wit/ if the component is not built from it)",
            wit.display()
        )
    })?;
    embed(component, &docs).with_context(|| {
        format!("{file} is not a WebAssembly component (its sections do not parse)")
    })
}

/// The author's text, then one `[[components]]` per built component.
fn manifest_text(template: &str, components: &[Described]) -> String {
    let mut text = template.trim_end().to_string();
    text.push_str(
        "\n\n# Written by `warden pack build`: the components it built, their digests and the tools\n\
         # each one's describe() lists.\n",
    );
    for component in components {
        let tools: Vec<String> = component
            .tools
            .iter()
            .map(|t| serde_json::to_string(t).unwrap_or_default())
            .collect();
        text.push_str(&format!(
            "[[components]]\nfile = {}\nsha256 = \"{}\"\ntools = [{}]\n",
            serde_json::to_string(&component.file).unwrap_or_default(),
            warden_pack::sha256_hex(&component.bytes),
            tools.join(", ")
        ));
    }
    text
}

/// Writes the pack into a staging folder beside `out`, then swaps it in. An existing `out`
/// is replaced only when it is empty or holds a pack (a `pack.toml`).
fn write_pack(out: &Path, manifest: &str, components: &[Described]) -> Result<()> {
    let existing = std::fs::symlink_metadata(out).is_ok();
    if existing {
        let is_dir = std::fs::symlink_metadata(out).is_ok_and(|m| m.is_dir());
        let empty = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_none());
        if !is_dir || !(empty || out.join(MANIFEST_FILE).is_file()) {
            bail!(
                "{} exists and is not a pack folder; give another --out",
                out.display()
            );
        }
    }
    let parent: PathBuf = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".warden-pack-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a staging folder in {}", parent.display()))?;
    std::fs::write(staging.path().join(MANIFEST_FILE), manifest)?;
    for component in components {
        std::fs::write(staging.path().join(&component.file), &component.bytes)?;
    }
    if existing {
        std::fs::remove_dir_all(out)
            .with_context(|| format!("cannot replace {}", out.display()))?;
    }
    std::fs::rename(staging.keep(), out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    /// The smallest component: header only.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn wit_docs_are_embedded_and_a_bad_wit_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("world.wit"),
            "package a:b;\nworld w {\n  /// Says hi.\n  export hi: func();\n}\n",
        )
        .unwrap();
        let with = with_wit_docs(EMPTY, dir.path(), "t.wasm").unwrap();
        let docs = PackageDocs::read(&with).unwrap();
        assert_eq!(docs.function(None, "hi"), Some("Says hi."));

        std::fs::write(
            dir.path().join("draft.wit"),
            "interface i { f: func(x: nope); }\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            with_wit_docs(EMPTY, dir.path(), "t.wasm").unwrap_err()
        );
        assert!(err.contains("t.wasm") && err.contains("draft.wit"), "{err}");
        assert!(with_wit_docs(b"not wasm", dir.path(), "t.wasm").is_err());
    }
}
