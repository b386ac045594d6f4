//! Single-agent files that name other agents by file: handoffs, agent tools and guardrails
//! load as a team, with every mistake located like a multi-agent file's.

use std::path::{Path, PathBuf};

use super::*;

const MODEL: &str = "model = { provider = \"openai\", name = \"gpt-4o-mini\" }";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// An agent file called `name` with `links` (TOML lines).
fn agent(dir: &Path, file: &str, name: &str, links: &str) -> PathBuf {
    write(dir, file, &format!("name = \"{name}\"\n{MODEL}\n{links}\n"))
}

fn error(path: &Path) -> String {
    TeamDef::load_agent_file(path).unwrap_err().to_string()
}

#[test]
fn a_handoff_names_an_agent_file_and_the_team_follows_it_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let root = agent(
        dir.path(),
        "triage.toml",
        "triage",
        "handoffs = [{ agent = \"desk/billing.toml\", description = \"Refunds\", filter = \"summary\" }]",
    );
    // Paths are relative to the file naming them: billing hands back from its folder.
    std::fs::create_dir(dir.path().join("desk")).unwrap();
    let back = "handoffs = [{ agent = \"../triage.toml\", description = \"Other\" }]";
    agent(&dir.path().join("desk"), "billing.toml", "billing", back);
    let def = TeamDef::load_agent_file(&root).unwrap();
    assert_eq!(def.entry, "triage");
    let triage = &def.agents["triage"];
    assert_eq!(triage.handoffs[0].agent, "billing");
    assert_eq!(triage.handoffs[0].filter, FilterDef::Summary);
    assert_eq!(def.agents["billing"].handoffs[0].agent, "triage");
    assert_eq!(def.agents.len(), 2);
}

#[test]
fn an_agent_tool_names_an_agent_file_and_takes_its_agents_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = agent(
        dir.path(),
        "lead.toml",
        "lead",
        "agent_tools = [{ agent = \"researcher.toml\", description = \"Looks up\" }]",
    );
    agent(dir.path(), "researcher.toml", "researcher", "");
    let def = TeamDef::load_agent_file(&root).unwrap();
    let tool = &def.agents["lead"].agent_tools[0];
    assert_eq!(
        (tool.agent.as_str(), tool.name.as_deref()),
        ("researcher", None)
    );
    assert!(def.agents.contains_key("researcher"));
}

#[test]
fn guardrails_name_an_agent_file_or_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let root = agent(
        dir.path(),
        "lead.toml",
        "lead",
        "guardrails = [\n  { stage = \"input\", agent = \"judge.toml\", before_model = true },\n  { stage = \"output\", component = \"builtin:text\", tool = \"json_query\", text_arg = \"document\", args = { query = \"$\" } },\n]",
    );
    agent(dir.path(), "judge.toml", "judge", "");
    let def = TeamDef::load_agent_file(&root).unwrap();
    let guardrails = &def.agents["lead"].guardrails;
    assert_eq!(guardrails[0].agent.as_deref(), Some("judge"));
    assert!(guardrails[0].before_model);
    assert_eq!(guardrails[1].tool.as_deref(), Some("json_query"));
    assert!(def.agents.contains_key("judge"));
}

#[test]
fn a_handoff_to_an_agent_file_that_does_not_exist_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = agent(
        dir.path(),
        "triage.toml",
        "triage",
        "handoffs = [\n  { agent = \"billing.toml\", description = \"Refunds\" },\n]",
    );
    let err = error(&root);
    assert!(err.contains("triage.toml:4:"), "{err}");
    assert!(err.contains("`handoffs[0].agent`"), "{err}");
    assert!(err.contains("no agent file"), "{err}");
    assert!(err.contains("billing.toml"), "{err}");
}

#[test]
fn a_mistake_in_a_named_agent_file_is_located_in_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = agent(
        dir.path(),
        "lead.toml",
        "lead",
        "agent_tools = [{ agent = \"researcher.toml\", description = \"d\" }]",
    );
    write(
        dir.path(),
        "researcher.toml",
        &format!("name = \"researcher\"\n{MODEL}\ninstructionz = \"x\"\n"),
    );
    let err = error(&root);
    assert!(err.contains("researcher.toml:3:1"), "{err}");
    assert!(err.contains("instructionz"), "{err}");
}

#[test]
fn agent_files_calling_each_other_as_tools_are_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let tool = |to: &str| format!("agent_tools = [{{ agent = \"{to}\", description = \"d\" }}]");
    let root = agent(dir.path(), "a.toml", "a", &tool("b.toml"));
    agent(dir.path(), "b.toml", "b", &tool("a.toml"));
    let err = error(&root);
    assert!(err.contains("in a cycle: "), "{err}");
    assert!(err.contains("agent_tools[0].agent"), "{err}");
}

#[test]
fn two_agent_files_with_one_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = agent(
        dir.path(),
        "lead.toml",
        "lead",
        "agent_tools = [{ agent = \"other.toml\", description = \"d\" }]",
    );
    agent(dir.path(), "other.toml", "lead", "");
    let err = error(&root);
    assert!(err.contains("other.toml"), "{err}");
    assert!(err.contains("is called `lead` too"), "{err}");
}

#[test]
fn a_guardrail_without_its_tool_is_named_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = agent(
        dir.path(),
        "lead.toml",
        "lead",
        "guardrails = [{ stage = \"output\", component = \"builtin:text\" }]",
    );
    let err = error(&root);
    assert!(err.contains("lead.toml:3:15"), "{err}");
    assert!(err.contains("`guardrails[0].tool`"), "{err}");
}

#[test]
fn only_files_with_links_load_as_a_team() {
    let dir = tempfile::tempdir().unwrap();
    let plain = agent(dir.path(), "plain.toml", "plain", "");
    let linked = agent(
        dir.path(),
        "linked.toml",
        "linked",
        "guardrails = [{ stage = \"output\", component = \"builtin:text\", tool = \"json_query\" }]",
    );
    assert!(!declares_links(&plain));
    assert!(declares_links(&linked));
    // Loaded as a plain agent file, the links are refused with what to use instead.
    let err = crate::AgentDef::load(&linked).unwrap_err().to_string();
    assert!(err.contains("Runner::from_file"), "{err}");
}
