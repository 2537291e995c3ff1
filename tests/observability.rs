//! Events, metrics, the audit log and housekeeping, through the real binary
//! and on real redb files.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Utc};
use codelab_agent::config::Config;
use codelab_agent::core::Core;
use codelab_agent::domain::events::RequestStarted;
use codelab_agent::domain::{AuditRecord, EventId, Session, SessionId};
use codelab_agent::events::{Event, EventBus, EventKind};
use codelab_agent::housekeeping::{Settings, run_once};
use codelab_agent::protocol::NoParams;
use codelab_agent::protocol::requests::{
    CreateSession, GetAuditLog, GetMetrics, GetSessionMetrics, ListSessionMetrics, SubscribeEvents,
    UnsubscribeEvents,
};
use codelab_agent::protocol::types::{
    CreateSessionParams, EventParams, GetAuditLogParams, ListSessionMetricsParams, SessionParams,
    StopReason, SubscribeEventsParams, TokenUsage, UnsubscribeEventsParams,
};
use codelab_agent::store::AuditQuery;
use mock_llm::{Chunk, Reply, UsageChunk};
use serde_json::json;
use support::agent::{approve, call, complete, drive, llm_env, send};
use support::{ServerProcess, file_uri};
use uuid::Uuid;

/// A map of counts, as the metrics keep them.
fn counts(pairs: &[(&str, u64)]) -> std::collections::BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn with_usage(mut r: Reply, input: u64, output: u64) -> Reply {
    r.chunks.push(Chunk {
        usage: Some(UsageChunk {
            input,
            output,
            cache_read: 0,
            cache_write: 0,
        }),
        ..Default::default()
    });
    r
}

#[tokio::test]
async fn events_metrics_prometheus_and_the_audit_log_agree_with_what_happened() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![
            with_usage(call("r1", "read_file", json!({"path": "a.txt"})), 100, 10),
            with_usage(complete("r2", "read it"), 200, 20),
            with_usage(
                call("w1", "write_file", json!({"path": "b.txt", "content": "b"})),
                300,
                30,
            ),
            with_usage(complete("w2", "wrote it"), 400, 40),
        ],
    })
    .await;
    let data = support::data_dir();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("a.txt"), "alpha\n").unwrap();
    let mut env = llm_env(&mock);
    env.push(("CODELAB_MODEL", "gpt-4o-mini".into()));
    let server = ServerProcess::websocket_env(data.path(), &env).await;
    let root = file_uri(&ws.path().canonicalize().unwrap());
    let mut dash = server.ws_client().await;
    dash.initialize(&[], None).await;
    let sub = dash
        .call_typed::<SubscribeEvents>(SubscribeEventsParams {
            categories: Some(
                ["agent", "session", "tool", "approval", "llm"]
                    .map(String::from)
                    .to_vec(),
            ),
        })
        .await;
    let mut c = server.ws_client().await;
    c.initialize(&[], Some(&root)).await;
    let s = c
        .call_typed::<CreateSession>(CreateSessionParams {
            agent: Some("coder".into()),
            ..Default::default()
        })
        .await;
    let sid = s.id;
    for text in ["read a", "write b"] {
        let turn = send(&mut c, sid, text).await;
        let log = drive(&mut c, turn, |_| Some(approve()), |_| None).await;
        assert_eq!(log.stop(), StopReason::EndTurn);
    }

    // The dashboard saw the events of both turns, in order.
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|k: &&String| *k == "agent.processingCompleted")
        .count()
        < 2
    {
        let n = dash.expect::<EventParams>().await;
        assert_eq!(n.subscription_id, sub.subscription_id);
        seen.push(format!("{}.{}", n.event.category, n.event.kind));
    }
    let non_llm: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|k| !k.starts_with("llm."))
        .collect();
    let turn_one = [
        "session.messageAdded",
        "agent.processingStarted",
        "session.messageAdded",
        "tool.executionRequested",
        "session.messageAdded",
        "tool.completed",
        "session.messageAdded",
        "tool.executionRequested",
        "session.messageAdded",
        "tool.completed",
        "agent.processingCompleted",
    ];
    assert_eq!(&non_llm[..1], ["session.created"]);
    assert_eq!(&non_llm[1..12], turn_one);
    assert!(
        non_llm[12..].contains(&"tool.approvalRequired")
            && non_llm[12..].contains(&"approval.decisionMade")
    );
    let llm: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|k| k.starts_with("llm."))
        .collect();
    assert_eq!(
        llm,
        ["llm.requestStarted", "llm.requestCompleted"].repeat(4)
    );

    // Metrics count exactly what happened.
    let m = c.call_typed::<GetMetrics>(NoParams {}).await;
    assert_eq!(m.sessions_created, 1);
    assert_eq!(m.turns, 2);
    assert_eq!(m.turns_by_stop_reason, counts(&[("end_turn", 2)]));
    assert_eq!(
        m.messages_by_role,
        counts(&[("user", 2), ("assistant", 4), ("tool", 4)])
    );
    assert_eq!(
        m.tool_calls,
        counts(&[
            ("read_file:completed", 1),
            ("write_file:completed", 1),
            ("attempt_completion:completed", 2)
        ])
    );
    assert_eq!(m.approvals, counts(&[("approve", 1)]));
    assert_eq!(m.llm_requests, 4);
    assert_eq!(m.llm_failures, counts(&[]));
    assert_eq!(
        m.tokens,
        TokenUsage {
            input_tokens: 1000,
            output_tokens: 100,
            cache_read_tokens: 0,
            cache_write_tokens: 0
        }
    );
    let expected_cost = (1000.0 * 0.15 + 100.0 * 0.6) / 1e6;
    assert!((m.cost_usd - expected_cost).abs() < 1e-12, "{m:?}");
    assert_eq!(m.time_to_first_token_ms.count, 4);
    assert_eq!(m.turn_duration_ms.count, 2);
    assert_eq!(m.tool_duration_ms.count, 4);
    let sm = c
        .call_typed::<GetSessionMetrics>(SessionParams { session_id: sid })
        .await;
    assert_eq!((sm.turns, sm.messages, sm.llm_requests), (2, 10, 4));
    assert_eq!(sm.current_agent.as_deref(), Some("coder"));
    assert_eq!(sm.tokens.output_tokens, 100);
    let list = c
        .call_typed::<ListSessionMetrics>(ListSessionMetricsParams::default())
        .await;
    assert_eq!(list.sessions.len(), 1);

    // /metrics is Prometheus text with the same figures.
    let (status, body) = http_get(server.addr.as_deref().unwrap(), "/metrics").await;
    assert_eq!(status, 200);
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no sample {name} {label:?} in\n{body}"));
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("unexpected type for {name}"),
        }
    };
    assert_eq!(value("codelab_turns_total", None), 2.0);
    assert_eq!(value("codelab_llm_requests_total", None), 4.0);
    assert_eq!(
        value("codelab_tool_calls_total", Some(("tool", "write_file"))),
        1.0
    );
    assert_eq!(
        value("codelab_tokens_total", Some(("kind", "input"))),
        1000.0
    );
    assert_eq!(value("codelab_messages_total", Some(("role", "tool"))), 4.0);
    assert!((value("codelab_cost_usd", None) - expected_cost).abs() < 1e-12);

    // The audit log has it all, newest first, paged.
    let session_page = |cursor: Option<String>| GetAuditLogParams {
        session_id: Some(sid),
        limit: Some(7),
        cursor,
        ..Default::default()
    };
    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let page = c
            .call_typed::<GetAuditLog>(session_page(cursor.take()))
            .await;
        entries.extend(page.entries);
        match page.next_cursor {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let times: Vec<String> = entries.iter().map(|e| e.id.to_string()).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first");
    let kinds = |cat: &str| entries.iter().filter(|e| e.category == cat).count();
    assert_eq!(kinds("llm"), 8);
    assert_eq!(
        kinds("approval"),
        1,
        "the decision, written with the approval's resolution"
    );
    let approval = entries.iter().find(|e| e.category == "approval").unwrap();
    assert_eq!(approval.payload["tool"], "write_file");
    assert!(
        approval.payload["by"]
            .as_str()
            .unwrap()
            .starts_with("client:")
    );
    let only_tool = c
        .call_typed::<GetAuditLog>(GetAuditLogParams {
            category: Some("tool".into()),
            kind: Some("completed".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(only_tool.entries.len(), 4);
    assert!(
        !serde_json::to_string(&entries)
            .unwrap()
            .contains("sk-test-key"),
        "no secret in the audit log"
    );
    dash.call_typed::<UnsubscribeEvents>(UnsubscribeEventsParams::default())
        .await;
    dash.finish().await;
    c.finish().await;
    drop(server);

    // After a restart the same log pages the same way.
    let server = ServerProcess::websocket_env(data.path(), &env).await;
    let mut c = server.ws_client().await;
    c.initialize(&[], None).await;
    let first = c.call_typed::<GetAuditLog>(session_page(None)).await;
    let first_ids: Vec<EventId> = first.entries.iter().map(|e| e.id).collect();
    let before_ids: Vec<EventId> = entries[..7].iter().map(|e| e.id).collect();
    assert_eq!(first_ids, before_ids);
    let second = c
        .call_typed::<GetAuditLog>(session_page(first.next_cursor.clone()))
        .await;
    assert_eq!(second.entries[0].id, entries[7].id);
    c.finish().await;
}

async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-Internal-Auth: {}\r\n\r\n", support::TOKEN).as_bytes(),
        )
        .await
        .unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
    // Chunked bodies: drop the chunk size lines.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    (status, body)
}

#[tokio::test]
async fn a_stalled_subscriber_never_blocks_publishing_nor_grows_without_bound() {
    let bus = EventBus::new();
    let stalled = bus.subscribe("stalled", 16, None);
    let mut healthy = bus.subscribe("healthy", 200_000, None);
    let published = 100_000u64;
    for i in 0..published {
        bus.publish(Event::new(EventKind::RequestStarted(RequestStarted {
            provider: "p".into(),
            model: "m".into(),
            attempt: i as u32,
        })));
    }
    assert_eq!(stalled.rx.len(), 16, "the stalled queue stays at its bound");
    assert_eq!(
        stalled.lagged.load(std::sync::atomic::Ordering::Relaxed),
        published - 16
    );
    let lag: std::collections::HashMap<String, u64> = bus.lag().into_iter().collect();
    assert_eq!(lag["stalled"], published - 16);
    assert_eq!(lag["healthy"], 0);
    let mut got = 0;
    while healthy.try_next().is_some() {
        got += 1;
    }
    assert_eq!(got, published);
}

fn session_at(updated: chrono::DateTime<Utc>) -> Session {
    Session {
        id: SessionId::new(),
        title: "t".into(),
        workspace_folder: None,
        agent: "coder".into(),
        created_at: updated,
        updated_at: updated,
        message_count: 0,
        last_seq: 0,
        parent: None,
        model: None,
    }
}

fn audit_at(at: chrono::DateTime<Utc>) -> AuditRecord {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    );
    AuditRecord {
        id: EventId(Uuid::new_v7(ts)),
        at,
        session_id: None,
        category: "tool".into(),
        kind: "completed".into(),
        payload: json!({}),
    }
}

#[tokio::test]
async fn cleanup_removes_exactly_what_is_past_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(Config::new(dir.path().to_path_buf())).unwrap());
    let now = Utc::now();
    let mut old = Vec::new();
    let mut young = Vec::new();
    for days in [45, 31, 30, 29, 1] {
        let s = core
            .runtime
            .store()
            .create_session(session_at(
                now - ChronoDuration::days(days) - ChronoDuration::minutes(1),
            ))
            .await
            .unwrap();
        if days >= 30 {
            old.push(s.id)
        } else {
            young.push(s.id)
        }
    }
    let mut audit_old = 0;
    let mut records = Vec::new();
    for days in [120, 100, 91, 89, 10] {
        records.push(audit_at(now - ChronoDuration::days(days)));
        if days > 90 {
            audit_old += 1;
        }
    }
    core.runtime.store().append_audit(records).await.unwrap();
    let settings = Settings {
        session_ttl_days: 30.0,
        audit_retention_days: 90.0,
        interval_secs: 3600,
        batch: 2,
    };
    let report = run_once(&core.runtime, now, &settings).await.unwrap();
    let mut deleted = report.sessions.clone();
    deleted.sort();
    old.sort();
    assert_eq!(deleted, old);
    assert_eq!(report.audit_entries, audit_old);
    for id in &young {
        assert!(core.runtime.store().get_session(*id).await.is_ok());
    }
    for id in &old {
        assert!(core.runtime.store().get_session(*id).await.is_err());
    }
    let audit = core
        .runtime
        .store()
        .audit_page(AuditQuery::default(), 100)
        .await
        .unwrap()
        .items;
    let cleanup = audit
        .iter()
        .find(|a| a.category == "housekeeping")
        .expect("the cleanup is audited");
    assert_eq!(cleanup.payload["auditEntriesDeleted"], audit_old);
    assert_eq!(
        cleanup.payload["sessionsDeleted"].as_array().unwrap().len(),
        old.len()
    );
    assert_eq!(
        audit.iter().filter(|a| a.category == "tool").count(),
        2,
        "the two young entries stay"
    );
    // A second pass finds nothing more.
    let again = run_once(&core.runtime, now, &settings).await.unwrap();
    assert!(again.sessions.is_empty() && again.audit_entries == 0);
}
