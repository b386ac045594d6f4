//! `warden pack build` as a person meets it: the progress spinner in a real terminal (and
//! plain lines on a dumb one), and the missing `wasm32-wasip2` target added with rustup.
//!
//! The rustup path runs against stand-ins, alone on `PATH` — a `rustc` whose sysroot lacks
//! the target and a `rustup` that records its call — so the machine's toolchain is never
//! touched and nothing is downloaded.

use std::path::{Path, PathBuf};

use crate::author::{command, scaffold_target};
use crate::pty::{Mode, Pty};
use crate::support::{Fixture, assert_code, text};

/// The variables cargo and rustup need, passed into the terminal's clean environment.
fn cargo_env() -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("CARGO_TARGET_DIR", scaffold_target().display().to_string()),
        ("CARGO_INCREMENTAL", "0".to_string()),
    ];
    for key in [
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
    ] {
        if let Ok(value) = std::env::var(key) {
            env.push((key, value));
        }
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_build_shows_a_spinner_in_a_terminal_and_plain_lines_on_a_dumb_one() {
    let fx = Fixture::new(vec![]).await;
    assert_code(
        &command(&fx, &["tool", "new", "spin-me"])
            .output()
            .await
            .unwrap(),
        0,
    );
    for mode in [Mode::Colour, Mode::Dumb] {
        let mut pty = Pty::spawn_env(&fx, mode, &["pack", "build", "spin-me"], &cargo_env());
        let code = pty.exit_code();
        let (screen, raw) = (pty.screen(), pty.raw());
        assert_eq!(code, 0, "{mode:?}: {screen}");
        assert!(screen.contains("built spin-me@0.1.0"), "{mode:?}: {screen}");
        let plain = "building spin-me for wasm32-wasip2 (release)";
        match mode {
            Mode::Colour => {
                // The spinner drew (its message and cargo's progress in it), then was
                // cleared: the finished screen does not show it, nor the plain line.
                assert!(
                    raw.contains("building spin-me for wasm32-wasip2"),
                    "{raw:?}"
                );
                assert!(
                    raw.contains("\x1b[2K") || raw.contains("\r\x1b[K"),
                    "{raw:?}"
                );
                assert!(
                    !screen.contains("building"),
                    "the spinner was cleared: {screen}"
                );
                assert!(!raw.contains(plain), "{raw:?}");
            }
            _ => {
                assert!(screen.contains(plain), "{screen}");
                assert!(
                    !raw.contains('\x1b'),
                    "a dumb terminal gets no escape codes: {raw:?}"
                );
            }
        }
    }
}

/// A folder with a `rustc` whose sysroot (`sysroot/`) lacks wasm32-wasip2, and a `rustup`
/// that records its arguments in `rustup-called` and exits with `rustup_exit`, adding the
/// target to the sysroot when it succeeds.
fn stand_ins(dir: &Path, rustup_exit: u8) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fake-bin");
    let sysroot = dir.join("sysroot");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(sysroot.join("lib/rustlib")).unwrap();
    let rustc = format!(
        "#!/bin/sh\n[ \"$1 $2\" = '--print sysroot' ] && {{ echo '{}'; exit 0; }}\nexit 1\n",
        sysroot.display()
    );
    let add = if rustup_exit == 0 {
        format!(
            "/bin/mkdir -p '{}/lib/rustlib/wasm32-wasip2/lib'\n",
            sysroot.display()
        )
    } else {
        String::new()
    };
    let rustup = format!(
        "#!/bin/sh\necho \"$@\" >> '{}/rustup-called'\n{add}exit {rustup_exit}\n",
        dir.display()
    );
    for (name, body) in [("rustc", rustc), ("rustup", rustup)] {
        std::fs::write(bin.join(name), body).unwrap();
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// `warden pack build <crate>` with only `bin` on PATH: no real rustup can be reached.
async fn build_with(fx: &Fixture, bin: &Path, krate: &str) -> std::process::Output {
    fx.command(&["pack", "build", krate])
        .env("PATH", bin)
        .env("CARGO", "/nonexistent/cargo")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_missing_target_is_added_with_rustup_and_a_failed_add_says_what_to_run() {
    let fx = Fixture::new(vec![]).await;
    // A crate folder with a pack.toml and no Cargo.toml: the build stops right after the
    // target step, so the stand-in rustc never has to compile anything.
    assert_code(
        &fx.run(&["tool", "new", "no-cargo", "--dir", "nc"]).await,
        0,
    );
    std::fs::remove_file(fx.dir.path().join("nc/Cargo.toml")).unwrap();

    let dir = fx.dir.path().join("adds");
    let bin = stand_ins(&dir, 0);
    let out = build_with(&fx, &bin, "nc").await;
    let err = text(&out.stderr);
    assert_code(&out, 1);
    assert!(
        err.contains(
            "the wasm32-wasip2 target is missing; adding it with `rustup target add wasm32-wasip2`"
        ),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("rustup-called")).unwrap(),
        "target add wasm32-wasip2\n"
    );
    assert!(
        err.contains("has no Cargo.toml"),
        "went on to the build: {err}"
    );

    let dir = fx.dir.path().join("fails");
    let bin = stand_ins(&dir, 1);
    let out = build_with(&fx, &bin, "nc").await;
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("`rustup target add wasm32-wasip2` failed; run it by hand"),
        "{err}"
    );
    assert!(
        !err.contains("has no Cargo.toml"),
        "stopped before the build: {err}"
    );

    // No rustup at all: the message says how to add the target.
    let dir = fx.dir.path().join("none");
    let bin = stand_ins(&dir, 0);
    std::fs::remove_file(bin.join("rustup")).unwrap();
    let out = build_with(&fx, &bin, "nc").await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("rustup could not be run"),
        "{}",
        text(&out.stderr)
    );
}
