//! p2mls: the conformance and interop harness for polyproto-mls.
//!
//! The harness only speaks HTTP (and, later, WebSocket) to its target; it judges responses by the
//! OpenAPI document and raw JSON, and MLS behaviour with its own openmls clients. The embedded
//! reference server is started in-process but reached over loopback like any other target.

// Lint and diff are their own crate (for spec editors), the document model another; they keep
// their paths here for the CLI and the tests.
pub use p2mls_lint as lint;
pub use p2mls_lint::diff;
pub use p2mls_openapi as spec;

pub use error::Error;

pub mod catalogue;
pub mod chaos;
pub mod check;
pub mod checks;
pub mod cleanup;
pub mod clients;
pub mod console;
pub mod differential;
pub mod error;
pub mod ledger;
pub mod matchers;
pub mod redact;
pub mod replay;
pub mod report;
pub mod runner;
pub mod target;
pub mod test_ca;
pub mod vectors;
pub mod weak_ed25519;
pub mod x509;

use std::path::PathBuf;

use p2mls_protocol::identifiers::format_code_point;
use p2mls_protocol::suites::SuiteRegistry;
use p2mls_reference_server::faults::Fault;

use crate::clients::tls::{Probe, TlsObservation, TlsSettings};
use crate::report::{Header, Report, SuiteRow};
use crate::runner::{Expectations, Gate, GateLevel, Selection};
use crate::spec::ApiSpec;
use crate::target::{ActorSource, TargetConfig};

/// Random lowercase hex of `bytes` bytes.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Heartbeat interval of the embedded server's gateway.
pub const EMBEDDED_HEARTBEAT_MS: u64 = 1500;

/// Options of `p2mls run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// Base URL of the server to certify; without it the embedded reference server is started.
    #[arg(long)]
    pub target: Option<String>,
    /// Target configuration (how to obtain actors); required with --target.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// OpenAPI 3.0.x or 3.1.x document to judge by (default: ours for v0.1.0-alpha.4).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Directory for report.json, junit.xml, report.md and report.html.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only checks whose id matches one of these globs.
    #[arg(long)]
    pub only: Vec<String>,
    /// Skip checks whose id matches one of these globs.
    #[arg(long)]
    pub skip: Vec<String>,
    /// List the selected checks and exit (no network).
    #[arg(long)]
    pub list: bool,
    /// Count broken SHOULDs as failures.
    #[arg(long)]
    pub strict: bool,
    /// What makes the exit code 1: failing checks of the polyproto text (`spec`, MUST/SHOULD/MAY)
    /// or also of our interop profile (`profile`).
    #[arg(long, value_enum, default_value_t = GateLevel::Spec)]
    pub gate: GateLevel,
    /// Known failures, each with a reason: only new failures fail the gate.
    #[arg(long)]
    pub expect: Option<PathBuf>,
    /// How long to wait for a gateway event against the embedded server, in milliseconds
    /// (default 5000; a target's config has its own `event_timeout_ms`).
    #[arg(long)]
    pub embedded_event_timeout_ms: Option<u64>,
    /// The heartbeat interval the embedded server announces, in milliseconds (default 1500, so
    /// the heartbeat-request check waits seconds, not a minute; the text recommends 30000 to
    /// 60000, so `gateway.heartbeat-interval` is non-strict at the default).
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..=u64::from(u32::MAX)))]
    pub embedded_heartbeat_ms: Option<u64>,
    /// MLS wire code point that carries the 0xF110 Hybrid PQS suite (default 0x004F; the target
    /// must use the same).
    #[arg(long, value_parser = parse_wire)]
    pub hybrid_wire: Option<u16>,
    /// Self-check the harness's MLS engine first with the RFC 9420 vectors in DIR (0x0001), and
    /// our generated ones (0xF110), for both crypto back ends.
    #[arg(long, value_name = "DIR")]
    pub vectors: Option<PathBuf>,
    /// With --target: run the same checks against the embedded reference server too and report
    /// every difference in status, body shape and gateway events (a difference fails the gate).
    #[arg(long, requires = "target")]
    pub differential: bool,
    /// Keep every check's exchanges and frames in the report's `trace` (benchmarks, replays).
    #[arg(skip)]
    pub capture: bool,
    /// Requests per second across the run (default: the config's `rate_per_second`, else
    /// unlimited on loopback and 10 against any other host; 0: unlimited).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Leave what the run created on the target (default: remove what the API allows at the
    /// end, and list the rest in the report).
    #[arg(long)]
    pub no_cleanup: bool,
    /// Set to true to stop the run (Ctrl-C): the running check ends as `error`, the rest are not
    /// run, the clean-up and the reports still happen.
    #[arg(skip)]
    pub interrupt: Option<tokio::sync::watch::Receiver<bool>>,
    /// Nothing on stderr while running (default: a live progress line on a terminal, else a
    /// line per check that does not pass).
    #[arg(long, short)]
    pub quiet: bool,
    /// Checks run at once (1: one after another). Checks that share state on the target wait
    /// for each other whatever the number; the report is the same in any order.
    #[arg(long, short = 'j', default_value_t = runner::DEFAULT_JOBS, value_parser = parse_jobs)]
    pub jobs: usize,
    /// How results are printed at the end: `github` adds GitHub Actions annotations (`auto`:
    /// when GITHUB_ACTIONS=true).
    #[arg(long, value_enum, default_value_t)]
    pub format: console::Format,
    /// Start the embedded server with a deliberate fault (to see the harness catch it).
    #[arg(long = "embedded-fault", value_name = "NAME")]
    pub embedded_faults: Vec<Fault>,
}

fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a number of checks from 1 to 256")),
    }
}

fn parse_wire(text: &str) -> Result<u16, String> {
    p2mls_protocol::identifiers::parse_code_point(text).map_err(|e| e.to_string())
}

/// What `p2mls run` produced.
pub enum RunOutput {
    /// `--list`: the selected checks.
    Listed(Vec<checks::CheckDef>),
    Certified(Box<Report>),
}

impl RunOutput {
    /// 0 nothing failed (beyond expectations), 1 a check failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunOutput::Listed(_) => 0,
            RunOutput::Certified(report) => {
                i32::from(!report.gate.passed() || !report.differences.is_empty())
            }
        }
    }
}

/// Runs `p2mls run`.
pub async fn run(args: &RunArgs) -> Result<RunOutput, Error> {
    let spec = match &args.spec {
        Some(path) => ApiSpec::load(path).map_err(|e| Error::Usage(e.to_string()))?,
        None => ApiSpec::default_spec(),
    };
    let selection = Selection::new(&args.only, &args.skip)?;
    let registry = SuiteRegistry::new(
        args.hybrid_wire
            .unwrap_or(p2mls_protocol::suites::HYBRID_PQS_DEFAULT_WIRE),
    );
    let mut all = checks::catalogue(&spec);
    if let Some(dir) = &args.vectors {
        all.splice(0..0, checks::engine_checks(dir, &registry));
    }
    let defs: Vec<_> = all
        .into_iter()
        .filter(|d| selection.includes(&d.id))
        .collect();
    if args.list {
        return Ok(RunOutput::Listed(defs));
    }
    let expectations = args.expect.as_deref().map(Expectations::load).transpose()?;
    let (base, config, embedded) = match &args.target {
        Some(url) => {
            let path = args.config.as_deref().ok_or_else(|| {
                Error::Usage("--target needs --config FILE saying how to obtain actors".into())
            })?;
            let config = TargetConfig::load(path)?;
            (url.clone(), config, None)
        }
        None => {
            let (server, config) = start_embedded(args, &registry).await?;
            (server.url(), config, Some(server))
        }
    };
    let rate = pacing(args.rate, config.rate_per_second, &base);
    if let (Some(rate), false) = (rate, args.quiet) {
        eprintln!(
            "p2mls: pacing {rate} requests/s ({})",
            if args.rate.is_some() || config.rate_per_second.is_some() {
                "as configured"
            } else {
                "default against a non-loopback target; --rate to change, 0 for none"
            }
        );
    }
    let Certified {
        results,
        tls,
        rate_limit,
        cleanup,
    } = certify(
        &base,
        &config,
        defs.clone(),
        &spec,
        &registry,
        Mode {
            strict: args.strict,
            capture: args.differential || args.capture,
            progress: console::Progress::for_stderr(args.quiet),
            jobs: args.jobs,
            rate,
            cleanup: !args.no_cleanup,
            interrupt: args.interrupt.clone(),
        },
    )
    .await?;
    let differences = if args.differential {
        let (server, reference_config) = start_embedded(args, &registry).await?;
        let reference = certify(
            &server.url(),
            &reference_config,
            defs,
            &spec,
            &registry,
            Mode {
                strict: args.strict,
                capture: true,
                progress: console::Progress::Silent,
                jobs: args.jobs,
                rate: None,
                cleanup: true,
                interrupt: args.interrupt.clone(),
            },
        )
        .await;
        server.stop().await;
        differential::compare(&results, &reference?.results)
    } else {
        Vec::new()
    };
    let header = Header {
        harness: format!("p2mls {}", env!("CARGO_PKG_VERSION")),
        target: if embedded.is_some() {
            "embedded reference server".into()
        } else {
            base.clone()
        },
        embedded: embedded.is_some(),
        spec_source: spec.source_name.clone(),
        spec_openapi: spec.openapi.clone(),
        spec_version: spec.version.clone(),
        suites: registry
            .suites()
            .iter()
            .map(|s| SuiteRow {
                polyproto_id: format_code_point(s.polyproto_id),
                wire: format_code_point(s.wire),
                name: s.name.to_owned(),
            })
            .collect(),
        clients: checks::suites::client_lines(&registry),
        strict: args.strict,
        tls,
        insecure_skip_verify: config.insecure_skip_verify,
        pacing_per_second: rate,
        rate_limit,
    };
    if let Some(server) = embedded {
        server.stop().await;
    }
    let gate = Gate::decide(&results, expectations.as_ref(), args.gate);
    let mut report = Report::new(header, results, catalogue::requirements(), gate);
    report.differences = differences;
    report.cleanup = cleanup;
    Ok(RunOutput::Certified(Box::new(report)))
}

/// The rate and discovery limits the embedded server runs with (tests that start a reference
/// server of their own use them too, so that every check can pass).
pub fn embedded_limits(config: &mut p2mls_reference_server::Config) {
    // A session limit the whole run stays under (a run sends about 250 requests, spread over
    // three sessions), which the rate-limit check's burst of 300 still exceeds.
    config.rate_limit = Some(p2mls_reference_server::rate_limit::RateLimit {
        per_second: 100.0,
        burst: 200.0,
    });
    config.discovery_limit = Some(p2mls_reference_server::config::DEFAULT_DISCOVERY_LIMIT);
}

/// Starts the embedded reference server (with `--embedded-fault`s) and its target config.
async fn start_embedded(
    args: &RunArgs,
    registry: &SuiteRegistry,
) -> Result<(p2mls_reference_server::RunningServer, TargetConfig), Error> {
    let secret = random_hex(16);
    let mut server_config = p2mls_reference_server::Config::ephemeral(secret.clone());
    server_config.hybrid_wire = registry.suites()[1].wire;
    // In differential mode the embedded server is the reference: no faults there.
    if !args.differential {
        server_config.faults = args.embedded_faults.clone();
    }
    // Short heartbeats so that the heartbeat-request check need not wait long (reported as
    // such by the interval's SHOULD check).
    let heartbeat = args.embedded_heartbeat_ms.unwrap_or(EMBEDDED_HEARTBEAT_MS);
    server_config.gateway.heartbeat_interval_ms = heartbeat;
    server_config.gateway.heartbeat_grace_ms = heartbeat / 2;
    embedded_limits(&mut server_config);
    let (identity, anchors) = embedded_tls(&server_config.faults).map_err(|e| {
        Error::Usage(format!(
            "cannot make the embedded server's TLS certificate: {e}"
        ))
    })?;
    server_config.tls = Some(identity);
    // Core 3.1 with a visible domain other than the actual one: the ID-Certs and FIDs name
    // `localhost`, the API is served at `127.0.0.1:PORT`, and `localhost:PORT` (the same
    // listener) answers only the well-known document pointing there.
    let listener = tokio::net::TcpListener::bind(server_config.listen)
        .await
        .map_err(|e| Error::Usage(format!("cannot start the embedded server: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("cannot start the embedded server: {e}")))?
        .port();
    server_config.actual_domain = Some(format!("127.0.0.1:{port}"));
    let server = p2mls_reference_server::spawn_on(listener, server_config)
        .await
        .map_err(|e| Error::Usage(format!("cannot start the embedded server: {e}")))?;
    let config = TargetConfig {
        url: None,
        timeout_seconds: 10,
        check_timeout_seconds: runner::CHECK_TIMEOUT.as_secs(),
        gateway_url: None,
        event_timeout_ms: args.embedded_event_timeout_ms.unwrap_or(5000),
        ca_certs: Vec::new(),
        insecure_skip_verify: false,
        max_retries: 5,
        retry_budget_seconds: 120,
        rate_per_second: None,
        keypackage_limit: Some(server.keypackage_limit),
        visible_url: None,
        actors: ActorSource::Reference {
            registration_secret: secret,
            name_prefix: String::new(),
        },
        tls: anchors,
    };
    Ok((server, config))
}

/// The embedded server serves https and wss with a certificate from a CA made for this run,
/// which the harness trusts; the TLS faults make it present what a broken deployment would.
fn embedded_tls(
    faults: &[Fault],
) -> Result<(p2mls_reference_server::tls::TlsIdentity, TlsSettings), String> {
    use test_ca::{TestCa, Validity};
    let e = |e: rcgen::Error| e.to_string();
    let trusted = TestCa::new("p2mls embedded run CA").map_err(e)?;
    let anchors = TlsSettings::from_pem(&trusted.cert_pem())?;
    let foreign;
    let issuer = if faults.contains(&Fault::TlsForeignCa) {
        foreign = TestCa::new("a CA the harness was not given").map_err(e)?;
        &foreign
    } else {
        &trusted
    };
    let names: &[&str] = if faults.contains(&Fault::TlsWrongName) {
        &["wrong.example"]
    } else {
        &["localhost", "127.0.0.1"]
    };
    let validity = if faults.contains(&Fault::TlsExpired) {
        Validity::Expired
    } else {
        Validity::Current
    };
    let cert = issuer.issue(names, validity).map_err(e)?;
    Ok((
        p2mls_reference_server::tls::TlsIdentity {
            cert_chain_pem: cert.chain_pem,
            key_pem: cert.key_pem,
        },
        anchors,
    ))
}

/// How one certification runs.
struct Mode {
    strict: bool,
    /// Keep every check's exchanges and frames (differential runs).
    capture: bool,
    progress: console::Progress,
    /// Checks running at once.
    jobs: usize,
    /// Requests per second across the run.
    rate: Option<f64>,
    /// Remove what the run created, as far as the API allows, when it ends.
    cleanup: bool,
    interrupt: Option<tokio::sync::watch::Receiver<bool>>,
}

/// What one certification produced.
struct Certified {
    results: Vec<runner::CheckReport>,
    tls: Option<TlsObservation>,
    rate_limit: clients::http::RateLimitStats,
    /// None with --no-cleanup.
    cleanup: Option<cleanup::Cleanup>,
}

/// Requests per second: `--rate`, else the config's, else none on a loopback target and a
/// conservative 10 against any other host (a shared staging server). 0 means none.
fn pacing(flag: Option<f64>, configured: Option<f64>, base: &str) -> Option<f64> {
    let loopback = reqwest::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| {
            h == "localhost"
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    let default = (!loopback).then_some(10.0);
    flag.or(configured)
        .or(default)
        .filter(|r| *r > 0.0 && r.is_finite())
}

/// Probes TLS (https:// targets), obtains actors from `base` and runs `defs` against it. A
/// refused certificate or a failed handshake leaves only the TLS checks to judge: the others are
/// `error` ("not run"), because nothing else can be trusted over such a connection.
async fn certify(
    base: &str,
    config: &TargetConfig,
    defs: Vec<checks::CheckDef>,
    spec: &ApiSpec,
    registry: &SuiteRegistry,
    mode: Mode,
) -> Result<Certified, Error> {
    let http = clients::http::Http::with_tls(base, config.timeout(), &config.tls)
        .map_err(|e| Error::Usage(e.to_string()))?
        .with_policy(clients::http::RetryPolicy {
            max_retries: config.max_retries,
            budget: std::time::Duration::from_secs(config.retry_budget_seconds),
            rate: mode.rate,
        });
    let probe = if base.starts_with("https://") {
        Some(config.tls.probe(base, config.timeout()).await)
    } else {
        None
    };
    let blocked = match &probe {
        Some(Probe::Unreachable(why)) => {
            return Err(Error::Usage(format!("cannot reach {base}: {why}")))
        }
        Some(Probe::Handshake(_, Err(why))) if !config.tls.insecure_skip_verify => Some(format!(
            "the target's TLS certificate is refused ({why}; see tls.certificate)"
        )),
        Some(Probe::HandshakeFailed(failure)) => Some(format!(
            "no TLS session with the target ({}; see tls.certificate)",
            failure.reason
        )),
        _ => None,
    };
    let observation = match &probe {
        Some(Probe::Handshake(observation, _)) => Some(observation.clone()),
        _ => None,
    };
    let actors = match blocked {
        Some(_) => Vec::new(),
        None => {
            let run_tag = random_hex(4);
            clients::actors::obtain(&http, &config.actors, &run_tag)
                .await
                .map_err(|e| Error::Usage(format!("cannot obtain actors from {base}: {e}")))?
        }
    };
    let mut ctx = checks::Ctx::new(http, spec.clone(), registry.clone(), actors);
    ctx.gateway_config = (
        config.gateway_url.clone(),
        std::time::Duration::from_millis(config.event_timeout_ms),
    );
    ctx.capture = mode.capture;
    ctx.keypackage_limit = config.keypackage_limit;
    ctx.visible_url = config.visible_url.clone();
    if let ActorSource::Reference {
        registration_secret,
        name_prefix,
    } = &config.actors
    {
        ctx.registration_secret = Some(registration_secret.clone());
        ctx.name_prefix = name_prefix.clone();
    }
    ctx.check_timeout = config.check_timeout();
    ctx.tls = config.tls.clone();
    ctx.tls_probe = probe.map(std::sync::Arc::new);
    ctx.blocked = blocked;
    ctx.interrupt = mode.interrupt;
    for actor in ctx.actors.iter().filter(|a| a.account.is_some()) {
        let mut ledger = ctx.ledger();
        ledger.actors.push(actor.fid.clone());
        ledger.opened(&actor.fid, &actor.session_id, actor.account.as_ref());
    }
    let results = runner::run(&mut ctx, defs, mode.strict, mode.jobs, &mode.progress).await;
    // Bounded like a check: a target that stops answering cannot hold the run's end.
    let cleanup = if mode.cleanup {
        let limit = ctx.check_timeout;
        Some(
            tokio::time::timeout(limit, cleanup::clean_up(&mut ctx))
                .await
                .unwrap_or_else(|_| cleanup::Cleanup {
                    errors: vec![format!(
                        "the clean-up did not finish within {} s",
                        limit.as_secs()
                    )],
                    ..Default::default()
                }),
        )
    } else {
        None
    };
    Ok(Certified {
        results,
        tls: observation,
        rate_limit: ctx.http.rate_limit_stats(),
        cleanup,
    })
}
