//! Driving turns of the real binary against the mock LLM.

#![allow(dead_code, clippy::unwrap_used)]

use mock_llm::{Chunk, MockLlm, Reply, Script, ToolCallChunk};
use serde_json::{Value, json};

use super::{Client, ServerProcess, data_dir, file_uri};

/// The environment that points the server at the mock.
pub fn llm_env(mock: &MockLlm) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_BASE_URL", mock.openai_base()),
        ("OPENAI_API_KEY", "sk-test-key".to_owned()),
        ("CODELAB_MODEL", "gpt-4o-mini".to_owned()),
    ]
}

/// A reply with text only.
pub fn text(t: &str) -> Reply {
    Reply {
        chunks: vec![Chunk {
            text: Some(t.into()),
            split: Some(4),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A reply with tool calls: (id, name, arguments).
pub fn calls(text: &str, calls: &[(&str, &str, Value)]) -> Reply {
    let mut chunks = Vec::new();
    if !text.is_empty() {
        chunks.push(Chunk {
            text: Some(text.into()),
            ..Default::default()
        });
    }
    for (id, name, args) in calls {
        chunks.push(Chunk {
            tool_call: Some(ToolCallChunk {
                id: (*id).into(),
                name: (*name).into(),
                arguments: args.clone(),
                split: Some(7),
                split_header: false,
            }),
            ..Default::default()
        });
    }
    Reply {
        chunks,
        ..Default::default()
    }
}

/// A reply with one tool call.
pub fn call(id: &str, name: &str, args: Value) -> Reply {
    calls("", &[(id, name, args)])
}

/// `attempt_completion` with `result`.
pub fn complete(id: &str, result: &str) -> Reply {
    call(id, "attempt_completion", json!({"result": result}))
}

/// Only for a request whose last message contains `m`.
pub fn when(m: &str, mut r: Reply) -> Reply {
    r.matches = Some(m.into());
    r
}

/// A mock, a workspace, a server and an initialized client with a session.
pub struct Harness {
    pub mock: MockLlm,
    pub data: tempfile::TempDir,
    pub ws: tempfile::TempDir,
    pub server: ServerProcess,
    pub client: Client,
    pub session: String,
}

impl Harness {
    /// Starts everything; `agent` is the session's agent.
    pub async fn new(replies: Vec<Reply>, agent: &str, apply_edit: bool) -> Self {
        let mock = MockLlm::start(Script { replies }).await;
        let data = data_dir();
        let ws = tempfile::tempdir().unwrap();
        let mut server = ServerProcess::stdio_env(data.path(), &llm_env(&mock));
        let mut client = server.stdio_client();
        let root = ws.path().canonicalize().unwrap();
        client
            .initialize_with(&[], Some(&file_uri(&root)), apply_edit)
            .await;
        let s = client
            .call("codelab/createSession", json!({"agent": agent}))
            .await;
        let session = s["id"].as_str().unwrap().to_owned();
        Self {
            mock,
            data,
            ws,
            server,
            client,
            session,
        }
    }

    /// The workspace root.
    pub fn root(&self) -> std::path::PathBuf {
        self.ws.path().canonicalize().unwrap()
    }

    /// Sends a message; returns the turn id.
    pub async fn send(&mut self, text: &str) -> String {
        let r = self
            .client
            .call(
                "codelab/sendMessage",
                json!({"sessionId": self.session, "text": text}),
            )
            .await;
        r["turnId"].as_str().unwrap().to_owned()
    }

    /// Sends a message and drives the turn, approving everything and answering nothing.
    pub async fn turn(&mut self, text: &str) -> TurnLog {
        let turn = self.send(text).await;
        drive(
            &mut self.client,
            &turn,
            |_| Some(json!({"decision": "approve"})),
            |_| None,
        )
        .await
    }

    /// Finishes: no unconsumed messages, no pairing violations, every scripted reply used.
    pub async fn finish(self) {
        assert!(
            self.mock.violations().is_empty(),
            "mock violations: {:?}",
            self.mock.violations()
        );
        self.client.finish().await;
    }
}

/// What a turn sent.
#[derive(Debug)]
pub struct TurnLog {
    /// Every notification, in arrival order.
    pub events: Vec<Value>,
    /// The turnCompleted params.
    pub completed: Value,
}

impl TurnLog {
    /// The params of every notification of `method`.
    pub fn of(&self, method: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["method"] == method)
            .map(|e| &e["params"])
            .collect()
    }

    /// The streamed text.
    pub fn text(&self) -> String {
        self.of("codelab/token")
            .iter()
            .map(|p| p["delta"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The final state of each tool call, by id, in order of first appearance.
    pub fn tool_results(&self) -> Vec<(String, String, String)> {
        let mut order: Vec<String> = Vec::new();
        let mut last: std::collections::HashMap<String, (String, String)> = Default::default();
        for p in self.of("codelab/toolCall") {
            let id = p["toolCallId"].as_str().unwrap().to_owned();
            if !order.contains(&id) {
                order.push(id.clone());
            }
            last.insert(
                id,
                (
                    p["status"].as_str().unwrap().to_owned(),
                    p["result"].as_str().unwrap_or("").to_owned(),
                ),
            );
        }
        order
            .into_iter()
            .map(|id| {
                let (s, r) = last.remove(&id).unwrap();
                (id, s, r)
            })
            .collect()
    }

    /// The stop reason.
    pub fn stop(&self) -> &str {
        self.completed["stopReason"].as_str().unwrap()
    }

    /// Asserts that seq only grows.
    pub fn assert_seq_increasing(&self) {
        let seqs: Vec<u64> = self
            .events
            .iter()
            .map(|e| e["params"]["seq"].as_u64().unwrap())
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "seq not increasing: {seqs:?}"
        );
    }
}

/// Reads notifications until `turn` completes, deciding approvals and
/// answering questions with the closures (`None`: leave it pending).
pub async fn drive(
    client: &mut Client,
    turn: &str,
    mut on_approval: impl FnMut(&Value) -> Option<Value>,
    mut on_question: impl FnMut(&Value) -> Option<String>,
) -> TurnLog {
    let mut events = Vec::new();
    loop {
        let n = client.next_notification().await;
        let method = n["method"].as_str().unwrap().to_owned();
        let params = n["params"].clone();
        events.push(n);
        match method.as_str() {
            "codelab/approvalRequired" => {
                if let Some(mut d) = on_approval(&params["approval"]) {
                    d["approvalId"] = params["approval"]["id"].clone();
                    client.call("codelab/decideApproval", d).await;
                }
            }
            "codelab/question" => {
                if let Some(a) = on_question(&params) {
                    client
                        .call("codelab/answerQuestion", json!({"sessionId": params["sessionId"], "questionId": params["questionId"], "answer": a}))
                        .await;
                }
            }
            "codelab/turnCompleted" if params["turnId"] == turn => {
                return TurnLog {
                    events,
                    completed: params,
                };
            }
            _ => {}
        }
    }
}

/// Starts a stdio server on `data` pointed at `mock`, with an initialized client.
pub async fn restart(
    data: &std::path::Path,
    mock: &MockLlm,
    root: &str,
) -> (ServerProcess, Client) {
    let mut server = ServerProcess::stdio_env(data, &llm_env(mock));
    let mut client = server.stdio_client();
    client.initialize(&[], Some(root)).await;
    (server, client)
}
