//! The hotspot daemon: beacons once per interval and witnesses what its radio hears, submitting
//! every signed report to the oracle.

use crate::client::{ClientError, OracleClient};
use crate::node::{Hotspot, HotspotError};
use crate::schedule::next_beacon_ms;
use radio::backend::{Backend, BackendError, Transmission};
use rand::SeedableRng;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Keeps the beacon this far from the end of its interval so its report stays in the bucket.
const BEACON_MARGIN_MS: u64 = 5 * 60_000;

/// Errors that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The radio failed beyond recovery.
    #[error("radio: {0}")]
    Radio(#[from] BackendError),
    /// The hotspot's logic failed.
    #[error(transparent)]
    Hotspot(#[from] HotspotError),
}

/// What the daemon did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DaemonStats {
    /// Beacons transmitted.
    pub beacons_sent: u64,
    /// Beacon reports the oracle acknowledged.
    pub beacons_acknowledged: u64,
    /// Frames the radio decoded.
    pub frames_heard: u64,
    /// Witness reports the oracle acknowledged.
    pub witnesses_acknowledged: u64,
    /// Reports the oracle refused or could not be reached for.
    pub submit_errors: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs a hotspot on a radio backend until `shutdown` completes.
pub struct Daemon<B: Backend> {
    hotspot: Hotspot,
    client: OracleClient,
    backend: B,
    interval_ms: u64,
    stats: DaemonStats,
    last_beacon: Option<Vec<u8>>,
}

impl<B: Backend> Daemon<B> {
    /// A daemon for `hotspot` on `backend`, beaconing once per `interval`.
    pub fn new(hotspot: Hotspot, client: OracleClient, backend: B, interval: Duration) -> Self {
        Self {
            hotspot,
            client,
            backend,
            interval_ms: interval.as_millis().max(1) as u64,
            stats: DaemonStats::default(),
            last_beacon: None,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DaemonStats {
        &self.stats
    }

    fn count_submission<T>(&mut self, result: Result<T, ClientError>, what: &str) -> bool {
        match result {
            Ok(_) => true,
            Err(error) => {
                self.stats.submit_errors += 1;
                tracing::warn!(%error, "{what} not delivered");
                false
            }
        }
    }

    async fn beacon(&mut self) -> Result<(), DaemonError> {
        let entropy = match self.client.entropy().await {
            Ok(entropy) => entropy,
            Err(error) => {
                self.stats.submit_errors += 1;
                tracing::warn!(%error, "no entropy: beacon skipped this interval");
                return Ok(());
            }
        };
        let prepared =
            self.hotspot
                .prepare_beacon(&entropy, rand::random(), now_ms() * 1_000_000)?;
        self.backend
            .transmit(&Transmission {
                frequency_hz: prepared.beacon.frequency_hz,
                params: prepared.params,
                payload: prepared.beacon.payload.clone(),
                power_dbm: prepared.beacon.tx_power_ddbm as f32 / 10.0,
            })
            .await?;
        self.stats.beacons_sent += 1;
        tracing::info!(
            frequency_hz = prepared.beacon.frequency_hz,
            sf = prepared.params.spreading_factor,
            "beacon transmitted"
        );
        self.last_beacon = Some(prepared.beacon.payload.clone());
        let submitted = self.client.submit_beacon(prepared.report).await;
        if self.count_submission(submitted, "beacon report") {
            self.stats.beacons_acknowledged += 1;
        }
        Ok(())
    }

    async fn witness(&mut self, reception: radio::backend::Reception) {
        self.stats.frames_heard += 1;
        if self.last_beacon.as_deref() == Some(reception.frame.payload.as_slice()) {
            return; // our own beacon coming back
        }
        let Some(report) = self.hotspot.witness(
            &reception.frame,
            reception.frequency_hz,
            reception.timestamp_ns,
        ) else {
            return;
        };
        let submitted = self.client.submit_witness(report).await;
        if self.count_submission(submitted, "witness report") {
            self.stats.witnesses_acknowledged += 1;
            tracing::info!(
                rssi_dbm = reception.frame.rssi_dbm,
                snr_db = reception.frame.snr_db,
                "witness report acknowledged"
            );
        }
    }

    /// Beacons and witnesses until `shutdown` completes or the radio's stream ends.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<DaemonStats, DaemonError> {
        tokio::pin!(shutdown);
        let mut rng = rand::rngs::StdRng::from_entropy();
        let mut next_beacon = next_beacon_ms(now_ms(), self.interval_ms, BEACON_MARGIN_MS, &mut rng);
        let mut radio_open = true;
        loop {
            let wait = Duration::from_millis(next_beacon.saturating_sub(now_ms()));
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {
                    self.beacon().await?;
                    let next_interval = (next_beacon / self.interval_ms + 1) * self.interval_ms;
                    next_beacon = next_beacon_ms(next_interval, self.interval_ms, BEACON_MARGIN_MS, &mut rng);
                }
                received = self.backend.receive(), if radio_open => match received? {
                    Some(reception) => self.witness(reception).await,
                    None => {
                        tracing::info!("the radio's receive stream ended");
                        radio_open = false;
                    }
                },
            }
        }
        Ok(self.stats)
    }
}
