//! A guest that hands the host a string that is not UTF-8 (its output, its error message or
//! a log line; a stray byte or a UTF-8-encoded lone surrogate) gets `invalid_output`, never a
//! host error, and the next benign call works.

use warden_e2e::sandbox::{assert_echo_works, executor, hostile, quick_policy};
use warden_sandbox::ToolCallError;

/// Calls `bad_utf8` with `place` and `kind` and returns the call's error.
async fn bad_utf8(place: &str, kind: &str) -> ToolCallError {
    let set = hostile().await;
    let args = format!(r#"{{"where":"{place}","kind":"{kind}"}}"#);
    let outcome = executor()
        .call(&set, "bad_utf8", &args, &quick_policy())
        .await;
    assert_echo_works(executor(), &set).await;
    match outcome.result {
        Err(e) => e,
        Ok(out) => panic!("bad_utf8 {place}/{kind} succeeded with {out:?}"),
    }
}

fn assert_invalid_utf8(err: &ToolCallError) {
    match err {
        ToolCallError::InvalidOutput { message } => {
            assert!(message.contains("not valid UTF-8"), "{message}");
        }
        other => panic!("expected invalid_output, got {} ({other})", other.kind()),
    }
}

#[tokio::test]
async fn an_output_with_an_invalid_byte_is_invalid_output() {
    assert_invalid_utf8(&bad_utf8("output", "byte").await);
}

#[tokio::test]
async fn an_output_with_a_lone_surrogate_is_invalid_output() {
    assert_invalid_utf8(&bad_utf8("output", "surrogate").await);
}

#[tokio::test]
async fn an_error_message_that_is_not_utf8_is_invalid_output() {
    assert_invalid_utf8(&bad_utf8("error", "byte").await);
    assert_invalid_utf8(&bad_utf8("error", "surrogate").await);
}

#[tokio::test]
async fn a_log_line_that_is_not_utf8_is_invalid_output() {
    assert_invalid_utf8(&bad_utf8("log", "byte").await);
    assert_invalid_utf8(&bad_utf8("log", "surrogate").await);
}
