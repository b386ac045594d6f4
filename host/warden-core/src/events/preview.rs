//! A bounded preview of a tool call's arguments for events: the same JSON shape, with long
//! strings cut, and containers past the budget elided with a marker.
//!
//! Invariant: a preview serialises to at most about [`ARGS_PREVIEW_CHARS`] characters plus
//! one marker per nesting level (at most [`MAX_DEPTH`]), whatever the arguments are.

use serde_json::{Map, Value};

/// Characters of argument content an event shows.
pub(crate) const ARGS_PREVIEW_CHARS: usize = 1024;
/// Longest string shown in full; longer ones are cut and their size noted.
const MAX_STRING_CHARS: usize = 200;
/// Longest object key shown.
const MAX_KEY_CHARS: usize = 64;
/// Deepest nesting shown; deeper containers become a marker.
const MAX_DEPTH: usize = 8;

/// The preview of `value` within [`ARGS_PREVIEW_CHARS`].
pub(crate) fn preview(value: &Value) -> Value {
    let mut left = ARGS_PREVIEW_CHARS;
    shrink(value, &mut left, 0)
}

/// `text` cut to `max` characters (`…` and the byte size noted when cut), and its cost.
fn cut(text: &str, max: usize) -> (String, usize) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (format!("{}… ({} bytes)", &text[..end], text.len()), max),
        None => (text.to_string(), text.chars().count()),
    }
}

fn shrink(value: &Value, left: &mut usize, depth: usize) -> Value {
    match value {
        Value::String(text) => {
            let (shown, cost) = cut(text, MAX_STRING_CHARS.min(*left));
            *left = left.saturating_sub(cost + 2);
            Value::String(shown)
        }
        Value::Array(items) => {
            if depth >= MAX_DEPTH && !items.is_empty() {
                return Value::String(format!("… ({} items)", items.len()));
            }
            *left = left.saturating_sub(2);
            let mut out = Vec::new();
            for item in items {
                if *left == 0 {
                    break;
                }
                out.push(shrink(item, left, depth + 1));
                *left = left.saturating_sub(1);
            }
            if out.len() < items.len() {
                out.push(Value::String(format!(
                    "… {} more items",
                    items.len() - out.len()
                )));
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH && !map.is_empty() {
                return Value::String(format!("… ({} keys)", map.len()));
            }
            *left = left.saturating_sub(2);
            let mut out = Map::new();
            for (key, item) in map {
                if *left == 0 {
                    break;
                }
                let (key, cost) = cut(key, MAX_KEY_CHARS);
                *left = left.saturating_sub(cost + 4);
                let shown = shrink(item, left, depth + 1);
                out.insert(key, shown);
            }
            if out.len() < map.len() {
                out.insert(
                    "…".into(),
                    Value::String(format!("{} more keys", map.len() - out.len())),
                );
            }
            Value::Object(out)
        }
        scalar => {
            // Numbers, booleans and null: short by construction.
            *left = left.saturating_sub(scalar.to_string().len());
            scalar.clone()
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use serde_json::json;

    /// The bound of the module invariant, with room for each level's marker.
    const BOUND: usize = ARGS_PREVIEW_CHARS + (MAX_DEPTH + 2) * 40;

    #[test]
    fn small_arguments_are_shown_whole() {
        let args = json!({"path": "/notes/a.txt", "max": 3, "flags": [true, null]});
        assert_eq!(preview(&args), args);
    }

    #[test]
    fn a_long_string_is_cut_and_its_size_noted() {
        let args = json!({"text": "x".repeat(900_000), "max": 3});
        let shown = preview(&args);
        let text = shown["text"].as_str().unwrap();
        assert!(text.ends_with("… (900000 bytes)"), "{text:.80}");
        assert_eq!(text.chars().filter(|c| *c == 'x').count(), MAX_STRING_CHARS);
        assert_eq!(shown["max"], 3);
    }

    #[test]
    fn wide_deep_and_many_string_arguments_stay_within_the_bound() {
        let wide = Value::Array((0..100_000).map(|i| json!(i)).collect());
        let many: Map<String, Value> = (0..10_000)
            .map(|i| {
                (
                    format!("key{i}-{}", "k".repeat(500)),
                    json!("v".repeat(500)),
                )
            })
            .collect();
        // serde_json refuses to parse arguments nested deeper than 128 levels.
        let mut deep = json!("bottom");
        for _ in 0..120 {
            deep = json!({ "d": [deep] });
        }
        for args in [wide, Value::Object(many), deep] {
            let line = preview(&args).to_string();
            assert!(line.chars().count() <= BOUND, "{} chars", line.len());
        }
    }
}
