//! [`ToolInfo`] and the validation of what `describe()` returned: names valid for LLM
//! providers and unique, argument and output schemas that are JSON and compile. The
//! compiled validators are kept so each call validates its arguments without re-parsing.
//!
//! Invariant: a [`CompiledTool`] exists only for a tool whose schemas compiled.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

use super::bindings::GuestToolInfo;
use super::error::{LoadError, ToolCallError};

/// One tool of a loaded component, as shown to a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolInfo {
    /// Matches `^[a-zA-Z0-9_-]{1,64}$`; unique within the component.
    pub name: String,
    /// What the tool does and when to use it.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub args_schema: Value,
    /// JSON Schema of the output, if declared.
    pub output_schema: Option<Value>,
}

/// The compiled schemas of one tool.
pub(crate) struct CompiledTool {
    args: jsonschema::Validator,
    output: Option<jsonschema::Validator>,
}

/// Whether `name` is a valid tool name for both OpenAI and Anthropic.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Validates `describe()`'s answer and compiles every schema.
pub(crate) fn validate_described(
    described: Vec<GuestToolInfo>,
) -> Result<(Vec<ToolInfo>, Vec<CompiledTool>), LoadError> {
    if described.is_empty() {
        return Err(LoadError::NoTools);
    }
    let mut seen = HashSet::new();
    let mut infos = Vec::with_capacity(described.len());
    let mut compiled = Vec::with_capacity(described.len());
    for tool in described {
        if !is_valid_tool_name(&tool.name) {
            return Err(LoadError::InvalidToolName { name: tool.name });
        }
        if !seen.insert(tool.name.clone()) {
            return Err(LoadError::DuplicateToolName { name: tool.name });
        }
        let (args_schema, args) = compile(&tool.name, "args", &tool.args_schema)?;
        if args_schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(LoadError::InvalidSchema {
                tool: tool.name,
                which: "args",
                message: "the arguments schema must describe a JSON object (\"type\": \"object\")"
                    .into(),
            });
        }
        let (output_schema, output) = match &tool.output_schema {
            Some(text) => {
                let (schema, validator) = compile(&tool.name, "output", text)?;
                (Some(schema), Some(validator))
            }
            None => (None, None),
        };
        infos.push(ToolInfo {
            name: tool.name,
            description: tool.description,
            args_schema,
            output_schema,
        });
        compiled.push(CompiledTool { args, output });
    }
    Ok((infos, compiled))
}

fn compile(
    tool: &str,
    which: &'static str,
    text: &str,
) -> Result<(Value, jsonschema::Validator), LoadError> {
    let invalid = |message: String| LoadError::InvalidSchema {
        tool: tool.to_string(),
        which,
        message,
    };
    let schema: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| invalid(format!("does not compile as JSON Schema: {e}")))?;
    Ok((schema, validator))
}

impl CompiledTool {
    /// Parses `args_json` and checks it against the arguments schema.
    pub(crate) fn check_args(&self, args_json: &str) -> Result<(), ToolCallError> {
        let args: Value =
            serde_json::from_str(args_json).map_err(|e| ToolCallError::InvalidArguments {
                path: String::new(),
                message: format!("the arguments are not valid JSON ({e}); send a JSON object"),
            })?;
        match self.args.iter_errors(&args).next() {
            None => Ok(()),
            Some(error) => Err(ToolCallError::InvalidArguments {
                path: error.instance_path().to_string(),
                message: error.to_string(),
            }),
        }
    }

    /// Checks that `output` is JSON and fits the output schema, if one is declared.
    pub(crate) fn check_output(&self, output: &str) -> Result<(), ToolCallError> {
        let value: Value =
            serde_json::from_str(output).map_err(|e| ToolCallError::InvalidOutput {
                message: format!("the output is not JSON: {e}"),
            })?;
        if let Some(validator) = &self.output
            && let Some(error) = validator.iter_errors(&value).next()
        {
            return Err(ToolCallError::InvalidOutput {
                message: format!(
                    "the output does not match its schema at {:?}: {error}",
                    error.instance_path().to_string()
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info(name: &str, schema: &str) -> GuestToolInfo {
        GuestToolInfo {
            name: name.into(),
            description: "d".into(),
            args_schema: schema.into(),
            output_schema: None,
        }
    }

    const OBJ: &str = r#"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"#;

    #[test]
    fn names_must_be_provider_safe_and_unique() {
        assert!(is_valid_tool_name("word_count-2"));
        assert!(!is_valid_tool_name("has space"));
        assert!(!is_valid_tool_name(&"a".repeat(65)));
        assert!(!is_valid_tool_name(""));
        let err = validate_described(vec![info("a.b", OBJ)]).err().unwrap();
        assert!(matches!(err, LoadError::InvalidToolName { .. }));
        let err = validate_described(vec![info("a", OBJ), info("a", OBJ)])
            .err()
            .unwrap();
        assert!(matches!(err, LoadError::DuplicateToolName { name } if name == "a"));
        assert!(matches!(
            validate_described(vec![]).err().unwrap(),
            LoadError::NoTools
        ));
    }

    #[test]
    fn schemas_must_be_json_compile_and_describe_an_object() {
        let err = validate_described(vec![info("a", "{nope")]).err().unwrap();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        let err = validate_described(vec![info("a", r#"{"type": 12}"#)])
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not compile"), "{err}");
        let err = validate_described(vec![info("a", r#"{"type":"string"}"#)])
            .err()
            .unwrap();
        assert!(err.to_string().contains("JSON object"), "{err}");
    }

    #[test]
    fn argument_errors_carry_the_failing_path() {
        let (_, compiled) = validate_described(vec![info("a", OBJ)]).unwrap();
        assert!(compiled[0].check_args(r#"{"n": 3}"#).is_ok());
        match compiled[0].check_args(r#"{"n": "three"}"#).unwrap_err() {
            ToolCallError::InvalidArguments { path, message } => {
                assert_eq!(path, "/n");
                assert!(message.contains("integer"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        match compiled[0].check_args("{not json").unwrap_err() {
            ToolCallError::InvalidArguments { path, message } => {
                assert_eq!(path, "");
                assert!(message.contains("not valid JSON"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
