//! The operator's policy file: `[defaults]` plus `[tools.<name>]` sections, each a
//! [`PolicyOverride`]. A tool's policy is the built-in default, then `[defaults]`, then its
//! own section; a key present in a later layer replaces the earlier value (lists and maps
//! are replaced, not merged, so a tool section says exactly what that tool gets).
//!
//! Invariant: a file that parses is fully validated (every quantity parses, every granted
//! directory exists), so resolving a policy for a call cannot fail later for a bad value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::units::{parse_bytes, parse_duration, parse_fuel};
use super::{GrantedDir, ToolPolicy};
use crate::egress::EgressPolicy;

/// A policy file could not be read, parsed or validated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the policy file {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's error.
        message: String,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("the policy file is not valid: {0}")]
    Parse(#[source] toml::de::Error),
    /// A value is out of range or names something that does not exist.
    #[error("policy key `{key}`: {message}")]
    Invalid {
        /// Dotted key, e.g. `tools.fetch.timeout`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A granted directory is, contains or lies inside one of warden's own state directories
    /// (its compiled-code cache or the directory of the cache's key): a tool with that grant
    /// could plant native code that warden runs.
    #[error(
        "policy key `{key}`: the granted directory {granted} {relation} warden's own state \
         directory {state_dir}, which a tool must never reach; grant a directory that neither \
         contains nor lies inside it (or move warden's state with WARDEN_CACHE_DIR and \
         WARDEN_STATE_DIR)"
    )]
    StateDirGranted {
        /// Dotted key of the grant, e.g. `tools.fs.dirs[0].host`.
        key: String,
        /// The granted directory, canonical.
        granted: String,
        /// `is`, `contains` or `lies inside`.
        relation: &'static str,
        /// warden's state directory it reaches, canonical.
        state_dir: String,
    },
}

/// A number or a string with a unit (`timeout = 2` or `timeout = "2s"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    /// A bare number (seconds for durations, bytes for sizes, units for fuel).
    Num(u64),
    /// A number with a unit, or `off` for fuel.
    Text(String),
}

impl Quantity {
    fn text(&self) -> String {
        match self {
            Self::Num(n) => n.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

/// One layer of a policy: every key optional. Used for `[defaults]` and `[tools.<name>]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// Fuel units, or `"off"`.
    pub fuel: Option<Quantity>,
    /// Deadline, e.g. `"2s"` or `"500ms"`.
    pub timeout: Option<Quantity>,
    /// Memory cap, e.g. `"64MiB"`.
    #[serde(alias = "max_memory_bytes")]
    pub max_memory: Option<Quantity>,
    /// Output cap, e.g. `"1MiB"`.
    #[serde(alias = "max_output_bytes")]
    pub max_output: Option<Quantity>,
    /// Cap on data copied out of the guest per host call, e.g. `"4MiB"`.
    #[serde(alias = "max_hostcall_bytes")]
    pub max_hostcall: Option<Quantity>,
    /// Cap on captured stdout and stderr (each), e.g. `"64KiB"`.
    #[serde(alias = "max_stdio_bytes")]
    pub max_stdio: Option<Quantity>,
    /// Granted directories: `[{ host = "...", guest = "/data", mode = "ro" }]`.
    pub dirs: Option<Vec<GrantedDir>>,
    /// Environment variables set in the guest.
    pub env: Option<BTreeMap<String, String>>,
    /// Values for `host.get-config`.
    pub config: Option<BTreeMap<String, String>>,
    /// Number of `host.log` messages kept per call.
    pub max_log_messages: Option<u32>,
    /// Outgoing HTTP, e.g. `[tools.fetch.egress]` with `allowed_hosts = ["api.example.com"]`.
    pub egress: Option<EgressPolicy>,
    /// Host objects a call may hold at once, e.g. `256`.
    pub max_host_resources: Option<u32>,
    /// Bytes in one HTTP header object, e.g. `"32KiB"`.
    #[serde(alias = "max_http_fields_bytes")]
    pub max_http_fields: Option<Quantity>,
    /// Files a call may hold open at once, e.g. `32`.
    pub max_open_files: Option<u32>,
    /// Random bytes per call, e.g. `"1MiB"`.
    #[serde(alias = "max_random_bytes")]
    pub max_random: Option<Quantity>,
    /// Bytes written into read-write grants per call, e.g. `"64MiB"`.
    #[serde(alias = "max_write_bytes")]
    pub max_write: Option<Quantity>,
    /// Files, directories and links created per call, e.g. `1000`.
    pub max_files_created: Option<u32>,
    /// Whether a call needs a person's approval before it runs (`never`, `first`,
    /// `always`). Not a sandbox limit: the runtime reads it (see [`PolicyFile::approval_for`]).
    pub approval: Option<ApprovalSetting>,
}

/// When a tool's calls need a person's approval, as a policy file says it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalSetting {
    /// No approval.
    Never,
    /// The tool's first call in a run.
    First,
    /// Every call.
    Always,
}

impl PolicyOverride {
    /// Applies this layer on top of `base`; `key` names the section in errors.
    pub fn apply(&self, base: &mut ToolPolicy, key: &str) -> Result<(), PolicyError> {
        let invalid = |field: &str, message: String| PolicyError::Invalid {
            key: format!("{key}.{field}"),
            message,
        };
        if let Some(q) = &self.fuel {
            base.fuel = parse_fuel(&q.text()).map_err(|m| invalid("fuel", m))?;
        }
        if let Some(q) = &self.timeout {
            base.timeout = parse_duration(&q.text()).map_err(|m| invalid("timeout", m))?;
        }
        let sizes = [
            ("max_memory", &self.max_memory, &mut base.max_memory_bytes),
            ("max_output", &self.max_output, &mut base.max_output_bytes),
            (
                "max_hostcall",
                &self.max_hostcall,
                &mut base.max_hostcall_bytes,
            ),
            ("max_stdio", &self.max_stdio, &mut base.max_stdio_bytes),
            (
                "max_http_fields",
                &self.max_http_fields,
                &mut base.max_http_fields_bytes,
            ),
            ("max_random", &self.max_random, &mut base.max_random_bytes),
            ("max_write", &self.max_write, &mut base.max_write_bytes),
        ];
        for (field, value, slot) in sizes {
            if let Some(q) = value {
                *slot = parse_bytes(&q.text()).map_err(|m| invalid(field, m))?;
            }
        }
        if let Some(dirs) = &self.dirs {
            base.dirs = dirs.clone();
        }
        if let Some(env) = &self.env {
            base.env = env.clone();
        }
        if let Some(config) = &self.config {
            base.config = config.clone();
        }
        let counts = [
            (self.max_log_messages, &mut base.max_log_messages),
            (self.max_host_resources, &mut base.max_host_resources),
            (self.max_open_files, &mut base.max_open_files),
            (self.max_files_created, &mut base.max_files_created),
        ];
        for (value, slot) in counts {
            if let Some(n) = value {
                *slot = n;
            }
        }
        if let Some(egress) = &self.egress {
            base.egress = egress.clone();
        }
        base.validate(key)
    }

    /// Makes relative granted-directory paths relative to `dir` (the policy file's folder).
    fn rebase_dirs(&mut self, dir: &Path) {
        for granted in self.dirs.iter_mut().flatten() {
            if granted.host.is_relative() {
                granted.host = dir.join(&granted.host);
            }
        }
    }
}

impl TryFrom<PolicyOverride> for ToolPolicy {
    type Error = PolicyError;

    fn try_from(layer: PolicyOverride) -> Result<Self, Self::Error> {
        let mut policy = ToolPolicy::default();
        layer.apply(&mut policy, "policy")?;
        Ok(policy)
    }
}

/// The operator's policy file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Applies to every tool.
    #[serde(default)]
    pub defaults: PolicyOverride,
    /// Per-tool overrides, keyed by tool name.
    #[serde(default)]
    pub tools: BTreeMap<String, PolicyOverride>,
}

impl PolicyFile {
    /// Parses and validates a policy; relative directory paths stay relative to the
    /// current directory.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file: Self = toml::from_str(text).map_err(PolicyError::Parse)?;
        file.validate()?;
        Ok(file)
    }

    /// Reads, parses and validates a policy file; relative directory paths are taken
    /// relative to the file's folder.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let base = path.parent().map(PathBuf::from).unwrap_or_default();
        Self::from_toml_in(&text, &base)
    }

    /// Parses and validates a policy that belongs to a file in folder `dir` (a policy file,
    /// or an agent file carrying the policy inline): relative directory paths are taken
    /// relative to `dir`, whatever the current directory.
    pub fn from_toml_in(text: &str, dir: &Path) -> Result<Self, PolicyError> {
        let mut file: Self = toml::from_str(text).map_err(PolicyError::Parse)?;
        file.defaults.rebase_dirs(dir);
        for layer in file.tools.values_mut() {
            layer.rebase_dirs(dir);
        }
        file.validate()?;
        Ok(file)
    }

    /// The policy of tools without a section of their own.
    pub fn defaults(&self) -> Result<ToolPolicy, PolicyError> {
        let mut policy = ToolPolicy::default();
        self.defaults.apply(&mut policy, "defaults")?;
        Ok(policy)
    }

    /// The resolved policy of tool `name`: built-in defaults, `[defaults]`, `[tools.<name>]`.
    pub fn policy_for(&self, name: &str) -> Result<ToolPolicy, PolicyError> {
        let mut policy = self.defaults()?;
        if let Some(layer) = self.tools.get(name) {
            layer.apply(&mut policy, &format!("tools.{name}"))?;
        }
        Ok(policy)
    }

    /// The approval the file asks for tool `name`: its section's `approval`, else
    /// `[defaults]`'s; `None` when neither says.
    pub fn approval_for(&self, name: &str) -> Option<ApprovalSetting> {
        (self.tools.get(name).and_then(|t| t.approval)).or(self.defaults.approval)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        self.defaults()?;
        for name in self.tools.keys() {
            self.policy_for(name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::policy::DirMode;

    #[test]
    fn approval_comes_from_the_tool_section_else_the_defaults() {
        let file = PolicyFile::from_toml(
            r#"
            [defaults]
            approval = "first"

            [tools.rm]
            approval = "always"

            [tools.calc]
            fuel = 1000
            "#,
        )
        .unwrap();
        assert_eq!(file.approval_for("rm"), Some(ApprovalSetting::Always));
        assert_eq!(file.approval_for("calc"), Some(ApprovalSetting::First));
        assert_eq!(PolicyFile::default().approval_for("calc"), None);
        let err = PolicyFile::from_toml("[defaults]\napproval = \"sometimes\"").unwrap_err();
        assert!(err.to_string().contains("sometimes"), "{err}");
    }

    #[test]
    fn tool_sections_override_defaults_key_by_key() {
        let file = PolicyFile::from_toml(
            r#"
            [defaults]
            fuel = 1000
            timeout = "2s"
            env = { A = "1" }

            [tools.slow]
            timeout = "500ms"
            fuel = "off"
            "#,
        )
        .unwrap();
        let slow = file.policy_for("slow").unwrap();
        assert_eq!(slow.timeout, Duration::from_millis(500));
        assert_eq!(slow.fuel, None);
        assert_eq!(slow.env.get("A").map(String::as_str), Some("1"));
        let other = file.policy_for("other").unwrap();
        assert_eq!(other.fuel, Some(1000));
        assert_eq!(other.timeout, Duration::from_secs(2));
        assert_eq!(
            other.max_memory_bytes,
            ToolPolicy::default().max_memory_bytes
        );
    }

    #[test]
    fn a_missing_granted_dir_is_named_with_its_key() {
        let err = PolicyFile::from_toml(
            r#"
            [tools.fs]
            dirs = [{ host = "/definitely/not/here", guest = "/data", mode = "ro" }]
            "#,
        )
        .unwrap_err();
        match err {
            PolicyError::Invalid { key, message } => {
                assert_eq!(key, "tools.fs.dirs[0].host");
                assert!(message.contains("/definitely/not/here"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_grant_reaching_warden_state_is_refused_naming_both_paths() {
        let root = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(root.path()).unwrap();
        let cache = home.join(".cache/warden");
        let _protected = crate::state_dirs::register(std::slice::from_ref(&cache));
        std::os::unix::fs::symlink(&home, home.join("alias")).unwrap();
        let text = format!(
            "[tools.fs]\ndirs = [{{ host = {:?}, guest = \"/h\", mode = \"rw\" }}]\n",
            home.join("alias")
        );
        let err = PolicyFile::from_toml(&text).unwrap_err();
        let message = err.to_string();
        match err {
            PolicyError::StateDirGranted {
                key,
                granted,
                relation,
                state_dir,
            } => {
                assert_eq!(key, "tools.fs.dirs[0].host");
                assert_eq!(Path::new(&granted), home);
                assert_eq!(relation, "contains");
                assert_eq!(Path::new(&state_dir), cache);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(message.contains(&cache.display().to_string()), "{message}");
        assert!(message.contains(&home.display().to_string()), "{message}");
    }

    #[test]
    fn bad_quantities_and_unknown_keys_are_rejected() {
        let err = PolicyFile::from_toml("[defaults]\ntimeout = \"2 fortnights\"").unwrap_err();
        assert!(matches!(&err, PolicyError::Invalid { key, .. } if key == "defaults.timeout"));
        let err = PolicyFile::from_toml("[defaults]\nfuell = 3").unwrap_err();
        assert!(matches!(err, PolicyError::Parse(m) if m.to_string().contains("fuell")));
    }

    #[test]
    fn relative_dirs_are_relative_to_the_policy_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(
            &path,
            "[defaults]\ndirs = [{ host = \"data\", guest = \"/data\", mode = \"rw\" }]\n",
        )
        .unwrap();
        let policy = PolicyFile::load(&path).unwrap().defaults().unwrap();
        assert_eq!(policy.dirs[0].host, dir.path().join("data"));
        assert_eq!(policy.dirs[0].mode, DirMode::ReadWrite);
    }

    #[test]
    fn relative_dirs_of_an_embedded_policy_are_relative_to_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let text =
            "[tools.fs_read]\ndirs = [{ host = \"./data\", guest = \"/data\" , mode = \"ro\" }]\n";
        // The process's current directory has no `data`: only the rebased path exists.
        assert!(PolicyFile::from_toml(text).is_err());
        let file = PolicyFile::from_toml_in(text, dir.path()).unwrap();
        let policy = file.policy_for("fs_read").unwrap();
        assert_eq!(policy.dirs[0].host, dir.path().join("./data"));
        assert!(policy.dirs[0].host.is_dir());
        // Absolute paths are kept as written.
        let abs = dir.path().join("data");
        let text =
            format!("[defaults]\ndirs = [{{ host = {abs:?}, guest = \"/d\", mode = \"ro\" }}]\n");
        let file = PolicyFile::from_toml_in(&text, Path::new("/elsewhere")).unwrap();
        assert_eq!(file.defaults().unwrap().dirs[0].host, abs);
    }

    #[test]
    fn a_tool_policy_deserializes_from_toml_over_the_defaults() {
        let policy: ToolPolicy = toml::from_str(
            "fuel = \"off\"\ntimeout = \"750ms\"\n[egress]\nallowed_hosts = [\"api.example.com\"]\n",
        )
        .unwrap();
        assert_eq!(policy.fuel, None);
        assert_eq!(policy.timeout, Duration::from_millis(750));
        assert_eq!(policy.egress.rules().len(), 1);
        assert_eq!(
            policy.max_memory_bytes,
            ToolPolicy::default().max_memory_bytes
        );
    }

    #[test]
    fn host_resource_limits_parse_with_units_and_default_sensibly() {
        let file = PolicyFile::from_toml(
            r#"
            [defaults]
            max_host_resources = 100
            max_http_fields = "8KiB"
            max_open_files = 8
            max_random = "4KiB"
            max_write = "1MiB"
            max_files_created = 10
            "#,
        )
        .unwrap();
        let p = file.defaults().unwrap();
        assert_eq!(
            (
                p.max_host_resources,
                p.max_http_fields_bytes,
                p.max_open_files
            ),
            (100, 8 << 10, 8)
        );
        assert_eq!(
            (p.max_random_bytes, p.max_write_bytes, p.max_files_created),
            (4 << 10, 1 << 20, 10)
        );
        let d = ToolPolicy::default();
        assert_eq!((d.max_host_resources, d.max_open_files), (256, 32));
        let err = PolicyFile::from_toml("[tools.x]\nmax_host_resources = 3\n").unwrap_err();
        assert!(
            matches!(err, PolicyError::Invalid { key, .. } if key == "tools.x.max_host_resources")
        );
    }

    #[test]
    fn egress_rules_are_per_tool() {
        let file =
            PolicyFile::from_toml("[tools.fetch.egress]\nallowed_hosts = [\"api.example.com\"]\n")
                .unwrap();
        assert_eq!(file.policy_for("fetch").unwrap().egress.rules().len(), 1);
        assert!(file.policy_for("other").unwrap().egress.rules().is_empty());
        let err = PolicyFile::from_toml("[defaults.egress]\nallowed_hosts = [\"not a host\"]\n")
            .unwrap_err();
        assert!(matches!(err, PolicyError::Parse(m) if m.to_string().contains("not a host")));
    }
}
