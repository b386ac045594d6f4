//! Request validation as strict as the real APIs, with their error wording.
//!
//! Invariant: a request that the real provider would refuse is refused here with 400 and
//! a message naming the offending field; a valid one yields what the script needs.

use std::collections::HashSet;

use serde_json::Value;

use crate::script::Conversation;

/// What a valid request tells the mock.
pub struct Parsed<'a> {
    pub model: &'a str,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage` (Anthropic always reports usage).
    pub include_usage: bool,
    pub conversation: Conversation<'a>,
}

/// Why a request is invalid, and which parameter (OpenAI's `param`).
#[derive(Debug)]
pub struct Invalid {
    pub message: String,
    pub param: Option<String>,
}

fn invalid(message: impl Into<String>, param: impl Into<Option<String>>) -> Invalid {
    Invalid {
        message: message.into(),
        param: param.into(),
    }
}

fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn text_of(content: &Value) -> &str {
    match content {
        Value::String(s) => s,
        Value::Array(blocks) => blocks
            .iter()
            .rev()
            .find_map(|b| b.get("text").and_then(Value::as_str))
            .unwrap_or(""),
        _ => "",
    }
}

/// Validates an OpenAI Chat Completions request.
pub fn openai(body: &Value) -> Result<Parsed<'_>, Invalid> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            invalid(
                "you must provide a model parameter",
                Some("model".to_string()),
            )
        })?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            invalid(
                "Missing required parameter: 'messages'.",
                Some("messages".to_string()),
            )
        })?;
    if messages.is_empty() {
        return Err(invalid(
            "[] is too short - 'messages'",
            Some("messages".to_string()),
        ));
    }
    let tools = openai_tools(body)?;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if body.get("stream_options").is_some_and(|v| !v.is_null()) && !stream {
        return Err(invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options".to_string()),
        ));
    }
    for field in ["max_tokens", "max_completion_tokens"] {
        if let Some(v) = body.get(field).filter(|v| !v.is_null())
            && v.as_u64().is_none_or(|n| n == 0)
        {
            return Err(invalid(
                format!("Invalid '{field}': integer below minimum value. Expected a value >= 1."),
                Some(field.to_string()),
            ));
        }
    }
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut pending: Vec<&str> = Vec::new(); // tool calls of the last assistant message not answered yet
    let mut answerable: HashSet<&str> = HashSet::new();
    let mut assistant_turns = 0;
    let mut last_input = "";
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "tool" && !pending.is_empty() {
            return Err(unanswered(&pending, i));
        }
        match role {
            "system" | "developer" | "user" => {
                let content = m.get("content").filter(|c| c.is_string() || c.is_array()).ok_or_else(|| {
                    invalid(format!("Invalid type for 'messages[{i}].content': expected one of a string or array of objects."), Some(format!("messages.[{i}].content")))
                })?;
                if role == "user" {
                    last_input = text_of(content);
                }
                answerable.clear();
            }
            "assistant" => {
                assistant_turns += 1;
                answerable.clear();
                let calls = m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let content = m.get("content").unwrap_or(&Value::Null);
                if calls.is_empty() && content.is_null() {
                    return Err(invalid(
                        "Invalid value for 'content': expected a string, got null.".to_string(),
                        Some(format!("messages.[{i}].content")),
                    ));
                }
                for (j, c) in calls.iter().enumerate() {
                    let id = c.get("id").and_then(Value::as_str);
                    let name = c.pointer("/function/name").and_then(Value::as_str);
                    let args = c.pointer("/function/arguments").and_then(Value::as_str);
                    let (Some(id), Some(_), Some(_)) = (id, name, args) else {
                        return Err(invalid(
                            format!(
                                "Missing required parameter: 'messages[{i}].tool_calls[{j}]' needs id, function.name and function.arguments (a string)."
                            ),
                            Some(format!("messages.[{i}].tool_calls.[{j}]")),
                        ));
                    };
                    pending.push(id);
                    answerable.insert(id);
                }
            }
            "tool" => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(
                            format!("Missing required parameter: 'messages[{i}].tool_call_id'."),
                            Some(format!("messages.[{i}].tool_call_id")),
                        )
                    })?;
                if !answerable.contains(id) {
                    return Err(invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                        Some(format!("messages.[{i}].role")),
                    ));
                }
                pending.retain(|p| *p != id);
                last_input = text_of(m.get("content").unwrap_or(&Value::Null));
            }
            other => {
                return Err(invalid(
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'function'."
                    ),
                    Some(format!("messages.[{i}].role")),
                ));
            }
        }
    }
    if !pending.is_empty() {
        return Err(unanswered(&pending, messages.len()));
    }
    if let Some(choice) = body.get("tool_choice").filter(|v| !v.is_null()) {
        if tools.is_none() {
            return Err(invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                Some("tool_choice".to_string()),
            ));
        }
        let ok = match choice {
            Value::String(s) => matches!(s.as_str(), "none" | "auto" | "required"),
            Value::Object(_) => choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .is_some_and(|n| tools.as_ref().is_some_and(|t| t.contains(n))),
            _ => false,
        };
        if !ok {
            return Err(invalid(
                "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a listed function.",
                Some("tool_choice".to_string()),
            ));
        }
    }
    if body
        .get("parallel_tool_calls")
        .is_some_and(|v| !v.is_null())
        && tools.is_none()
    {
        return Err(invalid(
            "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
            Some("parallel_tool_calls".to_string()),
        ));
    }
    Ok(Parsed {
        model,
        stream,
        include_usage,
        conversation: Conversation {
            assistant_turns,
            last_input,
            model,
        },
    })
}

fn unanswered(pending: &[&str], i: usize) -> Invalid {
    invalid(
        format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            pending.join(", ")
        ),
        Some(format!("messages.[{i}].role")),
    )
}

fn openai_tools(body: &Value) -> Result<Option<HashSet<&str>>, Invalid> {
    let Some(tools) = body.get("tools").filter(|t| !t.is_null()) else {
        return Ok(None);
    };
    let tools = tools.as_array().ok_or_else(|| {
        invalid(
            "Invalid type for 'tools': expected an array.",
            Some("tools".to_string()),
        )
    })?;
    if tools.is_empty() {
        return Err(invalid(
            "[] is too short - 'tools'",
            Some("tools".to_string()),
        ));
    }
    let mut names = HashSet::new();
    for (i, t) in tools.iter().enumerate() {
        if t.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(
                format!("Missing required parameter: 'tools[{i}].type'."),
                Some(format!("tools[{i}].type")),
            ));
        }
        let name = t
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !valid_tool_name(name) {
            return Err(invalid(
                format!(
                    "Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                ),
                Some(format!("tools[{i}].function.name")),
            ));
        }
        if t.pointer("/function/parameters")
            .is_some_and(|p| !p.is_object())
        {
            return Err(invalid(
                format!("Invalid type for 'tools[{i}].function.parameters': expected an object."),
                Some(format!("tools[{i}].function.parameters")),
            ));
        }
        names.insert(name);
    }
    Ok(Some(names))
}

/// Validates an Anthropic Messages request (headers are checked by the server).
pub fn anthropic(body: &Value) -> Result<Parsed<'_>, Invalid> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("model: Field required", None))?;
    match body.get("max_tokens").map(Value::as_u64) {
        None => return Err(invalid("max_tokens: Field required", None)),
        Some(None) | Some(Some(0)) => {
            return Err(invalid(
                "max_tokens: Input should be greater than or equal to 1",
                None,
            ));
        }
        Some(Some(_)) => {}
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages: Field required", None))?;
    if messages.is_empty() {
        return Err(invalid("messages: at least one message is required", None));
    }
    let tools = anthropic_tools(body)?;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let mut previous_tool_uses: Vec<&str> = Vec::new();
    let mut assistant_turns = 0;
    let mut last_input = "";
    let mut last_role = "";
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "user" | "assistant" => {}
            "system" => {
                return Err(invalid(
                    format!(
                        "messages.{i}: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role."
                    ),
                    None,
                ));
            }
            other => {
                return Err(invalid(
                    format!(
                        "messages.{i}.role: Input should be 'user' or 'assistant', got {other:?}"
                    ),
                    None,
                ));
            }
        }
        if i == 0 && role != "user" {
            return Err(invalid(
                "messages: first message must use the \"user\" role",
                None,
            ));
        }
        if role == last_role {
            return Err(invalid(
                format!(
                    "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row"
                ),
                None,
            ));
        }
        last_role = role;
        let is_last_assistant = role == "assistant" && i + 1 == messages.len();
        let trailing = |text: &str| {
            (is_last_assistant && text.ends_with(char::is_whitespace)).then(|| {
                invalid(
                    "messages: final assistant content cannot end with trailing whitespace",
                    None,
                )
            })
        };
        let blocks: Vec<&Value> = match m.get("content") {
            Some(Value::String(s)) => {
                if let Some(e) = trailing(s) {
                    return Err(e);
                }
                if s.is_empty() && !is_last_assistant {
                    return Err(invalid(
                        format!(
                            "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
                        ),
                        None,
                    ));
                }
                if role == "user" {
                    last_input = s;
                }
                Vec::new()
            }
            Some(Value::Array(a)) if !a.is_empty() => a.iter().collect(),
            _ => {
                return Err(invalid(
                    format!(
                        "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
                    ),
                    None,
                ));
            }
        };
        let mut tool_uses = Vec::new();
        let mut results = Vec::new();
        let mut seen_other = false;
        for (j, b) in blocks.iter().enumerate() {
            match b.get("type").and_then(Value::as_str).unwrap_or("") {
                "text" => {
                    let text = b.get("text").and_then(Value::as_str).unwrap_or("");
                    if text.is_empty() {
                        return Err(invalid(
                            format!(
                                "messages.{i}.content.{j}.text: text content blocks must be non-empty"
                            ),
                            None,
                        ));
                    }
                    if j + 1 == blocks.len()
                        && let Some(e) = trailing(text)
                    {
                        return Err(e);
                    }
                    if role == "user" {
                        last_input = text;
                    }
                    seen_other = true;
                }
                "tool_use" if role == "assistant" => {
                    let id = b.get("id").and_then(Value::as_str).unwrap_or("");
                    if id.is_empty()
                        || b.get("name").and_then(Value::as_str).is_none()
                        || !b.get("input").is_some_and(Value::is_object)
                    {
                        return Err(invalid(
                            format!(
                                "messages.{i}.content.{j}.tool_use: id, name and an object input are required"
                            ),
                            None,
                        ));
                    }
                    tool_uses.push(id);
                }
                "tool_result" if role == "user" => {
                    if seen_other {
                        return Err(invalid(
                            format!(
                                "messages.{i}: tool_result blocks must come first in the content array; text must come after them"
                            ),
                            None,
                        ));
                    }
                    let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                    if !previous_tool_uses.contains(&id) {
                        return Err(invalid(
                            format!(
                                "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                            ),
                            None,
                        ));
                    }
                    results.push(id);
                    last_input = text_of(b.get("content").unwrap_or(&Value::Null));
                }
                "thinking" | "redacted_thinking" | "image" | "document" => seen_other = true,
                other => {
                    return Err(invalid(
                        format!(
                            "messages.{i}.content.{j}: unexpected block type {other:?} in a {role} message"
                        ),
                        None,
                    ));
                }
            }
        }
        if role == "user" {
            let missing: Vec<&str> = previous_tool_uses
                .iter()
                .copied()
                .filter(|id| !results.contains(id))
                .collect();
            if !missing.is_empty() {
                return Err(invalid(
                    format!(
                        "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                        missing.join(", ")
                    ),
                    None,
                ));
            }
        } else {
            assistant_turns += 1;
        }
        previous_tool_uses = tool_uses;
    }
    if !previous_tool_uses.is_empty() {
        return Err(invalid(
            format!(
                "messages: the final assistant message has `tool_use` blocks without results: {}",
                previous_tool_uses.join(", ")
            ),
            None,
        ));
    }
    if let Some(choice) = body.get("tool_choice") {
        let ok = match choice.get("type").and_then(Value::as_str) {
            Some("auto" | "any" | "none") => true,
            Some("tool") => choice
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| tools.as_ref().is_some_and(|t| t.contains(n))),
            _ => false,
        };
        if !ok || tools.is_none() {
            return Err(invalid(
                "tool_choice: expected {\"type\": \"auto\" | \"any\" | \"none\" | \"tool\"} naming a listed tool, with tools given",
                None,
            ));
        }
    }
    if body
        .get("system")
        .is_some_and(|s| !(s.is_string() || s.is_array()))
    {
        return Err(invalid(
            "system: Input should be a valid string or list of text blocks",
            None,
        ));
    }
    Ok(Parsed {
        model,
        stream,
        include_usage: true,
        conversation: Conversation {
            assistant_turns,
            last_input,
            model,
        },
    })
}

fn anthropic_tools(body: &Value) -> Result<Option<HashSet<&str>>, Invalid> {
    let Some(tools) = body.get("tools") else {
        return Ok(None);
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| invalid("tools: Input should be a valid list", None))?;
    let mut names = HashSet::new();
    for (i, t) in tools.iter().enumerate() {
        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
        if !valid_tool_name(name) {
            return Err(invalid(
                format!(
                    "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                ),
                None,
            ));
        }
        if !t.get("input_schema").is_some_and(Value::is_object) {
            return Err(invalid(
                format!("tools.{i}.custom.input_schema: Field required"),
                None,
            ));
        }
        names.insert(name);
    }
    Ok(Some(names))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
