//! `pack.toml`, schema 1: what a pack is (name, version, components with their digests and
//! the tools each exports) and what it asks for (capabilities, each with a reason).
//!
//! Invariant: a [`Manifest`] that exists was parsed with unknown keys refused (the TOML error
//! names the line) and passed [`Manifest::validate`]; every later step (signing, consent,
//! install, policies) relies on that and never re-checks shapes.
//!
//! ```toml
//! schema = 1
//! [pack]
//! name = "weather"                 # a-z, 0-9, '-' (1-64)
//! version = "1.2.0"                # semver
//! description = "Forecasts"
//! authors = ["Ann <ann@example.com>"]
//! license = "MIT"
//!
//! [[components]]
//! file = "weather.wasm"            # a plain file name beside pack.toml
//! sha256 = "…64 hex…"
//! tools = ["forecast"]             # recorded from describe() at build
//!
//! [capabilities.dirs.cache]        # a logical name; the operator maps it to a real path
//! mode = "rw"                      # or "ro"
//! reason = "keeps downloaded maps"
//!
//! [[capabilities.network]]
//! scheme = "https"                 # or "http"
//! host = "api.weather.example"     # or "*.weather.example"
//! port = 443                       # optional: the scheme's default
//! path_prefix = "/v1/"             # optional: "/"
//! methods = ["GET"]                # optional: ["GET"]
//! reason = "fetches forecasts"
//!
//! [capabilities.env.TZ]            # environment keys the tool reads
//! reason = "local times"
//! [capabilities.config.units]      # config keys (host.get-config)
//! reason = "metric or imperial"
//! [capabilities.secrets.api_key]   # the host injects it; the tool never sees it
//! hosts = ["api.weather.example"]
//! header = "Authorization"
//! template = "Bearer {}"
//! reason = "the weather API needs a key"
//!
//! [capabilities.limits]            # default and maximum per call
//! fuel = { default = 1000000000, max = 5000000000 }
//! timeout = { default = "5s", max = "30s" }
//! memory = { default = "64MiB", max = "128MiB" }
//! output = { default = "64KiB", max = "1MiB" }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ManifestError;
use crate::limits::Limits;
use crate::validate;

/// The manifest schema this warden reads and writes.
pub const SCHEMA: u32 = 1;
/// The manifest's file name inside a pack.
pub const MANIFEST_FILE: &str = "pack.toml";
/// Largest `pack.toml` read, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 10;

/// A parsed and validated `pack.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The schema version (now 1); a newer one is refused, not guessed at.
    pub schema: u32,
    /// Who and what the pack is.
    pub pack: PackInfo,
    /// The Wasm components, at least one.
    pub components: Vec<Component>,
    /// What the pack asks for; nothing is granted that is not listed here.
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// The `[pack]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInfo {
    /// The pack's name: lower-case letters, digits and `-`, 1 to 64 characters.
    pub name: String,
    /// Its version (semver).
    pub version: semver::Version,
    /// One line for the operator.
    pub description: String,
    /// Who wrote it.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Its licence (an SPDX expression).
    pub license: String,
}

/// One `[[components]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The file beside `pack.toml`: a plain name ending in `.wasm`, no directories.
    pub file: String,
    /// The lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// The tools the component exports, as its `describe()` lists them.
    pub tools: Vec<String>,
}

/// Read-only or read-write access to a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Access {
    /// Read files and list directories.
    #[serde(rename = "ro")]
    ReadOnly,
    /// Also create, change and delete.
    #[serde(rename = "rw")]
    ReadWrite,
}

/// A directory the pack asks for, by logical name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirRequest {
    /// Read-only or read-write.
    pub mode: Access,
    /// Why, in words shown to the operator.
    pub reason: String,
}

/// A URL scheme the pack may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The scheme's default port.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

fn slash() -> String {
    "/".to_string()
}

fn get_only() -> Vec<String> {
    vec!["GET".to_string()]
}

/// One outgoing-HTTP rule the pack asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRequest {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// A host name, a `*.suffix` wildcard (subdomains only) or an IP literal.
    pub host: String,
    /// The port; unset means the scheme's default.
    #[serde(default)]
    pub port: Option<u16>,
    /// Requests must have a path starting with this (default `/`: any path).
    #[serde(default = "slash")]
    pub path_prefix: String,
    /// The HTTP methods allowed, upper case (default `GET`).
    #[serde(default = "get_only")]
    pub methods: Vec<String>,
    /// Why, in words shown to the operator.
    pub reason: String,
}

impl NetworkRequest {
    /// The port requests go to.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }
}

/// An environment or config key the pack reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// Why, in words shown to the operator.
    pub reason: String,
}

/// A secret the host injects into the pack's requests; the pack never sees its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    /// The hosts whose requests carry it (each covered by a network rule).
    pub hosts: Vec<String>,
    /// The request header it goes into.
    pub header: String,
    /// The header value, `{}` standing for the secret (default `{}`).
    #[serde(default = "plain_template")]
    pub template: String,
    /// Why, in words shown to the operator.
    pub reason: String,
}

fn plain_template() -> String {
    "{}".to_string()
}

/// The `[capabilities]` table: everything the pack may touch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Directories by logical name.
    #[serde(default)]
    pub dirs: BTreeMap<String, DirRequest>,
    /// Outgoing HTTP rules.
    #[serde(default)]
    pub network: Vec<NetworkRequest>,
    /// Environment keys.
    #[serde(default)]
    pub env: BTreeMap<String, KeyRequest>,
    /// Config keys.
    #[serde(default)]
    pub config: BTreeMap<String, KeyRequest>,
    /// Secrets by name.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRequest>,
    /// Resource limits per call.
    #[serde(default)]
    pub limits: Limits,
}

impl Manifest {
    /// Parses and validates `pack.toml` text. Syntax errors and unknown keys carry the line.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        if text.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                max: MAX_MANIFEST_BYTES,
            });
        }
        // The schema first, so a newer manifest is refused for its version, not its keys.
        if let Ok(table) = text.parse::<toml::Table>()
            && let Some(schema) = table.get("schema").and_then(toml::Value::as_integer)
            && schema != i64::from(SCHEMA)
        {
            return Err(ManifestError::Schema { found: schema });
        }
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks everything serde cannot: names, digests, hosts, paths, limits, reasons.
    pub fn validate(&self) -> Result<(), ManifestError> {
        validate::manifest(self)
    }

    /// The manifest as TOML (what `pack build` and `pack sign` write).
    pub fn to_toml(&self) -> Result<String, ManifestError> {
        toml::to_string_pretty(self).map_err(|e| ManifestError::Encode(e.to_string()))
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.pack.name, self.pack.version)
    }

    /// The component recording `tool`, if any.
    pub fn component_of(&self, tool: &str) -> Option<&Component> {
        self.components
            .iter()
            .find(|c| c.tools.iter().any(|t| t == tool))
    }
}
