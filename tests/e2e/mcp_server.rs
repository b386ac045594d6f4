//! warden as an MCP server, driven by rmcp's real client over both transports: listing with
//! schemas, calls with text, `structuredContent` and usage in `_meta`, tool errors as
//! `isError`, hostile tools, cancellation, and 100 concurrent calls over HTTP.

use std::time::Duration;

use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::json;
use warden_e2e::sandbox::{executor, quick_policy};
use warden_mcp::http::HttpOptions;
use warden_mcp::{McpServer, ServeError, ServedComponent};

use crate::mcp_support::{Client, call, http_client, http_server, server, stdio_client, text};

/// Runs `$body(client)` once over stdio and once over HTTP.
macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stdio() {
                let client = crate::mcp_support::stdio_client(crate::mcp_support::server(None).await).await;
                super::$name(&client).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn http() {
                let server = crate::mcp_support::server(None).await;
                let (addr, stop) = crate::mcp_support::http_server(server, Default::default()).await;
                let client = crate::mcp_support::http_client(addr).await;
                super::$name(&client).await;
                stop.cancel();
            }
        }
    )*};
}

both_transports!(
    lists_tools_with_schemas,
    a_call_returns_text_structured_content_and_usage,
    invalid_arguments_are_a_tool_error_with_the_path,
    hostile_tools_end_in_tool_errors_and_the_server_keeps_serving,
    a_result_err_and_an_unknown_tool_are_tool_errors,
);

async fn lists_tools_with_schemas(client: &Client) {
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(
        names.contains(&"calc") && names.contains(&"text_count") && names.contains(&"greet"),
        "{names:?}"
    );
    let count = tools.iter().find(|t| t.name == "text_count").unwrap();
    assert_eq!(count.input_schema["required"], json!(["text"]));
    let output = count
        .output_schema
        .as_ref()
        .expect("typed tools have an output schema");
    assert_eq!(output["type"], "object");
    // A non-object output is listed wrapped as {"result": …}.
    let shout = tools.iter().find(|t| t.name == "text_shout").unwrap();
    assert_eq!(
        shout.output_schema.as_ref().unwrap()["properties"]["result"]["type"],
        "string"
    );
}

async fn a_call_returns_text_structured_content_and_usage(client: &Client) {
    let result = call(client, "text_count", json!({"text": "one two"})).await;
    assert_eq!(result.is_error, Some(false));
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(structured["words"], 2);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text(&result)).unwrap(),
        structured
    );
    let usage = &result.meta.as_ref().unwrap().0["warden/usage"];
    assert!(usage["fuel"].as_u64().unwrap() > 0, "{usage}");
    assert!(usage["peak_memory_bytes"].as_u64().unwrap() > 0, "{usage}");
    let shout = call(client, "text_shout", json!({"text": "hi"})).await;
    assert_eq!(shout.structured_content, Some(json!({"result": "HI"})));
    let calc = call(client, "calc", json!({"expression": "6*7"})).await;
    assert_eq!(calc.structured_content.unwrap()["value"], 42.0);
}

async fn invalid_arguments_are_a_tool_error_with_the_path(client: &Client) {
    let result = call(
        client,
        "text_area",
        json!({"shape": {"tag": "circle", "value": "big"}}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.contains("/shape/value") && message.contains("a number"),
        "{message}"
    );
    let meta = &result.meta.as_ref().unwrap().0;
    assert_eq!(meta["warden/error"]["kind"], "invalid_arguments");
    assert_eq!(
        meta["warden/usage"]["fuel"], 0,
        "an instance ran for invalid arguments"
    );
}

async fn hostile_tools_end_in_tool_errors_and_the_server_keeps_serving(client: &Client) {
    let spin = call(client, "hostile_spin", json!({})).await;
    assert_eq!(spin.is_error, Some(true));
    assert!(
        text(&spin).contains("did not finish within 300 ms"),
        "{}",
        text(&spin)
    );
    let hog = call(client, "hostile_hog", json!({"mib": 64})).await;
    assert_eq!(hog.is_error, Some(true));
    assert!(text(&hog).contains("memory limit"), "{}", text(&hog));
    let ok = call(client, "text_shout", json!({"text": "still here"})).await;
    assert_eq!(ok.structured_content, Some(json!({"result": "STILL HERE"})));
}

async fn a_result_err_and_an_unknown_tool_are_tool_errors(client: &Client) {
    let err = call(client, "text_parse-int", json!({"text": "x"})).await;
    assert_eq!(err.is_error, Some(true));
    assert!(
        text(&err).contains("not a decimal integer"),
        "{}",
        text(&err)
    );
    let unknown = call(client, "no_such_tool", json!({})).await;
    assert_eq!(unknown.is_error, Some(true));
    assert!(
        text(&unknown).contains("no tool named `no_such_tool`"),
        "{}",
        text(&unknown)
    );
}

/// A cancelled call stops: with one instance slot, a call right after gets it (the
/// cancelled one had a 120 s deadline and no fuel limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cancellation_stops_the_call() {
    let mut slow = quick_policy();
    slow.fuel = None;
    slow.timeout = Duration::from_secs(120);
    let one_slot = warden_sandbox::Executor::new(warden_sandbox::EngineConfig {
        max_concurrent_calls: 1,
        ..warden_e2e::sandbox::config_with(
            warden_e2e::sandbox::cache_dir(),
            warden_e2e::sandbox::state_dir(),
        )
    })
    .unwrap();
    let typed = one_slot
        .load_file(warden::testing::guests::TYPED)
        .await
        .unwrap();
    let server = McpServer::new(
        one_slot,
        vec![ServedComponent {
            label: "typed".into(),
            set: typed,
        }],
        |_| Ok::<_, String>(slow.clone()),
    )
    .unwrap();
    let client = stdio_client(server).await;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(CallToolRequestParams::new(
        "hostile_spin",
    )));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    // Let the call take the only slot, then cancel it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.cancel(Some("test".into())).await.unwrap();
    // A liveness bound, not a speed assertion: without cancellation this waits 120 s.
    let next = tokio::time::timeout(
        Duration::from_secs(60),
        call(&client, "text_shout", json!({"text": "next"})),
    )
    .await
    .expect("the cancelled call still holds the only instance slot");
    assert_eq!(next.structured_content, Some(json!({"result": "NEXT"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_over_http() {
    let (addr, stop) = http_server(server(None).await, HttpOptions::default()).await;
    let client = http_client(addr).await;
    let calls = (0..100).map(|i| {
        let client = &client;
        async move {
            let word = format!("w{i}");
            let result = call(client, "text_shout", json!({"text": word})).await;
            (i, result)
        }
    });
    let results = futures::future::join_all(calls).await;
    for (i, result) in results {
        assert_eq!(
            result.structured_content,
            Some(json!({"result": format!("W{i}")})),
            "call {i}"
        );
    }
    stop.cancel();
}

#[tokio::test]
async fn a_tool_name_collision_between_components_is_refused_naming_both() {
    let calc = executor()
        .load_file(warden::testing::guests::CALC)
        .await
        .unwrap();
    let components = vec![
        ServedComponent {
            label: "first/calc.wasm".into(),
            set: calc.clone(),
        },
        ServedComponent {
            label: "second/calc.wasm".into(),
            set: calc,
        },
    ];
    let err = McpServer::new(executor().clone(), components, |_| {
        Ok::<_, String>(quick_policy())
    })
    .err()
    .unwrap();
    match &err {
        ServeError::ToolNameCollision {
            name,
            first,
            second,
        } => {
            assert_eq!(
                (name.as_str(), first.as_str(), second.as_str()),
                ("calc", "first/calc.wasm", "second/calc.wasm")
            );
        }
        other => panic!("expected a collision, got {other:?}"),
    }
}
