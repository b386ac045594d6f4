//! Attacks on the host's lifting of guest strings: an output, an error message or a log line
//! that is not valid UTF-8 (a stray byte, or a lone surrogate encoded as UTF-8), handed over
//! through the canonical ABI as a `string` that Rust's type system believes is valid.

use serde_json::Value;

use crate::exports::warden::tool::tool::ToolError;
use crate::warden::tool::host::{LogLevel, log};

/// A string whose bytes are not UTF-8: `kind` is `byte` (a 0xFF) or `surrogate` (U+D800
/// encoded as the three bytes ED A0 80, which UTF-8 forbids).
fn bad_string(kind: &str) -> Result<String, ToolError> {
    let bytes: &[u8] = match kind {
        "byte" => b"{\"text\":\"\xff\"}",
        "surrogate" => b"{\"text\":\"\xed\xa0\x80\"}",
        other => {
            return Err(ToolError::InvalidArgs(format!(
                "`kind` must be byte or surrogate, got {other:?}"
            )));
        }
    };
    // SAFETY: deliberately not UTF-8. The string is only handed to the bindings, which pass
    // its pointer and length to the host without looking at the bytes; nothing in this guest
    // reads it as text.
    Ok(unsafe { String::from_utf8_unchecked(bytes.to_vec()) })
}

/// Returns, fails with, or logs a string that is not UTF-8; `where` is `output`, `error` or
/// `log` (which then returns a valid output).
pub(crate) fn bad_utf8(args: &Value) -> Result<String, ToolError> {
    let arg = |key: &str| {
        args.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| ToolError::InvalidArgs(format!("`{key}` must be a string")))
    };
    let text = bad_string(arg("kind")?)?;
    match arg("where")? {
        "output" => Ok(text),
        "error" => Err(ToolError::Failed(text)),
        "log" => {
            log(LogLevel::Info, &text);
            Ok("{\"logged\":true}".to_string())
        }
        other => Err(ToolError::InvalidArgs(format!(
            "`where` must be output, error or log, got {other:?}"
        ))),
    }
}
