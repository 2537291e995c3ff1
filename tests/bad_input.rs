//! Malformed, unknown, mistyped, premature and oversized input, over both
//! transports: each gets the right error and the connection keeps working.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use serde_json::{Value, json};
use support::{Client, ServerProcess, data_dir};

async fn exercise(client: &mut Client) {
    // Before initialize: LSP and codelab requests alike are refused.
    let err = client.call_err("codelab/listSessions", json!({})).await;
    assert_eq!(err["code"], -32002, "{err}");
    let id = client.send_request("textDocument/hover", Some(json!({})));
    let err = client
        .response(json!(id))
        .await
        .expect_err("hover before init");
    assert_eq!(err["code"], -32002, "{err}");

    client.initialize(&[], None).await;

    // Malformed JSON: parse error with a null id.
    client.send_raw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    let err = client.null_id_error().await;
    assert_eq!(err["code"], -32700, "{err}");

    // Not a request: invalid request.
    client.send_raw("[1, 2]");
    let err = client.null_id_error().await;
    assert_eq!(err["code"], -32600);
    assert!(err["message"].as_str().unwrap().contains("batch"), "{err}");
    client.send_raw(r#"{"jsonrpc":"2.0","id":77}"#);
    let err = client.response(json!(77)).await.expect_err("no method");
    assert_eq!(err["code"], -32600);

    // Unknown methods, codelab and LSP.
    let err = client.call_err("codelab/doesNotExist", json!({})).await;
    assert_eq!(err["code"], -32601);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("codelab/doesNotExist")
    );
    let err = client.call_err("custom/whatever", json!({})).await;
    assert_eq!(err["code"], -32601);

    // Wrong parameter types name the field.
    let err = client
        .call_err("codelab/listSessions", json!({"limit": "ten"}))
        .await;
    assert_eq!(err["code"], -32602);
    assert_eq!(err["data"]["field"], "limit");
    let err = client
        .call_err("codelab/getSession", json!({"sessionId": 42}))
        .await;
    assert_eq!(err["data"]["field"], "sessionId");
    let err = client.call_err("codelab/getSession", json!({})).await;
    assert_eq!(err["data"]["field"], "sessionId");
    assert!(
        err["message"].as_str().unwrap().contains("missing field"),
        "{err}"
    );
    let err = client
        .call_err(
            "codelab/getHistory",
            json!({"sessionId": uuid::Uuid::now_v7(), "limit": 0}),
        )
        .await;
    assert_eq!(err["data"]["field"], "limit");
    let err = client
        .call_err("codelab/listSessions", json!({"cursor": "garbage"}))
        .await;
    assert_eq!(err["data"]["field"], "cursor");
    let err = client
        .call_err("codelab/listAgents", json!({"unexpected": true}))
        .await;
    assert_eq!(err["code"], -32602);
    let err = client.call_err("codelab/listSessions", json!([1])).await;
    assert_eq!(err["code"], -32602);

    // Oversized: refused, connection kept.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":99,"method":"codelab/createSession","params":{{"title":"{}"}}}}"#,
        "x".repeat(17 * 1024 * 1024)
    );
    client.send_raw(big);
    let err = client.null_id_error().await;
    assert_eq!(err["code"], -33005, "{err}");
    assert!(
        err["data"]["detail"].as_str().unwrap().contains("limit"),
        "{err}"
    );

    // Still working, and nothing was created by the refused messages.
    let s = client
        .call("codelab/createSession", json!({"title": "after"}))
        .await;
    let list = client.call("codelab/listSessions", json!({})).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(list["sessions"][0]["id"], s["id"]);
}

#[tokio::test]
async fn bad_input_over_stdio() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    exercise(&mut client).await;
    client.finish().await;
    assert_eq!(server.wait().await, Some(0));
}

#[tokio::test]
async fn bad_input_over_websocket() {
    let dir = data_dir();
    let server = ServerProcess::websocket(dir.path()).await;
    let mut client = server.ws_client().await;
    exercise(&mut client).await;
    client.finish().await;
}

#[tokio::test]
async fn broken_stdio_framing_is_survived() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    client.initialize(&[], None).await;
    // A header block without Content-Length.
    client.send_bytes(b"X-Garbage: 1\r\n\r\n");
    let err = client.null_id_error().await;
    assert_eq!(err["code"], -32700);
    assert!(
        err["message"].as_str().unwrap().contains("Content-Length"),
        "{err}"
    );
    // A body that is not UTF-8.
    client.send_bytes(b"Content-Length: 2\r\n\r\n\xff\xfe");
    let err = client.null_id_error().await;
    assert_eq!(err["code"], -32700);
    // An empty body.
    client.send_bytes(b"Content-Length: 0\r\n\r\n");
    let err = client.null_id_error().await;
    assert_eq!(err["code"], -32700);
    let s = client.call("codelab/createSession", Value::Null).await;
    assert!(s["id"].is_string());
    client.finish().await;
    assert_eq!(server.wait().await, Some(0));
}

#[tokio::test]
async fn binary_frames_over_websocket() {
    let dir = data_dir();
    let server = ServerProcess::websocket(dir.path()).await;
    let mut client = server.ws_client().await;
    client.initialize(&[], None).await;
    client.send_bytes(b"\xff\xfe");
    let err = client.null_id_error().await;
    assert_eq!(err["code"], -32700);
    // A UTF-8 binary frame is read as a message.
    client.send_bytes(br#"{"jsonrpc":"2.0","id":5,"method":"codelab/listAgents"}"#);
    let agents = client.response(json!(5)).await.expect("listAgents");
    assert_eq!(agents["agents"].as_array().map(Vec::len), Some(5));
    client.finish().await;
}
