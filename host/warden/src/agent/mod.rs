//! Agent definitions: name, instructions, model settings, tools (components with their
//! policy and per-tool settings), budgets, output schema and loop settings. Loaded from a
//! TOML agent file ([`AgentDef::load`], [`AgentDef::from_toml_str`]) or built in Rust
//! ([`AgentDef::builder`]).
//!
//! Parsing is pure and strict (`deny_unknown_fields`; errors name file, line, column and
//! key). Checks that need the filesystem (components and policy files exist) are separate:
//! [`AgentDef::check_files`]. Invariant: an `AgentDef` obtained from this module has passed
//! [`AgentDef::validate`].

mod builder;
pub(crate) mod load;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_options;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use builder::AgentBuilder;
pub use load::AgentError;
use warden_core::budget::Budget;
use warden_core::context::models::Price;
use warden_core::controller::{CompactionConfig, LoopConfig};
use warden_core::options::{ModelOptions, ReasoningEffort};
use warden_core::tool::{ErrorPolicy, ToolCatalogEntry};
use warden_llm::{ProviderKind, RateLimits, ResponseLimits, RetryPolicy, Timeouts};

/// The wire format / provider of the model, as written in an agent file (`openai`,
/// `anthropic`, `openai-compatible`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// OpenAI's chat-completions API.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic's messages API.
    Anthropic,
    /// Any server speaking the OpenAI chat-completions format (Ollama, vLLM, llama.cpp):
    /// the OpenAI wire format at `base_url`, usually without a key.
    #[serde(rename = "openai-compatible", alias = "ollama")]
    OpenAiCompatible,
}

impl Provider {
    /// Whether requests use the OpenAI wire format (OpenAI and compatible servers).
    pub fn openai_wire(self) -> bool {
        matches!(self, Provider::OpenAi | Provider::OpenAiCompatible)
    }

    /// The environment variable holding the API key by default (`None`: no key needed).
    pub fn default_api_key_env(self) -> Option<&'static str> {
        match self {
            Provider::OpenAi => Some("OPENAI_API_KEY"),
            Provider::Anthropic => Some("ANTHROPIC_API_KEY"),
            Provider::OpenAiCompatible => None,
        }
    }
}

/// Which model to call and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Who serves the model, and so which wire format is spoken.
    pub provider: Provider,
    /// The model name, e.g. `gpt-4o-mini`, `claude-sonnet-4-5`, `llama3.1`.
    pub name: String,
    /// Overrides the provider's default endpoint (required for `openai-compatible`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Overrides the provider's default API-key variable.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Cap on the output tokens of each response (default 1024).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Sampling temperature; unset leaves the provider's default.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1 (both providers).
    #[serde(default)]
    pub top_p: Option<f32>,
    /// OpenAI `seed`; refused for Anthropic, which has none.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Stop sequences (OpenAI `stop`, Anthropic `stop_sequences`): at most 4, 1–256 bytes.
    #[serde(default)]
    pub stop: Vec<String>,
    /// OpenAI `reasoning_effort`: `low`, `medium` or `high`; refused for Anthropic.
    #[serde(default)]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Anthropic extended thinking budget in tokens (1024 or more, below `max_tokens`);
    /// refused for OpenAI.
    #[serde(default)]
    pub thinking_budget: Option<u32>,
    /// Server-specific top-level body fields (e.g. vLLM's `top_k`); keys warden writes are refused.
    #[serde(default)]
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// Context window in tokens; overrides the known-models table.
    #[serde(default)]
    pub context_window: Option<u32>,
    /// Price in USD per million tokens; overrides the price table.
    #[serde(default)]
    pub price: Option<Price>,
    /// Timeouts of the LLM interface (`connect_ms`, `request_ms`, `idle_ms`, `stream_ms`).
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Retries of transient model-call failures (`max_attempts`, backoff, the longest
    /// server-requested wait `max_retry_after_ms`...).
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Client-side rate limits (`rpm`, `tpm`; 0 is unlimited).
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Size caps on model responses (`max_body_bytes`, `max_event_bytes`, `max_stream_bytes`).
    #[serde(default)]
    pub response_limits: ResponseLimits,
    /// Speak HTTP/2 to a plain-HTTP `base_url` that supports it (h2c), so concurrent runs
    /// share one connection; `https` endpoints negotiate HTTP/2 by themselves.
    #[serde(default)]
    pub http2_prior_knowledge: bool,
}

fn default_max_tokens() -> u32 {
    1024
}

impl ModelSettings {
    /// The wire format these settings are sent in.
    pub fn provider_kind(&self) -> ProviderKind {
        if self.provider.openai_wire() {
            ProviderKind::Openai
        } else {
            ProviderKind::Anthropic
        }
    }

    /// The optional request settings (`top_p`, `seed`, `stop`...).
    pub fn options(&self) -> ModelOptions {
        ModelOptions {
            top_p: self.top_p,
            seed: self.seed,
            stop: self.stop.clone(),
            reasoning_effort: self.reasoning_effort,
            thinking_budget: self.thinking_budget,
            extra_body: self.extra_body.clone(),
        }
    }

    /// Sets the optional request settings from `options`.
    pub fn set_options(&mut self, options: ModelOptions) {
        self.top_p = options.top_p;
        self.seed = options.seed;
        self.stop = options.stop;
        self.reasoning_effort = options.reasoning_effort;
        self.thinking_budget = options.thinking_budget;
        self.extra_body = options.extra_body;
    }

    /// The environment variable to read the API key from, if the provider needs one.
    pub fn api_key_env(&self) -> Option<String> {
        self.api_key_env
            .clone()
            .or_else(|| self.provider.default_api_key_env().map(String::from))
    }
}

/// The sandbox policy of a component: a file, or a table written inline. Its format is
/// the executor's; the agent file only carries it. Relative granted directories are
/// relative to the policy file's folder, or for an inline table to the agent file's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicyRef {
    /// A policy file, relative to the agent file.
    File(PathBuf),
    /// The policy's table written in the agent file.
    Inline(toml::Table),
}

/// Error policy as written in an agent file (`to_model`, `retry`, `abort`); the retry count
/// is a key of its own. See [`ErrorPolicy`] for what each does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorPolicyName {
    /// [`ErrorPolicy::ToModel`]: the error becomes the tool result (the default).
    #[default]
    ToModel,
    /// [`ErrorPolicy::Retry`]: transient failures are retried `max_retries` times.
    Retry,
    /// [`ErrorPolicy::Abort`]: the run ends with the error.
    Abort,
}

/// Settings for one tool of a component.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSettings {
    /// Run this tool's calls one at a time (unset: the component's setting).
    pub sequential: Option<bool>,
    /// What to do when a call fails (unset: the component's policy).
    pub error_policy: Option<ErrorPolicyName>,
    /// Retries under the `retry` policy (unset: the component's count).
    pub max_retries: Option<u32>,
    /// A call may be run again after a crash interrupted it (unset: the component's).
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// Whether a call needs a person's approval first (unset: the component's).
    #[serde(default)]
    pub approval: Option<Approval>,
}

/// When a tool's calls need a person's approval before they run.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Never (the default).
    #[default]
    Never,
    /// The tool's first call in a run; later calls run without asking.
    First,
    /// Every call.
    Always,
}

/// One tool component and its policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolDef {
    /// Path of the component (`.wasm`), relative to the agent file, or `builtin:<name>`
    /// for one compiled into warden (see [`crate::builtin`]). Empty when `pack` is set.
    #[serde(default)]
    pub component: PathBuf,
    /// An installed tool pack instead of a component: `name` or `name@<semver req>`
    /// (`weather@^1`). Its policy is the operator's grant (see `warden pack install`).
    #[serde(default)]
    pub pack: Option<String>,
    /// For a pack: what to take away from its grant (see [`warden_pack::Narrowing`]);
    /// it can only narrow.
    #[serde(default)]
    pub narrow: Option<warden_pack::Narrowing>,
    /// The sandbox policy; none means nothing is granted (no files, network or env).
    #[serde(default)]
    pub policy: Option<PolicyRef>,
    /// Run every tool of this component one call at a time.
    #[serde(default)]
    pub sequential: bool,
    /// What to do when a call of this component fails (default: tell the model).
    #[serde(default)]
    pub error_policy: ErrorPolicyName,
    /// Retries of transient failures under the `retry` policy (default 2).
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Per-tool settings by tool name, overriding the component's.
    #[serde(default)]
    pub tools: BTreeMap<String, ToolSettings>,
    /// Calls may be run again after a crash interrupted them without a recorded result
    /// (the tools deduplicate by the idempotency key, or have no outside effects). Without
    /// it, the model is told such a call was interrupted with an unknown outcome.
    #[serde(default)]
    pub idempotent: bool,
    /// Whether calls need a person's approval before they run (`always`, `first`, `never`).
    #[serde(default)]
    pub approval: Approval,
}

fn default_retries() -> u32 {
    2
}

impl ToolDef {
    /// A component with the default settings and no policy (deny-by-default sandbox).
    pub fn new(component: impl Into<PathBuf>) -> Self {
        Self {
            component: component.into(),
            pack: None,
            narrow: None,
            policy: None,
            sequential: false,
            error_policy: ErrorPolicyName::ToModel,
            max_retries: default_retries(),
            tools: BTreeMap::new(),
            idempotent: false,
            approval: Approval::Never,
        }
    }

    /// The controller's view of `tool` of this component (as the component's `describe()`
    /// reported it), with this definition's `sequential` flag and error policy applied.
    pub fn catalog_entry(
        &self,
        tool: &str,
        description: &str,
        args_schema: serde_json::Value,
    ) -> ToolCatalogEntry {
        let (sequential, error_policy) = self.settings_for(tool);
        ToolCatalogEntry {
            name: tool.into(),
            description: description.into(),
            args_schema,
            sequential,
            error_policy,
        }
    }

    /// When `tool`'s calls need approval, overrides applied.
    pub fn approval_for(&self, tool: &str) -> Approval {
        (self.tools.get(tool)).map_or(self.approval, |o| o.approval.unwrap_or(self.approval))
    }

    /// Whether `tool`'s calls may run again after a crash, overrides applied.
    pub fn idempotent_for(&self, tool: &str) -> bool {
        (self.tools.get(tool)).map_or(self.idempotent, |o| o.idempotent.unwrap_or(self.idempotent))
    }

    /// `sequential` flag and error policy for `tool`, overrides applied.
    pub fn settings_for(&self, tool: &str) -> (bool, ErrorPolicy) {
        let o = self.tools.get(tool).cloned().unwrap_or_default();
        let name = o.error_policy.unwrap_or(self.error_policy);
        let policy = match name {
            ErrorPolicyName::ToModel => ErrorPolicy::ToModel,
            ErrorPolicyName::Abort => ErrorPolicy::Abort,
            ErrorPolicyName::Retry => ErrorPolicy::Retry {
                max_retries: o.max_retries.unwrap_or(self.max_retries),
            },
        };
        (o.sequential.unwrap_or(self.sequential), policy)
    }
}

/// A JSON Schema the final answer must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputDef {
    /// The schema inline; `schema_file` is read into it by [`AgentDef::load`].
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
    /// A JSON file holding the schema, relative to the agent file.
    #[serde(default)]
    pub schema_file: Option<PathBuf>,
    /// Rejected answers the model may correct before the run ends (default 2).
    #[serde(default = "default_retries")]
    pub max_retries: u32,
}

/// Loop settings (the `[run]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    /// A successful call to one of these tools ends the run with its output.
    pub stop_on_tools: Vec<String>,
    /// Turns with invalid tool calls or empty answers tolerated before the run ends
    /// (default 3).
    pub max_invalid_turns: u32,
    /// Most tool calls running at once (default 8).
    pub max_parallel_tools: usize,
    /// Let the model request several calls in one turn (default true).
    pub parallel_tool_calls: bool,
    /// Largest argument text of one tool call the model may send: a number of bytes or a
    /// size such as `"1MiB"` (the default). Larger arguments are dropped unread and the call
    /// is rejected to the model with the size and this limit.
    #[serde(alias = "max_tool_args_bytes", deserialize_with = "byte_size")]
    pub max_tool_args: u64,
}

/// A number of bytes or a size with a unit (`"64KiB"`), as in the policy file.
fn byte_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a number of bytes or a size such as \"1MiB\"")]
    enum Size {
        Num(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Num(n) => Ok(n),
        Size::Text(text) => {
            warden_sandbox::units::parse_bytes(&text).map_err(serde::de::Error::custom)
        }
    }
}

impl Default for RunSettings {
    fn default() -> Self {
        let d = LoopConfig::new("");
        Self {
            stop_on_tools: Vec::new(),
            max_invalid_turns: d.max_invalid_turns,
            max_parallel_tools: d.max_parallel_tools,
            parallel_tool_calls: d.parallel_tool_calls,
            max_tool_args: d.max_tool_args_bytes,
        }
    }
}

/// Context-window management settings (the `[context]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextSettings {
    /// Ask the model to summarise old turns (otherwise they are only dropped; default true).
    pub summarize: bool,
    /// Summarise when the history uses more than this share of the input budget
    /// (0.0–1.0; default 0.8).
    pub trigger_ratio: f64,
    /// Turns kept verbatim after a summary (default 4).
    pub keep_recent_turns: usize,
    /// Per-output token cap for tool results when the history is too large (default 4000).
    pub tool_output_cap_tokens: u64,
}

impl Default for ContextSettings {
    fn default() -> Self {
        let d = CompactionConfig::default();
        Self {
            summarize: d.summarize,
            trigger_ratio: d.trigger_ratio,
            keep_recent_turns: d.keep_recent_turns,
            tool_output_cap_tokens: d.tool_output_cap,
        }
    }
}

/// An agent. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDef {
    /// The agent's name, shown in events.
    pub name: String,
    /// The system prompt.
    #[serde(default)]
    pub instructions: String,
    /// Which model to call and how (the `[model]` table).
    pub model: ModelSettings,
    /// The tool components (`[[tools]]`), in order.
    #[serde(default)]
    pub tools: Vec<ToolDef>,
    /// The run's limits (the `[budget]` table; default: 20 turns).
    #[serde(default)]
    pub budget: Budget,
    /// The schema the final answer must match, if any (the `[output]` table).
    #[serde(default)]
    pub output: Option<OutputDef>,
    /// Loop settings (the `[run]` table).
    #[serde(default)]
    pub run: RunSettings,
    /// Context-window management (the `[context]` table).
    #[serde(default)]
    pub context: ContextSettings,
    /// The file it was loaded from; relative paths were resolved against its directory.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl AgentDef {
    /// A builder for an agent called `name` using `model` of `provider`.
    pub fn builder(
        name: impl Into<String>,
        provider: Provider,
        model: impl Into<String>,
    ) -> AgentBuilder {
        AgentBuilder::new(name.into(), provider, model.into())
    }

    /// The controller's settings for this agent.
    pub fn loop_config(&self) -> LoopConfig {
        LoopConfig {
            agent_name: self.name.clone(),
            instructions: self.instructions.clone(),
            model: self.model.name.clone(),
            max_tokens: self.model.max_tokens,
            temperature: self.model.temperature,
            options: self.model.options(),
            context_window: self.model.context_window,
            budget: self.budget.clone(),
            price: self.model.price,
            stop_on_tools: self.run.stop_on_tools.clone(),
            max_invalid_turns: self.run.max_invalid_turns,
            output_schema: self.output.as_ref().and_then(|o| o.schema.clone()),
            max_output_retries: self.output.as_ref().map_or(2, |o| o.max_retries),
            max_parallel_tools: self.run.max_parallel_tools,
            parallel_tool_calls: self.run.parallel_tool_calls,
            max_tool_args_bytes: self.run.max_tool_args,
            compaction: CompactionConfig {
                summarize: self.context.summarize,
                trigger_ratio: self.context.trigger_ratio,
                keep_recent_turns: self.context.keep_recent_turns,
                tool_output_cap: self.context.tool_output_cap_tokens,
                ..CompactionConfig::default()
            },
        }
    }
}
