//! Human in the loop through the real binary: policies, approve / edit /
//! reject, allow-always, racing clients, timeouts, audit, and recovery after
//! SIGKILL.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use codelab_agent::domain::SessionId;
use codelab_agent::protocol::ErrorCode;
use codelab_agent::protocol::requests::{
    AnswerQuestion, AttachSession, CreateSession, DecideApproval, GetHistory, GetPolicy,
    ListPendingApprovals, ListSessions,
};
use codelab_agent::protocol::types::{
    AnswerQuestionParams, ApprovalRequiredParams, ApprovalResolvedParams, ApprovalScope,
    AttachSessionParams, CreateSessionParams, DecideApprovalParams, Decision, GetHistoryParams,
    GetPolicyParams, ListPendingApprovalsParams, ListSessionsParams, QuestionParams, Role,
    StopReason, ToolCallParams, ToolCallStatus, TurnCompletedParams,
};
use serde_json::{Value, json};
use support::agent::{
    Harness, SANDBOX_OFF, approve, call, calls, complete, decision, drive, llm_env, restart, send,
    text, when,
};
use support::{ServerProcess, file_uri};

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

fn history(session_id: SessionId) -> GetHistoryParams {
    GetHistoryParams {
        session_id,
        after_seq: None,
        limit: None,
    }
}

fn result_of(log: &support::agent::TurnLog, id: &str) -> (ToolCallStatus, String) {
    let r = log.tool_results();
    let (_, s, t) = r
        .into_iter()
        .find(|r| r.0 == id)
        .unwrap_or_else(|| panic!("no call {id}"));
    (s, t)
}

#[tokio::test]
async fn edit_validates_the_new_parameters_and_keeps_invalid_ones_pending() {
    let mut h = Harness::new(
        vec![
            call(
                "e1",
                "write_file",
                json!({"path": "a.txt", "content": "model's text\n"}),
            ),
            complete("e2", "written"),
        ],
        "coder",
        false,
    )
    .await;
    let turn = h.send("write").await;
    let a = h.client.expect::<ApprovalRequiredParams>().await;
    let id = a.approval.id;
    let edit = |params: Option<Value>| DecideApprovalParams {
        approval_id: id,
        params,
        ..decision(Decision::Edit)
    };
    // Invalid edits are refused; the approval stays pending.
    for bad in [
        json!({"path": "a.txt"}),
        json!({"path": "a.txt", "content": "x", "mode": 7}),
        json!({"path": 3, "content": "x"}),
    ] {
        let err = h
            .client
            .error_typed::<DecideApproval>(edit(Some(bad)))
            .await;
        assert_eq!(err.code, ErrorCode::InvalidParams, "{err}");
    }
    let err = h.client.error_typed::<DecideApproval>(edit(None)).await;
    assert_eq!(err.code, ErrorCode::InvalidParams);
    let pending = h
        .client
        .call_typed::<ListPendingApprovals>(ListPendingApprovalsParams::default())
        .await;
    assert_eq!(pending.approvals.len(), 1);
    assert_eq!(pending.approvals[0].id, id);
    h.client
        .call_typed::<DecideApproval>(edit(Some(
            json!({"path": "a.txt", "content": "user's text\n"}),
        )))
        .await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(
        std::fs::read_to_string(h.root().join("a.txt")).unwrap(),
        "user's text\n"
    );
    // The in_progress announcement shows the parameters that actually ran.
    let running = log
        .all::<ToolCallParams>()
        .into_iter()
        .find(|p| p.status == ToolCallStatus::InProgress)
        .unwrap();
    assert_eq!(running.params["content"], "user's text\n");
    let err = h
        .client
        .error_typed::<DecideApproval>(DecideApprovalParams {
            approval_id: id,
            ..approve()
        })
        .await;
    assert_eq!(err.code, ErrorCode::NotPending, "already decided");
    h.finish().await;
}

#[tokio::test]
async fn reject_sends_the_feedback_to_the_model_and_skips_the_rest_of_the_reply() {
    let mut h = Harness::new(
        vec![
            calls(
                "",
                &[
                    (
                        "r1",
                        "write_file",
                        json!({"path": "Cargo.lock", "content": ""}),
                    ),
                    ("r2", "list_files", json!({})),
                ],
            ),
            when(
                "the user rejected an earlier call",
                text("Understood, leaving it."),
            ),
        ],
        "coder",
        false,
    )
    .await;
    let turn = h.send("clean up").await;
    let log = drive(
        &mut h.client,
        turn,
        |_| {
            Some(DecideApprovalParams {
                feedback: Some("Do not touch the lockfile".into()),
                ..decision(Decision::Reject)
            })
        },
        |_| None,
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let (s1, t1) = result_of(&log, "r1");
    assert_eq!(s1, ToolCallStatus::Failed);
    assert!(
        t1.contains("rejected") && t1.contains("Do not touch the lockfile"),
        "{t1}"
    );
    let (s2, t2) = result_of(&log, "r2");
    assert_eq!(s2, ToolCallStatus::Failed);
    assert!(t2.contains("the user rejected an earlier call"), "{t2}");
    let resolved = log.all::<ApprovalResolvedParams>();
    assert_eq!(resolved[0].decision, Decision::Reject);
    // The next request carried the feedback in the tool result.
    let second = &h.mock.requests()[1];
    let tool_results: Vec<&str> = second.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(tool_results[0].contains("Do not touch the lockfile"));
    assert!(!h.root().join("Cargo.lock").exists());
    h.finish().await;
}

#[tokio::test]
async fn allow_always_covers_the_rest_of_the_session_only() {
    let mut h = Harness::with_config(
        vec![
            call("a1", "execute_command", json!({"command": "echo hi"})),
            call("a2", "execute_command", json!({"command": "echo hi"})),
            call("a3", "execute_command", json!({"command": "echo other"})),
            complete("a4", "done"),
        ],
        "coder",
        false,
        SANDBOX_OFF,
    )
    .await;
    let turn = h.send("echo").await;
    let mut asked = Vec::new();
    let log = drive(
        &mut h.client,
        turn,
        |a| {
            asked.push(a.params["command"].as_str().unwrap().to_owned());
            Some(DecideApprovalParams {
                scope: Some(ApprovalScope::Session),
                ..approve()
            })
        },
        |_| None,
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(
        asked,
        ["echo hi", "echo other"],
        "the second `echo hi` ran without asking"
    );
    for id in ["a1", "a2", "a3"] {
        assert_eq!(result_of(&log, id).0, ToolCallStatus::Completed);
    }
    let policy = h
        .client
        .call_typed::<GetPolicy>(GetPolicyParams {
            session_id: Some(h.session),
        })
        .await;
    let session_rules: Vec<_> = policy
        .rules
        .iter()
        .filter(|r| r.source == "session")
        .collect();
    assert_eq!(session_rules.len(), 2);
    assert_eq!(session_rules[0].command.as_deref(), Some("echo hi"));
    assert!(session_rules[0].exact);
    // Another session still asks.
    let other = h
        .client
        .call_typed::<GetPolicy>(GetPolicyParams::default())
        .await;
    assert!(other.rules.iter().all(|r| r.source != "session"));
    h.finish().await;
}

/// A rejection for the session (`scope: "session"`) denies every later call
/// of the tool in the session without asking (ACP's `reject_always`).
#[tokio::test]
async fn reject_for_the_session_denies_the_tool_for_the_rest_of_the_session() {
    let mut h = Harness::with_config(
        vec![
            call("j1", "execute_command", json!({"command": "echo one"})),
            call("j2", "execute_command", json!({"command": "echo two"})),
            complete("j3", "done"),
        ],
        "coder",
        false,
        SANDBOX_OFF,
    )
    .await;
    let turn = h.send("echo").await;
    let mut asked = Vec::new();
    let log = drive(
        &mut h.client,
        turn,
        |a| {
            asked.push(a.params["command"].as_str().unwrap().to_owned());
            Some(DecideApprovalParams {
                scope: Some(ApprovalScope::Session),
                ..decision(Decision::Reject)
            })
        },
        |_| None,
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(asked, ["echo one"], "the second call was not asked");
    let (s2, t2) = result_of(&log, "j2");
    assert_eq!(s2, ToolCallStatus::Failed);
    assert!(
        t2.contains("Denied by policy (session rule: deny execute_command)"),
        "{t2}"
    );
    let policy = h
        .client
        .call_typed::<GetPolicy>(GetPolicyParams {
            session_id: Some(h.session),
        })
        .await;
    assert!(
        policy
            .rules
            .iter()
            .any(|r| r.source == "session" && r.tool == "execute_command"),
        "{:?}",
        policy.rules
    );
    h.finish().await;
}

#[tokio::test]
async fn two_clients_race_to_decide_and_both_see_the_resolution() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
            call("x1", "execute_command", json!({"command": "true"})),
            complete("x2", "ok"),
        ],
    })
    .await;
    let data = support::data_dir();
    std::fs::write(data.path().join("codelab.toml"), SANDBOX_OFF).unwrap();
    let ws = tempfile::tempdir().unwrap();
    let server = ServerProcess::websocket_env(data.path(), &llm_env(&mock)).await;
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let mut a = server.ws_client().await;
    let mut b = server.ws_client().await;
    a.initialize(&[], Some(&root)).await;
    b.initialize(&[], Some(&root)).await;
    let s = a.call_typed::<CreateSession>(coder()).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let turn = send(&mut a, s.id, "go").await;
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
        ..decision(Decision::Reject)
    });
    let (resa, resb) = (a.response_typed(ida).await, b.response_typed(idb).await);
    assert!(
        resa.is_ok() ^ resb.is_ok(),
        "exactly one decision wins: {resa:?} {resb:?}"
    );
    let loser = resa.as_ref().err().or(resb.as_ref().err()).unwrap();
    assert_eq!(loser.code, ErrorCode::NotPending);
    let la = drive(&mut a, turn, |_| None, |_| None).await;
    let lb = drive(&mut b, turn, |_| None, |_| None).await;
    let da = la.all::<ApprovalResolvedParams>();
    let db = lb.all::<ApprovalResolvedParams>();
    assert_eq!(da.len(), 1);
    assert_eq!(da, db, "both clients saw the one resolution");
    let winner = if resa.is_ok() {
        Decision::Approve
    } else {
        Decision::Reject
    };
    assert_eq!(da[0].decision, winner);
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn policies_from_user_and_workspace_files_and_approval_timeouts() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
            calls(
                "",
                &[
                    (
                        "p1",
                        "execute_command",
                        json!({"command": "echo allowed && echo too"}),
                    ),
                    ("p2", "execute_command", json!({"command": "npm publish"})),
                    (
                        "p3",
                        "execute_command",
                        json!({"command": "echo $(whoami)"}),
                    ),
                ],
            ),
            call(
                "p4",
                "write_file",
                json!({"path": "slow.txt", "content": "x"}),
            ),
            complete("p5", "done"),
        ],
    })
    .await;
    let data = support::data_dir();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[sandbox]\nmode = \"off\"\n\n[[policy.rules]]\ntool = \"execute_command\"\ncommand = \"echo\"\naction = \"allow\"\n\n\
         [[policy.rules]]\ntool = \"write_*\"\naction = \"ask\"\ntimeout_secs = 1\n",
    )
    .unwrap();
    std::fs::create_dir_all(ws.path().join(".codelab")).unwrap();
    std::fs::write(ws.path().join(".codelab/config.toml"), "[[policy.rules]]\ntool = \"execute_command\"\ncommand = \"npm publish\"\naction = \"deny\"\n").unwrap();
    let mut server = ServerProcess::stdio_env(data.path(), &llm_env(&mock));
    let mut c = server.stdio_client();
    let root = ws.path().canonicalize().unwrap();
    c.initialize(&[], Some(&file_uri(&root))).await;
    let s = c.call_typed::<CreateSession>(coder()).await;
    let turn = send(&mut c, s.id, "go").await;
    let mut asked = Vec::new();
    let log = drive(
        &mut c,
        turn,
        |a| {
            asked.push(a.params.clone());
            if a.tool == "execute_command" {
                Some(approve())
            } else {
                None
            }
        },
        |_| None,
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(result_of(&log, "p1").0, ToolCallStatus::Completed);
    let (s2, t2) = result_of(&log, "p2");
    assert_eq!(s2, ToolCallStatus::Failed);
    assert!(
        t2.contains("Denied by policy") && t2.contains("npm publish"),
        "{t2}"
    );
    assert_eq!(
        result_of(&log, "p3").0,
        ToolCallStatus::Completed,
        "approved after asking"
    );
    assert_eq!(
        asked.len(),
        2,
        "the substitution and the write asked; the allowed chain did not"
    );
    assert_eq!(asked[0]["command"], "echo $(whoami)");
    let (s4, t4) = result_of(&log, "p4");
    assert_eq!(s4, ToolCallStatus::Failed);
    assert!(t4.contains("in time"), "{t4}");
    let resolved = log.all::<ApprovalResolvedParams>();
    assert_eq!(resolved.last().unwrap().decision, Decision::TimedOut);
    assert_eq!(resolved.last().unwrap().by, "timeout");
    // getPolicy shows where each rule comes from.
    let session_policy = GetPolicyParams {
        session_id: Some(s.id),
    };
    let policy = c.call_typed::<GetPolicy>(session_policy.clone()).await;
    let sources: Vec<&str> = policy.rules.iter().map(|r| r.source.as_str()).collect();
    assert!(
        sources.contains(&"builtin") && sources.contains(&"user") && sources.contains(&"workspace")
    );
    // An invalid workspace policy is reported; the last valid one stays in force.
    std::fs::write(
        ws.path().join(".codelab/config.toml"),
        "[[policy.rules]]\ntool = \"x\"\naction = \"sometimes\"\n",
    )
    .unwrap();
    let policy = c.call_typed::<GetPolicy>(session_policy).await;
    let errors = &policy.errors;
    assert!(
        errors.iter().any(|e| e.contains("config.toml:3")),
        "{errors:?}"
    );
    assert!(
        policy
            .rules
            .iter()
            .any(|r| r.command.as_deref() == Some("npm publish") && r.source == "workspace")
    );
    c.finish().await;
    assert_eq!(server.wait().await, Some(0));
    // Every decision is in the audit log, with the rule and the parameters.
    let store = codelab_agent::store::RedbStore::open(data.path()).unwrap();
    let audit = codelab_agent::store::Store::audit_page(
        &store,
        codelab_agent::store::AuditQuery::default(),
        100,
    )
    .await
    .unwrap()
    .items;
    let decisions: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|a| a.kind == "decisionMade")
        .map(|a| &a.payload)
        .collect();
    assert_eq!(decisions.len(), 2);
    assert!(decisions.iter().any(|d| d["decision"] == "timedOut"
        && d["tool"] == "write_file"
        && d["rule"].as_str().unwrap().contains("user rule")));
    assert!(
        decisions
            .iter()
            .any(|d| d["decision"] == "approve" && d["params"]["command"] == "echo $(whoami)")
    );
    codelab_agent::store::Store::close(&store).await;
}

#[tokio::test]
async fn a_pending_approval_survives_sigkill_and_the_turn_resumes() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
            calls(
                "Writing it.",
                &[
                    (
                        "k1",
                        "write_file",
                        json!({"path": "out.txt", "content": "after restart\n"}),
                    ),
                    ("k2", "read_file", json!({"path": "out.txt"})),
                ],
            ),
            complete("k3", "resumed and finished"),
        ],
    })
    .await;
    let data = support::data_dir();
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let (mut server, mut c) = restart(data.path(), &mock, &root).await;
    let s = c.call_typed::<CreateSession>(coder()).await;
    send(&mut c, s.id, "write out.txt").await;
    let a = c.discard_until::<ApprovalRequiredParams>().await.approval;
    c.done();
    server.kill().await; // SIGKILL

    let (_server, mut c) = restart(data.path(), &mock, &root).await;
    let pending = c
        .call_typed::<ListPendingApprovals>(ListPendingApprovalsParams::default())
        .await;
    assert_eq!(
        pending.approvals,
        std::slice::from_ref(&a),
        "the approval survived, unchanged"
    );
    let attached = c.call_typed::<AttachSession>(attach(s.id)).await;
    assert_eq!(attached.pending_approvals.len(), 1);
    c.call_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: a.id,
        ..approve()
    })
    .await;
    let completed = c.discard_until::<TurnCompletedParams>().await;
    assert_eq!(completed.stop_reason, StopReason::EndTurn);
    assert_eq!(completed.result.as_deref(), Some("resumed and finished"));
    assert_eq!(
        std::fs::read_to_string(ws.path().join("out.txt")).unwrap(),
        "after restart\n"
    );
    let hist = c.call_typed::<GetHistory>(history(s.id)).await;
    let tool_texts: Vec<&str> = hist
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.text.as_str())
        .collect();
    assert!(
        tool_texts[0].starts_with("Created out.txt"),
        "{tool_texts:?}"
    );
    assert!(
        tool_texts[1].contains("1 | after restart"),
        "the rest of the reply ran too: {tool_texts:?}"
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    c.finish().await;
}

#[tokio::test]
async fn a_pending_question_and_a_waiting_orchestrator_survive_sigkill() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
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
    })
    .await;
    let data = support::data_dir();
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let (mut server, mut c) = restart(data.path(), &mock, &root).await;
    let s = c
        .call_typed::<CreateSession>(CreateSessionParams::default())
        .await;
    send(&mut c, s.id, "plan the release").await;
    mock.wait_requests(2).await;
    // Find the child session and wait for its question.
    let child = loop {
        let list = c
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
        let att = c.call_typed::<AttachSession>(attach(child.id)).await;
        if !att.pending_questions.is_empty() {
            break att;
        }
        c.expect::<QuestionParams>().await;
    };
    let q = attached.pending_questions[0].clone();
    c.abandon();
    server.kill().await;

    let (_server, mut c) = restart(data.path(), &mock, &root).await;
    c.call_typed::<AttachSession>(attach(s.id)).await;
    let att = c.call_typed::<AttachSession>(attach(child.id)).await;
    assert_eq!(
        att.pending_questions[0].question_id, q.question_id,
        "the question survived"
    );
    c.call_typed::<AnswerQuestion>(AnswerQuestionParams {
        session_id: child.id,
        question_id: q.question_id,
        answer: "2.0.0".into(),
    })
    .await;
    // The child finishes, and its result resumes the parent.
    let mut done = Vec::new();
    while done.len() < 2 {
        done.push(c.discard_until::<TurnCompletedParams>().await);
    }
    let parent = done.iter().find(|d| d.session_id == s.id).unwrap();
    assert_eq!(parent.stop_reason, StopReason::EndTurn);
    assert_eq!(parent.result.as_deref(), Some("release planned"));
    let hist = c.call_typed::<GetHistory>(history(s.id)).await;
    let new_task_result = hist
        .messages
        .iter()
        .find(|m| m.tool_call_id.as_deref() == Some("o1"))
        .unwrap();
    assert!(new_task_result.text.contains("bumped to 2.0.0"));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    c.finish().await;
}

#[tokio::test]
async fn a_workspace_allows_only_when_the_user_trusts_it() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join(".codelab")).unwrap();
    std::fs::write(
        root.join(".codelab/config.toml"),
        "[[policy.rules]]\ntool = \"write_*\"\naction = \"allow\"\n",
    )
    .unwrap();
    for trusted in [false, true] {
        let mock = mock_llm::MockLlm::start(mock_llm::Script {
            replies: vec![
                call(
                    "t1",
                    "write_file",
                    json!({"path": "out.txt", "content": "x"}),
                ),
                text("done"),
            ],
        })
        .await;
        let data = support::data_dir();
        if trusted {
            std::fs::write(
                data.path().join("codelab.toml"),
                format!("[trust]\nworkspaces = [{:?}]\n", root.display().to_string()),
            )
            .unwrap();
        }
        let (_server, mut c) = restart(data.path(), &mock, &file_uri(&root)).await;
        let s = c.call_typed::<CreateSession>(coder()).await;
        let turn = send(&mut c, s.id, "write").await;
        let mut asked = false;
        let log = drive(
            &mut c,
            turn,
            |_| {
                asked = true;
                Some(approve())
            },
            |_| None,
        )
        .await;
        assert_eq!(log.stop(), StopReason::EndTurn);
        assert_eq!(
            asked, !trusted,
            "trusted {trusted}: a workspace's own allow rule counts only when trusted"
        );
        std::fs::remove_file(root.join("out.txt")).unwrap();
        c.finish().await;
    }
}
