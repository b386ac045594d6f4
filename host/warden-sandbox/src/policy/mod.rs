//! The operator's limits and grants for a tool call: [`ToolPolicy`] (one resolved policy)
//! and [`PolicyFile`] (TOML: `[defaults]` plus `[tools.<name>]` overrides).
//!
//! Invariant: a policy only ever comes from the operator (a file or the embedding API);
//! nothing a model or a guest sends can change it. Everything not granted here is denied.

mod file;
pub mod units;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::egress::EgressPolicy;
use super::state_dirs::find_overlap;

pub use file::{ApprovalSetting, PolicyError, PolicyFile, PolicyOverride, Quantity};

/// How a granted directory may be used by the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirMode {
    /// Read files and list directories only.
    #[serde(rename = "ro", alias = "read-only")]
    ReadOnly,
    /// Also create, write and delete.
    #[serde(rename = "rw", alias = "read-write")]
    ReadWrite,
}

/// A host directory made visible to the guest (a WASI preopen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantedDir {
    /// The directory on the host; must exist.
    pub host: PathBuf,
    /// Where the guest sees it (an absolute guest path such as `/data`).
    pub guest: String,
    /// Read-only or read-write.
    pub mode: DirMode,
}

/// The resolved limits and grants of one tool. Defaults are deny-by-default for grants and
/// moderate for limits; see [`ToolPolicy::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "PolicyOverride")]
pub struct ToolPolicy {
    /// Fuel budget, in units of roughly one wasm instruction (default 5 000 000 000); `None`
    /// disables fuel (the deadline still holds).
    pub fuel: Option<u64>,
    /// Wall-clock deadline of the whole call, including time spent waiting on the host
    /// (default 10 s).
    pub timeout: Duration,
    /// Cap on the guest's linear memory, in bytes (default 64 MiB; never above
    /// [`EngineConfig::max_memory_bytes`](crate::EngineConfig::max_memory_bytes)).
    pub max_memory_bytes: u64,
    /// Cap on the output JSON returned by the tool, in bytes (default 1 MiB).
    pub max_output_bytes: u64,
    /// Cap on the data copied out of the guest in one host call or return (wasmtime's
    /// hostcall fuel), in bytes (default 4 MiB).
    pub max_hostcall_bytes: u64,
    /// Cap on captured stdout and on captured stderr, each, in bytes (default 64 KiB); the
    /// rest is dropped silently.
    pub max_stdio_bytes: u64,
    /// Directories the guest may see (default none).
    pub dirs: Vec<GrantedDir>,
    /// Environment variables the guest sees (default none; nothing is inherited from the
    /// host).
    pub env: BTreeMap<String, String>,
    /// Values returned by the `host.get-config` import (default none; never secrets).
    pub config: BTreeMap<String, String>,
    /// How many `host.log` messages are kept per call (default 100); the rest are counted
    /// and dropped.
    pub max_log_messages: u32,
    /// Outgoing HTTP: allowed hosts, timeouts, body caps. Denies everything by default.
    pub egress: EgressPolicy,
    /// Host objects (open files, streams, pollables, HTTP requests, header objects, …) a call
    /// may hold at once (default 256, at least 32); they live in host memory, outside the
    /// guest's memory cap.
    pub max_host_resources: u32,
    /// Bytes one HTTP header object may hold (default 32 KiB, at least 1 KiB; wasmtime's
    /// in-memory measure, a little above the wire size).
    pub max_http_fields_bytes: u64,
    /// Files and directories a call may hold open at once, besides the granted directories
    /// (default 32: with the default 16 concurrent calls, far below a 1024-descriptor limit).
    pub max_open_files: u32,
    /// Random bytes a call may ask the host for, in total (default 1 MiB).
    pub max_random_bytes: u64,
    /// Bytes a call may write into read-write grants, in total (default 64 MiB).
    pub max_write_bytes: u64,
    /// Files, directories and links a call may create in read-write grants (default 1000).
    pub max_files_created: u32,
}

impl Default for ToolPolicy {
    fn default() -> Self {
        Self {
            fuel: Some(5_000_000_000),
            timeout: Duration::from_secs(10),
            max_memory_bytes: 64 << 20,
            max_output_bytes: 1 << 20,
            max_hostcall_bytes: 4 << 20,
            max_stdio_bytes: 64 << 10,
            dirs: Vec::new(),
            env: BTreeMap::new(),
            config: BTreeMap::new(),
            max_log_messages: 100,
            egress: EgressPolicy::default(),
            max_host_resources: 256,
            max_http_fields_bytes: 32 << 10,
            max_open_files: 32,
            max_random_bytes: 1 << 20,
            max_write_bytes: 64 << 20,
            max_files_created: 1000,
        }
    }
}

impl ToolPolicy {
    /// Checks what can only be checked against the host: granted dirs must exist and must not
    /// reach warden's own state directories. `key` names the policy section in error messages
    /// (e.g. `tools.fetch`).
    pub fn validate(&self, key: &str) -> Result<(), PolicyError> {
        for (i, dir) in self.dirs.iter().enumerate() {
            let at = format!("{key}.dirs[{i}]");
            if !dir.host.is_dir() {
                return Err(PolicyError::Invalid {
                    key: format!("{at}.host"),
                    message: format!(
                        "the granted directory {} does not exist or is not a directory; create it or fix the path",
                        dir.host.display()
                    ),
                });
            }
            if let Some(overlap) = find_overlap(&dir.host) {
                return Err(PolicyError::StateDirGranted {
                    key: format!("{at}.host"),
                    granted: overlap.granted.display().to_string(),
                    relation: overlap.relation,
                    state_dir: overlap.state_dir.display().to_string(),
                });
            }
            if !dir.guest.starts_with('/') {
                return Err(PolicyError::Invalid {
                    key: format!("{at}.guest"),
                    message: format!(
                        "the guest path {:?} must be absolute (e.g. \"/data\")",
                        dir.guest
                    ),
                });
            }
        }
        for name in self.env.keys() {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(PolicyError::Invalid {
                    key: format!("{key}.env"),
                    message: format!("invalid environment variable name {name:?}"),
                });
            }
        }
        // Below these even a benign tool cannot start (stdio, preopens, one HTTP request).
        if self.max_host_resources < 32 {
            return Err(PolicyError::Invalid {
                key: format!("{key}.max_host_resources"),
                message:
                    "must be at least 32 (a tool needs some for stdio and its granted directories)"
                        .into(),
            });
        }
        if self.max_http_fields_bytes < 1 << 10 {
            return Err(PolicyError::Invalid {
                key: format!("{key}.max_http_fields"),
                message: "must be at least 1KiB".into(),
            });
        }
        if self.max_memory_bytes < 64 << 10 {
            return Err(PolicyError::Invalid {
                key: format!("{key}.max_memory"),
                message: "must be at least 64KiB (one wasm page)".into(),
            });
        }
        Ok(())
    }

    /// The strict sandbox `describe()` runs in at load time: no grants, small limits.
    pub(crate) fn for_describe() -> Self {
        Self {
            fuel: Some(1_000_000_000),
            timeout: Duration::from_secs(5),
            max_memory_bytes: 64 << 20,
            max_output_bytes: 1 << 20,
            max_hostcall_bytes: 1 << 20,
            max_stdio_bytes: 16 << 10,
            max_log_messages: 20,
            ..Self::default()
        }
    }
}
