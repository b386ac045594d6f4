//! What `warden run` tells a person on stderr (retries, rejected answers, an empty forced
//! answer, log lines) and the `--json` contract: stamped events only, stderr empty, the
//! sequence of a scripted run held against a golden file.

use mock_llm::Turn;
use serde_json::Value;

use crate::support::{Fixture, assert_code, calc_tool, multiply_json_run, text};

/// The golden event sequence of [`multiply_script`] (`UPDATE_GOLDEN=1` rewrites it).
const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/cli/golden/run_events.jsonl"
);

/// The events of a `--json` run's stdout, each checked for its stamp.
fn stamped_events(stdout: &str) -> Vec<Value> {
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let run_id = events[0]["run_id"].as_str().unwrap().to_string();
    assert_eq!(run_id.len(), 32, "{run_id}");
    for event in &events {
        assert_eq!(event["schema"], 1, "{event}");
        assert_eq!(event["run_id"], run_id.as_str(), "one run id: {event}");
        assert!(event["ts"].as_str().unwrap().ends_with('Z'), "{event}");
        assert!(event["step"].is_u64(), "{event}");
        assert!(event["type"].is_string(), "{event}");
    }
    events
}

/// `event` without what differs from run to run: the stamp's id and time, and measured
/// figures of tool calls (wall time, fuel, memory).
fn stable(mut event: Value) -> Value {
    let object = event.as_object_mut().unwrap();
    object.remove("run_id");
    object.remove("ts");
    if object["type"] == "tool_call_finished" {
        object.remove("usage");
    }
    if object["type"] == "run_finished" {
        let usage = object["usage"].as_object_mut().unwrap();
        for measured in ["fuel", "tool_wall_ms", "wall_ms", "peak_memory_bytes"] {
            usage.remove(measured);
        }
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_events_of_a_scripted_run_match_the_golden_file() {
    let (_fx, out) = multiply_json_run().await;
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let events = stamped_events(&text(&out.stdout));
    let steps: Vec<u64> = events.iter().map(|e| e["step"].as_u64().unwrap()).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let second_call = types.iter().rposition(|t| *t == "model_request").unwrap();
    assert!(steps[..second_call].iter().all(|s| *s == 0), "{steps:?}");
    assert!(steps[second_call..].iter().all(|s| *s == 1), "{steps:?}");
    let got: String = events
        .into_iter()
        .map(|e| format!("{}\n", stable(e)))
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &got).unwrap();
    }
    let want = std::fs::read_to_string(GOLDEN).unwrap();
    assert_eq!(
        got, want,
        "events differ from {GOLDEN} (UPDATE_GOLDEN=1 rewrites it)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_error_page_is_retried_and_shown_once_by_its_title() {
    let fx = Fixture::new(vec![Turn::text("made it")]).await;
    fx.mock.push_faults(["html:502".parse().unwrap()]);
    let agent = fx.agent(&fx.openai());
    let out = fx.run(&["run", agent.to_str().unwrap(), "x"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "made it\n");
    let err = text(&out.stderr);
    let retries: Vec<&str> = err.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 1, "one line per retry: {err}");
    assert!(
        retries[0].contains("non-JSON response from")
            && retries[0].contains("(content-type text/html, status 502): 502 Bad Gateway"),
        "{err}"
    );
    assert!(!err.contains("<p>") && !err.contains("<html"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_an_event_and_log_lines_become_events_in_json_mode() {
    let fx = Fixture::new(vec![Turn::text("made it")]).await;
    fx.mock.push_faults(["html:502".parse().unwrap()]);
    let agent = fx.agent(&fx.openai());
    let out = fx
        .command(&["run", "--json", agent.to_str().unwrap(), "x"])
        .env("WARDEN_LOG", "warden=debug")
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let events = stamped_events(&text(&out.stdout));
    let retry = events.iter().find(|e| e["type"] == "retry").unwrap();
    assert_eq!(retry["attempt"], 1);
    let logs: Vec<&Value> = events.iter().filter(|e| e["type"] == "log").collect();
    assert!(
        logs.iter()
            .any(|l| l["level"] == "debug" && l["message"] == "LLM request failed; retrying"),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_log_format_json_writes_json_log_lines() {
    let fx = Fixture::new(vec![Turn::text("made it")]).await;
    fx.mock.push_faults(["html:502".parse().unwrap()]);
    let agent = fx.agent(&fx.openai());
    let out = fx
        .command(&["run", agent.to_str().unwrap(), "x"])
        .env("WARDEN_LOG", "warden=debug")
        .env("WARDEN_LOG_FORMAT", "json")
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let err = text(&out.stderr);
    let log = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "LLM request failed; retrying");
    assert!(log.is_some(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_answer_is_shown_and_is_an_event() {
    let turns = vec![Turn::text("forty-two"), Turn::text(r#"{"n":42}"#)];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!(
        "{}[output]\nschema = {{ type = \"object\", required = [\"n\"] }}\n",
        fx.openai()
    ));
    let out = fx.run(&["run", agent.to_str().unwrap(), "n?"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "{\"n\":42}\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("answer rejected by the output schema")
            && err.contains("asking the model again"),
        "{err}"
    );

    let fx = Fixture::new(vec![Turn::text("forty-two"), Turn::text(r#"{"n":42}"#)]).await;
    let agent = fx.agent(&format!(
        "{}[output]\nschema = {{ type = \"object\", required = [\"n\"] }}\n",
        fx.openai()
    ));
    let out = fx
        .run(&["run", "--json", agent.to_str().unwrap(), "n?"])
        .await;
    let events = stamped_events(&text(&out.stdout));
    let rejected = events
        .iter()
        .find(|e| e["type"] == "output_rejected")
        .unwrap();
    assert_eq!(rejected["attempt"], 1);
    assert_eq!(rejected["will_retry"], true);
    assert_eq!(rejected["step"], 0);
    assert!(
        rejected["reason"].as_str().unwrap().contains("JSON"),
        "{rejected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_forced_answer_says_so_and_why() {
    // The turn limit is hit after one call; the forced answer (tools off) asks for a tool.
    let turns = vec![
        Turn::call("calc", r#"{"expression":"1+1"}"#),
        Turn::call("calc", r#"{"expression":"2+2"}"#),
    ];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!(
        "{}{}[budget]\nmax_turns = 1\n",
        fx.openai(),
        calc_tool()
    ));
    let out = fx.run(&["run", agent.to_str().unwrap(), "loop"]).await;
    assert_code(&out, 3);
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("the forced final answer came back empty: the model asked for tools although they were turned off"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_call_that_fails_for_good_is_summed_up_on_one_line() {
    let fx = Fixture::new(vec![Turn::text("never")]).await;
    // More gateway pages than the client's retries.
    fx.mock
        .push_faults(std::iter::repeat_n("html:502".parse().unwrap(), 10));
    let agent = fx.agent(&format!(
        "{}[model.retry]\nmax_attempts = 2\ninitial_backoff_ms = 1\n",
        fx.openai()
    ));
    let out = fx.run(&["run", agent.to_str().unwrap(), "x"]).await;
    assert_code(&out, 1);
    let err = text(&out.stderr);
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("model call failed"), "{err}");
    assert!(
        last.contains("(content-type text/html, status 502) after 2 attempts: 502 Bad Gateway"),
        "{err}"
    );
    assert!(!err.contains("<p>"), "{err}");
}
