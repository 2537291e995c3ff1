//! The event bus: typed events about what the runtime does, delivered to
//! subscribers without ever blocking the publisher.
//!
//! Invariants:
//! - `publish` never waits: each subscriber has a bounded queue; when it is
//!   full the event is dropped for that subscriber and its lag is counted.
//! - A subscriber whose receiver is gone is removed on the next publish.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    /// Agents: switched, processing started and completed, errors.
    Agent,
    /// Sessions: created, message added, deleted.
    Session,
    /// Tools: execution requested, approval required, completed, failed.
    Tool,
    /// Approvals: decisions.
    Approval,
    /// LLM requests: started, completed, failed.
    Llm,
}

impl Category {
    /// The category's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Session => "session",
            Self::Tool => "tool",
            Self::Approval => "approval",
            Self::Llm => "llm",
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Time-ordered id.
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its category.
    pub category: Category,
    /// Its type within the category (`requestStarted`, ...).
    pub kind: String,
    /// The session it belongs to.
    pub session_id: Option<Uuid>,
    /// The turn it belongs to.
    pub turn_id: Option<Uuid>,
    /// Details.
    pub payload: Value,
}

impl Event {
    /// A new event stamped now.
    pub fn new(category: Category, kind: &str, payload: Value) -> Self {
        Self {
            id: Uuid::now_v7(),
            at: Utc::now(),
            category,
            kind: kind.to_owned(),
            session_id: None,
            turn_id: None,
            payload,
        }
    }

    /// Sets the session and turn.
    #[must_use]
    pub fn in_turn(mut self, session_id: Option<Uuid>, turn_id: Option<Uuid>) -> Self {
        self.session_id = session_id;
        self.turn_id = turn_id;
        self
    }
}

struct Subscriber {
    id: u64,
    name: String,
    categories: Option<Vec<Category>>,
    tx: mpsc::Sender<Arc<Event>>,
    lagged: Arc<AtomicU64>,
}

/// A live subscription: events arrive on `rx`.
pub struct Subscription {
    /// The subscription's id, for [`EventBus::unsubscribe`].
    pub id: u64,
    /// The events.
    pub rx: mpsc::Receiver<Arc<Event>>,
    /// How many events were dropped because the queue was full.
    pub lagged: Arc<AtomicU64>,
}

/// The bus. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct EventBus {
    subscribers: Mutex<Vec<Subscriber>>,
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
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Self::default()
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
        self.published.fetch_add(1, Ordering::Relaxed);
        let event = Arc::new(event);
        self.lock().retain(|s| {
            if s.categories.as_ref().is_some_and(|c| !c.contains(&event.category)) {
                return true;
            }
            match s.tx.try_send(Arc::clone(&event)) {
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_subscriber_lags_without_blocking_others() {
        let bus = EventBus::new();
        let mut slow = bus.subscribe("slow", 2, None);
        let mut fast = bus.subscribe("fast", 100, Some(vec![Category::Llm]));
        for i in 0..10 {
            bus.publish(Event::new(Category::Llm, "x", serde_json::json!(i)));
        }
        bus.publish(Event::new(Category::Tool, "ignored by fast", Value::Null));
        assert_eq!(slow.lagged.load(Ordering::Relaxed), 9);
        let mut got = 0;
        while fast.rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 10);
        assert_eq!(
            slow.rx.recv().await.map(|e| e.payload.clone()),
            Some(serde_json::json!(0))
        );
        drop(slow);
        bus.publish(Event::new(Category::Llm, "after drop", Value::Null));
        assert_eq!(bus.lock().len(), 1);
    }
}
