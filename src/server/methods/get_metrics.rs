//! `codelab/getMetrics`

use crate::core::Core;
use crate::protocol::RpcError;
use crate::protocol::types::MetricsSnapshot;

/// Parameters: none (an empty object is accepted).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParams {}

/// Totals and rates, counting every event published before the request.
pub(super) async fn run(core: &Core, _: NoParams) -> Result<MetricsSnapshot, RpcError> {
    core.metrics.sync(&core.bus).await;
    Ok(core.metrics.snapshot(&core.bus))
}
