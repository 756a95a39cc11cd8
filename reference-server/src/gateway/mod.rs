//! The polyproto WebSocket gateway (polyproto-core §3.2) with the `mls` service channel.
//!
//! - `GET /.p2/core/v1/gateway` tells clients where the socket is.
//! - Each connection runs one task that owns its socket (`connection`); HTTP handlers publish
//!   `mls` events through the `Hub` into bounded per-connection queues. A full queue means a slow
//!   or dead client: that connection is dropped, never waited for, so no socket blocks others.
//! - Each session keeps the log of the events sent on its latest connection, so a client can
//!   resume after a disconnect (§3.2.3.6) within the log's capacity.

mod connection;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use p2mls_protocol::gateway::{DISCOVERY, NS_MLS, SOCKET};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::AppState;

/// Events queued for one connection before it counts as too slow.
pub const QUEUE_CAPACITY: usize = 256;
/// Events kept per session for resume and heartbeat re-sends.
pub const LOG_CAPACITY: usize = 1024;
/// Largest frame a client may send.
pub const MAX_FRAME: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(DISCOVERY, get(discovery))
        .route(SOCKET, get(upgrade))
}

async fn discovery(headers: HeaderMap) -> impl IntoResponse {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    axum::Json(json!({ "url": format!("ws://{host}{SOCKET}") }))
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

/// Events sent on a session's latest connection: (s, envelope).
pub type EventLog = Arc<Mutex<VecDeque<(u64, Value)>>>;

/// Routes `mls` events to subscribed connections and keeps per-session logs.
#[derive(Default)]
pub struct Hub {
    connections: AtomicUsize,
    next_id: AtomicU64,
    inner: Mutex<HubInner>,
}

#[derive(Default)]
struct HubInner {
    /// fid -> connection id -> queue.
    subscribers: HashMap<String, HashMap<u64, mpsc::Sender<Value>>>,
    /// session token -> log of its latest connection.
    logs: HashMap<String, EventLog>,
}

/// Counts a connection while alive.
pub struct Permit(Arc<Hub>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hub {
    fn admit(self: &Arc<Self>, max: usize) -> Option<Permit> {
        let previous = self.connections.fetch_add(1, Ordering::SeqCst);
        if previous >= max {
            self.connections.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Permit(self.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubInner> {
        // The maps stay consistent even if a holder panicked: every update is a single insert or
        // remove.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn connection_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    pub fn subscribe(&self, fid: &str, connection: u64, queue: mpsc::Sender<Value>) {
        self.lock()
            .subscribers
            .entry(fid.to_owned())
            .or_default()
            .insert(connection, queue);
    }

    pub fn unsubscribe(&self, fid: &str, connection: u64) {
        let mut inner = self.lock();
        if let Some(map) = inner.subscribers.get_mut(fid) {
            map.remove(&connection);
            if map.is_empty() {
                inner.subscribers.remove(fid);
            }
        }
    }

    /// A fresh log for the session's new connection (replacing the previous one).
    pub fn new_log(&self, token: &str) -> EventLog {
        let log: EventLog = Arc::default();
        self.lock().logs.insert(token.to_owned(), log.clone());
        log
    }

    /// The log of the session's latest connection, for resuming.
    pub fn log(&self, token: &str) -> Option<EventLog> {
        self.lock().logs.get(token).cloned()
    }

    /// Queues an `mls` event for every subscribed connection of these actors. Connections whose
    /// queue is full are dropped from the hub (their task then closes them).
    pub fn publish(&self, fids: &[String], op: u16, data: Value) {
        let event = json!({ "n": NS_MLS, "op": op, "d": data });
        let mut inner = self.lock();
        for fid in fids {
            if let Some(map) = inner.subscribers.get_mut(fid) {
                map.retain(|_, queue| queue.try_send(event.clone()).is_ok());
            }
        }
        inner.subscribers.retain(|_, map| !map.is_empty());
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
