//! A full `p2mls run` against the reference server behind a loopback proxy that delays every
//! byte 50 ms each way (100 ms per round trip, as a target across a continent would), one check at
//! a time and with the default concurrency, side by side. With checks one after another the run
//! costs about a round trip per request; run concurrently it is bounded by the longest chain of
//! steps that depend on each other (and by the deliberate timer waits), not by the sum.
//!
//! Run: `cargo bench -p p2mls --bench latency` (`P2MLS_LATENCY_MS` sets the one-way delay).

use std::time::{Duration, Instant};

use p2mls::{RunArgs, RunOutput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Copies `from` to `to`, each chunk written `delay` after it was read, in order.
async fn delayed_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if chunk.is_empty() || to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        let due = tokio::time::Instant::now() + delay;
        if tx.send((due, buf[..n].to_vec())).is_err() || n == 0 {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// A loopback proxy to `upstream` that delays both directions; returns its address.
async fn latency_proxy(upstream: std::net::SocketAddr, delay: Duration) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    delayed_copy(client_read, server_write, delay),
                    delayed_copy(server_read, client_write, delay),
                );
            });
        }
    });
    addr
}

#[tokio::main]
async fn main() {
    let one_way = Duration::from_millis(
        std::env::var("P2MLS_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    );
    let secret = "latency-secret";
    let mut config = p2mls_reference_server::Config::ephemeral(secret);
    config.gateway.heartbeat_interval_ms = p2mls::EMBEDDED_HEARTBEAT_MS;
    config.gateway.heartbeat_grace_ms = p2mls::EMBEDDED_HEARTBEAT_MS / 2;
    // The limits the embedded server runs with, so the rate-limit checks have something to find.
    p2mls::embedded_limits(&mut config);
    let keypackage_limit = config.keypackage_limit;
    let server = p2mls_reference_server::spawn(config).await.expect("server");
    let upstream: std::net::SocketAddr = server
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("the server listens on a socket address");
    let proxy = latency_proxy(upstream, one_way).await;
    let dir = std::env::temp_dir().join(format!("p2mls-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("target.toml"),
        format!(
            "event_timeout_ms = 10000\nkeypackage_limit = {keypackage_limit}\n[actors]\nmode = \"reference\"\nregistration_secret = \"{secret}\"\n"
        ),
    )
    .expect("write");
    println!(
        "| one-way delay | checks at once | checks | requests | client frames | wall | requests x round trip |"
    );
    println!("|---|---|---|---|---|---|---|");
    for jobs in [1, p2mls::runner::DEFAULT_JOBS] {
        let args = RunArgs {
            target: Some(format!("http://{proxy}")),
            config: Some(dir.join("target.toml")),
            capture: true,
            jobs,
            ..Default::default()
        };
        let started = Instant::now();
        let RunOutput::Certified(report) = p2mls::run(&args).await.expect("run") else {
            panic!("expected a report");
        };
        let wall = started.elapsed();
        let (mut requests, mut frames) = (0usize, 0usize);
        for check in &report.checks {
            if let Some(trace) = &check.trace {
                requests += trace.exchanges.len();
                frames += trace
                    .transcript
                    .iter()
                    .filter(|f| f.direction == p2mls::clients::gateway::Direction::Sent)
                    .count();
            }
        }
        let not_passing: Vec<String> = report
            .checks
            .iter()
            .filter(|c| c.verdict != p2mls::check::Verdict::Pass)
            .map(|c| format!("{} ({}): {}", c.def.id, c.verdict.as_str(), c.reason))
            .collect();
        let mut longest: Vec<&p2mls::runner::CheckReport> = report.checks.iter().collect();
        longest.sort_by_key(|c| std::cmp::Reverse(c.duration));
        println!(
            "| {} ms | {jobs} | {} | {requests} | {frames} | {:.1} s | {:.1} s |",
            one_way.as_millis(),
            report.checks.len(),
            wall.as_secs_f64(),
            (requests as u32 * one_way * 2).as_secs_f64(),
        );
        let longest: Vec<String> = longest
            .iter()
            .take(5)
            .map(|c| format!("{} {:.1} s", c.def.id, c.duration.as_secs_f64()))
            .collect();
        println!("(longest checks at {jobs} at once: {})", longest.join(", "));
        for line in not_passing {
            println!("(not passing at {jobs} at once: {line})");
        }
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
