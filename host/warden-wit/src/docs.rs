//! The `package-docs` custom section: WIT doc comments that standard builds drop, which
//! warden embeds into a component ([`embed`]) and reads at load ([`PackageDocs::read`]).
//!
//! The format is wit-parser's `PackageMetadata`: one version byte (0 or 1) then JSON
//! `{"worlds": {w: {"func_exports": {f: {"docs": …}}}}, "interfaces": {i: {"funcs": {f: {"docs": …}}}}}`.
//! Both world-level function exports and interface functions are read, and so are the docs
//! of named types (`"types": {t: {"docs": …, "items": {field: …}}}` in a world or interface),
//! which `typedoc.rs` attaches to the exported functions' signatures by type name.
//! [`PackageDocs::from_wit`] extracts all of them from WIT source, as wit-parser does.
//!
//! Invariant: reading never fails a load — a missing, malformed or oversized section gives
//! no docs (descriptions are then generated from signatures) — and the walk over the
//! component's sections is bounded by its length.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::interface_short_name;
use super::typedoc::{self, Shapes, SigDocs};

/// The custom section's name.
pub const SECTION_NAME: &str = "package-docs";

/// The version byte warden writes (wit-parser's current format).
const VERSION: u8 = 1;

/// Doc comments of a WIT package, as far as warden uses them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageDocs {
    /// Per world.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub worlds: BTreeMap<String, WorldDocs>,
    /// Per interface, by its name within the package.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub interfaces: BTreeMap<String, InterfaceDocs>,
    /// The type docs of the exported functions' signatures, found at [`PackageDocs::read`].
    #[serde(skip)]
    shapes: Shapes,
}

/// A world's docs: its exported functions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorldDocs {
    /// World-level function exports.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub func_exports: BTreeMap<String, FuncDocs>,
    /// Functions imported or exported (the older format's single map).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub funcs: BTreeMap<String, FuncDocs>,
    /// Types defined in the world.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, TypeMeta>,
}

/// An interface's docs: its functions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterfaceDocs {
    /// The interface's own doc comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// Per function.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub funcs: BTreeMap<String, FuncDocs>,
    /// Per type defined in the interface.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, TypeMeta>,
}

/// A named type's docs: its own, and its items' (record fields, variant and enum cases,
/// flags) by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeMeta {
    /// The type's doc comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// Per item name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, String>,
}

/// A function's doc comment, in either of the two forms the format has used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FuncDocs {
    /// Format 1: an object (which may also carry stability, ignored here).
    Full {
        /// The doc comment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        docs: Option<String>,
    },
    /// Format 0: the doc comment alone.
    Plain(Option<String>),
}

impl FuncDocs {
    fn text(&self) -> Option<&str> {
        match self {
            Self::Full { docs } | Self::Plain(docs) => docs.as_deref(),
        }
        .map(str::trim)
        .filter(|d| !d.is_empty())
    }
}

impl PackageDocs {
    /// The docs in `component`'s top-level `package-docs` section, if it has a readable one;
    /// when they document types, attached to the exported functions' signatures.
    pub fn read(component: &[u8]) -> Option<Self> {
        let data = custom_sections(component)
            .find(|(name, _)| *name == SECTION_NAME)?
            .1;
        let mut docs = Self::decode(data)?;
        if docs.has_type_docs() {
            docs.shapes = typedoc::exported(component, &docs);
        }
        Some(docs)
    }

    /// The docs in a `package-docs` section's payload (the version byte, then the JSON).
    pub fn decode(data: &[u8]) -> Option<Self> {
        match data.split_first() {
            Some((0 | 1, json)) => serde_json::from_slice(json).ok(),
            _ => None,
        }
    }

    fn has_type_docs(&self) -> bool {
        self.worlds.values().any(|w| !w.types.is_empty())
            || self.interfaces.values().any(|i| !i.types.is_empty())
    }

    /// The type docs of the signature of function `func` (see [`PackageDocs::function`]),
    /// if the section documents any of its types.
    pub fn signature(&self, interface: Option<&str>, func: &str) -> Option<&SigDocs> {
        self.shapes
            .get(&(interface.map(str::to_string), func.to_string()))
    }

    /// The doc comment of function `func`, exported at world level (`interface` none) or by
    /// the exported interface named `interface` (its full export name).
    pub fn function(&self, interface: Option<&str>, func: &str) -> Option<&str> {
        match interface {
            Some(export) => self
                .interfaces
                .get(interface_short_name(export))?
                .funcs
                .get(func)?
                .text(),
            None => self.worlds.values().find_map(|w| {
                w.func_exports
                    .get(func)
                    .or_else(|| w.funcs.get(func))
                    .and_then(FuncDocs::text)
            }),
        }
    }

    /// The section's payload: the version byte, then the JSON.
    pub fn encode(&self) -> Vec<u8> {
        let mut data = vec![VERSION];
        // Serializing maps of strings cannot fail.
        data.extend(serde_json::to_vec(self).unwrap_or_default());
        data
    }
}

/// `component` with `docs` appended as its `package-docs` section (an existing one is
/// dropped). `None` if `component` is not a well-formed sequence of sections.
pub fn embed(component: &[u8], docs: &PackageDocs) -> Option<Vec<u8>> {
    let mut out = without_docs(component)?;
    let mut body = Vec::new();
    leb128(&mut body, SECTION_NAME.len());
    body.extend_from_slice(SECTION_NAME.as_bytes());
    body.extend(docs.encode());
    out.push(0);
    leb128(&mut out, body.len());
    out.extend(body);
    Some(out)
}

/// `component` without its top-level `package-docs` section(s). `None` if it is not a
/// well-formed sequence of sections.
pub(crate) fn without_docs(component: &[u8]) -> Option<Vec<u8>> {
    let mut out = component.get(..8)?.to_vec();
    for section in Sections::new(component)? {
        let (id, body, raw) = section.ok()?;
        let is_docs = id == 0 && custom_name(body).is_some_and(|(n, _)| n == SECTION_NAME);
        if !is_docs {
            out.extend_from_slice(raw);
        }
    }
    Some(out)
}

/// The top-level custom sections of a component or module: (name, data).
fn custom_sections(bytes: &[u8]) -> impl Iterator<Item = (&str, &[u8])> {
    Sections::new(bytes)
        .into_iter()
        .flatten()
        .map_while(Result::ok)
        .filter(|(id, _, _)| *id == 0)
        .filter_map(|(_, body, _)| custom_name(body))
}

fn custom_name(body: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = read_leb(body)?;
    let name = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some((name, rest.get(len..)?))
}

/// Walks the sections after the 8-byte header: (id, body, the whole section's bytes).
struct Sections<'a> {
    rest: &'a [u8],
}

impl<'a> Sections<'a> {
    fn new(bytes: &'a [u8]) -> Option<Self> {
        (bytes.get(..4)? == b"\0asm").then(|| Self {
            rest: &bytes[8.min(bytes.len())..],
        })
    }
}

impl<'a> Iterator for Sections<'a> {
    type Item = Result<(u8, &'a [u8], &'a [u8]), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&id, after_id) = self.rest.split_first()?;
        let parsed = read_leb(after_id).and_then(|(len, tail)| {
            let body = tail.get(..len)?;
            let used = self.rest.len() - tail.len() + len;
            Some((body, used))
        });
        match parsed {
            Some((body, used)) => {
                let raw = &self.rest[..used];
                self.rest = &self.rest[used..];
                Some(Ok((id, body, raw)))
            }
            None => {
                self.rest = &[];
                Some(Err(()))
            }
        }
    }
}

/// An unsigned LEB128 (at most 5 bytes, as wasm's u32) and what follows it.
fn read_leb(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let value = u32::try_from(value).ok()?;
            return Some((value as usize, &bytes[i + 1..]));
        }
    }
    None
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        #[expect(clippy::cast_possible_truncation, reason = "masked to 7 bits")]
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    /// The smallest component: header only.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    fn docs() -> PackageDocs {
        let mut d = PackageDocs::default();
        d.worlds.entry("w".into()).or_default().func_exports.insert(
            "greet".into(),
            FuncDocs::Full {
                docs: Some("Greets someone.".into()),
            },
        );
        d.interfaces.entry("text".into()).or_default().funcs.insert(
            "shout".into(),
            FuncDocs::Plain(Some("Upper-cases text.".into())),
        );
        d
    }

    #[test]
    fn embedded_docs_read_back_for_world_and_interface_functions() {
        let with = embed(EMPTY, &docs()).unwrap();
        let read = PackageDocs::read(&with).unwrap();
        assert_eq!(read.function(None, "greet"), Some("Greets someone."));
        assert_eq!(
            read.function(Some("demo:typed/text@0.1.0"), "shout"),
            Some("Upper-cases text.")
        );
        assert_eq!(read.function(None, "shout"), None);
        // Embedding again replaces the section rather than adding a second one.
        let twice = embed(&with, &PackageDocs::default()).unwrap();
        assert_eq!(custom_sections(&twice).count(), 1);
        assert_eq!(PackageDocs::read(&twice).unwrap(), PackageDocs::default());
    }

    #[test]
    fn wit_parser_format_is_read() {
        // As wit-parser writes it (format 1, with stability fields warden ignores).
        let mut section = vec![1u8];
        section.extend(br#"{"worlds":{"w":{"func_exports":{"f":{"docs":"Doc.","stability":{"stable":{"since":"1.0.0"}}}}}}}"#);
        let mut body = Vec::new();
        leb128(&mut body, SECTION_NAME.len());
        body.extend(SECTION_NAME.as_bytes());
        body.extend(section);
        let mut component = EMPTY.to_vec();
        component.push(0);
        leb128(&mut component, body.len());
        component.extend(body);
        assert_eq!(
            PackageDocs::read(&component).unwrap().function(None, "f"),
            Some("Doc.")
        );
    }

    #[test]
    fn malformed_sections_give_no_docs_and_no_panic() {
        // A section claiming more bytes than there are.
        let mut truncated = EMPTY.to_vec();
        truncated.extend([0, 0xff, 0xff, 0xff, 0x0f, 1, 2]);
        assert!(PackageDocs::read(&truncated).is_none());
        assert!(embed(&truncated, &docs()).is_none());
        assert!(PackageDocs::read(b"not wasm").is_none());
        // A docs section with an unknown version byte or bad JSON.
        for payload in [&b"\x07{}"[..], b"\x01{nope"] {
            let mut body = Vec::new();
            leb128(&mut body, SECTION_NAME.len());
            body.extend(SECTION_NAME.as_bytes());
            body.extend(payload);
            let mut c = EMPTY.to_vec();
            c.push(0);
            leb128(&mut c, body.len());
            c.extend(body);
            assert!(PackageDocs::read(&c).is_none());
        }
    }
}
