//! The agent runtime end to end: the real binary, the mock LLM, real files
//! and processes.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use codelab_agent::domain::SessionId;
use codelab_agent::protocol::ErrorCode;
use codelab_agent::protocol::requests::{
    AnswerQuestion, AttachSession, CancelTurn, CreateSession, DecideApproval, DetachSession,
    GetCurrentAgent, GetHistory, ListPendingApprovals, ListSessions, SendMessage, SwitchAgent,
};
use codelab_agent::protocol::types::{
    AgentSwitchedParams, AnswerQuestionParams, ApprovalRequiredParams, ApprovalResolvedParams,
    AttachSessionParams, CommandOutputParams, CreateSessionParams, DecideApprovalParams, Decision,
    GetHistoryParams, ListPendingApprovalsParams, ListSessionsParams, MessageAddedParams,
    MessageContext, QuestionParams, Role, SendMessageParams, SessionParams, StopReason,
    SwitchAgentParams, TokenParams, ToolCallParams, ToolCallStatus, TurnCompletedParams,
};
use serde_json::json;
use support::agent::{Harness, approve, call, calls, complete, drive, send, text, when};
use support::{ServerProcess, data_dir, file_uri};

fn create(agent: &str) -> CreateSessionParams {
    CreateSessionParams {
        agent: Some(agent.to_owned()),
        ..Default::default()
    }
}

fn history(session_id: SessionId) -> GetHistoryParams {
    GetHistoryParams {
        session_id,
        after_seq: None,
        limit: None,
    }
}

#[tokio::test]
async fn a_text_turn_streams_tokens_and_persists_history() {
    let mut h = Harness::new(
        vec![text("Hello from the model, in several small pieces.")],
        "ask",
        false,
    )
    .await;
    let log = h.turn("hi").await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(log.text(), "Hello from the model, in several small pieces.");
    assert_eq!(
        log.completed.result.as_deref(),
        Some("Hello from the model, in several small pieces.")
    );
    log.assert_seq_increasing();
    let msgs = log.all::<MessageAddedParams>();
    assert_eq!(msgs.len(), 2, "the user message and the reply");
    assert_eq!(msgs[0].message.role, Role::User);
    assert_eq!(
        msgs[1].message.text,
        "Hello from the model, in several small pieces."
    );
    // The request carried the agent's prompt and only its tools.
    let req = &h.mock.requests()[0];
    let system = req.body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("You are Ask"), "{system}");
    let tools: Vec<&str> = req.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "read_file",
            "list_files",
            "ask_followup_question",
            "attempt_completion",
            "switch_mode",
            "git_status",
            "git_diff",
            "git_log",
            "git_show"
        ]
    );
    let history = h.client.call_typed::<GetHistory>(history(h.session)).await;
    assert_eq!(history.messages.len(), 2);
    h.finish().await;
}

#[tokio::test]
async fn without_a_provider_the_turn_ends_at_once_with_a_clear_error() {
    let dir = data_dir();
    let mut server = ServerProcess::stdio(dir.path());
    let mut client = server.stdio_client();
    client.initialize(&[], None).await;
    let s = client
        .call_typed::<CreateSession>(CreateSessionParams::default())
        .await;
    let turn = send(&mut client, s.id, "hi").await;
    let log = drive(&mut client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::Error);
    let err = log.completed.error.as_deref().unwrap();
    assert!(
        err.contains("OPENAI_API_KEY") && err.contains("ANTHROPIC_API_KEY"),
        "{err}"
    );
    // The next message is accepted: the session is not left busy.
    let turn = send(&mut client, s.id, "again").await;
    let log = drive(&mut client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::Error);
    client.finish().await;
}

#[tokio::test]
async fn coder_reads_writes_on_disk_and_completes() {
    let mut h = Harness::new(
        vec![
            call("c1", "read_file", json!({"path": "src/lib.rs"})),
            call(
                "c2",
                "write_file",
                json!({"path": "src/new/mod.rs", "content": "pub fn added() {}\n"}),
            ),
            complete("c3", "Added src/new/mod.rs."),
        ],
        "coder",
        false,
    )
    .await;
    std::fs::create_dir_all(h.root().join("src")).unwrap();
    std::fs::write(
        h.root().join("src/lib.rs"),
        "pub fn one() -> u32 {\n    1\n}\n",
    )
    .unwrap();
    let log = h.turn("add a module").await;
    assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed);
    assert_eq!(
        log.completed.result.as_deref(),
        Some("Added src/new/mod.rs.")
    );
    log.assert_seq_increasing();
    let results = log.tool_results();
    assert_eq!(results[0].1, ToolCallStatus::Completed);
    assert!(
        results[0].2.contains("1 | pub fn one() -> u32 {"),
        "{}",
        results[0].2
    );
    assert_eq!(results[1].1, ToolCallStatus::Completed);
    assert_eq!(
        std::fs::read_to_string(h.root().join("src/new/mod.rs")).unwrap(),
        "pub fn added() {}\n"
    );
    // Statuses went pending -> in_progress -> completed, and the write asked first.
    let statuses: Vec<ToolCallStatus> = log
        .all::<ToolCallParams>()
        .iter()
        .filter(|p| p.tool_call_id == "c2")
        .map(|p| p.status)
        .collect();
    assert_eq!(
        statuses,
        [
            ToolCallStatus::Pending,
            ToolCallStatus::InProgress,
            ToolCallStatus::Completed
        ]
    );
    let approvals = log.all::<ApprovalRequiredParams>();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].approval.tool, "write_file");
    assert!(
        approvals[0]
            .approval
            .diff
            .as_deref()
            .unwrap()
            .contains("+pub fn added() {}")
    );
    assert_eq!(log.all::<ApprovalResolvedParams>().len(), 1);
    // What the model saw: the file, numbered, as the first tool result.
    let second = &h.mock.requests()[1];
    let tool_msg = second.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert!(tool_msg["content"].as_str().unwrap().contains("2 |     1"));
    h.finish().await;
}

fn result_of<'a>(results: &'a [support::agent::ToolResult], id: &str) -> (ToolCallStatus, &'a str) {
    let r = results
        .iter()
        .find(|r| r.0 == id)
        .unwrap_or_else(|| panic!("no call {id} in {results:?}"));
    (r.1, r.2.as_str())
}

#[tokio::test]
async fn each_agent_is_held_to_its_tools_and_restrictions() {
    // The architect may write Markdown, not Rust.
    let mut h = Harness::new(
        vec![
            calls(
                "",
                &[
                    (
                        "a1",
                        "write_file",
                        json!({"path": "src/main.rs", "content": "fn main() {}"}),
                    ),
                    (
                        "a2",
                        "write_file",
                        json!({"path": "docs/plan.md", "content": "# Plan\n"}),
                    ),
                ],
            ),
            complete("a3", "planned"),
        ],
        "architect",
        false,
    )
    .await;
    let log = h.turn("plan it").await;
    let r = log.tool_results();
    let (status, result) = result_of(&r, "a1");
    assert_eq!(status, ToolCallStatus::Failed);
    assert!(
        result.contains("File restriction") && result.contains(r"\.md$"),
        "{result}"
    );
    assert_eq!(result_of(&r, "a2").0, ToolCallStatus::Completed);
    assert!(!h.root().join("src/main.rs").exists());
    assert_eq!(
        std::fs::read_to_string(h.root().join("docs/plan.md")).unwrap(),
        "# Plan\n"
    );
    assert_eq!(
        log.all::<ApprovalRequiredParams>().len(),
        1,
        "only the allowed write asked"
    );
    h.finish().await;

    // Debug cannot write; ask cannot search.
    for (agent, tool, args) in [
        (
            "debug",
            "write_file",
            json!({"path": "x.txt", "content": "x"}),
        ),
        ("ask", "search_in_code", json!({"regex": "fn"})),
        ("orchestrator", "read_file", json!({"path": "x.txt"})),
    ] {
        let mut h = Harness::new(vec![call("b1", tool, args), text("ok")], agent, false).await;
        let log = h.turn("try").await;
        let r = log.tool_results();
        let (status, result) = result_of(&r, "b1");
        assert_eq!(status, ToolCallStatus::Failed, "{agent} {tool}");
        assert!(
            result.contains(&format!("The {agent} agent cannot use {tool}")),
            "{result}"
        );
        assert!(log.all::<ApprovalRequiredParams>().is_empty());
        h.finish().await;
    }
}

#[tokio::test]
async fn apply_diff_reports_each_block() {
    let diff = "<<<<<<< SEARCH\n:start_line:2\n-------\n    1\n=======\n    100\n>>>>>>> REPLACE\n\
                <<<<<<< SEARCH\nfn missing() {\n    9\n}\n=======\nfn gone() {}\n>>>>>>> REPLACE\n";
    let mut h = Harness::new(
        vec![
            call("d1", "apply_diff", json!({"path": "lib.rs", "diff": diff})),
            complete("d2", "edited"),
        ],
        "coder",
        false,
    )
    .await;
    std::fs::write(h.root().join("lib.rs"), "fn one() {\n    1\n}\n").unwrap();
    let log = h.turn("edit").await;
    let r = log.tool_results();
    let (status, result) = result_of(&r, "d1");
    assert_eq!(status, ToolCallStatus::Completed);
    assert!(result.contains("Applied 1 of 2 blocks"), "{result}");
    assert!(result.contains("Block 1: applied at line 2"), "{result}");
    assert!(
        result.contains("Block 2: FAILED") && result.contains("similar at line"),
        "{result}"
    );
    assert_eq!(
        std::fs::read_to_string(h.root().join("lib.rs")).unwrap(),
        "fn one() {\n    100\n}\n"
    );
    let approval = &log.all::<ApprovalRequiredParams>()[0].approval;
    assert!(
        approval.diff.as_deref().unwrap().contains("+    100"),
        "{approval:?}"
    );
    h.finish().await;
}

#[tokio::test]
async fn commands_stream_their_output_and_time_out_killing_the_group() {
    let mut h = Harness::with_config(
        vec![
            call(
                "e1",
                "execute_command",
                json!({"command": "echo one; echo two >&2; echo three; exit 3"}),
            ),
            call(
                "e2",
                "execute_command",
                json!({"command": "sleep 30 & echo $! > bg.pid; wait", "timeout_secs": 1}),
            ),
            complete("e3", "ran"),
        ],
        "coder",
        false,
        // Pids and approvals as they are outside the sandbox.
        support::agent::SANDBOX_OFF,
    )
    .await;
    let log = h.turn("run").await;
    let r = log.tool_results();
    let (status, result) = result_of(&r, "e1");
    assert_eq!(
        status,
        ToolCallStatus::Failed,
        "a non-zero exit is a failure the model sees"
    );
    assert!(
        result.starts_with("Exit code: 3")
            && result.contains("one")
            && result.contains("two")
            && result.contains("three"),
        "{result}"
    );
    let out: Vec<(String, String)> = log
        .all::<CommandOutputParams>()
        .into_iter()
        .filter(|p| p.tool_call_id == "e1")
        .map(|p| (p.stream, p.text))
        .collect();
    let stdout: String = out
        .iter()
        .filter(|(s, _)| s == "stdout")
        .map(|(_, t)| t.as_str())
        .collect();
    let stderr: String = out
        .iter()
        .filter(|(s, _)| s == "stderr")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("one\nthree\n", "two\n")
    );
    let (status, result) = result_of(&r, "e2");
    assert_eq!(status, ToolCallStatus::Failed);
    assert!(result.contains("timed out after 1s"), "{result}");
    let pid: i32 = std::fs::read_to_string(h.root().join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ");
    assert!(
        !alive,
        "the background child of the timed-out command was killed too"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_follow_up_question_is_answered_and_reaches_the_model() {
    let mut h = Harness::new(
        vec![
            call(
                "q1",
                "ask_followup_question",
                json!({"question": "Which database?", "suggestions": ["Postgres", "SQLite"]}),
            ),
            when("The user answered: SQLite", complete("q2", "Using SQLite")),
        ],
        "coder",
        false,
    )
    .await;
    let turn = h.send("set up the db").await;
    let log = drive(
        &mut h.client,
        turn,
        |_| None,
        |q| {
            assert_eq!(q.question, "Which database?");
            assert_eq!(q.suggestions, ["Postgres", "SQLite"]);
            Some("SQLite".into())
        },
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(log.completed.result.as_deref(), Some("Using SQLite"));
    assert_eq!(h.mock.remaining(), 0);
    h.finish().await;
}

#[tokio::test]
async fn switching_modes_changes_the_agent_and_its_tools() {
    let mut h = Harness::new(
        vec![
            call(
                "s1",
                "switch_mode",
                json!({"mode": "debug", "reason": "a crash to investigate"}),
            ),
            complete("s2", "investigated"),
        ],
        "orchestrator",
        false,
    )
    .await;
    let log = h.turn("it crashes").await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let switched = log.all::<AgentSwitchedParams>();
    assert_eq!(switched.len(), 1);
    assert_eq!(
        (switched[0].from.as_str(), switched[0].to.as_str()),
        ("orchestrator", "debug")
    );
    let reqs = h.mock.requests();
    let tools = |i: usize| -> Vec<String> {
        reqs[i].body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        tools(0).contains(&"new_task".to_owned()) && !tools(0).contains(&"read_file".to_owned())
    );
    assert!(
        tools(1).contains(&"read_file".to_owned()) && !tools(1).contains(&"new_task".to_owned())
    );
    assert!(
        reqs[1].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("You are Debug")
    );
    let cur = h
        .client
        .call_typed::<GetCurrentAgent>(SessionParams {
            session_id: h.session,
        })
        .await;
    assert_eq!(cur.agent.slug, "debug");
    // The client can switch too.
    let s = h
        .client
        .call_typed::<SwitchAgent>(SwitchAgentParams {
            session_id: h.session,
            agent: "coder".into(),
        })
        .await;
    assert_eq!(s.agent, "coder");
    let n = h.client.expect::<AgentSwitchedParams>().await;
    assert_eq!(n.to, "coder");
    let err = h
        .client
        .error_typed::<SwitchAgent>(SwitchAgentParams {
            session_id: h.session,
            agent: "wizard".into(),
        })
        .await;
    assert_eq!(err.code, ErrorCode::AgentNotFound);
    h.finish().await;
}

#[tokio::test]
async fn the_orchestrator_delegates_and_gets_the_result_back() {
    let mut h = Harness::new(
        vec![
            when(
                "refactor the parser",
                call(
                    "n1",
                    "new_task",
                    json!({"mode": "coder", "message": "SUBTASK: rename foo to bar"}),
                ),
            ),
            when(
                "SUBTASK: rename foo to bar",
                complete("k1", "renamed 3 occurrences"),
            ),
            when(
                "renamed 3 occurrences",
                complete("n2", "The parser was refactored."),
            ),
        ],
        "orchestrator",
        false,
    )
    .await;
    let log = h.turn("refactor the parser").await;
    assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed);
    assert_eq!(
        log.completed.result.as_deref(),
        Some("The parser was refactored.")
    );
    let r = log.tool_results();
    let (status, result) = result_of(&r, "n1");
    assert_eq!(status, ToolCallStatus::Completed);
    assert!(result.contains("renamed 3 occurrences"), "{result}");
    // The child session exists, linked to its parent, with its own history.
    let list = h
        .client
        .call_typed::<ListSessions>(ListSessionsParams::default())
        .await;
    let child = list
        .sessions
        .into_iter()
        .find(|s| s.parent_session_id == Some(h.session))
        .unwrap();
    assert_eq!(child.parent_tool_call_id.as_deref(), Some("n1"));
    assert_eq!(child.agent, "coder");
    let hist = h.client.call_typed::<GetHistory>(history(child.id)).await;
    assert_eq!(hist.messages[0].text, "SUBTASK: rename foo to bar");
    h.finish().await;
}

#[tokio::test]
async fn path_escapes_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let mut h = Harness::new(
        vec![
            calls(
                "",
                &[
                    ("p1", "read_file", json!({"path": "../secret.txt"})),
                    (
                        "p2",
                        "read_file",
                        json!({"path": outside.path().join("secret.txt")}),
                    ),
                    ("p3", "read_file", json!({"path": "link/secret.txt"})),
                    ("p4", "list_files", json!({"path": "link"})),
                    (
                        "p5",
                        "write_file",
                        json!({"path": "link/new.txt", "content": "x"}),
                    ),
                ],
            ),
            when("Stop here", complete("p6", "done")),
        ],
        "coder",
        false,
    )
    .await;
    std::os::unix::fs::symlink(outside.path(), h.root().join("link")).unwrap();
    let turn = h.send("read secrets").await;
    // Five failures in a row: the user is asked how to go on.
    let log = drive(&mut h.client, turn, |_| None, |_| Some("Stop here".into())).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let r = log.tool_results();
    for id in ["p1", "p2", "p3", "p4", "p5"] {
        let (status, result) = result_of(&r, id);
        assert_eq!(status, ToolCallStatus::Failed, "{id}");
        assert!(result.contains("outside the workspace"), "{id}: {result}");
        assert!(!result.contains("top secret"));
    }
    assert!(!outside.path().join("new.txt").exists());
    assert!(
        log.all::<ApprovalRequiredParams>().is_empty(),
        "refused before asking"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_second_message_while_a_turn_runs_is_refused_as_busy() {
    let mut h = Harness::new(
        vec![call(
            "w1",
            "ask_followup_question",
            json!({"question": "wait?"}),
        )],
        "coder",
        false,
    )
    .await;
    let turn = h.send("first").await;
    let q = h.client.expect::<QuestionParams>().await;
    let err = h
        .client
        .error_typed::<SendMessage>(SendMessageParams {
            session_id: h.session,
            text: "second".into(),
            agent: None,
            context: None,
        })
        .await;
    assert_eq!(err.code, ErrorCode::SessionBusy);
    assert!(err.message.contains(&turn.to_string()), "{err}");
    assert!(err.data.retryable);
    h.client
        .call_typed::<CancelTurn>(SessionParams {
            session_id: h.session,
        })
        .await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::Cancelled);
    // The pending question is gone; answering it now says so.
    let err = h
        .client
        .error_typed::<AnswerQuestion>(AnswerQuestionParams {
            session_id: h.session,
            question_id: q.question_id,
            answer: "x".into(),
        })
        .await;
    assert_eq!(err.code, ErrorCode::NotPending);
    h.finish().await;
}

#[tokio::test]
async fn repeated_failures_ask_the_user_and_identical_calls_are_refused() {
    let bad = || call("", "read_file", json!({"path": "missing.txt"}));
    let mut replies = Vec::new();
    for i in 0..3 {
        let mut r = bad();
        r.chunks[0].tool_call.as_mut().unwrap().id = format!("f{i}");
        replies.push(r);
    }
    replies.push(when(
        "Try a different approach",
        complete("f9", "gave up nicely"),
    ));
    let mut h = Harness::new(replies, "coder", false).await;
    let turn = h.send("read it").await;
    let log = drive(
        &mut h.client,
        turn,
        |_| None,
        |q| {
            assert!(q.question.contains("The last 3 tool calls failed"));
            Some("Try a different approach".into())
        },
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let r = log.tool_results();
    assert!(result_of(&r, "f0").1.contains("does not exist"));
    assert!(result_of(&r, "f1").1.contains("does not exist"));
    assert!(
        result_of(&r, "f2")
            .1
            .contains("Refused: this exact call was already made twice"),
        "{:?}",
        result_of(&r, "f2")
    );
    h.finish().await;
}

#[tokio::test]
async fn history_survives_a_restart() {
    let mut h = Harness::new(
        vec![
            call("h1", "list_files", json!({})),
            text("The workspace is empty."),
        ],
        "coder",
        false,
    )
    .await;
    let log = h.turn("what is here?").await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    let before = h.client.call_typed::<GetHistory>(history(h.session)).await;
    assert_eq!(before.messages.len(), 4);
    let session = h.session;
    let data = h.data.path().to_path_buf();
    h.client.done();
    h.server.kill().await;
    let mut server = ServerProcess::stdio(&data);
    let mut client = server.stdio_client();
    client.initialize(&[], None).await;
    let after = client.call_typed::<GetHistory>(history(session)).await;
    assert_eq!(after, before);
    client.finish().await;
}

#[tokio::test]
async fn two_clients_on_one_session_see_every_event_in_order() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
            call("t1", "list_files", json!({})),
            text("Nothing much here, as far as I can tell."),
        ],
    })
    .await;
    let data = data_dir();
    let ws = tempfile::tempdir().unwrap();
    let server = ServerProcess::websocket_env(data.path(), &support::agent::llm_env(&mock)).await;
    let mut a = server.ws_client().await;
    let mut b = server.ws_client().await;
    let root = file_uri(&ws.path().canonicalize().unwrap());
    a.initialize(&[], Some(&root)).await;
    b.initialize(&[], Some(&root)).await;
    let s = a.call_typed::<CreateSession>(create("coder")).await;
    let attached = b
        .call_typed::<AttachSession>(AttachSessionParams {
            session_id: s.id,
            after_seq: None,
        })
        .await;
    assert!(attached.messages.is_empty());
    let turn = send(&mut a, s.id, "look around").await;
    let la = drive(&mut a, turn, |_| None, |_| None).await;
    let lb = drive(&mut b, turn, |_| None, |_| None).await;
    la.assert_seq_increasing();
    lb.assert_seq_increasing();
    assert_eq!(
        la.events, lb.events,
        "both clients received the same events in the same order"
    );
    assert!(la.events.len() >= 8);
    // A client that reattaches after a seq gets only what followed.
    let mid = la.all::<MessageAddedParams>()[1].seq;
    let again = b
        .call_typed::<AttachSession>(AttachSessionParams {
            session_id: s.id,
            after_seq: Some(mid),
        })
        .await;
    let seqs: Vec<u64> = again.messages.iter().map(|m| m.seq).collect();
    assert!(!seqs.is_empty() && seqs.iter().all(|s| *s > mid));
    b.call_typed::<DetachSession>(SessionParams { session_id: s.id })
        .await;
    assert!(mock.violations().is_empty());
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn cancel_works_in_every_state_and_the_next_turn_works() {
    use mock_llm::{Chunk, Reply};
    let stall_first = Reply {
        chunks: vec![
            Chunk {
                comment: Some("thinking".into()),
                ..Default::default()
            },
            Chunk {
                stall: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let stall_mid = Reply {
        chunks: vec![
            Chunk {
                text: Some("partial answer".into()),
                ..Default::default()
            },
            Chunk {
                stall: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let mut h = Harness::with_config(
        vec![
            when("state one", stall_first),
            when("after one", text("fine 1")),
            when("state two", stall_mid),
            when("after two", text("fine 2")),
            when(
                "state three",
                call(
                    "c3",
                    "execute_command",
                    json!({"command": "sleep 30 & echo $! > sleep.pid; echo started; wait"}),
                ),
            ),
            when("after three", text("fine 3")),
            when(
                "state four",
                call(
                    "c4",
                    "ask_followup_question",
                    json!({"question": "really?"}),
                ),
            ),
            when("after four", text("fine 4")),
            when(
                "state five",
                call("c5", "write_file", json!({"path": "x.txt", "content": "x"})),
            ),
            when("after five", text("fine 5")),
        ],
        "coder",
        false,
        // Pids and approvals as they are outside the sandbox.
        support::agent::SANDBOX_OFF,
    )
    .await;
    let session = h.session;
    let cancel = |h: &mut Harness| {
        h.client.send_typed::<CancelTurn>(SessionParams {
            session_id: session,
        })
    };
    for (n, state) in ["one", "two", "three", "four", "five"].iter().enumerate() {
        let turn = h.send(&format!("state {state}")).await;
        // Wait for the state, then cancel.
        match n {
            0 => h.mock.wait_requests(1).await,
            1 => {
                h.client.expect::<TokenParams>().await;
            }
            2 => loop {
                let p = h.client.expect::<ToolCallParams>().await;
                if p.status == ToolCallStatus::InProgress {
                    // Running for real: its output has started.
                    let out = h.client.expect::<CommandOutputParams>().await;
                    assert_eq!(out.text, "started\n");
                    break;
                }
                if p.status == ToolCallStatus::Pending {
                    let a = h.client.expect::<ApprovalRequiredParams>().await;
                    h.client
                        .call_typed::<DecideApproval>(DecideApprovalParams {
                            approval_id: a.approval.id,
                            ..approve()
                        })
                        .await;
                }
            },
            3 => {
                h.client.expect::<QuestionParams>().await;
            }
            _ => {
                h.client.expect::<ApprovalRequiredParams>().await;
            }
        }
        let pending = cancel(&mut h);
        let r = h.client.response_typed(pending).await.unwrap();
        assert_eq!(r.turn_id, Some(turn));
        let log = drive(&mut h.client, turn, |_| None, |_| None).await;
        assert_eq!(log.stop(), StopReason::Cancelled, "state {state}");
        if n == 4 {
            let resolved = log.all::<ApprovalResolvedParams>();
            assert_eq!(
                resolved.last().map(|p| p.decision),
                Some(Decision::Cancelled)
            );
            let pending = h
                .client
                .call_typed::<ListPendingApprovals>(ListPendingApprovalsParams {
                    session_id: Some(session),
                })
                .await;
            assert!(pending.approvals.is_empty());
        }
        let log = h.turn(&format!("after {state}")).await;
        assert_eq!(
            log.stop(),
            StopReason::EndTurn,
            "the turn after state {state}"
        );
        assert_eq!(
            log.completed.result.as_deref(),
            Some(format!("fine {}", n + 1).as_str())
        );
    }
    // Mid-stream: the partial text was kept; the stream was dropped at once.
    let hist = h.client.call_typed::<GetHistory>(history(session)).await;
    assert!(
        hist.messages
            .iter()
            .any(|m| m.role == Role::Assistant && m.text == "partial answer")
    );
    let reqs = h.mock.requests();
    assert!(
        reqs.iter().filter(|r| r.disconnected_early).count() >= 2,
        "the stalled streams were disconnected"
    );
    // The command's background child died with the turn.
    let pid: i32 = std::fs::read_to_string(h.root().join("sleep.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false);
    assert!(!alive, "the cancelled command's process group was killed");
    h.finish().await;
}

#[tokio::test]
async fn search_reads_unsaved_buffers_and_honours_ignore_files() {
    let mut h = Harness::new(
        vec![
            call("s1", "search_in_code", json!({"regex": "needle_\\w+"})),
            call(
                "s2",
                "search_in_code",
                json!({"regex": "needle", "file_glob": "*.md"}),
            ),
            complete("s3", "found"),
        ],
        "coder",
        false,
    )
    .await;
    let root = h.root();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/a.rs"), "fn x() { needle_disk(); }\n").unwrap();
    std::fs::write(root.join("src/b.rs"), "nothing here\n").unwrap();
    std::fs::write(root.join("notes.md"), "a needle in notes\n").unwrap();
    std::fs::write(root.join("secret.env"), "needle_secret\n").unwrap();
    std::fs::write(root.join(".codelabignore"), "*.env\n").unwrap();
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::write(root.join("target/gen.rs"), "needle_generated\n").unwrap();
    std::fs::write(root.join(".ignore"), "vendor/\n").unwrap();
    std::fs::create_dir_all(root.join("vendor")).unwrap();
    std::fs::write(root.join("vendor/lib.rs"), "needle_vendored\n").unwrap();
    // b.rs has an unsaved change in the editor.
    h.client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": file_uri(&root.join("src/b.rs")), "languageId": "rust", "version": 1, "text": "let y = needle_unsaved;\n"}}),
    );
    let log = h.turn("find the needles").await;
    let r = log.tool_results();
    let (status, found) = result_of(&r, "s1");
    assert_eq!(status, ToolCallStatus::Completed);
    assert!(
        found.contains("src/a.rs:1: fn x() { needle_disk(); }"),
        "{found}"
    );
    assert!(
        found.contains("src/b.rs:1: let y = needle_unsaved;"),
        "{found}"
    );
    assert!(
        !found.contains("needle_secret")
            && !found.contains("needle_generated")
            && !found.contains("needle_vendored"),
        "{found}"
    );
    assert!(found.contains("[2 matches]"), "{found}");
    let (_, md) = result_of(&r, "s2");
    assert!(
        md.contains("notes.md:1: a needle in notes") && md.contains("[1 matches]"),
        "{md}"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_pending_question_survives_a_reconnect() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
            call(
                "q1",
                "ask_followup_question",
                json!({"question": "Tabs or spaces?", "suggestions": ["tabs", "spaces"]}),
            ),
            when("The user answered: spaces", complete("q2", "spaces it is")),
        ],
    })
    .await;
    let data = data_dir();
    let server = ServerProcess::websocket_env(data.path(), &support::agent::llm_env(&mock)).await;
    let mut a = server.ws_client().await;
    a.initialize(&[], None).await;
    let s = a.call_typed::<CreateSession>(create("coder")).await;
    let r = a
        .call_typed::<SendMessage>(SendMessageParams {
            session_id: s.id,
            text: "format it".into(),
            agent: None,
            context: Some(MessageContext {
                active_file: Some("src/lib.rs".into()),
                selection: Some("fn main() {}".into()),
                diagnostics: vec!["src/lib.rs:3: unused variable".into()],
                ..Default::default()
            }),
        })
        .await;
    let q = a.discard_until::<QuestionParams>().await;
    a.done(); // the editor goes away
    let mut b = server.ws_client().await;
    b.initialize(&[], None).await;
    let attached = b
        .call_typed::<AttachSession>(AttachSessionParams {
            session_id: s.id,
            after_seq: None,
        })
        .await;
    assert_eq!(attached.running_turn_id, Some(r.turn_id));
    let pending = &attached.pending_questions;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].question_id, q.question_id);
    assert_eq!(pending[0].question, "Tabs or spaces?");
    b.call_typed::<AnswerQuestion>(AnswerQuestionParams {
        session_id: s.id,
        question_id: q.question_id,
        answer: "spaces".into(),
    })
    .await;
    let log = drive(&mut b, r.turn_id, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(log.completed.result.as_deref(), Some("spaces it is"));
    // The editor context reached the model with the user's message.
    let first = &mock.requests()[0];
    let user = first.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .unwrap();
    let text = user["content"].as_str().unwrap();
    assert!(
        text.starts_with("format it")
            && text.contains("Active file: src/lib.rs")
            && text.contains("src/lib.rs:3: unused variable"),
        "{text}"
    );
    assert!(mock.violations().is_empty());
    b.finish().await;
}

/// A flat-out stream: the notifications stay within the coalescing bound
/// (one per `TOKEN_INTERVAL` of the stream, one per `TOKEN_BATCH_BYTES`, and
/// the last), whatever the speed of the machine.
#[tokio::test]
async fn a_flat_out_stream_is_coalesced_within_the_bound() {
    use codelab_agent::runtime::{TOKEN_BATCH_BYTES, TOKEN_INTERVAL};
    use mock_llm::{Chunk, Reply};
    const N: usize = 50_000;
    let long: String = (0..N).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let reply = Reply {
        chunks: vec![Chunk {
            text: Some(long.clone()),
            split: Some(1),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut h = Harness::new(vec![reply], "ask", false).await;
    let started = std::time::Instant::now();
    let log = h.turn("stream").await;
    let elapsed = started.elapsed();
    assert_eq!(log.text(), long);
    log.assert_seq_increasing();
    let tokens = log.all::<TokenParams>().len();
    let bound =
        (elapsed.as_micros() / TOKEN_INTERVAL.as_micros()) as usize + N / TOKEN_BATCH_BYTES + 2;
    assert!(
        tokens <= bound,
        "{N} deltas in {elapsed:?} became {tokens} notifications; the bound is {bound}"
    );
    assert!(tokens < N / 10, "{N} deltas became {tokens} notifications");
    h.finish().await;
}

/// Tokens paced 50 ms apart: each reaches the client in its own
/// notification before the model sends the next (the mock sends the next
/// only once the test has received the previous one).
#[tokio::test]
async fn a_paced_stream_sends_each_token_at_once() {
    use mock_llm::{Chunk, Reply};
    const N: usize = 12;
    let words: Vec<String> = (0..N)
        .map(|i| format!("{} ", char::from(b'a' + i as u8)))
        .collect();
    let reply = Reply {
        chunks: vec![Chunk {
            text: Some(words.concat()),
            split: Some(2),
            pace_ms: Some(50),
            gated: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut h = Harness::new(vec![reply], "ask", false).await;
    let turn = h.send("stream").await;
    let mut seqs = Vec::new();
    for w in &words {
        h.mock.release(1);
        let t = h.client.discard_until::<TokenParams>().await;
        assert_eq!(t.turn_id, turn);
        assert_eq!(&t.delta, w, "one token per notification, in order");
        seqs.push(t.seq);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert!(log.all::<TokenParams>().is_empty(), "nothing held back");
    log.assert_seq_increasing();
    assert!(
        log.all::<MessageAddedParams>()[0].seq > *seqs.last().unwrap(),
        "the reply's message after its last token"
    );
    h.finish().await;
}

#[tokio::test]
async fn model_settings_follow_the_documented_precedence() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![text("one"), text("two"), text("three")],
    })
    .await;
    let data = data_dir();
    let ws = tempfile::tempdir().unwrap();
    // User file < environment < workspace file < editor.
    std::fs::write(
        data.path().join("codelab.toml"),
        "[llm]\nmodel = \"user-model\"\n",
    )
    .unwrap();
    let mut env = support::agent::llm_env(&mock);
    env.retain(|(k, _)| *k != "CODELAB_MODEL");
    env.push(("CODELAB_MODEL", "env-model".into()));
    let mut server = ServerProcess::stdio_env(data.path(), &env);
    let mut c = server.stdio_client();
    let root = ws.path().canonicalize().unwrap();
    c.initialize(&[], Some(&file_uri(&root))).await;
    let s = c.call_typed::<CreateSession>(create("ask")).await;
    async fn turn(c: &mut support::Client, sid: SessionId, text: &str) -> support::agent::TurnLog {
        let turn = send(c, sid, text).await;
        drive(c, turn, |_| None, |_| None).await
    }
    let sid = s.id;
    assert_eq!(turn(&mut c, sid, "a").await.stop(), StopReason::EndTurn);
    // A workspace file: it may choose the model, but its base_url is ignored.
    std::fs::create_dir_all(root.join(".codelab")).unwrap();
    std::fs::write(
        root.join(".codelab/config.toml"),
        "[llm]\nmodel = \"workspace-model\"\n[llm.providers.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\n",
    )
    .unwrap();
    assert_eq!(turn(&mut c, sid, "b").await.stop(), StopReason::EndTurn);
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"codelab": {"llm": {"model": "editor-model"}}}}),
    );
    assert_eq!(turn(&mut c, sid, "c").await.stop(), StopReason::EndTurn);
    let models: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(models, ["env-model", "workspace-model", "editor-model"]);
    c.finish().await;
}

#[tokio::test]
async fn the_iteration_limit_ends_a_looping_turn() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
            call("i1", "list_files", json!({})),
            call("i2", "list_files", json!({"recursive": true})),
            text("never asked for"),
        ],
    })
    .await;
    let data = data_dir();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[agent]\nmax_iterations = 2\n",
    )
    .unwrap();
    let mut server = ServerProcess::stdio_env(data.path(), &support::agent::llm_env(&mock));
    let mut c = server.stdio_client();
    c.initialize(&[], Some(&file_uri(&ws.path().canonicalize().unwrap())))
        .await;
    let s = c.call_typed::<CreateSession>(create("coder")).await;
    let turn = send(&mut c, s.id, "loop").await;
    let log = drive(&mut c, turn, |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::MaxIterations);
    assert!(
        log.completed
            .error
            .as_deref()
            .unwrap()
            .contains("2 model requests")
    );
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(log.all::<TurnCompletedParams>().len(), 1);
    c.finish().await;
}

/// A reply that reasons first (OpenAI-compatible `field`, or an Anthropic
/// thinking block signed `sig-1`), then goes on as `then`.
fn reasoning_then(
    field: Option<&str>,
    reasoning: &str,
    mut then: mock_llm::Reply,
) -> mock_llm::Reply {
    then.chunks.insert(
        0,
        mock_llm::Chunk {
            reasoning: Some(reasoning.into()),
            reasoning_field: field.map(Into::into),
            signature: Some("sig-1".into()),
            split: Some(5),
            ..Default::default()
        },
    );
    then
}

fn reasoning_of(log: &support::agent::TurnLog) -> String {
    log.of("codelab/reasoning")
        .iter()
        .map(|p| p["delta"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn reasoning_streams_apart_from_the_answer_and_is_persisted() {
    const THOUGHT: &str = "The user says hi; a short greeting will do.";
    let mut h = Harness::new(
        vec![
            reasoning_then(None, THOUGHT, text("Hello!")),
            reasoning_then(Some("reasoning"), "Again.", text("Hi again.")),
        ],
        "ask",
        false,
    )
    .await;
    let log = h.turn("hi").await;
    log.assert_seq_increasing();
    assert_eq!(reasoning_of(&log), THOUGHT);
    assert_eq!(log.text(), "Hello!");
    let first_token = log.all::<TokenParams>()[0].seq;
    assert!(
        log.of("codelab/reasoning")
            .iter()
            .all(|p| p["seq"].as_u64().unwrap() < first_token),
        "the reasoning came first"
    );
    let reply = &log.all::<MessageAddedParams>()[1].message;
    assert_eq!(reply.text, "Hello!");
    assert_eq!(reply.reasoning.as_deref(), Some(THOUGHT));
    // vLLM's and OpenRouter's `reasoning` field too.
    let log = h.turn("again").await;
    assert_eq!(reasoning_of(&log), "Again.");
    assert_eq!(log.text(), "Hi again.");
    // Persisted with the message.
    let history = h.client.call_typed::<GetHistory>(history(h.session)).await;
    let replies: Vec<Option<&str>> = history
        .messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.reasoning.as_deref())
        .collect();
    assert_eq!(replies, [Some(THOUGHT), Some("Again.")]);
    // gpt-4o-mini is not sent its reasoning back.
    let second = &h.mock.requests()[1];
    let assistant = second.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    assert!(assistant.get("reasoning_content").is_none(), "{assistant}");
    h.finish().await;
}

/// The assistant message of `request` that made the call `id`.
fn assistant_with_call(mock: &mock_llm::MockLlm, request: usize, id: &str) -> serde_json::Value {
    mock.requests()[request].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["tool_calls"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["id"] == id))
        })
        .unwrap_or_else(|| panic!("no assistant message with call {id}"))
        .clone()
}

/// DeepSeek's thinking mode answers 400 unless every assistant message that
/// made tool calls carries its `reasoning_content`; the older
/// `deepseek-reasoner` answered 400 when it was sent.
#[tokio::test]
async fn deepseek_models_get_their_reasoning_back_as_each_requires() {
    for (model, sent) in [("deepseek-chat", true), ("deepseek-reasoner", false)] {
        let config = format!("[llm.agents.ask]\nmodel = \"{model}\"\n");
        let mut h = Harness::with_config(
            vec![
                reasoning_then(
                    None,
                    "I need the file first.",
                    call("c1", "read_file", json!({"path": "a.txt"})),
                ),
                text("It says hello."),
            ],
            "ask",
            false,
            &config,
        )
        .await;
        std::fs::write(h.root().join("a.txt"), "hello\n").unwrap();
        let log = h.turn("what does a.txt say?").await;
        assert_eq!(log.stop(), StopReason::EndTurn);
        assert_eq!(reasoning_of(&log), "I need the file first.");
        assert_eq!(h.mock.requests()[1].body["model"], model);
        let m = assistant_with_call(&h.mock, 1, "c1");
        if sent {
            assert_eq!(m["reasoning_content"], "I need the file first.", "{model}");
        } else {
            assert!(m.get("reasoning_content").is_none(), "{model}: {m}");
        }
        h.finish().await;
    }
}

/// Anthropic extended thinking: the budget is requested, the thinking
/// streams as reasoning, and the signed block goes back first in its
/// assistant message during tool use (the mock refuses a thinking block
/// without its signature).
#[tokio::test]
async fn anthropic_thinking_blocks_go_back_signed_during_tool_use() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script::default()).await;
    let config = format!(
        "[llm.providers.anthropic]\nbase_url = \"{}\"\napi_key = \"k\"\n\
         [llm.agents.ask]\nprovider = \"anthropic\"\nmodel = \"claude-sonnet-4-5\"\n\
         [llm.models.\"claude-sonnet-4-5\"]\nthinking_budget = 2048\n",
        mock.anthropic_base()
    );
    mock.push([
        reasoning_then(
            None,
            "Read it, then answer.",
            call("c1", "read_file", json!({"path": "a.txt"})),
        ),
        text("It says hello."),
    ]);
    // The harness's own mock (OpenAI) gets no request: the agent's provider is this one.
    let mut h = Harness::with_config(vec![], "ask", false, &config).await;
    std::fs::write(h.root().join("a.txt"), "hello\n").unwrap();
    let log = h.turn("what does a.txt say?").await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(reasoning_of(&log), "Read it, then answer.");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(
        reqs[0].body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert!(reqs[0].body["max_tokens"].as_u64().unwrap() > 2048);
    let assistant = reqs[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap()
        .clone();
    assert_eq!(
        assistant["content"][0],
        json!({"type": "thinking", "thinking": "Read it, then answer.", "signature": "sig-1"})
    );
    assert_eq!(assistant["content"][1]["type"], "tool_use");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    assert!(h.mock.requests().is_empty());
    h.finish().await;
}
