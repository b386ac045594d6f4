//! A mock LLM server speaking the OpenAI and Anthropic wire formats.
