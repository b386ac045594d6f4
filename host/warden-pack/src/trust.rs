//! The operator's trusted signing keys: one `<key id>.pub` file each in
//! `<config>/trusted-keys/`.
//!
//! Invariant: a file there is only used if its name is the id of the key it holds, so a key
//! copied in under another key's name is not trusted by mistake.

use std::path::{Path, PathBuf};

use crate::dirs::{Dirs, ensure_private, write_atomic};
use crate::error::PackError;
use crate::signing::PublicKey;

/// The trust store of `dirs`.
#[derive(Debug, Clone)]
pub struct TrustStore {
    dir: PathBuf,
}

impl TrustStore {
    /// The store in `dirs.config`.
    pub fn new(dirs: &Dirs) -> Self {
        TrustStore {
            dir: dirs.trusted_keys(),
        }
    }

    /// Trusts the key in the `.pub` file at `path`; returns it.
    pub fn add(&self, path: &Path) -> Result<PublicKey, PackError> {
        let key = PublicKey::read(path)?;
        ensure_private(&self.dir)?;
        write_atomic(&self.file_of(&key.id()), key.to_file_text().as_bytes())?;
        Ok(key)
    }

    /// The trusted keys' ids, sorted.
    pub fn list(&self) -> Result<Vec<String>, PackError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PackError::io("listing", &self.dir, e)),
        };
        let mut ids = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".pub"))
                && self.get(id)?.is_some()
            {
                ids.push(id.to_string());
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The trusted key with id `id`, if any.
    pub fn get(&self, id: &str) -> Result<Option<PublicKey>, PackError> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let path = self.file_of(id);
        if !path.is_file() {
            return Ok(None);
        }
        let key = PublicKey::read(&path)?;
        Ok((key.id() == id).then_some(key))
    }

    /// Stops trusting a key, given its id or its `.pub` file; returns the id removed.
    pub fn remove(&self, key: &str) -> Result<String, PackError> {
        let id = if Path::new(key).is_file() {
            PublicKey::read(Path::new(key))?.id()
        } else {
            key.to_string()
        };
        if self.get(&id)?.is_none() {
            return Err(PackError::KeyFile {
                path: PathBuf::from(key),
                why: "no trusted key has this id or file: see `warden trust list`".into(),
            });
        }
        let path = self.file_of(&id);
        std::fs::remove_file(&path).map_err(|e| PackError::io("removing", &path, e))?;
        Ok(id)
    }

    fn file_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.pub"))
    }
}
