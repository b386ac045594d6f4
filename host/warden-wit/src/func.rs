//! A function as a tool: [`FuncSig`] (its parameters and result), the schema of its
//! arguments object and of its output, reading the arguments and turning what it returned
//! into an output or a tool error.
//!
//! Invariant: arguments and outputs use the one mapping of `schema.rs`; a function's own
//! `result<T, E>` is the call's outcome (`ok`: output, `err`: tool error), not a value.

use serde_json::{Value, json};
use wasmtime::component::Val;

use super::read::{ReadError, read_fields};
use super::schema::{object, schema_doc};
use super::ty::WitType;
use super::typedoc::SigDocs;
use super::write::{WriteError, write};

/// The JSON-facing signature of an exported function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncSig {
    /// Parameters in order, by their WIT names (the argument object's keys).
    pub params: Vec<(String, WitType)>,
    /// The result type, if the function returns one.
    pub result: Option<WitType>,
    /// Doc comments of the named types in it (none unless the component documents them).
    pub docs: SigDocs,
}

/// What a call returned, as a tool sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Returned {
    /// The output (for `result<T, E>`: the `ok` payload, `null` if none).
    Output(Value),
    /// The function's `result` was `err`: the message the model sees (the payload itself
    /// if it is a string, else its JSON).
    ToolError(String),
}

impl FuncSig {
    /// The JSON Schema of the arguments object.
    pub fn args_schema(&self) -> Value {
        object((self.params.iter()).map(|(n, t)| (n.as_str(), t, self.docs.param(n), None)))
    }

    /// The JSON Schema of the output.
    pub fn output_schema(&self) -> Value {
        let doc = &self.docs.result;
        match &self.result {
            None => json!({"type": "null"}),
            Some(WitType::Result { ok, .. }) => ok
                .as_deref()
                .map_or_else(|| json!({"type": "null"}), |t| schema_doc(t, doc.inner(0))),
            Some(ty) => schema_doc(ty, doc),
        }
    }

    /// Reads the arguments object into the parameter values, in order.
    pub fn read_args(&self, args: &Value) -> Result<Vec<Val>, ReadError> {
        read_fields(&self.params, args)
    }

    /// How many result slots a dynamic call needs.
    pub fn result_count(&self) -> usize {
        usize::from(self.result.is_some())
    }

    /// Turns the call's results into the tool's outcome.
    pub fn returned(&self, results: &[Val]) -> Result<Returned, WriteError> {
        let (ty, val) = match (&self.result, results) {
            (None, []) => return Ok(Returned::Output(Value::Null)),
            (Some(ty), [val]) => (ty, val),
            _ => {
                return Err(WriteError {
                    path: String::new(),
                    message: format!(
                        "is {} values where the signature has {}",
                        results.len(),
                        self.result_count()
                    ),
                });
            }
        };
        match (ty, val) {
            (WitType::Result { ok, err }, Val::Result(r)) => match r {
                Ok(None) => Ok(Returned::Output(Value::Null)),
                Ok(Some(v)) => match ok.as_deref() {
                    Some(t) => write(t, v).map(Returned::Output),
                    None => Err(WriteError {
                        path: String::new(),
                        message: "is an `ok` payload where the signature has none".into(),
                    }),
                },
                Err(None) => Ok(Returned::ToolError("the tool reported an error".into())),
                Err(Some(v)) => match (err.as_deref(), &**v) {
                    (Some(WitType::String), Val::String(s)) => Ok(Returned::ToolError(s.clone())),
                    (Some(t), v) => write(t, v).map(|j| Returned::ToolError(j.to_string())),
                    (None, _) => Ok(Returned::ToolError("the tool reported an error".into())),
                },
            },
            (ty, val) => write(ty, val).map(Returned::Output),
        }
    }

    /// A description generated from the signature, for functions without doc comments.
    pub fn generated_description(&self, export: &str) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(n, t)| format!("{n}: {}", t.wit()))
            .collect();
        let result = match &self.result {
            None => String::new(),
            Some(t) => format!(" -> {}", t.wit()),
        };
        let mut text = format!(
            "Calls the WebAssembly function `{export}({}){result}`.",
            params.join(", ")
        );
        if matches!(self.result, Some(WitType::Result { .. })) {
            text.push_str(" Its `err` case is reported as a tool error.");
        }
        text
    }
}
