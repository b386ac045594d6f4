//! The SQLite store against real SQLite files: round trips, fencing, retention, and each
//! kind of bad input (damaged, truncated, locked, newer, full), where nothing recorded may
//! be lost.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use warden_core::budget::Budget;
use warden_core::controller::{Controller, LoopConfig};
use warden_core::events::{EventRecord, EventStamper, RunEvent};
use warden_store::*;

fn checkpoint(input: &str) -> RunCheckpoint {
    let controller = Controller::new(LoopConfig::new("gpt-4o-mini"), vec![], input).unwrap();
    let agent = AgentSummary {
        digest: "digest".into(),
        name: "agent".into(),
        tools: vec![],
        budget: Budget::default(),
        file: None,
        guardrails: vec![],
    };
    RunCheckpoint::new(agent, controller.snapshot())
}

fn new_run(id: &str) -> NewRun {
    NewRun {
        run_id: id.into(),
        session: None,
        input: format!("task of {id}"),
        checkpoint: checkpoint(id),
    }
}

/// One `model_request` per text (it has a `step` field of its own, as the stamp does).
fn events(run: &str, texts: &[&str]) -> Vec<EventRecord> {
    let mut stamper = EventStamper::new(run);
    (texts.iter().enumerate())
        .map(|(step, t)| {
            stamper.record(RunEvent::ModelRequest {
                step: step + 7,
                kind: warden_core::state::ModelCallKind::Turn,
                messages: t.len(),
                tools: 0,
                estimated_input_tokens: 1,
            })
        })
        .collect()
}

fn write(status: RunStatus, run: &str, texts: &[&str]) -> CheckpointWrite {
    CheckpointWrite {
        checkpoint: checkpoint(run),
        status,
        events: events(run, texts),
        responses: Vec::new(),
        tails: None,
    }
}

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("sub/runs.db")).unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_run_checkpoints_and_loads_with_its_events_in_order() {
    let (_dir, store) = store();
    let lease = store.create_run(new_run("aa11")).await.unwrap();
    (store.checkpoint(&lease, write(RunStatus::Running, "aa11", &["a", "b"])))
        .await
        .unwrap();
    (store.checkpoint(&lease, write(RunStatus::Finished, "aa11", &["c"])))
        .await
        .unwrap();
    let loaded = store.load("aa11").await.unwrap();
    assert_eq!(loaded.summary.status, RunStatus::Finished);
    assert_eq!(loaded.checkpoint, checkpoint("aa11"));
    let stored = store.events("aa11").await.unwrap();
    let mut expected = events("aa11", &["a", "b"]);
    expected.extend(events("aa11", &["c"]));
    let strip = |r: &EventRecord| (r.step, r.event.clone(), r.run_id.clone());
    assert_eq!(
        stored.iter().map(strip).collect::<Vec<_>>(),
        expected.iter().map(strip).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_stale_lease_cannot_write_after_another_took_the_run() {
    let (_dir, store) = store();
    let old = store.create_run(new_run("bb22")).await.unwrap();
    let new = store.acquire("bb22").await.unwrap();
    assert!(new.token > old.token);
    let err = (store.checkpoint(&old, write(RunStatus::Finished, "bb22", &["stale"])))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    assert!(
        store.events("bb22").await.unwrap().is_empty(),
        "the fenced write left nothing"
    );
    assert_eq!(
        store.load("bb22").await.unwrap().summary.status,
        RunStatus::Running
    );
    (store.checkpoint(&new, write(RunStatus::Running, "bb22", &["ok"])))
        .await
        .unwrap();
}

#[tokio::test]
async fn ids_resolve_by_last_full_id_and_unique_prefix() {
    let (_dir, store) = store();
    for id in ["abc1", "abc2", "def3"] {
        store.create_run(new_run(id)).await.unwrap();
    }
    assert_eq!(store.resolve("last").await.unwrap(), "def3");
    assert_eq!(store.resolve("def").await.unwrap(), "def3");
    assert_eq!(store.resolve("abc2").await.unwrap(), "abc2");
    assert!(matches!(
        store.resolve("abc").await,
        Err(StoreError::Ambiguous(_))
    ));
    assert!(matches!(
        store.resolve("zz").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.resolve("%").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn prune_keeps_the_newest_and_every_unfinished_run() {
    let (_dir, store) = store();
    for id in ["r1", "r2", "r3", "r4"] {
        let lease = store.create_run(new_run(id)).await.unwrap();
        let status = if id == "r1" {
            RunStatus::Paused
        } else {
            RunStatus::Finished
        };
        store
            .checkpoint(&lease, write(status, id, &[]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Younger than a day: nothing goes.
    let day = Retention {
        older_than: Some(Duration::from_secs(86_400)),
        keep: None,
    };
    assert_eq!(store.prune(day).await.unwrap(), 0);
    let keep_one = Retention {
        older_than: None,
        keep: Some(1),
    };
    assert_eq!(store.prune(keep_one).await.unwrap(), 2);
    let left: Vec<String> = store
        .list(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(left, vec!["r4".to_string(), "r1".to_string()]);
}

#[tokio::test]
async fn a_decision_for_a_run_that_is_not_paused_is_refused() {
    let (_dir, store) = store();
    store.create_run(new_run("cc33")).await.unwrap();
    let err = store.decide("cc33", Decision::Approve).await.unwrap_err();
    assert!(matches!(err, StoreError::NotPaused { .. }), "{err}");
    assert!(err.to_string().contains("running"), "{err}");
}

#[tokio::test]
async fn a_checkpoint_of_a_newer_version_is_refused_by_name_and_kept() {
    let (dir, store) = store();
    store.create_run(new_run("dd44")).await.unwrap();
    drop(store);
    let path = dir.path().join("sub/runs.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut value = serde_json::to_value(checkpoint("dd44")).unwrap();
    value["version"] = 99.into();
    value["written_by"] = "warden-store 9.9.9".into();
    let bytes = serde_json::to_vec(&value).unwrap();
    conn.execute("UPDATE runs SET state = ?1", [&bytes])
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let err = store.load("dd44").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("version 99, written by warden-store 9.9.9"),
        "{err}"
    );
    // Refused, not overwritten: listing still shows it.
    assert_eq!(store.list(5).await.unwrap().len(), 1);
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 42;")
        .unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 42, .. }),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let junk = b"this is not sqlite, just some text that someone wrote here".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("move it aside"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[tokio::test]
async fn a_truncated_database_fails_clearly_and_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        for i in 0..20 {
            let lease = store
                .create_run(new_run(&format!("t{i:03}")))
                .await
                .unwrap();
            let texts: Vec<String> = (0..50)
                .map(|n| format!("event {n} {}", "x".repeat(200)))
                .collect();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            store
                .checkpoint(&lease, write(RunStatus::Finished, "t", &texts))
                .await
                .unwrap();
        }
        // Into the main file, so truncating it loses data.
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    let cut = std::fs::read(&path).unwrap();
    let result = match SqliteStore::open(&path) {
        Err(e) => Err(e),
        Ok(store) => match store.list(100).await {
            Err(e) => Err(e),
            Ok(_) => store.events("t019").await.map(|_| ()),
        },
    };
    let err = result.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        cut,
        "the damaged file is left as it was"
    );
}

#[tokio::test]
async fn a_database_locked_by_another_process_fails_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(50),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    let lease = store.create_run(new_run("ee55")).await.unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    let err = (store.checkpoint(&lease, write(RunStatus::Finished, "ee55", &["x"])))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    other.execute_batch("ROLLBACK;").unwrap();
    assert_eq!(
        store.load("ee55").await.unwrap().summary.status,
        RunStatus::Running
    );
}

/// A full disk, simulated with SQLite's `max_page_count` (a size-limited filesystem needs
/// privileges this test does not have): the write that does not fit fails with `Full`, is
/// rolled back, and every earlier checkpoint still loads.
/// A step write first tries the lock without waiting (on the caller's thread); a writer
/// that holds it for a moment is then waited for, not reported as a failure.
#[tokio::test]
async fn a_step_write_waits_for_a_lock_another_process_releases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    let lease = store.create_run(new_run("ff66")).await.unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        other.execute_batch("COMMIT;").unwrap();
    });
    store
        .tool_started(
            &lease,
            &IdempotencyKey {
                run_id: "ff66".into(),
                step: 0,
                call_id: "c1".into(),
            },
        )
        .await
        .unwrap();
    store
        .checkpoint(&lease, write(RunStatus::Finished, "ff66", &["x"]))
        .await
        .unwrap();
    release.join().unwrap();
    assert_eq!(store.started_calls("ff66").await.unwrap(), ["c1"]);
    assert_eq!(
        store.load("ff66").await.unwrap().summary.status,
        RunStatus::Finished
    );
}

#[tokio::test]
async fn a_full_disk_fails_the_write_and_keeps_what_was_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let options = SqliteOptions {
        max_pages: Some(40),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    let lease = store.create_run(new_run("ff66")).await.unwrap();
    let big = "y".repeat(2000);
    let mut written = 0;
    let err = loop {
        match store
            .checkpoint(
                &lease,
                write(RunStatus::Running, "ff66", &[big.as_str(); 4]),
            )
            .await
        {
            Ok(()) => written += 4,
            Err(e) => break e,
        }
        assert!(written < 10_000, "the size limit never hit");
    };
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert!(written > 0);
    assert_eq!(
        store.events("ff66").await.unwrap().len(),
        written,
        "the failed write left nothing half-done"
    );
    assert_eq!(
        store.load("ff66").await.unwrap().checkpoint,
        checkpoint("ff66")
    );
}
