//! The on-disk cache of precompiled components (native code) and of their validated tool
//! lists, keyed by the component's sha256 and the engine's compatibility hash, and
//! authenticated with a per-user key ([`mac`]) kept in a separate state directory.
//!
//! Invariant: a cached file is used only if its HMAC verifies under this user's key for
//! exactly this engine, component digest and kind of file; anything else is removed with a
//! warning and the component is compiled (or described) again. The cache and key directories
//! are checked ([`secure`]) when the executor is built; if either is refused, or there is no
//! per-user place for them, caching is off with a warning. All methods block: call them on
//! the blocking pool.

mod mac;
mod secure;

use std::hash::{Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::config::{CacheDir, StateDir};
use super::tools::DescribedTool;
use mac::{CacheKey, Kind, Subject};
use secure::SecureDir;

/// Largest tool list read back (describe's own output cap is 1 MiB).
const MAX_TOOLS_FILE: u64 = 4 << 20;

/// Where compiled components live, and the engine part of their key.
pub(crate) struct ArtifactCache {
    engine_hash: [u8; 32],
    engine_key: String,
    store: Option<Store>,
    max_artifact_bytes: u64,
}

/// An opened cache directory and the key that authenticates it.
struct Store {
    dir: SecureDir,
    key: CacheKey,
    state_dir: SecureDir,
}

/// Feeds `Hash` output into sha256, so the engine hash is stable across processes
/// (`DefaultHasher` makes no such promise).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The sha256 of the engine's compatibility hash: equal only for engines that produce and
/// accept the same machine code (same wasmtime, target and code-generation settings).
pub(crate) fn engine_hash(engine: &Engine) -> [u8; 32] {
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize().into()
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache and key directories. Never fails: a refused or
    /// unknown directory turns caching off, with a warning saying why.
    pub(crate) fn open(
        engine: &Engine,
        cache: &CacheDir,
        state: &StateDir,
        max_artifact_bytes: u64,
    ) -> Self {
        let engine_hash = engine_hash(engine);
        let store = if *cache == CacheDir::Disabled {
            None
        } else {
            open_store(cache, state)
        };
        Self {
            engine_key: hex::encode(&engine_hash[..8]),
            engine_hash,
            store,
            max_artifact_bytes,
        }
    }

    /// The cache directory, if caching is on.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.dir.path())
    }

    /// The directory of the cache's key, if caching is on.
    pub(crate) fn state_dir(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.state_dir.path())
    }

    /// The engine hash compiled artifacts must be made for.
    pub(crate) fn engine_hash(&self) -> &[u8; 32] {
        &self.engine_hash
    }

    fn name(&self, digest: &str, kind: Kind) -> String {
        let ext = match kind {
            Kind::Artifact => "cwasm",
            Kind::Tools => "tools.json",
        };
        format!("{digest}-{}.{ext}", self.engine_key)
    }

    fn subject<'a>(&'a self, kind: Kind, digest: &'a str) -> Subject<'a> {
        Subject {
            kind,
            engine_hash: &self.engine_hash,
            digest,
        }
    }

    /// `parse`s the authenticated payload of the cached `kind` file of `digest`, if there is
    /// one. A file that fails any check, or that `parse` rejects, is removed with a warning.
    fn read<T>(
        &self,
        digest: &str,
        kind: Kind,
        limit: u64,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Option<T> {
        let store = self.store.as_ref()?;
        let name = self.name(digest, kind);
        let refuse = |why: &str| {
            tracing::warn!(
                file = %store.dir.path().join(&name).display(),
                "{why}; removing it and compiling again"
            );
            store.dir.remove(&name);
        };
        let sealed = match store.dir.read(&name, limit.saturating_add(64)) {
            Ok(Some(sealed)) => sealed,
            Ok(None) => return None,
            Err(e) => {
                refuse(&format!("unusable cache file: {e}"));
                return None;
            }
        };
        let Some(payload) = store.key.open(self.subject(kind, digest), &sealed) else {
            refuse(
                "a cached file failed its authentication check (tampered, corrupt or from another key)",
            );
            return None;
        };
        match parse(payload) {
            Ok(value) => Some(value),
            Err(e) => {
                refuse(&format!("an authentic cached file does not load ({e})"));
                None
            }
        }
    }

    fn write(&self, digest: &str, kind: Kind, payload: &[u8]) {
        let Some(store) = &self.store else { return };
        let header = store.key.seal_header(self.subject(kind, digest), payload);
        let name = self.name(digest, kind);
        if let Err(e) = store.dir.write(&name, &[&header, payload]) {
            tracing::warn!(error = %e, "cannot write to the compiled-component cache");
        }
    }

    /// The cached, authenticated artifact of `digest`, deserialized.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        self.read(
            digest,
            Kind::Artifact,
            self.max_artifact_bytes,
            |artifact| {
                // SAFETY: the bytes verified under this user's secret key as the artifact this
                // engine configuration compiled from the component with this digest. The key
                // lives 0600 in a directory no tool may be granted, so only this user's warden
                // produced them (in its compiler), exactly as they were written.
                unsafe { Component::deserialize(engine, artifact) }.map_err(|e| format!("{e:#}"))
            },
        )
    }

    /// Stores a freshly compiled artifact (best effort, with a warning on failure).
    pub(crate) fn store(&self, digest: &str, artifact: &[u8]) {
        self.write(digest, Kind::Artifact, artifact);
    }

    /// The validated `describe()` answer stored beside the artifact, if authentic.
    pub(crate) fn read_described(&self, digest: &str) -> Option<Vec<DescribedTool>> {
        self.read(digest, Kind::Tools, MAX_TOOLS_FILE, |bytes| {
            serde_json::from_slice(bytes).map_err(|e| e.to_string())
        })
    }

    /// Stores a validated `describe()` answer beside the artifact (best effort).
    pub(crate) fn write_described(&self, digest: &str, tools: &[DescribedTool]) {
        match serde_json::to_vec(tools) {
            Ok(bytes) => self.write(digest, Kind::Tools, &bytes),
            Err(e) => tracing::warn!(error = %e, "cannot cache the tool list"),
        }
    }
}

fn open_store(cache: &CacheDir, state: &StateDir) -> Option<Store> {
    let (Some(cache_path), Some(state_path)) = (cache.resolve(), state.resolve()) else {
        tracing::warn!(
            "caching of compiled components is off: there is no per-user place for it (set \
             WARDEN_CACHE_DIR and WARDEN_STATE_DIR, XDG_CACHE_HOME and XDG_STATE_HOME, or HOME); \
             every load compiles"
        );
        return None;
    };
    let opened = SecureDir::open_or_create(&cache_path).and_then(|dir| {
        let state_dir = SecureDir::open_or_create(&state_path)?;
        let key = CacheKey::load_or_create(&state_dir)?;
        Ok(Store {
            dir,
            key,
            state_dir,
        })
    });
    match opened {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::warn!(error = %e, "caching of compiled components is off: its directory is refused; every load compiles");
            None
        }
    }
}

/// The hex sha256 of a component's bytes.
pub(crate) fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests;
