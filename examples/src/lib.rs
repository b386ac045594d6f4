//! Shared by warden's examples: which model an example talks to — a real provider when its
//! key is set (`OPENAI_API_KEY`, else `ANTHROPIC_API_KEY`), otherwise the in-repo mock LLM
//! server started in this process on 127.0.0.1 and answering from the example's script —
//! and the executor the tools run in.
//!
//! Invariant: [`mock_backend`] never looks at the environment, so tests that use it never
//! touch the network.

use std::sync::Arc;

use anyhow::Context;
use mock_llm::{Behaviour, MockConfig, MockHandle, MockServer, Turn};
use warden::{ApiKey, EngineConfig, Executor, Model, ProviderConfig, ProviderKind};

/// The model an example runs against.
pub struct Backend {
    pub model: Arc<dyn Model>,
    /// The model name to put in requests.
    pub model_name: String,
    /// The mock server, when the example runs offline (its recorded requests are kept).
    pub mock: Option<MockHandle>,
}

/// A real provider if a key is set, else the mock answering with `script`.
pub async fn backend(script: Vec<Turn>) -> anyhow::Result<Backend> {
    let real = [
        ("OPENAI_API_KEY", ProviderKind::Openai, "gpt-4o-mini"),
        (
            "ANTHROPIC_API_KEY",
            ProviderKind::Anthropic,
            "claude-sonnet-4-5",
        ),
    ];
    for (var, kind, name) in real {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            let mut config = ProviderConfig::new(kind, name);
            config.api_key_env = Some(var.into());
            eprintln!("(using {} {name}: {var} is set)", kind.as_str());
            return Ok(Backend {
                model: warden::connect(&config)?,
                model_name: name.into(),
                mock: None,
            });
        }
    }
    eprintln!("(no OPENAI_API_KEY or ANTHROPIC_API_KEY: using the mock LLM server)");
    mock_backend(script).await
}

/// The mock LLM server on 127.0.0.1 answering with `script` (OpenAI wire format), whatever
/// the environment says.
pub async fn mock_backend(script: Vec<Turn>) -> anyhow::Result<Backend> {
    let mock = MockServer::start(MockConfig {
        behaviour: Behaviour::Script { turns: script },
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .context("starting the mock LLM server")?;
    let mut config = ProviderConfig::new(ProviderKind::Openai, "mock-model");
    config.base_url = Some(mock.openai_base_url());
    config.api_key = Some(ApiKey::new("mock"));
    Ok(Backend {
        model: warden::connect(&config)?,
        model_name: "mock-model".into(),
        mock: Some(mock),
    })
}

/// An executor with the default engine settings (components cached on disk).
pub fn executor() -> anyhow::Result<Executor> {
    Ok(Executor::new(EngineConfig::default())?)
}

/// A scripted turn calling several tools at once: `(name, arguments JSON)` each.
pub fn calls(calls: &[(&str, &str)]) -> Turn {
    Turn {
        tool_calls: calls
            .iter()
            .map(|(name, args)| mock_llm::ScriptCall {
                name: (*name).into(),
                arguments: (*args).into(),
            })
            .collect(),
        ..Turn::default()
    }
}
