//! Handoffs: an agent names agents of its team it may hand the run to; its model sees each
//! as a tool `transfer_to_<name>` (with an optional `reason`). Calling one ends the agent's
//! part of the run and the run goes on with the target: its instructions, model, tools and
//! grants, with the history passed on through the handoff's [`HistoryFilter`].
//!
//! Invariant: what passes along a handoff is conversation text only — never a grant; a
//! filtered history is always one a provider accepts (no tool result without its call, a
//! user message first, and a user message last — carrying the handoff's note — unless the
//! last is the handoff's own tool result).

use std::fmt;
use std::sync::Arc;

use super::HostBinding;
use crate::runner::{Agent, SetupError};
use warden_core::chat::Message;
use warden_core::tool::ToolCatalogEntry;

/// The prefix of a handoff's tool name.
pub const HANDOFF_PREFIX: &str = "transfer_to_";

/// Longest history digest [`HistoryFilter::Summary`] passes on, in characters (the most
/// recent part is kept).
const SUMMARY_CHARS: usize = 8000;

/// A custom history filter: the history so far in, the history the target sees out.
pub type FilterFn = dyn Fn(&[Message]) -> Vec<Message> + Send + Sync;

/// What of the history a handoff passes on to its target.
#[non_exhaustive]
#[derive(Clone, Default)]
pub enum HistoryFilter {
    /// Everything (the default).
    #[default]
    All,
    /// The conversation without tool calls and tool results: user messages and the
    /// assistant's text.
    DropToolCalls,
    /// The last `n` messages (led by the user's first message when they do not start
    /// with a user message; tool results whose call was cut are dropped).
    LastMessages(usize),
    /// One user message holding a digest of the conversation — the user's messages and
    /// the assistant's text, no tool traffic, at most 8000 characters (the most recent).
    Summary,
    /// A function of your own.
    Custom(Arc<FilterFn>),
}

impl fmt::Debug for HistoryFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("All"),
            Self::DropToolCalls => f.write_str("DropToolCalls"),
            Self::LastMessages(n) => write!(f, "LastMessages({n})"),
            Self::Summary => f.write_str("Summary"),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// A handoff to an agent of the team. See the module docs.
#[derive(Debug, Clone)]
pub struct Handoff {
    target: String,
    description: String,
    filter: HistoryFilter,
}

impl Handoff {
    /// A handoff to the team's agent `target`, described to the model by `description`
    /// (when to hand off to it).
    pub fn to(target: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            description: description.into(),
            filter: HistoryFilter::All,
        }
    }

    /// Passes on only what `filter` keeps of the history (default: all of it).
    pub fn filter(mut self, filter: HistoryFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The agent it hands off to.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// What of the history it passes on.
    pub(crate) fn history_filter(&self) -> &HistoryFilter {
        &self.filter
    }

    /// The tool name the model sees: `transfer_to_<target>`.
    pub fn tool_name(&self) -> String {
        format!("{HANDOFF_PREFIX}{}", self.target)
    }

    fn entry(&self) -> ToolCatalogEntry {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "reason": {"type": "string", "description": "Why the conversation is handed over"}
            },
            "additionalProperties": false
        });
        let description = format!(
            "Hand the conversation over to the agent `{}`: {}",
            self.target, self.description
        );
        ToolCatalogEntry::new(self.tool_name(), description, schema)
    }

    /// The history `target` starts from: `live` through the filter, kept valid for a
    /// provider, with a note of the handoff (who, why) unless it ends on the handoff's
    /// own tool result.
    pub(crate) fn pass_on(&self, from: &str, reason: &str, live: &[Message]) -> Vec<Message> {
        let mut out = match &self.filter {
            HistoryFilter::All => live.to_vec(),
            HistoryFilter::DropToolCalls => without_tool_calls(live),
            HistoryFilter::LastMessages(n) => last_messages(live, *n),
            HistoryFilter::Summary => vec![Message::user(digest(from, live))],
            HistoryFilter::Custom(f) => f(live),
        };
        let why = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        let note = format!("[The conversation was handed over to you by `{from}`{why}]");
        match out.last_mut() {
            // The call and its reason are in the history itself.
            Some(Message::Tool { .. }) => {}
            // One user turn, not two in a row (a provider may refuse that).
            Some(Message::User { content }) => *content = format!("{content}\n\n{note}").into(),
            _ => out.push(Message::user(note)),
        }
        out
    }
}

fn without_tool_calls(live: &[Message]) -> Vec<Message> {
    (live.iter())
        .filter_map(|m| match m {
            Message::Tool { .. } => None,
            Message::Assistant { content, .. } => content
                .as_ref()
                .filter(|c| !c.is_empty())
                .map(|c| Message::assistant_text(c.clone())),
            other => Some(other.clone()),
        })
        .collect()
}

fn last_messages(live: &[Message], n: usize) -> Vec<Message> {
    let mut kept: Vec<Message> = live[live.len().saturating_sub(n)..].to_vec();
    // A suffix can only lose calls, never results: drop results whose call was cut.
    while matches!(kept.first(), Some(Message::Tool { .. })) {
        kept.remove(0);
    }
    if !matches!(kept.first(), Some(Message::User { .. }))
        && let Some(first) = live.iter().find(|m| matches!(m, Message::User { .. }))
    {
        kept.insert(0, first.clone());
    }
    kept
}

fn digest(from: &str, live: &[Message]) -> String {
    let mut lines = Vec::new();
    for message in live {
        match message {
            Message::User { content } => lines.push(format!("User: {content}")),
            Message::Assistant {
                content: Some(text),
                ..
            } if !text.is_empty() => lines.push(format!("Assistant: {text}")),
            _ => {}
        }
    }
    let text = lines.join("\n");
    let count = text.chars().count();
    let text = if count > SUMMARY_CHARS {
        let tail: String = text.chars().skip(count - SUMMARY_CHARS).collect();
        format!("…{tail}")
    } else {
        text
    };
    format!("[Summary of the conversation handed over by `{from}`]\n{text}")
}

/// The `reason` argument of the last call to `tool` in `live` (empty when none was given).
pub(crate) fn reason_of(live: &[Message], tool: &str) -> String {
    (live.iter().rev())
        .find_map(|m| match m {
            Message::Assistant { tool_calls, .. } => tool_calls.iter().find(|c| c.name == tool),
            _ => None,
        })
        .and_then(|call| serde_json::from_str::<serde_json::Value>(&call.arguments).ok())
        .and_then(|args| {
            args.get("reason")
                .and_then(|r| r.as_str())
                .map(String::from)
        })
        .unwrap_or_default()
}

impl Agent {
    /// Lets this agent hand the run to another agent of its team (see [`Handoff`]). Fails
    /// if `transfer_to_<target>` is taken.
    pub fn with_handoff(self, handoff: Handoff) -> Result<Self, SetupError> {
        let entry = handoff.entry();
        let name = entry.name.clone();
        let agent = self.with_host_binding(entry, HostBinding::Handoff(Arc::new(handoff)))?;
        // A successful handoff call ends this agent's part of the run (a stop tool); the
        // team's run loop then goes on with the target.
        let mut config = agent.config().clone();
        config.stop_on_tools.push(name);
        Ok(agent.with_config(config))
    }

    /// Whether this agent may hand off (so runs in a team).
    pub fn has_handoffs(&self) -> bool {
        (self.host_bindings()).any(|(_, b)| matches!(b, HostBinding::Handoff(_)))
    }

    /// The tool names of its handoffs.
    pub(crate) fn handoff_tools(&self) -> Vec<String> {
        (self.host_bindings())
            .filter(|(_, b)| matches!(b, HostBinding::Handoff(_)))
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// The handoff behind tool `name`, if it is one.
    pub(crate) fn handoff(&self, name: &str) -> Option<&Arc<Handoff>> {
        match self.host_binding(name) {
            Some(HostBinding::Handoff(h)) => Some(h),
            _ => None,
        }
    }
}
