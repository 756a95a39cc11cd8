//! Hostile targets cannot hang or crash the harness: `p2mls run` against each chaos mode ends
//! within its configured timeouts with `fail` or `error` verdicts only (or `unsupported`, "not
//! reached", for a check whose prerequisite the target already failed), exit code 1, no panic,
//! and bounded memory (docs/TARGET.md, "Hostile targets").
//!
//! Actors are static (made-up tokens, ID-Certs of a CA of our own), so the run reaches the
//! checks; in `reference` mode the actor bootstrap is what the target attacks, and the run ends
//! promptly with a usage error (exit 2).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use p2mls::chaos::{ChaosServer, Mode};
use p2mls::check::Verdict;
use p2mls::clients::gateway::{GatewayClient, Incoming, Transcript};
use p2mls::{RunArgs, RunOutput};
use p2mls_protocol::idcert::{build_csr, verify_csr, ActorName, ServerIdentity};
use tokio::sync::RwLock;

/// Per-request deadline of the test config.
const TIMEOUT_SECONDS: u64 = 1;
/// Per-check bound of the test config.
const CHECK_TIMEOUT_SECONDS: u64 = 5;
const EVENT_TIMEOUT_MS: u64 = 500;
/// Outer bound on any one run, far above what the config allows.
const RUN_BOUND: Duration = Duration::from_secs(60);
/// Largest growth of the resident set a `huge-body` run may cause.
const MEMORY_BOUND: u64 = 64 * 1024 * 1024;

/// A representative selection: HTTP operations (success, auth, 404), an ID-Cert fetch, a bad
/// request check and the gateway (hello, identify, a close code). Only MUST-level and profile
/// checks, so a broken rule is `fail`, never `non-strict`.
///
/// Not `keypackages_addKeyPackages.success`: the document gives its 200 only a status code as
/// body, so attribution excuses any body and a target answering 200 to everything passes it
/// (persistence is judged by the discovery checks instead).
const ONLY: &[&str] = &[
    "keypackages_discoverKeyPackages.success",
    "members_getMembers.not-found.missing",
    "groups_createGroup.success",
    "groups_getGroup.success",
    "keypackages_addKeyPackages.auth.missing-token",
    "keypackages.discover.missing-ciphersuites",
    "idcert.server-root",
    "gateway.hello",
    "gateway.identify",
    "gateway.close.invalid-payload",
];

/// The memory test measures the whole process: it runs alone, the others side by side.
static MEMORY: RwLock<()> = RwLock::const_new(());

/// Writes a target config for `server` with short timeouts and the given `[actors]` table.
fn config(server: &ChaosServer, actors: &str) -> PathBuf {
    config_with(server, actors, TIMEOUT_SECONDS, CHECK_TIMEOUT_SECONDS)
}

fn config_with(server: &ChaosServer, actors: &str, timeout: u64, check_timeout: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "p2mls-chaos-{}-{}",
        std::process::id(),
        p2mls::random_hex(4)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("target.toml");
    let text = format!(
        "timeout_seconds = {timeout}\ncheck_timeout_seconds = {check_timeout}\n\
         event_timeout_ms = {EVENT_TIMEOUT_MS}\ngateway_url = \"{}\"\n{actors}",
        server.gateway_url()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Three static actors of domain `chaos`, certified by a CA made up here.
fn static_actors() -> String {
    let mut rng = rand::rngs::OsRng;
    let ca = ServerIdentity::new("chaos", &SigningKey::generate(&mut rng)).expect("CA");
    let mut out = String::from("[actors]\nmode = \"static\"\n");
    for (serial, name) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let key = SigningKey::generate(&mut rng);
        let actor = ActorName {
            local_name: name.into(),
            domain: "chaos".into(),
            session_id: format!("chaos-{name}"),
        };
        let csr = build_csr(&actor, &key).expect("CSR");
        let verified = verify_csr(&csr).expect("own CSR verifies");
        let (pem, _) = ca
            .issue(&verified, &[serial as u8 + 1], 3600)
            .expect("issue");
        out.push_str(&format!(
            "[[actors.list]]\nfid = \"{}\"\nsession_id = \"{}\"\ntoken = \"made-up-{name}\"\n\
             signing_key = \"{}\"\nid_cert_pem = '''\n{pem}'''\n",
            actor.fid(),
            actor.session_id,
            hex::encode(key.to_bytes()),
        ));
    }
    out
}

fn run_args(server: &ChaosServer, config: PathBuf) -> RunArgs {
    RunArgs {
        target: Some(server.url()),
        config: Some(config),
        only: ONLY.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

/// Resident set size of this process, from /proc (None where there is no /proc).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs the selection against `mode` and checks the outcome; returns the wall time.
async fn run_against(mode: Mode) -> Duration {
    let server = ChaosServer::start("127.0.0.1:0".parse().expect("addr"), mode)
        .await
        .expect("chaos server starts");
    let config = config(&server, &static_actors());
    let args = run_args(&server, config.clone());
    let started = Instant::now();
    let output = tokio::time::timeout(RUN_BOUND, p2mls::run(&args))
        .await
        .unwrap_or_else(|_| panic!("{}: the run did not end within {RUN_BOUND:?}", mode.name()))
        .unwrap_or_else(|e| panic!("{}: static actors reach the checks: {e}", mode.name()));
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(config.parent().expect("config has a directory"));
    assert_eq!(output.exit_code(), 1, "{}", mode.name());
    let RunOutput::Certified(report) = output else {
        panic!("expected a report");
    };
    assert_eq!(report.checks.len(), ONLY.len(), "{}", mode.name());
    for check in &report.checks {
        let not_reached =
            check.verdict == Verdict::Unsupported && check.reason.contains("not reached: ");
        assert!(
            matches!(check.verdict, Verdict::Fail | Verdict::Error) || not_reached,
            "{}: {} is {:?}: {}",
            mode.name(),
            check.def.id,
            check.verdict,
            check.reason
        );
        assert!(
            check.duration <= Duration::from_secs(CHECK_TIMEOUT_SECONDS + 1),
            "{}: {} took {:?}",
            mode.name(),
            check.def.id,
            check.duration
        );
    }
    let bound = Duration::from_secs(CHECK_TIMEOUT_SECONDS + 1) * ONLY.len() as u32;
    assert!(elapsed <= bound, "{}: run took {elapsed:?}", mode.name());
    let count = |verdict| {
        report
            .checks
            .iter()
            .filter(|c| c.verdict == verdict)
            .count()
    };
    eprintln!(
        "{}: exit 1, {} fail, {} error, {} not reached, {elapsed:?}",
        mode.name(),
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Unsupported)
    );
    for check in &report.checks {
        eprintln!(
            "  {} {}: {}",
            check.verdict.as_str(),
            check.def.id,
            check.reason
        );
    }
    elapsed
}

async fn side_by_side(mode: Mode) {
    let _shared = MEMORY.read().await;
    run_against(mode).await;
}

#[tokio::test]
async fn stall() {
    side_by_side(Mode::Stall).await;
}

#[tokio::test]
async fn trickle() {
    side_by_side(Mode::Trickle).await;
}

#[tokio::test]
async fn invalid_json() {
    side_by_side(Mode::InvalidJson).await;
}

#[tokio::test]
async fn invalid_utf8() {
    side_by_side(Mode::InvalidUtf8).await;
}

#[tokio::test]
async fn close_mid_message() {
    side_by_side(Mode::CloseMidMessage).await;
}

#[tokio::test]
async fn huge_body_keeps_memory_bounded() {
    let _alone = MEMORY.write().await;
    let before = resident_bytes();
    run_against(Mode::HugeBody).await;
    if let (Some(before), Some(after)) = (before, resident_bytes()) {
        let growth = after.saturating_sub(before);
        eprintln!("huge-body: resident set grew by {} KiB", growth / 1024);
        assert!(
            growth < MEMORY_BOUND,
            "resident set grew by {growth} bytes (from {before})"
        );
    }
}

/// A check that outlives `check_timeout_seconds` (here shorter than one request) is ended and
/// reported as `error`, and the run goes on.
#[tokio::test]
async fn check_timeout_ends_checks_as_errors() {
    let _shared = MEMORY.read().await;
    let server = ChaosServer::start("127.0.0.1:0".parse().expect("addr"), Mode::Stall)
        .await
        .expect("chaos server starts");
    let path = config_with(&server, &static_actors(), 3, 1);
    let mut args = run_args(&server, path.clone());
    args.only = vec!["gateway.hello".into(), "groups_createGroup.success".into()];
    let started = Instant::now();
    let output = tokio::time::timeout(RUN_BOUND, p2mls::run(&args))
        .await
        .expect("the run ends")
        .expect("static actors reach the checks");
    let _ = std::fs::remove_dir_all(path.parent().expect("config has a directory"));
    assert_eq!(output.exit_code(), 1);
    let RunOutput::Certified(report) = output else {
        panic!("expected a report");
    };
    for check in &report.checks {
        assert_eq!(check.verdict, Verdict::Error, "{}", check.def.id);
        assert!(check.reason.contains("did not finish"), "{}", check.reason);
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

/// In reference mode the target answers the registration itself: the bootstrap fails promptly
/// with a usage error (exit 2), whatever the mode.
#[tokio::test]
async fn reference_bootstrap_fails_promptly() {
    let _shared = MEMORY.read().await;
    for mode in Mode::ALL {
        let server = ChaosServer::start("127.0.0.1:0".parse().expect("addr"), mode)
            .await
            .expect("chaos server starts");
        let config = config(
            &server,
            "[actors]\nmode = \"reference\"\nregistration_secret = \"s\"\n",
        );
        let args = run_args(&server, config.clone());
        let started = Instant::now();
        let result = tokio::time::timeout(RUN_BOUND, p2mls::run(&args))
            .await
            .unwrap_or_else(|_| panic!("{}: bootstrap hung", mode.name()));
        let _ = std::fs::remove_dir_all(config.parent().expect("config has a directory"));
        let Err(e) = result else {
            panic!("{}: registration against chaos succeeded", mode.name());
        };
        assert!(
            e.to_string().contains("cannot obtain actors"),
            "{}: {e}",
            mode.name()
        );
        assert!(
            started.elapsed() <= Duration::from_secs(TIMEOUT_SECONDS + 2),
            "{}: bootstrap took {:?}",
            mode.name(),
            started.elapsed()
        );
    }
}

/// The gateway client alone against each mode's WebSocket behaviour: no event, bounded time.
#[tokio::test]
async fn gateway_client_survives_every_mode() {
    let _shared = MEMORY.read().await;
    let timeout = Duration::from_secs(TIMEOUT_SECONDS);
    for mode in Mode::ALL {
        let server = ChaosServer::start("127.0.0.1:0".parse().expect("addr"), mode)
            .await
            .expect("chaos server starts");
        let started = Instant::now();
        let connected = GatewayClient::connect_within(
            &server.gateway_url(),
            "probe",
            Transcript::default(),
            timeout,
        )
        .await;
        let outcome = match connected {
            Err(e) => format!("connect: {e}"),
            Ok(mut client) => {
                let first = client.recv(Duration::from_millis(EVENT_TIMEOUT_MS)).await;
                assert!(
                    !matches!(first, Incoming::Event(_)),
                    "{}: got an event {first:?}",
                    mode.name()
                );
                client.close().await;
                format!("{first:?}")
            }
        };
        let expected = match mode {
            Mode::Stall => "connect:",
            Mode::Trickle => "Timeout",
            Mode::InvalidJson => "Malformed",
            Mode::HugeBody | Mode::InvalidUtf8 | Mode::CloseMidMessage => "Closed",
        };
        assert!(outcome.starts_with(expected), "{}: {outcome}", mode.name());
        assert!(
            started.elapsed() <= Duration::from_secs(TIMEOUT_SECONDS + 3),
            "{}: took {:?}",
            mode.name(),
            started.elapsed()
        );
    }
}
