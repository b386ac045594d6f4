//! Attribute keys and values: OpenTelemetry's GenAI semantic conventions where they name the
//! fact, `warden.*` for what only warden knows (the sandbox's usage, retries and waits,
//! denials, compaction).
//!
//! Invariant: every key a span carries is a constant here, so the builder, the renderer, the
//! tests and users agree on spelling.

/// `gen_ai.operation.name`: `invoke_agent`, `chat` or `execute_tool`.
pub const OPERATION_NAME: &str = "gen_ai.operation.name";
/// The operation of the run's span.
pub const OP_INVOKE_AGENT: &str = "invoke_agent";
/// The operation of a model call's span.
pub const OP_CHAT: &str = "chat";
/// The operation of a tool call's span.
pub const OP_EXECUTE_TOOL: &str = "execute_tool";

/// `gen_ai.provider.name`: `openai`, `anthropic`.
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.request.model`.
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.agent.name`.
pub const AGENT_NAME: &str = "gen_ai.agent.name";
/// `warden.agent.path`: on the spans of a nested run (an agent called as a tool), the
/// agents from the run's own down to the one the span belongs to, e.g.
/// `["triage", "researcher"]`.
pub const AGENT_PATH: &str = "warden.agent.path";
/// `warden.handoff.from`: on the `invoke_agent` span a handoff opened, the agent that
/// handed the run over.
pub const HANDOFF_FROM: &str = "warden.handoff.from";
/// `gen_ai.conversation.id`: the run id (a chat session's turns share it).
pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// `gen_ai.usage.input_tokens`.
pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.usage.cache_read.input_tokens`: input tokens served from the prompt cache.
pub const USAGE_CACHE_READ_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// `gen_ai.response.finish_reasons` (a list of one).
pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// `gen_ai.tool.name`.
pub const TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.tool.call.id`.
pub const TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `gen_ai.tool.type`: always `function` for warden's tools.
pub const TOOL_TYPE: &str = "gen_ai.tool.type";
/// `warden.tool.trusted`: `true` on the span of a trusted host tool's call (a function of
/// the host program, running unsandboxed); absent for sandboxed tools.
pub const TOOL_TRUSTED: &str = "warden.tool.trusted";
/// `error.type`: the failure's kind (`out_of_fuel`, `model_error`, ...).
pub const ERROR_TYPE: &str = "error.type";

/// `gen_ai.input.messages` (content: only when capture is on).
pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// `gen_ai.output.messages` (content: only when capture is on).
pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// `gen_ai.tool.call.arguments` (content: only when capture is on).
pub const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `gen_ai.tool.call.result` (content: only when capture is on).
pub const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";

/// On a model call's span with content: older messages of the request left out by the
/// content cap (the newest are kept; see `warden_core::events::content`).
pub const CONTENT_DROPPED_MESSAGES: &str = "warden.content.dropped_messages";

/// The run's id.
pub const RUN_ID: &str = "warden.run.id";
/// Why the run ended (`completed`, `budget`, `model_error`, ...).
pub const STOP_REASON: &str = "warden.stop_reason";
/// The answer came from the forced call after a budget ran out.
pub const FORCED: &str = "warden.forced";
/// The span was closed because the events ended before it did (a crash, a cut log).
pub const INCOMPLETE: &str = "warden.incomplete";
/// The step (index from 0 of the model call) a span belongs to.
pub const STEP: &str = "warden.step";
/// A model call's kind: `turn`, `summary` or `forced_final`.
pub const MODEL_CALL_KIND: &str = "warden.model_call.kind";
/// Messages in a model request, system prompt included.
pub const REQUEST_MESSAGES: &str = "warden.request.messages";
/// Tools offered in a model request.
pub const REQUEST_TOOLS: &str = "warden.request.tools";
/// Estimated input tokens of a model request.
pub const REQUEST_ESTIMATED_TOKENS: &str = "warden.request.estimated_input_tokens";
/// The server reported no usage: the token counts are warden's estimate.
pub const USAGE_ESTIMATED: &str = "warden.usage.estimated";
/// Tool calls a model response requested.
pub const RESPONSE_TOOL_CALLS: &str = "warden.response.tool_calls";
/// Cost in USD (only when a price is known for the model).
pub const COST_USD: &str = "warden.cost_usd";
/// Transient model-call failures retried.
pub const RETRIES: &str = "warden.retries";
/// Milliseconds waited before retries.
pub const RETRY_WAIT_MS: &str = "warden.retry_wait_ms";
/// Milliseconds the client-side rate limiter held requests back.
pub const RATE_LIMIT_WAIT_MS: &str = "warden.rate_limit_wait_ms";
/// Compactions of the context (summaries or drops).
pub const COMPACTIONS: &str = "warden.compactions";
/// Model calls in the run.
pub const MODEL_CALLS: &str = "warden.model_calls";
/// Tool calls run.
pub const TOOL_CALLS: &str = "warden.tool_calls";
/// Tool calls the parser rejected (never run).
pub const INVALID_TOOL_CALLS: &str = "warden.invalid_tool_calls";
/// Tool calls (or, on a tool span, whether this call was) denied by the policy.
pub const DENIALS: &str = "warden.denials";
/// This tool call was denied by its policy.
pub const DENIED: &str = "warden.tool.denied";
/// The attempt of a tool call (1 for the first).
pub const TOOL_ATTEMPT: &str = "warden.tool.attempt";
/// Wasm fuel burned.
pub const FUEL: &str = "warden.fuel";
/// Wall-clock milliseconds (a tool call's; on the run, the tool calls' added up).
pub const WALL_MS: &str = "warden.wall_ms";
/// Largest linear memory a guest had, in bytes (on the run: the largest of any call).
pub const PEAK_MEMORY: &str = "warden.peak_memory_bytes";
/// Bytes sent into the tool.
pub const BYTES_IN: &str = "warden.bytes_in";
/// Bytes of tool output.
pub const BYTES_OUT: &str = "warden.bytes_out";
/// Outgoing HTTP requests a tool attempted (allowed or not).
pub const HTTP_REQUESTS: &str = "warden.http.requests";
/// HTTP request body bytes a tool sent.
pub const HTTP_BYTES_SENT: &str = "warden.http.bytes_sent";
/// HTTP response body bytes a tool received.
pub const HTTP_BYTES_RECEIVED: &str = "warden.http.bytes_received";

/// Span event: a model call is retried.
pub const EVENT_RETRY: &str = "warden.retry";
/// Span event: the rate limiter held a request back.
pub const EVENT_RATE_LIMIT_WAIT: &str = "warden.rate_limit_wait";
/// Span event: the context was compacted.
pub const EVENT_COMPACTION: &str = "warden.compaction";
/// Span event: a budget passed its warning ratio.
pub const EVENT_BUDGET_WARNING: &str = "warden.budget_warning";
/// Span event: a tool call the parser rejected.
pub const EVENT_TOOL_CALL_REJECTED: &str = "warden.tool_call.rejected";
/// Span event: the agent handed the run to another (`warden.handoff.from`, `.to`,
/// `warden.reason`); the new agent's `invoke_agent` span follows.
pub const EVENT_HANDOFF: &str = "warden.handoff";
/// Span event: a final answer the output schema rejected.
pub const EVENT_OUTPUT_REJECTED: &str = "warden.output.rejected";
