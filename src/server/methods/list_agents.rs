//! `codelab/listAgents`

use crate::core::Core;
use crate::protocol::types::ListAgentsResult;

/// Every agent, as enforced.
pub(super) fn run(core: &Core) -> ListAgentsResult {
    ListAgentsResult {
        agents: core.agents().iter().map(|a| a.info()).collect(),
    }
}
