//! [`WitType`]: the value types a tool may take or return, owned and comparable, built from
//! wasmtime's component [`Type`]s (which only a loaded component can make).
//!
//! Invariant: a `WitType` holds only types that can cross the JSON boundary both ways;
//! resources, streams, futures, error contexts, maps and fixed-length lists are refused
//! by [`WitType::from_wasmtime`] with the reason `warden tool list` shows.

use wasmtime::component::Type;

/// A WIT value type that warden maps to and from JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WitType {
    /// `bool`
    Bool,
    /// `s8`
    S8,
    /// `u8`
    U8,
    /// `s16`
    S16,
    /// `u16`
    U16,
    /// `s32`
    S32,
    /// `u32`
    U32,
    /// `s64`
    S64,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `char` (one Unicode scalar value)
    Char,
    /// `string`
    String,
    /// `list<T>` (`list<u8>` included: an array of integers 0–255)
    List(Box<WitType>),
    /// `record { name: T, .. }`, fields in declaration order
    Record(Vec<(String, WitType)>),
    /// `tuple<T, ..>`
    Tuple(Vec<WitType>),
    /// `variant { case(T), case, .. }`
    Variant(Vec<(String, Option<WitType>)>),
    /// `enum { a, b, .. }`
    Enum(Vec<String>),
    /// `option<T>`
    Option(Box<WitType>),
    /// `result<T, E>`, either side possibly absent
    Result {
        /// The `ok` payload type, if any.
        ok: Option<Box<WitType>>,
        /// The `err` payload type, if any.
        err: Option<Box<WitType>>,
    },
    /// `flags { a, b, .. }`
    Flags(Vec<String>),
}

/// Why a type cannot cross the JSON boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("it uses {what}, which has no JSON form (a tool takes and returns plain values)")]
pub struct Unsupported {
    /// The offending kind of type, e.g. "a resource handle".
    pub what: &'static str,
}

impl WitType {
    /// Converts a wasmtime component type, refusing those without a JSON form.
    pub fn from_wasmtime(ty: &Type) -> Result<Self, Unsupported> {
        let no = |what| Err(Unsupported { what });
        let boxed = |t: &Type| Self::from_wasmtime(t).map(Box::new);
        Ok(match ty {
            Type::Bool => Self::Bool,
            Type::S8 => Self::S8,
            Type::U8 => Self::U8,
            Type::S16 => Self::S16,
            Type::U16 => Self::U16,
            Type::S32 => Self::S32,
            Type::U32 => Self::U32,
            Type::S64 => Self::S64,
            Type::U64 => Self::U64,
            Type::Float32 => Self::F32,
            Type::Float64 => Self::F64,
            Type::Char => Self::Char,
            Type::String => Self::String,
            Type::List(l) => Self::List(boxed(&l.ty())?),
            Type::Record(r) => Self::Record(
                r.fields()
                    .map(|f| Ok((f.name.to_string(), Self::from_wasmtime(&f.ty)?)))
                    .collect::<Result<_, Unsupported>>()?,
            ),
            Type::Tuple(t) => Self::Tuple(
                t.types()
                    .map(|t| Self::from_wasmtime(&t))
                    .collect::<Result<_, _>>()?,
            ),
            Type::Variant(v) => Self::Variant(
                v.cases()
                    .map(|c| {
                        let ty = c.ty.as_ref().map(Self::from_wasmtime).transpose()?;
                        Ok((c.name.to_string(), ty))
                    })
                    .collect::<Result<_, Unsupported>>()?,
            ),
            Type::Enum(e) => Self::Enum(e.names().map(str::to_string).collect()),
            Type::Option(o) => Self::Option(boxed(&o.ty())?),
            Type::Result(r) => Self::Result {
                ok: r.ok().as_ref().map(boxed).transpose()?,
                err: r.err().as_ref().map(boxed).transpose()?,
            },
            Type::Flags(f) => Self::Flags(f.names().map(str::to_string).collect()),
            Type::Own(_) | Type::Borrow(_) => return no("a resource handle"),
            Type::Future(_) => return no("a future"),
            Type::Stream(_) => return no("a stream"),
            Type::ErrorContext => return no("an error-context"),
            Type::Map(_) => return no("a map"),
            Type::FixedLengthList(_) => return no("a fixed-length list"),
        })
    }

    /// Whether JSON `null` is one of this type's values (then `option<T>` of it needs a
    /// wrapper to tell `some(null)` from `none`).
    pub fn admits_null(&self) -> bool {
        matches!(self, Self::Option(_))
    }

    /// The type as written in WIT, for generated descriptions and error messages.
    pub fn wit(&self) -> String {
        let list = |ts: &mut dyn Iterator<Item = String>| ts.collect::<Vec<_>>().join(", ");
        match self {
            Self::Bool => "bool".into(),
            Self::S8 => "s8".into(),
            Self::U8 => "u8".into(),
            Self::S16 => "s16".into(),
            Self::U16 => "u16".into(),
            Self::S32 => "s32".into(),
            Self::U32 => "u32".into(),
            Self::S64 => "s64".into(),
            Self::U64 => "u64".into(),
            Self::F32 => "f32".into(),
            Self::F64 => "f64".into(),
            Self::Char => "char".into(),
            Self::String => "string".into(),
            Self::List(t) => format!("list<{}>", t.wit()),
            Self::Record(fields) => format!(
                "record {{ {} }}",
                list(&mut fields.iter().map(|(n, t)| format!("{n}: {}", t.wit())))
            ),
            Self::Tuple(ts) => format!("tuple<{}>", list(&mut ts.iter().map(Self::wit))),
            Self::Variant(cases) => format!(
                "variant {{ {} }}",
                list(&mut cases.iter().map(|(n, t)| match t {
                    Some(t) => format!("{n}({})", t.wit()),
                    None => n.clone(),
                }))
            ),
            Self::Enum(names) => format!("enum {{ {} }}", names.join(", ")),
            Self::Flags(names) => format!("flags {{ {} }}", names.join(", ")),
            Self::Option(t) => format!("option<{}>", t.wit()),
            Self::Result { ok, err } => {
                let side = |t: &Option<Box<WitType>>| t.as_ref().map_or("_".into(), |t| t.wit());
                format!("result<{}, {}>", side(ok), side(err))
            }
        }
    }
}
