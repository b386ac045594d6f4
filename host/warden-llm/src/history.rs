//! A run's history and tools as a wire encodes them, kept between the run's requests (in
//! the request's [`WireCache`](warden_core::chat::WireCache)): a request that starts with
//! the messages of the one before encodes only the messages that follow them, and the
//! tools once per run. Without it every request escaped the whole history again, so a
//! request's encoding grew with the run.
//!
//! Invariant: `bytes` is exactly the wire's encoding of `messages` (its turns, joined by
//! commas), and a turn is kept only if the request holds, at the same positions, every
//! message up to the start of the turn after it: that turn is then closed and the same in
//! both. A body is byte for byte what a fresh encoding gives (property-tested in
//! `history_tests.rs`); a failed encoding leaves the memo empty.

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

use super::config::ProviderKind;
use super::error::LlmError;
use warden_core::chat::{ChatRequest, Message, ToolSpec};

/// The encoded history and tools of the run's last request, for one wire.
#[derive(Default)]
pub(crate) struct History {
    /// The wire the encoding is for; another wire starts over.
    kind: Option<ProviderKind>,
    /// The messages encoded (shared texts: a copy of pointers).
    messages: Vec<Message>,
    /// For each turn, the index of its first message and the end of its bytes.
    turns: Vec<(usize, usize)>,
    /// The turns' JSON, joined by commas (the inside of the `messages` array).
    bytes: Vec<u8>,
    /// The tool list encoded, kept with the list it encodes (compared by pointer).
    tools: Option<(Arc<[ToolSpec]>, Box<RawValue>)>,
    /// Turns encoded since the memo was made (for the tests of what is encoded again).
    #[cfg(test)]
    pub(crate) encoded: usize,
}

/// Where a wire writes the turns of the messages it is given.
pub(crate) struct Turns<'a> {
    history: &'a mut History,
    /// The index of the first message given, in the whole history.
    base: usize,
}

impl Turns<'_> {
    /// Appends one turn, `value`, which starts at message `start` of those given.
    pub(crate) fn push(&mut self, start: usize, value: &impl Serialize) -> Result<(), LlmError> {
        let h = &mut *self.history;
        if !h.bytes.is_empty() {
            h.bytes.push(b',');
        }
        serde_json::to_writer(&mut h.bytes, value).map_err(encode_error)?;
        h.turns.push((self.base + start, h.bytes.len()));
        #[cfg(test)]
        {
            h.encoded += 1;
        }
        Ok(())
    }
}

impl History {
    /// Brings the memo to `kind`, `messages` and `tools`: `turns` encodes the turns of a
    /// run of messages (starting at a turn's start), `tool_list` encodes `tools`.
    fn sync(
        &mut self,
        kind: ProviderKind,
        messages: &[Message],
        tools: &Arc<[ToolSpec]>,
        turns: impl FnOnce(&[Message], &mut Turns<'_>) -> Result<(), LlmError>,
        tool_list: impl FnOnce() -> Result<Box<RawValue>, LlmError>,
    ) -> Result<(), LlmError> {
        if self.kind != Some(kind) {
            self.reset();
            self.kind = Some(kind);
        }
        let result = self
            .sync_messages(messages, turns)
            .and_then(|()| self.sync_tools(tools, tool_list));
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Forgets everything encoded (what the tests count stays).
    fn reset(&mut self) {
        self.kind = None;
        self.messages.clear();
        self.turns.clear();
        self.bytes.clear();
        self.tools = None;
    }

    /// The `messages` array's inside, and the tool list (if there are tools).
    fn parts(&self) -> (&[u8], Option<&RawValue>) {
        let tools = self.tools.as_ref().map(|(_, raw)| &**raw);
        (&self.bytes, tools.filter(|_| self.has_tools()))
    }

    fn has_tools(&self) -> bool {
        self.tools
            .as_ref()
            .is_some_and(|(list, _)| !list.is_empty())
    }

    fn sync_messages(
        &mut self,
        messages: &[Message],
        turns: impl FnOnce(&[Message], &mut Turns<'_>) -> Result<(), LlmError>,
    ) -> Result<(), LlmError> {
        let common = self
            .messages
            .iter()
            .zip(messages)
            .take_while(|(kept, new)| kept == new)
            .count();
        // Turn `i` is kept if turn `i + 1` starts inside the common part.
        let kept = self
            .turns
            .iter()
            .skip(1)
            .take_while(|(start, _)| *start < common)
            .count();
        let (from, end) = match kept.checked_sub(1) {
            Some(last) => (self.turns[kept].0, self.turns[last].1),
            None => (0, 0),
        };
        self.turns.truncate(kept);
        self.bytes.truncate(end);
        self.messages.truncate(from);
        self.messages.extend_from_slice(&messages[from..]);
        turns(
            &messages[from..],
            &mut Turns {
                history: self,
                base: from,
            },
        )
    }

    fn sync_tools(
        &mut self,
        tools: &Arc<[ToolSpec]>,
        tool_list: impl FnOnce() -> Result<Box<RawValue>, LlmError>,
    ) -> Result<(), LlmError> {
        if !self
            .tools
            .as_ref()
            .is_some_and(|(list, _)| Arc::ptr_eq(list, tools))
        {
            self.tools = Some((tools.clone(), tool_list()?));
        }
        Ok(())
    }
}

/// A request body for `kind`, through the run's cache (`req.cache`): `{"model":…,"messages":[…]`,
/// then the fields `settings` writes, in one buffer sized for all of it. `turns` encodes the
/// turns of a run of messages (starting at a turn's start), `tool` one tool of the list;
/// `settings` gets the encoded tool list (if there are tools) to place among its fields.
pub(crate) fn encode<'r, T: Serialize>(
    req: &'r ChatRequest,
    kind: ProviderKind,
    model: &str,
    turns: impl FnOnce(&[Message], &mut Turns<'_>) -> Result<(), LlmError>,
    tool: impl Fn(&'r ToolSpec) -> T,
    settings: impl FnOnce(Option<&RawValue>, Settings<'_>) -> Result<Closed, LlmError>,
) -> Result<Vec<u8>, LlmError> {
    // The settings beside the history and tools are small; this is room for them.
    const SETTINGS: usize = 256;
    req.cache.with(|history: &mut History| {
        let tool_list = || {
            let list: Vec<T> = req.tools.iter().map(&tool).collect();
            serde_json::value::to_raw_value(&list).map_err(encode_error)
        };
        history.sync(kind, &req.messages, &req.tools, turns, tool_list)?;
        let (messages, tools) = history.parts();
        let tools_len = tools.map_or(0, |t| t.get().len());
        let mut out = Vec::with_capacity(messages.len() + tools_len + model.len() + SETTINGS);
        out.extend_from_slice(b"{\"model\":");
        serde_json::to_writer(&mut out, model).map_err(encode_error)?;
        out.extend_from_slice(b",\"messages\":[");
        out.extend_from_slice(messages);
        out.push(b']');
        settings(tools, Settings(&mut out))?;
        Ok(out)
    })
}

/// Where a wire writes a body's fields after its history: writing them closes the body.
pub(crate) struct Settings<'a>(&'a mut Vec<u8>);

/// A body closed by [`Settings::write`] (the only way to make one, so no body is sent open).
pub(crate) struct Closed(());

impl Settings<'_> {
    /// Writes the fields of `rest` (a struct serialised as an object) and closes the body.
    pub(crate) fn write(self, rest: &impl Serialize) -> Result<Closed, LlmError> {
        let out = self.0;
        let at = out.len();
        serde_json::to_writer(&mut *out, rest).map_err(encode_error)?;
        // `rest` wrote `{}` or `{"field":…}`: its fields continue the body's.
        match out.get(at..) {
            Some(b"{}") => {
                out.truncate(at);
                out.push(b'}');
            }
            Some([b'{', ..]) => out[at] = b',',
            _ => {
                return Err(LlmError::Config(
                    "cannot encode the request: its settings are not an object".into(),
                ));
            }
        }
        Ok(Closed(()))
    }
}

fn encode_error(e: serde_json::Error) -> LlmError {
    LlmError::Config(format!("cannot encode the request: {e}"))
}
