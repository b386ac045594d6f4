//! Where warden keeps pack state: the config directory (trusted keys, grants) and the data
//! directory (installed packs).
//!
//! Invariant: `WARDEN_CONFIG_DIR` / `WARDEN_DATA_DIR` win; otherwise the XDG base directories,
//! otherwise `~/.config/warden` and `~/.local/share/warden`.

use std::path::{Path, PathBuf};

use crate::error::PackError;

/// The two state directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// Trusted keys (`trusted-keys/`) and grants (`grants/`).
    pub config: PathBuf,
    /// Installed packs (`packs/<name>/`).
    pub data: PathBuf,
}

impl Dirs {
    /// Both directories given explicitly (tests, embedders).
    pub fn new(config: impl Into<PathBuf>, data: impl Into<PathBuf>) -> Self {
        Dirs {
            config: config.into(),
            data: data.into(),
        }
    }

    /// The directories from the environment.
    pub fn from_env() -> Result<Self, PackError> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = var("HOME");
        let pick = |own: &str, xdg: &str, fallback: &str| -> Result<PathBuf, PackError> {
            var(own)
                .or_else(|| var(xdg).map(|p| p.join("warden")))
                .or_else(|| home.as_ref().map(|h| h.join(fallback)))
                .ok_or_else(|| {
                    PackError::Grants(format!(
                        "cannot tell where warden keeps its state: set {own} (or HOME)"
                    ))
                })
        };
        Ok(Dirs {
            config: pick("WARDEN_CONFIG_DIR", "XDG_CONFIG_HOME", ".config/warden")?,
            data: pick("WARDEN_DATA_DIR", "XDG_DATA_HOME", ".local/share/warden")?,
        })
    }

    /// `trusted-keys/` in the config directory.
    pub fn trusted_keys(&self) -> PathBuf {
        self.config.join("trusted-keys")
    }

    /// `grants/` in the config directory.
    pub fn grants(&self) -> PathBuf {
        self.config.join("grants")
    }

    /// `packs/` in the data directory.
    pub fn packs(&self) -> PathBuf {
        self.data.join("packs")
    }
}

/// Creates `dir` (and parents) with mode 0700 where it is new.
pub(crate) fn ensure_private(dir: &Path) -> Result<(), PackError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| PackError::io("creating", dir, e))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_private(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&tmp)
        .map_err(|e| PackError::io("writing", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| PackError::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| PackError::io("renaming into", path, e))
}
