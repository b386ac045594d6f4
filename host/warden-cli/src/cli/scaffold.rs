//! `warden tool new <name>` and `warden tool sdk`: a tool crate that builds as written, on a
//! machine with no warden checkout.
//!
//! The crate depends by path on the SDK embedded in this binary (see `sdk_files.rs`), which
//! `tool new` unpacks under the data directory first. Invariant: nothing is written unless the
//! name is valid and the target folder does not exist yet (or is empty); the crate is written
//! into a staging folder and renamed into place, so a failure leaves nothing half-made.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::sdk_files;

/// `warden tool new <name> [--dir DIR]`
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The tool's name: lower-case letters, digits and `-` (1 to 64, starting with a
    /// letter). It names the crate, the pack and (with `_` for `-`) the tool function.
    name: String,
    /// Where to create the crate (default: `./<name>`).
    #[arg(long)]
    dir: Option<PathBuf>,
}

impl NewArgs {
    /// The tool's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The names a tool function cannot have (Rust keywords, and the std prelude's macros' crate).
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "std",
    "core",
    "alloc",
    "test",
    "warden-tool",
    "tests",
];

/// Checks a tool name; the error says what a valid one looks like.
fn check_name(name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !valid {
        bail!(
            "{name:?} is not a valid tool name: use lower-case letters, digits and single `-` \
             (1 to 64, starting with a letter), e.g. `word-count`"
        );
    }
    if RESERVED.contains(&name) || RESERVED.contains(&name.replace('-', "_").as_str()) {
        bail!("{name:?} is a reserved word in Rust; pick another name, e.g. `{name}-tool`");
    }
    Ok(())
}

/// `word-count` -> `WordCount`.
fn camel(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The files of a new crate: (relative path, contents).
fn files(name: &str, sdk: &Path) -> Result<Vec<(&'static str, String)>> {
    let sdk = sdk
        .to_str()
        .with_context(|| format!("the SDK path {} is not UTF-8", sdk.display()))?;
    // A JSON string is a valid TOML basic string (same escapes).
    let sdk_path = serde_json::to_string(sdk)?;
    let function = name.replace('-', "_");
    let fill = |template: &str| {
        template
            .replace("__SDK_PATH__", &sdk_path)
            .replace("__CAMEL__", &camel(name))
            .replace("__FN__", &function)
            .replace("__NAME__", name)
    };
    Ok(vec![
        (
            "Cargo.toml",
            fill(include_str!("../../templates/tool/Cargo.toml.tmpl")),
        ),
        (
            "src/lib.rs",
            fill(include_str!("../../templates/tool/lib.rs.tmpl")),
        ),
        (
            "pack.toml",
            fill(include_str!("../../templates/tool/pack.toml.tmpl")),
        ),
        (
            "README.md",
            fill(include_str!("../../templates/tool/README.md.tmpl")),
        ),
        (
            ".gitignore",
            include_str!("../../templates/tool/gitignore.tmpl").to_string(),
        ),
        ("Cargo.lock", sdk_files::LOCK.to_string()),
    ])
}

/// Writes the crate for `args`; returns its folder.
pub fn new_crate(args: &NewArgs) -> Result<PathBuf> {
    check_name(&args.name)?;
    let target = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if std::fs::symlink_metadata(&target).is_ok() {
        let empty_dir = std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_none());
        if !empty_dir {
            bail!(
                "{} already exists; pick another --dir or remove it",
                target.display()
            );
        }
        std::fs::remove_dir(&target)
            .with_context(|| format!("cannot replace the empty folder {}", target.display()))?;
    }
    let sdk = sdk_path()?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".warden-new-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a staging folder in {}", parent.display()))?;
    for (path, text) in files(&args.name, &sdk)? {
        let file = staging.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    std::fs::rename(staging.keep(), &target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    Ok(target)
}

/// The SDK crate's path, unpacking the embedded SDK if needed.
pub fn sdk_path() -> Result<PathBuf> {
    let dirs = warden_pack::Dirs::from_env()?;
    let sdk = sdk_files::install(&dirs.data)?;
    // An absolute path: the crate may be moved, the SDK stays.
    Ok(std::path::absolute(&sdk).unwrap_or(sdk))
}

/// What to do next, printed after `tool new`.
pub fn next_steps(dir: &Path, name: &str) -> String {
    let d = dir.display();
    format!(
        "created {d} (tool `{}`, SDK {})\n\nnext:\n  cd {d}\n  cargo test           # the tool's logic, natively\n  warden pack build    # -> pack/ (pack.toml + the component)\n  warden pack sign pack --key <your.key> && warden pack install pack\n",
        name.replace('-', "_"),
        sdk_files::SDK_VERSION
    )
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_with_a_useful_message() {
        for good in ["greet", "word-count", "a1"] {
            check_name(good).unwrap();
        }
        for bad in [
            "",
            "Greet",
            "1a",
            "a_b",
            "a-",
            "a--b",
            "../x",
            "a b",
            &"a".repeat(65),
        ] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("lower-case letters"), "{bad:?}: {err}");
        }
        let err = check_name("match").unwrap_err().to_string();
        assert!(err.contains("reserved word"), "{err}");
    }

    #[test]
    fn templates_are_filled_completely() {
        let files = files("word-count", Path::new("/sdk \"q\"/warden-tool")).unwrap();
        for (path, text) in &files {
            assert!(!text.contains("__"), "{path} has an unfilled placeholder");
        }
        let lib = &files.iter().find(|(p, _)| *p == "src/lib.rs").unwrap().1;
        assert!(lib.contains("pub fn word_count(args: WordCountArgs)"));
        let cargo = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        assert!(
            cargo.contains(r#"path = "/sdk \"q\"/warden-tool""#),
            "{cargo}"
        );
    }
}
