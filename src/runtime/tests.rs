//! The runtime driven in process: a real redb store in a temporary
//! directory, the real model client against `mock-llm` on loopback, no
//! binary and no protocol. Each test states one runtime rule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use mock_llm::{Chunk, MockLlm, Reply, Script, ToolCallChunk};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::hub::EventQueue;
use super::{ApprovalDecision, Parts, Runtime, RuntimeError, TurnInput};
use crate::domain::{
    Decision, Role, SessionEvent, SessionId, SessionUpdate, StopReason, ToolCallStatus,
};
use crate::events::EventBus;
use crate::llm::LlmClient;
use crate::llm::config::LlmSettings;
use crate::settings::Settings;
use crate::store::{RedbStore, Store};
use crate::tools::ToolLimits;
use crate::workspace::path_to_uri;

/// How long a test waits for any one event before it fails.
const WAIT: Duration = Duration::from_secs(20);

fn text(t: &str) -> Reply {
    Reply {
        chunks: vec![Chunk {
            text: Some(t.into()),
            split: Some(3),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn call(id: &str, name: &str, args: Value) -> Reply {
    Reply {
        chunks: vec![Chunk {
            tool_call: Some(ToolCallChunk {
                id: id.into(),
                name: name.into(),
                arguments: args,
                split: Some(5),
                split_header: false,
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A data directory whose `codelab.toml` points the model at `mock`.
fn data_dir(mock: &MockLlm) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("codelab.toml"),
        format!(
            "[llm]\nprovider = \"mock\"\nmodel = \"gpt-4o-mini\"\n\n[llm.providers.mock]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-test\"\n",
            mock.openai_base()
        ),
    )
    .unwrap();
    dir
}

/// A runtime over a redb store in `dir`.
fn runtime(dir: &std::path::Path) -> Arc<Runtime> {
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir).unwrap());
    let bus = Arc::new(EventBus::new());
    let llm = LlmClient::new(Duration::from_secs(5), Arc::clone(&bus)).unwrap();
    let settings = Settings::load(dir, LlmSettings::default()).unwrap();
    Arc::new(Runtime::new(Parts {
        store,
        bus,
        llm,
        settings,
        secrets: crate::events::Secrets::default(),
        limits: ToolLimits::default(),
        max_turns: 16,
        audit_subscription: None,
        launcher: Arc::new(crate::process::Launcher::direct("unit tests")),
        tmp_dir: dir.join("tmp"),
    }))
}

/// A connection's view of a session's events.
struct Watch {
    queue: Arc<EventQueue>,
    rx: mpsc::Receiver<Arc<SessionEvent>>,
}

impl Watch {
    fn new() -> Self {
        let (queue, rx) = EventQueue::new(1024, 1 << 24, CancellationToken::new());
        Self { queue, rx }
    }

    /// The next event whose update matches.
    async fn next_where(&mut self, pred: impl Fn(&SessionUpdate) -> bool) -> Arc<SessionEvent> {
        tokio::time::timeout(WAIT, async {
            loop {
                let e = self.queue.next(&mut self.rx).await.expect("queue open");
                if pred(&e.update) {
                    return e;
                }
            }
        })
        .await
        .expect("the event came")
    }

    async fn turn_completed(&mut self) -> (StopReason, Option<String>) {
        let e = self
            .next_where(|u| matches!(u, SessionUpdate::TurnCompleted { .. }))
            .await;
        match &e.update {
            SessionUpdate::TurnCompleted {
                stop_reason,
                result,
                ..
            } => (*stop_reason, result.clone()),
            _ => unreachable!(),
        }
    }
}

fn input(session: SessionId, text: &str) -> TurnInput {
    TurnInput {
        session_id: session,
        text: text.into(),
        agent: None,
        context: None,
        conn: None,
        editor_llm: None,
    }
}

#[tokio::test]
async fn a_turn_streams_its_reply_persists_it_and_completes_once() {
    let mock = MockLlm::start(Script {
        replies: vec![text("Hello from the model")],
    })
    .await;
    let dir = data_dir(&mock);
    let rt = runtime(dir.path());
    let s = rt
        .create_session(None, Some("ask".into()), None)
        .await
        .unwrap();
    let mut w = Watch::new();
    rt.send_message(input(s.id, "hi"), Some((1, Arc::clone(&w.queue))))
        .await
        .unwrap();
    let mut streamed = String::new();
    let mut seqs = Vec::new();
    let (stop, result) = loop {
        let e = w.next_where(|_| true).await;
        seqs.push(e.seq);
        match &e.update {
            SessionUpdate::Token { delta, .. } => streamed.push_str(delta),
            SessionUpdate::TurnCompleted {
                stop_reason,
                result,
                ..
            } => break (*stop_reason, result.clone()),
            _ => {}
        }
    };
    assert_eq!(stop, StopReason::EndTurn);
    assert_eq!(result.as_deref(), Some("Hello from the model"));
    assert_eq!(streamed, "Hello from the model");
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "seqs grow: {seqs:?}");
    let history = rt.history(s.id, 0, 100).await.unwrap().items;
    assert_eq!(
        history.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::User, Role::Assistant]
    );
    assert!(!rt.is_running(s.id));
}

#[tokio::test]
async fn an_edit_waits_for_approval_showing_both_contents_then_reaches_the_disk() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("NOTES.md"), "old\n").unwrap();
    let mock = MockLlm::start(Script {
        replies: vec![
            call(
                "c1",
                "write_file",
                json!({"path": "NOTES.md", "content": "new\n"}),
            ),
            text("Done."),
        ],
    })
    .await;
    let dir = data_dir(&mock);
    let rt = runtime(dir.path());
    let folder = path_to_uri(&ws.path().canonicalize().unwrap());
    let s = rt
        .create_session(folder, Some("coder".into()), None)
        .await
        .unwrap();
    let mut w = Watch::new();
    rt.send_message(input(s.id, "write it"), Some((1, Arc::clone(&w.queue))))
        .await
        .unwrap();
    let e = w
        .next_where(|u| matches!(u, SessionUpdate::ApprovalRequired(_)))
        .await;
    let SessionUpdate::ApprovalRequired(approval) = &e.update else {
        unreachable!()
    };
    let preview = approval.preview.as_ref().expect("an edit has a preview");
    assert_eq!(preview.files.len(), 1);
    assert_eq!(preview.files[0].path, "NOTES.md");
    assert_eq!(preview.files[0].current, "old\n");
    assert_eq!(preview.files[0].proposed, "new\n");
    assert!(preview.diff.contains("-old") && preview.diff.contains("+new"));
    // Nothing is written before the decision.
    assert_eq!(
        std::fs::read_to_string(ws.path().join("NOTES.md")).unwrap(),
        "old\n"
    );
    assert_eq!(rt.pending_approvals(Some(s.id)).await.unwrap().len(), 1);

    let approve = ApprovalDecision {
        decision: Decision::Approve,
        params: None,
        feedback: None,
        scope: None,
    };
    rt.decide_approval(approval.id, approve.clone(), "client:1")
        .await
        .unwrap();
    let e = w
        .next_where(|u| {
            matches!(
                u,
                SessionUpdate::ToolCall {
                    status: ToolCallStatus::Completed,
                    ..
                }
            )
        })
        .await;
    let SessionUpdate::ToolCall { call, .. } = &e.update else {
        unreachable!()
    };
    assert_eq!(call.name, "write_file");
    assert_eq!(w.turn_completed().await.0, StopReason::EndTurn);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("NOTES.md")).unwrap(),
        "new\n"
    );
    // The first decision wins: a second one finds nothing pending.
    let again = rt.decide_approval(approval.id, approve, "client:2").await;
    assert!(
        matches!(again, Err(RuntimeError::NotPending(_))),
        "{again:?}"
    );
    assert!(rt.pending_approvals(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn one_turn_at_a_time_per_session_and_cancel_closes_open_calls() {
    let ws = tempfile::tempdir().unwrap();
    let mock = MockLlm::start(Script {
        replies: vec![call("c1", "execute_command", json!({"command": "echo hi"}))],
    })
    .await;
    let dir = data_dir(&mock);
    let rt = runtime(dir.path());
    let folder = path_to_uri(&ws.path().canonicalize().unwrap());
    let s = rt
        .create_session(folder, Some("coder".into()), None)
        .await
        .unwrap();
    let mut w = Watch::new();
    let turn = rt
        .send_message(input(s.id, "run it"), Some((1, Arc::clone(&w.queue))))
        .await
        .unwrap();
    w.next_where(|u| matches!(u, SessionUpdate::ApprovalRequired(_)))
        .await;
    let busy = rt.send_message(input(s.id, "again"), None).await;
    assert!(
        matches!(busy, Err(RuntimeError::Busy { turn: t, .. }) if t == turn),
        "{busy:?}"
    );
    assert!(matches!(
        rt.delete_session(s.id).await,
        Err(RuntimeError::Busy { .. })
    ));
    assert_eq!(rt.cancel_turn(s.id).await.unwrap(), Some(turn));
    let e = w
        .next_where(|u| matches!(u, SessionUpdate::ApprovalResolved { .. }))
        .await;
    assert!(matches!(
        e.update,
        SessionUpdate::ApprovalResolved {
            decision: Decision::Cancelled,
            ..
        }
    ));
    assert_eq!(w.turn_completed().await.0, StopReason::Cancelled);
    // The call got a result, so the history stays well-formed.
    let history = rt.history(s.id, 0, 100).await.unwrap().items;
    let last = history.last().unwrap();
    assert_eq!(last.role, Role::Tool);
    assert_eq!(last.tool_call_id.as_deref(), Some("c1"));
    assert!(last.is_error);
    assert!(super::unanswered_calls(&history).is_empty());
    assert!(rt.pending_approvals(None).await.unwrap().is_empty());
    assert_eq!(rt.cancel_turn(s.id).await.unwrap(), None);
}

/// The process that asked dies (its tokio runtime is dropped, every task
/// with it); a new runtime on the same store finds the approval, and
/// deciding it resumes the turn from the history alone.
#[test]
fn a_pending_approval_outlives_its_runtime_and_deciding_it_resumes_the_turn() {
    let ws = tempfile::tempdir().unwrap();
    let folder = path_to_uri(&ws.path().canonicalize().unwrap());
    let mock_rt = tokio::runtime::Runtime::new().unwrap();
    let mock = mock_rt.block_on(MockLlm::start(Script {
        replies: vec![
            call(
                "c1",
                "write_file",
                json!({"path": "out.txt", "content": "resumed\n"}),
            ),
            text("Finished after the restart."),
        ],
    }));
    let dir = data_dir(&mock);

    let first = tokio::runtime::Runtime::new().unwrap();
    let (session, approval) = first.block_on(async {
        let rt = runtime(dir.path());
        let s = rt
            .create_session(folder.clone(), Some("coder".into()), None)
            .await
            .unwrap();
        let mut w = Watch::new();
        rt.send_message(input(s.id, "write"), Some((1, Arc::clone(&w.queue))))
            .await
            .unwrap();
        let e = w
            .next_where(|u| matches!(u, SessionUpdate::ApprovalRequired(_)))
            .await;
        let SessionUpdate::ApprovalRequired(a) = &e.update else {
            unreachable!()
        };
        (s.id, a.id)
    });
    drop(first);

    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let rt = runtime(dir.path());
        let pending = rt.pending_approvals(Some(session)).await.unwrap();
        assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), [approval]);
        assert!(!rt.is_running(session));
        let mut w = Watch::new();
        rt.attach(session, 7, Arc::clone(&w.queue), 0)
            .await
            .unwrap();
        rt.decide_approval(
            approval,
            ApprovalDecision {
                decision: Decision::Approve,
                params: None,
                feedback: None,
                scope: None,
            },
            "client:7",
        )
        .await
        .unwrap();
        let (stop, result) = w.turn_completed().await;
        assert_eq!(stop, StopReason::EndTurn);
        assert_eq!(result.as_deref(), Some("Finished after the restart."));
        assert_eq!(
            std::fs::read_to_string(ws.path().join("out.txt")).unwrap(),
            "resumed\n"
        );
        assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    });
}

#[tokio::test]
async fn unknown_sessions_and_agents_are_typed_errors() {
    let mock = MockLlm::start(Script::default()).await;
    let dir = data_dir(&mock);
    let rt = runtime(dir.path());
    let missing = SessionId::new();
    assert!(matches!(
        rt.get_session(missing).await,
        Err(RuntimeError::SessionNotFound(id)) if id == missing
    ));
    assert!(matches!(
        rt.send_message(input(missing, "hi"), None).await,
        Err(RuntimeError::SessionNotFound(_))
    ));
    assert!(matches!(
        rt.create_session(None, Some("nobody".into()), None).await,
        Err(RuntimeError::UnknownAgent(a)) if a == "nobody"
    ));
    let s = rt.create_session(None, None, None).await.unwrap();
    assert_eq!(s.agent, crate::agents::DEFAULT_AGENT);
    assert!(matches!(
        rt.switch_agent(s.id, "nobody", "test").await,
        Err(RuntimeError::UnknownAgent(_))
    ));
    let switched = rt.switch_agent(s.id, "coder", "test").await.unwrap();
    assert_eq!(switched.agent, "coder");
    assert_eq!(rt.current_agent(s.id).await.unwrap().slug, "coder");
}

#[test]
fn the_model_chosen_for_a_session_goes_over_the_editors_settings() {
    use crate::domain::ModelChoice;
    let editor = LlmSettings {
        provider: Some("openai".into()),
        model: Some("gpt-4o".into()),
        max_tokens: Some(100),
        ..LlmSettings::default()
    };
    let chosen = ModelChoice {
        provider: "anthropic".into(),
        model: "claude-sonnet-4-5".into(),
    };
    let llm = super::session_llm(Some(&editor), Some(&chosen)).expect("settings");
    assert_eq!(
        (
            llm.provider.as_deref(),
            llm.model.as_deref(),
            llm.max_tokens
        ),
        (Some("anthropic"), Some("claude-sonnet-4-5"), Some(100)),
        "the choice over the editor's model; the rest of its settings kept"
    );
    assert_eq!(super::session_llm(Some(&editor), None), Some(editor));
    assert_eq!(super::session_llm(None, None), None);
    assert_eq!(
        super::session_llm(None, Some(&chosen)).and_then(|l| l.model),
        Some("claude-sonnet-4-5".into())
    );
}
