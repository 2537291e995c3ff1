//! Long sessions against a small context window: compaction (elided tool
//! outputs, summaries), the provider's overflow errors, the usage
//! notifications and `codelab/compactSession`, with the real binary, a real
//! store and real files. `mock-llm` counts every request with its own
//! tokenizer (o200k_base), never the server's code.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // the 300-turn test reports its figures

mod support;

use codelab_agent::protocol::requests::{CompactSession, GetHistory};
use codelab_agent::protocol::types::{
    ContextCompactedParams, ContextUsageParams, GetHistoryParams, MessageAddedParams, Role,
    SessionParams, StopReason,
};
use mock_llm::{Format, Reply, overflow_body};
use serde_json::{Value, json};
use support::agent::{Harness, call, text, when};

/// The window the mock enforces and the server is told.
const WINDOW: u64 = 8000;
/// What a summary request ends with (the server's instruction).
const SUMMARY_ASK: &str = "Summarise the conversation above";

fn config() -> String {
    format!("[llm]\ncontext_window = {WINDOW}\n")
}

/// A file of about 4 KB of prose, starting with a marker unique to `i`.
fn file_text(i: usize) -> String {
    let mut s = format!("FILE-{i:03}-BEGIN notes for step {i}\n");
    let words = [
        "the",
        "parser",
        "reads",
        "each",
        "header",
        "line",
        "and",
        "splits",
        "it",
        "on",
        "the",
        "first",
        "colon",
        "before",
        "trimming",
        "both",
        "sides",
        "of",
        "whitespace",
    ];
    let mut n = i;
    while s.len() < 4000 {
        for _ in 0..12 {
            n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345) % 2_147_483_648;
            s.push_str(words[n % words.len()]);
            s.push(' ');
        }
        s.push('\n');
    }
    s
}

fn summary_reply(n: usize) -> Reply {
    when(
        SUMMARY_ASK,
        text(&format!(
            "- Task: the user asks, step by step, to read notes/fileNNN.txt and report it.\n- Done: steps up to the latest, summary {n}.\n- Next: the next step the user asks for."
        )),
    )
}

/// The whole history, page by page.
async fn all_history(h: &mut Harness) -> Vec<codelab_agent::protocol::types::Message> {
    let mut all: Vec<codelab_agent::protocol::types::Message> = Vec::new();
    loop {
        let page = h
            .client
            .call_typed::<GetHistory>(GetHistoryParams {
                session_id: h.session,
                after_seq: all.last().map(|m| m.seq),
                limit: Some(1000),
            })
            .await;
        let done = page.messages.is_empty();
        all.extend(page.messages);
        if done {
            return all;
        }
    }
}

/// The last message's text of a recorded request (OpenAI format).
fn last_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_turn_session_stays_within_a_small_window() {
    const TURNS: usize = 300;
    let mut h = Harness::with_caps(
        Vec::new(),
        "ask",
        false,
        &config(),
        Some(json!({"contextUsage": true})),
    )
    .await;
    h.mock.set_context_window(Some(WINDOW));
    std::fs::create_dir(h.root().join("notes")).unwrap();
    for i in 1..=TURNS {
        std::fs::write(h.root().join(format!("notes/file{i:03}.txt")), file_text(i)).unwrap();
    }
    // Summaries first in the queue: they match only a summary request.
    h.mock.push((0..TURNS).map(summary_reply));
    let mut compactions: Vec<ContextCompactedParams> = Vec::new();
    let mut usages: Vec<ContextUsageParams> = Vec::new();
    for i in 1..=TURNS {
        let tag = format!("[task {i:03}]");
        h.mock.push([
            when(
                &tag,
                call(
                    &format!("call_{i}"),
                    "read_file",
                    json!({"path": format!("notes/file{i:03}.txt")}),
                ),
            ),
            when(
                &format!("FILE-{i:03}-BEGIN"),
                text(&format!("Step {i} read.")),
            ),
        ]);
        let log = h
            .turn(&format!(
                "{tag} read notes/file{i:03}.txt and tell me what it says"
            ))
            .await;
        assert_eq!(
            log.stop(),
            StopReason::EndTurn,
            "turn {i}: {:?}",
            log.completed.error
        );
        assert_eq!(
            log.completed.result.as_deref(),
            Some(&*format!("Step {i} read."))
        );
        compactions.extend(log.all::<ContextCompactedParams>());
        let u = log.all::<ContextUsageParams>();
        assert_eq!(
            u.len(),
            2,
            "turn {i}: one usage notification per model response"
        );
        usages.extend(u);
        let violations = h.mock.violations();
        assert!(violations.is_empty(), "turn {i}: {violations:?}");
    }

    let requests = h.mock.requests();
    let mut summaries = 0;
    let mut max_tokens = 0;
    for (n, r) in requests.iter().enumerate() {
        let tokens = r.prompt_tokens.unwrap();
        max_tokens = max_tokens.max(tokens);
        assert!(tokens <= WINDOW, "request {n}: {tokens} tokens");
        let last = last_text(&r.body);
        if last.contains(SUMMARY_ASK) {
            summaries += 1;
            assert!(
                r.body["tools"].is_null(),
                "a summary request offers no tools"
            );
            continue;
        }
        // The latest turn is verbatim: its user message, and the output of
        // its call when the request answers it.
        let messages = r.body["messages"].as_array().unwrap();
        let user = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user" && m["content"].as_str().unwrap_or("").contains("[task "))
            .unwrap_or_else(|| panic!("request {n} has no user message: {messages:?}"));
        let utext = user["content"].as_str().unwrap();
        let i: usize = utext[6..9].parse().unwrap();
        assert_eq!(
            utext,
            format!("[task {i:03}] read notes/file{i:03}.txt and tell me what it says")
        );
        if messages.last().unwrap()["role"] == "tool" {
            assert!(
                last.contains(&format!("FILE-{i:03}-BEGIN")) && !last.contains("elided"),
                "request {n}: the latest tool output is elided: {last:.200}"
            );
            let body = file_text(i);
            let lines_kept = body.lines().filter(|l| last.contains(l)).count();
            assert_eq!(
                lines_kept,
                body.lines().count(),
                "request {n}: the output is whole"
            );
        }
    }
    assert_eq!(requests.len(), TURNS * 2 + summaries);
    // What the same session costs without compaction: each request would
    // carry every message so far (counted with the mock's tokenizer).
    let fixed = {
        let first = &requests[0].body;
        let system_and_tools = json!({"messages": [first["messages"][0]], "tools": first["tools"]});
        mock_llm::count_tokens(Format::Openai, &system_and_tools)
    };
    let msg = |text: &str| {
        mock_llm::count_tokens(
            Format::Openai,
            &json!({"messages": [{"role": "user", "content": text}]}),
        )
    };
    let (mut history_tokens, mut without) = (0u64, 0u64);
    for i in 1..=TURNS {
        history_tokens += msg(&format!(
            "[task {i:03}] read notes/file{i:03}.txt and tell me what it says"
        ));
        without += fixed + history_tokens;
        history_tokens += msg(&format!("read_file notes/file{i:03}.txt call_{i}"));
        history_tokens += msg(&file_text(i));
        without += fixed + history_tokens;
        history_tokens += msg(&format!("Step {i} read."));
    }
    let with: u64 = requests.iter().filter_map(|r| r.prompt_tokens).sum();
    // Printed for BENCHMARKS.md (`--no-capture`).
    eprintln!(
        "{TURNS} turns: {with} prompt tokens sent with compaction ({summaries} summaries, largest request {max_tokens}), about {without} without"
    );
    assert!(
        with < without / 10,
        "compaction sends far less: {with} vs {without}"
    );
    assert!(summaries >= 2, "summaries: {summaries}");
    assert!(
        compactions.iter().any(|c| c.summarized) && compactions.iter().any(|c| !c.summarized),
        "both kinds of compaction happen: {compactions:?}"
    );
    assert_eq!(
        compactions.iter().filter(|c| c.summarized).count(),
        summaries,
        "one notification per summary"
    );
    for c in &compactions {
        assert!(
            c.compaction.tokens_after < c.compaction.tokens_before,
            "{c:?}"
        );
    }
    assert!(usages.iter().all(|u| u.context_window == WINDOW));
    assert!(
        usages
            .iter()
            .all(|u| u.used_tokens > 0 && u.used_tokens <= WINDOW),
        "used tokens are the provider's counts"
    );
    assert!(
        usages
            .windows(2)
            .all(|w| w[1].session_cost_usd >= w[0].session_cost_usd)
    );
    assert!(
        max_tokens > WINDOW / 2,
        "the window was really used: {max_tokens}"
    );

    // The store keeps everything: every user message, every tool output.
    let history = all_history(&mut h).await;
    let live: Vec<_> = history.iter().filter(|m| m.compaction.is_none()).collect();
    assert_eq!(live.len(), TURNS * 4, "user, call, result, answer per turn");
    assert_eq!(
        history.len() - live.len(),
        compactions.len(),
        "one marker per compaction"
    );
    let outputs = live
        .iter()
        .filter(|m| m.role == Role::Tool && m.text.contains("-BEGIN"))
        .count();
    assert_eq!(outputs, TURNS, "no tool output left the history");
    h.finish().await;
}

/// The overflow error of each OpenAI-compatible server: the turn compacts,
/// retries once and completes.
#[tokio::test]
async fn a_provider_overflow_compacts_and_retries_once() {
    let openai = overflow_body(Format::Openai, 9000, 8192);
    let llama = json!({"error": {"code": 400, "message": "request (14167 tokens) exceeds the available context size (2048 tokens), try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 14167, "n_ctx": 2048}}).to_string();
    let vllm = json!({"object": "error", "message": "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (1800 in the messages, 300 in the completion). Please reduce the length of the messages or completion.", "type": "BadRequestError", "param": null, "code": 400}).to_string();
    for (name, body) in [("openai", openai), ("llama.cpp", llama), ("vllm", vllm)] {
        let mut h = Harness::new(vec![when("first", text("first done"))], "ask", false).await;
        let log = h.turn("the first question").await;
        assert_eq!(log.stop(), StopReason::EndTurn);
        h.mock.push([
            Reply {
                matches: Some("second".into()),
                status: Some(400),
                body: Some(body.clone()),
                ..Default::default()
            },
            summary_reply(1),
            when("second", text("second done")),
        ]);
        let log = h.turn("the second question").await;
        assert_eq!(
            log.stop(),
            StopReason::EndTurn,
            "{name}: {:?}",
            log.completed.error
        );
        assert_eq!(log.completed.result.as_deref(), Some("second done"));
        let compacted = log.all::<ContextCompactedParams>();
        assert_eq!(compacted.len(), 1, "{name}: one compaction");
        assert!(compacted[0].summarized, "{name}");
        assert!(
            log.all::<ContextUsageParams>().is_empty(),
            "only a client that asked gets the usage"
        );
        let requests = h.mock.requests();
        assert_eq!(requests.len(), 4, "{name}: first, refused, summary, retry");
        assert!(last_text(&requests[2].body).contains(SUMMARY_ASK));
        let retry = &requests[3].body["messages"];
        assert!(
            !retry.to_string().contains("first done")
                && retry
                    .to_string()
                    .contains("Summary of the earlier conversation"),
            "{name}: the retry carries the summary instead of turn 1: {retry}"
        );
        assert_eq!(h.mock.remaining(), 0);
        h.finish().await;
    }
}

/// A second refusal after the compaction ends the turn with an error: one
/// compaction and one retry, never a loop.
#[tokio::test]
async fn a_second_overflow_stops_the_turn_with_an_error() {
    let body = overflow_body(Format::Openai, 9000, 8192);
    let refuse = || Reply {
        matches: Some("second".into()),
        status: Some(400),
        body: Some(body.clone()),
        ..Default::default()
    };
    let mut h = Harness::new(vec![when("first", text("first done"))], "ask", false).await;
    h.turn("the first question").await;
    h.mock.push([refuse(), summary_reply(1), refuse()]);
    let log = h.turn("the second question").await;
    assert_eq!(log.stop(), StopReason::Error);
    let error = log.completed.error.clone().unwrap();
    assert!(error.contains("maximum context length"), "{error}");
    assert_eq!(
        h.mock.requests().len(),
        4,
        "first, refused, summary, refused"
    );
    assert_eq!(h.mock.remaining(), 0);
    h.finish().await;
}

/// A single message larger than the window stops the turn with a clear
/// error before anything is sent.
#[tokio::test]
async fn a_message_larger_than_the_window_is_a_clear_error() {
    let mut h =
        Harness::with_config(Vec::new(), "ask", false, "[llm]\ncontext_window = 1000\n").await;
    let log = h.turn(&"word ".repeat(2000)).await;
    assert_eq!(log.stop(), StopReason::Error);
    let error = log.completed.error.clone().unwrap();
    assert!(error.contains("does not fit the model's window"), "{error}");
    assert!(h.mock.requests().is_empty(), "nothing was sent");
    h.finish().await;
}

/// `codelab/compactSession` summarises the turns before the latest one; the
/// history still holds every message.
#[tokio::test]
async fn compact_session_on_request() {
    let mut h = Harness::new(
        vec![
            when("one", text("answer one")),
            when("two", text("answer two")),
            when("three", text("answer three")),
        ],
        "ask",
        false,
    )
    .await;
    for t in ["question one", "question two", "question three"] {
        assert_eq!(h.turn(t).await.stop(), StopReason::EndTurn);
    }
    h.mock.push([summary_reply(1)]);
    let result = h
        .client
        .call_typed::<CompactSession>(SessionParams {
            session_id: h.session,
        })
        .await;
    let c = result.compaction.expect("a compaction");
    let added = h.client.expect::<MessageAddedParams>().await;
    assert_eq!(added.message.compaction, Some(c), "the marker is announced");
    let note = h.client.expect::<ContextCompactedParams>().await;
    assert_eq!(note.compaction, c);
    assert!(note.summarized && note.turn_id.is_none());
    let history = all_history(&mut h).await;
    assert_eq!(history.len(), 7, "six messages and the marker");
    let marker = history.last().unwrap();
    assert_eq!(marker.compaction, Some(c));
    assert!(marker.text.contains("summary 1"), "{}", marker.text);
    // Everything but the latest turn (question three) is summarised.
    assert_eq!(c.summarized_through, history[3].seq);
    // The next request carries the summary and the latest turn only.
    h.mock.push([when("four", text("answer four"))]);
    h.turn("question four").await;
    let last = h.mock.requests().pop().unwrap().body;
    let sent = last["messages"].to_string();
    assert!(
        !sent.contains("question one") && !sent.contains("answer two"),
        "{sent}"
    );
    assert!(
        sent.contains("question three") && sent.contains("summary 1"),
        "{sent}"
    );
    h.finish().await;
}

/// Removes every `cache_control` marker, so that two requests can be
/// compared by what they carry.
fn strip_cache_control(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| *k != "cache_control")
                .map(|(k, v)| (k.clone(), strip_cache_control(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_cache_control).collect()),
        other => other.clone(),
    }
}

/// Where the `cache_control` markers of a request are (JSON pointers).
fn breakpoints(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if k == "cache_control" {
                    out.push(at.to_owned());
                } else {
                    breakpoints(v, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                breakpoints(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A turn of three requests (two reads, then the answer), with cache usage.
fn cached_turn() -> Vec<Reply> {
    let usage = |input, read, write| mock_llm::Chunk {
        usage: Some(mock_llm::UsageChunk {
            input,
            output: 20,
            cache_read: read,
            cache_write: write,
        }),
        ..Default::default()
    };
    let mut r1 = call("c1", "read_file", json!({"path": "one.txt"}));
    r1.chunks.push(usage(900, 0, 800));
    let mut r2 = call("c2", "read_file", json!({"path": "two.txt"}));
    r2.chunks.push(usage(100, 800, 150));
    let mut r3 = text("Both files read.");
    r3.chunks.push(usage(50, 950, 60));
    vec![
        when("read both", r1),
        when("first file", r2),
        when("second file", r3),
    ]
}

/// Anthropic: at most four breakpoints, the tools and system prompt marked,
/// and what each request marks cacheable is carried unchanged by the next
/// request of the turn. Cache tokens reach the turn, the session's metrics
/// and the cost.
#[tokio::test]
async fn anthropic_requests_cache_a_stable_prefix_and_count_cache_tokens() {
    let mock_config = |mock: &mock_llm::MockLlm| {
        format!(
            "[llm]\nprovider = \"anthropic\"\n[llm.providers.anthropic]\nbase_url = \"{}\"\napi_key = \"sk-ant-test\"\n",
            mock.anthropic_base()
        )
    };
    // The mock's address is needed in the config: start it first.
    let probe = mock_llm::MockLlm::start(mock_llm::Script::default()).await;
    let mut h = Harness::with_caps(
        Vec::new(),
        "ask",
        false,
        &mock_config(&probe),
        Some(json!({"contextUsage": true})),
    )
    .await;
    probe.push(cached_turn());
    std::fs::write(h.root().join("one.txt"), "the first file\n").unwrap();
    std::fs::write(h.root().join("two.txt"), "the second file\n").unwrap();
    let log = h.turn("read both files").await;
    assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed.error);
    let requests = probe.requests();
    assert_eq!(requests.len(), 3);
    assert!(h.mock.requests().is_empty(), "everything went to Anthropic");
    let mut marked: Vec<Vec<String>> = Vec::new();
    for r in &requests {
        assert_eq!(r.path, "/v1/messages");
        let mut at = Vec::new();
        breakpoints(&r.body, "", &mut at);
        assert!(at.len() <= 4, "{at:?}");
        assert!(at.iter().any(|p| p.starts_with("/system/0")), "{at:?}");
        assert!(at.iter().any(|p| p.starts_with("/tools/")), "{at:?}");
        let last = r.body["messages"].as_array().unwrap().len() - 1;
        assert!(
            at.iter()
                .any(|p| p.starts_with(&format!("/messages/{last}/"))),
            "{at:?}"
        );
        marked.push(at);
    }
    for w in requests.windows(2) {
        let (a, b) = (
            strip_cache_control(&w[0].body),
            strip_cache_control(&w[1].body),
        );
        assert_eq!(a["tools"], b["tools"], "the tools are byte-stable");
        assert_eq!(a["system"], b["system"], "the system prompt is byte-stable");
        let n = a["messages"].as_array().unwrap().len();
        assert_eq!(
            a["messages"].as_array().unwrap()[..n],
            b["messages"].as_array().unwrap()[..n],
            "everything up to the last breakpoint is carried unchanged"
        );
        assert_eq!(
            serde_json::to_string(&a["messages"])
                .unwrap()
                .trim_end_matches(']'),
            &serde_json::to_string(&b["messages"]).unwrap()
                [..serde_json::to_string(&a["messages"]).unwrap().len() - 1],
            "and byte for byte"
        );
    }
    let usage = log.completed.usage;
    assert_eq!(usage.cache_read_tokens, 800 + 950);
    assert_eq!(usage.cache_write_tokens, 800 + 150 + 60);
    let per_request: Vec<_> = log
        .all::<ContextUsageParams>()
        .iter()
        .map(|u| (u.usage.cache_read_tokens, u.usage.cache_write_tokens))
        .collect();
    assert_eq!(per_request, [(0, 800), (800, 150), (950, 60)]);
    assert!(log.completed.cost_usd > 0.0);
    let metrics = h
        .client
        .call_typed::<codelab_agent::protocol::requests::GetSessionMetrics>(SessionParams {
            session_id: h.session,
        })
        .await;
    assert_eq!(metrics.tokens.cache_read_tokens, 800 + 950);
    assert_eq!(metrics.tokens.cache_write_tokens, 1010);
    assert!((metrics.cost_usd - log.completed.cost_usd).abs() < 1e-9);
    drop(probe);
    h.finish().await;
}

/// OpenAI-compatible: the system prompt, the tools and every message before
/// the newest are the same bytes in each request of a turn.
#[tokio::test]
async fn openai_requests_keep_a_byte_stable_prefix() {
    let mut h = Harness::new(cached_turn(), "ask", false).await;
    std::fs::write(h.root().join("one.txt"), "the first file\n").unwrap();
    std::fs::write(h.root().join("two.txt"), "the second file\n").unwrap();
    let log = h.turn("read both files").await;
    assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed.error);
    assert_eq!(log.completed.usage.cache_read_tokens, 800 + 950);
    let requests = h.mock.requests();
    assert_eq!(requests.len(), 3);
    for w in requests.windows(2) {
        assert_eq!(
            w[0].body["tools"].to_string(),
            w[1].body["tools"].to_string()
        );
        let a = w[0].body["messages"].to_string();
        let b = w[1].body["messages"].to_string();
        assert!(
            b.starts_with(a.trim_end_matches(']')),
            "the earlier request's messages are a byte prefix of the next one's"
        );
    }
    h.finish().await;
}

/// An OpenAI-compatible server that reports its window (vLLM's
/// `max_model_len`) is believed when the settings name none.
#[tokio::test]
async fn the_window_a_server_reports_is_used() {
    let mut h = Harness::with_caps(
        vec![when("hi", text("hello"))],
        "ask",
        false,
        "",
        Some(json!({"contextUsage": true})),
    )
    .await;
    h.mock.set_context_window(Some(WINDOW));
    let log = h.turn("hi").await;
    assert_eq!(log.stop(), StopReason::EndTurn, "{:?}", log.completed.error);
    let usage = log.all::<ContextUsageParams>();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].context_window, WINDOW, "not gpt-4o-mini's 128k");
    h.finish().await;
}
