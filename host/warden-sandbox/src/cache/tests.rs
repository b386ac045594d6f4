//! The cache's checks, each against the attack it stops.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::*;
use crate::EngineConfig;
use crate::engine::{CodegenSettings, compiler_engine};

fn engine() -> Engine {
    compiler_engine(&CodegenSettings::of(&EngineConfig::default())).unwrap()
}

/// A real artifact: a component exporting a function that returns `n`.
fn artifact(engine: &Engine, n: u32) -> Vec<u8> {
    let wat = format!(
        r#"(component
             (core module $m (func (export "f") (result i32) i32.const {n}))
             (core instance $i (instantiate $m))
             (func (export "f") (result u32) (canon lift (core func $i "f"))))"#
    );
    engine
        .precompile_component(&wat::parse_str(wat).unwrap())
        .unwrap()
}

fn cache_in(engine: &Engine, root: &Path) -> ArtifactCache {
    ArtifactCache::open(
        engine,
        &CacheDir::Path(root.join("cache")),
        &StateDir::Path(root.join("state")),
        1 << 30,
    )
}

fn file(cache: &ArtifactCache, digest: &str, kind: Kind) -> PathBuf {
    cache.dir().unwrap().join(cache.name(digest, kind))
}

#[test]
fn both_directories_are_created_private() {
    let root = tempfile::tempdir().unwrap();
    let cache = cache_in(&engine(), root.path());
    for dir in [cache.dir().unwrap(), cache.state_dir().unwrap()] {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    }
}

#[test]
fn a_stored_artifact_loads_and_a_tampered_one_is_removed_not_run() {
    let engine = engine();
    let root = tempfile::tempdir().unwrap();
    let cache = cache_in(&engine, root.path());
    cache.store("d1", &artifact(&engine, 1));
    assert!(cache.load(&engine, "d1").is_some());
    let path = file(&cache, "d1", Kind::Artifact);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    assert!(cache.load(&engine, "d1").is_none());
    assert!(!path.exists(), "the tampered artifact is still there");
}

#[test]
fn a_planted_valid_artifact_without_this_users_key_is_not_loaded() {
    let engine = engine();
    let root = tempfile::tempdir().unwrap();
    let cache = cache_in(&engine, root.path());
    // A genuine serialized component under the right name, but not sealed.
    let path = file(&cache, "d1", Kind::Artifact);
    std::fs::write(&path, artifact(&engine, 666)).unwrap();
    assert!(cache.load(&engine, "d1").is_none());
    // Sealed, but with another key (another state dir).
    let other = tempfile::tempdir().unwrap();
    let foreign = cache_in(&engine, other.path());
    foreign.store("d1", &artifact(&engine, 666));
    std::fs::copy(file(&foreign, "d1", Kind::Artifact), &path).unwrap();
    assert!(cache.load(&engine, "d1").is_none());
    // Sealed with our key for another component, renamed to this one.
    cache.store("d2", &artifact(&engine, 666));
    std::fs::rename(file(&cache, "d2", Kind::Artifact), &path).unwrap();
    assert!(cache.load(&engine, "d1").is_none());
}

#[test]
fn a_swapped_tools_file_is_detected() {
    let root = tempfile::tempdir().unwrap();
    let cache = cache_in(&engine(), root.path());
    let tools = |name: &str| {
        vec![DescribedTool {
            name: name.into(),
            description: "d".into(),
            args_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
        }]
    };
    cache.write_described("d1", &tools("one"));
    cache.write_described("d2", &tools("two"));
    assert_eq!(cache.read_described("d1"), Some(tools("one")));
    std::fs::copy(
        file(&cache, "d2", Kind::Tools),
        file(&cache, "d1", Kind::Tools),
    )
    .unwrap();
    assert_eq!(cache.read_described("d1"), None);
    assert_eq!(cache.read_described("d2"), Some(tools("two")));
}

#[test]
fn a_group_writable_cache_dir_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cache");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
    assert_eq!(cache_in(&engine(), root.path()).dir(), None);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn a_cache_dir_reached_through_a_symlink_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, root.path().join("cache")).unwrap();
    assert_eq!(cache_in(&engine(), root.path()).dir(), None);
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
}

#[test]
fn a_cache_or_key_dir_owned_by_another_user_is_refused() {
    if rustix::process::geteuid().as_raw() != 0 {
        return; // Only root can give a directory away; the check itself is the same.
    }
    const NOBODY: u32 = 65534;
    for which in ["cache", "state"] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(which);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
        let cache = cache_in(&engine(), root.path());
        assert_eq!(cache.dir(), None, "{which}");
    }
}

#[test]
fn caching_can_be_disabled() {
    let root = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::open(
        &engine(),
        &CacheDir::Disabled,
        &StateDir::Path(root.path().join("state")),
        1 << 30,
    );
    assert_eq!(cache.dir(), None);
    assert!(!root.path().join("state").exists());
}

#[test]
fn a_cache_path_with_dot_dots_is_the_directory_grants_are_checked_against() {
    let root = tempfile::tempdir().unwrap();
    let root_path = std::fs::canonicalize(root.path()).unwrap();
    let given = root_path.join("new/../cache");
    let cache = ArtifactCache::open(
        &engine(),
        &CacheDir::Path(given.clone()),
        &StateDir::Path(root_path.join("state")),
        1 << 30,
    );
    assert_eq!(cache.dir(), Some(root_path.join("cache").as_path()));
    assert_eq!(crate::state_dirs::resolve(&given), root_path.join("cache"));
}
