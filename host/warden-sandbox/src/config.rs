//! [`EngineConfig`]: the settings of the shared engine, fixed when the executor is built
//! (per-call limits live in [`ToolPolicy`](super::ToolPolicy) instead), and where warden keeps
//! its own state ([`CacheDir`], [`StateDir`]).
//!
//! Invariant: no default resolves to a shared temporary directory: without a per-user place
//! (`WARDEN_*`, `XDG_*` or `HOME`) caching is off.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::compile::Compiler;
use super::egress::{Resolver, SystemResolver};

/// Where precompiled components are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheDir {
    /// `$WARDEN_CACHE_DIR`, else `$XDG_CACHE_HOME/warden`, else `$HOME/.cache/warden`;
    /// with none of them set, caching is off (never a shared temporary directory).
    Default,
    /// This directory.
    Path(PathBuf),
    /// Compile every load; write nothing to disk.
    Disabled,
}

impl CacheDir {
    /// The directory to use, if caching is on.
    pub fn resolve(&self) -> Option<PathBuf> {
        self.resolve_with(&|k| std::env::var_os(k))
    }

    /// [`CacheDir::resolve`] reading the environment through `env`.
    pub(crate) fn resolve_with(&self, env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
        match self {
            Self::Disabled => None,
            Self::Path(p) => Some(p.clone()),
            Self::Default => per_user_dir(env, "WARDEN_CACHE_DIR", "XDG_CACHE_HOME", ".cache"),
        }
    }
}

/// Where warden keeps the key that authenticates its cache (and any other state it writes).
/// Like the cache, it can never be granted to a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateDir {
    /// `$WARDEN_STATE_DIR`, else `$XDG_STATE_HOME/warden`, else `$HOME/.local/state/warden`;
    /// with none of them set, caching is off.
    Default,
    /// This directory.
    Path(PathBuf),
}

impl StateDir {
    /// The directory to use, if one is known.
    pub fn resolve(&self) -> Option<PathBuf> {
        self.resolve_with(&|k| std::env::var_os(k))
    }

    /// [`StateDir::resolve`] reading the environment through `env`.
    pub(crate) fn resolve_with(&self, env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
        match self {
            Self::Path(p) => Some(p.clone()),
            Self::Default => {
                per_user_dir(env, "WARDEN_STATE_DIR", "XDG_STATE_HOME", ".local/state")
            }
        }
    }
}

/// `$own`, else `$xdg/warden`, else `$HOME/<home_rel>/warden`; empty values count as unset.
fn per_user_dir(
    env: &dyn Fn(&str) -> Option<OsString>,
    own: &str,
    xdg: &str,
    home_rel: &str,
) -> Option<PathBuf> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var(own) {
        return Some(dir);
    }
    var(xdg)
        .or_else(|| var("HOME").map(|h| h.join(home_rel)))
        .map(|base| base.join("warden"))
}

/// Settings of the shared engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How many tool instances may run at once (default 16); further calls wait their turn.
    /// Also the size of the pooling allocator.
    pub max_concurrent_calls: u32,
    /// Use the pooling allocator (default on; falls back to on-demand allocation with a
    /// warning if its address space cannot be reserved).
    pub pooling: bool,
    /// The largest linear memory any call may have, in bytes (default 256 MiB); policies
    /// asking for more are clamped.
    pub max_memory_bytes: u64,
    /// Native stack a guest may use, in bytes (default 512 KiB); deeper recursion ends the
    /// call with a stack overflow.
    pub max_wasm_stack: usize,
    /// How often the epoch advances (default 10 ms): the granularity of deadline checks.
    pub epoch_tick: Duration,
    /// Precompiled-artifact cache (default [`CacheDir::Default`], a per-user directory).
    pub cache_dir: CacheDir,
    /// Where the cache's authentication key is kept (default [`StateDir::Default`]); never
    /// grantable to a tool, like the cache.
    pub state_dir: StateDir,
    /// Where components are compiled (default [`Compiler::Auto`]): a child process that is
    /// killed at the compile limits, or (with no child available) this process, where the
    /// limits cannot be enforced.
    pub compiler: Compiler,
    /// Wall-clock limit of compiling one component (default 60 s).
    pub compile_timeout: Duration,
    /// Memory (data segment and anonymous mappings) the compiler child may use (default 2 GiB).
    pub compile_max_memory_bytes: u64,
    /// Largest component accepted for loading (default 32 MiB: a component embedding CPython,
    /// as componentize-py builds them, is ~18 MB), checked before any parsing.
    pub max_component_bytes: u64,
    /// Resolves host names for outgoing HTTP (default the system resolver; tests map names to
    /// addresses with a `StaticResolver`); every resolved address is checked against the
    /// egress policy.
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
            state_dir: StateDir::Default,
            compiler: Compiler::Auto,
            compile_timeout: Duration::from_secs(60),
            compile_max_memory_bytes: 2 << 30,
            max_component_bytes: 32 << 20,
            resolver: Arc::new(SystemResolver),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn without_a_per_user_place_caching_is_off_rather_than_in_a_shared_temp_dir() {
        let none = env_of(&[("TMPDIR", "/tmp"), ("HOME", "")]);
        assert_eq!(CacheDir::Default.resolve_with(&none), None);
        assert_eq!(StateDir::Default.resolve_with(&none), None);
    }

    #[test]
    fn own_variables_win_over_xdg_which_wins_over_home() {
        let all = env_of(&[
            ("WARDEN_CACHE_DIR", "/w/c"),
            ("WARDEN_STATE_DIR", "/w/s"),
            ("XDG_CACHE_HOME", "/x/c"),
            ("XDG_STATE_HOME", "/x/s"),
            ("HOME", "/h"),
        ]);
        assert_eq!(CacheDir::Default.resolve_with(&all), Some("/w/c".into()));
        assert_eq!(StateDir::Default.resolve_with(&all), Some("/w/s".into()));
        let xdg = env_of(&[
            ("XDG_CACHE_HOME", "/x/c"),
            ("XDG_STATE_HOME", "/x/s"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            CacheDir::Default.resolve_with(&xdg),
            Some("/x/c/warden".into())
        );
        assert_eq!(
            StateDir::Default.resolve_with(&xdg),
            Some("/x/s/warden".into())
        );
        let home = env_of(&[("HOME", "/h")]);
        assert_eq!(
            CacheDir::Default.resolve_with(&home),
            Some("/h/.cache/warden".into())
        );
        assert_eq!(
            StateDir::Default.resolve_with(&home),
            Some("/h/.local/state/warden".into())
        );
    }
}
