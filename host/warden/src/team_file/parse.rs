//! Reading a multi-agent file and the files it includes, then checking every reference
//! against the agents all of them define. Pure but for reading the files.
//!
//! Invariant: a `TeamDef` returned has an entry, unique agent names, no include cycle, no
//! reference to an undefined agent, and no cycle of agents calling each other as tools or
//! guardrails; each error carries the file, line and key of the mistake.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{AgentToolDef, GuardrailDef, HandoffDef, TeamAgentDef, TeamDef, TeamFileError};
use crate::agent::ToolDef;
use crate::agent::load::{line_col, parse_error};
use crate::agent::{AgentDef, AgentError, ContextSettings, ModelSettings, OutputDef, RunSettings};
use warden_core::budget::Budget;

/// Largest multi-agent file read, in bytes.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most files one definition may span.
const MAX_FILES: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    entry: Option<Spanned<String>>,
    #[serde(default)]
    max_handoffs: Option<u32>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    agents: BTreeMap<String, Spanned<RawAgent>>,
}

/// An agent file's keys, plus the links to other agents.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    instructions: String,
    model: ModelSettings,
    #[serde(default)]
    tools: Vec<ToolDef>,
    #[serde(default)]
    budget: Budget,
    #[serde(default)]
    output: Option<OutputDef>,
    #[serde(default)]
    run: RunSettings,
    #[serde(default)]
    context: ContextSettings,
    #[serde(default)]
    handoffs: Vec<Spanned<HandoffDef>>,
    #[serde(default)]
    agent_tools: Vec<Spanned<AgentToolDef>>,
    #[serde(default)]
    guardrails: Vec<Spanned<GuardrailDef>>,
}

/// Where a key is: its file's name and text, and the key's span.
struct Place<'a> {
    file: &'a str,
    text: &'a str,
}

impl Place<'_> {
    fn error(&self, span: std::ops::Range<usize>, key: String, message: String) -> TeamFileError {
        let (line, column) = line_col(self.text, span.start);
        TeamFileError::At {
            file: self.file.to_owned(),
            line,
            column,
            key,
            message,
        }
    }
}

/// A reference to another agent, with where it is written.
struct Ref {
    target: String,
    /// The callee runs inside the caller (an agent tool or guardrail), so no cycles.
    nested: bool,
    file: String,
    line: usize,
    column: usize,
    key: String,
}

struct Loader {
    agents: BTreeMap<String, (TeamAgentDef, Vec<Ref>)>,
    done: HashSet<PathBuf>,
}

pub(super) fn load(root: &Path) -> Result<TeamDef, TeamFileError> {
    let (text, raw): (String, RawFile) = read(root)?;
    let file = root.display().to_string();
    let place = Place {
        file: &file,
        text: &text,
    };
    let (entry, max_handoffs) = (raw.entry.clone(), raw.max_handoffs);
    let mut loader = Loader {
        agents: BTreeMap::new(),
        done: HashSet::new(),
    };
    loader.visit(root, &text, raw, &mut vec![canonical(root)])?;
    let names = || loader.agents.keys().cloned().collect::<Vec<_>>().join(", ");
    let Some(entry) = entry else {
        return Err(place.error(
            0..0,
            "entry".into(),
            format!(
                "name the agent runs start with, e.g. entry = \"{}\"",
                names()
            ),
        ));
    };
    if !loader.agents.contains_key(entry.get_ref()) {
        return Err(place.error(
            entry.span(),
            "entry".into(),
            format!(
                "no file defines agent `{}` (agents: {}); add [agents.{}] or fix the name",
                entry.get_ref(),
                names(),
                entry.get_ref()
            ),
        ));
    }
    loader.check_refs()?;
    Ok(TeamDef {
        entry: entry.into_inner(),
        max_handoffs,
        agents: (loader.agents.into_iter())
            .map(|(name, (def, _))| (name, def))
            .collect(),
    })
}

/// Reads the single-agent file at `root` and, depth first, every agent file its handoffs,
/// agent tools and guardrails name (by path, relative to the naming file): a team whose
/// entry is `root`'s agent, every reference checked as in a multi-agent file.
pub(super) fn load_agent_file(root: &Path) -> Result<TeamDef, TeamFileError> {
    let mut loader = Loader {
        agents: BTreeMap::new(),
        done: HashSet::new(),
    };
    let entry = loader.agent_file(root, &mut BTreeMap::new())?;
    loader.check_refs()?;
    Ok(TeamDef {
        entry,
        max_handoffs: None,
        agents: (loader.agents.into_iter())
            .map(|(name, (def, _))| (name, def))
            .collect(),
    })
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<(String, T), TeamFileError> {
    let too_big = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FILE_BYTES);
    if too_big {
        return Err(AgentError::Invalid {
            file: path.display().to_string(),
            key: String::new(),
            message: format!("the file is larger than {MAX_FILE_BYTES} bytes"),
        }
        .into());
    }
    let text = std::fs::read_to_string(path).map_err(|source| AgentError::Read {
        path: path.into(),
        source,
    })?;
    let raw =
        toml::from_str(&text).map_err(|e| parse_error(&text, &path.display().to_string(), &e))?;
    Ok((text, raw))
}

impl Loader {
    /// Takes the agents of `raw` (read from `path`), then the files it includes; `stack`
    /// holds the files being included, to name a cycle.
    fn visit(
        &mut self,
        path: &Path,
        text: &str,
        raw: RawFile,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), TeamFileError> {
        let file = path.display().to_string();
        let place = Place { file: &file, text };
        self.done.insert(canonical(path));
        for (name, agent) in raw.agents {
            let span = agent.span();
            if self.agents.contains_key(&name) {
                return Err(place.error(
                    span,
                    format!("agents.{name}"),
                    format!("agent `{name}` is defined twice; give each agent its own name"),
                ));
            }
            let table = Table::Team(&name);
            let (def, refs) = agent_def(&place, path, table, &name, agent.into_inner(), span)?;
            self.agents.insert(name, (def, refs));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        for (i, include) in raw.include.iter().enumerate() {
            let key = format!("include[{i}]");
            let target = dir.join(include.get_ref());
            let resolved = canonical(&target);
            if let Some(start) = stack.iter().position(|p| *p == resolved) {
                let chain: Vec<String> = (stack[start..].iter().chain([&resolved]))
                    .map(|p| p.display().to_string())
                    .collect();
                return Err(place.error(
                    include.span(),
                    key,
                    format!(
                        "files include each other: {}; include each file from one place only",
                        chain.join(" → ")
                    ),
                ));
            }
            if self.done.contains(&resolved) {
                continue;
            }
            if self.done.len() >= MAX_FILES {
                return Err(place.error(
                    include.span(),
                    key,
                    format!("a definition may span at most {MAX_FILES} files"),
                ));
            }
            if !target.is_file() {
                return Err(place.error(
                    include.span(),
                    key,
                    format!("{} does not exist; fix the path", target.display()),
                ));
            }
            let (text, sub): (String, RawFile) = read(&target)?;
            if let Some(entry) = &sub.entry {
                let sub_file = target.display().to_string();
                let sub_place = Place {
                    file: &sub_file,
                    text: &text,
                };
                return Err(sub_place.error(
                    entry.span(),
                    "entry".into(),
                    format!("only the first file names the entry (here: {file}); remove it"),
                ));
            }
            stack.push(resolved);
            self.visit(&target, &text, sub, stack)?;
            stack.pop();
        }
        Ok(())
    }

    /// Takes the agent of the agent file at `path`, then the agent files it refers to;
    /// `files` maps each file taken (canonical) to its agent's name. Gives the name.
    fn agent_file(
        &mut self,
        path: &Path,
        files: &mut BTreeMap<PathBuf, String>,
    ) -> Result<String, TeamFileError> {
        let resolved = canonical(path);
        if let Some(name) = files.get(&resolved) {
            return Ok(name.clone());
        }
        let (text, raw): (String, RawAgent) = read(path)?;
        let file = path.display().to_string();
        let place = Place {
            file: &file,
            text: &text,
        };
        let Some(name) = raw.name.clone() else {
            let message = "add `name = \"...\"`: the agent's name, shown in events";
            return Err(place.error(0..0, "name".into(), message.into()));
        };
        if let Some((other, _)) = files.iter().find(|(_, n)| **n == name) {
            let message = format!(
                "agent file {} is called `{name}` too; give each agent its own name",
                other.display()
            );
            return Err(place.error(0..0, "name".into(), message));
        }
        files.insert(resolved, name.clone());
        let (mut def, mut refs) = agent_def(&place, path, Table::File, &name, raw, 0..0)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for r in &mut refs {
            let target = dir.join(&r.target);
            if !target.is_file() {
                return Err(r.error(format!(
                    "no agent file {}; fix the path (relative to {file})",
                    target.display()
                )));
            }
            if files.len() >= MAX_FILES && !files.contains_key(&canonical(&target)) {
                let limit = format!("a definition may span at most {MAX_FILES} files");
                return Err(r.error(limit));
            }
            let target_name = self.agent_file(&target, files)?;
            rename(&mut def, &r.target, &target_name);
            r.target = target_name;
        }
        self.agents.insert(name.clone(), (def, refs));
        Ok(name)
    }

    /// Every reference names a defined agent; agents nested in each other (as tools or
    /// guardrails) form no cycle.
    fn check_refs(&self) -> Result<(), TeamFileError> {
        let names = || self.agents.keys().cloned().collect::<Vec<_>>().join(", ");
        for (_, refs) in self.agents.values() {
            if let Some(r) = refs.iter().find(|r| !self.agents.contains_key(&r.target)) {
                return Err(r.error(format!(
                    "no file defines agent `{}` (agents: {}); add [agents.{}] or fix the name",
                    r.target,
                    names(),
                    r.target
                )));
            }
        }
        for name in self.agents.keys() {
            self.no_cycle(name, &mut vec![name.clone()])?;
        }
        Ok(())
    }

    fn no_cycle(&self, name: &str, path: &mut Vec<String>) -> Result<(), TeamFileError> {
        let Some((_, refs)) = self.agents.get(name) else {
            return Ok(());
        };
        for r in refs.iter().filter(|r| r.nested) {
            if path.contains(&r.target) {
                let chain = path.join(" → ");
                return Err(r.error(format!(
                    "agents run inside each other in a cycle: {chain} → {}; break the cycle",
                    r.target
                )));
            }
            path.push(r.target.clone());
            self.no_cycle(&r.target, path)?;
            path.pop();
        }
        Ok(())
    }
}

impl Ref {
    fn error(&self, message: String) -> TeamFileError {
        TeamFileError::At {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            key: self.key.clone(),
            message,
        }
    }
}

/// Where an agent's keys are written.
#[derive(Clone, Copy)]
enum Table<'a> {
    /// Under `[agents.<name>]` of a multi-agent file.
    Team(&'a str),
    /// At the top of a single-agent file.
    File,
}

impl Table<'_> {
    /// The full name of the agent's key `key`.
    fn key(self, key: &str) -> String {
        match self {
            Table::Team(name) => format!("agents.{name}.{key}"),
            Table::File => key.to_owned(),
        }
    }
}

/// The definition of agent `name` (written at `table`) and its references to others.
fn agent_def(
    place: &Place<'_>,
    path: &Path,
    table: Table<'_>,
    name: &str,
    raw: RawAgent,
    span: std::ops::Range<usize>,
) -> Result<(TeamAgentDef, Vec<Ref>), TeamFileError> {
    let at = |span: std::ops::Range<usize>, key: String, target: &str, nested: bool| {
        let (line, column) = line_col(place.text, span.start);
        Ref {
            target: target.to_owned(),
            nested,
            file: place.file.to_owned(),
            line,
            column,
            key,
        }
    };
    if let Table::Team(_) = table
        && let Some(given) = raw.name.as_ref().filter(|n| *n != name)
    {
        return Err(place.error(
            span,
            format!("agents.{name}.name"),
            format!("the agent is called `{name}` by its table; remove `name = \"{given}\"`"),
        ));
    }
    let mut refs = Vec::new();
    for (i, h) in raw.handoffs.iter().enumerate() {
        let key = table.key(&format!("handoffs[{i}].agent"));
        refs.push(at(h.span(), key, &h.get_ref().agent, false));
    }
    for (i, t) in raw.agent_tools.iter().enumerate() {
        let key = table.key(&format!("agent_tools[{i}].agent"));
        refs.push(at(t.span(), key, &t.get_ref().agent, true));
    }
    let mut guardrails = Vec::new();
    for (i, g) in raw.guardrails.into_iter().enumerate() {
        let key = table.key(&format!("guardrails[{i}]"));
        let (span, mut def) = (g.span(), g.into_inner());
        match (&def.agent, &def.component, &def.tool) {
            (Some(agent), None, None) => refs.push(at(span, format!("{key}.agent"), agent, true)),
            (None, Some(_), Some(_)) => {}
            (None, Some(_), None) => {
                let message = "a component guardrail names the tool to call: add `tool`";
                return Err(place.error(span, format!("{key}.tool"), message.into()));
            }
            _ => {
                let message = "a guardrail is either `agent = \"<name>\"` or \
                               `component = \"...\"` with `tool = \"...\"`";
                return Err(place.error(span, key, message.into()));
            }
        }
        if let Some(component) = &def.component
            && crate::builtin::name_of(component).is_none()
        {
            def.component = Some(path.parent().unwrap_or(Path::new(".")).join(component));
        }
        guardrails.push(def);
    }
    let mut def = AgentDef {
        name: name.to_owned(),
        instructions: raw.instructions,
        model: raw.model,
        tools: raw.tools,
        budget: raw.budget,
        output: raw.output,
        run: raw.run,
        context: raw.context,
        source: None,
    };
    let file = place.file;
    let under = |e: AgentError| match table {
        Table::Team(name) => super::under_agent(e, name),
        Table::File => e,
    };
    def.validate(file).map_err(under)?;
    def.resolve_paths(path, file).map_err(under)?;
    def.source = Some(path.to_path_buf());
    let agent = TeamAgentDef {
        def,
        handoffs: raw.handoffs.into_iter().map(Spanned::into_inner).collect(),
        agent_tools: raw
            .agent_tools
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        guardrails,
        file: path.to_path_buf(),
    };
    Ok((agent, refs))
}

/// Points `def`'s references written as `written` (an agent file's path) at agent `name`.
fn rename(def: &mut TeamAgentDef, written: &str, name: &str) {
    let names = (def.handoffs.iter_mut().map(|h| &mut h.agent))
        .chain(def.agent_tools.iter_mut().map(|t| &mut t.agent))
        .chain(def.guardrails.iter_mut().filter_map(|g| g.agent.as_mut()));
    for target in names.filter(|t| *t == written) {
        *target = name.to_owned();
    }
}
