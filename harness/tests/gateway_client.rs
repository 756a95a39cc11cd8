//! The harness's gateway client keeps a connection alive while a check does slow work of its
//! own (`GatewayClient::alive_during`): against a real reference server with the short embedded
//! heartbeat interval, a connection left unread over a few intervals is closed with 4009, and
//! the same wait inside `alive_during` leaves it open, with what arrived meanwhile still
//! readable.

use std::time::Duration;

use p2mls::checks::context::ALICE;
use p2mls::clients::actors::obtain;
use p2mls::clients::gateway::{GatewayClient, Transcript};
use p2mls::clients::http::Http;
use p2mls::target::ActorSource;
use p2mls_protocol::gateway::core_op;

const SECRET: &str = "gateway-client-secret";
/// Longer than interval + grace + grace of the embedded heartbeat (1.5 s + 0.75 s + 0.75 s).
const SLOW_WORK: Duration = Duration::from_millis(4000);

async fn identified(server: &p2mls_reference_server::RunningServer, tag: &str) -> GatewayClient {
    let http = Http::new(&server.url(), Duration::from_secs(10)).expect("http");
    let source = ActorSource::Reference {
        registration_secret: SECRET.into(),
        name_prefix: String::new(),
    };
    let actors = obtain(&http, &source, tag).await.expect("actors");
    let url = format!(
        "{}{}",
        server.url().replacen("http", "ws", 1),
        p2mls_protocol::gateway::SOCKET
    );
    let mut client = GatewayClient::connect(&url, tag, Transcript::default())
        .await
        .expect("connects");
    client
        .expect(Duration::from_secs(5), "the hello", |e| {
            e["op"] == core_op::HELLO
        })
        .await
        .expect("hello");
    client
        .identify(&actors[ALICE].token)
        .await
        .expect("identify");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_stays_alive_during_slow_work_and_only_then() {
    let mut config = p2mls_reference_server::Config::ephemeral(SECRET);
    config.gateway.heartbeat_interval_ms = p2mls::EMBEDDED_HEARTBEAT_MS;
    config.gateway.heartbeat_grace_ms = p2mls::EMBEDDED_HEARTBEAT_MS / 2;
    let server = p2mls_reference_server::spawn(config).await.expect("server");

    // Unread over the slow work: the server requests a heartbeat, gets none and closes.
    let mut idle = identified(&server, "idle").await;
    tokio::time::sleep(SLOW_WORK).await;
    assert_eq!(
        idle.expect_close(Duration::from_secs(5))
            .await
            .expect("closed"),
        Some(4009)
    );

    // The same work inside alive_during: the heartbeat requests are answered meanwhile.
    let mut alive = identified(&server, "alive").await;
    let out = alive
        .alive_during(async {
            tokio::time::sleep(SLOW_WORK).await;
            7
        })
        .await;
    assert_eq!(out, 7);
    assert!(
        alive
            .skipped
            .iter()
            .any(|e| e["op"] == core_op::HEARTBEAT_REQUEST),
        "a heartbeat request was answered: {:?}",
        alive.skipped
    );
    alive
        .service("subscribe", "mls")
        .await
        .expect("the connection is open");
    alive
        .expect(Duration::from_secs(5), "the service channel ACK", |e| {
            e["op"] == core_op::SERVICE_CHANNEL_ACK
        })
        .await
        .expect("answered on the open connection");
    server.stop().await;
}
