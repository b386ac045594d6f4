//! A small parser for the absolute `http`/`https` URLs `http_fetch` accepts.
//!
//! Hand-written instead of the `url` crate (whose IDNA tables would triple the component):
//! the host parses the request again and enforces its egress policy, so this only needs to
//! split the URL into the parts wasi-http wants and refuse what the tool never sends.
//! Invariant: a `Target` has scheme http or https, a non-empty host, no user info, and a
//! path-with-query starting with `/`; the fragment is dropped.

/// The parts of a URL wasi-http needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// True for https.
    pub https: bool,
    /// `host[:port]` as written (lower-cased host).
    pub authority: String,
    /// The host alone, for messages (without port or IPv6 brackets).
    pub host: String,
    /// Path and query, starting with `/`.
    pub path_with_query: String,
}

/// Splits `url` into a `Target`, or says what is wrong with it.
pub fn parse(url: &str) -> Result<Target, String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("{url:?} is not an absolute URL; write it as http://host/path or https://host/path")
    })?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "the scheme {other:?} is not supported; use http or https"
            ));
        }
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    if authority.contains('@') {
        return Err("credentials in the URL (user@host) are not allowed".into());
    }
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("the host in {url:?} contains whitespace"));
    }
    let host = host_of(authority)?;
    let path_with_query = match tail {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    if path_with_query
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(
            "the URL's path contains whitespace; percent-encode it (a space is %20)".into(),
        );
    }
    let authority = authority.to_ascii_lowercase();
    Ok(Target {
        https,
        host: host.to_ascii_lowercase(),
        authority,
        path_with_query,
    })
}

/// The host part of `host[:port]` or `[v6]:port`, with the port checked.
fn host_of(authority: &str) -> Result<&str, String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("the IPv6 address in {authority:?} has no closing ']'"))?;
        (v6, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{authority:?} has no host"));
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("the port {port:?} is not a number from 1 to 65535"));
    }
    Ok(host)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_scheme_authority_and_path() {
        let t = parse("https://API.example.com:8443/v1/items?q=1#top").unwrap();
        assert_eq!(
            t,
            Target {
                https: true,
                authority: "api.example.com:8443".into(),
                host: "api.example.com".into(),
                path_with_query: "/v1/items?q=1".into()
            }
        );
    }

    #[test]
    fn an_empty_path_becomes_slash() {
        assert_eq!(parse("http://127.0.0.1:8080").unwrap().path_with_query, "/");
        assert_eq!(parse("http://h?x=1").unwrap().path_with_query, "/?x=1");
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets_in_host_only() {
        let t = parse("http://[::1]:9000/a").unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority.as_str()),
            ("::1", "[::1]:9000")
        );
    }

    #[test]
    fn unsupported_or_malformed_urls_are_refused_with_a_reason() {
        assert!(parse("ftp://x/").unwrap_err().contains("use http or https"));
        assert!(
            parse("example.com/a")
                .unwrap_err()
                .contains("not an absolute URL")
        );
        assert!(
            parse("http://user:pw@h/")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(parse("http:///a").unwrap_err().contains("has no host"));
        assert!(
            parse("http://h:99999/")
                .unwrap_err()
                .contains("from 1 to 65535")
        );
        assert!(parse("http://h/a b").unwrap_err().contains("%20"));
    }
}
