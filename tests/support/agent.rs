//! Driving turns against the mock LLM, with the typed client.

#![allow(dead_code, clippy::unwrap_used)]

use codelab_agent::domain::{ApprovalId, SessionId, TurnId};
use codelab_agent::protocol::Notification;
use codelab_agent::protocol::requests::{
    AnswerQuestion, CreateSession, DecideApproval, SendMessage,
};
use codelab_agent::protocol::types::{
    AnswerQuestionParams, Approval, ApprovalRequiredParams, CreateSessionParams,
    DecideApprovalParams, Decision, QuestionParams, SendMessageParams, StopReason, TokenParams,
    ToolCallParams, ToolCallStatus, TurnCompletedParams,
};
use mock_llm::{Chunk, MockLlm, Reply, Script, ToolCallChunk};
use serde_json::{Value, json};

use super::typed::decode;
use super::{Client, ServerProcess, data_dir, file_uri};

/// The environment that points the server at the mock.
pub fn llm_env(mock: &MockLlm) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_BASE_URL", mock.openai_base()),
        ("OPENAI_API_KEY", "sk-test-key".to_owned()),
        ("CODELAB_MODEL", "gpt-4o-mini".to_owned()),
    ]
}

/// The same settings as [`llm_env`], as the editor's `initializationOptions`
/// (for an in-process server, which cannot have an environment of its own).
/// The provider is named, so keys in the test process's own environment
/// cannot make the choice ambiguous.
pub fn llm_options(mock: &MockLlm) -> Value {
    json!({"llm": {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "providers": {"openai": {"base_url": mock.openai_base(), "api_key": "sk-test-key"}},
    }})
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

/// A user `codelab.toml` that runs commands unsandboxed, so that every
/// command asks as it did before the sandbox (tests about approvals).
pub const SANDBOX_OFF: &str = "[sandbox]\nmode = \"off\"\n";

/// A mock, a workspace, a server and an initialized client with a session.
pub struct Harness {
    pub mock: MockLlm,
    pub data: tempfile::TempDir,
    pub ws: tempfile::TempDir,
    pub server: ServerProcess,
    pub client: Client,
    pub session: SessionId,
}

impl Harness {
    /// Starts everything; `agent` is the session's agent.
    pub async fn new(replies: Vec<Reply>, agent: &str, apply_edit: bool) -> Self {
        Self::with_config(replies, agent, apply_edit, "").await
    }

    /// Starts everything with `config` as the user's `codelab.toml`.
    pub async fn with_config(
        replies: Vec<Reply>,
        agent: &str,
        apply_edit: bool,
        config: &str,
    ) -> Self {
        Self::with_caps(replies, agent, apply_edit, config, None).await
    }

    /// Starts everything with `config` as the user's `codelab.toml`, the
    /// client offering `codelab` as `capabilities.experimental.codelab`.
    pub async fn with_caps(
        replies: Vec<Reply>,
        agent: &str,
        apply_edit: bool,
        config: &str,
        codelab: Option<Value>,
    ) -> Self {
        Self::with_env(replies, agent, apply_edit, config, codelab, &[]).await
    }

    /// [`Self::with_caps`], with `env` added to the server's environment.
    pub async fn with_env(
        replies: Vec<Reply>,
        agent: &str,
        apply_edit: bool,
        config: &str,
        codelab: Option<Value>,
        env: &[(&'static str, String)],
    ) -> Self {
        let mock = MockLlm::start(Script { replies }).await;
        let data = data_dir();
        if !config.is_empty() {
            std::fs::write(data.path().join("codelab.toml"), config).unwrap();
        }
        let ws = tempfile::tempdir().unwrap();
        let mut vars = llm_env(&mock);
        vars.extend(env.iter().cloned());
        let mut server = ServerProcess::stdio_env(data.path(), &vars);
        let mut client = server.stdio_client();
        let root = ws.path().canonicalize().unwrap();
        match codelab {
            Some(c) => {
                client
                    .initialize_codelab(Some(&file_uri(&root)), apply_edit, c)
                    .await
            }
            None => {
                client
                    .initialize_with(&[], Some(&file_uri(&root)), apply_edit)
                    .await
            }
        };
        let session = client
            .call_typed::<CreateSession>(CreateSessionParams {
                agent: Some(agent.to_owned()),
                ..Default::default()
            })
            .await
            .id;
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
    pub async fn send(&mut self, text: &str) -> TurnId {
        send(&mut self.client, self.session, text).await
    }

    /// Sends a message and drives the turn, approving everything and answering nothing.
    pub async fn turn(&mut self, text: &str) -> TurnLog {
        let turn = self.send(text).await;
        drive(&mut self.client, turn, |_| Some(approve()), |_| None).await
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

/// `codelab/sendMessage` with just the text; returns the turn id.
pub async fn send(client: &mut Client, session: SessionId, text: &str) -> TurnId {
    client
        .call_typed::<SendMessage>(SendMessageParams {
            session_id: session,
            text: text.to_owned(),
            agent: None,
            context: None,
        })
        .await
        .turn_id
}

/// A decision for [`drive`] to send (it fills in the approval's id).
pub fn decision(decision: Decision) -> DecideApprovalParams {
    DecideApprovalParams {
        approval_id: ApprovalId::default(),
        decision,
        params: None,
        feedback: None,
        scope: None,
    }
}

/// Approve, for [`drive`].
pub fn approve() -> DecideApprovalParams {
    decision(Decision::Approve)
}

/// What a turn sent.
#[derive(Debug)]
pub struct TurnLog {
    /// Every notification, in arrival order, as it was on the wire
    /// (`method` and `params`).
    pub events: Vec<Value>,
    /// The turnCompleted params.
    pub completed: TurnCompletedParams,
}

/// The final state of one tool call in a [`TurnLog`].
pub type ToolResult = (String, ToolCallStatus, String);

impl TurnLog {
    /// The params of every notification of `method`, as JSON.
    pub fn of(&self, method: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["method"] == method)
            .map(|e| &e["params"])
            .collect()
    }

    /// Every notification `N`, in arrival order.
    pub fn all<N: Notification>(&self) -> Vec<N> {
        let what = format!("a {} notification", N::NAME);
        self.of(N::NAME)
            .into_iter()
            .map(|p| decode(&what, p))
            .collect()
    }

    /// The streamed text.
    pub fn text(&self) -> String {
        self.all::<TokenParams>()
            .into_iter()
            .map(|t| t.delta)
            .collect()
    }

    /// The final state of each tool call (id, status, result), in order of
    /// first appearance.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        let mut order: Vec<String> = Vec::new();
        let mut last: std::collections::HashMap<String, (ToolCallStatus, String)> =
            Default::default();
        for p in self.all::<ToolCallParams>() {
            if !order.contains(&p.tool_call_id) {
                order.push(p.tool_call_id.clone());
            }
            last.insert(p.tool_call_id, (p.status, p.result.unwrap_or_default()));
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
    pub fn stop(&self) -> StopReason {
        self.completed.stop_reason
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

/// A turn's id, however a test holds it.
pub trait TurnRef {
    /// The id.
    fn turn_id(&self) -> TurnId;
}

impl TurnRef for TurnId {
    fn turn_id(&self) -> TurnId {
        *self
    }
}

impl TurnRef for &TurnId {
    fn turn_id(&self) -> TurnId {
        **self
    }
}

impl TurnRef for &str {
    fn turn_id(&self) -> TurnId {
        TurnId(uuid::Uuid::parse_str(self).unwrap_or_else(|e| panic!("a turn id {self:?}: {e}")))
    }
}

/// Reads notifications until `turn` completes, deciding approvals and
/// answering questions with the closures (`None`: leave it pending). The
/// approval closure's decision is sent for the approval it was given.
pub async fn drive(
    client: &mut Client,
    turn: impl TurnRef,
    mut on_approval: impl FnMut(&Approval) -> Option<DecideApprovalParams>,
    mut on_question: impl FnMut(&QuestionParams) -> Option<String>,
) -> TurnLog {
    let turn = turn.turn_id();
    let mut events = Vec::new();
    loop {
        let n = client.next_notification().await;
        let method = n["method"].as_str().unwrap().to_owned();
        let params = n["params"].clone();
        events.push(n);
        match method.as_str() {
            ApprovalRequiredParams::NAME => {
                let required: ApprovalRequiredParams = decode(&method, &params);
                if let Some(mut d) = on_approval(&required.approval) {
                    d.approval_id = required.approval.id;
                    client.call_typed::<DecideApproval>(d).await;
                }
            }
            QuestionParams::NAME => {
                let q: QuestionParams = decode(&method, &params);
                if let Some(answer) = on_question(&q) {
                    client
                        .call_typed::<AnswerQuestion>(AnswerQuestionParams {
                            session_id: q.session_id,
                            question_id: q.question_id,
                            answer,
                        })
                        .await;
                }
            }
            TurnCompletedParams::NAME => {
                let completed: TurnCompletedParams = decode(&method, &params);
                if completed.turn_id == turn {
                    return TurnLog { events, completed };
                }
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
