//! Writes component values ([`Val`]) as JSON following the mapping in `schema.rs`, so what it
//! writes always validates against the type's schema.
//!
//! Invariant: a value that has no JSON form under its type (NaN or infinity, a value of
//! another shape than the type says) is an error naming its path, never a string stand-in.

use serde_json::{Map, Number, Value, json};
use wasmtime::component::Val;

use super::ty::WitType;

/// A value that cannot be written as JSON of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the value at {} {message}", if path.is_empty() { "the top level" } else { path })]
pub struct WriteError {
    /// JSON Pointer of the failing part.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// Writes `val`, a value of `ty`, as JSON.
pub fn write(ty: &WitType, val: &Val) -> Result<Value, WriteError> {
    Writer {
        path: String::new(),
    }
    .value(ty, val)
}

struct Writer {
    path: String,
}

impl Writer {
    fn fail(&self, message: impl Into<String>) -> WriteError {
        WriteError {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    fn at<T>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let len = self.path.len();
        self.path.push('/');
        self.path
            .push_str(&segment.replace('~', "~0").replace('/', "~1"));
        let out = f(self);
        self.path.truncate(len);
        out
    }

    fn mismatch(&self, ty: &WitType) -> WriteError {
        self.fail(format!("is not a value of {}", ty.wit()))
    }

    fn value(&mut self, ty: &WitType, val: &Val) -> Result<Value, WriteError> {
        Ok(match (ty, val) {
            (WitType::Bool, Val::Bool(b)) => Value::Bool(*b),
            (WitType::S8, Val::S8(n)) => json!(n),
            (WitType::U8, Val::U8(n)) => json!(n),
            (WitType::S16, Val::S16(n)) => json!(n),
            (WitType::U16, Val::U16(n)) => json!(n),
            (WitType::S32, Val::S32(n)) => json!(n),
            (WitType::U32, Val::U32(n)) => json!(n),
            (WitType::S64, Val::S64(n)) => json!(n),
            (WitType::U64, Val::U64(n)) => json!(n),
            (WitType::F32, Val::Float32(x)) => self.float(f64::from(*x))?,
            (WitType::F64, Val::Float64(x)) => self.float(*x)?,
            (WitType::Char, Val::Char(c)) => Value::String(c.to_string()),
            (WitType::String, Val::String(s)) => Value::String(s.clone()),
            (WitType::List(item), Val::List(items)) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.at(&i.to_string(), |w| w.value(item, v)))
                    .collect::<Result<_, _>>()?,
            ),
            (WitType::Record(fields), Val::Record(vals)) if fields.len() == vals.len() => {
                let mut obj = Map::new();
                for ((name, ty), (vname, v)) in fields.iter().zip(vals) {
                    if name != vname {
                        return Err(self.mismatch(ty));
                    }
                    // `none` fields are written as absent: the shortest form the schema accepts.
                    if matches!(v, Val::Option(None)) {
                        continue;
                    }
                    obj.insert(name.clone(), self.at(name, |w| w.value(ty, v))?);
                }
                Value::Object(obj)
            }
            (WitType::Tuple(types), Val::Tuple(vals)) if types.len() == vals.len() => Value::Array(
                types
                    .iter()
                    .zip(vals)
                    .enumerate()
                    .map(|(i, (t, v))| self.at(&i.to_string(), |w| w.value(t, v)))
                    .collect::<Result<_, _>>()?,
            ),
            (WitType::Variant(cases), Val::Variant(name, payload)) => {
                let case = cases.iter().find(|(n, _)| n == name);
                match (case, payload) {
                    (Some((_, None)), None) => json!({"tag": name}),
                    (Some((_, Some(t))), Some(v)) => {
                        let v = self.at("value", |w| w.value(t, v))?;
                        json!({"tag": name, "value": v})
                    }
                    _ => return Err(self.mismatch(ty)),
                }
            }
            (WitType::Enum(names), Val::Enum(name)) if names.contains(name) => {
                Value::String(name.clone())
            }
            (WitType::Flags(names), Val::Flags(set)) => {
                if set.iter().any(|s| !names.contains(s)) {
                    return Err(self.mismatch(ty));
                }
                names
                    .iter()
                    .filter(|n| set.contains(n))
                    .map(|n| Value::String(n.clone()))
                    .collect()
            }
            (WitType::Option(_), Val::Option(None)) => Value::Null,
            (WitType::Option(inner), Val::Option(Some(v))) if inner.admits_null() => {
                json!({"some": self.at("some", |w| w.value(inner, v))?})
            }
            (WitType::Option(inner), Val::Option(Some(v))) => self.value(inner, v)?,
            (WitType::Result { ok, err }, Val::Result(r)) => {
                let (key, ty, payload) = match r {
                    Ok(p) => ("ok", ok, p),
                    Err(p) => ("err", err, p),
                };
                let inner = match (ty, payload) {
                    (None, None) => Value::Null,
                    (Some(t), Some(v)) => self.at(key, |w| w.value(t, v))?,
                    _ => {
                        return Err(self.fail(format!(
                            "does not fit the `{key}` side of {}",
                            ty_of(ok, err)
                        )));
                    }
                };
                json!({key: inner})
            }
            _ => return Err(self.mismatch(ty)),
        })
    }

    fn float(&self, x: f64) -> Result<Value, WriteError> {
        Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| self.fail(format!("is {x}, which JSON cannot represent")))
    }
}

fn ty_of(ok: &Option<Box<WitType>>, err: &Option<Box<WitType>>) -> String {
    WitType::Result {
        ok: ok.clone(),
        err: err.clone(),
    }
    .wit()
}
