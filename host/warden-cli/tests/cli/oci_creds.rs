//! Registry credentials from docker credential helpers (`credHelpers`, `credsStore`) against
//! the real loopback registry behind htpasswd auth. The helpers are real programs speaking
//! the protocol: shell scripts the test writes into a folder put first on `PATH`.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::oci::{reference, signed_calc};
use crate::oci_registry;
use crate::support::{Fixture, assert_code, text};

/// `docker-credential-<name>` in `bin`, running `body` (after recording its argument and
/// the server URL it was given on stdin in `bin/asked`).
fn helper(bin: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = bin.join(format!("docker-credential-{name}"));
    let script = format!(
        "#!/bin/sh\nread -r server\necho \"$1 $server\" >> \"$(dirname \"$0\")/asked\"\n{body}\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The helpers: `good` and `wrong` answer with a right and a wrong password, `empty` has
/// nothing stored, `broken` fails, `garbage` answers with something that is not JSON.
fn helpers(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let answer = |secret: &str| {
        format!(
            "printf '{{\"ServerURL\":\"%s\",\"Username\":\"ann\",\"Secret\":\"{secret}\"}}' \"$server\""
        )
    };
    helper(&bin, "good", &answer("s3cret"));
    helper(&bin, "wrong", &answer("nope"));
    helper(
        &bin,
        "empty",
        "echo 'credentials not found in native keychain'\nexit 1",
    );
    helper(&bin, "broken", "echo 'the keychain is locked' >&2\nexit 3");
    helper(&bin, "garbage", "echo 'Username: ann'");
    bin
}

/// A docker config folder `name` holding `config`.
fn config(dir: &Path, name: &str, config: &serde_json::Value) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("config.json"), config.to_string()).unwrap();
    folder
}

/// `warden <args>` with `DOCKER_CONFIG` = `docker` and the helpers first on `PATH`.
async fn run(fx: &Fixture, bin: &Path, docker: &Path, args: &[&str]) -> std::process::Output {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    fx.command(args)
        .env("DOCKER_CONFIG", docker)
        .env("PATH", path)
        .env_remove("WARDEN_REGISTRY_USERNAME")
        .env_remove("WARDEN_REGISTRY_PASSWORD")
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_helpers_are_asked_in_dockers_order() {
    let fx = Fixture::new(vec![]).await;
    let htpasswd = oci_registry::htpasswd(fx.dir.path(), "ann", "s3cret");
    let Some(reg) = oci_registry::registry_with_htpasswd(&htpasswd).await else {
        return;
    };
    let pack = signed_calc(&fx).await;
    let pack = pack.to_str().unwrap();
    let oci = reference(&reg);
    let host = reg.host();
    let bin = helpers(fx.dir.path());
    let good_auth = oci_registry::docker_config(fx.dir.path(), "auth-good", &host, "ann", "s3cret");
    let good_auth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(good_auth.join("config.json")).unwrap()).unwrap();
    let wrong_auth = oci_registry::docker_config(fx.dir.path(), "auth-wrong", &host, "ann", "nope");
    let wrong_auth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wrong_auth.join("config.json")).unwrap()).unwrap();
    let with = |base: &serde_json::Value, extra: serde_json::Value| {
        let mut merged = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            merged[k] = v.clone();
        }
        merged
    };

    // credsStore beats auths: the store's right password wins over a wrong `auth`...
    let store = config(
        fx.dir.path(),
        "store",
        &with(&wrong_auth, json!({"credsStore": "good"})),
    );
    assert_code(
        &run(&fx, &bin, &store, &["pack", "push", pack, &oci]).await,
        0,
    );
    let asked = std::fs::read_to_string(bin.join("asked")).unwrap();
    assert_eq!(
        asked,
        format!("get {host}\n"),
        "the protocol: `get`, the server on stdin"
    );
    // ...and its wrong one over a right `auth`, named in the refusal.
    let store = config(
        fx.dir.path(),
        "store-wrong",
        &with(&good_auth, json!({"credsStore": "wrong"})),
    );
    let out = run(&fx, &bin, &store, &["pack", "pull", &oci, "--out", "p1"]).await;
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("refused access") && err.contains("docker-credential-wrong"),
        "{err}"
    );
    assert!(!err.contains("nope"), "the secret never shows: {err}");

    // credHelpers for this registry beats credsStore, both ways.
    let helpers_first = json!({"credHelpers": {host.clone(): "good"}, "credsStore": "wrong"});
    let docker = config(fx.dir.path(), "helpers", &helpers_first);
    let out = run(&fx, &bin, &docker, &["pack", "pull", &oci, "--out", "p2"]).await;
    assert_code(&out, 0);
    assert!(fx.dir.path().join("p2/calc.wasm").is_file());
    let helpers_wrong = json!({"credHelpers": {host.clone(): "wrong"}, "credsStore": "good"});
    let docker = config(fx.dir.path(), "helpers-wrong", &helpers_wrong);
    let out = run(&fx, &bin, &docker, &["pack", "pull", &oci, "--out", "p3"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("docker-credential-wrong"),
        "{}",
        text(&out.stderr)
    );

    // A helper with nothing stored for the registry: `auths` is used.
    let docker = config(
        fx.dir.path(),
        "empty",
        &with(&good_auth, json!({"credsStore": "empty"})),
    );
    let out = run(&fx, &bin, &docker, &["pack", "pull", &oci, "--out", "p4"]).await;
    assert_code(&out, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_failing_or_garbled_helper_is_a_clear_error() {
    let fx = Fixture::new(vec![]).await;
    let htpasswd = oci_registry::htpasswd(fx.dir.path(), "ann", "s3cret");
    let Some(reg) = oci_registry::registry_with_htpasswd(&htpasswd).await else {
        return;
    };
    let oci = reference(&reg);
    let bin = helpers(fx.dir.path());
    for (store, says) in [
        ("absent", "docker-credential-absent cannot be run"),
        (
            "broken",
            "docker-credential-broken get failed (exit status: 3): the keychain is locked",
        ),
        (
            "garbage",
            "docker-credential-garbage get did not answer with {\"Username\", \"Secret\"} JSON",
        ),
        ("../bin/good", "is not a credential helper name"),
    ] {
        let docker = config(fx.dir.path(), "cfg", &json!({"credsStore": store}));
        let out = run(&fx, &bin, &docker, &["pack", "pull", &oci, "--out", "p"]).await;
        assert_code(&out, 1);
        let err = text(&out.stderr);
        assert!(
            err.contains(says) && err.contains("credsStore"),
            "{store}: {err}"
        );
        assert!(!fx.dir.path().join("p").exists());
    }
}
