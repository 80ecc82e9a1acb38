//! The explorer's HTTP/1.1 server: accepts connections, closes those of a client already at
//! its connection cap, and serves the rest with a header read timeout and a response write
//! timeout (a client that stops reading is cut off). Each request carries
//! its peer's address (`ConnectInfo<SocketAddr>`) for the per-client rate limit.

use crate::client_limits::{client_of, ConnectionCounts};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use oracle_core::config::HttpConfig;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tower::Service;

/// What a client over its connection cap is told before its connection is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
    content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n\
    content-length: 45\r\n\r\n{\"error\":\"too many connections from a client\"}";

/// Serves `router` on `listener` until the task is dropped, with `config`'s limits.
pub async fn serve(listener: TcpListener, router: Router, config: HttpConfig) {
    let counts = ConnectionCounts::new(config.max_connections_per_client);
    let timeouts = Timeouts {
        header_read: Duration::from_millis(config.header_read_timeout_ms),
        response_write: Duration::from_millis(config.response_write_timeout_ms),
    };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "HTTP accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match &counts {
            Some(counts) => match counts.open(client_of(peer.ip())) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(%peer, "HTTP connection over the per-client cap");
                    let _ = stream.try_write(TOO_MANY_CONNECTIONS);
                    continue;
                }
            },
            None => None,
        };
        let router = router.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, router, timeouts).await;
            drop(slot);
        });
    }
}

/// How long a connection may keep the server waiting.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    /// For a request's headers.
    header_read: Duration,
    /// For the client to take any of a response's bytes.
    response_write: Duration,
}

/// Serves one connection until the client or the server closes it, or a write makes no
/// progress for the response write timeout.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, router: Router, timeouts: Timeouts) {
    let _ = stream.set_nodelay(true);
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(timeouts.response_write));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .serve_connection(TokioIo::new(Box::pin(stream)), service);
    if let Err(error) = connection.await {
        tracing::debug!(%peer, %error, "HTTP connection");
    }
}
