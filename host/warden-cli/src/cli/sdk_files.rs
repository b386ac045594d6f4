//! The guest SDK (`warden-tool` and its macros) compiled into the `warden` binary, and
//! writing it to a versioned folder under the data directory, where scaffolded tool crates
//! depend on it by path.
//!
//! Why embedded: a user who installed warden has no checkout of it, and the SDK is not on
//! crates.io; the binary carries the exact SDK its sandbox speaks (same WIT), so a tool built
//! against it always fits. Invariant: the folder's name holds the SDK version and a digest of
//! every embedded file, so two wardens never share a folder with different contents; a folder
//! whose files differ from the embedded ones (edited, truncated) is rewritten before use.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The SDK's version (the guest workspace's).
pub const SDK_VERSION: &str = "0.1.0";

/// Every file of the SDK as (path under the SDK folder, contents). The layout mirrors the
/// repository (`guest-tools/sdk`, `guest-tools/macros`, `wit/`), because the SDK finds its WIT
/// at `../../wit` from its manifest.
pub const FILES: &[(&str, &str)] = &[
    ("guest-tools/sdk/Cargo.toml", SDK_MANIFEST),
    (
        "guest-tools/sdk/src/lib.rs",
        include_str!("../../../../guest-tools/sdk/src/lib.rs"),
    ),
    (
        "guest-tools/sdk/src/__rt.rs",
        include_str!("../../../../guest-tools/sdk/src/__rt.rs"),
    ),
    (
        "guest-tools/sdk/src/config.rs",
        include_str!("../../../../guest-tools/sdk/src/config.rs"),
    ),
    (
        "guest-tools/sdk/src/error.rs",
        include_str!("../../../../guest-tools/sdk/src/error.rs"),
    ),
    (
        "guest-tools/sdk/src/log.rs",
        include_str!("../../../../guest-tools/sdk/src/log.rs"),
    ),
    ("guest-tools/macros/Cargo.toml", MACROS_MANIFEST),
    (
        "guest-tools/macros/src/lib.rs",
        include_str!("../../../../guest-tools/macros/src/lib.rs"),
    ),
    (
        "guest-tools/macros/src/data.rs",
        include_str!("../../../../guest-tools/macros/src/data.rs"),
    ),
    ("wit/tool.wit", include_str!("../../../../wit/tool.wit")),
];

/// The guest workspace's lock file: a scaffold starts from the dependency versions warden's
/// own tools are built and tested with (and builds offline when they are in cargo's cache).
pub const LOCK: &str = include_str!("../../../../guest-tools/Cargo.lock");

/// The SDK's manifest outside the guest workspace (the in-tree one inherits from it).
const SDK_MANIFEST: &str = r#"# Written by warden (`warden tool new`); the SDK embedded in this warden binary.
[package]
name = "warden-tool"
description = "Write warden tools in Rust: #[tool] functions, export_tools!, logging and config."
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"

[dependencies]
warden-tool-macros = { path = "../macros", version = "0.1.0" }
wit-bindgen = { version = "0.60", default-features = false, features = ["macros", "realloc"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
schemars = "1"
"#;

/// The macros' manifest outside the guest workspace.
const MACROS_MANIFEST: &str = r#"# Written by warden (`warden tool new`); the SDK embedded in this warden binary.
[package]
name = "warden-tool-macros"
description = "The #[tool] attribute of the warden-tool SDK."
version = "0.1.0"
edition = "2024"
license = "Apache-2.0"

[lib]
proc-macro = true

[dependencies]
syn = { version = "2", features = ["full"] }
quote = "1"
proc-macro2 = "1"
"#;

/// `warden-tool-<version>-<digest of the files>`: the folder name under `<data>/sdk/`.
pub fn folder_name() -> String {
    let mut all = Vec::new();
    for (path, text) in FILES {
        all.extend_from_slice(path.as_bytes());
        all.push(0);
        all.extend_from_slice(text.as_bytes());
        all.push(0);
    }
    let digest = warden_pack::sha256_hex(&all);
    format!("warden-tool-{SDK_VERSION}-{}", &digest[..12])
}

/// Makes sure the embedded SDK is at `<data_dir>/sdk/<folder_name>` with exactly the embedded
/// contents; returns the path of the `warden-tool` crate in it.
pub fn install(data_dir: &Path) -> Result<PathBuf> {
    let root = data_dir.join("sdk").join(folder_name());
    if !matches_embedded(&root) {
        write_fresh(&root)?;
    }
    Ok(root.join("guest-tools/sdk"))
}

/// Whether every embedded file is at `root` with the same contents (files are small: the
/// largest is a few tens of KB, so a read bounded by the expected length is enough).
fn matches_embedded(root: &Path) -> bool {
    FILES.iter().all(|(path, text)| {
        let file = root.join(path);
        std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file() && m.len() == text.len() as u64)
            && std::fs::read(&file).is_ok_and(|bytes| bytes == text.as_bytes())
    })
}

/// Writes the SDK into a staging folder beside `root`, then renames it into place (replacing
/// a damaged copy), so a reader never sees half an SDK.
fn write_fresh(root: &Path) -> Result<()> {
    let parent = root
        .parent()
        .context("the SDK folder has no parent folder")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a staging folder in {}", parent.display()))?;
    for (path, text) in FILES {
        let file = staging.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    if std::fs::symlink_metadata(root).is_ok() {
        // A damaged copy (or anything else) in the way.
        let removed = if std::fs::symlink_metadata(root).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(root)
        } else {
            std::fs::remove_file(root)
        };
        removed.with_context(|| format!("cannot replace the damaged SDK at {}", root.display()))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, root).with_context(|| {
        format!(
            "cannot move the SDK from {} to {}",
            staged.display(),
            root.display()
        )
    })?;
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    /// Every source file of the SDK in the checkout is embedded (a new module must be added
    /// to `FILES`, or scaffolded crates would not build).
    #[test]
    fn every_sdk_source_file_is_embedded() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for dir in ["guest-tools/sdk/src", "guest-tools/macros/src", "wit"] {
            for entry in std::fs::read_dir(repo.join(dir)).unwrap() {
                let name = entry.unwrap().file_name();
                let path = format!("{dir}/{}", name.to_str().unwrap());
                assert!(
                    FILES.iter().any(|(p, _)| *p == path),
                    "{path} is not in sdk_files::FILES"
                );
            }
        }
    }

    #[test]
    fn a_damaged_copy_is_rewritten_and_an_intact_one_kept() {
        let data = tempfile::tempdir().unwrap();
        let sdk = install(data.path()).unwrap();
        let lib = sdk.join("src/lib.rs");
        std::fs::write(&lib, "broken").unwrap();
        assert_eq!(install(data.path()).unwrap(), sdk);
        assert_eq!(std::fs::read_to_string(&lib).unwrap(), FILES[1].1);
        let before = std::fs::metadata(&lib).unwrap().modified().unwrap();
        install(data.path()).unwrap();
        assert_eq!(std::fs::metadata(&lib).unwrap().modified().unwrap(), before);
        // No staging folders left behind.
        let entries = std::fs::read_dir(data.path().join("sdk")).unwrap().count();
        assert_eq!(entries, 1);
    }

    #[test]
    fn the_folder_name_holds_version_and_digest() {
        let name = folder_name();
        assert!(name.starts_with("warden-tool-0.1.0-"), "{name}");
        assert_eq!(name.len(), "warden-tool-0.1.0-".len() + 12);
    }
}
