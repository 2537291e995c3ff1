//! `codelab/getAuditLog`

use uuid::Uuid;

use crate::domain::EventId;
use crate::store::AuditQuery;

use crate::protocol::RpcError;
use crate::protocol::types::{AuditEntry, GetAuditLogParams, GetAuditLogResult};

/// A page of the audit log, newest first.
impl super::Handle for crate::protocol::requests::GetAuditLog {
    async fn handle(
        cx: &super::Cx<'_>,
        p: GetAuditLogParams,
    ) -> Result<GetAuditLogResult, RpcError> {
        let limit = p.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(RpcError::invalid_params(
                "limit",
                format!("must be between 1 and 500, got {limit}"),
            ));
        }
        let cursor = match p.cursor.as_deref() {
            Some(c) => Some(Uuid::parse_str(c).map(EventId::from).map_err(|_| {
                RpcError::invalid_params("cursor", "not a cursor returned by codelab/getAuditLog")
            })?),
            None => None,
        };
        let query = AuditQuery {
            cursor,
            since: p.since,
            until: p.until,
            session_id: p.session_id,
            category: p.category,
            kind: p.kind,
        };
        let page = cx.rt().audit_page(query, limit as usize).await?;
        let (records, more) = (page.items, page.more);
        let next_cursor = if more {
            records.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(GetAuditLogResult {
            entries: records.into_iter().map(AuditEntry::from).collect(),
            next_cursor,
        })
    }
}
