//! The HTTP server: `GET /health` and the websocket endpoint `/lsp`, which
//! carries the same protocol as stdio, one JSON-RPC message per text frame.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::connection::{self, Incoming};
use crate::core::Core;

/// Builds the router.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/lsp", get(lsp))
        .with_state(core)
}

/// Serves HTTP on `listener` until the process ends.
///
/// # Errors
/// When the listener fails.
pub async fn serve(core: Arc<Core>, listener: TcpListener) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr} (GET /health, websocket /lsp)");
    axum::serve(
        listener,
        router(core).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn health(State(core): State<Arc<Core>>) -> Json<serde_json::Value> {
    let reachable = core.store.reachable().await;
    let providers: Vec<_> = core
        .llm
        .breaker_states()
        .into_iter()
        .map(|(name, state)| json!({"provider": name, "breaker": state}))
        .collect();
    Json(json!({
        "status": if reachable { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSecs": core.started.elapsed().as_secs_f64(),
        "store": { "reachable": reachable, "path": core.store.path() },
        "providers": providers,
    }))
}

async fn metrics(State(core): State<Arc<Core>>) -> Response {
    core.metrics.set_breakers(core.llm.breaker_states());
    core.metrics.sync(&core.bus).await;
    let body = core.metrics.prometheus(&core.bus);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn lsp(State(core): State<Arc<Core>>, ws: WebSocketUpgrade) -> Response {
    let max = core.config.max_message_bytes;
    // Frames between `max` and twice it are answered with `messageTooLarge`;
    // beyond that the websocket layer closes the connection (code 1009).
    ws.max_message_size(max.saturating_mul(2))
        .max_frame_size(max.saturating_mul(2))
        .on_upgrade(move |socket| websocket(core, socket))
        .into_response()
}

async fn websocket(core: Arc<Core>, socket: WebSocket) {
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
    let end = connection::run(core, in_rx, out_tx).await;
    tracing::debug!(?end, "websocket connection ended");
    reader.abort();
    let _ = writer.await;
}
