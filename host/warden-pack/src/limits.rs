//! The `[capabilities.limits]` table: per call, a default and a maximum for fuel, wall time,
//! memory and output. Quantities are written with units (`"5s"`, `"64MiB"`) or as plain
//! numbers, and held normalised (fuel units, milliseconds, bytes), so the signed encoding of
//! `"1MiB"` and `1048576` is the same.
//!
//! Invariant: after validation `default <= max` and both are above zero.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use warden_sandbox::units::{parse_bytes, parse_duration};

/// A quantity: how it parses from text and prints back.
pub trait Unit: Copy {
    /// Parses a number (as text) or a string with a unit.
    fn parse(text: &str) -> Result<u64, String>;
    /// Whether it is written back as a string (durations) rather than a number.
    fn suffix() -> Option<&'static str>;
}

/// Fuel units (roughly one wasm instruction each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fuel;
/// A duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis;
/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes;

impl Unit for Fuel {
    fn parse(text: &str) -> Result<u64, String> {
        text.replace('_', "")
            .trim()
            .parse()
            .map_err(|_| format!("invalid fuel {text:?}: expected a number of units"))
    }
    fn suffix() -> Option<&'static str> {
        None
    }
}

impl Unit for Millis {
    fn parse(text: &str) -> Result<u64, String> {
        let d = parse_duration(text)?;
        u64::try_from(d.as_millis()).map_err(|_| format!("duration {text:?} is too long"))
    }
    fn suffix() -> Option<&'static str> {
        Some("ms")
    }
}

impl Unit for Bytes {
    fn parse(text: &str) -> Result<u64, String> {
        parse_bytes(text)
    }
    fn suffix() -> Option<&'static str> {
        None
    }
}

/// One normalised quantity of unit `U`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount<U> {
    /// The value in the unit's base (fuel units, milliseconds or bytes).
    pub value: u64,
    unit: std::marker::PhantomData<U>,
}

impl<U> Amount<U> {
    /// An amount of `value` base units.
    pub fn new(value: u64) -> Self {
        Amount {
            value,
            unit: std::marker::PhantomData,
        }
    }
}

impl<U: Unit> Serialize for Amount<U> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match U::suffix() {
            Some(suffix) => s.serialize_str(&format!("{}{suffix}", self.value)),
            None => s.serialize_u64(self.value),
        }
    }
}

impl<'de, U: Unit> Deserialize<'de> for Amount<U> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<U>(std::marker::PhantomData<U>);
        impl<U: Unit> de::Visitor<'_> for Visit<U> {
            type Value = Amount<U>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string with a unit, like \"5s\" or \"64MiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("must not be negative"))?;
                U::parse(&v.to_string()).map(Amount::new).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                U::parse(&v.to_string()).map(Amount::new).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                U::parse(v).map(Amount::new).map_err(E::custom)
            }
        }
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// A default and a maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "U: Unit")]
pub struct Limit<U> {
    /// What a call gets unless the operator or agent says otherwise.
    pub default: Amount<U>,
    /// The most the pack asks the operator to allow.
    pub max: Amount<U>,
}

/// Resource limits per call; an unset limit means the operator's default applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Fuel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<Limit<Fuel>>,
    /// Wall-clock time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Limit<Millis>>,
    /// Linear memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Limit<Bytes>>,
    /// Output JSON size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Limit<Bytes>>,
}

impl Limits {
    /// Each set limit as `(name, default, max)` in base units, for checks and display.
    pub fn entries(&self) -> Vec<(&'static str, u64, u64)> {
        let mut out = Vec::new();
        if let Some(l) = self.fuel {
            out.push(("fuel", l.default.value, l.max.value));
        }
        if let Some(l) = self.timeout {
            out.push(("timeout", l.default.value, l.max.value));
        }
        if let Some(l) = self.memory {
            out.push(("memory", l.default.value, l.max.value));
        }
        if let Some(l) = self.output {
            out.push(("output", l.default.value, l.max.value));
        }
        out
    }
}
