//! One GWMP client towards one network server: this hotspot as its Semtech packet forwarder.
//! Uplinks go out as PUSH_DATA `rxpk`, PULL_DATA keepalives open the way back, and each
//! PULL_RESP is checked ([`super::downlink::accept`]), answered with a TX_ACK and, when
//! accepted, handed to the daemon to transmit at its time.

use super::downlink::{self, Downlink, TxLimits};
use super::UplinkError;
use crate::metrics::{label, Metrics};
use radio_io::gwmp::{self, protocol::MacAddress, DownMessage};
use radio_io::Reception;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Receptions waiting to be forwarded to one server; beyond this, new ones are dropped (and
/// counted).
pub const FORWARD_QUEUE: usize = 256;

/// Counts an event of the GWMP clients (`hotspot_upstream_total{event}`).
pub(super) fn count(metrics: &Metrics, event: &str) {
    metrics.upstream.get_or_create(&label("event", event)).inc();
}

/// What every client of a hotspot shares.
#[derive(Debug, Clone)]
pub(super) struct Shared {
    /// The gateway EUI presented to servers.
    pub mac: MacAddress,
    /// Time between PULL_DATA keepalives.
    pub keepalive: Duration,
    /// What the radio may transmit.
    pub limits: TxLimits,
    /// Accepted downlinks, to the daemon.
    pub downlinks: mpsc::Sender<Downlink>,
    /// Counters.
    pub metrics: Metrics,
}

/// A running client; dropping it stops it.
#[derive(Debug)]
pub(super) struct Client {
    queue: mpsc::Sender<Reception>,
    metrics: Metrics,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Resolves `server` (`host:port`) and starts its client.
    pub async fn start(server: &str, shared: Shared) -> Result<Self, UplinkError> {
        let io = |source| UplinkError::Io {
            server: server.to_string(),
            source,
        };
        let target = tokio::net::lookup_host(server)
            .await
            .map_err(io)?
            .next()
            .ok_or_else(|| UplinkError::Config(format!("{server:?} resolves to no address")))?;
        let local = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).await.map_err(io)?;
        socket.connect(target).await.map_err(io)?;
        let (queue, receptions) = mpsc::channel(FORWARD_QUEUE);
        tracing::info!(%target, "forwarding LoRaWAN uplinks to a network server");
        let metrics = shared.metrics.clone();
        let task = tokio::spawn(run(socket, shared, receptions));
        Ok(Self {
            queue,
            metrics,
            task,
        })
    }

    /// Queues a reception for the server; drops it (counted) when the queue is full.
    pub fn forward(&self, reception: &Reception) -> bool {
        let queued = self.queue.try_send(reception.clone()).is_ok();
        if !queued {
            count(&self.metrics, "dropped");
        }
        queued
    }
}

async fn send(socket: &UdpSocket, datagram: &[u8], metrics: &Metrics, event: &str) {
    match socket.send(datagram).await {
        Ok(_) => count(metrics, event),
        Err(error) => {
            count(metrics, "send_errors");
            tracing::debug!(%error, "network server unreachable");
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

async fn run(socket: UdpSocket, shared: Shared, mut receptions: mpsc::Receiver<Reception>) {
    let metrics = &shared.metrics;
    let mut token: u16 = rand::random();
    let mut tick = tokio::time::interval(shared.keepalive);
    let mut buffer = vec![0u8; gwmp::MAX_DATAGRAM];
    loop {
        tokio::select! {
            _ = tick.tick() => {
                token = token.wrapping_add(1);
                match gwmp::encode_pull_data(token, shared.mac) {
                    Ok(datagram) => send(&socket, &datagram, metrics, "pull_data").await,
                    Err(error) => tracing::warn!(%error, "PULL_DATA not encoded"),
                }
            }
            reception = receptions.recv() => {
                let Some(reception) = reception else { return };
                let Some(rxpk) = gwmp::rxpk_from_reception(&reception) else {
                    count(metrics, "not_encodable");
                    continue;
                };
                token = token.wrapping_add(1);
                match gwmp::encode_push_data(token, shared.mac, vec![rxpk], None) {
                    Ok(datagram) => send(&socket, &datagram, metrics, "push_data").await,
                    Err(error) => tracing::warn!(%error, "PUSH_DATA not encoded"),
                }
            }
            received = socket.recv(&mut buffer) => {
                let len = match received {
                    Ok(len) => len,
                    Err(error) => {
                        // E.g. ICMP port unreachable while the server is down: keep going.
                        count(metrics, "recv_errors");
                        tracing::debug!(%error, "receiving from the network server");
                        continue;
                    }
                };
                let datagram = buffer.get(..len).unwrap_or_default();
                match gwmp::decode_down(datagram) {
                    Ok(DownMessage::PushAck { .. }) => count(metrics, "push_ack"),
                    Ok(DownMessage::PullAck { .. }) => count(metrics, "pull_ack"),
                    Ok(DownMessage::PullResp { token }) => {
                        pull_resp(&socket, &shared, token, datagram).await;
                    }
                    Err(error) => {
                        count(metrics, "garbage");
                        tracing::debug!(%error, "not GWMP from the network server");
                    }
                }
            }
        }
    }
}

/// A downlink from the server: checked, answered with a TX_ACK (none when its `txpk` is not
/// readable, as Semtech's forwarder does), and handed to the daemon when accepted.
async fn pull_resp(socket: &UdpSocket, shared: &Shared, token: u16, datagram: &[u8]) {
    let metrics = &shared.metrics;
    count(metrics, "pull_resp");
    let checked = downlink::read_txpk(datagram)
        .map_err(Err)
        .and_then(|txpk| downlink::accept(&txpk, now_ns(), &shared.limits));
    let outcome = match checked {
        Ok(accepted) => {
            let warning = accepted.power_warning;
            match shared.downlinks.try_send(accepted.downlink) {
                Ok(()) => Ok(warning),
                // The daemon's queue is full or gone: as busy as a full JIT queue.
                Err(_) => Err(radio_io::gwmp::TxRefusal::CollisionPacket),
            }
        }
        Err(Ok(refusal)) => Err(refusal),
        Err(Err(malformed)) => {
            count(metrics, "downlinks_malformed");
            tracing::debug!(%malformed, "downlink from the network server aborted");
            return;
        }
    };
    let event = match &outcome {
        Ok(None) => "tx_ack_none".to_string(),
        Ok(Some(_)) => "tx_ack_warn_tx_power".to_string(),
        Err(refusal) => format!("tx_ack_{}", downlink::ack_code(refusal).to_lowercase()),
    };
    let ack = downlink::encode_tx_ack(token, shared.mac, &outcome);
    send(socket, &ack, metrics, &event).await;
}
