//! `warden key`, `warden trust` and `warden pack` as an author and an operator use them:
//! generate a key, sign a pack, trust the author, verify, install without a terminal, list,
//! info, upgrade rules, remove. State lives in the fixture's folder (WARDEN_CONFIG_DIR,
//! WARDEN_DATA_DIR).

use std::path::{Path, PathBuf};

use crate::support::{Fixture, assert_code, text};

/// Writes an unsigned pack of the calc component at `version` with extra capabilities.
pub fn write_pack(fx: &Fixture, version: &str, caps: &str) -> PathBuf {
    let dir = fx.dir.path().join(format!("pack-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    let calc = std::fs::read(warden::testing::guests::CALC).unwrap();
    std::fs::write(dir.join("calc.wasm"), &calc).unwrap();
    std::fs::write(
        dir.join("pack.toml"),
        format!(
            "schema = 1\n[pack]\nname = \"calc\"\nversion = \"{version}\"\ndescription = \"Arithmetic\"\nlicense = \"MIT\"\n\
             [[components]]\nfile = \"calc.wasm\"\nsha256 = \"{}\"\ntools = [\"calc\"]\n{caps}",
            warden_pack::sha256_hex(&calc)
        ),
    )
    .unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn author_signs_operator_trusts_verifies_and_installs() {
    let fx = Fixture::new(vec![]).await;
    let out = fx.run(&["key", "generate", "--out", "author"]).await;
    assert_code(&out, 0);
    let key = fx.dir.path().join("author.key");
    let public = fx.dir.path().join("author.pub");
    assert!(key.is_file() && public.is_file());
    let pack = write_pack(&fx, "1.0.0", "");

    let out = fx.run(&["pack", "verify", s(&pack)]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("not signed"),
        "{}",
        text(&out.stderr)
    );

    assert_code(
        &fx.run(&["pack", "sign", s(&pack), "--key", s(&key)]).await,
        0,
    );
    let out = fx.run(&["pack", "verify", s(&pack)]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("warden trust add"),
        "{}",
        text(&out.stderr)
    );

    assert_code(&fx.run(&["trust", "add", s(&public)]).await, 0);
    let listed = fx.run(&["trust", "list"]).await;
    assert_eq!(text(&listed.stdout).lines().count(), 1);
    let out = fx.run(&["pack", "verify", s(&pack)]).await;
    assert_code(&out, 0);

    // No terminal and no --yes: nobody consented.
    let out = fx.run(&["pack", "install", s(&pack)]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("pass --yes or --grants"),
        "{}",
        text(&out.stderr)
    );

    let out = fx.run(&["pack", "install", s(&pack), "--yes"]).await;
    assert_code(&out, 0);
    assert!(text(&out.stdout).contains("installed calc@1.0.0"));
    let out = fx.run(&["pack", "list"]).await;
    assert!(
        text(&out.stdout).starts_with("calc "),
        "{}",
        text(&out.stdout)
    );
    let out = fx.run(&["pack", "info", "calc"]).await;
    assert!(
        text(&out.stdout).contains("nothing beyond computing"),
        "{}",
        text(&out.stdout)
    );

    let out = fx.run(&["pack", "install", s(&pack), "--yes"]).await;
    assert_code(&out, 1);
    assert!(text(&out.stderr).contains("already installed"));

    // A wider upgrade, signed by the same trusted author, is refused without a terminal.
    let wider = write_pack(
        &fx,
        "1.1.0",
        "[capabilities.env.HOME]\nreason = \"finds your notes\"\n",
    );
    assert_code(
        &fx.run(&["pack", "sign", s(&wider), "--key", s(&key)]).await,
        0,
    );
    let out = fx.run(&["pack", "upgrade", s(&wider), "--yes"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("the environment variable HOME"),
        "{}",
        text(&out.stderr)
    );

    let out = fx.run(&["pack", "remove", "calc"]).await;
    assert_code(&out, 0);
    assert!(text(&fx.run(&["pack", "list"]).await.stdout).is_empty());
}

#[tokio::test]
async fn archive_installs_like_the_directory() {
    let fx = Fixture::new(vec![]).await;
    assert_code(&fx.run(&["key", "generate", "--out", "k"]).await, 0);
    assert_code(&fx.run(&["trust", "add", "k.pub"]).await, 0);
    let pack = write_pack(&fx, "2.0.0", "");
    assert_code(
        &fx.run(&["pack", "sign", s(&pack), "--key", "k.key"]).await,
        0,
    );
    assert_code(
        &fx.run(&["pack", "archive", s(&pack), "-o", "calc.wpack"])
            .await,
        0,
    );
    let out = fx.run(&["pack", "install", "calc.wpack", "--yes"]).await;
    assert_code(&out, 0);
    assert!(text(&out.stdout).contains("calc@2.0.0"));
}

/// Installs a signed calc pack `calc` 1.0.0 (fuel default 1e8, max 1e9) into the fixture.
pub(crate) async fn install_calc(fx: &Fixture) {
    assert_code(&fx.run(&["key", "generate", "--out", "k"]).await, 0);
    assert_code(&fx.run(&["trust", "add", "k.pub"]).await, 0);
    let caps = "[capabilities.limits]\nfuel = { default = 100000000, max = 1000000000 }\n";
    let pack = write_pack(fx, "1.0.0", caps);
    assert_code(
        &fx.run(&["pack", "sign", s(&pack), "--key", "k.key"]).await,
        0,
    );
    assert_code(&fx.run(&["pack", "install", s(&pack), "--yes"]).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_file_uses_an_installed_pack_by_name() {
    let fx = Fixture::new(crate::support::multiply_script()).await;
    install_calc(&fx).await;
    let agent = fx.agent(&format!(
        "{}[[tools]]\npack = \"calc@^1\"\nnarrow = {{ fuel = 50000000 }}\n",
        fx.openai()
    ));
    let out = fx.run(&["run", s(&agent), "What is 6*7?"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "The answer is 42.\n");
    assert!(fx.requests()[1].body.to_string().contains("42"));
}

#[tokio::test]
async fn agent_file_cannot_widen_a_grant_or_use_a_missing_pack() {
    let fx = Fixture::new(crate::support::hello()).await;
    install_calc(&fx).await;
    let wider = fx.agent(&format!(
        "{}[[tools]]\npack = \"calc\"\nnarrow = {{ fuel = 2000000000 }}\n",
        fx.openai()
    ));
    let err = crate::support::refused(&fx, &wider, |_| {}).await;
    assert!(err.contains("above the pack's granted maximum"), "{err}");
    let missing = fx.agent_at(
        "missing.toml",
        &format!("{}[[tools]]\npack = \"calc@^2\"\n", fx.openai()),
    );
    let err = crate::support::refused(&fx, &missing, |_| {}).await;
    assert!(err.contains("no installed pack matches calc@^2"), "{err}");
    let with_policy = fx.agent_at(
        "policy.toml",
        &format!(
            "{}[[tools]]\npack = \"calc\"\npolicy = {{ }}\n",
            fx.openai()
        ),
    );
    let err = crate::support::refused(&fx, &with_policy, |_| {}).await;
    assert!(err.contains("remove `component` and `policy`"), "{err}");
}

/// `warden pack install` at a terminal, as an operator answers it. The runtime is down to
/// one worker (as on a one-core machine), and the command's task asks from that worker. A
/// "no" installs nothing; a "yes" installs with the directory typed in.
#[tokio::test]
async fn install_at_a_terminal_asks_and_installs_what_was_granted() {
    use crate::pty::{Mode, Pty};
    let fx = Fixture::new(vec![]).await;
    assert_code(&fx.run(&["key", "generate", "--out", "author"]).await, 0);
    let pack = write_pack(
        &fx,
        "1.0.0",
        "[capabilities.dirs.data]\nmode = \"ro\"\nreason = \"reads numbers\"\n",
    );
    let key = fx.dir.path().join("author.key");
    assert_code(
        &fx.run(&["pack", "sign", s(&pack), "--key", s(&key)]).await,
        0,
    );
    let public = fx.dir.path().join("author.pub");
    assert_code(&fx.run(&["trust", "add", s(&public)]).await, 0);
    let numbers = fx.dir.path().join("numbers");
    std::fs::create_dir(&numbers).unwrap();
    let env = [
        (
            "WARDEN_CONFIG_DIR",
            s(&fx.dir.path().join("config")).to_string(),
        ),
        ("TOKIO_WORKER_THREADS", "1".to_string()),
    ];

    for (answer, code) in [("n", 1), ("y", 0)] {
        let mut pty = Pty::spawn_env(&fx, Mode::NoColor, &["pack", "install", s(&pack)], &env);
        pty.wait_for("the directory prompt", |s| {
            s.contains("Directory for \"data\"")
        });
        pty.send(&format!("{}\r", numbers.display()));
        pty.wait_for("the last question", |s| {
            s.contains("Grant these permissions")
        });
        pty.send(&format!("{answer}\r"));
        assert_eq!(pty.exit_code(), code, "{answer}:\n{}", pty.screen());
    }
    let out = fx.run(&["pack", "info", "calc"]).await;
    let info = text(&out.stdout);
    let granted = numbers.canonicalize().unwrap();
    assert!(
        info.contains(&format!("\"data\" is {}", granted.display())),
        "{info}"
    );
}
