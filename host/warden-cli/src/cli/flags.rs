//! Turning `warden tool call` flags into a [`ToolPolicy`]: the policy file's entry for the
//! tool (or the built-in defaults), then each flag on top. Pure functions, unit-tested.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use warden_sandbox::egress::HostRule;
use warden_sandbox::units::{parse_bytes, parse_duration, parse_fuel};
use warden_sandbox::{DirMode, GrantedDir, PolicyFile, ToolPolicy};

/// The limit and grant flags of `warden tool call`.
#[derive(Debug, Default, Args)]
pub struct PolicyFlags {
    /// Operator policy file (TOML: [defaults] and [tools.<name>]); flags override it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Fuel budget in units (e.g. 1000000), or "off".
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<String>,
    /// Disable fuel (the timeout still applies).
    #[arg(long, conflicts_with = "fuel")]
    pub no_fuel: bool,
    /// Wall-clock deadline, e.g. 2s or 500ms.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Memory cap, e.g. 64MiB.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Output size cap, e.g. 1MiB.
    #[arg(long, value_name = "SIZE")]
    pub max_output: Option<String>,
    /// Grant a directory: host[:guest][:ro|rw] (read-only unless :rw; guest path defaults to
    /// the host path). Repeatable.
    #[arg(long = "dir", value_name = "HOST[:GUEST][:ro|rw]")]
    pub dirs: Vec<String>,
    /// Allow outgoing HTTP to this host (`api.example.com`, `*.example.com`,
    /// `localhost:8080`, an IP). Internal addresses stay blocked unless the policy file's
    /// rule sets allow_private. Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Set an environment variable in the guest: KEY=VALUE. Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Set a config value for host.get-config: KEY=VALUE. Repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

impl PolicyFlags {
    /// The policy for `tool`: file (if any), then flags; validated.
    pub fn resolve(&self, tool: &str) -> Result<ToolPolicy> {
        let mut policy = match &self.policy {
            Some(path) => PolicyFile::load(path)?.policy_for(tool)?,
            None => ToolPolicy::default(),
        };
        if let Some(fuel) = &self.fuel {
            policy.fuel = parse_fuel(fuel)
                .map_err(anyhow::Error::msg)
                .context("--fuel")?;
        }
        if self.no_fuel {
            policy.fuel = None;
        }
        if let Some(t) = &self.timeout {
            policy.timeout = parse_duration(t)
                .map_err(anyhow::Error::msg)
                .context("--timeout")?;
        }
        if let Some(m) = &self.memory {
            policy.max_memory_bytes = parse_bytes(m)
                .map_err(anyhow::Error::msg)
                .context("--memory")?;
        }
        if let Some(m) = &self.max_output {
            policy.max_output_bytes = parse_bytes(m)
                .map_err(anyhow::Error::msg)
                .context("--max-output")?;
        }
        for dir in &self.dirs {
            policy.dirs.push(parse_dir(dir)?);
        }
        for kv in &self.env {
            let (k, v) = parse_key_value(kv).context("--env")?;
            policy.env.insert(k, v);
        }
        for kv in &self.config {
            let (k, v) = parse_key_value(kv).context("--config")?;
            policy.config.insert(k, v);
        }
        for host in &self.allow_hosts {
            let rule = HostRule::parse(host).with_context(|| format!("--allow-host {host:?}"))?;
            policy.egress = policy.egress.clone().allow(rule);
        }
        policy.validate("flags")?;
        Ok(policy)
    }
}

/// Parses `host[:guest][:ro|rw]`.
pub fn parse_dir(spec: &str) -> Result<GrantedDir> {
    let mut parts: Vec<&str> = spec.split(':').collect();
    let mode = match parts.last().copied() {
        Some("ro") if parts.len() > 1 => {
            parts.pop();
            DirMode::ReadOnly
        }
        Some("rw") if parts.len() > 1 => {
            parts.pop();
            DirMode::ReadWrite
        }
        _ => DirMode::ReadOnly,
    };
    let (host, guest) = match parts.as_slice() {
        [host] => (*host, None),
        [host, guest] => (*host, Some(*guest)),
        _ => bail!("--dir {spec:?}: expected host[:guest][:ro|rw]"),
    };
    if host.is_empty() {
        bail!("--dir {spec:?}: the host directory is empty");
    }
    let host_path = Path::new(host);
    let guest = match guest {
        Some(g) => g.to_string(),
        None => std::path::absolute(host_path)
            .with_context(|| format!("--dir {spec:?}"))?
            .to_string_lossy()
            .into_owned(),
    };
    Ok(GrantedDir {
        host: host_path.to_path_buf(),
        guest,
        mode,
    })
}

fn parse_key_value(kv: &str) -> Result<(String, String)> {
    match kv.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("expected KEY=VALUE, got {kv:?}"),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dir_specs_parse_with_optional_guest_and_mode() {
        let d = parse_dir("/srv/data:/data:rw").unwrap();
        assert_eq!(
            (d.host.to_str(), d.guest.as_str(), d.mode),
            (Some("/srv/data"), "/data", DirMode::ReadWrite)
        );
        let d = parse_dir("/srv/data").unwrap();
        assert_eq!((d.guest.as_str(), d.mode), ("/srv/data", DirMode::ReadOnly));
        let d = parse_dir("/srv/data:ro").unwrap();
        assert_eq!((d.guest.as_str(), d.mode), ("/srv/data", DirMode::ReadOnly));
        assert!(parse_dir("a:b:c:d").is_err());
    }

    #[test]
    fn flags_override_the_defaults_and_are_validated() {
        let flags = PolicyFlags {
            fuel: Some("1000".into()),
            timeout: Some("250ms".into()),
            memory: Some("8MiB".into()),
            env: vec!["A=b=c".into()],
            ..PolicyFlags::default()
        };
        let p = flags.resolve("echo").unwrap();
        assert_eq!(p.fuel, Some(1000));
        assert_eq!(p.timeout, Duration::from_millis(250));
        assert_eq!(p.max_memory_bytes, 8 << 20);
        assert_eq!(p.env.get("A").map(String::as_str), Some("b=c"));

        let bad = PolicyFlags {
            dirs: vec!["/no/such/dir:/d".into()],
            ..PolicyFlags::default()
        };
        let err = format!("{:#}", bad.resolve("echo").unwrap_err());
        assert!(err.contains("/no/such/dir"), "{err}");
        let bad = PolicyFlags {
            env: vec!["NOEQUALS".into()],
            ..PolicyFlags::default()
        };
        assert!(format!("{:#}", bad.resolve("echo").unwrap_err()).contains("KEY=VALUE"));
    }

    #[test]
    fn allowed_hosts_become_egress_rules() {
        let flags = PolicyFlags {
            allow_hosts: vec!["api.example.com".into(), "*.example.org".into()],
            ..PolicyFlags::default()
        };
        assert_eq!(flags.resolve("x").unwrap().egress.rules().len(), 2);
        let bad = PolicyFlags {
            allow_hosts: vec!["not a host".into()],
            ..PolicyFlags::default()
        };
        assert!(format!("{:#}", bad.resolve("x").unwrap_err()).contains("--allow-host"));
    }

    #[test]
    fn no_fuel_disables_fuel() {
        let flags = PolicyFlags {
            no_fuel: true,
            ..PolicyFlags::default()
        };
        assert_eq!(flags.resolve("x").unwrap().fuel, None);
    }
}
