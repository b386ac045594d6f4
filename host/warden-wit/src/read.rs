//! Reads JSON into component values ([`Val`]) following the mapping in `schema.rs`, so it
//! accepts exactly what the schema accepts.
//!
//! Invariant: a value is returned only if every part of the JSON fits the type; otherwise
//! the error names the JSON Pointer path of the first part that does not and what was
//! expected there. Recursion follows the type (whose depth the component format bounds),
//! never the JSON alone.

use serde_json::{Map, Value};
use wasmtime::component::Val;

use super::ty::WitType;

/// JSON that does not fit the type it was read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {}: expected {expected}, found {found}", if path.is_empty() { "the top level" } else { path })]
pub struct ReadError {
    /// JSON Pointer of the failing part (`""` for the whole value).
    pub path: String,
    /// What the type needs there.
    pub expected: String,
    /// What the JSON held.
    pub found: String,
}

/// Reads `json` as a value of `ty`.
pub fn read(ty: &WitType, json: &Value) -> Result<Val, ReadError> {
    Reader {
        path: String::new(),
    }
    .value(ty, json)
}

/// Reads an object of named fields (a record, or a function's parameters) into the
/// values in field order; absent or `null` `option` fields are none.
pub(crate) fn read_fields(
    fields: &[(String, WitType)],
    json: &Value,
) -> Result<Vec<Val>, ReadError> {
    Reader {
        path: String::new(),
    }
    .fields(fields, json)
}

struct Reader {
    path: String,
}

impl Reader {
    fn fail(&self, expected: impl Into<String>, found: &Value) -> ReadError {
        ReadError {
            path: self.path.clone(),
            expected: expected.into(),
            found: describe(found),
        }
    }

    /// Runs `f` with `segment` appended to the path.
    fn at<T>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let len = self.path.len();
        self.path.push('/');
        // JSON Pointer escaping.
        self.path
            .push_str(&segment.replace('~', "~0").replace('/', "~1"));
        let out = f(self);
        self.path.truncate(len);
        out
    }

    fn value(&mut self, ty: &WitType, json: &Value) -> Result<Val, ReadError> {
        Ok(match ty {
            WitType::Bool => Val::Bool(json.as_bool().ok_or_else(|| self.fail("a boolean", json))?),
            WitType::S8 => Val::S8(self.int(json, ty)?),
            WitType::U8 => Val::U8(self.int(json, ty)?),
            WitType::S16 => Val::S16(self.int(json, ty)?),
            WitType::U16 => Val::U16(self.int(json, ty)?),
            WitType::S32 => Val::S32(self.int(json, ty)?),
            WitType::U32 => Val::U32(self.int(json, ty)?),
            WitType::S64 => Val::S64(self.int(json, ty)?),
            WitType::U64 => Val::U64(self.int(json, ty)?),
            WitType::F32 => {
                let x = self.number(json)?;
                if x.abs() > f64::from(f32::MAX) {
                    return Err(self.fail("a number within ±3.4028235e38 (f32)", json));
                }
                #[expect(clippy::cast_possible_truncation, reason = "range checked above")]
                Val::Float32(x as f32)
            }
            WitType::F64 => Val::Float64(self.number(json)?),
            WitType::Char => {
                let s = json
                    .as_str()
                    .ok_or_else(|| self.fail("a one-character string (char)", json))?;
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Val::Char(c),
                    _ => return Err(self.fail("a string of exactly one character (char)", json)),
                }
            }
            WitType::String => Val::String(
                json.as_str()
                    .ok_or_else(|| self.fail("a string", json))?
                    .to_string(),
            ),
            WitType::List(item) => {
                let items = json
                    .as_array()
                    .ok_or_else(|| self.fail(format!("an array ({})", ty.wit()), json))?;
                Val::List(self.items(items.iter().map(|v| (&**item, v)))?)
            }
            WitType::Record(fields) => {
                let vals = self.fields(fields, json)?;
                Val::Record(fields.iter().map(|(n, _)| n.clone()).zip(vals).collect())
            }
            WitType::Tuple(types) => {
                let items = json
                    .as_array()
                    .filter(|a| a.len() == types.len())
                    .ok_or_else(|| {
                        self.fail(
                            format!("an array of {} items ({})", types.len(), ty.wit()),
                            json,
                        )
                    })?;
                Val::Tuple(self.items(types.iter().zip(items))?)
            }
            WitType::Variant(cases) => self.variant(cases, json)?,
            WitType::Enum(names) => {
                let s = json.as_str().filter(|s| names.iter().any(|n| n == s));
                Val::Enum(
                    s.ok_or_else(|| self.fail(format!("one of {}", quoted(names)), json))?
                        .to_string(),
                )
            }
            WitType::Flags(names) => self.flags(names, json)?,
            WitType::Option(inner) => match json {
                Value::Null => Val::Option(None),
                _ if inner.admits_null() => {
                    let wrapped = single_key(json, "some")
                        .ok_or_else(|| self.fail("null or {\"some\": …}", json))?;
                    let v = self.at("some", |r| r.value(inner, wrapped))?;
                    Val::Option(Some(Box::new(v)))
                }
                _ => Val::Option(Some(Box::new(self.value(inner, json)?))),
            },
            WitType::Result { ok, err } => {
                let side = |key| single_key(json, key).map(|v| (key, v));
                let (key, payload) = side("ok")
                    .or_else(|| side("err"))
                    .ok_or_else(|| self.fail("{\"ok\": …} or {\"err\": …}", json))?;
                let ty = if key == "ok" { ok } else { err };
                let read = self.at(key, |r| match ty {
                    None if payload.is_null() => Ok(None),
                    None => Err(r.fail("null (no payload)", payload)),
                    Some(t) => r.value(t, payload).map(|v| Some(Box::new(v))),
                })?;
                Val::Result(if key == "ok" { Ok(read) } else { Err(read) })
            }
        })
    }

    fn int<T: TryFrom<i64> + TryFrom<u64>>(
        &self,
        json: &Value,
        ty: &WitType,
    ) -> Result<T, ReadError> {
        let fail = || self.fail(format!("an integer in the range of {}", ty.wit()), json);
        let Value::Number(n) = json else {
            return Err(fail());
        };
        if let Some(u) = n.as_u64() {
            return T::try_from(u).map_err(|_| fail());
        }
        if let Some(i) = n.as_i64() {
            return T::try_from(i).map_err(|_| fail());
        }
        // A float with no fraction is an integer in JSON Schema too (e.g. `3.0`, `1e3`).
        let f = n.as_f64().filter(|f| f.fract() == 0.0).ok_or_else(fail)?;
        #[expect(clippy::cast_possible_truncation, reason = "in range, checked first")]
        if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            T::try_from(f as u64).map_err(|_| fail())
        } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
            T::try_from(f as i64).map_err(|_| fail())
        } else {
            Err(fail())
        }
    }

    fn number(&self, json: &Value) -> Result<f64, ReadError> {
        json.as_f64().ok_or_else(|| self.fail("a number", json))
    }

    fn items<'a>(
        &mut self,
        items: impl Iterator<Item = (&'a WitType, &'a Value)>,
    ) -> Result<Vec<Val>, ReadError> {
        items
            .enumerate()
            .map(|(i, (ty, v))| self.at(&i.to_string(), |r| r.value(ty, v)))
            .collect()
    }

    fn fields(
        &mut self,
        fields: &[(String, WitType)],
        json: &Value,
    ) -> Result<Vec<Val>, ReadError> {
        let names = || fields.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        let obj = json.as_object().ok_or_else(|| {
            self.fail(format!("an object with fields {}", quoted(&names())), json)
        })?;
        if let Some(extra) = obj.keys().find(|k| !fields.iter().any(|(n, _)| n == *k)) {
            return Err(self.at(extra, |r| ReadError {
                path: r.path.clone(),
                expected: format!("no such field (known: {})", quoted(&names())),
                found: "a field".into(),
            }));
        }
        fields
            .iter()
            .map(|(name, ty)| match obj.get(name) {
                None if matches!(ty, WitType::Option(_)) => Ok(Val::Option(None)),
                None => Err(self.fail(
                    format!("an object with the required field \"{name}\""),
                    json,
                )),
                Some(v) => self.at(name, |r| r.value(ty, v)),
            })
            .collect()
    }

    fn variant(
        &mut self,
        cases: &[(String, Option<WitType>)],
        json: &Value,
    ) -> Result<Val, ReadError> {
        let tags = || quoted(&cases.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>());
        let obj: &Map<String, Value> = json.as_object().ok_or_else(|| {
            self.fail(
                format!("an object {{\"tag\": one of {}, \"value\"?: …}}", tags()),
                json,
            )
        })?;
        let tag = obj.get("tag");
        let Some((name, payload)) = tag
            .and_then(Value::as_str)
            .and_then(|t| cases.iter().find(|(n, _)| n == t))
        else {
            let found = tag.unwrap_or(&Value::Null);
            return Err(self.at("tag", |r| r.fail(format!("one of {}", tags()), found)));
        };
        let allowed = if payload.is_some() { 2 } else { 1 };
        if obj.len() != allowed || (payload.is_some() && !obj.contains_key("value")) {
            let expected = match payload {
                Some(t) => format!("{{\"tag\": \"{name}\", \"value\": {}}}", t.wit()),
                None => format!("{{\"tag\": \"{name}\"}} with no other field"),
            };
            return Err(self.fail(expected, json));
        }
        let value = match (payload, obj.get("value")) {
            (Some(t), Some(v)) => Some(Box::new(self.at("value", |r| r.value(t, v))?)),
            _ => None,
        };
        Ok(Val::Variant(name.clone(), value))
    }

    fn flags(&mut self, names: &[String], json: &Value) -> Result<Val, ReadError> {
        let expected = || format!("an array of unique names from {}", quoted(names));
        let items = json.as_array().ok_or_else(|| self.fail(expected(), json))?;
        let mut set: Vec<String> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let name = item.as_str().filter(|s| names.iter().any(|n| n == s));
            match name {
                Some(n) if !set.iter().any(|s| s == n) => set.push(n.to_string()),
                _ => return Err(self.at(&i.to_string(), |r| r.fail(expected(), item))),
            }
        }
        // Declaration order, as the writer produces and as equal values compare.
        set.sort_by_key(|s| names.iter().position(|n| n == s));
        Ok(Val::Flags(set))
    }
}

/// The value of `key` if `json` is an object with that key alone.
fn single_key<'a>(json: &'a Value, key: &str) -> Option<&'a Value> {
    json.as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get(key))
}

fn quoted(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(20).map(|n| format!("\"{n}\"")).collect();
    let more = if names.len() > 20 { ", …" } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

/// A short description of JSON found where something else was expected (never the whole
/// value: it may be huge).
fn describe(json: &Value) -> String {
    match json {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.len() <= 40 => format!("the string {s:?}"),
        Value::String(s) => format!("a string of {} bytes", s.len()),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(o) => format!("an object with {} fields", o.len()),
    }
}
