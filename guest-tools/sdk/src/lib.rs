//! The SDK for warden tools written in Rust.
//!
//! A tool is a plain function marked `#[warden_tool::tool]`; `warden_tool::export_tools!` turns
//! a list of them into one component exporting the `warden:tool/tool` interface. The SDK owns
//! the WIT bindings of the `toolbox` world, so a tool crate never depends on `wit-bindgen`.
//! Invariant: everything a tool author must touch is re-exported here; `__rt` is the hidden
//! plumbing the macros generate calls into and is not a stable API.

extern crate self as warden_tool;

#[doc(hidden)]
pub mod __rt;
mod config;
mod error;
pub mod log;

pub use config::{IDEMPOTENCY_KEY_CONFIG, config, config_keys, idempotency_key};
pub use error::{Context, ToolError};
pub use warden_tool_macros::{args, output, tool};
pub use {schemars, serde, serde_json};

/// The generated bindings of `wit/tool.wit`, world `warden:tool/toolbox`.
///
/// Tool authors rarely need these: `export_tools!` implements the exported interface and the
/// `log` and `config` helpers wrap the imports.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "warden:tool/toolbox",
        pub_export_macro: true,
        export_macro_name: "__export_toolbox",
        default_bindings_module: "warden_tool::bindings",
        runtime_path: "warden_tool::__rt::wit_bindgen_rt::rt",
    });
}

/// What `#[tool]` implements for each tool function, on a unit struct of the function's name.
///
/// Functions and types live in different namespaces, so `fn word_count` and the generated
/// `struct word_count` coexist; `export_tools!(word_count)` names the struct.
pub trait Tool {
    /// The tool's name as the model sees it (checked against `^[a-zA-Z0-9_-]{1,64}$`).
    const NAME: &'static str;
    /// Name, description and schemas of the tool.
    fn info() -> ToolInfo;
    /// Deserializes `args_json`, runs the function and serializes its output.
    fn invoke(args_json: &str) -> Result<String, ToolError>;
}

/// What `describe` reports for one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    /// The tool's name.
    pub name: String,
    /// The description shown to the model (the function's doc comment).
    pub description: String,
    /// JSON Schema of the arguments, as JSON text.
    pub args_schema: String,
    /// JSON Schema of the output, as JSON text, when the tool declares one (`#[tool(output)]`).
    pub output_schema: Option<String>,
}

/// Exports the listed `#[tool]` functions as this crate's component.
///
/// Use it once per crate, at the crate root:
/// `warden_tool::export_tools!(word_count, regex_search);`. Two tools with the same name are a
/// compile error.
#[macro_export]
macro_rules! export_tools {
    ($($tool:path),+ $(,)?) => {
        const _: () = $crate::__rt::assert_unique_names(&[$(<$tool as $crate::Tool>::NAME),+]);

        #[doc(hidden)]
        struct __WardenToolbox;

        impl __WardenToolbox {
            const TOOLS: &'static [$crate::__rt::Entry] = &[$($crate::__rt::Entry::of::<$tool>()),+];
        }

        impl $crate::bindings::exports::warden::tool::tool::Guest for __WardenToolbox {
            fn describe() -> ::std::vec::Vec<$crate::bindings::exports::warden::tool::tool::ToolInfo> {
                $crate::__rt::describe(Self::TOOLS)
            }

            fn invoke(
                name: ::std::string::String,
                args_json: ::std::string::String,
            ) -> ::std::result::Result<
                ::std::string::String,
                $crate::bindings::exports::warden::tool::tool::ToolError,
            > {
                $crate::__rt::invoke(Self::TOOLS, &name, &args_json)
            }
        }

        $crate::bindings::__export_toolbox!(__WardenToolbox with_types_in $crate::bindings);
    };
}
