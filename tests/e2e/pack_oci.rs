//! Packs through a real OCI registry: Debian's `docker-registry`, started on a loopback port
//! for each test with its storage in a temporary folder (see `oci_registry.rs`). Push and pull keep every byte and the
//! signature; a blob changed or truncated in the registry's storage is refused on pull.
//!
//! Without `docker-registry` the tests say so and pass locally; under `CI=true` they fail
//! (`.ci/run` installs it).

use std::path::Path;

use warden_pack::{PackError, PackFiles, oci};

use crate::oci_registry::registry;

/// A signed pack of the calc component.
fn signed_pack(dir: &Path) -> PackFiles {
    let calc = warden::builtin::bytes("calc").unwrap();
    let text = format!(
        "schema = 1\n[pack]\nname = \"calc\"\nversion = \"1.0.0\"\ndescription = \"Arithmetic\"\nlicense = \"MIT\"\n\
         [[components]]\nfile = \"calc.wasm\"\nsha256 = \"{}\"\ntools = [\"calc\"]\n",
        warden_pack::sha256_hex(calc)
    );
    let (key, _, _) = warden_pack::generate(&dir.join("k")).unwrap();
    let manifest = warden_pack::Manifest::parse(&text).unwrap();
    let signature = Some(
        warden_pack::SecretKey::read(&key)
            .unwrap()
            .sign(&manifest)
            .unwrap(),
    );
    PackFiles {
        manifest,
        signature,
        components: [("calc.wasm".to_string(), calc.to_vec())].into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_pull_keeps_the_pack_and_its_signature() {
    let Some(reg) = registry().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = signed_pack(dir.path());
    let reference =
        oci::parse_reference(&format!("oci://{}/packs/calc:1.0.0", reg.host())).unwrap();
    oci::push(&files, &reference).await.unwrap();
    let pulled = oci::pull(&reference, 64 << 20).await.unwrap();
    assert_eq!(pulled.manifest, files.manifest);
    assert_eq!(pulled.signature, files.signature);
    assert_eq!(pulled.components, files.components);
    // A cap below the pack's size is refused from the registry's manifest alone.
    let err = oci::pull(&reference, 1024).await.unwrap_err();
    assert!(matches!(err, PackError::TooLarge { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_changed_or_truncated_in_the_registry_is_refused() {
    let Some(reg) = registry().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = signed_pack(dir.path());
    let reference =
        oci::parse_reference(&format!("oci://{}/packs/calc:1.0.0", reg.host())).unwrap();
    oci::push(&files, &reference).await.unwrap();
    let stored = reg.blob_file(&files.components["calc.wasm"]);
    let original = std::fs::read(&stored).unwrap();

    let mut flipped = original.clone();
    flipped[100] ^= 1;
    std::fs::write(&stored, &flipped).unwrap();
    let err = oci::pull(&reference, 64 << 20)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Invalid digest"), "{err}");

    std::fs::write(&stored, &original[..original.len() / 2]).unwrap();
    let err = oci::pull(&reference, 64 << 20)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Invalid digest"), "{err}");
}

#[tokio::test]
async fn references_without_the_oci_scheme_are_refused() {
    let err = oci::parse_reference("127.0.0.1:5000/packs/calc:1").unwrap_err();
    assert!(err.to_string().contains("oci://"), "{err}");
}

/// Docker config credentials reach a registry behind htpasswd auth; a wrong password and a
/// missing entry are refused with an error naming the registry and the credentials' source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_come_from_the_docker_config() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = crate::oci_registry::htpasswd(dir.path(), "ann", "s3cret");
    let Some(reg) = crate::oci_registry::registry_with_htpasswd(&htpasswd).await else {
        return;
    };
    let files = signed_pack(dir.path());
    let reference =
        oci::parse_reference(&format!("oci://{}/packs/calc:1.0.0", reg.host())).unwrap();
    let good = crate::oci_registry::docker_config(dir.path(), "good", &reg.host(), "ann", "s3cret");
    let wrong = crate::oci_registry::docker_config(dir.path(), "wrong", &reg.host(), "ann", "nope");
    let with =
        |folder: &std::path::Path| oci::docker_config_credentials(folder, &reference).unwrap();
    let err = oci::push_with(&files, &reference, &with(&wrong))
        .await
        .unwrap_err();
    assert!(matches!(err, PackError::RegistryAuth { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&reg.host()) && message.contains("user \"ann\" from"),
        "{message}"
    );
    assert!(
        !message.contains("nope"),
        "the password never shows: {message}"
    );

    oci::push_with(&files, &reference, &with(&good))
        .await
        .unwrap();
    let pulled = oci::pull_with(&reference, 64 << 20, &with(&good))
        .await
        .unwrap();
    assert_eq!(pulled.manifest, files.manifest);

    let none = with(&dir.path().join("none"));
    let err = oci::pull_with(&reference, 64 << 20, &none)
        .await
        .unwrap_err();
    assert!(matches!(err, PackError::RegistryAuth { .. }), "{err}");
    assert!(err.to_string().contains("credentials sent: none"), "{err}");
}

#[test]
fn a_broken_docker_config_is_an_error_not_anonymous() {
    let dir = tempfile::tempdir().unwrap();
    let reference = oci::parse_reference("oci://127.0.0.1:5000/packs/calc:1").unwrap();
    std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
    let err = oci::docker_config_credentials(dir.path(), &reference).unwrap_err();
    assert!(matches!(err, PackError::DockerConfig { .. }), "{err}");
    assert!(err.to_string().contains("not JSON"), "{err}");
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"auths": {"127.0.0.1:5000": {"auth": "bm8tY29sb24="}}}"#,
    )
    .unwrap();
    let err = oci::docker_config_credentials(dir.path(), &reference).unwrap_err();
    assert!(err.to_string().contains("user:password"), "{err}");
}
