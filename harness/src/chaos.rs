//! A hostile target for testing the harness itself: `p2mls chaos --mode MODE`. Never started by
//! `p2mls run`; tests start it in-process (`harness/tests/chaos.rs`).
//!
//! Built on a bare `TcpListener` so that it can misbehave precisely, below what a web framework
//! would allow. Every mode misbehaves on every route, including `GET /.p2/core/v1/gateway`, and on
//! every WebSocket upgrade (any path; `gateway_url()` names the usual one):
//!
//! | mode | HTTP | gateway (after the upgrade request) |
//! | --- | --- | --- |
//! | `stall` | reads the request, never answers | never answers the handshake |
//! | `trickle` | 200 headers, then the body one byte per second | valid handshake, then a text frame one byte per second |
//! | `huge-body` | 200 claiming and streaming a 100 MiB body | valid handshake, then a 100 MiB text frame |
//! | `invalid-json` | 200 `application/json` that is not JSON | valid handshake, then a text frame that is not JSON |
//! | `invalid-utf8` | 200 with invalid UTF-8 in the body and a header | valid handshake, then a text frame of invalid UTF-8 |
//! | `close-mid-message` | headers and part of the body, then close | valid handshake, part of a frame, then close |
//!
//! Large bodies are generated on the fly from one small buffer. Resources are bounded: at most
//! `MAX_CONNECTIONS` at a time, each ending when its peer goes away or after `HOLD_LIMIT`; dropping
//! the `ChaosServer` aborts the listener and every connection.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// How the chaos server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Accepts connections and requests, never answers.
    Stall,
    /// Answers one byte per second.
    Trickle,
    /// Claims and streams a 100 MiB body (or WebSocket frame).
    HugeBody,
    /// Answers 200 `application/json` (or a text frame) that is not JSON.
    InvalidJson,
    /// Answers with invalid UTF-8 (a text frame of it on the gateway).
    InvalidUtf8,
    /// Sends part of a message, then closes the connection.
    CloseMidMessage,
}

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::Stall,
        Mode::Trickle,
        Mode::HugeBody,
        Mode::InvalidJson,
        Mode::InvalidUtf8,
        Mode::CloseMidMessage,
    ];

    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Stall => "stall",
            Mode::Trickle => "trickle",
            Mode::HugeBody => "huge-body",
            Mode::InvalidJson => "invalid-json",
            Mode::InvalidUtf8 => "invalid-utf8",
            Mode::CloseMidMessage => "close-mid-message",
        }
    }
}

/// Size of the body (or frame) `huge-body` claims and streams.
pub const HUGE_BODY: u64 = 100 * 1024 * 1024;
/// Pause between two bytes in `trickle`.
pub const TRICKLE_INTERVAL: Duration = Duration::from_secs(1);
/// Bytes `trickle` claims: at one per second, about twelve days.
const TRICKLE_LENGTH: u64 = 1 << 20;
/// Longest a connection is kept open (stalled, trickled or held after a frame).
const HOLD_LIMIT: Duration = Duration::from_secs(3600);
/// Longest request head read; longer ones are dropped.
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// Longest time allowed for the peer to send its request.
const REQUEST_READ_LIMIT: Duration = Duration::from_secs(30);
/// Connections served at a time; further ones are closed at once.
const MAX_CONNECTIONS: usize = 256;
/// Chunk of generated body bytes (JSON whitespace, so no prefix lets a client decide early).
static CHUNK: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// `p2mls chaos`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8099")]
    pub listen: SocketAddr,
    /// How to misbehave.
    #[arg(long, value_enum)]
    pub mode: Mode,
}

/// A running chaos server; dropping it stops the listener and closes every connection.
pub struct ChaosServer {
    addr: SocketAddr,
    mode: Mode,
    task: JoinHandle<()>,
}

impl ChaosServer {
    /// Binds `listen` (port 0 picks a free one) and serves in the background.
    pub async fn start(listen: SocketAddr, mode: Mode) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, mode));
        Ok(Self { addr, mode, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Base URL for `p2mls run --target`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A WebSocket URL for the config's `gateway_url` (every path is upgraded alike).
    pub fn gateway_url(&self) -> String {
        format!("ws://{}{}", self.addr, p2mls_protocol::gateway::SOCKET)
    }
}

impl Drop for ChaosServer {
    fn drop(&mut self) {
        // The accept loop owns the JoinSet of connections: aborting it aborts them all.
        self.task.abort();
    }
}

/// Runs `p2mls chaos` until interrupted.
pub async fn serve(args: &ChaosArgs) -> io::Result<()> {
    let server = ChaosServer::start(args.listen, args.mode).await?;
    println!(
        "p2mls chaos ({}) listening on {}; gateway {}",
        server.mode().name(),
        server.url(),
        server.gateway_url()
    );
    tokio::signal::ctrl_c().await
}

async fn accept_loop(listener: TcpListener, mode: Mode) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if connections.len() < MAX_CONNECTIONS => {
                    connections.spawn(async move {
                        // A peer that goes away ends the connection; nothing to report.
                        let _ = connection(stream, mode).await;
                    });
                }
                Ok(_) => {} // over the limit: dropping the stream closes it
                Err(e) => {
                    tracing::warn!("chaos: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What the chaos server needs to know of a request.
struct Request {
    /// `Sec-WebSocket-Key` of an upgrade request.
    websocket_key: Option<String>,
}

async fn connection(mut stream: TcpStream, mode: Mode) -> io::Result<()> {
    let request = match tokio::time::timeout(REQUEST_READ_LIMIT, read_request(&mut stream)).await {
        Ok(Ok(Some(request))) => request,
        Ok(Ok(None)) | Err(_) => return Ok(()),
        Ok(Err(e)) => return Err(e),
    };
    if mode == Mode::Stall {
        return hold(&mut stream).await;
    }
    match request.websocket_key {
        Some(key) => gateway(stream, mode, &key).await,
        None => http(stream, mode).await,
    }
}

/// Reads the request head and discards the body (by Content-Length); None if the peer sent no
/// complete head.
async fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut content_length: u64 = 0;
    let mut websocket_key = None;
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => content_length = value.parse().unwrap_or(0),
            "sec-websocket-key" => websocket_key = Some(value.to_owned()),
            _ => {}
        }
    }
    let mut left = content_length.saturating_sub((buf.len() - head_end) as u64);
    while left > 0 {
        let want = chunk
            .len()
            .min(usize::try_from(left).unwrap_or(chunk.len()));
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Ok(None);
        }
        left -= n as u64;
    }
    Ok(Some(Request { websocket_key }))
}

/// Keeps the connection open without answering, discarding what the peer sends, until it goes
/// away or `HOLD_LIMIT` passes.
async fn hold(stream: &mut TcpStream) -> io::Result<()> {
    let mut sink = [0u8; 4096];
    let drain = async {
        loop {
            if stream.read(&mut sink).await? == 0 {
                return Ok::<(), io::Error>(());
            }
        }
    };
    match tokio::time::timeout(HOLD_LIMIT, drain).await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

fn response_head(content_length: u64, extra: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\n\
         Connection: close\r\n"
    )
    .into_bytes();
    head.extend_from_slice(extra);
    head.extend_from_slice(b"\r\n");
    head
}

async fn http(mut stream: TcpStream, mode: Mode) -> io::Result<()> {
    match mode {
        Mode::Stall => hold(&mut stream).await,
        Mode::Trickle => {
            stream
                .write_all(&response_head(TRICKLE_LENGTH, b""))
                .await?;
            trickle(&mut stream, std::iter::repeat(b' ')).await
        }
        Mode::HugeBody => {
            stream.write_all(&response_head(HUGE_BODY, b"")).await?;
            stream_generated(&mut stream, HUGE_BODY).await
        }
        Mode::InvalidJson => {
            let body: &[u8] = b"{\"id\": \"chaos\", \"url\": [1, 2,, }} this is not JSON";
            stream
                .write_all(&response_head(body.len() as u64, b""))
                .await?;
            stream.write_all(body).await?;
            stream.shutdown().await
        }
        Mode::InvalidUtf8 => {
            let body: &[u8] =
                b"{\"id\": \"\xff\xfe chaos \xc3\x28\", \"url\": \"ws://\xed\xa0\x80\"}";
            stream
                .write_all(&response_head(
                    body.len() as u64,
                    b"X-Chaos: \xff\xfe\xc3\x28\r\n",
                ))
                .await?;
            stream.write_all(body).await?;
            stream.shutdown().await
        }
        Mode::CloseMidMessage => {
            let partial: &[u8] = b"{\"id\": \"chaos\", \"url\": \"ws://";
            stream.write_all(&response_head(4096, b"")).await?;
            stream.write_all(partial).await?;
            stream.flush().await
            // Dropping the stream closes the connection with the body incomplete.
        }
    }
}

/// Writes `bytes` one per `TRICKLE_INTERVAL`, at most `TRICKLE_LENGTH` of them.
async fn trickle(stream: &mut TcpStream, bytes: impl Iterator<Item = u8>) -> io::Result<()> {
    for byte in bytes.take(TRICKLE_LENGTH as usize) {
        stream.write_all(&[byte]).await?;
        stream.flush().await?;
        tokio::time::sleep(TRICKLE_INTERVAL).await;
    }
    Ok(())
}

/// Writes `length` generated bytes, one small buffer at a time.
async fn stream_generated(stream: &mut TcpStream, length: u64) -> io::Result<()> {
    let mut left = length;
    while left > 0 {
        let n = CHUNK
            .len()
            .min(usize::try_from(left).unwrap_or(CHUNK.len()));
        stream.write_all(&CHUNK[..n]).await?;
        left -= n as u64;
    }
    stream.flush().await
}

/// The header of an unmasked, final text frame of `length` payload bytes (RFC 6455 §5.2).
fn text_frame_header(length: u64) -> Vec<u8> {
    let mut header = vec![0x81];
    if length < 126 {
        header.push(length as u8);
    } else if let Ok(short) = u16::try_from(length) {
        header.push(126);
        header.extend_from_slice(&short.to_be_bytes());
    } else {
        header.push(127);
        header.extend_from_slice(&length.to_be_bytes());
    }
    header
}

fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = text_frame_header(payload.len() as u64);
    frame.extend_from_slice(payload);
    frame
}

async fn gateway(mut stream: TcpStream, mode: Mode, key: &str) -> io::Result<()> {
    let accept = derive_accept_key(key.as_bytes());
    let handshake = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(handshake.as_bytes()).await?;
    match mode {
        Mode::Stall => hold(&mut stream).await,
        Mode::Trickle => {
            let hello = text_frame(
                br#"{"n": "core", "op": 1, "d": {"heartbeat_interval": 45000}, "s": 0}"#,
            );
            trickle(&mut stream, hello.into_iter().cycle()).await
        }
        Mode::HugeBody => {
            stream.write_all(&text_frame_header(HUGE_BODY)).await?;
            stream_generated(&mut stream, HUGE_BODY).await?;
            hold(&mut stream).await
        }
        Mode::InvalidJson => {
            stream
                .write_all(&text_frame(b"{\"n\": \"core\", \"op\": 1,, \"d\": {"))
                .await?;
            hold(&mut stream).await
        }
        Mode::InvalidUtf8 => {
            stream
                .write_all(&text_frame(b"{\"n\": \"core\xff\xfe\", \"op\": \xc3\x28}"))
                .await?;
            hold(&mut stream).await
        }
        Mode::CloseMidMessage => {
            let hello = br#"{"n": "core", "op": 1, "d": {"heartbeat_interval": 45000}, "s": 0}"#;
            stream.write_all(&text_frame_header(256)).await?;
            stream.write_all(&hello[..20]).await?;
            stream.flush().await
            // Dropping the stream closes the connection mid-frame.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers_use_the_shortest_length_encoding() {
        assert_eq!(text_frame_header(5), vec![0x81, 5]);
        assert_eq!(text_frame_header(256), vec![0x81, 126, 1, 0]);
        let huge = text_frame_header(HUGE_BODY);
        assert_eq!(huge[..2], [0x81, 127]);
        assert_eq!(huge[2..], HUGE_BODY.to_be_bytes());
    }

    #[test]
    fn modes_are_named_as_on_the_command_line() {
        use clap::ValueEnum;
        for mode in Mode::ALL {
            let value = mode.to_possible_value().expect("no mode is skipped");
            assert_eq!(value.get_name(), mode.name());
        }
    }
}
