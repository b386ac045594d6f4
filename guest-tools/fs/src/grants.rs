//! The directories the operator granted (WASI preopens) and where a requested path falls.
//!
//! Invariant: every path an fs tool touches has been normalized lexically (`.` dropped, `..`
//! applied, never above the root) and found inside a grant first, so a path outside every grant
//! or a write into a read-only grant is refused with a clear message before WASI is asked. WASI
//! still enforces the same limits (symlinks included); this check exists for the message.

use std::path::{Component, Path, PathBuf};
use warden_tool::ToolError;

/// One granted directory, as the guest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The guest path of the directory (the preopen's name), e.g. `/workspace`.
    pub path: PathBuf,
    /// Whether files and directories may be created, changed and removed under it.
    pub writable: bool,
}

/// Every granted directory.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    grants: Vec<Grant>,
}

/// A path found inside a grant.
#[derive(Debug, Clone)]
pub struct Resolved<'a> {
    /// The normalized path to hand to `std::fs`.
    pub path: PathBuf,
    /// The grant holding it.
    pub grant: &'a Grant,
}

impl Grants {
    /// Grants from an explicit list (tests, and the wasm preopens below).
    pub fn new(grants: Vec<Grant>) -> Self {
        let grants = grants
            .into_iter()
            .filter_map(|g| normalize(&g.path).ok().map(|path| Grant { path, ..g }))
            .collect();
        Grants { grants }
    }

    /// The preopened directories of this instance, with their write permission.
    #[cfg(target_arch = "wasm32")]
    pub fn current() -> Self {
        use wasi::filesystem::types::DescriptorFlags;
        let grants = wasi::filesystem::preopens::get_directories()
            .into_iter()
            .map(|(descriptor, name)| Grant {
                path: PathBuf::from(name),
                writable: descriptor
                    .get_flags()
                    .is_ok_and(|flags| flags.contains(DescriptorFlags::MUTATE_DIRECTORY)),
            })
            .collect();
        Grants::new(grants)
    }

    /// Built natively (unit tests) there is no host and so no grant.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn current() -> Self {
        Grants::default()
    }

    /// Finds `requested` inside a grant; for a write, the grant must be writable.
    ///
    /// A relative path is taken relative to the first granted directory.
    pub fn resolve(&self, requested: &str, write: bool) -> Result<Resolved<'_>, ToolError> {
        let Some(first) = self.grants.first() else {
            return Err(ToolError::failed(
                "no directory was granted to this tool; ask the operator to grant one",
            ));
        };
        if requested.is_empty() {
            return Err(ToolError::invalid_args(format!(
                "the path is empty; {}",
                self.listing()
            )));
        }
        let requested_path = Path::new(requested);
        let joined = if requested_path.is_absolute() || first.path.is_relative() {
            requested_path.to_path_buf()
        } else {
            first.path.join(requested_path)
        };
        let path = normalize(&joined).map_err(|()| {
            ToolError::invalid_args(format!(
                "{requested:?} goes above the root directory; {}",
                self.listing()
            ))
        })?;
        // The deepest grant holding the path decides (a writable grant may sit inside a
        // read-only one, or the other way round).
        let grant = self
            .grants
            .iter()
            .filter(|g| g.path.is_absolute() == path.is_absolute() && path.starts_with(&g.path))
            .max_by_key(|g| g.path.components().count())
            .ok_or_else(|| {
                ToolError::failed(format!(
                    "{} is outside every directory granted to this tool; {}",
                    path.display(),
                    self.listing()
                ))
            })?;
        if write && !grant.writable {
            return Err(ToolError::failed(format!(
                "cannot write {}: the directory {} was granted read-only; ask the operator for \
                 write access or write somewhere else ({})",
                path.display(),
                grant.path.display(),
                self.listing()
            )));
        }
        Ok(Resolved { path, grant })
    }

    /// "granted: /a (read-write), /b (read-only)".
    pub fn listing(&self) -> String {
        let list: Vec<String> = self
            .grants
            .iter()
            .map(|g| {
                let access = if g.writable {
                    "read-write"
                } else {
                    "read-only"
                };
                match g.path.as_os_str().is_empty() {
                    true => format!(". ({access})"),
                    false => format!("{} ({access})", g.path.display()),
                }
            })
            .collect();
        format!("granted: {}", list.join(", "))
    }
}

/// `path` with `.` removed and `..` applied; `Err` when `..` would climb above the start.
fn normalize(path: &Path) -> Result<PathBuf, ()> {
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return Err(());
                }
                out.pop();
                depth -= 1;
            }
            Component::Normal(name) => {
                out.push(name);
                depth += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn grants() -> Grants {
        Grants::new(vec![
            Grant {
                path: "/work".into(),
                writable: true,
            },
            Grant {
                path: "/docs/".into(),
                writable: false,
            },
            Grant {
                path: "/docs/drafts".into(),
                writable: true,
            },
        ])
    }

    #[test]
    fn relative_paths_resolve_against_the_first_grant() {
        let g = grants();
        let r = g.resolve("src/./main.rs", false).unwrap();
        assert_eq!(r.path, PathBuf::from("/work/src/main.rs"));
        assert_eq!(r.grant.path, PathBuf::from("/work"));
    }

    #[test]
    fn dot_dot_is_applied_before_the_grant_check() {
        let g = grants();
        let err = g.resolve("/work/../etc/passwd", false).unwrap_err();
        assert!(
            matches!(&err, ToolError::Failed(m) if m.starts_with("/etc/passwd is outside every directory granted")),
            "{err:?}"
        );
        let err = g.resolve("../../x", false).unwrap_err();
        assert!(
            matches!(&err, ToolError::InvalidArgs(m) if m.contains("goes above the root")),
            "{err:?}"
        );
    }

    #[test]
    fn a_path_outside_every_grant_lists_the_grants() {
        let err = grants().resolve("/etc/passwd", false).unwrap_err();
        assert!(
            err.message().ends_with(
                "granted: /work (read-write), /docs (read-only), /docs/drafts (read-write)"
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_prefix_that_is_not_a_path_component_does_not_count() {
        assert!(grants().resolve("/workshop/a", false).is_err());
    }

    #[test]
    fn writing_into_a_read_only_grant_is_refused() {
        let g = grants();
        assert!(g.resolve("/docs/readme.md", false).is_ok());
        let err = g.resolve("/docs/readme.md", true).unwrap_err();
        assert!(
            err.message()
                .contains("the directory /docs was granted read-only"),
            "{err:?}"
        );
        // The deeper, writable grant wins.
        assert!(g.resolve("/docs/drafts/new.md", true).is_ok());
    }

    #[test]
    fn no_grant_at_all_is_a_clear_failure() {
        let err = Grants::default().resolve("a.txt", false).unwrap_err();
        assert!(err.message().contains("no directory was granted"));
    }

    #[test]
    fn a_relative_grant_holds_relative_paths() {
        let g = Grants::new(vec![Grant {
            path: ".".into(),
            writable: false,
        }]);
        assert_eq!(
            g.resolve("./a/b.txt", false).unwrap().path,
            PathBuf::from("a/b.txt")
        );
        assert!(g.resolve("/a", false).is_err());
    }
}
