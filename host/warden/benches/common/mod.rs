//! History building shared by the bench binaries (each includes this module).

use warden_core::chat::{Message, ToolCall};

/// Appends `turns` turns of one `read_file` call, with `arguments(i)` as its JSON and
/// `output(i)` as its result, the shape of a run that reads files one by one.
pub fn push_read_file_turns(
    messages: &mut Vec<Message>,
    turns: usize,
    arguments: impl Fn(usize) -> String,
    output: impl Fn(usize) -> String,
) {
    for i in 0..turns {
        let id = format!("call_{i}");
        messages.push(Message::Assistant {
            content: None,
            tool_calls: vec![ToolCall::new(id.clone(), "read_file", arguments(i))].into(),
        });
        messages.push(Message::tool_result(id, output(i), false));
    }
}
