//! Grants: what the operator agreed to for an installed pack, and the values that go with it
//! (real paths for logical directories, env and config values, hosts allowed to be internal).
//!
//! Invariant: grants belong to the operator. A [`Grant`] is only made from a [`GrantInput`]
//! the operator supplied (terminal answers or a grants file) checked against the pack's
//! requests: nothing the pack did not request can be granted, every requested directory is
//! mapped to an existing one, and the grant is bound to the manifest by its canonical digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dirs::write_atomic;
use crate::error::PackError;
use crate::manifest::{Capabilities, Manifest};
use crate::signing::{canonical_bytes, sha256_hex};
use crate::source::read_capped;

/// What the operator supplies with consent. A grants file has this shape:
///
/// ```toml
/// [dirs]
/// cache = "/var/lib/weather"      # every directory the pack requests, by logical name
/// [env]
/// TZ = "Europe/Paris"             # values for requested env keys (optional)
/// [config]
/// units = "metric"                # values for requested config keys (optional)
/// [secrets]
/// api_key = { env = "WEATHER_KEY" }   # or { file = "/etc/warden/weather.key" } (mode 0600)
/// private_hosts = ["localhost"]   # requested hosts allowed to resolve to internal addresses
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    /// Real directories for the requested logical names.
    #[serde(default)]
    pub dirs: BTreeMap<String, PathBuf>,
    /// Values of requested environment keys.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Values of requested config keys.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Requested hosts that may resolve to loopback or private addresses.
    #[serde(default)]
    pub private_hosts: Vec<String>,
    /// Where each requested secret's value is kept (never the value itself).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
}

/// Where the operator keeps a secret: the value is read when a tool call's policy is built,
/// never stored in a grant, and never given to the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretSource {
    /// An environment variable of the warden process.
    Env(String),
    /// A file readable by its owner only (mode 0600); its content, trimmed.
    File(PathBuf),
}

impl SecretSource {
    /// Reads the value.
    pub fn read(&self, name: &str) -> Result<String, PackError> {
        let value = match self {
            SecretSource::Env(var) => std::env::var(var).map_err(|_| {
                PackError::Grants(format!(
                    "secret {name}: the environment variable {var} is not set"
                ))
            })?,
            SecretSource::File(path) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let meta =
                        std::fs::metadata(path).map_err(|e| PackError::io("reading", path, e))?;
                    if meta.permissions().mode() & 0o077 != 0 {
                        return Err(PackError::Grants(format!(
                            "secret {name}: {} may be read by others; run chmod 600 on it",
                            path.display()
                        )));
                    }
                }
                let bytes = read_capped(path, 16 << 10)?.ok_or_else(|| {
                    PackError::io(
                        "reading",
                        path,
                        std::io::Error::from(std::io::ErrorKind::NotFound),
                    )
                })?;
                String::from_utf8(bytes)
                    .map_err(|_| {
                        PackError::Grants(format!("secret {name}: the file is not UTF-8"))
                    })?
                    .trim()
                    .to_string()
            }
        };
        Ok(value)
    }
}

impl GrantInput {
    /// Reads a grants file (TOML; unknown keys are errors with their line).
    pub fn read(path: &Path) -> Result<Self, PackError> {
        let bytes = read_capped(path, 64 << 10)?.ok_or_else(|| {
            PackError::io(
                "reading",
                path,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| PackError::Grants(format!("{} is not UTF-8", path.display())))?;
        toml::from_str(&text).map_err(|e| PackError::Grants(format!("{}: {e}", path.display())))
    }

    /// Fills what this input leaves out from an earlier grant (an upgrade keeps its mappings).
    pub fn or_previous(mut self, previous: Option<&Grant>) -> Self {
        if let Some(p) = previous {
            for (k, v) in &p.dirs {
                self.dirs.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &p.env {
                self.env.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &p.config {
                self.config.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if self.private_hosts.is_empty() {
                self.private_hosts = p.private_hosts.clone();
            }
            for (k, v) in &p.secrets {
                self.secrets.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        self
    }
}

/// The recorded grant of one installed pack (`<config>/grants/<name>.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Format version (1).
    pub schema: u32,
    /// The pack's name.
    pub pack: String,
    /// The version consented to.
    pub version: semver::Version,
    /// The key that signed it.
    pub key_id: String,
    /// SHA-256 of the manifest's canonical encoding: the grant holds for that manifest only.
    pub manifest_sha256: String,
    /// Real directories by logical name (canonical paths).
    pub dirs: BTreeMap<String, PathBuf>,
    /// Env values.
    pub env: BTreeMap<String, String>,
    /// Config values.
    pub config: BTreeMap<String, String>,
    /// Hosts allowed to be internal.
    pub private_hosts: Vec<String>,
    /// Where each secret is kept (references, not values).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// The capabilities consented to (a copy of the manifest's at consent time).
    pub capabilities: Capabilities,
}

impl Grant {
    /// Checks `input` against `manifest`'s requests and makes the grant.
    pub fn new(manifest: &Manifest, key_id: &str, input: GrantInput) -> Result<Self, PackError> {
        let caps = &manifest.capabilities;
        let err = |m: String| Err(PackError::Grants(m));
        let unrequested = [
            (
                "dirs",
                input.dirs.keys().find(|k| !caps.dirs.contains_key(*k)),
            ),
            ("env", input.env.keys().find(|k| !caps.env.contains_key(*k))),
            (
                "config",
                input.config.keys().find(|k| !caps.config.contains_key(*k)),
            ),
            (
                "secrets",
                input
                    .secrets
                    .keys()
                    .find(|k| !caps.secrets.contains_key(*k)),
            ),
        ];
        for (table, key) in unrequested {
            if let Some(key) = key {
                return err(format!("{table}.{key}: the pack does not request it"));
            }
        }
        for h in &input.private_hosts {
            if !caps.network.iter().any(|n| &n.host == h) {
                return err(format!(
                    "private_hosts: the pack requests no network rule for {h:?}"
                ));
            }
        }
        let mut dirs = BTreeMap::new();
        for name in caps.dirs.keys() {
            let Some(path) = input.dirs.get(name) else {
                return err(format!(
                    "the pack requests a directory called {name:?}: map it to a real one (dirs.{name} = \"/path\" in a grants file, or answer the prompt)"
                ));
            };
            let real = path.canonicalize().map_err(|e| {
                PackError::Grants(format!(
                    "dirs.{name}: {}: {e}; create it or fix the path",
                    path.display()
                ))
            })?;
            if !real.is_dir() {
                return err(format!(
                    "dirs.{name}: {} is not a directory",
                    real.display()
                ));
            }
            dirs.insert(name.clone(), real);
        }
        Ok(Grant {
            schema: 1,
            pack: manifest.pack.name.clone(),
            version: manifest.pack.version.clone(),
            key_id: key_id.to_string(),
            manifest_sha256: manifest_digest(manifest)?,
            dirs,
            env: input.env,
            config: input.config,
            private_hosts: input.private_hosts,
            secrets: input.secrets,
            capabilities: caps.clone(),
        })
    }

    /// Reads a recorded grant.
    pub fn read(path: &Path) -> Result<Option<Self>, PackError> {
        let Some(bytes) = read_capped(path, 1 << 20)? else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| PackError::Grants(format!("{} is not UTF-8", path.display())))?;
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| PackError::Grants(format!("{}: {e}", path.display())))
    }

    /// Writes it atomically (mode 0600).
    pub fn write(&self, path: &Path) -> Result<(), PackError> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| PackError::Grants(format!("could not encode the grant: {e}")))?;
        write_atomic(path, text.as_bytes())
    }
}

/// SHA-256 of a manifest's canonical encoding.
pub fn manifest_digest(manifest: &Manifest) -> Result<String, PackError> {
    Ok(sha256_hex(&canonical_bytes(manifest)?))
}
