//! Gateway load (release, loopback only, bounded): N identified and subscribed sockets receive one
//! commit event caused by an HTTP commit. Reports delivery latency percentiles and the server's
//! resident memory before and after the sockets connect.
//!
//! Run: `cargo bench -p p2mls --bench gateway_load` (P2MLS_LOAD_SOCKETS overrides 1000).
//! All sockets identify with bob's one session token: the server routes per connection, so this
//! measures fan-out, not session bookkeeping.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use p2mls::checks::context::{ALICE, BOB, CAROL};
use p2mls::checks::Ctx;
use p2mls::clients::gateway::{GatewayClient, Transcript};
use p2mls::clients::http::Http;
use p2mls::spec::ApiSpec;
use p2mls::target::ActorSource;
use p2mls_protocol::gateway::{core_op, mls_op};
use p2mls_protocol::suites::SuiteRegistry;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let sockets: usize = std::env::var("P2MLS_LOAD_SOCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let secret = "load-secret";
    let mut server = Command::new(env!("CARGO_BIN_EXE_p2mls"))
        .args([
            "serve",
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--registration-secret",
            secret,
        ])
        .args([
            "--heartbeat-interval-ms",
            "120000",
            "--max-connections",
            &(sockets + 100).to_string(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let pid = server.id();
    let stdout = server.stdout.take().expect("stdout");
    let mut base = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(url) = line.strip_prefix("serving ") {
            base = url.to_owned();
            break;
        }
    }
    let http = Http::new(&base, Duration::from_secs(30)).expect("client");
    let source = ActorSource::Reference {
        registration_secret: secret.into(),
        name_prefix: String::new(),
    };
    let actors = p2mls::clients::actors::obtain(&http, &source, "load")
        .await
        .expect("actors");
    let token = actors[BOB].token.clone();
    let mut ctx = Ctx::new(
        http,
        ApiSpec::default_spec(),
        SuiteRegistry::default(),
        actors,
    );
    let url = ctx.gateway_url().await.expect("gateway url");
    let (mut group, _) = ctx.create_group(ALICE).await.expect("group");
    ctx.propose_add(&mut group, BOB).await.expect("add bob");
    ctx.commit(&mut group).await.expect("commit");

    let rss_before = rss_kib(pid);
    let started = Instant::now();
    let connect = (0..sockets).map(|i| {
        let url = url.clone();
        let token = token.clone();
        async move {
            let mut c = GatewayClient::connect(&url, &format!("bob#{i}"), Transcript::default())
                .await
                .expect("connect");
            c.expect(Duration::from_secs(30), "hello", |_| true)
                .await
                .expect("hello");
            c.identify(&token).await.expect("identify");
            c.expect(Duration::from_secs(30), "ready", |e| {
                e["op"] == core_op::READY
            })
            .await
            .expect("ready");
            c.service("subscribe", "mls").await.expect("subscribe");
            c.expect(Duration::from_secs(30), "ack", |e| {
                e["op"] == core_op::SERVICE_CHANNEL_ACK
            })
            .await
            .expect("ack");
            c
        }
    });
    let mut clients = join_all(connect).await;
    let connect_time = started.elapsed();
    let rss_after = rss_kib(pid);

    let (_, resp) = ctx
        .propose_add(&mut group, CAROL)
        .await
        .expect("propose carol");
    assert_eq!(resp.status, 204);
    // Drain the proposal event everywhere first, so only the commit is timed.
    join_all(clients.iter_mut().map(|c| async move {
        c.expect(Duration::from_secs(30), "proposal", |e| {
            e["n"] == "mls" && e["op"] == mls_op::PROPOSAL
        })
        .await
        .expect("proposal")
    }))
    .await;
    let sent = Instant::now();
    let commit = ctx.commit(&mut group);
    let receive = join_all(clients.iter_mut().map(|c| async move {
        c.expect(Duration::from_secs(30), "commit", |e| {
            e["n"] == "mls" && e["op"] == mls_op::COMMIT
        })
        .await
        .expect("commit");
        sent.elapsed()
    }));
    let ((_, resp), mut latencies) = {
        let (c, r) = tokio::join!(commit, receive);
        (c.expect("commit"), r)
    };
    assert_eq!(resp.status, 200);
    latencies.sort();
    println!("| sockets | connect+identify+subscribe | commit delivery p50 | p99 | max | server RSS before | after | per socket |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {sockets} | {:.2} s | {:.1} ms | {:.1} ms | {:.1} ms | {} MiB | {} MiB | {:.1} KiB |",
        connect_time.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        rss_before / 1024,
        rss_after / 1024,
        (rss_after.saturating_sub(rss_before)) as f64 / sockets as f64,
    );
    for c in clients {
        c.close().await;
    }
    let _ = server.kill();
    let _ = server.wait();
}
