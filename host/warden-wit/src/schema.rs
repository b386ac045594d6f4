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

use serde_json::{Value, json};

use super::ty::WitType;

/// The JSON Schema of values of `ty`.
pub fn schema(ty: &WitType) -> Value {
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
        WitType::List(item) => json!({"type": "array", "items": schema(item)}),
        WitType::Record(fields) => object(fields.iter().map(|(n, t)| (n.as_str(), t))),
        WitType::Tuple(items) => {
            let n = items.len();
            let mut s = json!({"type": "array", "minItems": n, "maxItems": n});
            if n > 0 {
                s["prefixItems"] = items.iter().map(schema).collect();
                s["items"] = Value::Bool(false);
            }
            s
        }
        WitType::Variant(cases) => json!({
            "oneOf": cases.iter().map(|(name, payload)| {
                let mut props = serde_json::Map::new();
                props.insert("tag".into(), json!({"const": name}));
                let mut required = vec![json!("tag")];
                if let Some(p) = payload {
                    props.insert("value".into(), schema(p));
                    required.push(json!("value"));
                }
                json!({
                    "type": "object",
                    "properties": props,
                    "required": required,
                    "additionalProperties": false,
                })
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
            let some = if inner.admits_null() {
                // Unlike an option field, the wrapper's key is required: `{}` is no value.
                json!({
                    "type": "object",
                    "properties": {"some": schema(inner)},
                    "required": ["some"],
                    "additionalProperties": false,
                })
            } else {
                schema(inner)
            };
            json!({"anyOf": [{"type": "null"}, some]})
        }
        WitType::Result { ok, err } => json!({
            "oneOf": [side("ok", ok.as_deref()), side("err", err.as_deref())]
        }),
    }
}

/// The schema of an object whose properties are `fields`, `option` ones optional.
pub(crate) fn object<'a>(fields: impl IntoIterator<Item = (&'a str, &'a WitType)>) -> Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, ty) in fields {
        props.insert(name.to_string(), schema(ty));
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
fn side(key: &str, payload: Option<&WitType>) -> Value {
    let inner = payload.map_or_else(|| json!({"type": "null"}), schema);
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
