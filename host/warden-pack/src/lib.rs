//! warden-pack: tool packs. A pack is a `pack.toml` manifest (name, version, components with
//! their SHA-256 and tools, and the capabilities it requests, each with a reason), its
//! components, and `pack.sig`, an Ed25519 signature over the manifest's canonical encoding.
//!
//! ```text
//! signing::generate(out)                     NAME.key (0600) + NAME.pub
//! SecretKey::read(key).sign(&manifest)        -> pack.sig
//! TrustStore::add(pub)                        the operator trusts an author
//! PackFiles::read(path, cap)                  a pack directory or .wpack archive, bounded
//! Store::install(files, mode, consent, exec)  verify, consent, precompile, stage, rename
//! Store::load("weather@^1")?.policy(&narrow)  re-verify, then the sandbox policy
//! oci::push(&files, &r) / oci::pull(&r, cap)   packs over OCI registries
//! ```
//!
//! Invariant: code and permissions are signed together, only trusted keys count, and grants
//! come from the operator alone: neither a pack, a model nor an agent file can widen them.

#![deny(missing_docs)]

mod consent;
mod cred_helper;
mod dirs;
mod error;
mod grants;
mod limits;
mod manifest;
pub mod oci;
mod policy;
mod signing;
mod source;
mod store;
mod trust;
mod validate;

pub use consent::{describe, widening};
pub use cred_helper::HelperError;
pub use dirs::Dirs;
pub use error::{ManifestError, PackError};
pub use grants::{Grant, GrantInput, SecretSource, manifest_digest};
pub use limits::{Amount, Bytes, Fuel, Limit, Limits, Millis, Unit};
pub use manifest::{
    Access, Capabilities, Component, DirRequest, KeyRequest, MANIFEST_FILE, Manifest,
    NetworkRequest, PackInfo, SCHEMA, Scheme, SecretRequest,
};
pub use policy::Narrowing;
pub use signing::{
    PublicKey, SIGNATURE_FILE, SecretKey, SignatureFile, canonical_bytes, generate, sha256_hex,
};
pub use source::{DEFAULT_MAX_PACK_BYTES, PackFiles};
pub use store::{
    Consent, ConsentRequest, Installed, LoadedPack, Mode, Preapproved, Store, is_pack_dir,
    parse_spec, precompile,
};
pub use trust::TrustStore;
pub use validate::{is_component_file, is_pack_name};

#[cfg(test)]
mod tests;
