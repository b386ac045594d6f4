//! The text tool pack: `text_stats`, `regex_search` and `json_query`, three pure functions
//! over text the model passes in.
//!
//! Invariant: no tool here imports anything beyond what the SDK links; each module holds one
//! tool and its tests. (A module must not share its name with a tool: `#[tool]` defines a
//! struct of the tool's name, which lives in the same namespace as modules.)

mod query;
mod search;
mod stats;

pub use query::json_query;
pub use search::regex_search;
pub use stats::text_stats;

warden_tool::export_tools!(text_stats, regex_search, json_query);
