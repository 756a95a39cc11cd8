//! Suite benchmarks (release, in-process reference server on loopback):
//! 1. wall time of the full two-suite end-to-end run (`p2mls run --only 'suites.*'`);
//! 2. cost per member of joining a 100-member group through the reference server, per suite:
//!    99 members upload KeyPackages, the creator discovers them, proposes 99 Adds and commits
//!    once, every member fetches its Welcome over HTTP and joins.
//!
//! Run: `cargo bench -p p2mls --bench suites` (P2MLS_BENCH_MEMBERS overrides 100).

use std::time::{Duration, Instant};

use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::*;
use p2mls::checks::Ctx;
use p2mls::clients::http::{ApiRequest, Http};
use p2mls::spec::ApiSpec;
use p2mls_protocol::identifiers::format_code_point;
use p2mls_protocol::routes;
use p2mls_protocol::suites::SuiteRegistry;
use reqwest::Method;

async fn join_group(members: usize, polyproto_id: u16) -> (Duration, Duration, Duration) {
    let secret = "bench-secret";
    let server = p2mls_reference_server::spawn(p2mls_reference_server::Config::ephemeral(secret))
        .await
        .expect("server");
    let http = Http::new(&server.url(), Duration::from_secs(60)).expect("http");
    let tag = p2mls::random_hex(4);
    let mut actors = Vec::new();
    for i in 0..members {
        actors.push(
            p2mls::clients::actors::register(&http, secret, &format!("m{i}"), &tag)
                .await
                .expect("actor"),
        );
    }
    let registry = SuiteRegistry::default();
    let wire = registry.by_polyproto_id(polyproto_id).expect("suite").wire;
    let suite = Ciphersuite::try_from(wire).expect("openmls suite");
    let mut ctx = Ctx::new(http, ApiSpec::default_spec(), registry, actors);
    let creator = ctx.actors[0].mls.clone();

    let started = Instant::now();
    let (mut group, _) = ctx
        .create_group_with(0, creator, suite)
        .await
        .expect("group");
    for i in 1..members {
        let client = ctx.actors[i].mls.clone();
        let (_, resp) = ctx
            .propose_add_with(&mut group, i, &client)
            .await
            .expect("add");
        assert_eq!(resp.status, 204);
    }
    let proposals = started.elapsed();
    let (_, resp) = ctx.commit(&mut group).await.expect("commit");
    assert_eq!(resp.status, 200);
    let committed = started.elapsed();
    let config = MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build();
    for i in 1..members {
        let req = ApiRequest::new(Method::GET, routes::WELCOMES, ctx.auth(i));
        let resp = ctx.send(req).await.expect("welcomes");
        let list = resp.json().expect("json");
        let welcome = list
            .as_array()
            .and_then(|l| l.iter().find(|w| w["groupId"] == group.id.as_str()))
            .expect("welcome");
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            welcome["welcome"]["mlsMessage"].as_str().expect("b64"),
        )
        .expect("base64");
        let MlsMessageBodyIn::Welcome(w) = MlsMessageIn::tls_deserialize_exact(&bytes)
            .expect("msg")
            .extract()
        else {
            panic!("not a Welcome");
        };
        let client = &ctx.actors[i].mls;
        let joined = StagedWelcome::new_from_welcome(&client.provider, &config, w, None)
            .and_then(|s| s.into_group(&client.provider))
            .expect("join");
        assert_eq!(
            joined.epoch_authenticator().as_slice(),
            group.mls.epoch_authenticator().as_slice()
        );
        ctx.recorder.exchanges.clear();
    }
    let total = started.elapsed();
    server.stop().await;
    (proposals, committed - proposals, total - committed)
}

#[tokio::main]
async fn main() {
    let members: usize = std::env::var("P2MLS_BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let started = Instant::now();
    let output = p2mls::run(&p2mls::RunArgs {
        only: vec!["suites.*".into()],
        ..Default::default()
    })
    .await
    .expect("run");
    let run_time = started.elapsed();
    assert_eq!(output.exit_code(), 0, "the suite run failed");
    println!(
        "full two-suite run (12 steps, both suites): {:.2} s\n",
        run_time.as_secs_f64()
    );
    println!("| suite | members | uploads+discovery+proposals | commit (+Welcome) | all joins | per member |");
    println!("|---|---|---|---|---|---|");
    for id in [0x0001u16, 0xF110] {
        let (proposals, commit, joins) = join_group(members, id).await;
        let total = proposals + commit + joins;
        println!(
            "| {} | {members} | {:.2} s | {:.0} ms | {:.2} s | {:.1} ms |",
            format_code_point(id),
            proposals.as_secs_f64(),
            commit.as_secs_f64() * 1e3,
            joins.as_secs_f64(),
            total.as_secs_f64() * 1e3 / (members - 1) as f64,
        );
    }
}
