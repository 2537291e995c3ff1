//! The audit logger: a bus subscriber that writes every event durably to the
//! store's audit table, in batches (one commit for whatever is queued).
//!
//! Approval decisions are not written here: they are audited in the same
//! commit that resolves the approval.

use std::sync::Arc;

use crate::domain::{AuditRecord, Event};
use crate::events::{Delivery, EventBus, EventKind, Subscription};
use crate::store::Store;

/// Most events written in one commit.
const BATCH: usize = 512;

/// Subscribes and starts the logger; returns the subscription id (for flushing).
pub fn start(bus: &Arc<EventBus>, store: Arc<dyn Store>) -> u64 {
    let sub = bus.subscribe("audit", 65_536, None);
    let id = sub.id;
    tokio::spawn(run(sub, store));
    id
}

async fn run(mut sub: Subscription, store: Arc<dyn Store>) {
    while let Some(first) = sub.rx.recv().await {
        // Barriers are answered only once what came before them is written.
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(d) = next.take() {
            match d {
                Delivery::Event(e) => batch.push(e),
                Delivery::Flush(done) => flushes.push(done),
            }
            if batch.len() < BATCH {
                next = sub.rx.try_recv().ok();
            }
        }
        let records: Vec<AuditRecord> = batch
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::DecisionMade(_)))
            .map(|e| record(e))
            .collect();
        if !records.is_empty()
            && let Err(e) = store.append_audit(records).await
        {
            tracing::error!("cannot write the audit log: {e}");
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// An event as the audit log keeps it: its payload, with the turn added.
pub fn record(e: &Event) -> AuditRecord {
    let mut payload = e.kind.payload();
    if let (Some(turn), Some(o)) = (e.turn_id, payload.as_object_mut()) {
        o.insert("turnId".into(), serde_json::json!(turn));
    }
    AuditRecord {
        id: e.id,
        at: e.at,
        session_id: e.session_id,
        category: e.category().as_str().to_owned(),
        kind: e.kind.name().to_owned(),
        payload,
    }
}
