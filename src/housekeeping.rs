//! Housekeeping: deletes sessions idle longer than their TTL and audit
//! entries older than the retention period, in small batches so the writer
//! is never held for long. Each cleanup is itself audited.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::SessionId;
use crate::domain::events::{Cleanup, SessionDeleted};
use crate::events::{Event, EventKind};
use crate::runtime::Runtime;
use crate::store::StoreError;

pub use crate::settings::HousekeepingSettings as Settings;

/// What one run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Deleted sessions.
    pub sessions: Vec<SessionId>,
    /// Deleted audit entries.
    pub audit_entries: usize,
}

fn days(d: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((d * 86_400_000.0) as i64)
}

/// One pass at `now`.
///
/// # Errors
/// A store failure (what was deleted before it stays deleted).
pub async fn run_once(
    rt: &Runtime,
    now: DateTime<Utc>,
    s: &Settings,
) -> Result<Report, StoreError> {
    let idle_before = now - days(s.session_ttl_days);
    let audit_before = now - days(s.audit_retention_days);
    let mut report = Report::default();
    loop {
        let expired = rt.store().idle_sessions(idle_before, s.batch).await?;
        let expired: Vec<SessionId> = expired
            .into_iter()
            .filter(|id| !rt.is_running(*id))
            .collect();
        if expired.is_empty() {
            break;
        }
        let n = expired.len();
        rt.store().delete_sessions(expired.clone()).await?;
        for id in &expired {
            rt.bus().publish(
                Event::new(EventKind::SessionDeleted(SessionDeleted {
                    reason: "ttl".into(),
                    messages: None,
                }))
                .in_turn(Some(*id), None),
            );
        }
        report.sessions.extend(expired);
        if n < s.batch {
            break;
        }
    }
    loop {
        let n = rt
            .store()
            .delete_audit_before(audit_before, s.batch)
            .await?;
        report.audit_entries += n;
        if n < s.batch {
            break;
        }
    }
    if !report.sessions.is_empty() || report.audit_entries > 0 {
        let cleanup = Event::new(EventKind::Cleanup(Cleanup {
            sessions_deleted: report.sessions.clone(),
            audit_entries_deleted: report.audit_entries,
            session_ttl_days: s.session_ttl_days,
            audit_retention_days: s.audit_retention_days,
        }));
        rt.store()
            .append_audit(vec![crate::audit::record(&cleanup)])
            .await?;
    }
    Ok(report)
}

/// Runs forever, every `interval_secs`.
pub fn start(rt: Arc<Runtime>, s: Settings) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(s.interval_secs.max(1)));
        loop {
            tick.tick().await;
            // Several instances over one store: one of them at a time.
            let ttl = Duration::from_secs(s.interval_secs.max(1) * 2);
            match rt.store().try_singleton("housekeeping", ttl).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!("housekeeping skipped: {e}");
                    continue;
                }
            }
            match run_once(&rt, Utc::now(), &s).await {
                Ok(r) if !r.sessions.is_empty() || r.audit_entries > 0 => {
                    tracing::info!(
                        sessions = r.sessions.len(),
                        audit = r.audit_entries,
                        "housekeeping removed expired data"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!("housekeeping failed: {e}"),
            }
        }
    });
}
