//! Name resolution for outgoing HTTP, behind a trait so tests can map names to any address
//! without DNS.
//!
//! Invariant: the addresses a resolver returns are the only ones the egress layer checks and
//! then dials; nothing resolves the name a second time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;

/// Why a name could not be resolved. The text goes to the guest: it names the host only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The name has no address.
    #[error("no address found for {host}")]
    NotFound {
        /// The name looked up.
        host: String,
    },
    /// The lookup itself failed.
    #[error("looking up {host} failed: {message}")]
    Failed {
        /// The name looked up.
        host: String,
        /// The resolver's message.
        message: String,
    },
}

/// Resolves a host name to IP addresses.
pub trait Resolver: Send + Sync + std::fmt::Debug {
    /// All addresses of `host` (already lower-case, no trailing dot); `port` is passed for
    /// resolvers that need one (the system resolver does).
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>>;
}

/// The operating system's resolver (`getaddrinfo` through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        Box::pin(async move {
            let addrs =
                tokio::net::lookup_host((host, port))
                    .await
                    .map_err(|e| ResolveError::Failed {
                        host: host.to_string(),
                        message: e.to_string(),
                    })?;
            let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            if ips.is_empty() {
                return Err(ResolveError::NotFound {
                    host: host.to_string(),
                });
            }
            Ok(ips)
        })
    }
}

/// A fixed name → addresses map; unknown names are not found. Counts its lookups so a test
/// can prove the policy consulted it (or not).
#[derive(Debug, Default)]
pub struct StaticResolver {
    map: HashMap<String, Vec<IpAddr>>,
    lookups: AtomicUsize,
}

impl StaticResolver {
    /// An empty map: every name is not found.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `host` (matched case-insensitively) to `ips`.
    #[must_use]
    pub fn with(mut self, host: &str, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.map
            .insert(host.to_ascii_lowercase(), ips.into_iter().collect());
        self
    }

    /// How many lookups were made so far.
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        _port: u16,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let found = self.map.get(host).filter(|ips| !ips.is_empty()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| ResolveError::NotFound {
                host: host.to_string(),
            })
        })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_resolver_maps_names_and_counts_lookups() {
        let resolver = StaticResolver::new().with("Svc.Test", ["10.0.0.1".parse().unwrap()]);
        let ips = resolver.resolve("svc.test", 80).await.unwrap();
        assert_eq!(ips, vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
        let missing = resolver.resolve("other.test", 80).await.unwrap_err();
        assert!(matches!(missing, ResolveError::NotFound { .. }));
        assert_eq!(resolver.lookups(), 2);
    }

    #[tokio::test]
    async fn system_resolver_reads_numeric_short_forms_as_glibc_does() {
        // No DNS traffic: getaddrinfo parses numeric hosts itself.
        let ips = SystemResolver.resolve("127.1", 80).await.unwrap();
        assert!(ips.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()));
    }
}
