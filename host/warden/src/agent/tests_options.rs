//! Tests of the optional `[model]` settings: parsed, carried to the loop, and refused by
//! name when the provider lacks them.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::json;

use super::*;
use warden_llm::OptionsError;

fn agent(provider: &str, lines: &str) -> Result<AgentDef, AgentError> {
    let text = format!("name = \"a\"\n[model]\nprovider = \"{provider}\"\nname = \"m\"\n{lines}");
    AgentDef::from_toml_str(&text, "o.toml")
}

#[test]
fn the_model_table_options_reach_the_loop_config() {
    let def = agent(
        "openai",
        "top_p = 0.5\nseed = 42\nstop = [\"END\"]\nreasoning_effort = \"medium\"\n\
         [model.extra_body]\nnum_ctx = 8192\noptions = { mirostat = 2 }\n",
    )
    .unwrap();
    let options = def.loop_config().options;
    assert_eq!(options.top_p, Some(0.5));
    assert_eq!(options.seed, Some(42));
    assert_eq!(options.stop, ["END"]);
    assert_eq!(options.reasoning_effort, Some(ReasoningEffort::Medium));
    assert_eq!(
        serde_json::Value::Object(options.extra_body),
        json!({"num_ctx": 8192, "options": {"mirostat": 2}})
    );
    let def = agent("anthropic", "max_tokens = 4096\nthinking_budget = 2048\n").unwrap();
    assert_eq!(def.loop_config().options.thinking_budget, Some(2048));
}

#[test]
fn a_seed_for_anthropic_is_refused_naming_the_key() {
    let err = agent("anthropic", "seed = 1\n").unwrap_err();
    assert!(
        matches!(
            &err,
            AgentError::ModelOption {
                source: OptionsError::Unsupported { option: "seed", .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "o.toml: `model.seed`: Anthropic has no such setting; the Messages API takes no seed: remove it"
    );
}

#[test]
fn extra_body_may_not_set_a_field_warden_writes() {
    let err = agent(
        "ollama",
        "base_url = \"http://127.0.0.1:1/v1\"\nextra_body = { stream = false }\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("o.toml: `model.extra_body`: `stream` is a field warden writes"),
        "{err}"
    );
}

#[test]
fn thinking_is_checked_against_max_tokens_and_refused_beside_tools() {
    let err = agent("anthropic", "thinking_budget = 2048\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`model.thinking_budget`") && err.contains("max_tokens (1024)"),
        "{err}"
    );
    let err = agent(
        "anthropic",
        "max_tokens = 4096\nthinking_budget = 2048\n[[tools]]\ncomponent = \"builtin:calc\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot go with tools"), "{err}");
}

#[test]
fn an_unknown_reasoning_effort_is_a_parse_error() {
    let err = agent("openai", "reasoning_effort = \"extreme\"\n").unwrap_err();
    assert!(matches!(&err, AgentError::Parse { line: 5, .. }), "{err}");
}

#[test]
fn the_builder_checks_the_options_too() {
    let options = warden_core::options::ModelOptions {
        seed: Some(3),
        ..Default::default()
    };
    let built = AgentDef::builder("a", Provider::OpenAi, "gpt").model_options(options.clone());
    assert_eq!(built.build().unwrap().model.options(), options);
    let refused = AgentDef::builder("a", Provider::Anthropic, "claude").model_options(options);
    assert!(matches!(
        refused.build(),
        Err(AgentError::ModelOption { .. })
    ));
}
