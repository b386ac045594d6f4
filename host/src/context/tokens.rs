//! Token counting for requests: exact BPE counts for OpenAI models (tiktoken, once its table
//! has loaded in the background; estimates until then), a
//! characters-per-token estimate for the others, calibrated by the usage providers report.
//!
//! Invariant: counts are never zero for non-empty text and the calibrated ratio stays
//! within sane bounds, so one odd usage report cannot make the assembler overfill a window.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use super::bpe;
use super::models::{self, Tokenizer};
use crate::llm::{ChatRequest, Message, ToolSpec};

/// Tokens a provider adds around each message (role markers, separators).
const PER_MESSAGE_OVERHEAD: u64 = 4;
/// Tokens added per request (reply priming).
const PER_REQUEST_OVERHEAD: u64 = 3;
/// Starting estimate for models without a public tokenizer.
const DEFAULT_CHARS_PER_TOKEN: f64 = 3.5;

/// The cache is cleared when it holds this many entries.
const CACHE_MAX_ENTRIES: usize = 4096;

/// Counts tokens for one model. Cheap to clone (clones share the cache); the tiktoken
/// tables are process singletons.
#[derive(Debug, Clone)]
pub struct TokenCounter {
    tokenizer: Tokenizer,
    /// For `Estimate`: characters per token, adjusted by [`TokenCounter::calibrate`].
    chars_per_token: f64,
    /// Exact counts by text hash: each request re-counts the whole history, and
    /// BPE-encoding it again every turn would dominate the loop's own overhead.
    cache: Arc<Mutex<HashMap<u64, u64>>>,
}

impl TokenCounter {
    /// The counter for `model`, chosen from the known-models table.
    pub fn for_model(model: &str) -> Self {
        Self::with_tokenizer(models::tokenizer(model))
    }

    /// A counter using `tokenizer`. An exact tokenizer's table starts loading in the
    /// background; until it is there (~0.4 s after the first counter of the process),
    /// counts are the estimate's: close for English, low for some texts (CJK), so the
    /// assembler waits for the table when a request could be near the window.
    pub fn with_tokenizer(tokenizer: Tokenizer) -> Self {
        let _ = bpe::ready(tokenizer);
        Self {
            tokenizer,
            chars_per_token: DEFAULT_CHARS_PER_TOKEN,
            cache: Arc::default(),
        }
    }

    /// The tokenizer in use.
    pub fn tokenizer(&self) -> Tokenizer {
        self.tokenizer
    }

    /// Whether counts are still the estimate while an exact tokenizer's table loads.
    pub fn is_provisional(&self) -> bool {
        self.tokenizer != Tokenizer::Estimate && bpe::ready(self.tokenizer).is_none()
    }

    /// Blocks until counts are exact (the tokenizer's table is loaded); returns at once
    /// for the estimate.
    pub fn wait_until_exact(&self) {
        bpe::wait(self.tokenizer);
    }

    /// The current characters-per-token ratio of the estimate.
    pub fn chars_per_token(&self) -> f64 {
        self.chars_per_token
    }

    /// Tokens of a plain text.
    pub fn count_text(&self, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        let Some(bpe) = bpe::ready(self.tokenizer) else {
            return self.estimate(text.chars().count() as u64);
        };
        // Every text goes through the cache, short ones too: BPE-encoding a 60-byte message
        // costs microseconds (tiktoken's regex split, then the merges), hashing it tens of
        // nanoseconds, and each request counts the whole history again.
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        self.cached(hasher.finish(), || bpe.count_ordinary(text))
    }

    /// Tokens of one message, overhead included.
    pub fn count_message(&self, message: &Message) -> u64 {
        let body = match message {
            Message::System { content } | Message::User { content } => self.count_text(content),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let text = content.as_deref().map_or(0, |c| self.count_text(c));
                let calls: u64 = tool_calls
                    .iter()
                    .map(|c| self.count_text(&c.name) + self.count_text(&c.arguments) + 3)
                    .sum();
                text + calls
            }
            Message::Tool {
                call_id, content, ..
            } => self.count_text(call_id) + self.count_text(content),
        };
        body + PER_MESSAGE_OVERHEAD
    }

    /// Tokens of the tool specs as sent (name, description and schema).
    pub fn count_tools(&self, tools: &[ToolSpec]) -> u64 {
        tools
            .iter()
            .map(|t| {
                self.count_text(&t.name)
                    + self.count_text(&t.description)
                    + self.count_json(&t.parameters)
                    + 8
            })
            .sum()
    }

    /// Tokens of `value` serialised as compact JSON. Every request counts the same tool
    /// schemas again: the serialisation is streamed into a digest (characters and cache
    /// key) and the text built only when an exact count is not cached yet.
    fn count_json(&self, value: &serde_json::Value) -> u64 {
        let mut digest = Digest::default();
        if serde_json::to_writer(&mut digest, value).is_err() {
            return self.count_text(&value.to_string());
        }
        let Some(bpe) = bpe::ready(self.tokenizer) else {
            return self.estimate(digest.chars);
        };
        self.cached(digest.hasher.finish(), || {
            bpe.count_ordinary(&value.to_string())
        })
    }

    /// The estimate for a text of `chars` characters (at least one token).
    fn estimate(&self, chars: u64) -> u64 {
        ((chars as f64 / self.chars_per_token).ceil() as u64).max(1)
    }

    /// The exact count cached under `key`, or `count()` (then cached). The lock is not
    /// held while counting.
    fn cached(&self, key: u64, count: impl FnOnce() -> usize) -> u64 {
        if let Some(&n) = self.lock_cache().get(&key) {
            return n;
        }
        let n = count() as u64;
        let mut cache = self.lock_cache();
        if cache.len() >= CACHE_MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(key, n);
        n
    }

    /// The cache; a poisoned lock only means another thread panicked mid-insert, and
    /// the map is still usable.
    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Estimated input tokens of a whole request.
    pub fn count_request(&self, request: &ChatRequest) -> u64 {
        self.count_messages(&request.messages)
            + self.count_tools(&request.tools)
            + PER_REQUEST_OVERHEAD
    }

    /// Tokens of a list of messages.
    pub fn count_messages(&self, messages: &[Message]) -> u64 {
        messages.iter().map(|m| self.count_message(m)).sum()
    }

    /// Adjusts the estimate with the input tokens the provider reported for a request we
    /// estimated at `estimated`. Exact tokenizers are left alone. The ratio moves half-way
    /// towards the observed one and is clamped to 1..=8 characters per token.
    pub fn calibrate(&mut self, estimated: u64, reported_input: u64) {
        if self.tokenizer != Tokenizer::Estimate || estimated == 0 || reported_input == 0 {
            return;
        }
        let observed = self.chars_per_token * estimated as f64 / reported_input as f64;
        self.chars_per_token = ((self.chars_per_token + observed) / 2.0).clamp(1.0, 8.0);
    }
}

/// A sink for a serialisation: its characters and a hash of its bytes (the text of a JSON
/// value as cache key, without building the text).
#[derive(Default)]
struct Digest {
    hasher: DefaultHasher,
    chars: u64,
}

impl std::io::Write for Digest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.write(buf);
        // serde_json writes UTF-8: a character starts at every byte that is not a
        // continuation byte.
        self.chars += buf.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openai_models_use_exact_bpe_counts() {
        let counter = TokenCounter::for_model("gpt-4o-mini");
        assert_eq!(counter.tokenizer(), Tokenizer::O200k);
        counter.wait_until_exact();
        // "hello world" is two tokens in o200k_base.
        assert_eq!(counter.count_text("hello world"), 2);
        let old = TokenCounter::for_model("gpt-4");
        assert_eq!(old.tokenizer(), Tokenizer::Cl100k);
        old.wait_until_exact();
        assert_eq!(old.count_text("hello world"), 2);
    }

    #[test]
    fn estimate_is_calibrated_by_reported_usage() {
        let mut counter = TokenCounter::for_model("claude-sonnet-4");
        let text = "a".repeat(700);
        assert_eq!(counter.count_text(&text), 200);
        // The provider says the request we estimated at 200 tokens really had 100: text is
        // denser than assumed, so the ratio moves up and later estimates shrink.
        counter.calibrate(200, 100);
        assert!(counter.chars_per_token() > DEFAULT_CHARS_PER_TOKEN);
        assert!(counter.count_text(&text) < 200);
    }

    #[test]
    fn calibration_is_clamped() {
        let mut counter = TokenCounter::with_tokenizer(Tokenizer::Estimate);
        for _ in 0..50 {
            counter.calibrate(1_000_000, 1);
        }
        assert!(counter.chars_per_token() <= 8.0);
        assert_eq!(counter.count_text("x"), 1);
    }

    #[test]
    fn cached_counts_match_fresh_ones() {
        let counter = TokenCounter::for_model("gpt-4o");
        counter.wait_until_exact();
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(40);
        let fresh = tiktoken_rs::o200k_base_singleton()
            .encode_ordinary(&text)
            .len() as u64;
        assert_eq!(counter.count_text(&text), fresh);
        assert_eq!(counter.count_text(&text), fresh);
        assert_eq!(counter.cache.lock().unwrap().len(), 1);
    }

    #[test]
    fn short_texts_are_cached_too() {
        let counter = TokenCounter::for_model("gpt-4o");
        counter.wait_until_exact();
        assert_eq!(counter.count_text("hello world"), 2);
        assert_eq!(counter.count_text("call_1"), counter.count_text("call_1"));
        assert_eq!(counter.cache.lock().unwrap().len(), 2);
        // The estimate needs no cache: counting characters is as cheap as hashing.
        let estimate = TokenCounter::with_tokenizer(Tokenizer::Estimate);
        estimate.count_text("hello world");
        assert!(estimate.cache.lock().unwrap().is_empty());
    }

    #[test]
    fn a_schema_counts_as_its_serialised_text() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "Zürich, Genève…"}},
            "required": ["city"]
        });
        let text = schema.to_string();
        for model in ["gpt-4o", "gpt-4", "claude-sonnet-4"] {
            let counter = TokenCounter::for_model(model);
            counter.wait_until_exact();
            let fresh = TokenCounter::for_model(model).count_text(&text);
            assert_eq!(counter.count_json(&schema), fresh, "{model}");
            // Again, now from the cache for the exact tokenizers.
            assert_eq!(counter.count_json(&schema), fresh, "{model}");
        }
    }

    #[test]
    fn counts_are_estimated_until_the_table_is_loaded() {
        let counter = TokenCounter::with_tokenizer(Tokenizer::Cl100k);
        let text = "hello world ".repeat(10);
        let first = counter.count_text(&text);
        counter.wait_until_exact();
        let exact = counter.count_text(&text);
        let bpe = tiktoken_rs::cl100k_base_singleton();
        assert_eq!(exact, bpe.encode_ordinary(&text).len() as u64);
        // Another test may have loaded the table already; if not, the first count was the
        // estimate (120 characters / 3.5), which must not have been cached as exact.
        assert!(first == 35 || first == exact, "{first} vs {exact}");
        assert_ne!(exact, 35);
    }

    #[test]
    fn messages_carry_overhead() {
        let counter = TokenCounter::with_tokenizer(Tokenizer::Estimate);
        let empty_user = Message::user("");
        assert_eq!(counter.count_message(&empty_user), PER_MESSAGE_OVERHEAD);
    }
}
