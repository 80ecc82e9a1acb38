//! Prometheus metrics of the daemon, served as OpenMetrics text on `GET /metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;

/// A label set of one `name="value"` pair.
pub type Labels = Vec<(String, String)>;

/// The daemon's metrics. Cloning shares the same counters.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Beacons put on air.
    pub beacons_sent: Counter,
    /// Beacons skipped (no entropy, radio refused).
    pub beacons_skipped: Counter,
    /// Frames the radio decoded.
    pub frames_heard: Counter,
    /// Heard frames that could be beacons and became witness reports.
    pub witnesses_accepted: Counter,
    /// Reports acknowledged by the oracle, by kind.
    pub reports_delivered: Family<Labels, Counter>,
    /// Reports refused by the oracle for good, by kind.
    pub reports_refused: Family<Labels, Counter>,
    /// Delivery attempts that failed and will be retried.
    pub delivery_retries: Counter,
    /// Reports waiting in the spool.
    pub queue_depth: Gauge,
    /// The radio backend's own counters, by event.
    pub radio: Family<Labels, Gauge>,
    /// Heard frames that are not beacons, by LoRaWAN message type (`uplink::UplinkKind`).
    pub uplinks: Family<Labels, Counter>,
    /// Events of uplink forwarding to a LoRaWAN network server, by event.
    pub upstream: Family<Labels, Counter>,
    /// Device uplinks forwarded, by route id (`forward_to` for the single server).
    pub uplinks_forwarded: Family<Labels, Counter>,
    /// Heard frames no route took, by reason (`no_route`, `inactive_route`, `bad_crc`, or the
    /// `routing::FrameError` code).
    pub uplinks_dropped: Family<Labels, Counter>,
    /// Accepted downlinks, by what the radio did with them (`transmitted`, `radio_refused`,
    /// `queue_full`).
    pub downlinks: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A single-label set, e.g. `label("kind", "beacon")`.
pub fn label(name: &str, value: &str) -> Labels {
    vec![(name.to_string(), value.to_string())]
}

impl Metrics {
    /// Fresh metrics registered under the `hotspot` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hotspot");
        let metrics = Self {
            registry: Arc::new(Registry::default()),
            beacons_sent: Counter::default(),
            beacons_skipped: Counter::default(),
            frames_heard: Counter::default(),
            witnesses_accepted: Counter::default(),
            reports_delivered: Family::default(),
            reports_refused: Family::default(),
            delivery_retries: Counter::default(),
            queue_depth: Gauge::default(),
            radio: Family::default(),
            uplinks: Family::default(),
            upstream: Family::default(),
            uplinks_forwarded: Family::default(),
            uplinks_dropped: Family::default(),
            downlinks: Family::default(),
        };
        registry.register(
            "beacons_sent",
            "Beacons put on air",
            metrics.beacons_sent.clone(),
        );
        registry.register(
            "beacons_skipped",
            "Beacons not sent (no entropy or the radio refused)",
            metrics.beacons_skipped.clone(),
        );
        registry.register(
            "frames_heard",
            "Frames the radio decoded",
            metrics.frames_heard.clone(),
        );
        registry.register(
            "witnesses_accepted",
            "Heard beacons turned into witness reports",
            metrics.witnesses_accepted.clone(),
        );
        registry.register(
            "reports_delivered",
            "Reports acknowledged by the oracle",
            metrics.reports_delivered.clone(),
        );
        registry.register(
            "reports_refused",
            "Reports refused by the oracle for good",
            metrics.reports_refused.clone(),
        );
        registry.register(
            "delivery_retries",
            "Failed delivery attempts that will be retried",
            metrics.delivery_retries.clone(),
        );
        registry.register(
            "queue_depth",
            "Reports waiting in the spool for the oracle",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "radio_events",
            "Counters of the radio backend",
            metrics.radio.clone(),
        );
        registry.register(
            "uplinks",
            "Heard frames that are not beacons, by LoRaWAN message type",
            metrics.uplinks.clone(),
        );
        registry.register(
            "upstream",
            "Uplink forwarding to a LoRaWAN network server, by event",
            metrics.upstream.clone(),
        );
        registry.register(
            "uplinks_forwarded",
            "Device uplinks forwarded to a network server, by route",
            metrics.uplinks_forwarded.clone(),
        );
        registry.register(
            "uplinks_dropped",
            "Heard frames forwarded to no network server, by reason",
            metrics.uplinks_dropped.clone(),
        );
        registry.register(
            "downlinks",
            "Downlinks accepted from network servers, by what the radio did with them",
            metrics.downlinks.clone(),
        );
        Self {
            registry: Arc::new(registry),
            ..metrics
        }
    }

    /// The metrics in OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// Serves `GET /metrics` on `addr` (port 0 picks a free port); returns the bound address and
    /// the server task.
    pub async fn serve(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let metrics = self.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        );
        let handle = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "metrics server stopped");
            }
        });
        tracing::info!(%bound, "metrics listening");
        Ok((bound, handle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn metrics_are_served_over_http() {
        let metrics = Metrics::new();
        metrics.beacons_sent.inc();
        metrics.queue_depth.set(7);
        metrics
            .reports_delivered
            .get_or_create(&label("kind", "witness"))
            .inc_by(3);
        let (addr, server) = metrics.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains("hotspot_beacons_sent_total 1"),
            "{response}"
        );
        assert!(response.contains("hotspot_queue_depth 7"), "{response}");
        assert!(
            response.contains("hotspot_reports_delivered_total{kind=\"witness\"} 3"),
            "{response}"
        );
        server.abort();
    }
}
