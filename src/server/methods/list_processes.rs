//! `codelab/listProcesses`

use crate::protocol::RpcError;
use crate::protocol::types::{ListProcessesParams, ListProcessesResult, ProcessInfo};

/// The background commands, of one session or all.
impl super::Handle for crate::protocol::requests::ListProcesses {
    async fn handle(
        cx: &super::Cx<'_>,
        p: ListProcessesParams,
    ) -> Result<ListProcessesResult, RpcError> {
        let processes = cx
            .rt()
            .background_commands(p.session_id)
            .into_iter()
            .map(|b| ProcessInfo {
                id: b.id,
                session_id: b.session_id,
                command: b.command,
                pid: b.pid,
                started_at: b.started_at,
                sandboxed: b.sandboxed,
                running: b.exit.is_none(),
                exit_code: b.exit.and_then(|e| e.code),
            })
            .collect();
        Ok(ListProcessesResult { processes })
    }
}
