//! [`PackageDocs::from_wit`]: the doc comments of a WIT package — functions, types and
//! their fields and cases — extracted from its source as wit-parser does when it encodes
//! a package, so `warden tool embed-docs --wit` writes the same section a WIT-aware build
//! would.
//!
//! Invariant: the source read is bounded (files and their total size) before wit-parser
//! sees it; every failure is a [`WitDocsError`] naming the path.

use std::path::{Path, PathBuf};

use wit_parser::{PackageMetadata, Resolve};

use super::docs::PackageDocs;

/// The most WIT source (all files, `deps/` included) read for docs.
pub const MAX_WIT_BYTES: u64 = 8 << 20;
/// The most files in a WIT directory and its `deps/`.
const MAX_WIT_FILES: usize = 1024;

/// Reading docs from WIT source failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitDocsError {
    /// The source is too large.
    #[error("{path}: more than {MAX_WIT_BYTES} bytes or {MAX_WIT_FILES} files of WIT source")]
    TooLarge {
        /// The file or directory given.
        path: PathBuf,
    },
    /// A file or directory could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The source is not a valid WIT package.
    #[error("{path} is not a valid WIT package: {message}")]
    Parse {
        /// The file or directory given.
        path: PathBuf,
        /// wit-parser's message.
        message: String,
    },
}

impl PackageDocs {
    /// The docs of the WIT package at `path`: a `.wit` file, or a directory of them with
    /// an optional `deps/` (as `wit-bindgen` takes it).
    pub fn from_wit(path: &Path) -> Result<Self, WitDocsError> {
        let mut budget = Budget::default();
        budget.add(path, 0)?;
        let mut resolve = Resolve::default();
        let parse = |message: String| WitDocsError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let (package, _) = resolve
            .push_path(path)
            .map_err(|e| parse(format!("{e:#}")))?;
        let encoded = PackageMetadata::extract(&resolve, package)
            .encode()
            .map_err(|e| parse(format!("{e:#}")))?;
        Self::decode(&encoded).ok_or_else(|| parse("its docs do not re-read".into()))
    }
}

/// What has been counted of the source so far.
#[derive(Default)]
struct Budget {
    bytes: u64,
    files: usize,
}

impl Budget {
    /// Counts `path`: a file, or a directory's entries (one level of `deps/` below it).
    fn add(&mut self, path: &Path, depth: usize) -> Result<(), WitDocsError> {
        let io = |source| WitDocsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        self.files += 1;
        self.bytes += if meta.is_dir() { 0 } else { meta.len() };
        if self.bytes > MAX_WIT_BYTES || self.files > MAX_WIT_FILES {
            return Err(WitDocsError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        if meta.is_dir() && depth < 3 {
            for entry in std::fs::read_dir(path).map_err(io)? {
                self.add(&entry.map_err(io)?.path(), depth + 1)?;
            }
        }
        Ok(())
    }
}
