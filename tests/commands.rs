//! Commands through the real binary and real processes: they never hang the
//! agent, leave nothing behind, run in the background on request, stop
//! within the grace, and run sandboxed without approval.
//!
//! Processes are found in `/proc` by a marker unique to each test (an odd
//! `sleep` duration), never by name. Durations asserted here are generous
//! upper bounds that catch a hang; nothing waits on a clock to synchronise.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::time::{Duration, Instant};

use codelab_agent::domain::SessionId;
use codelab_agent::protocol::Notification;
use codelab_agent::protocol::requests::{
    CancelTurn, CreateSession, DeleteSession, GetPolicy, ListProcesses,
};
use codelab_agent::protocol::types::{
    Approval, CommandOutputParams, CreateSessionParams, DecideApprovalParams, GetPolicyParams,
    ListProcessesParams, SessionParams, StopReason, ToolCallParams, ToolCallStatus,
    TurnCompletedParams,
};
use mock_llm::{MockLlm, Reply, Script};
use serde_json::json;
use support::agent::{approve, call, complete, decision, drive, llm_env, send};
use support::{Client, ServerProcess, file_uri};

/// The pids of live (not zombie) processes whose command line contains `marker`.
/// A `sleep` duration unique to this test process, so that processes of
/// another run of the suite on the same machine never count as ours.
fn mark(base: &str) -> String {
    format!("{base}{}", std::process::id())
}

fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            out.push(pid);
        }
    }
    out
}

/// Waits (20 s at most) until no process carries `marker`.
async fn gone(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !processes_with(marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes with {marker} are still running: {:?}",
            processes_with(marker)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A mock, a workspace, a server whose user file is `config`, and a client
/// with a coder session.
struct Setup {
    mock: MockLlm,
    _data: tempfile::TempDir,
    ws: tempfile::TempDir,
    server: ServerProcess,
    client: Client,
    session: SessionId,
}

impl Setup {
    async fn new(replies: Vec<Reply>, config: &str) -> Self {
        let mock = MockLlm::start(Script { replies }).await;
        let data = support::data_dir();
        std::fs::write(data.path().join("codelab.toml"), config).unwrap();
        let ws = tempfile::tempdir().unwrap();
        let mut server = ServerProcess::stdio_env(data.path(), &llm_env(&mock));
        let mut client = server.stdio_client();
        let root = ws.path().canonicalize().unwrap();
        client.initialize(&[], Some(&file_uri(&root))).await;
        let session = client
            .call_typed::<CreateSession>(CreateSessionParams {
                agent: Some("coder".into()),
                ..Default::default()
            })
            .await
            .id;
        Self {
            mock,
            _data: data,
            ws,
            server,
            client,
            session,
        }
    }

    fn root(&self) -> std::path::PathBuf {
        self.ws.path().canonicalize().unwrap()
    }

    async fn finish(self) {
        assert!(
            self.mock.violations().is_empty(),
            "{:?}",
            self.mock.violations()
        );
        self.client.finish().await;
    }
}

/// Unsandboxed commands: every one asks (and is approved by the tests).
const SANDBOX_OFF: &str = "[sandbox]\nmode = \"off\"\n";

/// One call's life: when it started running, when it ended, and its result.
#[derive(Debug)]
struct Timed {
    status: ToolCallStatus,
    result: String,
    took: Duration,
    /// Whether it asked for approval first.
    asked: bool,
}

/// Drives a turn (approving every approval), timing each call from its
/// `in_progress` announcement to its result.
async fn timed_turn(c: &mut Client, session: SessionId, text: &str) -> Vec<(String, Timed)> {
    let turn = send(c, session, text).await;
    let mut started = std::collections::HashMap::new();
    let mut asked = std::collections::HashSet::new();
    let mut out = Vec::new();
    loop {
        let n = c.next_notification().await;
        let method = n["method"].as_str().unwrap().to_owned();
        let at = Instant::now();
        match method.as_str() {
            ToolCallParams::NAME => {
                let p: ToolCallParams = serde_json::from_value(n["params"].clone()).unwrap();
                match p.status {
                    ToolCallStatus::InProgress => {
                        started.insert(p.tool_call_id.clone(), at);
                    }
                    ToolCallStatus::Completed | ToolCallStatus::Failed => {
                        let took = started
                            .get(&p.tool_call_id)
                            .map_or(Duration::ZERO, |s| at - *s);
                        out.push((
                            p.tool_call_id.clone(),
                            Timed {
                                status: p.status,
                                result: p.result.unwrap_or_default(),
                                took,
                                asked: asked.contains(&p.tool_call_id),
                            },
                        ));
                    }
                    _ => {}
                }
            }
            "codelab/approvalRequired" => {
                let a: Approval = serde_json::from_value(n["params"]["approval"].clone()).unwrap();
                asked.insert(a.tool_call_id.clone());
                c.call_typed::<codelab_agent::protocol::requests::DecideApproval>(
                    DecideApprovalParams {
                        approval_id: a.id,
                        ..approve()
                    },
                )
                .await;
            }
            TurnCompletedParams::NAME => {
                let p: TurnCompletedParams = serde_json::from_value(n["params"].clone()).unwrap();
                if p.turn_id == turn {
                    assert_eq!(p.stop_reason, StopReason::EndTurn, "{p:?}");
                    return out;
                }
            }
            _ => {}
        }
    }
}

fn result<'a>(calls: &'a [(String, Timed)], id: &str) -> &'a Timed {
    &calls.iter().find(|(i, _)| i == id).unwrap().1
}

/// `(sleep &) ; echo` and `setsid sleep & echo`: the call returns when the
/// shell exits, in well under the sleep, and no sleep is left, sandboxed or not.
#[tokio::test]
async fn a_command_completes_when_its_own_process_exits_and_leaves_nothing_behind() {
    for (config, tag) in [("", "1"), (SANDBOX_OFF, "2")] {
        let (a, b) = (mark(&format!("31.41{tag}")), mark(&format!("31.42{tag}")));
        let mut s = Setup::new(
            vec![
                call(
                    "c1",
                    "execute_command",
                    json!({"command": format!("(sleep {a} &) ; echo parent-done")}),
                ),
                call(
                    "c2",
                    "execute_command",
                    json!({"command": format!("setsid sleep {b} & echo parent-done")}),
                ),
                complete("c3", "done"),
            ],
            config,
        )
        .await;
        let session = s.session;
        let calls = timed_turn(&mut s.client, session, "go").await;
        for (id, marker) in [("c1", &a), ("c2", &b)] {
            let r = result(&calls, id);
            assert_eq!(r.status, ToolCallStatus::Completed, "{config}: {r:?}");
            assert!(r.result.contains("parent-done"), "{config}: {r:?}");
            assert_eq!(
                r.asked,
                config == SANDBOX_OFF,
                "only unsandboxed commands ask"
            );
            assert!(
                r.took < Duration::from_secs(2),
                "{config}: {id} hung: {r:?}"
            );
            assert!(
                processes_with(marker).is_empty(),
                "{config}: {id} left {:?}",
                processes_with(marker)
            );
        }
        s.finish().await;
    }
}

/// Stdin is closed, invalid UTF-8 is shown lossily, and an exit code is
/// reported.
#[tokio::test]
async fn stdin_is_closed_and_invalid_utf8_is_lossy() {
    let mut s = Setup::new(
        vec![
            call(
                "c1",
                "execute_command",
                json!({"command": "cat; printf 'a\\377b\\n'; exit 4"}),
            ),
            complete("c2", "done"),
        ],
        "",
    )
    .await;
    let session = s.session;
    let calls = timed_turn(&mut s.client, session, "go").await;
    let r = result(&calls, "c1");
    assert_eq!(r.status, ToolCallStatus::Failed);
    assert!(r.result.starts_with("Exit code: 4\n"), "{r:?}");
    assert!(r.result.contains("a\u{fffd}b"), "{r:?}");
    assert!(
        r.took < Duration::from_secs(5),
        "cat waited for stdin: {r:?}"
    );
    s.finish().await;
}

/// A command that ignores SIGTERM is gone within the grace after its
/// timeout, children included.
#[tokio::test]
async fn a_timeout_ends_a_command_that_ignores_sigterm_within_the_grace() {
    for (config, tag) in [("", "1"), (SANDBOX_OFF, "2")] {
        let marker = mark(&format!("33.3{tag}"));
        let mut s = Setup::new(
            vec![
                call(
                    "t1",
                    "execute_command",
                    json!({
                        "command": format!("trap '' TERM; sleep {marker} & setsid sleep {marker} & wait"),
                        "timeout_secs": 1,
                    }),
                ),
                complete("t2", "done"),
            ],
            config,
        )
        .await;
        let session = s.session;
        let calls = timed_turn(&mut s.client, session, "go").await;
        let r = result(&calls, "t1");
        assert_eq!(r.status, ToolCallStatus::Failed);
        assert!(r.result.contains("timed out after 1s"), "{r:?}");
        // 1 s timeout + 2 s grace, and a margin for a loaded machine.
        assert!(r.took < Duration::from_secs(6), "{config}: {r:?}");
        assert!(
            processes_with(&marker).is_empty(),
            "{config}: left {:?}",
            processes_with(&marker)
        );
        s.finish().await;
    }
}

/// Cancelling a turn during a command with children (one ignoring
/// SIGTERM, one in its own session) leaves no process of it.
#[tokio::test]
async fn cancel_during_a_command_leaves_no_process() {
    let marker = &mark("34.41");
    let mut s = Setup::new(
        vec![call(
            "k1",
            "execute_command",
            json!({"command": format!("trap '' TERM; (sleep {marker} &); setsid sleep {marker} & echo started; wait")}),
        )],
        "",
    )
    .await;
    let session = s.session;
    let turn = send(&mut s.client, session, "go").await;
    s.client
        .expect_where::<CommandOutputParams>(|o| o.text.contains("started"))
        .await;
    assert!(!processes_with(marker).is_empty(), "the children run");
    let cancelled_at = Instant::now();
    let pending = s.client.send_typed::<CancelTurn>(SessionParams {
        session_id: session,
    });
    let log = drive(&mut s.client, turn, |_| None, |_| None).await;
    s.client.response_typed(pending).await.unwrap();
    assert_eq!(log.stop(), StopReason::Cancelled);
    gone(marker).await;
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(5),
        "gone within the grace: {:?}",
        cancelled_at.elapsed()
    );
    s.finish().await;
}

fn bg(id: &str, command: &str) -> Reply {
    call(
        id,
        "execute_command",
        json!({"command": command, "background": true}),
    )
}

async fn list(c: &mut Client, session: SessionId) -> Vec<(String, bool)> {
    c.call_typed::<ListProcesses>(ListProcessesParams {
        session_id: Some(session),
    })
    .await
    .processes
    .into_iter()
    .map(|p| (p.id, p.running))
    .collect()
}

/// `background: true`: it keeps running after the call, its later output
/// is read, it is listed, and stop_command ends it; deleting the session
/// ends another; the server's exit ends the last.
#[tokio::test]
async fn background_commands_run_on_are_read_and_stopped() {
    let (m1, m2, m3) = (&mark("35.51"), &mark("35.52"), &mark("35.53"));
    let mut s = Setup::new(
        vec![
            bg(
                "b1",
                &format!("echo first; sleep 0.2; echo second-line; exec sleep {m1}"),
            ),
            call(
                "b2",
                "read_command_output",
                json!({"id": "p1", "wait_for": "second-line", "timeout_secs": 20}),
            ),
            complete("b3", "started"),
            call("b4", "stop_command", json!({"id": "p1"})),
            complete("b5", "stopped"),
        ],
        "",
    )
    .await;
    let session = s.session;
    let calls = timed_turn(&mut s.client, session, "start").await;
    let started = result(&calls, "b1");
    assert_eq!(started.status, ToolCallStatus::Completed, "{started:?}");
    assert!(
        started.result.contains("background command p1"),
        "{started:?}"
    );
    let read = result(&calls, "b2");
    assert!(
        read.result.contains("first") && read.result.contains("second-line"),
        "{read:?}"
    );
    assert!(read.result.starts_with("p1: Still running"), "{read:?}");
    // The turn is over; the command runs on and is listed.
    assert!(!processes_with(m1).is_empty(), "running");
    assert_eq!(list(&mut s.client, session).await, [("p1".into(), true)]);
    let calls = timed_turn(&mut s.client, session, "stop it").await;
    let stopped = result(&calls, "b4");
    assert!(stopped.result.starts_with("p1: stopped"), "{stopped:?}");
    assert!(
        processes_with(m1).is_empty(),
        "stopped: {:?}",
        processes_with(m1)
            .iter()
            .map(|p| std::fs::read_to_string(format!("/proc/{p}/status"))
                .unwrap_or_default()
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "))
            .collect::<Vec<_>>()
    );
    assert_eq!(list(&mut s.client, session).await, [("p1".into(), false)]);

    // Deleting a session stops its background commands.
    s.mock.push(vec![
        bg("d1", &format!("exec sleep {m2}")),
        complete("d2", "ok"),
    ]);
    timed_turn(&mut s.client, session, "again").await;
    assert!(!processes_with(m2).is_empty(), "running");
    s.client
        .call_typed::<DeleteSession>(SessionParams {
            session_id: session,
        })
        .await;
    assert!(processes_with(m2).is_empty(), "deleted with its session");

    // The server's exit stops them too.
    let other = s
        .client
        .call_typed::<CreateSession>(CreateSessionParams {
            agent: Some("coder".into()),
            ..Default::default()
        })
        .await
        .id;
    s.mock.push(vec![
        bg("e1", &format!("exec sleep {m3}")),
        complete("e2", "ok"),
    ]);
    timed_turn(&mut s.client, other, "last").await;
    assert!(!processes_with(m3).is_empty(), "running");
    let Setup {
        mock,
        mut server,
        client,
        ..
    } = s;
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    client.finish().await;
    server.wait().await;
    gone(m3).await;
}

/// 1 GiB of output: the server's memory stays bounded; the result keeps
/// the beginning and the end.
#[tokio::test]
async fn a_flood_of_output_is_bounded_in_memory() {
    let mut s = Setup::new(
        vec![
            call(
                "f1",
                "execute_command",
                json!({"command": "echo BEGIN; yes | head -c 1073741824; echo; echo END", "timeout_secs": 600}),
            ),
            complete("f2", "done"),
        ],
        "",
    )
    .await;
    let pid = s.server.child.id().unwrap();
    let session = s.session;
    let calls = timed_turn(&mut s.client, session, "flood").await;
    let r = result(&calls, "f1");
    assert_eq!(
        r.status,
        ToolCallStatus::Completed,
        "{}",
        &r.result[..200.min(r.result.len())]
    );
    assert!(
        r.result.starts_with("Exit code: 0\nBEGIN\ny\ny\n"),
        "{}",
        &r.result[..100]
    );
    assert!(
        r.result.trim_end().ends_with("y\n\nEND"),
        "{}",
        &r.result[r.result.len() - 100..]
    );
    assert!(r.result.contains("bytes of output elided"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(
        peak_kib < 200 * 1024,
        "the server's peak RSS grew to {peak_kib} KiB for 1 GiB of output"
    );
    s.finish().await;
}

// --- the sandbox ------------------------------------------------------------

/// The sandbox works on the machines this project runs on (Linux with
/// Landlock and user namespaces); the server says why when it does not.
async fn assert_sandbox_available(c: &mut Client) {
    let p = c.call_typed::<GetPolicy>(GetPolicyParams::default()).await;
    assert!(
        p.sandbox.available,
        "the sandbox is unavailable here: {:?}",
        p.sandbox.reason
    );
}

/// Under the default policy a sandboxed command runs without approval; it
/// writes in the workspace but not in the home directory, another dir under
/// /tmp, `.git` or `.codelab`; `sandbox: false` and naming an ignored file ask.
#[tokio::test]
async fn sandboxed_commands_need_no_approval_and_write_only_the_workspace() {
    let outside = tempfile::tempdir().unwrap();
    let home = dirs::home_dir().unwrap();
    let in_home = home.join(format!("codelab-sandbox-test-{}", std::process::id()));
    let mut s = Setup::new(vec![], "").await;
    assert_sandbox_available(&mut s.client).await;
    let root = s.root();
    std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(root.join(".codelab")).unwrap();
    std::fs::write(root.join(".codelabignore"), "secret.env\n").unwrap();
    std::fs::write(root.join("secret.env"), "TOKEN=hunter2\n").unwrap();
    s.mock.push(vec![
        call(
            "w1",
            "execute_command",
            json!({"command": "echo inside > in-ws.txt && echo \"TMPDIR=$TMPDIR\" && echo t > /tmp/t"}),
        ),
        call(
            "w2",
            "execute_command",
            json!({"command": format!("echo x > {}", in_home.display())}),
        ),
        call(
            "w3",
            "execute_command",
            json!({"command": format!("echo x > {}/f", outside.path().display())}),
        ),
        call(
            "w4",
            "execute_command",
            json!({"command": "echo x > .git/hooks/x"}),
        ),
        call(
            "w5",
            "execute_command",
            json!({"command": "echo x > .codelab/config.toml"}),
        ),
        call(
            "w6",
            "execute_command",
            json!({"command": "cat secret.env"}),
        ),
        call(
            "w7",
            "execute_command",
            json!({"command": "echo outside", "sandbox": false}),
        ),
        complete("w8", "done"),
    ]);
    let turn = send(&mut s.client, s.session, "write").await;
    let mut asked: Vec<(String, String)> = Vec::new();
    let log = drive(
        &mut s.client,
        turn,
        |a| {
            asked.push((
                a.params["command"].as_str().unwrap().to_owned(),
                a.rule.clone(),
            ));
            // Reading the ignored file is rejected; the rest approved.
            if a.params["command"] == "cat secret.env" {
                Some(decision(codelab_agent::protocol::types::Decision::Reject))
            } else {
                Some(approve())
            }
        },
        // After three failures in a row the agent asks how to go on.
        |_| Some("Go on".into()),
    )
    .await;
    let results = log.tool_results();
    let r = |id: &str| results.iter().find(|r| r.0 == id).unwrap().clone();
    let (_, st, text) = r("w1");
    assert_eq!(st, ToolCallStatus::Completed, "{text}");
    assert_eq!(
        std::fs::read_to_string(root.join("in-ws.txt")).unwrap(),
        "inside\n"
    );
    assert!(
        text.contains("TMPDIR=/tmp\n"),
        "TMPDIR is /tmp, the session's temp dir: {text}"
    );
    let session_tmp = s._data.path().join("tmp").join(s.session.to_string());
    assert_eq!(
        std::fs::read_to_string(session_tmp.join("t")).unwrap(),
        "t\n",
        "/tmp is the session's temp dir"
    );
    for (id, path) in [
        ("w2", in_home.display().to_string()),
        ("w3", format!("{}/f", outside.path().display())),
        ("w4", ".git/hooks/x".into()),
        ("w5", ".codelab/config.toml".into()),
    ] {
        let (_, st, text) = r(id);
        assert_eq!(st, ToolCallStatus::Failed, "{id}: {text}");
        assert!(text.contains("[sandbox]"), "{id}: {text}");
        assert!(
            text.contains(&format!("Writing `{path}` was refused")),
            "{id}: {text}"
        );
    }
    assert!(!in_home.exists());
    assert!(!outside.path().join("f").exists());
    assert!(!root.join(".git/hooks/x").exists());
    assert!(!root.join(".codelab/config.toml").exists());
    let (_, st, text) = r("w6");
    assert_eq!(st, ToolCallStatus::Failed);
    assert!(!text.contains("hunter2"), "{text}");
    let (_, st, text) = r("w7");
    assert_eq!(st, ToolCallStatus::Completed, "{text}");
    let commands: Vec<&str> = asked.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        commands,
        [
            "echo x > .git/hooks/x",
            "echo x > .codelab/config.toml",
            "cat secret.env",
            "echo outside"
        ],
        "only what names a protected or ignored path, and what runs outside, asks"
    );
    assert!(asked[2].1.contains("secret.env"), "{asked:?}");
    assert!(asked[3].1.contains("outside the sandbox"), "{asked:?}");
    s.finish().await;
}

/// The network is off in the sandbox unless a rule turns it on.
#[tokio::test]
async fn the_network_is_off_in_the_sandbox_unless_a_rule_allows_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let connect = format!(
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=10); print('connected')\""
    );
    let config = "[[policy.rules]]\ntool = \"execute_command\"\ncommand = \"python3\"\nnetwork = true\naction = \"allow\"\n";
    let mut s = Setup::new(vec![], config).await;
    assert_sandbox_available(&mut s.client).await;
    s.mock.push(vec![
        call(
            "n1",
            "execute_command",
            json!({"command": format!("env {connect}")}),
        ),
        call("n2", "execute_command", json!({"command": connect})),
        complete("n3", "done"),
    ]);
    let session = s.session;
    let calls = timed_turn(&mut s.client, session, "connect").await;
    let off = result(&calls, "n1");
    assert_eq!(off.status, ToolCallStatus::Failed, "{off:?}");
    assert!(off.result.contains("the network is off"), "{off:?}");
    let on = result(&calls, "n2");
    assert_eq!(on.status, ToolCallStatus::Completed, "{on:?}");
    assert!(!off.asked && !on.asked, "sandboxed: no approval");
    assert!(on.result.contains("connected"), "{on:?}");
    let policy = s
        .client
        .call_typed::<GetPolicy>(GetPolicyParams::default())
        .await;
    assert!(policy.rules.iter().any(|r| r.network && r.source == "user"));
    assert_eq!(policy.sandbox.mode, "workspace-write");
    s.finish().await;
}

/// A server killed with SIGKILL leaves no command behind: the launcher's
/// parent-death signal stops it, sandboxed or not.
#[tokio::test]
async fn a_killed_server_leaves_no_command_behind() {
    for (config, marker) in [("", mark("36.61")), (SANDBOX_OFF, mark("36.62"))] {
        let marker = marker.as_str();
        let mut s = Setup::new(
            vec![
                bg(
                    "k1",
                    &format!("sleep {marker} & setsid sleep {marker} & wait"),
                ),
                complete("k2", "started"),
            ],
            config,
        )
        .await;
        let session = s.session;
        timed_turn(&mut s.client, session, "start").await;
        assert!(!processes_with(marker).is_empty(), "running");
        let Setup {
            mut server, client, ..
        } = s;
        server.child.start_kill().unwrap();
        server.child.wait().await.unwrap();
        client.abandon();
        gone(marker).await;
    }
}

/// `[sandbox.agents]`: an agent in `read-only` mode runs commands without
/// approval but writes nowhere except its temp dir.
#[tokio::test]
async fn a_read_only_agent_writes_only_its_temp_dir() {
    let mut s = Setup::new(
        vec![
            call(
                "r1",
                "execute_command",
                json!({"command": "echo x > \"$TMPDIR/scratch\" && cat \"$TMPDIR/scratch\""}),
            ),
            call(
                "r2",
                "execute_command",
                json!({"command": "echo x > out.txt"}),
            ),
            complete("r3", "done"),
        ],
        "[sandbox.agents]\ncoder = \"read-only\"\n",
    )
    .await;
    assert_sandbox_available(&mut s.client).await;
    let session = s.session;
    let policy = s
        .client
        .call_typed::<GetPolicy>(GetPolicyParams {
            session_id: Some(session),
        })
        .await;
    assert_eq!(policy.sandbox.mode, "read-only");
    let calls = timed_turn(&mut s.client, session, "write").await;
    assert!(calls.iter().all(|(_, c)| !c.asked), "{calls:?}");
    let scratch = result(&calls, "r1");
    assert_eq!(scratch.status, ToolCallStatus::Completed, "{scratch:?}");
    let out = result(&calls, "r2");
    assert_eq!(out.status, ToolCallStatus::Failed, "{out:?}");
    assert!(
        out.result.contains("(read-only)") && out.result.contains("out.txt"),
        "{out:?}"
    );
    assert!(!s.root().join("out.txt").exists());
    s.finish().await;
}

/// A fork bomb is contained: a command may run `[agent]
/// command_max_processes` processes at once (a pids cgroup of its own, and
/// `RLIMIT_NPROC` in the sandbox), then forks fail; nothing outlives it.
#[tokio::test]
async fn a_fork_bomb_hits_the_process_limit() {
    for (config, marker) in [("", mark("39.91")), (SANDBOX_OFF, mark("39.92"))] {
        let marker = marker.as_str();
        let config = format!("{config}[agent]\ncommand_max_processes = 30\n");
        let mut s = Setup::new(
            vec![
                call(
                    "f1",
                    "execute_command",
                    json!({"command": format!("for i in $(seq 200); do sleep {marker} & done; wait")}),
                ),
                complete("f2", "done"),
            ],
            &config,
        )
        .await;
        let session = s.session;
        let calls = timed_turn(&mut s.client, session, "fork").await;
        let r = result(&calls, "f1");
        assert_eq!(r.status, ToolCallStatus::Failed, "{config}: {r:?}");
        assert!(r.result.contains("Cannot fork"), "{config}: {r:?}");
        assert!(
            processes_with(marker).is_empty(),
            "{config}: nothing outlives it"
        );
        s.finish().await;
    }
}

/// `.codelabignore`d files and directories are hidden inside the sandbox,
/// even from a command that does not name them (`grep -r`, `ls`); a
/// protected path that did not exist (`.git` before `git init`) cannot be
/// created by a sandboxed command: it is moved away and the model told.
#[tokio::test]
async fn the_sandbox_hides_ignored_paths_and_protected_paths_cannot_be_created() {
    let mut s = Setup::new(vec![], "").await;
    assert_sandbox_available(&mut s.client).await;
    let root = s.root();
    std::fs::write(root.join(".codelabignore"), "secret.env\nkeys/\n").unwrap();
    std::fs::write(root.join("secret.env"), "TOKEN=hunter2\n").unwrap();
    std::fs::create_dir_all(root.join("keys/deep")).unwrap();
    std::fs::write(root.join("keys/deep/id.pem"), "PEM-hunter2\n").unwrap();
    std::fs::write(root.join("notes.txt"), "public hunter2\n").unwrap();
    s.mock.push(vec![
        call(
            "h1",
            "execute_command",
            json!({"command": "grep -rs hunter2 . ; ls -A keys | wc -l"}),
        ),
        call(
            "h2",
            "execute_command",
            json!({"command": "for f in *; do cat \"$f\"; done"}),
        ),
        call(
            "h3",
            "execute_command",
            json!({"command": "git init -q && echo inited"}),
        ),
        call("h4", "execute_command", json!({"command": "ls -A"})),
        complete("h5", "done"),
    ]);
    let session = s.session;
    let calls = timed_turn(&mut s.client, session, "look").await;
    assert!(calls.iter().all(|(_, c)| !c.asked), "{calls:?}");
    let grep = result(&calls, "h1");
    assert_eq!(grep.status, ToolCallStatus::Completed, "{grep:?}");
    assert!(grep.result.contains("public hunter2"), "{grep:?}");
    assert!(
        !grep.result.contains("TOKEN") && !grep.result.contains("PEM"),
        "{grep:?}"
    );
    assert!(
        grep.result.lines().any(|l| l.trim() == "0"),
        "an ignored directory looks empty: {grep:?}"
    );
    let cat = result(&calls, "h2");
    assert_eq!(cat.status, ToolCallStatus::Failed, "{cat:?}");
    assert!(!cat.result.contains("TOKEN"), "{cat:?}");
    assert!(
        cat.result
            .contains("`secret.env` is excluded by .codelabignore, so the sandbox hides it"),
        "{cat:?}"
    );
    // The files themselves are untouched.
    assert_eq!(
        std::fs::read_to_string(root.join("secret.env")).unwrap(),
        "TOKEN=hunter2\n"
    );
    let init = result(&calls, "h3");
    assert_eq!(init.status, ToolCallStatus::Failed, "{init:?}");
    assert!(
        init.result.contains(&format!(
            "the command created `{}`, a protected path",
            root.join(".git").display()
        )),
        "{init:?}"
    );
    assert!(init.result.contains("sandbox: false"), "{init:?}");
    assert!(
        !root.join(".git").exists(),
        "no .git is left in the workspace"
    );
    let ls = result(&calls, "h4");
    assert!(!ls.result.contains(".git"), "{ls:?}");
    s.finish().await;
}

/// Where the kernel refuses the sandbox's namespaces (here a user namespace
/// whose `max_user_namespaces` is 0, as on a kernel with unprivileged user
/// namespaces turned off), the server says so at start-up and in `/health`,
/// `getPolicy` gives the reason, and every command runs unsandboxed and asks.
#[tokio::test]
async fn without_namespaces_commands_are_not_sandboxed_and_ask() {
    let mock = MockLlm::start(Script {
        replies: vec![
            call(
                "u1",
                "execute_command",
                json!({"command": "echo hi > made.txt && echo done"}),
            ),
            complete("u2", "done"),
        ],
    })
    .await;
    let data = support::data_dir();
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let server = ServerProcess::websocket_in(
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"",
            "sh",
        ],
        data.path(),
        &llm_env(&mock),
        &[],
    )
    .await;
    server
        .logs
        .wait_for(|t| {
            t.contains("commands cannot be sandboxed here")
                .then_some(())
        })
        .await;
    let (status, body) = support::http_get(server.addr.as_deref().unwrap(), "/health").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["sandbox"]["available"], false, "{health}");
    assert!(
        health["sandbox"]["reason"]
            .as_str()
            .unwrap()
            .contains("namespaces"),
        "{health}"
    );
    let mut c = server.ws_client().await;
    c.initialize(&[], Some(&file_uri(&root))).await;
    let policy = c.call_typed::<GetPolicy>(GetPolicyParams::default()).await;
    assert!(!policy.sandbox.available, "{:?}", policy.sandbox);
    let session = c
        .call_typed::<CreateSession>(CreateSessionParams {
            agent: Some("coder".into()),
            ..Default::default()
        })
        .await
        .id;
    let calls = timed_turn(&mut c, session, "make").await;
    let made = result(&calls, "u1");
    assert!(made.asked, "unsandboxed commands ask: {made:?}");
    assert_eq!(made.status, ToolCallStatus::Completed, "{made:?}");
    assert_eq!(
        std::fs::read_to_string(root.join("made.txt")).unwrap(),
        "hi\n"
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    c.finish().await;
}
