//! `codelab-agent acp`: the Agent Client Protocol front end, through the real
//! binary and a real mock LLM.
//!
//! - The official TypeScript client SDK (`@agentclientprotocol/sdk`, npm)
//!   drives a whole session, and a second one whose questions are forms
//!   (elicitation): `tests/acp/client.test.mjs`, run here with
//!   Node's test runner. Its npm packages are installed by
//!   `scripts/acp-deps.sh` into a cache outside the clone, keyed by the
//!   lockfile.
//! - A third-party client, `acpx` (a headless ACP command line client from
//!   npm, `tests/acpx/package-lock.json`, run with Node 24 from
//!   `scripts/node-deps.sh`), runs one prompt with an approved edit.
//! - Raw newline-delimited JSON for what a well-behaved client never sends,
//!   and for the edges of a turn: invalid JSON, unknown methods, unknown
//!   sessions, a second prompt while one runs, no model provider, a turn
//!   that fails or reaches its iteration limit. Every error is a clear
//!   JSON-RPC error and the connection stays usable; stdout carries nothing
//!   but JSON-RPC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_llm::{Chunk, MockLlm, Reply, Script, ToolCallChunk};
use serde_json::{Value, json};
use support::host::{mock_llm_bin, repo, script_output};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The TAP count `# <what> N` of Node's test runner.
fn tap_count(tap: &str, what: &str) -> Option<usize> {
    tap.lines()
        .find_map(|l| l.strip_prefix(&format!("# {what} ")))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn the_official_typescript_client_drives_a_whole_session() {
    let modules = PathBuf::from(script_output("scripts/acp-deps.sh", &[]));
    assert!(
        modules.join("@agentclientprotocol/sdk").is_dir(),
        "{modules:?}"
    );
    // The test file runs beside the cached packages, so nothing is written
    // into the clone.
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&modules, work.path().join("node_modules")).unwrap();
    let test = work.path().join("client.test.mjs");
    std::fs::copy(repo().join("tests/acp/client.test.mjs"), &test).unwrap();
    let out = std::process::Command::new("node")
        .args(["--test", "--test-reporter=tap"])
        .arg(&test)
        .env("CODELAB_BIN", env!("CARGO_BIN_EXE_codelab-agent"))
        .env("MOCK_LLM_BIN", mock_llm_bin())
        .current_dir(work.path())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = || format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the ACP client test failed:\n{}",
        report()
    );
    assert_eq!(tap_count(&stdout, "fail"), Some(0), "{}", report());
    assert!(
        tap_count(&stdout, "pass").is_some_and(|n| n >= 40),
        "fewer steps ran than the scenario has:\n{}",
        report()
    );
}

/// `codelab-agent acp` with a raw newline-delimited JSON client.
struct Agent {
    child: Child,
    stdin: ChildStdin,
    from_agent: mpsc::UnboundedReceiver<Value>,
    /// Notifications read while waiting for something else.
    notes: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Agent {
    /// `codelab-agent acp --standalone`: the ACP front end in one process
    /// (these tests are about the front end; the daemon path has its own).
    fn start(data: &Path, env: &[(&str, String)]) -> Self {
        Self::start_with(data, env, &["--standalone"])
    }

    /// `codelab-agent acp` as editors start it: a forwarder to the data
    /// dir's daemon, started when none runs.
    fn through_daemon(data: &Path, env: &[(&str, String)]) -> Self {
        Self::start_with(data, env, &[])
    }

    fn start_with(data: &Path, env: &[(&str, String)], extra: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_codelab-agent"));
        cmd.arg("--data-dir")
            .arg(data)
            .args(["--log-level", "debug", "acp"])
            .args(extra)
            .env_remove("RUST_LOG")
            .env_remove("XDG_RUNTIME_DIR")
            .env(
                codelab_agent::daemon::IDLE_ENV,
                support::daemon::TEST_IDLE_SECS,
            );
        for var in [
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "CODELAB_PROVIDER",
            "CODELAB_MODEL",
            "CODELAB_DATA_DIR",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let log = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, from_agent) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // stdout is the protocol: every line is one JSON-RPC message.
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line:?}"));
                assert_eq!(v["jsonrpc"], "2.0", "{line}");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            from_agent,
            notes: Vec::new(),
            stderr,
        }
    }

    fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn send_raw(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn send(&mut self, v: Value) {
        self.send_raw(&v.to_string()).await;
    }

    async fn next(&mut self) -> Value {
        match tokio::time::timeout(TIMEOUT, self.from_agent.recv()).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!("the agent closed stdout; log:\n{}", self.logs()),
            Err(_) => panic!("timed out waiting for the agent; log:\n{}", self.logs()),
        }
    }

    /// The answer to request `id` (notifications meanwhile are kept).
    async fn answer(&mut self, id: &Value) -> Value {
        loop {
            let m = self.next().await;
            if m.get("method").is_some() {
                self.notes.push(m);
            } else if &m["id"] == id {
                return m;
            } else {
                panic!("an answer to another request: {m}");
            }
        }
    }

    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.answer(&json!(id)).await
    }

    /// The result of a request that must succeed.
    async fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        let m = self.request(id, method, params).await;
        assert!(m.get("error").is_none(), "{method} failed: {m}");
        m["result"].clone()
    }

    /// The error of a request that must fail: (code, message).
    async fn call_err(&mut self, id: u64, method: &str, params: Value) -> (i64, String) {
        let m = self.request(id, method, params).await;
        error_of(&m)
    }

    /// The first notification (kept or new) matching `pred`.
    async fn notification(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.notes.iter().position(&pred) {
            return self.notes.remove(i);
        }
        loop {
            let m = self.next().await;
            if m.get("method").is_some() && pred(&m) {
                return m;
            }
            assert!(m.get("method").is_some(), "unexpected answer: {m}");
            self.notes.push(m);
        }
    }

    async fn initialize(&mut self) -> Value {
        let r = self
            .call(
                0,
                "initialize",
                json!({"protocolVersion": 1, "clientCapabilities": {}}),
            )
            .await;
        assert_eq!(r["protocolVersion"], 1);
        r
    }

    async fn new_session(&mut self, id: u64, cwd: &Path) -> String {
        let r = self
            .call(id, "session/new", json!({"cwd": cwd, "mcpServers": []}))
            .await;
        r["sessionId"].as_str().unwrap().to_owned()
    }

    /// Switches a session's mode (its agent).
    async fn set_mode(&mut self, id: u64, session: &str, mode: &str) {
        self.call(
            id,
            "session/set_mode",
            json!({"sessionId": session, "modeId": mode}),
        )
        .await;
    }

    /// Waits for the update that says tool call `call` completed.
    async fn completed(&mut self, call: &str) {
        self.notification(|n| {
            n["params"]["update"]["toolCallId"] == call
                && n["params"]["update"]["status"] == "completed"
        })
        .await;
    }

    /// Closes stdin; the exit code.
    async fn close(mut self) -> Option<i32> {
        self.stdin.shutdown().await.unwrap();
        drop(self.stdin);
        let status = tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("the agent exits once stdin closes")
            .unwrap();
        status.code()
    }
}

fn error_of(m: &Value) -> (i64, String) {
    let e = m
        .get("error")
        .unwrap_or_else(|| panic!("expected an error: {m}"));
    (
        e["code"].as_i64().unwrap(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The runtime's id of an ACP session id.
fn session_id(session: &str) -> codelab_agent::domain::SessionId {
    serde_json::from_value(json!(session)).unwrap()
}

/// A codelab editor on the same data dir as the ACP agent (so the same
/// daemon), in `root`, attached to the ACP `session`.
async fn codelab_editor_attached(
    data: &Path,
    env: &[(&str, String)],
    root: &Path,
    session: &str,
) -> (
    support::ServerProcess,
    support::Client,
    codelab_agent::domain::SessionId,
) {
    use codelab_agent::protocol::requests::AttachSession;
    use codelab_agent::protocol::types::AttachSessionParams;
    let mut server = support::ServerProcess::daemon_client(data, env);
    let mut client = server.stdio_client();
    client.initialize(&[], Some(&support::file_uri(root))).await;
    let id = session_id(session);
    client
        .call_typed::<AttachSession>(AttachSessionParams {
            session_id: id,
            after_seq: None,
        })
        .await;
    (server, client, id)
}

fn llm_env(mock: &MockLlm) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_BASE_URL", mock.openai_base()),
        ("OPENAI_API_KEY", "sk-test-key".to_owned()),
        ("CODELAB_MODEL", "gpt-4o-mini".to_owned()),
    ]
}

fn text(m: &str, t: &str) -> Reply {
    Reply {
        matches: Some(m.into()),
        chunks: vec![Chunk {
            text: Some(t.into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A reply that is one tool call (`matches`: the prompt text it answers).
fn tool_reply(matches: Option<&str>, id: &str, name: &str, arguments: Value) -> Reply {
    Reply {
        matches: matches.map(Into::into),
        chunks: vec![Chunk {
            tool_call: Some(ToolCallChunk {
                id: id.into(),
                name: name.into(),
                arguments,
                split: None,
                split_header: false,
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn prompt(session: &str, text: &str) -> Value {
    json!({"sessionId": session, "prompt": [{"type": "text", "text": text}]})
}

fn is_chunk(n: &Value, needle: &str) -> bool {
    n["method"] == "session/update"
        && n["params"]["update"]["sessionUpdate"] == "agent_message_chunk"
        && n["params"]["update"]["content"]["text"]
            .as_str()
            .is_some_and(|t| t.contains(needle))
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_the_connection_stays_usable() {
    let mock = MockLlm::start(Script {
        replies: vec![
            Reply {
                matches: Some("Stall please".into()),
                chunks: vec![
                    Chunk {
                        text: Some("Thinking".into()),
                        ..Default::default()
                    },
                    Chunk {
                        stall: true,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            text("Now answer", "Answered."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));

    agent.send_raw("this is not json").await;
    let (code, message) = error_of(&agent.answer(&Value::Null).await);
    assert_eq!(code, -32700);
    assert!(message.starts_with("Parse error"), "{message}");

    agent.initialize().await;
    let r = agent
        .call(1, "authenticate", json!({"methodId": "codelab-config"}))
        .await;
    assert_eq!(r, json!({}), "a configured provider authenticates");
    let (code, message) = agent
        .call_err(1, "authenticate", json!({"methodId": "password"}))
        .await;
    assert_eq!(code, -32602);
    assert!(
        message.starts_with("unknown auth method `password`"),
        "{message}"
    );

    agent.send_raw("[1, 2]").await;
    let (code, message) = error_of(&agent.answer(&Value::Null).await);
    assert_eq!(code, -32600);
    assert!(message.contains("batches"), "{message}");
    // A message broken by a raw newline is two lines, neither of them
    // JSON: two parse errors, and nothing is run.
    agent
        .send_raw(
            "{\"jsonrpc\": \"2.0\", \"id\": 13,\n\"method\": \"session/fly\", \"params\": {}}",
        )
        .await;
    for _ in 0..2 {
        let (code, message) = error_of(&agent.answer(&Value::Null).await);
        assert_eq!(code, -32700);
        assert!(message.starts_with("Parse error"), "{message}");
    }
    agent
        .send_raw(r#"{"id": 7, "method": "session/new"}"#)
        .await;
    let (code, message) = error_of(&agent.answer(&json!(7)).await);
    assert_eq!(
        (code, message.as_str()),
        (-32600, "Invalid Request: `jsonrpc` must be \"2.0\"")
    );

    let (code, _) = agent.call_err(2, "session/fly", json!({})).await;
    assert_eq!(code, -32601, "unknown method");
    let (code, message) = agent
        .call_err(
            3,
            "session/new",
            json!({"cwd": "relative/dir", "mcpServers": []}),
        )
        .await;
    assert_eq!(code, -32602);
    assert_eq!(message, "`cwd` must be an absolute path, got relative/dir");
    let (code, message) = agent
        .call_err(
            3,
            "session/new",
            json!({"cwd": "/no/such/dir/anywhere", "mcpServers": []}),
        )
        .await;
    assert_eq!(code, -32602);
    assert_eq!(message, "`cwd` /no/such/dir/anywhere is not a directory");
    let m = agent
        .request(4, "session/new", json!({"mcpServers": []}))
        .await;
    assert_eq!(error_of(&m).0, -32602);
    assert!(m["error"]["data"].to_string().contains("cwd"), "{m}");

    let ghost = uuid::Uuid::now_v7().to_string();
    let (code, message) = agent
        .call_err(5, "session/prompt", prompt(&ghost, "hello"))
        .await;
    assert_eq!(
        (code, message),
        (-32002, format!("session {ghost} not found"))
    );
    let (code, message) = agent
        .call_err(6, "session/prompt", prompt("not-a-session", "hello"))
        .await;
    assert_eq!(
        (code, message.as_str()),
        (-32002, "session not-a-session not found")
    );

    let session = agent.new_session(8, &root).await;
    let (code, message) = agent
        .call_err(
            9,
            "session/prompt",
            json!({"sessionId": session, "prompt": [{"type": "image", "data": "AAAA", "mimeType": "image/png"}]}),
        )
        .await;
    assert_eq!(code, -32602);
    assert!(
        message.contains("image content is not supported"),
        "{message}"
    );

    // A second prompt while one runs is refused; the first goes on.
    agent
        .send(json!({"jsonrpc": "2.0", "id": 10, "method": "session/prompt", "params": prompt(&session, "Stall please")}))
        .await;
    agent.notification(|n| is_chunk(n, "Thinking")).await;
    let (code, message) = agent
        .call_err(11, "session/prompt", prompt(&session, "Second"))
        .await;
    assert_eq!(code, -32600);
    assert_eq!(
        message,
        format!(
            "session {session} is already answering a prompt; wait for its answer or send session/cancel"
        )
    );
    agent
        .send(
            json!({"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": session}}),
        )
        .await;
    let first = agent.answer(&json!(10)).await;
    assert_eq!(first["result"]["stopReason"], "cancelled", "{first}");

    // Still usable; a newline inside a string is text like any other.
    let r = agent
        .call(12, "session/prompt", prompt(&session, "Now answer\nplease"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    let sent = mock.requests().last().unwrap().body["messages"].to_string();
    assert!(sent.contains(r"Now answer\nplease"), "{sent}");
    agent.notification(|n| is_chunk(n, "Answered.")).await;
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

#[tokio::test]
async fn without_a_model_provider_session_new_requires_auth() {
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(data.path(), &[]);
    let init = agent.initialize().await;
    // The one auth method: the configured provider (type `agent`, the default).
    assert_eq!(
        init["authMethods"].as_array().map(Vec::len),
        Some(1),
        "{init}"
    );
    assert_eq!(init["authMethods"][0]["id"], "codelab-config");
    assert!(init["authMethods"][0].get("type").is_none(), "{init}");
    let (code, message) = agent
        .call_err(9, "authenticate", json!({"methodId": "codelab-config"}))
        .await;
    assert_eq!(code, -32000, "auth_required");
    assert!(
        message.starts_with("no model provider is configured: "),
        "{message}"
    );
    let (code, message) = agent
        .call_err(
            1,
            "session/new",
            json!({"cwd": ws.path().canonicalize().unwrap(), "mcpServers": []}),
        )
        .await;
    assert_eq!(code, -32000, "auth_required");
    assert!(
        message.starts_with("no model provider is configured: "),
        "{message}"
    );
    assert_eq!(agent.close().await, Some(0));
}

#[tokio::test]
async fn a_failed_turn_is_an_error_and_the_iteration_limit_is_max_turn_requests() {
    let mock = MockLlm::start(Script {
        replies: vec![
            Reply {
                matches: Some("Fail".into()),
                status: Some(400),
                body: Some(r#"{"error": {"message": "bad request from the mock"}}"#.into()),
                ..Default::default()
            },
            tool_reply(Some("Loop"), "r1", "list_files", json!({})),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[agent]\nmax_iterations = 1\n",
    )
    .unwrap();
    let ws = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent
        .new_session(1, &ws.path().canonicalize().unwrap())
        .await;
    let (code, message) = agent
        .call_err(2, "session/prompt", prompt(&session, "Fail"))
        .await;
    assert_eq!(code, -32603);
    assert!(
        message.starts_with("the turn ended with an error: "),
        "{message}"
    );
    assert!(message.contains("400"), "{message}");
    agent.set_mode(3, &session, "coder").await;
    let r = agent
        .call(4, "session/prompt", prompt(&session, "Loop"))
        .await;
    assert_eq!(r["stopReason"], "max_turn_requests");
    agent.completed("r1").await;
    assert_eq!(agent.close().await, Some(0));
}

/// A reply cut by the model's output limit ends the prompt `max_tokens`; a
/// refused (filtered) one `refusal`: the provider's finish reason, from the
/// real SSE stream, reaches the client.
#[tokio::test]
async fn a_cut_reply_is_max_tokens_and_a_refused_one_refusal() {
    let finishing = |prompt: &str, text: &str, finish: &str| Reply {
        matches: Some(prompt.into()),
        chunks: vec![Chunk {
            text: Some(text.into()),
            ..Default::default()
        }],
        finish: Some(finish.into()),
        ..Default::default()
    };
    let mock = MockLlm::start(Script {
        replies: vec![
            finishing("Long", "A reply that goes on and", "length"),
            finishing("Filtered", "", "content_filter"),
            finishing("Short", "Done.", "stop"),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent
        .new_session(1, &ws.path().canonicalize().unwrap())
        .await;
    for (id, (text, stop)) in [
        ("Long", "max_tokens"),
        ("Filtered", "refusal"),
        ("Short", "end_turn"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = agent
            .call(2 + id as u64, "session/prompt", prompt(&session, text))
            .await;
        assert_eq!(r["stopReason"], stop, "{text}: {r}");
    }
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// `session/cancel` sent right behind its prompt, before the turn may have
/// started: the prompt still ends `cancelled` (without the fix it would wait
/// on the stalled model until the test's timeout).
#[tokio::test]
async fn a_cancel_right_behind_its_prompt_cancels_it() {
    let stall = || Reply {
        matches: Some("Stall".into()),
        chunks: vec![Chunk {
            stall: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mock = MockLlm::start(Script {
        replies: (0..5).map(|_| stall()).collect(),
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent
        .new_session(1, &ws.path().canonicalize().unwrap())
        .await;
    for id in 10..15u64 {
        let prompt = json!({"jsonrpc": "2.0", "id": id, "method": "session/prompt", "params": prompt(&session, "Stall")});
        let cancel =
            json!({"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": session}});
        agent.send_raw(&format!("{prompt}\n{cancel}")).await;
        let answer = agent.answer(&json!(id)).await;
        assert_eq!(answer["result"]["stopReason"], "cancelled", "{answer}");
    }
    assert_eq!(agent.close().await, Some(0));
}

/// `$/cancel_request` naming a prompt request ends that prompt `cancelled`,
/// sent right behind it or while the model streams; a cancel of an id that
/// is no pending prompt is ignored and the connection goes on.
#[tokio::test]
async fn cancel_request_of_a_prompt_cancels_it() {
    let stall = || Reply {
        matches: Some("Stall".into()),
        chunks: vec![
            Chunk {
                text: Some("Thinking".into()),
                ..Default::default()
            },
            Chunk {
                stall: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let mock = MockLlm::start(Script {
        replies: vec![stall(), stall(), text("Now answer", "Answered.")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent
        .new_session(1, &ws.path().canonicalize().unwrap())
        .await;
    // Right behind its prompt, with a string id.
    let prompt_msg = json!({"jsonrpc": "2.0", "id": "p-1", "method": "session/prompt", "params": prompt(&session, "Stall")});
    let cancel =
        json!({"jsonrpc": "2.0", "method": "$/cancel_request", "params": {"requestId": "p-1"}});
    agent.send_raw(&format!("{prompt_msg}\n{cancel}")).await;
    let answer = agent.answer(&json!("p-1")).await;
    assert_eq!(answer["result"]["stopReason"], "cancelled", "{answer}");
    // While the model streams.
    agent
        .send(json!({"jsonrpc": "2.0", "id": 2, "method": "session/prompt", "params": prompt(&session, "Stall")}))
        .await;
    agent.notification(|n| is_chunk(n, "Thinking")).await;
    agent
        .send(json!({"jsonrpc": "2.0", "method": "$/cancel_request", "params": {"requestId": 77}}))
        .await;
    agent
        .send(json!({"jsonrpc": "2.0", "method": "$/cancel_request", "params": {"requestId": 2}}))
        .await;
    let answer = agent.answer(&json!(2)).await;
    assert_eq!(answer["result"]["stopReason"], "cancelled", "{answer}");
    let r = agent
        .call(3, "session/prompt", prompt(&session, "Now answer"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    assert_eq!(agent.close().await, Some(0));
}

/// ACP's terminal auth: offered to a client with `auth.terminal`; the client
/// runs the agent's command with the method's args (`acp setup`) in a
/// terminal, then reconnects, and the new connection has a provider.
#[tokio::test]
async fn terminal_setup_configures_the_provider_the_next_connection_uses() {
    let mock = MockLlm::start(Script {
        replies: vec![text("Hello after setup", "Configured and answering.")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();

    let mut agent = Agent::start(data.path(), &[]);
    let init = agent
        .call(
            0,
            "initialize",
            json!({"protocolVersion": 1, "clientCapabilities": {"auth": {"terminal": true}}}),
        )
        .await;
    let setup = &init["authMethods"][0];
    assert_eq!(setup["type"], "terminal", "{init}");
    assert_eq!(setup["id"], "codelab-setup");
    assert_eq!(setup["args"], json!(["setup"]));
    assert_eq!(init["authMethods"][1]["id"], "codelab-config");
    let (code, _) = agent
        .call_err(1, "session/new", json!({"cwd": root, "mcpServers": []}))
        .await;
    assert_eq!(code, -32000);
    assert_eq!(agent.close().await, Some(0));

    // What the client runs in its terminal: the agent's command plus `args`.
    let answers = format!("openai\nsk-test-key\ngpt-4o-mini\n{}\n", mock.openai_base());
    let run_setup = |answers: String| run_setup(data.path(), &answers);
    let out = run_setup(answers.clone());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Saved: provider openai, model gpt-4o-mini."),
        "{stdout}"
    );

    // The client reconnects: the new process reads what setup saved.
    let mut agent = Agent::start(data.path(), &[]);
    agent.initialize().await;
    let r = agent
        .call(1, "authenticate", json!({"methodId": "codelab-config"}))
        .await;
    assert_eq!(r, json!({}));
    let session = agent.new_session(2, &root).await;
    let r = agent
        .call(3, "session/prompt", prompt(&session, "Hello after setup"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent
        .notification(|n| is_chunk(n, "Configured and answering."))
        .await;
    assert_eq!(agent.close().await, Some(0));

    // Setup does not overwrite a configured provider.
    let again = run_setup(answers);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already configures the model"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// `codelab-agent acp setup` as a client's terminal runs it, answering its
/// questions with `answers`.
fn run_setup(data: &Path, answers: &str) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codelab-agent"));
    cmd.arg("--data-dir").arg(data).args(["acp", "setup"]);
    for var in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "CODELAB_MODEL",
        "CODELAB_PROVIDER",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, answers.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// The terminal auth method as editors meet it: `codelab-agent acp` reaches
/// a daemon that started without a provider and keeps running while the
/// client runs setup; the next connection to the same daemon authenticates
/// (with the terminal method's id, as clients do after running it) and its
/// prompts reach the provider setup saved.
#[tokio::test]
async fn terminal_setup_reaches_a_running_daemon() {
    let mock = MockLlm::start(Script {
        replies: vec![text("Hello after setup", "The daemon answers.")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();

    let mut agent = Agent::through_daemon(data.path(), &[]);
    agent
        .call(
            0,
            "initialize",
            json!({"protocolVersion": 1, "clientCapabilities": {"auth": {"terminal": true}}}),
        )
        .await;
    let (code, _) = agent
        .call_err(1, "session/new", json!({"cwd": root, "mcpServers": []}))
        .await;
    assert_eq!(code, -32000, "auth_required before setup");
    let daemon = support::daemon::status(data.path())
        .await
        .expect("a daemon");

    let out = run_setup(
        data.path(),
        &format!("openai\nsk-test-key\ngpt-4o-mini\n{}\n", mock.openai_base()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(agent.close().await, Some(0));

    let mut agent = Agent::through_daemon(data.path(), &[]);
    agent.initialize().await;
    let after = support::daemon::status(data.path())
        .await
        .expect("a daemon");
    assert_eq!(
        after.pid, daemon.pid,
        "the same daemon serves the new connection"
    );
    let r = agent
        .call(1, "authenticate", json!({"methodId": "codelab-setup"}))
        .await;
    assert_eq!(r, json!({}));
    let session = agent.new_session(2, &root).await;
    let r = agent
        .call(3, "session/prompt", prompt(&session, "Hello after setup"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent
        .notification(|n| is_chunk(n, "The daemon answers."))
        .await;
    assert_eq!(agent.close().await, Some(0));
    support::daemon::stop(data.path()).await;
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// A session is a session: one made over ACP is a codelab session (listed,
/// with its history, by a codelab client), and one made by a codelab client
/// is listed and loaded over ACP. One process holds the store at a time.
#[tokio::test]
async fn acp_sessions_are_codelab_sessions_and_the_reverse() {
    let mock = MockLlm::start(Script {
        replies: vec![
            text("Hello over ACP", "Hi from ACP."),
            text("Hello over codelab", "Hi from codelab."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let uri = support::file_uri(&root);

    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let from_acp = agent.new_session(1, &root).await;
    let r = agent
        .call(2, "session/prompt", prompt(&from_acp, "Hello over ACP"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    assert_eq!(agent.close().await, Some(0));

    let mut server = support::ServerProcess::stdio_env(data.path(), &llm_env(&mock));
    let mut client = server.stdio_client();
    client.initialize(&[], Some(&uri)).await;
    let list = client.call("codelab/listSessions", json!({})).await;
    let listed = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == from_acp.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(listed["workspaceFolder"], uri.as_str());
    // Titled by its first message, for every client.
    assert_eq!(listed["title"], "Hello over ACP");
    let history = client
        .call("codelab/getHistory", json!({"sessionId": from_acp}))
        .await;
    let said: Vec<(String, String)> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("user".to_owned(), "Hello over ACP".to_owned()),
            ("assistant".to_owned(), "Hi from ACP.".to_owned()),
        ]
    );
    let created = client
        .call(
            "codelab/createSession",
            json!({"workspaceFolder": uri, "title": "From codelab"}),
        )
        .await;
    let from_codelab: codelab_agent::domain::SessionId =
        serde_json::from_value(created["id"].clone()).unwrap();
    let turn = support::agent::send(&mut client, from_codelab, "Hello over codelab").await;
    let log = support::agent::drive(&mut client, turn, |_| None, |_| None).await;
    assert_eq!(
        log.completed.stop_reason,
        codelab_agent::protocol::types::StopReason::EndTurn
    );
    client.finish().await;
    assert_eq!(server.wait().await, Some(0));

    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let list = agent.call(3, "session/list", json!({"cwd": root})).await;
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    let from_codelab = from_codelab.to_string();
    assert!(ids.contains(&from_codelab.as_str()), "{list}");
    assert!(ids.contains(&from_acp.as_str()), "{list}");
    let title_of = |id: &str| {
        list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["sessionId"] == id)
            .map(|s| s["title"].clone())
    };
    // A title given at creation stays; an untitled session took its first
    // message's.
    assert_eq!(title_of(&from_codelab), Some(json!("From codelab")));
    assert_eq!(title_of(&from_acp), Some(json!("Hello over ACP")));
    agent
        .call(
            4,
            "session/load",
            json!({"sessionId": from_codelab, "cwd": root, "mcpServers": []}),
        )
        .await;
    let replayed: Vec<(String, String)> = std::mem::take(&mut agent.notes)
        .iter()
        .map(|n| {
            let u = &n["params"]["update"];
            (
                u["sessionUpdate"].as_str().unwrap().to_owned(),
                u["content"]["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        replayed,
        [
            (
                "user_message_chunk".to_owned(),
                "Hello over codelab".to_owned()
            ),
            (
                "agent_message_chunk".to_owned(),
                "Hi from codelab.".to_owned()
            ),
        ]
    );
    assert_eq!(agent.close().await, Some(0));
}

/// `codelab-agent acp` reaches the user's daemon as `--stdio` does: an ACP
/// editor and a codelab editor are connected at once, see the same
/// sessions, and a turn prompted over ACP streams live to the codelab
/// client attached to its session.
#[tokio::test]
async fn acp_and_codelab_editors_share_sessions_live_through_the_daemon() {
    use codelab_agent::protocol::Notification;
    use codelab_agent::protocol::requests::{AttachSession, ListSessions};
    use codelab_agent::protocol::types::{
        AttachSessionParams, ListSessionsParams, TokenParams, TurnCompletedParams,
    };
    let mock = MockLlm::start(Script {
        replies: vec![text("Hello over ACP", "Seen by both editors.")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();

    let mut agent = Agent::through_daemon(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent.new_session(1, &root).await;

    // A codelab editor on the same data dir, at the same time: the same daemon.
    let mut server = support::ServerProcess::daemon_client(data.path(), &llm_env(&mock));
    let mut client = server.stdio_client();
    client
        .initialize(&[], Some(&support::file_uri(&root)))
        .await;
    let status = support::daemon::status(data.path())
        .await
        .expect("a daemon");
    assert_eq!(status.connections, 2, "{status:?}");
    let listed = client
        .call_typed::<ListSessions>(ListSessionsParams::default())
        .await;
    let id = session_id(&session);
    assert!(
        listed.sessions.iter().any(|s| s.id == id),
        "the ACP session is listed live: {listed:?}"
    );
    client
        .call_typed::<AttachSession>(AttachSessionParams {
            session_id: id,
            after_seq: None,
        })
        .await;

    let r = agent
        .call(2, "session/prompt", prompt(&session, "Hello over ACP"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    let mut streamed = String::new();
    loop {
        let n = client.next_notification().await;
        match n["method"].as_str().unwrap() {
            TokenParams::NAME => {
                let p: TokenParams = serde_json::from_value(n["params"].clone()).unwrap();
                assert_eq!(p.session_id, id);
                streamed.push_str(&p.delta);
            }
            TurnCompletedParams::NAME => {
                let p: TurnCompletedParams = serde_json::from_value(n["params"].clone()).unwrap();
                assert_eq!(p.session_id, id);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(streamed, "Seen by both editors.");
    assert_eq!(agent.close().await, Some(0));
    client.finish().await;
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// `session/delete` (ACP v1, carried past the pinned SDK as
/// `_codelab/session/delete`): advertised, refused while the session answers
/// a prompt, then the session is gone for every request; an unknown or
/// malformed id is a clear error.
#[tokio::test]
async fn sessions_are_deleted_with_session_delete() {
    let mock = MockLlm::start(Script {
        replies: vec![Reply {
            matches: Some("Stall".into()),
            chunks: vec![Chunk {
                stall: true,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    let init = agent.initialize().await;
    assert_eq!(
        init["agentCapabilities"]["sessionCapabilities"]["delete"],
        json!({}),
        "{init}"
    );
    let session = agent.new_session(1, &root).await;
    let kept = agent.new_session(2, &root).await;
    agent
        .send(json!({"jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": prompt(&session, "Stall")}))
        .await;
    // The turn runs: the model was asked.
    tokio::time::timeout(TIMEOUT, mock.wait_requests(1))
        .await
        .expect("the turn asks the model");
    let (code, message) = agent
        .call_err(4, "session/delete", json!({"sessionId": session}))
        .await;
    assert_eq!(code, -32600, "{message}");
    assert!(message.contains("already answering a prompt"), "{message}");
    agent
        .send(
            json!({"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": session}}),
        )
        .await;
    assert_eq!(
        agent.answer(&json!(3)).await["result"]["stopReason"],
        "cancelled"
    );

    let r = agent
        .call(5, "session/delete", json!({"sessionId": session}))
        .await;
    assert_eq!(r, json!({}));
    let list = agent.call(6, "session/list", json!({})).await;
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [kept.as_str()], "{list}");
    for (id, method) in [(7, "session/delete"), (8, "session/prompt")] {
        let params = if method == "session/prompt" {
            prompt(&session, "Stall")
        } else {
            json!({"sessionId": session})
        };
        let (code, message) = agent.call_err(id, method, params).await;
        assert_eq!(code, -32002, "{method}: {message}");
        assert!(message.contains("not found"), "{method}: {message}");
    }
    let (code, message) = agent
        .call_err(9, "session/delete", json!({"sessionId": "nope"}))
        .await;
    assert_eq!(code, -32002, "{message}");
    let (code, message) = agent.call_err(10, "session/delete", json!({})).await;
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("sessionId"), "{message}");
    // The connection goes on.
    agent.call(11, "session/list", json!({})).await;
    assert_eq!(agent.close().await, Some(0));
}

/// `session/close` ends a session on the connection (a prompt after it is
/// refused until the session is opened again); `session/resume` reopens it
/// without replaying its history, and prompting goes on.
#[tokio::test]
async fn sessions_close_and_resume_without_replay() {
    let mock = MockLlm::start(Script {
        replies: vec![text("First", "One."), text("Second", "Two.")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    let init = agent.initialize().await;
    let caps = &init["agentCapabilities"]["sessionCapabilities"];
    assert!(
        caps["resume"].is_object() && caps["close"].is_object(),
        "{init}"
    );
    let session = agent.new_session(1, &root).await;
    let r = agent
        .call(2, "session/prompt", prompt(&session, "First"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent.notification(|n| is_chunk(n, "One.")).await;
    // After the model's response: the context used, the window, the cost.
    let usage = agent
        .notification(|n| n["params"]["update"]["sessionUpdate"] == "usage_update")
        .await;
    let u = &usage["params"]["update"];
    assert!(u["used"].as_u64().unwrap() > 0, "{usage}");
    assert!(
        u["size"].as_u64().unwrap() >= u["used"].as_u64().unwrap(),
        "{usage}"
    );
    assert_eq!(u["cost"]["currency"], "USD", "{usage}");
    let r = agent
        .call(3, "session/close", json!({"sessionId": session}))
        .await;
    assert_eq!(r, json!({}));
    let (code, message) = agent
        .call_err(4, "session/prompt", prompt(&session, "Second"))
        .await;
    assert_eq!(code, -32602, "{message}");
    assert!(
        message.contains("is not open on this connection"),
        "{message}"
    );
    let r = agent
        .call(
            5,
            "session/resume",
            json!({"sessionId": session, "cwd": root, "mcpServers": []}),
        )
        .await;
    assert!(r["modes"]["currentModeId"].is_string(), "{r}");
    let r = agent
        .call(6, "session/prompt", prompt(&session, "Second"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    let live = agent.notification(|n| is_chunk(n, "Two.")).await;
    // Nothing of the first exchange was replayed by the resume.
    assert!(
        !agent.notes.iter().any(|n| is_chunk(n, "One.")),
        "{:?}",
        agent.notes
    );

    // `session/load` replays it all, each message with its id: the reply
    // seen live keeps the id it streamed with.
    let message_id = |n: &Value| {
        n["params"]["update"]["messageId"]
            .as_str()
            .map(str::to_owned)
    };
    let live_id = message_id(&live).expect("a live chunk has a message id");
    agent
        .call(7, "session/close", json!({"sessionId": session}))
        .await;
    agent
        .call(
            8,
            "session/load",
            json!({"sessionId": session, "cwd": root, "mcpServers": []}),
        )
        .await;
    let replayed = agent.notification(|n| is_chunk(n, "Two.")).await;
    assert_eq!(message_id(&replayed), Some(live_id.clone()), "{replayed}");
    let one = message_id(&agent.notification(|n| is_chunk(n, "One.")).await);
    let users: Vec<Option<String>> = agent
        .notes
        .iter()
        .filter(|n| n["params"]["update"]["sessionUpdate"] == "user_message_chunk")
        .map(message_id)
        .collect();
    assert_eq!(users.len(), 2, "{:?}", agent.notes);
    let mut ids: Vec<String> = users.into_iter().chain([one]).map(Option::unwrap).collect();
    ids.push(live_id);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every message has its own id: {ids:?}");
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// An HTTP MCP server given by `session/new` (`mcpCapabilities.http`): the
/// reference server from npm over Streamable HTTP; its tool reaches the
/// model and runs through it, and a codelab editor sees it as the
/// session's, over http.
#[tokio::test]
async fn an_http_mcp_server_of_session_new_serves_the_session() {
    use codelab_agent::protocol::requests::ListMcpServers;
    use codelab_agent::protocol::types::ListMcpServersParams;
    let (mut server, port) = support::mcp::everything_over_http().await;
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Echo over http"),
                "e1",
                "mcp__everything__echo",
                json!({"message": "via acp"}),
            ),
            text("Echo: via acp", "Echoed."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[[policy.rules]]\ntool = \"mcp__everything__*\"\naction = \"allow\"\n",
    )
    .unwrap();
    let ws = tempfile::tempdir().unwrap();
    let mut agent = Agent::through_daemon(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let r = agent
        .call(
            1,
            "session/new",
            json!({"cwd": ws.path().canonicalize().unwrap(), "mcpServers": [{
                "type": "http",
                "name": "everything",
                "url": format!("http://127.0.0.1:{port}/mcp"),
                "headers": [{"name": "X-Team", "value": "core"}],
            }]}),
        )
        .await;
    let session = r["sessionId"].as_str().unwrap().to_owned();
    agent.set_mode(2, &session, "coder").await;
    let r = agent
        .call(3, "session/prompt", prompt(&session, "Echo over http"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent.completed("e1").await;
    agent.notification(|n| is_chunk(n, "Echoed.")).await;
    let requests = mock.requests();
    let last = requests.last().unwrap().body["messages"].to_string();
    assert!(
        last.contains("Echo: via acp"),
        "the server ran the call: {last}"
    );

    let mut editor = support::ServerProcess::daemon_client(data.path(), &llm_env(&mock));
    let mut client = editor.stdio_client();
    client.initialize(&[], None).await;
    let listed = client
        .call_typed::<ListMcpServers>(ListMcpServersParams {
            session_id: Some(session_id(&session)),
        })
        .await;
    assert_eq!(listed.servers.len(), 1, "{listed:?}");
    assert_eq!(
        (
            listed.servers[0].name.as_str(),
            listed.servers[0].transport.as_str()
        ),
        ("everything", "http"),
        "{listed:?}"
    );
    client.finish().await;
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    let _ = server.kill().await;
}

/// ACP's `session/new` gives the session its own stdio MCP server (the
/// scripted one of the test suite): its tools reach the model and run; a
/// codelab editor on the same daemon sees it as the session's in
/// `codelab/listMcpServers`; `session/close` stops it, and deleting the
/// session forgets it.
#[tokio::test]
async fn mcp_servers_of_session_new_are_the_sessions_tools() {
    use codelab_agent::protocol::requests::{DeleteSession, ListMcpServers};
    use codelab_agent::protocol::types::{ListMcpServersParams, McpServerState, SessionParams};
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Echo"),
                "m1",
                "mcp__scripted__echo",
                json!({"text": "from acp"}),
            ),
            text("echo: from acp", "Done."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[[policy.rules]]\ntool = \"mcp__scripted__*\"\naction = \"allow\"\n",
    )
    .unwrap();
    let ws = tempfile::tempdir().unwrap();
    let record = ws.path().join("record");
    let script = repo().join("tests/fixtures/mcp/scripted_server.py");
    let mut agent = Agent::through_daemon(data.path(), &llm_env(&mock));
    let init = agent.initialize().await;
    assert_eq!(init["agentCapabilities"]["mcpCapabilities"]["http"], true);
    let r = agent
        .call(
            1,
            "session/new",
            json!({"cwd": ws.path().canonicalize().unwrap(), "mcpServers": [{
                "name": "scripted",
                "command": "python3",
                "args": [script, record],
                "env": [],
            }]}),
        )
        .await;
    let session = r["sessionId"].as_str().unwrap().to_owned();
    agent.set_mode(2, &session, "coder").await;
    let r = agent
        .call(3, "session/prompt", prompt(&session, "Echo"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent.completed("m1").await;
    assert!(
        std::fs::read_to_string(&record)
            .unwrap()
            .starts_with("call echo "),
        "the server ran the call"
    );
    let requests = mock.requests();
    assert!(
        requests[0].body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "mcp__scripted__echo")
    );
    // A codelab editor on the same daemon sees the session's server.
    let mut server = support::ServerProcess::daemon_client(data.path(), &llm_env(&mock));
    let mut client = server.stdio_client();
    client.initialize(&[], None).await;
    let id = session_id(&session);
    let of_session = |id| ListMcpServersParams {
        session_id: Some(id),
    };
    let listed = client.call_typed::<ListMcpServers>(of_session(id)).await;
    assert_eq!(listed.servers.len(), 1, "{listed:?}");
    let s = &listed.servers[0];
    assert_eq!(
        (s.name.as_str(), s.source.as_str(), s.session_id, &s.state),
        ("scripted", "session", Some(id), &McpServerState::Running),
        "{listed:?}"
    );
    assert!(
        s.tools.contains(&"mcp__scripted__echo".to_owned()),
        "{listed:?}"
    );
    let all = client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert!(
        all.servers.iter().any(|s| s.session_id == Some(id)),
        "{all:?}"
    );
    // Another session does not get it.
    let other = agent
        .new_session(4, &ws.path().canonicalize().unwrap())
        .await;
    let other: codelab_agent::domain::SessionId = serde_json::from_value(json!(other)).unwrap();
    let listed = client.call_typed::<ListMcpServers>(of_session(other)).await;
    assert!(listed.servers.is_empty(), "{listed:?}");

    // session/close stops it (the server sees its stdin close).
    agent
        .call(5, "session/close", json!({"sessionId": session}))
        .await;
    let mut stopped = false;
    for _ in 0..1000 {
        if std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .any(|l| l == "exit")
        {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stopped, "the session's server was stopped on session/close");
    let listed = client.call_typed::<ListMcpServers>(of_session(id)).await;
    assert!(listed.servers.is_empty(), "{listed:?}");

    // Loaded again with the server: known, not started; deleted: forgotten.
    agent
        .call(
            6,
            "session/load",
            json!({"sessionId": session, "cwd": ws.path().canonicalize().unwrap(), "mcpServers": [{
                "name": "scripted",
                "command": "python3",
                "args": [script, record],
                "env": [],
            }]}),
        )
        .await;
    let listed = client.call_typed::<ListMcpServers>(of_session(id)).await;
    assert_eq!(listed.servers.len(), 1, "{listed:?}");
    assert_eq!(
        listed.servers[0].state,
        McpServerState::Stopped,
        "{listed:?}"
    );
    agent
        .call(7, "session/close", json!({"sessionId": session}))
        .await;
    agent
        .call(
            8,
            "session/load",
            json!({"sessionId": session, "cwd": ws.path().canonicalize().unwrap(), "mcpServers": [{
                "name": "scripted",
                "command": "python3",
                "args": [script, record],
                "env": [],
            }]}),
        )
        .await;
    client
        .call_typed::<DeleteSession>(SessionParams { session_id: id })
        .await;
    let all = client
        .call_typed::<ListMcpServers>(ListMcpServersParams::default())
        .await;
    assert!(
        !all.servers.iter().any(|s| s.session_id == Some(id)),
        "{all:?}"
    );
    client.finish().await;
    assert_eq!(agent.close().await, Some(0));
}

/// The runtime's operations without an ACP method are slash commands: offered
/// with `available_commands_update` once the session exists, and run by a
/// prompt that is one (`/agent NAME` switches the agent, `/compact`
/// compacts); other prompts go to the model.
#[tokio::test]
async fn slash_commands_are_offered_and_run() {
    let mock = MockLlm::start(Script {
        replies: vec![
            text("Hello", "Hi."),
            text("", "Summary: the user said hello."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent.new_session(1, &root).await;
    let offered = agent
        .notification(|n| n["params"]["update"]["sessionUpdate"] == "available_commands_update")
        .await;
    let names: Vec<&str> = offered["params"]["update"]["availableCommands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["compact", "checkpoints", "restore", "agent"],
        "{offered}"
    );
    let r = agent
        .call(2, "session/prompt", prompt(&session, "/agent architect"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent
        .notification(|n| is_chunk(n, "Switched to the architect agent."))
        .await;
    agent
        .notification(|n| {
            n["params"]["update"]["sessionUpdate"] == "current_mode_update"
                && n["params"]["update"]["currentModeId"] == "architect"
        })
        .await;
    let (code, message) = agent
        .call_err(3, "session/prompt", prompt(&session, "/agent nobody"))
        .await;
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("unknown agent `nobody`"), "{message}");
    let r = agent
        .call(4, "session/prompt", prompt(&session, "Hello"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent.notification(|n| is_chunk(n, "Hi.")).await;
    assert_eq!(
        mock.requests().len(),
        1,
        "the commands did not reach the model"
    );
    let r = agent
        .call(5, "session/prompt", prompt(&session, "/compact"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    let said = agent
        .notification(|n| n["params"]["update"]["sessionUpdate"] == "agent_message_chunk")
        .await;
    let said = said["params"]["update"]["content"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        said.starts_with("Compacted the conversation: about "),
        "{said}"
    );
    assert_eq!(mock.requests().len(), 2, "one summary request");
    assert_eq!(agent.close().await, Some(0));
}

/// `/checkpoints` lists the turns whose edits can be undone, `/restore N`
/// puts the files back as they were before turn N; a checkpoint that does
/// not exist is a clear error.
#[tokio::test]
async fn checkpoints_are_listed_and_restored_by_slash_commands() {
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Rewrite"),
                "w1",
                "write_file",
                json!({"path": "notes.md", "content": "new\n"}),
            ),
            Reply {
                matches: None,
                chunks: vec![Chunk {
                    text: Some("Rewritten.".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[[policy.rules]]\ntool = \"write_file\"\naction = \"allow\"\n",
    )
    .unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.md"), "old\n").unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent.new_session(1, &root).await;
    let r = agent
        .call(2, "session/prompt", prompt(&session, "/checkpoints"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    agent
        .notification(|n| {
            is_chunk(
                n,
                "No checkpoints yet: the agent has changed no file in this session.",
            )
        })
        .await;
    agent.set_mode(3, &session, "coder").await;
    let r = agent
        .call(4, "session/prompt", prompt(&session, "Rewrite notes"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).unwrap(),
        "new\n"
    );
    agent.notes.clear();
    let r = agent
        .call(5, "session/prompt", prompt(&session, "/checkpoints"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    let listed = agent
        .notification(|n| n["params"]["update"]["sessionUpdate"] == "agent_message_chunk")
        .await;
    let listed = listed["params"]["update"]["content"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        listed.contains("\n1. turn ") && listed.contains(": notes.md (modified, +1 -1)"),
        "{listed}"
    );
    let (code, message) = agent
        .call_err(6, "session/prompt", prompt(&session, "/restore 2"))
        .await;
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("no checkpoint `2`"), "{message}");
    agent.notes.clear();
    let r = agent
        .call(7, "session/prompt", prompt(&session, "/restore 1"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    let said = agent
        .notification(|n| n["params"]["update"]["sessionUpdate"] == "agent_message_chunk")
        .await;
    let said = said["params"]["update"]["content"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        said.starts_with("Restored 1 file(s) as they were before turn "),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).unwrap(),
        "old\n"
    );
    assert_eq!(
        mock.requests().len(),
        2,
        "the commands did not reach the model"
    );
    assert_eq!(agent.close().await, Some(0));
}

/// The agent and the model as configuration options: listed with the
/// session, set with `session/set_config_option` (the model's requests then
/// name the chosen model; the agent switch is announced with
/// `current_mode_update` and `config_option_update`); unknown options and
/// values are clear errors.
#[tokio::test]
async fn agent_and_model_are_configuration_options() {
    let mock = MockLlm::start(Script {
        replies: vec![text("Hello again", "Hi again."), text("Hello", "Hi.")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        format!(
            "[llm]\nprovider = \"mock\"\nmodel = \"model-a\"\n\n[llm.providers.mock]\nkind = \"openai\"\n\
             base_url = \"{}\"\napi_key = \"sk-test\"\n\n[llm.models.\"model-b\"]\ncontext_window = 64000\n",
            mock.openai_base()
        ),
    )
    .unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::start(data.path(), &[]);
    agent.initialize().await;
    let r = agent
        .call(1, "session/new", json!({"cwd": root, "mcpServers": []}))
        .await;
    let session = r["sessionId"].as_str().unwrap().to_owned();
    let option = |options: &Value, id: &str| {
        options
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("no option {id}: {options}"))
            .clone()
    };
    let values = |o: &Value| -> Vec<String> {
        o["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["value"].as_str().unwrap().to_owned())
            .collect()
    };
    let mode = option(&r["configOptions"], "mode");
    assert_eq!(
        (&mode["type"], &mode["category"], &mode["currentValue"]),
        (&json!("select"), &json!("mode"), &json!("orchestrator")),
        "{mode}"
    );
    assert!(values(&mode).contains(&"coder".to_owned()), "{mode}");
    let model = option(&r["configOptions"], "model");
    assert_eq!(model["currentValue"], "mock/model-a", "{model}");
    assert_eq!(values(&model), ["mock/model-a", "mock/model-b"], "{model}");

    let r = agent
        .call(
            2,
            "session/set_config_option",
            json!({"sessionId": session, "configId": "model", "value": "mock/model-b"}),
        )
        .await;
    assert_eq!(
        option(&r["configOptions"], "model")["currentValue"],
        "mock/model-b"
    );
    let r = agent
        .call(3, "session/prompt", prompt(&session, "Hello"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    assert_eq!(mock.requests()[0].body["model"], "model-b");
    // The first message titled the session: said before the prompt's answer.
    let info: Vec<&Value> = agent
        .notes
        .iter()
        .filter(|n| n["params"]["update"]["sessionUpdate"] == "session_info_update")
        .collect();
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0]["params"]["update"]["title"], "Hello");

    agent.notes.clear();
    let r = agent
        .call(
            4,
            "session/set_config_option",
            json!({"sessionId": session, "configId": "mode", "value": "coder"}),
        )
        .await;
    assert_eq!(option(&r["configOptions"], "mode")["currentValue"], "coder");
    agent
        .notification(|n| {
            n["params"]["update"]["sessionUpdate"] == "current_mode_update"
                && n["params"]["update"]["currentModeId"] == "coder"
        })
        .await;
    let update = agent
        .notification(|n| n["params"]["update"]["sessionUpdate"] == "config_option_update")
        .await;
    assert_eq!(
        option(&update["params"]["update"]["configOptions"], "mode")["currentValue"],
        "coder"
    );

    let (code, message) = agent
        .call_err(
            5,
            "session/set_config_option",
            json!({"sessionId": session, "configId": "model", "value": "mock/nope"}),
        )
        .await;
    assert_eq!(code, -32602);
    assert!(message.contains("unknown model `mock/nope`"), "{message}");
    let (code, message) = agent
        .call_err(
            6,
            "session/set_config_option",
            json!({"sessionId": session, "configId": "colour", "value": "red"}),
        )
        .await;
    assert_eq!(code, -32602);
    assert!(
        message.contains("unknown configuration option `colour`"),
        "{message}"
    );
    assert_eq!(agent.close().await, Some(0));

    // The model chosen is kept with the session: another connection loads
    // it with that model, and its prompts use it.
    let mut agent = Agent::start(data.path(), &[]);
    agent.initialize().await;
    let r = agent
        .call(
            7,
            "session/load",
            json!({"sessionId": session, "cwd": root, "mcpServers": []}),
        )
        .await;
    assert_eq!(
        option(&r["configOptions"], "model")["currentValue"],
        "mock/model-b"
    );
    let r = agent
        .call(8, "session/prompt", prompt(&session, "Hello again"))
        .await;
    assert_eq!(r["stopReason"], "end_turn");
    assert_eq!(mock.requests()[1].body["model"], "model-b");
    let r = agent.call(9, "session/list", json!({})).await;
    assert_eq!(r["sessions"][0]["sessionId"], session.as_str());
    assert_eq!(r["sessions"][0]["title"], "Hello");
    // A title is announced when it changes only: not again.
    assert!(
        !agent
            .notes
            .iter()
            .any(|n| n["params"]["update"]["sessionUpdate"] == "session_info_update"),
        "{:?}",
        agent.notes
    );
    assert_eq!(agent.close().await, Some(0));
}

/// A question the client cannot be asked in a form or a permission request
/// is said as a message: one without suggestions (a permission request
/// would offer nothing to choose), and one whose permission request the
/// client failed. The model reads that the user answers in their next
/// message, and the turn ends.
#[tokio::test]
async fn a_question_the_client_cannot_ask_is_said_as_a_message() {
    let told = "the user answers in their next message";
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Name it"),
                "q1",
                "ask_followup_question",
                json!({"question": "What should the crate be called?"}),
            ),
            text(told, "Waiting for your answer."),
            tool_reply(
                Some("Pick one"),
                "q2",
                "ask_followup_question",
                json!({"question": "Which color?", "suggestions": ["red", "blue"]}),
            ),
            text(told, "Say which color."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::start(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent.new_session(1, &root).await;

    let r = agent
        .call(2, "session/prompt", prompt(&session, "Name it"))
        .await;
    assert_eq!(r["stopReason"], "end_turn", "{r}");
    agent
        .notification(|n| is_chunk(n, "What should the crate be called?"))
        .await;
    agent
        .notification(|n| is_chunk(n, "Waiting for your answer."))
        .await;
    assert!(
        !agent
            .notes
            .iter()
            .any(|n| n["method"] == "session/request_permission"),
        "{:?}",
        agent.notes
    );

    // With suggestions: a permission request, which this client fails.
    agent
        .send(
            json!({"jsonrpc": "2.0", "id": 3, "method": "session/prompt",
                     "params": prompt(&session, "Pick one")}),
        )
        .await;
    let asked = agent
        .notification(|m| m["method"] == "session/request_permission")
        .await;
    agent
        .send(json!({"jsonrpc": "2.0", "id": asked["id"],
                     "error": {"code": -32603, "message": "no UI for this"}}))
        .await;
    let said = agent.notification(|n| is_chunk(n, "Which color?")).await;
    let said = said["params"]["update"]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(said.contains("- red") && said.contains("- blue"), "{said}");
    let r = agent.answer(&json!(3)).await;
    assert_eq!(r["result"]["stopReason"], "end_turn", "{r}");
    let requests = mock.requests();
    let last = requests.last().unwrap().body["messages"].to_string();
    assert!(last.contains(told), "{last}");
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// A question asked as a form (`elicitation/create`: the client offers form
/// elicitation) and answered meanwhile in a codelab editor is withdrawn: the
/// ACP client gets `$/cancel_request` of the form, and the model reads the
/// codelab editor's answer.
#[tokio::test]
async fn a_form_answered_in_a_codelab_editor_is_withdrawn() {
    use codelab_agent::protocol::Notification;
    use codelab_agent::protocol::requests::AnswerQuestion;
    use codelab_agent::protocol::types::{
        AnswerQuestionParams, QuestionParams, TurnCompletedParams,
    };
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Ask away"),
                "q1",
                "ask_followup_question",
                json!({"question": "Which color?", "suggestions": ["red", "blue"]}),
            ),
            text("The user answered: green", "Green it is."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::through_daemon(data.path(), &llm_env(&mock));
    agent
        .call(
            0,
            "initialize",
            json!({"protocolVersion": 1, "clientCapabilities": {"elicitation": {"form": {}}}}),
        )
        .await;
    let session = agent.new_session(1, &root).await;
    let (_server, mut client, id) =
        codelab_editor_attached(data.path(), &llm_env(&mock), &root, &session).await;

    agent
        .send(
            json!({"jsonrpc": "2.0", "id": 2, "method": "session/prompt",
                     "params": prompt(&session, "Ask away")}),
        )
        .await;
    let form = agent
        .notification(|m| m["method"] == "elicitation/create")
        .await;
    assert_eq!(
        (&form["params"]["toolCallId"], &form["params"]["mode"]),
        (&json!("q1"), &json!("form")),
        "{form}"
    );
    let question = loop {
        let n = client.next_notification().await;
        if n["method"] == QuestionParams::NAME {
            break serde_json::from_value::<QuestionParams>(n["params"].clone()).unwrap();
        }
    };
    client
        .call_typed::<AnswerQuestion>(AnswerQuestionParams {
            session_id: id,
            question_id: question.question_id,
            answer: "green".into(),
        })
        .await;
    let cancel = agent
        .notification(|m| m["method"] == "$/cancel_request")
        .await;
    assert_eq!(cancel["params"]["requestId"], form["id"], "{cancel}");
    // As the SDK answers a request it cancelled.
    agent
        .send(json!({"jsonrpc": "2.0", "id": form["id"],
                     "error": {"code": -32800, "message": "Request cancelled"}}))
        .await;
    let r = agent.answer(&json!(2)).await;
    assert_eq!(r["result"]["stopReason"], "end_turn", "{r}");
    let requests = mock.requests();
    let last = requests.last().unwrap().body["messages"].to_string();
    assert!(last.contains("The user answered: green"), "{last}");
    while client.next_notification().await["method"] != TurnCompletedParams::NAME {}
    client.finish().await;
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// A question asked as a permission request (the client offers no form)
/// and answered meanwhile in a codelab editor is withdrawn like an
/// approval: `$/cancel_request` of the request, and the model reads the
/// codelab editor's answer.
#[tokio::test]
async fn a_question_asked_as_a_permission_and_answered_elsewhere_is_withdrawn() {
    use codelab_agent::protocol::Notification;
    use codelab_agent::protocol::requests::AnswerQuestion;
    use codelab_agent::protocol::types::{
        AnswerQuestionParams, QuestionParams, TurnCompletedParams,
    };
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Ask away"),
                "q1",
                "ask_followup_question",
                json!({"question": "Which color?", "suggestions": ["red", "blue"]}),
            ),
            text("The user answered: blue", "Blue it is."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let mut agent = Agent::through_daemon(data.path(), &llm_env(&mock));
    agent.initialize().await;
    let session = agent.new_session(1, &root).await;
    let (_server, mut client, id) =
        codelab_editor_attached(data.path(), &llm_env(&mock), &root, &session).await;

    agent
        .send(
            json!({"jsonrpc": "2.0", "id": 2, "method": "session/prompt",
                     "params": prompt(&session, "Ask away")}),
        )
        .await;
    let asked = agent
        .notification(|m| m["method"] == "session/request_permission")
        .await;
    let options: Vec<&str> = asked["params"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["red", "blue", "Don't answer"], "{asked}");
    let question = loop {
        let n = client.next_notification().await;
        if n["method"] == QuestionParams::NAME {
            break serde_json::from_value::<QuestionParams>(n["params"].clone()).unwrap();
        }
    };
    client
        .call_typed::<AnswerQuestion>(AnswerQuestionParams {
            session_id: id,
            question_id: question.question_id,
            answer: "blue".into(),
        })
        .await;
    let cancel = agent
        .notification(|m| m["method"] == "$/cancel_request")
        .await;
    assert_eq!(cancel["params"]["requestId"], asked["id"], "{cancel}");
    agent
        .send(json!({"jsonrpc": "2.0", "id": asked["id"],
                     "result": {"outcome": {"outcome": "cancelled"}}}))
        .await;
    let r = agent.answer(&json!(2)).await;
    assert_eq!(r["result"]["stopReason"], "end_turn", "{r}");
    let requests = mock.requests();
    let last = requests.last().unwrap().body["messages"].to_string();
    assert!(last.contains("The user answered: blue"), "{last}");
    while client.next_notification().await["method"] != TurnCompletedParams::NAME {}
    client.finish().await;
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// An approval decided in a codelab editor withdraws the ACP client's
/// pending permission request (`$/cancel_request` of it), so its prompt
/// closes; the call runs as decided.
#[tokio::test]
async fn a_permission_request_decided_in_a_codelab_editor_is_withdrawn() {
    use codelab_agent::domain::Decision;
    use codelab_agent::protocol::Notification;
    use codelab_agent::protocol::requests::DecideApproval;
    use codelab_agent::protocol::types::{
        ApprovalRequiredParams, DecideApprovalParams, TurnCompletedParams,
    };
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Rewrite"),
                "w1",
                "write_file",
                json!({"path": "notes.md", "content": "new\n"}),
            ),
            text("notes.md", "Rewritten."),
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.md"), "old\n").unwrap();
    let mut agent = Agent::through_daemon(data.path(), &llm_env(&mock));
    agent
        .call(0, "initialize", json!({"protocolVersion": 1}))
        .await;
    let session = agent.new_session(1, &root).await;
    agent.set_mode(3, &session, "coder").await;
    let (_server, mut client, _) =
        codelab_editor_attached(data.path(), &llm_env(&mock), &root, &session).await;
    agent
        .send(
            json!({"jsonrpc": "2.0", "id": 2, "method": "session/prompt",
                     "params": prompt(&session, "Rewrite")}),
        )
        .await;
    let asked = agent
        .notification(|m| m["method"] == "session/request_permission")
        .await;
    assert_eq!(asked["params"]["toolCall"]["toolCallId"], "w1", "{asked}");
    let approval = loop {
        let n = client.next_notification().await;
        if n["method"] == ApprovalRequiredParams::NAME {
            break serde_json::from_value::<ApprovalRequiredParams>(n["params"].clone()).unwrap();
        }
    };
    client
        .call_typed::<DecideApproval>(DecideApprovalParams {
            approval_id: approval.approval.id,
            decision: Decision::Approve,
            params: None,
            feedback: None,
            scope: None,
        })
        .await;
    let cancel = agent
        .notification(|m| m["method"] == "$/cancel_request")
        .await;
    assert_eq!(cancel["params"]["requestId"], asked["id"], "{cancel}");
    // As the SDK answers a request it cancelled.
    agent
        .send(json!({"jsonrpc": "2.0", "id": asked["id"],
                     "result": {"outcome": {"outcome": "cancelled"}}}))
        .await;
    let r = agent.answer(&json!(2)).await;
    assert_eq!(r["result"]["stopReason"], "end_turn", "{r}");
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).unwrap(),
        "new\n"
    );
    while client.next_notification().await["method"] != TurnCompletedParams::NAME {}
    client.finish().await;
    assert_eq!(agent.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// The model chosen on one ACP connection is the session's, for everyone:
/// another ACP connection on the session gets `config_option_update`, a
/// codelab editor attached to it `codelab/modelChosen`, and that editor's
/// next prompt uses the model, over the model its own settings name.
#[tokio::test]
async fn the_model_chosen_over_acp_holds_for_every_connection_and_client() {
    use codelab_agent::protocol::Notification;
    use codelab_agent::protocol::requests::{AttachSession, SendMessage};
    use codelab_agent::protocol::types::{
        AttachSessionParams, ChosenModel, ModelChosenParams, SendMessageParams, TurnCompletedParams,
    };
    let mock = MockLlm::start(Script {
        replies: vec![text("From the codelab editor", "Answered.")],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        format!(
            "[llm]\nprovider = \"mock\"\nmodel = \"model-a\"\n\n[llm.providers.mock]\nkind = \"openai\"\n\
             base_url = \"{}\"\napi_key = \"sk-test\"\n\n[llm.models.\"model-b\"]\ncontext_window = 64000\n",
            mock.openai_base()
        ),
    )
    .unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let current_model = |options: &Value| {
        options
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == "model")
            .unwrap_or_else(|| panic!("no model option: {options}"))["currentValue"]
            .clone()
    };

    // Two ACP editors and a codelab editor on one session, through the daemon.
    let mut first = Agent::through_daemon(data.path(), &[]);
    first.initialize().await;
    let session = first.new_session(1, &root).await;
    let mut second = Agent::through_daemon(data.path(), &[]);
    second.initialize().await;
    let r = second
        .call(
            1,
            "session/load",
            json!({"sessionId": session, "cwd": root, "mcpServers": []}),
        )
        .await;
    assert_eq!(current_model(&r["configOptions"]), "mock/model-a");
    let mut server = support::ServerProcess::daemon_client(data.path(), &[]);
    let mut client = server.stdio_client();
    // The codelab editor's own settings name model-a.
    client
        .initialize_with_options(
            Some(&support::file_uri(&root)),
            false,
            json!({"llm": {"model": "model-a"}}),
        )
        .await;
    let id = session_id(&session);
    client
        .call_typed::<AttachSession>(AttachSessionParams {
            session_id: id,
            after_seq: None,
        })
        .await;

    let r = first
        .call(
            2,
            "session/set_config_option",
            json!({"sessionId": session, "configId": "model", "value": "mock/model-b"}),
        )
        .await;
    assert_eq!(current_model(&r["configOptions"]), "mock/model-b");
    let update = second
        .notification(|n| {
            n["params"]["sessionId"] == session.as_str()
                && n["params"]["update"]["sessionUpdate"] == "config_option_update"
        })
        .await;
    assert_eq!(
        current_model(&update["params"]["update"]["configOptions"]),
        "mock/model-b"
    );
    let chosen = loop {
        let n = client.next_notification().await;
        if n["method"] == ModelChosenParams::NAME {
            break serde_json::from_value::<ModelChosenParams>(n["params"].clone()).unwrap();
        }
    };
    assert_eq!(chosen.session_id, id);
    assert_eq!(
        chosen.model,
        Some(ChosenModel {
            provider: "mock".into(),
            model: "model-b".into(),
        })
    );

    client
        .call_typed::<SendMessage>(SendMessageParams {
            session_id: id,
            text: "From the codelab editor".into(),
            agent: None,
            context: None,
        })
        .await;
    loop {
        let n = client.next_notification().await;
        if n["method"] == TurnCompletedParams::NAME {
            let p: TurnCompletedParams = serde_json::from_value(n["params"].clone()).unwrap();
            assert_eq!(p.error, None, "{p:?}");
            break;
        }
    }
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].body["model"], "model-b");
    client.finish().await;
    assert_eq!(second.close().await, Some(0));
    assert_eq!(first.close().await, Some(0));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// A third-party ACP client: `acpx` (a headless ACP command line client from
/// npm, on the official SDK's TypeScript types but its own session and
/// permission handling) runs one prompt against `codelab-agent acp`: the
/// orchestrator hands over to the coder, whose `write_file` asks; acpx
/// approves (`--approve-all`) and writes the file through its
/// `fs/write_text_file`.
#[tokio::test]
async fn a_third_party_client_acpx_drives_a_prompt_with_an_approved_edit() {
    let modules = PathBuf::from(script_output("scripts/npm-deps.sh", &["acpx"]));
    let acpx = modules.join("acpx/dist/cli.js");
    assert!(acpx.is_file(), "{acpx:?}");
    let node = script_output("scripts/node-deps.sh", &[]);
    let mock = MockLlm::start(Script {
        replies: vec![
            tool_reply(
                Some("Rewrite"),
                "s1",
                "switch_mode",
                json!({"mode": "coder", "reason": "an edit"}),
            ),
            tool_reply(
                None,
                "w1",
                "write_file",
                json!({"path": "notes.md", "content": "new\n"}),
            ),
            Reply {
                matches: None,
                chunks: vec![Chunk {
                    text: Some("Rewritten notes.md.".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.md"), "old\n").unwrap();
    let agent_cmd = format!(
        "{} --data-dir {} acp --standalone",
        env!("CARGO_BIN_EXE_codelab-agent"),
        data.path().display()
    );
    let mut cmd = Command::new(node);
    cmd.arg(&acpx)
        .args(["--agent", &agent_cmd, "--cwd"])
        .arg(&root)
        .args([
            "--approve-all",
            "--format",
            "json",
            "--timeout",
            "60",
            "exec",
            "Rewrite notes",
        ])
        // acpx keeps its own state under HOME.
        .env("HOME", home.path())
        .env_remove("CODELAB_DATA_DIR")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    for (k, v) in llm_env(&mock) {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("acpx finishes")
        .expect("acpx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = || format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "acpx failed:\n{}", report());
    // Its JSON output is the ACP traffic, one message per line.
    let messages: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let methods: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect();
    for m in [
        "initialize",
        "session/new",
        "session/prompt",
        "session/request_permission",
        "fs/write_text_file",
    ] {
        assert!(methods.contains(&m), "no {m}:\n{}", report());
    }
    let prompt_id = messages
        .iter()
        .find(|m| m["method"] == "session/prompt")
        .map(|m| m["id"].clone())
        .unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["id"] == prompt_id && m["result"]["stopReason"] == "end_turn"),
        "the prompt ended end_turn:\n{}",
        report()
    );
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).unwrap(),
        "new\n",
        "{}",
        report()
    );
    assert_eq!(mock.requests().len(), 3, "{}", report());
}
