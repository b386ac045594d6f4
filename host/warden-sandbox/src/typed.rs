//! Components with plain typed WIT exports (no `warden:tool` world) as tools: at load, the
//! component's type is read by `warden-wit` into tools with schemas and each tool's export
//! index is resolved once; per call, the JSON arguments are read into component values
//! before any instance exists, and the results are written back as the output or a tool
//! error.
//!
//! Invariant: a [`TypedSet`] holds only tools whose export resolved and whose names are
//! unique; a call reaches an instance only with arguments that fit the function's types.

use serde_json::Value;
use warden_wit::docs::PackageDocs;
use warden_wit::{DiscoverError, Returned, Skipped, TypedTool};
use wasmtime::Engine;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Val};

use super::error::{LoadError, ToolCallError};
use super::store::StoreState;
use super::tools::{ToolInfo, args_value};

/// The typed exports of one component offered as tools, and those that are not.
pub(crate) struct TypedSet {
    pub(crate) pre: InstancePre<StoreState>,
    funcs: Vec<TypedFunc>,
    pub(crate) skipped: Vec<Skipped>,
}

pub(crate) struct TypedFunc {
    tool: TypedTool,
    pub(crate) export: ComponentExportIndex,
}

impl TypedFunc {
    /// How many result slots the call needs.
    pub(crate) fn results(&self) -> usize {
        self.tool.sig.result_count()
    }
}

/// Reads `component`'s typed exports into tools (described from `docs` where present).
pub(crate) fn load(
    engine: &Engine,
    component: &Component,
    pre: InstancePre<StoreState>,
    docs: Option<&PackageDocs>,
) -> Result<(Vec<ToolInfo>, TypedSet), LoadError> {
    let found = warden_wit::discover(engine, component, docs).map_err(|e| match e {
        DiscoverError::NameCollision {
            name,
            first,
            second,
        } => LoadError::ToolNameCollision {
            name,
            first,
            second,
        },
        other => LoadError::MissingExports(other.to_string()),
    })?;
    if found.tools.is_empty() {
        let reasons: Vec<String> = found
            .skipped
            .iter()
            .map(|s| format!("`{}`: {}", s.export, s.reason))
            .collect();
        let detail = if reasons.is_empty() {
            "it exports no functions".to_string()
        } else {
            format!(
                "none of its functions can be a tool ({})",
                reasons.join("; ")
            )
        };
        return Err(LoadError::MissingExports(format!(
            "it exports neither warden:tool/tool nor a function with a JSON form: {detail}"
        )));
    }
    let mut infos = Vec::with_capacity(found.tools.len());
    let mut funcs = Vec::with_capacity(found.tools.len());
    for tool in found.tools {
        let parent = match &tool.interface {
            Some(iface) => Some(
                component
                    .get_export_index(None, iface.as_str())
                    .ok_or_else(|| {
                        LoadError::MissingExports(format!(
                            "the interface `{iface}` does not resolve"
                        ))
                    })?,
            ),
            None => None,
        };
        let export = component
            .get_export_index(parent.as_ref(), tool.func.as_str())
            .ok_or_else(|| {
                LoadError::MissingExports(format!("`{}` does not resolve", tool.export_path()))
            })?;
        infos.push(ToolInfo {
            name: tool.name.clone(),
            description: tool.description.clone(),
            args_schema: tool.sig.args_schema(),
            output_schema: Some(tool.sig.output_schema()),
        });
        funcs.push(TypedFunc { tool, export });
    }
    Ok((
        infos,
        TypedSet {
            pre,
            funcs,
            skipped: found.skipped,
        },
    ))
}

impl TypedSet {
    /// Tool `name` and its parameters read from `args_json`, or why the call cannot start.
    pub(crate) fn prepare(
        &self,
        name: &str,
        args_json: &str,
        parsed: Option<&Value>,
    ) -> Result<(&TypedFunc, Vec<Val>), ToolCallError> {
        let func = self
            .funcs
            .iter()
            .find(|f| f.tool.name == name)
            .ok_or_else(|| ToolCallError::UnknownTool {
                name: name.to_string(),
                available: self.funcs.iter().map(|f| f.tool.name.clone()).collect(),
            })?;
        let args = args_value(args_json, parsed)?;
        let params =
            func.tool
                .sig
                .read_args(&args)
                .map_err(|e| ToolCallError::InvalidArguments {
                    path: e.path,
                    message: format!("expected {}, found {}", e.expected, e.found),
                })?;
        Ok((func, params))
    }
}

/// The output JSON text of a call that returned `results`, or the tool error it reported.
pub(crate) fn finish(func: &TypedFunc, results: &[Val]) -> Result<String, ToolCallError> {
    match func.tool.sig.returned(results) {
        Ok(Returned::Output(json)) => Ok(json.to_string()),
        Ok(Returned::ToolError(message)) => Err(ToolCallError::ToolFailed { message }),
        Err(e) => Err(ToolCallError::InvalidOutput {
            message: e.to_string(),
        }),
    }
}
