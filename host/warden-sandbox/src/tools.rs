//! [`ToolInfo`] and the validation of what `describe()` returned: names valid for LLM
//! providers and unique, argument and output schemas that are JSON and compile. The
//! compiled validators are kept so each call validates its arguments without re-parsing.
//!
//! Invariant: a [`CompiledTool`] exists only for a tool whose schemas were proven to compile:
//! either just now (eager), or when this host first loaded the same component and cached the
//! validated answer (lazy: compiled on first use, which keeps cached loads cheap).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bindings::GuestToolInfo;
use super::error::{LoadError, ToolCallError};

/// `describe()`'s answer for one tool, as cached next to the compiled component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DescribedTool {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) args_schema: String,
    pub(crate) output_schema: Option<String>,
}

impl From<GuestToolInfo> for DescribedTool {
    fn from(t: GuestToolInfo) -> Self {
        Self {
            name: t.name,
            description: t.description,
            args_schema: t.args_schema,
            output_schema: t.output_schema,
        }
    }
}

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

type Compiled = Result<jsonschema::Validator, String>;

/// The compiled schemas of one tool (compiled at load, or on first use for cached loads).
pub(crate) struct CompiledTool {
    args: OnceLock<Compiled>,
    output: OnceLock<Option<Compiled>>,
}

/// Whether `name` is a valid tool name for both OpenAI and Anthropic.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Validates `describe()`'s answer. `eager`: compile every schema now (a fresh answer);
/// otherwise (an answer this host validated before) only parse them and compile on first use.
pub(crate) fn validate_described(
    described: Vec<DescribedTool>,
    eager: bool,
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
        let (args_schema, args) = parse(&tool.name, "args", &tool.args_schema, eager)?;
        if args_schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(LoadError::InvalidSchema {
                tool: tool.name,
                which: "args",
                message: "the arguments schema must describe a JSON object (\"type\": \"object\")"
                    .into(),
            });
        }
        let output = OnceLock::new();
        let output_schema = match &tool.output_schema {
            Some(text) => {
                let (schema, validator) = parse(&tool.name, "output", text, eager)?;
                if let Some(compiled) = validator.into_inner() {
                    let _ = output.set(Some(compiled));
                }
                Some(schema)
            }
            None => {
                let _ = output.set(None);
                None
            }
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

/// Parses a schema and, if `eager`, compiles it (failing the load if it does not compile).
fn parse(
    tool: &str,
    which: &'static str,
    text: &str,
    eager: bool,
) -> Result<(Value, OnceLock<Compiled>), LoadError> {
    let invalid = |message: String| LoadError::InvalidSchema {
        tool: tool.to_string(),
        which,
        message,
    };
    let schema: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let cell = OnceLock::new();
    if eager {
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| invalid(format!("does not compile as JSON Schema: {e}")))?;
        let _ = cell.set(Ok(validator));
    }
    Ok((schema, cell))
}

/// The validator in `cell`, compiling `schema` on first use.
fn validator<'a>(
    cell: &'a OnceLock<Compiled>,
    schema: &Value,
) -> Result<&'a jsonschema::Validator, ToolCallError> {
    cell.get_or_init(|| jsonschema::validator_for(schema).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ToolCallError::Internal {
            message: format!("the tool's cached schema no longer compiles: {e}"),
        })
}

/// A call's arguments as a value: `parsed` if the caller parsed them already, else
/// `args_json` parsed here (or the error the model is told).
pub(crate) fn args_value<'a>(
    args_json: &str,
    parsed: Option<&'a Value>,
) -> Result<Cow<'a, Value>, ToolCallError> {
    match parsed {
        Some(value) => Ok(Cow::Borrowed(value)),
        None => serde_json::from_str(args_json)
            .map(Cow::Owned)
            .map_err(|e| ToolCallError::InvalidArguments {
                path: String::new(),
                message: format!("the arguments are not valid JSON ({e}); send a JSON object"),
            }),
    }
}

impl CompiledTool {
    /// Checks the arguments against the arguments schema of `info`: `parsed` if the caller
    /// parsed them already, else `args_json` parsed here.
    pub(crate) fn check_args(
        &self,
        info: &ToolInfo,
        args_json: &str,
        parsed: Option<&Value>,
    ) -> Result<(), ToolCallError> {
        let args = args_value(args_json, parsed)?;
        let validator = validator(&self.args, &info.args_schema)?;
        // The fast check first: building error values is the slow path.
        if validator.is_valid(&args) {
            return Ok(());
        }
        match validator.iter_errors(&args).next() {
            None => Ok(()),
            Some(error) => Err(ToolCallError::InvalidArguments {
                path: error.instance_path().to_string(),
                message: error.to_string(),
            }),
        }
    }

    /// Checks that `output` is JSON and fits the output schema of `info`, if it declares one.
    pub(crate) fn check_output(&self, info: &ToolInfo, output: &str) -> Result<(), ToolCallError> {
        let not_json = |e: serde_json::Error| ToolCallError::InvalidOutput {
            message: format!("the output is not JSON: {e}"),
        };
        let Some(schema) = &info.output_schema else {
            // Only well-formedness to check: skip building a value.
            return serde_json::from_str::<serde::de::IgnoredAny>(output)
                .map(|_| ())
                .map_err(not_json);
        };
        let value: Value = serde_json::from_str(output).map_err(not_json)?;
        let cell = self
            .output
            .get_or_init(|| Some(jsonschema::validator_for(schema).map_err(|e| e.to_string())));
        let Some(compiled) = cell else { return Ok(()) };
        let validator = compiled.as_ref().map_err(|e| ToolCallError::Internal {
            message: format!("the tool's cached output schema no longer compiles: {e}"),
        })?;
        if let Some(error) = validator.iter_errors(&value).next() {
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
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn info(name: &str, schema: &str) -> DescribedTool {
        DescribedTool {
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
        let err = validate_described(vec![info("a.b", OBJ)], true)
            .err()
            .unwrap();
        assert!(matches!(err, LoadError::InvalidToolName { .. }));
        let err = validate_described(vec![info("a", OBJ), info("a", OBJ)], true)
            .err()
            .unwrap();
        assert!(matches!(err, LoadError::DuplicateToolName { name } if name == "a"));
        assert!(matches!(
            validate_described(vec![], true).err().unwrap(),
            LoadError::NoTools
        ));
    }

    #[test]
    fn schemas_must_be_json_compile_and_describe_an_object() {
        let err = validate_described(vec![info("a", "{nope")], true)
            .err()
            .unwrap();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        let err = validate_described(vec![info("a", r#"{"type": 12}"#)], true)
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not compile"), "{err}");
        let err = validate_described(vec![info("a", r#"{"type":"string"}"#)], true)
            .err()
            .unwrap();
        assert!(err.to_string().contains("JSON object"), "{err}");
    }

    #[test]
    fn argument_errors_carry_the_failing_path() {
        let (infos, compiled) = validate_described(vec![info("a", OBJ)], true).unwrap();
        let (info, compiled) = (&infos[0], &compiled[0]);
        assert!(compiled.check_args(info, r#"{"n": 3}"#, None).is_ok());
        // A value the caller parsed is checked as its text would be.
        let three = serde_json::json!({"n": "three"});
        for parsed in [None, Some(&three)] {
            match compiled
                .check_args(info, r#"{"n": "three"}"#, parsed)
                .unwrap_err()
            {
                ToolCallError::InvalidArguments { path, message } => {
                    assert_eq!(path, "/n");
                    assert!(message.contains("integer"), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        match compiled.check_args(info, "{not json", None).unwrap_err() {
            ToolCallError::InvalidArguments { path, message } => {
                assert_eq!(path, "");
                assert!(message.contains("not valid JSON"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn cached_answers_compile_their_schemas_on_first_use() {
        let (infos, compiled) = validate_described(vec![info("a", OBJ)], false).unwrap();
        assert!(compiled[0].args.get().is_none(), "compiled eagerly");
        let err = compiled[0]
            .check_args(&infos[0], r#"{}"#, None)
            .unwrap_err();
        assert!(
            matches!(err, ToolCallError::InvalidArguments { .. }),
            "{err:?}"
        );
        assert!(compiled[0].args.get().is_some());
    }
}
