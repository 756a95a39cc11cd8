//! Where HTTP handlers reach gateway connections: the `Hub` routes `mls` events to the bounded
//! queues of subscribed connections and keeps each session's event log for resume, tells every
//! identified connection of an actor about its new sessions (core op 3), and closes the
//! connections of a revoked session.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use p2mls_protocol::gateway::NS_MLS;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

/// Events kept per session for resume and heartbeat re-sends.
pub const LOG_CAPACITY: usize = 1024;
/// Events queued for one connection before it counts as too slow.
pub const QUEUE_CAPACITY: usize = 256;

/// What a session's latest connection sent, and its sequence counter. While the connection is
/// gone but was subscribed, the hub keeps appending the session's events here, so that a resume
/// replays what the client missed.
#[derive(Debug, Default)]
pub struct SessionLog {
    pub entries: VecDeque<(u64, Value)>,
    pub next_s: u64,
    /// Whether the connection was subscribed to `mls` (restored on resume).
    pub subscribed: bool,
}

impl SessionLog {
    /// Records an envelope under the next sequence number and returns it with `s` set.
    pub fn record(&mut self, mut envelope: Value, skip: u64) -> Value {
        let s = self.next_s;
        self.next_s += 1 + skip;
        envelope["s"] = Value::from(s);
        self.entries.push_back((s, envelope.clone()));
        while self.entries.len() > LOG_CAPACITY {
            self.entries.pop_front();
        }
        envelope
    }
}

pub type EventLog = Arc<Mutex<SessionLog>>;

/// Locks a log; a panic while holding it cannot leave it half-updated (single pushes).
pub fn lock_log(log: &EventLog) -> std::sync::MutexGuard<'_, SessionLog> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// A new session of the connection's actor, for core op 3 (core 4.4): its number and ID-Cert.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub seq: i64,
    pub cert_pem: String,
}

/// What an identified connection hears from the hub outside the `mls` channel.
pub struct Registration {
    /// New sessions of the actor (bounded; one that does not fit stays owed in the store and is
    /// sent when the session next identifies or resumes).
    pub new_sessions: mpsc::Receiver<NewSession>,
    /// Turns `true` when the session is revoked: the connection closes with 4003.
    pub revoked: watch::Receiver<bool>,
}

/// An identified connection, as the hub knows it.
struct Identified {
    token: String,
    session: i64,
    new_sessions: mpsc::Sender<NewSession>,
    revoked: watch::Sender<bool>,
}

/// Routes `mls` events to subscribed connections and keeps per-session logs.
#[derive(Default)]
pub struct Hub {
    connections: AtomicUsize,
    next_id: AtomicU64,
    inner: Mutex<HubInner>,
    /// Set once when the server stops: every connection closes with 1001 (going away).
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The `no-mls-message` fault: events go out without their `mlsMessage` members.
    without_mls_message: bool,
}

#[derive(Default)]
struct HubInner {
    /// fid -> connection id -> queue.
    subscribers: HashMap<String, HashMap<u64, mpsc::Sender<Value>>>,
    /// session token -> log of its latest connection.
    logs: HashMap<String, EventLog>,
    /// fid -> logs of subscribed sessions whose connection is gone, awaiting a resume.
    detached: HashMap<String, Vec<(String, EventLog)>>,
    /// fid -> connection id -> identified connection.
    identified: HashMap<String, HashMap<u64, Identified>>,
}

/// Counts a connection while alive.
pub struct Permit(Arc<Hub>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hub {
    /// A hub whose events carry no `mlsMessage` (the `no-mls-message` fault).
    pub fn without_mls_message() -> Self {
        Self {
            without_mls_message: true,
            ..Self::default()
        }
    }

    pub fn admit(self: &Arc<Self>, max: usize) -> Option<Permit> {
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

    /// Makes `log` the session's current log (identify or resume), ending any detached one.
    pub fn attach(&self, fid: &str, token: &str, log: EventLog) {
        let mut inner = self.lock();
        inner.logs.insert(token.to_owned(), log);
        if let Some(list) = inner.detached.get_mut(fid) {
            list.retain(|(t, _)| t != token);
            if list.is_empty() {
                inner.detached.remove(fid);
            }
        }
    }

    /// The connection ends: stop routing to it, move what is still queued into its log, and keep
    /// collecting the session's events there if it was subscribed. One lock, so no event slips
    /// between the queue and the log.
    pub fn detach(
        &self,
        fid: &str,
        connection: u64,
        token: &str,
        log: EventLog,
        queue: Option<mpsc::Receiver<Value>>,
    ) {
        let mut inner = self.lock();
        if let Some(map) = inner.subscribers.get_mut(fid) {
            map.remove(&connection);
            if map.is_empty() {
                inner.subscribers.remove(fid);
            }
        }
        if let Some(mut queue) = queue {
            let mut guard = lock_log(&log);
            while let Ok(event) = queue.try_recv() {
                guard.record(event, 0);
            }
            guard.subscribed = true;
            drop(guard);
            inner
                .detached
                .entry(fid.to_owned())
                .or_default()
                .push((token.to_owned(), log));
        }
    }

    /// An identified (or resumed) connection of session `session` joins its actor's connections:
    /// it hears of the actor's new sessions and of its own session's revocation.
    pub fn register(&self, fid: &str, connection: u64, token: &str, session: i64) -> Registration {
        let (new_tx, new_rx) = mpsc::channel(QUEUE_CAPACITY);
        let (revoked_tx, revoked_rx) = watch::channel(false);
        self.lock()
            .identified
            .entry(fid.to_owned())
            .or_default()
            .insert(
                connection,
                Identified {
                    token: token.to_owned(),
                    session,
                    new_sessions: new_tx,
                    revoked: revoked_tx,
                },
            );
        Registration {
            new_sessions: new_rx,
            revoked: revoked_rx,
        }
    }

    /// The connection ended (or failed to identify after all).
    pub fn unregister(&self, fid: &str, connection: u64) {
        let mut inner = self.lock();
        if let Some(map) = inner.identified.get_mut(fid) {
            map.remove(&connection);
            if map.is_empty() {
                inner.identified.remove(fid);
            }
        }
    }

    /// Core 4.4: tells every identified connection of the actor, except those of the new session
    /// itself, about the new session. A connection whose queue is full misses it here; the store
    /// still owes it the event.
    pub fn new_session(&self, fid: &str, new: &NewSession) {
        let inner = self.lock();
        for connection in inner
            .identified
            .get(fid)
            .into_iter()
            .flat_map(HashMap::values)
        {
            if connection.session != new.seq {
                let _ = connection.new_sessions.try_send(new.clone());
            }
        }
    }

    /// The session of `token` was revoked: its connections close with 4003 (unless `keep_open`,
    /// the fault that leaves them open) and nothing of it can be resumed.
    pub fn revoke(&self, fid: &str, token: &str, keep_open: bool) {
        let mut inner = self.lock();
        inner.logs.remove(token);
        if let Some(list) = inner.detached.get_mut(fid) {
            list.retain(|(t, _)| t != token);
            if list.is_empty() {
                inner.detached.remove(fid);
            }
        }
        if keep_open {
            return;
        }
        for connection in inner
            .identified
            .get(fid)
            .into_iter()
            .flat_map(HashMap::values)
        {
            if connection.token == token {
                connection.revoked.send_replace(true);
            }
        }
    }

    /// The log of the session's latest connection, for resuming.
    pub fn log(&self, token: &str) -> Option<EventLog> {
        self.lock().logs.get(token).cloned()
    }

    /// Queues an `mls` event for every subscribed connection of these actors. Connections whose
    /// queue is full are dropped from the hub (their task then closes them).
    pub fn publish(&self, fids: &[String], op: u16, mut data: Value) {
        if self.without_mls_message {
            crate::faults::strip_mls_message(&mut data);
        }
        let event = json!({ "n": NS_MLS, "op": op, "d": data });
        let mut inner = self.lock();
        for fid in fids {
            if let Some(map) = inner.subscribers.get_mut(fid) {
                map.retain(|_, queue| queue.try_send(event.clone()).is_ok());
            }
            for (_, log) in inner.detached.get(fid).into_iter().flatten() {
                lock_log(log).record(event.clone(), 0);
            }
        }
        inner.subscribers.retain(|_, map| !map.is_empty());
    }

    /// Tells every connection that the server is going away.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// A receiver that turns `true` when the server is going away.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_mls_message_events_lose_the_member_at_every_depth() {
        for (hub, kept) in [(Hub::default(), true), (Hub::without_mls_message(), false)] {
            let (tx, mut rx) = mpsc::channel(4);
            hub.subscribe("bob@example.com", 1, tx);
            let data = json!({
                "groupId": "g", "mlsMessage": "AAAA",
                "welcome": { "epoch": 1, "mlsMessage": "AAAA" },
            });
            hub.publish(&["bob@example.com".to_owned()], 2, data);
            let event = rx.recv().await.expect("an event");
            assert_eq!(event["d"]["groupId"], "g");
            assert_eq!(event["d"]["welcome"]["epoch"], 1);
            assert_eq!(event["d"].get("mlsMessage").is_some(), kept);
            assert_eq!(event["d"]["welcome"].get("mlsMessage").is_some(), kept);
        }
    }
}
