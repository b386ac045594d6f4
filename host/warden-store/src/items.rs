//! The split layout's rows (see [`format`](crate::format)): a checkpoint's five growing
//! lists kept in `run_items`, one row per element, so a step writes the elements it added
//! (and the few it changed) instead of the whole history.
//!
//! What the store last committed for a run is remembered in memory ([`Written`], keyed by
//! the lease's fencing token): the next checkpoint is diffed against it. Without it (a
//! new process, another lease) the run's rows are rewritten once.
//!
//! Invariant: the rows of a run always equal, list by list, what its head's `items`
//! counts — they are written in the head's transaction, and a diff that cannot prove a
//! prefix unchanged rewrites from where it can.

use rusqlite::{Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use warden_core::chat::Message;
use warden_core::state::{CompactionRecord, RunState, RunStateParts, StepRecord};

use crate::format::{FormatError, Items, RunCheckpoint};
use crate::store::{ListTails, Tail};

/// Elements at the end of a list compared with what was written: the step being recorded
/// changes its own record (tool calls join it), never an older one.
const WINDOW: usize = 2;

/// Which list a row belongs to (the `list` column).
#[derive(Clone, Copy)]
enum List {
    Live = 0,
    Transcript = 1,
    Steps = 2,
    Compactions = 3,
    CallIds = 4,
}

/// A checkpoint's growing lists, taken out of it.
#[derive(Default)]
pub(crate) struct Lists {
    live: Vec<Message>,
    transcript: Vec<Message>,
    steps: Vec<StepRecord>,
    compactions: Vec<CompactionRecord>,
    call_ids: Vec<String>,
}

/// What the store last committed for a run, under which fencing token.
pub(crate) struct Written {
    pub token: u64,
    pub lists: Lists,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Lists {
    /// Empties `checkpoint`'s lists (usage stays) and returns them.
    pub fn take(checkpoint: &mut RunCheckpoint) -> Self {
        let snapshot = &mut checkpoint.snapshot;
        let parts = std::mem::take(&mut snapshot.state).into_parts();
        snapshot.state = RunState::from_parts(RunStateParts {
            usage: parts.usage,
            ..RunStateParts::default()
        });
        Self {
            live: parts.live,
            transcript: parts.transcript,
            steps: parts.steps,
            compactions: parts.compactions,
            call_ids: std::mem::take(&mut snapshot.call_ids),
        }
    }

    /// Puts the lists back into a head's (emptied) checkpoint.
    pub fn put(self, checkpoint: &mut RunCheckpoint) {
        let snapshot = &mut checkpoint.snapshot;
        let usage = *snapshot.state.usage();
        snapshot.state = RunState::from_parts(RunStateParts {
            live: self.live,
            transcript: self.transcript,
            steps: self.steps,
            compactions: self.compactions,
            usage,
        });
        snapshot.call_ids = self.call_ids;
    }

    /// The head's counts.
    pub fn items(&self) -> Items {
        Items {
            live: count(self.live.len()),
            transcript: count(self.transcript.len()),
            steps: count(self.steps.len()),
            compactions: count(self.compactions.len()),
            call_ids: count(self.call_ids.len()),
        }
    }
}

/// Writes the rows of `new` for `run_id`, given the rows `old` already there (`None`:
/// unknown, so all of them are replaced).
pub(crate) fn write(
    tx: &Transaction<'_>,
    run_id: &str,
    old: Option<&Lists>,
    new: &Lists,
) -> rusqlite::Result<()> {
    let Some(old) = old else {
        tx.execute("DELETE FROM run_items WHERE run_id = ?1", [run_id])?;
        let empty = Lists::default();
        return write(tx, run_id, Some(&empty), new);
    };
    // A compaction replaced a range of the live history: find where by comparing all.
    let live_window = if new.compactions.len() == old.compactions.len() {
        WINDOW
    } else {
        usize::MAX
    };
    write_list(tx, run_id, List::Live, &old.live, &new.live, live_window)?;
    write_list(
        tx,
        run_id,
        List::Transcript,
        &old.transcript,
        &new.transcript,
        WINDOW,
    )?;
    write_list(tx, run_id, List::Steps, &old.steps, &new.steps, WINDOW)?;
    write_list(
        tx,
        run_id,
        List::Compactions,
        &old.compactions,
        &new.compactions,
        WINDOW,
    )?;
    write_ids(tx, run_id, &old.call_ids, &new.call_ids)
}

/// Writes `tails` for `run_id`: each list keeps its rows before the tail's `from` and
/// continues with the tail's items. Returns the head's counts.
pub(crate) fn write_tails(
    tx: &Transaction<'_>,
    run_id: &str,
    tails: &ListTails,
) -> rusqlite::Result<Items> {
    write_tail(tx, run_id, List::Live, &tails.live)?;
    write_tail(tx, run_id, List::Transcript, &tails.transcript)?;
    write_tail(tx, run_id, List::Steps, &tails.steps)?;
    write_tail(tx, run_id, List::Compactions, &tails.compactions)?;
    write_tail(tx, run_id, List::CallIds, &tails.call_ids)?;
    Ok(Items {
        live: tails.live.len(),
        transcript: tails.transcript.len(),
        steps: tails.steps.len(),
        compactions: tails.compactions.len(),
        call_ids: tails.call_ids.len(),
    })
}

/// Within one lineage a list only grows (its elements from `from` on are new or, for the
/// last step record, changed), so rows are replaced in place; a tail from 0 starts a new
/// line and drops every row first (the list may have shrunk: a compaction, a handoff).
fn write_tail<T: Clone + Serialize>(
    tx: &Transaction<'_>,
    run_id: &str,
    list: List,
    tail: &Tail<T>,
) -> rusqlite::Result<()> {
    if tail.from == 0 {
        clear(tx, run_id, list)?;
    }
    insert(tx, run_id, list, tail.from, &tail.items, Rows::Replace)
}

/// The first index where `new` differs from `old`, comparing only the last `window`
/// elements of `old` (the ones before are only ever appended to).
fn first_change<T: PartialEq>(old: &[T], new: &[T], window: usize) -> usize {
    let start = old.len().saturating_sub(window).min(new.len());
    (start..old.len().min(new.len()))
        .find(|&i| old[i] != new[i])
        .unwrap_or(old.len().min(new.len()))
}

fn write_list<T: PartialEq + Serialize>(
    tx: &Transaction<'_>,
    run_id: &str,
    list: List,
    old: &[T],
    new: &[T],
    window: usize,
) -> rusqlite::Result<()> {
    let from = first_change(old, new, window);
    if from < old.len() {
        tx.prepare_cached("DELETE FROM run_items WHERE run_id = ?1 AND list = ?2 AND idx >= ?3")?
            .execute(params![run_id, list as i64, from as i64])?;
    }
    insert(tx, run_id, list, count(from), &new[from..], Rows::New)
}

/// Whether the rows written may already exist (a tail rewrites its window in place) or
/// must be new (after a diff deleted from there: a conflict is then an error).
#[derive(Clone, Copy)]
enum Rows {
    New,
    Replace,
}

fn insert<T: Serialize>(
    tx: &Transaction<'_>,
    run_id: &str,
    list: List,
    from: u64,
    items: &[T],
    rows: Rows,
) -> rusqlite::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(match rows {
        Rows::New => "INSERT INTO run_items (run_id, list, idx, item) VALUES (?1, ?2, ?3, ?4)",
        Rows::Replace => {
            "INSERT OR REPLACE INTO run_items (run_id, list, idx, item) VALUES (?1, ?2, ?3, ?4)"
        }
    })?;
    for (i, item) in (from..).zip(items) {
        // Plain data (string keys, finite numbers): serialising cannot fail.
        let json = serde_json::to_string(item).unwrap_or_default();
        let idx = i64::try_from(i).unwrap_or(i64::MAX);
        stmt.execute(params![run_id, list as i64, idx, json])?;
    }
    Ok(())
}

/// Call ids are a sorted set: the new ones are appended as rows; a removed one (never done
/// by the controller) rewrites the list.
fn write_ids(
    tx: &Transaction<'_>,
    run_id: &str,
    old: &[String],
    new: &[String],
) -> rusqlite::Result<()> {
    let (mut added, mut i) = (Vec::new(), 0);
    for id in new {
        if i < old.len() && old[i] < *id {
            // `old[i]` is not in `new` (both sorted): a removal.
            return rewrite_ids(tx, run_id, new);
        }
        if i < old.len() && old[i] == *id {
            i += 1;
        } else {
            added.push(id);
        }
    }
    if i < old.len() {
        return rewrite_ids(tx, run_id, new);
    }
    insert(
        tx,
        run_id,
        List::CallIds,
        count(old.len()),
        &added,
        Rows::New,
    )
}

fn rewrite_ids(tx: &Transaction<'_>, run_id: &str, new: &[String]) -> rusqlite::Result<()> {
    clear(tx, run_id, List::CallIds)?;
    insert(tx, run_id, List::CallIds, 0, new, Rows::New)
}

/// Deletes every row of one list of `run_id`.
fn clear(tx: &Transaction<'_>, run_id: &str, list: List) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM run_items WHERE run_id = ?1 AND list = ?2")?
        .execute(params![run_id, list as i64])?;
    Ok(())
}

/// Reads the rows of `run_id` and checks them against the head's `items`.
pub(crate) fn read(
    conn: &rusqlite::Connection,
    run_id: &str,
    items: Items,
) -> rusqlite::Result<Result<Lists, FormatError>> {
    let mut stmt = conn.prepare_cached(
        "SELECT list, idx, item FROM run_items WHERE run_id = ?1 ORDER BY list, idx",
    )?;
    let mut rows = stmt.query([run_id])?;
    let mut raw: [Vec<String>; 5] = Default::default();
    while let Some(row) = rows.next()? {
        let (list, idx, item): (i64, i64, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let Some(slot) = usize::try_from(list).ok().and_then(|l| raw.get_mut(l)) else {
            return Ok(Err(damaged(format!(
                "a history row of unknown list {list}"
            ))));
        };
        if usize::try_from(idx).ok() != Some(slot.len()) {
            return Ok(Err(damaged(format!(
                "history row {idx} of list {list} is out of order"
            ))));
        }
        slot.push(item);
    }
    let [live, transcript, steps, compactions, call_ids] = raw;
    Ok((|| {
        let mut lists = Lists {
            live: parse(live, items.live, "live history")?,
            transcript: parse(transcript, items.transcript, "transcript")?,
            steps: parse(steps, items.steps, "step records")?,
            compactions: parse(compactions, items.compactions, "compactions")?,
            call_ids: parse(call_ids, items.call_ids, "call ids")?,
        };
        lists.call_ids.sort();
        Ok(lists)
    })())
}

fn damaged(detail: String) -> FormatError {
    FormatError::Corrupt { detail }
}

fn parse<T: DeserializeOwned>(
    rows: Vec<String>,
    expected: u64,
    what: &str,
) -> Result<Vec<T>, FormatError> {
    if count(rows.len()) != expected {
        return Err(damaged(format!(
            "the {what} has {} stored elements, its checkpoint says {expected}",
            rows.len()
        )));
    }
    (rows.iter().enumerate())
        .map(|(i, json)| {
            serde_json::from_str(json)
                .map_err(|e| damaged(format!("element {i} of the {what} does not parse: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::first_change;

    #[test]
    fn a_change_inside_the_window_is_found_and_an_append_starts_after_the_old_end() {
        assert_eq!(first_change(&[1, 2, 3], &[1, 2, 3, 4], 2), 3);
        assert_eq!(first_change(&[1, 2, 3], &[1, 2, 9, 4], 2), 2);
        assert_eq!(first_change(&[1, 2, 3], &[1, 2], 2), 2);
        assert_eq!(first_change(&[1, 2, 3], &[7, 2, 3], usize::MAX), 0);
        assert_eq!(first_change::<u8>(&[], &[1], 2), 0);
    }
}
