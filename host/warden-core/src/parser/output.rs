//! Structured final output: the answer must be JSON valid against the agent's schema.
//!
//! Invariant: `check` returns `Ok` only for a value the schema accepts; its `Err` text is
//! written for the model (what was wrong, where), since it is sent back as feedback.

use super::ParserError;

/// A compiled output schema.
pub struct OutputSchema {
    schema: serde_json::Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for OutputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSchema")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl OutputSchema {
    /// Compiles `schema`.
    pub fn compile(schema: serde_json::Value) -> Result<Self, ParserError> {
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| ParserError::InvalidOutputSchema(e.to_string()))?;
        Ok(Self { schema, validator })
    }

    /// The schema as given.
    pub fn schema(&self) -> &serde_json::Value {
        &self.schema
    }

    /// Parses `text` (a bare JSON value, or one inside a ```json fence) and validates it.
    pub fn check(&self, text: &str) -> Result<serde_json::Value, String> {
        let body = strip_fence(text);
        let value: serde_json::Value = serde_json::from_str(body).map_err(|e| {
            format!("your answer is not valid JSON ({e}); answer with the JSON value only")
        })?;
        let problems: Vec<String> = self
            .validator
            .iter_errors(&value)
            .take(5)
            .map(|e| {
                let path = e.instance_path().to_string();
                format!(
                    "at `{}`: {e}",
                    if path.is_empty() { "/" } else { path.as_str() }
                )
            })
            .collect();
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(format!(
                "your answer does not match the required schema: {}",
                problems.join("; ")
            ))
        }
    }

    /// The instruction appended to the system prompt so the model knows the format.
    pub fn instruction(&self) -> String {
        format!(
            "When you give your final answer, answer with a single JSON value (no prose) valid against this JSON Schema:\n{}",
            self.schema
        )
    }
}

/// The content of a Markdown code fence around the whole text, or the trimmed text.
fn strip_fence(text: &str) -> &str {
    let trimmed = text.trim();
    if let Some(rest) = trimmed.strip_prefix("```")
        && let Some(body) = rest.strip_suffix("```")
    {
        // Skip the language tag line (```json).
        return body.split_once('\n').map_or(body, |(_, b)| b).trim();
    }
    trimmed
}
