//! `warden-bench --durability` end to end (in-process mock, one measured repeat): every
//! figure it promises is printed as a positive number, and the store's files are gone after.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

#[test]
fn the_durability_bench_prints_every_figure() {
    let cache = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden-bench"))
        .args(["--durability", "--repeats", "1"])
        .env("WARDEN_CACHE_DIR", cache.path())
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &line["durability"];
    let positive = |v: &Value, what: &str| {
        assert!(v.as_f64().is_some_and(|x| x > 0.0), "{what}: {v} in {line}");
    };
    for calls in ["10_model_calls", "100_model_calls"] {
        let walls = &d["per_run_length"][calls]["wall_ms_per_model_call"];
        for way in [
            "durability_off",
            "sqlite_normal",
            "sqlite_full",
            "sqlite_normal_and_otlp_export",
        ] {
            positive(&walls[way], &format!("{calls} {way}"));
        }
        let floor = &d["per_run_length"][calls]["sqlite_floor_ms_per_model_call"];
        positive(floor, &format!("{calls} sqlite floor"));
        positive(
            &d["per_run_length"][calls]["sqlite_floor_percent"],
            "floor percent",
        );
        let added = &d["per_run_length"][calls]["added_percent"];
        assert!(added["sqlite_full"].is_number(), "{line}");
    }
    positive(&d["database_kib_per_1000_model_calls"], "database size");
    positive(&d["resume_100_call_run_ms"], "resume");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "the bench's stores were removed: {left:?}");
}
