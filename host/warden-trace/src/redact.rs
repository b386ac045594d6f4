//! Key redaction for everything a trace records as text: known secret values (the
//! environment's keys and tokens, and any the embedder adds) and text shaped like a key
//! (`sk-…`, `Bearer …`) become `[REDACTED]`.
//!
//! Invariant: the builder passes every string attribute, event attribute and status text
//! through [`Redactor::redact`] before a span exists, so neither the store nor an exporter
//! ever sees a key, whether or not message content is recorded.

use std::borrow::Cow;

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Shortest secret value taken from the environment or given: shorter values (`1`, `true`)
/// would redact ordinary words.
const MIN_SECRET_LEN: usize = 8;

/// Shortest run of key characters after `sk-` that counts as a key.
const MIN_SK_BODY: usize = 16;

/// Shortest token after `Bearer ` that counts as a credential.
const MIN_BEARER_TOKEN: usize = 8;

/// Environment variable name endings whose values are secrets.
const SECRET_VAR_SUFFIXES: [&str; 6] = [
    "_API_KEY",
    "_KEY",
    "_TOKEN",
    "_SECRET",
    "_PASSWORD",
    "_AUTH_HEADER",
];

/// Replaces secrets in text. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Known secret values, longest first (so a key containing another is removed whole).
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor that knows no secret values (key-shaped text is still redacted).
    pub fn new() -> Self {
        Self::default()
    }

    /// A redactor knowing the values of the environment's secret variables: every variable
    /// whose name ends in `_API_KEY`, `_KEY`, `_TOKEN`, `_SECRET`, `_PASSWORD` or
    /// `_AUTH_HEADER` (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, a key named by an agent file's
    /// `api_key_env` when it follows that pattern, ...).
    pub fn from_env() -> Self {
        let mut redactor = Self::new();
        for (name, value) in std::env::vars_os() {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
                continue;
            };
            let upper = name.to_ascii_uppercase();
            if SECRET_VAR_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
                redactor.add_secret(value);
            }
        }
        redactor
    }

    /// Adds a secret value (ignored when shorter than 8 characters or blank).
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.add_secret(&secret.into());
        self
    }

    fn add_secret(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.chars().count() < MIN_SECRET_LEN || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.to_owned());
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        if let Some(replaced) = redact_shapes(&out) {
            out = Cow::Owned(replaced);
        }
        out
    }
}

/// Characters of an API key or bearer token.
fn key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

/// `text` with key-shaped runs replaced, or `None` when there are none. Works on bytes:
/// every pattern is ASCII, so each cut falls on a character boundary.
fn redact_shapes(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // A key starts a word: `risk-free` holds no `sk-` key, `key=sk-…` does.
        let at_word_start = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'-' | b'_'));
        let token_end =
            |from: usize| from + bytes[from..].iter().take_while(|&&b| key_char(b)).count();
        let secret = if at_word_start && bytes[i..].starts_with(b"sk-") {
            let end = token_end(i + 3);
            (end - (i + 3) >= MIN_SK_BODY).then_some((i, end))
        } else if at_word_start
            && bytes.len() - i > 7
            && bytes[i..i + 7].eq_ignore_ascii_case(b"bearer ")
        {
            let start = i + 7;
            let end = token_end(start);
            (end - start >= MIN_BEARER_TOKEN).then_some((start, end))
        } else {
            None
        };
        match secret {
            Some((start, end)) => {
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secret_values_are_replaced_everywhere() {
        let r = Redactor::new().with_secret("hunter2-very-secret");
        assert_eq!(
            r.redact("a hunter2-very-secret b hunter2-very-secret"),
            "a [REDACTED] b [REDACTED]"
        );
    }

    #[test]
    fn short_values_are_not_taken_as_secrets() {
        let r = Redactor::new().with_secret("true").with_secret("  ");
        assert_eq!(r.redact("true story"), "true story");
    }

    #[test]
    fn key_shaped_text_is_redacted_without_being_known() {
        let r = Redactor::new();
        assert_eq!(
            r.redact("key=sk-proj-AbCdEfGhIjKlMnOpQrSt, ok"),
            "key=[REDACTED], ok"
        );
        assert_eq!(
            r.redact("Authorization: Bearer abc.def-123456"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(r.redact("sk-ant-api03-XYZxyz0123456789"), "[REDACTED]");
        assert_eq!(r.redact("risk-free task-runner"), "risk-free task-runner");
        assert_eq!(r.redact("über sk-short"), "über sk-short");
    }
}
