//! Installed packs: install and upgrade with consent, list, info, remove, and load.
//!
//! Layout: `<data>/packs/<name>/` holds the verified pack (manifest, signature, components);
//! `<config>/grants/<name>.toml` holds the operator's grant.
//!
//! Invariant: install is atomic. Everything is checked first (signature against trusted keys,
//! digests, version, consent, grants, and each component compiled and described in the
//! sandbox with its tools compared to the manifest's), then the pack is written to a staging
//! directory, verified again from disk, and renamed into place; a failure at any step leaves
//! what was installed before untouched. Loading re-verifies signature, digests and the grant.

use std::path::{Path, PathBuf};

use warden_sandbox::Executor;

use crate::consent::{describe, widening};
use crate::dirs::{Dirs, ensure_private};
use crate::error::PackError;
use crate::grants::{Grant, GrantInput, manifest_digest};
use crate::manifest::Manifest;
use crate::source::{DEFAULT_MAX_PACK_BYTES, PackFiles};
use crate::trust::TrustStore;

/// What an install asks of the operator.
#[derive(Debug)]
pub struct ConsentRequest<'a> {
    /// The pack's manifest.
    pub manifest: &'a Manifest,
    /// Every requested permission in plain words.
    pub permissions: Vec<String>,
    /// For an upgrade: what it asks beyond the earlier grant (empty if nothing).
    pub widened: Vec<String>,
    /// For an upgrade: the earlier grant.
    pub previous: Option<&'a Grant>,
}

/// How the operator answers. A terminal prompt is interactive; a grants file or `--yes` is
/// not, and cannot consent to an upgrade that widens permissions.
///
/// `Send`, so that [`Store::install`]'s future can be spawned on a multi-threaded runtime.
/// [`Consent::ask`] is called from that async work: an implementation that waits for a
/// person should leave the async worker while it waits (`tokio::task::block_in_place`).
pub trait Consent: Send {
    /// Whether a person answers now.
    fn interactive(&self) -> bool;
    /// The operator's grant, or `None` if they declined.
    fn ask(&mut self, request: &ConsentRequest<'_>) -> Result<Option<GrantInput>, PackError>;
}

/// Non-interactive consent: grants everything requested with these values (`--yes`, or a
/// grants file).
#[derive(Debug, Clone, Default)]
pub struct Preapproved(pub GrantInput);

impl Consent for Preapproved {
    fn interactive(&self) -> bool {
        false
    }
    fn ask(&mut self, _: &ConsentRequest<'_>) -> Result<Option<GrantInput>, PackError> {
        Ok(Some(self.0.clone()))
    }
}

/// Install or upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A pack not installed yet.
    Install,
    /// Replace an installed pack with a newer version.
    Upgrade {
        /// Also accept a lower or equal version.
        allow_downgrade: bool,
    },
}

/// An installed pack as `list` shows it.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The manifest.
    pub manifest: Manifest,
    /// The grant.
    pub grant: Grant,
}

/// The installed-pack store.
#[derive(Debug, Clone)]
pub struct Store {
    dirs: Dirs,
    /// Cap on a pack's size.
    pub max_pack_bytes: u64,
}

impl Store {
    /// The store in `dirs`.
    pub fn new(dirs: Dirs) -> Self {
        Store {
            dirs,
            max_pack_bytes: DEFAULT_MAX_PACK_BYTES,
        }
    }

    /// The trust store beside it.
    pub fn trust(&self) -> TrustStore {
        TrustStore::new(&self.dirs)
    }

    fn pack_dir(&self, name: &str) -> PathBuf {
        self.dirs.packs().join(name)
    }

    fn grant_file(&self, name: &str) -> PathBuf {
        self.dirs.grants().join(format!("{name}.toml"))
    }

    /// Verifies, asks for consent, precompiles with `executor` and installs `files`.
    pub async fn install(
        &self,
        files: PackFiles,
        mode: Mode,
        consent: &mut dyn Consent,
        executor: &Executor,
    ) -> Result<Installed, PackError> {
        let key_id = files.verify(&self.trust())?;
        let m = &files.manifest;
        let name = m.pack.name.clone();
        let current = self.read_installed_manifest(&name)?;
        let previous = match (mode, &current) {
            (Mode::Install, Some(cur)) => {
                return Err(PackError::AlreadyInstalled {
                    name,
                    installed: cur.pack.version.clone(),
                });
            }
            (Mode::Install, None) => None,
            (Mode::Upgrade { .. }, None) => return Err(PackError::NotInstalled(name)),
            (Mode::Upgrade { allow_downgrade }, Some(cur)) => {
                if m.pack.version <= cur.pack.version && !allow_downgrade {
                    return Err(PackError::Downgrade {
                        name,
                        installed: cur.pack.version.clone(),
                        offered: m.pack.version.clone(),
                    });
                }
                Grant::read(&self.grant_file(&name))?
            }
        };
        let widened = match &previous {
            Some(g) => widening(&g.capabilities, &m.capabilities),
            None => Vec::new(),
        };
        if !widened.is_empty() && !consent.interactive() {
            return Err(PackError::WideningNeedsConsent {
                name,
                offered: m.pack.version.clone(),
                widened,
            });
        }
        precompile(&files, executor).await?;
        let request = ConsentRequest {
            manifest: m,
            permissions: describe(&m.capabilities),
            widened,
            previous: previous.as_ref(),
        };
        let input = consent.ask(&request)?.ok_or(PackError::Declined)?;
        let grant = Grant::new(m, &key_id, input.or_previous(previous.as_ref()))?;
        self.refuse_own_state(&grant)?;
        self.commit(&files, &grant)?;
        Ok(Installed {
            manifest: files.manifest,
            grant,
        })
    }

    /// A pack given warden's own config or data directory could trust keys or rewrite
    /// grants and installed packs: such a mapping is refused.
    fn refuse_own_state(&self, grant: &Grant) -> Result<(), PackError> {
        for (name, path) in &grant.dirs {
            for own in [&self.dirs.config, &self.dirs.data] {
                let own = own.canonicalize().unwrap_or_else(|_| own.clone());
                if path.starts_with(&own) || own.starts_with(path) {
                    return Err(PackError::Grants(format!(
                        "dirs.{name}: {} overlaps warden's own state directory {}; pick a directory outside it",
                        path.display(),
                        own.display()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Stage, verify from disk, rename into place, then record the grant.
    fn commit(&self, files: &PackFiles, grant: &Grant) -> Result<(), PackError> {
        let packs = self.dirs.packs();
        ensure_private(&packs)?;
        ensure_private(&self.dirs.grants())?;
        let name = &files.manifest.pack.name;
        let unique = format!("{name}-{}-{}", std::process::id(), nonce());
        let staging = packs.join(format!(".staging-{unique}"));
        let result = (|| {
            std::fs::create_dir(&staging).map_err(|e| PackError::io("creating", &staging, e))?;
            files.write_dir(&staging)?;
            let again = PackFiles::from_dir(&staging, self.max_pack_bytes)?;
            again.verify(&self.trust())?;
            let target = self.pack_dir(name);
            let old = packs.join(format!(".old-{unique}"));
            let had_old = target.exists();
            if had_old {
                std::fs::rename(&target, &old)
                    .map_err(|e| PackError::io("moving aside", &target, e))?;
            }
            if let Err(e) = std::fs::rename(&staging, &target) {
                if had_old {
                    let _ = std::fs::rename(&old, &target);
                }
                return Err(PackError::io("renaming into", &target, e));
            }
            if let Err(e) = grant.write(&self.grant_file(name)) {
                // Put the earlier state back: a pack is never installed without its grant.
                let _ = std::fs::remove_dir_all(&target);
                if had_old {
                    let _ = std::fs::rename(&old, &target);
                }
                return Err(e);
            }
            if had_old {
                let _ = std::fs::remove_dir_all(&old);
            }
            Ok(())
        })();
        if staging.exists() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    fn read_installed_manifest(&self, name: &str) -> Result<Option<Manifest>, PackError> {
        let dir = self.pack_dir(name);
        if !dir.exists() {
            return Ok(None);
        }
        let text =
            crate::source::read_capped(&dir.join(crate::manifest::MANIFEST_FILE), 256 << 10)?
                .ok_or_else(|| corrupt(name, "pack.toml is missing"))?;
        let text = String::from_utf8(text).map_err(|_| corrupt(name, "pack.toml is not UTF-8"))?;
        Ok(Some(Manifest::parse(&text)?))
    }

    /// Every installed pack, by name.
    pub fn list(&self) -> Result<Vec<Installed>, PackError> {
        let packs = self.dirs.packs();
        let entries = match std::fs::read_dir(&packs) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PackError::io("listing", &packs, e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| crate::validate::is_pack_name(n))
            .collect();
        names.sort();
        names.iter().map(|n| self.info(n)).collect()
    }

    /// One installed pack (manifest and grant, not re-verified: see [`Store::load`]).
    pub fn info(&self, name: &str) -> Result<Installed, PackError> {
        if !crate::validate::is_pack_name(name) {
            return Err(PackError::NotInstalled(name.to_string()));
        }
        let manifest = self
            .read_installed_manifest(name)?
            .ok_or_else(|| PackError::NotInstalled(name.to_string()))?;
        let grant = Grant::read(&self.grant_file(name))?
            .ok_or_else(|| corrupt(name, "it has no grant; reinstall it"))?;
        Ok(Installed { manifest, grant })
    }

    /// Removes an installed pack and its grant.
    pub fn remove(&self, name: &str) -> Result<semver::Version, PackError> {
        let manifest = self.info(name)?.manifest;
        let dir = self.pack_dir(name);
        let trash = self
            .dirs
            .packs()
            .join(format!(".removed-{name}-{}", nonce()));
        std::fs::rename(&dir, &trash).map_err(|e| PackError::io("removing", &dir, e))?;
        let grant = self.grant_file(name);
        std::fs::remove_file(&grant).map_err(|e| PackError::io("removing", &grant, e))?;
        std::fs::remove_dir_all(&trash).map_err(|e| PackError::io("removing", &trash, e))?;
        Ok(manifest.pack.version)
    }

    /// Loads `spec` (`name` or `name@<semver requirement>`, like `weather@^1`), checking the
    /// signature against the trusted keys, every component digest, and that the grant was
    /// made for this very manifest.
    pub fn load(&self, spec: &str) -> Result<LoadedPack, PackError> {
        let (name, req) = parse_spec(spec)?;
        let dir = self.pack_dir(name);
        if !crate::validate::is_pack_name(name) || !dir.is_dir() {
            return Err(PackError::NotInstalled(spec.to_string()));
        }
        let files = PackFiles::from_dir(&dir, self.max_pack_bytes)?;
        if !req.matches(&files.manifest.pack.version) {
            return Err(PackError::NotInstalled(format!(
                "{spec} ({name} {} is installed)",
                files.manifest.pack.version
            )));
        }
        let key_id = files
            .verify(&self.trust())
            .map_err(|e| corrupt(name, &e.to_string()))?;
        let grant = Grant::read(&self.grant_file(name))?
            .ok_or_else(|| corrupt(name, "it has no grant; reinstall it"))?;
        if grant.manifest_sha256 != manifest_digest(&files.manifest)?
            || grant.key_id != key_id
            || grant.capabilities != files.manifest.capabilities
        {
            return Err(corrupt(
                name,
                "its grant was made for another manifest; reinstall it",
            ));
        }
        Ok(LoadedPack { files, grant })
    }
}

/// An installed pack, verified, with its grant: ready to build tool policies from.
#[derive(Debug, Clone)]
pub struct LoadedPack {
    /// The verified files.
    pub files: PackFiles,
    /// The operator's grant.
    pub grant: Grant,
}

/// Compiles (into the executor's cache) and describes every component; the tools must match.
pub async fn precompile(files: &PackFiles, executor: &Executor) -> Result<(), PackError> {
    for c in &files.manifest.components {
        let bytes = files
            .components
            .get(&c.file)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let set = executor
            .load_bytes(bytes)
            .await
            .map_err(|e| PackError::ComponentLoad {
                file: c.file.clone(),
                message: e.to_string(),
            })?;
        let mut described: Vec<String> = set.tools().iter().map(|t| t.name.clone()).collect();
        let mut recorded = c.tools.clone();
        described.sort();
        recorded.sort();
        if described != recorded {
            return Err(PackError::ToolsMismatch {
                file: c.file.clone(),
                described,
                recorded,
            });
        }
    }
    Ok(())
}

/// Splits `name@req`; a bare name accepts any version.
pub fn parse_spec(spec: &str) -> Result<(&str, semver::VersionReq), PackError> {
    match spec.split_once('@') {
        None => Ok((spec, semver::VersionReq::STAR)),
        Some((name, req)) => semver::VersionReq::parse(req)
            .map(|r| (name, r))
            .map_err(|e| {
                PackError::Grants(format!(
                    "{spec:?}: the version requirement is not semver ({e}); write e.g. weather@^1"
                ))
            }),
    }
}

fn corrupt(name: &str, why: &str) -> PackError {
    PackError::Corrupt {
        name: name.to_string(),
        why: why.to_string(),
    }
}

fn nonce() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// Whether `path` looks like a pack directory (has `pack.toml`).
pub fn is_pack_dir(path: &Path) -> bool {
    path.join(crate::manifest::MANIFEST_FILE).is_file()
}
