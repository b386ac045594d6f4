//! Runtime plumbing the `#[tool]` and `export_tools!` macros generate calls into: the table of
//! tools of a component and the `describe` / `invoke` dispatch over it.
//!
//! Invariant: every error leaving `invoke` is a WIT `tool-error` whose message tells the model
//! what to change; nothing here panics on input from the host.

use crate::bindings::exports::warden::tool::tool as wit;
use crate::{Tool, ToolError, ToolInfo};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use schemars;
pub use serde_json;
pub use wit_bindgen as wit_bindgen_rt;

/// One tool of the component, as `export_tools!` lists it.
pub struct Entry {
    name: &'static str,
    info: fn() -> ToolInfo,
    invoke: fn(&str) -> Result<String, ToolError>,
}

impl Entry {
    /// The entry of the tool `T`.
    pub const fn of<T: Tool>() -> Self {
        Entry {
            name: T::NAME,
            info: T::info,
            invoke: T::invoke,
        }
    }
}

/// Fails the build (a `const` panic) when two tools of one component share a name.
pub const fn assert_unique_names(names: &[&str]) {
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if str_eq(names[i], names[j]) {
                panic!(
                    "export_tools!: two tools have the same name; rename one with #[tool(name = \"...\")]"
                );
            }
            j += 1;
        }
        i += 1;
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The `describe` export: the info of every tool, in the order they were listed.
pub fn describe(tools: &[Entry]) -> Vec<wit::ToolInfo> {
    tools
        .iter()
        .map(|entry| {
            let info = (entry.info)();
            wit::ToolInfo {
                name: info.name,
                description: info.description,
                args_schema: info.args_schema,
                output_schema: info.output_schema,
            }
        })
        .collect()
}

/// The `invoke` export: runs tool `name`, or says which tools exist.
pub fn invoke(tools: &[Entry], name: &str, args_json: &str) -> Result<String, wit::ToolError> {
    match tools.iter().find(|entry| entry.name == name) {
        Some(entry) => (entry.invoke)(args_json).map_err(wit::ToolError::from),
        None => Err(wit::ToolError::UnknownTool(unknown_tool_message(
            tools, name,
        ))),
    }
}

fn unknown_tool_message(tools: &[Entry], name: &str) -> String {
    let names: Vec<&str> = tools.iter().map(|entry| entry.name).collect();
    format!(
        "this component has no tool named {name:?}; its tools are: {}",
        names.join(", ")
    )
}

impl From<ToolError> for wit::ToolError {
    fn from(error: ToolError) -> Self {
        match error {
            ToolError::InvalidArgs(message) => wit::ToolError::InvalidArgs(message),
            ToolError::Failed(message) => wit::ToolError::Failed(message),
        }
    }
}

/// Deserializes a tool's arguments; a mismatch is `invalid-args` carrying serde's message,
/// which names the field and what was expected.
pub fn parse_args<A: DeserializeOwned>(args_json: &str) -> Result<A, ToolError> {
    serde_json::from_str(args_json)
        .map_err(|e| ToolError::InvalidArgs(format!("the arguments do not fit this tool: {e}")))
}

/// Serializes a tool's output, passing its error through.
pub fn finish<T: Serialize>(result: Result<T, ToolError>) -> Result<String, ToolError> {
    let output = result?;
    serde_json::to_string(&output).map_err(|e| {
        ToolError::Failed(format!(
            "the tool's output could not be serialized as JSON: {e}"
        ))
    })
}

/// The JSON Schema of `T` as JSON text.
pub fn schema_of<T: schemars::JsonSchema>() -> String {
    let schema = schemars::schema_for!(T);
    // A `Schema` is a JSON value; serializing one cannot fail.
    serde_json::to_string(&schema).unwrap_or_else(|_| String::from("{}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct EchoArgs {
        text: String,
    }

    #[allow(non_camel_case_types)]
    struct echo;

    impl Tool for echo {
        const NAME: &'static str = "echo";
        fn info() -> ToolInfo {
            ToolInfo {
                name: Self::NAME.into(),
                description: "Echoes text.".into(),
                args_schema: schema_of::<EchoArgs>(),
                output_schema: None,
            }
        }
        fn invoke(args_json: &str) -> Result<String, ToolError> {
            let args: EchoArgs = parse_args(args_json)?;
            if args.text.is_empty() {
                return finish::<String>(Err(ToolError::Failed("nothing to echo".into())));
            }
            finish(Ok(args.text))
        }
    }

    const TOOLS: &[Entry] = &[Entry::of::<echo>()];

    #[test]
    fn invoke_runs_the_named_tool_and_serializes_its_output() {
        assert_eq!(
            invoke(TOOLS, "echo", r#"{"text":"hi"}"#).unwrap(),
            r#""hi""#
        );
    }

    #[test]
    fn a_type_mismatch_is_invalid_args_naming_the_field() {
        let err = invoke(TOOLS, "echo", r#"{"text":5}"#).unwrap_err();
        match err {
            wit::ToolError::InvalidArgs(message) => {
                assert!(message.contains("invalid type: integer `5`"), "{message}")
            }
            other => panic!("expected invalid-args, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_field_is_invalid_args() {
        let err = invoke(TOOLS, "echo", "{}").unwrap_err();
        assert!(
            matches!(err, wit::ToolError::InvalidArgs(m) if m.contains("missing field `text`"))
        );
    }

    #[test]
    fn a_tool_failure_is_passed_through_as_failed() {
        let err = invoke(TOOLS, "echo", r#"{"text":""}"#).unwrap_err();
        assert!(matches!(err, wit::ToolError::Failed(m) if m == "nothing to echo"));
    }

    #[test]
    fn an_unknown_name_lists_the_available_tools() {
        let err = invoke(TOOLS, "ecko", "{}").unwrap_err();
        assert!(
            matches!(&err, wit::ToolError::UnknownTool(m) if m.contains("\"ecko\"") && m.ends_with("its tools are: echo")),
            "{err:?}"
        );
    }

    #[test]
    fn describe_reports_the_args_schema_as_json() {
        let infos = describe(TOOLS);
        assert_eq!(infos.len(), 1);
        let schema: serde_json::Value = serde_json::from_str(&infos[0].args_schema).unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["text"]["type"], "string");
        assert_eq!(schema["required"][0], "text");
    }

    #[test]
    fn unique_names_pass_the_const_check() {
        assert_unique_names(&["a", "b", "ab"]);
        assert!(str_eq("calc", "calc"));
        assert!(!str_eq("calc", "calx"));
    }
}
