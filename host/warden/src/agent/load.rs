//! Loading an agent file: TOML parsing with located errors, value checks, path resolution
//! and the separate filesystem checks.
//!
//! Invariant: every error names the file and the key (and line and column when the TOML
//! parser knows them), and says what to do.

use std::path::{Path, PathBuf};

use super::{AgentDef, PolicyRef, Provider};
use warden_llm::OptionsError;

/// What is wrong with an agent definition. `file` names the agent file, `key` the key at
/// fault (`model.base_url`, `tools[0].component`, ...).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The agent file cannot be read.
    #[error("cannot read agent file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// TOML syntax error, unknown key, missing key or wrong type.
    #[error("{file}:{line}:{column}: {message}{}", key.as_ref().map(|k| format!(" (at `{k}`)")).unwrap_or_default())]
    Parse {
        /// The agent file.
        file: String,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1, in characters.
        column: usize,
        /// The text at the error when it is key-sized (a misspelt key), else `None`.
        key: Option<String>,
        /// The TOML parser's message, with a hint where one helps.
        message: String,
    },
    /// A value that parses but cannot work.
    #[error("{file}: `{key}`: {message}")]
    Invalid {
        /// The agent file.
        file: String,
        /// The key at fault.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A model setting the provider cannot take (`[model]` `top_p`, `seed`, `stop`...).
    #[error("{file}: `model.{}`: {source}", source.setting())]
    ModelOption {
        /// The agent file.
        file: String,
        /// Which setting, and why the provider cannot take it.
        source: OptionsError,
    },
    /// A file the agent refers to is missing.
    #[error("{file}: `{key}`: {} does not exist; {hint}", path.display())]
    MissingFile {
        /// The agent file.
        file: String,
        /// The key naming the missing file.
        key: String,
        /// The missing file, resolved.
        path: PathBuf,
        /// What to do about it.
        hint: &'static str,
    },
}

/// The located error for a TOML parse failure of `text` (file `file`): line, column, the
/// key-sized text at the error.
pub(crate) fn parse_error(text: &str, file: &str, e: &toml::de::Error) -> AgentError {
    let (line, column, key) = match e.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            let snippet = text.get(span.clone()).unwrap_or("").trim();
            // A key-sized span (unknown or misspelt key) is worth quoting.
            let key = (!snippet.is_empty() && snippet.len() <= 64 && !snippet.contains('\n'))
                .then(|| snippet.to_string());
            (line, column, key)
        }
        None => (1, 1, None),
    };
    let mut message = e.message().trim().to_string();
    if message.contains("missing field `model`") {
        message.push_str("; add a [model] table with `provider` and `name`");
    }
    if ["`handoffs`", "`agent_tools`", "`guardrails`"]
        .iter()
        .any(|k| message.contains(&format!("unknown field {k}")))
    {
        message.push_str(
            "; an agent file that names other agents or guardrails loads with \
             `Runner::from_file` (or `TeamDef::load_agent_file`)",
        );
    }
    AgentError::Parse {
        file: file.to_string(),
        line,
        column,
        key,
        message,
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl AgentDef {
    /// Parses an agent from TOML text; `file` names it in errors. Relative paths are kept
    /// as written. Pure: no filesystem access.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Self, AgentError> {
        let agent: AgentDef = toml::from_str(text).map_err(|e| parse_error(text, file, &e))?;
        agent.validate(file)?;
        Ok(agent)
    }

    /// Reads and parses the agent file at `path`, resolves relative paths (components,
    /// policy files, schema file) against its directory and reads `output.schema_file`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, AgentError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| AgentError::Read {
            path: path.into(),
            source,
        })?;
        let file = path.display().to_string();
        let mut agent = Self::from_toml_str(&text, &file)?;
        agent.resolve_paths(path, &file)?;
        agent.source = Some(path.to_path_buf());
        Ok(agent)
    }

    /// Resolves the relative paths of a definition read from `path` (components, policy
    /// files) against its directory and reads `output.schema_file` into `output.schema`.
    pub(crate) fn resolve_paths(&mut self, path: &Path, file: &str) -> Result<(), AgentError> {
        let agent = self;
        let file = file.to_owned();
        let base = path.parent().unwrap_or(Path::new("."));
        for tool in &mut agent.tools {
            if tool.pack.is_none() && crate::builtin::name_of(&tool.component).is_none() {
                tool.component = base.join(&tool.component);
            }
            if let Some(PolicyRef::File(p)) = &mut tool.policy {
                *p = base.join(&*p);
            }
        }
        if let Some(output) = &mut agent.output
            && let Some(schema_file) = &output.schema_file
        {
            let schema_path = base.join(schema_file);
            let text =
                std::fs::read_to_string(&schema_path).map_err(|_| AgentError::MissingFile {
                    file: file.clone(),
                    key: "output.schema_file".into(),
                    path: schema_path.clone(),
                    hint: "write the JSON Schema there or fix the path",
                })?;
            let schema = serde_json::from_str(&text).map_err(|e| AgentError::Invalid {
                file: file.clone(),
                key: "output.schema_file".into(),
                message: format!("{} is not valid JSON: {e}", schema_path.display()),
            })?;
            // The schema is now inline; the file has done its job.
            output.schema = Some(schema);
            output.schema_file = None;
        }
        Ok(())
    }

    /// Checks values that parse but cannot work; `file` names the agent in errors.
    pub fn validate(&self, file: &str) -> Result<(), AgentError> {
        let invalid = |key: &str, message: &str| {
            Err(AgentError::Invalid {
                file: file.into(),
                key: key.into(),
                message: message.into(),
            })
        };
        if self.name.trim().is_empty() {
            return invalid("name", "the agent needs a name");
        }
        if self.model.name.trim().is_empty() {
            return invalid("model.name", "set the model name, e.g. \"gpt-4o-mini\"");
        }
        if self.model.max_tokens == 0 {
            return invalid("model.max_tokens", "must be at least 1");
        }
        if let Some(t) = self.model.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return invalid("model.temperature", "must be between 0 and 2");
        }
        self.check_model_options(file)?;
        if self.model.provider == Provider::OpenAiCompatible && self.model.base_url.is_none() {
            return invalid(
                "model.base_url",
                "an openai-compatible provider needs a base_url, e.g. \"http://127.0.0.1:11434/v1\"",
            );
        }
        if let Some(url) = &self.model.base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("model.base_url", "must start with http:// or https://");
        }
        if !(self.budget.warn_at > 0.0 && self.budget.warn_at <= 1.0) {
            return invalid(
                "budget.warn_at",
                "must be a share between 0 and 1, e.g. 0.8",
            );
        }
        if self.budget.max_cost_usd.is_some_and(|c| c < 0.0)
            || self.budget.max_wall_time_secs.is_some_and(|s| s <= 0.0)
        {
            return invalid("budget", "limits must be positive");
        }
        if self.run.max_parallel_tools == 0 {
            return invalid("run.max_parallel_tools", "must be at least 1");
        }
        if self.run.max_tool_args < 2 {
            return invalid(
                "run.max_tool_args",
                "must be at least 2 bytes (\"{}\"); the default is \"1MiB\"",
            );
        }
        if !(self.context.trigger_ratio > 0.0 && self.context.trigger_ratio <= 1.0) {
            return invalid(
                "context.trigger_ratio",
                "must be a share between 0 and 1, e.g. 0.8",
            );
        }
        if let Some(output) = &self.output {
            match (&output.schema, &output.schema_file) {
                (None, None) => return invalid("output", "set `schema` (inline) or `schema_file`"),
                (Some(_), Some(_)) => {
                    return invalid("output", "set either `schema` or `schema_file`, not both");
                }
                _ => {}
            }
        }
        for (i, tool) in self.tools.iter().enumerate() {
            if let Some(spec) = &tool.pack {
                let key = format!("tools[{i}]");
                if !tool.component.as_os_str().is_empty() || tool.policy.is_some() {
                    return invalid(
                        &key,
                        "a `pack` brings its own components and the operator's grant: remove \
                         `component` and `policy` (use `narrow` to take permissions away)",
                    );
                }
                if let Err(e) = warden_pack::parse_spec(spec) {
                    return invalid(&format!("{key}.pack"), &e.to_string());
                }
                continue;
            }
            if tool.narrow.is_some() {
                return invalid(
                    &format!("tools[{i}].narrow"),
                    "`narrow` only applies to a `pack`",
                );
            }
            if tool.component.as_os_str().is_empty() {
                return invalid(
                    &format!("tools[{i}].component"),
                    "set the path of the tool's .wasm component, or `builtin:<name>`",
                );
            }
            if let Some(name) = crate::builtin::name_of(&tool.component)
                && crate::builtin::bytes(name).is_none()
            {
                return invalid(
                    &format!("tools[{i}].component"),
                    &crate::builtin::unknown(name).to_string(),
                );
            }
        }
        Ok(())
    }

    /// The provider's checks of the optional model settings, and thinking without tools
    /// (see [`warden_llm::THINKING_WITH_TOOLS`]).
    fn check_model_options(&self, file: &str) -> Result<(), AgentError> {
        let m = &self.model;
        let options = m.options();
        let mut result =
            warden_llm::check_options(&options, m.provider_kind(), m.max_tokens, m.temperature);
        if result.is_ok() && options.thinking_budget.is_some() && !self.tools.is_empty() {
            result = Err(OptionsError::ThinkingConflict {
                with: "tools",
                why: warden_llm::THINKING_WITH_TOOLS,
            });
        }
        result.map_err(|source| AgentError::ModelOption {
            file: file.into(),
            source,
        })
    }

    /// Checks the files the agent refers to: every component and policy file exists.
    /// (Whether a component loads and a policy's grants exist is the executor's check.)
    pub fn check_files(&self) -> Result<(), AgentError> {
        let file = self
            .source
            .as_ref()
            .map_or_else(|| "agent".into(), |p| p.display().to_string());
        for (i, tool) in self.tools.iter().enumerate() {
            if tool.pack.is_none()
                && crate::builtin::name_of(&tool.component).is_none()
                && !tool.component.is_file()
            {
                return Err(AgentError::MissingFile {
                    file,
                    key: format!("tools[{i}].component"),
                    path: tool.component.clone(),
                    hint: "build the tool (cargo build) or fix the path, relative to the agent file",
                });
            }
            if let Some(PolicyRef::File(policy)) = &tool.policy
                && !policy.is_file()
            {
                return Err(AgentError::MissingFile {
                    file,
                    key: format!("tools[{i}].policy"),
                    path: policy.clone(),
                    hint: "write the policy file or fix the path, relative to the agent file",
                });
            }
        }
        Ok(())
    }
}
