//! Sends chat requests and owns every failure: timeouts, retries, the
//! circuit breaker, cancellation and the LLM events.
//!
//! [`LlmClient::stream`] starts the request in its own task and returns an
//! [`LlmStream`]. Dropping the stream cancels at once: the task watches for
//! the drop while it waits for the network, and dropping the HTTP response
//! closes the connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use eventsource_stream::{EventStreamError, Eventsource};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::breaker::{Breaker, BreakerState};
use super::config::Target;
use super::error::{LlmError, TimeoutPhase};
use super::{ChatRequest, FinishReason, LlmEvent, Usage, join_url, provider_for};
use crate::domain::events::{RequestCompleted, RequestFailed, RequestStarted};
use crate::domain::{SessionId, TurnId};
use crate::events::{Event, EventBus, EventKind};

/// The session and turn a request belongs to, for events.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallContext {
    /// The session.
    pub session_id: Option<SessionId>,
    /// The turn.
    pub turn_id: Option<TurnId>,
}

/// A batch of events: everything decoded from the bytes that were ready.
type Batch = Vec<Result<LlmEvent, LlmError>>;

/// The most events sent in one batch.
const MAX_BATCH: usize = 1024;

/// The least time between two hand-offs to the consumer while events
/// arrive faster than that (a paced stream's event goes at once).
const HAND_OFF: Duration = Duration::from_millis(1);

/// The events of one request. Drop it to cancel the request.
#[derive(Debug)]
pub struct LlmStream {
    rx: mpsc::Receiver<Batch>,
    ready: std::collections::VecDeque<Result<LlmEvent, LlmError>>,
}

impl LlmStream {
    /// The next event; `None` after the last. An `Err` is always the last
    /// item. Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<LlmEvent, LlmError>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            let batch = self.rx.recv().await?;
            self.ready.extend(batch);
        }
    }

    /// The next event if one was already received, without waiting.
    pub fn next_ready(&mut self) -> Option<Result<LlmEvent, LlmError>> {
        self.ready.pop_front()
    }
}

/// The LLM client: one per process, shared by every turn.
#[derive(Debug)]
pub struct LlmClient {
    http: reqwest::Client,
    io: IoThread,
    breakers: Mutex<HashMap<String, Arc<Breaker>>>,
    /// Context windows servers reported, by base URL and model.
    windows: Mutex<HashMap<String, Option<u64>>>,
    bus: Arc<EventBus>,
}

/// How long to wait at most for a `Retry-After`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl LlmClient {
    /// A client whose connections time out after `connect_timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new(connect_timeout: Duration, bus: Arc<EventBus>) -> Result<Self, LlmError> {
        // reqwest is built without a default crypto provider; install ring's once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(concat!("codelab-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Connect(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            io: IoThread::start()?,
            breakers: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
            bus,
        })
    }

    fn breaker(&self, target: &Target) -> Arc<Breaker> {
        let key = format!("{}@{}", target.provider, target.endpoint.base_url);
        let mut map = self
            .breakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(key).or_insert_with(|| {
            Arc::new(Breaker::new(
                target.resilience.breaker_threshold,
                target.resilience.breaker_cooldown,
            ))
        }))
    }

    /// Every provider's breaker state, by provider name (the base URL is not
    /// shown: it may carry credentials).
    pub fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        let map = self
            .breakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut v: Vec<_> = map
            .iter()
            .map(|(k, b)| (k.split('@').next().unwrap_or(k).to_owned(), b.state()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The context window an OpenAI-compatible server reports for the
    /// target's model, asked once per base URL and model: vLLM's
    /// `max_model_len` in `GET /models`, else llama.cpp's `n_ctx` in
    /// `GET /props`. `None` for OpenAI itself, Anthropic, and servers that
    /// report nothing (within two seconds).
    pub async fn server_window(&self, target: &Target) -> Option<u64> {
        if target.kind != super::ProviderKind::Openai
            || target.endpoint.base_url.contains("api.openai.com")
        {
            return None;
        }
        let key = format!("{}#{}", target.endpoint.base_url, target.model);
        if let Some(known) = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return *known;
        }
        let get = |url: String| {
            let mut rb = self.http.get(url).timeout(Duration::from_secs(2));
            if let Some(k) = &target.endpoint.api_key {
                rb = rb.bearer_auth(k);
            }
            // On the I/O thread, as every request: the connection it opens
            // may carry the next streamed request.
            let asked = self.io.handle.spawn(async move {
                let r = rb.send().await.ok()?;
                if !r.status().is_success() {
                    return None;
                }
                r.json::<serde_json::Value>().await.ok()
            });
            async move { asked.await.ok().flatten() }
        };
        let base = &target.endpoint.base_url;
        let mut found = get(join_url(base, "models")).await.and_then(|v| {
            v["data"]
                .as_array()?
                .iter()
                .find(|m| m["id"].as_str() == Some(target.model.as_str()))
                .and_then(|m| m["max_model_len"].as_u64())
        });
        if found.is_none() {
            let root = base.trim_end_matches('/').trim_end_matches("/v1");
            found = get(join_url(root, "props")).await.and_then(|v| {
                v["default_generation_settings"]["n_ctx"]
                    .as_u64()
                    .or_else(|| v["n_ctx"].as_u64())
            });
        }
        if let Some(w) = found {
            tracing::info!(model = %target.model, window = w, "the server reports its context window");
        }
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, found);
        found
    }

    /// Starts a streamed request.
    pub fn stream(&self, target: &Target, request: ChatRequest, ctx: CallContext) -> LlmStream {
        // Batches, not events: one hand-off between the tasks per network
        // read rather than per token.
        let (tx, rx) = mpsc::channel(64);
        let job = Job {
            http: self.http.clone(),
            breaker: self.breaker(target),
            bus: Arc::clone(&self.bus),
            target: target.clone(),
            request,
            ctx,
            tx,
        };
        self.io.handle.spawn(job.run());
        LlmStream {
            rx,
            ready: std::collections::VecDeque::new(),
        }
    }
}

/// The thread every model request runs on: a runtime of its own, on one
/// thread. Reading a streamed response hands each HTTP chunk from hyper's
/// connection task to the request's task; on the server's multi-threaded
/// runtime, a fast stream makes these two tasks wake the other worker
/// thread over and over (tens of thousands of wake-ups and context switches
/// for 50,000 tokens). Here the hand-offs stay on one thread, and the
/// request's task hands the decoded events over to the turn at most once
/// per [`HAND_OFF`] while they arrive fast. One thread serves every
/// session: decoding is a few microseconds per token.
#[derive(Debug)]
struct IoThread {
    handle: tokio::runtime::Handle,
    /// Dropped with the client: the thread's runtime ends, and with it every
    /// request still running.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl IoThread {
    fn start() -> Result<Self, LlmError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LlmError::Connect(format!("cannot start the model I/O runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("codelab-llm-io".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| LlmError::Connect(format!("cannot start the model I/O thread: {e}")))?;
        Ok(Self {
            handle,
            _stop: stop,
        })
    }
}

struct Job {
    http: reqwest::Client,
    breaker: Arc<Breaker>,
    bus: Arc<EventBus>,
    target: Target,
    request: ChatRequest,
    ctx: CallContext,
    tx: mpsc::Sender<Batch>,
}

/// What one successful attempt saw.
#[derive(Default)]
struct Outcome {
    usage: Usage,
    finish: Option<FinishReason>,
    first_output: Option<Duration>,
}

impl Job {
    fn publish(&self, kind: EventKind) {
        self.bus
            .publish(Event::new(kind).in_turn(self.ctx.session_id, self.ctx.turn_id));
    }

    fn failed(
        &self,
        attempt: u32,
        reason: &str,
        error: String,
        retrying: bool,
        partial_output: Option<bool>,
        duration_ms: Option<u64>,
    ) {
        self.publish(EventKind::RequestFailed(RequestFailed {
            provider: self.target.provider.clone(),
            model: self.target.model.clone(),
            attempt,
            reason: reason.to_owned(),
            error,
            retrying,
            partial_output,
            duration_ms,
        }));
    }

    fn secrets(&self) -> Vec<&str> {
        let mut s: Vec<&str> = self
            .target
            .endpoint
            .headers
            .iter()
            .map(|(_, v)| v.as_str())
            .collect();
        if let Some(k) = &self.target.endpoint.api_key {
            s.push(k);
        }
        s
    }

    async fn run(self) {
        let r = &self.target.resilience;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(r.min_delay)
            .with_max_delay(r.max_delay)
            .with_max_times(r.max_retries)
            .with_jitter()
            .build();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Err(retry_in) = self.breaker.acquire() {
                let err = LlmError::CircuitOpen {
                    provider: self.target.provider.clone(),
                    retry_in,
                };
                self.failed(attempt, err.reason(), err.to_string(), false, None, None);
                let _ = self.tx.send(vec![Err(err)]).await;
                return;
            }
            self.publish(EventKind::RequestStarted(RequestStarted {
                provider: self.target.provider.clone(),
                model: self.target.model.clone(),
                attempt,
            }));
            let started = Instant::now();
            let mut streamed = false;
            let result = tokio::select! {
                r = self.attempt(&mut streamed) => r,
                () = self.tx.closed() => Err(LlmError::Cancelled),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(outcome) => {
                    self.breaker.success();
                    let cost = self.target.prices.cost(&self.target.model, &outcome.usage);
                    self.publish(EventKind::RequestCompleted(RequestCompleted {
                        provider: self.target.provider.clone(),
                        model: self.target.model.clone(),
                        attempt,
                        usage: outcome.usage,
                        cost_usd: cost,
                        duration_ms,
                        time_to_first_token_ms: outcome.first_output.map(|d| d.as_millis() as u64),
                        finish_reason: outcome.finish,
                    }));
                    return;
                }
                Err(LlmError::Cancelled) => {
                    self.breaker.abandon();
                    self.failed(
                        attempt,
                        "cancelled",
                        "cancelled".into(),
                        false,
                        None,
                        Some(duration_ms),
                    );
                    return;
                }
                Err(err) => {
                    let err = err.redacted(&self.secrets());
                    if err.counts_for_breaker() {
                        self.breaker.failure();
                    } else {
                        self.breaker.abandon();
                    }
                    let delay = if !streamed && err.retryable() {
                        backoff.next().map(|d| {
                            d.max(err.retry_after().unwrap_or_default().min(MAX_RETRY_AFTER))
                        })
                    } else {
                        None
                    };
                    self.failed(
                        attempt,
                        err.reason(),
                        err.to_string(),
                        delay.is_some(),
                        Some(streamed),
                        Some(duration_ms),
                    );
                    tracing::warn!(provider = %self.target.provider, attempt, reason = err.reason(), retry_in = ?delay, "LLM request failed: {err}");
                    match delay {
                        Some(d) => {
                            tokio::select! {
                                () = tokio::time::sleep(d) => {}
                                () = self.tx.closed() => return,
                            }
                        }
                        None => {
                            let _ = self.tx.send(vec![Err(err)]).await;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// One HTTP request, streamed to the consumer.
    async fn attempt(&self, streamed: &mut bool) -> Result<Outcome, LlmError> {
        let provider = provider_for(self.target.kind);
        let r = &self.target.resilience;
        let started = Instant::now();
        let deadline = started + r.first_token;
        let request = provider
            .request(&self.http, &self.target.endpoint, &self.request)
            .send();
        let response = match tokio::time::timeout_at(deadline, request).await {
            Err(_) => return Err(LlmError::Timeout(TimeoutPhase::FirstToken)),
            Ok(Err(e)) if e.is_timeout() => return Err(LlmError::Timeout(TimeoutPhase::Connect)),
            Ok(Err(e)) => return Err(LlmError::Connect(error_chain(&e))),
            Ok(Ok(resp)) => resp,
        };
        let status = response.status();
        if !status.is_success() {
            return Err(http_error(response, r.idle).await);
        }
        let mut events = response.bytes_stream().eventsource();
        let mut decoder = provider.decoder();
        let mut outcome = Outcome::default();
        let mut batch: Batch = Vec::new();
        // When the last batch went to the consumer. Events that follow it
        // within HAND_OFF wait for the hand-off timer: a fast stream wakes
        // the consumer at most once per HAND_OFF, a slow one at each event.
        let mut handed: Option<Instant> = None;
        let hand_off = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(hand_off);
        let mut hand_off_armed = false;
        // One idle timer, moved only when it fires: an event only records
        // the time it arrived.
        let mut last_event = Instant::now();
        let idle = tokio::time::sleep_until(deadline.min(last_event + r.idle));
        tokio::pin!(idle);
        loop {
            let mut next = tokio::select! {
                biased;
                n = events.next() => n,
                () = &mut hand_off, if hand_off_armed => {
                    hand_off_armed = false;
                    handed = Some(Instant::now());
                    if self.tx.send(std::mem::take(&mut batch)).await.is_err() {
                        return Err(LlmError::Cancelled);
                    }
                    continue;
                }
                () = &mut idle => {
                    let now = Instant::now();
                    if outcome.first_output.is_none() && now >= deadline {
                        return Err(LlmError::Timeout(TimeoutPhase::FirstToken));
                    }
                    let due = last_event + r.idle;
                    if now >= due {
                        return Err(LlmError::Timeout(TimeoutPhase::Idle));
                    }
                    let due = if outcome.first_output.is_none() { due.min(deadline) } else { due };
                    idle.as_mut().reset(due);
                    continue;
                }
            };
            // Decode this event and every one already received.
            let ended = loop {
                let decoded = match decode(decoder.as_mut(), next) {
                    Ok(d) => d,
                    Err(e) => {
                        // What was decoded before the error reaches the consumer first.
                        if !batch.is_empty() && self.tx.send(batch).await.is_err() {
                            return Err(LlmError::Cancelled);
                        }
                        return Err(e);
                    }
                };
                let ended = next_is_end(&decoded) || decoder.done();
                for ev in decoded {
                    if ev.is_output() {
                        *streamed = true;
                        outcome
                            .first_output
                            .get_or_insert_with(|| started.elapsed());
                    }
                    match &ev {
                        LlmEvent::Usage(u) => outcome.usage = *u,
                        LlmEvent::Finish(f) => outcome.finish = Some(f.clone()),
                        _ => {}
                    }
                    batch.push(Ok(ev));
                }
                if ended || outcome.finish.is_some() || batch.len() >= MAX_BATCH {
                    break ended;
                }
                match events.next().now_or_never() {
                    Some(n) => next = n,
                    None => break false,
                }
            };
            let now = Instant::now();
            last_event = now;
            let done = ended || outcome.finish.is_some();
            if batch.is_empty() && !done {
                continue;
            }
            let due = handed.map(|t| t + HAND_OFF);
            if done || batch.len() >= MAX_BATCH || due.is_none_or(|d| now >= d) {
                hand_off_armed = false;
                handed = Some(now);
                if !batch.is_empty() && self.tx.send(std::mem::take(&mut batch)).await.is_err() {
                    return Err(LlmError::Cancelled);
                }
            } else if !hand_off_armed && let Some(d) = due {
                hand_off.as_mut().reset(d);
                hand_off_armed = true;
            }
            if done {
                return Ok(outcome);
            }
        }
    }
}

/// Decodes one item of the SSE stream (`None`: its end).
fn decode<E: std::error::Error>(
    decoder: &mut dyn super::Decoder,
    next: Option<Result<eventsource_stream::Event, EventStreamError<E>>>,
) -> Result<Vec<LlmEvent>, LlmError> {
    match next {
        None => decoder.finish(),
        Some(Ok(ev)) => decoder.event(&ev.event, &ev.data),
        Some(Err(EventStreamError::Transport(e))) => Err(LlmError::StreamDropped(error_chain(&e))),
        Some(Err(EventStreamError::Utf8(e))) => {
            Err(LlmError::Malformed(format!("invalid UTF-8: {e}")))
        }
        Some(Err(EventStreamError::Parser(e))) => Err(LlmError::Malformed(e.to_string())),
    }
}

fn next_is_end(events: &[LlmEvent]) -> bool {
    events.iter().any(|e| matches!(e, LlmEvent::Finish(_)))
}

/// An error and its sources, in one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Classifies a non-success response, reading at most 4 KiB of its body.
async fn http_error(response: reqwest::Response, idle: Duration) -> LlmError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok());
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while body.len() < 4096 {
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(Ok(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(4096);
    let text = String::from_utf8_lossy(&body);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            let message = v["error"]["message"].as_str().or(v["message"].as_str())?;
            // The error's code (OpenAI's `context_length_exceeded`) says more
            // than its message to whoever classifies it.
            Some(match v["error"]["code"].as_str() {
                Some(code) if !message.contains(code) => format!("{message} ({code})"),
                _ => message.to_owned(),
            })
        })
        .unwrap_or_else(|| text.trim().to_owned());
    match status {
        429 => LlmError::RateLimited {
            retry_after,
            message,
        },
        500..=599 => LlmError::Server { status, message },
        _ => LlmError::Http { status, message },
    }
}
