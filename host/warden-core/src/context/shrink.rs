//! Shrinking one oversized text (a tool output) to a token cap, keeping its head and tail.
//!
//! Invariant: a shrunk text is at most `cap` tokens by the counter given, keeps a prefix and
//! a suffix of the original verbatim, and says in a marker between them how much was cut.

use super::tokens::TokenCounter;

/// The marker put between head and tail; `{}` is the number of characters omitted.
pub fn marker(omitted_chars: usize) -> String {
    format!("\n[... {omitted_chars} characters omitted by warden to fit the context window ...]\n")
}

/// Returns `text` cut to at most `cap` tokens (head and tail kept, marker between), or
/// `None` if it already fits.
pub fn shrink_text(text: &str, cap: u64, counter: &TokenCounter) -> Option<String> {
    let tokens = counter.count_text(text);
    if tokens <= cap {
        return None;
    }
    let total_chars = text.chars().count();
    // Start from the share of characters the cap allows and tighten until it fits; ten
    // rounds of 20 % always reach an empty head and tail, which fits any cap ≥ the marker.
    let mut keep = (total_chars as u128 * u128::from(cap) / u128::from(tokens.max(1))) as usize;
    for _ in 0..12 {
        let head_chars = keep * 3 / 5;
        let tail_chars = keep - head_chars;
        let candidate = cut(text, total_chars, head_chars, tail_chars);
        if counter.count_text(&candidate) <= cap || keep == 0 {
            return Some(candidate);
        }
        keep = keep * 4 / 5;
    }
    Some(cut(text, total_chars, 0, 0))
}

fn cut(text: &str, total_chars: usize, head_chars: usize, tail_chars: usize) -> String {
    let head_end = text
        .char_indices()
        .nth(head_chars)
        .map_or(text.len(), |(i, _)| i);
    let tail_start_char = total_chars.saturating_sub(tail_chars).max(head_chars);
    let tail_start = text
        .char_indices()
        .nth(tail_start_char)
        .map_or(text.len(), |(i, _)| i);
    let omitted = total_chars - head_chars - (total_chars - tail_start_char);
    let mut out = String::with_capacity(head_end + (text.len() - tail_start) + 80);
    out.push_str(&text[..head_end]);
    out.push_str(&marker(omitted));
    out.push_str(&text[tail_start..]);
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use crate::context::models::Tokenizer;

    #[test]
    fn short_text_is_left_alone() {
        let counter = TokenCounter::with_tokenizer(Tokenizer::Estimate);
        assert_eq!(shrink_text("small", 100, &counter), None);
    }

    #[test]
    fn keeps_head_and_tail_with_marker_within_cap() {
        let counter = TokenCounter::with_tokenizer(Tokenizer::Estimate);
        let text = format!("HEAD{}TAIL", "x".repeat(10_000));
        let shrunk = shrink_text(&text, 200, &counter).unwrap();
        assert!(counter.count_text(&shrunk) <= 200);
        assert!(shrunk.starts_with("HEAD"));
        assert!(shrunk.ends_with("TAIL"));
        assert!(shrunk.contains("characters omitted by warden"));
    }

    #[test]
    fn respects_char_boundaries_and_exact_tokenizers() {
        let counter = TokenCounter::with_tokenizer(Tokenizer::O200k);
        counter.wait_until_exact();
        let text = "é🙂 mixed ünïcödé text ".repeat(500);
        let shrunk = shrink_text(&text, 100, &counter).unwrap();
        assert!(counter.count_text(&shrunk) <= 100);
        assert!(shrunk.starts_with("é🙂"));
    }
}
