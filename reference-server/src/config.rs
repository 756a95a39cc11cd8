//! Server configuration from flags, environment and a TOML file (in that order of precedence).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::discovery_limit::DiscoveryLimit;
use crate::faults::Fault;
use crate::rate_limit::RateLimit;
use crate::tls::TlsIdentity;

/// 100 one-time KeyPackages of one actor per requester session in 10 minutes: a real client adds
/// a handful of members at a time; a drain loop is stopped long before a typical stock is gone.
pub const DEFAULT_DISCOVERY_LIMIT: DiscoveryLimit = DiscoveryLimit {
    per_window: 100,
    window: std::time::Duration::from_secs(600),
};

/// 50 requests per second per session on average, bursts of 100: far above what one client
/// needs, low enough that one session cannot monopolise the server.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    per_second: 50.0,
    burst: 100.0,
};

/// Flags and environment variables of `p2mls serve` and `p2mls-reference-server`.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "P2MLS_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// SQLite database file (created with migrations on first start). Default: p2mls.sqlite.
    #[arg(long, env = "P2MLS_DB")]
    pub db: Option<PathBuf>,
    /// Keep all state in memory (for tests); overrides --db.
    #[arg(long)]
    #[serde(default)]
    pub in_memory: bool,
    /// The home server's domain (`localhost`, `mls.example.com`): written into ID-Certs as one
    /// DC component per label. Default: localhost.
    #[arg(long, env = "P2MLS_DOMAIN")]
    pub domain: Option<String>,
    /// Where this server is actually served (`host` or `host:port`) when that is not --domain,
    /// the visible domain on its ID-Certs and FIDs (core 3.1): `/.well-known/polyproto-core`
    /// then names `[actual-domain]/.p2/core/`, and requests addressed to the visible domain get
    /// only that document. Default: none (served under --domain).
    #[arg(long, env = "P2MLS_ACTUAL_DOMAIN")]
    pub actual_domain: Option<String>,
    /// Shared secret that gates actor registration. Generated and printed when absent.
    #[arg(long, env = "P2MLS_REGISTRATION_SECRET", hide_env_values = true)]
    pub registration_secret: Option<String>,
    /// MLS wire code point that carries the 0xF110 Hybrid PQS suite.
    #[arg(long, env = "P2MLS_HYBRID_WIRE", value_parser = parse_u16)]
    pub hybrid_wire: Option<u16>,
    /// Most KeyPackages one session may have stored.
    #[arg(long, env = "P2MLS_KEYPACKAGE_LIMIT")]
    pub keypackage_limit: Option<usize>,
    /// Gateway heartbeat interval announced in the hello, in milliseconds.
    #[arg(long, env = "P2MLS_HEARTBEAT_INTERVAL_MS")]
    pub heartbeat_interval_ms: Option<u64>,
    /// Extra time after a missed heartbeat before the heartbeat request, and after the request
    /// before closing with 4009, in milliseconds.
    #[arg(long, env = "P2MLS_HEARTBEAT_GRACE_MS")]
    pub heartbeat_grace_ms: Option<u64>,
    /// Most gateway connections served at once; more are refused with 503.
    #[arg(long, env = "P2MLS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Requests per second one session may send on average (PROFILE.rate-limit); 0 turns the
    /// limit off. Default: 50.
    #[arg(long, env = "P2MLS_RATE_LIMIT")]
    pub rate_limit: Option<f64>,
    /// Requests one session may send in a burst above the average. Default: 100.
    #[arg(long, env = "P2MLS_RATE_BURST")]
    pub rate_burst: Option<f64>,
    /// One-time KeyPackages one requester session may consume of one actor per 10 minutes
    /// (PROFILE.keypackage-discovery-limit); 0 turns the limit off. Default: 100.
    #[arg(long, env = "P2MLS_DISCOVERY_LIMIT")]
    pub discovery_limit: Option<usize>,
    /// PEM certificate chain (leaf first): serve https and wss instead of http and ws, HTTP/1.1
    /// and HTTP/2 by ALPN. Needs --tls-key.
    #[arg(long, env = "P2MLS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "P2MLS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Longest an HTTP connection may take to send a request head, counted from when it starts
    /// waiting for one (so also the longest it may sit idle), in milliseconds. Default 10000.
    #[arg(long, env = "P2MLS_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// Most HTTP connections open at once; more get a bare 503 and are closed. Default 1024.
    #[arg(long, env = "P2MLS_MAX_HTTP_CONNECTIONS")]
    pub max_http_connections: Option<usize>,
    /// TOML file with the same keys (kebab-case); flags and environment take precedence.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Break one rule on purpose, to show that the harness notices. Never use in production.
    #[arg(long = "fault", value_name = "NAME")]
    #[serde(default)]
    pub faults: Vec<Fault>,
}

fn parse_u16(text: &str) -> Result<u16, String> {
    p2mls_protocol::identifiers::parse_code_point(text)
        .map_err(|e| e.to_string())
        .or_else(|_| text.parse::<u16>().map_err(|e| e.to_string()))
}

/// The complete configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// None: in-memory storage.
    pub db: Option<PathBuf>,
    /// The visible domain: on ID-Certs (the issuer's DCs) and in FIDs.
    pub domain: String,
    /// Where the API is actually served (`host[:port]`) when that is not `domain` (core 3.1).
    pub actual_domain: Option<String>,
    pub registration_secret: String,
    /// Where the registration secret came from, for the start-up message.
    pub secret_source: &'static str,
    pub hybrid_wire: u16,
    pub keypackage_limit: usize,
    pub gateway: GatewayConfig,
    /// Per-session request limit (None: unlimited).
    pub rate_limit: Option<RateLimit>,
    /// KeyPackage exhaustion limit (None: unlimited).
    pub discovery_limit: Option<DiscoveryLimit>,
    /// Serve TLS with this identity (None: plain HTTP).
    pub tls: Option<TlsIdentity>,
    pub http: crate::serve::HttpLimits,
    pub faults: Vec<Fault>,
    /// Test hook, never set by flags or files: commit each transaction this long after
    /// answering (a write-behind store), so the durability test can show that it notices.
    #[doc(hidden)]
    pub write_behind: Option<std::time::Duration>,
}

/// Gateway timing and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayConfig {
    pub heartbeat_interval_ms: u64,
    pub heartbeat_grace_ms: u64,
    pub max_connections: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 45_000,
            heartbeat_grace_ms: 10_000,
            max_connections: 10_000,
        }
    }
}

impl Config {
    /// In-memory storage on an ephemeral loopback port, domain `localhost`, no faults, no rate
    /// or discovery limits: for embedding in the harness and for tests.
    pub fn ephemeral(registration_secret: impl Into<String>) -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            db: None,
            domain: "localhost".into(),
            actual_domain: None,
            registration_secret: registration_secret.into(),
            secret_source: "set by the embedding program",
            hybrid_wire: p2mls_protocol::suites::HYBRID_PQS_DEFAULT_WIRE,
            keypackage_limit: 100,
            gateway: GatewayConfig::default(),
            // Tests and benchmarks drive the server hard on purpose: no limits unless asked for.
            rate_limit: None,
            discovery_limit: None,
            tls: None,
            http: crate::serve::HttpLimits::default(),
            faults: Vec::new(),
            write_behind: None,
        }
    }

    /// Merges flags/env over the TOML file over defaults.
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file: ServeArgs = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))?
            }
            None => ServeArgs::default(),
        };
        let (registration_secret, secret_source) =
            match (args.registration_secret, file.registration_secret) {
                (Some(s), _) => (s, "flag or P2MLS_REGISTRATION_SECRET"),
                (None, Some(s)) => (s, "config file"),
                (None, None) => (random_token(), "generated at start-up"),
            };
        let in_memory = args.in_memory || file.in_memory;
        let domain = args
            .domain
            .or(file.domain)
            .unwrap_or_else(|| "localhost".into());
        p2mls_protocol::idcert::check_domain(&domain)?;
        let actual_domain = args.actual_domain.or(file.actual_domain);
        if let Some(actual) = &actual_domain {
            check_actual_domain(actual)?;
        }
        // Paths in the file are relative to the file, like every config a person writes.
        let relative_to_file = |path: PathBuf| match args.config.as_deref().and_then(Path::parent) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        };
        let tls = match (
            args.tls_cert.or(file.tls_cert.map(relative_to_file)),
            args.tls_key.or(file.tls_key.map(relative_to_file)),
        ) {
            (Some(cert), Some(key)) => Some(TlsIdentity::from_files(&cert, &key)?),
            (None, None) => None,
            _ => anyhow::bail!("tls-cert and tls-key go together: give both or neither"),
        };
        let per_second = args
            .rate_limit
            .or(file.rate_limit)
            .unwrap_or(DEFAULT_RATE_LIMIT.per_second);
        let burst = args
            .rate_burst
            .or(file.rate_burst)
            .unwrap_or(DEFAULT_RATE_LIMIT.burst);
        if !(per_second >= 0.0 && per_second.is_finite() && burst >= 1.0 && burst.is_finite()) {
            anyhow::bail!("rate-limit must be 0 (off) or positive, rate-burst at least 1");
        }
        let rate_limit = (per_second > 0.0).then_some(RateLimit { per_second, burst });
        let discovery_limit = match args.discovery_limit.or(file.discovery_limit) {
            None => Some(DEFAULT_DISCOVERY_LIMIT),
            Some(0) => None,
            Some(per_window) => Some(DiscoveryLimit {
                per_window,
                ..DEFAULT_DISCOVERY_LIMIT
            }),
        };
        let mut faults = file.faults;
        faults.extend(args.faults);
        Ok(Self {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            db: if in_memory {
                None
            } else {
                Some(args.db.or(file.db).unwrap_or_else(|| "p2mls.sqlite".into()))
            },
            domain,
            actual_domain,
            registration_secret,
            secret_source,
            hybrid_wire: args
                .hybrid_wire
                .or(file.hybrid_wire)
                .unwrap_or(p2mls_protocol::suites::HYBRID_PQS_DEFAULT_WIRE),
            keypackage_limit: args
                .keypackage_limit
                .or(file.keypackage_limit)
                .unwrap_or(100),
            gateway: GatewayConfig {
                heartbeat_interval_ms: args
                    .heartbeat_interval_ms
                    .or(file.heartbeat_interval_ms)
                    .unwrap_or(GatewayConfig::default().heartbeat_interval_ms)
                    .max(100),
                heartbeat_grace_ms: args
                    .heartbeat_grace_ms
                    .or(file.heartbeat_grace_ms)
                    .unwrap_or(GatewayConfig::default().heartbeat_grace_ms),
                max_connections: args
                    .max_connections
                    .or(file.max_connections)
                    .unwrap_or(GatewayConfig::default().max_connections),
            },
            rate_limit,
            discovery_limit,
            tls,
            http: crate::serve::HttpLimits {
                header_timeout: std::time::Duration::from_millis(
                    args.header_timeout_ms
                        .or(file.header_timeout_ms)
                        .unwrap_or(10_000)
                        .max(1),
                ),
                max_connections: args
                    .max_http_connections
                    .or(file.max_http_connections)
                    .unwrap_or(1024)
                    .max(1),
            },
            faults,
            write_behind: None,
        })
    }
}

/// An actual domain is a host with an optional port, nothing more: the well-known document
/// writes it in front of `/.p2/core/`.
fn check_actual_domain(actual: &str) -> anyhow::Result<()> {
    let authority: axum::http::uri::Authority = actual
        .parse()
        .map_err(|_| anyhow::anyhow!("actual-domain `{actual}` is not a host[:port]"))?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        anyhow::bail!("actual-domain `{actual}` is not a host[:port]");
    }
    Ok(())
}

/// The host of `host[:port]` (a `Host` header, an actual domain), without the port.
pub fn host_of(authority: &str) -> String {
    authority
        .parse::<axum::http::uri::Authority>()
        .map_or_else(|_| authority.to_owned(), |a| a.host().to_owned())
}

/// 32 random bytes as hex: tokens, secrets, ids.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actual_domain_is_a_host_with_an_optional_port() {
        let with = |actual: &str| {
            Config::resolve(ServeArgs {
                in_memory: true,
                actual_domain: Some(actual.into()),
                ..Default::default()
            })
        };
        for good in ["mls.example.com", "mls.example.com:8443", "127.0.0.1:80"] {
            assert_eq!(with(good).expect(good).actual_domain.as_deref(), Some(good));
        }
        for bad in [
            "https://mls.example.com",
            "mls.example.com/api",
            "user@host",
            "",
        ] {
            let error = with(bad).expect_err(bad).to_string();
            assert!(error.contains("host[:port]"), "{bad}: {error}");
        }
        assert_eq!(host_of("Mls.Example.com:8443"), "Mls.Example.com");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn tls_files_go_together_and_bad_ones_are_refused_with_their_name() {
        let dir = std::env::temp_dir().join(format!("p2mls-serve-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, "not pem").expect("cert");
        std::fs::write(&key, "not pem").expect("key");
        let only_cert = ServeArgs {
            in_memory: true,
            tls_cert: Some(cert.clone()),
            ..Default::default()
        };
        let error = Config::resolve(only_cert).expect_err("a cert without a key");
        assert!(error.to_string().contains("together"), "{error}");
        let both = ServeArgs {
            in_memory: true,
            tls_cert: Some(cert),
            tls_key: Some(key),
            ..Default::default()
        };
        let error = format!("{:#}", Config::resolve(both).expect_err("junk files"));
        assert!(error.contains("cert.pem"), "{error}");
        assert!(error.contains("no CERTIFICATE"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
