//! Docker credential helpers: `credHelpers.<registry>` and `credsStore` in the docker config
//! name a program `docker-credential-<name>` that `get` asks for a registry's credentials
//! (the server URL on stdin, `{"ServerURL", "Username", "Secret"}` JSON on stdout).
//!
//! Invariant: the helper is a plain name looked up on `PATH` (never a path from the config),
//! what it writes is bounded ([`MAX_OUTPUT`], stderr shown up to [`MAX_STDERR_SHOWN`]), it is
//! killed after [`TIMEOUT`], and every failure is a [`HelperError`] — the secret never
//! appears in one.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_client::secrets::RegistryAuth;

/// The most a helper may write to stdout (or stderr) before it is refused.
pub const MAX_OUTPUT: u64 = 64 << 10;
/// How much of a failed helper's stderr goes into the error.
pub const MAX_STDERR_SHOWN: usize = 2 << 10;
/// How long a helper may take (it may ask a keychain, but not forever).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The username with which a helper hands out an identity token rather than a password.
const TOKEN_USER: &str = "<token>";

/// Why a credential helper gave no credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelperError {
    /// The config names a helper that is not a plain program name.
    #[error("{name:?} is not a credential helper name (letters, digits, `.`, `_`, `-`)")]
    BadName {
        /// The name in the config.
        name: String,
    },
    /// `docker-credential-<name>` is not on `PATH` (or cannot be started).
    #[error(
        "docker-credential-{name} cannot be run ({source}); install it on PATH, or remove it from the docker config"
    )]
    Missing {
        /// The helper's name.
        name: String,
        /// Why it could not be started.
        #[source]
        source: std::io::Error,
    },
    /// The helper exited with a failure.
    #[error("docker-credential-{name} get failed ({status}): {stderr}")]
    Failed {
        /// The helper's name.
        name: String,
        /// Its exit status.
        status: String,
        /// The start of what it wrote to stderr (or stdout when stderr was empty).
        stderr: String,
    },
    /// The helper did not finish in time and was killed.
    #[error("docker-credential-{name} get did not answer within {}s and was stopped", TIMEOUT.as_secs())]
    TimedOut {
        /// The helper's name.
        name: String,
    },
    /// The helper wrote more than 64 KiB to stdout or stderr.
    #[error("docker-credential-{name} get wrote more than {MAX_OUTPUT} bytes")]
    TooMuchOutput {
        /// The helper's name.
        name: String,
    },
    /// The helper's answer is not the protocol's JSON.
    #[error(
        "docker-credential-{name} get did not answer with {{\"Username\", \"Secret\"}} JSON: {why}"
    )]
    BadAnswer {
        /// The helper's name.
        name: String,
        /// What is wrong (never the secret).
        why: String,
    },
}

/// What a helper said about a registry.
#[derive(Debug)]
pub enum Answer {
    /// Credentials to send.
    Found(RegistryAuth, String),
    /// The helper has none for this registry (its "credentials not found" answer).
    NotFound,
}

/// Asks `docker-credential-<name>` for the credentials of `server`.
pub fn get(name: &str, server: &str) -> Result<Answer, HelperError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(HelperError::BadName {
            name: name.to_string(),
        });
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HelperError::Missing {
            name: name.to_string(),
            source,
        })?;
    // A helper that exits without reading its stdin is not an error here: its answer says.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let read = |stream: Option<Box<dyn Read + Send>>| {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(stream) = stream {
                let _ = stream.take(MAX_OUTPUT + 1).read_to_end(&mut bytes);
            }
            let _ = send.send(bytes);
        });
        receive
    };
    let stdout = read(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = read(child.stderr.take().map(|s| Box::new(s) as _));
    let deadline = Instant::now() + TIMEOUT;
    let timed_out = || HelperError::TimedOut {
        name: name.to_string(),
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(timed_out());
            }
        }
    };
    // A child of the helper may still hold the pipes open: the deadline covers that too.
    let collect = |receive: std::sync::mpsc::Receiver<Vec<u8>>| {
        let left = deadline.saturating_duration_since(Instant::now());
        receive.recv_timeout(left).map_err(|_| timed_out())
    };
    let (out, err) = (collect(stdout)?, collect(stderr)?);
    if out.len() as u64 > MAX_OUTPUT || err.len() as u64 > MAX_OUTPUT {
        return Err(HelperError::TooMuchOutput {
            name: name.to_string(),
        });
    }
    if !status.success() {
        let said = if err.iter().all(u8::is_ascii_whitespace) {
            &out
        } else {
            &err
        };
        let said = String::from_utf8_lossy(said);
        // The protocol's answer for "nothing stored for this server".
        if said.contains("credentials not found") {
            return Ok(Answer::NotFound);
        }
        return Err(HelperError::Failed {
            name: name.to_string(),
            status: status.to_string(),
            stderr: capped(said.trim()),
        });
    }
    parse(name, &out)
}

fn parse(name: &str, out: &[u8]) -> Result<Answer, HelperError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Reply {
        username: String,
        secret: String,
    }
    let bad = |why: String| HelperError::BadAnswer {
        name: name.to_string(),
        why,
    };
    // serde_json's error names the line and column, never the input.
    let reply: Reply = serde_json::from_slice(out).map_err(|e| bad(e.to_string()))?;
    if reply.secret.is_empty() {
        return Err(bad("the Secret is empty".into()));
    }
    let source = format!("docker-credential-{name}");
    Ok(if reply.username == TOKEN_USER {
        Answer::Found(
            RegistryAuth::Bearer(reply.secret),
            format!("an identity token from {source}"),
        )
    } else {
        Answer::Found(
            RegistryAuth::Basic(reply.username.clone(), reply.secret),
            format!("user {:?} from {source}", reply.username),
        )
    })
}

/// `text` cut to [`MAX_STDERR_SHOWN`] bytes (on a char boundary), marked when cut.
fn capped(text: &str) -> String {
    if text.len() <= MAX_STDERR_SHOWN {
        return text.to_string();
    }
    let mut end = MAX_STDERR_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_paths_are_refused_before_anything_runs() {
        for name in ["", "../../bin/sh", "a/b", "x y", "pass;rm"] {
            assert!(
                matches!(get(name, "r"), Err(HelperError::BadName { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn answers_are_parsed_and_bad_ones_never_echo_the_secret() {
        let basic = parse("h", br#"{"ServerURL":"r","Username":"ann","Secret":"s3"}"#).unwrap();
        assert!(
            matches!(basic, Answer::Found(RegistryAuth::Basic(u, p), _) if u == "ann" && p == "s3")
        );
        let token = parse("h", br#"{"Username":"<token>","Secret":"t0k"}"#).unwrap();
        assert!(matches!(token, Answer::Found(RegistryAuth::Bearer(t), _) if t == "t0k"));
        for bad in [
            &b"not json"[..],
            br#"{"Username":"ann"}"#,
            br#"{"Username":"ann","Secret":""}"#,
        ] {
            assert!(matches!(
                parse("h", bad),
                Err(HelperError::BadAnswer { .. })
            ));
        }
        let err = parse("h", br#"{"Username":"ann","Secret":"hunter2",}"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn long_stderr_is_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_STDERR_SHOWN);
        let cut = capped(&long);
        assert!(cut.len() < long.len() && cut.contains("bytes in all"));
    }
}
