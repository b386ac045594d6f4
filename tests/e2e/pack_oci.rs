//! Packs through a real OCI registry: Debian's `docker-registry`, started on a loopback port
//! for each test with its storage in a temporary folder. Push and pull keep every byte and the
//! signature; a blob changed or truncated in the registry's storage is refused on pull.
//!
//! Without `docker-registry` the tests say so and pass locally; under `CI=true` they fail
//! (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use warden_pack::{PackError, PackFiles, oci};

/// A registry process; killed (by its own pid) when dropped.
struct Registry {
    child: Child,
    port: u16,
    storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BINARY: &str = "docker-registry";

/// Starts a registry, or `None` (after saying why) when the binary is missing outside CI.
async fn registry() -> Option<Registry> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(BINARY).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{BINARY} is not installed; .ci/run installs Debian's docker-registry package"
        );
        eprintln!(
            "SKIPPED: {BINARY} is not installed (apt-get install docker-registry) — the OCI tests did not run"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = dir.path().join("storage");
    let config = dir.path().join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
            storage.display()
        ),
    )
    .unwrap();
    let child = Command::new(BINARY)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let registry = Registry {
        child,
        port,
        storage,
        _dir: dir,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(registry);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{BINARY} did not start listening on 127.0.0.1:{port}");
}

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

/// The registry's stored file of the blob holding `bytes`.
fn blob_file(storage: &Path, bytes: &[u8]) -> PathBuf {
    let digest = warden_pack::sha256_hex(bytes);
    storage.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{digest}/data",
        &digest[..2]
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_pull_keeps_the_pack_and_its_signature() {
    let Some(reg) = registry().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = signed_pack(dir.path());
    let reference =
        oci::parse_reference(&format!("oci://127.0.0.1:{}/packs/calc:1.0.0", reg.port)).unwrap();
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
        oci::parse_reference(&format!("oci://127.0.0.1:{}/packs/calc:1.0.0", reg.port)).unwrap();
    oci::push(&files, &reference).await.unwrap();
    let stored = blob_file(&reg.storage, &files.components["calc.wasm"]);
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
