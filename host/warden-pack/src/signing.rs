//! Ed25519 keys, the canonical encoding of a manifest, and `pack.sig`.
//!
//! What is signed is [`canonical_bytes`]: a fixed domain-separation line followed by the
//! manifest as compact JSON, fields in their declared order and maps sorted by key. Because
//! the manifest holds every component's digest and every capability, one signature binds the
//! code and the permissions together: changing either breaks it. Formatting and comments of
//! `pack.toml` are not signed (they carry no meaning once parsed).
//!
//! Files: `NAME.key` is `warden-secret-key-v1 <64 hex>` (mode 0600), `NAME.pub` is
//! `warden-public-key-v1 <64 hex>`, `pack.sig` is TOML `{ schema = 1, key_id, signature }`.
//!
//! Invariant: verification uses `verify_strict` (no malleable or small-order signatures).

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::PackError;
use crate::manifest::Manifest;

const SECRET_TAG: &str = "warden-secret-key-v1";
const PUBLIC_TAG: &str = "warden-public-key-v1";
const DOMAIN: &[u8] = b"warden-pack-signature-v1\n";
/// The signature's file name inside a pack.
pub const SIGNATURE_FILE: &str = "pack.sig";
const MAX_KEY_FILE: u64 = 4096;

/// The bytes a pack signature covers.
pub fn canonical_bytes(manifest: &Manifest) -> Result<Vec<u8>, PackError> {
    let mut out = DOMAIN.to_vec();
    serde_json::to_writer(&mut out, manifest)
        .map_err(|e| PackError::SignatureFormat(format!("could not encode the manifest: {e}")))?;
    Ok(out)
}

/// A public key the operator may trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key's id: the first 16 bytes of SHA-256 of the key, in hex.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..16])
    }

    /// The `.pub` file's text.
    pub fn to_file_text(&self) -> String {
        format!("{PUBLIC_TAG} {}\n", hex::encode(self.0.as_bytes()))
    }

    /// Parses a `.pub` file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PackError> {
        let bytes = parse_tagged(text, PUBLIC_TAG, path)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| key_err(path, "not a valid Ed25519 public key"))
    }

    /// Reads a `.pub` file.
    pub fn read(path: &Path) -> Result<Self, PackError> {
        Self::parse(&read_small(path)?, path)
    }
}

/// A signing key, read from a `.key` file.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// Reads a `.key` file, refusing one that others may read.
    pub fn read(path: &Path) -> Result<Self, PackError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|e| PackError::io("reading", path, e))?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(key_err(
                    path,
                    &format!("mode {mode:o} lets others read the secret key: run chmod 600 on it"),
                ));
            }
        }
        let bytes = parse_tagged(&read_small(path)?, SECRET_TAG, path)?;
        Ok(SecretKey(SigningKey::from_bytes(&bytes)))
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `manifest`.
    pub fn sign(&self, manifest: &Manifest) -> Result<SignatureFile, PackError> {
        let sig = self.0.sign(&canonical_bytes(manifest)?);
        Ok(SignatureFile {
            schema: 1,
            key_id: self.public().id(),
            signature: hex::encode(sig.to_bytes()),
        })
    }
}

/// Generates a key pair: `<out>.key` (0600, never overwritten) and `<out>.pub`.
pub fn generate(out: &Path) -> Result<(PathBuf, PathBuf, PublicKey), PackError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        PackError::io(
            "generating a key",
            out,
            std::io::Error::other(e.to_string()),
        )
    })?;
    let key = SigningKey::from_bytes(&seed);
    let (key_path, pub_path) = (with_ext(out, "key"), with_ext(out, "pub"));
    let public = PublicKey(key.verifying_key());
    write_new(
        &key_path,
        &format!("{SECRET_TAG} {}\n", hex::encode(seed)),
        0o600,
    )?;
    write_new(&pub_path, &public.to_file_text(), 0o644)?;
    Ok((key_path, pub_path, public))
}

/// `pack.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Format version (1).
    pub schema: u32,
    /// The id of the key that signed.
    pub key_id: String,
    /// The Ed25519 signature, hex.
    pub signature: String,
}

impl SignatureFile {
    /// Parses `pack.sig`.
    pub fn parse(text: &str) -> Result<Self, PackError> {
        if text.len() > MAX_KEY_FILE as usize {
            return Err(PackError::SignatureFormat("it is larger than 4 KiB".into()));
        }
        let sig: SignatureFile =
            toml::from_str(text).map_err(|e| PackError::SignatureFormat(e.to_string()))?;
        if sig.schema != 1 {
            return Err(PackError::SignatureFormat(format!(
                "schema {} is not 1",
                sig.schema
            )));
        }
        Ok(sig)
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        format!(
            "schema = 1\nkey_id = \"{}\"\nsignature = \"{}\"\n",
            self.key_id, self.signature
        )
    }

    /// Checks the signature over `manifest` with `key` (whose id must match).
    pub fn verify(&self, manifest: &Manifest, key: &PublicKey) -> Result<(), PackError> {
        let bad = || PackError::BadSignature {
            key_id: self.key_id.clone(),
        };
        if key.id() != self.key_id {
            return Err(bad());
        }
        let bytes: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| PackError::SignatureFormat("signature is not 128 hex digits".into()))?;
        key.0
            .verify_strict(&canonical_bytes(manifest)?, &Signature::from_bytes(&bytes))
            .map_err(|_| bad())
    }
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn with_ext(out: &Path, ext: &str) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn key_err(path: &Path, why: &str) -> PackError {
    PackError::KeyFile {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

fn parse_tagged(text: &str, tag: &str, path: &Path) -> Result<[u8; 32], PackError> {
    let mut words = text.split_whitespace();
    if words.next() != Some(tag) {
        return Err(key_err(path, &format!("does not start with {tag:?}")));
    }
    words
        .next()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| key_err(path, "the key is not 64 hex digits"))
}

/// Reads a small text file (keys, signatures), refusing big ones.
pub(crate) fn read_small(path: &Path) -> Result<String, PackError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| PackError::io("reading", path, e))?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| PackError::io("reading", path, e))?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(key_err(path, "is larger than 4 KiB"));
    }
    Ok(text)
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), PackError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => key_err(
            path,
            "already exists; pick another --out (keys are never overwritten)",
        ),
        _ => PackError::io("writing", path, e),
    })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| PackError::io("writing", path, e))
}
