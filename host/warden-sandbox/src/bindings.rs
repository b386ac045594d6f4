//! The one place that generates the host-side bindings of the WIT tool world
//! (`wit/tool.wit`, world `warden:tool/toolbox`).
//!
//! Exports are async (the call runs under epoch yields and a timeout); the `host` imports are
//! plain synchronous functions that never trap: logging and config lookups cannot fail.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "warden:tool/toolbox",
    exports: { default: async },
});

pub use self::exports::warden::tool::tool::{
    ToolError as GuestToolError, ToolInfo as GuestToolInfo,
};
pub use self::warden::tool::host::{Host, LogLevel};
