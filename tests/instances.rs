//! Several `serve` instances over one PostgreSQL database (a real cluster,
//! see `tests/support/postgres.rs`), clients spread across them: sessions,
//! streams, approvals and failover across instances.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use codelab_agent::domain::SessionId;
use codelab_agent::protocol::ErrorCode;
use codelab_agent::protocol::requests::{
    AttachSession, CreateSession, DecideApproval, GetHistory, ListSessions,
};
use codelab_agent::protocol::types::{
    ApprovalRequiredParams, AttachSessionParams, CreateSessionParams, DecideApprovalParams,
    Decision, GetHistoryParams, ListSessionsParams, MessageAddedParams, Role, StopReason,
    TokenParams, TurnCompletedParams,
};
use mock_llm::{Chunk, MockLlm, Reply, Script};
use serde_json::json;
use support::agent::{SANDBOX_OFF, approve, call, complete, decision, drive, llm_env, send};
use support::{Client, ServerProcess, file_uri};

/// How long a lease lasts in these tests (the instances renew it every
/// third): short, for the failover tests, and long enough that a loaded
/// machine still renews in time.
const LEASE_MS: u64 = 3000;

/// Instances named `a`, `b`, ... on one fresh database, each with a data
/// directory of its own (for its token and settings), one mock model.
struct Instances {
    mock: MockLlm,
    url: String,
    ws: tempfile::TempDir,
    dirs: Vec<tempfile::TempDir>,
    servers: Vec<ServerProcess>,
}

impl Instances {
    async fn start(n: usize, replies: Vec<Reply>) -> Self {
        Self::start_on(support::postgres::cluster(), n, replies).await
    }

    async fn start_on(cluster: &support::postgres::Cluster, n: usize, replies: Vec<Reply>) -> Self {
        let mock = MockLlm::start(Script { replies }).await;
        let url = cluster.fresh_database().await;
        let mut me = Self {
            mock,
            url,
            ws: tempfile::tempdir().unwrap(),
            dirs: Vec::new(),
            servers: Vec::new(),
        };
        for i in 0..n {
            let server = me.spawn(i).await;
            me.servers.push(server);
        }
        me
    }

    fn name(i: usize) -> String {
        ((b'a' + i as u8) as char).to_string()
    }

    async fn spawn(&mut self, i: usize) -> ServerProcess {
        let dir = support::data_dir();
        std::fs::write(dir.path().join("codelab.toml"), SANDBOX_OFF).unwrap();
        let mut env = llm_env(&self.mock);
        env.push(("CODELAB_INSTANCE_ID", Self::name(i)));
        env.push(("CODELAB_LEASE_MS", LEASE_MS.to_string()));
        let server = ServerProcess::websocket_args(
            dir.path(),
            &env,
            &[
                "--store",
                &self.url,
                "--rate-limit",
                "1000000",
                "--token-rate-limit",
                "1000000",
            ],
        )
        .await;
        self.dirs.push(dir);
        server
    }

    fn root(&self) -> String {
        file_uri(&self.ws.path().canonicalize().unwrap())
    }

    /// An initialized client of instance `i`.
    async fn client(&self, i: usize) -> Client {
        let mut c = self.servers[i].ws_client().await;
        c.initialize(&[], Some(&self.root())).await;
        c
    }
}

fn coder() -> CreateSessionParams {
    CreateSessionParams {
        agent: Some("coder".into()),
        ..Default::default()
    }
}

fn attach(session_id: SessionId) -> AttachSessionParams {
    AttachSessionParams {
        session_id,
        after_seq: None,
    }
}

fn seqs_increase(log: &support::agent::TurnLog) {
    let seqs: Vec<u64> = log
        .events
        .iter()
        .filter_map(|n| n["params"]["seq"].as_u64())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs strictly increase: {seqs:?}"
    );
}

async fn history_seqs(c: &mut Client, id: SessionId) -> Vec<(u64, Role, String)> {
    c.call_typed::<GetHistory>(GetHistoryParams {
        session_id: id,
        after_seq: None,
        limit: None,
    })
    .await
    .messages
    .into_iter()
    .map(|m| (m.seq, m.role, m.text))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_sessions_streams_and_approvals() {
    let cluster = Instances::start(
        3,
        vec![
            call("x1", "execute_command", json!({"command": "echo one"})),
            complete("x2", "first done"),
            call("y1", "execute_command", json!({"command": "echo two"})),
            complete("y2", "second done"),
        ],
    )
    .await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let mut c = cluster.client(2).await;

    // Each instance serves its own metrics, labelled with its id, and says
    // whether the database answers.
    for (i, server) in cluster.servers.iter().enumerate() {
        let addr = server.addr.as_deref().unwrap();
        let (status, metrics) = support::http_get(addr, "/metrics").await;
        assert_eq!(status, 200);
        let label = format!("instance=\"{}\"", Instances::name(i));
        assert!(metrics.contains(&label), "{label} in {metrics}");
        let (status, health) = support::http_get(addr, "/health").await;
        assert_eq!(status, 200);
        let health: serde_json::Value = serde_json::from_str(&health).unwrap();
        assert_eq!(health["store"]["reachable"], true, "{health}");
    }

    // A session created on A is listed on every instance.
    let s = a.call_typed::<CreateSession>(coder()).await;
    for client in [&mut b, &mut c] {
        let listed = client
            .call_typed::<ListSessions>(ListSessionsParams::default())
            .await;
        assert!(listed.sessions.iter().any(|x| x.id == s.id));
    }
    b.call_typed::<AttachSession>(attach(s.id)).await;
    c.call_typed::<AttachSession>(attach(s.id)).await;

    // A turn started through A streams to C; its approval is decided on B.
    let turn = send(&mut a, s.id, "run it").await;
    let on_c = c.expect::<ApprovalRequiredParams>().await;
    let on_b = b.expect::<ApprovalRequiredParams>().await;
    assert_eq!(on_b.approval.id, on_c.approval.id);
    b.call_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: on_b.approval.id,
        ..approve()
    })
    .await;
    let la = drive(&mut a, turn, |_| None, |_| None).await;
    let lc = drive(&mut c, turn, |_| None, |_| None).await;
    let lb = drive(&mut b, turn, |_| None, |_| None).await;
    for log in [&la, &lb, &lc] {
        assert_eq!(log.completed.stop_reason, StopReason::EndTurn);
        assert_eq!(log.completed.result.as_deref(), Some("first done"));
        seqs_increase(log);
    }
    let results = lc.tool_results();
    assert!(
        results.iter().any(|r| r.0 == "x1" && r.2.contains("one")),
        "C saw the command's result: {results:?}"
    );

    // Two clients on different instances decide one approval: one wins.
    let turn = send(&mut c, s.id, "again").await;
    let ra = a.expect::<ApprovalRequiredParams>().await;
    let rb = b.expect::<ApprovalRequiredParams>().await;
    assert_eq!(ra.approval.id, rb.approval.id);
    let id = ra.approval.id;
    let ida = a.send_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: id,
        ..approve()
    });
    let idb = b.send_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: id,
        ..decision(Decision::Approve)
    });
    let (resa, resb) = (a.response_typed(ida).await, b.response_typed(idb).await);
    assert!(
        resa.is_ok() ^ resb.is_ok(),
        "exactly one decision wins: {resa:?} {resb:?}"
    );
    let loser = resa.as_ref().err().or(resb.as_ref().err()).unwrap();
    assert_eq!(loser.code, ErrorCode::NotPending);
    let lc = drive(&mut c, turn, |_| None, |_| None).await;
    assert_eq!(lc.completed.result.as_deref(), Some("second done"));
    drive(&mut a, turn, |_| None, |_| None).await;
    drive(&mut b, turn, |_| None, |_| None).await;

    // The history is one, whichever instance reads it.
    let ha = history_seqs(&mut a, s.id).await;
    let hb = history_seqs(&mut b, s.id).await;
    assert_eq!(ha, hb);
    assert!(ha.windows(2).all(|w| w[0].0 < w[1].0), "{ha:?}");
    assert_eq!(
        ha.iter().filter(|m| m.1 == Role::User).count(),
        2,
        "each message once: {ha:?}"
    );
    a.finish().await;
    b.finish().await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_running_on_another_instance_refuses_a_second_message_and_an_agent_switch_and_is_cancelled_from_there()
 {
    let hang = paused("thinking", 120_000, "");
    let cluster = Instances::start(2, vec![hang]).await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let running = send(&mut a, s.id, "go").await;
    // B sees the stream of A's turn ...
    b.expect::<TokenParams>().await;
    // ... and refuses a message while it runs there.
    let err = b
        .error_typed::<codelab_agent::protocol::requests::SendMessage>(
            codelab_agent::protocol::types::SendMessageParams {
                session_id: s.id,
                text: "me too".into(),
                agent: None,
                context: None,
            },
        )
        .await;
    assert_eq!(err.code, ErrorCode::SessionBusy);
    assert!(err.message.contains("instance a"), "{}", err.message);
    // Nor may B switch the agent under A's turn (its announcement would take
    // seqs of B's that A's stream also uses).
    let err = b
        .error_typed::<codelab_agent::protocol::requests::SwitchAgent>(
            codelab_agent::protocol::types::SwitchAgentParams {
                session_id: s.id,
                agent: "architect".into(),
            },
        )
        .await;
    assert_eq!(err.code, ErrorCode::SessionBusy);
    assert!(err.message.contains("instance a"), "{}", err.message);
    // A cancel asked on B stops the turn on A, which B sees end once.
    let cancelled = b
        .call_typed::<codelab_agent::protocol::requests::CancelTurn>(
            codelab_agent::protocol::types::SessionParams { session_id: s.id },
        )
        .await;
    assert_eq!(cancelled.turn_id, Some(running));
    let ended = b.expect::<TurnCompletedParams>().await;
    assert_eq!(ended.turn_id, running);
    assert_eq!(ended.stop_reason, StopReason::Cancelled, "{ended:?}");
    a.abandon();
    b.abandon();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_s_pending_approval_is_decided_and_resumed_elsewhere() {
    let cluster = Instances::start(
        2,
        vec![
            call("k1", "execute_command", json!({"command": "echo resumed"})),
            complete("k2", "done after failover"),
        ],
    )
    .await;
    let mut cluster = cluster;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    send(&mut a, s.id, "before the crash").await;
    let pending = b.expect::<ApprovalRequiredParams>().await;
    cluster.servers[0].kill().await; // SIGKILL
    a.abandon();
    // Decided on B while A's lease has not run out yet or after: either way
    // B takes the session over once it is free and resumes the turn.
    b.call_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: pending.approval.id,
        ..approve()
    })
    .await;
    let done = b
        .expect_where::<TurnCompletedParams>(|t| t.stop_reason == StopReason::EndTurn)
        .await;
    assert_eq!(done.result.as_deref(), Some("done after failover"));
    let h = history_seqs(&mut b, s.id).await;
    assert!(h.windows(2).all(|w| w[0].0 < w[1].0), "{h:?}");
    assert_eq!(
        h.iter()
            .filter(|m| m.1 == Role::User && m.2 == "before the crash")
            .count(),
        1,
        "{h:?}"
    );
    assert!(
        h.iter()
            .any(|m| m.1 == Role::Tool && m.2.contains("resumed")),
        "the approved command ran on B: {h:?}"
    );
    b.abandon();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_streaming_on_a_killed_instance_ends_with_an_error_elsewhere() {
    let hang = paused("half a thought", 120_000, "");
    let mut cluster = Instances::start(2, vec![hang]).await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let turn = send(&mut a, s.id, "think").await;
    b.expect::<TokenParams>().await;
    cluster.servers[0].kill().await; // SIGKILL
    a.abandon();
    let ended = b
        .expect_where::<TurnCompletedParams>(|t| t.turn_id == turn)
        .await;
    assert_eq!(ended.stop_reason, StopReason::Error);
    assert!(
        ended.error.as_deref().unwrap_or("").contains("instance a"),
        "{ended:?}"
    );
    // The session is free again: B runs the next turn.
    b.abandon();
}

/// Text, then a pause, then more text (none when `rest` is empty): a
/// stream that is still open while the test acts.
fn paused(first: &str, wait_ms: u64, rest: &str) -> Reply {
    Reply {
        chunks: vec![
            Chunk {
                text: Some(first.into()),
                ..Default::default()
            },
            Chunk {
                wait_ms: Some(wait_ms),
                text: (!rest.is_empty()).then(|| rest.into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn signal(server: &ServerProcess, sig: nix::sys::signal::Signal) {
    let pid = server.child.id().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_instance_that_lost_its_lease_cannot_write_afterwards() {
    use nix::sys::signal::Signal;
    let cluster = Instances::start(
        2,
        vec![
            paused("stale ", 4000, "reply from a"),
            support::agent::when("fresh start", support::agent::text("fresh reply from b")),
        ],
    )
    .await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let stale = send(&mut a, s.id, "think slowly").await;
    b.expect::<TokenParams>().await;
    signal(&cluster.servers[0], Signal::SIGSTOP);
    // A's lease runs out; B's sweeper ends A's turn and frees the session.
    let ended = b
        .expect_where::<TurnCompletedParams>(|t| t.turn_id == stale)
        .await;
    assert_eq!(ended.stop_reason, StopReason::Error);
    // B takes the session over with a turn of its own.
    let fresh = send(&mut b, s.id, "fresh start").await;
    let lb = drive(&mut b, fresh, |_| None, |_| None).await;
    assert_eq!(lb.completed.stop_reason, StopReason::EndTurn);
    let before = history_seqs(&mut b, s.id).await;
    // A wakes up with the rest of its stream: its writes are refused.
    signal(&cluster.servers[0], Signal::SIGCONT);
    cluster.servers[0]
        .logs
        .wait_for(|t| {
            (t.contains("taken over by another instance") || t.contains("lost the lease"))
                .then_some(())
        })
        .await;
    // A's client sees the turn end once: B's end of it, relayed by A; A,
    // which lost the session, announces no end of its own.
    let relayed = a
        .expect_where::<TurnCompletedParams>(|t| t.turn_id == stale)
        .await;
    assert_eq!(relayed, ended);
    cluster.servers[0]
        .logs
        .wait_for(|t| t.contains("it announces the end of the turn").then_some(()))
        .await;
    a.call_typed::<ListSessions>(ListSessionsParams::default())
        .await;
    let stale_id = serde_json::to_value(stale).unwrap();
    let again: Vec<_> = a
        .take_queued()
        .into_iter()
        .filter(|m| m["method"] == "codelab/turnCompleted" && m["params"]["turnId"] == stale_id)
        .collect();
    assert!(again.is_empty(), "a second end of the turn: {again:?}");
    let after = history_seqs(&mut b, s.id).await;
    assert_eq!(
        before, after,
        "nothing of A's was written after the takeover"
    );
    assert!(
        !after.iter().any(|m| m.2.contains("reply from a")),
        "{after:?}"
    );
    assert!(
        after.iter().any(|m| m.2.contains("fresh reply from b")),
        "{after:?}"
    );
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0), "{after:?}");
    a.abandon();
    b.abandon();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instances_reconnect_after_the_database_restarts_during_a_turn() {
    let pg = support::postgres::private();
    let cluster = Instances::start_on(
        &pg,
        2,
        vec![
            paused("before the restart, ", 1500, "and after it"),
            support::agent::when("second", support::agent::text("second reply")),
        ],
    )
    .await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let turn = send(&mut a, s.id, "first").await;
    b.expect::<TokenParams>().await;
    pg.restart();
    // The turn completes, or ends with a clear error: never hangs.
    let done = drive(&mut a, turn, |_| None, |_| None).await;
    match done.completed.stop_reason {
        StopReason::EndTurn => {}
        StopReason::Error => {
            let e = done.completed.error.clone().unwrap_or_default();
            assert!(e.contains("database"), "a clear error: {e}");
        }
        other => panic!("{other:?}"),
    }
    // Both listeners are back (each says so once more after connecting again).
    for server in &cluster.servers {
        server
            .logs
            .wait_for(|t| {
                (t.matches("listening for the other instances").count() >= 2).then_some(())
            })
            .await;
    }
    // What was acknowledged is there; the instances work again (the next
    // turn may have to wait for the lease of a failed one to run out).
    let h = history_seqs(&mut b, s.id).await;
    assert_eq!(h.iter().filter(|m| m.2 == "first").count(), 1, "{h:?}");
    let second = loop {
        match b
            .request_typed::<codelab_agent::protocol::requests::SendMessage>(
                codelab_agent::protocol::types::SendMessageParams {
                    session_id: s.id,
                    text: "second".into(),
                    agent: None,
                    context: None,
                },
            )
            .await
        {
            Ok(r) => break r.turn_id,
            Err(e) => {
                assert_eq!(e.code, ErrorCode::SessionBusy, "{e:?}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    let lb = drive(&mut b, second, |_| None, |_| None).await;
    assert_eq!(lb.completed.stop_reason, StopReason::EndTurn);
    // A, attached through its own listener (reconnected), saw B's turn.
    let la = drive(&mut a, second, |_| None, |_| None).await;
    assert_eq!(la.completed.result, lb.completed.result);
    let h = history_seqs(&mut a, s.id).await;
    assert!(h.windows(2).all(|w| w[0].0 < w[1].0), "{h:?}");
    a.abandon();
    b.abandon();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_decision_outlives_the_owner_and_the_deciding_instance() {
    use nix::sys::signal::Signal;
    let mut cluster = Instances::start(
        3,
        vec![
            call(
                "d1",
                "execute_command",
                json!({"command": "echo ran >> decided.txt"}),
            ),
            complete("d2", "done on c"),
        ],
    )
    .await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let mut c = cluster.client(2).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    c.call_typed::<AttachSession>(attach(s.id)).await;
    let turn = send(&mut a, s.id, "decide elsewhere").await;
    let pending = c.expect::<ApprovalRequiredParams>().await;
    // A stops before it hears of the decision; B decides (forwarding it to
    // A, the owner) and dies as soon as it has answered.
    signal(&cluster.servers[0], Signal::SIGSTOP);
    b.call_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: pending.approval.id,
        ..approve()
    })
    .await;
    cluster.servers[1].kill().await; // SIGKILL
    b.abandon();
    cluster.servers[0].kill().await;
    a.abandon();
    // The decision was acknowledged, so it is kept: C takes the session
    // over once A's lease has run out and the turn goes on there (under its
    // own id, ending once), running the approved command once.
    let log = drive(&mut c, turn, |_| None, |_| None).await;
    assert_eq!(log.completed.stop_reason, StopReason::EndTurn, "{log:?}");
    assert_eq!(log.completed.result.as_deref(), Some("done on c"));
    seqs_increase(&log);
    let ran = std::fs::read_to_string(cluster.ws.path().join("decided.txt")).unwrap();
    assert_eq!(ran, "ran\n", "the approved command ran exactly once");
    let history = c
        .call_typed::<GetHistory>(GetHistoryParams {
            session_id: s.id,
            after_seq: None,
            limit: None,
        })
        .await
        .messages;
    assert_eq!(
        history
            .iter()
            .filter(|m| m.tool_call_id.as_deref() == Some("d1"))
            .count(),
        1,
        "one result for the decided call: {history:?}"
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_a_notification_reaches_a_client_on_another_instance() {
    // 16,500 bytes of output: over PostgreSQL's 8,000-byte NOTIFY payload.
    let cluster = Instances::start(
        2,
        vec![
            call(
                "big1",
                "execute_command",
                json!({"command": "yes 0123456789 | head -n 1500"}),
            ),
            complete("big2", "big done"),
        ],
    )
    .await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let turn = send(&mut a, s.id, "print a lot").await;
    let la = drive(&mut a, turn, |_| Some(approve()), |_| None).await;
    let lb = drive(&mut b, turn, |_| None, |_| None).await;
    assert_eq!(lb.completed.result.as_deref(), Some("big done"));
    seqs_increase(&lb);
    let result = |log: &support::agent::TurnLog| {
        log.all::<MessageAddedParams>()
            .into_iter()
            .find(|m| m.message.tool_call_id.as_deref() == Some("big1"))
            .map(|m| (m.seq, m.message.text))
            .expect("the tool's result message")
    };
    let (seq_a, text_a) = result(&la);
    let (seq_b, text_b) = result(&lb);
    assert!(
        text_a.matches("0123456789").count() >= 1500,
        "the whole output: {} bytes",
        text_a.len()
    );
    assert_eq!(
        (seq_b, &text_b),
        (seq_a, &text_a),
        "B got A's message whole"
    );
    a.finish().await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subtask_resumed_elsewhere_resumes_its_parent_there_under_the_parent_s_lease() {
    use codelab_agent::protocol::requests::AnswerQuestion;
    use codelab_agent::protocol::types::{AnswerQuestionParams, QuestionParams};
    use support::agent::when;
    let mut cluster = Instances::start(
        2,
        vec![
            when(
                "plan the release",
                call(
                    "o1",
                    "new_task",
                    json!({"mode": "coder", "message": "CHILD: bump the version"}),
                ),
            ),
            when(
                "CHILD: bump the version",
                call(
                    "c1",
                    "ask_followup_question",
                    json!({"question": "Which version?"}),
                ),
            ),
            when(
                "The user answered: 2.0.0",
                complete("c2", "bumped to 2.0.0"),
            ),
            when("bumped to 2.0.0", complete("o2", "release planned")),
        ],
    )
    .await;
    let mut a = cluster.client(0).await;
    let mut b = cluster.client(1).await;
    let s = a
        .call_typed::<CreateSession>(CreateSessionParams::default())
        .await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let parent_turn = send(&mut a, s.id, "plan the release").await;
    cluster.mock.wait_requests(2).await;
    // The child session, listed on B, waits for its question (asked on A).
    let child = loop {
        let list = b
            .call_typed::<ListSessions>(ListSessionsParams::default())
            .await;
        if let Some(child) = list
            .sessions
            .into_iter()
            .find(|x| x.parent_session_id == Some(s.id))
        {
            break child;
        }
    };
    let attached = loop {
        let att = b.call_typed::<AttachSession>(attach(child.id)).await;
        if !att.pending_questions.is_empty() {
            break att;
        }
        b.expect::<QuestionParams>().await;
    };
    // A dies with both turns, the parent waiting for the child, the child
    // for its answer.
    cluster.servers[0].kill().await; // SIGKILL
    a.abandon();
    b.call_typed::<AnswerQuestion>(AnswerQuestionParams {
        session_id: child.id,
        question_id: attached.pending_questions[0].question_id,
        answer: "2.0.0".into(),
    })
    .await;
    // The child goes on on B, and its result resumes the parent there: the
    // parent's turn ends once, with its result (not ended for a dead
    // instance meanwhile).
    let done = b
        .expect_where::<TurnCompletedParams>(|t| t.session_id == s.id)
        .await;
    assert_eq!(done.turn_id, parent_turn);
    assert_eq!(done.stop_reason, StopReason::EndTurn, "{done:?}");
    assert_eq!(done.result.as_deref(), Some("release planned"));
    let history = b
        .call_typed::<GetHistory>(GetHistoryParams {
            session_id: s.id,
            after_seq: None,
            limit: None,
        })
        .await
        .messages;
    let results: Vec<&str> = history
        .iter()
        .filter(|m| m.tool_call_id.as_deref() == Some("o1"))
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(results.len(), 1, "{history:?}");
    assert!(results[0].contains("bumped to 2.0.0"), "{results:?}");
    b.abandon();
}
