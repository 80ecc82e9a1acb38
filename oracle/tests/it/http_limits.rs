//! The explorer's HTTP server against slow and greedy clients: a request that stalls in its
//! headers or its body, a client that stops reading, too many connections from one client,
//! too many requests.

use crate::common::*;
use oracle::config::HttpConfig;
use oracle::OracleConfig;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An oracle serving HTTP with `http` as its limits; the network is kept alive with it.
async fn serve(http: HttpConfig) -> (Net, SocketAddr) {
    let net = Net::with_config(OracleConfig {
        http,
        ..OracleConfig::open()
    })
    .await;
    let (addr, _task) = net.serve_http().await;
    (net, addr)
}

/// Reads until the server closes the connection; `None` if it is still open after `wait`.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut response = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut response)).await {
        Ok(_) => Some(String::from_utf8_lossy(&response).into_owned()),
        Err(_) => None,
    }
}

/// One `GET` on its own connection: status, lower-case headers and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let text = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn a_request_that_stalls_in_its_headers_is_disconnected_within_the_timeout() {
    let (_net, addr) = serve(HttpConfig {
        header_read_timeout_ms: 300,
        ..HttpConfig::default()
    })
    .await;
    let started = Instant::now();
    let mut stalled = Vec::new();
    for partial in [
        &b"GET /api/v1/sta"[..],
        b"GET /healthz HTTP/1.1\r\nHost: lo",
        b"",
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(partial).await.unwrap();
        stalled.push(stream);
    }
    for (i, stream) in stalled.iter_mut().enumerate() {
        let closed = read_until_closed(stream, Duration::from_secs(5)).await;
        assert!(
            closed.is_some(),
            "stalled connection {i} still open after 5 s"
        );
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "closed after {elapsed:?}");
    // A whole request is still served.
    assert_eq!(get(addr, "/healthz").await.0, 200);
}

#[tokio::test]
async fn a_request_trickled_a_byte_at_a_time_is_cut_off_at_the_timeout() {
    let (_net, addr) = serve(HttpConfig {
        header_read_timeout_ms: 300,
        ..HttpConfig::default()
    })
    .await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(40)
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let mut sent = 0;
    // Each byte comes well within any per-read timeout; the whole takes 4 s.
    for byte in request.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    assert!(sent < request.len(), "the whole trickled request was taken");
    assert!(
        elapsed < Duration::from_secs(2),
        "cut off after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_and_the_connection_closed() {
    let (_net, addr) = serve(HttpConfig {
        body_read_timeout_ms: 300,
        ..HttpConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "GET /api/v1/stats HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let text = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the connection is closed");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#"{"error":"#), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_at_the_write_timeout() {
    let (_net, addr) = serve(HttpConfig {
        header_read_timeout_ms: 60_000,
        response_write_timeout_ms: 500,
        ..HttpConfig::default()
    })
    .await;
    // Twenty pipelined requests for the 756 kB base map (15 MB of answers) on a connection
    // whose client takes nothing and keeps a small receive buffer: the server's writes stall
    // once the socket buffers are full.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4_096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = "GET /assets/vendor/countries-50m.json HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream
        .write_all(request.repeat(20).as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut taken = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut taken))
        .await
        .is_ok();
    assert!(
        closed,
        "the connection of a client that stopped reading is still open"
    );
    let answers = String::from_utf8_lossy(&taken)
        .matches("HTTP/1.1 200")
        .count();
    assert!(
        answers < 20,
        "all {answers} answers were written to a client that stopped reading"
    );
    // Other clients are served.
    assert_eq!(get(addr, "/healthz").await.0, 200);
}

#[tokio::test]
async fn a_client_over_its_connection_cap_is_turned_away() {
    let (_net, addr) = serve(HttpConfig {
        max_connections_per_client: 3,
        ..HttpConfig::default()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(TcpStream::connect(addr).await.unwrap());
    }
    // Make sure the server has accepted the three before the fourth.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    let text = read_until_closed(&mut fourth, Duration::from_secs(5))
        .await
        .expect("the fourth connection is closed");
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    // One closed frees a slot.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(addr, "/healthz").await.0, 200);
}

#[tokio::test]
async fn a_client_beyond_its_token_bucket_gets_429_with_retry_after() {
    let (_net, addr) = serve(HttpConfig {
        requests_per_second: 1,
        burst: 3,
        ..HttpConfig::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(get(addr, "/api/v1/stats").await.0, 200);
    }
    let (status, head, body) = get(addr, "/api/v1/hotspots").await;
    assert_eq!(status, 429, "{body}");
    assert!(head.contains("\r\nretry-after: 1\r\n"), "{head}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains("too many requests"));
    // The bucket refills at the rate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(addr, "/api/v1/stats").await.0, 200);
    assert_eq!(get(addr, "/api/v1/stats").await.0, 429);
}
