//! Multi-agent files: a good one loads with every link, and each kind of mistake is named
//! with its file, line and key before anything is built.

use std::path::{Path, PathBuf};

use super::*;

const MODEL: &str = "model = { provider = \"openai\", name = \"gpt-4o-mini\" }";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn error(path: &Path) -> String {
    TeamDef::load(path).unwrap_err().to_string()
}

#[test]
fn one_file_declares_agents_handoffs_agent_tools_and_guardrails() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"entry = "triage"
max_handoffs = 3

[agents.triage]
instructions = "Route."
{MODEL}
handoffs = [{{ agent = "billing", description = "Invoices", filter = {{ last_messages = 4 }} }}]
agent_tools = [{{ agent = "researcher", description = "Looks up", name = "ask" }}]
guardrails = [
  {{ stage = "input", agent = "judge", before_model = true }},
  {{ stage = "output", component = "builtin:text", tool = "json_query", text_arg = "document", args = {{ query = "$" }} }},
]

[agents.billing]
{MODEL}
handoffs = [{{ agent = "triage", description = "Anything else", filter = "drop_tool_calls" }}]

[agents.researcher]
{MODEL}

[agents.judge]
{MODEL}
"#
    );
    let path = write(dir.path(), "team.toml", &text);
    let def = TeamDef::load(&path).unwrap();
    assert_eq!(def.entry, "triage");
    assert_eq!(def.max_handoffs, Some(3));
    let triage = &def.agents["triage"];
    assert_eq!(triage.def.name, "triage");
    assert_eq!(triage.handoffs[0].filter, FilterDef::LastMessages(4));
    assert_eq!(triage.agent_tools[0].name.as_deref(), Some("ask"));
    assert_eq!(triage.guardrails.len(), 2);
    assert!(triage.guardrails[0].before_model);
    assert_eq!(
        def.agents["billing"].handoffs[0].filter,
        FilterDef::DropToolCalls
    );
    assert_eq!(def.agents.len(), 4);
}

#[test]
fn several_files_include_each_other_once_and_refer_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(
        dir.path(),
        "team.toml",
        &format!(
            "entry = \"triage\"\ninclude = [\"sub/billing.toml\"]\n[agents.triage]\n{MODEL}\nhandoffs = [{{ agent = \"billing\", description = \"d\" }}]\n"
        ),
    );
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(
        &dir.path().join("sub"),
        "billing.toml",
        &format!(
            "include = [\"refunds.toml\"]\n[agents.billing]\n{MODEL}\nhandoffs = [{{ agent = \"triage\", description = \"d\" }}, {{ agent = \"refunds\", description = \"d\" }}]\n"
        ),
    );
    write(
        &dir.path().join("sub"),
        "refunds.toml",
        &format!("[agents.refunds]\n{MODEL}\n"),
    );
    let def = TeamDef::load(&root).unwrap();
    let names: Vec<&str> = def.agents.keys().map(String::as_str).collect();
    assert_eq!(names, ["billing", "refunds", "triage"]);
    assert!(def.agents["refunds"].file.ends_with("sub/refunds.toml"));
}

#[test]
fn an_unknown_agent_is_named_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "team.toml",
        &format!(
            "entry = \"triage\"\n\n[agents.triage]\n{MODEL}\nhandoffs = [{{ agent = \"biling\", description = \"d\" }}]\n"
        ),
    );
    let err = error(&path);
    assert!(err.starts_with(&format!("{}:5:", path.display())), "{err}");
    assert!(err.contains("`agents.triage.handoffs[0].agent`"), "{err}");
    assert!(err.contains("no file defines agent `biling`"), "{err}");
}

#[test]
fn files_including_each_other_are_a_cycle_named_where_it_closes() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.toml",
        &format!("entry = \"x\"\ninclude = [\"b.toml\"]\n[agents.x]\n{MODEL}\n"),
    );
    let b = write(
        dir.path(),
        "b.toml",
        &format!("\ninclude = [\"a.toml\"]\n[agents.y]\n{MODEL}\n"),
    );
    let err = error(&a);
    assert!(err.starts_with(&format!("{}:2:", b.display())), "{err}");
    assert!(err.contains("`include[0]`"), "{err}");
    assert!(err.contains("files include each other"), "{err}");
    assert!(
        err.contains("a.toml → ") && err.contains("b.toml → "),
        "{err}"
    );
}

#[test]
fn an_unknown_key_is_named_with_file_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "team.toml",
        &format!("entry = \"x\"\n[agents.x]\n{MODEL}\ninstructionz = \"typo\"\n"),
    );
    let err = TeamDef::load(&path).unwrap_err();
    let TeamFileError::Agent(inner) = &err else {
        panic!("{err:?}");
    };
    let AgentError::Parse { line, key, .. } = inner.as_ref() else {
        panic!("{inner:?}");
    };
    assert_eq!(*line, 4, "{err}");
    assert_eq!(key.as_deref(), Some("instructionz"), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_missing_entry_is_named_with_the_agents_to_choose_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "team.toml", &format!("[agents.x]\n{MODEL}\n"));
    let err = error(&path);
    assert!(
        err.starts_with(&format!("{}:1:1: `entry`", path.display())),
        "{err}"
    );
    assert!(err.contains("entry = \"x\""), "{err}");
}

#[test]
fn an_entry_no_file_defines_is_named_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "team.toml",
        &format!("\nentry = \"nobody\"\n[agents.x]\n{MODEL}\n"),
    );
    let err = error(&path);
    assert!(err.starts_with(&format!("{}:2:", path.display())), "{err}");
    assert!(err.contains("no file defines agent `nobody`"), "{err}");
}

#[test]
fn agents_calling_each_other_as_tools_are_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "team.toml",
        &format!(
            "entry = \"a\"\n[agents.a]\n{MODEL}\nagent_tools = [{{ agent = \"b\", description = \"d\" }}]\n[agents.b]\n{MODEL}\nguardrails = [{{ stage = \"output\", agent = \"a\" }}]\n"
        ),
    );
    let err = error(&path);
    assert!(
        err.contains("agents run inside each other in a cycle: a → b → a"),
        "{err}"
    );
    assert!(
        err.contains("agent_tools[0].agent") || err.contains("guardrails[0].agent"),
        "{err}"
    );
}

#[test]
fn a_guardrail_without_a_check_or_with_two_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "team.toml",
        &format!(
            "entry = \"a\"\n[agents.a]\n{MODEL}\nguardrails = [{{ stage = \"input\", agent = \"a\", component = \"builtin:text\" }}]\n"
        ),
    );
    let err = error(&path);
    assert!(err.contains("`agents.a.guardrails[0]`"), "{err}");
    assert!(err.contains("either `agent"), "{err}");
}
