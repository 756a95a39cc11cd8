//! The polyproto WebSocket gateway (polyproto-core §3.2) with the `mls` service channel.
//!
//! - `GET /.p2/core/v1/gateway` tells clients where the socket is.
//! - Each connection runs one task that owns its socket (`connection`); HTTP handlers publish
//!   `mls` events through the `Hub` (`hub`, held by `AppState`) into bounded per-connection
//!   queues. A full queue means a slow
//!   or dead client: that connection is dropped, never waited for, so no socket blocks others.
//! - Each session keeps the log of the events sent on its latest connection, so a client can
//!   resume after a disconnect (§3.2.3.6) within the log's capacity.

mod connection;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use p2mls_protocol::gateway::{DISCOVERY, SOCKET};
use serde_json::json;

use crate::state::AppState;

/// Largest frame a client may send.
pub const MAX_FRAME: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(DISCOVERY, get(discovery))
        .route(SOCKET, get(upgrade))
}

/// The socket's URL on the host the client asked for: `Host` in HTTP/1.1, the URI's authority
/// in HTTP/2; `wss` when this server speaks TLS.
async fn discovery(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> impl IntoResponse {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| "localhost".into());
    let scheme = if state.config.tls.is_some() {
        "wss"
    } else {
        "ws"
    };
    axum::Json(json!({ "url": format!("{scheme}://{host}{SOCKET}") }))
}

async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let hub = state.hub.clone();
    let Some(permit) = hub.admit(state.config.gateway.max_connections) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "gateway connection limit reached",
        )
            .into_response();
    };
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| async move {
            connection::run(socket, state).await;
            drop(permit);
        })
}
