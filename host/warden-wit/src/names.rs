//! Tool names for exported functions: deterministic, valid for both OpenAI and Anthropic
//! (`^[a-zA-Z0-9_-]{1,64}$`).
//!
//! A world-level function `f` is named `f`; a function `f` of an exported interface
//! `ns:pkg/iface@1.0.0` is named `iface_f`. WIT identifiers never contain `_`, so the two
//! forms cannot meet. Characters outside the allowed set become `_`; a name over 64
//! characters keeps its first 55 and gets `_` plus 8 hex digits of the SHA-256 of the full
//! export path, which is stable across loads and builds.

use sha2::{Digest, Sha256};

/// The longest tool name providers accept.
pub const MAX_NAME_LEN: usize = 64;

/// The short name of an exported interface: `ns:pkg/iface@1.0.0` → `iface`; a plain
/// (unqualified) export name is kept as is.
pub fn interface_short_name(export: &str) -> &str {
    let after_slash = export.rsplit_once('/').map_or(export, |(_, tail)| tail);
    after_slash
        .split_once('@')
        .map_or(after_slash, |(head, _)| head)
}

/// The tool name of function `func`, exported at world level (`interface` none) or by
/// the exported interface named `interface`.
pub fn tool_name(interface: Option<&str>, func: &str) -> String {
    let raw = match interface {
        Some(iface) => format!("{}_{func}", interface_short_name(iface)),
        None => func.to_string(),
    };
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if (1..=MAX_NAME_LEN).contains(&clean.len()) {
        return clean;
    }
    let full = match interface {
        Some(iface) => format!("{iface}#{func}"),
        None => func.to_string(),
    };
    let digest = hex::encode(Sha256::digest(full.as_bytes()));
    // `clean` is ASCII, so any byte index is a char boundary.
    let keep = clean.len().min(MAX_NAME_LEN - 9);
    format!("{}_{}", &clean[..keep], &digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    #[test]
    fn world_functions_keep_their_name_and_interface_functions_get_a_prefix() {
        assert_eq!(tool_name(None, "greet-person"), "greet-person");
        assert_eq!(
            tool_name(Some("demo:typed/text@0.1.0"), "shout"),
            "text_shout"
        );
        assert_eq!(tool_name(Some("local-iface"), "f"), "local-iface_f");
    }

    #[test]
    fn characters_providers_refuse_become_underscores() {
        let name = tool_name(None, "componentize-py#CallIndirect");
        assert_eq!(name, "componentize-py_CallIndirect");
        assert!(valid(&name));
    }

    #[test]
    fn long_names_are_shortened_with_a_stable_distinct_suffix() {
        let long = "a".repeat(80);
        let one = tool_name(Some("x:y/iface"), &long);
        let again = tool_name(Some("x:y/iface"), &long);
        let other = tool_name(Some("x:z/iface"), &long);
        assert!(valid(&one), "{one}");
        assert_eq!(one.len(), 64);
        assert_eq!(one, again, "not stable");
        assert_ne!(one, other, "two interfaces share the shortened name");
    }
}
