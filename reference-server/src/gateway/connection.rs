//! One gateway connection: hello, identify or resume, heartbeats with re-sends, service channels
//! and the `mls` events, with the close codes of polyproto-core §3.2.5.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use p2mls_protocol::gateway::{close, core_op, NS_CORE, NS_MLS};
use rusqlite::OptionalExtension;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::{EventLog, LOG_CAPACITY, QUEUE_CAPACITY};
use crate::faults::Fault;
use crate::AppState;

/// Why a connection ends: a close code and a reason for the client.
struct Closing(u16, &'static str);

struct Connection {
    state: AppState,
    id: u64,
    next_s: u64,
    /// (fid, session token) once identified or resumed.
    identity: Option<(String, String)>,
    log: EventLog,
    last_heartbeat: Instant,
    requested_at: Option<Instant>,
}

/// What a handled frame asks of the connection's event queue.
enum QueueChange {
    Subscribe(mpsc::Receiver<Value>),
    Unsubscribe,
}

pub async fn run(mut socket: WebSocket, state: AppState) {
    let mut conn = Connection {
        id: state.hub.connection_id(),
        next_s: 0,
        identity: None,
        log: EventLog::default(),
        last_heartbeat: Instant::now(),
        requested_at: None,
        state,
    };
    let interval = conn.state.config.gateway.heartbeat_interval_ms;
    let hello = json!({ "heartbeat_interval": interval });
    let outcome = match conn.send(&mut socket, NS_CORE, core_op::HELLO, hello).await {
        Ok(()) => conn.serve(&mut socket).await,
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
    }
    if let Some((fid, _)) = &conn.identity {
        conn.state.hub.unsubscribe(fid, conn.id);
    }
}

impl Connection {
    fn has(&self, fault: Fault) -> bool {
        self.state.config.faults.contains(&fault)
    }

    /// Sends one envelope with the next sequence number and logs it.
    async fn send(&mut self, socket: &mut WebSocket, n: &str, op: u16, d: Value) -> Result<(), ()> {
        if self.has(Fault::HelloSeqOne) && self.next_s == 0 {
            self.next_s = 1;
        }
        let s = self.next_s;
        self.next_s += if self.has(Fault::SequenceGap) && s == 1 {
            2
        } else {
            1
        };
        let envelope = json!({ "n": n, "op": op, "d": d, "s": s });
        {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            log.push_back((s, envelope.clone()));
            while log.len() > LOG_CAPACITY {
                log.pop_front();
            }
        }
        socket
            .send(Message::Text(envelope.to_string().into()))
            .await
            .map_err(|_| ())
    }

    async fn serve(&mut self, socket: &mut WebSocket) -> Result<(), Closing> {
        // The hub holds the sender while subscribed; it drops it when the queue overflows.
        let mut queue: Option<mpsc::Receiver<Value>> = None;
        let interval = Duration::from_millis(self.state.config.gateway.heartbeat_interval_ms);
        let grace = Duration::from_millis(self.state.config.gateway.heartbeat_grace_ms);
        loop {
            let deadline = match self.requested_at {
                None => self.last_heartbeat + interval + grace,
                Some(at) => at + grace,
            };
            tokio::select! {
                frame = socket.recv() => match frame {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                    Some(Ok(Message::Text(text))) => match self.handle(socket, text.as_str()).await? {
                        Some(QueueChange::Subscribe(rx)) => queue = Some(rx),
                        Some(QueueChange::Unsubscribe) => queue = None,
                        None => {}
                    },
                    Some(Ok(Message::Binary(_))) => return Err(Closing(close::INVALID_PAYLOAD, "binary frames are not gateway events")),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                },
                event = next_event(&mut queue), if queue.is_some() => match event {
                    Some(event) => {
                        if self.has(Fault::DropMlsEvents) {
                            continue;
                        }
                        let (n, op) = (event["n"].as_str().unwrap_or(NS_MLS).to_owned(), event["op"].as_u64().unwrap_or(0) as u16);
                        self.send(socket, &n, op, event["d"].clone()).await.map_err(|()| Closing(close::UNKNOWN_ERROR, "send failed"))?;
                    }
                    None => return Err(Closing(close::UNKNOWN_ERROR, "too slow: event queue overflowed")),
                },
                () = sleep_until(deadline) => {
                    if self.requested_at.is_some() || self.has(Fault::NoHeartbeatRequest) {
                        return Err(Closing(close::TIMEOUT, "no heartbeat in time"));
                    }
                    self.requested_at = Some(Instant::now());
                    self.send(socket, NS_CORE, core_op::HEARTBEAT_REQUEST, json!({})).await.map_err(|()| Closing(close::UNKNOWN_ERROR, "send failed"))?;
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
            core_op::RESUME => self.resume(socket, &d).await.map(|()| None),
            core_op::SERVICE_CHANNEL => {
                if self.identity.is_none() {
                    return Err(Closing(close::NOT_AUTHENTICATED, "identify first"));
                }
                self.service_channel(socket, &d).await
            }
            core_op::CERT_INVALIDATION => Err(Closing(
                close::UNKNOWN_OPCODE,
                "certificate invalidation is not supported",
            )),
            _ => Err(Closing(close::UNKNOWN_OPCODE, "unknown opcode")),
        }
    }

    async fn session(&self, token: &str) -> Option<String> {
        let token = token.to_owned();
        self.state
            .store
            .tx(move |tx| {
                Ok(tx
                    .query_row("SELECT fid FROM sessions WHERE token = ?1", [&token], |r| {
                        r.get(0)
                    })
                    .optional()?)
            })
            .await
            .ok()
            .flatten()
    }

    async fn identify(&mut self, socket: &mut WebSocket, d: &Value) -> Result<(), Closing> {
        if self.identity.is_some() {
            return Err(Closing(close::ALREADY_AUTHENTICATED, "already identified"));
        }
        let token = d
            .get("token")
            .and_then(Value::as_str)
            .ok_or(Closing(close::INVALID_PAYLOAD, "identify needs a token"))?;
        let fid = self.session(token).await.ok_or(Closing(
            close::INVALID_AUTHENTICATION,
            "invalid session token",
        ))?;
        // Keep what this connection already sent (the hello) in the session's new log.
        let log = self.state.hub.new_log(token);
        {
            let old = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
            *log.lock().unwrap_or_else(|p| p.into_inner()) = old;
        }
        self.log = log;
        self.identity = Some((fid.clone(), token.to_owned()));
        if self.has(Fault::NoReady) {
            return Ok(());
        }
        self.send(socket, NS_CORE, core_op::READY, json!({ "fid": fid }))
            .await
            .map_err(|()| Closing(close::UNKNOWN_ERROR, "send failed"))
    }

    async fn resume(&mut self, socket: &mut WebSocket, d: &Value) -> Result<(), Closing> {
        if self.identity.is_some() {
            return Err(Closing(close::ALREADY_AUTHENTICATED, "already identified"));
        }
        let token = d
            .get("token")
            .and_then(Value::as_str)
            .ok_or(Closing(close::INVALID_PAYLOAD, "resume needs a token"))?;
        let since = d
            .get("s")
            .and_then(Value::as_u64)
            .ok_or(Closing(close::INVALID_PAYLOAD, "resume needs s"))?;
        let fid = self.session(token).await.ok_or(Closing(
            close::INVALID_AUTHENTICATION,
            "invalid session token",
        ))?;
        let old = self
            .state
            .hub
            .log(token)
            .ok_or(Closing(close::UNRESUMEABLE, "no connection to resume"))?;
        let missed: Vec<Value> = {
            let log = old.lock().unwrap_or_else(|p| p.into_inner());
            let oldest = log.front().map_or(0, |(s, _)| *s);
            let newest = log.back().map_or(0, |(s, _)| *s);
            if since > newest || since + 1 < oldest {
                return Err(Closing(
                    close::UNRESUMEABLE,
                    "sequence number outside the kept events",
                ));
            }
            log.iter()
                .filter(|(s, e)| *s > since && !is_heartbeat_ack(e))
                .map(|(_, e)| e.clone())
                .collect()
        };
        let missed = if self.has(Fault::ResumeEmpty) {
            Vec::new()
        } else {
            missed
        };
        let log = self.state.hub.new_log(token);
        {
            let current = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
            *log.lock().unwrap_or_else(|p| p.into_inner()) = current;
        }
        self.log = log;
        self.identity = Some((fid, token.to_owned()));
        self.send(socket, NS_CORE, core_op::RESUMED, Value::Array(missed))
            .await
            .map_err(|()| Closing(close::UNKNOWN_ERROR, "send failed"))
    }

    async fn heartbeat(&mut self, socket: &mut WebSocket, d: &Value) -> Result<(), Closing> {
        let bad = || Closing(close::INVALID_SEQUENCE, "invalid sequence numbers");
        let number = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
        let from = number(
            d.get("from")
                .ok_or(Closing(close::INVALID_PAYLOAD, "heartbeat needs from"))?,
        )
        .ok_or_else(bad)?;
        let to = number(
            d.get("to")
                .ok_or(Closing(close::INVALID_PAYLOAD, "heartbeat needs to"))?,
        )
        .ok_or_else(bad)?;
        let except: Vec<u64> = match d.get("except") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| number(v).ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad()),
        };
        if from > to || to >= self.next_s || except.iter().any(|x| *x < from || *x > to) {
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
            let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            except
                .iter()
                .filter_map(|x| log.iter().find(|(s, _)| s == x).map(|(_, e)| e.clone()))
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
        .map_err(|()| Closing(close::UNKNOWN_ERROR, "send failed"))
    }

    async fn service_channel(
        &mut self,
        socket: &mut WebSocket,
        d: &Value,
    ) -> Result<Option<QueueChange>, Closing> {
        let action = d.get("action").and_then(Value::as_str).ok_or(Closing(
            close::INVALID_PAYLOAD,
            "service channel needs action",
        ))?;
        let service = d.get("service").and_then(Value::as_str).ok_or(Closing(
            close::INVALID_PAYLOAD,
            "service channel needs service",
        ))?;
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
        } else if let Some((fid, _)) = &self.identity {
            if service == NS_MLS && action == "subscribe" {
                let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
                self.state.hub.subscribe(fid, self.id, tx);
                change = Some(QueueChange::Subscribe(rx));
            } else if service == NS_MLS {
                self.state.hub.unsubscribe(fid, self.id);
                change = Some(QueueChange::Unsubscribe);
            }
        }
        if self.has(Fault::AckWithoutSuccess) {
            if let Some(map) = ack.as_object_mut() {
                map.remove("success");
            }
        }
        self.send(socket, NS_CORE, core_op::SERVICE_CHANNEL_ACK, ack)
            .await
            .map_err(|()| Closing(close::UNKNOWN_ERROR, "send failed"))?;
        Ok(change)
    }
}

async fn next_event(queue: &mut Option<mpsc::Receiver<Value>>) -> Option<Value> {
    match queue {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn is_heartbeat_ack(event: &Value) -> bool {
    event["n"] == NS_CORE && event["op"] == core_op::HEARTBEAT_ACK
}
