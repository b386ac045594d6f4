//! A test-only tool component whose `describe()` traps. The host runs `describe` once at
//! load time, so this component proves that a crash there becomes a typed load error.

wit_bindgen::generate!({
    path: "../../wit",
    world: "warden:tool/toolbox",
});

use exports::warden::tool::tool::{Guest, ToolError, ToolInfo};

struct BadDescribe;

impl Guest for BadDescribe {
    fn describe() -> Vec<ToolInfo> {
        panic!("describe crashed on purpose")
    }

    fn invoke(name: String, _args_json: String) -> Result<String, ToolError> {
        Err(ToolError::UnknownTool(name))
    }
}

export!(BadDescribe);
