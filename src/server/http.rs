//! The HTTP server: the web IDE at `/` (its page and assets, embedded),
//! `GET /health`, `GET /metrics` and the websocket endpoint `/lsp`, which
//! carries the same protocol as stdio, one JSON-RPC message per text frame.
//!
//! The page, its assets and `/health` need no token (like Jupyter's login
//! page, the page holds no data: it reads the token from the URL's fragment,
//! `/#token=...`, which browsers never send to the server).
//! Access: every websocket upgrade must present the token (header
//! `X-Internal-Auth`, or a `Sec-WebSocket-Protocol` entry `codelab-token.<token>`
//! for browsers, which cannot set headers), compared in constant time; a
//! missing or wrong token gets 401 and nothing else. A browser's `Origin` must
//! be the server's own or in the allow list, else 403. `/metrics` needs the
//! token too. Connections beyond the limit get 503.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::connection::{self, Incoming};
use super::limits::{Bucket, RateLimits};
use crate::config::ServeConfig;
use crate::core::Core;

/// The subprotocol prefix a browser uses to present the token.
pub const TOKEN_PROTOCOL_PREFIX: &str = "codelab-token.";

#[derive(Clone)]
struct AppState {
    core: Arc<Core>,
    serve: Arc<ServeConfig>,
    own_origins: Arc<Vec<String>>,
    connections: Arc<AtomicUsize>,
    token_bucket: Arc<Mutex<Bucket>>,
}

/// Builds the router for a server listening on `addr`.
pub fn router(core: Arc<Core>, serve: ServeConfig, addr: SocketAddr) -> Router {
    let port = addr.port();
    let own_origins = vec![
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://{addr}"),
    ];
    let state = AppState {
        core,
        token_bucket: Arc::new(Mutex::new(Bucket::new(serve.rate_per_token))),
        serve: Arc::new(serve),
        own_origins: Arc::new(own_origins),
        connections: Arc::new(AtomicUsize::new(0)),
    };
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/lsp", get(lsp))
        .fallback(asset)
        .with_state(state)
}

/// Serves HTTP on `listener` until the process ends.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    core: Arc<Core>,
    serve: ServeConfig,
    listener: TcpListener,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(
        "listening on http://{addr} (the web IDE at /, GET /health, GET /metrics, websocket /lsp)"
    );
    // As Jupyter does: the URL to open, the token in the fragment (never sent
    // to the server, kept out of its logs). Only on loopback: beyond it the
    // operator set the token and hands it out.
    if addr.ip().is_loopback() {
        tracing::info!(
            "open the IDE: {}",
            ide_url(addr, &serve.token, serve.workspace.as_deref())
        );
    }
    axum::serve(
        listener,
        router(core, serve, addr).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The URL that opens the web IDE with `token`, new sessions in `workspace`.
pub fn ide_url(addr: SocketAddr, token: &str, workspace: Option<&std::path::Path>) -> String {
    let mut url = format!("http://{addr}/#token={token}");
    if let Some(uri) = workspace.and_then(crate::workspace::path_to_uri) {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("folder", &uri);
        url.push('&');
        url.push_str(&query.finish());
    }
    url
}

/// Serves the embedded web IDE: `/` is its page, anything else a built file
/// or 404. No token: the page and its assets hold no data.
async fn asset(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let Some(bytes) = super::assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    // Built assets carry a content hash in their names: cached for good.
    // The page itself is revalidated, so a new binary serves a new page.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut res = (
        [
            (header::CONTENT_TYPE, super::assets::content_type(path)),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn health(State(s): State<AppState>) -> Json<serde_json::Value> {
    let core = &s.core;
    let reachable = core.runtime.store().reachable().await;
    let providers: Vec<_> = core
        .runtime
        .llm()
        .breaker_states()
        .into_iter()
        .map(|(name, state)| json!({"provider": name, "breaker": state}))
        .collect();
    Json(json!({
        "status": if reachable { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSecs": core.started.elapsed().as_secs_f64(),
        "store": { "reachable": reachable },
        "providers": providers,
        "connections": s.connections.load(Ordering::Relaxed),
        "sandbox": {
            "available": core.runtime.sandbox_support().available(),
            "reason": core.runtime.sandbox_support().reason(),
        },
        "backgroundCommands": core.runtime.background_commands(None).iter().filter(|b| b.exit.is_none()).count(),
    }))
}

/// The token the request presents, and whether it came as a subprotocol.
fn presented(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(v) = headers.get("x-internal-auth").and_then(|v| v.to_str().ok()) {
        return Some((v.trim().to_owned(), false));
    }
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some((t.trim().to_owned(), false));
    }
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            p.trim()
                .strip_prefix(TOKEN_PROTOCOL_PREFIX)
                .map(|t| (t.to_owned(), true))
        })
}

fn authorized(s: &AppState, headers: &HeaderMap) -> Option<bool> {
    let (token, via_protocol) = presented(headers)?;
    let ok: bool = token.as_bytes().ct_eq(s.serve.token.as_bytes()).into();
    ok.then_some(via_protocol)
}

fn unauthorized() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if authorized(&s, &headers).is_none() {
        return unauthorized();
    }
    let core = &s.core;
    core.metrics
        .set_breakers(core.runtime.llm().breaker_states());
    core.metrics.sync(core.runtime.bus()).await;
    let body = core.metrics.prometheus(core.runtime.bus());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Releases a connection slot when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn lsp(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(via_protocol) = authorized(&s, &headers) else {
        tracing::warn!(%peer, "websocket upgrade refused: missing or wrong token");
        return unauthorized();
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
        if !s
            .own_origins
            .iter()
            .chain(s.serve.allowed_origins.iter())
            .any(|o| o.trim_end_matches('/') == origin)
        {
            tracing::warn!(%peer, origin, "websocket upgrade refused: origin not allowed");
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    let n = s.connections.fetch_add(1, Ordering::SeqCst) + 1;
    let slot = Slot(Arc::clone(&s.connections));
    if n > s.serve.max_connections {
        drop(slot);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "overloaded", "message": format!("the server holds {} connections, its limit; retry later", s.serve.max_connections)})),
        )
            .into_response();
    }
    let max = s.core.config.max_message_bytes;
    let mut ws = ws
        .max_message_size(max.saturating_mul(2))
        .max_frame_size(max.saturating_mul(2));
    if via_protocol {
        let protocol = format!("{TOKEN_PROTOCOL_PREFIX}{}", s.serve.token);
        ws = ws.protocols([protocol]);
    }
    let limits = RateLimits::new(s.serve.rate_per_connection, Arc::clone(&s.token_bucket));
    let core = Arc::clone(&s.core);
    ws.on_upgrade(move |socket| async move {
        let _slot = slot;
        websocket(core, socket, limits).await;
    })
    .into_response()
}

async fn websocket(core: Arc<Core>, socket: WebSocket, limits: RateLimits) {
    let max = core.config.max_message_bytes;
    let (mut sink, mut stream) = socket.split();
    let (in_tx, in_rx) = mpsc::channel::<Incoming>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<String>(1024);

    let writer = tokio::spawn(async move {
        while let Some(text) = out_rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    let reader = tokio::spawn(async move {
        while let Some(frame) = stream.next().await {
            let item = match frame {
                Ok(Message::Text(text)) if text.len() > max => {
                    Incoming::TooLarge { size: text.len() }
                }
                Ok(Message::Text(text)) => Incoming::Message(text.as_str().to_owned()),
                Ok(Message::Binary(bytes)) if bytes.len() > max => {
                    Incoming::TooLarge { size: bytes.len() }
                }
                Ok(Message::Binary(bytes)) => match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => Incoming::Message(text),
                    Err(e) => Incoming::Malformed(format!("binary frame is not UTF-8: {e}")),
                },
                Ok(Message::Close(_)) => break,
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "websocket read failed");
                    break;
                }
            };
            if in_tx.send(item).await.is_err() {
                break;
            }
        }
    });
    let end = connection::run_limited(core, in_rx, out_tx, Some(limits)).await;
    tracing::debug!(?end, "websocket connection ended");
    reader.abort();
    // A client that stopped reading blocks the writer: give it a moment, then drop the socket.
    let abort = writer.abort_handle();
    if tokio::time::timeout(std::time::Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
}
