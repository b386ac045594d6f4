//! Components built against an older text of the tool world keep working: `prev-wit` was
//! built against `warden:tool` as it was before `host.idempotency-key` was added (a frozen
//! copy of that WIT). The host still instantiates it, and it still reads the call's
//! idempotency key through the deprecated `get-config` fallback.

use serde_json::Value;
use warden_e2e::sandbox::{executor, quick_policy};
use warden_sandbox::IDEMPOTENCY_KEY_CONFIG;

async fn old_key(key: Option<&str>) -> Value {
    let set = executor()
        .load_file(warden::testing::guests::PREV_WIT)
        .await
        .unwrap_or_else(|e| panic!("a component built against the previous WIT must load: {e}"));
    let mut policy = quick_policy();
    if let Some(key) = key {
        policy
            .config
            .insert(IDEMPOTENCY_KEY_CONFIG.into(), key.into());
    }
    let outcome = executor().call(&set, "old_key", "{}", &policy).await;
    let output = outcome
        .result
        .unwrap_or_else(|e| panic!("the old component failed: {e}"));
    serde_json::from_str(&output).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_against_the_previous_wit_instantiates_and_reads_the_key_the_old_way() {
    let key = "0af7651916cd43dd8448eb211c80319c:2:call_\"7\"";
    assert_eq!(old_key(Some(key)).await["key"], key);
    assert_eq!(old_key(None).await["key"], Value::Null);
}
