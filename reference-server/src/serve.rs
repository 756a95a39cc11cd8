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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
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

/// Serves `app` on `listener` until `shutdown` completes, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
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
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(|req: Request<hyper::body::Incoming>| req.map(Body::new)),
        );
        let stop_tx = stop_tx.clone();
        let done_rx = done_rx.clone();
        tokio::spawn(async move {
            // HTTP/1 only: hyper-util's auto builder first reads the connection's first bytes to
            // tell HTTP/2 apart, with no timer, so a silent socket would be held forever.
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            let stopping = stop_tx.closed();
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
            drop(slot);
            drop(done_rx);
        });
    }
    drop(done_rx);
    drop(listener);
    done_tx.closed().await;
}
