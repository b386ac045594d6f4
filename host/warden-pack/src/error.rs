//! The crate's typed errors. Each message says what happened and what to change.

use std::path::PathBuf;

/// A `pack.toml` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Bigger than any sane manifest.
    #[error("pack.toml is larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: u64,
    },
    /// A schema version this warden does not know.
    #[error(
        "pack.toml has schema = {found}; this warden reads schema 1 (upgrade warden, or rebuild the pack)"
    )]
    Schema {
        /// The version found.
        found: i64,
    },
    /// TOML syntax, a wrong type or an unknown key (the message names the line).
    #[error("pack.toml: {0}")]
    Syntax(String),
    /// A value that parsed but is not acceptable.
    #[error("pack.toml: {key}: {message}")]
    Invalid {
        /// The key, like `capabilities.network[0].host`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// The manifest could not be written out.
    #[error("could not encode pack.toml: {0}")]
    Encode(String),
}

/// Anything that can go wrong with packs, keys, trust and installs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// Reading or writing a file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What warden was doing (`reading`, `writing`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not acceptable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A key file is malformed or unsafe.
    #[error("key file {}: {why}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The pack has no `pack.sig`.
    #[error(
        "the pack is not signed (no pack.sig): sign it with `warden pack sign <pack> --key KEY.key`"
    )]
    MissingSignature,
    /// `pack.sig` is malformed.
    #[error("pack.sig is malformed: {0}")]
    SignatureFormat(String),
    /// Signed by a key the operator does not trust.
    #[error(
        "the pack is signed by key {key_id}, which is not trusted: if you trust its author, run `warden trust add <their .pub file>`"
    )]
    UntrustedKey {
        /// The signing key's id.
        key_id: String,
    },
    /// The signature does not match the manifest: the manifest was changed after signing.
    #[error(
        "the signature by key {key_id} does not match pack.toml: the manifest (its components or capabilities) was changed after signing; do not install it"
    )]
    BadSignature {
        /// The key id the signature names.
        key_id: String,
    },
    /// A component's bytes do not match its recorded digest.
    #[error(
        "component {file} does not match its signed digest (expected sha256 {expected}, found {actual}): it was changed after signing; do not install it"
    )]
    DigestMismatch {
        /// The component file.
        file: String,
        /// The digest in the manifest.
        expected: String,
        /// The digest of the bytes found.
        actual: String,
    },
    /// A pack or one of its files is over a cap.
    #[error("{what} is larger than the {max}-byte cap: refused before reading it all")]
    TooLarge {
        /// What was too large.
        what: String,
        /// The cap in bytes.
        max: u64,
    },
    /// A pack archive or directory holds something a pack may not.
    #[error("the pack holds {name:?}, which is refused: {why}")]
    BadEntry {
        /// The entry's name as found.
        name: String,
        /// Why it is refused.
        why: String,
    },
    /// The tools a component describes differ from those the manifest records.
    #[error(
        "component {file} describes tools {described:?} but pack.toml records {recorded:?}: rebuild the pack with `warden pack build`"
    )]
    ToolsMismatch {
        /// The component file.
        file: String,
        /// What `describe()` listed.
        described: Vec<String>,
        /// What the manifest lists.
        recorded: Vec<String>,
    },
    /// A component failed to compile, link or describe itself.
    #[error("component {file} does not load: {message}")]
    ComponentLoad {
        /// The component file.
        file: String,
        /// The loader's error.
        message: String,
    },
    /// No pack of that name is installed (or none matching the version requirement).
    #[error("no installed pack matches {0}: see `warden pack list`")]
    NotInstalled(String),
    /// `install` of a pack that is already installed.
    #[error("{name} {installed} is already installed: use `warden pack upgrade` to replace it")]
    AlreadyInstalled {
        /// The pack.
        name: String,
        /// Its installed version.
        installed: semver::Version,
    },
    /// An upgrade to a lower (or the same) version.
    #[error(
        "{name} {installed} is installed; {offered} is not newer: pass --allow-downgrade to install it anyway"
    )]
    Downgrade {
        /// The pack.
        name: String,
        /// The installed version.
        installed: semver::Version,
        /// The version offered.
        offered: semver::Version,
    },
    /// An upgrade asks for more than was granted and nobody at a terminal agreed.
    #[error("{name} {offered} asks for more than was granted: {}; run the upgrade on a terminal to review and consent", widened.join("; "))]
    WideningNeedsConsent {
        /// The pack.
        name: String,
        /// The new version.
        offered: semver::Version,
        /// Each new or wider permission, in words.
        widened: Vec<String>,
    },
    /// The operator declined.
    #[error("permission not granted: nothing was installed")]
    Declined,
    /// The operator's grants do not fit the pack's requests.
    #[error("grants: {0}")]
    Grants(String),
    /// Installed state on disk is damaged or was changed behind warden's back.
    #[error("installed pack {name}: {why}")]
    Corrupt {
        /// The pack.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// An OCI registry could not be used, or served something that is not a good pack.
    #[error("OCI: {0}")]
    Oci(String),
    /// A narrowing (from an agent file or `--narrow`) tries to widen a grant.
    #[error("{0}")]
    Widening(String),
    /// A narrowing file cannot be read as one (syntax, unknown key, bad value).
    #[error("narrowing file {}: {message}", path.display())]
    NarrowingFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where TOML gives one.
        message: String,
    },
    /// The registry refused the credentials sent (or needs some and none were found).
    #[error(
        "the registry {registry} refused access ({detail}); credentials sent: {credentials}. \
         Check them: `docker login {registry}` writes them to $DOCKER_CONFIG/config.json (or \
         ~/.docker/config.json), or set WARDEN_REGISTRY_USERNAME and WARDEN_REGISTRY_PASSWORD"
    )]
    RegistryAuth {
        /// The registry's host (and port).
        registry: String,
        /// Which credentials were sent and where they came from (never the password).
        credentials: String,
        /// What the registry or the client said.
        detail: String,
    },
    /// The credential helper the docker config names gave no usable credentials.
    #[error("{} names a credential helper in {key}: {source}", config.display())]
    CredentialHelper {
        /// The `config.json` read.
        config: std::path::PathBuf,
        /// The key that names the helper (`credHelpers."<registry>"` or `credsStore`).
        key: String,
        /// What went wrong with the helper.
        #[source]
        source: crate::cred_helper::HelperError,
    },
    /// The docker config file with registry credentials cannot be used.
    #[error("{}: {why}; fix it or point DOCKER_CONFIG at another folder", path.display())]
    DockerConfig {
        /// The `config.json` read.
        path: std::path::PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

impl PackError {
    /// An I/O error with its context.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        PackError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
