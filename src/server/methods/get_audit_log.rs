//! `codelab/getAuditLog`

use uuid::Uuid;

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::{AuditEntry, GetAuditLogParams, GetAuditLogResult};

/// A page of the audit log, newest first.
pub(super) async fn run(core: &Core, p: GetAuditLogParams) -> Result<GetAuditLogResult, RpcError> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(RpcError::invalid_params(
            "limit",
            format!("must be between 1 and 500, got {limit}"),
        ));
    }
    let cursor = match p.cursor.as_deref() {
        Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
            RpcError::invalid_params("cursor", "not a cursor returned by codelab/getAuditLog")
        })?),
        None => None,
    };
    // Everything published before this request is in the log.
    core.bus.flush(core.audit_subscription).await;
    let (session, category, kind) = (p.session_id, p.category, p.kind);
    let (records, more) = core
        .store
        .audit_page(cursor, p.since, p.until, limit as usize, move |r| {
            session.is_none_or(|s| r.session_id == Some(s))
                && category.as_ref().is_none_or(|c| &r.category == c)
                && kind.as_ref().is_none_or(|k| &r.kind == k)
        })
        .await?;
    let next_cursor = if more {
        records.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(GetAuditLogResult {
        entries: records
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                session_id: r.session_id,
                category: r.category,
                kind: r.kind,
                payload: r.payload,
            })
            .collect(),
        next_cursor,
    })
}

impl super::Handle for crate::protocol::requests::GetAuditLog {
    async fn handle(
        cx: &super::Cx<'_>,
        p: GetAuditLogParams,
    ) -> Result<GetAuditLogResult, RpcError> {
        run(cx.core, p).await
    }
}
