//! One daemon per user and data dir, through real processes: `--stdio`
//! forwarders started as editors start them, the daemon they start, its
//! `daemon status` / `daemon stop` commands, SIGKILL, and hostile or stale
//! state on disk. Every test stops its daemon (a guard does it also when
//! the test fails), and waits for conditions (the daemon's lock, a log line,
//! a process ending), never for time to pass.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use codelab_agent::daemon::{IDLE_ENV, VERSION_OVERRIDE_ENV};
use codelab_agent::domain::SessionId;
use codelab_agent::protocol::requests::{
    AttachSession, CreateSession, DecideApproval, ListPendingApprovals, ListSessions,
};
use codelab_agent::protocol::types::{
    ApprovalRequiredParams, AttachSessionParams, CreateSessionParams, DecideApprovalParams,
    ListPendingApprovalsParams, ListSessionsParams, StopReason, TurnCompletedParams,
};
use mock_llm::{MockLlm, Script};
use serde_json::json;
use support::agent::{approve, call, complete, drive, llm_env, send, text};
use support::{ServerProcess, daemon, data_dir, file_uri};

fn session(agent: &str, title: &str) -> CreateSessionParams {
    CreateSessionParams {
        agent: Some(agent.to_owned()),
        title: Some(title.to_owned()),
        ..Default::default()
    }
}

fn attach(session_id: SessionId) -> AttachSessionParams {
    AttachSessionParams {
        session_id,
        after_seq: None,
    }
}

/// The pid a forwarder says it connected to (its debug log).
fn connected_pid(log: &str) -> Option<u32> {
    log.lines().find_map(|l| {
        l.contains("connected to the daemon")
            .then(|| l.split("pid=").nth(1))
            .flatten()
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
    })
}

/// Runs `codelab-agent --stdio` (daemon mode) with stdin closed, as a
/// client that is refused or fails must end: exit code, stdout, stderr.
async fn run_client(data: &Path, env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let mut server = ServerProcess::daemon_client(data, env);
    let (stdin, mut stdout) = server.take_stdio();
    drop(stdin);
    let mut out = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out)
        .await
        .unwrap();
    let code = server.wait().await;
    let err = server.logs.wait_closed().await;
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

/// A mock whose first reply asks to write a file (an approval), then
/// completes.
async fn approval_mock(file: &str, done: &str) -> MockLlm {
    MockLlm::start(Script {
        replies: vec![
            call(
                "w1",
                "write_file",
                json!({"path": file, "content": "written after approval\n"}),
            ),
            complete("w2", done),
        ],
    })
    .await
}

#[tokio::test]
async fn two_editors_started_at_once_share_one_daemon_its_sessions_and_the_live_stream() {
    let mock = MockLlm::start(Script {
        replies: vec![text("Carried on in the second editor.")],
    })
    .await;
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    // The daemon gets the model settings only through the environment of
    // the client that starts it.
    let env = llm_env(&mock);
    let mut pa = ServerProcess::daemon_client(data.path(), &env);
    let mut pb = ServerProcess::daemon_client(data.path(), &env);
    let mut a = pa.stdio_client();
    let mut b = pb.stdio_client();
    tokio::join!(
        a.initialize(&[], Some(&root)),
        b.initialize(&[], Some(&root))
    );
    let status = daemon::status(data.path()).await.expect("a daemon runs");
    assert_eq!(
        daemon::pids(data.path()),
        vec![status.pid],
        "exactly one daemon process"
    );
    assert_eq!(status.connections, 2);
    for p in [&pa, &pb] {
        assert_eq!(p.logs.wait_for(connected_pid).await, status.pid);
    }
    let starters = [&pa, &pb]
        .iter()
        .filter(|p| p.logs.text().contains("started the daemon"))
        .count();
    assert_eq!(
        starters, 1,
        "one client started it, the other waited for it"
    );
    assert_ne!(status.pid, pa.child.id().unwrap());
    assert_ne!(status.pid, pb.child.id().unwrap());

    // A chat started in one editor is continued in the other, streamed to both.
    let s = a
        .call_typed::<CreateSession>(session("ask", "started in A"))
        .await;
    let listed = b
        .call_typed::<ListSessions>(ListSessionsParams::default())
        .await;
    assert_eq!(
        listed.sessions,
        vec![s.clone()],
        "the second editor sees it"
    );
    b.call_typed::<AttachSession>(attach(s.id)).await;
    a.call_typed::<AttachSession>(attach(s.id)).await;
    let turn = send(&mut b, s.id, "carry on here").await;
    let lb = drive(&mut b, turn, |_| None, |_| None).await;
    let la = drive(&mut a, turn, |_| None, |_| None).await;
    assert_eq!(lb.stop(), StopReason::EndTurn);
    assert_eq!(lb.text(), "Carried on in the second editor.");
    assert!(
        !lb.all::<codelab_agent::protocol::types::TokenParams>()
            .is_empty()
    );
    assert_eq!(
        la.events, lb.events,
        "both editors got the same live stream"
    );

    a.finish().await;
    b.finish().await;
    assert_eq!(pa.wait().await, Some(0));
    assert_eq!(pb.wait().await, Some(0));
    let after = daemon::status_when_idle(data.path()).await.unwrap();
    assert_eq!(
        (after.pid, after.connections),
        (status.pid, 0),
        "the daemon outlives its editors"
    );
    assert_eq!(daemon::stop(data.path()).await, Some(status.pid));
    assert!(daemon::pids(data.path()).is_empty());
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

#[tokio::test]
async fn a_daemon_killed_mid_turn_is_replaced_by_the_next_client_and_the_approval_resumes() {
    let mock = approval_mock("out.txt", "resumed and finished").await;
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let paths = daemon::paths(data.path());
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let env = llm_env(&mock);
    let mut first = ServerProcess::daemon_client(data.path(), &env);
    let mut c = first.stdio_client();
    c.initialize(&[], Some(&root)).await;
    let s = c
        .call_typed::<CreateSession>(session("coder", "crash"))
        .await;
    send(&mut c, s.id, "write out.txt").await;
    let approval = c.discard_until::<ApprovalRequiredParams>().await.approval;
    let old = daemon::status(data.path()).await.unwrap();
    assert_eq!(old.running_turns, 1);

    // SIGKILL the daemon itself (killing the forwarder would prove nothing).
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(old.pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    daemon::wait_exited(&paths).await;
    c.abandon();
    first.wait().await; // the forwarder ends with its connection
    assert!(
        paths.socket.exists(),
        "a killed daemon leaves its socket behind"
    );

    let mut second = ServerProcess::daemon_client(data.path(), &env);
    let mut c = second.stdio_client();
    c.initialize(&[], Some(&root)).await;
    let new = daemon::status(data.path()).await.unwrap();
    assert_ne!(new.pid, old.pid);
    assert_eq!(daemon::pids(data.path()), vec![new.pid]);
    assert!(second.logs.text().contains("started the daemon"));
    assert!(
        daemon::log(data.path()).contains("removed a stale socket"),
        "{}",
        daemon::log(data.path())
    );
    let pending = c
        .call_typed::<ListPendingApprovals>(ListPendingApprovalsParams::default())
        .await;
    assert_eq!(
        pending.approvals,
        vec![approval.clone()],
        "the approval survived"
    );
    c.call_typed::<AttachSession>(attach(s.id)).await;
    c.call_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: approval.id,
        ..approve()
    })
    .await;
    let done = c.discard_until::<TurnCompletedParams>().await;
    assert_eq!(done.stop_reason, StopReason::EndTurn);
    assert_eq!(done.result.as_deref(), Some("resumed and finished"));
    assert_eq!(
        std::fs::read_to_string(ws.path().join("out.txt")).unwrap(),
        "written after approval\n"
    );
    c.finish().await;
    assert_eq!(second.wait().await, Some(0));
    assert_eq!(daemon::stop(data.path()).await, Some(new.pid));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

#[tokio::test]
async fn a_stale_socket_with_no_daemon_behind_it_is_replaced() {
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let paths = daemon::paths(data.path());
    std::fs::create_dir(&paths.dir).unwrap();
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&paths.socket).unwrap());
    assert_eq!(
        std::os::unix::net::UnixStream::connect(&paths.socket)
            .unwrap_err()
            .kind(),
        std::io::ErrorKind::ConnectionRefused,
        "a socket file nobody listens on"
    );
    let mut server = ServerProcess::daemon_client(data.path(), &[]);
    let mut c = server.stdio_client();
    c.initialize(&[], None).await;
    let status = daemon::status(data.path()).await.unwrap();
    assert!(daemon::log(data.path()).contains("removed a stale socket"));
    c.finish().await;
    assert_eq!(server.wait().await, Some(0));
    // An editor that just closes its end: the forwarder ends cleanly.
    let (code, stdout, stderr) = run_client(data.path(), &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(connected_pid(&stderr), Some(status.pid));
    assert_eq!(daemon::stop(data.path()).await, Some(status.pid));
    assert!(
        !paths.socket.exists(),
        "a daemon that stops removes its socket"
    );
}

#[tokio::test]
async fn a_socket_directory_open_to_other_users_is_refused() {
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let paths = daemon::paths(data.path());
    std::fs::create_dir(&paths.dir).unwrap();
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, stdout, stderr) = run_client(data.path(), &[]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "stdout stays protocol-only: {stdout:?}");
    assert!(
        stderr.contains(&format!("refusing to use {}", paths.dir.display()))
            && stderr.contains("its mode is 0777, open to other users; it must be 0700"),
        "{stderr}"
    );
    assert!(daemon::pids(data.path()).is_empty(), "no daemon started");
    assert!(!paths.socket.exists());
    let out = daemon::cli(data.path(), &["status"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("its mode is 0777"));
}

#[tokio::test]
async fn a_socket_directory_or_socket_of_another_user_is_refused() {
    if nix::unistd::geteuid().as_raw() != 0 {
        // Giving a file to another user takes root; CI runs as root.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: giving a directory to another user needs root");
        }
        return;
    }
    let nobody = 65534;
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let paths = daemon::paths(data.path());
    std::fs::create_dir(&paths.dir).unwrap();
    std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&paths.dir, Some(nobody), Some(nobody)).unwrap();
    let (code, stdout, stderr) = run_client(data.path(), &[]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!("refusing to use {}", paths.dir.display()))
            && stderr.contains("it is owned by uid 65534, not by you (uid 0)"),
        "{stderr}"
    );
    // The directory is ours again, but a socket in it is not.
    std::os::unix::fs::chown(&paths.dir, Some(0), Some(0)).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&paths.socket).unwrap());
    std::os::unix::fs::chown(&paths.socket, Some(nobody), Some(nobody)).unwrap();
    let (code, _, stderr) = run_client(data.path(), &[]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("refusing to use {}", paths.socket.display()))
            && stderr.contains("it is owned by uid 65534"),
        "{stderr}"
    );
    assert!(paths.socket.exists(), "a foreign socket is not removed");
    assert!(daemon::pids(data.path()).is_empty());
}

#[tokio::test]
async fn a_newer_client_replaces_an_idle_older_daemon_and_refuses_a_busy_one() {
    let mock = approval_mock("busy.txt", "never reached").await;
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let env = llm_env(&mock);
    let mut old_env = env.clone();
    old_env.push((VERSION_OVERRIDE_ENV, "0.0.1".to_owned()));
    let ours = env!("CARGO_PKG_VERSION");

    // An idle older daemon is replaced.
    let mut p = ServerProcess::daemon_client(data.path(), &old_env);
    let mut c = p.stdio_client();
    c.initialize(&[], None).await;
    let old = daemon::status(data.path()).await.unwrap();
    assert_eq!(old.version, "0.0.1");
    c.finish().await;
    assert_eq!(p.wait().await, Some(0));
    let mut p = ServerProcess::daemon_client(data.path(), &env);
    let mut c = p.stdio_client();
    c.initialize(&[], None).await;
    let new = daemon::status(data.path()).await.unwrap();
    assert_eq!(new.version, ours);
    assert_ne!(new.pid, old.pid);
    daemon::wait_pid_gone(old.pid).await;
    assert_eq!(daemon::pids(data.path()), vec![new.pid]);
    assert!(p.logs.text().contains("replacing an older idle daemon"));
    c.finish().await;
    assert_eq!(p.wait().await, Some(0));
    daemon::stop(data.path()).await;

    // A busy one is not: an editor is connected...
    let mut po = ServerProcess::daemon_client(data.path(), &old_env);
    let mut co = po.stdio_client();
    co.initialize(&[], Some(&root)).await;
    let old = daemon::status(data.path()).await.unwrap();
    let (code, stdout, stderr) = run_client(data.path(), &env).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "a codelab-agent daemon of version 0.0.1 (pid {}) is running",
            old.pid
        )) && stderr.contains(&format!("older than this client ({ours})"))
            && stderr.contains("busy (1 editor connected)"),
        "{stderr}"
    );
    assert_eq!(daemon::pids(data.path()), vec![old.pid]);
    // ...or a turn runs with no editor connected.
    let s = co
        .call_typed::<CreateSession>(session("coder", "busy"))
        .await;
    send(&mut co, s.id, "write busy.txt").await;
    co.discard_until::<ApprovalRequiredParams>().await;
    co.finish().await;
    assert_eq!(po.wait().await, Some(0));
    let (code, _, stderr) = run_client(data.path(), &env).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("busy (1 running turn)"), "{stderr}");
    let still = daemon::status(data.path()).await.unwrap();
    assert_eq!(
        (still.pid, still.running_turns, still.connections),
        (old.pid, 1, 0)
    );
    assert_eq!(daemon::stop(data.path()).await, Some(old.pid));
}

#[tokio::test]
async fn a_client_killed_mid_message_leaves_the_daemon_serving_the_others_with_nothing_lost() {
    let mock = MockLlm::start(Script {
        replies: vec![text("Still here.")],
    })
    .await;
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let paths = daemon::paths(data.path());
    let env = llm_env(&mock);
    let mut pa = ServerProcess::daemon_client(data.path(), &env);
    let mut a = pa.stdio_client();
    a.initialize(&[], None).await;
    let mut pb = ServerProcess::daemon_client(data.path(), &env);
    let mut b = pb.stdio_client();
    b.initialize(&[], None).await;
    let accepted = a
        .call_typed::<CreateSession>(session("ask", "accepted before the kill"))
        .await;
    // Half a message, then the editor's process dies.
    a.send_bytes(
        b"Content-Length: 120\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"codelab/createSession\",\"params\":{\"ti",
    );
    a.abandon();
    pa.kill().await;
    // The daemon notices: one connection is left.
    let deadline = tokio::time::Instant::now() + support::TIMEOUT;
    while daemon::status(data.path()).await.unwrap().connections != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection was never dropped"
        );
    }
    // Nothing accepted was lost, and the half message did nothing.
    let listed = b
        .call_typed::<ListSessions>(ListSessionsParams::default())
        .await;
    assert_eq!(listed.sessions, vec![accepted]);
    // Clients that break the handshake do not disturb it either.
    {
        use std::io::{BufRead, Write};
        let mut gone = std::os::unix::net::UnixStream::connect(&paths.socket).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(gone.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("{\"codelab\":\"daemon\",\"handshake\":1,"),
            "{line}"
        );
        gone.write_all(b"{\"request\":\"ls").unwrap();
        drop(gone);
        let mut garbage = std::os::unix::net::UnixStream::connect(&paths.socket).unwrap();
        let mut reader = std::io::BufReader::new(garbage.try_clone().unwrap());
        reader.read_line(&mut line).unwrap();
        garbage.write_all(b"GET / HTTP/1.1\n").unwrap();
        let mut reply = String::new();
        reader.read_line(&mut reply).unwrap();
        assert!(
            reply.starts_with("{\"ok\":false,\"refusal\":\"badRequest\""),
            "{reply}"
        );
        drop(std::os::unix::net::UnixStream::connect(&paths.socket).unwrap());
    }
    let s = b.call_typed::<CreateSession>(session("ask", "after")).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    let turn = send(&mut b, s.id, "are you there?").await;
    let log = drive(&mut b, turn, |_| None, |_| None).await;
    assert_eq!(log.text(), "Still here.");
    b.finish().await;
    assert_eq!(pb.wait().await, Some(0));
    daemon::stop(data.path()).await.unwrap();
}

#[tokio::test]
async fn a_daemon_that_cannot_start_is_reported_by_the_client() {
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let config = data.path().join("codelab.toml");
    std::fs::write(
        &config,
        "[agent]\nmax_iterations = 10\n\n# fuzzier\ndiff_threshold = 0.2\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run_client(data.path(), &[]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("the codelab-agent daemon could not start")
            && stderr.contains(":5: agent.diff_threshold: must be between 0.5 and 1.0"),
        "{stderr}"
    );
    assert!(daemon::pids(data.path()).is_empty());
    // A standalone server holds the store: the daemon cannot have it.
    std::fs::remove_file(&config).unwrap();
    let mut standalone = ServerProcess::stdio(data.path());
    let mut c = standalone.stdio_client();
    c.initialize(&[], None).await;
    let (code, stdout, stderr) = run_client(data.path(), &[]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("already open in another codelab-agent process"),
        "{stderr}"
    );
    assert!(daemon::pids(data.path()).is_empty());
    c.finish().await;
    assert_eq!(standalone.wait().await, Some(0));
}

#[tokio::test]
async fn an_idle_daemon_exits_on_its_own_but_not_while_a_turn_runs() {
    let mock = approval_mock("idle.txt", "finished at last").await;
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let paths = daemon::paths(data.path());
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let mut env = llm_env(&mock);
    env.push((IDLE_ENV, "1".to_owned()));
    let mut pa = ServerProcess::daemon_client(data.path(), &env);
    let mut a = pa.stdio_client();
    a.initialize(&[], Some(&root)).await;
    let s = a
        .call_typed::<CreateSession>(session("coder", "idle"))
        .await;
    send(&mut a, s.id, "write idle.txt").await;
    let approval = a.discard_until::<ApprovalRequiredParams>().await.approval;
    let status = daemon::status(data.path()).await.unwrap();
    assert_eq!(status.idle_exit_secs, 1);
    a.finish().await;
    assert_eq!(pa.wait().await, Some(0));
    // No editor for longer than the idle time, but the turn holds it.
    daemon::wait_for_log(data.path(), "work is running: staying until it ends").await;
    let held = daemon::status(data.path()).await.unwrap();
    assert_eq!(
        (held.pid, held.connections, held.running_turns),
        (status.pid, 0, 1)
    );
    let mut pb = ServerProcess::daemon_client(data.path(), &env);
    let mut b = pb.stdio_client();
    b.initialize(&[], Some(&root)).await;
    b.call_typed::<AttachSession>(attach(s.id)).await;
    b.call_typed::<DecideApproval>(DecideApprovalParams {
        approval_id: approval.id,
        ..approve()
    })
    .await;
    let done = b.discard_until::<TurnCompletedParams>().await;
    assert_eq!(done.result.as_deref(), Some("finished at last"));
    b.finish().await;
    assert_eq!(pb.wait().await, Some(0));
    // Now idle: it exits by itself, and cleans up its socket.
    daemon::wait_exited(&paths).await;
    daemon::wait_pid_gone(status.pid).await;
    assert!(daemon::log(data.path()).contains("daemon stopped reason=idle for"));
    assert!(!paths.socket.exists());
    assert!(daemon::status(data.path()).await.is_none());
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

#[tokio::test]
async fn status_and_stop_report_and_stop_the_daemon_in_the_runtime_directory() {
    let mock = approval_mock("s.txt", "unused").await;
    let data = data_dir();
    let runtime = tempfile::tempdir().unwrap(); // 0700, like $XDG_RUNTIME_DIR
    let xdg = [("XDG_RUNTIME_DIR", runtime.path().display().to_string())];
    let _guard = daemon::Guard::with_env(data.path(), &xdg);
    let mut env = llm_env(&mock);
    env.extend(xdg.iter().cloned());
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let mut pa = ServerProcess::daemon_client(data.path(), &env);
    let mut a = pa.stdio_client();
    a.initialize(&[], Some(&root)).await;
    let s = a
        .call_typed::<CreateSession>(session("coder", "status"))
        .await;
    send(&mut a, s.id, "write s.txt").await;
    a.discard_until::<ApprovalRequiredParams>().await;

    let status = daemon::status_env(data.path(), &xdg).await.unwrap();
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.data_dir, data.path().canonicalize().unwrap());
    let dir = status.socket.parent().unwrap();
    assert_eq!(dir.parent().unwrap(), runtime.path());
    let name = dir.file_name().unwrap().to_str().unwrap();
    assert!(
        name.len() == "codelab-agent-".len() + 16 && name.starts_with("codelab-agent-"),
        "{name}"
    );
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(status.socket.file_name().unwrap(), "daemon.sock");
    assert_eq!(
        status.log,
        data.path().canonicalize().unwrap().join("daemon.log")
    );
    assert_eq!((status.connections, status.running_turns), (1, 1));
    assert_eq!(status.idle_exit_secs, 30);
    assert!(
        !data.path().join("run").exists(),
        "nothing of the daemon's in the data dir but its log"
    );
    let human = daemon::cli(data.path(), &["status"], &xdg).await;
    let text = String::from_utf8_lossy(&human.stdout);
    for line in [
        format!("pid            {}", status.pid),
        format!("socket         {}", status.socket.display()),
        "connections    1".to_owned(),
        "running turns  1".to_owned(),
        "uptime         0h ".to_owned(),
    ] {
        assert!(text.contains(&line), "{line:?} in:\n{text}");
    }
    // A second daemon for the same data dir is refused.
    let out = daemon::cli(data.path(), &["run"], &xdg).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "a codelab-agent daemon (pid {}) is already running for {}",
            status.pid,
            status.data_dir.display()
        )),
        "{stderr}"
    );
    // A running turn makes a plain stop refuse...
    let out = daemon::cli(data.path(), &["stop"], &xdg).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is busy: 1 running turn") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(daemon::pids(data.path()), vec![status.pid]);
    // ...and --force stop it, waiting until it has exited.
    assert_eq!(daemon::stop_env(data.path(), &xdg).await, Some(status.pid));
    a.abandon();
    pa.wait().await;
    assert!(daemon::status_env(data.path(), &xdg).await.is_none());
    assert!(!status.socket.exists());
    let again = daemon::cli(data.path(), &["stop"], &xdg).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).contains("no daemon is running"));
}

#[tokio::test]
async fn serve_and_standalone_on_a_daemon_s_data_dir_are_refused_naming_the_daemon() {
    let data = data_dir();
    let _guard = daemon::Guard::new(data.path());
    let mut p = ServerProcess::daemon_client(data.path(), &[]);
    let mut c = p.stdio_client();
    c.initialize(&[], None).await;
    let status = daemon::status(data.path()).await.unwrap();
    for args in [
        &["--standalone"][..],
        &["serve", "--listen", "127.0.0.1:0"][..],
    ] {
        let mut cmd = tokio::process::Command::new(support::binary());
        cmd.arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .env("CODELAB_AUTH_TOKEN", support::TOKEN)
            .stdin(std::process::Stdio::null());
        let out = cmd.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
        assert!(
            stderr.contains("already open in another codelab-agent process")
                && stderr.contains(&format!(
                    "the codelab-agent daemon (pid {}) serving this data directory has it open",
                    status.pid
                )),
            "{args:?}: {stderr}"
        );
    }
    c.finish().await;
    assert_eq!(p.wait().await, Some(0));
    assert_eq!(daemon::stop(data.path()).await, Some(status.pid));
}
