//! Packs over OCI registries (`oci://<registry>/<repo>:<tag>`): one artifact of type
//! [`ARTIFACT_TYPE`] with a layer for `pack.toml`, one per component (titled with its file
//! name) and one for `pack.sig`.
//!
//! Invariant: a pulled pack is only as trusted as a local one. The registry's manifest is
//! checked first (artifact type, layer count and total size under the cap), every blob's
//! digest is verified by the client, layer titles must be plain file names the pack's
//! manifest lists, and the result goes through the same signature and digest checks as any
//! install. Loopback registries are spoken to over plain HTTP, every other one over HTTPS.

use std::collections::{BTreeMap, BTreeSet};

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::cred_helper::{self, Answer};
use crate::error::PackError;
use crate::manifest::Manifest;
use crate::signing::SignatureFile;
use crate::source::PackFiles;

/// The artifact type of a warden pack.
pub const ARTIFACT_TYPE: &str = "application/vnd.warden.pack.v1";
const CONFIG_TYPE: &str = "application/vnd.warden.pack.config.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.warden.pack.manifest.v1+toml";
const COMPONENT_TYPE: &str = "application/vnd.warden.pack.component.v1+wasm";
const SIGNATURE_TYPE: &str = "application/vnd.warden.pack.signature.v1+toml";
const TITLE: &str = "org.opencontainers.image.title";

fn oci_err(what: &str, e: impl std::fmt::Display) -> PackError {
    PackError::Oci(format!("{what}: {e}"))
}

/// Parses `oci://registry/repo:tag` (the scheme is required so a path is never taken for one).
pub fn parse_reference(text: &str) -> Result<Reference, PackError> {
    let rest = text.strip_prefix("oci://").ok_or_else(|| {
        PackError::Oci(format!(
            "{text:?} is not an oci://registry/repo:tag reference"
        ))
    })?;
    rest.parse::<Reference>()
        .map_err(|e| oci_err(&format!("{text:?} is not a valid reference"), e))
}

fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn client(reference: &Reference) -> Client {
    // reqwest is built without a crypto provider: warden uses ring everywhere.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = reference.resolve_registry().to_string();
    let protocol = if is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        ..ClientConfig::default()
    })
}

/// Credentials for one registry, and where they came from (for error messages).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// What is sent.
    pub auth: RegistryAuth,
    /// Which credentials and from where, without the secret: e.g. `user "ann" from
    /// /home/ann/.docker/config.json`, or `none (anonymous)`.
    pub source: String,
}

/// The largest docker config file read.
const MAX_DOCKER_CONFIG: u64 = 1 << 20;

/// Registry credentials: `WARDEN_REGISTRY_USERNAME` / `WARDEN_REGISTRY_PASSWORD`, else the
/// docker config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`): the credential
/// helper of `credHelpers.<registry>`, else that of `credsStore`, else
/// `auths.<registry>.auth` = base64 of `user:password`; else anonymous. A config file that
/// exists but cannot be read as one is an error, not a silent anonymous pull.
pub fn credentials_for(reference: &Reference) -> Result<Credentials, PackError> {
    if let (Ok(user), Ok(pass)) = (
        std::env::var("WARDEN_REGISTRY_USERNAME"),
        std::env::var("WARDEN_REGISTRY_PASSWORD"),
    ) {
        return Ok(Credentials {
            source: format!("user {user:?} from WARDEN_REGISTRY_USERNAME"),
            auth: RegistryAuth::Basic(user, pass),
        });
    }
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".docker")));
    match dir {
        Some(dir) => docker_config_credentials(&dir, reference),
        None => Ok(Credentials::anonymous("no DOCKER_CONFIG or HOME")),
    }
}

impl Credentials {
    fn anonymous(why: &str) -> Self {
        Credentials {
            auth: RegistryAuth::Anonymous,
            source: format!("none ({why})"),
        }
    }
}

/// The credentials for `reference`'s registry in the docker config folder `dir`
/// (`dir/config.json`), or anonymous when it has none for that registry.
pub fn docker_config_credentials(
    dir: &std::path::Path,
    reference: &Reference,
) -> Result<Credentials, PackError> {
    let anonymous = Credentials::anonymous;
    let path = dir.join("config.json");
    let bad = |why: String| PackError::DockerConfig {
        path: path.clone(),
        why,
    };
    let Some(text) = crate::source::read_capped(&path, MAX_DOCKER_CONFIG)? else {
        return Ok(anonymous(&format!("{} does not exist", path.display())));
    };
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let registry = reference.resolve_registry();
    // `docker login` writes the bare host; older tools wrote a URL (Docker Hub's is fixed).
    let mut keys = vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ];
    if registry == "index.docker.io" {
        keys.insert(0, DOCKER_HUB_SERVER.to_string());
    }
    if let Some(found) = helper_credentials(&json, &keys, &path)? {
        return Ok(found);
    }
    let entry = (keys.iter()).find_map(|key| json["auths"].get(key).cloned());
    let Some(encoded) = entry.as_ref().and_then(|e| e.get("auth")) else {
        return Ok(anonymous(&format!(
            "{} has no auths.\"{registry}\".auth",
            path.display()
        )));
    };
    let encoded = encoded
        .as_str()
        .ok_or_else(|| bad(format!("auths.\"{registry}\".auth is not a string")))?;
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| bad(format!("auths.\"{registry}\".auth is not base64 ({e})")))?;
    let (user, pass) = String::from_utf8(decoded)
        .ok()
        .and_then(|t| {
            t.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        })
        .ok_or_else(|| {
            bad(format!(
                "auths.\"{registry}\".auth is not base64 of `user:password`"
            ))
        })?;
    Ok(Credentials {
        source: format!("user {user:?} from {}", path.display()),
        auth: RegistryAuth::Basic(user, pass),
    })
}

/// The server URL docker and its credential helpers use for Docker Hub.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// Credentials from the helper the docker config names for this registry: its
/// `credHelpers` entry (under any of `keys`), else `credsStore`. `None` when neither is set
/// or the helper has nothing stored for the registry (then `auths` is looked at).
fn helper_credentials(
    json: &serde_json::Value,
    keys: &[String],
    path: &std::path::Path,
) -> Result<Option<Credentials>, PackError> {
    let named = keys
        .iter()
        .find_map(|k| {
            Some((
                format!("credHelpers.\"{k}\""),
                json["credHelpers"].get(k)?,
                k,
            ))
        })
        .or_else(|| Some(("credsStore".to_string(), json.get("credsStore")?, &keys[0])));
    let Some((key, name, server)) = named else {
        return Ok(None);
    };
    let name = name.as_str().ok_or_else(|| PackError::DockerConfig {
        path: path.to_path_buf(),
        why: format!("{key} is not a string"),
    })?;
    if name.is_empty() {
        return Ok(None);
    }
    let answer = cred_helper::get(name, server).map_err(|source| PackError::CredentialHelper {
        config: path.to_path_buf(),
        key: key.clone(),
        source,
    })?;
    Ok(match answer {
        Answer::Found(auth, source) => Some(Credentials {
            auth,
            source: format!("{source} ({key} in {})", path.display()),
        }),
        Answer::NotFound => None,
    })
}

/// A client error as a [`PackError`]: refusals of access become [`PackError::RegistryAuth`]
/// naming the credentials sent, everything else [`PackError::Oci`] with `what`.
fn registry_err(
    what: &str,
    reference: &Reference,
    credentials: &Credentials,
    e: oci_client::errors::OciDistributionError,
) -> PackError {
    use oci_client::errors::OciDistributionError as E;
    let denied = match &e {
        E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => true,
        E::RegistryError { envelope, .. } => envelope.errors.iter().any(|err| {
            matches!(
                err.code,
                oci_client::errors::OciErrorCode::Unauthorized
                    | oci_client::errors::OciErrorCode::Denied
            )
        }),
        E::ServerError { code, .. } => *code == 401 || *code == 403,
        _ => false,
    };
    if denied {
        PackError::RegistryAuth {
            registry: reference.resolve_registry().to_string(),
            credentials: credentials.source.clone(),
            detail: e.to_string(),
        }
    } else {
        oci_err(what, e)
    }
}

/// Pushes `files` (signed: an unsigned pack is refused) to `reference`; returns the manifest URL.
pub async fn push(files: &PackFiles, reference: &Reference) -> Result<String, PackError> {
    if files.signature.is_none() {
        return Err(PackError::MissingSignature);
    }
    push_with(files, reference, &credentials_for(reference)?).await
}

/// [`push`] with the given credentials.
pub async fn push_with(
    files: &PackFiles,
    reference: &Reference,
    credentials: &Credentials,
) -> Result<String, PackError> {
    let sig = files
        .signature
        .as_ref()
        .ok_or(PackError::MissingSignature)?;
    push_signed(files, sig, reference, credentials).await
}

async fn push_signed(
    files: &PackFiles,
    sig: &SignatureFile,
    reference: &Reference,
    credentials: &Credentials,
) -> Result<String, PackError> {
    let title = |name: &str| Some(BTreeMap::from([(TITLE.to_string(), name.to_string())]));
    let mut layers = vec![ImageLayer::new(
        files.manifest.to_toml()?.into_bytes(),
        MANIFEST_TYPE.into(),
        title(crate::manifest::MANIFEST_FILE),
    )];
    for (name, bytes) in &files.components {
        layers.push(ImageLayer::new(
            bytes.clone(),
            COMPONENT_TYPE.into(),
            title(name),
        ));
    }
    layers.push(ImageLayer::new(
        sig.to_text().into_bytes(),
        SIGNATURE_TYPE.into(),
        title(crate::signing::SIGNATURE_FILE),
    ));
    let config = Config::new(
        serde_json::json!({ "pack": files.manifest.id() })
            .to_string()
            .into_bytes(),
        CONFIG_TYPE.into(),
        None,
    );
    let mut manifest = OciImageManifest::build(&layers, &config, None);
    manifest.media_type = Some("application/vnd.oci.image.manifest.v1+json".into());
    manifest.artifact_type = Some(ARTIFACT_TYPE.into());
    let response = client(reference)
        .push(
            reference,
            &layers,
            config,
            &credentials.auth,
            Some(manifest),
        )
        .await
        .map_err(|e| {
            registry_err(
                &format!("pushing to {reference}"),
                reference,
                credentials,
                e,
            )
        })?;
    Ok(response.manifest_url)
}

/// Pulls the pack at `reference`, at most `max_bytes` in all.
pub async fn pull(reference: &Reference, max_bytes: u64) -> Result<PackFiles, PackError> {
    pull_with(reference, max_bytes, &credentials_for(reference)?).await
}

/// [`pull`] with the given credentials.
pub async fn pull_with(
    reference: &Reference,
    max_bytes: u64,
    credentials: &Credentials,
) -> Result<PackFiles, PackError> {
    let client = client(reference);
    let auth = &credentials.auth;
    let (manifest, _) = client
        .pull_image_manifest(reference, auth)
        .await
        .map_err(|e| {
            registry_err(
                &format!("reading the manifest of {reference}"),
                reference,
                credentials,
                e,
            )
        })?;
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(PackError::Oci(format!(
            "{reference} is not a warden pack (artifact type {:?})",
            manifest.artifact_type
        )));
    }
    let total: i64 = manifest.layers.iter().map(|l| l.size.max(0)).sum();
    if manifest.layers.len() > 70 || u64::try_from(total).unwrap_or(u64::MAX) > max_bytes {
        return Err(PackError::TooLarge {
            what: format!("the pack at {reference}"),
            max: max_bytes,
        });
    }
    let image = client
        .pull(
            reference,
            auth,
            vec![MANIFEST_TYPE, COMPONENT_TYPE, SIGNATURE_TYPE],
        )
        .await
        .map_err(|e| {
            registry_err(
                &format!("pulling {reference} (a blob that does not match its digest is refused)"),
                reference,
                credentials,
                e,
            )
        })?;
    let mut manifest_text = None;
    let mut signature = None;
    let mut blobs = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut size = 0u64;
    for layer in image.layers {
        size = size.saturating_add(layer.data.len() as u64);
        if size > max_bytes {
            return Err(PackError::TooLarge {
                what: format!("the pack at {reference}"),
                max: max_bytes,
            });
        }
        let name = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(TITLE))
            .cloned()
            .unwrap_or_default();
        if !seen.insert(name.clone()) {
            return Err(PackError::BadEntry {
                name,
                why: "appears twice in the artifact".into(),
            });
        }
        let utf8 = |b: &[u8]| {
            String::from_utf8(b.to_vec()).map_err(|_| PackError::BadEntry {
                name: name.clone(),
                why: "is not UTF-8".into(),
            })
        };
        match layer.media_type.as_str() {
            MANIFEST_TYPE => manifest_text = Some(utf8(&layer.data)?),
            SIGNATURE_TYPE => signature = Some(SignatureFile::parse(&utf8(&layer.data)?)?),
            _ => {
                if !crate::validate::is_component_file(&name) {
                    return Err(PackError::BadEntry {
                        name,
                        why: "a component layer's title must be a plain .wasm file name".into(),
                    });
                }
                blobs.insert(name, layer.data.to_vec());
            }
        }
    }
    let manifest = Manifest::parse(&manifest_text.ok_or_else(|| PackError::BadEntry {
        name: crate::manifest::MANIFEST_FILE.into(),
        why: "the artifact has no manifest layer".into(),
    })?)?;
    let mut components = BTreeMap::new();
    for c in &manifest.components {
        let bytes = blobs.remove(&c.file).ok_or_else(|| PackError::BadEntry {
            name: c.file.clone(),
            why: "pack.toml lists it but the artifact has no such layer".into(),
        })?;
        components.insert(c.file.clone(), bytes);
    }
    if let Some(name) = blobs.into_keys().next() {
        return Err(PackError::BadEntry {
            name,
            why: "pack.toml does not list it".into(),
        });
    }
    let files = PackFiles {
        manifest,
        signature,
        components,
    };
    files.verify_digests()?;
    Ok(files)
}
