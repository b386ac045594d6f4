//! Permissions in plain words, and what an upgrade asks for beyond an earlier grant.
//!
//! Invariant: [`widening`] is conservative: anything it cannot prove to be covered by the
//! earlier grant counts as wider, so an upgrade never gains a permission silently.

use crate::manifest::{Access, Capabilities, NetworkRequest};

/// Each requested permission as one sentence for the operator.
pub fn describe(caps: &Capabilities) -> Vec<String> {
    let mut out = Vec::new();
    for (name, d) in &caps.dirs {
        let what = match d.mode {
            Access::ReadOnly => "read (not change) files in",
            Access::ReadWrite => "read, create, change and delete files in",
        };
        out.push(format!(
            "{what} a directory you choose, which the pack calls \"{name}\" — {}",
            d.reason
        ));
    }
    for n in &caps.network {
        out.push(format!("{} — {}", network_words(n), n.reason));
    }
    for (k, r) in &caps.env {
        out.push(format!(
            "read the environment variable {k} (a value you set) — {}",
            r.reason
        ));
    }
    for (k, r) in &caps.config {
        out.push(format!(
            "read the setting \"{k}\" (a value you set) — {}",
            r.reason
        ));
    }
    for (k, s) in &caps.secrets {
        out.push(format!(
            "have your secret \"{k}\" put into the {} header of its requests to {} (the pack never sees the value) — {}",
            s.header,
            s.hosts.join(", "),
            s.reason
        ));
    }
    for (name, default, max) in caps.limits.entries() {
        let (d, m) = match name {
            "timeout" => (format!("{default} ms"), format!("{max} ms")),
            "memory" | "output" => (bytes(default), bytes(max)),
            _ => (default.to_string(), max.to_string()),
        };
        out.push(format!(
            "use up to {m} of {name} per call ({d} unless you allow more)"
        ));
    }
    if out.is_empty() {
        out.push(
            "nothing beyond computing: no files, no network, no environment, no secrets".into(),
        );
    }
    out
}

fn network_words(n: &NetworkRequest) -> String {
    let path = if n.path_prefix == "/" {
        "any path".to_string()
    } else {
        format!("paths under {}", n.path_prefix)
    };
    format!(
        "send {} requests to {}://{}:{} ({path})",
        n.methods.join("/"),
        n.scheme.as_str(),
        n.host,
        n.effective_port()
    )
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Whether the host pattern `old` covers every host `new` can match.
fn host_covers(old: &str, new: &str) -> bool {
    let (old, new) = (old.to_ascii_lowercase(), new.to_ascii_lowercase());
    if old == new {
        return true;
    }
    match old.strip_prefix("*.") {
        // `*.x` covers `a.x` and `*.a.x`, never `x` itself.
        Some(suffix) => new
            .trim_start_matches("*.")
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => false,
    }
}

fn rule_covers(old: &NetworkRequest, new: &NetworkRequest) -> bool {
    old.scheme == new.scheme
        && old.effective_port() == new.effective_port()
        && host_covers(&old.host, &new.host)
        && new.path_prefix.starts_with(&old.path_prefix)
        && (old.path_prefix.ends_with('/')
            || new.path_prefix.len() == old.path_prefix.len()
            || new.path_prefix[old.path_prefix.len()..].starts_with('/'))
        && new.methods.iter().all(|m| old.methods.contains(m))
}

/// What `new` asks for beyond `old`, one sentence each; empty if it asks for no more.
pub fn widening(old: &Capabilities, new: &Capabilities) -> Vec<String> {
    let mut out = Vec::new();
    for (name, d) in &new.dirs {
        match old.dirs.get(name) {
            None => out.push(format!("a new directory \"{name}\" ({:?})", d.mode)),
            Some(o) if d.mode > o.mode => out.push(format!("write access to directory \"{name}\"")),
            Some(_) => {}
        }
    }
    for n in &new.network {
        if !old.network.iter().any(|o| rule_covers(o, n)) {
            out.push(format!("network: {}", network_words(n)));
        }
    }
    for k in new.env.keys().filter(|k| !old.env.contains_key(*k)) {
        out.push(format!("the environment variable {k}"));
    }
    for k in new.config.keys().filter(|k| !old.config.contains_key(*k)) {
        out.push(format!("the setting \"{k}\""));
    }
    for (k, s) in &new.secrets {
        match old.secrets.get(k) {
            Some(o)
                if o.header.eq_ignore_ascii_case(&s.header)
                    && o.template == s.template
                    && s.hosts
                        .iter()
                        .all(|h| o.hosts.iter().any(|oh| host_covers(oh, h))) => {}
            _ => out.push(format!("the secret \"{k}\" sent to {}", s.hosts.join(", "))),
        }
    }
    let old_limits = old.limits.entries();
    for (name, _, max) in new.limits.entries() {
        match old_limits.iter().find(|(n, _, _)| *n == name) {
            Some((_, _, old_max)) if max <= *old_max => {}
            _ => out.push(format!("a higher {name} limit (up to {max})")),
        }
    }
    out
}
