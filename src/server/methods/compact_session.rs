//! `codelab/compactSession`

use crate::protocol::RpcError;
use crate::protocol::requests::CompactSession;
use crate::protocol::types::{CompactSessionResult, SessionParams};

/// Compacts the session's context now.
impl super::Handle for CompactSession {
    async fn handle(
        cx: &super::Cx<'_>,
        p: SessionParams,
    ) -> Result<CompactSessionResult, RpcError> {
        Ok(CompactSessionResult {
            compaction: cx.rt().compact_session(p.session_id).await?,
        })
    }
}
