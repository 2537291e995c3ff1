//! The connection driver: one per client, whatever the transport.
//!
//! A transport turns its bytes into [`Incoming`] values (one per JSON-RPC
//! message) and writes out the strings the driver sends it. The driver
//! classifies each message, answers malformed input with the right JSON-RPC
//! error, routes LSP methods to a [`tower_lsp_server::LspService`] and
//! `codelab/*` methods to [`super::methods`], and forwards the client's
//! responses to server-to-client requests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower::Service;
use tower_lsp_server::LspService;
use tower_lsp_server::jsonrpc::{Request, Response};

use super::lsp::Backend;
use super::methods;
use crate::core::Core;
use crate::documents::{Documents, PositionEncoding};
use crate::llm::config::LlmSettings;
use crate::protocol::{ErrorCode, RpcError};
use crate::runtime::hub::EventQueue;

/// One message from the transport.
#[derive(Debug)]
pub enum Incoming {
    /// The text of one JSON-RPC message.
    Message(String),
    /// A message over the size limit, already discarded.
    TooLarge {
        /// Its size in bytes.
        size: usize,
    },
    /// Bytes that do not form a message (bad header, invalid UTF-8).
    Malformed(String),
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// `exit` after `shutdown`.
    CleanExit,
    /// `exit` without `shutdown` first.
    ExitWithoutShutdown,
    /// The transport closed.
    Closed,
}

/// Per-connection state, shared by the LSP backend and the codelab methods.
pub struct ConnState {
    /// The connection's id (unique in the process).
    pub id: u64,
    /// Where session events for this connection are queued.
    pub events: Arc<EventQueue>,
    /// Cancelled when the connection must be dropped (it stopped reading).
    pub kick: tokio_util::sync::CancellationToken,
    client: std::sync::OnceLock<tower_lsp_server::Client>,
    initialized: AtomicBool,
    shutdown: AtomicBool,
    encoding: Mutex<PositionEncoding>,
    workspace_folders: Mutex<Vec<String>>,
    documents: Arc<Mutex<Documents>>,
    client_apply_edit: AtomicBool,
    client_saves: AtomicBool,
    /// The client asked for `codelab/contextUsage`.
    wants_usage: AtomicBool,
    /// The client asked for `codelab/turnDiff`.
    wants_diff: AtomicBool,
    editor_llm: Mutex<Option<LlmSettings>>,
    subscriptions: Mutex<Vec<u64>>,
    outgoing: mpsc::Sender<String>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ConnState {
    pub(crate) fn new(
        id: u64,
        outgoing: mpsc::Sender<String>,
        documents: Arc<Mutex<Documents>>,
        events: Arc<EventQueue>,
        kick: tokio_util::sync::CancellationToken,
    ) -> Self {
        Self {
            id,
            events,
            kick,
            client: std::sync::OnceLock::new(),
            initialized: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            encoding: Mutex::new(PositionEncoding::Utf16),
            workspace_folders: Mutex::new(Vec::new()),
            documents,
            client_apply_edit: AtomicBool::new(false),
            client_saves: AtomicBool::new(false),
            wants_usage: AtomicBool::new(false),
            wants_diff: AtomicBool::new(false),
            editor_llm: Mutex::new(None),
            subscriptions: Mutex::new(Vec::new()),
            outgoing,
        }
    }

    /// Marks `initialize` as answered and records what was negotiated:
    /// whether the client applies edits (`workspace.applyEdit`) and saves
    /// documents on request (`experimental.codelab.saveDocuments`).
    pub fn set_initialized(
        &self,
        encoding: PositionEncoding,
        folders: Vec<String>,
        apply_edit: bool,
        save_documents: bool,
    ) {
        *lock(&self.encoding) = encoding;
        *lock(&self.workspace_folders) = folders;
        self.client_apply_edit.store(apply_edit, Ordering::SeqCst);
        self.client_saves.store(save_documents, Ordering::SeqCst);
        self.initialized.store(true, Ordering::SeqCst);
    }

    /// Marks `shutdown` as received.
    pub fn set_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// The negotiated position encoding.
    pub fn encoding(&self) -> PositionEncoding {
        *lock(&self.encoding)
    }

    /// The workspace folders, as URIs, in the client's order.
    pub fn workspace_folders(&self) -> Vec<String> {
        lock(&self.workspace_folders).clone()
    }

    /// Applies a change to the workspace folder list.
    pub fn change_workspace_folders(&self, added: Vec<String>, removed: &[String]) {
        let mut folders = lock(&self.workspace_folders);
        folders.retain(|f| !removed.contains(f));
        for f in added {
            if !folders.contains(&f) {
                folders.push(f);
            }
        }
    }

    /// The open documents.
    pub fn documents(&self) -> MutexGuard<'_, Documents> {
        lock(&self.documents)
    }

    /// Overlays LLM settings sent by the editor (initialization options or a
    /// configuration change). Invalid settings are refused and the last valid
    /// ones kept.
    pub fn apply_editor_settings(
        &self,
        value: &Value,
    ) -> Result<(), crate::llm::config::EditorSettingsError> {
        match LlmSettings::from_editor(value)? {
            None => Ok(()),
            Some(s) => {
                let mut current = lock(&self.editor_llm);
                match current.as_mut() {
                    Some(c) => c.overlay(s),
                    None => *current = Some(s),
                }
                Ok(())
            }
        }
    }

    /// The LLM settings the editor sent, if any.
    pub fn editor_settings(&self) -> Option<LlmSettings> {
        lock(&self.editor_llm).clone()
    }

    /// Records the LSP client handle (for server-to-client requests).
    pub fn set_client(&self, client: tower_lsp_server::Client) {
        let _ = self.client.set(client);
    }

    /// The editor of this connection, if the client applies edits.
    pub fn editor(
        self: &Arc<Self>,
        timeout: std::time::Duration,
    ) -> Option<Arc<dyn crate::tools::Editor>> {
        if !self.client_applies_edits() {
            return None;
        }
        let client = self.client.get()?.clone();
        Some(Arc::new(super::editor::LspEditor {
            client,
            conn: Arc::clone(self),
            timeout,
        }))
    }

    /// Whether the client applies `workspace/applyEdit` requests.
    pub fn client_applies_edits(&self) -> bool {
        self.client_apply_edit.load(Ordering::SeqCst)
    }

    /// Whether the client answers `codelab/saveDocuments`.
    pub fn client_saves_documents(&self) -> bool {
        self.client_saves.load(Ordering::SeqCst)
    }

    /// Records whether the client asked for `codelab/contextUsage`
    /// (`experimental.codelab.contextUsage`).
    pub fn set_wants_context_usage(&self, wants: bool) {
        self.wants_usage.store(wants, Ordering::SeqCst);
    }

    /// Whether the client asked for `codelab/contextUsage`.
    pub fn wants_context_usage(&self) -> bool {
        self.wants_usage.load(Ordering::SeqCst)
    }

    /// Records whether the client asked for `codelab/turnDiff`
    /// (`experimental.codelab.turnDiff`).
    pub fn set_wants_turn_diff(&self, wants: bool) {
        self.wants_diff.store(wants, Ordering::SeqCst);
    }

    /// Records an event subscription of this connection.
    pub fn add_subscription(&self, id: u64) {
        lock(&self.subscriptions).push(id);
    }

    /// Removes one subscription (or all with `None`) and returns the removed ids.
    pub fn take_subscriptions(&self, id: Option<u64>) -> Vec<u64> {
        let mut subs = lock(&self.subscriptions);
        match id {
            None => std::mem::take(&mut *subs),
            Some(id) => {
                let had = subs.contains(&id);
                subs.retain(|s| *s != id);
                if had { vec![id] } else { Vec::new() }
            }
        }
    }

    /// Queues a notification without waiting; false when the queue is full.
    pub fn try_notify(&self, method: &str, params: Value) -> bool {
        let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.outgoing.try_send(msg.to_string()).is_ok()
    }
}

fn error_response(id: &Value, err: &RpcError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": err.to_json()}).to_string()
}

/// Drives one connection until the client exits or the transport closes.
///
/// `outgoing` receives every message for the client, serialized.
pub async fn run(
    core: Arc<Core>,
    incoming: mpsc::Receiver<Incoming>,
    outgoing: mpsc::Sender<String>,
) -> ConnectionEnd {
    run_limited(core, incoming, outgoing, None).await
}

/// [`run`], with every request first checked against `limits`.
pub async fn run_limited(
    core: Arc<Core>,
    mut incoming: mpsc::Receiver<Incoming>,
    outgoing: mpsc::Sender<String>,
    limits: Option<super::limits::RateLimits>,
) -> ConnectionEnd {
    let conn_id = core.next_conn_id();
    let documents = core.runtime.docs().register(conn_id);
    // Events: 4096 queued, then up to 8 MiB of overflow before a client
    // that does not read is disconnected.
    let kick = tokio_util::sync::CancellationToken::new();
    let (events, mut events_rx) = EventQueue::new(4096, 8 * 1024 * 1024, kick.clone());
    let conn = Arc::new(ConnState::new(
        conn_id,
        outgoing.clone(),
        documents,
        Arc::clone(&events),
        kick,
    ));
    // Session events, as notifications, in the order the hub queued them.
    let events_out = outgoing.clone();
    let pump_conn = Arc::clone(&conn);
    let events_pump = tokio::spawn(async move {
        while let Some(event) = events.next(&mut events_rx).await {
            // Only clients that show them get the usage after every
            // response and the turn's diff.
            let skip = match event.update {
                crate::domain::SessionUpdate::ContextUsage(_) => !pump_conn.wants_context_usage(),
                crate::domain::SessionUpdate::TurnDiff { .. } => {
                    !pump_conn.wants_diff.load(Ordering::SeqCst)
                }
                _ => false,
            };
            if skip {
                continue;
            }
            let (method, params) = super::notifications::encode(&event);
            let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
            if events_out.send(msg.to_string()).await.is_err() {
                break;
            }
        }
    });
    let (mut service, socket) = {
        let core = Arc::clone(&core);
        let conn = Arc::clone(&conn);
        LspService::new(move |client| Backend::new(core, conn, client))
    };
    let (mut client_requests, mut client_responses) = socket.split();

    // Server-to-client messages produced through tower-lsp's `Client`.
    let pump_out = outgoing.clone();
    let pump = tokio::spawn(async move {
        while let Some(req) = client_requests.next().await {
            match serde_json::to_string(&req) {
                Ok(text) => {
                    if pump_out.send(text).await.is_err() {
                        break;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot serialize a server request"),
            }
        }
    });

    let max = core.config.max_message_bytes;
    let mut end = ConnectionEnd::Closed;
    loop {
        let item = tokio::select! {
            item = incoming.recv() => match item {
                Some(item) => item,
                None => break,
            },
            () = conn.kick.cancelled() => {
                tracing::warn!(conn = conn.id, "dropping a connection that stopped reading");
                break;
            }
        };
        let text = match item {
            Incoming::Message(text) => text,
            Incoming::TooLarge { size } => {
                let err = RpcError::new(ErrorCode::MessageTooLarge, "message too large")
                    .with_detail(format!("{size} bytes; the limit is {max} bytes"));
                let _ = outgoing.send(error_response(&Value::Null, &err)).await;
                continue;
            }
            Incoming::Malformed(reason) => {
                let err = RpcError::new(ErrorCode::ParseError, format!("parse error: {reason}"));
                let _ = outgoing.send(error_response(&Value::Null, &err)).await;
                continue;
            }
        };
        let classified = classify(&text);
        if let Some(limits) = &limits {
            let request_id = match &classified {
                Classified::Codelab { id: Some(id), .. } => Some(id.clone()),
                Classified::Lsp(req) => req
                    .id()
                    .map(|id| serde_json::to_value(id).unwrap_or(Value::Null)),
                _ => None,
            };
            if let Some(id) = request_id
                && let Err(wait) = limits.check()
            {
                let ms = wait.as_millis() as u64;
                let err = RpcError::new(
                    ErrorCode::RateLimited,
                    format!("rate limited: retry in {ms} ms"),
                )
                .with_detail(format!("retryAfterMs={ms}"));
                let mut body = err.to_json();
                body["data"]["retryAfterMs"] = json!(ms);
                let _ = outgoing
                    .send(json!({"jsonrpc": "2.0", "id": id, "error": body}).to_string())
                    .await;
                continue;
            }
        }
        match classified {
            Classified::Invalid(id, err) => {
                let _ = outgoing.send(error_response(&id, &err)).await;
            }
            Classified::Response(resp) => {
                if let Err(e) = client_responses.send(resp).await {
                    tracing::warn!(error = %e, "dropping a client response");
                }
            }
            Classified::Codelab { id, method, params } => {
                handle_codelab(&core, &conn, id, method, params, &outgoing);
            }
            Classified::Lsp(req) => {
                let is_exit = req.method() == "exit";
                let is_notification = req.id().is_none();
                if futures::future::poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .is_err()
                {
                    break;
                }
                let fut = service.call(req);
                if is_notification {
                    // In order, one at a time: document changes must not interleave.
                    let _ = fut.await;
                } else {
                    let out = outgoing.clone();
                    tokio::spawn(async move {
                        if let Ok(Some(resp)) = fut.await
                            && let Ok(text) = serde_json::to_string(&resp)
                        {
                            let _ = out.send(text).await;
                        }
                    });
                }
                if is_exit {
                    end = if conn.shutdown.load(Ordering::SeqCst) {
                        ConnectionEnd::CleanExit
                    } else {
                        ConnectionEnd::ExitWithoutShutdown
                    };
                    break;
                }
            }
        }
    }
    pump.abort();
    events_pump.abort();
    for id in conn.take_subscriptions(None) {
        core.runtime.bus().unsubscribe(id);
    }
    core.runtime.disconnect(conn_id);
    end
}

enum Classified {
    Invalid(Value, RpcError),
    Response(Response),
    Codelab {
        id: Option<Value>,
        method: String,
        params: Option<Value>,
    },
    Lsp(Request),
}

fn classify(text: &str) -> Classified {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Classified::Invalid(
                Value::Null,
                RpcError::new(ErrorCode::ParseError, format!("parse error: {e}")),
            );
        }
    };
    let invalid = |id: Value, reason: &str| {
        Classified::Invalid(
            id,
            RpcError::new(
                ErrorCode::InvalidRequest,
                format!("invalid request: {reason}"),
            ),
        )
    };
    let Value::Object(obj) = &value else {
        let what = if value.is_array() {
            "batches are not supported; send one message at a time"
        } else {
            "a message must be a JSON object"
        };
        return invalid(Value::Null, what);
    };
    let id = obj.get("id").cloned();
    let id_ok = matches!(
        &id,
        None | Some(Value::Number(_) | Value::String(_) | Value::Null)
    );
    if !id_ok {
        return invalid(Value::Null, "`id` must be a number or a string");
    }
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return invalid(id.unwrap_or(Value::Null), "`jsonrpc` must be \"2.0\"");
    }
    match obj.get("method") {
        Some(Value::String(method)) => {
            if let Some(p) = obj.get("params")
                && !(p.is_object() || p.is_array() || p.is_null())
            {
                return invalid(
                    id.unwrap_or(Value::Null),
                    "`params` must be an object or an array",
                );
            }
            if method.starts_with("codelab/") {
                return Classified::Codelab {
                    id,
                    method: method.clone(),
                    params: obj.get("params").cloned(),
                };
            }
            match serde_json::from_value::<Request>(value.clone()) {
                Ok(req) => Classified::Lsp(req),
                Err(e) => invalid(id.unwrap_or(Value::Null), &e.to_string()),
            }
        }
        Some(_) => invalid(id.unwrap_or(Value::Null), "`method` must be a string"),
        None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
            match serde_json::from_value::<Response>(value.clone()) {
                Ok(resp) => Classified::Response(resp),
                Err(e) => invalid(Value::Null, &format!("malformed response: {e}")),
            }
        }
        None => invalid(id.unwrap_or(Value::Null), "no `method`, and not a response"),
    }
}

fn handle_codelab(
    core: &Arc<Core>,
    conn: &Arc<ConnState>,
    id: Option<Value>,
    method: String,
    params: Option<Value>,
    outgoing: &mpsc::Sender<String>,
) {
    let Some(id) = id else {
        tracing::debug!(%method, "ignoring a codelab notification from the client");
        return;
    };
    let early = if !conn.initialized.load(Ordering::SeqCst) {
        Some(RpcError::new(
            ErrorCode::ServerNotInitialized,
            format!("`{method}` before `initialize`: send `initialize` first"),
        ))
    } else if conn.shutdown.load(Ordering::SeqCst) {
        Some(RpcError::new(
            ErrorCode::InvalidRequest,
            format!("`{method}` after `shutdown`"),
        ))
    } else {
        None
    };
    if let Some(err) = early {
        let out = outgoing.clone();
        tokio::spawn(async move {
            let _ = out.send(error_response(&id, &err)).await;
        });
        return;
    }
    let core = Arc::clone(core);
    let conn = Arc::clone(conn);
    let out = outgoing.clone();
    tokio::spawn(async move {
        let text = match methods::dispatch(&core, &conn, &method, params).await {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
            Err(err) => {
                if err.code == ErrorCode::InternalError || err.code == ErrorCode::StoreFailure {
                    tracing::error!(%method, error = %err, "request failed");
                }
                error_response(&id, &err)
            }
        };
        let _ = out.send(text).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_code(text: &str) -> Option<i64> {
        match classify(text) {
            Classified::Invalid(_, e) => Some(e.code.code()),
            _ => None,
        }
    }

    #[test]
    fn classifies_bad_input() {
        assert_eq!(invalid_code("{"), Some(-32700));
        assert_eq!(invalid_code("[]"), Some(-32600));
        assert_eq!(invalid_code("42"), Some(-32600));
        assert_eq!(
            invalid_code(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#),
            Some(-32600)
        );
        assert_eq!(
            invalid_code(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#),
            Some(-32600)
        );
        assert_eq!(
            invalid_code(r#"{"jsonrpc":"2.0","id":1,"method":7}"#),
            Some(-32600)
        );
        assert_eq!(
            invalid_code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#),
            Some(-32600)
        );
        assert_eq!(invalid_code(r#"{"jsonrpc":"2.0","id":1}"#), Some(-32600));
        assert!(matches!(
            classify(r#"{"jsonrpc":"2.0","id":1,"result":null}"#),
            Classified::Response(_)
        ));
        assert!(matches!(
            classify(r#"{"jsonrpc":"2.0","id":1,"method":"codelab/listAgents"}"#),
            Classified::Codelab { .. }
        ));
        assert!(matches!(
            classify(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#),
            Classified::Lsp(_)
        ));
    }
}
