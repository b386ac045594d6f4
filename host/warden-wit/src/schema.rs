//! JSON Schema (draft 2020-12) of a [`WitType`]. This module's table is THE mapping: `read.rs`
//! accepts exactly the JSON these schemas accept, and `write.rs` writes only such JSON.
//!
//! | WIT | JSON |
//! |---|---|
//! | `bool` | boolean |
//! | `s8` … `u64` | integer with the type's `minimum`/`maximum`; 64-bit values kept exact |
//! | `f32`, `f64` | number (`f32` within ±`f32::MAX`); NaN and ±inf have no JSON form: writing one is an error |
//! | `char` | string of exactly one Unicode scalar value |
//! | `string` | string |
//! | `list<T>` | array of T — `list<u8>` too: an array of integers 0–255 (no base64) |
//! | `record` | object, `additionalProperties: false`; every field required except `option` fields |
//! | `option<T>` | `null` (none) or T (some); an `option` field or parameter may also be absent (none). When T itself admits `null` (`option<option<U>>`), some is `{"some": T}` |
//! | `tuple<A, B>` | array of exactly that many items, `prefixItems` |
//! | `variant` | `{"tag": "case"}` or `{"tag": "case", "value": payload}` |
//! | `enum` | one of the case names (string) |
//! | `flags` | array of unique flag names (written in declaration order) |
//! | `result<T, E>` inside a value | `{"ok": T}` or `{"err": E}`, a missing payload as `null` |
//!
//! A function's own `result<T, E>` is not a value: `ok` is the tool's output, `err` a tool
//! error (see `func.rs`).
//!
//! Doc comments ([`TypeDoc`]) only add `description`s, never change what validates: a named
//! type's doc on its schema; a field's doc on its property (in place of its type's); a
//! variant case's on its alternative; enum cases and flags listed in their type's.

use serde_json::{Value, json};

use super::ty::WitType;
use super::typedoc::TypeDoc;

/// The JSON Schema of values of `ty`.
pub fn schema(ty: &WitType) -> Value {
    schema_doc(ty, TypeDoc::NONE)
}

/// The JSON Schema of values of `ty`, described from `doc` (shaped like `ty`).
pub fn schema_doc(ty: &WitType, doc: &TypeDoc) -> Value {
    let mut s = bare(ty, doc);
    let mut text: Vec<String> = doc.docs.iter().cloned().collect();
    if let WitType::Enum(names) | WitType::Flags(names) = ty {
        let listed: Vec<String> = (names.iter().enumerate())
            .filter_map(|(i, n)| Some(format!("`{n}`: {}", doc.item(i)?)))
            .collect();
        if !listed.is_empty() {
            text.push(listed.join("; "));
        }
    }
    if !text.is_empty() {
        s["description"] = Value::String(text.join("\n\n"));
    }
    s
}

fn bare(ty: &WitType, doc: &TypeDoc) -> Value {
    match ty {
        WitType::Bool => json!({"type": "boolean"}),
        WitType::S8 => int(i8::MIN.into(), i8::MAX.into()),
        WitType::U8 => uint(u8::MAX.into()),
        WitType::S16 => int(i16::MIN.into(), i16::MAX.into()),
        WitType::U16 => uint(u16::MAX.into()),
        WitType::S32 => int(i32::MIN.into(), i32::MAX.into()),
        WitType::U32 => uint(u32::MAX.into()),
        WitType::S64 => int(i64::MIN, i64::MAX),
        WitType::U64 => uint(u64::MAX),
        WitType::F32 => json!({
            "type": "number",
            "minimum": -f64::from(f32::MAX),
            "maximum": f64::from(f32::MAX),
        }),
        WitType::F64 => json!({"type": "number"}),
        WitType::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
        WitType::String => json!({"type": "string"}),
        WitType::List(item) => json!({"type": "array", "items": schema_doc(item, doc.inner(0))}),
        WitType::Record(fields) => object(
            (fields.iter().enumerate())
                .map(|(i, (n, t))| (n.as_str(), t, doc.inner(i), doc.item(i))),
        ),
        WitType::Tuple(items) => {
            let n = items.len();
            let mut s = json!({"type": "array", "minItems": n, "maxItems": n});
            if n > 0 {
                s["prefixItems"] = (items.iter().enumerate())
                    .map(|(i, t)| schema_doc(t, doc.inner(i)))
                    .collect();
                s["items"] = Value::Bool(false);
            }
            s
        }
        WitType::Variant(cases) => json!({
            "oneOf": cases.iter().enumerate().map(|(i, (name, payload))| {
                let mut props = serde_json::Map::new();
                props.insert("tag".into(), json!({"const": name}));
                let mut required = vec![json!("tag")];
                if let Some(p) = payload {
                    props.insert("value".into(), schema_doc(p, doc.inner(i)));
                    required.push(json!("value"));
                }
                let mut case = json!({
                    "type": "object",
                    "properties": props,
                    "required": required,
                    "additionalProperties": false,
                });
                if let Some(text) = doc.item(i) {
                    case["description"] = json!(text);
                }
                case
            }).collect::<Vec<_>>()
        }),
        WitType::Enum(names) => json!({"type": "string", "enum": names}),
        WitType::Flags(names) if names.is_empty() => json!({"type": "array", "maxItems": 0}),
        WitType::Flags(names) => json!({
            "type": "array",
            "items": {"type": "string", "enum": names},
            "uniqueItems": true,
        }),
        WitType::Option(inner) => {
            let some_schema = schema_doc(inner, doc.inner(0));
            let some = if inner.admits_null() {
                // Unlike an option field, the wrapper's key is required: `{}` is no value.
                json!({
                    "type": "object",
                    "properties": {"some": some_schema},
                    "required": ["some"],
                    "additionalProperties": false,
                })
            } else {
                some_schema
            };
            json!({"anyOf": [{"type": "null"}, some]})
        }
        WitType::Result { ok, err } => json!({
            "oneOf": [
                side("ok", ok.as_deref(), doc.inner(0)),
                side("err", err.as_deref(), doc.inner(1)),
            ]
        }),
    }
}

/// The schema of an object whose properties are `fields` (name, type, the type's docs, the
/// field's own doc), `option` ones optional.
pub(crate) fn object<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a WitType, &'a TypeDoc, Option<&'a str>)>,
) -> Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, ty, doc, field_doc) in fields {
        let mut property = schema_doc(ty, doc);
        if let Some(text) = field_doc {
            property["description"] = Value::String(text.to_string());
        }
        props.insert(name.to_string(), property);
        if !matches!(ty, WitType::Option(_)) {
            required.push(Value::String(name.to_string()));
        }
    }
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// `{"ok": T}` / `{"err": E}`; a side without payload holds `null`.
fn side(key: &str, payload: Option<&WitType>, doc: &TypeDoc) -> Value {
    let inner = payload.map_or_else(|| json!({"type": "null"}), |t| schema_doc(t, doc));
    json!({
        "type": "object",
        "properties": {key: inner},
        "required": [key],
        "additionalProperties": false,
    })
}

fn int(min: i64, max: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

fn uint(max: u64) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": max})
}
