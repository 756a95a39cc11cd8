//! Nothing left behind: the clean-up consumes the one-time KeyPackages a run uploaded, revokes
//! the sessions of the actors it registered, and lists what it cannot remove; a run interrupted
//! halfway still cleans up. Verified from outside, by an observer actor of its own.

use std::time::Duration;

use p2mls::check::Verdict;
use p2mls::checks::context::{ALICE, BOB};
use p2mls::checks::Ctx;
use p2mls::clients::actors::obtain;
use p2mls::clients::http::{ApiRequest, Auth, Http};
use p2mls::clients::mls::KeyPackageOptions;
use p2mls::spec::ApiSpec;
use p2mls::target::ActorSource;
use p2mls::{RunArgs, RunOutput};
use p2mls_protocol::suites::SuiteRegistry;

const SECRET: &str = "cleanup-test-secret";

async fn server() -> p2mls_reference_server::RunningServer {
    let mut config = p2mls_reference_server::Config::ephemeral(SECRET);
    config.gateway.heartbeat_interval_ms = p2mls::EMBEDDED_HEARTBEAT_MS;
    config.gateway.heartbeat_grace_ms = p2mls::EMBEDDED_HEARTBEAT_MS / 2;
    p2mls_reference_server::spawn(config).await.expect("server")
}

/// One-time KeyPackages of `fid` an outsider can still discover, per suite.
async fn one_time_left(http: &Http, observer_token: &str, fid: &str) -> Vec<String> {
    let mut left = Vec::new();
    for suite in ["0x0001", "0xF110"] {
        let request = ApiRequest::new(
            reqwest::Method::GET,
            format!("/.p2/mls/v1/keypackages/{fid}?ciphersuites={suite}"),
            Auth::Literal(observer_token.to_owned()),
        );
        let (result, _) = http.send(&request).await;
        let response = result.expect("discovery answers");
        assert!(
            matches!(response.status, 200 | 204 | 404),
            "{}",
            response.status
        );
        let list = response
            .json()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        for kp in list {
            if kp["lastResort"].as_bool() != Some(true) {
                left.push(format!("{fid} {suite} {}", kp["id"]));
            }
        }
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_one_time_keypackages_are_consumed_and_the_rest_is_listed() {
    let server = server().await;
    let http = Http::new(&server.url(), Duration::from_secs(10)).expect("http");
    let source = ActorSource::Reference {
        registration_secret: SECRET.into(),
        name_prefix: String::new(),
    };
    let actors = obtain(&http, &source, "clean1").await.expect("actors");
    let fid = actors[BOB].fid.clone();
    let bob = actors[BOB].clone();
    let mut ctx = Ctx::new(
        http.clone(),
        ApiSpec::default_spec(),
        SuiteRegistry::default(),
        actors,
    );
    let mut packages = Vec::new();
    for _ in 0..5 {
        packages.push(
            ctx.key_package(BOB, &KeyPackageOptions::default())
                .expect("kp"),
        );
    }
    packages.push(
        ctx.key_package(
            BOB,
            &KeyPackageOptions {
                last_resort: true,
                ..Default::default()
            },
        )
        .expect("last resort"),
    );
    ctx.upload_ok(BOB, packages).await.expect("upload");
    assert_eq!(ctx.ledger().keypackages.len(), 6);
    ctx.ledger()
        .opened(&bob.fid, &bob.session_id, bob.account.as_ref());
    let cleanup = p2mls::cleanup::clean_up(&mut ctx).await;
    assert_eq!(cleanup.errors, Vec::<String>::new());
    let consumed: Vec<_> = cleanup
        .removed
        .iter()
        .filter(|i| i.kind == "keypackage" && i.note.ends_with("consumed through discovery"))
        .collect();
    assert_eq!(consumed.len(), 5, "{:?}", cleanup.removed);
    assert_eq!(
        cleanup
            .left
            .iter()
            .filter(|i| i.kind == "last-resort-keypackage")
            .count(),
        1,
        "{:?}",
        cleanup.left
    );
    assert!(
        cleanup.removed.iter().any(|i| i.kind == "session"
            && i.id == format!("{}/{}", bob.fid, bob.session_id)
            && i.note.starts_with("revoked")),
        "{:?}",
        cleanup.removed
    );
    // From outside: nothing one-time is left, and bob's session token is refused.
    let observers = obtain(&http, &source, "watch1").await.expect("observer");
    assert_eq!(
        one_time_left(&http, &observers[ALICE].token, &fid).await,
        Vec::<String>::new()
    );
    let (result, _) = http
        .send(&ApiRequest::new(
            reqwest::Method::GET,
            format!("/.p2/mls/v1/keypackages/{fid}?ciphersuites=0x0001"),
            Auth::Literal(bob.token.clone()),
        ))
        .await;
    assert_eq!(result.expect("an answer").status, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_interrupted_halfway_still_cleans_up() {
    let server = server().await;
    let dir = std::env::temp_dir().join(format!("p2mls-cleanup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("target.toml");
    std::fs::write(
        &config,
        format!(
            "[actors]\nmode = \"reference\"\nregistration_secret = \"{SECRET}\"\nname_prefix = \"ci-\"\n"
        ),
    )
    .expect("config");
    let (stop, interrupt) = tokio::sync::watch::channel(false);
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(config),
        interrupt: Some(interrupt),
        ..Default::default()
    };
    let run = tokio::spawn(async move { p2mls::run(&args).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.send(true).expect("interrupt");
    let RunOutput::Certified(report) = run.await.expect("task").expect("run") else {
        panic!("expected a report");
    };
    let interrupted = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Error && c.reason.contains("interrupted"))
        .count();
    let passed = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Pass)
        .count();
    assert!(
        interrupted > 0 && passed > 0,
        "not halfway: {interrupted} interrupted, {passed} passed"
    );
    let cleanup = report.cleanup.expect("the clean-up ran");
    assert_eq!(cleanup.errors, Vec::<String>::new());
    // The run's three actors carry the config's prefix, and so do the actors checks register
    // for themselves (`ratelimit.session-burst`, `sessions.*`, `keymaterial.*`, ...) if they ran
    // before the interrupt; only `registration.names` registers a 64-character name, which has
    // no room for a prefix.
    let run_actor = |fid: &&str| {
        ["ci-alice-", "ci-bob-", "ci-carol-"]
            .iter()
            .any(|p| fid.starts_with(p))
    };
    let (actors, others): (Vec<&str>, Vec<&str>) = cleanup
        .left
        .iter()
        .filter(|i| i.kind == "actor")
        .map(|i| i.id.as_str())
        .partition(run_actor);
    assert_eq!(actors.len(), 3, "{:?}", cleanup.left);
    assert!(
        others
            .iter()
            .all(|fid| fid.starts_with("ci-") || fid.starts_with("p2mls.")),
        "{others:?}"
    );
    // The run's sessions (its actors registered them) are revoked, none is left.
    assert!(cleanup.removed.iter().any(|i| i.kind == "session"));
    assert!(
        cleanup.left.iter().all(|i| i.kind != "session"),
        "{:?}",
        cleanup.left
    );
    let http = Http::new(&server.url(), Duration::from_secs(10)).expect("http");
    let observers = obtain(
        &http,
        &ActorSource::Reference {
            registration_secret: SECRET.into(),
            name_prefix: String::new(),
        },
        "watch2",
    )
    .await
    .expect("observer");
    for fid in actors {
        assert_eq!(
            one_time_left(&http, &observers[ALICE].token, fid).await,
            Vec::<String>::new()
        );
    }
    server.stop().await;
}
