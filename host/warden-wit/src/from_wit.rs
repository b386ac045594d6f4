//! [`PackageDocs::from_wit`]: the doc comments of a WIT package — functions, types and
//! their fields and cases — extracted from its source as wit-parser does when it encodes
//! a package, so `warden tool embed-docs --wit` writes the same section a WIT-aware build
//! would. The interfaces of the packages in `deps/` are added too (the main package's win
//! on a name both have): a function may take a type `use`d from a dependency, or the world
//! may export a dependency's interface, and their docs are looked up by interface name.
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
        // Rendered with the sources: the message names the file, line and column.
        let (package, _) = resolve
            .push_path(path)
            .map_err(|e| parse(resolve.render_error(&e)))?;
        let docs_of = |id| {
            let encoded = PackageMetadata::extract(&resolve, id)
                .encode()
                .map_err(|e| parse(format!("{e:#}")))?;
            Self::decode(&encoded).ok_or_else(|| parse("its docs do not re-read".into()))
        };
        let mut docs = docs_of(package)?;
        for (id, _) in resolve.packages.iter().filter(|(id, _)| *id != package) {
            for (name, iface) in docs_of(id)?.interfaces {
                docs.interfaces.entry(name).or_insert(iface);
            }
        }
        Ok(docs)
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

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    /// A package whose world exports a function taking a record from `deps/`, and exports
    /// a dependency's interface; both packages have an interface called `shared`.
    fn with_deps() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("deps/geo")).unwrap();
        std::fs::write(
            dir.path().join("world.wit"),
            "package demo:main;\n\
             /// Main's own.\ninterface shared { /// Main's f.\n f: func(); }\n\
             world w { use demo:geo/shapes.{point};\n\
             /// Distance from the origin.\n export dist: func(p: point) -> f64;\n\
             export demo:geo/ops; export shared; }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("deps/geo/geo.wit"),
            "package demo:geo;\n\
             interface shapes { /// A point in the plane.\n record point { /// Across.\n x: f64, y: f64 } }\n\
             interface ops { /// Doubles.\n twice: func(n: u32) -> u32; }\n\
             interface shared { /// The dependency's f.\n f: func(); }\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn docs_of_dependency_packages_are_included_and_the_main_package_wins() {
        let dir = with_deps();
        let docs = PackageDocs::from_wit(dir.path()).unwrap();
        assert_eq!(
            docs.function(None, "dist"),
            Some("Distance from the origin.")
        );
        let point = &docs.interfaces["shapes"].types["point"];
        assert_eq!(point.docs.as_deref(), Some("A point in the plane."));
        assert_eq!(point.items["x"], "Across.");
        assert_eq!(
            docs.function(Some("demo:geo/ops"), "twice"),
            Some("Doubles.")
        );
        assert_eq!(docs.function(Some("shared"), "f"), Some("Main's f."));
    }

    #[test]
    fn a_bad_dependency_is_an_error_naming_its_file() {
        let dir = with_deps();
        std::fs::write(
            dir.path().join("deps/geo/geo.wit"),
            "package demo:geo;\ninterface shapes { record point { x: nope } }\n",
        )
        .unwrap();
        let err = PackageDocs::from_wit(dir.path()).unwrap_err();
        assert!(matches!(err, WitDocsError::Parse { .. }), "{err:?}");
        assert!(err.to_string().contains("geo.wit"), "{err}");
    }
}
