//! The cache's authentication: a per-user random [`CacheKey`] kept 0600 in warden's state
//! directory, and the sealed file format of every cached file — a magic, an HMAC-SHA256 tag
//! and the payload. The tag covers what the file is (artifact or tool list), the engine hash,
//! the source component's digest and the payload, so a file is accepted only as exactly the
//! thing this host stored under that name.
//!
//! Invariant: [`CacheKey::open`] returns a payload only if its tag verifies (in constant
//! time) under this user's key; anything else is `None`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::secure::{Refused, SecureDir};

/// The key file's name in the state directory.
const KEY_FILE: &str = "cache-key";
const KEY_LEN: usize = 32;
/// Versioned magic at the start of every sealed file.
const MAGIC: &[u8; 8] = b"WDNSEAL1";
const TAG_LEN: usize = 32;

/// What a sealed file holds; part of the tag, so one kind cannot pass for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A precompiled component.
    Artifact,
    /// The validated `describe()` answer of a component.
    Tools,
}

/// What a sealed file is about: the engine it was compiled for and the source's digest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) kind: Kind,
    pub(crate) engine_hash: &'a [u8; 32],
    pub(crate) digest: &'a str,
}

/// The per-user secret the cache is authenticated with.
pub(crate) struct CacheKey([u8; KEY_LEN]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

impl CacheKey {
    /// Reads the key from `dir`, or creates it. A key file that is not exactly ours (wrong
    /// owner, readable by others, wrong size, not a regular file) is replaced with a warning,
    /// which only makes every cached file fail its check and be recompiled.
    pub(crate) fn load_or_create(dir: &SecureDir) -> Result<Self, Refused> {
        for _ in 0..4 {
            match dir.read_private(KEY_FILE, KEY_LEN as u64) {
                Ok(Some(bytes)) if bytes.len() == KEY_LEN => {
                    let mut key = [0; KEY_LEN];
                    key.copy_from_slice(&bytes);
                    return Ok(Self(key));
                }
                Ok(None) => {}
                Ok(Some(_)) => {
                    tracing::warn!(dir = %dir.path().display(), "the cache key file is not {KEY_LEN} bytes; replacing it (cached components will be recompiled)");
                    dir.remove(KEY_FILE);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "unusable cache key file; replacing it (cached components will be recompiled)");
                    dir.remove(KEY_FILE);
                }
            }
            let key: [u8; KEY_LEN] = rand::random();
            // Never overwrite: if another process created the key meanwhile, use theirs.
            if dir.create(KEY_FILE, &[&key])? {
                return Ok(Self(key));
            }
        }
        Err(Refused::Io {
            path: dir.path().join(KEY_FILE).display().to_string(),
            source: std::io::Error::other("the key file keeps changing"),
        })
    }

    #[cfg(test)]
    pub(crate) fn from_bytes(key: [u8; KEY_LEN]) -> Self {
        Self(key)
    }

    fn tag(&self, subject: Subject<'_>, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        let kind: &[u8] = match subject.kind {
            Kind::Artifact => b"artifact",
            Kind::Tools => b"tools",
        };
        for field in [
            b"warden-cache-v1".as_slice(),
            kind,
            subject.engine_hash,
            subject.digest.as_bytes(),
        ] {
            mac.update(&(field.len() as u64).to_le_bytes());
            mac.update(field);
        }
        mac.update(&(payload.len() as u64).to_le_bytes());
        mac.update(payload);
        mac
    }

    /// The header to write before `payload`: magic and tag.
    pub(crate) fn seal_header(&self, subject: Subject<'_>, payload: &[u8]) -> Vec<u8> {
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&self.tag(subject, payload).finalize().into_bytes());
        header
    }

    /// The payload of a sealed file, if it is one and its tag verifies for `subject`.
    pub(crate) fn open<'a>(&self, subject: Subject<'_>, sealed: &'a [u8]) -> Option<&'a [u8]> {
        let rest = sealed.strip_prefix(MAGIC.as_slice())?;
        if rest.len() < TAG_LEN {
            return None;
        }
        let (tag, payload) = rest.split_at(TAG_LEN);
        self.tag(subject, payload).verify_slice(tag).ok()?;
        Some(payload)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const ENGINE: [u8; 32] = [7; 32];

    fn subject(kind: Kind, digest: &str) -> Subject<'_> {
        Subject {
            kind,
            engine_hash: &ENGINE,
            digest,
        }
    }

    fn sealed(key: &CacheKey, s: Subject<'_>, payload: &[u8]) -> Vec<u8> {
        let mut file = key.seal_header(s, payload);
        file.extend_from_slice(payload);
        file
    }

    #[test]
    fn a_sealed_payload_opens_only_as_what_it_was_sealed_as() {
        let key = CacheKey::from_bytes([1; 32]);
        let file = sealed(&key, subject(Kind::Artifact, "aa"), b"code");
        assert_eq!(
            key.open(subject(Kind::Artifact, "aa"), &file),
            Some(&b"code"[..])
        );
        assert_eq!(key.open(subject(Kind::Tools, "aa"), &file), None);
        assert_eq!(key.open(subject(Kind::Artifact, "bb"), &file), None);
        let other_engine = Subject {
            engine_hash: &[8; 32],
            ..subject(Kind::Artifact, "aa")
        };
        assert_eq!(key.open(other_engine, &file), None);
        assert_eq!(
            CacheKey::from_bytes([2; 32]).open(subject(Kind::Artifact, "aa"), &file),
            None
        );
    }

    #[test]
    fn a_changed_byte_or_a_missing_header_fails() {
        let key = CacheKey::from_bytes([1; 32]);
        let s = subject(Kind::Artifact, "aa");
        let mut file = sealed(&key, s, b"code");
        let last = file.len() - 1;
        file[last] ^= 1;
        assert_eq!(key.open(s, &file), None);
        assert_eq!(key.open(s, b"code"), None);
        assert_eq!(key.open(s, b"WDNSEAL1short"), None);
    }

    #[test]
    fn the_key_is_created_once_private_and_then_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SecureDir::open_or_create(&tmp.path().join("state")).unwrap();
        let first = CacheKey::load_or_create(&dir).unwrap();
        let path = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = CacheKey::load_or_create(&dir).unwrap();
        assert_eq!(first.0, again.0);
    }

    #[test]
    fn a_key_readable_by_others_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SecureDir::open_or_create(&tmp.path().join("state")).unwrap();
        let first = CacheKey::load_or_create(&dir).unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let replaced = CacheKey::load_or_create(&dir).unwrap();
        assert_ne!(first.0, replaced.0);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
