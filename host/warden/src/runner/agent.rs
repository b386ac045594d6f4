//! [`Agent`]: an agent ready to run — its loop settings, the tool catalog the controller
//! sees, and for each tool the loaded component and the sandbox policy its calls run under.
//!
//! Invariant: every catalog entry has exactly one binding (component + policy), tool names
//! are unique, every policy has passed `ToolPolicy::validate`, and the settings have been
//! accepted by a dry-run `Controller::new`, so a run can only fail for run-time reasons.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::error::{RunError, SetupError};
use crate::agent::{AgentDef, Approval, PolicyRef};
use crate::guardrail::{Guardrail, Guardrails};
use crate::multi::HostBinding;
use warden_core::controller::{Controller, ControllerSnapshot, LoopConfig, Schemas};
use warden_core::tool::ToolCatalogEntry;
use warden_llm::Model;
use warden_sandbox::{ApprovalSetting, Executor, PolicyFile, ToolPolicy, ToolSet};
use warden_store::{AgentSummary, agent_digest};

/// Where a tool's calls run: its component and its policy.
#[derive(Clone)]
pub(super) struct Binding {
    pub(super) set: Arc<ToolSet>,
    pub(super) policy: Arc<ToolPolicy>,
    /// A call may be run again after a crash (the tool deduplicates or has no effects).
    pub(super) idempotent: bool,
    /// When a call needs a person's approval.
    pub(super) approval: Approval,
}

/// An agent ready to run. Cheap to clone.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    config: LoopConfig,
    catalog: Vec<ToolCatalogEntry>,
    bindings: HashMap<String, Binding>,
    /// Compiled on first use and shared by every run; emptied when tools or config change.
    schemas: OnceLock<Schemas>,
    /// The agent file it was loaded from, if any (kept with its durable runs).
    source: Option<std::path::PathBuf>,
    /// Checks on the input, the output and each tool call (see `crate::guardrail`).
    guardrails: Guardrails,
    /// Tools the host runs itself (trusted functions, agents as tools, handoffs).
    host: HashMap<String, HostBinding>,
    /// The model this agent talks to when it is not the runner's (see `Agent::with_model`).
    model: Option<Arc<dyn Model>>,
}

impl Agent {
    /// An agent with `config` and no tools yet (add them with [`Agent::with_tools`]).
    pub fn new(config: LoopConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                catalog: Vec::new(),
                bindings: HashMap::new(),
                schemas: OnceLock::new(),
                source: None,
                guardrails: Guardrails::default(),
                host: HashMap::new(),
                model: None,
            }),
        }
    }

    /// Adds every tool of `set` (concurrent, errors to the model), calls running under
    /// `policy`. Fails if a tool name is taken or the policy is invalid.
    pub fn with_tools(self, set: Arc<ToolSet>, policy: ToolPolicy) -> Result<Self, SetupError> {
        let entries: Vec<ToolCatalogEntry> = set
            .tools()
            .iter()
            .map(|t| ToolCatalogEntry::new(&t.name, &t.description, t.args_schema.clone()))
            .collect();
        let policy = Arc::new(policy);
        entries.into_iter().try_fold(self, |agent, entry| {
            agent.with_tool(entry, set.clone(), policy.clone())
        })
    }

    /// Adds one tool: how the controller sees it (`entry`: sequential flag, error policy),
    /// and the component and policy its calls run with.
    pub fn with_tool(
        mut self,
        entry: ToolCatalogEntry,
        set: Arc<ToolSet>,
        policy: Arc<ToolPolicy>,
    ) -> Result<Self, SetupError> {
        let file = self.inner.config.agent_name.clone();
        policy
            .validate(&format!("tools.{}", entry.name))
            .map_err(|source| SetupError::Policy {
                file: file.clone(),
                key: format!("tools.{}", entry.name),
                source: Box::new(source),
            })?;
        if self.has_tool(&entry.name) {
            return Err(SetupError::DuplicateTool {
                file,
                name: entry.name.clone(),
                first: "an earlier tool".into(),
                second: set.digest().into(),
            });
        }
        let inner = Arc::make_mut(&mut self.inner);
        inner.bindings.insert(
            entry.name.clone(),
            Binding {
                set,
                policy,
                idempotent: false,
                approval: Approval::Never,
            },
        );
        inner.catalog.push(entry);
        inner.schemas = OnceLock::new();
        Ok(self)
    }

    /// Loads an agent definition: each component with `executor` (validated), each tool's
    /// policy (file or inline table, `[defaults]` plus `[tools.<name>]`), the per-tool
    /// settings. Fails on the first problem with a message naming the file and key.
    pub async fn load(def: &AgentDef, executor: &Executor) -> Result<Agent, SetupError> {
        let file = def
            .source
            .as_ref()
            .map_or_else(|| def.name.clone(), |p| p.display().to_string());
        def.check_files()
            .map_err(|e| SetupError::Agent(Box::new(e)))?;
        // The agent file's folder; `None` for a definition built in Rust (paths stay as given).
        let base = def
            .source
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);
        let mut inner = Inner {
            config: def.loop_config(),
            catalog: Vec::new(),
            bindings: HashMap::new(),
            schemas: OnceLock::new(),
            source: (def.source.as_ref())
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
            guardrails: Guardrails::default(),
            host: HashMap::new(),
            model: None,
        };
        let mut owner: HashMap<String, String> = HashMap::new();
        for (i, tool) in def.tools.iter().enumerate() {
            let key = format!("tools[{i}]");
            let policy_err = |source| SetupError::Policy {
                file: file.clone(),
                key: format!("{key}.policy"),
                source: Box::new(source),
            };
            let (sets, policies) = match &tool.pack {
                Some(spec) => {
                    let (sets, policy) = load_pack(executor, spec, tool.narrow.as_ref())
                        .await
                        .map_err(|source| SetupError::Pack {
                            file: file.clone(),
                            key: format!("{key}.pack"),
                            source: Box::new(source),
                        })?;
                    (sets, Policies::Granted(policy))
                }
                None => {
                    let set = crate::builtin::load(executor, &tool.component)
                        .await
                        .map_err(|source| SetupError::Load {
                            file: file.clone(),
                            key: format!("{key}.component"),
                            path: tool.component.clone(),
                            source: Box::new(source),
                        })?;
                    let policies = match &tool.policy {
                        None => PolicyFile::default(),
                        Some(PolicyRef::File(path)) => {
                            PolicyFile::load(path).map_err(policy_err)?
                        }
                        // Relative grants in an inline policy are relative to the agent file,
                        // as they would be in a policy file next to it, not to the current
                        // directory.
                        Some(PolicyRef::Inline(table)) => match &base {
                            Some(dir) => PolicyFile::from_toml_in(&table.to_string(), dir),
                            None => PolicyFile::from_toml(&table.to_string()),
                        }
                        .map_err(policy_err)?,
                    };
                    (vec![set], Policies::File(policies))
                }
            };
            let names: Vec<&str> = sets
                .iter()
                .flat_map(|s| s.tools())
                .map(|t| t.name.as_str())
                .collect();
            if let Some(unknown) = tool.tools.keys().find(|n| !names.contains(&n.as_str())) {
                return Err(SetupError::UnknownToolSetting {
                    file,
                    key: format!("{key}.tools.{unknown}"),
                    name: unknown.clone(),
                    available: names.join(", "),
                });
            }
            for (set, info) in sets
                .iter()
                .flat_map(|set| set.tools().iter().map(move |info| (set, info)))
            {
                let component = match &tool.pack {
                    Some(spec) => format!("pack {spec}"),
                    None => tool.component.display().to_string(),
                };
                if let Some(first) = owner.insert(info.name.clone(), component.clone()) {
                    return Err(SetupError::DuplicateTool {
                        file,
                        name: info.name.clone(),
                        first,
                        second: component,
                    });
                }
                let (policy, asked) = match &policies {
                    Policies::File(p) => (
                        p.policy_for(&info.name).map_err(policy_err)?,
                        p.approval_for(&info.name),
                    ),
                    Policies::Granted(p) => (p.clone(), None),
                };
                policy
                    .validate(&format!("tools.{}", info.name))
                    .map_err(policy_err)?;
                let (sequential, error_policy) = tool.settings_for(&info.name);
                inner.catalog.push(ToolCatalogEntry {
                    name: info.name.clone(),
                    description: info.description.clone(),
                    args_schema: info.args_schema.clone(),
                    sequential,
                    error_policy,
                });
                inner.bindings.insert(
                    info.name.clone(),
                    Binding {
                        set: Arc::clone(set),
                        policy: Arc::new(policy),
                        idempotent: tool.idempotent_for(&info.name),
                        approval: stricter(tool.approval_for(&info.name), asked),
                    },
                );
            }
        }
        // Schemas compile and stop tools exist, or the agent never starts.
        let schemas = Schemas::compile(&inner.config, inner.catalog.clone()).map_err(|source| {
            SetupError::Loop {
                file,
                source: Box::new(source),
            }
        })?;
        inner.schemas = OnceLock::from(schemas);
        Ok(Agent {
            inner: Arc::new(inner),
        })
    }

    /// The loop settings.
    pub fn config(&self) -> &LoopConfig {
        &self.inner.config
    }

    /// Changes the loop settings (budgets, instructions...) of this agent.
    pub fn with_config(mut self, config: LoopConfig) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        // The compiled schemas depend on the tools, the stop tools and the output schema
        // only: a budget cap (every run and nested call sets one) keeps them.
        if inner.config.stop_on_tools != config.stop_on_tools
            || inner.config.output_schema != config.output_schema
        {
            inner.schemas = OnceLock::new();
        }
        inner.config = config;
        self
    }

    /// The tools offered to the model.
    pub fn tools(&self) -> &[ToolCatalogEntry] {
        &self.inner.catalog
    }

    pub(super) fn binding(&self, tool: &str) -> Option<&Binding> {
        self.inner.bindings.get(tool)
    }

    fn has_tool(&self, name: &str) -> bool {
        self.inner.bindings.contains_key(name) || self.inner.host.contains_key(name)
    }

    /// Adds a tool the host runs itself (see `crate::multi`): its catalog entry and what
    /// runs its calls. Fails if the name is taken or its schema does not compile.
    pub(crate) fn with_host_binding(
        mut self,
        entry: ToolCatalogEntry,
        binding: HostBinding,
    ) -> Result<Self, SetupError> {
        let file = self.inner.config.agent_name.clone();
        if self.has_tool(&entry.name) {
            return Err(SetupError::DuplicateTool {
                file,
                name: entry.name.clone(),
                first: "an earlier tool".into(),
                second: binding.kind().into(),
            });
        }
        let inner = Arc::make_mut(&mut self.inner);
        let mut catalog = inner.catalog.clone();
        catalog.push(entry.clone());
        // A schema that does not compile is refused here, not at the first run.
        Schemas::compile(&inner.config, catalog).map_err(|source| SetupError::Loop {
            file,
            source: Box::new(source),
        })?;
        inner.host.insert(entry.name.clone(), binding);
        inner.catalog.push(entry);
        inner.schemas = OnceLock::new();
        Ok(self)
    }

    /// What runs `tool`'s calls when the host runs them itself.
    pub(crate) fn host_binding(&self, tool: &str) -> Option<&HostBinding> {
        self.inner.host.get(tool)
    }

    /// Every tool the host runs itself, by name.
    pub(crate) fn host_bindings(&self) -> impl Iterator<Item = (&String, &HostBinding)> {
        self.inner.host.iter()
    }

    /// Whether `tool` is a trusted host function (runs unsandboxed in this process).
    pub fn is_trusted(&self, tool: &str) -> bool {
        matches!(self.host_binding(tool), Some(HostBinding::Function(_)))
    }

    /// This agent talking to `model` instead of the runner's (another provider is fine):
    /// how an agent of a multi-agent run gets a model of its own.
    pub fn with_model(mut self, model: Arc<dyn Model>) -> Self {
        Arc::make_mut(&mut self.inner).model = Some(model);
        self
    }

    /// The model this agent talks to, when it has one of its own.
    pub fn model(&self) -> Option<&Arc<dyn Model>> {
        self.inner.model.as_ref()
    }

    /// The agent's name (its loop settings' `agent_name`).
    pub fn name(&self) -> &str {
        &self.inner.config.agent_name
    }

    /// A controller for a new run of this agent starting with `input`.
    pub(crate) fn controller(&self, input: String) -> Result<Controller, RunError> {
        Ok(Controller::with_schemas(
            self.inner.config.clone(),
            self.schemas()?,
            input,
        ))
    }

    /// Names where this agent comes from (kept with its durable runs, as a loaded agent
    /// file's path is): e.g. `builtin:demo` for an agent built in code.
    pub fn with_source(mut self, source: impl Into<std::path::PathBuf>) -> Self {
        Arc::make_mut(&mut self.inner).source = Some(source.into());
        self
    }

    /// A controller for a new run of this agent on `input`, for a driver of your own (a
    /// replay against recorded tool results, a test): the Runner's loop without its IO.
    pub fn new_controller(&self, input: impl Into<String>) -> Result<Controller, RunError> {
        self.controller(input.into())
    }

    /// A controller continuing `snapshot` (e.g. a stored run's) with this agent's settings:
    /// what a resume does before its next model call.
    pub fn restore(&self, snapshot: ControllerSnapshot) -> Result<Controller, RunError> {
        Ok(Controller::restore(
            self.inner.config.clone(),
            self.schemas()?,
            snapshot,
        ))
    }

    /// Whether the schemas are compiled and kept (for tests of when they are dropped).
    #[cfg(test)]
    pub(crate) fn schemas_compiled(&self) -> bool {
        self.inner.schemas.get().is_some()
    }

    /// Whether `self` and `other` share one definition (a clone, not a changed copy).
    #[cfg(test)]
    pub(crate) fn same_definition(&self, other: &Agent) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn schemas(&self) -> Result<&Schemas, RunError> {
        let inner = &self.inner;
        Ok(match inner.schemas.get() {
            Some(schemas) => schemas,
            None => {
                let compiled = Schemas::compile(&inner.config, inner.catalog.clone())?;
                inner.schemas.get_or_init(|| compiled)
            }
        })
    }

    /// Checks the user's input with `guardrail` (at the same time as the first model call,
    /// or before it: [`Guardrail::before_model`]); a trip ends the run.
    pub fn with_input_guardrail(mut self, guardrail: Guardrail) -> Self {
        Arc::make_mut(&mut self.inner)
            .guardrails
            .input
            .push(guardrail);
        self
    }

    /// Checks the final output (an answer or a stop tool's output) with `guardrail`; a trip
    /// ends the run without output.
    pub fn with_output_guardrail(mut self, guardrail: Guardrail) -> Self {
        Arc::make_mut(&mut self.inner)
            .guardrails
            .output
            .push(guardrail);
        self
    }

    /// Checks each tool call with `guardrail` before it runs; a trip vetoes that call (the
    /// model is told why, as the call's result) and the run goes on.
    pub fn with_tool_guardrail(mut self, guardrail: Guardrail) -> Self {
        Arc::make_mut(&mut self.inner)
            .guardrails
            .tool_call
            .push(guardrail);
        self
    }

    /// This agent's guardrails.
    pub(crate) fn guardrails(&self) -> &Guardrails {
        &self.inner.guardrails
    }

    /// Requires a person's approval before `tool`'s calls (see [`Approval`]).
    pub fn with_approval(mut self, tool: &str, approval: Approval) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        if let Some(binding) = inner.bindings.get_mut(tool) {
            binding.approval = approval;
        }
        self
    }

    /// When `tool`'s calls need approval.
    pub fn approval(&self, tool: &str) -> Approval {
        self.binding(tool).map_or(Approval::Never, |b| b.approval)
    }

    /// Whether `tool`'s calls may run again after a crash (`idempotent = true`).
    pub fn is_idempotent(&self, tool: &str) -> bool {
        self.binding(tool).is_some_and(|b| b.idempotent)
    }

    /// What a store keeps of this agent to compare on resume: its name, tool names,
    /// budget, and a digest of its settings, tool catalog, components and policies.
    pub fn summary(&self) -> AgentSummary {
        let inner = &self.inner;
        let config = format!("{:?}", inner.config);
        let catalog = serde_json::to_vec(&inner.catalog).unwrap_or_default();
        let mut bindings: Vec<(&String, &Binding)> = inner.bindings.iter().collect();
        bindings.sort_by(|a, b| a.0.cmp(b.0));
        let bindings: Vec<String> = (bindings.into_iter())
            .map(|(name, b)| {
                let (digest, policy) = (b.set.digest(), &b.policy);
                format!(
                    "{name} {digest} {} {:?} {policy:?}",
                    b.idempotent, b.approval
                )
            })
            .collect();
        let guardrails = inner.guardrails.fingerprints();
        let parts = [config.as_bytes(), &catalog]
            .into_iter()
            .chain(bindings.iter().map(String::as_bytes))
            .chain(guardrails.iter().map(String::as_bytes));
        let mut tools: Vec<String> = inner.catalog.iter().map(|e| e.name.clone()).collect();
        tools.sort();
        AgentSummary {
            digest: agent_digest(parts),
            name: inner.config.agent_name.clone(),
            tools,
            budget: inner.config.budget.clone(),
            file: (inner.source.as_ref()).map(|p| p.display().to_string()),
            guardrails: inner.guardrails.names(),
        }
    }
}

/// Where the policies of one `[[tools]]` entry come from.
enum Policies {
    /// The operator's policy file or inline table (`[defaults]` plus `[tools.<name>]`).
    File(PolicyFile),
    /// An installed pack's grant, narrowed by the agent file: one policy for all its tools.
    Granted(ToolPolicy),
}

/// The stricter of the agent file's approval and the policy file's: an operator's policy
/// can require approval that the agent file does not ask for, and the agent file cannot
/// lower it.
fn stricter(agent: Approval, policy: Option<ApprovalSetting>) -> Approval {
    let rank = |a: Approval| match a {
        Approval::Always => 2,
        Approval::First => 1,
        _ => 0,
    };
    let asked = match policy {
        Some(ApprovalSetting::Always) => Approval::Always,
        Some(ApprovalSetting::First) => Approval::First,
        _ => Approval::Never,
    };
    if rank(asked) > rank(agent) {
        asked
    } else {
        agent
    }
}

/// Loads installed pack `spec` (re-verified: signature, digests, grant), its components with
/// `executor`, and the policy of its grant narrowed by `narrow`. State comes from
/// `WARDEN_CONFIG_DIR` / `WARDEN_DATA_DIR` (see [`warden_pack::Dirs::from_env`]). Agent
/// files' `pack = "…"` entries and `warden mcp serve --pack` both load packs through this.
pub async fn load_pack(
    executor: &Executor,
    spec: &str,
    narrow: Option<&warden_pack::Narrowing>,
) -> Result<(Vec<Arc<ToolSet>>, ToolPolicy), warden_pack::PackError> {
    let store = warden_pack::Store::new(warden_pack::Dirs::from_env()?);
    let loaded = store.load(spec)?;
    let policy = loaded.policy(narrow.unwrap_or(&warden_pack::Narrowing::default()))?;
    let mut sets = Vec::new();
    for c in &loaded.files.manifest.components {
        let bytes = loaded
            .files
            .components
            .get(&c.file)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let set = executor.load_bytes(bytes).await.map_err(|e| {
            warden_pack::PackError::ComponentLoad {
                file: c.file.clone(),
                message: e.to_string(),
            }
        })?;
        sets.push(set);
    }
    Ok((sets, policy))
}
