//! Reading a stamped event stream (`warden run --json > events.jsonl`) back, bounded.
//!
//! Invariants: a file over [`MAX_FILE_BYTES`], a line over [`MAX_LINE_BYTES`] or more than
//! [`MAX_RECORDS`] records is refused with an error saying so; blank lines and lines of a
//! type this version does not know (`log` lines, newer events) are skipped; any other line
//! that does not parse is an error naming its line number; a record from a newer event
//! schema is refused by version.

use std::io::{BufRead, Read};
use std::path::Path;

use warden_core::events::{EVENT_SCHEMA_VERSION, EventRecord};

/// Largest events file read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Longest line read.
pub const MAX_LINE_BYTES: usize = 8 << 20;
/// Most records read.
pub const MAX_RECORDS: usize = 1_000_000;

/// Why an event stream could not be read.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The stream is larger than [`MAX_FILE_BYTES`] or has more than [`MAX_RECORDS`].
    #[error("{what} is over the limit of {limit}; split the file or trace one run's events")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: String,
    },
    /// A line is not a stamped event.
    #[error(
        "line {line}: not a warden event ({why}); the file should be the output of `warden run --json`"
    )]
    Malformed {
        /// The line number (from 1).
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// A record from a newer warden.
    #[error(
        "line {line}: event schema {schema} is newer than this warden's ({EVENT_SCHEMA_VERSION}); use a newer warden to read it"
    )]
    NewerSchema {
        /// The line number (from 1).
        line: usize,
        /// Its schema version.
        schema: u32,
    },
}

/// The records in the file at `path`. See the module docs.
pub fn read_events_file(path: &Path) -> Result<Vec<EventRecord>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(too_large_file());
    }
    read_events(std::io::BufReader::new(file)).map_err(|e| match e {
        ReadError::Io { source, .. } => io(source),
        other => other,
    })
}

fn too_large_file() -> ReadError {
    ReadError::TooLarge {
        what: "the events file",
        limit: format!("{} MiB", MAX_FILE_BYTES >> 20),
    }
}

/// The records in `reader`. See the module docs.
pub fn read_events(reader: impl BufRead) -> Result<Vec<EventRecord>, ReadError> {
    let mut reader = reader.take(MAX_FILE_BYTES + 1);
    let mut records = Vec::new();
    let mut line = Vec::new();
    let mut read_total = 0u64;
    for number in 1.. {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| ReadError::Io {
                path: "the events".into(),
                source,
            })?;
        if n == 0 {
            break;
        }
        read_total += n as u64;
        if read_total > MAX_FILE_BYTES {
            return Err(too_large_file());
        }
        if line.len() > MAX_LINE_BYTES {
            return Err(ReadError::TooLarge {
                what: "a line",
                limit: format!("{} MiB (line {number})", MAX_LINE_BYTES >> 20),
            });
        }
        let text = std::str::from_utf8(&line).map_err(|e| ReadError::Malformed {
            line: number,
            why: format!("not UTF-8 at byte {}", e.valid_up_to()),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        if let Some(record) = parse_line(text, number)? {
            if records.len() == MAX_RECORDS {
                return Err(ReadError::TooLarge {
                    what: "the number of events",
                    limit: MAX_RECORDS.to_string(),
                });
            }
            records.push(record);
        }
    }
    Ok(records)
}

/// The stamp fields every line must have, read first to tell a newer schema or a line that
/// is no event from a broken event.
#[derive(serde::Deserialize)]
struct Head {
    schema: u64,
    #[serde(rename = "type")]
    kind: String,
}

/// One line: a record, `None` for a type this version skips, or why it is not an event.
/// Parsed from the text (not through a JSON value): a stamped line holds `step` twice, the
/// stamp's and the event's, and a map would keep only one.
fn parse_line(text: &str, line: usize) -> Result<Option<EventRecord>, ReadError> {
    let malformed = |why: String| ReadError::Malformed { line, why };
    let head: Head = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let schema = u32::try_from(head.schema).unwrap_or(u32::MAX);
    if schema > EVENT_SCHEMA_VERSION {
        return Err(ReadError::NewerSchema { line, schema });
    }
    match serde_json::from_str::<EventRecord>(text) {
        Ok(record) => Ok(Some(record)),
        // A type this version does not know (the CLI's `log` lines, a newer event).
        Err(_) if !is_known_type(&head.kind) => Ok(None),
        Err(e) => Err(malformed(format!("a `{}` event: {e}", head.kind))),
    }
}

/// Whether `kind` is an event type this version reads.
fn is_known_type(kind: &str) -> bool {
    const KNOWN: [&str; 13] = [
        "run_started",
        "model_request",
        "text_delta",
        "model_response",
        "tool_call_started",
        "tool_call_finished",
        "output_rejected",
        "tool_call_rejected",
        "compaction",
        "budget_warning",
        "rate_limit_wait",
        "retry",
        "run_finished",
    ];
    KNOWN.contains(&kind)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    const START: &str = r#"{"schema":1,"run_id":"r","ts":"2026-01-01T00:00:00.000Z","step":0,"type":"run_started","agent":"a","model":"m","input":"hi"}"#;

    #[test]
    fn records_are_read_and_log_lines_and_blank_lines_skipped() {
        let log = r#"{"schema":1,"run_id":"r","ts":"2026-01-01T00:00:00.000Z","step":0,"type":"log","level":"WARN","message":"x"}"#;
        let text = format!("{START}\n\n{log}\n{START}\n");
        let records = read_events(text.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].run_id, "r");
    }

    #[test]
    fn a_broken_line_is_an_error_with_its_number() {
        let text = format!("{START}\n{{\"schema\":1,\"type\":\"run_started\"\n");
        let error = read_events(text.as_bytes()).unwrap_err();
        assert!(
            matches!(error, ReadError::Malformed { line: 2, .. }),
            "{error}"
        );
        let text = format!("{START}\n[1,2]\n");
        assert!(matches!(
            read_events(text.as_bytes()).unwrap_err(),
            ReadError::Malformed { line: 2, .. }
        ));
    }

    #[test]
    fn a_known_type_with_wrong_fields_is_an_error_not_skipped() {
        let bad = START.replace("\"agent\":\"a\"", "\"agent\":5");
        let error = read_events(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(error, ReadError::Malformed { line: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_newer_schema_is_refused_by_version() {
        let newer = START.replace("\"schema\":1", "\"schema\":99");
        let error = read_events(newer.as_bytes()).unwrap_err();
        assert!(
            matches!(
                error,
                ReadError::NewerSchema {
                    line: 1,
                    schema: 99
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn an_overlong_line_is_refused_without_reading_it_whole() {
        let long = format!("{{\"x\":\"{}\"}}\n", "y".repeat(MAX_LINE_BYTES + 10));
        let error = read_events(long.as_bytes()).unwrap_err();
        assert!(
            matches!(error, ReadError::TooLarge { what: "a line", .. }),
            "{error}"
        );
    }
}
