//! One gateway connection: hello, identify or resume, heartbeats with re-sends, service channels,
//! the `mls` events and the actor's New Session events (core op 3), with the close codes of
//! polyproto-core §3.2.5 (4003 when the session is revoked).

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use p2mls_protocol::gateway::{close, core_op, NS_CORE, NS_MLS};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use crate::faults::Fault;
use crate::hub::{lock_log, EventLog, NewSession, Registration, QUEUE_CAPACITY};
use crate::state::AppState;

/// Why a connection ends: a close code and a reason for the client.
struct Closing(u16, &'static str);

/// What a handled frame asks of the connection's `mls` event queue.
enum QueueChange {
    Subscribe(mpsc::Receiver<Value>),
    Unsubscribe,
}

struct Connection {
    state: AppState,
    id: u64,
    /// (fid, session token) once identified or resumed.
    identity: Option<(String, String)>,
    /// The session's number once identified or resumed.
    session: Option<i64>,
    /// What the hub tells this connection once identified; `serve` takes it over.
    registration: Option<Registration>,
    /// The sessions this connection has announced (core op 3), so that one owed and also sent
    /// live goes out once.
    announced: HashSet<i64>,
    /// The session was revoked: nothing of it is kept for a resume.
    revoked: bool,
    /// This connection's log; it becomes the session's log on identify or resume.
    log: EventLog,
    last_heartbeat: Instant,
    requested_at: Option<Instant>,
}

fn send_failed() -> Closing {
    Closing(close::UNKNOWN_ERROR, "send failed")
}

pub async fn run(mut socket: WebSocket, state: AppState) {
    let mut conn = Connection {
        id: state.hub.connection_id(),
        identity: None,
        session: None,
        registration: None,
        announced: HashSet::new(),
        revoked: false,
        log: EventLog::default(),
        last_heartbeat: Instant::now(),
        requested_at: None,
        state,
    };
    let hello = json!({ "heartbeat_interval": conn.state.config.gateway.heartbeat_interval_ms });
    let mut queue: Option<mpsc::Receiver<Value>> = None;
    let outcome = match conn.send(&mut socket, NS_CORE, core_op::HELLO, hello).await {
        Ok(()) => conn.serve(&mut socket, &mut queue).await,
        Err(()) => Ok(()),
    };
    if let Err(Closing(code, reason)) = outcome {
        let code = if conn.has(Fault::WrongCloseCode) {
            close::UNKNOWN_ERROR
        } else {
            code
        };
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
        // Wait a moment for the client's side of the closing handshake (RFC 6455 §7.1.1), reading
        // what it still sends: closing the TCP socket with unread bytes in its buffer would make
        // the kernel reset the connection and discard the close frame just written.
        let _ = tokio::time::timeout(LINGER, async {
            while let Some(Ok(_)) = socket.recv().await {}
        })
        .await;
    }
    if let Some((fid, token)) = &conn.identity {
        conn.state.hub.unregister(fid, conn.id);
        // A revoked session's events are not kept for a resume.
        let queue = queue.take().filter(|_| !conn.revoked);
        conn.state
            .hub
            .detach(fid, conn.id, token, conn.log.clone(), queue);
    }
}

/// How long an erroring connection waits for the client's close before it ends.
const LINGER: Duration = Duration::from_millis(500);

impl Connection {
    fn has(&self, fault: Fault) -> bool {
        self.state.config.faults.contains(&fault)
    }

    /// Sends one envelope under the next sequence number, recording it in the log first.
    async fn send(&mut self, socket: &mut WebSocket, n: &str, op: u16, d: Value) -> Result<(), ()> {
        let envelope = {
            let mut log = lock_log(&self.log);
            if log.next_s == 0 && self.has(Fault::HelloSeqOne) {
                log.next_s = 1;
            }
            let skip = u64::from(self.has(Fault::SequenceGap) && log.next_s == 1);
            let mut envelope = log.record(json!({ "n": n, "op": op, "d": d }), skip);
            if self.has(Fault::UnsequencedServiceAck) && op == core_op::SERVICE_CHANNEL_ACK {
                if let Some(object) = envelope.as_object_mut() {
                    object.remove("s");
                }
            }
            envelope
        };
        socket
            .send(Message::Text(envelope.to_string().into()))
            .await
            .map_err(|_| ())
    }

    /// Sends one `mls` event taken from the connection's queue.
    async fn send_event(&mut self, socket: &mut WebSocket, event: &Value) -> Result<(), Closing> {
        if self.has(Fault::DropMlsEvents) {
            return Ok(());
        }
        let op = event["op"]
            .as_u64()
            .and_then(|o| u16::try_from(o).ok())
            .unwrap_or(0);
        self.send(socket, NS_MLS, op, event["d"].clone())
            .await
            .map_err(|()| send_failed())
    }

    /// Fault `missed-behind-pending`: sends every event queued so far, before anything else.
    async fn drain(
        &mut self,
        socket: &mut WebSocket,
        queue: &mut Option<mpsc::Receiver<Value>>,
    ) -> Result<(), Closing> {
        while let Some(event) = queue.as_mut().and_then(|rx| rx.try_recv().ok()) {
            self.send_event(socket, &event).await?;
        }
        Ok(())
    }

    /// `queue` is the `mls` event queue while subscribed (the hub holds its sender and drops it
    /// when the queue overflows).
    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        queue: &mut Option<mpsc::Receiver<Value>>,
    ) -> Result<(), Closing> {
        let interval = Duration::from_millis(self.state.config.gateway.heartbeat_interval_ms);
        let grace = if self.has(Fault::NoHeartbeatGrace) {
            Duration::ZERO
        } else {
            Duration::from_millis(self.state.config.gateway.heartbeat_grace_ms)
        };
        let mut shutdown = self.state.hub.shutdown_signal();
        let mut new_sessions: Option<mpsc::Receiver<NewSession>> = None;
        let mut revoked: Option<watch::Receiver<bool>> = None;
        loop {
            if let Some(registration) = self.registration.take() {
                new_sessions = Some(registration.new_sessions);
                revoked = Some(registration.revoked);
            }
            if revoked.as_ref().is_some_and(|r| *r.borrow()) {
                self.revoked = true;
                return Err(Closing(
                    close::NOT_AUTHENTICATED,
                    "the session has been invalidated",
                ));
            }
            if *shutdown.borrow_and_update() {
                return Err(Closing(ws_close::GOING_AWAY, "the server is shutting down"));
            }
            let deadline = match self.requested_at {
                None => self.last_heartbeat + interval + grace,
                Some(at) => at + grace,
            };
            // Biased, the client's frames first: a heartbeat that asks for missed events is read,
            // and its ACK with the re-sends goes out, before the queued events (core 3.2.6:
            // missed events take priority over other events). A client that floods frames only
            // delays its own events; the loop's head still sees shutdown and revocation.
            tokio::select! {
                biased;
                frame = socket.recv() => match frame {
                    None => return Ok(()),
                    Some(Err(e)) => return match transport_error(e) {
                        // Fault: end without a close frame, as before issue 14.
                        Some(_) if self.has(Fault::AbruptProtocolErrors) => Ok(()),
                        Some(closing) => Err(closing),
                        None => Ok(()),
                    },
                    Some(Ok(Message::Close(_))) => {
                        // tungstenite has queued the echo of the client's close frame (RFC 6455
                        // §5.5.1); the next read writes it out and ends the stream (a send would
                        // be refused after the peer's close). Fault: drop the connection instead.
                        if !self.has(Fault::NoCloseEcho) {
                            let _ = tokio::time::timeout(Duration::from_secs(1), socket.recv()).await;
                        }
                        return Ok(());
                    }
                    Some(Ok(Message::Text(text))) => {
                        if self.has(Fault::MissedBehindPending) && asks_for_missed(text.as_str()) {
                            self.drain(socket, queue).await?;
                        }
                        match self.handle(socket, text.as_str()).await? {
                            Some(QueueChange::Subscribe(rx)) => *queue = Some(rx),
                            Some(QueueChange::Unsubscribe) => *queue = None,
                            None => {}
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        return Err(Closing(close::INVALID_PAYLOAD, "binary frames are not gateway events"));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                },
                event = next_event(queue), if queue.is_some() => match event {
                    Some(event) => self.send_event(socket, &event).await?,
                    None => return Err(Closing(close::UNKNOWN_ERROR, "too slow: event queue overflowed")),
                },
                _ = shutdown.changed() => {}
                // The loop's head closes the connection once the flag is set.
                _ = changed(&mut revoked), if revoked.is_some() => {}
                announced = next_new_session(&mut new_sessions), if new_sessions.is_some() => match announced {
                    Some(new) => self.announce(socket, new.seq, new.cert_pem).await?,
                    None => new_sessions = None,
                },
                () = sleep_until(deadline) => {
                    if self.requested_at.is_some() || self.has(Fault::NoHeartbeatRequest) {
                        return Err(Closing(close::TIMEOUT, "no heartbeat in time"));
                    }
                    self.requested_at = Some(Instant::now());
                    self.send(socket, NS_CORE, core_op::HEARTBEAT_REQUEST, json!({}))
                        .await
                        .map_err(|()| send_failed())?;
                }
            }
        }
    }

    async fn handle(
        &mut self,
        socket: &mut WebSocket,
        text: &str,
    ) -> Result<Option<QueueChange>, Closing> {
        let invalid = || Closing(close::INVALID_PAYLOAD, "invalid payload");
        let event: Value = serde_json::from_str(text).map_err(|_| invalid())?;
        let n = event.get("n").and_then(Value::as_str).ok_or_else(invalid)?;
        let op = event
            .get("op")
            .and_then(Value::as_u64)
            .ok_or_else(invalid)?;
        let d = event.get("d").cloned().unwrap_or(Value::Null);
        if n != NS_CORE {
            return Err(Closing(
                close::UNKNOWN_OPCODE,
                "clients send only core events",
            ));
        }
        let op = u16::try_from(op).map_err(|_| Closing(close::UNKNOWN_OPCODE, "unknown opcode"))?;
        match op {
            core_op::HEARTBEAT => self.heartbeat(socket, &d).await.map(|()| None),
            core_op::IDENTIFY => self.identify(socket, &d).await.map(|()| None),
            core_op::RESUME => self.resume(socket, &d).await,
            core_op::SERVICE_CHANNEL => {
                if self.identity.is_none() {
                    return Err(Closing(close::NOT_AUTHENTICATED, "identify first"));
                }
                self.service_channel(socket, &d).await
            }
            _ => Err(Closing(close::UNKNOWN_OPCODE, "unknown opcode")),
        }
    }

    /// The fid and number of an active session's token.
    async fn session(&self, token: &str) -> Option<(String, i64)> {
        let token = token.to_owned();
        self.state
            .store
            .tx(move |tx| {
                Ok(tx
                    .session_by_token(&token, false)?
                    .map(|session| (session.fid, session.seq)))
            })
            .await
            .ok()
            .flatten()
    }

    /// The session a token names: (fid, token, session number).
    async fn authenticate(
        &self,
        d: &Value,
        what: &'static str,
    ) -> Result<(String, String, i64), Closing> {
        if self.identity.is_some() {
            return Err(Closing(close::ALREADY_AUTHENTICATED, "already identified"));
        }
        let token = d
            .get("token")
            .and_then(Value::as_str)
            .ok_or(Closing(close::INVALID_PAYLOAD, what))?;
        let (fid, seq) = self.session(token).await.ok_or(Closing(
            close::INVALID_AUTHENTICATION,
            "invalid session token",
        ))?;
        if self.has(Fault::RefuseIdentify) {
            return Err(Closing(
                close::INVALID_AUTHENTICATION,
                "invalid session token",
            ));
        }
        Ok((fid, token.to_owned(), seq))
    }

    /// Joins the actor's identified connections, then reads what the session is owed (core 4.4:
    /// the New Session events of its absence). In that order, so that a session issued meanwhile
    /// is either owed or announced live (or both: `announced` sends it once). A session revoked
    /// between authentication and now closes with 4003.
    async fn join(
        &mut self,
        fid: &str,
        token: &str,
        seq: i64,
    ) -> Result<Vec<(i64, String)>, Closing> {
        self.identity = Some((fid.to_owned(), token.to_owned()));
        self.session = Some(seq);
        self.registration = Some(self.state.hub.register(fid, self.id, token, seq));
        let owed = self
            .state
            .store
            .tx(move |tx| tx.owed_news(seq))
            .await
            .map_err(|_| Closing(close::UNKNOWN_ERROR, "storage failed"))?;
        let Some(owed) = owed else {
            self.revoked = true;
            return Err(Closing(
                close::NOT_AUTHENTICATED,
                "the session has been invalidated",
            ));
        };
        if self.has(Fault::NoNewSessionEvent) || self.has(Fault::NoNewSessionBacklog) {
            return Ok(Vec::new());
        }
        owed.into_iter()
            .map(|owed| {
                p2mls_protocol::idcert::cert_der_to_pem(&owed.cert_der)
                    .map(|pem| (owed.about, pem))
                    .map_err(|_| Closing(close::UNKNOWN_ERROR, "a stored ID-Cert is unreadable"))
            })
            .collect()
    }

    /// The session was told about these sessions (store errors only delay: the events stay owed
    /// and come again on the next identify).
    async fn delivered(&mut self, about: Vec<i64>) {
        let Some(seq) = self.session else {
            return;
        };
        self.announced.extend(about.iter().copied());
        if !about.is_empty() {
            let _ = self
                .state
                .store
                .tx(move |tx| tx.news_delivered(seq, &about))
                .await;
        }
    }

    /// Core op 3 about a new session of the actor, once per connection.
    async fn announce(
        &mut self,
        socket: &mut WebSocket,
        about: i64,
        cert_pem: String,
    ) -> Result<(), Closing> {
        if self.announced.contains(&about) || self.has(Fault::NoNewSessionEvent) {
            return Ok(());
        }
        self.send(
            socket,
            NS_CORE,
            core_op::NEW_SESSION,
            json!({ "cert": cert_pem }),
        )
        .await
        .map_err(|()| send_failed())?;
        self.delivered(vec![about]).await;
        Ok(())
    }

    async fn identify(&mut self, socket: &mut WebSocket, d: &Value) -> Result<(), Closing> {
        let (fid, token, seq) = self.authenticate(d, "identify needs a token").await?;
        self.state.hub.attach(&fid, &token, self.log.clone());
        let owed = self.join(&fid, &token, seq).await?;
        if !self.has(Fault::NoReady) {
            self.send(socket, NS_CORE, core_op::READY, json!({ "fid": fid }))
                .await
                .map_err(|()| send_failed())?;
        }
        // Core 4.4: a client re-establishing its connection is told of the sessions issued in
        // its absence; as live events, after the ready event.
        for (about, pem) in owed {
            self.announce(socket, about, pem).await?;
        }
        Ok(())
    }

    async fn resume(
        &mut self,
        socket: &mut WebSocket,
        d: &Value,
    ) -> Result<Option<QueueChange>, Closing> {
        let (fid, token, seq) = self.authenticate(d, "resume needs a token").await?;
        let since = d
            .get("s")
            .and_then(Value::as_u64)
            .ok_or(Closing(close::INVALID_PAYLOAD, "resume needs s"))?;
        let old = self
            .state
            .hub
            .log(&token)
            .ok_or(Closing(close::UNRESUMEABLE, "no connection to resume"))?;
        {
            let log = lock_log(&old);
            let oldest = log.entries.front().map_or(0, |(s, _)| *s);
            let outside = since >= log.next_s || since + 1 < oldest;
            if outside && !self.has(Fault::ResumeNeverRefused) {
                return Err(Closing(
                    close::UNRESUMEABLE,
                    "sequence number outside the kept events",
                ));
            }
        }
        // Core 4.4: the sessions issued while it was gone are among the missed events, each
        // recorded in the old log under the next sequence number.
        let owed = self.join(&fid, &token, seq).await?;
        let (missed, was_subscribed) = {
            let mut log = lock_log(&old);
            for (_, pem) in &owed {
                log.record(
                    json!({ "n": NS_CORE, "op": core_op::NEW_SESSION, "d": { "cert": pem } }),
                    0,
                );
            }
            let missed: Vec<Value> = log
                .entries
                .iter()
                .filter(|(s, e)| *s > since && !is_heartbeat_ack(e))
                .map(|(_, e)| e.clone())
                .collect();
            (missed, log.subscribed)
        };
        let missed = if self.has(Fault::ResumeEmpty) {
            Vec::new()
        } else {
            missed
        };
        self.state.hub.attach(&fid, &token, self.log.clone());
        self.send(socket, NS_CORE, core_op::RESUMED, Value::Array(missed))
            .await
            .map_err(|()| send_failed())?;
        self.delivered(owed.into_iter().map(|(about, _)| about).collect())
            .await;
        // A resumed session keeps its `mls` subscription.
        if !was_subscribed {
            return Ok(None);
        }
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        self.state.hub.subscribe(&fid, self.id, tx);
        lock_log(&self.log).subscribed = true;
        Ok(Some(QueueChange::Subscribe(rx)))
    }

    async fn heartbeat(&mut self, socket: &mut WebSocket, d: &Value) -> Result<(), Closing> {
        let bad = || Closing(close::INVALID_SEQUENCE, "invalid sequence numbers");
        let number = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
        let field = |name: &'static str| {
            d.get(name).ok_or(Closing(
                close::INVALID_PAYLOAD,
                "heartbeat needs from and to",
            ))
        };
        let from = number(field("from")?).ok_or_else(bad)?;
        let to = number(field("to")?).ok_or_else(bad)?;
        let except: Vec<u64> = match d.get("except") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| number(v).ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad()),
        };
        let next_s = lock_log(&self.log).next_s;
        if from > to || to >= next_s || except.iter().any(|x| *x < from || *x > to) {
            return Err(bad());
        }
        self.last_heartbeat = Instant::now();
        self.requested_at = None;
        if self.has(Fault::NoHeartbeatAck) {
            return Ok(());
        }
        let resent: Vec<Value> = if self.has(Fault::AckWithoutResend) {
            Vec::new()
        } else {
            let log = lock_log(&self.log);
            except
                .iter()
                .filter_map(|x| {
                    log.entries
                        .iter()
                        .find(|(s, _)| s == x)
                        .map(|(_, e)| e.clone())
                })
                .filter(|e| !is_heartbeat_ack(e))
                .collect()
        };
        self.send(
            socket,
            NS_CORE,
            core_op::HEARTBEAT_ACK,
            Value::Array(resent),
        )
        .await
        .map_err(|()| send_failed())
    }

    async fn service_channel(
        &mut self,
        socket: &mut WebSocket,
        d: &Value,
    ) -> Result<Option<QueueChange>, Closing> {
        let field = |name: &'static str| d.get(name).and_then(Value::as_str);
        let (Some(action), Some(service)) = (field("action"), field("service")) else {
            return Err(Closing(
                close::INVALID_PAYLOAD,
                "service channel needs action and service",
            ));
        };
        if action != "subscribe" && action != "unsubscribe" {
            return Err(Closing(
                close::INVALID_PAYLOAD,
                "action must be subscribe or unsubscribe",
            ));
        }
        let known = service == NS_MLS || self.has(Fault::UnknownServiceAccepted);
        let mut ack = json!({ "action": action, "service": service, "success": known });
        let mut change = None;
        if !known {
            ack["error"] = json!(format!("unknown service `{service}`"));
        } else if let (Some((fid, _)), true) = (&self.identity, service == NS_MLS) {
            let subscribe = action == "subscribe";
            if subscribe {
                let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
                self.state.hub.subscribe(fid, self.id, tx);
                change = Some(QueueChange::Subscribe(rx));
            } else {
                self.state.hub.unsubscribe(fid, self.id);
                change = Some(QueueChange::Unsubscribe);
            }
            lock_log(&self.log).subscribed = subscribe;
        }
        if self.has(Fault::AckWithoutSuccess) {
            if let Some(map) = ack.as_object_mut() {
                map.remove("success");
            }
        }
        self.send(socket, NS_CORE, core_op::SERVICE_CHANNEL_ACK, ack)
            .await
            .map_err(|()| send_failed())?;
        Ok(change)
    }
}

/// RFC 6455 §7.4.1 status codes for transport errors.
mod ws_close {
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_DATA: u16 = 1007;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

/// The close a WebSocket-level error calls for (RFC 6455 §7.1.7: _Fail the WebSocket
/// Connection_ with a close frame); None when the peer is gone and nothing can be sent.
fn transport_error(e: axum::Error) -> Option<Closing> {
    use tokio_tungstenite::tungstenite::error::{Error, ProtocolError};
    let inner = e.into_inner();
    match inner.downcast_ref::<Error>()? {
        Error::Capacity(_) => Some(Closing(
            ws_close::MESSAGE_TOO_BIG,
            "frames and messages are limited to 64 KiB",
        )),
        Error::Utf8(_) => Some(Closing(ws_close::INVALID_DATA, "text frame is not UTF-8")),
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) => Some(Closing(
            ws_close::PROTOCOL_ERROR,
            "WebSocket protocol error",
        )),
        _ => None,
    }
}

async fn next_new_session(queue: &mut Option<mpsc::Receiver<NewSession>>) -> Option<NewSession> {
    match queue {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the watched flag changes; never once its sender is gone.
async fn changed(flag: &mut Option<watch::Receiver<bool>>) {
    let Some(rx) = flag else {
        return std::future::pending().await;
    };
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn next_event(queue: &mut Option<mpsc::Receiver<Value>>) -> Option<Value> {
    match queue {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether a client frame is a heartbeat whose `except` lists events (a glance for the fault
/// `missed-behind-pending`; `handle` judges the frame).
fn asks_for_missed(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|event| {
        event["n"] == NS_CORE
            && event["op"] == core_op::HEARTBEAT
            && event["d"]["except"]
                .as_array()
                .is_some_and(|except| !except.is_empty())
    })
}

fn is_heartbeat_ack(event: &Value) -> bool {
    event["n"] == NS_CORE && event["op"] == core_op::HEARTBEAT_ACK
}
