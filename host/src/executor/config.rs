//! [`EngineConfig`]: the settings of the shared engine, fixed when the executor is built
//! (per-call limits live in [`ToolPolicy`](super::ToolPolicy) instead).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::egress::{Resolver, SystemResolver};

/// Where precompiled components are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheDir {
    /// `$WARDEN_CACHE_DIR`, else `$XDG_CACHE_HOME/warden`, else `~/.cache/warden`
    /// (falling back to the system temp dir when no home is known).
    Default,
    /// This directory.
    Path(PathBuf),
    /// Compile every load; write nothing to disk.
    Disabled,
}

impl CacheDir {
    /// The directory to use, if caching is on.
    pub fn resolve(&self) -> Option<PathBuf> {
        match self {
            Self::Disabled => None,
            Self::Path(p) => Some(p.clone()),
            Self::Default => {
                let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
                if let Some(dir) = var("WARDEN_CACHE_DIR") {
                    return Some(PathBuf::from(dir));
                }
                let base = var("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
                    .unwrap_or_else(std::env::temp_dir);
                Some(base.join("warden"))
            }
        }
    }
}

/// Settings of the shared engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How many tool instances may run at once; further calls wait their turn. Also the
    /// size of the pooling allocator.
    pub max_concurrent_calls: u32,
    /// Use the pooling allocator (falls back to on-demand allocation with a warning if its
    /// address space cannot be reserved).
    pub pooling: bool,
    /// The largest linear memory any call may have; policies asking for more are clamped.
    pub max_memory_bytes: u64,
    /// Maximum native stack a guest may use.
    pub max_wasm_stack: usize,
    /// How often the epoch advances; the granularity of deadline checks.
    pub epoch_tick: Duration,
    /// Precompiled-artifact cache.
    pub cache_dir: CacheDir,
    /// Resolves host names for outgoing HTTP (tests map names to addresses with a
    /// `StaticResolver`); every resolved address is checked against the egress policy.
    pub resolver: Arc<dyn Resolver>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 16,
            pooling: true,
            max_memory_bytes: 256 << 20,
            max_wasm_stack: 512 << 10,
            epoch_tick: Duration::from_millis(10),
            cache_dir: CacheDir::Default,
            resolver: Arc::new(SystemResolver),
        }
    }
}
