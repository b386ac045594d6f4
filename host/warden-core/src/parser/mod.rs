//! The response parser: turns a model response into a final answer, a refusal, a filtered
//! or empty response, or a list of tool calls each checked before anything runs.
//!
//! A call is valid when its tool is known, its arguments are JSON, an object, and valid
//! against the tool's schema (compiled once, when the catalog is built). Invalid calls are
//! never executed: [`InvalidReason::message_for_model`] tells the model what was wrong
//! (schema path, expected vs given, the tool names). Arguments cut by the output-token
//! limit (finish reason `length`) are invalid calls.
//! Invariant: a `ParsedCall::Valid` always carries arguments that passed the tool's schema.

mod output;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::Serialize;

use crate::chat::{ChatResponse, FinishReason, ToolCall, ToolSpec};
use crate::tool::ToolCatalogEntry;
pub use output::OutputSchema;

/// Most schema errors listed in one explanation.
const MAX_SCHEMA_ERRORS: usize = 5;

/// Longest schema error message (and error path) kept, in characters: a message may quote
/// the offending value and a path its keys, which the model chose (events and the model's
/// tool result carry them).
const MAX_SCHEMA_MESSAGE_CHARS: usize = 300;

/// A catalog or output schema that could not be compiled.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParserError {
    /// A tool's argument schema is not a valid JSON Schema.
    #[error("tool `{tool}` has an invalid argument schema: {message}")]
    InvalidToolSchema {
        /// The tool's name.
        tool: String,
        /// The schema compiler's complaint.
        message: String,
    },
    /// Two tools share this name.
    #[error("two tools are named `{0}`: tool names must be unique across all components")]
    DuplicateTool(String),
    /// The agent's output schema is not a valid JSON Schema (the compiler's complaint).
    #[error("the output schema is not a valid JSON Schema: {0}")]
    InvalidOutputSchema(String),
}

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaError {
    /// JSON pointer into the arguments ("" is the whole object).
    pub path: String,
    /// JSON pointer into the schema, naming the keyword that failed.
    pub schema_path: String,
    /// What was expected and what was given, e.g. `"ten" is not of type "integer"`.
    pub message: String,
}

/// Why a call was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InvalidReason {
    /// No tool of the catalog has the name the model used.
    UnknownTool {
        /// The names the model may use.
        known: Vec<String>,
    },
    /// The arguments are not JSON.
    InvalidJson {
        /// The JSON parser's complaint.
        error: String,
    },
    /// The arguments are JSON but not an object.
    NotAnObject {
        /// What kind of value was given (`an array`, `a string`, ...).
        given: String,
    },
    /// The arguments break the tool's schema.
    SchemaViolation {
        /// The violations, at most 5, each message cut to 300 characters.
        errors: Vec<SchemaError>,
    },
    /// The response hit the output-token limit while writing the arguments.
    Truncated,
    /// The arguments were over the agent's `max_tool_args` and were dropped unread.
    TooLarge {
        /// How many bytes of argument text the model sent.
        size_bytes: u64,
        /// The cap in force.
        limit_bytes: u64,
    },
}

impl InvalidReason {
    /// A one-line summary for traces and events.
    pub fn summary(&self) -> String {
        match self {
            Self::UnknownTool { .. } => "unknown tool".into(),
            Self::InvalidJson { error } => format!("arguments are not valid JSON: {error}"),
            Self::NotAnObject { .. } => "arguments are not a JSON object".into(),
            Self::SchemaViolation { errors } => match errors.first() {
                Some(e) => format!(
                    "schema violation at `{}`: {}",
                    display_path(&e.path),
                    e.message
                ),
                None => "schema violation".into(),
            },
            Self::Truncated => "arguments cut by the output-token limit".into(),
            Self::TooLarge {
                size_bytes,
                limit_bytes,
            } => format!("arguments are {size_bytes} bytes, over the limit of {limit_bytes} bytes"),
        }
    }

    /// The tool result the model gets instead of running the call.
    pub fn message_for_model(&self, tool: &str) -> String {
        match self {
            Self::UnknownTool { known } => format!(
                "Error: there is no tool named `{tool}`. The tools you can call are: {}. Call one of them by its exact name.",
                known.join(", ")
            ),
            Self::InvalidJson { error } => format!(
                "Error: the arguments for `{tool}` are not valid JSON ({error}). Send the arguments as one JSON object."
            ),
            Self::NotAnObject { given } => format!(
                "Error: the arguments for `{tool}` must be a JSON object, but {given} was given."
            ),
            Self::SchemaViolation { errors } => {
                let lines: Vec<String> = errors
                    .iter()
                    .map(|e| {
                        format!(
                            "- at `{}`: {} (schema rule `{}`)",
                            display_path(&e.path),
                            e.message,
                            e.schema_path
                        )
                    })
                    .collect();
                format!(
                    "Error: the arguments for `{tool}` do not match its schema:\n{}\nFix the arguments and call the tool again.",
                    lines.join("\n")
                )
            }
            Self::Truncated => format!(
                "Error: the arguments for `{tool}` were cut off because the response reached the output-token limit. \
                 Call the tool again with shorter arguments."
            ),
            Self::TooLarge {
                size_bytes,
                limit_bytes,
            } => format!(
                "Error: the arguments for `{tool}` are {size_bytes} bytes, over the limit of {limit_bytes} bytes, \
                 so the call was not run and the arguments were not read. Call the tool again with arguments \
                 under {limit_bytes} bytes (split the work into smaller calls)."
            ),
        }
    }
}

/// `text` cut to `max` characters, with `…` when cut.
fn cut_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// A call that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCall {
    /// The model's id of the call.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments object, valid against the tool's schema.
    pub arguments: serde_json::Value,
}

/// A call that failed a check.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidCall {
    /// The model's id of the call.
    pub call_id: String,
    /// The tool name the model used.
    pub name: String,
    /// What was wrong.
    pub reason: InvalidReason,
}

/// One call of a response, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedCall {
    /// The call may run.
    Valid(ValidCall),
    /// The call is rejected to the model, never run.
    Invalid(InvalidCall),
}

/// What a response amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Text and no tool calls.
    Final {
        /// The answer.
        text: String,
        /// The output-token limit cut it short.
        truncated: bool,
    },
    /// Tool calls, in the order the model made them, with any text that came along.
    ToolCalls {
        /// Text that came with the calls, if any.
        text: Option<String>,
        /// Each call, checked.
        calls: Vec<ParsedCall>,
    },
    /// The model refused, with its explanation.
    Refusal {
        /// The model's explanation.
        message: String,
    },
    /// The provider stopped the response for its content.
    ContentFiltered {
        /// Any text that came before the filter.
        text: Option<String>,
    },
    /// Neither text nor tool calls.
    Empty {
        /// Why the model stopped.
        finish_reason: FinishReason,
    },
}

struct CompiledTool {
    entry: ToolCatalogEntry,
    validator: jsonschema::Validator,
}

/// The tool catalog with each argument schema compiled once.
pub struct ToolSchemas {
    tools: Vec<CompiledTool>,
    /// What the model is offered, built once and shared by every request.
    specs: Arc<[ToolSpec]>,
}

impl std::fmt::Debug for ToolSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|t| &t.entry.name))
            .finish()
    }
}

impl ToolSchemas {
    /// Compiles every tool's schema; fails on an invalid schema or a duplicate name.
    pub fn compile(entries: Vec<ToolCatalogEntry>) -> Result<Self, ParserError> {
        let mut tools: Vec<CompiledTool> = Vec::with_capacity(entries.len());
        for entry in entries {
            if tools.iter().any(|t| t.entry.name == entry.name) {
                return Err(ParserError::DuplicateTool(entry.name));
            }
            let validator = jsonschema::validator_for(&entry.args_schema).map_err(|e| {
                ParserError::InvalidToolSchema {
                    tool: entry.name.clone(),
                    message: e.to_string(),
                }
            })?;
            tools.push(CompiledTool { entry, validator });
        }
        let specs = tools
            .iter()
            .map(|t| ToolSpec {
                name: t.entry.name.clone(),
                description: t.entry.description.clone(),
                parameters: t.entry.args_schema.clone(),
            })
            .collect();
        Ok(Self { tools, specs })
    }

    /// The entry of tool `name`.
    pub fn get(&self, name: &str) -> Option<&ToolCatalogEntry> {
        self.tools
            .iter()
            .find(|t| t.entry.name == name)
            .map(|t| &t.entry)
    }

    /// Every tool name, in catalog order.
    pub fn names(&self) -> Vec<String> {
        self.tools.iter().map(|t| t.entry.name.clone()).collect()
    }

    /// The specs to offer the model.
    pub fn specs(&self) -> Arc<[ToolSpec]> {
        self.specs.clone()
    }

    /// Checks one call; `truncated` says the response hit the output-token limit.
    pub fn check_call(&self, call: &ToolCall, truncated: bool) -> ParsedCall {
        let invalid = |reason| {
            ParsedCall::Invalid(InvalidCall {
                call_id: call.id.clone(),
                name: call.name.clone(),
                reason,
            })
        };
        if let Some(dropped) = call.dropped {
            return invalid(InvalidReason::TooLarge {
                size_bytes: dropped.size_bytes,
                limit_bytes: dropped.limit_bytes,
            });
        }
        let Some(tool) = self.tools.iter().find(|t| t.entry.name == call.name) else {
            return invalid(InvalidReason::UnknownTool {
                known: self.names(),
            });
        };
        // Some models send "" for a tool without parameters.
        let raw = if call.arguments.trim().is_empty() && !truncated {
            "{}"
        } else {
            &*call.arguments
        };
        let arguments: serde_json::Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(_) if truncated => return invalid(InvalidReason::Truncated),
            Err(e) => {
                return invalid(InvalidReason::InvalidJson {
                    error: e.to_string(),
                });
            }
        };
        if !arguments.is_object() {
            let given = match &arguments {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                _ => "null",
            };
            return invalid(InvalidReason::NotAnObject {
                given: given.into(),
            });
        }
        let errors: Vec<SchemaError> = tool
            .validator
            .iter_errors(&arguments)
            .take(MAX_SCHEMA_ERRORS)
            .map(|e| SchemaError {
                path: cut_chars(&e.instance_path().to_string(), MAX_SCHEMA_MESSAGE_CHARS),
                schema_path: e.schema_path().to_string(),
                message: cut_chars(&e.to_string(), MAX_SCHEMA_MESSAGE_CHARS),
            })
            .collect();
        if !errors.is_empty() {
            return invalid(InvalidReason::SchemaViolation { errors });
        }
        ParsedCall::Valid(ValidCall {
            call_id: call.id.clone(),
            name: call.name.clone(),
            arguments,
        })
    }

    /// Parses a whole response.
    pub fn parse(&self, response: &ChatResponse) -> Parsed {
        let text = response.text.clone().filter(|t| !t.trim().is_empty());
        if let Some(message) = &response.refusal {
            return Parsed::Refusal {
                message: message.clone(),
            };
        }
        if response.finish_reason == FinishReason::ContentFilter {
            return Parsed::ContentFiltered { text };
        }
        let truncated = response.finish_reason == FinishReason::Length;
        if !response.tool_calls.is_empty() {
            let calls = response
                .tool_calls
                .iter()
                .map(|c| self.check_call(c, truncated))
                .collect();
            return Parsed::ToolCalls { text, calls };
        }
        match text {
            Some(text) => Parsed::Final { text, truncated },
            None => Parsed::Empty {
                finish_reason: response.finish_reason.clone(),
            },
        }
    }
}
