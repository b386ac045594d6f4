//! `text_stats`: counts like `wc`, for text the model has in hand.
//!
//! Invariant: counts are exact and never fail; `lines` does not count an empty line after a
//! final newline (as `str::lines` and editors do).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_tool::{ToolError, tool};

/// Arguments of `text_stats`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsArgs {
    /// The text to measure.
    pub text: String,
}

/// Output of `text_stats`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Stats {
    /// Lines of text (a final newline does not start a new line).
    pub lines: usize,
    /// Lines holding only whitespace.
    pub blank_lines: usize,
    /// Whitespace-separated words.
    pub words: usize,
    /// Unicode scalar values (what most languages call characters).
    pub chars: usize,
    /// Bytes of UTF-8.
    pub bytes: usize,
}

/// Counts the lines, blank lines, words, characters and UTF-8 bytes of a text.
///
/// Use it instead of counting by eye, e.g. to check a length limit.
#[tool(output)]
pub fn text_stats(args: StatsArgs) -> Result<Stats, ToolError> {
    Ok(measure(&args.text))
}

/// The statistics of `text`.
pub fn measure(text: &str) -> Stats {
    let mut stats = Stats {
        lines: 0,
        blank_lines: 0,
        words: 0,
        chars: text.chars().count(),
        bytes: text.len(),
    };
    for line in text.lines() {
        stats.lines += 1;
        if line.trim().is_empty() {
            stats.blank_lines += 1;
        }
        stats.words += line.split_whitespace().count();
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_words_chars_and_bytes() {
        let s = measure("hello world\n\n  déjà vu \n");
        assert_eq!(
            s,
            Stats {
                lines: 3,
                blank_lines: 1,
                words: 4,
                chars: 24,
                bytes: 26
            }
        );
    }

    #[test]
    fn a_last_line_without_newline_counts() {
        assert_eq!(measure("a\nb").lines, 2);
        assert_eq!(measure("a\r\nb\r\n").lines, 2);
    }

    #[test]
    fn empty_text_is_all_zero() {
        assert_eq!(
            measure(""),
            Stats {
                lines: 0,
                blank_lines: 0,
                words: 0,
                chars: 0,
                bytes: 0
            }
        );
    }
}
