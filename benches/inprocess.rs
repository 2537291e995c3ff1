//! In-process benchmarks (divan): document edits, apply_diff, store appends.
//! Each checks its result so it cannot be fast by doing nothing.

#![allow(clippy::unwrap_used)]

use codelab_agent::documents::{Change, Documents, Pos, PositionEncoding};

fn main() {
    divan::main();
}

fn document(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("line {i}: some text with ünïcode 😀 and more\n"))
        .collect()
}

/// 10,000 incremental edits at spread positions on a 100,000-line document.
#[divan::bench(sample_count = 10)]
fn did_change_10k_edits_on_100k_lines(b: divan::Bencher) {
    let text = document(100_000);
    b.with_inputs(|| {
        let mut docs = Documents::default();
        docs.open("file:///big".into(), "text".into(), 1, &text);
        docs
    })
    .bench_local_values(|mut docs| {
        for i in 0..10_000u32 {
            let line = (i * 7919) % 100_000;
            let c = Change {
                range: Some((Pos { line, character: 5 }, Pos { line, character: 6 })),
                text: "X".into(),
            };
            docs.change(
                "file:///big",
                i as i32 + 2,
                std::slice::from_ref(&c),
                PositionEncoding::Utf16,
            );
        }
        let len = docs.get("file:///big").unwrap().text.len_chars();
        assert_eq!(
            len,
            text.chars().count(),
            "each edit replaced one char with one char"
        );
        docs
    });
}

fn diff_blocks(file: &str, fuzzy: bool) -> String {
    let lines: Vec<&str> = file.lines().collect();
    let mut d = String::new();
    for k in 0..20 {
        let at = k * 490 + 3;
        let search: Vec<String> = lines[at..at + 3]
            .iter()
            .map(|l| {
                if fuzzy {
                    l.replacen("text", "txet", 1)
                } else {
                    (*l).to_owned()
                }
            })
            .collect();
        d.push_str(&format!(
            "<<<<<<< SEARCH\n:start_line:{}\n-------\n{}\n=======\nreplaced {k}\n>>>>>>> REPLACE\n",
            at + 1,
            search.join("\n")
        ));
    }
    d
}

/// apply_diff with 20 blocks on a 10,000-line file, exact matches.
#[divan::bench(args = [false, true], sample_count = 10)]
fn apply_diff_20_blocks_on_10k_lines(b: divan::Bencher, fuzzy: bool) {
    let file = document(10_000);
    let blocks = codelab_agent::diff::parse(&diff_blocks(&file, fuzzy)).unwrap();
    let threshold = if fuzzy { 0.9 } else { 1.0 };
    b.bench(|| {
        let (out, results) = codelab_agent::diff::apply(&file, &blocks, threshold);
        let applied = results
            .iter()
            .filter(|r| matches!(r, codelab_agent::diff::BlockResult::Applied { .. }))
            .count();
        assert_eq!(applied, 20);
        out.len()
    });
}

/// A history of `n` messages in turns of four (user, a read call, its
/// 2 KB output, the answer), as a long session's.
fn history(n: usize) -> Vec<codelab_agent::domain::Message> {
    use codelab_agent::domain::{Message, Role, ToolCall, TurnId};
    let output = "fn parse(input: &str) -> Result<Header, Error> { /* … */ }\n".repeat(34);
    (0..n)
        .map(|i| {
            let turn = Some(TurnId::new());
            let mut m = match i % 4 {
                0 => Message::new(Role::User, turn, format!("step {i}: read the parser")),
                1 => {
                    let mut m = Message::new(Role::Assistant, turn, String::new());
                    m.tool_calls = vec![ToolCall {
                        id: format!("call_{i}"),
                        name: "read_file".into(),
                        arguments: serde_json::json!({"path": "src/parser.rs"}),
                    }];
                    m
                }
                2 => Message::tool_result(
                    TurnId::new(),
                    &format!("call_{}", i - 1),
                    output.clone(),
                    false,
                ),
                _ => Message::new(Role::Assistant, turn, "Read it.".into()),
            };
            m.seq = i as u64 + 1;
            m
        })
        .collect()
}

/// The fixed part of a request: a system prompt and tools of the size of
/// the coder agent's.
fn base_request() -> codelab_agent::llm::ChatRequest {
    use codelab_agent::llm::{ChatRequest, ToolSpec};
    ChatRequest {
        model: "gpt-4o".into(),
        system: "You are a coding agent working in the user's workspace. ".repeat(40),
        messages: Default::default(),
        tools: (0..16)
            .map(|i| ToolSpec {
                name: format!("tool_{i}"),
                description: "Reads, searches or edits files of the workspace.".repeat(3),
                parameters: serde_json::json!({"type": "object", "properties": {"path": {"type": "string", "description": "A path relative to the workspace"}}, "required": ["path"]}),
            })
            .collect(),
        max_tokens: None,
        reasoning: Default::default(),
        thinking_budget: None,
    }
}

/// Building a model request as a running turn does, at 10, 100 and 1,000
/// messages of history: the turn keeps the view of its history, so only the
/// messages appended since the last request (a tool call and its 2 KB
/// output) are converted and counted, here with GPT-4o's exact tokenizer;
/// the request shares the view.
#[divan::bench(args = [10, 100, 1000], sample_count = 20)]
fn build_request(b: divan::Bencher, n: usize) {
    use codelab_agent::llm::ChatRequest;
    use codelab_agent::llm::context::{Counter, Estimator};
    use codelab_agent::runtime::context::ContextView;
    // The two messages appended since the last request are the same at
    // every size: a 2 KB tool output and the answer.
    let mut h = history(n);
    let tail = history(4);
    for (i, m) in tail[2..].iter().enumerate() {
        let mut m = m.clone();
        m.seq = (n - 1 + i) as u64;
        h[n - 2 + i] = m;
    }
    let base = base_request();
    let counter = Counter::for_model(&base.model);
    let estimator = Estimator::new(counter);
    b.with_inputs(|| {
        // The view as the previous request left it (its fixed part counted).
        let mut v = ContextView::new(counter);
        v.sync(&h[..n - 2]);
        v.request_tokens(&base);
        v
    })
    .bench_local_values(|mut v| {
        v.sync(&h);
        let tokens = estimator.calibrated(v.request_tokens(&base));
        let req = ChatRequest {
            messages: v.messages(),
            ..base.clone()
        };
        assert_eq!(req.messages.len(), n);
        assert!(tokens > n as u64);
        (req, v)
    });
}

/// The same request built from scratch each time, as a turn did before it
/// kept the view: every message converted and counted again.
#[divan::bench(args = [10, 100, 1000], sample_count = 20)]
fn build_request_from_scratch(b: divan::Bencher, n: usize) {
    use codelab_agent::llm::ChatRequest;
    use codelab_agent::llm::context::{Counter, Estimator};
    use codelab_agent::runtime::context;
    let h = history(n);
    let base = base_request();
    let estimator = Estimator::new(Counter::for_model(&base.model));
    b.bench_local(|| {
        let req = ChatRequest {
            messages: context::view(&h).into(),
            ..base.clone()
        };
        let tokens = estimator.request(&req);
        assert_eq!(req.messages.len(), n);
        assert!(tokens > n as u64);
        (req, tokens)
    });
}

/// Encoding the request for the wire (OpenAI-compatible JSON), at the same
/// sizes: this grows with the bytes the request carries (it is the request),
/// which compaction keeps within the model's window.
#[divan::bench(args = [10, 100, 1000], sample_count = 20)]
fn encode_request(b: divan::Bencher, n: usize) {
    use codelab_agent::llm::ChatRequest;
    use codelab_agent::runtime::context;
    let req = ChatRequest {
        messages: context::view(&history(n)).into(),
        ..base_request()
    };
    b.bench_local(|| {
        let bytes = serde_json::to_vec(&codelab_agent::llm::openai::body(&req)).unwrap();
        assert!(bytes.len() > n * 10);
        bytes
    });
}

/// What a running turn reads from the store before each model request, at
/// 10, 100 and 1,000 messages of history: the two messages appended since
/// the last request (`incremental`, what the turn does), against the whole
/// history (`full`, what it did before it kept the history in memory).
#[divan::bench(args = [(10, false), (100, false), (1000, false), (10, true), (100, true), (1000, true)], sample_count = 20)]
fn store_read_per_request(b: divan::Bencher, (n, full): (usize, bool)) {
    use codelab_agent::store::{RedbStore, Store};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path()).unwrap();
    let now = chrono::Utc::now();
    let session = codelab_agent::domain::Session {
        id: codelab_agent::domain::SessionId::new(),
        title: "bench".into(),
        workspace_folder: None,
        agent: "coder".into(),
        created_at: now,
        updated_at: now,
        message_count: 0,
        last_seq: 0,
        parent: None,
        model: None,
    };
    let sid = session.id;
    let mut h = history(n);
    for m in &mut h {
        m.session_id = sid;
    }
    rt.block_on(async {
        store.create_session(session).await.unwrap();
        store.append_messages(sid, h).await.unwrap();
    });
    let after = if full { 0 } else { n as u64 - 2 };
    b.bench_local(|| {
        let got = rt
            .block_on(store.history(sid, after, usize::MAX))
            .unwrap()
            .items;
        assert_eq!(got.len(), if full { n } else { 2 });
        got
    });
    rt.block_on(store.stop());
}
