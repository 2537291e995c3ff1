//! A scripted LLM server on loopback for codelab-agent's tests and benchmarks.
//!
//! It speaks OpenAI Chat Completions (`POST …/chat/completions`), Anthropic
//! Messages (`POST …/messages`) and, for text and tool calls, OpenAI
//! Responses (`POST …/responses`) as Server-Sent Events, exactly as the real
//! services frame them, from a [`Script`] of replies. Every request is
//! recorded; on every request it checks that each tool call in the history has
//! exactly one tool result, and records a violation (and answers 400) if not.
//!
//! Reasoning: OpenAI-compatible `reasoning_content` / `reasoning` deltas and
//! Anthropic `thinking` blocks with `signature_delta` (a thinking block sent
//! back without its signature is a violation), `redacted_thinking` blocks.
//! Paced (`paceMs`) and gated (`MockLlm::release`) text deltas.
//!
//! Faults: any HTTP status with `Retry-After`, a connection dropped mid-stream,
//! a stall (nothing more is sent until the client leaves), malformed events,
//! unknown event types, error events, waits, comments, CRLF line endings and
//! network chunks that split multibyte characters.
//!
//! Control endpoints for a standalone process: `GET /_mock/requests` (the
//! recorded requests), `GET /_mock/violations`, `POST /_mock/replies` (append
//! replies: a JSON array of [`Reply`]).
//!
//! With a context window set ([`MockLlm::set_context_window`]) every request
//! is counted with the mock's own tokenizer (o200k_base) and checked.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A script: replies handed out in order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Script {
    /// The replies.
    #[serde(default)]
    pub replies: Vec<Reply>,
}

/// One scripted reply.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reply {
    /// Only answer a request whose last message contains this text (first
    /// unconsumed match wins); without it, the first unconsumed reply.
    #[serde(default, rename = "match")]
    pub matches: Option<String>,
    /// HTTP status; anything but 200 answers with `body` and no stream.
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds, with a non-200 status.
    #[serde(default)]
    pub retry_after: Option<f64>,
    /// The body of a non-200 answer.
    #[serde(default)]
    pub body: Option<String>,
    /// The stream, in order.
    #[serde(default)]
    pub chunks: Vec<Chunk>,
    /// The finish reason in the format's own words; default: by content.
    /// `"none"` sends no finish at all (and no `[DONE]` / `message_stop`).
    #[serde(default)]
    pub finish: Option<String>,
    /// Use `\r\n` line endings.
    #[serde(default)]
    pub crlf: bool,
    /// Write the stream in network chunks of this many bytes.
    #[serde(default)]
    pub byte_chunk: Option<usize>,
}

/// One step of a stream. Each field present is played, in field order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chunk {
    /// Wait before this step, in milliseconds.
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// An SSE comment line (`: keep-alive`).
    #[serde(default)]
    pub comment: Option<String>,
    /// Text, sent as deltas of `split` characters (default: one delta).
    #[serde(default)]
    pub text: Option<String>,
    /// Characters per text delta.
    #[serde(default)]
    pub split: Option<usize>,
    /// A tool call.
    #[serde(default)]
    pub tool_call: Option<ToolCallChunk>,
    /// Token usage to report at the end.
    #[serde(default)]
    pub usage: Option<UsageChunk>,
    /// An event of a type the client does not know.
    #[serde(default)]
    pub unknown_event: bool,
    /// Bytes written as they are (malformed events, say).
    #[serde(default)]
    pub raw: Option<String>,
    /// An error event in the format's own shape.
    #[serde(default)]
    pub error: Option<ErrorChunk>,
    /// Close the connection abruptly here.
    #[serde(default)]
    pub drop: bool,
    /// Send nothing more, holding the connection open until the client leaves.
    #[serde(default)]
    pub stall: bool,
    /// Send this many one-token text deltas, each `T<microseconds since the
    /// Unix epoch>|` stamped when it is written, for latency measurements.
    #[serde(default)]
    pub stamped_tokens: Option<usize>,
    /// Wait this many milliseconds before each stamped token (paced streams).
    #[serde(default)]
    pub stamp_every_ms: Option<u64>,
    /// Reasoning, before `text`, in deltas of `split` characters: OpenAI
    /// `reasoning_content` deltas (or `reasoning`, see `reasoning_field`),
    /// an Anthropic `thinking` block ending with a `signature_delta`.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// OpenAI: the delta field reasoning is sent in (`reasoning_content`,
    /// the default, as DeepSeek and llama.cpp; `reasoning`, as vLLM and
    /// OpenRouter).
    #[serde(default)]
    pub reasoning_field: Option<String>,
    /// Anthropic: the thinking block's signature (default `sig-mock`).
    #[serde(default)]
    pub signature: Option<String>,
    /// Anthropic: a `redacted_thinking` block with this data.
    #[serde(default)]
    pub redacted_thinking: Option<String>,
    /// Wait this many milliseconds before each delta of `text` (paced streams).
    #[serde(default)]
    pub pace_ms: Option<u64>,
    /// Before each delta of `text`, wait until the test releases it
    /// ([`MockLlm::release`]): the test decides when the next one is sent.
    #[serde(default)]
    pub gated: bool,
}

/// A tool call in a stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolCallChunk {
    /// The call's id.
    pub id: String,
    /// The tool.
    pub name: String,
    /// The arguments, as a JSON object (or a string, sent verbatim).
    pub arguments: Value,
    /// Characters per arguments delta (default 4).
    #[serde(default)]
    pub split: Option<usize>,
    /// OpenAI: send the id and the name in separate deltas.
    #[serde(default)]
    pub split_header: bool,
}

/// Token usage.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageChunk {
    /// Input tokens (uncached).
    #[serde(default)]
    pub input: u64,
    /// Output tokens.
    #[serde(default)]
    pub output: u64,
    /// Input tokens read from cache.
    #[serde(default)]
    pub cache_read: u64,
    /// Input tokens written to cache.
    #[serde(default)]
    pub cache_write: u64,
}

/// An error event.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorChunk {
    /// The error type (`overloaded_error`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The message.
    pub message: String,
}

/// The wire format of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OpenAI Chat Completions.
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses (`POST …/responses`): text, stamped tokens, waits,
    /// tool calls (as `function_call` items) and usage; what the Codex CLI
    /// speaks. Reasoning and faults are Chat Completions and Messages only.
    Responses,
}

/// A request as received.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// The path.
    pub path: String,
    /// The format.
    pub format: Format,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
    /// Whether the client went away before the stream was complete.
    pub disconnected_early: bool,
    /// The prompt's tokens by the mock's own count (o200k_base), when a
    /// context window is set.
    pub prompt_tokens: Option<u64>,
    #[serde(skip)]
    received_at: Option<Instant>,
    #[serde(skip)]
    disconnected_at: Option<Instant>,
}

impl RecordedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// When the request arrived.
    pub fn received_at(&self) -> Option<Instant> {
        self.received_at
    }

    /// When the client disconnected before the end, if it did.
    pub fn disconnected_at(&self) -> Option<Instant> {
        self.disconnected_at
    }
}

#[derive(Default)]
struct Inner {
    context_window: Option<u64>,
    replies: VecDeque<Reply>,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Notify,
    /// Permits for gated deltas.
    gate: tokio::sync::Semaphore,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            changed: Notify::new(),
            gate: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running mock server. Stops when dropped.
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockLlm {
    /// Starts on a free loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(script: Script) -> Self {
        match Self::start_on("127.0.0.1:0", script).await {
            Ok(s) => s,
            Err(e) => panic!("mock-llm cannot bind: {e}"),
        }
    }

    /// Starts on `addr`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start_on(addr: &str, script: Script) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        {
            let mut inner = shared.lock();
            inner.replies = script.replies.into();
        }
        let app = Router::new()
            .route("/_mock/requests", get(list_requests))
            .route("/_mock/violations", get(list_violations))
            .route("/_mock/replies", post(add_replies))
            .route("/v1/models", get(models))
            .route("/props", get(props))
            .route("/{*path}", post(complete))
            // Real providers take large histories; so does the mock.
            .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL for OpenAI-style clients (`…/v1`).
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The base URL for Anthropic-style clients (`…/v1`).
    pub fn anthropic_base(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// Sets (or clears) a context window, in tokens, which `GET /v1/models`
    /// (vLLM's `max_model_len`) and `GET /props` (llama.cpp's `n_ctx`) then
    /// report for the model `gpt-4o-mini`; every request is then
    /// counted with the mock's own tokenizer (o200k_base, [`count_tokens`]);
    /// one over the window is a violation and is answered with the
    /// provider's real overflow error, and replies without scripted input
    /// usage report the counted prompt tokens, as a real provider does.
    pub fn set_context_window(&self, window: Option<u64>) {
        self.shared.lock().context_window = window;
    }

    /// Appends replies.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.lock().replies.extend(replies);
    }

    /// Lets `n` more gated deltas ([`Chunk::gated`]) go out.
    pub fn release(&self, n: usize) {
        self.shared.gate.add_permits(n);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Tool-call pairing violations and unscripted requests.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// How many scripted replies are left.
    pub fn remaining(&self) -> usize {
        self.shared.lock().replies.len()
    }

    /// Waits until request `index` (0-based) was disconnected early; returns when.
    pub async fn disconnected(&self, index: usize) -> Instant {
        loop {
            let notified = self.shared.changed.notified();
            if let Some(at) = self
                .shared
                .lock()
                .requests
                .get(index)
                .and_then(|r| r.disconnected_at)
            {
                return at;
            }
            notified.await;
        }
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_requests(&self, n: usize) {
        loop {
            let notified = self.shared.changed.notified();
            if self.shared.lock().requests.len() >= n {
                return;
            }
            notified.await;
        }
    }
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(shared.lock().requests))
}

/// vLLM's model list, with the context window set (404 without one).
async fn models(State(shared): State<Arc<Shared>>) -> Response {
    match shared.lock().context_window {
        Some(w) => Json(json!({"object": "list", "data": [
            {"id": "gpt-4o-mini", "object": "model", "owned_by": "vllm", "max_model_len": w}
        ]}))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// llama.cpp's server properties, with the context window set (404 without one).
async fn props(State(shared): State<Arc<Shared>>) -> Response {
    match shared.lock().context_window {
        Some(w) => Json(json!({"default_generation_settings": {"n_ctx": w}, "total_slots": 1}))
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn list_violations(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(shared.lock().violations))
}

async fn add_replies(
    State(shared): State<Arc<Shared>>,
    Json(replies): Json<Vec<Reply>>,
) -> StatusCode {
    shared.lock().replies.extend(replies);
    StatusCode::NO_CONTENT
}

/// The text the `match` of a reply is tested against: the last message's text.
fn last_text(format: Format, body: &Value) -> String {
    let list = if format == Format::Responses {
        &body["input"]
    } else {
        &body["messages"]
    };
    if let Value::String(s) = list {
        return s.clone();
    }
    let Some(last) = list.as_array().and_then(|m| m.last()) else {
        return String::new();
    };
    match (&last["content"], format) {
        (Value::String(s), _) => s.clone(),
        (Value::Array(blocks), _) => blocks
            .iter()
            .map(|b| match &b["content"] {
                Value::String(s) => s.clone(),
                _ => b["text"]
                    .as_str()
                    .or_else(|| b["output"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn bpe() -> &'static tiktoken_rs::CoreBPE {
    tiktoken_rs::o200k_base_singleton()
}

fn tokens(text: &str) -> u64 {
    bpe().encode_with_special_tokens(text).len() as u64
}

/// Tokens a message costs beyond its content (role and separators), as
/// OpenAI documents for its chat format.
const PER_MESSAGE: u64 = 3;

/// A request's prompt tokens by the mock's own tokenizer (o200k_base): the
/// system prompt, every message's text, tool calls with their arguments,
/// tool results, and the tool definitions as JSON.
pub fn count_tokens(format: Format, body: &Value) -> u64 {
    let mut n = 0u64;
    let text_of = |v: &Value| -> u64 {
        match v {
            Value::String(s) => tokens(s),
            Value::Array(blocks) => blocks
                .iter()
                .map(|b| match b["type"].as_str() {
                    Some("text") => tokens(b["text"].as_str().unwrap_or_default()),
                    Some("tool_use") => {
                        tokens(b["id"].as_str().unwrap_or_default())
                            + tokens(b["name"].as_str().unwrap_or_default())
                            + tokens(&b["input"].to_string())
                    }
                    Some("tool_result") => {
                        tokens(b["tool_use_id"].as_str().unwrap_or_default())
                            + match &b["content"] {
                                Value::String(s) => tokens(s),
                                other => tokens(&other.to_string()),
                            }
                    }
                    _ => tokens(&b.to_string()),
                })
                .sum(),
            Value::Null => 0,
            other => tokens(&other.to_string()),
        }
    };
    if format == Format::Responses {
        // Not counted item by item: the instructions and the input as text.
        return tokens(body["instructions"].as_str().unwrap_or_default())
            + tokens(&body["input"].to_string())
            + tokens(&body["tools"].to_string());
    }
    if format == Format::Anthropic {
        n += PER_MESSAGE + text_of(&body["system"]);
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        n += PER_MESSAGE + text_of(&m["content"]);
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            n += tokens(c["id"].as_str().unwrap_or_default())
                + tokens(c["function"]["name"].as_str().unwrap_or_default())
                + tokens(c["function"]["arguments"].as_str().unwrap_or_default());
        }
        if let Some(id) = m["tool_call_id"].as_str() {
            n += tokens(id);
        }
    }
    for t in body["tools"].as_array().into_iter().flatten() {
        n += tokens(&t.to_string());
    }
    n
}

/// The provider's own error for a prompt longer than the window.
pub fn overflow_body(format: Format, tokens: u64, window: u64) -> String {
    match format {
        Format::Openai | Format::Responses => json!({"error": {
            "message": format!("This model's maximum context length is {window} tokens. However, your messages resulted in {tokens} tokens. Please reduce the length of the messages."),
            "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
        Format::Anthropic => json!({"type": "error", "error": {"type": "invalid_request_error",
            "message": format!("prompt is too long: {tokens} tokens > {window} maximum")}}),
    }
    .to_string()
}

/// Checks that each tool call has exactly one result, and every result a call.
pub fn check_tool_pairing(format: Format, body: &Value) -> Result<(), String> {
    let mut calls: Vec<String> = Vec::new();
    let mut results: Vec<String> = Vec::new();
    for item in body["input"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("function_call") => {
                calls.push(item["call_id"].as_str().unwrap_or_default().to_owned())
            }
            Some("function_call_output") => {
                results.push(item["call_id"].as_str().unwrap_or_default().to_owned());
            }
            _ => {}
        }
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        match format {
            Format::Openai => {
                for c in m["tool_calls"].as_array().into_iter().flatten() {
                    calls.push(c["id"].as_str().unwrap_or_default().to_owned());
                }
                if m["role"] == "tool" {
                    results.push(m["tool_call_id"].as_str().unwrap_or_default().to_owned());
                }
            }
            Format::Responses => {}
            Format::Anthropic => {
                for b in m["content"].as_array().into_iter().flatten() {
                    if b["type"] == "thinking" && b["signature"].as_str().is_none_or(str::is_empty)
                    {
                        return Err("a thinking block without its signature".to_owned());
                    }
                    match b["type"].as_str() {
                        Some("tool_use") => {
                            calls.push(b["id"].as_str().unwrap_or_default().to_owned())
                        }
                        Some("tool_result") => {
                            results.push(b["tool_use_id"].as_str().unwrap_or_default().to_owned())
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for c in &calls {
        let n = results.iter().filter(|r| *r == c).count();
        if n != 1 {
            return Err(format!("tool call {c} has {n} results"));
        }
    }
    for r in &results {
        if !calls.contains(r) {
            return Err(format!("tool result {r} answers no call"));
        }
    }
    Ok(())
}

async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let format = if path.ends_with("chat/completions") {
        Format::Openai
    } else if path.ends_with("messages") {
        Format::Anthropic
    } else if path.ends_with("responses") {
        Format::Responses
    } else {
        return (
            StatusCode::NOT_FOUND,
            format!("mock-llm: no endpoint /{path}"),
        )
            .into_response();
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("mock-llm: body is not JSON: {e}"),
            )
                .into_response();
        }
    };
    let text = last_text(format, &body);
    let model = body["model"].as_str().unwrap_or("mock").to_owned();
    let pairing = check_tool_pairing(format, &body);
    let window = shared.lock().context_window;
    let prompt_tokens = window.map(|_| count_tokens(format, &body));
    let overflow = match (prompt_tokens, window) {
        (Some(t), Some(w)) if t > w => Some((t, w)),
        _ => None,
    };
    let (index, reply) = {
        let mut inner = shared.lock();
        let index = inner.requests.len();
        inner.requests.push(RecordedRequest {
            path: format!("/{path}"),
            format,
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
            disconnected_early: false,
            prompt_tokens,
            received_at: Some(Instant::now()),
            disconnected_at: None,
        });
        if let Err(v) = &pairing {
            inner.violations.push(format!("request {index}: {v}"));
        }
        if let Some((t, w)) = overflow {
            inner.violations.push(format!(
                "request {index}: {t} prompt tokens, over the context window of {w}"
            ));
            shared.changed.notify_waiters();
            return (StatusCode::BAD_REQUEST, overflow_body(format, t, w)).into_response();
        }
        let pos = inner
            .replies
            .iter()
            .position(|r| r.matches.as_ref().is_none_or(|m| text.contains(m.as_str())));
        let reply = if pairing.is_ok() {
            pos.and_then(|p| inner.replies.remove(p))
        } else {
            None
        };
        if reply.is_none() && pairing.is_ok() {
            inner.violations.push(format!(
                "request {index}: no scripted reply left (last message: {text:?})"
            ));
        }
        (index, reply)
    };
    shared.changed.notify_waiters();
    if let Err(v) = pairing {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"type": "invalid_request_error", "message": v}})),
        )
            .into_response();
    }
    let Some(reply) = reply else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "mock-llm: script exhausted",
        )
            .into_response();
    };
    if let Some(status) = reply.status.filter(|s| *s != 200) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (
            status,
            reply.body.clone().unwrap_or_else(|| {
                json!({"error": {"type": "mock", "message": format!("scripted {status}")}})
                    .to_string()
            }),
        )
            .into_response();
        if let Some(secs) = reply.retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    let mut reply = reply;
    if let Some(t) = prompt_tokens {
        // A real provider reports what it counted.
        let mut usage = reply
            .chunks
            .iter()
            .filter_map(|c| c.usage)
            .next_back()
            .unwrap_or_default();
        if usage.input == 0 && usage.cache_read == 0 && usage.cache_write == 0 {
            usage.input = t;
            reply.chunks.push(Chunk {
                usage: Some(usage),
                ..Chunk::default()
            });
        }
    }
    let steps = if format == Format::Responses {
        render_responses(&model, &reply)
    } else {
        render(format, &model, &reply)
    };
    let guard = DisconnectGuard {
        shared: Arc::clone(&shared),
        index,
        finished: false,
        text: String::new(),
    };
    let stream = futures::stream::unfold(
        (steps.into_iter(), guard),
        |(mut steps, mut guard)| async move {
            loop {
                match steps.next() {
                    None => {
                        guard.mark_finished();
                        return None;
                    }
                    Some(Step::Stamped(format)) => {
                        let us = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_micros())
                            .unwrap_or(0);
                        let token = format!("T{us}|");
                        if format == Format::Responses {
                            let line = responses_delta(&token);
                            guard.text.push_str(&token);
                            return Some((
                                Ok::<Bytes, std::io::Error>(Bytes::from(line)),
                                (steps, guard),
                            ));
                        }
                        let data = match format {
                            Format::Openai | Format::Responses => {
                                json!({"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": null}]})
                            }
                            Format::Anthropic => {
                                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}})
                            }
                        };
                        let line = match format {
                            Format::Openai | Format::Responses => format!("data: {data}\n\n"),
                            Format::Anthropic => {
                                format!("event: content_block_delta\ndata: {data}\n\n")
                            }
                        };
                        return Some((
                            Ok::<Bytes, std::io::Error>(Bytes::from(line)),
                            (steps, guard),
                        ));
                    }
                    Some(Step::Bytes(b)) => {
                        return Some((Ok::<Bytes, std::io::Error>(Bytes::from(b)), (steps, guard)));
                    }
                    Some(Step::ResponsesText(t)) => {
                        guard.text.push_str(&t);
                        return Some((
                            Ok::<Bytes, std::io::Error>(Bytes::from(responses_delta(&t))),
                            (steps, guard),
                        ));
                    }
                    Some(Step::ResponsesEnd {
                        model,
                        calls,
                        usage,
                    }) => {
                        let end = responses_end(&model, &guard.text, calls, usage);
                        return Some((
                            Ok::<Bytes, std::io::Error>(Bytes::from(end)),
                            (steps, guard),
                        ));
                    }
                    Some(Step::Wait(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    Some(Step::Gate) => {
                        if let Ok(permit) = guard.shared.gate.acquire().await {
                            permit.forget();
                        }
                    }
                    Some(Step::Stall) => std::future::pending::<()>().await,
                    Some(Step::Drop) => {
                        guard.mark_finished(); // the server chose to end it; not a client disconnect
                        return Some((
                            Err(std::io::Error::other("mock-llm: scripted drop")),
                            (steps, guard),
                        ));
                    }
                }
            }
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Records a disconnect when the body stream is dropped before its end.
struct DisconnectGuard {
    shared: Arc<Shared>,
    index: usize,
    finished: bool,
    /// Responses: the text sent so far, repeated in the message item at the end.
    text: String,
}

impl DisconnectGuard {
    fn mark_finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        if !self.finished {
            if let Some(r) = self.shared.lock().requests.get_mut(self.index) {
                r.disconnected_early = true;
                r.disconnected_at = Some(Instant::now());
            }
            self.shared.changed.notify_waiters();
        }
    }
}

enum Step {
    Bytes(Vec<u8>),
    /// Responses: a text delta, also kept for the message item at the end.
    ResponsesText(String),
    /// Responses: the message item (with the text sent), the function
    /// calls, `response.completed`.
    ResponsesEnd {
        model: String,
        calls: Vec<Value>,
        usage: UsageChunk,
    },
    /// A text delta stamped with the time it is written.
    Stamped(Format),
    Wait(u64),
    /// Wait for a release by the test.
    Gate,
    Stall,
    Drop,
}

/// Responses: one `response.output_text.delta` event.
fn responses_delta(delta: &str) -> String {
    format!(
        "event: response.output_text.delta\ndata: {}\n\n",
        json!({"type": "response.output_text.delta", "item_id": "msg_mock", "output_index": 0,
               "content_index": 0, "delta": delta})
    )
}

/// Responses: the events that end a reply: the message item done with its
/// whole text, each function call's item, `response.completed` with usage.
fn responses_end(model: &str, text: &str, calls: Vec<Value>, usage: UsageChunk) -> String {
    let mut out = String::new();
    let mut ev = |v: Value| {
        out.push_str(&format!(
            "event: {}\ndata: {v}\n\n",
            v["type"].as_str().unwrap_or("")
        ));
    };
    let part = json!({"type": "output_text", "text": text, "annotations": []});
    let message = json!({"id": "msg_mock", "type": "message", "status": "completed", "role": "assistant",
                         "content": [part]});
    ev(
        json!({"type": "response.output_text.done", "item_id": "msg_mock", "output_index": 0,
              "content_index": 0, "text": text}),
    );
    ev(
        json!({"type": "response.content_part.done", "item_id": "msg_mock", "output_index": 0,
              "content_index": 0, "part": part}),
    );
    ev(json!({"type": "response.output_item.done", "output_index": 0, "item": message}));
    let mut output = vec![message];
    for (i, call) in calls.into_iter().enumerate() {
        let index = i + 1;
        ev(
            json!({"type": "response.output_item.added", "output_index": index,
                  "item": {"type": "function_call", "id": call["id"], "call_id": call["call_id"],
                           "name": call["name"], "arguments": "", "status": "in_progress"}}),
        );
        ev(
            json!({"type": "response.function_call_arguments.delta", "item_id": call["id"],
                  "output_index": index, "delta": call["arguments"]}),
        );
        ev(
            json!({"type": "response.function_call_arguments.done", "item_id": call["id"],
                  "output_index": index, "arguments": call["arguments"]}),
        );
        ev(json!({"type": "response.output_item.done", "output_index": index, "item": call}));
        output.push(call);
    }
    let input = usage.input + usage.cache_read + usage.cache_write;
    ev(json!({"type": "response.completed", "response": {
        "id": "resp_mock", "object": "response", "created_at": 0, "status": "completed", "model": model,
        "output": output,
        "usage": {"input_tokens": input, "input_tokens_details": {"cached_tokens": usage.cache_read},
                  "output_tokens": usage.output, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": input + usage.output}}}));
    out
}

/// The steps of a reply in the Responses format.
fn render_responses(model: &str, reply: &Reply) -> Vec<Step> {
    let mut steps = Vec::new();
    let ev = |steps: &mut Vec<Step>, v: Value| {
        let line = format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or(""));
        steps.push(Step::Bytes(line.into_bytes()));
    };
    let response = json!({"id": "resp_mock", "object": "response", "created_at": 0, "status": "in_progress",
                          "model": model, "output": []});
    ev(
        &mut steps,
        json!({"type": "response.created", "response": response}),
    );
    ev(
        &mut steps,
        json!({"type": "response.in_progress", "response": response}),
    );
    ev(
        &mut steps,
        json!({"type": "response.output_item.added", "output_index": 0,
                          "item": {"id": "msg_mock", "type": "message", "status": "in_progress",
                                   "role": "assistant", "content": []}}),
    );
    ev(
        &mut steps,
        json!({"type": "response.content_part.added", "item_id": "msg_mock", "output_index": 0,
                          "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
    );
    let mut calls = Vec::new();
    for c in &reply.chunks {
        if let Some(ms) = c.wait_ms {
            steps.push(Step::Wait(ms));
        }
        if let Some(text) = &c.text {
            for p in pieces(text, c.split.unwrap_or(usize::MAX)) {
                if let Some(ms) = c.pace_ms {
                    steps.push(Step::Wait(ms));
                }
                steps.push(Step::ResponsesText(p));
            }
        }
        if let Some(n) = c.stamped_tokens {
            for _ in 0..n {
                if let Some(ms) = c.stamp_every_ms {
                    steps.push(Step::Wait(ms));
                }
                steps.push(Step::Stamped(Format::Responses));
            }
        }
        if let Some(tc) = &c.tool_call {
            let args = match &tc.arguments {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            calls.push(
                json!({"type": "function_call", "id": format!("fc_{}", tc.id), "call_id": tc.id,
                              "name": tc.name, "arguments": args, "status": "completed"}),
            );
        }
    }
    let usage = reply
        .chunks
        .iter()
        .filter_map(|c| c.usage)
        .next_back()
        .unwrap_or_default();
    steps.push(Step::ResponsesEnd {
        model: model.to_owned(),
        calls,
        usage,
    });
    steps
}

/// Splits a string into pieces of `n` characters.
fn pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

struct Writer {
    steps: Vec<Step>,
    crlf: bool,
    byte_chunk: Option<usize>,
}

impl Writer {
    fn raw(&mut self, text: &str) {
        let text = if self.crlf {
            text.replace("\r\n", "\n").replace('\n', "\r\n")
        } else {
            text.to_owned()
        };
        match self.byte_chunk {
            Some(n) => {
                for c in text.as_bytes().chunks(n.max(1)) {
                    self.steps.push(Step::Bytes(c.to_vec()));
                }
            }
            None => self.steps.push(Step::Bytes(text.into_bytes())),
        }
    }
    fn data(&mut self, event: Option<&str>, data: &Value) {
        let mut s = String::new();
        if let Some(e) = event {
            s.push_str("event: ");
            s.push_str(e);
            s.push('\n');
        }
        s.push_str("data: ");
        s.push_str(&data.to_string());
        s.push_str("\n\n");
        self.raw(&s);
    }
}

fn render(format: Format, model: &str, reply: &Reply) -> Vec<Step> {
    let mut w = Writer {
        steps: Vec::new(),
        crlf: reply.crlf,
        byte_chunk: reply.byte_chunk,
    };
    let usage = reply
        .chunks
        .iter()
        .filter_map(|c| c.usage)
        .next_back()
        .unwrap_or_default();
    let mut has_tools = false;
    let mut tool_index = 0u64;
    let mut block = 0u64;
    let mut text_open = false;
    let mut ended_early = false;
    let oa = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    match format {
        Format::Openai | Format::Responses => w.data(None, &oa(json!({"role": "assistant", "content": ""}), Value::Null)),
        Format::Anthropic => w.data(
            Some("message_start"),
            &json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant",
                    "model": model, "content": [], "stop_reason": null,
                    "usage": {"input_tokens": usage.input, "output_tokens": 1,
                              "cache_read_input_tokens": usage.cache_read, "cache_creation_input_tokens": usage.cache_write}}}),
        ),
    }
    for c in &reply.chunks {
        if let Some(ms) = c.wait_ms {
            w.steps.push(Step::Wait(ms));
        }
        if let Some(comment) = &c.comment {
            w.raw(&format!(": {comment}\n\n"));
        }
        if let Some(reasoning) = &c.reasoning {
            let split = c.split.unwrap_or(usize::MAX);
            if format == Format::Anthropic {
                if text_open {
                    w.data(
                        Some("content_block_stop"),
                        &json!({"type": "content_block_stop", "index": block}),
                    );
                    text_open = false;
                    block += 1;
                }
                w.data(Some("content_block_start"), &json!({"type": "content_block_start", "index": block, "content_block": {"type": "thinking", "thinking": ""}}));
            }
            let field = c.reasoning_field.as_deref().unwrap_or("reasoning_content");
            for p in pieces(reasoning, split) {
                match format {
                    Format::Openai | Format::Responses => w.data(None, &oa(json!({field: p}), Value::Null)),
                    Format::Anthropic => w.data(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": block, "delta": {"type": "thinking_delta", "thinking": p}})),
                }
            }
            if format == Format::Anthropic {
                let sig = c.signature.as_deref().unwrap_or("sig-mock");
                w.data(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": block, "delta": {"type": "signature_delta", "signature": sig}}));
                w.data(
                    Some("content_block_stop"),
                    &json!({"type": "content_block_stop", "index": block}),
                );
                block += 1;
            }
        }
        if let Some(data) = &c.redacted_thinking
            && format == Format::Anthropic
        {
            if text_open {
                w.data(
                    Some("content_block_stop"),
                    &json!({"type": "content_block_stop", "index": block}),
                );
                text_open = false;
                block += 1;
            }
            w.data(Some("content_block_start"), &json!({"type": "content_block_start", "index": block, "content_block": {"type": "redacted_thinking", "data": data}}));
            w.data(
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": block}),
            );
            block += 1;
        }
        if let Some(text) = &c.text {
            let split = c.split.unwrap_or(usize::MAX);
            if format == Format::Anthropic && !text_open {
                w.data(Some("content_block_start"), &json!({"type": "content_block_start", "index": block, "content_block": {"type": "text", "text": ""}}));
                text_open = true;
            }
            for p in pieces(text, split) {
                if let Some(ms) = c.pace_ms {
                    w.steps.push(Step::Wait(ms));
                }
                if c.gated {
                    w.steps.push(Step::Gate);
                }
                match format {
                    Format::Openai | Format::Responses => w.data(None, &oa(json!({"content": p}), Value::Null)),
                    Format::Anthropic => w.data(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": block, "delta": {"type": "text_delta", "text": p}})),
                }
            }
        }
        if let Some(n) = c.stamped_tokens {
            if format == Format::Anthropic && !text_open {
                w.data(Some("content_block_start"), &json!({"type": "content_block_start", "index": block, "content_block": {"type": "text", "text": ""}}));
                text_open = true;
            }
            for _ in 0..n {
                if let Some(ms) = c.stamp_every_ms {
                    w.steps.push(Step::Wait(ms));
                }
                w.steps.push(Step::Stamped(format));
            }
        }
        if let Some(tc) = &c.tool_call {
            has_tools = true;
            let args = match &tc.arguments {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let split = tc.split.unwrap_or(4);
            match format {
                Format::Openai | Format::Responses => {
                    if tc.split_header {
                        w.data(None, &oa(json!({"tool_calls": [{"index": tool_index, "id": tc.id, "type": "function", "function": {"arguments": ""}}]}), Value::Null));
                        w.data(None, &oa(json!({"tool_calls": [{"index": tool_index, "function": {"name": tc.name}}]}), Value::Null));
                    } else {
                        w.data(None, &oa(json!({"tool_calls": [{"index": tool_index, "id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": ""}}]}), Value::Null));
                    }
                    for p in pieces(&args, split) {
                        w.data(None, &oa(json!({"tool_calls": [{"index": tool_index, "function": {"arguments": p}}]}), Value::Null));
                    }
                }
                Format::Anthropic => {
                    if text_open {
                        w.data(
                            Some("content_block_stop"),
                            &json!({"type": "content_block_stop", "index": block}),
                        );
                        text_open = false;
                        block += 1;
                    }
                    w.data(Some("content_block_start"), &json!({"type": "content_block_start", "index": block, "content_block": {"type": "tool_use", "id": tc.id, "name": tc.name, "input": {}}}));
                    for p in pieces(&args, split) {
                        w.data(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": block, "delta": {"type": "input_json_delta", "partial_json": p}}));
                    }
                    w.data(
                        Some("content_block_stop"),
                        &json!({"type": "content_block_stop", "index": block}),
                    );
                    block += 1;
                }
            }
            tool_index += 1;
        }
        if c.unknown_event {
            match format {
                Format::Openai | Format::Responses => w.data(
                    Some("mystery"),
                    &json!({"object": "mystery.event", "choices": []}),
                ),
                Format::Anthropic => w.data(
                    Some("mystery_event"),
                    &json!({"type": "mystery_event", "detail": 1}),
                ),
            }
        }
        if let Some(raw) = &c.raw {
            w.raw(raw);
        }
        if let Some(err) = &c.error {
            match format {
                Format::Openai | Format::Responses => w.data(
                    None,
                    &json!({"error": {"type": err.kind, "message": err.message}}),
                ),
                Format::Anthropic => w.data(
                    Some("error"),
                    &json!({"type": "error", "error": {"type": err.kind, "message": err.message}}),
                ),
            }
        }
        if c.drop {
            // Let what was written reach the client before the connection is cut.
            w.steps.push(Step::Wait(50));
            w.steps.push(Step::Drop);
            ended_early = true;
            break;
        }
        if c.stall {
            w.steps.push(Step::Stall);
            ended_early = true;
            break;
        }
    }
    if ended_early || reply.finish.as_deref() == Some("none") {
        return w.steps;
    }
    match format {
        Format::Openai | Format::Responses => {
            let finish = reply
                .finish
                .clone()
                .unwrap_or_else(|| if has_tools { "tool_calls" } else { "stop" }.to_owned());
            w.data(None, &oa(json!({}), json!(finish)));
            w.data(None, &json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
                "usage": {"prompt_tokens": usage.input + usage.cache_read, "completion_tokens": usage.output,
                          "total_tokens": usage.input + usage.cache_read + usage.output,
                          "prompt_tokens_details": {"cached_tokens": usage.cache_read}}}));
            w.raw("data: [DONE]\n\n");
        }
        Format::Anthropic => {
            if text_open {
                w.data(
                    Some("content_block_stop"),
                    &json!({"type": "content_block_stop", "index": block}),
                );
            }
            w.data(Some("ping"), &json!({"type": "ping"}));
            let finish = reply
                .finish
                .clone()
                .unwrap_or_else(|| if has_tools { "tool_use" } else { "end_turn" }.to_owned());
            w.data(Some("message_delta"), &json!({"type": "message_delta", "delta": {"stop_reason": finish, "stop_sequence": null},
                "usage": {"output_tokens": usage.output}}));
            w.data(Some("message_stop"), &json!({"type": "message_stop"}));
        }
    }
    w.steps
}
