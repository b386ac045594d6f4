//! Doc comments of named WIT types — records and their fields, variants and their cases,
//! enums, flags — attached to the parts of a function's signature ([`SigDocs`], one
//! [`TypeDoc`] tree per parameter and result, shaped like its [`WitType`](crate::WitType)).
//!
//! wasmtime's component types carry no type names, so names come from decoding the
//! component's type with wit-parser (the component exports its named types), and docs from
//! the `package-docs` section, keyed by those names. Both are read at load, and only when
//! the section documents types at all: a component without type docs pays nothing.
//!
//! Invariant: this is best effort and never fails or panics a load — a component that
//! cannot be decoded, a type the docs do not know, or a shape that disagrees gives no docs
//! for that part, and the walk is bounded in depth.

use std::collections::BTreeMap;

use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{Function, Resolve, Type, TypeDefKind, TypeOwner, WorldItem, WorldKey};

use super::docs::{PackageDocs, TypeMeta, without_docs};

/// The deepest type nesting given docs (WIT types are acyclic; this bounds hostile ones).
const MAX_DEPTH: usize = 64;

/// Docs of one type and of its parts, in the shape of its `WitType`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeDoc {
    /// The named type's own doc comment.
    pub docs: Option<String>,
    /// Per record field, variant or enum case, or flag, by position: its doc comment.
    pub items: Vec<Option<String>>,
    /// The docs of the nested types, by position: record fields, tuple items and variant
    /// cases (a case without payload holds an empty one); the one element of a list or an
    /// option; `ok` then `err` of a result.
    pub inner: Vec<TypeDoc>,
}

impl TypeDoc {
    /// No docs at all.
    pub const NONE: &'static TypeDoc = &TypeDoc {
        docs: None,
        items: Vec::new(),
        inner: Vec::new(),
    };

    /// The docs of nested type `i`, or none.
    pub fn inner(&self, i: usize) -> &TypeDoc {
        self.inner.get(i).unwrap_or(Self::NONE)
    }

    /// The doc comment of item `i`, if any.
    pub fn item(&self, i: usize) -> Option<&str> {
        self.items.get(i).and_then(Option::as_deref)
    }

    fn is_empty(&self) -> bool {
        self.docs.is_none()
            && self.items.iter().all(Option::is_none)
            && self.inner.iter().all(Self::is_empty)
    }
}

/// The docs of a function's parameters (by name) and result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigDocs {
    /// Per parameter name.
    pub params: BTreeMap<String, TypeDoc>,
    /// The result's.
    pub result: TypeDoc,
}

impl SigDocs {
    /// The docs of parameter `name`, or none.
    pub fn param(&self, name: &str) -> &TypeDoc {
        self.params.get(name).unwrap_or(TypeDoc::NONE)
    }
}

/// Exported functions by (interface export name or none, function name).
pub(crate) type Shapes = BTreeMap<(Option<String>, String), SigDocs>;

/// The type docs of every exported function of `component`, from `docs`.
pub(crate) fn exported(component: &[u8], docs: &PackageDocs) -> Shapes {
    // wit-parser is not ours to trust with hostile bytes: a panic in it costs only the docs.
    std::panic::catch_unwind(|| walk(component, docs)).unwrap_or_default()
}

fn walk(component: &[u8], docs: &PackageDocs) -> Shapes {
    // wit-parser would apply the section to the decoded package and fail: the decoded
    // world is not named as the source world was. The docs are looked up by name below.
    let Some(bare) = without_docs(component) else {
        return Shapes::new();
    };
    let Ok(DecodedWasm::Component(resolve, world)) = decode(&bare) else {
        return Shapes::new();
    };
    let named = Named {
        resolve: &resolve,
        docs,
    };
    let mut shapes = Shapes::new();
    let Some(world) = resolve.worlds.get(world) else {
        return shapes;
    };
    for (key, item) in &world.exports {
        match item {
            WorldItem::Function(f) => {
                shapes.insert((None, f.name.clone()), named.sig(f));
            }
            WorldItem::Interface { id, .. } => {
                let export = match key {
                    WorldKey::Name(name) => Some(name.clone()),
                    WorldKey::Interface(id) => resolve.id_of(*id),
                };
                let (Some(export), Some(iface)) = (export, resolve.interfaces.get(*id)) else {
                    continue;
                };
                for (name, f) in &iface.functions {
                    shapes.insert((Some(export.clone()), name.clone()), named.sig(f));
                }
            }
            WorldItem::Type { .. } => {}
        }
    }
    shapes.retain(|_, sig| !(sig.result.is_empty() && sig.params.values().all(TypeDoc::is_empty)));
    shapes
}

/// A decoded component's types, and the docs to find by their names.
struct Named<'a> {
    resolve: &'a Resolve,
    docs: &'a PackageDocs,
}

impl Named<'_> {
    fn sig(&self, f: &Function) -> SigDocs {
        SigDocs {
            params: (f.params.iter())
                .map(|p| (p.name.clone(), self.doc(&p.ty, 0)))
                .collect(),
            result: f
                .result
                .as_ref()
                .map(|t| self.doc(t, 0))
                .unwrap_or_default(),
        }
    }

    fn doc(&self, ty: &Type, depth: usize) -> TypeDoc {
        let Type::Id(id) = ty else {
            return TypeDoc::default();
        };
        let Some(def) = self.resolve.types.get(*id) else {
            return TypeDoc::default();
        };
        if depth > MAX_DEPTH {
            return TypeDoc::default();
        }
        let meta = def.name.as_deref().and_then(|n| self.meta(&def.owner, n));
        let item_docs = |names: &mut dyn Iterator<Item = &String>| -> Vec<Option<String>> {
            names
                .map(|n| meta.and_then(|m| m.items.get(n)).and_then(|d| text(d)))
                .collect()
        };
        let nested = |t: &Type| self.doc(t, depth + 1);
        let mut doc = match &def.kind {
            TypeDefKind::Record(r) => TypeDoc {
                items: item_docs(&mut r.fields.iter().map(|f| &f.name)),
                inner: r.fields.iter().map(|f| nested(&f.ty)).collect(),
                ..TypeDoc::default()
            },
            TypeDefKind::Variant(v) => TypeDoc {
                items: item_docs(&mut v.cases.iter().map(|c| &c.name)),
                inner: (v.cases.iter())
                    .map(|c| c.ty.as_ref().map(nested).unwrap_or_default())
                    .collect(),
                ..TypeDoc::default()
            },
            TypeDefKind::Enum(e) => TypeDoc {
                items: item_docs(&mut e.cases.iter().map(|c| &c.name)),
                ..TypeDoc::default()
            },
            TypeDefKind::Flags(f) => TypeDoc {
                items: item_docs(&mut f.flags.iter().map(|f| &f.name)),
                ..TypeDoc::default()
            },
            TypeDefKind::Tuple(t) => TypeDoc {
                inner: t.types.iter().map(nested).collect(),
                ..TypeDoc::default()
            },
            TypeDefKind::List(t) | TypeDefKind::Option(t) => TypeDoc {
                inner: vec![nested(t)],
                ..TypeDoc::default()
            },
            TypeDefKind::Result(r) => TypeDoc {
                inner: [&r.ok, &r.err]
                    .into_iter()
                    .map(|t| t.as_ref().map(nested).unwrap_or_default())
                    .collect(),
                ..TypeDoc::default()
            },
            // An alias (`type a = b`, or a type `use`d from another interface): the
            // target's docs, under the alias's own doc comment if it has one.
            TypeDefKind::Type(t) => nested(t),
            _ => TypeDoc::default(),
        };
        if let Some(own) = meta.and_then(|m| m.docs.as_deref()).and_then(text) {
            doc.docs = Some(own);
        }
        doc
    }

    /// The docs of the type `name` defined in the interface or world `owner`.
    fn meta(&self, owner: &TypeOwner, name: &str) -> Option<&TypeMeta> {
        match owner {
            TypeOwner::Interface(id) => {
                let iface = self.resolve.interfaces.get(*id)?;
                self.docs
                    .interfaces
                    .get(iface.name.as_deref()?)?
                    .types
                    .get(name)
            }
            // The decoded world's name is not the source world's: look in each.
            TypeOwner::World(_) => self.docs.worlds.values().find_map(|w| w.types.get(name)),
            TypeOwner::None => None,
        }
    }
}

fn text(docs: &str) -> Option<String> {
    let trimmed = docs.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::WitType;
    use crate::schema::schema_doc;

    fn doc(docs: Option<&str>, items: &[Option<&str>], inner: Vec<TypeDoc>) -> TypeDoc {
        TypeDoc {
            docs: docs.map(String::from),
            items: items.iter().map(|i| i.map(String::from)).collect(),
            inner,
        }
    }

    #[test]
    fn a_field_doc_takes_the_place_of_its_types_doc() {
        let point = WitType::Record(vec![("x".into(), WitType::S32)]);
        let outer = WitType::Record(vec![
            ("from".into(), point.clone()),
            ("to".into(), point.clone()),
        ]);
        let point_doc = doc(Some("A point."), &[Some("Across.")], vec![]);
        let d = doc(
            Some("A line."),
            &[Some("Where it starts."), None],
            vec![point_doc.clone(), point_doc],
        );
        let s = schema_doc(&outer, &d);
        assert_eq!(s["description"], "A line.");
        assert_eq!(s["properties"]["from"]["description"], "Where it starts.");
        // No field doc: the type's own.
        assert_eq!(s["properties"]["to"]["description"], "A point.");
        assert_eq!(
            s["properties"]["to"]["properties"]["x"]["description"],
            "Across."
        );
    }

    #[test]
    fn docs_that_do_not_fit_the_shape_are_ignored() {
        // More items and nested docs than the type has, and none where it has some.
        let ty = WitType::List(Box::new(WitType::Enum(vec!["a".into()])));
        let d = doc(None, &[Some("x"), Some("y")], vec![doc(None, &[], vec![])]);
        assert_eq!(schema_doc(&ty, &d), crate::schema(&ty));
        let wide = doc(None, &[Some("A doc."), Some("Beyond the cases.")], vec![]);
        let s = schema_doc(&WitType::Enum(vec!["a".into()]), &wide);
        assert_eq!(s["description"], json!("`a`: A doc."));
    }

    #[test]
    fn type_docs_on_a_component_that_does_not_decode_give_no_shapes() {
        let mut docs = PackageDocs::default();
        docs.interfaces.entry("i".into()).or_default().types.insert(
            "t".into(),
            TypeMeta {
                docs: Some("A type.".into()),
                ..TypeMeta::default()
            },
        );
        // Only a header: not a component wit-parser can read a world from.
        let bytes = crate::docs::embed(b"\0asm\x0d\0\x01\0", &docs).unwrap();
        let read = PackageDocs::read(&bytes).unwrap();
        assert_eq!(
            read.interfaces["i"].types["t"].docs.as_deref(),
            Some("A type.")
        );
        assert!(read.signature(Some("p:k/i"), "f").is_none());
        assert!(exported(b"garbage", &docs).is_empty());
    }
}
