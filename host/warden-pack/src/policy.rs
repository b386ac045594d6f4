//! From an installed pack's grant to the sandbox's [`ToolPolicy`], narrowed by an agent file
//! (`narrow = {..}`) or by the operator serving it (`warden mcp serve --narrow PACK=FILE`).
//!
//! Invariant: a narrowing can only take away. Naming a directory, host or key that was not
//! granted, or a limit above the pack's maximum, is an error, never a silent widening; the
//! resulting policy grants nothing the operator's grant does not.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use warden_sandbox::egress::{EgressPolicy, HostRule, SecretHeader};
use warden_sandbox::{DirMode, GrantedDir, ToolPolicy};

use crate::error::PackError;
use crate::limits::{Bytes, Fuel, Limit, Millis, Unit};
use crate::manifest::Access;
use crate::store::LoadedPack;

/// What an agent file may say about a pack it uses: keep fewer things, lower limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Narrowing {
    /// Keep only these logical directories.
    pub dirs: Option<Vec<String>>,
    /// Make these logical directories read-only.
    #[serde(default)]
    pub read_only: Vec<String>,
    /// Keep only the network rules for these hosts (as the pack writes them).
    pub hosts: Option<Vec<String>>,
    /// Keep only these env keys.
    pub env: Option<Vec<String>>,
    /// Keep only these config keys.
    pub config: Option<Vec<String>>,
    /// Fuel per call, at most the pack's maximum.
    pub fuel: Option<u64>,
    /// Time per call (`"5s"`), at most the pack's maximum.
    pub timeout: Option<String>,
    /// Memory per call (`"64MiB"`), at most the pack's maximum.
    pub memory: Option<String>,
    /// Output per call (`"64KiB"`), at most the pack's maximum.
    pub output: Option<String>,
}

impl Narrowing {
    /// The largest narrowing file read.
    pub const MAX_FILE_BYTES: u64 = 64 << 10;

    /// Reads a narrowing file: TOML with the keys of an agent file's `narrow` table
    /// (`dirs`, `read_only`, `hosts`, `env`, `config`, `fuel`, `timeout`, `memory`, `output`);
    /// unknown keys are errors with their line.
    pub fn read(path: &Path) -> Result<Self, PackError> {
        let bad = |message: String| PackError::NarrowingFile {
            path: path.to_path_buf(),
            message,
        };
        let bytes = crate::source::read_capped(path, Self::MAX_FILE_BYTES)?.ok_or_else(|| {
            PackError::io(
                "reading",
                path,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
        let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
        toml::from_str(&text).map_err(|e| bad(e.to_string()))
    }
}

fn kept<'a>(
    keep: &Option<Vec<String>>,
    granted: impl Iterator<Item = &'a String> + Clone,
    what: &str,
) -> Result<(), PackError> {
    if let Some(keep) = keep {
        for k in keep {
            if !granted.clone().any(|g| g == k) {
                return Err(PackError::Widening(format!(
                    "the narrowing keeps {what} {k:?}, which the pack's grant does not include (a narrowing can only take away from a grant)"
                )));
            }
        }
    }
    Ok(())
}

fn keeps(keep: &Option<Vec<String>>, item: &str) -> bool {
    keep.as_ref().is_none_or(|k| k.iter().any(|x| x == item))
}

fn limit<U: Unit>(
    name: &str,
    granted: Option<Limit<U>>,
    asked: Option<u64>,
    base: u64,
) -> Result<u64, PackError> {
    match (granted, asked) {
        (Some(l), Some(v)) if v > l.max.value => Err(PackError::Widening(format!(
            "the narrowing asks for {name} {v}, above the pack's granted maximum {}",
            l.max.value
        ))),
        (None, Some(v)) if v > base => Err(PackError::Widening(format!(
            "the narrowing asks for {name} {v}, above the operator's default {base} (the pack sets no {name} limit)"
        ))),
        (_, Some(v)) => Ok(v),
        (Some(l), None) => Ok(l.default.value),
        (None, None) => Ok(base),
    }
}

fn parse_opt<U: Unit>(name: &str, text: &Option<String>) -> Result<Option<u64>, PackError> {
    text.as_deref()
        .map(|t| U::parse(t).map_err(|e| PackError::Widening(format!("{name}: {e}"))))
        .transpose()
}

impl LoadedPack {
    /// The sandbox policy for this pack's tools under the operator's grant, narrowed.
    pub fn policy(&self, narrow: &Narrowing) -> Result<ToolPolicy, PackError> {
        let g = &self.grant;
        let caps = &g.capabilities;
        kept(&narrow.dirs, caps.dirs.keys(), "directory")?;
        kept(
            &Some(narrow.read_only.clone()),
            caps.dirs.keys(),
            "directory",
        )?;
        kept(&narrow.hosts, caps.network.iter().map(|n| &n.host), "host")?;
        kept(&narrow.env, caps.env.keys(), "env key")?;
        kept(&narrow.config, caps.config.keys(), "config key")?;
        let base = ToolPolicy::default();
        let mut policy = ToolPolicy::default();
        for (name, req) in &caps.dirs {
            let Some(host) = g.dirs.get(name).filter(|_| keeps(&narrow.dirs, name)) else {
                continue;
            };
            let rw = req.mode == Access::ReadWrite && !narrow.read_only.contains(name);
            policy.dirs.push(GrantedDir {
                host: host.clone(),
                guest: format!("/{name}"),
                mode: if rw {
                    DirMode::ReadWrite
                } else {
                    DirMode::ReadOnly
                },
            });
        }
        policy.env = g
            .env
            .iter()
            .filter(|(k, _)| keeps(&narrow.env, k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        policy.config = g
            .config
            .iter()
            .filter(|(k, _)| keeps(&narrow.config, k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut egress = EgressPolicy::default();
        for n in caps
            .network
            .iter()
            .filter(|n| keeps(&narrow.hosts, &n.host))
        {
            let host = if n.host.contains(':') && !n.host.starts_with('[') {
                format!("[{}]", n.host)
            } else {
                n.host.clone()
            };
            let methods: Vec<&str> = n.methods.iter().map(String::as_str).collect();
            let rule = HostRule::parse(&format!("{host}:{}", n.effective_port()))
                .and_then(|r| r.scheme(n.scheme.as_str()))
                .and_then(|r| r.path_prefix(&n.path_prefix))
                .and_then(|r| r.methods(&methods))
                .map_err(|e| PackError::Grants(e.to_string()))?
                .allow_private(g.private_hosts.contains(&n.host));
            egress = egress.allow(rule);
        }
        // A secret goes only where the pack may connect; one the operator did not supply is
        // simply not sent (the API will refuse the tool, which is the operator's call).
        for (name, req) in &caps.secrets {
            let Some(source) = g.secrets.get(name) else {
                continue;
            };
            let value = source.read(name)?;
            let hosts: Vec<&str> = req.hosts.iter().map(String::as_str).collect();
            let secret = SecretHeader::new(&hosts, &req.header, &req.template, &value)
                .map_err(|e| PackError::Grants(format!("secret {name}: {e}")))?;
            egress = egress.with_secret(secret);
        }
        policy.egress = egress;
        let base_fuel = base.fuel.unwrap_or(u64::MAX);
        policy.fuel = Some(limit::<Fuel>(
            "fuel",
            caps.limits.fuel,
            narrow.fuel,
            base_fuel,
        )?);
        let ms = limit::<Millis>(
            "timeout",
            caps.limits.timeout,
            parse_opt::<Millis>("timeout", &narrow.timeout)?,
            u64::try_from(base.timeout.as_millis()).unwrap_or(u64::MAX),
        )?;
        policy.timeout = Duration::from_millis(ms);
        policy.max_memory_bytes = limit::<Bytes>(
            "memory",
            caps.limits.memory,
            parse_opt::<Bytes>("memory", &narrow.memory)?,
            base.max_memory_bytes,
        )?;
        policy.max_output_bytes = limit::<Bytes>(
            "output",
            caps.limits.output,
            parse_opt::<Bytes>("output", &narrow.output)?,
            base.max_output_bytes,
        )?;
        Ok(policy)
    }
}
