//! The table of known models: context window, tokenizer family and price.
//!
//! Lookups match the longest known prefix of the model name (so dated snapshots such as
//! `gpt-4o-2024-08-06` find `gpt-4o`). Unknown models get a conservative window, the
//! calibrated estimate tokenizer and no price; every value can be overridden by the agent.

use serde::{Deserialize, Serialize};

/// Which tokenizer counts a model's tokens.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tokenizer {
    /// OpenAI's `o200k_base` (gpt-4o, gpt-4.1, gpt-5, o-series).
    O200k,
    /// OpenAI's `cl100k_base` (gpt-4, gpt-3.5).
    Cl100k,
    /// No public tokenizer: characters per token, calibrated by the usage the provider reports.
    Estimate,
}

/// Price of a model in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// USD per million input tokens not served from the cache.
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    pub output_per_mtok: f64,
    /// USD per million input tokens served from the prompt cache.
    pub cached_input_per_mtok: f64,
}

impl Price {
    /// Cost in USD of one call with this usage. Cached tokens are a subset of input tokens.
    pub fn cost(&self, usage: &crate::chat::Usage) -> f64 {
        let cached = usage.cached_tokens.min(usage.input_tokens);
        let fresh = usage.input_tokens - cached;
        (fresh as f64 * self.input_per_mtok
            + cached as f64 * self.cached_input_per_mtok
            + usage.output_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

/// What warden knows about one model family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    /// Name prefix this row applies to.
    pub prefix: &'static str,
    /// Context window in tokens (input and output together).
    pub context_window: u32,
    /// The tokenizer family that counts its tokens.
    pub tokenizer: Tokenizer,
    /// List price, if published (`None` for local models).
    pub price: Option<Price>,
}

/// Window assumed for a model warden does not know, in tokens (small, so nothing overflows
/// silently).
pub const DEFAULT_CONTEXT_WINDOW: u32 = 8_192;

const fn p(input: f64, output: f64, cached: f64) -> Option<Price> {
    Some(Price {
        input_per_mtok: input,
        output_per_mtok: output,
        cached_input_per_mtok: cached,
    })
}

const fn row(
    prefix: &'static str,
    window: u32,
    tokenizer: Tokenizer,
    price: Option<Price>,
) -> ModelInfo {
    ModelInfo {
        prefix,
        context_window: window,
        tokenizer,
        price,
    }
}

use Tokenizer::{Cl100k, Estimate, O200k};

/// Known models (list prices as published by the providers; override them in the agent file).
pub const KNOWN_MODELS: &[ModelInfo] = &[
    row("gpt-5-nano", 400_000, O200k, p(0.05, 0.40, 0.005)),
    row("gpt-5-mini", 400_000, O200k, p(0.25, 2.00, 0.025)),
    row("gpt-5", 400_000, O200k, p(1.25, 10.00, 0.125)),
    row("gpt-4.1-nano", 1_047_576, O200k, p(0.10, 0.40, 0.025)),
    row("gpt-4.1-mini", 1_047_576, O200k, p(0.40, 1.60, 0.10)),
    row("gpt-4.1", 1_047_576, O200k, p(2.00, 8.00, 0.50)),
    row("gpt-4o-mini", 128_000, O200k, p(0.15, 0.60, 0.075)),
    row("gpt-4o", 128_000, O200k, p(2.50, 10.00, 1.25)),
    row("gpt-4-turbo", 128_000, Cl100k, p(10.00, 30.00, 10.00)),
    row("gpt-4", 8_192, Cl100k, p(30.00, 60.00, 30.00)),
    row("gpt-3.5-turbo", 16_385, Cl100k, p(0.50, 1.50, 0.50)),
    row("o4-mini", 200_000, O200k, p(1.10, 4.40, 0.275)),
    row("o3-mini", 200_000, O200k, p(1.10, 4.40, 0.55)),
    row("o3", 200_000, O200k, p(2.00, 8.00, 0.50)),
    row("o1", 200_000, O200k, p(15.00, 60.00, 7.50)),
    row("claude-opus-4", 200_000, Estimate, p(15.00, 75.00, 1.50)),
    row("claude-sonnet-4", 200_000, Estimate, p(3.00, 15.00, 0.30)),
    row("claude-haiku-4", 200_000, Estimate, p(1.00, 5.00, 0.10)),
    row("claude-3-7-sonnet", 200_000, Estimate, p(3.00, 15.00, 0.30)),
    row("claude-3-5-sonnet", 200_000, Estimate, p(3.00, 15.00, 0.30)),
    row("claude-3-5-haiku", 200_000, Estimate, p(0.80, 4.00, 0.08)),
    row("llama3", 128_000, Estimate, None),
    row("qwen2.5", 32_768, Estimate, None),
    row("qwen3", 40_960, Estimate, None),
    row("mistral", 32_768, Estimate, None),
];

/// The row for `model` (longest matching prefix), if warden knows it.
pub fn lookup(model: &str) -> Option<&'static ModelInfo> {
    KNOWN_MODELS
        .iter()
        .filter(|m| model.starts_with(m.prefix))
        .max_by_key(|m| m.prefix.len())
}

/// The context window of `model`: the override if given, else the table, else the default.
pub fn context_window(model: &str, override_tokens: Option<u32>) -> u32 {
    override_tokens
        .or_else(|| lookup(model).map(|m| m.context_window))
        .unwrap_or(DEFAULT_CONTEXT_WINDOW)
}

/// The tokenizer family of `model` (the estimate for unknown models).
pub fn tokenizer(model: &str) -> Tokenizer {
    lookup(model).map_or(Tokenizer::Estimate, |m| m.tokenizer)
}

/// The list price of `model`, if known.
pub fn price(model: &str) -> Option<Price> {
    lookup(model).and_then(|m| m.price)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_for_dated_snapshots() {
        assert_eq!(
            lookup("gpt-4o-mini-2024-07-18").map(|m| m.prefix),
            Some("gpt-4o-mini")
        );
        assert_eq!(
            lookup("gpt-4o-2024-08-06").map(|m| m.prefix),
            Some("gpt-4o")
        );
        assert_eq!(context_window("gpt-4", None), 8_192);
        assert_eq!(context_window("claude-sonnet-4-5", None), 200_000);
    }

    #[test]
    fn override_and_unknown_models() {
        assert_eq!(context_window("gpt-4o", Some(1000)), 1000);
        assert_eq!(
            context_window("my-local-model", None),
            DEFAULT_CONTEXT_WINDOW
        );
        assert_eq!(tokenizer("my-local-model"), Tokenizer::Estimate);
        assert_eq!(price("my-local-model"), None);
    }

    #[test]
    fn cost_counts_cached_tokens_at_their_price() {
        let price = Price {
            input_per_mtok: 2.0,
            output_per_mtok: 10.0,
            cached_input_per_mtok: 1.0,
        };
        let usage = crate::chat::Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cached_tokens: 500_000,
        };
        let cost = price.cost(&usage);
        assert!((cost - (1.0 + 0.5 + 1.0)).abs() < 1e-9, "{cost}");
    }
}
