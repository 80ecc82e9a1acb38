//! Helpers shared by the hotspot's GWMP tests.

use hotspot::uplink::TxLimits;
use hotspot::Metrics;
use std::time::Duration;

/// What the radio may transmit, in US915.
pub fn us915_limits() -> TxLimits {
    TxLimits::new((902_000_000, 928_000_000), 30.0, Duration::from_millis(20))
}

/// Waits until `metrics` shows `line` (the clients run in their own tasks).
pub async fn wait_for_metric(metrics: &Metrics, line: &str) {
    for _ in 0..500 {
        if metrics.render().contains(line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{line} never appeared in\n{}", metrics.render());
}
