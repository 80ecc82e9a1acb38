//! A hotspot's connection to the oracle: a TCP relay on loopback between the hotspot's gRPC
//! client and the oracle's ingest, which the simulation can cut (the oracle becomes
//! unreachable for that hotspot) and restore.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// The relayed connections and whether the link is cut, changed together.
#[derive(Debug, Default)]
struct State {
    cut: bool,
    connections: Vec<AbortHandle>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    turned_away: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A hotspot's link to the oracle. While it is cut, open connections are closed and new ones
/// are accepted and closed at once, as a hotspot whose network is down sees it.
#[derive(Debug)]
pub struct OracleLink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl OracleLink {
    /// A link to the oracle's gRPC ingest at `oracle`, listening on a free loopback port.
    pub async fn open(oracle: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            turned_away: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, oracle, shared.clone()));
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    /// The endpoint the hotspot's client connects to.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes the oracle unreachable: closes every relayed connection and turns new ones away.
    pub fn cut(&self) {
        let mut state = self.shared.state();
        state.cut = true;
        for connection in state.connections.drain(..) {
            connection.abort();
        }
    }

    /// Makes the oracle reachable again.
    pub fn restore(&self) {
        self.shared.state().cut = false;
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.state().cut
    }

    /// Connections turned away while the link was cut, since it was opened.
    pub fn turned_away(&self) -> u64 {
        self.shared.turned_away.load(Ordering::Relaxed)
    }
}

impl Drop for OracleLink {
    fn drop(&mut self) {
        self.accept.abort();
        for connection in self.shared.state().connections.drain(..) {
            connection.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, oracle: SocketAddr, shared: Arc<Shared>) {
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(error) => {
                tracing::warn!(%error, "oracle link: accept failed");
                continue;
            }
        };
        let mut state = shared.state();
        if state.cut {
            shared.turned_away.fetch_add(1, Ordering::Relaxed);
            drop(socket);
            continue;
        }
        state
            .connections
            .retain(|connection| !connection.is_finished());
        let relay = tokio::spawn(relay(socket, oracle));
        state.connections.push(relay.abort_handle());
    }
}

async fn relay(mut hotspot: TcpStream, oracle: SocketAddr) {
    match TcpStream::connect(oracle).await {
        Ok(mut upstream) => {
            // Small gRPC frames go through at once, as on the direct connection: held back
            // for the peer's delayed acknowledgement, each report would wait about 40 ms.
            let _ = hotspot.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut hotspot, &mut upstream).await;
        }
        Err(error) => tracing::warn!(%error, "oracle link: the oracle refused the connection"),
    }
}
