//! The compiler child: the parent side ([`compile`]: spawn with limits, feed the component,
//! read the artifact, kill at the deadline) and the child side
//! ([`run_compiler_child_if_requested`]).
//!
//! Protocol. stdin: a little-endian u32 header length, the JSON [`Request`], then the
//! component's bytes. stdout: anything (a test harness may print first), then [`MAGIC`], the
//! engine hash (32 bytes), the artifact length (u64 LE) and the artifact. Exit 0 on success,
//! [`EXIT_INVALID`] when the component does not compile (the reason on stderr),
//! [`EXIT_OUT_OF_MEMORY`] when wasmtime reports that memory ran out, [`EXIT_PANIC`] on a
//! panic. The parent reads the outcome from the exit status alone, never from stderr: an
//! allocation the data limit refuses makes the Rust runtime abort (`SIGABRT`), and the child
//! leaves itself no other way to abort (see [`separate_abnormal_ends`]).
//!
//! Invariant: the parent accepts an artifact only from a child that exited 0 and built it
//! for an engine with the parent's own hash; it never waits for a child past the timeout.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Limits;
use crate::cache::engine_hash;
use crate::engine::{CodegenSettings, compiler_engine};
use crate::error::LoadError;

/// Set in the child's environment; its value is the protocol version.
const CHILD_ENV: &str = "WARDEN_COMPILER_CHILD";
const PROTOCOL: &str = "1";
/// Marks the start of the answer on stdout.
const MAGIC: &[u8] = b"\0WARDEN-ARTIFACT-v1\0";
/// The child's exit code when the component itself does not compile.
const EXIT_INVALID: i32 = 3;
/// The child's exit code when the request was unusable.
const EXIT_PROTOCOL: i32 = 4;
/// The child's exit code when wasmtime reported that memory ran out.
const EXIT_OUT_OF_MEMORY: i32 = 5;
/// The child's exit code when it panicked.
const EXIT_PANIC: i32 = 6;
/// How much of the child's stderr is kept for error messages.
const STDERR_CAP: usize = 16 << 10;

static SERVED: AtomicBool = AtomicBool::new(false);

/// Whether this process can be re-run as a compiler child.
pub(super) fn served_here() -> bool {
    SERVED.load(Ordering::Relaxed)
}

#[derive(Serialize, Deserialize)]
struct Request {
    settings: CodegenSettings,
    len: u64,
}

/// Call this first thing in `main` (before starting threads or reading arguments) of any
/// binary that builds an [`Executor`](crate::Executor): in a compiler child it
/// compiles the component it is sent and exits; otherwise it returns at once and lets
/// [`Compiler::Auto`](super::Compiler::Auto) compile in such a child of this executable.
pub fn run_compiler_child_if_requested() {
    match std::env::var_os(CHILD_ENV) {
        None => SERVED.store(true, Ordering::Relaxed),
        Some(_) => {
            separate_abnormal_ends();
            let code = serve(&mut std::io::stdin().lock(), &mut std::io::stdout().lock());
            std::process::exit(code)
        }
    }
}

/// In the child only, so that an abort means the allocator refused memory: a panic exits
/// with [`EXIT_PANIC`] from its hook (which runs under `panic = "abort"` too), and a stack
/// overflow dies of `SIGSEGV` instead of Rust's handler printing and aborting.
fn separate_abnormal_ends() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("warden compiler child: {info}");
        std::process::exit(EXIT_PANIC);
    }));
    // SAFETY: restoring the default action of two signals, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

/// Whether wasmtime's error says that memory ran out (its own typed error, or the operating
/// system's `ENOMEM`), as opposed to a component that does not compile.
fn is_out_of_memory(err: &wasmtime::Error) -> bool {
    err.is::<wasmtime::OutOfMemory>()
        || err.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::OutOfMemory)
        })
}

/// The child's work: read the request, compile, answer. Returns the exit code.
fn serve(input: &mut dyn Read, output: &mut dyn Write) -> i32 {
    let request = match read_request(input) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("warden compiler child: bad request: {message}");
            return EXIT_PROTOCOL;
        }
    };
    let (settings, bytes) = request;
    let engine = match compiler_engine(&settings) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("warden compiler child: cannot create the engine: {e:#}");
            return EXIT_PROTOCOL;
        }
    };
    let artifact = match engine.precompile_component(&bytes) {
        Ok(artifact) => artifact,
        Err(e) => {
            eprintln!("{e:#}");
            return if is_out_of_memory(&e) {
                EXIT_OUT_OF_MEMORY
            } else {
                EXIT_INVALID
            };
        }
    };
    let written = output
        .write_all(MAGIC)
        .and_then(|()| output.write_all(&engine_hash(&engine)))
        .and_then(|()| output.write_all(&(artifact.len() as u64).to_le_bytes()))
        .and_then(|()| output.write_all(&artifact))
        .and_then(|()| output.flush());
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("warden compiler child: cannot write the artifact: {e}");
            EXIT_PROTOCOL
        }
    }
}

fn read_request(input: &mut dyn Read) -> Result<(CodegenSettings, Vec<u8>), String> {
    let mut len = [0; 4];
    input.read_exact(&mut len).map_err(|e| e.to_string())?;
    let header_len = u32::from_le_bytes(len);
    if header_len > 64 << 10 {
        return Err(format!("header of {header_len} bytes"));
    }
    let mut header = vec![0; header_len as usize];
    input.read_exact(&mut header).map_err(|e| e.to_string())?;
    let request: Request = serde_json::from_slice(&header).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    input
        .take(request.len)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 != request.len {
        return Err(format!(
            "{} of {} component bytes",
            bytes.len(),
            request.len
        ));
    }
    Ok((request.settings, bytes))
}

/// Compiles `bytes` in a child process `program args`, under `limits`.
pub(super) fn compile(
    program: &Path,
    args: &[OsString],
    settings: &CodegenSettings,
    expected_engine: &[u8; 32],
    bytes: &[u8],
    limits: Limits,
) -> Result<Vec<u8>, LoadError> {
    let header = serde_json::to_vec(&Request {
        settings: settings.clone(),
        len: bytes.len() as u64,
    })
    .map_err(|e| LoadError::CompilerFailed(e.to_string()))?;
    let mut command = Command::new(program);
    // The child gets no environment but its protocol: it needs nothing else, and the
    // parent's may hold API keys and other secrets.
    command
        .args(args)
        .env_clear()
        .env(CHILD_ENV, PROTOCOL)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let memory = limits.max_memory_bytes;
    // A backstop should the parent die before it can kill the child: CPU seconds for every
    // core the compiler may use throughout the wall-clock limit, plus one.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let cpu = limits
        .timeout
        .as_secs()
        .saturating_add(1)
        .saturating_mul(cores);
    // SAFETY: the closure runs between fork and exec and only makes `setrlimit` system
    // calls (async-signal-safe, no allocation, no locks).
    unsafe {
        command.pre_exec(move || set_limits(memory, cpu));
    }
    let mut child = command.spawn().map_err(|e| {
        LoadError::CompilerFailed(format!(
            "cannot start the compiler process {}: {e}",
            program.display()
        ))
    })?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(LoadError::CompilerFailed(
            "the compiler process has no pipes".into(),
        ));
    };
    let out_cap = usize::try_from(memory)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    let (status, out, err) = std::thread::scope(|scope| {
        scope.spawn(move || {
            // A child that dies early closes the pipe: the write fails, which is fine.
            let _ = stdin
                .write_all(&(header.len() as u32).to_le_bytes())
                .and_then(|()| stdin.write_all(&header))
                .and_then(|()| stdin.write_all(bytes));
        });
        let out = scope.spawn(move || drain(stdout, out_cap));
        let err = scope.spawn(move || drain(stderr, STDERR_CAP));
        let status = wait_until(&mut child, limits.timeout);
        (
            status,
            out.join().unwrap_or_default(),
            err.join().unwrap_or_default(),
        )
    });
    let stderr = String::from_utf8_lossy(&err).trim().to_string();
    match status {
        None => Err(LoadError::CompileTimeout {
            limit: limits.timeout,
        }),
        Some(status) if status.success() => parse_answer(&out, expected_engine),
        Some(status) => Err(failure(status, &stderr, limits)),
    }
}

/// Applies the memory, CPU-time and core-dump limits to the current (child) process.
fn set_limits(memory: u64, cpu_seconds: u64) -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let limit = |n: u64| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    setrlimit(Resource::Data, limit(memory))?;
    setrlimit(Resource::Cpu, limit(cpu_seconds))?;
    setrlimit(Resource::Core, limit(0))?;
    Ok(())
}

/// Waits for `child` until `timeout`; past it, kills and reaps it and returns `None`.
/// A timeout too large to represent means no deadline.
fn wait_until(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now().checked_add(timeout);
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            // Cannot happen for our own child; treat like a deadline so it is reaped.
            Err(_) => break,
        }
        let left = deadline.map_or(pause, |d| d.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            break;
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Reads `from` to the end, keeping at most `cap` bytes (the rest is read and dropped, so
/// the child never blocks on a full pipe).
fn drain(mut from: impl Read, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let _ = (&mut from).take(cap as u64).read_to_end(&mut kept);
    let _ = std::io::copy(&mut from, &mut std::io::sink());
    kept
}

/// The artifact in the child's stdout, if it is there whole and for our engine.
fn parse_answer(out: &[u8], expected_engine: &[u8; 32]) -> Result<Vec<u8>, LoadError> {
    let bad = |what: &str| LoadError::CompilerFailed(format!("the compiler process {what}"));
    let start = out
        .windows(MAGIC.len())
        .position(|w| w == MAGIC)
        .ok_or_else(|| bad("answered without an artifact (is it a warden compiler child?)"))?;
    let rest = &out[start + MAGIC.len()..];
    if rest.len() < 40 {
        return Err(bad("sent a truncated answer"));
    }
    let (engine, rest) = rest.split_at(32);
    if engine != expected_engine {
        return Err(bad(
            "compiled for a different engine (another warden or wasmtime version?)",
        ));
    }
    let (len, artifact) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().unwrap_or_default());
    if artifact.len() as u64 != len {
        return Err(bad("sent a truncated artifact"));
    }
    Ok(artifact.to_vec())
}

/// The typed error for a child that did not exit 0, from its exit status alone (stderr is
/// only shown).
fn failure(status: ExitStatus, stderr: &str, limits: Limits) -> LoadError {
    use rustix::process::Signal;
    match (status.code(), status.signal()) {
        (Some(EXIT_INVALID), _) => LoadError::Compile(stderr.to_string()),
        (Some(EXIT_OUT_OF_MEMORY), _) => LoadError::CompileMemoryLimit {
            limit_bytes: limits.max_memory_bytes,
        },
        (_, Some(signal)) if signal == Signal::ABORT.as_raw() => LoadError::CompileMemoryLimit {
            limit_bytes: limits.max_memory_bytes,
        },
        (_, Some(signal)) if signal == Signal::XCPU.as_raw() => LoadError::CompileTimeout {
            limit: limits.timeout,
        },
        _ => LoadError::CompilerFailed(format!(
            "the compiler process ended with {status}: {}",
            tail(stderr)
        )),
    }
}

/// The last line-ish part of a message, for errors.
fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(2000);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_after_harness_noise_and_checked() {
        let engine = [5; 32];
        let mut out = b"\nrunning 1 test\n".to_vec();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&engine);
        out.extend_from_slice(&3u64.to_le_bytes());
        out.extend_from_slice(b"abc");
        assert_eq!(parse_answer(&out, &engine).unwrap(), b"abc");
        let err = parse_answer(&out, &[6; 32]).unwrap_err();
        assert!(err.to_string().contains("different engine"), "{err}");
        let err = parse_answer(&out[..out.len() - 1], &engine).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        assert!(parse_answer(b"running 1 test", &engine).is_err());
    }

    #[test]
    fn a_request_round_trips_through_the_child_side() {
        let settings = CodegenSettings::of(&crate::EngineConfig::default());
        let component = wat::parse_str("(component)").unwrap();
        let header = serde_json::to_vec(&Request {
            settings: settings.clone(),
            len: component.len() as u64,
        })
        .unwrap();
        let mut input = (header.len() as u32).to_le_bytes().to_vec();
        input.extend_from_slice(&header);
        input.extend_from_slice(&component);
        let mut output = Vec::new();
        assert_eq!(serve(&mut input.as_slice(), &mut output), 0);
        let engine = compiler_engine(&settings).unwrap();
        let artifact = parse_answer(&output, &engine_hash(&engine)).unwrap();
        assert!(!artifact.is_empty());
        let mut garbage = Vec::new();
        assert_eq!(
            serve(&mut &b"\x02\0\0\0{}"[..], &mut garbage),
            EXIT_PROTOCOL
        );
    }

    #[test]
    fn the_outcome_is_read_from_the_exit_status_never_from_stderr() {
        let limits = Limits {
            timeout: Duration::from_secs(7),
            max_memory_bytes: 1 << 20,
        };
        let memory = |raw: i32, stderr: &str| {
            matches!(
                failure(ExitStatus::from_raw(raw), stderr, limits),
                LoadError::CompileMemoryLimit {
                    limit_bytes: 1048576
                }
            )
        };
        // Killed by SIGABRT (the allocator's abort) or exiting EXIT_OUT_OF_MEMORY.
        assert!(memory(libc::SIGABRT, ""));
        assert!(memory(EXIT_OUT_OF_MEMORY << 8, ""));
        // A component that does not compile stays that, whatever its message says.
        let invalid = failure(
            ExitStatus::from_raw(EXIT_INVALID << 8),
            "out of memory",
            limits,
        );
        assert!(matches!(invalid, LoadError::Compile(_)), "{invalid:?}");
        for (raw, what) in [
            (EXIT_PANIC << 8, "a panic"),
            (libc::SIGSEGV, "a stack overflow"),
        ] {
            let err = failure(
                ExitStatus::from_raw(raw),
                "memory allocation of 8 bytes failed",
                limits,
            );
            assert!(
                matches!(err, LoadError::CompilerFailed(_)),
                "{what}: {err:?}"
            );
        }
        let cpu = failure(ExitStatus::from_raw(libc::SIGXCPU), "", limits);
        assert!(matches!(cpu, LoadError::CompileTimeout { .. }), "{cpu:?}");
    }

    #[test]
    fn out_of_memory_is_recognised_by_type() {
        assert!(is_out_of_memory(&wasmtime::Error::new(
            wasmtime::OutOfMemory::new(64)
        )));
        let enomem = std::io::Error::from(std::io::ErrorKind::OutOfMemory);
        assert!(is_out_of_memory(
            &wasmtime::Error::new(enomem).context("mmap failed")
        ));
        assert!(!is_out_of_memory(&wasmtime::format_err!("out of memory")));
        let other = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!is_out_of_memory(&wasmtime::Error::new(other)));
    }
}
