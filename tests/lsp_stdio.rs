//! The real binary over stdio: lifecycle, sessions, documents, bad input.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use serde_json::{Value, json};
use support::{ServerProcess, data_dir};

#[tokio::test]
async fn lifecycle_sessions_and_agents_over_stdio() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();

    let init = client
        .initialize(&["utf-8", "utf-16"], Some("file:///work/proj"))
        .await;
    let caps = &init["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-8");
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    let codelab = &caps["experimental"]["codelab"];
    assert_eq!(
        codelab["protocolVersion"],
        codelab_agent::protocol::PROTOCOL_VERSION
    );
    assert_eq!(codelab["positionEncoding"], "utf-8");
    assert!(
        codelab["features"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("sessions")))
    );

    // A session defaults to the first workspace folder and the orchestrator.
    let s = client
        .call("codelab/createSession", json!({"title": "first"}))
        .await;
    assert_eq!(s["workspaceFolder"], "file:///work/proj");
    assert_eq!(s["agent"], "orchestrator");
    assert_eq!(s["messageCount"], 0);
    let id = s["id"].as_str().expect("id").to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()).ok(),
        Some(7)
    );
    assert!(chrono::DateTime::parse_from_rfc3339(s["createdAt"].as_str().unwrap_or("")).is_ok());

    let s2 = client
        .call(
            "codelab/createSession",
            json!({"agent": "coder", "workspaceFolder": "file:///other"}),
        )
        .await;
    assert_eq!(s2["agent"], "coder");
    assert_eq!(s2["title"], "New session");

    let got = client
        .call("codelab/getSession", json!({"sessionId": id}))
        .await;
    assert_eq!(got, s);

    let list = client.call("codelab/listSessions", json!({})).await;
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![s2["id"].as_str().unwrap(), id.as_str()],
        "newest first"
    );
    assert!(list.get("nextCursor").is_none());

    let agents = client.call("codelab/listAgents", Value::Null).await;
    let slugs: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["orchestrator", "coder", "architect", "debug", "ask"]
    );
    let architect = &agents["agents"][2];
    assert_eq!(architect["fileRestriction"], r"\.md$");
    let debug_tools = agents["agents"][3]["tools"].as_array().unwrap();
    assert!(
        !debug_tools.contains(&json!("write_file"))
            && !debug_tools.contains(&json!("execute_command"))
    );

    let current = client
        .call("codelab/getCurrentAgent", json!({"sessionId": s2["id"]}))
        .await;
    assert_eq!(current["agent"]["slug"], "coder");

    let history = client
        .call("codelab/getHistory", json!({"sessionId": id}))
        .await;
    assert_eq!(history, json!({"messages": [], "hasMore": false}));

    let deleted = client
        .call("codelab/deleteSession", json!({"sessionId": id}))
        .await;
    assert_eq!(deleted["deletedMessages"], 0);
    let err = client
        .call_err("codelab/getSession", json!({"sessionId": id}))
        .await;
    assert_eq!(err["code"], -33001);
    assert_eq!(err["data"]["kind"], "sessionNotFound");
    assert_eq!(err["data"]["sessionId"], id.as_str());
    let err = client
        .call_err("codelab/createSession", json!({"agent": "wizard"}))
        .await;
    assert_eq!(err["code"], -33004);

    client.finish().await;
    assert_eq!(
        server.wait().await,
        Some(0),
        "clean exit after shutdown + exit"
    );
}

#[tokio::test]
async fn exit_without_shutdown_exits_with_1() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    client.initialize(&[], None).await;
    client.notify("exit", Value::Null);
    client.done();
    assert_eq!(server.wait().await, Some(1));
}

#[tokio::test]
async fn closing_stdin_ends_the_server() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    client.initialize(&[], None).await;
    client.done(); // drops the writer half: stdin closes
    assert_eq!(server.wait().await, Some(0));
}

/// The same edit sequence, with emoji and CRLF, in both encodings.
async fn edit_sequence(encodings: &[&str], expected_encoding: &str, changes: Value) {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    let init = client.initialize(encodings, None).await;
    assert_eq!(init["capabilities"]["positionEncoding"], expected_encoding);
    let uri = "file:///work/proj/notes.txt";
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "plaintext", "version": 1, "text": "a😀b\r\ncafé 🎉!\r\nlast"}}),
    );
    for (i, change) in changes.as_array().unwrap().iter().enumerate() {
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [change]}),
        );
    }
    let doc = client
        .call("codelab/getDocument", json!({"uri": uri}))
        .await;
    assert_eq!(doc["text"], "a😀B café x!\r\nlast\n");
    assert_eq!(doc["version"], changes.as_array().unwrap().len() + 1);

    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    let err = client
        .call_err("codelab/getDocument", json!({"uri": uri}))
        .await;
    assert_eq!(err["code"], -33006);
    client.finish().await;
    assert_eq!(server.wait().await, Some(0));
}

fn change(l1: u32, c1: u32, l2: u32, c2: u32, text: &str) -> Value {
    json!({"range": {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}, "text": text})
}

#[tokio::test]
async fn utf16_edit_sequence_with_emoji_and_crlf() {
    let changes = json!([
        change(0, 3, 0, 4, "B"),
        change(1, 5, 1, 5, "x"),
        change(1, 6, 1, 8, ""),
        change(0, 99, 1, 0, " "),
        change(40, 0, 40, 0, "\n"),
    ]);
    edit_sequence(&[], "utf-16", changes).await;
}

#[tokio::test]
async fn utf8_edit_sequence_with_emoji_and_crlf() {
    let changes = json!([
        change(0, 5, 0, 6, "B"),
        change(1, 6, 1, 6, "x"),
        change(1, 7, 1, 11, ""),
        change(0, 99, 1, 0, " "),
        change(40, 0, 40, 0, "\n"),
    ]);
    edit_sequence(&["utf-8"], "utf-8", changes).await;
}

#[tokio::test]
async fn many_rapid_changes_apply_in_order() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    client.initialize(&[], None).await;
    let uri = "file:///work/proj/counter.txt";
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "plaintext", "version": 0, "text": ""}}),
    );
    // Each change appends at the current end: any reordering scrambles the text.
    let mut expected = String::new();
    for i in 0..500 {
        let line = format!("{i}\n");
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": i + 1},
                   "contentChanges": [change(i, 0, i, 0, &line)]}),
        );
        expected.push_str(&line);
    }
    let doc = client
        .call("codelab/getDocument", json!({"uri": uri}))
        .await;
    assert_eq!(doc["text"], expected);
    client.finish().await;
}

#[tokio::test]
async fn workspace_folders_follow_changes() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    client.initialize(&[], Some("file:///a")).await;
    client.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({"event": {"added": [{"uri": "file:///b", "name": "b"}], "removed": [{"uri": "file:///a", "name": "a"}]}}),
    );
    let s = client.call("codelab/createSession", json!({})).await;
    assert_eq!(s["workspaceFolder"], "file:///b");
    client.finish().await;
}
