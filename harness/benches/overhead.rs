//! Harness overhead (release, loopback): a full `p2mls run` against a reference server, then a
//! bare replay of the same traffic (every recorded HTTP request and client gateway frame, sent
//! in order with no checking, no MLS and no waiting on timers) against the same server. The ratio
//! full run / bare replay is what the harness adds on top of the traffic itself. The server's
//! state has moved on by the replay, so some answers differ; the traffic volume is the same.
//!
//! The full run is measured with the default concurrency and one check at a time, with every
//! check and without the timer-bound ones (`CheckDef::waits`: their deliberate waits are not
//! overhead); each row's bare replay is of that run's own traffic, sent one request after
//! another.
//!
//! Run: `cargo bench -p p2mls --bench overhead`.

use std::time::{Duration, Instant};

use base64::Engine;
use p2mls::clients::gateway::{Direction, GatewayClient, Incoming, Transcript};
use p2mls::clients::http::Http;
use p2mls::{RunArgs, RunOutput};

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// Sends every recorded HTTP request and client gateway frame of `report` again, one after
/// another, with no checking, no MLS and no waiting on the server's timers; returns the time it
/// took and the numbers of requests and frames.
async fn bare_replay(
    http: &Http,
    tokens: &[(String, String)],
    report: &p2mls::report::Report,
) -> (Duration, usize, usize) {
    let fill = |text: &str| {
        tokens.iter().fold(text.to_owned(), |t, (name, token)| {
            t.replace(&format!("${name}"), token)
        })
    };
    let started = Instant::now();
    let (mut requests, mut frames) = (0usize, 0usize);
    for check in &report.checks {
        let Some(trace) = &check.trace else { continue };
        for exchange in &trace.exchanges {
            if let Some(sent) = &exchange.sent {
                let _ = http.send(sent).await;
                requests += 1;
            }
        }
        let mut open: Vec<(String, GatewayClient)> = Vec::new();
        for frame in &trace.transcript {
            match frame.direction {
                Direction::Note => {
                    if let Some(url) = frame.payload.strip_prefix("open ") {
                        if let Ok(c) =
                            GatewayClient::connect(url, &frame.connection, Transcript::default())
                                .await
                        {
                            open.push((frame.connection.clone(), c));
                        }
                    }
                }
                Direction::Sent => {
                    if let Some((_, c)) = open.iter_mut().find(|(n, _)| *n == frame.connection) {
                        let _ = c.send_text(fill(&frame.payload)).await;
                        frames += 1;
                    }
                }
                Direction::Received => {
                    // Take what the server sends, without waiting on its timers.
                    if let Some((_, c)) = open.iter_mut().find(|(n, _)| *n == frame.connection) {
                        if let Incoming::Timeout = c.recv(Duration::from_millis(20)).await {}
                    }
                }
            }
        }
        for (_, c) in open {
            c.close().await;
        }
    }
    (started.elapsed(), requests, frames)
}

#[tokio::main]
async fn main() {
    let secret = "overhead-secret";
    let mut config = p2mls_reference_server::Config::ephemeral(secret);
    config.gateway.heartbeat_interval_ms = p2mls::EMBEDDED_HEARTBEAT_MS;
    config.gateway.heartbeat_grace_ms = p2mls::EMBEDDED_HEARTBEAT_MS / 2;
    let server = p2mls_reference_server::spawn(config).await.expect("server");
    let http = Http::new(&server.url(), Duration::from_secs(30)).expect("http");
    let mut actors = Vec::new();
    let mut tokens = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let actor = p2mls::clients::actors::register(&http, secret, name, "ovh")
            .await
            .expect("actor");
        tokens.push((
            format!("TOKEN_{}", name.to_uppercase()),
            actor.token.clone(),
        ));
        actors.push(serde_json::json!({
            "fid": actor.fid, "session_id": actor.session_id, "token": actor.token,
            "signing_key": hex::encode(actor.mls.key.0.to_bytes()), "id_cert_pem": pem(&actor.mls.cert_der),
        }));
    }
    let dir = std::env::temp_dir().join(format!("p2mls-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("actors.json"),
        serde_json::to_string(&actors).expect("json"),
    )
    .expect("write");
    std::fs::write(
        dir.join("target.toml"),
        format!(
            "[actors]\nmode = \"command\"\ncommand = [\"cat\", {:?}]\n",
            dir.join("actors.json").display().to_string()
        ),
    )
    .expect("write");
    let waits: Vec<String> = p2mls::checks::catalogue(&p2mls::spec::ApiSpec::default_spec())
        .into_iter()
        .filter(|c| c.waits)
        .map(|c| c.id)
        .collect();
    println!(
        "| checks | checks at once | requests | client frames | full run | bare replay | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    for skip in [Vec::new(), waits.clone()] {
        for jobs in [p2mls::runner::DEFAULT_JOBS, 1] {
            let args = RunArgs {
                target: Some(server.url()),
                config: Some(dir.join("target.toml")),
                capture: true,
                jobs,
                skip: skip.clone(),
                ..Default::default()
            };
            let started = Instant::now();
            let RunOutput::Certified(report) = p2mls::run(&args).await.expect("run") else {
                panic!("expected a report");
            };
            let full = started.elapsed();
            assert!(report.gate.passed(), "the run failed");
            let (replay, requests, frames) = bare_replay(&http, &tokens, &report).await;
            println!(
                "| {}{} | {jobs} | {requests} | {frames} | {:.2} s | {:.2} s | {:.2} |",
                report.checks.len(),
                if skip.is_empty() {
                    ""
                } else {
                    " (without the timer-bound ones)"
                },
                full.as_secs_f64(),
                replay.as_secs_f64(),
                full.as_secs_f64() / replay.as_secs_f64(),
            );
        }
    }
    println!("(timer-bound checks: {})", waits.join(", "));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
