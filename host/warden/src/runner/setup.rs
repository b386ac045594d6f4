//! From an agent's model settings to a connected [`Model`]: provider configuration, API key,
//! and a quick probe of the base URL, so that a missing key or a server that is not
//! running is reported before the run starts rather than as a failed first model call.
//!
//! Invariant: nothing here sends a request to the model. The probe is one `HEAD` of the base
//! URL, without the key, sent by the very client the model's requests use
//! ([`llm::http_client`]): it goes the same way they do, through `HTTPS_PROXY` /
//! `HTTP_PROXY` / `ALL_PROXY` unless `NO_PROXY` matches, and warms the connection the first
//! request then reuses. Any HTTP answer, whatever its status, counts as reachable.

use std::sync::Arc;
use std::time::Duration;

use super::error::SetupError;
use crate::agent::{AgentDef, Provider};
use warden_core::report::error_chain;
use warden_llm::{ApiKey, Model, ProviderConfig, ProviderKind};

/// How long the base-URL probe waits for an answer once connected (the connection itself
/// has the model's connect timeout).
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
pub(crate) async fn connect_model(def: &AgentDef) -> Result<Arc<dyn Model>, SetupError> {
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
    probe(&config)
        .await
        .map_err(|detail| SetupError::Unreachable {
            file,
            url: config.base_url().to_string(),
            detail,
        })?;
    Ok(model)
}

/// Sends one `HEAD` of the base URL of `config` with the model's own HTTP client.
pub(super) async fn probe(config: &ProviderConfig) -> Result<(), String> {
    let url =
        reqwest::Url::parse(config.base_url()).map_err(|e| format!("not a valid URL: {e}"))?;
    let client = warden_llm::http_client(config).map_err(|e| e.to_string())?;
    let limit = config.timeouts.connect() + PROBE_TIMEOUT;
    match tokio::time::timeout(limit, client.head(url).send()).await {
        Ok(Ok(_answer)) => Ok(()),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(_) => Err(format!("no answer within {limit:?}")),
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
