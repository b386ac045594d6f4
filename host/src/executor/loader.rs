//! Loading a tool component: check the bytes, compile or take the cached artifact, link,
//! run `describe()` once in a strict sandbox, validate its answer, and keep everything a
//! call needs ([`ToolSet`]): the pre-linked instance and the compiled schemas.
//!
//! Invariant: a [`ToolSet`] exists only for a component that links against warden's
//! interfaces, exports `warden:tool/tool`, and described valid, unique tools.

use std::path::Path;
use std::sync::Arc;

use super::Inner;
use super::bindings::ToolboxPre;
use super::cache::digest;
use super::error::{LoadError, ToolCallError};
use super::policy::ToolPolicy;
use super::sandbox::{self, Action, Returned};
use super::store::StoreState;
use super::tools::{CompiledTool, ToolInfo, validate_described};

/// A loaded component: its tools and what is needed to run them. Cheap to share (`Arc`).
pub struct ToolSet {
    digest: String,
    tools: Vec<ToolInfo>,
    compiled: Vec<CompiledTool>,
    pub(crate) pre: ToolboxPre<StoreState>,
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

    /// The compiled schemas of tool `name`, or the typed "unknown tool" error.
    pub(crate) fn compiled(&self, name: &str) -> Result<&CompiledTool, ToolCallError> {
        match self.tools.iter().position(|t| t.name == name) {
            Some(i) => Ok(&self.compiled[i]),
            None => Err(ToolCallError::UnknownTool {
                name: name.to_string(),
                available: self.tools.iter().map(|t| t.name.clone()).collect(),
            }),
        }
    }
}

/// Reads a component file and loads it.
pub(crate) async fn load_file(inner: &Inner, path: &Path) -> Result<Arc<ToolSet>, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    load_bytes(inner, &bytes).await
}

/// Loads a component from its bytes.
pub(crate) async fn load_bytes(inner: &Inner, bytes: &[u8]) -> Result<Arc<ToolSet>, LoadError> {
    check_header(bytes)?;
    let digest = digest(bytes);
    let (component, from_cache) = inner.cache.load_or_compile(&inner.engine, bytes, &digest)?;
    let instance_pre = inner
        .linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::UnsupportedImports(e.to_string()))?;
    let pre =
        ToolboxPre::new(instance_pre).map_err(|e| LoadError::MissingExports(e.to_string()))?;
    let policy = ToolPolicy::for_describe();
    let described = match sandbox::run(inner, &pre, &policy, Action::Describe).await.0 {
        Ok(Returned::Tools(tools)) => tools,
        Ok(Returned::Invoked(_)) => {
            return Err(LoadError::DescribeFailed("unexpected answer".into()));
        }
        Err(e) => return Err(LoadError::DescribeFailed(e.to_string())),
    };
    let (tools, compiled) = validate_described(described)?;
    Ok(Arc::new(ToolSet {
        digest,
        tools,
        compiled,
        pre,
        from_cache,
    }))
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
