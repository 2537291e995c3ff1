//! `codelab/getMetrics`

use crate::core::Core;
use crate::protocol::types::MetricsSnapshot;
use crate::protocol::{NoParams, RpcError};

/// Totals and rates, counting every event published before the request.
pub(super) async fn run(core: &Core, _: NoParams) -> Result<MetricsSnapshot, RpcError> {
    core.metrics.sync(&core.bus).await;
    Ok(core.metrics.snapshot(&core.bus))
}

impl super::Handle for crate::protocol::requests::GetMetrics {
    async fn handle(cx: &super::Cx<'_>, p: NoParams) -> Result<MetricsSnapshot, RpcError> {
        run(cx.core, p).await
    }
}
