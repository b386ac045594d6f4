//! warden's own state directories (the compiled-code cache and the directory of its key) and
//! the rule that no directory grant may reach them: a grant that is, contains or lies inside
//! one of them is refused, comparing canonical paths (symlinks resolved).
//!
//! Invariant: the directories checked are the per-user defaults from the environment plus
//! those of every live [`Executor`](super::Executor), whichever existed first, so a policy
//! checked before or after an executor was built is refused all the same.

use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::config::{CacheDir, StateDir};

static REGISTERED: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Keeps an executor's state directories protected while it lives.
#[derive(Debug)]
pub(crate) struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut dirs = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        dirs.retain(|(id, _)| *id != self.0);
    }
}

/// Protects `dirs` (canonicalized now) until the returned registration is dropped.
pub(crate) fn register(dirs: &[PathBuf]) -> Registration {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let resolved: Vec<_> = dirs.iter().map(|d| (id, resolve(d))).collect();
    let mut all = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    all.extend(resolved);
    Registration(id)
}

/// How a granted directory reaches a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overlap {
    /// The granted directory, canonical.
    pub(crate) granted: PathBuf,
    /// The state directory it reaches, canonical.
    pub(crate) state_dir: PathBuf,
    /// `"is"`, `"contains"` or `"lies inside"`.
    pub(crate) relation: &'static str,
}

/// The first state directory that `granted` is, contains or lies inside, if any.
pub(crate) fn find_overlap(granted: &Path) -> Option<Overlap> {
    let granted = resolve(granted);
    let mut protected: Vec<PathBuf> = [CacheDir::Default.resolve(), StateDir::Default.resolve()]
        .into_iter()
        .flatten()
        .map(|d| resolve(&d))
        .collect();
    {
        let registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        protected.extend(registered.iter().map(|(_, d)| d.clone()));
    }
    protected
        .into_iter()
        .find_map(|state_dir| overlap(&granted, state_dir))
}

fn overlap(granted: &Path, state_dir: PathBuf) -> Option<Overlap> {
    let relation = if granted == state_dir {
        "is"
    } else if state_dir.starts_with(granted) {
        "contains"
    } else if granted.starts_with(&state_dir) {
        "lies inside"
    } else {
        return None;
    };
    Some(Overlap {
        granted: granted.to_path_buf(),
        state_dir,
        relation,
    })
}

/// The canonical form of `path`: absolute, symlinks resolved as far as the path exists, and
/// the part that does not exist yet cleaned lexically (it cannot hold a symlink).
pub(crate) fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(real) = std::fs::canonicalize(&absolute) {
        return real;
    }
    // The longest prefix that exists, resolved by the OS; the rest after it, lexically.
    let parts: Vec<Component<'_>> = absolute.components().collect();
    let (mut out, tail) = (0..parts.len())
        .rev()
        .find_map(|n| {
            let prefix: PathBuf = parts[..n].iter().collect();
            let real = std::fs::canonicalize(&prefix).ok()?;
            Some((real, &parts[n..]))
        })
        .unwrap_or_else(|| (PathBuf::new(), &parts[..]));
    for part in tail {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn a_grant_that_is_contains_or_lies_inside_a_state_dir_overlaps() {
        let root = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root.path()).unwrap();
        let state = root.join("home/.cache/warden");
        std::fs::create_dir_all(state.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("home/project")).unwrap();
        let _reg = register(std::slice::from_ref(&state));
        let rel = |p: &str| find_overlap(&root.join(p)).map(|o| o.relation);
        assert_eq!(rel("home"), Some("contains"));
        assert_eq!(rel("home/.cache/warden"), Some("is"));
        assert_eq!(rel("home/.cache/warden/sub"), Some("lies inside"));
        assert_eq!(rel("home/project"), None);
        assert_eq!(find_overlap(&root.join("home")).unwrap().state_dir, state);
    }

    #[test]
    fn symlinks_and_dot_dots_are_resolved_before_comparing() {
        let root = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root.path()).unwrap();
        let state = root.join("real/state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir(root.join("other")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("alias")).unwrap();
        let _reg = register(std::slice::from_ref(&state));
        assert_eq!(
            find_overlap(&root.join("alias")).map(|o| o.relation),
            Some("contains")
        );
        assert_eq!(
            find_overlap(&root.join("other/../real/state")).map(|o| o.relation),
            Some("is")
        );
    }

    #[test]
    fn a_state_dir_that_does_not_exist_yet_is_protected_through_its_parent() {
        let root = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root.path()).unwrap();
        std::os::unix::fs::symlink(&root, root.join("link")).unwrap();
        let _reg = register(&[root.join("link/not/yet/../there")]);
        let found = find_overlap(&root).unwrap();
        assert_eq!(found.state_dir, root.join("not/there"));
        assert_eq!(found.relation, "contains");
    }

    #[test]
    fn dropping_the_registration_unprotects_the_dir() {
        let root = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(root.path()).unwrap().join("gone");
        std::fs::create_dir(&dir).unwrap();
        drop(register(std::slice::from_ref(&dir)));
        assert_eq!(find_overlap(&dir), None);
    }
}
