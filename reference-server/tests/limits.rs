//! HTTP connection limits (issue 14): a socket that never sends a request, one that trickles
//! its headers (slowloris) and an idle keep-alive connection are closed after the header
//! timeout; connections over the cap get a 503 and are closed; simple requests stay fast while
//! 500 idle sockets are open. Before issue 14 every idle socket was held forever.

use std::time::{Duration, Instant};

use p2mls_reference_server::{spawn, Config, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(header_timeout: Duration, max_connections: usize) -> RunningServer {
    let mut config = Config::ephemeral("limits-test");
    config.http.header_timeout = header_timeout;
    config.http.max_connections = max_connections;
    spawn(config).await.expect("server starts")
}

/// Reads until the server closes the connection; returns what it sent, or None if it did not
/// close within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| received)
}

/// One `GET` of the server's ID-Cert on a fresh connection: (status line, time taken).
async fn simple_request(server: &RunningServer) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(
            b"GET /.p2/core/v1/idcert/server HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("send");
    let answer = closed_within(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer within 10 s");
    let text = String::from_utf8_lossy(&answer);
    (
        text.lines().next().unwrap_or_default().to_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn silent_trickling_and_idle_connections_are_closed_after_the_header_timeout() {
    let timeout = Duration::from_millis(400);
    let server = server(timeout, 64).await;

    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    assert!(
        closed_within(&mut silent, Duration::from_secs(3))
            .await
            .is_some(),
        "a socket that sends nothing is held"
    );
    assert!(started.elapsed() >= timeout, "closed before the timeout");

    // Slowloris: a header line every 100 ms, never the blank line that ends the head.
    let mut trickle = TcpStream::connect(server.addr).await.expect("connect");
    trickle
        .write_all(b"GET /.p2/core/v1/idcert/server HTTP/1.1\r\n")
        .await
        .expect("send");
    let started = Instant::now();
    let mut closed = false;
    for i in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if trickle
            .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), trickle.read(&mut probe)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a trickled request head is held for 3 s");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Keep-alive: after one answered request the connection may idle only as long.
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    idle.write_all(b"GET /.p2/core/v1/idcert/server HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("send");
    let answer = closed_within(&mut idle, Duration::from_secs(3))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_get_503_and_the_cap_frees_up() {
    let server = server(Duration::from_secs(30), 8).await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Give the accept loop time to take all eight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = TcpStream::connect(server.addr).await.expect("connect");
    let answer = closed_within(&mut over, Duration::from_secs(3))
        .await
        .expect("a connection over the cap is closed at once");
    assert!(answer.starts_with(b"HTTP/1.1 503"), "{answer:?}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, _) = simple_request(&server).await;
        if status.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cap never frees up: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn simple_requests_stay_fast_while_500_idle_sockets_are_open() {
    let server = server(Duration::from_secs(30), 1024).await;
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let mut times = Vec::new();
    for _ in 0..50 {
        let (status, took) = simple_request(&server).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        times.push(took);
    }
    times.sort();
    let (median, max) = (times[times.len() / 2], times[times.len() - 1]);
    println!("with 500 idle sockets: median {median:?}, max {max:?} over 50 requests");
    assert!(
        max < Duration::from_secs(1),
        "median {median:?}, max {max:?}"
    );
    drop(idle);
    server.stop().await;
}
