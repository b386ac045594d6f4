//! Building an agent in Rust: the same settings as the agent file, same validation.
//!
//! Invariant: `build` returns only definitions that pass `AgentDef::validate`.

use super::{
    AgentDef, AgentError, ContextSettings, ModelSettings, OutputDef, Provider, RunSettings, ToolDef,
};
use warden_core::budget::Budget;
use warden_core::context::models::Price;
use warden_core::options::ModelOptions;
use warden_llm::{RateLimits, ResponseLimits, RetryPolicy, Timeouts};

/// Builds an [`AgentDef`]; start with [`AgentDef::builder`].
#[derive(Debug, Clone)]
pub struct AgentBuilder {
    agent: AgentDef,
}

impl AgentBuilder {
    pub(super) fn new(name: String, provider: Provider, model: String) -> Self {
        Self {
            agent: AgentDef {
                name,
                instructions: String::new(),
                model: ModelSettings {
                    provider,
                    name: model,
                    base_url: None,
                    api_key_env: None,
                    max_tokens: 1024,
                    temperature: None,
                    top_p: None,
                    seed: None,
                    stop: Vec::new(),
                    reasoning_effort: None,
                    thinking_budget: None,
                    extra_body: serde_json::Map::new(),
                    context_window: None,
                    price: None,
                    timeouts: Timeouts::default(),
                    retry: RetryPolicy::default(),
                    rate_limits: RateLimits::default(),
                    response_limits: ResponseLimits::default(),
                    http2_prior_knowledge: false,
                },
                tools: Vec::new(),
                budget: Budget::default(),
                output: None,
                run: RunSettings::default(),
                context: ContextSettings::default(),
                source: None,
            },
        }
    }

    /// The system prompt.
    pub fn instructions(mut self, text: impl Into<String>) -> Self {
        self.agent.instructions = text.into();
        self
    }

    /// The provider endpoint (required for `openai-compatible`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.agent.model.base_url = Some(url.into());
        self
    }

    /// The environment variable holding the API key.
    pub fn api_key_env(mut self, var: impl Into<String>) -> Self {
        self.agent.model.api_key_env = Some(var.into());
        self
    }

    /// Cap on the output tokens of each response (default 1024).
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.agent.model.max_tokens = n;
        self
    }

    /// Sampling temperature (default: the provider's).
    pub fn temperature(mut self, t: f32) -> Self {
        self.agent.model.temperature = Some(t);
        self
    }

    /// The optional request settings (`top_p`, `seed`, `stop`, reasoning effort, thinking
    /// budget, `extra_body`), checked against the provider by `build`.
    pub fn model_options(mut self, options: ModelOptions) -> Self {
        self.agent.model.set_options(options);
        self
    }

    /// Overrides the model's context window, in tokens.
    pub fn context_window(mut self, tokens: u32) -> Self {
        self.agent.model.context_window = Some(tokens);
        self
    }

    /// Overrides the model's price.
    pub fn price(mut self, price: Price) -> Self {
        self.agent.model.price = Some(price);
        self
    }

    /// Adds a tool component.
    pub fn tool(mut self, tool: ToolDef) -> Self {
        self.agent.tools.push(tool);
        self
    }

    /// Replaces the whole budget.
    pub fn budget(mut self, budget: Budget) -> Self {
        self.agent.budget = budget;
        self
    }

    /// Limits model turns.
    pub fn max_turns(mut self, n: u32) -> Self {
        self.agent.budget.max_turns = Some(n);
        self
    }

    /// The final answer must be JSON valid against `schema`.
    pub fn output_schema(mut self, schema: serde_json::Value) -> Self {
        self.agent.output = Some(OutputDef {
            schema: Some(schema),
            schema_file: None,
            max_retries: 2,
        });
        self
    }

    /// A successful call to `tool` ends the run with its output.
    pub fn stop_on_tool(mut self, tool: impl Into<String>) -> Self {
        self.agent.run.stop_on_tools.push(tool.into());
        self
    }

    /// Replaces the loop settings.
    pub fn run_settings(mut self, run: RunSettings) -> Self {
        self.agent.run = run;
        self
    }

    /// Replaces the context settings.
    pub fn context_settings(mut self, context: ContextSettings) -> Self {
        self.agent.context = context;
        self
    }

    /// The validated definition.
    pub fn build(self) -> Result<AgentDef, AgentError> {
        self.agent.validate("builder")?;
        Ok(self.agent)
    }
}
