//! The versioned run-state format: what one checkpoint holds, as JSON.
//!
//! ```text
//! {
//!   "format": "warden.run-state",      // always this name
//!   "version": 2,                      // RUN_STATE_VERSION of the writer
//!   "written_by": "warden-store 0.1.0",
//!   "agent": { "digest": "…", "name": "…", "tools": ["…"], "budget": {…} },
//!   "snapshot": {                      // warden_core::controller::ControllerSnapshot
//!     "state": { "live": […], "transcript": […], "steps": […], "compactions": […],
//!                "usage": {…} },       // history, step records, usage
//!     "phase": { "phase": "ready" | "awaiting_tools" (+ slots: results and pending
//!                tool calls) | "finished" (+ result with its stop reason) },
//!     "turns": 2, "invalid_turns": 0, "output_retries": 0, "exhausted": null,
//!     "elapsed_ms": 1234, "warned": [], "call_ids": […], "paused": null, …
//!   },                                 // budget consumed = usage + turns + elapsed_ms
//!   "approval": null | {…},            // a call waiting for a person (see `approval`)
//!   "active_agent": absent | { "name": "billing", "handoffs": 1 },
//!                                      // a team's run after a handoff: who runs now
//!   "team": absent | { "max_handoffs": 8, "agents": [ { "agent": {…as "agent"…},
//!            "model": "openai/gpt-4o-mini", "links": ["handoff billing (All)", …] } ] },
//!                                      // a team's run: every agent, compared on resume
//!   "items": null | { "live": 7, "transcript": 7, "steps": 3, "compactions": 0,
//!                     "call_ids": 2 }  // version 2, split layout only (below)
//! }
//! ```
//!
//! The step counter is `snapshot.state.steps.len()`; the stop reason is the finished
//! phase's `result.stop_reason`.
//!
//! Two layouts. *Whole* ([`RunCheckpoint::encode`], [`decode`]): one document holds
//! everything; `items` is absent. *Split* (what the SQLite store writes since version 2, so
//! a checkpoint costs what the step added, not the whole history): the document — the
//! *head* — has the five growing lists (`snapshot.state.live`, `.transcript`, `.steps`,
//! `.compactions`, `snapshot.call_ids`) empty, and `items` gives how many elements each
//! has; the elements are kept by the store as rows of their own, one JSON value each, in
//! list order (`call_ids` in any order: it is a set, sorted on load). A reader of a split
//! head checks that it found exactly `items` elements of each list, else the run is
//! damaged. [`decode`] refuses a split head (it needs its rows): only the store reads one.
//!
//! Versions: 1 is the first (whole documents only). 2 adds the split layout; a version-1
//! reader would take a split head's empty lists for an empty history, hence the new
//! version. A version-2 whole document reads exactly like a version-1 one, so version 1
//! loads unchanged. A reader accepts every version from [`OLDEST_READABLE_VERSION`] to
//! [`RUN_STATE_VERSION`] (older ones are upgraded on load, field by field, in
//! [`decode`]); an older one it cannot upgrade fails with [`FormatError::TooOld`], a newer
//! one with [`FormatError::Newer`] naming the writer. New optional fields
//! (`#[serde(default)]`) do not raise the version; a change of meaning or a removed field
//! does. `team` is such a field: a checkpoint written before it (a team's run recorded
//! with its entry agent only) reads with `team` absent, and a resume then compares the
//! entry agent alone, as the writer did.
//!
//! Invariant: [`decode`] never panics and reads at most [`MAX_STATE_BYTES`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_core::budget::Budget;
use warden_core::controller::ControllerSnapshot;

use crate::approval::PendingApproval;

/// The format's name, in every checkpoint.
pub const FORMAT_NAME: &str = "warden.run-state";
/// The version this crate writes.
pub const RUN_STATE_VERSION: u32 = 2;
/// The oldest version this crate reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;
/// Largest checkpoint read (a run's state is bounded by its budgets; this bounds a
/// hostile or corrupt row).
pub const MAX_STATE_BYTES: usize = 256 << 20;

/// What a run's agent was when the run started: compared on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    /// [`agent_digest`] of the definition.
    pub digest: String,
    /// The agent's name.
    pub name: String,
    /// Its tool names, sorted.
    pub tools: Vec<String>,
    /// Its budget.
    pub budget: Budget,
    /// The agent file it was loaded from, if any (what `warden runs resume` loads).
    #[serde(default)]
    pub file: Option<String>,
    /// Its guardrails, each as `stage name` (none in records of older versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<String>,
}

/// One checkpoint: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCheckpoint {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// The writer's [`RUN_STATE_VERSION`].
    pub version: u32,
    /// The writing crate and version, named when a reader refuses it.
    pub written_by: String,
    /// The agent the run belongs to.
    pub agent: AgentSummary,
    /// The controller's state.
    pub snapshot: ControllerSnapshot,
    /// A tool call waiting for a person's decision, if the run is paused for one.
    #[serde(default)]
    pub approval: Option<PendingApproval>,
    /// Call ids a person approved (they run without asking again).
    #[serde(default)]
    pub approved_calls: Vec<String>,
    /// Tools marked `approval = "first"` whose first call was approved.
    #[serde(default)]
    pub approved_tools: Vec<String>,
    /// The agent of the team that runs now, once a handoff moved the run away from
    /// `agent` (the run's entry agent); absent while the entry agent runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_agent: Option<ActiveAgent>,
    /// Every agent of the run's team when it started (or was last resumed), so a resume
    /// notices a change to any of them; absent for a run of one agent, and in checkpoints
    /// written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamSummary>,
}

/// What a team run's team was: compared on resume (see [`RunCheckpoint::team`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamSummary {
    /// The most handoffs one run may make.
    pub max_handoffs: u32,
    /// Every agent of the team (its entry agent included), sorted by name.
    pub agents: Vec<TeamMember>,
}

/// One agent of a [`TeamSummary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMember {
    /// What the store keeps of any run's agent (its digest covers instructions, settings,
    /// tools and grants).
    pub agent: AgentSummary,
    /// Its model as `provider/name`.
    pub model: String,
    /// How it reaches the others: its handoffs (with their history filters) and the agents
    /// it calls as tools, one line each, sorted.
    #[serde(default)]
    pub links: Vec<String>,
}

/// The team agent a run was handed to (see [`RunCheckpoint::active_agent`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveAgent {
    /// Its name in the team.
    pub name: String,
    /// Handoffs made so far in the current turn (counted against the team's limit).
    pub handoffs: u32,
}

/// Why a checkpoint cannot be read.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Written by a newer warden.
    #[error(
        "the run state is version {found}, written by {written_by}; this warden reads versions \
         {OLDEST_READABLE_VERSION} to {RUN_STATE_VERSION}: upgrade warden to resume this run"
    )]
    Newer {
        /// The version found.
        found: u32,
        /// Who wrote it.
        written_by: String,
    },
    /// Written by a warden too old to upgrade from.
    #[error(
        "the run state is version {found}, older than the oldest this warden reads \
         ({OLDEST_READABLE_VERSION}): resume it with the warden that wrote it ({written_by})"
    )]
    TooOld {
        /// The version found.
        found: u32,
        /// Who wrote it.
        written_by: String,
    },
    /// Larger than [`MAX_STATE_BYTES`].
    #[error("the run state is {size} bytes, over the {MAX_STATE_BYTES}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not a run state of this format (damaged, or another program's data).
    #[error("the run state is damaged or not warden's: {detail}")]
    Corrupt {
        /// What did not parse.
        detail: String,
    },
}

impl RunCheckpoint {
    /// A checkpoint of the current version.
    pub fn new(agent: AgentSummary, snapshot: ControllerSnapshot) -> Self {
        Self {
            format: FORMAT_NAME.into(),
            version: RUN_STATE_VERSION,
            written_by: concat!("warden-store ", env!("CARGO_PKG_VERSION")).into(),
            agent,
            snapshot,
            approval: None,
            approved_calls: Vec::new(),
            approved_tools: Vec::new(),
            active_agent: None,
            team: None,
        }
    }

    /// The checkpoint as JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Plain data (string keys, finite numbers): serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Only the envelope, read first so a newer version is refused by name before its body
/// (which may not parse) is looked at.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
    #[serde(default)]
    written_by: String,
}

/// Reads a whole checkpoint: checks size, format name and version, then parses it. A
/// split head (see the module docs) is refused: it is read by the store with its rows.
pub fn decode(bytes: &[u8]) -> Result<RunCheckpoint, FormatError> {
    match decode_head(bytes)? {
        (checkpoint, None) => Ok(checkpoint),
        (_, Some(_)) => Err(FormatError::Corrupt {
            detail: "a split run-state head without its item rows (read it through the store)"
                .into(),
        }),
    }
}

/// How many elements each growing list of a split head has (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Items {
    pub live: u64,
    pub transcript: u64,
    pub steps: u64,
    pub compactions: u64,
    pub call_ids: u64,
}

/// A head as written: the checkpoint (lists emptied) and its item counts.
#[derive(Serialize)]
struct HeadOut<'a> {
    #[serde(flatten)]
    checkpoint: &'a RunCheckpoint,
    items: Items,
}

/// A split head's bytes.
pub(crate) fn encode_head(checkpoint: &RunCheckpoint, items: Items) -> Vec<u8> {
    // Plain data, as in `encode`: serialising cannot fail.
    serde_json::to_vec(&HeadOut { checkpoint, items }).unwrap_or_default()
}

/// Reads a whole checkpoint or a split head (then with its item counts).
pub(crate) fn decode_head(bytes: &[u8]) -> Result<(RunCheckpoint, Option<Items>), FormatError> {
    if bytes.len() > MAX_STATE_BYTES {
        return Err(FormatError::TooLarge { size: bytes.len() });
    }
    let header: Header = serde_json::from_slice(bytes).map_err(|e| FormatError::Corrupt {
        detail: format!("no readable header: {e}"),
    })?;
    if header.format != FORMAT_NAME {
        return Err(FormatError::Corrupt {
            detail: format!("format is `{}`, not `{FORMAT_NAME}`", header.format),
        });
    }
    if header.version > RUN_STATE_VERSION {
        return Err(FormatError::Newer {
            found: header.version,
            written_by: header.written_by,
        });
    }
    if header.version < OLDEST_READABLE_VERSION {
        return Err(FormatError::TooOld {
            found: header.version,
            written_by: header.written_by,
        });
    }
    let body = |e: serde_json::Error| FormatError::Corrupt {
        detail: format!("version {} body: {e}", header.version),
    };
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(body)?;
    // Version 1 has no split layout: `items` there is not warden's.
    let items = match value.as_object_mut().and_then(|o| o.remove("items")) {
        Some(items) if header.version >= 2 && !items.is_null() => {
            Some(serde_json::from_value(items).map_err(body)?)
        }
        _ => None,
    };
    // Versions 1 and 2 share the whole document: nothing to upgrade yet.
    Ok((serde_json::from_value(value).map_err(body)?, items))
}

/// A digest of an agent definition: SHA-256 over `parts` (each length-prefixed, so no two
/// lists of parts give the same input). The runtime passes the loop settings, the tool
/// catalog and each tool's component digest.
pub fn agent_digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use warden_core::controller::{Controller, LoopConfig};

    fn checkpoint() -> RunCheckpoint {
        let controller = Controller::new(LoopConfig::new("gpt-4o-mini"), vec![], "hi").unwrap();
        let agent = AgentSummary {
            digest: "d".into(),
            name: "a".into(),
            tools: vec![],
            budget: Budget::default(),
            file: None,
            guardrails: vec![],
        };
        RunCheckpoint::new(agent, controller.snapshot())
    }

    fn with_version(version: u32) -> Vec<u8> {
        let mut value = serde_json::to_value(checkpoint()).unwrap();
        value["version"] = version.into();
        value["written_by"] = "warden-store 9.0.0".into();
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn a_checkpoint_round_trips() {
        let cp = checkpoint();
        assert_eq!(decode(&cp.encode()).unwrap(), cp);
    }

    #[test]
    fn a_newer_version_is_refused_naming_its_writer() {
        let err = decode(&with_version(RUN_STATE_VERSION + 1)).unwrap_err();
        assert!(matches!(err, FormatError::Newer { found, .. } if found == RUN_STATE_VERSION + 1));
        assert!(err.to_string().contains("warden-store 9.0.0"), "{err}");
        assert!(err.to_string().contains("upgrade warden"), "{err}");
    }

    #[test]
    fn a_version_older_than_readable_fails_clearly() {
        let err = decode(&with_version(0)).unwrap_err();
        assert!(matches!(err, FormatError::TooOld { found: 0, .. }), "{err}");
    }

    #[test]
    fn a_newer_version_with_an_unreadable_body_is_still_refused_by_version() {
        let bytes =
            br#"{"format":"warden.run-state","version":7,"written_by":"w 7","snapshot":42}"#;
        assert!(matches!(
            decode(bytes),
            Err(FormatError::Newer { found: 7, .. })
        ));
    }

    #[test]
    fn garbage_and_other_formats_are_corrupt() {
        assert!(matches!(
            decode(b"\0\x01garbage"),
            Err(FormatError::Corrupt { .. })
        ));
        let other = br#"{"format":"other","version":1}"#;
        assert!(matches!(decode(other), Err(FormatError::Corrupt { .. })));
        let bytes = checkpoint().encode();
        let cut = &bytes[..bytes.len() / 2];
        assert!(matches!(decode(cut), Err(FormatError::Corrupt { .. })));
    }

    #[test]
    fn a_version_1_document_reads_as_the_same_checkpoint() {
        let cp = checkpoint();
        let mut value = serde_json::to_value(&cp).unwrap();
        value["version"] = 1.into();
        let read = decode(&serde_json::to_vec(&value).unwrap()).unwrap();
        assert_eq!(read.snapshot, cp.snapshot);
        assert_eq!(read.version, 1);
    }

    #[test]
    fn a_split_head_reads_with_its_counts_and_is_refused_as_a_whole_document() {
        let cp = checkpoint();
        let items = Items {
            live: 1,
            transcript: 1,
            ..Items::default()
        };
        let head = encode_head(&cp, items);
        assert_eq!(decode_head(&head).unwrap(), (cp, Some(items)));
        let err = decode(&head).unwrap_err();
        assert!(err.to_string().contains("split run-state head"), "{err}");
    }

    #[test]
    fn digests_separate_their_parts() {
        assert_ne!(
            agent_digest([&b"ab"[..], b"c"]),
            agent_digest([&b"a"[..], b"bc"])
        );
        assert_eq!(agent_digest([&b"x"[..]]), agent_digest([&b"x"[..]]));
    }
}
