//! Token estimates for the rate limiter, made before a request is sent.
//!
//! Invariant: an estimate only reserves budget; the reservation is corrected from the
//! provider's reported usage afterwards, so a rough count is enough: four characters per
//! token (BPE-encoding every request would cost microseconds per message, and the first
//! would wait ~0.4 s for the tokenizer's table).

use warden_core::chat::{ChatRequest, Message};

/// Per-message framing the providers add around each message.
const PER_MESSAGE: u64 = 4;

/// Characters per token of the estimate (English text with OpenAI's and Anthropic's
/// tokenizers is close to it).
const CHARS_PER_TOKEN: u64 = 4;

/// Prompt tokens (estimated from characters) plus `max_tokens`, which OpenAI's own
/// limiter reserves the same way.
pub fn estimate_tokens(req: &ChatRequest) -> u64 {
    let count = |s: &str| (s.chars().count() as u64).div_ceil(CHARS_PER_TOKEN);
    let mut total = u64::from(req.settings.max_tokens);
    for m in &req.messages {
        total += PER_MESSAGE;
        total += match m {
            Message::System { content } | Message::User { content } => count(content),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                content.as_deref().map_or(0, count)
                    + tool_calls
                        .iter()
                        .map(|c| count(&c.name) + count(&c.arguments))
                        .sum::<u64>()
            }
            Message::Tool { content, .. } => count(content),
        };
    }
    for t in req.tools.iter() {
        // Schemas are small next to the history; this runs only when a tokens-per-minute
        // limit is set.
        total += count(&t.name) + count(&t.description) + count(&t.parameters.to_string());
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::chat::RequestSettings;

    #[test]
    fn estimate_counts_prompt_and_output_budget() {
        let req = ChatRequest {
            cache: Default::default(),
            settings: RequestSettings {
                model: "m".into(),
                max_tokens: 100,
                temperature: None,
                tool_choice: Default::default(),
                parallel_tool_calls: true,
                options: Default::default(),
            },
            messages: vec![Message::user("hello world")],
            tools: vec![].into(),
        };
        // "hello world": 11 characters, 3 tokens at four characters per token.
        assert_eq!(estimate_tokens(&req), 100 + PER_MESSAGE + 3);
    }
}
