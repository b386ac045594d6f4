//! The model server the bench talks to: the in-repo mock started in this process (the
//! default), or any compatible server at `--base-url`. Behaviour, faults and the request
//! count go through the mock's handle in-process, or through its admin routes
//! (`/admin/behaviour`, `/admin/faults`, `/stats`) when an external server offers them.
//!
//! Invariant: nothing here is required of an external server beyond its chat route; each
//! admin operation reports whether the server took it, so a figure that needs one can be
//! left out (`null`) instead of measured wrong.

use mock_llm::{Behaviour, Fault, MockConfig, MockHandle, MockServer};
use serde_json::Value;
use warden_llm::{ApiKey, ProviderConfig, ProviderKind};

/// The wire format, from `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Openai,
    Anthropic,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Openai => "openai",
            Format::Anthropic => "anthropic",
        }
    }

    /// A model name of the provider, so the run counts tokens as it would there (the
    /// calibrated estimate, with tiktoken's exact counts for OpenAI's models when a request
    /// nears the window: never in this bench's short runs).
    pub fn model(self) -> &'static str {
        match self {
            Format::Openai => "gpt-4o-mini",
            Format::Anthropic => "claude-haiku-4-5",
        }
    }
}

pub enum Server {
    InProcess(MockHandle),
    External {
        base_url: String,
        client: reqwest::Client,
    },
}

impl Server {
    pub async fn start(base_url: Option<String>) -> anyhow::Result<Self> {
        Ok(match base_url {
            Some(base_url) => Server::External {
                base_url: base_url.trim_end_matches('/').to_string(),
                client: reqwest::Client::new(),
            },
            None => Server::InProcess(MockServer::start(MockConfig::default()).await?),
        })
    }

    /// The base URL for `format` (OpenAI's ends in `/v1` on the mock).
    pub fn base_url(&self, format: Format) -> String {
        match (self, format) {
            (Server::InProcess(m), Format::Openai) => m.openai_base_url(),
            (Server::InProcess(m), Format::Anthropic) => m.base_url(),
            (Server::External { base_url, .. }, _) => base_url.clone(),
        }
    }

    /// The root of the server (for its admin routes).
    fn root(&self) -> String {
        match self {
            Server::InProcess(m) => m.base_url(),
            Server::External { base_url, .. } => base_url.trim_end_matches("/v1").to_string(),
        }
    }

    /// Sets the server's behaviour; `false` when an external server has no such route (it
    /// keeps its own).
    pub async fn set_behaviour(&self, behaviour: &Behaviour) -> bool {
        match self {
            Server::InProcess(m) => {
                m.set_behaviour(behaviour.clone());
                true
            }
            Server::External { client, .. } => {
                let url = format!("{}/admin/behaviour", self.root());
                accepted(client.post(url).json(behaviour)).await
            }
        }
    }

    /// Queues `n` copies of `fault`; `false` when an external server has no such route.
    pub async fn push_faults(&self, fault: &str, n: usize) -> anyhow::Result<bool> {
        let parsed: Fault = fault.parse()?;
        Ok(match self {
            Server::InProcess(m) => {
                m.push_faults(std::iter::repeat_n(parsed, n));
                true
            }
            Server::External { client, .. } => {
                let url = format!("{}/admin/faults", self.root());
                let faults: Vec<String> = std::iter::repeat_n(fault.to_string(), n).collect();
                let body = serde_json::json!({ "faults": faults });
                accepted(client.post(url).json(&body)).await
            }
        })
    }

    /// Chat requests the server has seen, if it can tell.
    pub async fn requests_seen(&self) -> Option<u64> {
        match self {
            Server::InProcess(m) => Some(m.stats().requests),
            Server::External { client, .. } => {
                let url = format!("{}/stats", self.root());
                let stats: Value = client.get(url).send().await.ok()?.json().await.ok()?;
                stats.get("requests")?.as_u64()
            }
        }
    }
}

/// Whether the server answered the admin request with a success status.
async fn accepted(request: reqwest::RequestBuilder) -> bool {
    request.send().await.is_ok_and(|r| r.status().is_success())
}

/// The provider configuration for `format` at `base_url` (local servers take any key).
pub fn provider(format: Format, base_url: &str) -> ProviderConfig {
    let kind = match format {
        Format::Openai => ProviderKind::Openai,
        Format::Anthropic => ProviderKind::Anthropic,
    };
    let mut config = ProviderConfig::new(kind, format.model());
    config.base_url = Some(base_url.to_string());
    config.api_key = Some(ApiKey::new("bench"));
    config
}

/// The chat route and headers for a raw request in `format`.
pub fn raw_request(
    client: &reqwest::Client,
    format: Format,
    base_url: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    match format {
        Format::Openai => client
            .post(format!("{base_url}/chat/completions"))
            .bearer_auth("bench")
            .json(body),
        Format::Anthropic => client
            .post(format!("{base_url}/v1/messages"))
            .header("x-api-key", "bench")
            .header("anthropic-version", "2023-06-01")
            .json(body),
    }
}
