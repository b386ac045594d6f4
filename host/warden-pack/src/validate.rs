//! The manifest checks serde cannot make: names, digests, file names (no paths), host
//! patterns, path prefixes, methods, header templates, limits and reasons.
//!
//! Invariant: every string a later step turns into a path, a host rule or a header has been
//! checked here, so an accepted manifest cannot name a file outside its pack or a rule the
//! egress policy would read differently.

use std::collections::BTreeSet;

use warden_sandbox::egress::HostRule;

use crate::error::ManifestError;
use crate::manifest::{Manifest, SCHEMA};

const MAX_COMPONENTS: usize = 64;
const MAX_TEXT: usize = 1000;
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Headers the host manages itself; a secret may not be written into them.
const RESERVED_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
];

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Whether `name` is a valid pack name: `a-z`, `0-9` and `-`, 1 to 64, starting alphanumeric.
pub fn is_pack_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `name` is a plain component file name: no directory part, no leading dot, `.wasm`.
pub fn is_component_file(name: &str) -> bool {
    (6..=128).contains(&name.len())
        && name.ends_with(".wasm")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn is_ident(name: &str, upper: bool) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_digit()
                || b == b'_'
                || if upper {
                    b.is_ascii_uppercase()
                } else {
                    b.is_ascii_lowercase() || b == b'-' || b == b'.'
                }
        })
}

fn reason(key: &str, text: &str) -> Result<(), ManifestError> {
    if text.trim().is_empty() {
        return Err(invalid(
            key,
            "give a reason: it is shown to the operator who decides whether to grant it",
        ));
    }
    if text.len() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(invalid(
            key,
            format!("must be one line of at most {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

/// Checks a whole manifest.
pub(crate) fn manifest(m: &Manifest) -> Result<(), ManifestError> {
    if m.schema != SCHEMA {
        return Err(ManifestError::Schema {
            found: i64::from(m.schema),
        });
    }
    if !is_pack_name(&m.pack.name) {
        return Err(invalid(
            "pack.name",
            "use 1 to 64 lower-case letters, digits and '-', starting with a letter or digit",
        ));
    }
    reason("pack.description", &m.pack.description)?;
    reason("pack.license", &m.pack.license)?;
    for (i, a) in m.pack.authors.iter().enumerate() {
        reason(&format!("pack.authors[{i}]"), a)?;
    }
    components(m)?;
    capabilities(m)
}

fn components(m: &Manifest) -> Result<(), ManifestError> {
    if m.components.is_empty() || m.components.len() > MAX_COMPONENTS {
        return Err(invalid(
            "components",
            format!("a pack has 1 to {MAX_COMPONENTS} components"),
        ));
    }
    let mut files = BTreeSet::new();
    let mut tools = BTreeSet::new();
    for (i, c) in m.components.iter().enumerate() {
        let key = format!("components[{i}]");
        if !is_component_file(&c.file) {
            return Err(invalid(
                format!("{key}.file"),
                format!(
                    "{:?} is not a plain file name: a pack's components sit beside pack.toml, \
                     named with letters, digits, '.', '_' and '-' and ending in .wasm (no '/', \
                     no '..', no absolute path)",
                    c.file
                ),
            ));
        }
        if !files.insert(c.file.as_str()) {
            return Err(invalid(format!("{key}.file"), "listed twice"));
        }
        if c.sha256.len() != 64
            || !c
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid(
                format!("{key}.sha256"),
                "must be 64 lower-case hex digits",
            ));
        }
        if c.tools.is_empty() {
            return Err(invalid(
                format!("{key}.tools"),
                "list the tools the component exports (pack build records them)",
            ));
        }
        for t in &c.tools {
            if !warden_sandbox::is_valid_tool_name(t) {
                return Err(invalid(
                    format!("{key}.tools"),
                    format!("{t:?} is not a valid tool name"),
                ));
            }
            if !tools.insert(t.as_str()) {
                return Err(invalid(
                    format!("{key}.tools"),
                    format!("tool {t:?} is listed twice"),
                ));
            }
        }
    }
    Ok(())
}

fn capabilities(m: &Manifest) -> Result<(), ManifestError> {
    let caps = &m.capabilities;
    for (name, d) in &caps.dirs {
        if !is_ident(name, false) || name.contains('.') {
            return Err(invalid(
                format!("capabilities.dirs.{name}"),
                "a logical directory name uses a-z, 0-9, '_' and '-'",
            ));
        }
        reason(&format!("capabilities.dirs.{name}.reason"), &d.reason)?;
    }
    for (i, n) in caps.network.iter().enumerate() {
        let key = format!("capabilities.network[{i}]");
        if n.host.contains(':')
            && !n.host.starts_with('[')
            && n.host.parse::<std::net::IpAddr>().is_err()
        {
            return Err(invalid(
                format!("{key}.host"),
                "write the port in `port`, not in the host",
            ));
        }
        HostRule::parse(&n.host).map_err(|e| invalid(format!("{key}.host"), e.to_string()))?;
        if n.port == Some(0) {
            return Err(invalid(format!("{key}.port"), "must be 1 to 65535"));
        }
        let p = &n.path_prefix;
        if !p.starts_with('/')
            || p.len() > 512
            || p.contains(['?', '#', '%', '\\'])
            || p.split('/').any(|seg| seg == ".." || seg == ".")
            || p.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err(invalid(
                format!("{key}.path_prefix"),
                "must start with '/' and hold no '.' or '..' segments, '?', '#', '%', '\\' or spaces",
            ));
        }
        if n.methods.is_empty() {
            return Err(invalid(
                format!("{key}.methods"),
                "list at least one method",
            ));
        }
        for meth in &n.methods {
            if !METHODS.contains(&meth.as_str()) {
                return Err(invalid(
                    format!("{key}.methods"),
                    format!("{meth:?} is not one of {}", METHODS.join(", ")),
                ));
            }
        }
        reason(&format!("{key}.reason"), &n.reason)?;
    }
    for (name, k) in &caps.env {
        if !is_ident(name, true) || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(invalid(
                format!("capabilities.env.{name}"),
                "an env key uses A-Z, 0-9 and '_'",
            ));
        }
        reason(&format!("capabilities.env.{name}.reason"), &k.reason)?;
    }
    for (name, k) in &caps.config {
        if !is_ident(name, false) {
            return Err(invalid(
                format!("capabilities.config.{name}"),
                "a config key uses a-z, 0-9, '_', '-' and '.'",
            ));
        }
        reason(&format!("capabilities.config.{name}.reason"), &k.reason)?;
    }
    for (name, s) in &caps.secrets {
        let key = format!("capabilities.secrets.{name}");
        if !is_ident(name, false) || name.contains('.') {
            return Err(invalid(&key, "a secret name uses a-z, 0-9, '_' and '-'"));
        }
        if s.hosts.is_empty() {
            return Err(invalid(
                format!("{key}.hosts"),
                "name the hosts the secret is sent to",
            ));
        }
        for h in &s.hosts {
            HostRule::parse(h).map_err(|e| invalid(format!("{key}.hosts"), e.to_string()))?;
            if !caps.network.iter().any(|n| &n.host == h) {
                return Err(invalid(
                    format!("{key}.hosts"),
                    format!(
                        "{h:?} has no [[capabilities.network]] rule; a secret only goes where the pack may connect"
                    ),
                ));
            }
        }
        let header = s.header.to_ascii_lowercase();
        if header.is_empty()
            || header.len() > 64
            || !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || RESERVED_HEADERS.contains(&header.as_str())
        {
            return Err(invalid(
                format!("{key}.header"),
                "must be a header name (letters, digits, '-') other than one the host manages",
            ));
        }
        if s.template.matches("{}").count() != 1
            || s.template.len() > 256
            || s.template.chars().any(char::is_control)
        {
            return Err(invalid(
                format!("{key}.template"),
                "must contain `{}` exactly once (e.g. \"Bearer {}\") and no control characters",
            ));
        }
        reason(&format!("{key}.reason"), &s.reason)?;
    }
    for (name, default, max) in caps.limits.entries() {
        if default == 0 || max < default {
            return Err(invalid(
                format!("capabilities.limits.{name}"),
                "needs 0 < default <= max",
            ));
        }
    }
    Ok(())
}
