//! A polyproto gateway client that records a frame transcript (direction, time offset, payload)
//! for evidence and replay.

use crate::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use p2mls_protocol::gateway::{core_op, NS_CORE};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::tls::TlsSettings;

/// Longest frame the harness accepts from a target.
const MAX_FRAME: usize = 1024 * 1024;
/// Default bound on the WebSocket handshake (checks use the config's request timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on sending our close frame to a peer that may not read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Sent,
    Received,
    /// Connection events: open, close (with code), errors.
    Note,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
            Direction::Note => "note",
        }
    }
}

/// A close code as reports show it: the number, or that the close frame carried none.
pub fn close_code_text(code: Option<u16>) -> String {
    code.map_or_else(|| "no code".to_owned(), |c| c.to_string())
}

/// One line of a transcript.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranscriptFrame {
    /// Which connection of the check (e.g. `bob#1`).
    pub connection: String,
    pub direction: Direction,
    /// Milliseconds since the check's first connection opened.
    pub at_ms: u64,
    pub payload: String,
}

/// Shared by all connections of one check.
#[derive(Clone, Default)]
pub struct Transcript {
    frames: Arc<Mutex<Vec<TranscriptFrame>>>,
    started: Arc<Mutex<Option<Instant>>>,
    /// (secret, variable name): secrets are written as `$NAME` in the transcript, and `p2mls
    /// replay` takes them back from the environment.
    secrets: Arc<Mutex<Vec<(String, String)>>>,
}

impl Transcript {
    /// Writes `secret` as `$name` in every frame recorded from now on.
    pub fn hide(&self, secret: &str, name: &str) {
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((secret.to_owned(), name.to_owned()));
    }

    fn push(&self, connection: &str, direction: Direction, payload: String) {
        let payload = self
            .secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .fold(payload, |text, (secret, name)| {
                text.replace(secret.as_str(), &format!("${name}"))
            });
        let at_ms = {
            let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
            started
                .get_or_insert_with(Instant::now)
                .elapsed()
                .as_millis() as u64
        };
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(TranscriptFrame {
                connection: connection.to_owned(),
                direction,
                at_ms,
                payload,
            });
    }

    /// A copy of the frames recorded so far.
    pub fn snapshot(&self) -> Vec<TranscriptFrame> {
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// An empty transcript that hides the same secrets (one per concurrently running check).
    pub fn fresh(&self) -> Transcript {
        Transcript {
            secrets: self.secrets.clone(),
            ..Transcript::default()
        }
    }

    /// Takes the frames recorded so far and restarts the clock.
    pub fn take(&self) -> Vec<TranscriptFrame> {
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = None;
        std::mem::take(&mut *self.frames.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A TCP connection on which a client that stops reading holds back the server's writes after
/// little data: a small receive buffer (the window the client offers) and a small maximum segment
/// size, announced in the SYN (the server's kernel sizes its send buffer in segments, so that
/// stays small too: on loopback, whose segments are 64 KiB, megabytes otherwise).
#[derive(Debug, Clone, Copy)]
pub struct NarrowTcp {
    pub receive_buffer: u32,
    pub segment_size: u32,
}

/// A TCP connection to the URI's host and port (80 or 443 by default), narrow when asked.
async fn tcp_connect(
    uri: &tokio_tungstenite::tungstenite::http::Uri,
    narrow: Option<NarrowTcp>,
) -> Result<TcpStream, String> {
    let host = uri
        .host()
        .map(|h| h.trim_matches(['[', ']']))
        .ok_or("the URL names no host")?;
    let port = uri
        .port_u16()
        .or(match uri.scheme_str() {
            Some("wss") => Some(443),
            Some("ws") => Some(80),
            _ => None,
        })
        .ok_or("the URL is neither ws:// nor wss://")?;
    let io = |e: std::io::Error| e.to_string();
    let mut last = format!("{host} resolves to no address");
    for addr in tokio::net::lookup_host((host, port)).await.map_err(io)? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(io)?;
        if let Some(narrow) = narrow {
            socket
                .set_recv_buffer_size(narrow.receive_buffer)
                .map_err(io)?;
            // socket2 offers TCP_MAXSEG on Unix only; elsewhere the receive buffer alone narrows.
            #[cfg(unix)]
            socket2::SockRef::from(&socket)
                .set_tcp_mss(narrow.segment_size)
                .map_err(io)?;
        }
        match socket.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = io(e),
        }
    }
    Err(last)
}

/// `text`, or its first `limit` bytes (at a character boundary) and how long it was.
fn shortened(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let end = (0..=limit)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// What arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Event(Value),
    /// The server closed, with its close code if any.
    Closed(Option<u16>),
    /// A frame that is not a JSON text event.
    Malformed(String),
    Timeout,
}

/// How long one read of `alive_during` waits before it looks again (its work may end first).
const HELD_READ: Duration = Duration::from_secs(3600);

fn is_heartbeat_request(event: &Value) -> bool {
    event["n"] == NS_CORE && event["op"] == core_op::HEARTBEAT_REQUEST
}

pub struct GatewayClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    name: String,
    transcript: Transcript,
    /// Sequence numbers received, in order.
    pub received: Vec<u64>,
    /// Events received without a numeric `s` (the server's messages all carry one).
    pub unsequenced: Vec<String>,
    /// Answer heartbeat requests (op 11) automatically while waiting for something else.
    pub auto_heartbeat: bool,
    /// Events `expect` passed over while waiting for another, in order (a check that waits for
    /// one event can still judge what came before it).
    pub skipped: Vec<Value>,
    /// Received frames longer than this are shortened in the transcript (a check that has the
    /// target send megabytes keeps its evidence readable).
    pub transcript_limit: usize,
    /// What arrived during `alive_during`, for `recv` to return first, in order.
    held: std::collections::VecDeque<Incoming>,
    closed: bool,
}

impl GatewayClient {
    pub async fn connect(url: &str, name: &str, transcript: Transcript) -> Result<Self, Error> {
        Self::connect_within(url, name, transcript, CONNECT_TIMEOUT).await
    }

    /// Connects; the TCP connect and the whole handshake end within `timeout`.
    pub async fn connect_within(
        url: &str,
        name: &str,
        transcript: Transcript,
        timeout: Duration,
    ) -> Result<Self, Error> {
        Self::connect_with_tls(url, name, transcript, timeout, &TlsSettings::default()).await
    }

    /// Connects with the target config's trust anchors (`wss://`); within `timeout`.
    pub async fn connect_with_tls(
        url: &str,
        name: &str,
        transcript: Transcript,
        timeout: Duration,
        tls: &TlsSettings,
    ) -> Result<Self, Error> {
        Self::connect_with_tcp(url, name, transcript, timeout, tls, None).await
    }

    /// Like `connect_with_tls`, on a narrow TCP connection when `narrow` is given.
    pub async fn connect_with_tcp(
        url: &str,
        name: &str,
        transcript: Transcript,
        timeout: Duration,
        tls: &TlsSettings,
        narrow: Option<NarrowTcp>,
    ) -> Result<Self, Error> {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let connector = Some(tokio_tungstenite::Connector::Rustls(tls.ws_config()));
        let handshake = async {
            let request = url
                .into_client_request()
                .map_err(|e| format!("not a WebSocket URL: {e}"))?;
            let stream = tcp_connect(request.uri(), narrow).await?;
            tokio_tungstenite::client_async_tls_with_config(
                request,
                stream,
                Some(config),
                connector,
            )
            .await
            .map_err(|e| e.to_string())
        };
        let (ws, _) = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| Error::Transport(format!("connecting to {url} timed out")))?
            .map_err(|e| Error::Transport(format!("cannot connect to {url}: {e}")))?;
        transcript.push(name, Direction::Note, format!("open {url}"));
        Ok(Self {
            ws,
            name: name.to_owned(),
            transcript,
            received: Vec::new(),
            unsequenced: Vec::new(),
            auto_heartbeat: true,
            skipped: Vec::new(),
            transcript_limit: usize::MAX,
            held: std::collections::VecDeque::new(),
            closed: false,
        })
    }

    pub async fn send_text(&mut self, text: String) -> Result<(), Error> {
        self.transcript
            .push(&self.name, Direction::Sent, text.clone());
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| Error::Transport(format!("send failed: {e}")))
    }

    pub async fn send(&mut self, event: &Value) -> Result<(), Error> {
        self.send_text(event.to_string()).await
    }

    pub async fn send_core(&mut self, op: u16, d: Value) -> Result<(), Error> {
        self.send(&json!({ "n": NS_CORE, "op": op, "d": d })).await
    }

    pub async fn identify(&mut self, token: &str) -> Result<(), Error> {
        self.send_core(core_op::IDENTIFY, json!({ "token": token }))
            .await
    }

    pub async fn service(&mut self, action: &str, service: &str) -> Result<(), Error> {
        self.send_core(
            core_op::SERVICE_CHANNEL,
            json!({ "action": action, "service": service }),
        )
        .await
    }

    /// A heartbeat acknowledging everything received, except the listed sequence numbers.
    pub async fn heartbeat(&mut self, except: &[u64]) -> Result<(), Error> {
        let from = self.received.iter().min().copied().unwrap_or(0);
        let to = self.received.iter().max().copied().unwrap_or(0);
        let except: Vec<String> = except.iter().map(u64::to_string).collect();
        self.send_core(
            core_op::HEARTBEAT,
            json!({ "from": from.to_string(), "to": to.to_string(), "except": except }),
        )
        .await
    }

    /// Runs `work` (the check's own HTTP steps, say) while keeping this connection alive:
    /// heartbeat requests are answered as `expect` answers them (when `auto_heartbeat`), and
    /// every other frame that arrives meanwhile is held for `recv`, in order. So a check that
    /// holds a connection across slow steps (a rate-limited target makes it wait out 429s) is
    /// not closed for a missed heartbeat.
    pub async fn alive_during<T>(&mut self, work: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                incoming = self.read(HELD_READ), if !self.closed => match incoming {
                    Incoming::Timeout => {}
                    Incoming::Event(event) if self.auto_heartbeat && is_heartbeat_request(&event) => {
                        // A failed send shows as the close the next read reports.
                        let _ = self.heartbeat(&[]).await;
                        self.skipped.push(event);
                    }
                    other => self.held.push_back(other),
                },
            }
        }
    }

    /// The next frame within `timeout`: what `alive_during` held first.
    pub async fn recv(&mut self, timeout: Duration) -> Incoming {
        if let Some(held) = self.held.pop_front() {
            return held;
        }
        self.read(timeout).await
    }

    /// The next frame from the connection within `timeout`.
    async fn read(&mut self, timeout: Duration) -> Incoming {
        if self.closed {
            return Incoming::Closed(None);
        }
        loop {
            let next = match tokio::time::timeout(timeout, self.ws.next()).await {
                Err(_) => return Incoming::Timeout,
                Ok(next) => next,
            };
            match next {
                None => {
                    self.closed = true;
                    self.transcript
                        .push(&self.name, Direction::Note, "connection ended".into());
                    return Incoming::Closed(None);
                }
                Some(Err(e)) => {
                    self.closed = true;
                    self.transcript
                        .push(&self.name, Direction::Note, format!("error: {e}"));
                    return Incoming::Closed(None);
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = true;
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    self.transcript.push(
                        &self.name,
                        Direction::Note,
                        format!(
                            "close {}",
                            code.map_or("without code".into(), |c| c.to_string())
                        ),
                    );
                    return Incoming::Closed(code);
                }
                Some(Ok(Message::Text(text))) => {
                    self.transcript.push(
                        &self.name,
                        Direction::Received,
                        shortened(text.as_str(), self.transcript_limit),
                    );
                    let Ok(event) = serde_json::from_str::<Value>(text.as_str()) else {
                        return Incoming::Malformed(text.to_string());
                    };
                    match event.get("s").and_then(Value::as_u64) {
                        Some(s) => self.received.push(s),
                        None => self.unsequenced.push(text.to_string()),
                    }
                    return Incoming::Event(event);
                }
                Some(Ok(Message::Binary(b))) => {
                    self.transcript.push(
                        &self.name,
                        Direction::Received,
                        format!("<{} binary bytes>", b.len()),
                    );
                    return Incoming::Malformed("binary frame".into());
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits for the first event matching `wanted`, skipping others (and answering heartbeat
    /// requests when `auto_heartbeat`). Err carries what happened instead.
    pub async fn expect(
        &mut self,
        timeout: Duration,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Result<Value, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                Incoming::Event(event) if wanted(&event) => return Ok(event),
                Incoming::Event(event) => {
                    if self.auto_heartbeat && is_heartbeat_request(&event) {
                        self.heartbeat(&[]).await?;
                    }
                    self.skipped.push(event);
                }
                Incoming::Closed(code) => {
                    return Err(Error::Transport(format!(
                        "connection closed (code {}) before {what}",
                        close_code_text(code)
                    )))
                }
                Incoming::Malformed(text) => {
                    return Err(Error::Transport(format!(
                        "malformed frame before {what}: {text}"
                    )))
                }
                Incoming::Timeout => {
                    return Err(Error::Transport(format!(
                        "{what} did not arrive within {timeout:?}"
                    )))
                }
            }
        }
    }

    /// Waits for the server to close; returns its code. Events before the close are skipped.
    pub async fn expect_close(&mut self, timeout: Duration) -> Result<Option<u16>, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                Incoming::Closed(code) => return Ok(code),
                Incoming::Timeout => {
                    return Err(Error::Transport(format!(
                        "the server did not close within {timeout:?}"
                    )))
                }
                Incoming::Event(_) | Incoming::Malformed(_) => {}
            }
        }
    }

    /// Closes from the client side (normal closure).
    pub async fn close(mut self) {
        self.transcript
            .push(&self.name, Direction::Note, "client closes".into());
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into(),
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.close(Some(frame))).await;
    }
}
