//! Faults injected into one response, and their one-line syntax.
//!
//! Syntax (header `x-mock-fault`, `POST /admin/faults`, `--fault` on the command line):
//! `name[:value][:key=value]...`, e.g. `status:429:retry-after=2`, `status:503:retry-after-ms=50`,
//! `status:429:retry-after-date=3`, `latency:200`, `trickle:20`, `cut:3`, `stall:2:ms=5000`,
//! `malformed`, `empty-choices`, `truncated-args`, `error-event:overloaded_error`, `html:502`,
//! `gzip`.
//! Invariant: `Display` writes the syntax `FromStr` reads.

use std::fmt;
use std::str::FromStr;

/// One fault, applied to one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with the provider's error body and optional Retry-After headers
    /// (seconds, milliseconds, or an HTTP date this many seconds ahead). Streaming requests
    /// get the same plain JSON error.
    Status {
        status: u16,
        retry_after: Option<u64>,
        retry_after_ms: Option<u64>,
        retry_after_date: Option<u64>,
    },
    /// Wait this many ms before answering.
    Latency { ms: u64 },
    /// Send the body in pieces (stream events, or slices of a JSON body) this many ms apart.
    Trickle { ms: u64 },
    /// Send this many stream events (or half the JSON body) and then break the connection.
    Cut { after_events: usize },
    /// After this many stream events, go silent for `ms` (idle-timeout tests).
    Stall { after_events: usize, ms: u64 },
    /// A chunk (or the body) of invalid JSON.
    Malformed,
    /// OpenAI: `choices: []` (and a stream without any choice); Anthropic: empty `content`.
    EmptyChoices,
    /// The turn's first tool call gets cut arguments and the finish reason is `length`.
    TruncatedArgs,
    /// After the first content event, a provider error event of this type ends the stream.
    ErrorEvent { kind: String },
    /// Answer this status with an HTML error page, as a proxy or gateway in front of the
    /// provider does (`text/html`, a few KB of markup around a `<title>`), streaming
    /// requests included.
    HtmlPage { status: u16 },
    /// The normal answer (the JSON body, or the whole stream in one piece) compressed with
    /// gzip and sent with `Content-Encoding: gzip`, although the request did not ask for it
    /// (as a misconfigured proxy does).
    Gzip,
}

/// A fault string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad fault {input:?}: {why}; expected e.g. status:429:retry-after=2, latency:200, trickle:20, cut:3, stall:2:ms=5000, malformed, empty-choices, truncated-args, error-event:overloaded_error, html:502, gzip"
)]
pub struct FaultParseError {
    input: String,
    why: String,
}

impl Fault {
    /// The fault's name, as counted in the stats.
    pub fn name(&self) -> String {
        match self {
            Fault::Status { status, .. } => format!("status:{status}"),
            Fault::Latency { .. } => "latency".into(),
            Fault::Trickle { .. } => "trickle".into(),
            Fault::Cut { .. } => "cut".into(),
            Fault::Stall { .. } => "stall".into(),
            Fault::Malformed => "malformed".into(),
            Fault::EmptyChoices => "empty-choices".into(),
            Fault::TruncatedArgs => "truncated-args".into(),
            Fault::ErrorEvent { .. } => "error-event".into(),
            Fault::HtmlPage { status } => format!("html:{status}"),
            Fault::Gzip => "gzip".into(),
        }
    }
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| FaultParseError {
            input: input.to_string(),
            why: why.to_string(),
        };
        let mut parts = input.trim().split(':');
        let name = parts.next().unwrap_or_default();
        let mut value: Option<&str> = None;
        let mut options: Vec<(&str, &str)> = Vec::new();
        for part in parts {
            match part.split_once('=') {
                Some(kv) => options.push(kv),
                None if value.is_none() && options.is_empty() => value = Some(part),
                None => {
                    return Err(err(
                        "only the first part after the name may be a bare value",
                    ));
                }
            }
        }
        let number = |v: Option<&str>, what: &str| -> Result<u64, FaultParseError> {
            v.ok_or_else(|| err(&format!("{what} is missing")))?
                .parse()
                .map_err(|_| err(&format!("{what} must be a number")))
        };
        let option = |key: &str| -> Result<Option<u64>, FaultParseError> {
            options
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| {
                    v.parse()
                        .map_err(|_| err(&format!("{key} must be a number")))
                })
                .transpose()
        };
        let known = |keys: &[&str]| -> Result<(), FaultParseError> {
            match options.iter().find(|(k, _)| !keys.contains(k)) {
                Some((k, _)) => Err(err(&format!("unknown option {k:?}"))),
                None => Ok(()),
            }
        };
        let fault = match name {
            "status" => {
                known(&["retry-after", "retry-after-ms", "retry-after-date"])?;
                let status = number(value, "the status")?;
                if !(100..=599).contains(&status) {
                    return Err(err("the status must be between 100 and 599"));
                }
                Fault::Status {
                    status: status as u16,
                    retry_after: option("retry-after")?,
                    retry_after_ms: option("retry-after-ms")?,
                    retry_after_date: option("retry-after-date")?,
                }
            }
            "latency" => Fault::Latency {
                ms: number(value, "the latency in ms")?,
            },
            "trickle" => Fault::Trickle {
                ms: number(value, "the gap in ms")?,
            },
            "cut" => Fault::Cut {
                after_events: number(value, "the number of events")? as usize,
            },
            "stall" => {
                known(&["ms"])?;
                Fault::Stall {
                    after_events: number(value, "the number of events")? as usize,
                    ms: option("ms")?.unwrap_or(60_000),
                }
            }
            "malformed" => Fault::Malformed,
            "empty-choices" => Fault::EmptyChoices,
            "truncated-args" => Fault::TruncatedArgs,
            "gzip" => Fault::Gzip,
            "error-event" => Fault::ErrorEvent {
                kind: value.unwrap_or("overloaded_error").to_string(),
            },
            "html" => {
                let status = number(value, "the status")?;
                if !(100..=599).contains(&status) {
                    return Err(err("the status must be between 100 and 599"));
                }
                Fault::HtmlPage {
                    status: status as u16,
                }
            }
            _ => return Err(err("unknown fault name")),
        };
        if !matches!(fault, Fault::Status { .. } | Fault::Stall { .. }) && !options.is_empty() {
            return Err(err("this fault takes no options"));
        }
        Ok(fault)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Status {
                status,
                retry_after,
                retry_after_ms,
                retry_after_date,
            } => {
                write!(f, "status:{status}")?;
                if let Some(s) = retry_after {
                    write!(f, ":retry-after={s}")?;
                }
                if let Some(ms) = retry_after_ms {
                    write!(f, ":retry-after-ms={ms}")?;
                }
                if let Some(d) = retry_after_date {
                    write!(f, ":retry-after-date={d}")?;
                }
                Ok(())
            }
            Fault::Latency { ms } => write!(f, "latency:{ms}"),
            Fault::Trickle { ms } => write!(f, "trickle:{ms}"),
            Fault::Cut { after_events } => write!(f, "cut:{after_events}"),
            Fault::Stall { after_events, ms } => write!(f, "stall:{after_events}:ms={ms}"),
            Fault::Malformed => f.write_str("malformed"),
            Fault::EmptyChoices => f.write_str("empty-choices"),
            Fault::TruncatedArgs => f.write_str("truncated-args"),
            Fault::ErrorEvent { kind } => write!(f, "error-event:{kind}"),
            Fault::HtmlPage { status } => write!(f, "html:{status}"),
            Fault::Gzip => f.write_str("gzip"),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn every_fault_round_trips_through_its_syntax() {
        for s in [
            "status:429:retry-after=2",
            "status:503:retry-after-ms=50",
            "html:502",
            "status:529:retry-after-date=3",
            "status:401",
            "latency:200",
            "trickle:20",
            "cut:3",
            "stall:2:ms=5000",
            "malformed",
            "empty-choices",
            "truncated-args",
            "error-event:rate_limit_error",
            "gzip",
        ] {
            let fault: Fault = s.parse().unwrap();
            assert_eq!(fault.to_string(), s);
        }
    }

    #[test]
    fn bad_faults_say_what_is_wrong() {
        assert!(
            "status"
                .parse::<Fault>()
                .unwrap_err()
                .to_string()
                .contains("status is missing")
        );
        assert!(
            "status:700"
                .parse::<Fault>()
                .unwrap_err()
                .to_string()
                .contains("between 100 and 599")
        );
        assert!(
            "status:429:retry=1"
                .parse::<Fault>()
                .unwrap_err()
                .to_string()
                .contains("unknown option")
        );
        assert!(
            "explode"
                .parse::<Fault>()
                .unwrap_err()
                .to_string()
                .contains("unknown fault name")
        );
        assert!(
            "latency:soon"
                .parse::<Fault>()
                .unwrap_err()
                .to_string()
                .contains("number")
        );
    }
}
