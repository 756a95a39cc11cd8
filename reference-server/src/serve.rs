//! The accept loop: axum::serve's, plus the two limits axum::serve cannot set (issue 14).
//!
//! - A header read timeout: hyper's, armed whenever a connection waits for a request head, so it
//!   bounds a request that trickles its headers (slowloris), a socket that never sends a
//!   request, and a keep-alive connection left idle. Upgraded gateway sockets leave hyper and
//!   are bounded by the gateway's heartbeats instead.
//! - A cap on open HTTP connections: beyond it a connection gets a bare 503 and is closed at
//!   once, so idle sockets cannot take the file descriptors and memory requests need.
//!
//! Graceful shutdown works as in axum: stop accepting, let in-flight requests finish, close idle
//! connections, wait for all of them.
//!
//! With TLS (`--tls-cert`), each connection first completes its handshake (within the header
//! timeout), then speaks what ALPN chose: HTTP/2 for `h2`, else HTTP/1.1 with upgrades (the
//! gateway). No protocol sniffing is needed, so a silent socket is still bounded.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt as _;

/// Connection limits of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest a connection may take to deliver a request head, counted from when it starts
    /// waiting for one (so also the longest it may sit idle between requests).
    pub header_timeout: Duration,
    /// Most HTTP connections open at once.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// What a connection over the cap is told before it is closed.
const OVER_CAP: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` completes, then shuts down
/// gracefully.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    // Dropping `stop_rx` tells connection tasks to shut down; `done_rx` closes when they all
    // have ended.
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(stop_rx);
    });
    let (done_tx, done_rx) = watch::channel(());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop_tx.closed() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(max = limits.max_connections, "HTTP connection cap reached");
            let _ = stream.try_write(OVER_CAP);
            continue;
        };
        let to_body: fn(Request<hyper::body::Incoming>) -> Request<Body> = |req| req.map(Body::new);
        let service: Service = TowerToHyperService::new(app.clone().map_request(to_body));
        let stop_tx = stop_tx.clone();
        let done_rx = done_rx.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match acceptor {
                // HTTP/1 only: hyper-util's auto builder first reads the connection's first
                // bytes to tell HTTP/2 apart, with no timer, so a silent socket would be held
                // forever.
                None => serve_http1(TokioIo::new(stream), service, limits, &stop_tx).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(tls)) => {
                            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                            let io = TokioIo::new(tls);
                            if h2 {
                                serve_http2(io, service, limits, &stop_tx).await
                            } else {
                                serve_http1(io, service, limits, &stop_tx).await
                            }
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
            drop(done_rx);
        });
    }
    drop(done_rx);
    drop(listener);
    done_tx.closed().await;
}

/// Runs a connection until it ends, shutting it down gracefully when the server stops.
macro_rules! drive {
    ($conn:expr, $stop_tx:expr) => {{
        let conn = $conn;
        tokio::pin!(conn);
        let stopping = $stop_tx.closed();
        tokio::pin!(stopping);
        let mut stopped = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    break;
                }
                () = &mut stopping, if !stopped => {
                    stopped = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }};
}

type Service = TowerToHyperService<
    tower::util::MapRequest<Router, fn(Request<hyper::body::Incoming>) -> Request<Body>>,
>;

async fn serve_http1<I>(io: I, service: Service, limits: HttpLimits, stop_tx: &watch::Sender<()>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    drive!(
        http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(io, service)
            .with_upgrades(),
        stop_tx
    )
}

/// HTTP/2 has no header timeout of its own: idle connections are pinged at the header timeout
/// and closed when the peer does not answer.
async fn serve_http2<I>(io: I, service: Service, limits: HttpLimits, stop_tx: &watch::Sender<()>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    drive!(
        http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(limits.header_timeout))
            .keep_alive_timeout(limits.header_timeout)
            .serve_connection(io, service),
        stop_tx
    )
}
