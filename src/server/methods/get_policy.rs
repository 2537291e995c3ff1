//! `codelab/getPolicy`

use crate::protocol::RpcError;
use crate::protocol::types::{GetPolicyParams, GetPolicyResult, PolicyRule, SandboxInfo};
use crate::workspace::uri_to_path;

/// The effective rules and the problems in policy files.
impl super::Handle for crate::protocol::requests::GetPolicy {
    async fn handle(cx: &super::Cx<'_>, p: GetPolicyParams) -> Result<GetPolicyResult, RpcError> {
        let (folder, agent) = match p.session_id {
            Some(id) => {
                let s = cx.rt().get_session(id).await?;
                (s.workspace_folder, Some(s.agent))
            }
            None => (cx.conn.workspace_folders().into_iter().next(), None),
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
                sandbox: r.spec.sandbox.map(|m| m.as_str().to_owned()),
                network: r.spec.network,
                source: format!("{:?}", r.scope).to_lowercase(),
            })
            .collect();
        let rt = cx.rt();
        let user = &rt.settings().user().sandbox;
        let support = rt.sandbox_support();
        let sandbox = SandboxInfo {
            available: support.available(),
            reason: support.reason().map(str::to_owned),
            mode: match &agent {
                Some(a) => user.mode_for(a),
                None => user.mode,
            }
            .as_str()
            .to_owned(),
            network: user.network,
            writable: user
                .writable_paths()
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        Ok(GetPolicyResult {
            rules,
            errors: rt.policy_errors(),
            sandbox,
        })
    }
}
