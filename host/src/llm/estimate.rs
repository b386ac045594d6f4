//! Token estimates for the rate limiter, made before a request is sent.
//!
//! Invariant: an estimate only reserves budget; the reservation is corrected from the
//! provider's reported usage afterwards, so a rough tokenizer is enough (o200k for all).

use super::types::{ChatRequest, Message};

/// Per-message framing the providers add around each message.
const PER_MESSAGE: u64 = 4;

/// Prompt tokens (counted with o200k) plus `max_tokens`, which OpenAI's own limiter
/// reserves the same way.
pub fn estimate_tokens(req: &ChatRequest) -> u64 {
    let bpe = tiktoken_rs::o200k_base_singleton();
    let count = |s: &str| bpe.count_ordinary(s) as u64;
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
        total += count(&t.name) + count(&t.description) + count(&t.parameters.to_string());
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::RequestSettings;

    #[test]
    fn estimate_counts_prompt_and_output_budget() {
        let req = ChatRequest {
            settings: RequestSettings {
                model: "m".into(),
                max_tokens: 100,
                temperature: None,
                tool_choice: Default::default(),
                parallel_tool_calls: true,
            },
            messages: vec![Message::user("hello world")],
            tools: vec![].into(),
        };
        // "hello world" is 2 tokens in o200k.
        assert_eq!(estimate_tokens(&req), 100 + PER_MESSAGE + 2);
    }
}
