//! A test-only component built against the tool world as it was before
//! `host.idempotency-key` was added (`wit/tool.wit` beside this crate is a frozen copy of
//! that text; never update it). It stands for every component built before the change: the
//! host must still instantiate it, and it reads the call's idempotency key the old way,
//! through `get-config("warden.idempotency-key")`.

wit_bindgen::generate!({
    path: "wit",
    world: "warden:tool/toolbox",
});

use exports::warden::tool::tool::{Guest, ToolError, ToolInfo};
use warden::tool::host::get_config;

struct PrevWit;

impl Guest for PrevWit {
    fn describe() -> Vec<ToolInfo> {
        vec![ToolInfo {
            name: "old_key".into(),
            description: "Returns the call's idempotency key read through get-config.".into(),
            args_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
        }]
    }

    fn invoke(name: String, _args: String) -> Result<String, ToolError> {
        if name != "old_key" {
            return Err(ToolError::UnknownTool(name));
        }
        Ok(match get_config("warden.idempotency-key") {
            Some(key) => format!("{{\"key\":\"{}\"}}", json_escaped(&key)),
            None => "{\"key\":null}".into(),
        })
    }
}

/// `text` as the inside of a JSON string.
fn json_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

export!(PrevWit);
