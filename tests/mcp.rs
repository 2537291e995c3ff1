//! Tools of MCP servers through the real binary, with a real MCP server: the
//! scripted one of the test suite (`tests/fixtures/mcp/scripted_server.py`,
//! a real process speaking MCP over stdio), configured in the user's
//! `codelab.toml`. The tools reach the model as `mcp__<server>__<tool>`,
//! pass the gate (agent availability, policy wildcards, approvals), return
//! results and errors, and a cancelled turn cancels the running call.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::path::Path;
use std::time::Duration;

use codelab_agent::protocol::requests::{CancelTurn, ListMcpServers};
use codelab_agent::protocol::types::{
    DecideApprovalParams, Decision, ListMcpServersParams, McpServerState, SessionParams,
    StopReason, ToolCallStatus,
};
use serde_json::json;
use support::agent::{Harness, TurnLog, approve, call, calls, complete, decision, drive};

fn script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mcp/scripted_server.py")
        .display()
        .to_string()
}

/// A user file with the scripted server recording into `record`, and `extra`.
fn config(record: &Path, extra: &str) -> String {
    format!(
        "[mcp.servers.scripted]\ncommand = \"python3\"\nargs = [{:?}, {:?}]\n\n{extra}",
        script(),
        record.display().to_string()
    )
}

/// A coder's harness whose user file has the scripted server (`keys` added
/// to its entry, e.g. `"idle_timeout_secs = 0\n"`) recording into a temp
/// file (returned with its folder), every one of its tools allowed.
async fn allowed_scripted(
    replies: Vec<mock_llm::Reply>,
    keys: &str,
) -> (tempfile::TempDir, std::path::PathBuf, Harness) {
    let rec = tempfile::tempdir().unwrap();
    let record = rec.path().join("record");
    let h = Harness::with_config(
        replies,
        "coder",
        false,
        &config(
            &record,
            "[[policy.rules]]\ntool = \"mcp__scripted__*\"\naction = \"allow\"\n",
        )
        .replace("args = [", &format!("{keys}args = [")),
    )
    .await;
    (rec, record, h)
}

fn result(log: &TurnLog, id: &str) -> (ToolCallStatus, String) {
    let (_, s, t) = log
        .tool_results()
        .into_iter()
        .find(|r| r.0 == id)
        .unwrap_or_else(|| panic!("no call {id}"));
    (s, t)
}

/// The tool names of the model's `n`th request.
fn offered(h: &Harness, n: usize) -> Vec<String> {
    h.mock.requests()[n].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the record file has a line starting with `prefix`; returns it.
async fn recorded(record: &Path, prefix: &str) -> String {
    for _ in 0..1000 {
        if let Ok(text) = std::fs::read_to_string(record)
            && let Some(line) = text.lines().find(|l| l.starts_with(prefix))
        {
            return line.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the server never recorded {prefix:?}: {:?}",
        std::fs::read_to_string(record)
    );
}

#[tokio::test]
async fn mcp_tools_are_offered_gated_by_policy_and_called() {
    let rec = tempfile::tempdir().unwrap();
    let record = rec.path().join("record");
    let mut h = Harness::with_config(
        vec![
            calls(
                "",
                &[
                    ("e", "mcp__scripted__echo", json!({"text": "hi"})),
                    ("f", "mcp__scripted__fail", json!({})),
                    ("d", "mcp__scripted__grow", json!({})),
                ],
            ),
            complete("c", "done"),
        ],
        "coder",
        false,
        &config(
            &record,
            "[[policy.rules]]\ntool = \"mcp__scripted__g*\"\naction = \"deny\"\n",
        ),
    )
    .await;
    // Listed before any turn: configured, not started.
    let listed = h
        .client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert_eq!(listed.servers.len(), 1);
    assert_eq!(listed.servers[0].name, "scripted");
    assert_eq!(listed.servers[0].transport, "stdio");
    assert_eq!(listed.servers[0].state, McpServerState::Stopped);
    assert!(listed.servers[0].tools.is_empty());
    let turn = h.send("use the server").await;
    let mut asked = Vec::new();
    let log = drive(
        &mut h.client,
        turn,
        |a| {
            asked.push((a.tool.clone(), a.rule.clone()));
            // The user edits the echo's arguments before approving.
            Some(if a.tool == "mcp__scripted__echo" {
                DecideApprovalParams {
                    params: Some(json!({"text": "edited"})),
                    ..decision(Decision::Edit)
                }
            } else {
                approve()
            })
        },
        |_| None,
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    // Every tool of the server, with its schema, beside the built-in ones.
    let tools = offered(&h, 0);
    for t in [
        "mcp__scripted__echo",
        "mcp__scripted__wait",
        "mcp__scripted__fail",
        "read_file",
    ] {
        assert!(tools.iter().any(|n| n == t), "{t} in {tools:?}");
    }
    let echo = h.mock.requests()[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "mcp__scripted__echo")
        .cloned()
        .unwrap();
    assert_eq!(echo["function"]["description"], "Says the text back.");
    assert_eq!(echo["function"]["parameters"]["required"], json!(["text"]));
    // MCP tools ask by default; the denied one never reaches the server.
    assert_eq!(
        asked,
        [
            (
                "mcp__scripted__echo".to_owned(),
                "built-in rule: ask *".to_owned()
            ),
            (
                "mcp__scripted__fail".to_owned(),
                "built-in rule: ask *".to_owned()
            ),
        ]
    );
    assert_eq!(
        result(&log, "e"),
        (ToolCallStatus::Completed, "echo: edited".to_owned())
    );
    assert_eq!(
        result(&log, "f"),
        (ToolCallStatus::Failed, "it failed on purpose".to_owned())
    );
    let (status, denied) = result(&log, "d");
    assert_eq!(status, ToolCallStatus::Failed);
    assert!(
        denied.starts_with("Denied by policy (user rule: deny mcp__scripted__g*)"),
        "{denied}"
    );
    let calls = std::fs::read_to_string(&record).unwrap();
    assert!(!calls.contains("call grow"), "{calls}");
    let listed = h
        .client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert_eq!(listed.servers[0].state, McpServerState::Running);
    assert!(
        listed.servers[0]
            .tools
            .contains(&"mcp__scripted__echo".to_owned()),
        "{listed:?}"
    );
    h.finish().await;
}

#[tokio::test]
async fn read_only_agents_get_only_read_only_mcp_tools_and_the_orchestrator_none() {
    let rec = tempfile::tempdir().unwrap();
    let record = rec.path().join("record");
    let mut h = Harness::with_config(
        vec![
            call("w", "mcp__scripted__wait", json!({})),
            complete("c", "done"),
        ],
        "debug",
        false,
        &config(&record, ""),
    )
    .await;
    let turn = h.send("look").await;
    let log = drive(
        &mut h.client,
        turn,
        |a| panic!("{} asked", a.tool),
        |_| None,
    )
    .await;
    let tools = offered(&h, 0);
    assert!(
        tools.iter().any(|t| t == "mcp__scripted__echo"),
        "{tools:?}"
    );
    assert!(
        !tools.iter().any(|t| t == "mcp__scripted__wait"),
        "{tools:?}"
    );
    let (status, text) = result(&log, "w");
    assert_eq!(status, ToolCallStatus::Failed);
    assert!(
        text.starts_with("The debug agent cannot use mcp__scripted__wait."),
        "{text}"
    );
    h.finish().await;

    let mut h = Harness::with_config(
        vec![complete("c", "done")],
        "orchestrator",
        false,
        &config(&record, ""),
    )
    .await;
    let turn = h.send("route").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let tools = offered(&h, 0);
    assert!(!tools.iter().any(|t| t.starts_with("mcp__")), "{tools:?}");
    h.finish().await;
}

#[tokio::test]
async fn cancelling_the_turn_cancels_the_running_call_at_the_server() {
    let (_rec, record, mut h) =
        allowed_scripted(vec![call("w", "mcp__scripted__wait", json!({}))], "").await;
    let turn = h.send("wait").await;
    let started = recorded(&record, "call wait ").await;
    let id = started.rsplit(' ').next().unwrap().to_owned();
    h.client
        .call_typed::<CancelTurn>(SessionParams {
            session_id: h.session,
        })
        .await;
    let line = recorded(&record, "cancelled ").await;
    assert_eq!(line, format!("cancelled {id}"), "the call's own request id");
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::Cancelled);
    // Within a second of cancelTurn, as asked (13 ms measured here); not
    // asserted, as the suite makes no timing assertions.
    h.finish().await;
}

/// A call the server does not answer within `call_timeout_secs` is a tool
/// error the model reads, the server is told the call is cancelled (with its
/// request id), and the turn goes on.
#[tokio::test]
async fn a_call_past_its_timeout_is_cancelled_and_the_turn_goes_on() {
    let (_rec, record, mut h) = allowed_scripted(
        vec![
            call("w", "mcp__scripted__wait", json!({})),
            complete("c", "gave up waiting"),
        ],
        "call_timeout_secs = 1\n",
    )
    .await;
    let turn = h.send("wait").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let (status, text) = result(&log, "w");
    assert_eq!(status, ToolCallStatus::Failed);
    assert_eq!(
        text,
        "the MCP tool wait of scripted did not answer within 1 s; the call was cancelled"
    );
    let started = recorded(&record, "call wait ").await;
    let id = started.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(
        recorded(&record, "cancelled ").await,
        format!("cancelled {id}")
    );
    h.finish().await;
}

#[tokio::test]
async fn a_server_that_crashes_mid_call_gives_a_tool_error_and_returns_after_its_backoff() {
    let (_rec, _record, mut h) = allowed_scripted(
        vec![
            call("x", "mcp__scripted__crash", json!({})),
            complete("c", "noted"),
            call("e", "mcp__scripted__echo", json!({"text": "back"})),
            complete("c2", "done"),
        ],
        "",
    )
    .await;
    let turn = h.send("crash").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let (status, text) = result(&log, "x");
    assert_eq!(status, ToolCallStatus::Failed);
    assert!(
        text.contains("the MCP tool crash of scripted failed"),
        "{text}"
    );
    // The model's next request no longer offers the crashed server's tools
    // (it is started again after a backoff).
    let tools = offered(&h, 1);
    assert!(!tools.iter().any(|t| t.starts_with("mcp__")), "{tools:?}");
    let listed = h
        .client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert_eq!(
        listed.servers[0].state,
        McpServerState::Failed,
        "{listed:?}"
    );
    assert!(listed.servers[0].error.is_some(), "{listed:?}");
    // It is started again once its backoff (1 s after a first failure) has
    // passed: the next turn offers its tools and the call runs.
    let wait = listed.servers[0]
        .retry_in_ms
        .unwrap_or_else(|| panic!("a failed server says when it is retried: {listed:?}"));
    assert!(wait <= 1000, "{listed:?}");
    tokio::time::sleep(Duration::from_millis(wait + 1)).await;
    let turn = h.send("echo").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(
        result(&log, "e"),
        (ToolCallStatus::Completed, "echo: back".to_owned())
    );
    assert!(offered(&h, 2).iter().any(|t| t == "mcp__scripted__echo"));
    let listed = h
        .client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert_eq!(
        listed.servers[0].state,
        McpServerState::Running,
        "{listed:?}"
    );
    assert_eq!(listed.servers[0].retry_in_ms, None, "{listed:?}");
    h.finish().await;
}

/// A server that hangs in `initialize` and one whose program does not exist:
/// the turn goes on without their tools, a call to one of them is told why it
/// is unavailable, and `listMcpServers` says why each failed.
#[tokio::test]
async fn servers_that_hang_or_cannot_start_give_a_status_and_a_clear_tool_error() {
    let mut h = Harness::with_config(
        vec![
            call("h", "mcp__hang__anything", json!({})),
            complete("c", "went on"),
        ],
        "coder",
        false,
        "[mcp.servers.hang]\ncommand = \"python3\"\nargs = [\"-c\", \"import time; time.sleep(600)\"]\n\
         startup_timeout_secs = 1\n\n[mcp.servers.missing]\ncommand = \"/nonexistent/codelab-mcp-server\"\n",
    )
    .await;
    let turn = h.send("use them").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let (status, text) = result(&log, "h");
    assert_eq!(status, ToolCallStatus::Failed);
    assert!(
        text.starts_with("The tool `mcp__hang__anything` is unavailable: ")
            && text.contains("did not answer initialize within 1 s"),
        "{text}"
    );
    assert!(!offered(&h, 0).iter().any(|t| t.starts_with("mcp__")));
    let listed = h
        .client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    let by_name = |n: &str| {
        listed
            .servers
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("{n}: {listed:?}"))
    };
    assert_eq!(by_name("hang").state, McpServerState::Failed);
    assert!(
        by_name("hang")
            .error
            .as_deref()
            .is_some_and(|e| e.contains("did not answer initialize within 1 s")),
        "{listed:?}"
    );
    assert_eq!(by_name("missing").state, McpServerState::Failed);
    assert!(
        by_name("missing")
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("the MCP server missing did not start")),
        "{listed:?}"
    );
    h.finish().await;
}

#[tokio::test]
async fn an_invalid_server_entry_stops_the_start_with_its_key() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[mcp.servers.\"bad__name\"]\ncommand = \"x\"\n",
    )
    .unwrap();
    let err = codelab_agent::settings::UserSettings::load(&data.path().join("codelab.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("mcp.servers.bad__name"), "{err}");
    assert!(err.contains("without `__`"), "{err}");
}

/// A workspace's `.codelab/config.toml` adds MCP servers only when the user
/// trusts the workspace.
#[tokio::test]
async fn a_workspace_adds_servers_only_when_trusted() {
    let rec = tempfile::tempdir().unwrap();
    let record = rec.path().join("record");
    let ws_config = format!(
        "[mcp.servers.wsserver]\ncommand = \"python3\"\nargs = [{:?}, {:?}]\n",
        script(),
        record.display().to_string()
    );
    // Untrusted: its servers are ignored.
    let mut h = Harness::with_config(vec![complete("c", "done")], "coder", false, "").await;
    std::fs::create_dir_all(h.root().join(".codelab")).unwrap();
    std::fs::write(h.root().join(".codelab/config.toml"), &ws_config).unwrap();
    let turn = h.send("look").await;
    drive(&mut h.client, turn, |_| None, |_| None).await;
    let tools = offered(&h, 0);
    assert!(!tools.iter().any(|t| t.starts_with("mcp__")), "{tools:?}");
    h.finish().await;

    // Trusted: they are the session's too.
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join(".codelab")).unwrap();
    std::fs::write(root.join(".codelab/config.toml"), &ws_config).unwrap();
    let trust = format!("[trust]\nworkspaces = [{:?}]\n", root.display().to_string());
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![complete("c", "done")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("codelab.toml"), trust).unwrap();
    let mut server =
        support::ServerProcess::stdio_env(data.path(), &support::agent::llm_env(&mock));
    let mut client = server.stdio_client();
    client
        .initialize_with(&[], Some(&support::file_uri(&root)), false)
        .await;
    let session = client
        .call_typed::<codelab_agent::protocol::requests::CreateSession>(
            codelab_agent::protocol::types::CreateSessionParams {
                agent: Some("coder".into()),
                ..Default::default()
            },
        )
        .await
        .id;
    let turn = support::agent::send(&mut client, session, "look").await;
    drive(&mut client, turn, |_| None, |_| None).await;
    let tools: Vec<String> = mock.requests()[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        tools.iter().any(|t| t == "mcp__wsserver__echo"),
        "{tools:?}"
    );
    client.finish().await;
}

/// A changed tool list is picked up at the next model request; a server idle
/// for its idle time stops, and starts again on the next use.
#[tokio::test]
async fn tool_list_changes_are_picked_up_and_an_idle_server_stops_and_restarts() {
    let (_rec, _record, mut h) = allowed_scripted(
        vec![
            call("g", "mcp__scripted__grow", json!({})),
            complete("c", "grown"),
            call("a", "mcp__scripted__echo", json!({"text": "again"})),
            complete("c2", "done"),
        ],
        "idle_timeout_secs = 0\n",
    )
    .await;
    let turn = h.send("grow").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(result(&log, "g").1, "grown");
    assert!(!offered(&h, 0).iter().any(|t| t == "mcp__scripted__added"));
    assert!(offered(&h, 1).iter().any(|t| t == "mcp__scripted__added"));
    // Idle at once (idle_timeout_secs = 0): stopped by the next sweep.
    let mut stopped = false;
    for _ in 0..400 {
        let listed = h
            .client
            .call_typed::<ListMcpServers>(ListMcpServersParams::default())
            .await;
        if listed.servers[0].state == McpServerState::Stopped {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stopped, "the idle server was stopped");
    // The next turn starts it again.
    let turn = h.send("echo").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(
        result(&log, "a"),
        (ToolCallStatus::Completed, "echo: again".to_owned())
    );
    h.finish().await;
}

/// The reference MCP server from npm (`@modelcontextprotocol/server-everything`,
/// installed by `scripts/mcp-deps.sh`) over Streamable HTTP: a text tool and
/// an image result; every request carries the configured header and the
/// bearer token named by `bearer_token_env` (seen by a recording proxy).
#[tokio::test]
async fn the_everything_server_over_streamable_http() {
    let (mut server, port) = support::mcp::everything_over_http().await;
    // In front of it, a proxy of the suite that records the headers it gets.
    let rec = tempfile::tempdir().unwrap();
    let record = rec.path().join("record");
    let mut proxy = tokio::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp/recording_proxy.py"))
        .arg(&record)
        .arg(port.to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(proxy.stdout.take().unwrap()));
    let proxy_port = out
        .next_line()
        .await
        .unwrap()
        .and_then(|l| l.strip_prefix("listening on ").map(str::to_owned))
        .expect("the proxy listens");
    let mut h = Harness::with_env(
        vec![
            calls(
                "",
                &[
                    (
                        "e",
                        "mcp__everything__echo",
                        json!({"message": "over http"}),
                    ),
                    ("i", "mcp__everything__get-tiny-image", json!({})),
                ],
            ),
            complete("c", "done"),
        ],
        "coder",
        false,
        &format!(
            "[mcp.servers.everything]\nurl = \"http://127.0.0.1:{proxy_port}/mcp\"\n\
             bearer_token_env = \"CODELAB_TEST_MCP_TOKEN\"\nheaders = {{ \"X-Team\" = \"core\" }}\n\n\
             [[policy.rules]]\ntool = \"mcp__everything__*\"\naction = \"allow\"\n"
        ),
        None,
        &[("CODELAB_TEST_MCP_TOKEN", "s3cret-token".to_owned())],
    )
    .await;
    let turn = h.send("use http").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(
        result(&log, "e"),
        (ToolCallStatus::Completed, "Echo: over http".to_owned())
    );
    let (status, image) = result(&log, "i");
    assert_eq!(status, ToolCallStatus::Completed, "{image}");
    assert!(image.contains("[image: image/png, "), "{image}");
    let listed = h
        .client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert_eq!(listed.servers[0].transport, "http");
    assert_eq!(listed.servers[0].state, McpServerState::Running);
    // Every request carried the bearer token read from the environment and
    // the configured header.
    let seen = std::fs::read_to_string(&record).unwrap();
    assert!(seen.lines().any(|l| l.starts_with("POST ")), "{seen}");
    for line in seen.lines() {
        assert!(
            line.ends_with(" Bearer s3cret-token core"),
            "a request without the token or the header: {line}"
        );
    }
    h.finish().await;
    let _ = proxy.kill().await;
    let _ = server.kill().await;
}

/// The reference server over stdio: a tool, a tool error (arguments its
/// schema refuses), and a long-running tool whose call is cancelled with
/// the turn: the turn ends `cancelled` at once, not after the tool's 600 s.
#[tokio::test]
async fn the_everything_server_over_stdio_with_an_error_and_a_cancelled_long_call() {
    let entry = support::mcp::npm_server("server-everything");
    let mut h = Harness::with_config(
        vec![
            calls(
                "",
                &[
                    ("s", "mcp__everything__get-sum", json!({"a": 2, "b": 3})),
                    ("x", "mcp__everything__get-sum", json!({"a": "two"})),
                ],
            ),
            complete("c", "done"),
            call(
                "long",
                "mcp__everything__trigger-long-running-operation",
                json!({"duration": 600, "steps": 600}),
            ),
        ],
        "coder",
        false,
        &format!(
            "[mcp.servers.everything]\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\n\n\
             [[policy.rules]]\ntool = \"mcp__everything__*\"\naction = \"allow\"\n",
            entry.display().to_string()
        ),
    )
    .await;
    let turn = h.send("sum").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let (status, sum) = result(&log, "s");
    assert_eq!(status, ToolCallStatus::Completed, "{sum}");
    assert!(sum.contains('5'), "{sum}");
    let (status, error) = result(&log, "x");
    assert_eq!(status, ToolCallStatus::Failed, "{error}");
    let listed = h
        .client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert_eq!(listed.servers[0].transport, "stdio");
    assert_eq!(listed.servers[0].state, McpServerState::Running);

    let turn = h.send("take long").await;
    // Cancel once the call runs at the server.
    loop {
        let n = h.client.next_notification().await;
        if n["method"] == "codelab/toolCall"
            && n["params"]["toolCallId"] == "long"
            && n["params"]["status"] == "in_progress"
        {
            break;
        }
    }
    h.client
        .call_typed::<CancelTurn>(SessionParams {
            session_id: h.session,
        })
        .await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::Cancelled);
    h.finish().await;
}

/// The reference filesystem server over stdio, allowed the workspace: it
/// reads and lists there, and refuses a path outside with a tool error.
#[tokio::test]
async fn the_filesystem_server_reads_its_directory_and_refuses_others() {
    let entry = support::mcp::npm_server("server-filesystem");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "not yours\n").unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.md"), "# Notes from the workspace\n").unwrap();
    let mut h = Harness::with_config(
        vec![
            calls(
                "",
                &[
                    (
                        "r",
                        "mcp__fs__read_text_file",
                        json!({"path": root.join("notes.md")}),
                    ),
                    ("l", "mcp__fs__list_directory", json!({"path": root})),
                    (
                        "o",
                        "mcp__fs__read_text_file",
                        json!({"path": outside.path().join("secret.txt")}),
                    ),
                ],
            ),
            complete("c", "done"),
        ],
        "coder",
        false,
        &format!(
            "[mcp.servers.fs]\ncommand = \"node\"\nargs = [{:?}, {:?}]\n\n\
             [[policy.rules]]\ntool = \"mcp__fs__*\"\naction = \"allow\"\n",
            entry.display().to_string(),
            root.display().to_string()
        ),
    )
    .await;
    let turn = h.send("read").await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let (status, text) = result(&log, "r");
    assert_eq!(status, ToolCallStatus::Completed, "{text}");
    assert!(text.contains("# Notes from the workspace"), "{text}");
    let (status, text) = result(&log, "l");
    assert_eq!(status, ToolCallStatus::Completed, "{text}");
    assert!(text.contains("notes.md"), "{text}");
    let (status, text) = result(&log, "o");
    assert_eq!(status, ToolCallStatus::Failed, "{text}");
    assert!(text.contains("Access denied"), "{text}");
    assert!(!text.contains("not yours"), "{text}");
    h.finish().await;
}
