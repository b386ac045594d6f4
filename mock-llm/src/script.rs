//! Scripted behaviour: which answer a request gets.
//!
//! Invariant: the answer depends only on the request (the number of assistant turns in
//! its history picks the turn), never on how many requests came before, so a retried
//! request gets the same answer as the original.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A tool call the mock makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptCall {
    pub name: String,
    /// Raw JSON text of the arguments, sent as-is (so it may be deliberately invalid).
    #[serde(default = "empty_object")]
    pub arguments: String,
}

fn empty_object() -> String {
    "{}".to_string()
}

/// Token usage the mock reports; computed from the sizes when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cached_tokens: u64,
}

/// One model turn.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Turn {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ScriptCall>,
    #[serde(default)]
    pub usage: Option<ScriptUsage>,
    /// Neutral finish reason: `stop`, `tool_calls` or `length`; by default `tool_calls`
    /// when the turn calls tools, else `stop`.
    #[serde(default)]
    pub finish: Option<String>,
}

impl Turn {
    /// A text answer.
    pub fn text(text: impl Into<String>) -> Self {
        Turn {
            text: Some(text.into()),
            ..Default::default()
        }
    }

    /// One tool call.
    pub fn call(name: impl Into<String>, arguments: impl Into<String>) -> Self {
        Turn {
            tool_calls: vec![ScriptCall {
                name: name.into(),
                arguments: arguments.into(),
            }],
            ..Default::default()
        }
    }

    /// The neutral finish reason.
    pub fn finish_reason(&self) -> &str {
        match &self.finish {
            Some(f) => f,
            None if !self.tool_calls.is_empty() => "tool_calls",
            None => "stop",
        }
    }
}

/// How the mock answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Behaviour {
    /// Turn `n` answers the request whose history holds `n` assistant messages. A request
    /// past the end is refused with 400 (a test asked more than it scripted).
    Script { turns: Vec<Turn> },
    /// Calls `tool` with `arguments` `times` times, then answers `answer`.
    ToolLoop {
        tool: String,
        arguments: String,
        times: usize,
        answer: String,
    },
    /// Answers with the text of the last user message or tool result (for benchmarks).
    #[default]
    Echo,
    /// A [`Behaviour::Script`] per model name: several agents scripted on one server (and
    /// one client's connections), each request answered from its `model`'s script.
    PerModel {
        scripts: BTreeMap<String, Vec<Turn>>,
    },
}

/// What the request needs from the script, extracted by each wire format.
pub struct Conversation<'a> {
    /// Assistant messages in the history.
    pub assistant_turns: usize,
    /// Text of the last user message or tool result.
    pub last_input: &'a str,
    /// The request's `model`.
    pub model: &'a str,
}

impl Behaviour {
    /// The turn answering this conversation, or why there is none.
    pub fn turn_for(&self, conv: &Conversation<'_>) -> Result<Turn, String> {
        match self {
            Behaviour::Script { turns } => scripted(turns, conv),
            Behaviour::PerModel { scripts } => match scripts.get(conv.model) {
                Some(turns) => scripted(turns, conv),
                None => Err(format!(
                    "mock-llm: no script for model `{}` (scripted: {})",
                    conv.model,
                    scripts
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
            Behaviour::ToolLoop {
                tool,
                arguments,
                times,
                answer,
            } => Ok(if conv.assistant_turns < *times {
                Turn::call(tool.clone(), arguments.clone())
            } else {
                Turn::text(answer.clone())
            }),
            Behaviour::Echo => Ok(Turn::text(conv.last_input.to_string())),
        }
    }
}

/// Turn `n` of `turns` for a history with `n` assistant messages.
fn scripted(turns: &[Turn], conv: &Conversation<'_>) -> Result<Turn, String> {
    turns.get(conv.assistant_turns).cloned().ok_or_else(|| {
        format!(
            "mock-llm: the script has {} turn(s) but this request is turn {} (its history holds {} assistant message(s))",
            turns.len(),
            conv.assistant_turns + 1,
            conv.assistant_turns
        )
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn script_picks_the_turn_by_assistant_count_and_refuses_past_the_end() {
        let b = Behaviour::Script {
            turns: vec![Turn::call("t", "{}"), Turn::text("done")],
        };
        let conv = |n| Conversation {
            assistant_turns: n,
            last_input: "",
            model: "m",
        };
        assert_eq!(b.turn_for(&conv(0)).unwrap().finish_reason(), "tool_calls");
        assert_eq!(b.turn_for(&conv(1)).unwrap().text.as_deref(), Some("done"));
        assert!(b.turn_for(&conv(2)).unwrap_err().contains("2 turn(s)"));
    }

    #[test]
    fn tool_loop_calls_k_times_then_answers() {
        let b = Behaviour::ToolLoop {
            tool: "x".into(),
            arguments: "{}".into(),
            times: 2,
            answer: "ok".into(),
        };
        for n in 0..2 {
            assert_eq!(
                b.turn_for(&Conversation {
                    assistant_turns: n,
                    last_input: "",
                    model: "m",
                })
                .unwrap()
                .tool_calls[0]
                    .name,
                "x"
            );
        }
        assert_eq!(
            b.turn_for(&Conversation {
                assistant_turns: 2,
                last_input: "",
                model: "m",
            })
            .unwrap()
            .text
            .as_deref(),
            Some("ok")
        );
    }

    #[test]
    fn per_model_scripts_answer_each_model_from_its_own() {
        let b = Behaviour::PerModel {
            scripts: [
                ("a".to_string(), vec![Turn::text("from a")]),
                (
                    "b".to_string(),
                    vec![Turn::call("t", "{}"), Turn::text("from b")],
                ),
            ]
            .into(),
        };
        let conv = |model, n| Conversation {
            assistant_turns: n,
            last_input: "",
            model,
        };
        assert_eq!(
            b.turn_for(&conv("a", 0)).unwrap().text.as_deref(),
            Some("from a")
        );
        assert_eq!(
            b.turn_for(&conv("b", 1)).unwrap().text.as_deref(),
            Some("from b")
        );
        let err = b.turn_for(&conv("c", 0)).unwrap_err();
        assert!(
            err.contains("no script for model `c` (scripted: a, b)"),
            "{err}"
        );
    }

    #[test]
    fn behaviour_from_json() {
        let b: Behaviour = serde_json::from_str(r#"{"kind":"script","turns":[{"text":"hi","usage":{"input_tokens":3,"output_tokens":1}}]}"#).unwrap();
        let Behaviour::Script { turns } = b else {
            panic!()
        };
        assert_eq!(turns[0].usage.unwrap().input_tokens, 3);
    }
}
