//! Proof under faults, crashes, load and misbehaving clients, with the real
//! binary, the mock LLM and real redb files.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // tests may unwrap; the load test reports its figures

mod support;

use std::time::{Duration, Instant};

use codelab_agent::protocol::types::StopReason;
use mock_llm::{Chunk, MockLlm, Reply, Script};
use serde_json::{Value, json};
use support::agent::{call, drive, llm_env, restart, text, when};
use support::{ServerProcess, file_uri};

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn every_model_fault_ends_the_turn_with_a_classified_error_and_the_next_turn_works() {
    let faults: Vec<(&str, Reply, &str)> = vec![
        (
            "rate",
            Reply {
                status: Some(429),
                retry_after: Some(0.1),
                ..Default::default()
            },
            "rate limited",
        ),
        (
            "server",
            Reply {
                status: Some(500),
                ..Default::default()
            },
            "HTTP 500",
        ),
        (
            "drop",
            Reply {
                chunks: vec![
                    Chunk {
                        text: Some("half".into()),
                        ..Default::default()
                    },
                    Chunk {
                        drop: true,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            "stream was cut",
        ),
        (
            "stall",
            Reply {
                chunks: vec![
                    Chunk {
                        text: Some("half".into()),
                        ..Default::default()
                    },
                    Chunk {
                        stall: true,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            "idle between chunks",
        ),
        (
            "malformed",
            Reply {
                chunks: vec![Chunk {
                    raw: Some("data: {nope\n\n".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
            "malformed event",
        ),
    ];
    let mut replies = Vec::new();
    for (name, fault, _) in &faults {
        replies.push(when(&format!("fault {name}"), fault.clone()));
        replies.push(when(
            &format!("after {name}"),
            text(&format!("recovered from {name}")),
        ));
    }
    let mock = MockLlm::start(Script { replies }).await;
    let data = support::data_dir();
    std::fs::write(
        data.path().join("codelab.toml"),
        "[llm.retry]\nmax_retries = 0\n[llm.timeouts]\nidle_secs = 0.5\nfirst_token_secs = 3\n[llm.breaker]\nfailure_threshold = 100\n",
    )
    .unwrap();
    let mut server = ServerProcess::stdio_env(data.path(), &llm_env(&mock));
    let mut c = server.stdio_client();
    c.initialize(&[], None).await;
    let s = c
        .call("codelab/createSession", json!({"agent": "ask"}))
        .await;
    for (name, _, expected) in &faults {
        let started = Instant::now();
        let r = c
            .call(
                "codelab/sendMessage",
                json!({"sessionId": s["id"], "text": format!("fault {name}")}),
            )
            .await;
        let log = drive(&mut c, r["turnId"].as_str().unwrap(), |_| None, |_| None).await;
        assert_eq!(log.stop(), StopReason::Error, "{name}");
        let err = log.completed.error.as_deref().unwrap();
        assert!(err.contains(expected), "{name}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
        let r = c
            .call(
                "codelab/sendMessage",
                json!({"sessionId": s["id"], "text": format!("after {name}")}),
            )
            .await;
        let log = drive(&mut c, r["turnId"].as_str().unwrap(), |_| None, |_| None).await;
        assert_eq!(log.stop(), StopReason::EndTurn, "the turn after {name}");
        assert_eq!(
            log.completed.result.as_deref(),
            Some(format!("recovered from {name}").as_str())
        );
    }
    // Partial text from cut streams was kept in the history.
    let hist = c
        .call("codelab/getHistory", json!({"sessionId": s["id"]}))
        .await;
    let partial = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant" && m["text"] == "half")
        .count();
    assert_eq!(partial, 2);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    c.finish().await;
}

#[tokio::test]
async fn sigkill_at_many_points_loses_nothing_acknowledged() {
    let mock = MockLlm::start(Script {
        replies: vec![
            when(
                "kill mid-stream",
                Reply {
                    chunks: vec![
                        Chunk {
                            text: Some("streaming...".into()),
                            ..Default::default()
                        },
                        Chunk {
                            stall: true,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
            ),
            when(
                "kill mid-command",
                call(
                    "k1",
                    "execute_command",
                    json!({"command": "echo running; sleep 30"}),
                ),
            ),
            when("still alive", text("alive")),
        ],
    })
    .await;
    let data = support::data_dir();
    // Commands ask (unsandboxed), so that a command can be killed after its approval.
    std::fs::write(
        data.path().join("codelab.toml"),
        support::agent::SANDBOX_OFF,
    )
    .unwrap();
    let ws = tempfile::tempdir().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());

    // 1. During a burst of durable writes (group commits): every acknowledged session survives.
    let (mut server, mut c) = restart(data.path(), &mock, &root).await;
    let ids: Vec<i64> = (0..300)
        .map(|i| {
            c.send_request(
                "codelab/createSession",
                Some(json!({"title": format!("burst {i}")})),
            )
        })
        .collect();
    let mut acked = Vec::new();
    for id in ids.iter().take(60) {
        let s = c.response(json!(id)).await.unwrap();
        acked.push(s["id"].as_str().unwrap().to_owned());
    }
    server.kill().await;
    c.abandon();
    let (mut server, mut c) = restart(data.path(), &mock, &root).await;
    for id in &acked {
        c.call("codelab/getSession", json!({"sessionId": id})).await;
    }
    let s = c
        .call("codelab/createSession", json!({"agent": "coder"}))
        .await;
    let sid = s["id"].as_str().unwrap().to_owned();

    // 2. Mid-stream.
    c.call(
        "codelab/sendMessage",
        json!({"sessionId": sid, "text": "kill mid-stream"}),
    )
    .await;
    c.expect_notification("codelab/token").await;
    server.kill().await;
    c.abandon();
    let (mut server, mut c) = restart(data.path(), &mock, &root).await;
    let hist = c
        .call("codelab/getHistory", json!({"sessionId": sid}))
        .await;
    assert_eq!(
        hist["messages"][0]["text"], "kill mid-stream",
        "the acknowledged user message survived"
    );

    // 3. Mid-command, after the approval.
    c.call("codelab/attachSession", json!({"sessionId": sid}))
        .await;
    c.call(
        "codelab/sendMessage",
        json!({"sessionId": sid, "text": "kill mid-command"}),
    )
    .await;
    let a = loop {
        let n = c.next_notification().await;
        if n["method"] == "codelab/approvalRequired" {
            break n["params"]["approval"].clone();
        }
    };
    c.call(
        "codelab/decideApproval",
        json!({"approvalId": a["id"], "decision": "approve"}),
    )
    .await;
    loop {
        let n = c.next_notification().await;
        if n["method"] == "codelab/commandOutput" {
            break;
        }
    }
    server.kill().await;
    c.abandon();

    // The store opens cleanly, everything acknowledged is there, and the session works on.
    let (_server, mut c) = restart(data.path(), &mock, &root).await;
    let hist = c
        .call("codelab/getHistory", json!({"sessionId": sid}))
        .await;
    let texts: Vec<&str> = hist["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"kill mid-stream") && texts.contains(&"kill mid-command"),
        "{texts:?}"
    );
    let pending = c.call("codelab/listPendingApprovals", json!({})).await;
    assert_eq!(pending["approvals"], json!([]));
    c.call("codelab/attachSession", json!({"sessionId": sid}))
        .await;
    let r = c
        .call(
            "codelab/sendMessage",
            json!({"sessionId": sid, "text": "still alive"}),
        )
        .await;
    let log = drive(&mut c, r["turnId"].as_str().unwrap(), |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert!(
        mock.violations().is_empty(),
        "the interrupted call got a result: {:?}",
        mock.violations()
    );
    c.finish().await;
}

#[tokio::test]
async fn two_hundred_clients_each_get_every_event_once_in_order() {
    const N: usize = 200;
    let ws = tempfile::tempdir().unwrap();
    let mut replies = Vec::new();
    for i in 0..N {
        std::fs::write(
            ws.path().join(format!("client-{i}.txt")),
            format!("marker-{i}-end\n"),
        )
        .unwrap();
        replies.push(when(
            &format!("client {i} please"),
            call(
                &format!("c{i}"),
                "read_file",
                json!({"path": format!("client-{i}.txt")}),
            ),
        ));
        replies.push(when(
            &format!("marker-{i}-end"),
            text(&format!("client {i} read its file, all done")),
        ));
    }
    replies.push(when("warm up", text("warm")));
    let mock = MockLlm::start(Script { replies }).await;
    let data = support::data_dir();
    let server = ServerProcess::websocket_env(data.path(), &llm_env(&mock)).await;
    let pid = server.child.id().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    // One turn first: the process loads what it loads once (the model's
    // tokenizer tables, about 50 MB for o200k_base), which the load below
    // must not be charged with.
    {
        let mut c = server.ws_client().await;
        c.initialize(&[], Some(&root)).await;
        let s = c
            .call("codelab/createSession", json!({"agent": "ask"}))
            .await;
        let r = c
            .call(
                "codelab/sendMessage",
                json!({"sessionId": s["id"], "text": "warm up"}),
            )
            .await;
        let log = drive(&mut c, r["turnId"].as_str().unwrap(), |_| None, |_| None).await;
        assert_eq!(log.stop(), StopReason::EndTurn);
        c.finish().await;
    }
    let rss_start = rss_kib(pid, "VmRSS:");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..N {
        let mut c = server.ws_client().await;
        let root = root.clone();
        tasks.push(tokio::spawn(async move {
            c.initialize(&[], Some(&root)).await;
            let s = c
                .call("codelab/createSession", json!({"agent": "coder"}))
                .await;
            let r = c
                .call(
                    "codelab/sendMessage",
                    json!({"sessionId": s["id"], "text": format!("client {i} please")}),
                )
                .await;
            let log = drive(&mut c, r["turnId"].as_str().unwrap(), |_| None, |_| None).await;
            assert_eq!(log.stop(), StopReason::EndTurn, "client {i}");
            assert_eq!(
                log.completed.result.as_deref(),
                Some(format!("client {i} read its file, all done").as_str())
            );
            log.assert_seq_increasing();
            let seqs: Vec<u64> = log
                .events
                .iter()
                .map(|e| e["params"]["seq"].as_u64().unwrap())
                .collect();
            let mut dedup = seqs.clone();
            dedup.dedup();
            assert_eq!(seqs, dedup, "no event twice");
            // Every persisted message was announced exactly once.
            let hist = c
                .call("codelab/getHistory", json!({"sessionId": s["id"]}))
                .await;
            assert_eq!(
                hist["messages"].as_array().unwrap().len(),
                log.of("codelab/message").len()
            );
            c.finish().await;
            log.events.len()
        }));
    }
    let mut events = 0;
    for t in tasks {
        events += t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let peak = rss_kib(pid, "VmHWM:");
    let rss_end = rss_kib(pid, "VmRSS:");
    eprintln!(
        "load: {N} clients, {N} turns with a tool call, {events} events in {:.2}s ({:.0} turns/s, {:.0} events/s); \
         RSS start {} MiB, peak {} MiB, after {} MiB",
        elapsed.as_secs_f64(),
        N as f64 / elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        rss_start / 1024,
        peak / 1024,
        rss_end / 1024
    );
    assert_eq!(
        mock.requests().len(),
        2 * N + 1,
        "the warm-up's and two per client"
    );
    assert!(mock.violations().is_empty());
    assert!(peak < 512 * 1024, "peak memory {peak} KiB stays bounded");
    assert!(
        rss_end < rss_start + 96 * 1024,
        "memory returns near its start: {rss_start} -> {rss_end} KiB"
    );
}

/// 80 commands in one reply, each printing 1.1 MB (1 MiB of it streamed live).
fn flood() -> Reply {
    let specs: Vec<(String, Value)> = (0..80)
        .map(|i| (format!("big{i}"), json!({"command": format!("head -c 1100000 /dev/zero | tr '\\0' 'x' | fold -w 100; echo {i}")})))
        .collect();
    let refs: Vec<(&str, &str, Value)> = specs
        .iter()
        .map(|(id, a)| (id.as_str(), "execute_command", a.clone()))
        .collect();
    support::agent::calls("", &refs)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_without_stalling_others() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mock = MockLlm::start(Script {
        replies: vec![flood(), text("done")],
    })
    .await;
    let data = support::data_dir();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("codelab.toml"),
        // The flood's ~90 MB of output fits no real window; this test is
        // about a client that stops reading, so the window is made huge.
        "[llm]\ncontext_window = 1000000000\n[[policy.rules]]\ntool = \"execute_command\"\naction = \"allow\"\n",
    )
    .unwrap();
    let server = ServerProcess::websocket_env(data.path(), &llm_env(&mock)).await;
    let pid = server.child.id().unwrap();
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let mut active = server.ws_client().await;
    active.initialize(&[], Some(&root)).await;
    let s = active
        .call("codelab/createSession", json!({"agent": "coder"}))
        .await;
    // The stalled client: attaches, then never reads again.
    let mut req = server.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("x-internal-auth", support::TOKEN.parse().unwrap());
    let (mut stalled, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    for (id, method, params) in [
        (1, "initialize", json!({"capabilities": {}})),
        (2, "codelab/attachSession", json!({"sessionId": s["id"]})),
    ] {
        stalled
            .send(Message::Text(
                json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
    }
    // Wait until the attach is answered, then stop reading.
    loop {
        let m = stalled.next().await.unwrap().unwrap();
        if m.to_text().unwrap_or("").contains("\"id\":2") {
            break;
        }
    }
    let r = active
        .call(
            "codelab/sendMessage",
            json!({"sessionId": s["id"], "text": "print a lot"}),
        )
        .await;
    let log = drive(
        &mut active,
        r["turnId"].as_str().unwrap(),
        |_| None,
        |_| None,
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed);
    let out: usize = log
        .of("codelab/commandOutput")
        .iter()
        .map(|p| p["text"].as_str().unwrap().len())
        .sum();
    assert!(
        out >= 80 * 1024 * 1024,
        "the active client got every streamed byte ({out})"
    );
    let done = log
        .of("codelab/toolCall")
        .iter()
        .filter(|p| p["status"] == "completed")
        .count();
    assert_eq!(done, 80);
    let peak = rss_kib(pid, "VmHWM:");
    eprintln!("misbehaving client: server peak RSS {} MiB", peak / 1024);
    assert!(peak < 768 * 1024, "memory stayed bounded: {peak} KiB");
    // The stalled client was disconnected: reading now ends with a close or an error.
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stalled.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(
        ended,
        Ok(true),
        "the server dropped the client that stopped reading"
    );
    assert!(server.logs.text().contains("stopped reading"));
    active.finish().await;
}
