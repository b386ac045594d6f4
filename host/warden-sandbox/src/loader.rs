//! Loading a tool component: check its size and bytes, compile (under the compile limits) or
//! take the authenticated cached artifact, link,
//! run `describe()` once in a strict sandbox, validate its answer, and keep everything a
//! call needs ([`ToolSet`]): the pre-linked instance and the compiled schemas. A cached
//! artifact comes with the answer validated when it was first compiled, so a cached load
//! neither runs `describe()` nor compiles schemas up front.
//!
//! A component that does not export `warden:tool/tool` is read through its type instead
//! (`typed.rs`): its exported functions are the tools.
//!
//! Invariant: a [`ToolSet`] exists only for a component that links against warden's
//! interfaces and either exports `warden:tool/tool` and described valid, unique tools, or
//! exports typed functions with unique tool names.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use warden_wit::Skipped;
use warden_wit::docs::PackageDocs;
use wasmtime::component::Component;

use super::Inner;
use super::bindings::ToolboxPre;
use super::cache::digest;
use super::compile::{self, Limits};
use super::error::{LoadError, ToolCallError};
use super::policy::ToolPolicy;
use super::sandbox::{self, Action, Pre, Returned};
use super::store::StoreState;
use super::tools::{CompiledTool, DescribedTool, ToolInfo, validate_described};
use super::typed::{self, TypedSet};

/// How a component's tools are called.
pub(crate) enum Kind {
    /// Through the `warden:tool` world (`describe` / `invoke`).
    Toolbox(ToolboxPre<StoreState>),
    /// Through its plain typed exports.
    Typed(TypedSet),
}

/// A loaded component: its tools and what is needed to run them. Cheap to share (`Arc`).
pub struct ToolSet {
    digest: String,
    tools: Vec<ToolInfo>,
    compiled: Vec<CompiledTool>,
    pub(crate) kind: Kind,
    from_cache: bool,
}

impl std::fmt::Debug for ToolSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSet")
            .field("digest", &self.digest)
            .field("tools", &self.tools)
            .field("from_cache", &self.from_cache)
            .finish_non_exhaustive()
    }
}

impl ToolSet {
    /// The tools, in the order `describe()` listed them.
    pub fn tools(&self) -> &[ToolInfo] {
        &self.tools
    }

    /// The tool called `name`, if any.
    pub fn tool(&self, name: &str) -> Option<&ToolInfo> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// The sha256 (hex) of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether the compiled code came from the on-disk cache (rather than a fresh compile).
    pub fn loaded_from_cache(&self) -> bool {
        self.from_cache
    }

    /// Whether the tools are a typed component's exported functions (rather than
    /// `warden:tool` tools).
    pub fn is_typed(&self) -> bool {
        matches!(self.kind, Kind::Typed(_))
    }

    /// A typed component's exported functions that are not offered as tools, with the
    /// reason (empty for `warden:tool` components).
    pub fn skipped(&self) -> &[Skipped] {
        match &self.kind {
            Kind::Typed(set) => &set.skipped,
            Kind::Toolbox(_) => &[],
        }
    }

    /// Tool `name` and its compiled schemas, or the typed "unknown tool" error.
    pub(crate) fn compiled(&self, name: &str) -> Result<(&ToolInfo, &CompiledTool), ToolCallError> {
        let found = self.tools.iter().position(|t| t.name == name);
        match found.and_then(|i| Some((self.tools.get(i)?, self.compiled.get(i)?))) {
            Some(pair) => Ok(pair),
            None => Err(ToolCallError::UnknownTool {
                name: name.to_string(),
                available: self.tools.iter().map(|t| t.name.clone()).collect(),
            }),
        }
    }
}

/// Reads a component file (at most `max_component_bytes`) and loads it.
pub(crate) async fn load_file(inner: &Arc<Inner>, path: &Path) -> Result<Arc<ToolSet>, LoadError> {
    let limit = inner.config.max_component_bytes;
    let owned = path.to_path_buf();
    let bytes = blocking(move || read_capped(&owned, limit)).await??;
    load_owned(inner, bytes).await
}

/// Loads a component from its bytes.
pub(crate) async fn load_bytes(
    inner: &Arc<Inner>,
    bytes: &[u8],
) -> Result<Arc<ToolSet>, LoadError> {
    check_size(bytes.len() as u64, inner.config.max_component_bytes)?;
    load_owned(inner, bytes.to_vec()).await
}

async fn load_owned(inner: &Arc<Inner>, bytes: Vec<u8>) -> Result<Arc<ToolSet>, LoadError> {
    check_size(bytes.len() as u64, inner.config.max_component_bytes)?;
    check_header(&bytes)?;
    // Only typed components use it; reading it is a bounded walk over the top-level sections.
    let docs = PackageDocs::read(&bytes);
    // Hashing, reading and checking the cache, and compiling all block: keep them off the
    // async workers so a cold compile does not stall other runs.
    let shared = inner.clone();
    let (digest, component, origin) = blocking(move || compiled(&shared, &bytes)).await??;
    let instance_pre = inner
        .linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::UnsupportedImports(e.to_string()))?;
    let from_cache = matches!(origin, Origin::Cache(_));
    if !exports_tool_world(inner, &component) {
        let (tools, set) = typed::load(&inner.engine, &component, instance_pre, docs.as_ref())?;
        return Ok(Arc::new(ToolSet {
            digest,
            tools,
            compiled: Vec::new(),
            kind: Kind::Typed(set),
            from_cache,
        }));
    }
    let pre =
        ToolboxPre::new(instance_pre).map_err(|e| LoadError::MissingExports(e.to_string()))?;
    // A component this host loaded before: reuse the answer it validated then.
    let (tools, compiled) = match origin {
        Origin::Cache(Some(described)) => validate_described(described, false)?,
        Origin::Cache(None) | Origin::Compiler => {
            let described = describe(inner, &pre).await?;
            let validated = validate_described(described.clone(), true)?;
            let (shared, key) = (inner.clone(), digest.clone());
            // Best effort (a failed write is a warning); it still must not block a worker.
            let _ = blocking(move || shared.cache.write_described(&key, &described)).await;
            validated
        }
    };
    Ok(Arc::new(ToolSet {
        digest,
        tools,
        compiled,
        kind: Kind::Toolbox(pre),
        from_cache,
    }))
}

/// Whether the component exports the `warden:tool/tool` interface (in any version: a
/// mismatched one then fails with a clear message instead of being read as typed exports).
fn exports_tool_world(inner: &Inner, component: &Component) -> bool {
    component
        .component_type()
        .exports(&inner.engine)
        .any(|(name, _)| name.starts_with("warden:tool/tool"))
}

/// Where a component's compiled code came from.
enum Origin {
    /// The authenticated cache, with the tool list cached beside it if that is authentic too.
    Cache(Option<Vec<DescribedTool>>),
    /// The compiler, just now (and then stored in the cache).
    Compiler,
}

/// The component's digest, compiled code and where the code came from.
fn compiled(inner: &Inner, bytes: &[u8]) -> Result<(String, Component, Origin), LoadError> {
    let digest = digest(bytes);
    if let Some(component) = inner.cache.load(&inner.engine, &digest) {
        let described = inner.cache.read_described(&digest);
        return Ok((digest, component, Origin::Cache(described)));
    }
    let limits = Limits {
        timeout: inner.config.compile_timeout,
        max_memory_bytes: inner.config.compile_max_memory_bytes,
    };
    let artifact = compile::compile(
        &inner.compiler,
        &inner.codegen,
        &inner.engine,
        inner.cache.engine_hash(),
        bytes,
        limits,
    )?;
    // SAFETY: the artifact was just made by this executor's compiler (its own child over a
    // private pipe, or this process) for an engine with this engine's hash; wasmtime also
    // checks the compatibility header.
    let component = unsafe { Component::deserialize(&inner.engine, &artifact) }
        .map_err(|e| LoadError::CompilerFailed(format!("its artifact does not load: {e:#}")))?;
    inner.cache.store(&digest, &artifact);
    Ok((digest, component, Origin::Compiler))
}

/// Reads `path`, refusing a file over `limit` bytes before reading it whole.
fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let io = |e: std::io::Error| LoadError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    check_size(file.metadata().map_err(io)?.len(), limit)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len() as u64, limit)?;
    Ok(bytes)
}

fn check_size(size: u64, limit_bytes: u64) -> Result<(), LoadError> {
    if size > limit_bytes {
        return Err(LoadError::ComponentTooLarge { size, limit_bytes });
    }
    Ok(())
}

/// Runs blocking work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LoadError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| LoadError::CompilerFailed(format!("the load task failed: {e}")))
}

/// Runs `describe()` once in the strict load-time sandbox.
async fn describe(
    inner: &Inner,
    pre: &ToolboxPre<StoreState>,
) -> Result<Vec<DescribedTool>, LoadError> {
    let policy = ToolPolicy::for_describe();
    match sandbox::run(inner, Pre::Toolbox(pre), &policy, Action::Describe)
        .await
        .0
    {
        Ok(Returned::Tools(tools)) => Ok(tools.into_iter().map(DescribedTool::from).collect()),
        Ok(Returned::Invoked(_) | Returned::Typed(_)) => {
            Err(LoadError::DescribeFailed("unexpected answer".into()))
        }
        Err(e) => Err(LoadError::DescribeFailed(e.to_string())),
    }
}

/// Rejects non-wasm files and core modules before handing bytes to the compiler, with a
/// message that says which of the two it is.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    // Bytes 4..8: version (u16 LE) and layer (u16 LE); layer 0 is a core module, 1 a component.
    let layer = u16::from_le_bytes([bytes[6], bytes[7]]);
    if layer == 0 {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_tells_text_core_modules_and_components_apart() {
        assert!(matches!(
            check_header(b"hello world"),
            Err(LoadError::NotWasm)
        ));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
