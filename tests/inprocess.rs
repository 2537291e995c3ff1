//! The in-process server: the library's connection driver over in-memory
//! pipes, on a core opened as the binary opens it, driven by the same strict,
//! typed client as the real binary. Nothing here spawns `codelab-agent`
//! except the one test that runs the same scenario against it, to show that
//! the client cannot tell them apart.
//!
//! The model settings reach the server as the editor's
//! `initializationOptions`: the environment is the whole test process's.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::path::Path;

use codelab_agent::domain::{SessionId, TurnId};
use codelab_agent::protocol::ErrorCode;
use codelab_agent::protocol::requests::{
    CreateSession, DecideApproval, GetHistory, GetSession, SendMessage,
};
use codelab_agent::protocol::types::{
    ApprovalRequiredParams, ApprovalResolvedParams, CreateSessionParams, DecideApprovalParams,
    Decision, GetHistoryParams, MessageAddedParams, Role, SendMessageParams, SessionParams,
    StopReason, TokenParams, ToolCallParams, ToolCallStatus, TurnCompletedParams,
};
use codelab_agent::server::ConnectionEnd;
use mock_llm::{MockLlm, Script};
use serde_json::json;
use support::agent::{approve, calls, llm_options, send, text};
use support::inprocess::InProcess;
use support::{Client, ServerProcess, data_dir, file_uri};

const INTRO: &str = "I will write the greeting file.";
const OUTRO: &str = "Done: hello.txt holds the greeting.";
const CONTENT: &str = "hello from the agent\n";

fn script() -> Script {
    Script {
        replies: vec![
            calls(
                INTRO,
                &[(
                    "w1",
                    "write_file",
                    json!({"path": "hello.txt", "content": CONTENT}),
                )],
            ),
            text(OUTRO),
        ],
    }
}

/// Takes `codelab/token` notifications until they spell `expected`, each of
/// `turn` in `session`; their seqs.
async fn streamed(
    client: &mut Client,
    (session, turn): (SessionId, TurnId),
    expected: &str,
) -> Vec<u64> {
    let mut text = String::new();
    let mut seqs = Vec::new();
    while text.len() < expected.len() {
        let token = client.expect::<TokenParams>().await;
        assert_eq!((token.session_id, token.turn_id), (session, turn));
        text.push_str(&token.delta);
        seqs.push(token.seq);
    }
    assert_eq!(text, expected);
    seqs
}

/// One turn with a model reply streamed as tokens, a `write_file` that asks,
/// is approved and lands on disk, and a closing reply; every notification
/// taken typed. The client must be fresh; `root` is the workspace.
async fn approve_a_write(client: &mut Client, mock: &MockLlm, root: &Path) {
    let uri = file_uri(root);
    client
        .initialize_with_options(Some(&uri), false, llm_options(mock))
        .await;
    let session = client
        .call_typed::<CreateSession>(CreateSessionParams {
            agent: Some("coder".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(session.agent, "coder");
    assert_eq!(session.workspace_folder.as_deref(), Some(uri.as_str()));
    let turn = client
        .call_typed::<SendMessage>(SendMessageParams {
            session_id: session.id,
            text: "write a greeting to hello.txt".into(),
            agent: None,
            context: None,
        })
        .await
        .turn_id;

    let user = client.expect::<MessageAddedParams>().await;
    assert_eq!(user.message.role, Role::User);
    assert_eq!(user.message.text, "write a greeting to hello.txt");
    assert_eq!(user.message.turn_id, Some(turn));
    let mut seqs = vec![user.seq];

    seqs.extend(streamed(client, (session.id, turn), INTRO).await);
    let reply = client.expect::<MessageAddedParams>().await;
    assert_eq!(reply.message.role, Role::Assistant);
    assert_eq!(reply.message.text, INTRO);
    assert_eq!(reply.message.tool_calls.len(), 1);
    assert_eq!(reply.message.tool_calls[0].name, "write_file");
    seqs.push(reply.seq);

    // The write waits for the user: nothing is on disk yet.
    let pending = client
        .expect_where::<ToolCallParams>(|c| c.status == ToolCallStatus::Pending)
        .await;
    assert_eq!(
        (pending.tool_call_id.as_str(), pending.name.as_str()),
        ("w1", "write_file")
    );
    let required = client.expect::<ApprovalRequiredParams>().await;
    let approval = required.approval;
    assert_eq!(
        (approval.tool.as_str(), approval.turn_id),
        ("write_file", turn)
    );
    let files = approval.files.as_deref().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (
            files[0].path.as_str(),
            files[0].current.as_str(),
            files[0].proposed.as_str()
        ),
        ("hello.txt", "", CONTENT)
    );
    assert!(
        !root.join("hello.txt").exists(),
        "nothing written before the approval"
    );
    seqs.extend([pending.seq, required.seq]);

    let decided = client
        .call_typed::<DecideApproval>(DecideApprovalParams {
            approval_id: approval.id,
            ..approve()
        })
        .await;
    assert_eq!(decided.id, approval.id);
    let resolved = client.expect::<ApprovalResolvedParams>().await;
    assert_eq!(
        (resolved.approval_id, resolved.decision),
        (approval.id, Decision::Approve)
    );
    let running = client
        .expect_where::<ToolCallParams>(|c| c.status == ToolCallStatus::InProgress)
        .await;
    let done = client
        .expect_where::<ToolCallParams>(|c| c.status == ToolCallStatus::Completed)
        .await;
    assert_eq!(
        (running.tool_call_id.as_str(), done.tool_call_id.as_str()),
        ("w1", "w1")
    );
    let result = client.expect::<MessageAddedParams>().await;
    assert_eq!(result.message.role, Role::Tool);
    assert_eq!(result.message.tool_call_id.as_deref(), Some("w1"));
    assert!(!result.message.is_error, "{}", result.message.text);
    seqs.extend([resolved.seq, running.seq, done.seq, result.seq]);

    seqs.extend(streamed(client, (session.id, turn), OUTRO).await);
    let last = client.expect::<MessageAddedParams>().await;
    assert_eq!(
        (last.message.role, last.message.text.as_str()),
        (Role::Assistant, OUTRO)
    );
    seqs.push(last.seq);
    let completed = client
        .expect_where::<TurnCompletedParams>(|c| c.turn_id == turn)
        .await;
    assert_eq!(completed.stop_reason, StopReason::EndTurn, "{completed:?}");
    assert_eq!(completed.result.as_deref(), Some(OUTRO));
    assert!(
        seqs.iter().all(|s| *s < completed.seq),
        "the turn's end comes after everything it did: {seqs:?} then {}",
        completed.seq
    );
    assert_eq!(
        std::fs::read_to_string(root.join("hello.txt")).unwrap(),
        CONTENT
    );

    let history = client
        .call_typed::<GetHistory>(GetHistoryParams {
            session_id: session.id,
            after_seq: None,
            limit: None,
        })
        .await;
    let roles: Vec<Role> = history.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );

    // The model was reached through the editor's settings.
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.body["model"] == "gpt-4o-mini"));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_in_process_streams_asks_and_writes_to_disk() {
    let mock = MockLlm::start(script()).await;
    let data = data_dir();
    let ws = tempfile::tempdir().unwrap();
    let mut server = InProcess::open(data.path());
    let mut client = server.client();
    approve_a_write(&mut client, &mock, &ws.path().canonicalize().unwrap()).await;
    client.finish().await;
    assert_eq!(server.connection_ends().await, [ConnectionEnd::CleanExit]);
}

#[tokio::test]
async fn the_same_scenario_drives_the_real_binary() {
    let mock = MockLlm::start(script()).await;
    let data = data_dir();
    let ws = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::stdio(data.path());
    let mut client = server.stdio_client();
    approve_a_write(&mut client, &mock, &ws.path().canonicalize().unwrap()).await;
    client.finish().await;
    assert_eq!(server.wait().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_connections_share_the_core_and_end_like_the_binary_s() {
    let data = data_dir();
    let mut server = InProcess::open(data.path());
    let mut a = server.client();
    let unknown = SessionId::new();
    let early = a
        .error_typed::<GetSession>(SessionParams {
            session_id: unknown,
        })
        .await;
    assert_eq!(early.code, ErrorCode::ServerNotInitialized);
    a.initialize(&[], None).await;
    let err = a
        .error_typed::<GetSession>(SessionParams {
            session_id: unknown,
        })
        .await;
    assert_eq!(err.code, ErrorCode::SessionNotFound);
    assert_eq!(err.data.session_id, Some(unknown));
    assert!(!err.data.retryable);
    let created = a
        .call_typed::<CreateSession>(CreateSessionParams::default())
        .await;
    // A second connection sees the first one's session, and so does the core.
    let mut b = server.client();
    b.initialize(&[], None).await;
    let got = b
        .call_typed::<GetSession>(SessionParams {
            session_id: created.id,
        })
        .await;
    assert_eq!(got, created);
    assert_eq!(
        server
            .core
            .runtime
            .get_session(created.id)
            .await
            .unwrap()
            .id,
        created.id
    );
    a.finish().await;
    b.done(); // the editor goes away without shutdown
    assert_eq!(
        server.connection_ends().await,
        [ConnectionEnd::CleanExit, ConnectionEnd::Closed]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "messages went unconsumed")]
async fn in_process_the_client_is_as_strict_as_with_the_binary() {
    let mock = MockLlm::start(Script {
        replies: vec![text("an answer nobody reads")],
    })
    .await;
    let data = data_dir();
    let mut server = InProcess::open(data.path());
    let mut client = server.client();
    client
        .initialize_with_options(None, false, llm_options(&mock))
        .await;
    let session = client
        .call_typed::<CreateSession>(CreateSessionParams::default())
        .await;
    let turn = send(&mut client, session.id, "hi").await;
    client
        .expect_where::<TurnCompletedParams>(|c| c.turn_id == turn)
        .await;
    // The message and token notifications were never taken.
    client.finish().await;
}

#[test]
#[should_panic(expected = "does not round-trip")]
fn the_typed_client_refuses_a_field_its_type_does_not_know() {
    let token = json!({
        "sessionId": SessionId::new(),
        "turnId": TurnId::new(),
        "seq": 1,
        "delta": "hi",
        "colour": "blue",
    });
    support::typed::decode::<TokenParams>("a token", &token);
}
