//! The p2mls reference polyproto-mls home server: Authentication Service and Delivery Service.
//!
//! Design decisions and limits:
//! - axum + tokio; `app(state)` builds the router so tests drive it without a socket.
//! - SQLite (file by default, in-memory for tests), one connection behind a mutex; every write
//!   commits before its 2xx (see `store`).
//! - The AS issues polyproto ID-Certs from its own Ed25519 root and accepts only KeyPackages whose
//!   X.509 credential is such an ID-Cert for the uploading session's key.
//! - The DS holds no group secrets: it checks MLS framing, epochs, senders and that the JSON
//!   summaries agree with the bytes (`mls`, `ds`), and orders proposals and commits per group.
//! - Routes parse, check visibility, call the store (`store`, where all SQL is), the MLS checks
//!   and the DS (`ds`), and answer.
//! - Faults (`faults`) break single rules on purpose and exist only behind `--fault`.

pub mod auth;
pub mod config;
pub mod discovery_limit;
pub mod ds;
pub mod error;
pub mod faults;
pub mod gateway;
pub mod hub;
pub mod json;
pub mod lax_ed25519;
pub mod middleware;
pub mod mls;
pub mod params;
pub mod rate_limit;
pub mod routes;
pub mod serve;
pub mod state;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;

pub use config::{Config, GatewayConfig, ServeArgs};
pub use state::AppState;

/// The complete HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(routes::core::router())
        .merge(routes::keypackages::router())
        .merge(routes::keymaterial::router())
        .merge(routes::groups::router())
        .merge(routes::relay::router())
        .merge(gateway::router())
        .fallback(|| async { error::ApiError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::fault_rewrite::rewrite,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::visible_domain::discovery_only,
        ))
        .layer(axum::middleware::from_fn(log_request))
        .layer(axum::extract::DefaultBodyLimit::max(json::BODY_LIMIT))
        .with_state(state)
}

/// One structured log line per request: method, path, status and latency (no bodies, no tokens).
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// A server running on a background task.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub registration_secret: String,
    pub domain: String,
    /// Serving https and wss.
    pub tls: bool,
    /// The most KeyPackages one session may store.
    pub keypackage_limit: usize,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    hub: Arc<hub::Hub>,
}

impl RunningServer {
    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://` when serving TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests, closes gateway connections with 1001
    /// (going away; waiting up to 2 s for them to end) and waits for the task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.hub.shut_down();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.hub.connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = (&mut self.task).await;
    }
}

/// Binds `config.listen` and serves in the background.
pub async fn spawn(config: Config) -> anyhow::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    spawn_on(listener, config).await
}

/// Serves in the background on a bound listener (`config.listen` is not used): for an embedding
/// program that needs the port before the configuration, e.g. to name it in `actual_domain`.
pub async fn spawn_on(
    listener: tokio::net::TcpListener,
    config: Config,
) -> anyhow::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let registration_secret = config.registration_secret.clone();
    let domain = config.domain.clone();
    let keypackage_limit = config.keypackage_limit;
    if !config.faults.is_empty() {
        tracing::warn!(faults = ?config.faults, "serving with deliberate faults");
    }
    let tls = match &config.tls {
        Some(identity) => {
            let http2 = !config.faults.contains(&faults::Fault::NoHttp2);
            Some(Arc::new(identity.server_config(http2)?))
        }
        None => None,
    };
    let state = AppState::new(config).await?;
    let hub = state.hub.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let limits = state.config.http;
    let serves_tls = tls.is_some();
    let task = tokio::spawn(serve::serve(listener, app(state), limits, tls, async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        registration_secret,
        domain,
        tls: serves_tls,
        keypackage_limit,
        shutdown: Some(tx),
        task,
        hub,
    })
}

/// Runs the server in the foreground until Ctrl-C or SIGTERM (used by both binaries); either
/// stops it gracefully (`RunningServer::stop`).
pub async fn serve_forever(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(args)?;
    let source = config.secret_source;
    let secret = config.registration_secret.clone();
    let db = config.db.clone();
    let actual_domain = config.actual_domain.clone();
    let server = spawn(config).await?;
    println!("p2mls reference server for domain `{}`", server.domain);
    if let Some(actual) = &actual_domain {
        println!("served under the actual domain `{actual}` (core 3.1)");
    }
    println!("serving {}", server.url());
    match db {
        Some(path) => println!("storage: SQLite file {}", path.display()),
        None => println!("storage: in memory"),
    }
    println!("registration secret ({source}): {secret}");
    stop_signal().await?;
    println!("stopping");
    server.stop().await;
    Ok(())
}

/// Ctrl-C (SIGINT) or, on Unix, SIGTERM: what service managers and containers send.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
