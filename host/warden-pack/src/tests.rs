//! Unit tests: the manifest schema, signing and its attacks, pack reading and its attacks,
//! widening. Installs (which need real components) are in the e2e suite (`tests/e2e/packs.rs`).

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;

use crate::*;

const COMPONENT: &[u8] = b"\0asm component bytes for digest tests";

fn manifest_text(extra: &str) -> String {
    format!(
        r#"schema = 1
[pack]
name = "weather"
version = "1.2.0"
description = "Forecasts"
authors = ["Ann <ann@example.com>"]
license = "MIT"

[[components]]
file = "weather.wasm"
sha256 = "{}"
tools = ["forecast"]

[capabilities.dirs.cache]
mode = "rw"
reason = "keeps downloaded maps"

[[capabilities.network]]
scheme = "https"
host = "api.weather.example"
path_prefix = "/v1/"
methods = ["GET"]
reason = "fetches forecasts"

[capabilities.secrets.api_key]
hosts = ["api.weather.example"]
header = "Authorization"
template = "Bearer {{}}"
reason = "the API needs a key"

[capabilities.limits]
timeout = {{ default = "5s", max = "30s" }}
memory = {{ default = "64MiB", max = "128MiB" }}
{extra}"#,
        sha256_hex(COMPONENT)
    )
}

fn pack() -> PackFiles {
    PackFiles {
        manifest: Manifest::parse(&manifest_text("")).unwrap(),
        signature: None,
        components: [("weather.wasm".to_string(), COMPONENT.to_vec())].into(),
    }
}

/// A fresh key pair in `dir`, its public key trusted in a store there.
fn signer(dir: &Path) -> (SecretKey, TrustStore) {
    std::fs::create_dir_all(dir).unwrap();
    let (key, public, _) = generate(&dir.join("author")).unwrap();
    let trust = TrustStore::new(&Dirs::new(dir.join("config"), dir.join("data")));
    trust.add(&public).unwrap();
    (SecretKey::read(&key).unwrap(), trust)
}

#[test]
fn full_manifest_parses_with_normalised_limits() {
    let m = Manifest::parse(&manifest_text("")).unwrap();
    assert_eq!(m.pack.version, semver::Version::new(1, 2, 0));
    assert_eq!(m.capabilities.network[0].effective_port(), 443);
    assert_eq!(m.capabilities.limits.timeout.unwrap().max.value, 30_000);
    assert_eq!(
        m.capabilities.limits.memory.unwrap().default.value,
        64 << 20
    );
    // Written back and parsed again, it is the same manifest.
    assert_eq!(Manifest::parse(&m.to_toml().unwrap()).unwrap(), m);
}

#[test]
fn unknown_key_is_an_error_naming_its_line() {
    let text =
        manifest_text("").replace("license = \"MIT\"", "license = \"MIT\"\nhomepage = \"x\"");
    let err = Manifest::parse(&text).unwrap_err().to_string();
    assert!(err.contains("line 8") && err.contains("homepage"), "{err}");
}

#[test]
fn newer_schema_is_refused_for_its_version() {
    let text = manifest_text("").replace("schema = 1", "schema = 2\nfuture = true");
    assert_eq!(
        Manifest::parse(&text).unwrap_err(),
        ManifestError::Schema { found: 2 }
    );
}

#[test]
fn component_names_with_paths_are_refused() {
    for bad in [
        "../evil.wasm",
        "/etc/evil.wasm",
        "sub/x.wasm",
        ".hidden.wasm",
        "x.so",
        "a\\\\b.wasm",
    ] {
        let text =
            manifest_text("").replace("file = \"weather.wasm\"", &format!("file = \"{bad}\""));
        let err = Manifest::parse(&text).unwrap_err().to_string();
        assert!(err.contains("components[0].file"), "{bad}: {err}");
    }
}

#[test]
fn bad_capabilities_are_refused_with_their_key() {
    let cases = [
        (
            "reason = \"fetches forecasts\"",
            "reason = \"\"",
            "capabilities.network[0].reason",
        ),
        (
            "methods = [\"GET\"]",
            "methods = [\"BREW\"]",
            "capabilities.network[0].methods",
        ),
        (
            "path_prefix = \"/v1/\"",
            "path_prefix = \"/v1/../admin\"",
            "path_prefix",
        ),
        (
            "host = \"api.weather.example\"",
            "host = \"a.*.example\"",
            "capabilities.network[0].host",
        ),
        (
            "template = \"Bearer {}\"",
            "template = \"Bearer\"",
            "template",
        ),
        ("header = \"Authorization\"", "header = \"Host\"", "header"),
        (
            "max = \"30s\"",
            "max = \"1s\"",
            "capabilities.limits.timeout",
        ),
        ("mode = \"rw\"", "mode = \"all\"", "mode"),
    ];
    for (from, to, key) in cases {
        let text = manifest_text("").replace(from, to);
        let err = Manifest::parse(&text).unwrap_err().to_string();
        assert!(err.contains(key), "{to}: {err}");
    }
}

#[test]
fn secret_for_a_host_without_a_network_rule_is_refused() {
    let text = manifest_text("").replace(
        "hosts = [\"api.weather.example\"]",
        "hosts = [\"evil.example\"]",
    );
    let err = Manifest::parse(&text).unwrap_err().to_string();
    assert!(err.contains("no [[capabilities.network]] rule"), "{err}");
}

#[test]
fn signed_pack_verifies_against_a_trusted_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key, trust) = signer(dir.path());
    let mut p = pack();
    p.signature = Some(key.sign(&p.manifest).unwrap());
    assert_eq!(p.verify(&trust).unwrap(), key.public().id());
}

#[test]
fn secret_key_file_is_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (key, public, _) = generate(&dir.path().join("k")).unwrap();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(public.ends_with("k.pub"));
    let err = generate(&dir.path().join("k")).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = SecretKey::read(&key).err().unwrap().to_string();
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn capability_added_after_signing_breaks_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (key, trust) = signer(dir.path());
    let mut p = pack();
    p.signature = Some(key.sign(&p.manifest).unwrap());
    p.manifest.capabilities.env.insert(
        "HOME".into(),
        KeyRequest {
            reason: "just because".into(),
        },
    );
    assert!(matches!(
        p.verify(&trust),
        Err(PackError::BadSignature { .. })
    ));
}

#[test]
fn flipped_byte_in_a_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, trust) = signer(dir.path());
    let mut p = pack();
    p.signature = Some(key.sign(&p.manifest).unwrap());
    p.components.get_mut("weather.wasm").unwrap()[3] ^= 1;
    let err = p.verify(&trust).unwrap_err();
    assert!(matches!(err, PackError::DigestMismatch { .. }), "{err}");
}

#[test]
fn untrusted_wrong_and_missing_signatures_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, trust) = signer(dir.path());
    let (other, _) = signer(&dir.path().join("other"));
    let mut p = pack();
    assert!(matches!(p.verify(&trust), Err(PackError::MissingSignature)));
    p.signature = Some(other.sign(&p.manifest).unwrap());
    assert!(matches!(
        p.verify(&trust),
        Err(PackError::UntrustedKey { .. })
    ));
    // A signature by the untrusted key relabelled with the trusted key's id.
    let trusted_id = trust.list().unwrap().remove(0);
    p.signature.as_mut().unwrap().key_id = trusted_id;
    assert!(matches!(
        p.verify(&trust),
        Err(PackError::BadSignature { .. })
    ));
}

#[test]
fn trust_remove_by_id_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let (key, trust) = signer(dir.path());
    let id = key.public().id();
    assert_eq!(trust.list().unwrap(), vec![id.clone()]);
    assert_eq!(trust.remove(&id).unwrap(), id);
    assert!(trust.list().unwrap().is_empty());
    assert!(trust.remove(&id).is_err());
}

#[test]
fn archive_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (key, trust) = signer(dir.path());
    let mut p = pack();
    p.signature = Some(key.sign(&p.manifest).unwrap());
    let file = dir.path().join("w.wpack");
    p.write_archive(&file).unwrap();
    let back = PackFiles::read(&file, 1 << 20).unwrap();
    back.verify(&trust).unwrap();
    assert_eq!(back.components, p.components);
}

/// A tar holding `entries` as written, names unchecked (as a hostile author would).
fn raw_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..107].copy_from_slice(b"0000644");
        header[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        header[136..147].copy_from_slice(b"00000000000");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn archive_entries_with_traversal_or_absolute_names_are_refused() {
    let toml = manifest_text("");
    for bad in [
        "../evil.wasm",
        "/etc/cron.d/evil",
        "sub/weather.wasm",
        ".hidden",
    ] {
        let tar = raw_tar(&[("pack.toml", toml.as_bytes()), (bad, b"x")]);
        let err = PackFiles::from_archive_bytes(tar.as_slice(), 1 << 20).unwrap_err();
        assert!(
            matches!(err, PackError::BadEntry { ref name, .. } if name == bad),
            "{bad}: {err}"
        );
    }
    let tar = raw_tar(&[
        ("pack.toml", toml.as_bytes()),
        ("weather.wasm", COMPONENT),
        ("extra.wasm", b"x"),
    ]);
    let err = PackFiles::from_archive_bytes(tar.as_slice(), 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not list it"), "{err}");
}

#[test]
fn pack_over_the_size_cap_is_refused_before_reading_it_all() {
    let toml = manifest_text("");
    let big = vec![0u8; 3 << 20];
    let tar = raw_tar(&[("pack.toml", toml.as_bytes()), ("weather.wasm", &big)]);
    let err = PackFiles::from_archive_bytes(tar.as_slice(), 1 << 20).unwrap_err();
    assert!(
        matches!(err, PackError::TooLarge { max, .. } if max == 1 << 20),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.toml"), &toml).unwrap();
    std::fs::write(dir.path().join("weather.wasm"), &big).unwrap();
    let err = PackFiles::read(dir.path(), 1 << 20).unwrap_err();
    assert!(matches!(err, PackError::TooLarge { .. }), "{err}");
}

#[test]
fn component_reached_through_a_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.toml"), manifest_text("")).unwrap();
    std::fs::write(dir.path().join("real"), COMPONENT).unwrap();
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("weather.wasm")).unwrap();
    let err = PackFiles::read(dir.path(), 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not be links"), "{err}");
}

#[test]
fn widening_sees_new_hosts_paths_methods_write_access_and_limits() {
    let old = Manifest::parse(&manifest_text("")).unwrap().capabilities;
    assert!(widening(&old, &old).is_empty());
    let narrower =
        manifest_text("").replace("path_prefix = \"/v1/\"", "path_prefix = \"/v1/daily\"");
    assert!(widening(&old, &Manifest::parse(&narrower).unwrap().capabilities).is_empty());
    let wider = [
        manifest_text("").replace("path_prefix = \"/v1/\"", "path_prefix = \"/\""),
        manifest_text("").replace("methods = [\"GET\"]", "methods = [\"GET\", \"POST\"]"),
        manifest_text("").replace("max = \"30s\"", "max = \"60s\""),
        manifest_text("[capabilities.env.HOME]\nreason = \"r\"\n"),
        manifest_text("").replace(
            "host = \"api.weather.example\"\npath",
            "host = \"api.weather.example\"\nport = 8443\npath",
        ),
    ];
    for text in wider {
        let new = Manifest::parse(&text).unwrap().capabilities;
        assert!(!widening(&old, &new).is_empty(), "{text}");
    }
    let mut ro = old.clone();
    ro.dirs.get_mut("cache").unwrap().mode = Access::ReadOnly;
    assert!(widening(&old, &ro).is_empty());
    assert_eq!(widening(&ro, &old).len(), 1);
}

#[test]
fn permissions_are_described_in_plain_words() {
    let words = describe(&Manifest::parse(&manifest_text("")).unwrap().capabilities).join("\n");
    assert!(
        words.contains("read, create, change and delete files in a directory you choose"),
        "{words}"
    );
    assert!(
        words.contains("send GET requests to https://api.weather.example:443 (paths under /v1/)"),
        "{words}"
    );
    assert!(words.contains("never sees the value"), "{words}");
    assert!(words.contains("128 MiB of memory"), "{words}");
}
