//! warden-wit: plain typed WIT functions as tools. It reads a component's type (which
//! functions it exports and with which WIT types), derives tool names valid for LLM
//! providers, a JSON Schema per tool, reads JSON arguments into component values and
//! writes results back as JSON — all with ONE mapping (`schema.rs` has the table), so the
//! schema a model sees, the arguments warden accepts and the output it returns agree.
//!
//! ```text
//! discover(&engine, &component, docs) -> Discovered { tools: [TypedTool], skipped }
//! tool.sig.args_schema() / output_schema()      JSON Schema, described from type docs
//! tool.sig.read_args(&json) -> Vec<Val>         before any instance exists
//! tool.sig.returned(&results) -> Returned       Output(json) | ToolError(message)
//! ```
//!
//! Why a crate of its own that `warden-sandbox` depends on (and not the other way round):
//! the conversion is pure — it needs wasmtime's *types* and values but no store, instance
//! or policy — so it is tested without a sandbox (the property test in `tests/`), while the
//! sandbox keeps sole ownership of instantiating and running components, and a typed call
//! gets every limit a `warden:tool` call has without a second execution path in another
//! crate. It depends on no warden crate, so the sandbox stays free of the runtime.

#![deny(missing_docs)]

mod discover;
pub mod docs;
mod from_wit;
mod func;
mod names;
mod read;
mod schema;
mod ty;
mod typedoc;
mod write;

pub use discover::{DiscoverError, Discovered, Skipped, TypedTool, discover};
pub use from_wit::{MAX_WIT_BYTES, WitDocsError};
pub use func::{FuncSig, Returned};
pub use names::{MAX_NAME_LEN, interface_short_name, tool_name};
pub use read::{ReadError, read};
pub use schema::{schema, schema_doc};
pub use ty::{Unsupported, WitType};
pub use typedoc::{SigDocs, TypeDoc};
pub use write::{WriteError, write};
