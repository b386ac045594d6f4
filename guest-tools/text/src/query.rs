//! `json_query`: runs a JSONPath query (RFC 9535) over a JSON document.
//!
//! Invariant: a document that is not JSON or a query that is not JSONPath is `invalid-args`
//! with the parser's explanation; at most `max_matches` matches are returned, in document order,
//! each with its normalized path.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json_path::JsonPath;
use warden_tool::{ToolError, tool};

/// Largest `max_matches` accepted.
const MATCH_LIMIT: usize = 10_000;

fn default_max_matches() -> usize {
    100
}

/// Arguments of `json_query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonQueryArgs {
    /// The JSON document, as JSON text.
    pub document: String,
    /// A JSONPath query (RFC 9535), e.g. `$.store.book[?@.price < 10].title` or `$..id`.
    pub query: String,
    /// Most matches to return (1 to 10000, default 100).
    #[serde(default = "default_max_matches")]
    pub max_matches: usize,
}

/// One node the query selected.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct JsonMatch {
    /// Where the node is, as an RFC 9535 normalized path such as `$['store']['book'][0]`.
    pub path: String,
    /// The node's value.
    pub value: Value,
}

/// Output of `json_query`.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct JsonQueryOutput {
    /// The selected nodes, in document order.
    pub matches: Vec<JsonMatch>,
    /// How many nodes the query selected in all.
    pub total: usize,
    /// True when `total` is more than the matches returned.
    pub truncated: bool,
}

/// Selects parts of a JSON document with a JSONPath query (RFC 9535) and returns each
/// selected value with its path.
///
/// Syntax: `$` is the root, `.name` or `['name']` a member, `[0]`, `[-1]`, `[1:3]` array
/// elements, `*` all children, `..name` descendants, `[?@.price < 10]` a filter (with `&&`,
/// `||`, `!`, and the functions length(), count() and value(); match() and search() are not
/// available: select the strings and use `regex_search`).
#[tool(output)]
pub fn json_query(args: JsonQueryArgs) -> Result<JsonQueryOutput, ToolError> {
    if args.max_matches == 0 || args.max_matches > MATCH_LIMIT {
        return Err(ToolError::invalid_args(format!(
            "max_matches must be from 1 to {MATCH_LIMIT}, got {}",
            args.max_matches
        )));
    }
    let document: Value = serde_json::from_str(&args.document)
        .map_err(|e| ToolError::invalid_args(format!("`document` is not valid JSON: {e}")))?;
    let path = JsonPath::parse(&args.query).map_err(|e| {
        let mut message = format!("`query` is not a valid JSONPath (RFC 9535) query: {e}");
        if args.query.contains("match(") || args.query.contains("search(") {
            message.push_str("; match() and search() are not supported here: select the strings and use regex_search");
        }
        ToolError::invalid_args(message)
    })?;
    let located = path.query_located(&document);
    let total = located.len();
    let matches = located
        .into_iter()
        .take(args.max_matches)
        .map(|node| JsonMatch {
            path: node.location().to_string(),
            value: node.node().clone(),
        })
        .collect();
    Ok(JsonQueryOutput {
        matches,
        total,
        truncated: total > args.max_matches,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const STORE: &str = r#"{"store": {"book": [
        {"title": "Sayings", "price": 8.95},
        {"title": "Sword", "price": 12.99},
        {"title": "Moby Dick", "price": 8.99, "isbn": "0-553"}
    ]}}"#;

    fn query(q: &str, max_matches: usize) -> Result<JsonQueryOutput, ToolError> {
        json_query(JsonQueryArgs {
            document: STORE.into(),
            query: q.into(),
            max_matches,
        })
    }

    #[test]
    fn a_filter_selects_values_with_their_paths() {
        let out = query("$.store.book[?@.price < 10].title", 100).unwrap();
        assert_eq!(
            out.matches,
            vec![
                JsonMatch {
                    path: "$['store']['book'][0]['title']".into(),
                    value: json!("Sayings")
                },
                JsonMatch {
                    path: "$['store']['book'][2]['title']".into(),
                    value: json!("Moby Dick")
                },
            ]
        );
        assert_eq!((out.total, out.truncated), (2, false));
    }

    #[test]
    fn descendants_and_functions_work() {
        assert_eq!(
            query("$..isbn", 100).unwrap().matches[0].value,
            json!("0-553")
        );
        let out = query("$.store[?length(@) == 3]", 100).unwrap();
        assert_eq!(out.total, 1);
        let out = query("$.store.book[?count(@.*) == 2].price", 100).unwrap();
        assert_eq!(
            out.matches
                .iter()
                .map(|m| m.value.clone())
                .collect::<Vec<_>>(),
            vec![json!(8.95), json!(12.99)]
        );
    }

    #[test]
    fn regex_functions_are_refused_with_a_way_out() {
        let err = query(r#"$.store.book[?match(@.title, "S.*")]"#, 100).unwrap_err();
        assert!(
            matches!(&err, ToolError::InvalidArgs(m) if m.contains("use regex_search")),
            "{err:?}"
        );
    }

    #[test]
    fn max_matches_truncates_and_reports_the_total() {
        let out = query("$.store.book[*].price", 1).unwrap();
        assert_eq!(out.matches.len(), 1);
        assert_eq!((out.total, out.truncated), (3, true));
    }

    #[test]
    fn no_match_is_an_empty_list_not_an_error() {
        let out = query("$.nothing", 100).unwrap();
        assert!(out.matches.is_empty());
        assert_eq!(out.total, 0);
    }

    #[test]
    fn an_invalid_query_is_invalid_args() {
        let err = query("$.store[", 100).unwrap_err();
        assert!(
            matches!(&err, ToolError::InvalidArgs(m) if m.contains("not a valid JSONPath")),
            "{err:?}"
        );
    }

    #[test]
    fn an_invalid_document_is_invalid_args_with_the_position() {
        let err = json_query(JsonQueryArgs {
            document: "{\"a\": }".into(),
            query: "$".into(),
            max_matches: 10,
        })
        .unwrap_err();
        assert!(
            matches!(&err, ToolError::InvalidArgs(m) if m.contains("not valid JSON") && m.contains("column 7")),
            "{err:?}"
        );
    }
}
