//! End-to-end benchmarks, compared in the same run with a baseline: ripgrep,
//! a direct SSE reader, one commit per event. Prints a Markdown table.
//! Every figure checks the work it did (match counts, token counts, events).
//!
//! Run with `./scripts/bench.sh` (it installs ripgrep and the corpus).

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    dead_code
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use std::sync::Arc;

use codelab_agent::store::{RedbStore, Store};
use serde_json::json;

struct Row {
    name: String,
    ours: String,
    baseline: String,
    ratio: String,
    target: String,
    check: String,
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn fmt_ms((med, lo, hi): (f64, f64, f64)) -> String {
    format!(
        "{:.1} ms ({:.1}–{:.1})",
        med * 1000.0,
        lo * 1000.0,
        hi * 1000.0
    )
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Vec<f64>, T) {
    let mut out = None;
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    (times, out.unwrap())
}

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var("CODELAB_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            dirs::cache_dir()
                .unwrap_or_else(|| PathBuf::from("/tmp"))
                .join("codelab-agent/corpus/linux-source-6.1")
        });
    dir.exists().then_some(dir)
}

fn rg(args: &[&str], dir: &Path) -> usize {
    let out = Command::new("rg")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ripgrep (rg) is installed");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn search_vs_rg(rows: &mut Vec<Row>, dir: &Path) {
    let ws = codelab_agent::workspace::Workspace::new(dir).unwrap();
    for (label, pattern) in [
        ("literal", "PM_RESUME"),
        ("word regex", r"\b[A-Z]+_SUSPEND\b"),
        ("rare", "ZZQ_NOT_ANYWHERE_QZZ"),
        ("common", "return"),
    ] {
        let (ours, (_, ours_total)) = time(5, || {
            codelab_agent::tools::search_in_code::search(&ws, ws.root(), pattern, None, &[], 300)
                .unwrap()
        });
        let (theirs, rg_total) = time(5, || {
            rg(
                &["-n", "--hidden", "--no-config", "-g", "!.git", pattern],
                dir,
            )
        });
        let (o, t) = (stats(ours), stats(theirs));
        rows.push(Row {
            name: format!("search_in_code, {label} `{pattern}`"),
            ours: fmt_ms(o),
            baseline: format!("rg {}", fmt_ms(t)),
            ratio: format!("{:.2}x", o.0 / t.0),
            target: "≤ 1.1x".into(),
            check: if ours_total == rg_total {
                format!("{ours_total} matching lines, same as rg")
            } else {
                format!("MISMATCH: {ours_total} vs rg {rg_total}")
            },
        });
    }
    let (ours, n) = time(5, || {
        codelab_agent::tools::list_files::list(
            &ws,
            ws.root(),
            true,
            1000,
            &tokio_util::sync::CancellationToken::new(),
        )
        .files
    });
    let (theirs, m) = time(5, || {
        rg(&["--files", "--hidden", "--no-config", "-g", "!.git"], dir)
    });
    let (o, t) = (stats(ours), stats(theirs));
    rows.push(Row {
        name: "list_files (recursive) vs rg --files".into(),
        ours: fmt_ms(o),
        baseline: format!("rg {}", fmt_ms(t)),
        ratio: format!("{:.2}x", o.0 / t.0),
        target: "≤ 1.1x".into(),
        check: if n == m {
            format!("{n} files, same as rg")
        } else {
            format!("MISMATCH: {n} vs rg {m}")
        },
    });
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Private (anonymous) resident memory: what a process costs beyond the
/// binary's pages, which every codelab-agent process shares.
fn rss_anon_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(") ")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

async fn startup(rows: &mut Vec<Row>) {
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let mut server = support::ServerProcess::stdio(dir.path());
        let mut c = server.stdio_client();
        c.initialize(&[], None).await;
        times.push(t.elapsed().as_secs_f64());
        rss.push(rss_kib(server.child.id().unwrap()) as f64);
        c.finish().await;
        server.wait().await;
    }
    let s = stats(times);
    rows.push(Row {
        name: "start-up to initialize response".into(),
        ours: fmt_ms(s),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "< 20 ms".into(),
        check: "10 runs, initialize answered".into(),
    });
    let r = stats(rss);
    rows.push(Row {
        name: "resident memory, idle after initialized".into(),
        ours: format!("{:.1} MiB", r.0 / 1024.0),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "< 20 MB".into(),
        check: "VmRSS".into(),
    });

    // 1,000 sessions in the store, 100 attached.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RedbStore::open(dir.path()).unwrap();
        insert_sessions(&store, 1_000).await;
        store.stop().await;
    }
    let mut server = support::ServerProcess::stdio(dir.path());
    let mut c = server.stdio_client();
    c.initialize(&[], None).await;
    let list = c.call("codelab/listSessions", json!({"limit": 100})).await;
    let ids: Vec<String> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        c.call("codelab/attachSession", json!({"sessionId": id}))
            .await;
    }
    let rss = rss_kib(server.child.id().unwrap());
    rows.push(Row {
        name: "resident memory, 1,000 sessions stored, 100 attached".into(),
        ours: format!("{:.1} MiB", rss as f64 / 1024.0),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
        check: format!("{} sessions attached", ids.len()),
    });
    c.finish().await;
}

/// Inserts `n` sessions straight into the store, 1,000 per commit.
async fn insert_sessions(store: &RedbStore, n: usize) {
    for chunk in 0..n.div_ceil(1000) {
        let sessions: Vec<_> = (0..1000.min(n - chunk * 1000))
            .map(|i| session(&format!("bulk {chunk}-{i}")))
            .collect();
        store.import_sessions(sessions).await.unwrap();
    }
}

fn session(title: &str) -> codelab_agent::domain::Session {
    let now = chrono::Utc::now();
    codelab_agent::domain::Session {
        id: codelab_agent::domain::SessionId::new(),
        title: title.into(),
        workspace_folder: None,
        agent: "coder".into(),
        created_at: now,
        updated_at: now,
        message_count: 0,
        last_seq: 0,
        parent: None,
        model: None,
    }
}

fn message(sid: codelab_agent::domain::SessionId, seq: u64) -> codelab_agent::domain::Message {
    codelab_agent::domain::Message {
        session_id: sid,
        seq,
        ..codelab_agent::domain::Message::new(
            codelab_agent::domain::Role::User,
            None,
            "a message of ordinary length, as users write them".into(),
        )
    }
}

/// What [`appends`] measured.
struct Appends {
    /// Events/s of 100 sessions appending 50 messages each at once (the
    /// store may group their commits).
    grouped: f64,
    /// Events/s of one session appending 500, one at a time (one durable
    /// commit each).
    one: f64,
    /// Messages read back from the 100 sessions.
    total: usize,
    /// The 100 sessions.
    ids: Vec<codelab_agent::domain::SessionId>,
}

/// Durable appends to `store`: one at a time, then 100 sessions at once.
async fn appends<S: Store + ?Sized + 'static>(store: &Arc<S>) -> Appends {
    let s = store.create_session(session("seq")).await.unwrap();
    let n = 500u64;
    let t = Instant::now();
    for seq in 1..=n {
        store
            .append_messages(s.id, vec![message(s.id, seq)])
            .await
            .unwrap();
    }
    let one = n as f64 / t.elapsed().as_secs_f64();
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            store
                .create_session(session(&format!("c{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let t = Instant::now();
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            for seq in 1..=50 {
                store
                    .append_messages(id, vec![message(id, seq)])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let grouped = 5000.0 / t.elapsed().as_secs_f64();
    let mut total = 0;
    for id in &ids {
        total += store.history(*id, 0, 1000).await.unwrap().items.len();
    }
    Appends {
        grouped,
        one,
        total,
        ids,
    }
}

async fn store(rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbStore::open(dir.path()).unwrap());
    let Appends {
        grouped,
        one,
        total,
        ids,
    } = appends(&store).await;
    rows.push(Row {
        name: "durable appends, 100 concurrent sessions (group commit)".into(),
        ours: format!("{grouped:.0} events/s"),
        baseline: format!("{one:.0} events/s, one commit each"),
        ratio: format!("{:.1}x", grouped / one),
        target: "far above 1x".into(),
        check: format!("{total} messages read back"),
    });
    // 100,000 sessions: open, listSessions, getHistory.
    insert_sessions(&store, 100_000).await;
    let big = ids[0];
    store.stop().await;
    drop(store);
    let (open, store) = time(1, || RedbStore::open(dir.path()).unwrap());
    let (list, page) = {
        let mut v = Vec::new();
        let mut last = 0;
        for _ in 0..20 {
            let t = Instant::now();
            last = store.list_sessions(None, 50).await.unwrap().items.len();
            v.push(t.elapsed().as_secs_f64());
        }
        (v, last)
    };
    let (hist, msgs) = {
        let mut v = Vec::new();
        let mut last = 0;
        for _ in 0..20 {
            let t = Instant::now();
            last = store.history(big, 0, 200).await.unwrap().items.len();
            v.push(t.elapsed().as_secs_f64());
        }
        (v, last)
    };
    rows.push(Row {
        name: "open a store of 100,100 sessions".into(),
        ours: fmt_ms(stats(open)),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
        check: "schema checked".into(),
    });
    rows.push(Row {
        name: "listSessions (50) on it".into(),
        ours: fmt_ms(stats(list)),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
        check: format!("{page} sessions"),
    });
    rows.push(Row {
        name: "getHistory on it".into(),
        ours: fmt_ms(stats(hist)),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
        check: format!("{msgs} messages"),
    });
    store.close().await;
}

fn now_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// Latencies (µs) of every `T<stamp>|` token in `text`, received now.
fn stamps(text: &str, out: &mut Vec<f64>) -> usize {
    let now = now_us();
    let mut n = 0;
    for tok in text.split('|') {
        if let Some(us) = tok.strip_prefix('T').and_then(|v| v.parse::<u128>().ok()) {
            out.push(now.saturating_sub(us) as f64);
            n += 1;
        }
    }
    n
}

fn pct(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

/// The ripgreps to compare with: Debian's (`rg` on the PATH) and the newest
/// from crates.io (`cargo install ripgrep --locked`, which `scripts/bench.sh`
/// puts in `CODELAB_BENCH_RG`), each with its version.
fn ripgreps() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut bins = vec![PathBuf::from("rg")];
    if let Ok(p) = std::env::var("CODELAB_BENCH_RG") {
        bins.push(PathBuf::from(p));
    }
    for bin in bins {
        let Ok(o) = Command::new(&bin).arg("--version").output() else {
            eprintln!("search: {} is missing", bin.display());
            continue;
        };
        let version = String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        out.push((version, bin));
    }
    out
}

/// One whole `rg` process over `dir`, its output read from a pipe: seconds and lines.
fn rg_with(bin: &Path, args: &[&str], dir: &Path) -> (f64, usize) {
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ripgrep runs");
    let secs = t.elapsed().as_secs_f64();
    (
        secs,
        out.stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
    )
}

/// One turn in a fresh server process (`--standalone` over stdio) on
/// `dir`, whose model (the mock, its own process) calls `tool` with `args`
/// and then answers: the seconds from `codelab/sendMessage` to
/// `codelab/turnCompleted` and the tool's result.
async fn tool_turn(url: &str, dir: &Path) -> (f64, String) {
    let data = tempfile::tempdir().unwrap();
    let env = vec![
        ("OPENAI_BASE_URL", format!("{url}/v1")),
        ("OPENAI_API_KEY", "sk-bench".to_owned()),
        ("CODELAB_MODEL", "m".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let mut p = support::ServerProcess::stdio_env(data.path(), &env);
    let mut c = p.stdio_client();
    c.initialize(&[], Some(&support::file_uri(dir))).await;
    let s = c
        .call("codelab/createSession", json!({"agent": "coder"}))
        .await;
    let t = Instant::now();
    c.call(
        "codelab/sendMessage",
        json!({"sessionId": s["id"], "text": "go"}),
    )
    .await;
    let mut result = None;
    loop {
        let msg = c.next_notification().await;
        match msg["method"].as_str() {
            Some("codelab/toolCall") if msg["params"]["status"] == "completed" => {
                result = msg["params"]["result"].as_str().map(str::to_owned);
            }
            Some("codelab/turnCompleted") => break,
            _ => {}
        }
    }
    let secs = t.elapsed().as_secs_f64();
    c.done();
    (secs, result.expect("the tool completed"))
}

/// The total a tool result reports: `[N matches…` for search_in_code; the
/// files for list_files (`… F files, D directories)` when it is cut, else
/// the entries without a trailing `/`).
fn reported_total(result: &str) -> usize {
    let number = |s: &str| -> usize {
        s.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    };
    if let Some(i) = result.find(" in all: ") {
        return number(&result[i + " in all: ".len()..]);
    }
    if let Some(i) = result.rfind("\n[") {
        return number(&result[i + 2..]);
    }
    if result.starts_with("No matches") {
        return 0;
    }
    result
        .lines()
        .filter(|l| !l.is_empty() && !l.ends_with('/'))
        .count()
}

/// `search_in_code` and `list_files` end to end against whole ripgrep
/// processes: each run is a fresh server process and a whole turn (the
/// model's tool call, the search, the result formatted and sent back to the
/// model, its answer), timed from sendMessage to turnCompleted; ripgrep
/// writes every match to a pipe. The totals must equal ripgrep's.
async fn search_e2e(rows: &mut Vec<Row>, dir: &Path) {
    let runs = 5;
    let rgs = ripgreps();
    let cases: Vec<(String, &str, serde_json::Value, Vec<String>)> = vec![
        ("literal", "PM_RESUME"),
        ("word regex", r"\b[A-Z]+_SUSPEND\b"),
        ("rare", "ZZQ_NOT_ANYWHERE_QZZ"),
        ("common", "return"),
    ]
    .into_iter()
    .map(|(label, pattern)| {
        (
            format!("search_in_code end to end, {label} `{pattern}`"),
            "search_in_code",
            json!({"regex": pattern}),
            ["-n", "--hidden", "--no-config", "-g", "!.git", pattern]
                .map(str::to_owned)
                .to_vec(),
        )
    })
    .chain(std::iter::once((
        "list_files (recursive) end to end vs rg --files".to_owned(),
        "list_files",
        json!({"path": ".", "recursive": true}),
        ["--files", "--hidden", "--no-config", "-g", "!.git"]
            .map(str::to_owned)
            .to_vec(),
    )))
    .collect();
    for (name, tool, args, rg_args) in cases {
        let call = json!({"chunks": [{"toolCall": {"id": "c1", "name": tool, "arguments": args}}]});
        let done = json!({"chunks": [{"text": "done"}]});
        let replies: Vec<serde_json::Value> = (0..=runs)
            .flat_map(|_| [call.clone(), done.clone()])
            .collect();
        let (_mock, url, _script) = mock_script(json!({"replies": replies})).await;
        let rg_args: Vec<&str> = rg_args.iter().map(String::as_str).collect();
        // Warm-up: the page cache, both sides.
        let (_, first) = tool_turn(&url, dir).await;
        let total = reported_total(&first);
        let mut ours = Vec::new();
        for _ in 0..runs {
            let (secs, result) = tool_turn(&url, dir).await;
            assert_eq!(reported_total(&result), total, "the same result each run");
            ours.push(secs);
        }
        let ours_med = pct(ours.clone(), 0.5);
        let mut baselines = Vec::new();
        let mut ratios = Vec::new();
        let mut checks = Vec::new();
        for (version, bin) in &rgs {
            let _ = rg_with(bin, &rg_args, dir);
            let mut theirs = Vec::new();
            let mut lines = 0;
            for _ in 0..runs {
                let (secs, n) = rg_with(bin, &rg_args, dir);
                theirs.push(secs);
                lines = n;
            }
            // list_files reports its files apart from its directories: the
            // same files as rg's.
            let expected = lines;
            baselines.push(format!(
                "{version} {}",
                range(&theirs, |s| format!("{:.1} ms", s * 1000.0))
            ));
            ratios.push(format!("{:.2}x vs {version}", ours_med / pct(theirs, 0.5)));
            checks.push(if expected == total {
                format!(
                    "{total} {}, same as {version}",
                    if tool == "list_files" {
                        "files"
                    } else {
                        "matching lines"
                    }
                )
            } else {
                format!("MISMATCH: {total} vs {version} {expected}")
            });
        }
        rows.push(Row {
            name,
            ours: range(&ours, |s| format!("{:.1} ms", s * 1000.0)),
            baseline: baselines.join("; "),
            ratio: ratios.join("; "),
            target: "≤ 1.0x the newest rg".into(),
            check: checks.join("; "),
        });
    }
}

/// The mock as its own process, answering from `script`.
async fn mock_script(
    script: serde_json::Value,
) -> (tokio::process::Child, String, tempfile::NamedTempFile) {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("mock-llm");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p mock-llm"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script.to_string()).unwrap();
    let mut child = tokio::process::Command::new(bin)
        .arg("--script")
        .arg(file.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().unwrap()));
    let url = lines
        .next_line()
        .await
        .unwrap()
        .unwrap()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    (child, url, file)
}

/// The mock as its own process, streaming `tokens` stamped tokens per reply.
async fn mock_process(
    replies: usize,
    tokens: usize,
    every_ms: Option<u64>,
) -> (tokio::process::Child, String, tempfile::NamedTempFile) {
    let reply = json!({"chunks": [{"stampedTokens": tokens, "stampEveryMs": every_ms}]});
    mock_script(json!({"replies": vec![reply; replies]})).await
}

/// The stream read directly, by a whole process: `curl` reads the mock's
/// SSE (the mock is its own process) into a pipe, and this process parses
/// each event's JSON as it arrives, as a client of the server parses each
/// notification. The time runs from starting curl to the end of the stream.
async fn direct_process(url: &str) -> (f64, usize, Vec<f64>) {
    use tokio::io::AsyncBufReadExt;
    let t = Instant::now();
    let mut child = tokio::process::Command::new("curl")
        .args([
            "-sN",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"go"}]}"#,
        ])
        .arg(format!("{url}/v1/chat/completions"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl is installed");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut n, mut lat) = (0, Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        if let Some(d) = v["choices"][0]["delta"]["content"].as_str() {
            n += stamps(d, &mut lat);
        }
    }
    let elapsed = t.elapsed().as_secs_f64();
    let _ = child.wait().await;
    (elapsed, n, lat)
}

/// Reads `path` of the mock with a `curl` process and parses every event as
/// it arrives; returns seconds and the stamped tokens in the text deltas
/// (Chat Completions `choices[0].delta.content`, Responses
/// `response.output_text.delta`).
async fn direct_path(url: &str, path: &str, body: &str) -> (f64, usize) {
    use tokio::io::AsyncBufReadExt;
    let t = Instant::now();
    let mut child = tokio::process::Command::new("curl")
        .args(["-sN", "-H", "content-type: application/json", "-d", body])
        .arg(format!("{url}{path}"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl is installed");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut n, mut lat) = (0, Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        if let Some(d) = v["choices"][0]["delta"]["content"].as_str() {
            n += stamps(d, &mut lat);
        } else if v["type"] == "response.output_text.delta" {
            n += stamps(v["delta"].as_str().unwrap_or(""), &mut lat);
        } else if v["type"] == "response.completed" {
            break;
        }
    }
    let elapsed = t.elapsed().as_secs_f64();
    let _ = child.wait().await;
    (elapsed, n)
}

/// The stamped tokens in `text`.
fn count_stamps(text: &str) -> usize {
    let mut v = Vec::new();
    stamps(text, &mut v)
}

/// One prompt to a peer as a whole process, against the mock at `url`:
/// seconds from starting the process to its exit (codelab-agent: to
/// `codelab/turnCompleted`, the process started for the prompt), and the
/// stamped tokens of its answer.
async fn peer_once(peer: &str, url: &str, home: &Path) -> (f64, usize) {
    let bin = |name: &str| {
        PathBuf::from(std::env::var("CODELAB_BENCH_PEERS").unwrap_or_default())
            .join("node_modules/.bin")
            .join(name)
    };
    let work = home.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let t = Instant::now();
    if peer == "codelab-agent" {
        let data = tempfile::tempdir().unwrap();
        let env = vec![
            ("OPENAI_BASE_URL", format!("{url}/v1")),
            ("OPENAI_API_KEY", "sk-bench".to_owned()),
            ("CODELAB_MODEL", "m".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let mut p = support::ServerProcess::stdio_env(data.path(), &env);
        let mut c = p.stdio_client();
        c.initialize(&[], Some(&support::file_uri(&work))).await;
        let s = c
            .call("codelab/createSession", json!({"agent": "ask"}))
            .await;
        c.call(
            "codelab/sendMessage",
            json!({"sessionId": s["id"], "text": "go"}),
        )
        .await;
        let mut n = 0;
        loop {
            let msg = c.next_notification().await;
            match msg["method"].as_str() {
                Some("codelab/token") => {
                    n += count_stamps(msg["params"]["delta"].as_str().unwrap_or(""));
                }
                Some("codelab/turnCompleted") => break,
                _ => {}
            }
        }
        let secs = t.elapsed().as_secs_f64();
        c.done();
        return (secs, n);
    }
    let mut cmd =
        if peer == "codex" {
            let mut c = tokio::process::Command::new(bin("codex"));
            c.env("CODEX_HOME", home.join("codex"))
            .env("MOCK_KEY", "sk-bench")
            .args(["exec", "--json", "--skip-git-repo-check", "-c", "model_provider=mock", "-c"])
            .arg(format!(
                "model_providers.mock={{name=\"mock\",base_url=\"{url}/v1\",wire_api=\"responses\",\
                 env_key=\"MOCK_KEY\",stream_max_retries=0,request_max_retries=0}}"
            ))
            .args(["-m", "m", "go"]);
            c
        } else {
            let mut c = tokio::process::Command::new(bin("cline"));
            c.arg("--json")
                .arg("--config")
                .arg(home.join("cline"))
                .arg("-c")
                .arg(&work)
                // At least 1 (0 is refused); one quoted prompt.
                .args(["--retries", "1", "say go"]);
            c
        };
    let out = cmd
        .current_dir(&work)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("the peer runs");
    let secs = t.elapsed().as_secs_f64();
    // The answer's text: Codex's `agent_message` items, Cline's `run_result`.
    let mut n = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["type"] == "item.completed" && v["item"]["type"] == "agent_message" {
            n += count_stamps(v["item"]["text"].as_str().unwrap_or(""));
        } else if v["type"] == "run_result" {
            n += count_stamps(v["text"].as_str().unwrap_or(""));
        }
    }
    if n == 0 {
        eprintln!(
            "{peer}: no tokens in its output:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (secs, n)
}

/// Peers as whole processes against the same mock process: the Codex CLI
/// (`codex exec --json`, the Responses API) and the Cline CLI (`cline
/// --json`, an OpenAI-compatible provider), installed by `scripts/bench.sh`
/// into `CODELAB_BENCH_PEERS`, and codelab-agent started the same way for
/// each prompt. For each: the time of one prompt (a 1-token reply), and
/// the streaming cost (a `tokens`-token reply minus the 1-token one) as a
/// ratio of the same difference read directly by curl.
async fn peers(rows: &mut Vec<Row>) {
    let runs = 3;
    let tokens = 20_000;
    let have = |name: &str| {
        std::env::var("CODELAB_BENCH_PEERS")
            .is_ok_and(|d| Path::new(&d).join("node_modules/.bin").join(name).exists())
    };
    for peer in ["codelab-agent", "codex", "cline"] {
        if peer != "codelab-agent" && !have(peer) {
            eprintln!("peers: {peer} is not installed; ./scripts/bench.sh installs it");
            continue;
        }
        let (path, body) = if peer == "codex" {
            (
                "/v1/responses",
                r#"{"model":"m","stream":true,"input":"go"}"#,
            )
        } else {
            (
                "/v1/chat/completions",
                r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"go"}]}"#,
            )
        };
        let mut by_size = Vec::new();
        for n in [1, tokens] {
            // Each run: one direct read, one prompt (Cline asks for a title too: spare replies).
            let (_mock, url, _script) = mock_process(6 * (runs + 1), n, None).await;
            let home = tempfile::tempdir().unwrap();
            if peer == "cline" {
                let st = tokio::process::Command::new(
                    PathBuf::from(std::env::var("CODELAB_BENCH_PEERS").unwrap())
                        .join("node_modules/.bin/cline"),
                )
                .args([
                    "auth",
                    "-p",
                    "openai-compatible",
                    "-k",
                    "sk-bench",
                    "-m",
                    "m",
                    "-b",
                ])
                .arg(format!("{url}/v1"))
                .arg("--config")
                .arg(home.path().join("cline"))
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .unwrap();
                assert!(st.status.success(), "cline auth");
            }
            let (mut direct, mut theirs, mut ok) = (Vec::new(), Vec::new(), true);
            let _ = direct_path(&url, path, body).await;
            let _ = peer_once(peer, &url, home.path()).await;
            for _ in 0..runs {
                let (d, dn) = direct_path(&url, path, body).await;
                let (p, pn) = peer_once(peer, &url, home.path()).await;
                ok &= dn == n && pn == n;
                direct.push(d);
                theirs.push(p);
            }
            by_size.push((direct, theirs, ok));
        }
        let (d1, p1, ok1) = &by_size[0];
        let (dn, pn, okn) = &by_size[1];
        let med = |v: &Vec<f64>| pct(v.clone(), 0.5);
        let ratios: Vec<f64> = pn
            .iter()
            .map(|p| (med(dn) - med(d1)) / (p - med(p1)))
            .collect();
        rows.push(Row {
            name: format!(
                "peers, {tokens} stamped tokens flat out: {peer} (whole process per prompt)"
            ),
            ours: format!(
                "one prompt {}; {tokens} tokens {}",
                range(p1, |s| format!("{:.1} ms", s * 1000.0)),
                range(pn, |s| format!("{:.1} ms", s * 1000.0)),
            ),
            baseline: format!(
                "curl {} (1 token {})",
                range(dn, |s| format!("{:.1} ms", s * 1000.0)),
                range(d1, |s| format!("{:.1} ms", s * 1000.0)),
            ),
            ratio: range(&ratios, |r| format!("{r:.2}x")),
            target: "streaming cost ≥ 0.95x of direct".into(),
            check: if *ok1 && *okn {
                format!("every token in the answer, {runs} runs each")
            } else {
                "TOKENS MISSING (see stderr)".into()
            },
        });
    }
}

/// Median and range of `v`, formatted with `f`.
fn range(v: &[f64], f: impl Fn(f64) -> String) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.len() == 1 {
        return format!("{} (single run)", f(s[0]));
    }
    format!("{} ({}–{})", f(s[s.len() / 2]), f(s[0]), f(s[s.len() - 1]))
}

/// Streaming, with both sides as whole processes against the mock in its
/// own process: per-token added latency at 50, 200 and 1,000 tokens/s and
/// flat out, notifications per second, server CPU per token, and the relay
/// ratio (time of the direct read / time from sendMessage to
/// turnCompleted). Each figure is the median (range) of `runs` runs.
async fn stream(rows: &mut Vec<Row>) {
    let runs = 5;
    for (label, tokens, every_ms) in [
        ("50 tokens/s", 150, Some(20)),
        ("200 tokens/s", 600, Some(5)),
        ("1,000 tokens/s", 2_000, Some(1)),
        ("flat out", 50_000, None),
    ] {
        let transports = ["stdio", "websocket", "daemon"];
        let (_mock, url, _script) =
            mock_process(runs * (1 + transports.len()) + 2, tokens, every_ms).await;
        // Warm-up: the mock's first stream and the page cache.
        let _ = direct_process(&url).await;
        let mut direct: Vec<(f64, Vec<f64>)> = Vec::new();
        for _ in 0..runs {
            let (secs, n, lat) = direct_process(&url).await;
            assert_eq!(n, tokens, "the direct reader got every token");
            direct.push((secs, lat));
        }
        let d_secs: Vec<f64> = direct.iter().map(|d| d.0).collect();
        let d_p50: Vec<f64> = direct.iter().map(|d| pct(d.1.clone(), 0.5)).collect();
        let d_p99: Vec<f64> = direct.iter().map(|d| pct(d.1.clone(), 0.99)).collect();
        let d_secs_med = pct(d_secs.clone(), 0.5);
        let (d_p50_med, d_p99_med) = (pct(d_p50.clone(), 0.5), pct(d_p99.clone(), 0.5));
        rows.push(Row {
            name: format!("stream {tokens} tokens, {label}: direct (curl process)"),
            ours: "—".into(),
            baseline: format!(
                "{}; latency p50 {}, p99 {}",
                range(&d_secs, |s| format!("{:.1} ms", s * 1000.0)),
                range(&d_p50, |us| format!("{:.2} ms", us / 1000.0)),
                range(&d_p99, |us| format!("{:.2} ms", us / 1000.0)),
            ),
            ratio: "—".into(),
            target: "—".into(),
            check: format!("{tokens} tokens each run"),
        });
        let env = vec![
            ("OPENAI_BASE_URL", format!("{url}/v1")),
            ("OPENAI_API_KEY", "sk-bench".to_owned()),
            ("CODELAB_MODEL", "m".to_owned()),
        ];
        for transport in transports {
            let (mut secs, mut add50, mut add99, mut cpu, mut nps, mut notes_all) =
                (vec![], vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..runs {
                let (m, n, notes, lat) = relay_once(transport, &env).await;
                assert_eq!(n, tokens, "{transport}: every token relayed");
                let s = n as f64 / m.rate;
                secs.push(s);
                add50.push(pct(lat.clone(), 0.5) - d_p50_med);
                add99.push(pct(lat, 0.99) - d_p99_med);
                cpu.push(m.server_cpu / n as f64 * 1e6);
                nps.push(notes as f64 / s);
                notes_all.push(notes as f64);
            }
            let ratios: Vec<f64> = secs.iter().map(|s| d_secs_med / s).collect();
            rows.push(Row {
                name: format!("stream {tokens} tokens, {label}: codelab-agent, {transport}"),
                ours: format!(
                    "{}; added latency p50 {}, p99 {}; {} notifications/s; {} CPU/token",
                    range(&secs, |s| format!("{:.1} ms", s * 1000.0)),
                    range(&add50, |us| format!("{:.2} ms", us / 1000.0)),
                    range(&add99, |us| format!("{:.2} ms", us / 1000.0)),
                    range(&nps, |x| format!("{x:.0}")),
                    range(&cpu, |x| format!("{x:.2} µs")),
                ),
                baseline: format!("{:.1} ms direct (median)", d_secs_med * 1000.0),
                ratio: range(&ratios, |r| format!("{r:.2}x")),
                target: if every_ms.is_none() {
                    "≥ 0.95x, < 1.5 µs CPU/token".into()
                } else if tokens == 600 {
                    "added p50 < 2 ms, p99 < 10 ms".into()
                } else {
                    "—".into()
                },
                check: format!(
                    "{tokens} tokens each run, in {} notifications",
                    range(&notes_all, |x| format!("{x:.0}"))
                ),
            });
        }
    }
}

async fn relay(rows: &mut Vec<Row>) {
    let all = ["stdio", "websocket", "daemon"];
    relay_with(rows, 100_000, None, "as fast as possible", &all).await;
    relay_with(rows, 2_000, Some(1), "paced, 1 token/ms", &all).await;
}

/// What one transport measured in [`relay_with`].
struct Relayed {
    rate: f64,
    p50_us: f64,
    p99_us: f64,
    /// CPU seconds of the server process (the daemon, for `daemon`).
    server_cpu: f64,
    /// CPU seconds of the `--stdio` forwarder (`daemon` only).
    forwarder_cpu: f64,
}

async fn relay_with(
    rows: &mut Vec<Row>,
    tokens: usize,
    every_ms: Option<u64>,
    label: &str,
    transports: &[&str],
) {
    let (_mock, url, _script) = mock_process(5, tokens, every_ms).await;
    // Baseline: a client reading the SSE stream directly, parsing as it arrives.
    let (mut direct_rate, mut direct_lat, mut direct_n) = (0.0, Vec::new(), 0);
    // The first read warms up the mock and the connection; the second is measured.
    for _ in 0..2 {
        let t = Instant::now();
        // The same provider client the server uses, without the server.
        let mut settings = codelab_agent::llm::config::LlmSettings::default();
        settings.providers.insert(
            "mock".into(),
            codelab_agent::llm::config::ProviderSettings {
                kind: Some(codelab_agent::llm::ProviderKind::Openai),
                base_url: Some(format!("{url}/v1")),
                model: Some("m".into()),
                ..Default::default()
            },
        );
        let target = settings.resolve(None).unwrap();
        let bus = std::sync::Arc::new(codelab_agent::events::EventBus::new());
        let client =
            codelab_agent::llm::LlmClient::new(std::time::Duration::from_secs(5), bus).unwrap();
        let req = codelab_agent::llm::ChatRequest {
            model: "m".into(),
            system: String::new(),
            messages: vec![codelab_agent::llm::ChatMessage::User { text: "go".into() }].into(),
            tools: vec![],
            max_tokens: None,
            reasoning: Default::default(),
            thinking_budget: None,
        };
        let mut stream = client.stream(&target, req, Default::default());
        direct_lat = Vec::with_capacity(tokens);
        direct_n = 0;
        while let Some(Ok(ev)) = stream.next().await {
            if let codelab_agent::llm::LlmEvent::TextDelta(d) = ev {
                direct_n += stamps(&d, &mut direct_lat);
            }
        }
        direct_rate = direct_n as f64 / t.elapsed().as_secs_f64();
    }
    rows.push(Row {
        name: format!("streaming {tokens} tokens {label}: direct reader (baseline)"),
        ours: "—".into(),
        baseline: format!(
            "{direct_rate:.0} tokens/s, latency p50 {:.2} ms, p99 {:.2} ms",
            pct(direct_lat.clone(), 0.5) / 1000.0,
            pct(direct_lat.clone(), 0.99) / 1000.0
        ),
        ratio: "—".into(),
        target: "—".into(),
        check: format!("{direct_n} tokens"),
    });
    let env = vec![
        ("OPENAI_BASE_URL", format!("{url}/v1")),
        ("OPENAI_API_KEY", "sk-bench".to_owned()),
        ("CODELAB_MODEL", "m".to_owned()),
    ];
    for &transport in transports {
        let (measured, n, notes, lat) = relay_once(transport, &env).await;
        rows.push(Row {
            name: format!("streaming {tokens} tokens {label}: through codelab-agent, {transport}"),
            ours: format!(
                "{:.0} tokens/s; added latency p50 {:.2} ms, p99 {:.2} ms",
                measured.rate,
                (pct(lat.clone(), 0.5) - pct(direct_lat.clone(), 0.5)) / 1000.0,
                (pct(lat.clone(), 0.99) - pct(direct_lat.clone(), 0.99)) / 1000.0
            ),
            baseline: format!("{direct_rate:.0} tokens/s direct"),
            ratio: format!("{:.2}x", measured.rate / direct_rate),
            target: "≥ 0.9x".into(),
            check: format!("{n} of {tokens} tokens in {notes} notifications"),
        });
    }
}

/// One turn streamed to a fresh server of `transport` (`stdio`:
/// `--standalone`; `daemon`: a `--stdio` forwarder to the daemon it
/// starts; `websocket`): the rate and the latency of every stamped token,
/// with the token and notification counts.
async fn relay_once(transport: &str, env: &[(&str, String)]) -> (Relayed, usize, usize, Vec<f64>) {
    let data = tempfile::tempdir().unwrap();
    let _daemon = support::daemon::Guard::new(data.path());
    // The process started: the server, or for `daemon` the forwarder (the
    // daemon is asked for its pid once it runs). Kept until the end.
    let (process, mut c) = match transport {
        "stdio" | "daemon" => {
            let mut p = if transport == "stdio" {
                support::ServerProcess::stdio_env(data.path(), env)
            } else {
                support::ServerProcess::daemon_client(data.path(), env)
            };
            let c = p.stdio_client();
            (p, c)
        }
        _ => {
            let p = support::ServerProcess::websocket_env(data.path(), env).await;
            let c = p.ws_client().await;
            (p, c)
        }
    };
    c.initialize(&[], None).await;
    let s = c
        .call("codelab/createSession", json!({"agent": "ask"}))
        .await;
    let own = process.child.id().unwrap();
    let (server, forwarder) = if transport == "daemon" {
        (
            support::daemon::status(data.path()).await.unwrap().pid,
            Some(own),
        )
    } else {
        (own, None)
    };
    let cpu0 = (cpu_secs(server), forwarder.map_or(0.0, cpu_secs));
    let t = Instant::now();
    c.call(
        "codelab/sendMessage",
        json!({"sessionId": s["id"], "text": "go"}),
    )
    .await;
    let mut lat = Vec::new();
    let mut n = 0;
    let mut notes = 0;
    loop {
        let msg = c.next_notification().await;
        match msg["method"].as_str() {
            Some("codelab/token") => {
                notes += 1;
                n += stamps(msg["params"]["delta"].as_str().unwrap_or(""), &mut lat);
            }
            Some("codelab/turnCompleted") => break,
            _ => {}
        }
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let measured = Relayed {
        rate,
        p50_us: pct(lat.clone(), 0.5),
        p99_us: pct(lat.clone(), 0.99),
        server_cpu: cpu_secs(server) - cpu0.0,
        forwarder_cpu: forwarder.map_or(0.0, cpu_secs) - cpu0.1,
    };
    c.done();
    (measured, n, notes, lat)
}

/// The stream through the daemon's stdio forwarder against the in-process
/// stdio server: `rounds` turns each, alternating (so load that comes and
/// goes hits both alike), after one warm-up each; medians. Both log at
/// `warn` (the test client otherwise collects a standalone server's debug
/// log from its stderr, and a daemon writes its own to a file).
async fn relay_compare(
    rows: &mut Vec<Row>,
    tokens: usize,
    every_ms: Option<u64>,
    label: &str,
    rounds: usize,
) {
    let (_mock, url, _script) = mock_process(2 * rounds + 2, tokens, every_ms).await;
    let env = vec![
        ("OPENAI_BASE_URL", format!("{url}/v1")),
        ("OPENAI_API_KEY", "sk-bench".to_owned()),
        ("CODELAB_MODEL", "m".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let (mut alone, mut daemon) = (Vec::new(), Vec::new());
    let mut all = true;
    for round in 0..=rounds {
        let (a, na, _, _) = relay_once("stdio", &env).await;
        let (d, nd, _, _) = relay_once("daemon", &env).await;
        all &= na == tokens && nd == tokens;
        if round > 0 {
            alone.push(a);
            daemon.push(d);
        }
    }
    let med = |v: &[Relayed], f: fn(&Relayed) -> f64| pct(v.iter().map(f).collect(), 0.5);
    let (ra, rd) = (med(&alone, |r| r.rate), med(&daemon, |r| r.rate));
    rows.push(Row {
        name: format!(
            "streaming {tokens} tokens {label}: daemon (stdio forwarder) vs in-process stdio"
        ),
        ours: format!(
            "{rd:.0} tokens/s; added latency p50 {:.3} ms, p99 {:.3} ms",
            (med(&daemon, |r| r.p50_us) - med(&alone, |r| r.p50_us)) / 1000.0,
            (med(&daemon, |r| r.p99_us) - med(&alone, |r| r.p99_us)) / 1000.0
        ),
        baseline: format!("{ra:.0} tokens/s, --standalone"),
        ratio: format!("{:.2}x", rd / ra),
        target: "≥ 0.95x, added p99 < 1 ms".into(),
        check: format!(
            "medians of {rounds} alternating runs each; CPU per run: forwarder {:.0} ms, \
             daemon {:.0} ms, standalone server {:.0} ms; {}",
            med(&daemon, |r| r.forwarder_cpu) * 1000.0,
            med(&daemon, |r| r.server_cpu) * 1000.0,
            med(&alone, |r| r.server_cpu) * 1000.0,
            if all {
                "every token received"
            } else {
                "TOKENS MISSING"
            }
        ),
    });
}

/// One `--stdio` client of the data dir's daemon (starting it if need be),
/// initialized: the time to the `initialize` answer.
async fn daemon_editor(
    data: &Path,
    env: &[(&str, String)],
) -> (f64, support::ServerProcess, support::Client) {
    let t = Instant::now();
    let mut p = support::ServerProcess::daemon_client(data, env);
    let mut c = p.stdio_client();
    c.initialize(&[], None).await;
    (t.elapsed().as_secs_f64(), p, c)
}

async fn daemon(rows: &mut Vec<Row>) {
    // Baseline: a standalone server's start, measured in the same run.
    let mut standalone = Vec::new();
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let mut server = support::ServerProcess::stdio(dir.path());
        let mut c = server.stdio_client();
        c.initialize(&[], None).await;
        standalone.push(t.elapsed().as_secs_f64());
        c.finish().await;
        server.wait().await;
    }
    let standalone = stats(standalone);
    // The first editor starts the daemon.
    let mut first = Vec::new();
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let _guard = support::daemon::Guard::new(dir.path());
        let (secs, mut p, c) = daemon_editor(dir.path(), &[]).await;
        first.push(secs);
        c.finish().await;
        p.wait().await;
        support::daemon::stop(dir.path()).await.unwrap();
    }
    let first = stats(first);
    rows.push(Row {
        name: "first editor: start-up to initialize, the daemon's start included".into(),
        ours: fmt_ms(first),
        baseline: format!("--standalone {}", fmt_ms(standalone)),
        ratio: format!("{:.2}x", first.0 / standalone.0),
        target: "< 50 ms".into(),
        check: "10 runs, fresh data dir each, one daemon started each".into(),
    });
    // Later editors connect to the running daemon.
    let dir = tempfile::tempdir().unwrap();
    let _guard = support::daemon::Guard::new(dir.path());
    let (_, mut p0, c0) = daemon_editor(dir.path(), &[]).await;
    let mut second = Vec::new();
    for _ in 0..20 {
        let (secs, mut p, c) = daemon_editor(dir.path(), &[]).await;
        second.push(secs);
        c.finish().await;
        p.wait().await;
    }
    let second = stats(second);
    let status = support::daemon::status(dir.path()).await.unwrap();
    rows.push(Row {
        name: "second editor: start-up to initialize from a running daemon".into(),
        ours: fmt_ms(second),
        baseline: format!("--standalone {}", fmt_ms(standalone)),
        ratio: format!("{:.2}x", second.0 / standalone.0),
        target: "< 10 ms".into(),
        check: format!("20 runs, all on daemon pid {}", status.pid),
    });
    // Idle memory with ten editors connected.
    let mut editors = Vec::new();
    for _ in 0..9 {
        editors.push(daemon_editor(dir.path(), &[]).await);
    }
    let status = support::daemon::status(dir.path()).await.unwrap();
    assert_eq!(status.connections, 10);
    let daemon_rss = rss_kib(status.pid);
    let daemon_anon = rss_anon_kib(status.pid);
    let pids: Vec<u32> = std::iter::once(&p0)
        .chain(editors.iter().map(|(_, p, _)| p))
        .map(|p| p.child.id().unwrap())
        .collect();
    let mean =
        |f: fn(u32) -> u64| pids.iter().map(|p| f(*p)).sum::<u64>() as f64 / pids.len() as f64;
    let forwarder = mean(rss_kib);
    let forwarder_anon = mean(rss_anon_kib);
    // Baseline: ten standalone servers, one per editor.
    let mut alone = Vec::new();
    let (mut alone_rss, mut alone_anon) = (0, 0);
    for _ in 0..10 {
        let d = tempfile::tempdir().unwrap();
        let mut server = support::ServerProcess::stdio(d.path());
        let mut c = server.stdio_client();
        c.initialize(&[], None).await;
        alone_rss += rss_kib(server.child.id().unwrap());
        alone_anon += rss_anon_kib(server.child.id().unwrap());
        alone.push((d, server, c));
    }
    let mib = |kib: f64| kib / 1024.0;
    let total = daemon_rss as f64 + forwarder * 10.0;
    let total_anon = daemon_anon as f64 + forwarder_anon * 10.0;
    rows.push(Row {
        name: "resident memory, idle daemon with 10 editors connected".into(),
        ours: format!(
            "daemon {:.1} MiB ({:.1} private) + 10 forwarders × {:.1} MiB ({:.2} private) \
             = {:.1} MiB ({:.1} private)",
            mib(daemon_rss as f64),
            mib(daemon_anon as f64),
            mib(forwarder),
            mib(forwarder_anon),
            mib(total),
            mib(total_anon)
        ),
        baseline: format!(
            "10 standalone servers {:.1} MiB ({:.1} private)",
            mib(alone_rss as f64),
            mib(alone_anon as f64)
        ),
        ratio: format!(
            "{:.2}x ({:.2}x private)",
            total / alone_rss as f64,
            total_anon / alone_anon as f64
        ),
        target: "—".into(),
        check: format!(
            "{} connections (daemon status); VmRSS (RssAnon)",
            status.connections
        ),
    });
    for (_, server, c) in alone {
        c.finish().await;
        drop(server);
    }
    for (_, mut p, c) in editors {
        c.finish().await;
        p.wait().await;
    }
    c0.finish().await;
    p0.wait().await;
    support::daemon::stop(dir.path()).await.unwrap();
    // The stream through the forwarder.
    relay_compare(rows, 100_000, None, "as fast as possible", 5).await;
    relay_compare(rows, 2_000, Some(1), "paced, 1 token/ms", 5).await;
}

async fn concurrency(rows: &mut Vec<Row>) {
    const N: usize = 200;
    let ws = tempfile::tempdir().unwrap();
    let mut replies = Vec::new();
    let words = 200usize;
    let answer: String = (0..words).map(|i| format!("w{i} ")).collect();
    for i in 0..N {
        std::fs::write(
            ws.path().join(format!("f{i}.txt")),
            format!("marker-{i}-end\n"),
        )
        .unwrap();
        replies.push(support::agent::when(
            &format!("client {i} please"),
            support::agent::call(
                &format!("c{i}"),
                "read_file",
                json!({"path": format!("f{i}.txt")}),
            ),
        ));
        let mut r = support::agent::text(&answer);
        r.matches = Some(format!("marker-{i}-end"));
        r.chunks[0].split = Some(4);
        replies.push(r);
    }
    let mock = mock_llm::MockLlm::start(mock_llm::Script { replies }).await;
    let data = tempfile::tempdir().unwrap();
    let server =
        support::ServerProcess::websocket_env(data.path(), &support::agent::llm_env(&mock)).await;
    let pid = server.child.id().unwrap();
    let root = support::file_uri(&ws.path().canonicalize().unwrap());
    let cpu0 = cpu_secs(pid);
    let t = Instant::now();
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
            let log =
                support::agent::drive(&mut c, r["turnId"].as_str().unwrap(), |_| None, |_| None)
                    .await;
            c.finish().await;
            log.text().len()
        }));
    }
    let mut chars = 0;
    for t in tasks {
        chars += t.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs(pid) - cpu0;
    let streamed_tokens = N * answer.len() / 4;
    rows.push(Row {
        name: "200 concurrent sessions, a turn with a tool call each".into(),
        ours: format!(
            "{:.0} turns/s, {:.1} µs CPU per streamed token",
            N as f64 / secs,
            cpu * 1e6 / streamed_tokens as f64
        ),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
        check: format!("{chars} characters streamed to {N} clients"),
    });
}

/// Durable appends on PostgreSQL (a throwaway cluster, fsync on) against
/// redb, the same load: 100 sessions appending 50 messages each at once.
async fn postgres(rows: &mut Vec<Row>) {
    async fn load(store: Arc<dyn Store>) -> (f64, f64, usize) {
        let a = appends(&store).await;
        store.close().await;
        (a.grouped, a.one, a.total)
    }
    let dir = tempfile::tempdir().unwrap();
    let (redb, redb_one, redb_total) = load(Arc::new(RedbStore::open(dir.path()).unwrap())).await;
    let url = support::postgres::cluster().fresh_database().await;
    let pg = codelab_agent::store::PgStore::connect(&url).await.unwrap();
    let (pg, pg_one, pg_total) = load(Arc::new(pg)).await;
    rows.push(Row {
        name:
            "durable appends, 100 concurrent sessions: PostgreSQL 15 (Unix socket, batched) vs redb"
                .into(),
        ours: format!("{pg:.0} events/s (one at a time: {pg_one:.0}/s)"),
        baseline: format!("redb {redb:.0} events/s (one at a time: {redb_one:.0}/s)"),
        ratio: format!("{:.2}x", pg / redb),
        target: "—".into(),
        check: format!("{pg_total} and {redb_total} messages read back"),
    });
}

/// `serve` instances on one PostgreSQL database (fresh), pointed at `llm`.
async fn pg_instances(n: usize, llm: &[(&str, String)]) -> Vec<support::ServerProcess> {
    let url = support::postgres::cluster().fresh_database().await;
    let mut out = Vec::new();
    for i in 0..n {
        let data = tempfile::tempdir().unwrap();
        let mut env: Vec<(&str, String)> = llm.to_vec();
        env.push(("CODELAB_INSTANCE_ID", format!("i{i}")));
        env.push(("RUST_LOG", "warn,codelab_agent::server::http=info".into()));
        let server = support::ServerProcess::websocket_args(
            data.path(),
            &env,
            &[
                "--store",
                &url,
                "--rate-limit",
                "1000000",
                "--token-rate-limit",
                "1000000",
            ],
        )
        .await;
        // The data dir only holds the token file; the store is the database.
        std::mem::forget(data);
        out.push(server);
    }
    out
}

/// Turns per second with 1, 2 and 3 instances on one database (clients
/// spread over them), and the latency of a token from the model through
/// the instance running the turn to a client attached on another.
async fn instances(rows: &mut Vec<Row>) {
    const N: usize = 60;
    let answer: String = (0..50).map(|i| format!("w{i} ")).collect();
    let mut per_instances = Vec::new();
    for k in 1..=3usize {
        let replies = (0..N).map(|_| support::agent::text(&answer)).collect();
        let mock = mock_llm::MockLlm::start(mock_llm::Script { replies }).await;
        let servers = pg_instances(k, &support::agent::llm_env(&mock)).await;
        let t = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..N {
            let mut c = servers[i % k].ws_client().await;
            tasks.push(tokio::spawn(async move {
                c.initialize(&[], None).await;
                let s = c
                    .call("codelab/createSession", json!({"agent": "ask"}))
                    .await;
                let r = c
                    .call(
                        "codelab/sendMessage",
                        json!({"sessionId": s["id"], "text": format!("client {i}")}),
                    )
                    .await;
                let log = support::agent::drive(
                    &mut c,
                    r["turnId"].as_str().unwrap(),
                    |_| None,
                    |_| None,
                )
                .await;
                c.done();
                log.text().len()
            }));
        }
        let mut chars = 0;
        for t in tasks {
            chars += t.await.unwrap();
        }
        let rate = N as f64 / t.elapsed().as_secs_f64();
        per_instances.push((k, rate, chars));
    }
    let base = per_instances[0].1;
    for (k, rate, chars) in per_instances {
        rows.push(Row {
            name: format!("{N} sessions, one turn each, {k} instance(s) on one PostgreSQL"),
            ours: format!("{rate:.1} turns/s"),
            baseline: if k == 1 {
                "—".into()
            } else {
                format!("1 instance {base:.1} turns/s")
            },
            ratio: format!("{:.2}x", rate / base),
            target: "—".into(),
            check: format!("{chars} characters streamed to {N} clients"),
        });
    }

    // Cross-instance latency: the turn runs on the first instance, the
    // client measuring is attached on the second.
    let (_mock, url, _script) = mock_process(1, 2_000, Some(1)).await;
    let llm = vec![
        ("OPENAI_BASE_URL", url),
        ("OPENAI_API_KEY", "sk-test-key".to_owned()),
        ("CODELAB_MODEL", "gpt-4o-mini".to_owned()),
    ];
    let servers = pg_instances(2, &llm).await;
    let mut a = servers[0].ws_client().await;
    let mut b = servers[1].ws_client().await;
    a.initialize(&[], None).await;
    b.initialize(&[], None).await;
    let s = a
        .call("codelab/createSession", json!({"agent": "ask"}))
        .await;
    b.call("codelab/attachSession", json!({"sessionId": s["id"]}))
        .await;
    a.call(
        "codelab/sendMessage",
        json!({"sessionId": s["id"], "text": "go"}),
    )
    .await;
    // Both clients read at once: a stamp is measured when its token arrives.
    let read = |mut c: support::Client| {
        tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0;
            loop {
                let msg = c.next_notification().await;
                match msg["method"].as_str() {
                    Some("codelab/token") => {
                        n += stamps(msg["params"]["delta"].as_str().unwrap_or(""), &mut lat);
                    }
                    Some("codelab/turnCompleted") => break,
                    _ => {}
                }
            }
            c.done();
            (lat, n)
        })
    };
    let (ta, tb) = (read(a), read(b));
    let ((on_a, na), (on_b, nb)) = (ta.await.unwrap(), tb.await.unwrap());
    rows.push(Row {
        name: "stream latency, model token to a client on another instance (2,000 tokens, 1/ms)"
            .into(),
        ours: format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            pct(on_b.clone(), 0.5) / 1000.0,
            pct(on_b.clone(), 0.99) / 1000.0
        ),
        baseline: format!(
            "client on the running instance: p50 {:.2} ms, p99 {:.2} ms",
            pct(on_a.clone(), 0.5) / 1000.0,
            pct(on_a.clone(), 0.99) / 1000.0
        ),
        ratio: "—".into(),
        target: "—".into(),
        check: format!("{nb} of {na} tokens reached the other instance"),
    });
}

/// The web IDE: its load time on loopback, idle and while the server
/// streams to other sessions (`editors/web/test/bench/load.mjs` in
/// Chromium, a cold cache each load), and the size of `editors/web/dist`.
fn web(rows: &mut Vec<Row>) {
    let repo = support::host::repo();
    let deps = support::host::run_bounded(
        "scripts/web-deps.sh",
        1800,
        Command::new("bash").arg(repo.join("scripts/web-deps.sh")),
    );
    let dep = |k: &str| -> String {
        deps.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("web-deps.sh did not print {k}"))
            .to_owned()
    };
    let work = tempfile::tempdir().unwrap();
    let out = support::host::run_bounded(
        "the web IDE's load benchmark",
        900,
        Command::new(dep("NODE"))
            .arg(repo.join("editors/web/test/bench/load.mjs"))
            .env("CODELAB_BIN", env!("CARGO_BIN_EXE_codelab-agent"))
            .env("MOCK_LLM_BIN", support::host::mock_llm_bin())
            .env("CHROMIUM", dep("CHROMIUM"))
            .env("WEB_MODULES", dep("WEB_MODULES"))
            .env("DIST", repo.join("editors/web/dist"))
            .env("WORK", work.path())
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY"),
    );
    let r: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or("{}")).unwrap();
    let loads = r["loads"].as_u64().unwrap();
    let series = |set: &str, k: &str| -> Vec<f64> {
        r[set]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l[k].as_f64().unwrap() / 1000.0)
            .collect()
    };
    for (set, name) in [
        ("idle", "web IDE: page load, idle".to_owned()),
        (
            "loaded",
            format!(
                "web IDE: page load while {} other sessions stream",
                r["streams"]
            ),
        ),
    ] {
        let check = if set == "idle" {
            format!("{loads} loads, each with an empty cache")
        } else {
            format!(
                "{loads} loads; {} tokens streamed to the other sessions meanwhile ({} tokens/s)",
                r["streamedTokens"], r["tokensPerSec"]
            )
        };
        rows.push(Row {
            name,
            ours: format!(
                "load {}; DOMContentLoaded {}; connected {}; editor ready {}",
                fmt_ms(stats(series(set, "load"))),
                fmt_ms(stats(series(set, "dcl"))),
                fmt_ms(stats(series(set, "connected"))),
                fmt_ms(stats(series(set, "editor"))),
            ),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "load < 1 s".into(),
            check,
        });
    }
    let b = &r["bundle"];
    rows.push(Row {
        name: "web IDE: the bundle (editors/web/dist)".into(),
        ours: format!(
            "{} bytes in {} files ({} gzip -9); the first paint's: {} bytes ({} gzip -9)",
            b["bytes"], b["files"], b["gzip"], b["firstPaintBytes"], b["firstPaintGzip"]
        ),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
        check: "the committed build".into(),
    });
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rows = Vec::new();
    if want("search") {
        match corpus() {
            Some(dir) => search_vs_rg(&mut rows, &dir),
            None => eprintln!("search: the corpus is missing; ./scripts/bench.sh installs it"),
        }
        if let Some(dir) = corpus() {
            rt.block_on(search_e2e(&mut rows, &dir));
        }
    }
    if want("startup") {
        rt.block_on(startup(&mut rows));
    }
    if want("store") {
        rt.block_on(store(&mut rows));
    }
    if want("postgres") {
        rt.block_on(postgres(&mut rows));
    }
    if want("instances") {
        rt.block_on(instances(&mut rows));
    }
    if want("stream") {
        rt.block_on(stream(&mut rows));
    }
    if want("peers") {
        rt.block_on(peers(&mut rows));
    }
    if want("relay") {
        rt.block_on(relay(&mut rows));
    }
    if want("daemon") {
        rt.block_on(daemon(&mut rows));
    }
    if want("concurrency") {
        rt.block_on(concurrency(&mut rows));
    }
    if want("web") {
        web(&mut rows);
    }
    println!("| benchmark | codelab-agent | baseline | ratio | target | check |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.name, r.ours, r.baseline, r.ratio, r.target, r.check
        );
    }
}
