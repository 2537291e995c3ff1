//! The event bus: typed events about what the runtime does, delivered to
//! subscribers without ever blocking the publisher.
//!
//! Invariants:
//! - `publish` never waits: each subscriber has a bounded queue; when it is
//!   full the event is dropped for that subscriber and its lag is counted.
//! - A subscriber whose receiver is gone is removed on the next publish.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde_json::Value;
use tokio::sync::mpsc;

pub use crate::domain::{Category, Event, EventKind};

/// What a subscriber receives.
#[derive(Debug)]
pub enum Delivery {
    /// An event.
    Event(Arc<Event>),
    /// A barrier: answer once everything before it is handled.
    Flush(tokio::sync::oneshot::Sender<()>),
}

struct Subscriber {
    id: u64,
    name: String,
    categories: Option<Vec<Category>>,
    tx: mpsc::Sender<Delivery>,
    lagged: Arc<AtomicU64>,
}

/// A live subscription: events arrive on `rx`.
pub struct Subscription {
    /// The subscription's id, for [`EventBus::unsubscribe`].
    pub id: u64,
    /// The events.
    pub rx: mpsc::Receiver<Delivery>,
    /// How many events were dropped because the queue was full.
    pub lagged: Arc<AtomicU64>,
}

impl Subscription {
    /// The next event, answering barriers on the way.
    pub async fn next(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.recv().await? {
                Delivery::Event(e) => return Some(e),
                Delivery::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// The next event if one is queued now.
    pub fn try_next(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.try_recv().ok()? {
                Delivery::Event(e) => return Some(e),
                Delivery::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }
}

/// Runs on every event before delivery; `None` drops it.
pub trait Middleware: Send + Sync {
    /// Transforms or drops an event.
    fn apply(&self, event: Event) -> Option<Event>;
}

/// The configured secrets to redact, shared with whoever learns new ones
/// (the runtime, when it reads the model settings again).
#[derive(Clone, Default)]
pub struct Secrets(Arc<RwLock<Arc<[String]>>>);

impl Secrets {
    /// These secrets (those shorter than 4 bytes are ignored: they would
    /// redact ordinary words).
    pub fn new(secrets: Vec<String>) -> Self {
        let s = Self::default();
        s.set(secrets);
        s
    }

    /// Replaces the secrets.
    pub fn set(&self, secrets: Vec<String>) {
        let secrets: Arc<[String]> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = secrets;
    }

    fn get(&self) -> Arc<[String]> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl From<Vec<String>> for Secrets {
    fn from(secrets: Vec<String>) -> Self {
        Self::new(secrets)
    }
}

/// Replaces secrets in every string of a payload: the configured ones, and
/// anything shaped like an API key or a bearer token.
pub struct Redact {
    secrets: Secrets,
    patterns: Vec<regex::Regex>,
}

impl Redact {
    /// Redacts `secrets` (as they are at each event) and the usual key shapes.
    pub fn new(secrets: Secrets) -> Self {
        let patterns = [
            r"sk-[A-Za-z0-9_\-]{16,}",
            r"(?i)bearer\s+[A-Za-z0-9._\-]{8,}",
            r"ghp_[A-Za-z0-9]{20,}",
            r"AKIA[0-9A-Z]{16}",
            r"xox[abp]-[A-Za-z0-9\-]{10,}",
        ]
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect();
        Self { secrets, patterns }
    }

    /// Scrubs every string of `v`; true when something was replaced.
    pub fn scrub(&self, v: &mut Value) -> bool {
        self.scrub_with(&self.secrets.get(), v)
    }

    fn scrub_with(&self, secrets: &[String], v: &mut Value) -> bool {
        match v {
            Value::String(s) => {
                let mut changed = false;
                for secret in secrets {
                    if s.contains(secret.as_str()) {
                        *s = s.replace(secret.as_str(), "[REDACTED]");
                        changed = true;
                    }
                }
                for p in &self.patterns {
                    if p.is_match(s) {
                        *s = p.replace_all(s, "[REDACTED]").into_owned();
                        changed = true;
                    }
                }
                changed
            }
            Value::Array(a) => a
                .iter_mut()
                .fold(false, |c, x| self.scrub_with(secrets, x) | c),
            Value::Object(o) => o
                .values_mut()
                .fold(false, |c, x| self.scrub_with(secrets, x) | c),
            _ => false,
        }
    }
}

impl Middleware for Redact {
    fn apply(&self, mut event: Event) -> Option<Event> {
        // The payload is typed: scrub its JSON form and rebuild it only when
        // a secret was found (rare), so the common case costs one serialization.
        let mut payload = event.kind.payload();
        if self.scrub(&mut payload) {
            match event.kind.with_payload(payload) {
                Ok(kind) => event.kind = kind,
                Err(e) => {
                    tracing::error!(
                        kind = event.kind.name(),
                        "cannot rebuild a redacted event, dropping it: {e}"
                    );
                    return None;
                }
            }
        }
        Some(event)
    }
}

/// Drops events whose `category.type` is listed (`llm.requestStarted`, or `llm.*`).
pub struct Filter {
    exclude: Vec<String>,
}

impl Filter {
    /// Excludes the listed `category.type` names.
    pub fn new(exclude: Vec<String>) -> Self {
        Self { exclude }
    }
}

impl Middleware for Filter {
    fn apply(&self, event: Event) -> Option<Event> {
        let cat = event.category().as_str();
        let full = format!("{cat}.{}", event.kind.name());
        let dropped = self
            .exclude
            .iter()
            .any(|x| *x == full || x.strip_suffix(".*") == Some(cat));
        (!dropped).then_some(event)
    }
}

/// The bus. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct EventBus {
    subscribers: Mutex<Vec<Subscriber>>,
    middleware: Vec<Box<dyn Middleware>>,
    next_id: AtomicU64,
    published: AtomicU64,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("published", &self.published.load(Ordering::Relaxed))
            .finish()
    }
}

impl EventBus {
    /// A bus with no subscribers and no middleware.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus whose events pass through `middleware`, in order.
    pub fn with_middleware(middleware: Vec<Box<dyn Middleware>>) -> Self {
        Self {
            middleware,
            ..Self::default()
        }
    }

    /// Subscribes with a queue of `capacity` events, optionally only to some categories.
    pub fn subscribe(
        &self,
        name: &str,
        capacity: usize,
        categories: Option<Vec<Category>>,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let lagged = Arc::new(AtomicU64::new(0));
        self.lock().push(Subscriber {
            id,
            name: name.to_owned(),
            categories,
            tx,
            lagged: Arc::clone(&lagged),
        });
        Subscription { id, rx, lagged }
    }

    /// Removes a subscription.
    pub fn unsubscribe(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
    }

    /// Delivers an event to every interested subscriber, never waiting.
    pub fn publish(&self, event: Event) {
        let mut event = event;
        for m in &self.middleware {
            match m.apply(event) {
                Some(e) => event = e,
                None => return,
            }
        }
        self.published.fetch_add(1, Ordering::Relaxed);
        let event = Arc::new(event);
        self.lock().retain(|s| {
            if s.categories.as_ref().is_some_and(|c| !c.contains(&event.category())) {
                return true;
            }
            match s.tx.try_send(Delivery::Event(Arc::clone(&event))) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let n = s.lagged.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        tracing::warn!(subscriber = %s.name, lagged = n, "event subscriber is lagging");
                    }
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// How many events were published.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Waits until subscriber `id` has handled everything published before.
    pub async fn flush(&self, id: u64) {
        let tx = self
            .lock()
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.tx.clone());
        if let Some(tx) = tx {
            let (done, wait) = tokio::sync::oneshot::channel();
            if tx.send(Delivery::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }

    /// Each subscriber's name and how many events it lost to a full queue.
    pub fn lag(&self) -> Vec<(String, u64)> {
        self.lock()
            .iter()
            .map(|s| (s.name.clone(), s.lagged.load(Ordering::Relaxed)))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{ExecutionRequested, RequestFailed, RequestStarted};

    fn started(attempt: u32) -> Event {
        Event::new(EventKind::RequestStarted(RequestStarted {
            provider: "p".into(),
            model: "m".into(),
            attempt,
        }))
    }

    fn tool() -> Event {
        Event::new(EventKind::ExecutionRequested(ExecutionRequested {
            tool: "read_file".into(),
            tool_call_id: "c".into(),
        }))
    }

    #[tokio::test]
    async fn a_full_subscriber_lags_without_blocking_others() {
        let bus = EventBus::new();
        let mut slow = bus.subscribe("slow", 2, None);
        let mut fast = bus.subscribe("fast", 100, Some(vec![Category::Llm]));
        for i in 0..10 {
            bus.publish(started(i));
        }
        bus.publish(tool());
        assert_eq!(slow.lagged.load(Ordering::Relaxed), 9);
        let mut got = 0;
        while fast.try_next().is_some() {
            got += 1;
        }
        assert_eq!(got, 10);
        assert_eq!(
            slow.next()
                .await
                .map(|e| e.kind.payload()["attempt"].clone()),
            Some(serde_json::json!(0))
        );
        drop(slow);
        bus.publish(started(99));
        assert_eq!(bus.lock().len(), 1);
    }

    #[test]
    fn redaction_and_filter() {
        let bus = EventBus::with_middleware(vec![
            Box::new(Filter::new(vec![
                "llm.requestStarted".into(),
                "tool.*".into(),
            ])),
            Box::new(Redact::new(vec!["my-custom-secret".into()].into())),
        ]);
        let mut sub = bus.subscribe("t", 10, None);
        bus.publish(started(1));
        bus.publish(tool());
        bus.publish(Event::new(EventKind::RequestFailed(RequestFailed {
            provider: "p".into(),
            model: "m".into(),
            attempt: 1,
            reason: "auth".into(),
            error: "key sk-abcdefghijklmnopqrstuvwx rejected; Bearer abc.def.ghi.jkl; my-custom-secret!".into(),
            retrying: false,
            partial_output: None,
            duration_ms: None,
        })));
        let e = sub.try_next().expect("one event passes");
        assert_eq!(e.kind.name(), "requestFailed");
        assert_eq!(
            e.kind.payload()["error"],
            serde_json::json!("key [REDACTED] rejected; [REDACTED]; [REDACTED]!")
        );
        assert!(sub.try_next().is_none());
    }

    /// Secrets learnt after the bus was built (the settings read again)
    /// are redacted from the next event on.
    #[test]
    fn redaction_follows_new_secrets() {
        let secrets = Secrets::new(vec!["old-secret".into()]);
        let bus = EventBus::with_middleware(vec![Box::new(Redact::new(secrets.clone()))]);
        let mut sub = bus.subscribe("t", 10, None);
        let failed = || {
            Event::new(EventKind::RequestFailed(RequestFailed {
                provider: "p".into(),
                model: "m".into(),
                attempt: 1,
                reason: "auth".into(),
                error: "old-secret then new-secret".into(),
                retrying: false,
                partial_output: None,
                duration_ms: None,
            }))
        };
        bus.publish(failed());
        secrets.set(vec!["new-secret".into()]);
        bus.publish(failed());
        let error = |e: Arc<Event>| e.kind.payload()["error"].clone();
        assert_eq!(
            error(sub.try_next().unwrap()),
            serde_json::json!("[REDACTED] then new-secret")
        );
        assert_eq!(
            error(sub.try_next().unwrap()),
            serde_json::json!("old-secret then [REDACTED]")
        );
    }
}
