//! A target that protects itself: the harness waits out 429s (Retry-After) instead of failing,
//! says so in the report, paces itself with `--rate`, and calls a request that stays limited past
//! the budget `error`, never `fail`.

use std::time::{Duration, Instant};

use p2mls::check::Verdict;
use p2mls::clients::http::{Auth, Http, RetryPolicy};
use p2mls::Error;
use p2mls::RunArgs;
use p2mls_reference_server::rate_limit::RateLimit;

mod common;
use common::certify;

const SECRET: &str = "rate-test-secret";

fn config_file(name: &str, extra: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("p2mls-rate-{name}-{}", std::process::id()));
    common::reference_target_config(&dir, SECRET, extra)
}

async fn limited_server(per_second: f64, burst: f64) -> p2mls_reference_server::RunningServer {
    let mut config = p2mls_reference_server::Config::ephemeral(SECRET);
    config.gateway.heartbeat_interval_ms = p2mls::EMBEDDED_HEARTBEAT_MS;
    config.gateway.heartbeat_grace_ms = p2mls::EMBEDDED_HEARTBEAT_MS / 2;
    p2mls::embedded_limits(&mut config);
    config.rate_limit = Some(RateLimit { per_second, burst });
    p2mls_reference_server::spawn(config).await.expect("server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_against_a_low_rate_limit_passes_with_the_waiting_on_record() {
    let server = limited_server(20.0, 20.0).await;
    let args = RunArgs {
        target: Some(server.url()),
        config: Some(config_file("full", "keypackage_limit = 100")),
        ..Default::default()
    };
    let (report, code) = certify(args).await;
    let not_passing: Vec<_> = report
        .checks
        .iter()
        // The server runs with the short 1.5 s heartbeat interval the heartbeat-request check
        // needs, which its SHOULD check reports as outside the recommended range.
        .filter(|c| {
            c.verdict != Verdict::Pass
                && !c.def.id.starts_with("tls.")
                && c.def.id != "gateway.heartbeat-interval"
        })
        .map(|c| format!("{}: {}", c.def.id, c.reason))
        .collect();
    assert_eq!(not_passing, Vec::<String>::new());
    assert_eq!(code, 0);
    let stats = report.header.rate_limit;
    assert!(stats.retries > 0, "no 429 was waited out: {stats:?}");
    assert!(stats.waited_ms >= 1000 * stats.retries, "{stats:?}");
    // Each retry is on record with the check that waited.
    let retried: Vec<&String> = report
        .checks
        .iter()
        .flat_map(|c| c.rate_limited.iter())
        .collect();
    // The header also counts the waits of actor bootstrap and the clean-up, outside any check.
    assert!(
        !retried.is_empty() && retried.len() as u64 <= stats.retries,
        "{} per check, {} in all",
        retried.len(),
        stats.retries
    );
    assert!(
        retried
            .iter()
            .all(|r| r.contains("429 (Retry-After: 1): waited 1000 ms")),
        "{retried:?}"
    );
    let json = p2mls::report::json::render(&report, false);
    assert!(json["header"]["rate_limit"]["retries"].as_u64() > Some(0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_limited_past_the_budget_is_an_error_not_a_failure() {
    // One request a minute: after the burst, every answer is 429 asking for a long wait.
    let server = limited_server(1.0 / 60.0, 1.0).await;
    let http = Http::new(&server.url(), Duration::from_secs(5))
        .expect("client")
        .with_policy(RetryPolicy {
            max_retries: 3,
            budget: Duration::from_secs(2),
            rate: None,
        });
    let request = p2mls::clients::http::ApiRequest::new(
        reqwest::Method::GET,
        "/.p2/mls/v1/groups/none",
        Auth::Literal("some-session".into()),
    );
    let (first, _) = http.send(&request).await;
    assert_eq!(first.expect("served").status, 401);
    let started = Instant::now();
    let (second, exchange) = http.send(&request).await;
    match second {
        Err(Error::RateLimited(why)) => assert!(why.contains("budget"), "{why}"),
        other => panic!("expected a rate-limit error, got {other:?}"),
    }
    assert_eq!(exchange.status, Some(429));
    // Nothing was waited: the Retry-After alone is past the budget.
    assert!(started.elapsed() < Duration::from_secs(2));
    // In a check this is `error`.
    let finding = p2mls::checks::context::http_finding(Error::RateLimited("x".into()));
    assert!(matches!(finding, p2mls::check::Finding::Harness(_)));
    server.stop().await;
}

#[tokio::test]
async fn rate_paces_requests_across_clones() {
    // Nothing listens on the discard port: answers come at once, only pacing takes time.
    let http = Http::new("http://127.0.0.1:9", Duration::from_secs(1))
        .expect("client")
        .with_policy(RetryPolicy {
            rate: Some(20.0),
            ..RetryPolicy::default()
        });
    let request = p2mls::clients::http::ApiRequest::new(reqwest::Method::GET, "/", Auth::None);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let http = http.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move { http.send(&request).await }));
    }
    for task in tasks {
        let _ = task.await.expect("task");
    }
    // Six requests at 20/s: the sixth starts 250 ms after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}
