//! From an agent's model settings to a connected [`Model`]: provider configuration, API key,
//! and a quick TCP probe of the base URL, so that a missing key or a server that is not
//! running is reported before the run starts rather than as a failed first model call.
//!
//! Invariant: nothing here sends a request to the model; the probe only opens (and closes)
//! one TCP connection to the base URL's host and port.

use std::sync::Arc;
use std::time::Duration;

use super::error::SetupError;
use crate::agent::{AgentDef, Provider};
use warden_llm::{ApiKey, Model, ProviderConfig, ProviderKind};

/// How long the base-URL probe waits for a TCP connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The provider configuration for an agent's model settings.
pub fn provider_config(def: &AgentDef) -> ProviderConfig {
    let m = &def.model;
    let kind = match m.provider {
        Provider::Anthropic => ProviderKind::Anthropic,
        Provider::OpenAi | Provider::OpenAiCompatible => ProviderKind::Openai,
    };
    let mut config = ProviderConfig::new(kind, &m.name);
    config.base_url = m.base_url.clone();
    config.timeouts = m.timeouts;
    config.retry = m.retry;
    config.rate_limits = m.rate_limits;
    config.response_limits = m.response_limits;
    config.http2_prior_knowledge = m.http2_prior_knowledge;
    match m.api_key_env() {
        Some(var) => config.api_key_env = Some(var),
        // Local OpenAI-compatible servers take no key; the header carries a placeholder.
        None => config.api_key = Some(ApiKey::new("none")),
    }
    config
}

/// Builds the model of `def` (failing on a missing key) and probes its base URL.
pub(super) async fn connect_model(def: &AgentDef) -> Result<Arc<dyn Model>, SetupError> {
    let file = def
        .source
        .as_ref()
        .map_or_else(|| def.name.clone(), |p| p.display().to_string());
    let config = provider_config(def);
    let model = warden_llm::connect(&config).map_err(|source| match source {
        warden_llm::LlmError::MissingKey { env_var, .. } => SetupError::MissingKey {
            file: file.clone(),
            env_var,
        },
        source => SetupError::Model {
            file: file.clone(),
            key: "model".into(),
            source: Box::new(source),
        },
    })?;
    probe(config.base_url())
        .await
        .map_err(|detail| SetupError::Unreachable {
            file,
            url: config.base_url().to_string(),
            detail,
        })?;
    Ok(model)
}

/// Opens one TCP connection to the host and port of `base_url`.
pub(super) async fn probe(base_url: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(base_url).map_err(|e| format!("not a valid URL: {e}"))?;
    let host = url
        .host_str()
        .ok_or_else(|| "the URL has no host".to_string())?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| "the URL has no port".to_string())?;
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn the_model_table_caps_reach_the_provider_config() {
        let text = "name = \"a\"\n[model]\nprovider = \"anthropic\"\nname = \"claude\"\n\
                    retry = { max_retry_after_ms = 5000 }\ntimeouts = { stream_ms = 90000 }\n\
                    response_limits = { max_body_bytes = 1000, max_event_bytes = 100 }\n";
        let def = AgentDef::from_toml_str(text, "agent.toml").unwrap();
        let config = provider_config(&def);
        assert_eq!(config.retry.max_retry_after_ms, 5000);
        assert_eq!(config.timeouts.stream_ms, 90_000);
        let limits = config.response_limits;
        assert_eq!((limits.max_body_bytes, limits.max_event_bytes), (1000, 100));
        assert_eq!(limits.max_stream_bytes, 64 << 20);
        config.validate().unwrap();
    }
}
