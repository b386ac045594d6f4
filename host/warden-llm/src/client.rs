//! The process-wide HTTP client: one connection pool for every adapter.
//!
//! Invariant: exactly one `reqwest::Client` exists per connect timeout (a client-level
//! setting), so every run talking to the same provider reuses warm connections. The ring
//! rustls provider is installed once before the first client is built. Anything else that
//! reaches a provider (the start-up probe) takes its client from [`http_client`], so it goes
//! the same way as the requests: same proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, read by reqwest when the client is built), TLS roots and timeouts.
//!
//! TLS trusts the Mozilla roots compiled in (`webpki-roots`), plus, for `https` endpoints,
//! the PEM certificates of `SSL_CERT_FILE` when it is set (a company proxy's CA). Loading the system store instead
//! read ~140 files at start-up: most of a CLI run's start-up time and ~1 MB of memory.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::config::ProviderConfig;
use super::error::LlmError;

/// How a client connects; one shared client per distinct value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClientKind {
    pub connect_timeout: Duration,
    /// For `https` endpoints; a plain-HTTP (local) server's client does not read
    /// `SSL_CERT_FILE`, which can be a large bundle.
    pub https: bool,
    /// HTTP/2 without negotiation (h2c), for plain-HTTP servers that support it.
    pub http2_prior_knowledge: bool,
}

impl ClientKind {
    /// The kind of client for `config` talking to `url`.
    pub(crate) fn for_config(config: &ProviderConfig, url: &str) -> Self {
        ClientKind {
            connect_timeout: config.timeouts.connect(),
            https: url.starts_with("https://"),
            http2_prior_knowledge: config.http2_prior_knowledge,
        }
    }
}

/// The shared HTTP client the adapter of `config` sends its requests with (no key or
/// other header attached), for requests that must take the same path, such as a probe.
pub fn http_client(config: &ProviderConfig) -> Result<reqwest::Client, LlmError> {
    shared_client(ClientKind::for_config(config, config.base_url()))
}

/// The shared client of this kind.
pub(crate) fn shared_client(kind: ClientKind) -> Result<reqwest::Client, LlmError> {
    type Clients = HashMap<ClientKind, reqwest::Client>;
    static CLIENTS: OnceLock<Mutex<Clients>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = clients.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(client) = map.get(&kind) {
        return Ok(client.clone());
    }
    let tls = if kind.https {
        tls_config()?
    } else {
        tls_config_with(None)?
    };
    // Another part of the process may have installed a provider already: either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(kind.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")));
    if kind.http2_prior_knowledge {
        builder = builder.http2_prior_knowledge();
    }
    let client = builder
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
    map.insert(kind, client.clone());
    Ok(client)
}

/// The env var naming extra CA certificates to trust (PEM).
/// Headers the shared client adds to every request: `accept` and `user-agent`.
pub(crate) const CLIENT_DEFAULT_HEADERS: usize = 2;

const CA_FILE_VAR: &str = "SSL_CERT_FILE";

fn tls_config() -> Result<rustls::ClientConfig, LlmError> {
    let extra = std::env::var_os(CA_FILE_VAR).filter(|p| !p.is_empty());
    tls_config_with(extra.as_deref().map(std::path::Path::new))
}

/// The TLS settings, trusting the certificates of the PEM file `extra` too.
fn tls_config_with(extra: Option<&std::path::Path>) -> Result<rustls::ClientConfig, LlmError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra {
        let shown = path.display().to_string();
        let bad = |e: &dyn std::fmt::Display| {
            LlmError::Config(format!(
                "{CA_FILE_VAR}={shown}: cannot read its certificates ({e}); point it at a PEM file or unset it"
            ))
        };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))?;
        for cert in certs {
            roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| LlmError::Config(format!("TLS setup failed: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn the_default_trusts_the_compiled_in_roots_and_offers_h2() {
        let config = tls_config_with(None).unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
        assert!(!webpki_roots::TLS_SERVER_ROOTS.is_empty());
    }

    #[test]
    fn an_unreadable_ca_file_is_a_clear_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = tls_config_with(Some(&missing)).unwrap_err().to_string();
        assert!(err.contains("SSL_CERT_FILE="), "{err}");
        assert!(err.contains("nope.pem"), "{err}");
        assert!(err.contains("PEM file or unset it"), "{err}");
    }

    #[test]
    fn a_pem_file_without_valid_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = tls_config_with(Some(&bad)).unwrap_err().to_string();
        assert!(err.contains("cannot read its certificates"), "{err}");
    }
}
