//! The server binary stops gracefully on SIGTERM, as on Ctrl-C: gateway connections get a close
//! frame with 1001 (going away) and the process exits with status 0. Before issue 14 SIGTERM
//! killed it outright (no close frame, exit by signal).

#![cfg(unix)]

use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn sigterm_closes_gateway_connections_with_going_away_and_exits_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_p2mls-reference-server"))
        .args(["--listen", "127.0.0.1:0", "--in-memory"])
        .args(["--registration-secret", "shutdown-test"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(url) = line.strip_prefix("serving ") {
                return url.to_owned();
            }
        }
        panic!("the server ended before printing its URL");
    })
    .await
    .expect("the server prints its URL");

    let ws = format!(
        "{}{}",
        url.replacen("http", "ws", 1),
        p2mls_protocol::gateway::SOCKET
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(ws)
        .await
        .expect("gateway connects");
    let hello = socket.next().await.expect("a frame").expect("hello");
    assert!(matches!(hello, Message::Text(_)), "{hello:?}");

    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());

    let close = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame within 5 s");
    assert_eq!(close, Some(1001), "going away");

    let exit = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the server exits within 5 s")
        .expect("wait");
    assert!(exit.success(), "exit status {exit:?}");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l == "stopping"), "{rest:?}");
}
