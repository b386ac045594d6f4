//! The on-disk cache of precompiled components, keyed by the component's sha256 and the
//! engine's compatibility hash (wasmtime version, target and every setting that affects
//! code generation).
//!
//! Invariant: only artifacts this host wrote are ever deserialized (same key ⇒ same engine);
//! files are written to a temp name and renamed, so a reader never sees a partial artifact.
//! Cache failures are warnings: the component is compiled instead.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;

/// Where compiled components live, and the engine part of their key.
pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// Feeds `Hash` output into sha256, so the engine key is stable across processes
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

impl ArtifactCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        Self { dir, engine_key }
    }

    /// The cache directory, if caching is on.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn artifact_path(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    /// Deserializes the cached artifact of `bytes`, or compiles them (and caches the result).
    /// Returns the component and whether it came from the cache.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> Result<(Component, bool), LoadError> {
        let path = self.artifact_path(digest);
        if let Some(path) = &path
            && path.is_file()
        {
            // SAFETY: the file name carries the sha256 of the source component and the
            // engine's compatibility hash, and only this code writes into the cache (via
            // temp file + rename). Whoever can write the cache dir can already run code as
            // this user, so trusting its artifacts adds no new authority.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unusable cached artifact; recompiling");
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let component =
            Component::new(engine, bytes).map_err(|e| LoadError::Compile(e.to_string()))?;
        if let Some(path) = &path
            && let Err(e) = write_atomically(&component, path)
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache the compiled component");
        }
        Ok((component, false))
    }
}

fn write_atomically(component: &Component, path: &Path) -> Result<(), String> {
    let artifact = component.serialize().map_err(|e| e.to_string())?;
    let dir = path.parent().ok_or("the cache path has no parent")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(&artifact).map_err(|e| e.to_string())?;
    tmp.1.sync_all().map_err(|e| e.to_string())?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        e.to_string()
    })
}

/// A new uniquely named file in `dir` (no `tempfile` dependency in the library).
fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File), String> {
    for _ in 0..16 {
        let name = format!(
            ".tmp-{}-{:016x}.cwasm",
            std::process::id(),
            rand::random::<u64>()
        );
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("cannot create a temp file in the cache dir".into())
}

/// The hex sha256 of a component's bytes.
pub(crate) fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
