//! The `codelab/*` request handlers, one file per method.
//!
//! Each handler parses its parameters with [`parse_params`] (so invalid
//! params name the failing field), calls the core, and returns a JSON value or
//! an [`RpcError`]. Handlers never block: store reads run off the runtime.

mod create_session;
mod delete_session;
mod get_current_agent;
mod get_document;
mod get_history;
mod get_session;
mod list_agents;
mod list_sessions;

use serde::Serialize;
use serde_json::Value;

use super::connection::ConnState;
use crate::core::{Core, CoreError};
use crate::protocol::methods::names;
use crate::protocol::{ErrorCode, RpcError, parse_params};
use crate::store::StoreError;

/// Runs the `codelab/*` method `method`.
pub(super) async fn dispatch(
    core: &Core,
    conn: &ConnState,
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
        names::LIST_AGENTS => {
            parse_params::<NoParams>(params)?;
            reply(Ok(list_agents::run(core)))
        }
        names::GET_CURRENT_AGENT => {
            reply(get_current_agent::run(core, parse_params(params)?).await)
        }
        names::GET_DOCUMENT => reply(get_document::run(conn, parse_params(params)?)),
        other => Err(RpcError::new(
            ErrorCode::MethodNotFound,
            format!("method not found: `{other}`"),
        )),
    }
}

/// Parameters of methods that take none: an empty object (or nothing).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

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

impl From<CoreError> for RpcError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::UnknownAgent(slug) => RpcError::new(
                ErrorCode::AgentNotFound,
                format!("unknown agent `{slug}`; codelab/listAgents lists them"),
            ),
            CoreError::Store(s) => s.into(),
            CoreError::Config(m) => RpcError::new(ErrorCode::InternalError, m),
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
        let core = Core::open(Config::new(dir.path().to_path_buf())).expect("core");
        let (tx, _rx) = tokio::sync::mpsc::channel(8);
        let conn = ConnState::new(tx);
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
