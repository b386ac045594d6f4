//! `regex_search`: finds the matches of a regular expression in a text, with line numbers.
//!
//! Invariant: at most `max_matches` matches are returned and `truncated` says whether there
//! were more; an invalid pattern is `invalid-args` carrying the regex crate's explanation.

use regex::RegexBuilder;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_tool::{ToolError, tool};

/// Largest `max_matches` accepted.
const MATCH_LIMIT: usize = 10_000;
/// Compiled-pattern size limit, so a pattern like `\w{1000}{1000}` fails fast with a message.
const PATTERN_SIZE_LIMIT: usize = 2 << 20;

fn default_max_matches() -> usize {
    100
}

/// Arguments of `regex_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegexArgs {
    /// A regular expression in Rust `regex` syntax (like RE2/PCRE without look-around or
    /// back-references), e.g. `(?m)^fn (\w+)`.
    pub pattern: String,
    /// The text to search.
    pub text: String,
    /// Most matches to return (1 to 10000, default 100).
    #[serde(default = "default_max_matches")]
    pub max_matches: usize,
    /// Match letters regardless of case (default false).
    #[serde(default)]
    pub case_insensitive: bool,
}

/// One match.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Match {
    /// 1-based line where the match starts.
    pub line: usize,
    /// 1-based column (in characters) where the match starts on that line.
    pub column: usize,
    /// Byte offset of the start of the match in the text.
    pub start: usize,
    /// Byte offset just past the end of the match.
    pub end: usize,
    /// The matched text.
    pub text: String,
    /// The capture groups 1.., `null` for a group that did not take part (absent when the
    /// pattern has no groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Option<String>>,
}

/// Output of `regex_search`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct RegexOutput {
    /// The matches, in order.
    pub matches: Vec<Match>,
    /// True when the text holds more matches than `max_matches`.
    pub truncated: bool,
}

/// Searches a text for a regular expression and returns each match with its line, column,
/// byte span and capture groups.
///
/// Use `(?m)` for `^`/`$` at line boundaries and `(?s)` for `.` to match newlines.
#[tool(output)]
pub fn regex_search(args: RegexArgs) -> Result<RegexOutput, ToolError> {
    if args.max_matches == 0 || args.max_matches > MATCH_LIMIT {
        return Err(ToolError::invalid_args(format!(
            "max_matches must be from 1 to {MATCH_LIMIT}, got {}",
            args.max_matches
        )));
    }
    let regex = RegexBuilder::new(&args.pattern)
        .case_insensitive(args.case_insensitive)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| ToolError::invalid_args(format!("invalid regular expression: {e}")))?;
    let lines = LineIndex::new(&args.text);
    let mut matches = Vec::new();
    let mut truncated = false;
    for captures in regex.captures_iter(&args.text) {
        if matches.len() == args.max_matches {
            truncated = true;
            break;
        }
        let Some(whole) = captures.get(0) else {
            continue;
        };
        let (line, column) = lines.locate(&args.text, whole.start());
        let groups = captures
            .iter()
            .skip(1)
            .map(|g| g.map(|g| g.as_str().to_string()))
            .collect();
        matches.push(Match {
            line,
            column,
            start: whole.start(),
            end: whole.end(),
            text: whole.as_str().to_string(),
            groups,
        });
    }
    Ok(RegexOutput { matches, truncated })
}

/// Byte offsets where each line starts, to turn a byte offset into line and column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based (line, column in chars) of byte `offset`.
    fn locate(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line - 1];
        let column = text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn search(pattern: &str, text: &str, max_matches: usize) -> Result<RegexOutput, ToolError> {
        regex_search(RegexArgs {
            pattern: pattern.into(),
            text: text.into(),
            max_matches,
            case_insensitive: false,
        })
    }

    #[test]
    fn matches_carry_line_column_span_and_groups() {
        let out = search(
            r"(?m)^fn (\w+)",
            "use x;\nfn main() {}\n  fn no() {}\nfn hé() {}",
            10,
        )
        .unwrap();
        assert!(!out.truncated);
        assert_eq!(
            out.matches,
            vec![
                Match {
                    line: 2,
                    column: 1,
                    start: 7,
                    end: 14,
                    text: "fn main".into(),
                    groups: vec![Some("main".into())]
                },
                Match {
                    line: 4,
                    column: 1,
                    start: 33,
                    end: 39,
                    text: "fn hé".into(),
                    groups: vec![Some("hé".into())]
                },
            ]
        );
    }

    #[test]
    fn columns_count_characters() {
        let out = search("x", "ééx", 10).unwrap();
        assert_eq!(
            (
                out.matches[0].line,
                out.matches[0].column,
                out.matches[0].start
            ),
            (1, 3, 4)
        );
    }

    #[test]
    fn optional_groups_that_did_not_match_are_null() {
        let out = search(r"a(b)?", "a", 10).unwrap();
        assert_eq!(out.matches[0].groups, vec![None]);
    }

    #[test]
    fn max_matches_truncates_and_says_so() {
        let out = search(r"\d", "1 2 3 4", 2).unwrap();
        assert_eq!(out.matches.len(), 2);
        assert!(out.truncated);
        let out = search(r"\d", "1 2", 2).unwrap();
        assert!(!out.truncated);
    }

    #[test]
    fn case_insensitive_matching() {
        let out = regex_search(RegexArgs {
            pattern: "error".into(),
            text: "Error ERROR error".into(),
            max_matches: 10,
            case_insensitive: true,
        })
        .unwrap();
        assert_eq!(out.matches.len(), 3);
    }

    #[test]
    fn an_invalid_pattern_is_invalid_args_with_the_regex_error() {
        let err = search("a(b", "ab", 10).unwrap_err();
        assert!(
            matches!(&err, ToolError::InvalidArgs(m) if m.starts_with("invalid regular expression") && m.contains("unclosed group")),
            "{err:?}"
        );
    }

    #[test]
    fn max_matches_out_of_range_is_invalid_args() {
        assert!(
            matches!(search("a", "a", 0).unwrap_err(), ToolError::InvalidArgs(m) if m.contains("from 1 to 10000"))
        );
    }

    #[test]
    fn a_pattern_too_big_to_compile_is_refused() {
        let err = search(r"\w{1000}{1000}", "a", 10).unwrap_err();
        assert!(matches!(err, ToolError::InvalidArgs(m) if m.contains("size limit")));
    }
}
