//! Reads a component's type and lists what it offers as tools: every exported function, at
//! world level or inside an exported interface, whose parameters and result have a JSON
//! form ([`TypedTool`]); the rest are [`Skipped`] with the reason.
//!
//! Invariant: the tool names of one component are unique; two functions that would share a
//! name fail the whole discovery with [`DiscoverError::NameCollision`] naming both.

use std::collections::BTreeMap;

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentFunc, ComponentItem};

use super::docs::PackageDocs;
use super::func::FuncSig;
use super::names::tool_name;
use super::ty::WitType;
use super::typedoc::SigDocs;

/// An exported function offered as a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedTool {
    /// The tool name (see `names.rs`).
    pub name: String,
    /// The exported interface holding the function (its full export name), if any.
    pub interface: Option<String>,
    /// The function's name.
    pub func: String,
    /// Its JSON-facing signature.
    pub sig: FuncSig,
    /// From the `package-docs` section, else generated from the signature.
    pub description: String,
}

impl TypedTool {
    /// `iface#func` or `func`: the export as `warden tool list` shows it.
    pub fn export_path(&self) -> String {
        export_path(self.interface.as_deref(), &self.func)
    }
}

/// An exported function not offered as a tool, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// `iface#func` or `func`.
    pub export: String,
    /// Why it is not a tool.
    pub reason: String,
}

/// Why a component's exports cannot be offered as tools.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// Two exported functions map to one tool name.
    #[error(
        "the exports `{first}` and `{second}` would both be the tool `{name}`; tool names must be unique within a component (rename one of the functions or interfaces)"
    )]
    NameCollision {
        /// The shared tool name.
        name: String,
        /// One export.
        first: String,
        /// The other.
        second: String,
    },
}

/// What a component offers: tools and skipped exports, both in export order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Functions offered as tools.
    pub tools: Vec<TypedTool>,
    /// Functions that are not, with reasons.
    pub skipped: Vec<Skipped>,
}

/// Lists the tools of `component`, describing them from `docs` where it has them.
pub fn discover(
    engine: &Engine,
    component: &Component,
    docs: Option<&PackageDocs>,
) -> Result<Discovered, DiscoverError> {
    let mut found = Discovered::default();
    let ty = component.component_type();
    for (name, item) in ty.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(f) => found.add(None, name, &f, docs),
            ComponentItem::ComponentInstance(instance) => {
                for (fname, inner) in instance.exports(engine) {
                    match inner.ty {
                        ComponentItem::ComponentFunc(f) => found.add(Some(name), fname, &f, docs),
                        ComponentItem::ComponentInstance(_) => found.skipped.push(Skipped {
                            export: export_path(Some(name), fname),
                            reason:
                                "a nested instance (only an interface's own functions are tools)"
                                    .into(),
                        }),
                        // Types, resources and modules are not functions.
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let mut seen: BTreeMap<&str, &TypedTool> = BTreeMap::new();
    for tool in &found.tools {
        if let Some(first) = seen.insert(&tool.name, tool) {
            return Err(DiscoverError::NameCollision {
                name: tool.name.clone(),
                first: first.export_path(),
                second: tool.export_path(),
            });
        }
    }
    Ok(found)
}

impl Discovered {
    fn add(
        &mut self,
        interface: Option<&str>,
        func: &str,
        f: &ComponentFunc,
        docs: Option<&PackageDocs>,
    ) {
        let export = export_path(interface, func);
        match signature(interface, func, f) {
            Ok(mut sig) => {
                if let Some(types) = docs.and_then(|d| d.signature(interface, func)) {
                    sig.docs = types.clone();
                }
                let description = docs
                    .and_then(|d| d.function(interface, func))
                    .map_or_else(|| sig.generated_description(&export), str::to_string);
                self.tools.push(TypedTool {
                    name: tool_name(interface, func),
                    interface: interface.map(str::to_string),
                    func: func.to_string(),
                    sig,
                    description,
                });
            }
            Err(reason) => self.skipped.push(Skipped { export, reason }),
        }
    }
}

/// Exports toolchains add for themselves, not tools an author meant: (interface, function,
/// why). Calling one would re-run a build-time step or trap.
const TOOLCHAIN_EXPORTS: &[(&str, &str, &str)] = &[(
    "exports",
    "init",
    "componentize-py's build-time initialisation hook, not a tool",
)];

/// The function's JSON-facing signature, or why it has none.
fn signature(interface: Option<&str>, func: &str, f: &ComponentFunc) -> Result<FuncSig, String> {
    if let Some((_, _, why)) = TOOLCHAIN_EXPORTS
        .iter()
        .find(|(i, n, _)| interface == Some(*i) && func == *n)
    {
        return Err((*why).to_string());
    }
    if ["[constructor]", "[method]", "[static]"]
        .iter()
        .any(|p| func.starts_with(p))
    {
        return Err(
            "a resource's constructor or method (resources are not offered as tools)".into(),
        );
    }
    if func.contains('#') {
        return Err("a toolchain's internal export".into());
    }
    if f.async_() {
        return Err("an async function (component-model async calls are not supported yet)".into());
    }
    let params = f
        .params()
        .map(|(name, ty)| {
            WitType::from_wasmtime(&ty)
                .map(|t| (name.to_string(), t))
                .map_err(|e| format!("parameter `{name}`: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = f.results();
    let result = match (results.next(), results.next()) {
        (None, _) => None,
        (Some(ty), None) => Some(WitType::from_wasmtime(&ty).map_err(|e| format!("result: {e}"))?),
        (Some(_), Some(_)) => return Err("several results (one is supported)".into()),
    };
    Ok(FuncSig {
        params,
        result,
        docs: SigDocs::default(),
    })
}

fn export_path(interface: Option<&str>, func: &str) -> String {
    match interface {
        Some(i) => format!("{i}#{func}"),
        None => func.to_string(),
    }
}
