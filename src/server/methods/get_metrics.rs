//! `codelab/getMetrics`

use crate::protocol::requests::GetMetrics;
use crate::protocol::types::MetricsSnapshot;
use crate::protocol::{NoParams, RpcError};

/// Totals and rates, counting every event published before the request.
impl super::Handle for GetMetrics {
    async fn handle(cx: &super::Cx<'_>, _: NoParams) -> Result<MetricsSnapshot, RpcError> {
        let bus = cx.rt().bus();
        cx.core.metrics.sync(bus).await;
        Ok(cx.core.metrics.snapshot(bus))
    }
}
