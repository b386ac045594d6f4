//! Many concurrent calls, benign and hostile mixed, against a pool far smaller than the
//! number of calls: calls queue instead of failing, and every benign call succeeds.

use std::sync::Arc;
use std::time::Duration;

use warden_e2e::sandbox::{cache_dir, config_with, quick_policy, state_dir};
use warden_sandbox::{EngineConfig, Executor, ToolPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_mixed_calls_with_eight_slots_all_benign_calls_succeed() {
    let exec = Executor::new(EngineConfig {
        max_concurrent_calls: 8,
        ..config_with(cache_dir(), state_dir())
    })
    .unwrap();
    let set = exec
        .load_file(warden::testing::guests::HOSTILE)
        .await
        .unwrap();
    let policy = Arc::new(ToolPolicy {
        fuel: Some(2_000_000),
        ..quick_policy()
    });
    let big = Arc::new(ToolPolicy {
        fuel: Some(500_000_000),
        ..quick_policy()
    });
    let no_fuel = Arc::new(ToolPolicy {
        fuel: None,
        timeout: Duration::from_millis(100),
        ..quick_policy()
    });

    let mut tasks = Vec::new();
    for i in 0..1000usize {
        let (exec, set) = (exec.clone(), set.clone());
        let (policy, no_fuel, big) = (policy.clone(), no_fuel.clone(), big.clone());
        tasks.push(tokio::spawn(async move {
            let (tool, args, policy, expected) = match i % 10 {
                0 => ("spin", "{}".to_string(), &*policy, Some("out_of_fuel")),
                1 => ("panic", "{}".to_string(), &*policy, Some("trap")),
                2 => (
                    "huge_output",
                    r#"{"bytes": 2000000}"#.to_string(),
                    &*big,
                    Some("output_too_large"),
                ),
                3 if i % 100 == 3 => ("spin", "{}".to_string(), &*no_fuel, Some("timeout")),
                4 => (
                    "read_file",
                    r#"{"path": "/etc/passwd"}"#.to_string(),
                    &*policy,
                    Some("tool_failed"),
                ),
                _ => ("echo", format!(r#"{{"text":"call {i}"}}"#), &*policy, None),
            };
            let outcome = exec.call(&set, tool, &args, policy).await;
            (i, tool, expected, outcome.result)
        }));
    }
    let mut benign = 0;
    for task in tasks {
        let (i, tool, expected, result) = task.await.unwrap();
        match (expected, result) {
            (None, Ok(out)) => {
                assert_eq!(out, format!(r#"{{"text":"call {i}"}}"#));
                benign += 1;
            }
            (None, Err(e)) => panic!("benign call {i} failed: {e:?}"),
            (Some(kind), Err(e)) => assert_eq!(e.kind(), kind, "call {i} ({tool}): {e:?}"),
            (Some(kind), Ok(out)) => {
                panic!("hostile call {i} ({tool}) expected {kind}, got {out:.100}")
            }
        }
    }
    assert_eq!(benign, 1000 - 100 - 100 - 100 - 10 - 100);
}
