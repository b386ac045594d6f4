//! A real OCI registry for tests: Debian's `docker-registry`, started on a free loopback port
//! with its storage in a temporary folder, optionally behind htpasswd (bcrypt) auth. Shared by
//! the e2e tests (`pack_oci`) and the CLI tests (`host/warden-cli/tests/cli/oci.rs`).
//!
//! Without `docker-registry` the tests say so and pass locally; under `CI=true` they fail
//! (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A registry process; killed (by its own pid) when dropped.
pub struct Registry {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Its storage root (the blobs are under `docker/registry/v2/blobs`).
    pub storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// `127.0.0.1:<port>`, as references and docker config keys name it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's stored file of the blob holding `bytes`.
    pub fn blob_file(&self, bytes: &[u8]) -> PathBuf {
        let digest = warden_pack::sha256_hex(bytes);
        self.storage.join(format!(
            "docker/registry/v2/blobs/sha256/{}/{digest}/data",
            &digest[..2]
        ))
    }
}

const BINARY: &str = "docker-registry";

/// Starts an open registry, or `None` (after saying why) when the binary is missing outside CI.
pub async fn registry() -> Option<Registry> {
    start(None).await
}

/// Starts a registry that requires HTTP basic auth checked against `htpasswd` (bcrypt lines).
pub async fn registry_with_htpasswd(htpasswd: &Path) -> Option<Registry> {
    start(Some(htpasswd)).await
}

async fn start(htpasswd: Option<&Path>) -> Option<Registry> {
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
    let auth = htpasswd.map_or_else(String::new, |file| {
        format!(
            "auth: {{htpasswd: {{realm: warden-test, path: {}}}}}\n",
            file.display()
        )
    });
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n{auth}",
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

/// Writes an htpasswd file (bcrypt, as docker-registry requires) for `user`:`password` into
/// `dir`; returns its path.
pub fn htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    // Cost 4, the lowest: the registry checks it on every request, and this is a test.
    let hash = bcrypt::hash(password, 4).unwrap();
    let path = dir.join("htpasswd");
    std::fs::write(&path, format!("{user}:{hash}\n")).unwrap();
    path
}

/// Writes a docker config folder (`config.json` with `auths.<registry>.auth`, base64 of
/// `user:password`, as `docker login` writes it) into `dir/name`; returns the folder, the
/// value for `DOCKER_CONFIG`.
pub fn docker_config(
    dir: &Path,
    name: &str,
    registry: &str,
    user: &str,
    password: &str,
) -> PathBuf {
    use base64::Engine;
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config = serde_json::json!({"auths": {registry: {"auth": auth}}});
    std::fs::write(folder.join("config.json"), config.to_string()).unwrap();
    folder
}
