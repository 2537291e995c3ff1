//! The real binary over the websocket: health, shared sessions across
//! connections, and the CodeLab backend's view through jsonrpsee's WsClient.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use jsonrpsee::core::client::{ClientT, Error as RpcClientError};
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};
use support::{ServerProcess, data_dir, http_get};

#[tokio::test]
async fn health_reports_version_uptime_and_store() {
    let dir = data_dir();
    let server = ServerProcess::websocket(dir.path()).await;
    let (status, body) = http_get(server.addr.as_deref().unwrap(), "/health").await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).expect("JSON health");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(health["uptimeSecs"].as_f64().is_some_and(|u| u >= 0.0));
    assert_eq!(health["store"]["reachable"], true);
    // Commands are sandboxed on this platform (else the reason is given).
    assert_eq!(health["sandbox"]["available"], true, "{health}");
    assert_eq!(health["sandbox"]["reason"], Value::Null);
    assert_eq!(health["backgroundCommands"], 0);
    let (status, _) = http_get(server.addr.as_deref().unwrap(), "/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn connections_are_separate_clients_over_one_core() {
    let dir = data_dir();
    let server = ServerProcess::websocket(dir.path()).await;
    let mut a = server.ws_client().await;
    let mut b = server.ws_client().await;
    let ia = a.initialize(&["utf-8"], Some("file:///a")).await;
    let ib = b.initialize(&[], Some("file:///b")).await;
    // Each connection negotiates its own encoding.
    assert_eq!(ia["capabilities"]["positionEncoding"], "utf-8");
    assert_eq!(ib["capabilities"]["positionEncoding"], "utf-16");

    let s = a.call("codelab/createSession", json!({})).await;
    assert_eq!(s["workspaceFolder"], "file:///a");
    let seen = b
        .call("codelab/getSession", json!({"sessionId": s["id"]}))
        .await;
    assert_eq!(seen, s);

    // Documents are per connection.
    a.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": "file:///a/x.rs", "languageId": "rust", "version": 1, "text": "fn a() {}"}}),
    );
    let doc = a
        .call("codelab/getDocument", json!({"uri": "file:///a/x.rs"}))
        .await;
    assert_eq!(doc["text"], "fn a() {}");
    let err = b
        .call_err("codelab/getDocument", json!({"uri": "file:///a/x.rs"}))
        .await;
    assert_eq!(err["code"], -33006);

    // One client leaving does not disturb the other.
    a.finish().await;
    let list = b.call("codelab/listSessions", json!({})).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    b.finish().await;
}

fn params(value: Value) -> ObjectParams {
    let mut p = ObjectParams::new();
    for (k, v) in value.as_object().expect("object").clone() {
        p.insert(&k, v).expect("param");
    }
    p
}

#[tokio::test]
async fn codelab_backend_with_jsonrpsee_ws_client() {
    let dir = data_dir();
    let server = ServerProcess::websocket(dir.path()).await;
    let mut headers = jsonrpsee::ws_client::HeaderMap::new();
    headers.insert("x-internal-auth", support::TOKEN.parse().unwrap());
    let client = WsClientBuilder::default()
        .set_headers(headers)
        .build(server.ws_url())
        .await
        .expect("jsonrpsee connects");

    // Before initialize, the server says so.
    let err = client
        .request::<Value, _>("codelab/listSessions", params(json!({})))
        .await
        .expect_err("not initialized");
    match err {
        RpcClientError::Call(e) => assert_eq!(e.code(), -32002),
        other => panic!("unexpected error {other:?}"),
    }

    let init: Value = client
        .request(
            "initialize",
            params(json!({"processId": null, "rootUri": null, "capabilities": {}})),
        )
        .await
        .expect("initialize");
    assert_eq!(
        init["capabilities"]["experimental"]["codelab"]["protocolVersion"],
        "0.3"
    );
    client
        .notification("initialized", params(json!({})))
        .await
        .expect("initialized");

    let mut ids = Vec::new();
    for i in 0..3 {
        let s: Value = client
            .request(
                "codelab/createSession",
                params(
                    json!({"title": format!("backend {i}"), "workspaceFolder": "file:///srv/repo"}),
                ),
            )
            .await
            .expect("createSession");
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let page: Value = client
        .request("codelab/listSessions", params(json!({"limit": 2})))
        .await
        .expect("listSessions");
    let got: Vec<&str> = page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let page2: Value = client
        .request(
            "codelab/listSessions",
            params(json!({"limit": 2, "cursor": page["nextCursor"]})),
        )
        .await
        .expect("listSessions page 2");
    assert_eq!(page2["sessions"][0]["id"], ids[0].as_str());
    assert!(page2.get("nextCursor").is_none());

    let history: Value = client
        .request("codelab/getHistory", params(json!({"sessionId": ids[0]})))
        .await
        .expect("getHistory");
    assert_eq!(history["messages"], json!([]));

    let err = client
        .request::<Value, _>(
            "codelab/getHistory",
            params(json!({"sessionId": uuid::Uuid::now_v7()})),
        )
        .await
        .expect_err("unknown session");
    match err {
        RpcClientError::Call(e) => {
            assert_eq!(e.code(), -33001);
            let data: Value =
                serde_json::from_str(e.data().map(|d| d.get()).unwrap_or("null")).unwrap();
            assert_eq!(data["kind"], "sessionNotFound");
            assert_eq!(data["retryable"], false);
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn refuses_to_listen_beyond_loopback() {
    let dir = data_dir();
    let out = tokio::process::Command::new(support::binary())
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an explicit token"));
}
