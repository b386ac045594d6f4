//! Tool packs installed for real: signed packs of the repository's guest components, verified,
//! compiled and described in the sandbox, installed atomically, loaded again (re-verified)
//! and called. Each attack must be refused with nothing installed half-way.

use std::path::{Path, PathBuf};

use warden_pack::{
    Consent, ConsentRequest, Dirs, GrantInput, Mode, Narrowing, PackError, PackFiles, Preapproved,
    SecretKey, Store, sha256_hex,
};
use warden_sandbox::Executor;

/// A state folder with a trusted author key, a store and an executor caching under it.
struct Env {
    dir: tempfile::TempDir,
    store: Store,
    key: SecretKey,
    exec: Executor,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = Store::new(Dirs::new(root.join("config"), root.join("data")));
    let (key, public, _) = warden_pack::generate(&root.join("author")).unwrap();
    store.trust().add(&public).unwrap();
    let exec = Executor::new(warden_e2e::sandbox::config_with(
        root.join("cache"),
        root.join("state"),
    ))
    .unwrap();
    std::fs::create_dir(root.join("data-dir")).unwrap();
    Env {
        key: SecretKey::read(&key).unwrap(),
        dir,
        store,
        exec,
    }
}

fn calc() -> &'static [u8] {
    warden::builtin::bytes("calc").unwrap()
}

impl Env {
    /// Writes and signs a pack `calc-pack` at `version` holding the calc component, recording
    /// `tools`, with extra `[capabilities]` TOML.
    fn pack(&self, version: &str, tools: &str, caps: &str) -> PathBuf {
        let dir = self
            .dir
            .path()
            .join(format!("src-{version}-{}", sha256_hex(caps.as_bytes())));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("calc.wasm"), calc()).unwrap();
        let text = format!(
            "schema = 1\n[pack]\nname = \"calc-pack\"\nversion = \"{version}\"\ndescription = \"Arithmetic\"\nlicense = \"Apache-2.0\"\n\n\
             [[components]]\nfile = \"calc.wasm\"\nsha256 = \"{}\"\ntools = {tools}\n\n{caps}",
            sha256_hex(calc())
        );
        std::fs::write(dir.join("pack.toml"), text).unwrap();
        let files = PackFiles::from_dir(&dir, 64 << 20).unwrap();
        let sig = self.key.sign(&files.manifest).unwrap();
        std::fs::write(dir.join("pack.sig"), sig.to_text()).unwrap();
        dir
    }

    async fn install(
        &self,
        src: &Path,
        mode: Mode,
        consent: &mut dyn Consent,
    ) -> Result<(), PackError> {
        let files = PackFiles::read(src, self.store.max_pack_bytes)?;
        self.store
            .install(files, mode, consent, &self.exec)
            .await
            .map(|_| ())
    }

    fn grants(&self) -> Preapproved {
        Preapproved(GrantInput {
            dirs: [("data".to_string(), self.dir.path().join("data-dir"))].into(),
            ..GrantInput::default()
        })
    }

    /// Nothing installed and no staging left behind.
    fn assert_nothing_installed(&self) {
        assert!(self.store.list().unwrap().is_empty());
        let packs = self.dir.path().join("data/packs");
        let left: Vec<_> = std::fs::read_dir(&packs)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left in {}: {left:?}", packs.display());
    }
}

const DATA_RO: &str = "[capabilities.dirs.data]\nmode = \"ro\"\nreason = \"reads numbers\"\n\
    [capabilities.limits]\nfuel = { default = 100000000, max = 1000000000 }\n";

/// A person at a terminal who says yes (interactive consent, scripted).
struct Person;

impl Consent for Person {
    fn interactive(&self) -> bool {
        true
    }
    fn ask(&mut self, _: &ConsentRequest<'_>) -> Result<Option<GrantInput>, PackError> {
        Ok(Some(GrantInput::default()))
    }
}

/// A server installs from a task spawned on a multi-threaded runtime (as the CLI runs its
/// commands), asking a person: the install's future is `Send`, its consent included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_task_installs_with_interactive_consent() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\"]", "");
    let env = tokio::spawn(async move {
        env.install(&src, Mode::Install, &mut Person).await.unwrap();
        env
    })
    .await
    .unwrap();
    let listed = env.store.list().unwrap();
    assert_eq!(listed[0].manifest.pack.name, "calc-pack");
}

#[tokio::test]
async fn installed_pack_loads_reverified_and_its_tool_is_callable() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\"]", DATA_RO);
    env.install(&src, Mode::Install, &mut env.grants())
        .await
        .unwrap();
    let listed = env.store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].grant.dirs["data"],
        env.dir.path().join("data-dir").canonicalize().unwrap()
    );

    let loaded = env.store.load("calc-pack@^1").unwrap();
    let policy = loaded.policy(&Narrowing::default()).unwrap();
    assert_eq!(policy.fuel, Some(100_000_000));
    assert_eq!(policy.dirs[0].guest, "/data");
    assert_eq!(policy.dirs[0].mode, warden_sandbox::DirMode::ReadOnly);
    let set = env
        .exec
        .load_bytes(&loaded.files.components["calc.wasm"])
        .await
        .unwrap();
    assert!(
        set.loaded_from_cache(),
        "install precompiled it into the cache"
    );
    let out = env
        .exec
        .call(&set, "calc", r#"{"expression":"6*7"}"#, &policy)
        .await;
    assert!(out.result.unwrap().contains("42"));
    assert!(matches!(
        env.store.load("calc-pack@^2"),
        Err(PackError::NotInstalled(_))
    ));
}

#[tokio::test]
async fn recorded_tools_that_differ_from_describe_are_refused() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\", \"rm_rf\"]", "");
    let err = env
        .install(&src, Mode::Install, &mut env.grants())
        .await
        .unwrap_err();
    assert!(matches!(err, PackError::ToolsMismatch { .. }), "{err}");
    env.assert_nothing_installed();
}

#[tokio::test]
async fn component_replaced_on_disk_after_install_is_refused_at_load() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\"]", "");
    env.install(&src, Mode::Install, &mut Preapproved::default())
        .await
        .unwrap();
    let installed = env.dir.path().join("data/packs/calc-pack/calc.wasm");
    let mut bytes = std::fs::read(&installed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&installed, bytes).unwrap();
    let err = env.store.load("calc-pack").unwrap_err().to_string();
    assert!(err.contains("does not match its signed digest"), "{err}");
}

#[tokio::test]
async fn grant_edited_to_add_a_capability_is_refused_at_load() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\"]", "");
    env.install(&src, Mode::Install, &mut Preapproved::default())
        .await
        .unwrap();
    let grant = env.dir.path().join("config/grants/calc-pack.toml");
    let text = std::fs::read_to_string(&grant).unwrap();
    std::fs::write(
        &grant,
        format!("{text}\n[capabilities.env.HOME]\nreason = \"sneaky\"\n"),
    )
    .unwrap();
    let err = env.store.load("calc-pack").unwrap_err().to_string();
    assert!(err.contains("grant was made for another manifest"), "{err}");
}

#[tokio::test]
async fn downgrade_is_refused_unless_allowed() {
    let env = env();
    env.install(
        &env.pack("1.2.0", "[\"calc\"]", ""),
        Mode::Install,
        &mut Preapproved::default(),
    )
    .await
    .unwrap();
    let older = env.pack("1.1.0", "[\"calc\"]", "");
    let upgrade = Mode::Upgrade {
        allow_downgrade: false,
    };
    let err = env
        .install(&older, upgrade, &mut Preapproved::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PackError::Downgrade { .. }), "{err}");
    assert_eq!(
        env.store.list().unwrap()[0]
            .manifest
            .pack
            .version
            .to_string(),
        "1.2.0"
    );
    let allowed = Mode::Upgrade {
        allow_downgrade: true,
    };
    env.install(&older, allowed, &mut Preapproved::default())
        .await
        .unwrap();
    assert_eq!(
        env.store.list().unwrap()[0]
            .manifest
            .pack
            .version
            .to_string(),
        "1.1.0"
    );
}

#[tokio::test]
async fn widening_upgrade_needs_a_person_and_a_narrower_one_keeps_the_mapping() {
    let env = env();
    env.install(
        &env.pack("1.0.0", "[\"calc\"]", DATA_RO),
        Mode::Install,
        &mut env.grants(),
    )
    .await
    .unwrap();
    let upgrade = Mode::Upgrade {
        allow_downgrade: false,
    };
    let rw = DATA_RO.replace("mode = \"ro\"", "mode = \"rw\"");
    let wider = env.pack("1.1.0", "[\"calc\"]", &rw);
    let err = env
        .install(&wider, upgrade, &mut Preapproved::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PackError::WideningNeedsConsent { ref widened, .. } if widened[0].contains("write access")),
        "{err}"
    );
    assert_eq!(
        env.store.list().unwrap()[0]
            .manifest
            .pack
            .version
            .to_string(),
        "1.0.0"
    );
    // The same upgrade with a person saying yes; the directory mapping carries over.
    env.install(&wider, upgrade, &mut Person).await.unwrap();
    let now = env.store.info("calc-pack").unwrap();
    assert_eq!(now.manifest.pack.version.to_string(), "1.1.0");
    assert!(now.grant.dirs.contains_key("data"));
    // Not widening: --yes suffices.
    env.install(
        &env.pack("1.2.0", "[\"calc\"]", DATA_RO),
        upgrade,
        &mut Preapproved::default(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn unmapped_directory_or_unrequested_grant_installs_nothing() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\"]", DATA_RO);
    let err = env
        .install(&src, Mode::Install, &mut Preapproved::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("map it to a real one"), "{err}");
    let mut extra = env.grants();
    extra.0.env.insert("HOME".into(), "/root".into());
    let err = env
        .install(&src, Mode::Install, &mut extra)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("env.HOME: the pack does not request it"),
        "{err}"
    );
    env.assert_nothing_installed();
}

#[tokio::test]
async fn untrusted_or_tampered_packs_install_nothing() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\"]", "");
    // A capability added to the signed manifest.
    let toml = src.join("pack.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{text}[capabilities.env.HOME]\nreason = \"x\"\n"),
    )
    .unwrap();
    let err = env
        .install(&src, Mode::Install, &mut Preapproved::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PackError::BadSignature { .. }), "{err}");
    std::fs::write(&toml, text).unwrap();
    // The author's key no longer trusted.
    let id = env.store.trust().list().unwrap().remove(0);
    env.store.trust().remove(&id).unwrap();
    let err = env
        .install(&src, Mode::Install, &mut Preapproved::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PackError::UntrustedKey { .. }), "{err}");
    env.assert_nothing_installed();
}

#[tokio::test]
async fn mapping_a_directory_onto_warden_state_is_refused() {
    let env = env();
    let src = env.pack("1.0.0", "[\"calc\"]", DATA_RO);
    for own in ["config", ""] {
        let path = env.dir.path().join(own);
        std::fs::create_dir_all(&path).unwrap();
        let mut grants = Preapproved(GrantInput {
            dirs: [("data".to_string(), path)].into(),
            ..GrantInput::default()
        });
        let err = env
            .install(&src, Mode::Install, &mut grants)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("overlaps warden's own state"), "{err}");
    }
    env.assert_nothing_installed();
}

#[tokio::test]
async fn narrowing_takes_away_but_cannot_widen() {
    let env = env();
    env.install(
        &env.pack("1.0.0", "[\"calc\"]", DATA_RO),
        Mode::Install,
        &mut env.grants(),
    )
    .await
    .unwrap();
    let loaded = env.store.load("calc-pack").unwrap();
    let none = Narrowing {
        dirs: Some(vec![]),
        fuel: Some(5_000),
        ..Narrowing::default()
    };
    let policy = loaded.policy(&none).unwrap();
    assert!(policy.dirs.is_empty());
    assert_eq!(policy.fuel, Some(5_000));
    for bad in [
        Narrowing {
            fuel: Some(2_000_000_000),
            ..Narrowing::default()
        },
        Narrowing {
            dirs: Some(vec!["home".into()]),
            ..Narrowing::default()
        },
        Narrowing {
            hosts: Some(vec!["evil.example".into()]),
            ..Narrowing::default()
        },
    ] {
        let err = loaded.policy(&bad).unwrap_err();
        assert!(matches!(err, PackError::Widening(_)), "{err}");
    }
}
