//! `ToolError`: why a tool call produced no output, in words the model can act on.
//!
//! Invariant: like `anyhow::Error`, `ToolError` deliberately does not implement
//! `std::error::Error`, so that `?` converts *any* error into `ToolError::Failed` with its
//! message and the chain of its sources.

use std::fmt;

/// Why a tool call did not produce an output. The message is shown to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments do not fit what the tool needs (say which and what to send instead).
    InvalidArgs(String),
    /// The tool ran but could not do what was asked (say why and what could help).
    Failed(String),
}

impl ToolError {
    /// An `InvalidArgs` error with `message`.
    pub fn invalid_args(message: impl Into<String>) -> Self {
        ToolError::InvalidArgs(message.into())
    }

    /// A `Failed` error with `message`.
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::Failed(message.into())
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            ToolError::InvalidArgs(m) | ToolError::Failed(m) => m,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolError::InvalidArgs(m) => write!(f, "invalid arguments: {m}"),
            ToolError::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl<E: std::error::Error> From<E> for ToolError {
    fn from(error: E) -> Self {
        ToolError::Failed(with_sources(&error))
    }
}

/// `error`'s message followed by its sources, `": "`-separated, skipping repeats.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Adds what the tool was doing to an error, like `anyhow::Context`.
pub trait Context<T> {
    /// On error, a `Failed` whose message is `"{what}: {error}"`.
    fn context(self, what: impl fmt::Display) -> Result<T, ToolError>;
    /// On error, an `InvalidArgs` whose message is `"{what}: {error}"`.
    fn invalid_args(self, what: impl fmt::Display) -> Result<T, ToolError>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T, ToolError> {
        self.map_err(|e| ToolError::Failed(format!("{what}: {e}")))
    }

    fn invalid_args(self, what: impl fmt::Display) -> Result<T, ToolError> {
        self.map_err(|e| ToolError::InvalidArgs(format!("{what}: {e}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_turns_any_error_into_failed_with_its_message() {
        fn parse(s: &str) -> Result<i32, ToolError> {
            Ok(s.parse::<i32>()?)
        }
        assert_eq!(
            parse("x").unwrap_err(),
            ToolError::Failed("invalid digit found in string".into())
        );
    }

    #[test]
    fn the_source_chain_is_part_of_the_message() {
        let inner = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let outer = std::io::Error::other(Wrapped(inner));
        let err = ToolError::from(outer);
        assert_eq!(err.message(), "reading notes: no such file");
    }

    #[test]
    fn context_prefixes_what_the_tool_was_doing() {
        let r: Result<(), &str> = Err("boom");
        assert_eq!(
            r.context("writing out.txt").unwrap_err(),
            ToolError::Failed("writing out.txt: boom".into())
        );
        let r: Result<(), &str> = Err("not a number");
        assert_eq!(
            r.invalid_args("field `n`").unwrap_err(),
            ToolError::InvalidArgs("field `n`: not a number".into())
        );
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading notes")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
