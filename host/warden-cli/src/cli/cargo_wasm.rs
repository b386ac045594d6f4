//! Compiling a tool crate for `wasm32-wasip2` in release, for `warden pack build`: makes sure
//! the target is installed (adding it with rustup), runs cargo with JSON messages, shows
//! progress (a spinner naming the crate being compiled on a terminal, plain lines otherwise)
//! and returns the components cargo reports.
//!
//! Invariant: what is read from cargo is bounded (each JSON line, the captured stderr), and a
//! failed build returns an error carrying cargo's own diagnostics, never a half list.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::Console;

/// The target tool components are built for.
pub const TARGET: &str = "wasm32-wasip2";
/// The longest JSON line read from cargo (a compiler message with its rendering).
const MAX_LINE: u64 = 4 << 20;
/// How much of cargo's stderr is kept (the tail is what explains a failure).
const MAX_STDERR: usize = 256 << 10;

/// A component cargo built.
#[derive(Debug, Clone)]
pub struct Built {
    /// The `.wasm` file in cargo's target folder.
    pub path: PathBuf,
    /// The package's name.
    pub package: String,
}

/// Whether the standard library for [`TARGET`] is installed for the toolchain used in `dir`.
fn target_installed(dir: &Path) -> bool {
    let Ok(out) = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
    else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}

/// Adds [`TARGET`] with rustup when it is missing.
pub fn ensure_target(dir: &Path, console: &Console) -> Result<()> {
    if target_installed(dir) {
        return Ok(());
    }
    console.err_line(&format!(
        "the {TARGET} target is missing; adding it with `rustup target add {TARGET}`"
    ));
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .current_dir(dir)
        .status()
        .with_context(|| {
            format!(
                "the Rust target {TARGET} is not installed and rustup could not be run; \
                 install the target for your toolchain (`rustup target add {TARGET}`)"
            )
        })?;
    if !status.success() || !target_installed(dir) {
        bail!(
            "the Rust target {TARGET} is not installed and `rustup target add {TARGET}` failed; \
             run it by hand (it downloads from the Rust distribution server) and build again"
        );
    }
    Ok(())
}

/// Builds the crate at `dir` (its `Cargo.toml`) in release for [`TARGET`].
pub fn build(dir: &Path, console: &Console) -> Result<Vec<Built>> {
    // Absolute: cargo runs in `dir`, where a relative path would point elsewhere.
    let manifest = std::path::absolute(dir.join("Cargo.toml"))
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    if !manifest.is_file() {
        bail!(
            "{} has no Cargo.toml: give the folder of a tool crate (`warden tool new <name>` makes one)",
            dir.display()
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["build", "--release", "--target", TARGET])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo (is Rust installed? https://rustup.rs)")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    let collect_stderr = std::thread::spawn(move || tail(stderr));
    let stdout = child.stdout.take().context("cargo's stdout")?;

    console.spin(format!("building {} for {TARGET}", dir.display()));
    if !console.style().spinner {
        console.err_line(&format!(
            "building {} for {TARGET} (release)",
            dir.display()
        ));
    }
    let mut built = Vec::new();
    let mut compiled = 0usize;
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .context("reading cargo's output")?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n as u64 == MAX_LINE {
            // A line longer than the cap: skip the rest of it.
            let mut rest = Vec::new();
            reader.read_until(b'\n', &mut rest).ok();
            continue;
        }
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        compiled += 1;
        let crate_name = message["target"]["name"].as_str().unwrap_or("?");
        console.spin_message(format!(
            "building for {TARGET}: compiled {crate_name} ({compiled} crates)"
        ));
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"));
        if !is_cdylib {
            continue;
        }
        for file in message["filenames"].as_array().into_iter().flatten() {
            if let Some(file) = file.as_str().filter(|f| f.ends_with(".wasm")) {
                built.push(Built {
                    path: PathBuf::from(file),
                    package: crate_name.to_string(),
                });
            }
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    console.stop_spinner();
    let diagnostics = collect_stderr.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "cargo could not build {} for {TARGET}:\n{}",
            dir.display(),
            diagnostics.trim_end()
        );
    }
    if diagnostics.contains("warning") {
        console.err_line(diagnostics.trim_end());
    }
    if built.is_empty() {
        bail!(
            "cargo built no component in {}: the crate needs `[lib] crate-type = [\"cdylib\"]`",
            dir.display()
        );
    }
    Ok(built)
}

/// The longest single stderr line kept (the rest of a longer one is dropped, marked): a
/// hostile build script could print one line of gigabytes.
const MAX_STDERR_LINE: usize = 4 << 10;

/// cargo's own progress lines, dropped: the spinner says that.
const PROGRESS: [&str; 8] = [
    "Compiling ",
    "Finished ",
    "Downloaded ",
    "Downloading ",
    "Locking ",
    "Updating ",
    "Adding ",
    "Blocking ",
];

/// Reads a stream to its end, keeping the last [`MAX_STDERR`] bytes, as text, each line cut
/// to [`MAX_STDERR_LINE`] bytes; cargo's own progress lines are dropped.
fn tail(stream: impl Read) -> String {
    let mut reader = BufReader::new(stream);
    let mut kept: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut size = 0;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let Ok(n) = (&mut reader)
            .take(MAX_STDERR_LINE as u64 + 1)
            .read_until(b'\n', &mut raw)
        else {
            break;
        };
        if n == 0 {
            break;
        }
        let mut line = if raw.len() > MAX_STDERR_LINE {
            // Skip the rest of the line without keeping it.
            let mut dropped = raw.len() as u64;
            while let Ok(more) = (&mut reader)
                .take(64 << 10)
                .read_until(b'\n', &mut Vec::new())
            {
                dropped += more as u64;
                if more == 0 || more < 64 << 10 {
                    break;
                }
            }
            let cut = String::from_utf8_lossy(&raw[..MAX_STDERR_LINE]).into_owned();
            format!("{cut}… (line cut: {dropped} bytes)")
        } else {
            String::from_utf8_lossy(&raw).into_owned()
        };
        while line.ends_with(['\n', '\r']) {
            line.pop();
        }
        if PROGRESS.iter().any(|p| line.trim_start().starts_with(p)) {
            continue;
        }
        size += line.len() + 1;
        kept.push_back(line);
        while size > MAX_STDERR {
            let Some(old) = kept.pop_front() else { break };
            size -= old.len() + 1;
        }
    }
    Vec::from(kept).join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_line_is_cut_and_the_lines_after_it_are_kept() {
        let mut stderr = b"   Compiling x v0.1.0\nwarning: first\n".to_vec();
        stderr.extend(std::iter::repeat_n(b'A', 10 << 20));
        stderr.extend(b"\nerror: after the long line\n");
        let kept = tail(stderr.as_slice());
        let lines: Vec<&str> = kept.lines().collect();
        assert_eq!(lines.len(), 3, "{}", &kept[..200.min(kept.len())]);
        assert_eq!(lines[0], "warning: first");
        assert!(lines[1].len() < MAX_STDERR_LINE + 64, "{}", lines[1].len());
        assert!(
            lines[1].ends_with(&format!("(line cut: {} bytes)", (10 << 20) + 1)),
            "{}",
            &lines[1][MAX_STDERR_LINE..]
        );
        assert_eq!(lines[2], "error: after the long line");
    }

    #[test]
    fn only_the_tail_is_kept() {
        let many: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
        let kept = tail(many.as_bytes());
        assert!(kept.len() <= MAX_STDERR);
        assert!(kept.ends_with("line 99999"));
        assert!(!kept.contains("line 0\n"));
        assert!(tail(&b"no newline at the end"[..]).ends_with("end"));
        assert_eq!(tail(&b""[..]), "");
        assert_eq!(tail(&[0xff, b'\n'][..]), "\u{fffd}");
    }
}
