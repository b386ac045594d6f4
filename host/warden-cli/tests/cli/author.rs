//! A tool author's path end to end, with the real binary and a real cargo: `warden tool new`
//! scaffolds a crate whose native test passes, `warden pack build` compiles it for
//! wasm32-wasip2 and records its tools, and the pack is signed, installed and called by an
//! agent (the mock model asks for the tool). Also the refusals that need no build.
//!
//! The scaffold's builds share one target folder beside warden's own (`target/tool-scaffold`),
//! so a second run is incremental; the crates come from cargo's cache when present (the
//! scaffold's Cargo.lock is the guest workspace's, which warden's own build fetched).

use std::path::{Path, PathBuf};

use mock_llm::Turn;

use crate::support::{Fixture, assert_code, text};

/// The target folder the scaffolded crates build in.
pub(crate) fn scaffold_target() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_warden"));
    // target/<profile>/warden -> target/tool-scaffold
    bin.parent().and_then(Path::parent).map_or_else(
        || PathBuf::from("tool-scaffold"),
        |t| t.join("tool-scaffold"),
    )
}

/// `warden <args>` with the scaffold's cargo settings (a target folder of its own: the outer
/// `cargo test` holds the lock on warden's).
pub(crate) fn command(fx: &Fixture, args: &[&str]) -> tokio::process::Command {
    let mut cmd = fx.command(args);
    cmd.env("CARGO_TARGET_DIR", scaffold_target())
        .env("CARGO_INCREMENTAL", "0");
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tool_to_an_agent_calling_it() {
    let fx = Fixture::new(vec![
        Turn::call("greet_me", r#"{"name":"Ada"}"#),
        Turn::text("Greeted."),
    ])
    .await;
    let out = command(&fx, &["tool", "new", "greet-me"])
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let krate = fx.dir.path().join("greet-me");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "src/lib.rs",
        "pack.toml",
        "README.md",
    ] {
        assert!(krate.join(file).is_file(), "{file} missing");
    }
    let cargo_toml = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(cargo_toml.contains("opt-level = \"s\""), "{cargo_toml}");
    // The crate depends on the SDK unpacked under WARDEN_DATA_DIR, and on nothing else.
    let sdk = fx.dir.path().join("data/sdk");
    assert!(cargo_toml.contains(s(&sdk)), "{cargo_toml}");
    assert!(
        !cargo_toml
            .lines()
            .any(|l| l.starts_with("schemars") || l.starts_with("serde")),
        "{cargo_toml}"
    );

    // The native test passes as scaffolded.
    let test = tokio::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["test", "--quiet"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", scaffold_target())
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .await
        .unwrap();
    assert!(test.status.success(), "{}", text(&test.stderr));
    assert!(
        text(&test.stdout).contains("3 passed"),
        "{}",
        text(&test.stdout)
    );

    let out = command(&fx, &["pack", "build", "greet-me"])
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("built greet-me@0.1.0")
            && text(&out.stdout).contains("tools: greet_me"),
        "{}",
        text(&out.stdout)
    );
    // Not a terminal: plain lines, no spinner.
    assert!(!text(&out.stderr).contains('\x1b'), "{}", text(&out.stderr));
    let pack = krate.join("pack");
    let manifest = std::fs::read_to_string(pack.join("pack.toml")).unwrap();
    assert!(manifest.contains("tools = [\"greet_me\"]"), "{manifest}");
    assert!(
        manifest.contains("# Outgoing HTTP"),
        "the author's comments stay"
    );

    for args in [
        vec!["key", "generate", "--out", "k"],
        vec!["trust", "add", "k.pub"],
        vec!["pack", "sign", s(&pack), "--key", "k.key"],
        vec!["pack", "install", s(&pack), "--yes"],
    ] {
        assert_code(&fx.run(&args).await, 0);
    }
    let agent = fx.agent(&format!(
        "{}[[tools]]\npack = \"greet-me@^0.1\"\n",
        fx.openai()
    ));
    let out = fx.run(&["run", s(&agent), "Greet Ada"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "Greeted.\n");
    let requests = fx.requests();
    assert!(
        requests[0]
            .body
            .to_string()
            .contains("Greets someone by name."),
        "the model saw the tool's doc comment"
    );
    assert!(
        requests[1].body.to_string().contains("Hello, Ada!"),
        "{}",
        requests[1].body
    );

    // A rebuild drops the signature it would no longer match.
    assert!(pack.join("pack.sig").is_file());
    let out = command(&fx, &["pack", "build", "greet-me"])
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    assert!(!pack.join("pack.sig").exists());
}

#[tokio::test]
async fn tool_new_refuses_bad_names_and_existing_folders() {
    let fx = Fixture::new(vec![]).await;
    let out = fx.run(&["tool", "new", "Bad_Name"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("lower-case letters"),
        "{}",
        text(&out.stderr)
    );
    std::fs::create_dir(fx.dir.path().join("taken")).unwrap();
    std::fs::write(fx.dir.path().join("taken/notes.txt"), "mine").unwrap();
    let out = fx.run(&["tool", "new", "taken"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(fx.dir.path().join("taken/notes.txt")).unwrap(),
        "mine"
    );
}

#[tokio::test]
async fn pack_build_refuses_components_in_the_authors_manifest_before_building() {
    let fx = Fixture::new(vec![]).await;
    assert_code(
        &fx.run(&["tool", "new", "calc-two", "--dir", "c2"]).await,
        0,
    );
    let manifest = fx.dir.path().join("c2/pack.toml");
    let mut text_ = std::fs::read_to_string(&manifest).unwrap();
    text_.push_str("[[components]]\nfile = \"x.wasm\"\n");
    std::fs::write(&manifest, text_).unwrap();
    let out = fx.run(&["pack", "build", "c2"]).await;
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("pack.toml:") && err.contains("remove [[components]]"),
        "{err}"
    );
    assert!(!fx.dir.path().join("c2/pack").exists());

    let out = fx.run(&["pack", "build", "nowhere"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("pack.toml is missing"),
        "{}",
        text(&out.stderr)
    );
}
