//! The `codelab/*` request handlers, one file per method.
//!
//! Each handler parses its parameters with [`parse_params`] (so invalid
//! params name the failing field), calls the core, and returns a JSON value or
//! an [`RpcError`]. Handlers never block: store reads run off the runtime.

mod answer_question;
mod attach_session;
mod cancel_turn;
mod create_session;
mod decide_approval;
mod delete_session;
mod detach_session;
mod get_audit_log;
mod get_current_agent;
mod get_document;
mod get_history;
mod get_metrics;
mod get_policy;
mod get_session;
mod list_agents;
mod list_pending_approvals;
mod list_sessions;
mod send_message;
mod session_metrics;
mod subscribe_events;
mod switch_agent;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::connection::ConnState;
use crate::core::{Core, CoreError};
use crate::protocol::methods::names;
use crate::protocol::{ErrorCode, RpcError, parse_params};
use crate::store::StoreError;

/// Runs the `codelab/*` method `method`.
pub(super) async fn dispatch(
    core: &Arc<Core>,
    conn: &Arc<ConnState>,
    method: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    match method {
        names::CREATE_SESSION => {
            reply(create_session::run(core, conn, parse_params(params)?).await)
        }
        names::LIST_SESSIONS => reply(list_sessions::run(core, parse_params(params)?).await),
        names::GET_SESSION => reply(get_session::run(core, parse_params(params)?).await),
        names::DELETE_SESSION => reply(delete_session::run(core, parse_params(params)?).await),
        names::GET_HISTORY => reply(get_history::run(core, parse_params(params)?).await),
        names::LIST_AGENTS => reply(list_agents::run(core, conn, parse_params(params)?)),
        names::GET_CURRENT_AGENT => {
            reply(get_current_agent::run(core, parse_params(params)?).await)
        }
        names::GET_DOCUMENT => reply(get_document::run(conn, parse_params(params)?)),
        names::GET_POLICY => reply(get_policy::run(core, conn, parse_params(params)?).await),
        names::GET_METRICS => reply(get_metrics::run(core, parse_params(params)?).await),
        names::GET_SESSION_METRICS => {
            reply(session_metrics::get(core, parse_params(params)?).await)
        }
        names::LIST_SESSION_METRICS => {
            reply(session_metrics::list(core, parse_params(params)?).await)
        }
        names::GET_AUDIT_LOG => reply(get_audit_log::run(core, parse_params(params)?).await),
        names::SUBSCRIBE_EVENTS => reply(subscribe_events::subscribe(
            core,
            conn,
            parse_params(params)?,
        )),
        names::UNSUBSCRIBE_EVENTS => reply(Ok(subscribe_events::unsubscribe(
            core,
            conn,
            parse_params(params)?,
        ))),
        names::SEND_MESSAGE => reply(send_message::run(core, conn, parse_params(params)?).await),
        names::CANCEL_TURN => reply(cancel_turn::run(core, parse_params(params)?).await),
        names::ATTACH_SESSION => {
            reply(attach_session::run(core, conn, parse_params(params)?).await)
        }
        names::DETACH_SESSION => reply(Ok(detach_session::run(core, conn, parse_params(params)?))),
        names::SWITCH_AGENT => reply(switch_agent::run(core, parse_params(params)?).await),
        names::ANSWER_QUESTION => reply(answer_question::run(core, parse_params(params)?).await),
        names::DECIDE_APPROVAL => {
            reply(decide_approval::run(core, conn, parse_params(params)?).await)
        }
        names::LIST_PENDING_APPROVALS => {
            reply(list_pending_approvals::run(core, parse_params(params)?).await)
        }
        other => Err(RpcError::new(
            ErrorCode::MethodNotFound,
            format!("method not found: `{other}`"),
        )),
    }
}

fn reply<T: Serialize>(result: Result<T, RpcError>) -> Result<Value, RpcError> {
    let value = result?;
    serde_json::to_value(value).map_err(|e| {
        RpcError::new(
            ErrorCode::InternalError,
            format!("cannot encode the result: {e}"),
        )
    })
}

impl From<StoreError> for RpcError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SessionNotFound(id) => RpcError::session_not_found(id),
            other => RpcError::store(&other),
        }
    }
}

impl From<crate::agent::RuntimeError> for RpcError {
    fn from(e: crate::agent::RuntimeError) -> Self {
        use crate::agent::RuntimeError as R;
        match e {
            R::SessionNotFound(id) => RpcError::session_not_found(id),
            R::Busy { session, turn } => RpcError::new(
                ErrorCode::SessionBusy,
                format!("session {session} is running turn {turn}; wait for codelab/turnCompleted or cancel it"),
            )
            .with_session(session)
            .with_detail(format!("running turn: {turn}")),
            R::UnknownAgent(a) => RpcError::new(ErrorCode::AgentNotFound, format!("unknown agent `{a}`; codelab/listAgents lists them")),
            R::NotPending(m) => RpcError::new(ErrorCode::NotPending, m),
            R::InvalidParams(m) => RpcError::invalid_params("params", m),
            R::Store(s) => s.into(),
            R::Config(c) => RpcError::new(ErrorCode::InternalError, c),
            R::Overloaded(n) => RpcError::new(ErrorCode::Overloaded, format!("{n} turns are running, the most this server runs at once; retry later")),
        }
    }
}

impl From<CoreError> for RpcError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::UnknownAgent(slug) => RpcError::new(
                ErrorCode::AgentNotFound,
                format!("unknown agent `{slug}`; codelab/listAgents lists them"),
            ),
            CoreError::Store(s) => s.into(),
            other @ (CoreError::Config(_) | CoreError::LlmClient(_)) => {
                RpcError::new(ErrorCode::InternalError, other.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::protocol::methods::{self, Direction, Kind};

    /// Every client request in the method table is dispatched, and nothing else is.
    #[tokio::test]
    async fn the_method_table_and_the_dispatcher_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let core = Arc::new(Core::open(Config::new(dir.path().to_path_buf())).expect("core"));
        let (tx, _rx) = tokio::sync::mpsc::channel(8);
        let kick = tokio_util::sync::CancellationToken::new();
        let (events, _erx) = crate::agent::hub::EventQueue::new(8, 1024, kick.clone());
        let conn = Arc::new(ConnState::new(1, tx, core.docs.register(1), events, kick));
        for m in methods::all() {
            if m.kind != Kind::Request || m.direction != Direction::ClientToServer {
                continue;
            }
            let result = dispatch(&core, &conn, m.name, Some(m.example_params.clone())).await;
            if let Err(e) = result {
                assert_ne!(
                    e.code,
                    ErrorCode::MethodNotFound,
                    "{} is not dispatched",
                    m.name
                );
                assert_ne!(
                    e.code,
                    ErrorCode::InvalidParams,
                    "{}'s example params are invalid: {e}",
                    m.name
                );
            }
        }
        let e = dispatch(&core, &conn, "codelab/nope", None)
            .await
            .expect_err("unknown");
        assert_eq!(e.code, ErrorCode::MethodNotFound);
    }
}
