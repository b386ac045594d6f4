//! `warden pack push` / `pull` / `install oci://…` against a real registry (Debian's
//! `docker-registry` on loopback, started by the shared harness in `tests/e2e/oci_registry.rs`),
//! and registry credentials from the standard docker config (`DOCKER_CONFIG`) against a
//! registry behind htpasswd auth.

use std::path::Path;

use crate::oci_registry::{self, Registry};
use crate::support::{Fixture, assert_code, text};

/// A signed calc pack in the fixture, with its key trusted.
pub(crate) async fn signed_calc(fx: &Fixture) -> std::path::PathBuf {
    let pack = crate::pack::write_pack(fx, "1.0.0", "");
    for args in [
        vec!["key", "generate", "--out", "k"],
        vec!["trust", "add", "k.pub"],
        vec!["pack", "sign", pack.to_str().unwrap(), "--key", "k.key"],
    ] {
        assert_code(&fx.run(&args).await, 0);
    }
    pack
}

/// `warden <args>` with `DOCKER_CONFIG` set to `docker` (and no credentials from elsewhere).
async fn run_with(fx: &Fixture, docker: &Path, args: &[&str]) -> std::process::Output {
    fx.command(args)
        .env("DOCKER_CONFIG", docker)
        .env_remove("WARDEN_REGISTRY_USERNAME")
        .env_remove("WARDEN_REGISTRY_PASSWORD")
        .output()
        .await
        .unwrap()
}

pub(crate) fn reference(reg: &Registry) -> String {
    format!("oci://{}/tools/calc:1.0.0", reg.host())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_and_install_from_a_registry() {
    let Some(reg) = oci_registry::registry().await else {
        return;
    };
    let fx = Fixture::new(vec![]).await;
    let pack = signed_calc(&fx).await;
    let docker = fx.dir.path().join("no-docker-config");
    let oci = reference(&reg);

    let out = run_with(
        &fx,
        &docker,
        &["pack", "push", pack.to_str().unwrap(), &oci],
    )
    .await;
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).starts_with("pushed calc@1.0.0 to "),
        "{}",
        text(&out.stdout)
    );

    let out = run_with(&fx, &docker, &["pack", "pull", &oci, "--out", "pulled"]).await;
    assert_code(&out, 0);
    let pulled = fx.dir.path().join("pulled");
    for file in ["calc.wasm", "pack.sig"] {
        assert_eq!(
            std::fs::read(pulled.join(file)).unwrap(),
            std::fs::read(pack.join(file)).unwrap(),
            "{file} changed on the way"
        );
    }
    // pack.toml travels in its canonical form: the same manifest, maybe not the same text.
    let manifest = |dir: &Path| {
        warden_pack::Manifest::parse(&std::fs::read_to_string(dir.join("pack.toml")).unwrap())
            .unwrap()
    };
    assert_eq!(manifest(&pulled), manifest(&pack));
    assert_code(
        &run_with(&fx, &docker, &["pack", "verify", "pulled"]).await,
        0,
    );
    let out = run_with(&fx, &docker, &["pack", "install", &oci, "--yes"]).await;
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("installed calc@1.0.0"),
        "{}",
        text(&out.stdout)
    );

    // A component changed in the registry's storage is refused on pull, and nothing is written.
    let stored = reg.blob_file(&std::fs::read(pack.join("calc.wasm")).unwrap());
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&stored, &bytes).unwrap();
    let out = run_with(&fx, &docker, &["pack", "pull", &oci, "--out", "tampered"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("Invalid digest"),
        "{}",
        text(&out.stderr)
    );
    assert!(!fx.dir.path().join("tampered").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_come_from_the_docker_config() {
    let fx = Fixture::new(vec![]).await;
    let htpasswd = oci_registry::htpasswd(fx.dir.path(), "ann", "s3cret");
    let Some(reg) = oci_registry::registry_with_htpasswd(&htpasswd).await else {
        return;
    };
    let pack = signed_calc(&fx).await;
    let pack = pack.to_str().unwrap();
    let oci = reference(&reg);
    let good = oci_registry::docker_config(fx.dir.path(), "good", &reg.host(), "ann", "s3cret");
    let wrong = oci_registry::docker_config(fx.dir.path(), "wrong", &reg.host(), "ann", "nope");
    let none = fx.dir.path().join("none");

    let out = run_with(&fx, &wrong, &["pack", "push", pack, &oci]).await;
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("the registry {} refused access", reg.host())),
        "{err}"
    );
    assert!(
        err.contains("user \"ann\" from") && err.contains("docker login"),
        "{err}"
    );
    assert!(!err.contains("nope"), "the password never shows: {err}");

    let out = run_with(&fx, &none, &["pack", "push", pack, &oci]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("credentials sent: none"),
        "{}",
        text(&out.stderr)
    );

    assert_code(
        &run_with(&fx, &good, &["pack", "push", pack, &oci]).await,
        0,
    );
    let out = run_with(&fx, &good, &["pack", "pull", &oci, "--out", "pulled"]).await;
    assert_code(&out, 0);
    assert!(fx.dir.path().join("pulled/calc.wasm").is_file());
    let out = run_with(&fx, &wrong, &["pack", "pull", &oci, "--out", "again"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("refused access"),
        "{}",
        text(&out.stderr)
    );
}
