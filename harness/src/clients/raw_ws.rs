//! A WebSocket client below any library (Autobahn's approach): a hand-written upgrade over TCP
//! and hand-built frames, so the harness can send what no WebSocket library would (reserved
//! opcodes, RSV bits, unmasked client frames, invalid UTF-8, oversized frames) and see exactly
//! how the server ends the connection: a close frame and its code, or a bare TCP drop.

use crate::Error;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::tls::TlsSettings;

/// TCP, or TLS over TCP for `wss://`.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How a connection ended after a provocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this status code (None: a close frame without a code).
    Close(Option<u16>),
    /// The TCP connection ended without a close frame.
    Dropped,
    /// Nothing happened before the timeout.
    Silent,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Close(Some(code)) => write!(f, "a close frame with code {code}"),
            Self::Close(None) => write!(f, "a close frame without a code"),
            Self::Dropped => write!(f, "the TCP connection dropped without a close frame"),
            Self::Silent => write!(f, "no close frame and no drop before the timeout"),
        }
    }
}

/// A raw connection to a `ws://` or `wss://` URL, upgraded.
pub struct RawSocket {
    stream: Box<dyn Stream>,
    buffer: Vec<u8>,
}

impl RawSocket {
    /// Connects (with TLS and the target's anchors for `wss://`) and upgrades; `Err` says why.
    pub async fn connect(url: &str, limit: Duration, tls: &TlsSettings) -> Result<Self, Error> {
        let (secure, rest) = match (url.strip_prefix("ws://"), url.strip_prefix("wss://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            _ => {
                return Err(Error::Transport(format!(
                    "raw frames need a ws:// or wss:// URL, not {url}"
                )))
            }
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let tcp = timeout(limit, TcpStream::connect(host))
            .await
            .map_err(|_| Error::Transport(format!("connecting to {host} timed out")))?
            .map_err(|e| Error::Transport(format!("cannot connect to {host}: {e}")))?;
        let stream: Box<dyn Stream> = if secure {
            let name = host
                .rsplit_once(':')
                .map_or(host, |(name, _)| name)
                .trim_matches(['[', ']']);
            let name = rustls_pki_types::ServerName::try_from(name.to_owned())
                .map_err(|e| Error::Transport(format!("{name} is not a TLS server name: {e}")))?;
            let connector = tokio_rustls::TlsConnector::from(tls.ws_config());
            Box::new(
                timeout(limit, connector.connect(name, tcp))
                    .await
                    .map_err(|_| {
                        Error::Transport(format!("the TLS handshake with {host} timed out"))
                    })?
                    .map_err(|e| {
                        Error::Transport(format!("TLS handshake with {host} failed: {e}"))
                    })?,
            )
        } else {
            Box::new(tcp)
        };
        let mut socket = Self {
            stream,
            buffer: Vec::new(),
        };
        let request = format!(
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: cDJtbHMgcmF3IGZyYW1lcyE=\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        socket
            .stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| Error::Transport(format!("cannot send the upgrade: {e}")))?;
        let head = timeout(limit, socket.read_head())
            .await
            .map_err(|_| Error::Transport("the upgrade answer timed out".to_owned()))??;
        if !head.starts_with("HTTP/1.1 101") {
            return Err(Error::Transport(format!(
                "the upgrade was refused: {}",
                head.lines().next().unwrap_or_default()
            )));
        }
        Ok(socket)
    }

    async fn read_head(&mut self) -> Result<String, Error> {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
                self.buffer.drain(..end + 4);
                return Ok(head);
            }
            if self.fill().await? == 0 {
                return Err(Error::Transport(
                    "the connection ended during the upgrade".into(),
                ));
            }
        }
    }

    async fn fill(&mut self) -> Result<usize, Error> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| Error::Transport(format!("read failed: {e}")))?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Sends raw bytes (a frame built with `frame`).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| Error::Transport(format!("send failed: {e}")))
    }

    /// Reads server frames, skipping data and control frames, until a close frame (its code),
    /// the end of the connection (`Dropped`, also after a reset) or `limit`.
    pub async fn ending(&mut self, limit: Duration) -> Ending {
        timeout(limit, async {
            loop {
                match self.next_frame().await {
                    Ok(Some((0x8, payload))) => {
                        return Ending::Close(
                            (payload.len() >= 2)
                                .then(|| u16::from_be_bytes([payload[0], payload[1]])),
                        )
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return Ending::Dropped,
                }
            }
        })
        .await
        .unwrap_or(Ending::Silent)
    }

    /// The next frame from the server as (opcode, payload); None at the end of the stream.
    async fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, String> {
        loop {
            if let Some((opcode, payload, used)) = parse_frame(&self.buffer) {
                self.buffer.drain(..used);
                return Ok(Some((opcode, payload)));
            }
            if self.fill().await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// One complete server frame at the start of `bytes`: (opcode, payload, bytes used).
fn parse_frame(bytes: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&b0, &b1) = (bytes.first()?, bytes.get(1)?);
    let (len, mut at) = match b1 & 0x7F {
        126 => (
            u64::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?])),
            4,
        ),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let key: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let mut payload = bytes.get(at..end)?.to_vec();
    if let Some(key) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Some((b0 & 0x0F, payload, end))
}

/// A frame as RFC 6455 §5.2 lays it out: `first` is the byte with FIN, RSV1-3 and the opcode;
/// the payload is masked with a fixed key when `masked` (clients must mask).
pub fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![first];
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37, 0xFA, 0x21, 0x3D];
        out.extend(key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend(payload);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_rfc_6455_section_5_7() {
        // §5.7: a single-frame unmasked text message "Hello".
        assert_eq!(
            frame(0x81, b"Hello", false),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        // §5.7: 256 bytes binary message in a single unmasked frame.
        assert_eq!(frame(0x82, &[0; 256], false)[..4], [0x82, 0x7E, 0x01, 0x00]);
        let masked = frame(0x81, b"Hello", true);
        assert_eq!(
            parse_frame(&masked),
            Some((0x1, b"Hello".to_vec(), masked.len()))
        );
    }
}
