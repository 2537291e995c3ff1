//! `codelab/getPolicy`

use crate::protocol::RpcError;
use crate::protocol::types::{GetPolicyParams, GetPolicyResult, PolicyRule};
use crate::workspace::uri_to_path;

/// The effective rules and the problems in policy files.
impl super::Handle for crate::protocol::requests::GetPolicy {
    async fn handle(cx: &super::Cx<'_>, p: GetPolicyParams) -> Result<GetPolicyResult, RpcError> {
        let folder = match p.session_id {
            Some(id) => cx.rt().get_session(id).await?.workspace_folder,
            None => cx.conn.workspace_folders().into_iter().next(),
        };
        let root = folder
            .as_deref()
            .and_then(uri_to_path)
            .and_then(|p| p.canonicalize().ok());
        let policy = cx.rt().policy(root.as_deref(), p.session_id);
        let rules = policy
            .rules()
            .iter()
            .map(|r| PolicyRule {
                tool: r.spec.tool.clone(),
                path: r.spec.path.clone(),
                command: r.spec.command.clone(),
                exact: r.spec.exact,
                action: format!("{:?}", r.spec.action).to_lowercase(),
                timeout_secs: r.spec.timeout_secs,
                source: format!("{:?}", r.scope).to_lowercase(),
            })
            .collect();
        Ok(GetPolicyResult {
            rules,
            errors: cx.rt().policy_errors(),
        })
    }
}
