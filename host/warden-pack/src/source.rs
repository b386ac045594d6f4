//! A pack's files, read from a directory or a single-file archive (`.wpack`, a plain tar of
//! `pack.toml`, `pack.sig` and the components), and their verification.
//!
//! Invariant: reading is bounded (a size cap on every file and on the whole pack, checked
//! before reading past it) and takes only plain names: a tar entry with a directory part,
//! `..`, an absolute name, a link or a special type is refused, and in a directory only the
//! files the manifest names are opened, never through a symbolic link.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::error::PackError;
use crate::manifest::{MANIFEST_FILE, MAX_MANIFEST_BYTES, Manifest};
use crate::signing::{SIGNATURE_FILE, SignatureFile, sha256_hex};
use crate::trust::TrustStore;

/// Default cap on a whole pack, in bytes.
pub const DEFAULT_MAX_PACK_BYTES: u64 = 64 << 20;

/// A pack in memory: its manifest, signature (if any) and component bytes by file name.
#[derive(Debug, Clone)]
pub struct PackFiles {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// `pack.sig`, if the pack has one.
    pub signature: Option<SignatureFile>,
    /// Component bytes by file name (exactly the manifest's components).
    pub components: BTreeMap<String, Vec<u8>>,
}

impl PackFiles {
    /// Reads a pack directory or archive at `path`, at most `max_bytes` in all.
    pub fn read(path: &Path, max_bytes: u64) -> Result<Self, PackError> {
        let meta =
            std::fs::symlink_metadata(path).map_err(|e| PackError::io("reading", path, e))?;
        if meta.is_dir() {
            Self::from_dir(path, max_bytes)
        } else {
            Self::from_archive(path, max_bytes)
        }
    }

    /// Reads `pack.toml`, `pack.sig` and the components named by the manifest from `dir`.
    pub fn from_dir(dir: &Path, max_bytes: u64) -> Result<Self, PackError> {
        let mut budget = max_bytes;
        let manifest_bytes = read_capped(&dir.join(MANIFEST_FILE), MAX_MANIFEST_BYTES.min(budget))?
            .ok_or_else(|| PackError::BadEntry {
                name: MANIFEST_FILE.into(),
                why: format!("{} has no pack.toml", dir.display()),
            })?;
        budget -= manifest_bytes.len() as u64;
        let manifest = Manifest::parse(&utf8(MANIFEST_FILE, manifest_bytes)?)?;
        let signature = match read_capped(&dir.join(SIGNATURE_FILE), 4096)? {
            Some(b) => Some(SignatureFile::parse(&utf8(SIGNATURE_FILE, b)?)?),
            None => None,
        };
        let mut components = BTreeMap::new();
        for c in &manifest.components {
            let bytes =
                read_capped(&dir.join(&c.file), budget)?.ok_or_else(|| PackError::BadEntry {
                    name: c.file.clone(),
                    why: "pack.toml lists it but it is not in the pack".into(),
                })?;
            budget -= bytes.len() as u64;
            components.insert(c.file.clone(), bytes);
        }
        Ok(PackFiles {
            manifest,
            signature,
            components,
        })
    }

    /// Reads a `.wpack` archive.
    pub fn from_archive(path: &Path, max_bytes: u64) -> Result<Self, PackError> {
        let file = std::fs::File::open(path).map_err(|e| PackError::io("reading", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| PackError::io("reading", path, e))?
            .len();
        if len > max_bytes.saturating_add(64 << 10) {
            return Err(PackError::TooLarge {
                what: format!("the pack {}", path.display()),
                max: max_bytes,
            });
        }
        Self::from_archive_bytes(file, max_bytes)
    }

    /// Reads an archive from `reader` (at most `max_bytes` of entry contents).
    pub fn from_archive_bytes(reader: impl Read, max_bytes: u64) -> Result<Self, PackError> {
        let mut archive = tar::Archive::new(reader);
        let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut total = 0u64;
        let bad_tar = |e: std::io::Error| PackError::BadEntry {
            name: "(archive)".into(),
            why: format!("not a readable pack archive: {e}"),
        };
        for entry in archive.entries().map_err(bad_tar)? {
            let mut entry = entry.map_err(bad_tar)?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            check_entry_name(&name)?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(PackError::BadEntry {
                    name,
                    why: "only regular files may be in a pack (no links, directories or devices)"
                        .into(),
                });
            }
            let size = entry.size();
            total = total.saturating_add(size);
            if total > max_bytes {
                return Err(PackError::TooLarge {
                    what: "the pack".into(),
                    max: max_bytes,
                });
            }
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            (&mut entry)
                .take(size)
                .read_to_end(&mut bytes)
                .map_err(bad_tar)?;
            if entries.insert(name.clone(), bytes).is_some() {
                return Err(PackError::BadEntry {
                    name,
                    why: "appears twice in the archive".into(),
                });
            }
        }
        let manifest_bytes = entries
            .remove(MANIFEST_FILE)
            .ok_or_else(|| PackError::BadEntry {
                name: MANIFEST_FILE.into(),
                why: "the archive has no pack.toml".into(),
            })?;
        let manifest = Manifest::parse(&utf8(MANIFEST_FILE, manifest_bytes)?)?;
        let signature = match entries.remove(SIGNATURE_FILE) {
            Some(b) => Some(SignatureFile::parse(&utf8(SIGNATURE_FILE, b)?)?),
            None => None,
        };
        let mut components = BTreeMap::new();
        for c in &manifest.components {
            let bytes = entries.remove(&c.file).ok_or_else(|| PackError::BadEntry {
                name: c.file.clone(),
                why: "pack.toml lists it but it is not in the archive".into(),
            })?;
            components.insert(c.file.clone(), bytes);
        }
        if let Some(name) = entries.into_keys().next() {
            return Err(PackError::BadEntry {
                name,
                why: "pack.toml does not list it".into(),
            });
        }
        Ok(PackFiles {
            manifest,
            signature,
            components,
        })
    }

    /// Checks every component against its recorded digest.
    pub fn verify_digests(&self) -> Result<(), PackError> {
        for c in &self.manifest.components {
            let bytes = self
                .components
                .get(&c.file)
                .ok_or_else(|| PackError::BadEntry {
                    name: c.file.clone(),
                    why: "missing".into(),
                })?;
            let actual = sha256_hex(bytes);
            if actual != c.sha256 {
                return Err(PackError::DigestMismatch {
                    file: c.file.clone(),
                    expected: c.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }

    /// Checks the signature against the trusted keys, then every digest. Returns the key id.
    pub fn verify(&self, trust: &TrustStore) -> Result<String, PackError> {
        let sig = self.signature.as_ref().ok_or(PackError::MissingSignature)?;
        let key = trust
            .get(&sig.key_id)?
            .ok_or_else(|| PackError::UntrustedKey {
                key_id: sig.key_id.clone(),
            })?;
        sig.verify(&self.manifest, &key)?;
        self.verify_digests()?;
        Ok(sig.key_id.clone())
    }

    /// Writes the pack into the (existing, empty) directory `dir`.
    pub fn write_dir(&self, dir: &Path) -> Result<(), PackError> {
        for (name, bytes) in self.files()? {
            let path = dir.join(&name);
            std::fs::write(&path, bytes).map_err(|e| PackError::io("writing", &path, e))?;
        }
        Ok(())
    }

    /// Writes the pack as a `.wpack` archive at `path`.
    pub fn write_archive(&self, path: &Path) -> Result<(), PackError> {
        let file = std::fs::File::create(path).map_err(|e| PackError::io("writing", path, e))?;
        let mut builder = tar::Builder::new(file);
        for (name, bytes) in self.files()? {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, &name, bytes.as_slice())
                .map_err(|e| PackError::io("writing", path, e))?;
        }
        builder
            .into_inner()
            .and_then(|f| f.sync_all())
            .map_err(|e| PackError::io("writing", path, e))
    }

    /// Every file of the pack with its bytes, manifest first.
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>, PackError> {
        let mut out = vec![(
            MANIFEST_FILE.to_string(),
            self.manifest.to_toml()?.into_bytes(),
        )];
        if let Some(sig) = &self.signature {
            out.push((SIGNATURE_FILE.to_string(), sig.to_text().into_bytes()));
        }
        out.extend(self.components.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(out)
    }

    /// The pack's total size in bytes.
    pub fn size(&self) -> u64 {
        self.components.values().map(|c| c.len() as u64).sum()
    }
}

fn check_entry_name(name: &str) -> Result<(), PackError> {
    let why = if name.starts_with('/') || name.contains(':') && name.contains('\\') {
        Some("an absolute name")
    } else if name.split(['/', '\\']).any(|p| p == "..") {
        Some("a path that climbs out with '..'")
    } else if name.contains(['/', '\\']) {
        Some("a name with a directory part: a pack's files sit side by side")
    } else if name.is_empty() || name.starts_with('.') || name.contains('\0') {
        Some("an empty or hidden name")
    } else {
        None
    };
    match why {
        Some(why) => Err(PackError::BadEntry {
            name: name.to_string(),
            why: why.to_string(),
        }),
        None => Ok(()),
    }
}

fn utf8(name: &str, bytes: Vec<u8>) -> Result<String, PackError> {
    String::from_utf8(bytes).map_err(|_| PackError::BadEntry {
        name: name.to_string(),
        why: "is not UTF-8 text".into(),
    })
}

/// Reads a regular file (never through a symlink) of at most `max` bytes; `None` if absent.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Option<Vec<u8>>, PackError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(PackError::io(
                "reading (a pack's files may not be links)",
                path,
                e,
            ));
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| PackError::io("reading", path, e))?;
    if !meta.is_file() {
        return Err(PackError::BadEntry {
            name: path.display().to_string(),
            why: "is not a regular file".into(),
        });
    }
    if meta.len() > max {
        return Err(PackError::TooLarge {
            what: path.display().to_string(),
            max,
        });
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| PackError::io("reading", path, e))?;
    if bytes.len() as u64 > max {
        return Err(PackError::TooLarge {
            what: path.display().to_string(),
            max,
        });
    }
    Ok(Some(bytes))
}
