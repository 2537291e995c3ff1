//! The `codelab/*` request handlers, one file per method.
//!
//! Each handler file implements [`Handle`] for the method's declaration in
//! [`crate::protocol::requests`], so the handler's type states the method it
//! serves, with its parameter and result types. The dispatcher is generated
//! from the protocol's one list of requests (`for_each_request!` in
//! `protocol/methods.rs`): a declared method without a handler does not
//! compile, and a method cannot be served without being declared (and so
//! documented). Parameters are parsed with [`parse_params`] (so invalid
//! params name the failing field). Handlers never block: store reads run off
//! the runtime.

mod answer_question;
mod attach_session;
mod cancel_turn;
mod compact_session;
mod create_file;
mod create_session;
mod decide_approval;
mod delete_file;
mod delete_session;
mod detach_session;
mod file_ops;
mod get_audit_log;
mod get_current_agent;
mod get_document;
mod get_history;
mod get_metrics;
mod get_policy;
mod get_session;
mod list_agents;
mod list_checkpoints;
mod list_files;
mod list_mcp_servers;
mod list_pending_approvals;
mod list_processes;
mod list_sessions;
mod list_tools;
mod read_file;
mod rename_file;
mod restore_checkpoint;
mod send_message;
mod session_metrics;
mod subscribe_events;
mod switch_agent;
mod write_file;

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::connection::ConnState;
use crate::core::Core;
use crate::protocol::methods::for_each_request;
use crate::protocol::{ErrorCode, Method, RpcError, parse_params};
use crate::runtime::{Runtime, RuntimeError};

/// What a handler gets besides its parameters.
pub(super) struct Cx<'a> {
    /// The shared core.
    pub core: &'a Arc<Core>,
    /// The connection the request came on.
    pub conn: &'a Arc<ConnState>,
}

impl Cx<'_> {
    /// The runtime.
    pub fn rt(&self) -> &Arc<Runtime> {
        &self.core.runtime
    }
}

/// Serves one declared method: implemented, in the method's own file, for
/// its declaration.
pub(super) trait Handle: Method {
    /// Runs the method.
    fn handle(
        cx: &Cx<'_>,
        params: Self::Params,
    ) -> impl Future<Output = Result<Self::Result, RpcError>> + Send;
}

/// Parses the params as `M`'s, runs its handler, encodes the result.
async fn call<M: Handle>(cx: &Cx<'_>, params: Option<Value>) -> Result<Value, RpcError> {
    let params = parse_params::<M::Params>(params)?;
    reply(M::handle(cx, params).await)
}

macro_rules! dispatcher {
    ($($method:ty),* $(,)?) => {
        /// Runs the `codelab/*` method `method`.
        pub(super) async fn dispatch(
            core: &Arc<Core>,
            conn: &Arc<ConnState>,
            method: &str,
            params: Option<Value>,
        ) -> Result<Value, RpcError> {
            let cx = Cx { core, conn };
            match method {
                $(<$method as Method>::NAME => call::<$method>(&cx, params).await,)*
                other => Err(RpcError::new(
                    ErrorCode::MethodNotFound,
                    format!("method not found: `{other}`"),
                )),
            }
        }

        /// The names [`dispatch`] serves, in the order it tries them.
        #[cfg(test)]
        pub(super) const DISPATCHED: &[&str] = &[$(<$method as Method>::NAME),*];
    };
}
for_each_request!(dispatcher);

fn reply<T: Serialize>(result: Result<T, RpcError>) -> Result<Value, RpcError> {
    let value = result?;
    serde_json::to_value(value).map_err(|e| {
        RpcError::new(
            ErrorCode::InternalError,
            format!("cannot encode the result: {e}"),
        )
    })
}

/// The one place where the runtime's client-facing errors become
/// JSON-RPC errors.
impl From<RuntimeError> for RpcError {
    fn from(e: RuntimeError) -> Self {
        use RuntimeError as R;
        match e {
            R::SessionNotFound(id) => RpcError::session_not_found(id),
            R::Busy { session, turn } => RpcError::new(
                ErrorCode::SessionBusy,
                format!("session {session} is running turn {turn}; wait for codelab/turnCompleted or cancel it"),
            )
            .with_session(session)
            .with_detail(format!("running turn: {turn}")),
            R::RunningElsewhere { session, instance } => RpcError::new(
                ErrorCode::SessionBusy,
                format!("session {session} is running a turn on instance {instance}; wait for codelab/turnCompleted or cancel it"),
            )
            .with_session(session),
            R::UnknownAgent(a) => RpcError::new(
                ErrorCode::AgentNotFound,
                format!("unknown agent `{a}`; codelab/listAgents lists them"),
            ),
            R::NotPending(m) => RpcError::new(ErrorCode::NotPending, m),
            R::InvalidParams(m) => RpcError::invalid_params("params", m),
            R::Store(s) => RpcError::store(&s),
            R::Config(c) => RpcError::new(ErrorCode::InternalError, c.to_string()),
            R::Compaction(c) => RpcError::new(ErrorCode::InternalError, c.to_string()),
            R::Model(m) => RpcError::new(ErrorCode::InternalError, m.to_string()),
            R::Overloaded(n) => RpcError::new(
                ErrorCode::Overloaded,
                format!("{n} turns are running, the most this server runs at once; retry later"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::protocol::generate;
    use crate::protocol::methods::{self, Direction, Kind};

    /// A core on a fresh store in `dir`, and one connection to it.
    fn fresh(dir: &std::path::Path) -> (Arc<Core>, Arc<ConnState>) {
        let core = Arc::new(Core::open(Config::new(dir.to_path_buf())).expect("core"));
        let (tx, _rx) = tokio::sync::mpsc::channel(8);
        let kick = tokio_util::sync::CancellationToken::new();
        let (events, _erx) = crate::runtime::hub::EventQueue::new(8, 1024, kick.clone());
        let docs = core.runtime.docs().register(1);
        let conn = Arc::new(ConnState::new(1, tx, docs, events, kick));
        (core, conn)
    }

    /// Every client request in the method table is dispatched, and nothing else is.
    #[tokio::test]
    async fn the_method_table_and_the_dispatcher_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (core, conn) = fresh(dir.path());
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

    /// The dispatcher serves exactly the declared requests, in their order,
    /// and the committed README has a section for each one it serves.
    #[test]
    fn every_dispatched_method_is_in_the_readme() {
        let declared: Vec<&str> = methods::requests().iter().map(|m| m.name).collect();
        assert_eq!(DISPATCHED, declared.as_slice());
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/protocol/README.md"))
                .expect("protocol/README.md");
        for (which, text) in [
            ("protocol/README.md", readme),
            ("the generated reference", generate::reference()),
        ] {
            for name in DISPATCHED {
                let heading = format!("### `{name}`\n");
                let start = text
                    .find(&heading)
                    .unwrap_or_else(|| panic!("{name} is dispatched but missing from {which}"));
                let section = text[start + heading.len()..]
                    .split("\n#")
                    .next()
                    .unwrap_or_default();
                for part in [
                    "- Direction: client → server (request)",
                    "- Params: ",
                    "- Result: ",
                    "- Errors: ",
                    "Example params:\n\n```json\n",
                    "Example result:\n\n```json\n",
                ] {
                    assert!(
                        section.contains(part),
                        "{name}'s section in {which} lacks `{part}`"
                    );
                }
            }
        }
    }

    /// Run on a fresh store, each example gets either a result or an error
    /// its declaration lists: the documented errors are the ones it returns.
    #[tokio::test]
    async fn application_errors_are_declared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (core, conn) = fresh(dir.path());
        let mut failed = 0;
        for m in methods::requests() {
            let Err(e) = dispatch(&core, &conn, m.name, Some(m.example_params.clone())).await
            else {
                continue;
            };
            failed += 1;
            assert!(
                e.code.code() > -33000 || m.errors.contains(&e.code),
                "{} returned `{}`, which its declaration does not list: {e}",
                m.name,
                e.code.kind()
            );
        }
        // Most examples name a session, question or approval that a fresh store lacks.
        assert!(failed > 5, "only {failed} examples failed on a fresh store");
    }
}
