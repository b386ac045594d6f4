//! The operator's outgoing-HTTP policy: which hosts a tool may reach and within which limits.
//!
//! Invariant: a policy that exists is valid. Every rule was parsed and checked when the
//! policy was built (from TOML or in code), so matching a request never fails; a host that
//! no rule names is denied, and the default policy names none.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::policy::units::{parse_bytes, parse_duration};

/// Why a policy could not be built from the operator's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressPolicyError {
    /// An `allowed_hosts` entry is not a host, `*.suffix` wildcard or IP literal.
    #[error("allowed_hosts entry {entry:?} is invalid: {why}")]
    InvalidRule {
        /// The entry as the operator wrote it.
        entry: String,
        /// What is wrong and how to write it instead.
        why: String,
    },
    /// A duration or size setting could not be read.
    #[error("{field}: {message}")]
    InvalidValue {
        /// The setting's name.
        field: &'static str,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// One host name, lower-case, without a trailing dot.
    Exact(String),
    /// Any name ending in `.suffix` (not `suffix` itself).
    Subdomains(String),
    /// One IP address, in canonical form (`::ffff:a.b.c.d` is stored as `a.b.c.d`).
    Ip(IpAddr),
}

/// One `allowed_hosts` entry: a host pattern, an optional port and whether the host may
/// resolve to internal addresses (loopback, private ranges, link-local...), optionally
/// narrowed to one scheme, a path prefix and a set of methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    pattern: Pattern,
    port: Option<u16>,
    allow_private: bool,
    scheme: Option<String>,
    path_prefix: Option<String>,
    methods: Option<Vec<http::Method>>,
}

/// Why a request to a host some rule names still does not fit any of its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteMismatch {
    /// No rule for the host allows this scheme.
    Scheme,
    /// No rule allows this path (or the path has `.`/`..` segments or encoded separators).
    Path,
    /// No rule allows this method.
    Method,
}

/// A request's destination host after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestHost {
    /// A name to resolve: lower-case, trailing dot stripped.
    Name(String),
    /// An IP literal from the URL, canonical form.
    Ip(IpAddr),
}

impl RequestHost {
    /// Normalises the host of a URL authority (`[::1]` brackets removed).
    pub(crate) fn parse(host: &str) -> Self {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => RequestHost::Ip(ip.to_canonical()),
            Err(_) => {
                let lower = bare.to_ascii_lowercase();
                RequestHost::Name(lower.strip_suffix('.').unwrap_or(&lower).to_string())
            }
        }
    }
}

impl HostRule {
    /// Parses one entry: `api.example.com`, `*.example.com`, `10.1.2.3`, `[::1]`, each with an
    /// optional `:port`. Without a port only the scheme's default port (80 or 443) is allowed.
    pub fn parse(entry: &str) -> Result<Self, EgressPolicyError> {
        let invalid = |why: &str| EgressPolicyError::InvalidRule {
            entry: entry.to_string(),
            why: why.to_string(),
        };
        let text = entry.trim();
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.contains("://") || text.contains(['/', '@', '?', '#']) || text.contains(' ') {
            return Err(invalid(
                "write only the host with an optional port, like api.example.com or api.example.com:8443",
            ));
        }
        let (host, port) = split_port(text).map_err(|why| invalid(&why))?;
        let pattern = if let Ok(ip) = host.parse::<IpAddr>() {
            Pattern::Ip(ip.to_canonical())
        } else {
            let lower = host.to_ascii_lowercase();
            let name = lower.strip_suffix('.').unwrap_or(&lower);
            if let Some(suffix) = name.strip_prefix("*.") {
                check_name(suffix).map_err(|why| invalid(&why))?;
                Pattern::Subdomains(suffix.to_string())
            } else {
                check_name(name).map_err(|why| invalid(&why))?;
                Pattern::Exact(name.to_string())
            }
        };
        Ok(HostRule {
            pattern,
            port,
            allow_private: false,
            scheme: None,
            path_prefix: None,
            methods: None,
        })
    }

    /// Only for `scheme` (`http` or `https`).
    pub fn scheme(mut self, scheme: &str) -> Result<Self, EgressPolicyError> {
        let lower = scheme.to_ascii_lowercase();
        if lower != "http" && lower != "https" {
            return Err(EgressPolicyError::InvalidRule {
                entry: scheme.to_string(),
                why: "the scheme must be http or https".into(),
            });
        }
        self.scheme = Some(lower);
        Ok(self)
    }

    /// Only for paths starting with `prefix` (which starts with `/`); a prefix not ending in
    /// `/` matches itself and what follows after a `/`.
    pub fn path_prefix(mut self, prefix: &str) -> Result<Self, EgressPolicyError> {
        if !prefix.starts_with('/') || has_unsafe_segments(prefix) {
            return Err(EgressPolicyError::InvalidRule {
                entry: prefix.to_string(),
                why: "a path prefix starts with '/' and has no '.' or '..' segments or '%'".into(),
            });
        }
        self.path_prefix = (prefix != "/").then(|| prefix.to_string());
        Ok(self)
    }

    /// Only for these methods (upper case, like `GET`).
    pub fn methods(mut self, methods: &[&str]) -> Result<Self, EgressPolicyError> {
        let parsed = methods
            .iter()
            .map(|m| {
                http::Method::from_bytes(m.as_bytes()).map_err(|_| EgressPolicyError::InvalidRule {
                    entry: (*m).to_string(),
                    why: "not an HTTP method".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.methods = Some(parsed);
        Ok(self)
    }

    /// Whether the host pattern (not port) covers `host`: for secrets, which follow the host.
    pub(crate) fn covers_host(&self, host: &RequestHost) -> bool {
        match (&self.pattern, host) {
            (Pattern::Exact(rule), RequestHost::Name(name)) => rule == name,
            (Pattern::Subdomains(suffix), RequestHost::Name(name)) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (Pattern::Ip(rule), RequestHost::Ip(ip)) => rule == ip,
            _ => false,
        }
    }

    fn route_fits(
        &self,
        scheme: &str,
        method: &http::Method,
        path: &str,
    ) -> Result<(), RouteMismatch> {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return Err(RouteMismatch::Scheme);
        }
        if let Some(prefix) = &self.path_prefix {
            let fits = !has_unsafe_segments(path)
                && path.starts_with(prefix.as_str())
                && (prefix.ends_with('/')
                    || path.len() == prefix.len()
                    || path[prefix.len()..].starts_with(['/', '?']));
            if !fits {
                return Err(RouteMismatch::Path);
            }
        }
        if self.methods.as_ref().is_some_and(|m| !m.contains(method)) {
            return Err(RouteMismatch::Method);
        }
        Ok(())
    }

    /// Lets this host resolve to internal addresses. Needed for `localhost`, loopback test
    /// servers or services on the operator's private network; never needed for public hosts.
    #[must_use]
    pub fn allow_private(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Whether this rule lets the host resolve to internal addresses.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Whether this rule covers `host` on `port`; `default_port` is the scheme's.
    pub(crate) fn matches(&self, host: &RequestHost, port: u16, default_port: u16) -> bool {
        let port_ok = match self.port {
            Some(p) => p == port,
            None => port == default_port,
        };
        port_ok && self.covers_host(host)
    }
}

/// Whether a path could mean something else to the server than its text says: `.` or `..`
/// segments, percent-encoding (of dots or slashes), backslashes.
fn has_unsafe_segments(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.contains(['%', '\\']) || path.split('/').any(|seg| seg == "." || seg == "..")
}

/// Splits `host:port`, `[v6]:port`, `[v6]` or a bare IPv6 literal.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let parse_port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port {p:?} is not a number from 1 to 65535")),
        Ok(n) => Ok(Some(n)),
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| "an IPv6 literal opened with [ needs a closing ]".to_string())?;
        return match after {
            "" => Ok((inside, None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((inside, parse_port(p)?)),
                None => Err("after ] only :port may follow".to_string()),
            },
        };
    }
    if text.matches(':').count() > 1 {
        // A bare IPv6 literal; a port needs the [..]:port form.
        return Ok((text, None));
    }
    match text.split_once(':') {
        Some((host, p)) => Ok((host, parse_port(p)?)),
        None => Ok((text, None)),
    }
}

/// Checks a DNS name: dot-separated labels of letters, digits, `-` and `_`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("the host name must have 1 to 253 characters".to_string());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each dot-separated part must have 1 to 63 characters".to_string());
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(
                "a host name may only contain letters, digits, '-', '_' and dots; \
                 a wildcard is only allowed as a leading \"*.\""
                    .to_string(),
            );
        }
    }
    Ok(())
}

/// The operator's egress policy. Deny-by-default: [`EgressPolicy::default`] allows no host.
///
/// TOML form (every key optional):
/// ```toml
/// allowed_hosts = ["api.example.com", "*.githubusercontent.com",
///                  { host = "localhost:8080", allow_private = true }]
/// connect_timeout = "5s"         # or a number of seconds
/// total_timeout = "30s"
/// max_response_bytes = "1MiB"     # or a number of bytes
/// max_request_bytes = "1MiB"      # request body, declared or sent
/// max_requests = 16
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawPolicy")]
pub struct EgressPolicy {
    rules: Vec<HostRule>,
    /// Longest time to resolve and connect (default 5 s). A guest may ask for less, never
    /// more.
    pub connect_timeout: Duration,
    /// Longest time for a whole request: resolve, connect, send, response head and body
    /// (default 30 s).
    pub total_timeout: Duration,
    /// Largest response body a request may receive, in bytes (default 1 MiB); reading past
    /// it ends the call.
    pub max_response_bytes: u64,
    /// Largest request body a request may send (or declare in `Content-Length`), in bytes
    /// (default 1 MiB); going over it ends the call.
    pub max_request_bytes: u64,
    /// Most requests one tool call may attempt, denied ones included (default 16).
    pub max_requests: u32,
    /// Secrets the host adds to matching requests (never from the TOML form: they come from
    /// the operator's secret store through code).
    secrets: Vec<super::redact::SecretHeader>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy {
            rules: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
            max_request_bytes: 1024 * 1024,
            max_requests: 16,
            secrets: Vec::new(),
        }
    }
}

impl EgressPolicy {
    /// Parses a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Adds a rule (builder style, for code that assembles a policy).
    #[must_use]
    pub fn allow(mut self, rule: HostRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds a secret the host puts into matching requests (builder style).
    #[must_use]
    pub fn with_secret(mut self, secret: super::redact::SecretHeader) -> Self {
        self.secrets.push(secret);
        self
    }

    /// The secrets, in the order they were given.
    pub(crate) fn secrets(&self) -> &[super::redact::SecretHeader] {
        &self.secrets
    }

    /// The host rules, in the order they were given.
    pub fn rules(&self) -> &[HostRule] {
        &self.rules
    }

    /// For a request to a host some rule covers: `Ok(allow_private)` if a covering rule also
    /// fits its scheme, method and path, else the first way the best rule missed.
    pub(crate) fn route(
        &self,
        host: &RequestHost,
        port: u16,
        default_port: u16,
        scheme: &str,
        method: &http::Method,
        path: &str,
    ) -> Result<bool, RouteMismatch> {
        let mut worst = RouteMismatch::Scheme;
        let mut private = None;
        for rule in self
            .rules
            .iter()
            .filter(|r| r.matches(host, port, default_port))
        {
            match rule.route_fits(scheme, method, path) {
                Ok(()) => private = Some(private.unwrap_or(false) || rule.allow_private),
                // Report the miss of the rule that got furthest (scheme < path < method).
                Err(miss) => {
                    let rank = |m: &RouteMismatch| match m {
                        RouteMismatch::Scheme => 0,
                        RouteMismatch::Path => 1,
                        RouteMismatch::Method => 2,
                    };
                    if rank(&miss) > rank(&worst) {
                        worst = miss;
                    }
                }
            }
        }
        private.ok_or(worst)
    }

    /// `None` if no rule covers `host:port`; otherwise whether any covering rule allows
    /// internal addresses.
    pub(crate) fn lookup(&self, host: &RequestHost, port: u16, default_port: u16) -> Option<bool> {
        let mut covering = self
            .rules
            .iter()
            .filter(|r| r.matches(host, port, default_port))
            .peekable();
        covering.peek()?;
        Some(covering.any(|r| r.allow_private))
    }
}

/// An `allowed_hosts` entry as written: a plain string or a table.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a host string or a table { host = \"...\", allow_private = true }"
)]
enum RawRule {
    Plain(String),
    Table {
        host: String,
        #[serde(default)]
        allow_private: bool,
    },
}

/// A number or a string with a unit, as in the rest of the operator's policy file.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a number or a string with a unit, like \"5s\" or \"1MiB\""
)]
enum Quantity {
    Num(u64),
    Text(String),
}

impl Quantity {
    fn parse<T>(
        &self,
        field: &'static str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<T, EgressPolicyError> {
        let text = match self {
            Quantity::Num(n) => n.to_string(),
            Quantity::Text(t) => t.clone(),
        };
        parse(&text).map_err(|message| EgressPolicyError::InvalidValue { field, message })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    allowed_hosts: Vec<RawRule>,
    connect_timeout: Option<Quantity>,
    total_timeout: Option<Quantity>,
    max_response_bytes: Option<Quantity>,
    max_request_bytes: Option<Quantity>,
    max_requests: Option<u32>,
}

impl TryFrom<RawPolicy> for EgressPolicy {
    type Error = EgressPolicyError;

    fn try_from(raw: RawPolicy) -> Result<Self, EgressPolicyError> {
        let defaults = EgressPolicy::default();
        let mut rules = Vec::with_capacity(raw.allowed_hosts.len());
        for entry in raw.allowed_hosts {
            let (host, allow_private) = match entry {
                RawRule::Plain(host) => (host, false),
                RawRule::Table {
                    host,
                    allow_private,
                } => (host, allow_private),
            };
            let rule = HostRule::parse(&host)?.allow_private(allow_private);
            if let Pattern::Ip(ip) = rule.pattern
                && !allow_private
                && super::addr::is_internal(ip)
            {
                return Err(EgressPolicyError::InvalidRule {
                    entry: host,
                    why: format!(
                        "{ip} is an internal address, which stays blocked unless the entry is \
                         written as {{ host = \"...\", allow_private = true }}"
                    ),
                });
            }
            rules.push(rule);
        }
        let parse = |value: &Option<Quantity>, field, parse, default| match value {
            Some(q) => q.parse(field, parse),
            None => Ok(default),
        };
        Ok(EgressPolicy {
            rules,
            connect_timeout: parse(
                &raw.connect_timeout,
                "connect_timeout",
                parse_duration,
                defaults.connect_timeout,
            )?,
            total_timeout: parse(
                &raw.total_timeout,
                "total_timeout",
                parse_duration,
                defaults.total_timeout,
            )?,
            max_response_bytes: match &raw.max_response_bytes {
                Some(q) => q.parse("max_response_bytes", parse_bytes)?,
                None => defaults.max_response_bytes,
            },
            max_request_bytes: match &raw.max_request_bytes {
                Some(q) => q.parse("max_request_bytes", parse_bytes)?,
                None => defaults.max_request_bytes,
            },
            max_requests: raw.max_requests.unwrap_or(defaults.max_requests),
            secrets: Vec::new(),
        })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn name(host: &str) -> RequestHost {
        RequestHost::parse(host)
    }

    #[test]
    fn exact_rule_matches_normalised_name_on_default_port_only() {
        let rule = HostRule::parse("API.Example.com.").unwrap();
        assert!(rule.matches(&name("api.example.com"), 443, 443));
        assert!(rule.matches(&name("API.EXAMPLE.COM."), 80, 80));
        assert!(!rule.matches(&name("api.example.com"), 8443, 443));
        assert!(!rule.matches(&name("example.com"), 443, 443));
        assert!(!rule.matches(&name("api.example.com.evil.test"), 443, 443));
    }

    #[test]
    fn rule_with_port_matches_only_that_port() {
        let rule = HostRule::parse("localhost:8080").unwrap();
        assert!(rule.matches(&name("localhost"), 8080, 80));
        assert!(!rule.matches(&name("localhost"), 80, 80));
    }

    #[test]
    fn wildcard_matches_subdomains_but_not_the_bare_suffix() {
        let rule = HostRule::parse("*.example.com").unwrap();
        assert!(rule.matches(&name("a.example.com"), 443, 443));
        assert!(rule.matches(&name("a.b.example.com"), 443, 443));
        assert!(!rule.matches(&name("example.com"), 443, 443));
        assert!(!rule.matches(&name("badexample.com"), 443, 443));
        assert!(!rule.matches(&name(".example.com"), 443, 443));
    }

    #[test]
    fn ip_rules_match_ip_literals_only() {
        let v4 = HostRule::parse("203.0.113.7").unwrap();
        assert!(v4.matches(&name("203.0.113.7"), 80, 80));
        assert!(v4.matches(&name("[::ffff:203.0.113.7]"), 80, 80));
        assert!(!v4.matches(&name("203.0.113.8"), 80, 80));
        let v6 = HostRule::parse("[2001:db8::1]:8443").unwrap();
        assert!(v6.matches(&name("[2001:db8::1]"), 8443, 443));
        assert!(HostRule::parse("2001:db8::1").is_ok());
    }

    #[test]
    fn malformed_rules_are_refused_with_a_reason() {
        for bad in [
            "",
            "https://api.example.com",
            "api.example.com/v1",
            "a.*.example.com",
            "*",
            "host:0",
            "host:99999",
            "[::1",
            "user@host",
            "bad host",
        ] {
            let err = HostRule::parse(bad).unwrap_err();
            assert!(
                matches!(err, EgressPolicyError::InvalidRule { .. }),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn toml_policy_with_defaults_and_private_table_entry() {
        let policy = EgressPolicy::from_toml(
            r#"
            allowed_hosts = ["api.example.com", { host = "localhost:8080", allow_private = true }]
            total_timeout = "2s"
            "#,
        )
        .unwrap();
        assert_eq!(policy.rules().len(), 2);
        assert_eq!(
            policy.lookup(&name("api.example.com"), 443, 443),
            Some(false)
        );
        assert_eq!(policy.lookup(&name("localhost"), 8080, 80), Some(true));
        assert_eq!(policy.lookup(&name("evil.example"), 443, 443), None);
        assert_eq!(policy.total_timeout, Duration::from_secs(2));
        assert_eq!(policy.connect_timeout, Duration::from_secs(5));
        assert_eq!(policy.max_response_bytes, 1024 * 1024);
        assert_eq!(policy.max_request_bytes, 1024 * 1024);
        assert_eq!(policy.max_requests, 16);
    }

    #[test]
    fn default_policy_denies_everything() {
        let policy = EgressPolicy::from_toml("").unwrap();
        assert!(policy.rules().is_empty());
        assert_eq!(policy, EgressPolicy::default());
    }

    #[test]
    fn internal_ip_rule_without_allow_private_is_refused() {
        let err = EgressPolicy::from_toml(r#"allowed_hosts = ["169.254.169.254"]"#).unwrap_err();
        assert!(err.to_string().contains("allow_private"), "{err}");
        let ok = EgressPolicy::from_toml(
            r#"allowed_hosts = [{ host = "127.0.0.1:9000", allow_private = true }]"#,
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn bad_durations_and_unknown_keys_are_refused() {
        for text in [
            r#"connect_timeout = "5 parsecs""#,
            r#"connect_timeout = "0s""#,
            r#"max_response_bytes = "lots""#,
            r#"max_request_bytes = "lots""#,
            r#"total_timeout = "soon""#,
            r#"allowed_host = ["a.example"]"#,
        ] {
            assert!(EgressPolicy::from_toml(text).is_err(), "{text}");
        }
        let policy = EgressPolicy::from_toml(
            "connect_timeout = \"250ms\"\ntotal_timeout = 2\nmax_response_bytes = \"64KiB\"\n\
             max_request_bytes = \"16KiB\"",
        )
        .unwrap();
        assert_eq!(policy.max_request_bytes, 16 * 1024);
        assert_eq!(policy.connect_timeout, Duration::from_millis(250));
        assert_eq!(policy.total_timeout, Duration::from_secs(2));
        assert_eq!(policy.max_response_bytes, 64 * 1024);
    }
}
