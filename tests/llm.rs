//! The LLM client against the real mock server on loopback: both formats,
//! every fault, the breaker, cancellation, events and secrets.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

use std::sync::Arc;
use std::time::{Duration, Instant};

use codelab_agent::events::{Category, EventBus};
use codelab_agent::llm::client::{CallContext, LlmClient};
use codelab_agent::llm::config::{LlmSettings, ProviderSettings, Target};
use codelab_agent::llm::{
    ChatMessage, ChatRequest, FinishReason, LlmError, LlmEvent, ProviderKind, ToolCallRequest,
    ToolSpec, Usage,
};
use mock_llm::{Chunk, ErrorChunk, MockLlm, Reply, Script, ToolCallChunk, UsageChunk};
use serde_json::{Value, json};

const KEY: &str = "sk-test-SECRET-0123456789";

fn settings(kind: ProviderKind, base: &str) -> LlmSettings {
    let mut s = LlmSettings::default();
    s.providers.insert(
        "mock".into(),
        ProviderSettings {
            kind: Some(kind),
            base_url: Some(base.into()),
            api_key: Some(KEY.into()),
            model: Some("gpt-4o".into()),
            headers: [("x-extra".to_owned(), "yes".to_owned())].into(),
            ..Default::default()
        },
    );
    s.timeouts.first_token_secs = Some(5.0);
    s.timeouts.idle_secs = Some(5.0);
    s.retry.min_delay_ms = Some(10);
    s.retry.max_delay_ms = Some(50);
    s
}

fn target(kind: ProviderKind, mock: &MockLlm, tweak: impl FnOnce(&mut LlmSettings)) -> Target {
    let mut s = settings(kind, &mock.openai_base());
    tweak(&mut s);
    s.resolve(None).unwrap()
}

fn request(messages: Vec<ChatMessage>) -> ChatRequest {
    ChatRequest {
        model: "gpt-4o".into(),
        system: "You are a test.".into(),
        messages: messages.into(),
        tools: vec![ToolSpec {
            name: "read_file".into(),
            description: "Reads a file".into(),
            parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
        }],
        max_tokens: None,
        reasoning: Default::default(),
        thinking_budget: None,
    }
}

fn user(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::User { text: text.into() }]
}

fn client() -> (LlmClient, Arc<EventBus>) {
    let bus = Arc::new(EventBus::new());
    (
        LlmClient::new(Duration::from_secs(2), Arc::clone(&bus)).unwrap(),
        bus,
    )
}

async fn collect(
    client: &LlmClient,
    target: &Target,
    req: ChatRequest,
) -> (Vec<LlmEvent>, Option<LlmError>) {
    let mut stream = client.stream(target, req, CallContext::default());
    let mut events = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(e) => events.push(e),
            Err(e) => error = Some(e),
        }
    }
    (events, error)
}

fn text_of(events: &[LlmEvent]) -> String {
    events
        .iter()
        .filter_map(|e| {
            if let LlmEvent::TextDelta(t) = e {
                Some(t.as_str())
            } else {
                None
            }
        })
        .collect()
}

fn script(replies: Vec<Reply>) -> Script {
    Script { replies }
}

fn text_reply(text: &str) -> Reply {
    Reply {
        chunks: vec![Chunk {
            text: Some(text.into()),
            split: Some(3),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn chunk_text(t: &str) -> Chunk {
    Chunk {
        text: Some(t.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn openai_text_with_crlf_comments_unknown_events_and_split_utf8() {
    for (crlf, byte_chunk) in [
        (false, None),
        (true, Some(1)),
        (true, Some(3)),
        (false, Some(5)),
    ] {
        let text = "Grüße 🦀 from the 世界 — done.";
        let mock = MockLlm::start(script(vec![Reply {
            chunks: vec![
                Chunk {
                    comment: Some("keep-alive".into()),
                    ..Default::default()
                },
                Chunk {
                    text: Some(text.into()),
                    split: Some(2),
                    ..Default::default()
                },
                Chunk {
                    unknown_event: true,
                    ..Default::default()
                },
                Chunk {
                    usage: Some(UsageChunk {
                        input: 30,
                        output: 12,
                        cache_read: 10,
                        cache_write: 0,
                    }),
                    ..Default::default()
                },
            ],
            crlf,
            byte_chunk,
            ..Default::default()
        }]))
        .await;
        let (client, _) = client();
        let t = target(ProviderKind::Openai, &mock, |_| {});
        let (events, err) = collect(&client, &t, request(user("hi"))).await;
        assert!(err.is_none(), "{err:?} (crlf {crlf}, chunk {byte_chunk:?})");
        assert_eq!(text_of(&events), text, "crlf {crlf}, chunk {byte_chunk:?}");
        assert!(events.contains(&LlmEvent::Usage(Usage {
            input_tokens: 30,
            output_tokens: 12,
            cache_read_tokens: 10,
            cache_write_tokens: 0
        })));
        assert_eq!(
            events.last(),
            Some(&LlmEvent::Finish(FinishReason::EndTurn))
        );

        let reqs = mock.requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(r.header("x-extra"), Some("yes"));
        assert_eq!(r.body["stream"], true);
        assert_eq!(r.body["stream_options"]["include_usage"], true);
        assert_eq!(
            r.body["messages"][0],
            json!({"role": "system", "content": "You are a test."})
        );
        assert_eq!(r.body["tools"][0]["function"]["name"], "read_file");
        assert_eq!(
            r.body["tools"][0]["function"]["parameters"]["required"],
            json!(["path"])
        );
        assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    }
}

fn two_tool_calls(split_header: bool) -> Reply {
    Reply {
        chunks: vec![
            chunk_text("Reading two files."),
            Chunk {
                tool_call: Some(ToolCallChunk {
                    id: "call_1".into(),
                    name: "read_file".into(),
                    arguments: json!({"path": "src/main.rs", "note": "ünï"}),
                    split: Some(2),
                    split_header,
                }),
                ..Default::default()
            },
            Chunk {
                tool_call: Some(ToolCallChunk {
                    id: "call_2".into(),
                    name: "read_file".into(),
                    arguments: json!({"path": "Cargo.toml"}),
                    split: Some(1),
                    split_header,
                }),
                ..Default::default()
            },
        ],
        byte_chunk: Some(7),
        ..Default::default()
    }
}

fn finished_calls(events: &[LlmEvent]) -> Vec<(String, String, Value)> {
    events
        .iter()
        .filter_map(|e| match e {
            LlmEvent::ToolCallFinished {
                id,
                name,
                arguments,
            } => Some((id.clone(), name.clone(), arguments.clone().unwrap())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn tool_calls_in_both_formats_and_history_pairing() {
    for kind in [ProviderKind::Openai, ProviderKind::Anthropic] {
        let mock =
            MockLlm::start(script(vec![two_tool_calls(true), text_reply("Both read.")])).await;
        let (client, _) = client();
        let t = target(kind, &mock, |_| {});
        let (events, err) = collect(&client, &t, request(user("read them"))).await;
        assert!(err.is_none(), "{kind:?}: {err:?}");
        assert_eq!(text_of(&events), "Reading two files.");
        let calls = finished_calls(&events);
        assert_eq!(
            calls,
            vec![
                (
                    "call_1".into(),
                    "read_file".into(),
                    json!({"path": "src/main.rs", "note": "ünï"})
                ),
                (
                    "call_2".into(),
                    "read_file".into(),
                    json!({"path": "Cargo.toml"})
                ),
            ],
            "{kind:?}"
        );
        assert_eq!(
            events.last(),
            Some(&LlmEvent::Finish(FinishReason::ToolUse))
        );
        let deltas = events
            .iter()
            .filter(|e| matches!(e, LlmEvent::ToolCallDelta { .. }))
            .count();
        assert!(deltas > 10, "arguments arrived in many deltas ({deltas})");

        // The next request carries both results; the mock checks the pairing.
        let mut history = user("read them");
        history.push(ChatMessage::Assistant {
            text: "Reading two files.".into(),
            tool_calls: calls
                .iter()
                .map(|(id, name, args)| ToolCallRequest {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: args.clone(),
                })
                .collect(),
            reasoning: vec![],
        });
        for (id, name, _) in &calls {
            history.push(ChatMessage::Tool {
                call_id: id.clone(),
                name: name.clone(),
                content: "contents".into(),
                is_error: false,
            });
        }
        let (events, err) = collect(&client, &t, request(history)).await;
        assert!(err.is_none(), "{kind:?}: {err:?}");
        assert_eq!(text_of(&events), "Both read.");
        assert!(
            mock.violations().is_empty(),
            "{kind:?}: {:?}",
            mock.violations()
        );
        let second = &mock.requests()[1];
        match kind {
            ProviderKind::Openai => {
                assert_eq!(second.body["messages"][3]["tool_call_id"], "call_1")
            }
            ProviderKind::Anthropic => {
                assert_eq!(second.path, "/v1/messages");
                assert_eq!(second.header("x-api-key"), Some(KEY));
                assert_eq!(second.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(second.body["system"][0]["text"], "You are a test.");
                assert_eq!(
                    second.body["messages"][2]["content"][1]["tool_use_id"],
                    "call_2"
                );
            }
        }

        // A history with a call and no result is caught by the mock's check.
        let mut broken = user("x");
        broken.push(ChatMessage::Assistant {
            text: String::new(),
            tool_calls: vec![ToolCallRequest {
                id: "lost".into(),
                name: "read_file".into(),
                arguments: json!({}),
            }],
            reasoning: vec![],
        });
        let (_, err) = collect(&client, &t, request(broken)).await;
        assert!(
            matches!(err, Some(LlmError::Http { status: 400, .. })),
            "{err:?}"
        );
        assert_eq!(mock.violations().len(), 1);
    }
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let mock = MockLlm::start(script(vec![
        Reply {
            status: Some(429),
            retry_after: Some(0.3),
            body: Some(r#"{"error":{"message":"slow down"}}"#.into()),
            ..Default::default()
        },
        text_reply("ok after waiting"),
    ]))
    .await;
    let (client, bus) = client();
    let mut sub = bus.subscribe("test", 100, Some(vec![Category::Llm]));
    let t = target(ProviderKind::Openai, &mock, |_| {});
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text_of(&events), "ok after waiting");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].received_at().unwrap() - reqs[0].received_at().unwrap();
    assert!(
        gap >= Duration::from_millis(300),
        "Retry-After honoured ({gap:?})"
    );
    let kinds: Vec<String> = std::iter::from_fn(|| sub.try_next())
        .map(|e| e.kind.name().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "requestStarted",
            "requestFailed",
            "requestStarted",
            "requestCompleted"
        ]
    );
}

#[tokio::test]
async fn server_errors_retry_then_fail_with_the_classified_reason() {
    let mock = MockLlm::start(script(vec![
        Reply {
            status: Some(500),
            ..Default::default()
        },
        Reply {
            status: Some(502),
            ..Default::default()
        },
        Reply {
            status: Some(503),
            ..Default::default()
        },
        text_reply("never reached"),
    ]))
    .await;
    let (client, bus) = client();
    let mut sub = bus.subscribe("test", 100, Some(vec![Category::Llm]));
    let t = target(ProviderKind::Openai, &mock, |s| {
        s.retry.max_retries = Some(2)
    });
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert!(events.is_empty());
    assert!(
        matches!(err, Some(LlmError::Server { status: 503, .. })),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 3);
    let failed: Vec<Value> = std::iter::from_fn(|| sub.try_next())
        .filter(|e| e.kind.name() == "requestFailed")
        .map(|e| e.kind.payload())
        .collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|p| p["reason"] == "server_error"));
    assert_eq!(
        failed
            .iter()
            .map(|p| p["retrying"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [true, true, false]
    );
}

#[tokio::test]
async fn a_drop_before_output_is_retried_after_output_is_not() {
    let mock = MockLlm::start(script(vec![
        Reply {
            chunks: vec![Chunk {
                drop: true,
                ..Default::default()
            }],
            ..Default::default()
        },
        text_reply("second time lucky"),
    ]))
    .await;
    let (client, _) = client();
    let t = target(ProviderKind::Anthropic, &mock, |_| {});
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text_of(&events), "second time lucky");
    assert_eq!(mock.requests().len(), 2);

    let mock = MockLlm::start(script(vec![
        Reply {
            chunks: vec![
                chunk_text("partial answ"),
                Chunk {
                    drop: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
        text_reply("must not be requested"),
    ]))
    .await;
    let t = target(ProviderKind::Openai, &mock, |_| {});
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert_eq!(text_of(&events), "partial answ", "partial text kept");
    assert_eq!(
        err.as_ref().map(LlmError::reason),
        Some("stream_dropped"),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 1, "no retry after output");
}

#[tokio::test]
async fn stalls_hit_the_idle_timeout_or_the_first_token_deadline() {
    // Stall after output: the idle timeout, no retry.
    let mock = MockLlm::start(script(vec![Reply {
        chunks: vec![
            chunk_text("so far"),
            Chunk {
                stall: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    }]))
    .await;
    let (client, _) = client();
    let t = target(ProviderKind::Openai, &mock, |s| {
        s.timeouts.idle_secs = Some(0.3)
    });
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert_eq!(text_of(&events), "so far");
    assert_eq!(err.as_ref().map(LlmError::reason), Some("timeout_idle"));
    assert_eq!(mock.requests().len(), 1);

    // Stall before any token (keep-alives only): the first-token deadline, retried once.
    let stall = || Reply {
        chunks: vec![
            Chunk {
                comment: Some("ping".into()),
                ..Default::default()
            },
            Chunk {
                wait_ms: Some(100),
                comment: Some("ping".into()),
                ..Default::default()
            },
            Chunk {
                stall: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let mock = MockLlm::start(script(vec![stall(), stall()])).await;
    let t = target(ProviderKind::Anthropic, &mock, |s| {
        s.timeouts.first_token_secs = Some(0.4);
        s.timeouts.idle_secs = Some(10.0);
        s.retry.max_retries = Some(1);
    });
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert!(events.is_empty());
    assert_eq!(
        err.as_ref().map(LlmError::reason),
        Some("timeout_first_token"),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn malformed_and_error_events() {
    let mock = MockLlm::start(script(vec![Reply {
        chunks: vec![
            chunk_text("before "),
            Chunk {
                raw: Some("data: {\"choices\": [oops\n\n".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }]))
    .await;
    let (client, _) = client();
    let t = target(ProviderKind::Openai, &mock, |_| {});
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert_eq!(text_of(&events), "before ");
    assert_eq!(
        err.as_ref().map(LlmError::reason),
        Some("malformed"),
        "{err:?}"
    );

    // An overloaded error event before output is retried; after output it ends the request.
    let overloaded = || Chunk {
        error: Some(ErrorChunk {
            kind: "overloaded_error".into(),
            message: "Overloaded".into(),
        }),
        ..Default::default()
    };
    let mock = MockLlm::start(script(vec![
        Reply {
            chunks: vec![overloaded()],
            ..Default::default()
        },
        Reply {
            chunks: vec![chunk_text("half"), overloaded()],
            ..Default::default()
        },
    ]))
    .await;
    let t = target(ProviderKind::Anthropic, &mock, |_| {});
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert_eq!(text_of(&events), "half");
    match err {
        Some(LlmError::Provider { kind, message }) => assert_eq!(
            (kind.as_str(), message.as_str()),
            ("overloaded_error", "Overloaded")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_and_recovers_after_a_probe() {
    let mock = MockLlm::start(script(vec![
        Reply {
            status: Some(500),
            ..Default::default()
        },
        Reply {
            status: Some(500),
            ..Default::default()
        },
        text_reply("recovered"),
    ]))
    .await;
    let (client, _) = client();
    let t = target(ProviderKind::Openai, &mock, |s| {
        s.retry.max_retries = Some(0);
        s.breaker.failure_threshold = Some(2);
        s.breaker.cooldown_secs = Some(0.3);
    });
    for _ in 0..2 {
        let (_, err) = collect(&client, &t, request(user("hi"))).await;
        assert_eq!(err.as_ref().map(LlmError::reason), Some("server_error"));
    }
    let state = |c: &LlmClient| c.breaker_states()[0].1;
    assert_eq!(
        state(&client),
        codelab_agent::llm::breaker::BreakerState::Open
    );
    let (_, err) = collect(&client, &t, request(user("hi"))).await;
    assert_eq!(
        err.as_ref().map(LlmError::reason),
        Some("circuit_open"),
        "{err:?}"
    );
    assert!(err.unwrap().to_string().contains("`mock`"));
    assert_eq!(mock.requests().len(), 2, "fails fast without a request");
    tokio::time::sleep(Duration::from_millis(350)).await; // the cooldown under test
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text_of(&events), "recovered");
    assert_eq!(
        state(&client),
        codelab_agent::llm::breaker::BreakerState::Closed
    );
}

#[tokio::test]
async fn dropping_the_stream_disconnects_within_100ms() {
    for kind in [ProviderKind::Openai, ProviderKind::Anthropic] {
        let mock = MockLlm::start(script(vec![Reply {
            chunks: vec![
                chunk_text("first words"),
                Chunk {
                    stall: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }]))
        .await;
        let (client, bus) = client();
        let mut sub = bus.subscribe("test", 100, Some(vec![Category::Llm]));
        let t = target(kind, &mock, |_| {});
        let mut stream = client.stream(&t, request(user("hi")), CallContext::default());
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first, LlmEvent::TextDelta("first words".into()));
        let cancelled_at = Instant::now();
        drop(stream);
        let disconnected_at = tokio::time::timeout(Duration::from_secs(5), mock.disconnected(0))
            .await
            .expect("server sees the disconnect");
        let lag = disconnected_at.saturating_duration_since(cancelled_at);
        assert!(
            lag < Duration::from_millis(100),
            "{kind:?}: disconnect observed {lag:?} after cancel"
        );
        // The request ends as cancelled, not as a failure of the provider.
        let failed = loop {
            let e = tokio::time::timeout(Duration::from_secs(5), sub.next())
                .await
                .unwrap()
                .unwrap();
            if e.kind.name() == "requestFailed" {
                break e;
            }
        };
        assert_eq!(failed.kind.payload()["reason"], "cancelled");
    }
}

#[tokio::test]
async fn http_errors_are_not_retried_and_never_leak_the_key() {
    let mock = MockLlm::start(script(vec![Reply {
        status: Some(401),
        body: Some(format!(
            r#"{{"error":{{"message":"Incorrect API key provided: {KEY}"}}}}"#
        )),
        ..Default::default()
    }]))
    .await;
    let (client, bus) = client();
    let mut sub = bus.subscribe("test", 100, None);
    let t = target(ProviderKind::Openai, &mock, |_| {});
    let (_, err) = collect(&client, &t, request(user("hi"))).await;
    let err = err.unwrap();
    assert_eq!(err.reason(), "http_error");
    let text = err.to_string();
    assert!(
        text.contains("Incorrect API key provided: [REDACTED]"),
        "{text}"
    );
    assert!(!text.contains(KEY));
    assert_eq!(mock.requests().len(), 1);
    while let Some(e) = sub.try_next() {
        assert!(
            !e.kind.payload().to_string().contains(KEY),
            "secret in event {e:?}"
        );
    }
    assert!(!format!("{t:?}").contains(KEY), "secret in Debug output");
}

#[tokio::test]
async fn connection_refused_is_retried_then_classified() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = settings(ProviderKind::Openai, &format!("http://127.0.0.1:{port}/v1"));
    s.retry.max_retries = Some(1);
    let t = s.resolve(None).unwrap();
    let (client, bus) = client();
    let mut sub = bus.subscribe("test", 100, None);
    let (_, err) = collect(&client, &t, request(user("hi"))).await;
    assert_eq!(
        err.as_ref().map(LlmError::reason),
        Some("connect"),
        "{err:?}"
    );
    let started = std::iter::from_fn(|| sub.try_next())
        .filter(|e| e.kind.name() == "requestStarted")
        .count();
    assert_eq!(started, 2);
}

#[tokio::test]
async fn completed_events_carry_usage_duration_and_cost() {
    let mock = MockLlm::start(script(vec![Reply {
        chunks: vec![
            chunk_text("priced"),
            Chunk {
                usage: Some(UsageChunk {
                    input: 1000,
                    output: 500,
                    cache_read: 2000,
                    cache_write: 100,
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    }]))
    .await;
    let (client, bus) = client();
    let mut sub = bus.subscribe("test", 100, None);
    // claude-sonnet-4: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million.
    let t = target(ProviderKind::Anthropic, &mock, |s| {
        s.model = Some("claude-sonnet-4-20250514".into())
    });
    let ctx = CallContext {
        session_id: Some(codelab_agent::domain::SessionId::new()),
        turn_id: Some(codelab_agent::domain::TurnId::new()),
    };
    let mut stream = client.stream(&t, request(user("hi")), ctx);
    while stream.next().await.is_some() {}
    let completed = loop {
        let e = sub.next().await.unwrap();
        if e.kind.name() == "requestCompleted" {
            break e;
        }
    };
    assert_eq!(completed.session_id, ctx.session_id);
    assert_eq!(completed.turn_id, ctx.turn_id);
    let p = &completed.kind.payload();
    assert_eq!(
        p["usage"],
        json!({"inputTokens": 1000, "outputTokens": 500, "cacheReadTokens": 2000, "cacheWriteTokens": 100})
    );
    let expected = (1000.0 * 3.0 + 500.0 * 15.0 + 2000.0 * 0.3 + 100.0 * 3.75) / 1e6;
    assert!(
        (p["costUsd"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{p}"
    );
    assert!(p["durationMs"].is_u64());
    assert!(p["timeToFirstTokenMs"].is_u64());
    assert_eq!(p["model"], "claude-sonnet-4-20250514");
}

#[tokio::test]
async fn the_standalone_mock_process_serves_a_script_file() {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("mock-llm");
    assert!(
        bin.exists(),
        "build it first: cargo build -p mock-llm ({} missing)",
        bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join("script.json");
    std::fs::write(
        &script_path,
        serde_json::to_string(&script(vec![text_reply("from a file")])).unwrap(),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(&bin)
        .arg("--script")
        .arg(&script_path)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().unwrap()));
    let line = lines.next_line().await.unwrap().unwrap();
    let url = line.strip_prefix("listening on ").unwrap().to_owned();
    let mut s = settings(ProviderKind::Openai, &format!("{url}/v1"));
    s.retry.max_retries = Some(0);
    let t = s.resolve(None).unwrap();
    let (client, _) = client();
    let (events, err) = collect(&client, &t, request(user("hi"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text_of(&events), "from a file");
    child.kill().await.unwrap();
}
