//! Tests of agent files and the builder.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;

use serde_json::json;

use super::*;
use warden_core::budget::OnExhaustion;

const FULL: &str = r#"
name = "researcher"
instructions = "Answer with sources."

[model]
provider = "openai"
name = "gpt-4o-mini"
max_tokens = 800
temperature = 0.2
context_window = 64000
price = { input_per_mtok = 1.0, output_per_mtok = 2.0, cached_input_per_mtok = 0.5 }
retry = { max_attempts = 4 }
rate_limits = { rpm = 60 }

[[tools]]
component = "tools/fs.wasm"
policy = { read_dirs = ["data"] }
error_policy = "retry"
max_retries = 3
tools.write_file = { sequential = true, error_policy = "abort" }

[[tools]]
component = "tools/http.wasm"
policy = "policies/http.toml"

[budget]
max_turns = 6
max_cost_usd = 0.25
on_exhaustion = "error"

[output]
schema = { type = "object", required = ["answer"] }

[run]
stop_on_tools = ["submit"]
max_parallel_tools = 2

[context]
summarize = false
"#;

#[test]
fn full_agent_file_parses_into_the_loop_config() {
    let agent = AgentDef::from_toml_str(FULL, "agent.toml").unwrap();
    assert_eq!(agent.model.provider, Provider::OpenAi);
    assert_eq!(agent.model.api_key_env().as_deref(), Some("OPENAI_API_KEY"));
    assert_eq!(
        (agent.model.retry.max_attempts, agent.model.rate_limits.rpm),
        (4, 60)
    );
    assert_eq!(agent.model.timeouts, warden_llm::Timeouts::default());
    assert!(
        matches!(&agent.tools[0].policy, Some(PolicyRef::Inline(t)) if t.contains_key("read_dirs"))
    );
    assert!(matches!(&agent.tools[1].policy, Some(PolicyRef::File(p)) if p.ends_with("http.toml")));
    assert_eq!(
        agent.tools[0].settings_for("read_file"),
        (false, ErrorPolicy::Retry { max_retries: 3 })
    );
    assert_eq!(
        agent.tools[0].settings_for("write_file"),
        (true, ErrorPolicy::Abort)
    );
    assert_eq!(
        agent.tools[1].settings_for("get"),
        (false, ErrorPolicy::ToModel)
    );
    let cfg = agent.loop_config();
    assert_eq!(
        (cfg.model.as_str(), cfg.max_tokens, cfg.context_window),
        ("gpt-4o-mini", 800, Some(64000))
    );
    assert_eq!(cfg.budget.max_turns, Some(6));
    assert_eq!(cfg.budget.on_exhaustion, OnExhaustion::Error);
    assert_eq!(
        cfg.output_schema,
        Some(json!({"type": "object", "required": ["answer"]}))
    );
    assert_eq!(cfg.stop_on_tools, ["submit"]);
    assert_eq!(cfg.max_parallel_tools, 2);
    assert!(!cfg.compaction.summarize);
    assert_eq!(cfg.price.map(|p| p.output_per_mtok), Some(2.0));
}

#[test]
fn unknown_key_is_reported_with_line_column_and_key() {
    let text = "name = \"a\"\n[model]\nprovider = \"openai\"\nname = \"gpt-4o\"\nmax_tokns = 5\n";
    let err = AgentDef::from_toml_str(text, "a.toml").unwrap_err();
    let AgentError::Parse {
        line, column, key, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*line, *column, key.as_deref()), (5, 1, Some("max_tokns")));
    let shown = err.to_string();
    assert!(
        shown.starts_with("a.toml:5:1:") && shown.contains("unknown field `max_tokns`"),
        "{shown}"
    );
}

#[test]
fn llm_settings_are_checked_with_their_location() {
    let text = "name = \"a\"\n[model]\nprovider = \"openai\"\nname = \"gpt-4o\"\n[model.retry]\nmax_atempts = 2\n";
    let err = AgentDef::from_toml_str(text, "r.toml").unwrap_err();
    assert!(
        matches!(&err, AgentError::Parse { line: 6, key: Some(k), .. } if k == "max_atempts"),
        "{err}"
    );
}

#[test]
fn syntax_errors_and_missing_model_are_located() {
    let err = AgentDef::from_toml_str("name = \"a\"\nmodel = [\n", "b.toml").unwrap_err();
    assert!(matches!(err, AgentError::Parse { line: 2.., .. }), "{err}");
    let err = AgentDef::from_toml_str("name = \"a\"\n", "c.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing field `model`") && err.contains("add a [model] table"),
        "{err}"
    );
    let err = AgentDef::from_toml_str(
        "name = \"a\"\n[model]\nprovider = \"gemini\"\nname = \"x\"\n",
        "d.toml",
    )
    .unwrap_err();
    assert!(matches!(&err, AgentError::Parse { line: 3, .. }), "{err}");
}

#[test]
fn values_that_cannot_work_are_rejected_with_their_key() {
    let base = "name = \"a\"\n[model]\nprovider = \"openai\"\nname = \"gpt-4o\"\n";
    let err = AgentDef::from_toml_str(&format!("{base}temperature = 7.0\n"), "e.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "e.toml: `model.temperature`: must be between 0 and 2"
    );
    let local = "name = \"a\"\n[model]\nprovider = \"ollama\"\nname = \"llama3.1\"\n";
    let err = AgentDef::from_toml_str(local, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`model.base_url`"), "{err}");
    let err = AgentDef::from_toml_str(&format!("{base}[output]\nmax_retries = 1\n"), "g.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`output`"), "{err}");
}

#[test]
fn max_tool_args_takes_a_size_and_defaults_to_one_mib() {
    let base = "name = \"a\"\n[model]\nprovider = \"openai\"\nname = \"gpt-4o\"\n";
    let agent = AgentDef::from_toml_str(base, "a.toml").unwrap();
    assert_eq!(agent.loop_config().max_tool_args_bytes, 1 << 20);
    for (value, bytes) in [("\"64KiB\"", 64 << 10), ("4096", 4096)] {
        let text = format!("{base}[run]\nmax_tool_args = {value}\n");
        let agent = AgentDef::from_toml_str(&text, "b.toml").unwrap();
        assert_eq!(agent.loop_config().max_tool_args_bytes, bytes, "{value}");
    }
    let err = AgentDef::from_toml_str(&format!("{base}[run]\nmax_tool_args = 1\n"), "c.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`run.max_tool_args`"), "{err}");
    let err = AgentDef::from_toml_str(
        &format!("{base}[run]\nmax_tool_args = \"lots\"\n"),
        "d.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid size"), "{err}");
}

#[test]
fn load_resolves_paths_reads_the_schema_and_check_files_finds_missing_components() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.json"), r#"{"type": "object"}"#).unwrap();
    std::fs::write(dir.path().join("calc.wasm"), b"\0asm").unwrap();
    let text = "name = \"a\"\n[model]\nprovider = \"anthropic\"\nname = \"claude-sonnet-4-5\"\n\
                [[tools]]\ncomponent = \"calc.wasm\"\n[[tools]]\ncomponent = \"missing.wasm\"\n\
                [output]\nschema_file = \"schema.json\"\n";
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let agent = AgentDef::load(&path).unwrap();
    assert_eq!(agent.tools[0].component, dir.path().join("calc.wasm"));
    assert_eq!(
        agent.output.as_ref().unwrap().schema,
        Some(json!({"type": "object"}))
    );
    assert_eq!(
        agent.model.api_key_env().as_deref(),
        Some("ANTHROPIC_API_KEY")
    );
    let err = agent.check_files().unwrap_err().to_string();
    assert!(
        err.contains("`tools[1].component`")
            && err.contains("missing.wasm")
            && err.contains("does not exist"),
        "{err}"
    );
    let err = AgentDef::load(dir.path().join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot read agent file"), "{err}");
}

#[test]
fn builtin_components_are_not_paths_and_unknown_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let agent_file = |component: &str| {
        let path = dir.path().join("agent.toml");
        let text = format!(
            "name = \"a\"\n[model]\nprovider = \"anthropic\"\nname = \"claude-sonnet-4-5\"\n\
             [[tools]]\ncomponent = \"{component}\"\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    let agent = AgentDef::load(agent_file("builtin:calc")).unwrap();
    assert_eq!(agent.tools[0].component, Path::new("builtin:calc"));
    agent.check_files().unwrap();
    let err = AgentDef::load(agent_file("builtin:calculator"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`tools[0].component`")
            && err.contains("\"calculator\"")
            && err.contains("builtin:calc, builtin:text, builtin:fs, builtin:http"),
        "{err}"
    );
}

#[test]
fn builder_validates_like_the_file() {
    let agent = AgentDef::builder("calc", Provider::OpenAiCompatible, "llama3.1")
        .base_url("http://127.0.0.1:11434/v1")
        .instructions("Compute.")
        .tool(ToolDef::new("calc.wasm"))
        .max_turns(4)
        .output_schema(json!({"type": "number"}))
        .stop_on_tool("submit")
        .build()
        .unwrap();
    let cfg = agent.loop_config();
    assert_eq!(
        (cfg.agent_name.as_str(), cfg.budget.max_turns),
        ("calc", Some(4))
    );
    assert_eq!(agent.model.api_key_env(), None);
    let err = AgentDef::builder("x", Provider::OpenAiCompatible, "llama3.1")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("base_url"));
    assert!(
        AgentDef::builder("x", Provider::OpenAi, "")
            .build()
            .is_err()
    );
}
